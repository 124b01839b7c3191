//! Bytes from the modem to events: result lines, the `>` prompt, `+IPD` frames.
//!
//! Pure and bounded: it holds one line of at most [`LINE_CAP`] bytes and never
//! fails. It only *reports* what the bytes around a `+IPD` look like; the engine
//! decides what a doubt costs (see "Framing" in the [module docs](super)).
//!
//! A frame is `\r\n+IPD,<len>[,"<addr>",<port>]:` and `<len>` payload bytes. The
//! firmware writes nothing after the payload, so the frame is confirmed by the
//! *next* message: either `\r\n` and then a whole line the parser knows (`OK`,
//! `SEND OK`, `STATUS:3`...) or a whole valid `+IPD` header, or a line that the
//! firmware prints without a leading `\r\n` (`CLOSED`, `WIFI DISCONNECT`...).
//! Anything else right after a payload is [`Event::Garbled`].

use core::net::Ipv4Addr;

use heapless::Vec;

/// Longest line kept. The longest line that matters is a `+IPD` header with an
/// IPv6 remote (`+IPD,2048,"<39 characters>",65535:`, 57 bytes) or
/// `+CIFSR:STAIP,"a.b.c.d"`, both under this.
pub(super) const LINE_CAP: usize = 96;

/// Largest `+IPD` length taken: the whole frame must fit the receive buffer, as
/// it is held there until confirmed. The firmware's own bound is larger (one
/// `+IPD` per lwIP receive callback: one TCP segment of at most 1460 bytes
/// normally, up to the receive window when lwIP hands over segments it queued out
/// of order); a frame between the two is refused like a corrupted header.
pub(super) const MAX_IPD: usize = super::stack::RX_BUFFER;

/// A line of the modem that the stack acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// `OK` (and `no change`, the old firmware's OK to a setting it already had).
    Ok,
    /// `ERROR`, or a message that old firmware prints in its place.
    Error,
    /// `FAIL`: the join failed.
    Fail,
    /// `busy p...` / `busy s...`: the command was not run.
    Busy,
    /// `SEND OK`.
    SendOk,
    /// `SEND FAIL`.
    SendFail,
    /// `CONNECT` (or `<id>,CONNECT`): the connection is open.
    Connect,
    /// `CLOSED`, `CONNECT FAIL` (or with a link id): the connection is gone.
    Closed,
    /// `ALREADY CONNECTED`: the firmware's answer to a CIPSTART of an open link.
    AlreadyConnected,
    /// `WIFI GOT IP`.
    WifiGotIp,
    /// `WIFI DISCONNECT`.
    WifiDisconnect,
    /// `ready`: the modem has (re)started.
    Ready,
    /// `+CIFSR:STAIP,"a.b.c.d"`: the station's address.
    StaIp(Ipv4Addr),
    /// `STATUS:<n>` of `AT+CIPSTATUS` (3: a connection is open).
    Status(u8),
    /// A line the firmware prints that changes nothing here: `WIFI CONNECTED`,
    /// `Recv N bytes`, `+CWJAP:<code>`, the other `+CIFSR:` and `+CIPSTATUS:` lines.
    Info,
}

/// What a run of bytes means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event<'a> {
    /// A complete line the stack knows.
    Reply(Reply),
    /// `>` at the start of a line: the modem waits for the data of a CIPSEND.
    Prompt,
    /// A valid `+IPD` header of a frame of this many payload bytes (1..=[`MAX_IPD`]).
    FrameStart(usize),
    /// Payload bytes of the current frame (it may come as several pieces).
    Data(&'a [u8]),
    /// The bytes after the payload are what the firmware sends there (a reply
    /// among them comes just before this).
    FrameEnd,
    /// A complete line that is nothing the firmware prints (noise, a lost header's
    /// payload read as text, an echo), or a line too long to keep.
    Unknown,
    /// A `+IPD` header that does not parse or is out of bounds, or a payload not
    /// followed by what the firmware sends after one. The parser is back to reading
    /// lines; where the frame really ended is unknown.
    Garbled,
}

