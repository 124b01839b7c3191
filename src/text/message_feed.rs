//! [`MessageFeed`]: how one connection's received bytes reach the message line,
//! decoding as little as the screen needs.
//!
//! The screen is redrawn at most once per refresh interval, but a bulk sender makes
//! thousands of receives a second. A short receive is decoded at once (it is cheap,
//! and the decoder must follow the stream). A long one only needs its end decoded,
//! and only if it is still the newest receive when the screen is drawn, so its
//! decoding is deferred: the end stays where it is in the slot's buffer. The next
//! receive of the connection overwrites the buffer, so its end is copied out first,
//! to the caller's stack ([`SavedTail`]): if the next receive is long too, the copy
//! is dropped undecoded (the later one's end brings the decoder back in step by
//! itself); if it is short, the copy is decoded first, so the decoder follows the
//! stream; if nothing came, the copy is put back.
//!
//! So a bulk sender costs a copy of a few hundred bytes per receive and one decode
//! per redraw, whatever the slot's buffer size, and no RAM beyond the stack of one
//! receive. (Before, the end was stashed in the buffer's last bytes, which took
//! receive room and was done only for buffers of at least four stashes; the 1 KiB
//! buffers of the tutorial decoded every receive, about 10 % of a host server's CPU
//! under bulk load, docs/figures.md.)

use heapless::HistoryBuf;

use crate::display::MESSAGE_TAIL;
use crate::text::decoder::TextDecoder;

/// Chars of one receive kept for the screen: one more than the message line can show
/// (21 in the monospace font, 64 in the narrowest glyphs of the `cjk` font), so the
/// screen's fitting rule still sees that text was cut. Also how much of a long
/// receive is decoded: its last 4 bytes per char, after 320 to fall into step.
pub(crate) const SCREEN_TAIL: usize = MESSAGE_TAIL;

/// The newest characters received in one poll of a slot.
pub(crate) type ScreenText = HistoryBuf<char, SCREEN_TAIL>;

/// Bytes at the end of a long receive that its text and the decoder's state
/// after it depend on.
const LONG_END: usize = TextDecoder::tail_window(SCREEN_TAIL);

/// The end of a deferred receive, held by the caller while the next receive
/// overwrites the slot's buffer.
pub(crate) struct SavedTail([u8; LONG_END]);

/// One connection's decoder, and whether the receive now in the slot's buffer
/// waits to be decoded.
#[derive(Debug, Clone)]
pub(crate) struct MessageFeed {
    decoder: TextDecoder,
    deferred: bool,
}

/// What became of a receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fed {
    /// Decoded; `true` if it had text (then it is in the caller's `ScreenText`).
    Decoded(bool),
    /// Left for [`MessageFeed::settle`].
    Deferred,
}

impl MessageFeed {
    pub(crate) const fn new() -> Self {
        Self {
            decoder: TextDecoder::new(),
            deferred: false,
        }
    }

    /// Before a receive into `buf`, whose last receive ended at `buf[end]`: the end of
    /// that receive if its decoding waits, for [`received`](Self::received) or
    /// [`not_received`](Self::not_received).
    pub(crate) fn before_receive(&mut self, buf: &[u8], end: usize) -> Option<SavedTail> {
        if !core::mem::take(&mut self.deferred) {
            return None;
        }
        let tail = buf.get(end.checked_sub(LONG_END)?..end)?;
        <[u8; LONG_END]>::try_from(tail).ok().map(SavedTail)
    }

    /// Takes the receive now in `buf[..n]`. A long one waits; a short one is decoded,
    /// after the end of a long one before it (`saved`); its text (if any) replaces
    /// `text`.
    pub(crate) fn received(
        &mut self,
        buf: &[u8],
        n: usize,
        saved: Option<&SavedTail>,
        text: &mut ScreenText,
    ) -> Fed {
        if n > LONG_END {
            self.deferred = true;
            return Fed::Deferred;
        }
        let had_text = saved.is_some_and(|SavedTail(end)| self.decode_end(end, text));
        let chunk = buf.get(..n).unwrap_or_default();
        let fresh = decode(&mut self.decoder, |d, out| {
            d.decode_tail(chunk, SCREEN_TAIL, out)
        });
        Fed::Decoded(replace_if_text(text, fresh) || had_text)
    }

    /// After a receive that brought nothing: puts the saved end back where it was,
    /// so that the receive in `buf[..end]` waits as before.
    pub(crate) fn not_received(&mut self, buf: &mut [u8], end: usize, saved: Option<SavedTail>) {
        let Some(SavedTail(tail)) = saved else {
            return;
        };
        let place = end
            .checked_sub(LONG_END)
            .and_then(|from| buf.get_mut(from..end));
        if let Some(place) = place {
            place.copy_from_slice(&tail);
            self.deferred = true;
        }
    }

