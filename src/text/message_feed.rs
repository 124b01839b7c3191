//! [`MessageFeed`]: how one connection's received bytes reach the message line,
//! decoding as little as the screen needs.
//!
//! The screen is redrawn at most once per refresh interval, but a bulk sender makes
//! thousands of receives a second. A short receive is decoded at once (it is cheap,
//! and the decoder must follow the stream). A long one only needs its end decoded,
//! and only if it is still the newest receive when the screen is drawn, so its
//! decoding is deferred: the end stays where it is in the slot's buffer, or is moved
//! to the buffer's last bytes (the stash) before the next receive, which then gets
//! the rest of the buffer. A long receive that is followed by another long one on
//! the same connection is never decoded at all: the later one's end brings the
//! decoder back in step by itself.
//!
//! Deferring costs receive room, so it is done only with a buffer of at least four
//! stashes; smaller buffers decode every receive as it comes.
//!
//! The stash rewrites the end of an echo buffer that has been sent, which makes the
//! data path less plain; it stays because decoding every long receive as it comes
//! instead took the emulated board's echo of random bytes from 0.97x to 0.89x of raw
//! smoltcp (docs/figures.md, "On an emulated board").

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
const STASH: usize = TextDecoder::tail_window(SCREEN_TAIL);

/// Whether a slot buffer of `buf` bytes is large enough to defer decoding.
const fn defers(buf: usize) -> bool {
    buf >= 4 * STASH
}

/// Where the end of a receive that was not decoded yet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deferred {
    /// Nothing waits: every receive so far was decoded or superseded.
    No,
    /// The receive is still in `buf[..end]`.
    InPlace,
    /// Its last `STASH` bytes were moved to the end of the buffer.
    Stashed,
}

/// What became of a receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fed {
    /// Decoded; `true` if it had text (then it is in the caller's `ScreenText`).
    Decoded(bool),
    /// Left for [`MessageFeed::settle`].
    Deferred,
}

/// One connection's decoder, and the receive it has not decoded yet.
#[derive(Debug, Clone)]
pub(crate) struct MessageFeed {
    decoder: TextDecoder,
    deferred: Deferred,
}

impl MessageFeed {
    pub(crate) const fn new() -> Self {
        Self {
            decoder: TextDecoder::new(),
            deferred: Deferred::No,
        }
    }

    /// Readies `buf` for the next receive, whose data starts at `buf[0]` and which
    /// replaces the one in `buf[..end]`; returns how many bytes it may take.
    pub(crate) fn before_receive(&mut self, buf: &mut [u8], end: usize) -> usize {
        if self.deferred == Deferred::InPlace {
            let from = end.saturating_sub(STASH);
            let to = buf.len().saturating_sub(STASH);
            if from < to && end <= buf.len() {
                buf.copy_within(from..end, to);
            }
            self.deferred = Deferred::Stashed;
        }
        match self.deferred {
            Deferred::Stashed => buf.len().saturating_sub(STASH),
            _ => buf.len(),
        }
    }

    /// Takes the receive now in `buf[..n]`. A short one is decoded, after a stashed
    /// one before it; its text (if any) replaces `text`.
    pub(crate) fn received(&mut self, buf: &[u8], n: usize, text: &mut ScreenText) -> Fed {
        let chunk = buf.get(..n).unwrap_or_default();
        if defers(buf.len()) && n > STASH {
            self.deferred = Deferred::InPlace;
            return Fed::Deferred;
        }
        let mut had_text = false;
        if self.deferred == Deferred::Stashed {
            had_text = self.settle(buf, 0, text);
        }
        let fresh = decode(&mut self.decoder, |d, out| {
            d.decode_tail(chunk, SCREEN_TAIL, out)
        });
        Fed::Decoded(replace_if_text(text, fresh) || had_text)
    }

    /// Decodes the receive left by [`received`](Self::received), if any, whose data
    /// ended at `buf[end]`; its text (if any) replaces `text`. Returns whether it had
    /// text.
    pub(crate) fn settle(&mut self, buf: &[u8], end: usize, text: &mut ScreenText) -> bool {
        let tail = match self.deferred {
            Deferred::No => return false,
            Deferred::InPlace => buf.get(end.saturating_sub(STASH)..end),
            Deferred::Stashed => buf.get(buf.len().saturating_sub(STASH)..),
        };
        self.deferred = Deferred::No;
        let tail = tail.unwrap_or_default();
        let fresh = decode(&mut self.decoder, |d, out| {
            d.decode_long_end(tail, SCREEN_TAIL, out)
        });
        replace_if_text(text, fresh)
    }
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

    const BUF: usize = 4 * STASH;

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
            let room = feed.before_receive(&mut buf, end);
            assert!(chunk.len() <= room, "test chunk too long for the room");
            buf[..chunk.len()].copy_from_slice(chunk);
            end = chunk.len();
            if feed.received(&buf, end, &mut text) == Fed::Deferred {
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
    fn the_stash_is_as_long_as_the_docs_say() {
        // EchoServer's docs: 408 bytes, 580 with `cjk`.
        assert_eq!(STASH, if cfg!(feature = "cjk") { 580 } else { 408 });
    }

    #[test]
    fn a_small_buffer_decodes_every_receive_at_once() {
        let (mut feed, mut buf, mut text) = (MessageFeed::new(), [0u8; 1024], ScreenText::new());
        assert!(!defers(buf.len()));
        assert_eq!(feed.before_receive(&mut buf, 0), 1024);
        buf[..900].fill(b'q');
        assert_eq!(feed.received(&buf, 900, &mut text), Fed::Decoded(true));
        assert_eq!(text.len(), SCREEN_TAIL);
    }
}