/// Where the parser is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading lines.
    #[default]
    Lines,
    /// Inside a payload, this many bytes (at least one) still to come.
    Payload(usize),
    /// Right after a payload: `\r\n` or a line printed without a leading `\r\n`
    /// must follow.
    AfterPayload,
    /// After a payload and `\r\n`: a whole known line or `+IPD` header must follow.
    NextMessage,
}

/// The parser's state between reads.
#[derive(Debug, Default)]
pub(super) struct Parser {
    /// The current line, `\r` included.
    line: Vec<u8, LINE_CAP>,
    /// The current line outgrew `line`.
    overflow: bool,
    state: State,
    /// An event decided together with the one returned before it.
    queued: Option<Event<'static>>,
}

impl Parser {
    /// The next event from `input`, consuming the bytes it is made of (and any that
    /// mean nothing); `None` once `input` is used up.
    pub(super) fn next_event<'a>(&mut self, input: &mut &'a [u8]) -> Option<Event<'a>> {
        if let Some(event) = self.queued.take() {
            return Some(event);
        }
        loop {
            if let State::Payload(left) = self.state {
                if input.is_empty() {
                    return None;
                }
                let (data, rest) = input.split_at(left.min(input.len()));
                *input = rest;
                self.state = match left - data.len() {
                    0 => State::AfterPayload,
                    more => State::Payload(more),
                };
                return Some(Event::Data(data));
            }
            let (&byte, rest) = input.split_first()?;
            *input = rest;
            if let Some(event) = self.byte(byte) {
                return Some(event);
            }
        }
    }

    /// Payload bytes of the current frame still to come (0 outside a payload).
    pub(super) fn payload_left(&self) -> usize {
        match self.state {
            State::Payload(left) => left,
            _ => 0,
        }
    }

    /// Forgets everything: bytes were lost on the line, so nothing read so far can
    /// be continued.
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    fn byte(&mut self, byte: u8) -> Option<Event<'static>> {
        match byte {
            b'\n' => self.end_of_line(),
            b'>' if self.line.is_empty() && !self.overflow => match self.state {
                State::Lines => Some(Event::Prompt),
                _ => self.garbled(),
            },
            b':' if self.header_ends_here() => self.header(),
            _ => {
                self.push(byte);
                None
            }
        }
    }

    /// A `:` ends a `+IPD` header unless it is inside the quoted remote address
    /// (an IPv6 address is full of them).
    fn header_ends_here(&self) -> bool {
        !self.overflow
            && self.line.starts_with(b"+IPD,")
            && self.line.iter().filter(|&&b| b == b'"').count() % 2 == 0
    }

    fn header(&mut self) -> Option<Event<'static>> {
        let len = self.line.get(5..).and_then(ipd_length);
        let state = self.state;
        self.clear_line();
        match (len, state) {
            (Some(len), State::Lines) => {
                self.state = State::Payload(len);
                Some(Event::FrameStart(len))
            }
            (Some(len), State::NextMessage) => {
                self.state = State::Payload(len);
                self.queued = Some(Event::FrameStart(len));
                Some(Event::FrameEnd)
            }
            _ => self.garbled(),
        }
    }

    fn end_of_line(&mut self) -> Option<Event<'static>> {
        let reply = if self.overflow {
            None
        } else {
            classify(self.line.trim_ascii())
        };
        let empty = !self.overflow && self.line.trim_ascii().is_empty();
        // After a payload nothing is trimmed: the line must be exactly what the
        // firmware prints, then CR LF (a tab or a space may be the payload's).
        let exact = match self.line.strip_suffix(b"\r") {
            Some(text) if !self.overflow && !text.contains(&b'\r') => Some(text),
            _ => None,
        };
        let exact_reply = exact.and_then(classify);
        let exact_empty = exact == Some(&b""[..]);
        let bare = exact.is_some_and(printed_without_crlf);
        self.clear_line();
        match self.state {
            State::Lines => match reply {
                Some(Reply::Info) => None,
                Some(reply) => Some(Event::Reply(reply)),
                None if empty => None,
                None => Some(Event::Unknown),
            },
            State::AfterPayload if exact_empty => {
                self.state = State::NextMessage;
                None
            }
            State::AfterPayload => match exact_reply {
                Some(reply) if bare => self.confirmed(reply),
                _ => self.garbled(),
            },
            State::NextMessage => match exact_reply {
                Some(reply) => self.confirmed(reply),
                None => self.garbled(),
            },
            // Not reached: payload bytes never come here.
            State::Payload(_) => self.garbled(),
        }
    }

    /// The frame is confirmed by the line of `reply`. The reply comes first: if it
    /// answers nothing, the frame it confirms is in doubt too.
    fn confirmed(&mut self, reply: Reply) -> Option<Event<'static>> {
        self.state = State::Lines;
        if reply == Reply::Info {
            return Some(Event::FrameEnd);
        }
        self.queued = Some(Event::FrameEnd);
        Some(Event::Reply(reply))
    }

    fn garbled(&mut self) -> Option<Event<'static>> {
        self.clear_line();
        self.state = State::Lines;
        Some(Event::Garbled)
    }

    fn clear_line(&mut self) {
        self.line.clear();
        self.overflow = false;
    }

    fn push(&mut self, byte: u8) {
        if !self.overflow && self.line.push(byte).is_err() {
            self.overflow = true;
        }
    }
}

