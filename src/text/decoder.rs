//! [`TextDecoder`]: received bytes to characters that are safe to show.

/// Shown in place of bytes that are not valid UTF-8.
const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;

/// Bytes after a restart within which the decoder is back in step (see
/// `TextDecoder::decode_window`).
const RESYNC: usize = 320;
/// The longest UTF-8 encoding of a character.
const MAX_CHAR_BYTES: usize = 4;
/// Plain ASCII bytes (printable, TAB, CR, LF) after which the decoder is certainly
/// between characters and outside any sequence: none can start in plain ASCII, and
/// one that began before them has swallowed its most by then (see
/// `TextDecoder::decode_tail`).
const SETTLE: usize = MAX_SEQUENCE as usize + 1;

/// The most characters an escape sequence may swallow after its introducer.
const MAX_SEQUENCE: u8 = 32;

/// A streaming decoder from received bytes to displayable characters, one per
/// connection.
///
/// TCP delivers a byte stream, so bytes may arrive in chunks of any size;
/// [`decode`](Self::decode) keeps what it needs between calls, and the output does not
/// depend on how the bytes were split. It emits through a callback so that no buffer
/// is needed.
///
/// # UTF-8
///
/// - A character split across calls is emitted whole by the call that completes it;
///   nothing is emitted for an incomplete character at the end of a call.
/// - Bytes that are not valid UTF-8 become U+FFFD `�`, one per *maximal invalid
///   subpart*, exactly like [`String::from_utf8_lossy`](https://doc.rust-lang.org/std/string/struct.String.html#method.from_utf8_lossy):
///   a stray continuation byte, a byte that can never occur (`C0`, `C1`, `F5`..`FF`),
///   an overlong form, a surrogate, a value above U+10FFFF, or a lead byte whose
///   sequence is cut short by an unexpected byte. After a cut-short sequence,
///   decoding resumes with the unexpected byte.
///
/// # Control characters
///
/// The decoded characters then pass a filter, so that a terminal's escape sequences
/// or control codes never reach the screen:
///
/// - TAB, CR and LF each become one space (so CR LF becomes two spaces).
/// - ESC starts an escape sequence, swallowed whole:
///   - `ESC [` (CSI): parameter and intermediate characters U+0020..U+003F up to and
///     including a final character U+0040..U+007E. Any other character ends the
///     sequence early and is then treated as ordinary text.
///   - `ESC ]` (OSC): everything up to and including BEL, or up to `ESC \`.
///   - any other `ESC x`: the intermediates U+0020..U+002F that follow the ESC, and
///     the one character after them (e.g. `ESC c`, `ESC ( B`).
///   - An ESC inside a sequence abandons it and starts a new one.
/// - U+009B (the 8-bit CSI) starts a CSI sequence like `ESC [`.
/// - Every other C0 control (U+0000..U+001F, NUL included), DEL (U+007F) and every
///   other C1 control (U+0080..U+009F) is dropped.
/// - An escape sequence swallows at most 32 characters after its introducer (ESC
///   or U+009B, the `[` or `]` included): a sequence still open after that is given
///   up and the next character is ordinary text again, so a sequence that never
///   ends cannot hide the rest of the stream.
///
/// U+FFFD from invalid bytes is ordinary text, and shown.
///
/// ```
/// use nal_echo::TextDecoder;
/// let mut decoder = TextDecoder::new();
/// let mut text = heapless::String::<32>::new();
/// decoder.decode(b"\x1b[1;31mHi\r\n\xe6\x8e", |c| text.push(c).unwrap_or(()));
/// decoder.decode(b"\xa7\xff", |c| text.push(c).unwrap_or(()));
/// assert_eq!(text, "Hi  控\u{fffd}");
/// ```
#[derive(Debug, Clone)]
pub struct TextDecoder {
    utf8: Utf8,
    filter: ControlFilter,
}

impl TextDecoder {
    /// A decoder at the start of a stream.
    pub const fn new() -> Self {
        Self {
            utf8: Utf8::new(),
            filter: ControlFilter::new(),
        }
    }