    /// Decodes the receive in `buf[..end]` if it waits; its text (if any) replaces
    /// `text`. Returns whether it had text.
    pub(crate) fn settle(&mut self, buf: &[u8], end: usize, text: &mut ScreenText) -> bool {
        if !core::mem::take(&mut self.deferred) {
            return false;
        }
        let tail = end
            .checked_sub(LONG_END)
            .and_then(|from| buf.get(from..end))
            .unwrap_or_default();
        self.decode_end(tail, text)
    }

    /// Decodes the end of a long receive.
    fn decode_end(&mut self, end: &[u8], text: &mut ScreenText) -> bool {
        let fresh = decode(&mut self.decoder, |d, out| {
            d.decode_long_end(end, SCREEN_TAIL, out)
        });
        replace_if_text(text, fresh)
    }
}

/// The screen's text of one datagram: decoded on its own, since a datagram is a
/// whole message with no stream before it (empty if it has no text).
pub(crate) fn datagram_text(bytes: &[u8]) -> ScreenText {
    decode(&mut TextDecoder::new(), |d, out| {
        d.decode_tail(bytes, SCREEN_TAIL, out)
    })
}

/// Runs `f` with an output that keeps the last `SCREEN_TAIL` characters.
fn decode(
    decoder: &mut TextDecoder,
    f: impl FnOnce(&mut TextDecoder, &mut dyn FnMut(char)),
) -> ScreenText {
    let mut fresh = ScreenText::new();
    f(decoder, &mut |c| fresh.write(c));
    fresh
}

