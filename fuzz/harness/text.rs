//! Fuzz harness: arbitrary received bytes, split at arbitrary points, through the
//! `TextDecoder` and onto the `StatusScreen`.
//!
//! Input: a flags byte, a count `n` (`% 16`), `n` chunk sizes, then the payload.
//! The payload is cut into chunks of those sizes in turn (a size byte below 128 is
//! that many bytes, above it 8 times as many, so that long receives happen too).
//!
//! Asserted:
//!
//! - streaming = one-shot: decoding the chunks one by one gives the same
//!   characters as decoding the payload at once;
//! - `decode_tail(chunk, keep)` passes a suffix of what `decode(chunk)` passes from
//!   the same state, and the rest of the stream then decodes the same;
//! - no decoded character is a control character (C0, DEL, C1; so no ESC and no
//!   escape sequence's introducer), and no ESC sequence's final byte appears where
//!   one-shot decoding has none (covered by streaming = one-shot);
//! - the screen's message line never holds a control character, whether it is set
//!   from decoded text or from raw characters (the screen must defend itself);
//! - through an `EchoServer` (one slot; 64-byte buffer, or 2400 bytes so that long
//!   receives are decoded late, at the redraw) fed by a mock client the first five
//!   chunks, then the rest of the payload at once, drawing for one flags value in
//!   four: the echo is exact, the message line has no control character, and what
//!   it shows (with or without a leading `<` cut marker) is a piece of the stream's
//!   decoded text, where a `?` may stand for a character the font lacks;
//! - nothing panics, with the default message font and with `cjk` alike (the
//!   assertions do not depend on which one the library was built with).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use nal_echo::display::RecordingDisplay;
use nal_echo::embedded_nal::{nb, TcpClientStack};
use nal_echo::stack::mock::{MockNetwork, MockStack};
use nal_echo::time::MockClock;
use nal_echo::{Duration, EchoServer, ServerConfig, StatusScreen, TextDecoder};

const SERVER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PORT: u16 = 5001;
/// Rounds of send, poll and receive per chunk before the harness gives up waiting
/// (the echo of a chunk needs at most a few).
const ROUNDS: usize = 64;
/// Chunks per input at most (the rest of the payload is the last one), so that one
/// execution stays cheap.
const MAX_CHUNKS: usize = 16;
/// Chunks sent through the server at most.
const SERVER_CHUNKS: usize = 6;
/// What the screen shows for a character its font lacks.
const UNDRAWABLE: char = '?';
/// Characters (and bytes) given to the screen directly: more than a line holds
/// in either font (21, or 64 of the narrowest `cjk` glyphs), so that fitting cuts;
/// the fitting keeps only the newest, so more would only cost time (a glyph
/// lookup each with `cjk`).
const SCREEN_INPUT: usize = 80;
/// Bytes after a `decode_tail` that are compared: more than any partial character
/// or escape sequence (33 characters of 4 bytes) can reach.
const AFTER_TAIL: usize = 256;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&count, rest)) = rest.split_first() else {
        return;
    };
    let (sizes, payload) = rest.split_at(usize::from(count % 16).min(rest.len()));
    let chunks = split(payload, sizes);

    let whole = decode_all(payload);
    assert_no_controls(&whole);
    let pieces = decode_streaming(&chunks);
    assert_eq!(pieces.concat(), whole, "streaming differs from one-shot");
    check_decode_tail(&chunks, usize::from(flags >> 2));
    check_screen(&whole, payload);
    // Drawing costs more than the rest, so the server draws for one flags value in
    // four; its text model keeps up either way.
    let screen_on = flags & 6 == 6;
    if flags & 1 == 0 {
        through_server::<64>(&chunks, &whole, screen_on);
    } else {
        through_server::<2400>(&chunks, &whole, screen_on);
    }
}

/// Cuts `payload` into chunks of `sizes` in turn, at most `MAX_CHUNKS`; the rest
/// is one chunk.
fn split<'a>(payload: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = payload;
    for &size in sizes.iter().cycle().take(MAX_CHUNKS - 1) {
        if rest.is_empty() {
            break;
        }
        let len = match size {
            0..=127 => usize::from(size),
            _ => usize::from(size - 127) * 8,
        };
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    if !rest.is_empty() {
        chunks.push(rest);
    }
    chunks
}

fn decode_all(bytes: &[u8]) -> Vec<char> {
    let mut out = Vec::new();
    TextDecoder::new().decode(bytes, |c| out.push(c));
    out
}

/// The characters each chunk yields when decoded as one stream.
fn decode_streaming(chunks: &[&[u8]]) -> Vec<Vec<char>> {
    let mut decoder = TextDecoder::new();
    chunks
        .iter()
        .map(|chunk| {
            let mut out = Vec::new();
            decoder.decode(chunk, |c| out.push(c));
            out
        })
        .collect()
}

fn assert_no_controls(chars: &[char]) {
    if let Some(c) = chars.iter().find(|c| c.is_control()) {
        panic!("control character {c:?} passed the decoder: {chars:?}");
    }
}

/// At every chunk, `decode_tail` against `decode` from the same state: a suffix,
/// and the same characters for the rest of the stream.
fn check_decode_tail(chunks: &[&[u8]], keep: usize) {
    let mut decoder = TextDecoder::new();
    for (k, chunk) in chunks.iter().enumerate() {
        let (mut full, mut tail) = (decoder.clone(), decoder.clone());
        let (mut full_out, mut tail_out) = (Vec::new(), Vec::new());
        full.decode(chunk, |c| full_out.push(c));
        tail.decode_tail(chunk, keep, |c| tail_out.push(c));
        assert!(
            full_out.ends_with(&tail_out),
            "decode_tail(keep {keep}) of chunk {k} is not a suffix: {tail_out:?} of {full_out:?}"
        );
        let mut rest = chunks[k + 1..].concat();
        rest.truncate(AFTER_TAIL);
        assert_eq!(
            decode_from(full, &rest),
            decode_from(tail, &rest),
            "the stream after decode_tail(keep {keep}) of chunk {k} decodes differently"
        );
        decoder.decode(chunk, |_| {});
    }
}