/// The lines the firmware prints without a `\r\n` first, so that they may
/// follow a payload directly: its own news, and the first line of the
/// `AT+CIPSTATUS` answer.
fn printed_without_crlf(line: &[u8]) -> bool {
    matches!(
        line,
        b"CLOSED" | b"WIFI DISCONNECT" | b"WIFI CONNECTED" | b"WIFI GOT IP"
    ) || line.starts_with(b"STATUS:")
}

/// The length in a single-connection `+IPD` header after `+IPD,`: `<len>`, or
/// `<len>,"<addr>",<port>` when the firmware is set to show the remote
/// (`AT+CIPDINFO=1`); `None` for anything else or a length out of 1..=[`MAX_IPD`].
fn ipd_length(header: &[u8]) -> Option<usize> {
    let (len, remote) = match header.iter().position(|&b| b == b',') {
        Some(comma) => (header.get(..comma)?, header.get(comma + 1..)),
        None => (header, None),
    };
    if let Some(remote) = remote {
        let (addr, port) = remote.split_at(remote.iter().rposition(|&b| b == b',')?);
        let quoted = addr.len() >= 2 && addr.starts_with(b"\"") && addr.ends_with(b"\"");
        number(port.get(1..)?).filter(|&p| quoted && p <= 65535)?;
    }
    number(len).filter(|len| (1..=MAX_IPD).contains(len))
}