fn replace_if_text(text: &mut ScreenText, fresh: ScreenText) -> bool {
    let had_text = !fresh.is_empty();
    if had_text {
        *text = fresh;
    }
    had_text
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// The tutorial's slot buffer: smaller than four ends of a long receive, which
    /// the old stash in the buffer needed.
    const BUF: usize = 1024;

    fn shown(text: &ScreenText) -> String {
        text.oldest_ordered().collect()
    }

    /// What the whole stream's decoder shows for the last of `chunks`.
    fn reference(chunks: &[&[u8]]) -> String {
        let mut decoder = TextDecoder::new();
        let mut last = String::new();
        for chunk in chunks {
            let mut text = String::new();
            decoder.decode(chunk, |c| text.push(c));
            if !text.is_empty() {
                last = text;
            }
        }
        last.chars()
            .rev()
            .take(SCREEN_TAIL)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    }

    /// Feeds `chunks` through one buffer as the server does, settling at the end.
    fn feed(chunks: &[&[u8]]) -> (String, usize) {
        let (mut feed, mut buf, mut end) = (MessageFeed::new(), [0u8; BUF], 0);
        let (mut text, mut deferred) = (ScreenText::new(), 0);
        for chunk in chunks {
            let saved = feed.before_receive(&buf, end);
            // The receive overwrites the buffer from its start, the end included;
            // a stack may even scribble on it when nothing came.
            buf.fill(0xEE);
            if chunk.is_empty() {
                // Nothing came (WouldBlock).
                feed.not_received(&mut buf, end, saved);
                continue;
            }
            buf[..chunk.len()].copy_from_slice(chunk);
            end = chunk.len();
            if feed.received(&buf, end, saved.as_ref(), &mut text) == Fed::Deferred {
                deferred += 1;
            }
        }
        feed.settle(&buf, end, &mut text);
        (shown(&text), deferred)
    }

    #[test]
    fn a_long_receive_waits_and_then_shows_like_the_whole_stream() {
        let long = [&[b'x'; 900][..], b"the end of a long one"].concat();
        let (shown, deferred) = feed(&[&long]);
        assert_eq!(deferred, 1);
        assert_eq!(shown, reference(&[&long]));
    }

    #[test]
    fn a_short_receive_after_a_long_one_continues_its_character_and_sequence() {
        // The long one ends inside a character and inside an escape sequence.
        let long = [&[0xff; 900][..], b"bulk\x1b[3"].concat();
        let (shown, _) = feed(&[&long, b"1mred"]);
        assert_eq!(shown, "red");
        let long = [&[b'y'; 900][..], b"\xe6\x8e"].concat();
        let (shown, _) = feed(&[&long, b"\x8c!"]);
        assert_eq!(shown, reference(&[&long, b"\x8c!"]));
        assert_eq!(shown, "掌!");
    }

    #[test]
    fn a_long_receive_superseded_by_another_is_never_decoded() {
        let first = [&[b'a'; 900][..], b"first"].concat();
        let second = [&[b'b'; 900][..], b"second"].concat();
        let (shown, deferred) = feed(&[&first, &second]);
        assert_eq!(deferred, 2);
        assert_eq!(shown, reference(&[&first, &second]));
    }

    #[test]
    fn a_short_receive_without_text_leaves_the_long_ones_text() {
        let long = [&[b'z'; 900][..], b"still shown"].concat();
        let (shown, _) = feed(&[&long, b"\x1b[0m"]);
        assert_eq!(shown, reference(&[&long, b"\x1b[0m"]));
        assert!(shown.ends_with("still shown"), "{shown:?}");
    }

    #[test]
    fn a_long_receives_end_is_as_long_as_the_docs_say() {
        // EchoServer's docs: 408 bytes, 580 with `cjk`.
        assert_eq!(LONG_END, if cfg!(feature = "cjk") { 580 } else { 408 });
    }

    #[test]
    fn a_receive_that_brings_nothing_leaves_the_long_one_waiting_where_it_was() {
        let long = [&[0xff; 900][..], b"bulk\x1b[3"].concat();
        let (shown, deferred) = feed(&[&long, b"", b"", b"1mred"]);
        assert_eq!((shown.as_str(), deferred), ("red", 1));
        let (shown, _) = feed(&[&long, b""]);
        assert_eq!(shown, reference(&[&long]));
    }

    #[test]
    fn a_tutorial_sized_buffer_defers_long_receives_with_all_its_room() {
        let (mut feed, mut buf, mut text) = (MessageFeed::new(), [0u8; 1024], ScreenText::new());
        buf.fill(b'q');
        assert_eq!(feed.received(&buf, 1024, None, &mut text), Fed::Deferred);
        let saved = feed.before_receive(&buf, 1024);
        assert!(saved.is_some(), "the long receive's end is handed out");
        assert!(feed.before_receive(&buf, 1024).is_none(), "and only once");
        assert_eq!(
            feed.received(&buf, 1024, saved.as_ref(), &mut text),
            Fed::Deferred
        );
        assert!(text.is_empty(), "superseded undecoded");
        assert!(feed.settle(&buf, 1024, &mut text));
        assert_eq!(text.len(), SCREEN_TAIL);
    }

    /// The feed's rule on whole chunks, with no buffer: a long chunk waits and is
    /// dropped if another long one follows; a short one decodes the waiting one's
    /// end first. What the feed shows must not depend on the slot buffer being
    /// overwritten (or scribbled on by a receive that brought nothing).
    struct Model {
        decoder: TextDecoder,
        waiting: Option<Vec<u8>>,
        text: ScreenText,
    }

    impl Model {
        fn take(&mut self, chunk: &[u8]) {
            if chunk.len() > LONG_END {
                self.waiting = Some(chunk.to_vec());
                return;
            }
            self.settle();
            let fresh = decode(&mut self.decoder, |d, out| {
                d.decode_tail(chunk, SCREEN_TAIL, out)
            });
            replace_if_text(&mut self.text, fresh);
        }

        fn settle(&mut self) {
            if let Some(long) = self.waiting.take() {
                let fresh = decode(&mut self.decoder, |d, out| {
                    d.decode_tail(&long, SCREEN_TAIL, out)
                });
                replace_if_text(&mut self.text, fresh);
            }
        }
    }

    /// Random streams in random chunks (empty ones for receives that brought
    /// nothing), settled at random points as the server's redraws do: the text is
    /// the model's whenever it is settled.
    #[test]
    fn random_chunks_settled_at_random_show_what_the_whole_stream_shows() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Plain text, escape sequences, a split CJK character, invalid bytes, controls.
        let pieces: [&[u8]; 8] = [
            b"Hello Handbit ",
            b"\x1b[1;31m",
            b"\x1b]0;title\x07",
            "掌控板".as_bytes(),
            b"\xe6\x8e",
            b"\xff\xc0\x80",
            b"\r\n\t\x00\x7f",
            b"I'am MixNo",
        ];
        for case in 0..300 {
            let mut stream = Vec::new();
            while stream.len() < 6000 {
                stream.extend_from_slice(pieces[(next() % 8) as usize]);
            }
            let (mut feed, mut buf, mut end) = (MessageFeed::new(), [0u8; BUF], 0);
            let mut text = ScreenText::new();
            let mut model = Model {
                decoder: TextDecoder::new(),
                waiting: None,
                text: ScreenText::new(),
            };
            let mut at = 0;
            while at < stream.len() {
                let len = match next() % 4 {
                    0 => 0,
                    1 => (next() % 16) as usize,
                    _ => (next() % BUF as u64) as usize + 1,
                }
                .min(stream.len() - at);
                let chunk = &stream[at..at + len];
                at += len;
                let saved = feed.before_receive(&buf, end);
                buf.fill(0xEE);
                if chunk.is_empty() {
                    feed.not_received(&mut buf, end, saved);
                } else {
                    buf[..len].copy_from_slice(chunk);
                    end = len;
                    feed.received(&buf, end, saved.as_ref(), &mut text);
                    model.take(chunk);
                }
                if next() % 5 == 0 || at == stream.len() {
                    feed.settle(&buf, end, &mut text);
                    model.settle();
                    assert_eq!(shown(&text), shown(&model.text), "case {case}, at {at}");
                }
            }
        }
    }
}