fn decode_from(mut decoder: TextDecoder, bytes: &[u8]) -> Vec<char> {
    let mut out = Vec::new();
    decoder.decode(bytes, |c| out.push(c));
    out
}

/// The message line from decoded text and from raw characters: no controls, and
/// drawing the last works.
fn check_screen(decoded: &[char], payload: &[u8]) {
    let decoded = &decoded[decoded.len().saturating_sub(SCREEN_INPUT)..];
    let payload = &payload[..payload.len().min(SCREEN_INPUT)];
    let display = RecordingDisplay::new();
    let mut screen = StatusScreen::new();
    screen.set_message_chars(decoded.iter().copied());
    assert_message_clean(&screen);
    // Raw characters, including controls, straight from the payload's bytes taken
    // as Latin-1 and as UTF-32.
    screen.set_message_chars(payload.iter().map(|&b| char::from(b)));
    assert_message_clean(&screen);
    let wide = payload
        .chunks_exact(4)
        .filter_map(|w| char::from_u32(u32::from_le_bytes([w[0], w[1], w[2], w[3]])));
    screen.set_message_chars(wide);
    assert_message_clean(&screen);
    let _ = screen.draw(&mut &display);
}

fn assert_message_clean(screen: &StatusScreen) {
    let message = screen.message();
    assert!(
        !message.chars().any(char::is_control),
        "control character on the screen: {message:?}"
    );
}

/// The chunks go to an `EchoServer` one send at a time; after each, the server and
/// the client are polled until the echo is back.
fn through_server<const BUF: usize>(chunks: &[&[u8]], whole: &[char], screen_on: bool) {
    let net = MockNetwork::<4, 4096>::new_sized();
    let clock = MockClock::new();
    let display = RecordingDisplay::new();
    let mut config = ServerConfig::default();
    config.port = PORT;
    config.idle_timeout = None;
    config.refresh_interval = Duration::from_millis(10);
    let mut server = EchoServer::<_, _, 1, BUF>::sized(net.stack(SERVER_IP), &display, config);
    server.set_screen_enabled(screen_on);
    let _ = server.poll(clock.now_instant());
    let mut client = net.stack(CLIENT_IP);
    let Ok(mut socket) = client.socket() else {
        panic!("no socket on an empty network");
    };
    client
        .connect(&mut socket, SocketAddr::new(SERVER_IP, PORT))
        .unwrap_or_else(|e| panic!("connect: {e:?}"));
    let (mut sent, mut echoed) = (Vec::new(), Vec::new());
    for chunk in server_chunks(chunks) {
        sent.extend_from_slice(&chunk);
        let mut unsent: &[u8] = &chunk;
        for _ in 0..ROUNDS {
            if let Ok(n) = client.send(&mut socket, unsent) {
                unsent = &unsent[n..];
            }
            clock.advance(Duration::from_millis(5));
            let _ = server.poll(clock.now_instant());
            receive_all(&mut client, &mut socket, &mut echoed);
            assert!(sent.starts_with(&echoed), "echo differs from what was sent");
            assert_message_clean(server.screen());
            if unsent.is_empty() && echoed.len() == sent.len() {
                break;
            }
        }
        assert_eq!(
            echoed.len(),
            sent.len(),
            "echo incomplete after {ROUNDS} rounds"
        );
        assert_shown_piece(server.screen().message(), whole);
    }
}

/// The first `SERVER_CHUNKS - 1` chunks, then the rest of the payload as one: each
/// chunk costs the server a fitting of the message line (a glyph lookup per
/// character with `cjk`), the most expensive part of a run.
fn server_chunks(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let split = chunks.len().min(SERVER_CHUNKS - 1);
    let mut out: Vec<Vec<u8>> = chunks[..split].iter().map(|c| c.to_vec()).collect();
    if split < chunks.len() {
        out.push(chunks[split..].concat());
    }
    out
}

fn receive_all<const S: usize, const P: usize>(
    client: &mut MockStack<'_, S, P>,
    socket: &mut nal_echo::stack::mock::MockSocket,
    echoed: &mut Vec<u8>,
) {
    let mut buf = [0u8; 512];
    for _ in 0..16 {
        match client.receive(socket, &mut buf) {
            Ok(0) | Err(nb::Error::WouldBlock) => return,
            Ok(n) => echoed.extend_from_slice(&buf[..n]),
            Err(nb::Error::Other(e)) => panic!("client receive: {e:?}"),
        }
    }
}

/// The message is a contiguous piece of the decoded stream, after an optional `<`
/// that marks a cut; a `?` in it may stand for any character (the screen shows it
/// for characters its font lacks).
fn assert_shown_piece(message: &str, decoded: &[char]) {
    let shown: Vec<char> = message.chars().collect();
    let uncut = shown.strip_prefix(&['<']).unwrap_or(&shown);
    let matches = |piece: &[char]| {
        piece.is_empty()
            || decoded.windows(piece.len()).any(|w| {
                w.iter()
                    .zip(piece)
                    .all(|(&d, &m)| d == m || m == UNDRAWABLE)
            })
    };
    assert!(
        matches(&shown) || matches(uncut),
        "message {message:?} is not in the decoded stream {decoded:?}"
    );
}