    /// Decode the next chunk of the stream, passing each displayable character to
    /// `out` in order.
    pub fn decode(&mut self, bytes: &[u8], mut out: impl FnMut(char)) {
        self.decode_dyn(bytes, &mut out);
    }

    /// The one copy of the byte loop: generic callers would each get the whole
    /// state machine inlined (several KB of flash apiece on a RISC-V board).
    #[inline(never)]
    fn decode_dyn(&mut self, bytes: &[u8], out: &mut dyn FnMut(char)) {
        let filter = &mut self.filter;
        for &byte in bytes {
            self.utf8
                .push(byte, &mut |c| filter.push(c, &mut |d| out(d)));
        }
    }

    /// Like [`decode`](Self::decode), but free to skip all but the end: passes on a
    /// suffix of what `decode` would pass, and leaves the decoder in the same state.
    ///
    /// A chunk that ends in `keep` + 33 bytes of plain ASCII (printable, TAB, CR, LF)
    /// passes its last `keep` (blanks as spaces): no escape sequence can start in
    /// plain ASCII, and one that began before swallows at most 32 characters, so the
    /// last `keep` are text and the decoder is idle after them. Otherwise, a chunk
    /// longer than 320 + 4 × `keep` bytes is decoded from that many bytes at its end
    /// only: the first 320 bring the decoder back in step, the last 4 × `keep` are
    /// passed on. That is `keep` characters or more unless they hold control
    /// characters or escape sequences; then it may be fewer. A shorter chunk is
    /// decoded whole. So a screen that shows a line's worth costs a bulk echo at most
    /// a few hundred bytes of decoding per receive, however large the receive, and
    /// text about a hundred.
    pub fn decode_tail(&mut self, bytes: &[u8], keep: usize, out: impl FnMut(char)) {
        if bytes.len() > Self::tail_window(keep) {
            return self.decode_long_end(bytes, keep, out);
        }
        match plain_end(bytes, keep) {
            Some(text) => self.pass_plain(text, out),
            None => self.decode(bytes, out),
        }
    }

    /// The bytes at the end of a chunk that [`decode_tail`](Self::decode_tail) reads
    /// at most: 320 + 4 × `keep`.
    pub(crate) const fn tail_window(keep: usize) -> usize {
        keep.saturating_mul(MAX_CHAR_BYTES).saturating_add(RESYNC)
    }

    /// `decode_tail` of a chunk longer than `tail_window(keep)`, given at least the
    /// last `tail_window(keep)` bytes of it (the chunk itself may be gone).
    pub(crate) fn decode_long_end(&mut self, end: &[u8], keep: usize, out: impl FnMut(char)) {
        if let Some(text) = plain_end(end, keep) {
            return self.pass_plain(text, out);
        }
        let skip = end.len().saturating_sub(Self::tail_window(keep));
        self.decode_window(end.get(skip..).unwrap_or_default(), out);
    }

    /// Passes plain ASCII that ends a chunk; the decoder is then idle.
    fn pass_plain(&mut self, text: &[u8], mut out: impl FnMut(char)) {
        *self = Self::new();
        for &b in text {
            out(if b < b' ' { ' ' } else { char::from(b) });
        }
    }

    /// Decodes the end of a long chunk as if the whole chunk had been decoded.
    ///
    /// The decoder restarts in the idle state at the window's start and reads
    /// `RESYNC` bytes without passing anything on. By then it is in the state a
    /// decoder that read the whole chunk is in: UTF-8 falls into step within 4 bytes,
    /// every ESC starts the same sequence in both, and any other sequence ends within
    /// 33 characters, so after at most about 70 characters (280 bytes) nothing
    /// differs. What it passes on is then exactly the end of what `decode` would
    /// pass.
    ///
    /// Right after an ESC byte every decoder is in the same state (between
    /// characters, at the start of an escape sequence), so the guard is read only
    /// from its last ESC on, if it has one.
    fn decode_window(&mut self, window: &[u8], out: impl FnMut(char)) {
        let (guard, tail) = window.split_at(RESYNC.min(window.len()));
        let from = guard.iter().rposition(|&b| b == 0x1B).unwrap_or(0);
        *self = Self::new();
        self.decode(guard.get(from..).unwrap_or_default(), |_| {});
        self.decode(tail, out);
    }

