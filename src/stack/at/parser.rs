//! Bytes from the modem to events: result lines, the `>` prompt, `+IPD` payload.
//!
//! Pure and bounded: it holds one line of at most [`LINE_CAP`] bytes and never
//! fails. Whatever it cannot make sense of (noise from a modem booting at another
//! baud rate, lines too long to be anything it knows) it drops at the next line feed.

use core::net::Ipv4Addr;

use heapless::Vec;

/// Longest line kept. The longest line that matters is `+CIFSR:STAIP,"a.b.c.d"` or a
/// `+IPD` header with the remote's address, both well under this.
pub(super) const LINE_CAP: usize = 96;

/// Largest `+IPD` length believed. The firmware sends at most a few TCP segments at
/// once; a larger number is a corrupted header, and believing it would swallow the
/// replies that follow as payload.
const MAX_IPD: usize = 8192;

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
}

/// What a run of bytes means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event<'a> {
    /// A complete line the stack acts on.
    Reply(Reply),
    /// `>` at the start of a line: the modem waits for the data of a CIPSEND.
    Prompt,
    /// Bytes of a `+IPD` payload (one packet may come as several pieces).
    Data(&'a [u8]),
}

/// The parser's state between reads.
#[derive(Debug, Default)]
pub(super) struct Parser {
    line: Vec<u8, LINE_CAP>,
    /// The current line outgrew `line`; it is dropped at its line feed.
    overflow: bool,
    /// Payload bytes of the current `+IPD` still to come.
    payload: usize,
}

impl Parser {
    /// The next event from `input`, consuming the bytes it is made of (and any that
    /// mean nothing); `None` once `input` is used up.
    pub(super) fn next_event<'a>(&mut self, input: &mut &'a [u8]) -> Option<Event<'a>> {
        loop {
            if self.payload > 0 && !input.is_empty() {
                let (data, rest) = input.split_at(self.payload.min(input.len()));
                self.payload -= data.len();
                *input = rest;
                return Some(Event::Data(data));
            }
            let (&byte, rest) = input.split_first()?;
            *input = rest;
            if let Some(event) = self.byte(byte) {
                return Some(event);
            }
        }
    }

    /// True between a `+IPD` header and the end of its payload.
    #[cfg(test)]
    pub(super) fn in_payload(&self) -> bool {
        self.payload > 0
    }

    fn byte(&mut self, byte: u8) -> Option<Event<'static>> {
        match byte {
            b'\n' => {
                let reply = if self.overflow {
                    None
                } else {
                    classify(self.line.trim_ascii())
                };
                self.line.clear();
                self.overflow = false;
                reply.map(Event::Reply)
            }
            // Lines end in CR LF, and the prompt follows one: dropping CR keeps "line
            // is empty" meaning "at the start of a line".
            b'\r' => None,
            b'>' if self.line.is_empty() && !self.overflow => Some(Event::Prompt),
            b':' if !self.overflow && self.line.starts_with(b"+IPD,") => {
                // A header that does not parse is noise: its bytes stay line text, so
                // the line is dropped at its line feed.
                match self.line.get(5..).and_then(ipd_length) {
                    Some(len) => {
                        self.payload = len;
                        self.line.clear();
                    }
                    None => self.push(byte),
                }
                None
            }
            _ => {
                self.push(byte);
                None
            }
        }
    }

    fn push(&mut self, byte: u8) {
        if !self.overflow && self.line.push(byte).is_err() {
            self.overflow = true;
        }
    }
}

/// The length in a `+IPD` header after `+IPD,`: `<len>` in single-connection mode,
/// `<id>,<len>` in multi-connection mode, either followed by `,"ip",port` when the
/// firmware is set to show the remote.
fn ipd_length(header: &[u8]) -> Option<usize> {
    let mut fields = header.split(|&b| b == b',');
    let first = number(fields.next()?)?;
    let len = match fields.next() {
        Some(second) if !second.starts_with(b"\"") => number(second)?,
        _ => first,
    };
    (len <= MAX_IPD).then_some(len)
}