/// A decimal number of one to five digits.
fn number(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// The reply a (trimmed) line stands for; `None` for a line the firmware does not
/// print (command echoes included).
fn classify(line: &[u8]) -> Option<Reply> {
    let reply = match line {
        b"OK" | b"no change" => Reply::Ok,
        // The last two are old firmware's answers to a CIPSEND without a link and to
        // a CIPSTART it could not resolve; ERROR does not always follow them.
        b"ERROR" | b"link is not valid" | b"DNS Fail" => Reply::Error,
        b"FAIL" => Reply::Fail,
        b"SEND OK" => Reply::SendOk,
        b"SEND FAIL" => Reply::SendFail,
        b"ALREADY CONNECTED" => Reply::AlreadyConnected,
        b"WIFI GOT IP" => Reply::WifiGotIp,
        b"WIFI DISCONNECT" => Reply::WifiDisconnect,
        b"WIFI CONNECTED" => Reply::Info,
        b"ready" => Reply::Ready,
        _ if line.starts_with(b"busy ") => Reply::Busy,
        _ if line.starts_with(b"+CWJAP:") || line.starts_with(b"+CIPSTATUS:") => Reply::Info,
        _ if is_recv_count(line) => Reply::Info,
        _ => {
            if let Some(ip) = line.strip_prefix(b"+CIFSR:STAIP,") {
                return station_ip(ip).map(Reply::StaIp);
            }
            if line.starts_with(b"+CIFSR:") {
                return Some(Reply::Info);
            }
            if let Some(&[digit]) = line.strip_prefix(b"STATUS:") {
                return digit.is_ascii_digit().then(|| Reply::Status(digit - b'0'));
            }
            match without_link_id(line) {
                b"CONNECT" => Reply::Connect,
                b"CLOSED" | b"CONNECT FAIL" => Reply::Closed,
                _ => return None,
            }
        }
    };
    Some(reply)
}

/// `Recv <n> bytes`, the firmware's note that a CIPSEND's data is complete.
fn is_recv_count(line: &[u8]) -> bool {
    line.strip_prefix(b"Recv ")
        .and_then(|rest| rest.strip_suffix(b" bytes"))
        .and_then(number)
        .is_some()
}

/// `"a.b.c.d"` to the address.
fn station_ip(quoted: &[u8]) -> Option<Ipv4Addr> {
    let inner = quoted.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    core::str::from_utf8(inner).ok()?.parse().ok()
}

/// `<id>,CONNECT` to `CONNECT`: multi-connection firmware names the link first.
fn without_link_id(line: &[u8]) -> &[u8] {
    match line.iter().position(|&b| b == b',') {
        Some(comma) if comma > 0 && line[..comma].iter().all(u8::is_ascii_digit) => {
            &line[comma + 1..]
        }
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec as StdVec;

    /// What the parser makes of `chunks`, with the payload pieces of a frame
    /// joined, so that runs split differently compare equal.
    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Reply(Reply),
        Prompt,
        Frame(usize),
        Data(StdVec<u8>),
        End,
        Unknown,
        Garbled,
    }

    fn parse(chunks: &[&[u8]]) -> StdVec<Owned> {
        let mut parser = Parser::default();
        let mut out: StdVec<Owned> = StdVec::new();
        for chunk in chunks {
            let mut input = *chunk;
            while let Some(event) = parser.next_event(&mut input) {
                match (event, out.last_mut()) {
                    (Event::Data(d), Some(Owned::Data(acc))) => acc.extend_from_slice(d),
                    (Event::Data(d), _) => out.push(Owned::Data(d.to_vec())),
                    (Event::Reply(r), _) => out.push(Owned::Reply(r)),
                    (Event::Prompt, _) => out.push(Owned::Prompt),
                    (Event::FrameStart(n), _) => out.push(Owned::Frame(n)),
                    (Event::FrameEnd, _) => out.push(Owned::End),
                    (Event::Unknown, _) => out.push(Owned::Unknown),
                    (Event::Garbled, _) => out.push(Owned::Garbled),
                }
            }
        }
        out
    }

    const TRANSCRIPT: &[u8] = b"AT\r\r\n\r\nOK\r\nWIFI DISCONNECT\r\nWIFI CONNECTED\r\n\
        WIFI GOT IP\r\n\r\nOK\r\n+CIFSR:APIP,\"192.168.4.1\"\r\n\
        +CIFSR:STAIP,\"192.168.1.23\"\r\n\r\nOK\r\nCONNECT\r\n\r\nOK\r\n\
        \r\nOK\r\n> \r\nRecv 5 bytes\r\n\r\nSEND OK\r\n\r\n+IPD,5:he\r\nl\r\n\
        +IPD,3,\"10.0.0.1\",7:>OK\r\nSTATUS:3\r\n+CIPSTATUS:0,\"TCP\",\"10.0.0.1\",7,4000,0\r\n\
        \r\nOK\r\n\r\n+IPD,2,\"fe80::1\",7:ab\
        CLOSED\r\n";

    fn transcript_events() -> StdVec<Owned> {
        use Owned::*;
        std::vec![
            Unknown, // the echo of AT
            Reply(super::Reply::Ok),
            Reply(super::Reply::WifiDisconnect),
            Reply(super::Reply::WifiGotIp),
            Reply(super::Reply::Ok),
            Reply(super::Reply::StaIp(Ipv4Addr::new(192, 168, 1, 23))),
            Reply(super::Reply::Ok),
            Reply(super::Reply::Connect),
            Reply(super::Reply::Ok),
            Reply(super::Reply::Ok),
            Prompt,
            Reply(super::Reply::SendOk),
            Frame(5),
            Data(b"he\r\nl".to_vec()),
            End,
            Frame(3),
            Data(b">OK".to_vec()),
            Reply(super::Reply::Status(3)),
            End,
            Reply(super::Reply::Ok),
            Frame(2),
            Data(b"ab".to_vec()),
            Reply(super::Reply::Closed),
            End,
        ]
    }

    #[test]
    fn a_session_transcript_gives_its_events() {
        assert_eq!(parse(&[TRANSCRIPT]), transcript_events());
    }

    #[test]
    fn payload_may_hold_anything_even_modem_lines() {
        let events = parse(&[b"\r\n+IPD,21:\r\nCLOSED\r\n> SEND O", b"K\r\n\r\nOK\r\n"]);
        assert_eq!(
            events,
            std::vec![
                Owned::Frame(21),
                Owned::Data(b"\r\nCLOSED\r\n> SEND OK\r\n".to_vec()),
                Owned::Reply(Reply::Ok),
                Owned::End,
            ]
        );
        // A length two short: what follows the payload is no line the firmware sends.
        let events = parse(&[b"\r\n+IPD,19:\r\nCLOSED\r\n> SEND OK\r\n\r\nOK\r\n"]);
        assert_eq!(
            events,
            std::vec![
                Owned::Frame(19),
                Owned::Data(b"\r\nCLOSED\r\n> SEND OK".to_vec()),
                Owned::Garbled,
                Owned::Reply(Reply::Ok),
            ]
        );
    }

    #[test]
    fn a_frame_is_confirmed_only_by_what_the_firmware_sends_after_it() {
        for confirmed in [
            &b"+IPD,3:abc\r\nOK\r\n"[..],
            b"+IPD,3:abc\r\n+IPD,1:x",
            b"+IPD,3:abcCLOSED\r\n",
            b"+IPD,3:abcWIFI DISCONNECT\r\n",
            b"+IPD,3:abc\r\nRecv 4 bytes\r\n",
        ] {
            let events = parse(&[confirmed]);
            assert!(events.contains(&Owned::End), "{confirmed:?}: {events:?}");
            assert!(
                !events.contains(&Owned::Garbled),
                "{confirmed:?}: {events:?}"
            );
        }
        for garbled in [
            &b"+IPD,3:abcd\r\nOK\r\n"[..],
            b"+IPD,3:abc\nOK\r\n",
            b"+IPD,3:abc\r\r\nOK\r\n",
            b"+IPD,3:abc\r\n\r\nOK\r\n",
            b"+IPD,3:abc\t\t\r\n+IPD,1:x",
            b"+IPD,3:abc\r\n OK\r\n",
            b"+IPD,3:abc CLOSED\r\n",
            b"+IPD,3:abc+IPD,1:x",
            b"+IPD,3:abcOK\r\n",
            b"+IPD,3:abc\r\n> ",
            b"+IPD,3:abc> ",
            b"+IPD,3:abc\r\nhello\r\n",
            b"+IPD,3:abc\r\n+IPD,0:",
        ] {
            let events = parse(&[garbled]);
            assert_eq!(events.get(2), Some(&Owned::Garbled), "{garbled:?}");
        }
    }

    #[test]
    fn link_ids_and_old_firmware_messages() {
        assert_eq!(classify(b"0,CONNECT"), Some(Reply::Connect));
        assert_eq!(classify(b"4,CLOSED"), Some(Reply::Closed));
        assert_eq!(classify(b"0,CONNECT FAIL"), Some(Reply::Closed));
        assert_eq!(classify(b"x,CLOSED"), None);
        assert_eq!(classify(b",CLOSED"), None);
        assert_eq!(classify(b"no change"), Some(Reply::Ok));
        assert_eq!(classify(b"link is not valid"), Some(Reply::Error));
        assert_eq!(classify(b"busy p..."), Some(Reply::Busy));
        assert_eq!(classify(b"+CIFSR:STAIP,\"300.1.1.1\""), None);
        assert_eq!(classify(b"AT+CIPSTART=\"TCP\",\"1.2.3.4\",7"), None);
        assert_eq!(classify(b"STATUS:4"), Some(Reply::Status(4)));
        assert_eq!(classify(b"STATUS:x"), None);
        assert_eq!(classify(b"Recv 12 bytes"), Some(Reply::Info));
        assert_eq!(classify(b"Recv x bytes"), None);
    }

    #[test]
    fn ipd_headers() {
        assert_eq!(ipd_length(b"5"), Some(5));
        assert_eq!(ipd_length(b"12,\"1.2.3.4\",80"), Some(12));
        assert_eq!(ipd_length(b"12,\"fe80::1\",80"), Some(12));
        assert_eq!(
            ipd_length(&std::format!("{MAX_IPD}").into_bytes()),
            Some(MAX_IPD)
        );
        // The multi-connection form has no place in single-connection mode.
        assert_eq!(ipd_length(b"1,12"), None);
        assert_eq!(ipd_length(b"12,1.2.3.4,80"), None);
        assert_eq!(ipd_length(b"12,\"1.2.3.4\",99999"), None);
        assert_eq!(ipd_length(b""), None);
        assert_eq!(ipd_length(b"0"), None);
        assert_eq!(ipd_length(b"x"), None);
        assert_eq!(ipd_length(b"999999"), None);
        assert_eq!(
            ipd_length(&std::format!("{}", MAX_IPD + 1).into_bytes()),
            None
        );
    }

    #[test]
    fn the_colons_of_an_ipv6_remote_do_not_end_the_header() {
        let events = parse(&[b"\r\n+IPD,4,\"2001:db8::7\",7:ab:c\r\nOK\r\n"]);
        assert_eq!(
            events,
            std::vec![
                Owned::Frame(4),
                Owned::Data(b"ab:c".to_vec()),
                Owned::Reply(Reply::Ok),
                Owned::End
            ]
        );
    }

    #[test]
    fn a_bad_ipd_header_is_garbled() {
        let events = parse(&[b"+IPD,x:OK\r\n+IPD,99999:\r\nOK\r\n"]);
        assert_eq!(
            events,
            std::vec![
                Owned::Garbled,
                Owned::Reply(Reply::Ok),
                Owned::Garbled,
                Owned::Reply(Reply::Ok)
            ]
        );
    }

    #[test]
    fn overlong_lines_are_unknown() {
        let mut long = std::vec![b'A'; LINE_CAP * 3];
        long.extend_from_slice(b"OK\r\n\r\n+IPD,2:hi\r\nOK\r\n");
        let events = parse(&[&long]);
        assert_eq!(
            events,
            std::vec![
                Owned::Unknown,
                Owned::Frame(2),
                Owned::Data(b"hi".to_vec()),
                Owned::Reply(Reply::Ok),
                Owned::End
            ]
        );
    }

    #[test]
    fn prompt_only_at_the_start_of_a_line() {
        assert_eq!(parse(&[b"a>b\r\n"]), std::vec![Owned::Unknown]);
        assert_eq!(parse(&[b"\r\n> "]), std::vec![Owned::Prompt]);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0..TRANSCRIPT.len(), 0..40)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut chunks: StdVec<&[u8]> = StdVec::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([TRANSCRIPT.len()]) {
                chunks.push(&TRANSCRIPT[at..cut]);
                at = cut;
            }
            prop_assert_eq!(parse(&chunks), transcript_events());
        }

        #[test]
        fn random_bytes_never_panic_and_payload_stays_in_its_frame(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..32)
        ) {
            let mut parser = Parser::default();
            let mut left = 0usize;
            for chunk in &chunks {
                let mut input = chunk.as_slice();
                while let Some(event) = parser.next_event(&mut input) {
                    match event {
                        Event::FrameStart(n) => {
                            prop_assert_eq!(left, 0);
                            prop_assert!((1..=MAX_IPD).contains(&n));
                            left = n;
                        }
                        Event::Data(d) => {
                            prop_assert!(d.len() <= left);
                            left -= d.len();
                        }
                        Event::FrameEnd => prop_assert_eq!(left, 0),
                        _ => {}
                    }
                }
                prop_assert!(parser.line.len() <= LINE_CAP);
            }
        }
    }
}