    /// Forget any partial character or escape sequence (for a new stream).
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

/// The last `keep` bytes of `bytes` if they and the `SETTLE` before them are all
/// plain ASCII: printable, TAB, CR or LF.
fn plain_end(bytes: &[u8], keep: usize) -> Option<&[u8]> {
    let start = bytes.len().checked_sub(keep.checked_add(SETTLE)?)?;
    let run = bytes.get(start..)?;
    run.iter()
        .all(|&b| matches!(b, b' '..=b'~' | b'\t' | b'\r' | b'\n'))
        .then(|| run.get(SETTLE..))
        .flatten()
}

impl Default for TextDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// The UTF-8 stage: bytes to chars, invalid subparts to U+FFFD.
#[derive(Debug, Clone)]
struct Utf8 {
    /// Bits of the character decoded so far.
    code: u32,
    /// Continuation bytes still expected; 0 between characters.
    pending: u8,
    /// Range the next continuation byte must be in. Only the byte after the lead
    /// has a range narrower than 80..=BF: that is what rules out overlongs,
    /// surrogates and values above U+10FFFF without decoding them first.
    low: u8,
    high: u8,
}

impl Utf8 {
    const fn new() -> Self {
        Self {
            code: 0,
            pending: 0,
            low: 0x80,
            high: 0xBF,
        }
    }

    fn push(&mut self, byte: u8, out: &mut impl FnMut(char)) {
        if self.pending > 0 {
            if (self.low..=self.high).contains(&byte) {
                self.continue_with(byte, out);
                return;
            }
            // The maximal subpart ends before this byte, which may start a character.
            self.pending = 0;
            out(REPLACEMENT);
        }
        self.start(byte, out);
    }

    fn continue_with(&mut self, byte: u8, out: &mut impl FnMut(char)) {
        self.code = (self.code << 6) | u32::from(byte & 0x3F);
        self.pending -= 1;
        self.low = 0x80;
        self.high = 0xBF;
        if self.pending == 0 {
            out(char::from_u32(self.code).unwrap_or(REPLACEMENT));
        }
    }

    fn start(&mut self, byte: u8, out: &mut impl FnMut(char)) {
        match byte {
            0x00..=0x7F => out(char::from(byte)),
            0xC2..=0xDF => self.expect(1, byte & 0x1F, 0x80, 0xBF),
            0xE0 => self.expect(2, byte & 0x0F, 0xA0, 0xBF),
            0xED => self.expect(2, byte & 0x0F, 0x80, 0x9F),
            0xE1..=0xEF => self.expect(2, byte & 0x0F, 0x80, 0xBF),
            0xF0 => self.expect(3, byte & 0x07, 0x90, 0xBF),
            0xF1..=0xF3 => self.expect(3, byte & 0x07, 0x80, 0xBF),
            0xF4 => self.expect(3, byte & 0x07, 0x80, 0x8F),
            _ => out(REPLACEMENT),
        }
    }

    fn expect(&mut self, pending: u8, bits: u8, low: u8, high: u8) {
        self.code = u32::from(bits);
        self.pending = pending;
        self.low = low;
        self.high = high;
    }

    /// Whether an incomplete character waits for more bytes.
    #[cfg(test)]
    fn is_pending(&self) -> bool {
        self.pending > 0
    }
}

/// Where the control filter is within an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sequence {
    /// Ordinary text.
    None,
    /// After ESC (and maybe intermediates), waiting for the character that says
    /// what kind of sequence this is.
    Escape,
    /// Inside a CSI sequence, waiting for its final character.
    Csi,
    /// Inside an OSC string, waiting for BEL or ESC.
    Osc,
}

/// The control stage: drops controls and escape sequences, turns blanks to spaces.
#[derive(Debug, Clone)]
struct ControlFilter {
    sequence: Sequence,
    /// Characters swallowed since the introducer of the current sequence.
    swallowed: u8,
}

impl ControlFilter {
    const fn new() -> Self {
        Self {
            sequence: Sequence::None,
            swallowed: 0,
        }
    }

    fn push(&mut self, c: char, out: &mut impl FnMut(char)) {
        if self.sequence != Sequence::None && !self.swallow(c) {
            return;
        }
        self.text(c, out);
    }