/// A decimal number of at most five digits.
fn number(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// The reply a (trimmed) line stands for; `None` for echoes, `Recv N bytes`,
/// `WIFI CONNECTED`, `+CWJAP:<code>` and whatever else changes nothing.
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
        b"ready" => Reply::Ready,
        _ if line.starts_with(b"busy ") => Reply::Busy,
        _ => {
            if let Some(ip) = line.strip_prefix(b"+CIFSR:STAIP,") {
                return station_ip(ip).map(Reply::StaIp);
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

    /// What the parser makes of `chunks`, with all payload bytes joined, so that runs
    /// split differently compare equal.
    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Reply(Reply),
        Prompt,
        Data(StdVec<u8>),
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
                }
            }
        }
        out
    }

    const TRANSCRIPT: &[u8] = b"AT\r\r\n\r\nOK\r\nWIFI DISCONNECT\r\nWIFI CONNECTED\r\n\
        WIFI GOT IP\r\n\r\nOK\r\n+CIFSR:APIP,\"192.168.4.1\"\r\n\
        +CIFSR:STAIP,\"192.168.1.23\"\r\n\r\nOK\r\nCONNECT\r\n\r\nOK\r\n\
        \r\nOK\r\n> \r\nRecv 5 bytes\r\n\r\nSEND OK\r\n\r\n+IPD,5:he\r\nl\r\n\
        +IPD,0,3,\"10.0.0.1\",7:>OK\r\nCLOSED\r\n";

    fn transcript_events() -> StdVec<Owned> {
        use Owned::*;
        std::vec![
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
            Data(b"he\r\nl>OK".to_vec()),
            Reply(super::Reply::Closed),
        ]
    }

    #[test]
    fn a_session_transcript_gives_its_events() {
        assert_eq!(parse(&[TRANSCRIPT]), transcript_events());
    }

    #[test]
    fn payload_may_hold_anything_even_crlf_and_replies() {
        let events = parse(&[b"+IPD,8:OK\r\nSEND", b"\r\nOK\r\n"]);
        assert_eq!(
            events,
            std::vec![Owned::Data(b"OK\r\nSEND".to_vec()), Owned::Reply(Reply::Ok)]
        );
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
    }

    #[test]
    fn ipd_headers() {
        assert_eq!(ipd_length(b"5"), Some(5));
        assert_eq!(ipd_length(b"1,12"), Some(12));
        assert_eq!(ipd_length(b"12,\"1.2.3.4\",80"), Some(12));
        assert_eq!(ipd_length(b"0,12,\"1.2.3.4\",80"), Some(12));
        assert_eq!(ipd_length(b""), None);
        assert_eq!(ipd_length(b"x"), None);
        assert_eq!(ipd_length(b"999999"), None);
        assert_eq!(ipd_length(b"9000"), None);
    }

    #[test]
    fn a_bad_ipd_header_is_dropped_with_its_line() {
        let events = parse(&[b"+IPD,x:OK\r\n+IPD,99999:\r\nOK\r\n"]);
        assert_eq!(events, std::vec![Owned::Reply(Reply::Ok)]);
    }

    #[test]
    fn overlong_lines_are_dropped_whole() {
        let mut long = std::vec![b'A'; LINE_CAP * 3];
        long.extend_from_slice(b"OK\r\n+IPD,2:hi\r\nOK\r\n");
        let events = parse(&[&long]);
        assert_eq!(
            events,
            std::vec![Owned::Data(b"hi".to_vec()), Owned::Reply(Reply::Ok)]
        );
    }

    #[test]
    fn prompt_only_at_the_start_of_a_line() {
        assert_eq!(parse(&[b"a>b\r\n"]), std::vec![]);
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
        fn random_bytes_never_panic_and_payload_stays_bounded(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..32)
        ) {
            let mut parser = Parser::default();
            for chunk in &chunks {
                let mut input = chunk.as_slice();
                let mut consumed = 0;
                while let Some(event) = parser.next_event(&mut input) {
                    if let Event::Data(d) = event {
                        prop_assert!(d.len() <= MAX_IPD);
                        consumed += d.len();
                    }
                }
                prop_assert!(consumed <= chunk.len());
                prop_assert!(parser.line.len() <= LINE_CAP);
            }
        }

        #[test]
        fn garbage_before_a_line_feed_does_not_hide_the_next_reply(
            junk in proptest::collection::vec(any::<u8>().prop_filter("no line feed", |b| *b != b'\n'), 0..300)
        ) {
            let mut parser = Parser::default();
            let mut input = junk.as_slice();
            while parser.next_event(&mut input).is_some() {}
            // Junk may have opened a +IPD payload; once it is over, replies parse again.
            for _ in 0..MAX_IPD {
                if !parser.in_payload() {
                    break;
                }
                let mut filler: &[u8] = b"x";
                while parser.next_event(&mut filler).is_some() {}
            }
            let mut tail: &[u8] = b"\r\nSEND OK\r\n";
            let mut events = StdVec::new();
            while let Some(e) = parser.next_event(&mut tail) {
                events.push(e);
            }
            prop_assert_eq!(events.last(), Some(&Event::Reply(Reply::SendOk)));
        }
    }
}