    fn text(&mut self, c: char, out: &mut impl FnMut(char)) {
        match c {
            '\t' | '\r' | '\n' => out(' '),
            '\u{1b}' => self.enter(Sequence::Escape),
            '\u{9b}' => self.enter(Sequence::Csi),
            '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' => {}
            _ => out(c),
        }
    }

    fn enter(&mut self, sequence: Sequence) {
        self.sequence = sequence;
        self.swallowed = 0;
    }

    /// Feed `c` to the open sequence; true if `c` is not part of it and is text.
    fn swallow(&mut self, c: char) -> bool {
        if self.swallowed >= MAX_SEQUENCE {
            self.sequence = Sequence::None;
            return true;
        }
        if c == '\u{1b}' {
            self.enter(Sequence::Escape);
            return false;
        }
        self.swallowed += 1;
        self.sequence = match (self.sequence, c) {
            (Sequence::Escape, '[') => Sequence::Csi,
            (Sequence::Escape, ']') => Sequence::Osc,
            (Sequence::Escape | Sequence::Csi, ' '..='/') => self.sequence,
            (Sequence::Csi, '0'..='?') => Sequence::Csi,
            (Sequence::Csi, '@'..='~') | (Sequence::Escape, _) => Sequence::None,
            (Sequence::Osc, '\u{7}') => Sequence::None,
            (Sequence::Osc, _) => Sequence::Osc,
            (Sequence::Csi | Sequence::None, _) => {
                self.sequence = Sequence::None;
                return true;
            }
        };
        false
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    /// What `decode_tail` passes, and what a following chunk then decodes to.
    fn tail_then(chunk: &[u8], keep: usize, next: &[u8]) -> (String, String) {
        let mut d = TextDecoder::new();
        let (mut tail, mut after) = (String::new(), String::new());
        d.decode_tail(chunk, keep, |c| tail.push(c));
        d.decode(next, |c| after.push(c));
        (tail, after)
    }

    fn plainish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"Hello Handbit"[..]),
            Just("掌控板".as_bytes()),
            Just(&b"\r\n\t"[..]),
            Just(&b"\xe6\x8e"[..]),
            Just(&b"\x1b[31m"[..]),
            Just("\u{a9}\u{9b}".as_bytes()),
            Just(&b"\xff"[..]),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn decode_tail_passes_a_long_enough_suffix_and_keeps_the_state(
            chunk in plainish(), next in plainish(), keep in 0usize..40,
        ) {
            let (full, full_after) = tail_then(&chunk, usize::MAX, &next);
            let mut reference = TextDecoder::new();
            let mut whole = String::new();
            reference.decode(&chunk, |c| whole.push(c));
            prop_assert_eq!(&full, &whole);
            let (tail, after) = tail_then(&chunk, keep, &next);
            prop_assert!(whole.ends_with(&tail), "{tail:?} is not a suffix of {whole:?}");
            prop_assert!(tail.chars().count() >= keep.min(whole.chars().count()));
            prop_assert_eq!(after, full_after);
        }
    }

    /// Mostly printable text, with what could leave a decoder mid-sequence before it.
    fn texty() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => Just(&b"Hello Handbit, I'am MixNo. "[..]),
            2 => Just(&b"\r\n\t"[..]),
            1 => Just(&b"\x1b]"[..]),
            1 => Just(&b"\x1b["[..]),
            1 => Just(&b"\x1b"[..]),
            1 => Just(&b"\xe6\x8e"[..]),
            1 => Just("\u{9b}".as_bytes()),
            1 => Just(&b"\x07"[..]),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn a_printable_end_is_passed_as_is_and_keeps_the_state(
            chunk in texty(), next in texty(), keep in 0usize..80,
        ) {
            let (full, full_after) = tail_then(&chunk, usize::MAX, &next);
            let (tail, after) = tail_then(&chunk, keep, &next);
            prop_assert!(full.ends_with(&tail), "{tail:?} is not a suffix of {full:?}");
            prop_assert!(tail.chars().count() >= keep.min(full.chars().count()));
            prop_assert_eq!(after, full_after);
        }
    }

    fn hostile() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"\x1b"[..]),
            Just(&b"\x1b["[..]),
            Just(&b"\x1b]"[..]),
            Just(&b"\x07"[..]),
            Just("\u{9b}".as_bytes()),
            Just(&b"\x80\xbf"[..]),
            Just(&b"\xe6\x8e"[..]),
            Just(&b"\xf0\x9f\x98"[..]),
            Just(&b"[31;1m"[..]),
            Just(&b"x"[..]),
            Just("掌".as_bytes()),
            Just(&b"\xff\xc0"[..]),
        ];
        (
            prop::collection::vec(piece, 200..1200),
            prop::collection::vec(any::<u8>(), 0..600),
        )
            .prop_map(|(p, noise)| [p.concat(), noise].concat())
    }

    proptest! {
        // 2000 cases passed once (4 minutes); CI runs fewer.
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
        #[test]
        fn a_long_chunk_decoded_from_its_window_ends_like_the_whole(
            lead in plainish(), chunk in hostile(), next in hostile(),
        ) {
            let mut whole = TextDecoder::new();
            let mut windowed = TextDecoder::new();
            whole.decode(&lead, |_| {});
            windowed.decode(&lead, |_| {});
            let (mut all, mut tail) = (String::new(), String::new());
            whole.decode(&chunk, |c| all.push(c));
            windowed.decode_tail(&chunk, 66, |c| tail.push(c));
            prop_assert!(all.ends_with(&tail), "{tail:?} is not a suffix");
            let (mut a, mut b) = (String::new(), String::new());
            whole.decode(&next, |c| a.push(c));
            windowed.decode(&next, |c| b.push(c));
            prop_assert_eq!(a, b, "the states differ after the chunk");
        }
    }

    #[test]
    fn decode_tail_decodes_a_short_chunk_whole_and_a_long_one_from_its_end() {
        let (tail, _) = tail_then("abc掌控板\r\n".as_bytes(), 3, b"");
        assert_eq!(tail, "abc掌控板  ");
        // 320 bytes to resync, then the last 4 × 3 bytes: "x" and 11 bytes of text.
        let long = [&[b'x'; 1000][..], "掌控板\r\n".as_bytes()].concat();
        let (tail, after) = tail_then(&long, 3, b"");
        assert_eq!((tail.as_str(), after.as_str()), ("x掌控板  ", ""));
        // Plain to the end: the last `keep` bytes, even right after an OSC.
        let osc = [&b"\x1b]"[..], &[b'z'; 40], b"012345678\n"].concat();
        let (tail, after) = tail_then(&osc, 4, b"!");
        assert_eq!((tail.as_str(), after.as_str()), ("678 ", "!"));
        // Too few printable bytes after the ESC to be sure: decoded whole, and the OSC
        // swallows 32 characters (`]`, 30 `z`, `0`).
        let osc = [&b"\x1b]"[..], &[b'z'; 30], b"0123"].concat();
        let (tail, _) = tail_then(&osc, 4, b"");
        assert_eq!(tail, "123");
        // A character split at the end stays pending for the next chunk.
        let long = [&[b'y'; 1000][..], b"\xe6\x8e"].concat();
        let (tail, after) = tail_then(&long, 1, b"\x8c!");
        assert_eq!((tail.as_str(), after.as_str()), ("yy", "掌!"));
    }

    fn decode_chunks(chunks: &[&[u8]]) -> String {
        let mut decoder = TextDecoder::new();
        let mut text = String::new();
        for chunk in chunks {
            decoder.decode(chunk, |c| text.push(c));
        }
        text
    }

    fn decode(bytes: &[u8]) -> String {
        decode_chunks(&[bytes])
    }

    /// The UTF-8 stage alone, with an incomplete tail flushed as U+FFFD like
    /// `from_utf8_lossy` does at the end of its input.
    fn utf8_lossy_chunks(chunks: &[&[u8]]) -> String {
        let mut utf8 = Utf8::new();
        let mut text = String::new();
        for chunk in chunks {
            for &byte in *chunk {
                utf8.push(byte, &mut |c| text.push(c));
            }
        }
        if utf8.is_pending() {
            text.push(REPLACEMENT);
        }
        text
    }

    /// Split `bytes` at the given cut points (taken modulo the length).
    fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            chunks.push(&bytes[start..cut]);
            start = cut;
        }
        chunks
    }

    #[test]
    fn ascii_text_passes() {
        assert_eq!(decode(b"Hello Handbit"), "Hello Handbit");
    }

    #[test]
    fn multibyte_chars_split_anywhere_come_out_whole() {
        let text = "é掌控板😀";
        let bytes = text.as_bytes();
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let mut decoder = TextDecoder::new();
                let mut out = String::new();
                for chunk in [&bytes[..a], &bytes[a..b], &bytes[b..]] {
                    decoder.decode(chunk, |c| out.push(c));
                    assert!(text.starts_with(&out), "partial output {out:?}");
                }
                assert_eq!(out, text);
            }
        }
    }

    #[test]
    fn incomplete_tail_emits_nothing() {
        let mut decoder = TextDecoder::new();
        let mut out = String::new();
        decoder.decode(b"a\xe6\x8e", |c| out.push(c));
        assert_eq!(out, "a");
        decoder.decode(b"\xa7", |c| out.push(c));
        assert_eq!(out, "a控");
    }

    #[test]
    fn invalid_bytes_become_replacement_per_maximal_subpart() {
        let cases: [(&[u8], &str); 10] = [
            (b"\x80", "\u{fffd}"),
            (b"a\xbfb", "a\u{fffd}b"),
            (b"\xc0\x80", "\u{fffd}\u{fffd}"),
            (b"\xe0\x80\x80", "\u{fffd}\u{fffd}\u{fffd}"),
            (b"\xed\xa0\x80", "\u{fffd}\u{fffd}\u{fffd}"),
            (b"\xf4\x90\x80\x80", "\u{fffd}\u{fffd}\u{fffd}\u{fffd}"),
            (b"\xf5", "\u{fffd}"),
            (b"\xe6\x8ea", "\u{fffd}a"),
            (b"\xf0\x9f\x98\xe6\x8e\xa7", "\u{fffd}控"),
            (b"\xff\xfe", "\u{fffd}\u{fffd}"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(decode(bytes), expected, "{bytes:x?}");
            assert_eq!(String::from_utf8_lossy(bytes), expected, "{bytes:x?}");
        }
    }

    #[test]
    fn utf8_stage_matches_from_utf8_lossy_on_edge_cases() {
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        let edges = [
            0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
            0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff,
        ];
        for &a in &edges {
            for &b in &edges {
                for &c in &edges {
                    inputs.push([a, b, c].into());
                    inputs.push([a, b, c, 0x80].into());
                    inputs.push([a, b, c, 0xbf, 0xbf].into());
                }
            }
        }
        for input in inputs {
            let expected = String::from_utf8_lossy(&input);
            for cut in 0..=input.len() {
                let chunks = [&input[..cut], &input[cut..]];
                assert_eq!(utf8_lossy_chunks(&chunks), expected, "{input:x?} cut {cut}");
            }
        }
    }

    #[test]
    fn tab_cr_lf_become_one_space_each() {
        assert_eq!(decode(b"a\tb\r\nc\n"), "a b  c ");
    }

    #[test]
    fn other_controls_are_dropped() {
        assert_eq!(decode(b"a\0b\x01\x07\x08\x0b\x0c\x1f\x7fc"), "abc");
        assert_eq!(decode("a\u{80}\u{85}\u{9c}\u{9f}b".as_bytes()), "ab");
    }

    #[test]
    fn csi_sequences_are_swallowed() {
        assert_eq!(decode(b"\x1b[0mA\x1b[1;31mB\x1b[?25lC\x1b[2 qD"), "ABCD");
        assert_eq!(decode("\u{9b}31mA".as_bytes()), "A");
    }

    #[test]
    fn csi_ends_early_at_a_character_it_cannot_contain() {
        assert_eq!(decode("\x1b[1\n2".as_bytes()), " 2");
        assert_eq!(decode("\x1b[1掌".as_bytes()), "掌");
    }

    #[test]
    fn osc_is_swallowed_up_to_bel_or_st() {
        assert_eq!(decode(b"\x1b]0;title\x07A"), "A");
        assert_eq!(decode(b"\x1b]0;title\x1b\\A"), "A");
        assert_eq!(decode("\x1b]0;标题\x07A".as_bytes()), "A");
    }

    #[test]
    fn other_escapes_swallow_one_char_after_intermediates() {
        assert_eq!(decode(b"\x1bcA\x1b(BB\x1b7C\x1b\xe6\x8e\xa7D"), "ABCD");
    }

    #[test]
    fn esc_inside_a_sequence_starts_a_new_one() {
        assert_eq!(decode(b"\x1b[12\x1b[mA"), "A");
        assert_eq!(decode(b"\x1b\x1bxA"), "A");
    }

    #[test]
    fn sequences_survive_chunk_splits() {
        let bytes = b"x\x1b[38;5;208my\x1b]2;t\x07z\x1b(Bw";
        for cut in 0..=bytes.len() {
            assert_eq!(decode_chunks(&[&bytes[..cut], &bytes[cut..]]), "xyzw");
        }
    }

    #[test]
    fn endless_sequence_gives_up_after_32_chars() {
        let mut bytes = Vec::from(&b"\x1b]"[..]);
        bytes.extend([b'x'; 31]);
        bytes.extend(b"visible");
        assert_eq!(decode(&bytes), "visible");

        let mut csi = Vec::from(&b"\x1b["[..]);
        csi.extend([b'1'; 40]);
        assert_eq!(decode(&csi), "111111111");
    }

    #[test]
    fn final_char_at_the_limit_still_ends_the_sequence() {
        let mut bytes = Vec::from(&b"\x1b["[..]);
        bytes.extend([b'1'; 30]);
        bytes.extend(b"mA");
        assert_eq!(decode(&bytes), "A");
    }

    #[test]
    fn reset_forgets_partial_state() {
        let mut decoder = TextDecoder::new();
        let mut out = String::new();
        decoder.decode(b"\xe6\x8e", |c| out.push(c));
        decoder.reset();
        decoder.decode(b"\xa7A\x1b[", |c| out.push(c));
        decoder.reset();
        decoder.decode(b"1mB", |c| out.push(c));
        assert_eq!(out, "\u{fffd}A1mB");
    }

    proptest! {
        #[test]
        fn utf8_stage_matches_lossy_in_any_split(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let chunks = split(&bytes, &cuts);
            prop_assert_eq!(utf8_lossy_chunks(&chunks), String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn biased_utf8_matches_lossy_in_any_split(
            bytes in proptest::collection::vec(
                prop_oneof![0x80u8..=0xbf, 0xc0u8..=0xff, 0x20u8..=0x7e], 0..48),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let chunks = split(&bytes, &cuts);
            prop_assert_eq!(utf8_lossy_chunks(&chunks), String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn decoder_matches_lossy_on_text_without_controls(
            bytes in proptest::collection::vec(
                prop_oneof![0x20u8..=0x7e, 0xa0u8..=0xff], 0..64),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            // Without bytes 00..1F, 7F and 80..9F no control can be decoded (a C1
            // control needs C2 followed by 80..9F), so the filter must pass all.
            let chunks = split(&bytes, &cuts);
            let mut expected = String::from_utf8_lossy(&bytes).into_owned();
            let complete = !Utf8::new().clone_after(&bytes).is_pending();
            if !complete {
                expected.pop();
            }
            prop_assert_eq!(decode_chunks(&chunks), expected);
        }

        #[test]
        fn decoder_output_does_not_depend_on_splits(
            bytes in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(0x1b), Just(b'['), Just(b']'), Just(0x07)], 0..96),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let whole = decode(&bytes);
            prop_assert_eq!(decode_chunks(&split(&bytes, &cuts)), whole.clone());
            prop_assert!(!whole.chars().any(|c| c.is_control()));
        }
    }

    impl Utf8 {
        /// This stage after `bytes`, to see whether it ends inside a character.
        fn clone_after(&self, bytes: &[u8]) -> Self {
            let mut utf8 = self.clone();
            for &byte in bytes {
                utf8.push(byte, &mut |_| {});
            }
            utf8
        }
    }
}
