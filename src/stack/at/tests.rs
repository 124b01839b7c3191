//! Unit tests of the AT stack against a scripted modem: the test reads each command
//! the stack wrote and types the firmware's answer.

extern crate std;

use core::cell::{Cell, RefCell};
use core::net::{Ipv4Addr, SocketAddr};
use std::collections::VecDeque;
use std::string::String;
use std::vec::Vec;

use embedded_io::{Read, ReadReady, Write, WriteReady};
use embedded_nal::{nb, TcpClientStack};

use super::*;
use crate::time::{Clock, Duration, Instant};

mod udp;

const SETUP: &[(&str, &str)] = &[
    ("AT\r\n", "AT\r\r\n\r\nOK\r\n"),
    ("ATE0\r\n", "ATE0\r\r\n\r\nOK\r\n"),
    ("AT+CWMODE=1\r\n", "\r\nOK\r\n"),
    (
        "AT+CWJAP=\"net\",\"pw\"\r\n",
        "WIFI DISCONNECT\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    ),
    ("AT+CIPCLOSE\r\n", "\r\nERROR\r\n"),
    ("AT+CIPMUX=0\r\n", "\r\nOK\r\n"),
    (
        "AT+CIFSR\r\n",
        "+CIFSR:STAIP,\"192.168.1.23\"\r\n+CIFSR:STAMAC,\"a0:20:a6:00:00:01\"\r\n\r\nOK\r\n",
    ),
];
const START: &str = "AT+CIPSTART=\"TCP\",\"10.0.0.1\",7\r\n";
const CHECK: &str = "AT+CIPSTATUS\r\n";
/// The firmware's answer to CHECK while its connection is open.
const OPEN: &str = "STATUS:3\r\n+CIPSTATUS:0,\"TCP\",\"10.0.0.1\",7,4000,0\r\n\r\nOK\r\n";

#[derive(Default)]
struct Wire {
    to_stack: VecDeque<u8>,
    from_stack: Vec<u8>,
    /// Most bytes per read / write call; 0 for no limit.
    max_read: usize,
    max_write: usize,
    /// Bytes the port takes before it reports itself full.
    write_room: Option<usize>,
    /// The next read fails, as after an overrun.
    read_error: bool,
}

#[derive(Clone, Copy)]
struct Port<'w>(&'w RefCell<Wire>);

impl embedded_io::ErrorType for Port<'_> {
    type Error = embedded_io::ErrorKind;
}

impl Read for Port<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut wire = self.0.borrow_mut();
        if core::mem::take(&mut wire.read_error) {
            return Err(embedded_io::ErrorKind::Other);
        }
        let mut n = buf.len().min(wire.to_stack.len());
        if wire.max_read > 0 {
            n = n.min(wire.max_read);
        }
        for slot in &mut buf[..n] {
            *slot = wire.to_stack.pop_front().unwrap();
        }
        Ok(n)
    }
}

impl ReadReady for Port<'_> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.0.borrow().to_stack.is_empty())
    }
}

impl Write for Port<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let mut wire = self.0.borrow_mut();
        let mut n = buf.len();
        if wire.max_write > 0 {
            n = n.min(wire.max_write);
        }
        if let Some(room) = &mut wire.write_room {
            assert!(*room > 0, "write while not ready");
            n = n.min(*room);
            *room -= n;
        }
        wire.from_stack.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        panic!("flush may block: the stack must not call it");
    }
}

impl WriteReady for Port<'_> {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.0.borrow().write_room != Some(0))
    }
}

struct TestClock<'c>(&'c Cell<u64>);

impl Clock for TestClock<'_> {
    fn now(&mut self) -> Instant {
        Instant::from_millis(self.0.get())
    }
}

type Stack<'b> = AtStack<Port<'b>, TestClock<'b>>;

#[derive(Default)]
struct Bench {
    wire: RefCell<Wire>,
    time: Cell<u64>,
}

impl Bench {
    fn stack(&self) -> Stack<'_> {
        self.stack_with(AtConfig::new("net", "pw").unwrap())
    }

    fn stack_with(&self, config: AtConfig) -> Stack<'_> {
        AtStack::new(Port(&self.wire), TestClock(&self.time), config)
    }

    /// What the stack wrote since the last look.
    fn said(&self) -> String {
        let bytes = core::mem::take(&mut self.wire.borrow_mut().from_stack);
        String::from_utf8(bytes).unwrap()
    }

    fn answer(&self, text: &str) {
        self.answer_bytes(text.as_bytes());
    }

    fn answer_bytes(&self, bytes: &[u8]) {
        self.wire
            .borrow_mut()
            .to_stack
            .extend(bytes.iter().copied());
    }

    fn unread(&self) -> usize {
        self.wire.borrow().to_stack.len()
    }

    fn advance(&self, ms: u64) {
        self.time.set(self.time.get() + ms);
    }

    fn polls(&self, stack: &mut Stack<'_>) {
        // Several polls, for ports that pass a few bytes per call.
        for _ in 0..20 {
            stack.poll();
        }
    }

    /// Polls, checks that the stack sent `command`, and answers it.
    fn expect(&self, stack: &mut Stack<'_>, command: &str, answer: &str) {
        self.polls(stack);
        assert_eq!(self.said(), command);
        self.answer(answer);
    }

    fn set_up(&self, stack: &mut Stack<'_>) {
        for (command, answer) in SETUP {
            self.expect(stack, command, answer);
        }
        self.polls(stack);
        assert_eq!(
            stack.wifi_state(),
            WifiState::Connected(Ipv4Addr::new(192, 168, 1, 23))
        );
    }

    /// Polls, checks that the stack asked whether the connection is open (to
    /// confirm the frames it holds), and says it is.
    fn confirm(&self, stack: &mut Stack<'_>) {
        self.expect(stack, CHECK, OPEN);
        self.polls(stack);
    }

    /// A set-up stack with a connected socket to 10.0.0.1:7.
    fn connected(&self) -> (Stack<'_>, AtSocket) {
        let mut stack = self.stack();
        self.set_up(&mut stack);
        let mut socket = stack.socket().unwrap();
        assert_eq!(
            stack.connect(&mut socket, remote()),
            Err(nb::Error::WouldBlock)
        );
        self.polls(&mut stack);
        assert_eq!(self.said(), START);
        self.answer("CONNECT\r\n\r\nOK\r\n");
        self.polls(&mut stack);
        assert_eq!(stack.connect(&mut socket, remote()), Ok(()));
        (stack, socket)
    }
}

fn remote() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 7))
}

fn other<T: core::fmt::Debug>(result: nb::Result<T, AtError>) -> AtError {
    match result {
        Err(nb::Error::Other(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn receive_all(stack: &mut Stack<'_>, socket: &mut AtSocket) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    while let Ok(n @ 1..) = stack.receive(socket, &mut buf) {
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn setup_runs_the_documented_sequence() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    assert_eq!(stack.wifi_state(), WifiState::Resetting);
    bench.expect(&mut stack, "AT\r\n", "\r\nOK\r\n");
    bench.expect(&mut stack, "ATE0\r\n", "\r\nOK\r\n");
    bench.expect(&mut stack, "AT+CWMODE=1\r\n", "\r\nOK\r\n");
    stack.poll();
    assert_eq!(bench.said(), "AT+CWJAP=\"net\",\"pw\"\r\n");
    assert_eq!(stack.wifi_state(), WifiState::Joining);
    // Joining takes seconds; polls meanwhile return at once and send nothing.
    for _ in 0..100 {
        bench.advance(100);
        stack.poll();
    }
    assert_eq!(bench.said(), "");
    bench.answer("WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n");
    for (command, answer) in &SETUP[4..] {
        bench.expect(&mut stack, command, answer);
    }
    stack.poll();
    assert_eq!(
        stack.wifi_state(),
        WifiState::Connected(Ipv4Addr::new(192, 168, 1, 23))
    );
    assert!(!stack.poll(), "nothing left to do");
}

#[test]
fn join_escapes_special_characters() {
    let bench = Bench::default();
    let mut stack = bench.stack_with(AtConfig::new("a\"b,c\\d", "p,w").unwrap());
    for (command, answer) in &SETUP[..3] {
        bench.expect(&mut stack, command, answer);
    }
    stack.poll();
    assert_eq!(bench.said(), "AT+CWJAP=\"a\\\"b\\,c\\\\d\",\"p\\,w\"\r\n");
}

#[test]
fn a_silent_modem_is_probed_every_second() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    stack.poll();
    assert_eq!(bench.said(), "AT\r\n");
    bench.advance(999);
    stack.poll();
    assert_eq!(bench.said(), "");
    bench.advance(1);
    stack.poll();
    assert_eq!(bench.said(), "AT\r\n");
    // Noise from a booting modem changes nothing.
    bench.answer_bytes(&[0xff, 0x00, b'\r', 0x8a, b'\n', b'x']);
    stack.poll();
    assert_eq!(stack.wifi_state(), WifiState::Resetting);
    bench.answer("\r\nready\r\n");
    stack.poll();
    assert_eq!(
        bench.said(),
        "AT\r\n",
        "a restarted modem is probed at once"
    );
}

#[test]
fn busy_repeats_the_command_later() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    bench.expect(&mut stack, "AT\r\n", "busy p...\r\n");
    stack.poll();
    assert_eq!(bench.said(), "");
    bench.advance(1000);
    bench.expect(&mut stack, "AT\r\n", "OK\r\n");
    bench.expect(&mut stack, "ATE0\r\n", "busy p...\r\n");
    stack.poll();
    bench.advance(499);
    stack.poll();
    assert_eq!(bench.said(), "");
    bench.advance(1);
    bench.expect(&mut stack, "ATE0\r\n", "OK\r\n");
    stack.poll();
    assert_eq!(bench.said(), "AT+CWMODE=1\r\n");
}

#[test]
fn a_failed_join_is_retried_after_the_delay() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    for (command, answer) in &SETUP[..3] {
        bench.expect(&mut stack, command, answer);
    }
    bench.expect(
        &mut stack,
        SETUP[3].0,
        "WIFI DISCONNECT\r\n+CWJAP:3\r\n\r\nFAIL\r\n",
    );
    stack.poll();
    assert_eq!(stack.wifi_state(), WifiState::Failed);
    let mut socket = stack.socket().unwrap();
    assert_eq!(
        other(stack.connect(&mut socket, remote())),
        AtError::WifiFailed
    );
    stack.close(socket).unwrap();
    bench.advance(4999);
    stack.poll();
    assert_eq!(bench.said(), "");
    bench.advance(1);
    stack.poll();
    assert_eq!(bench.said(), "AT\r\n");
    assert_eq!(stack.wifi_state(), WifiState::Resetting);
}

#[test]
fn a_join_without_answer_times_out() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    for (command, answer) in &SETUP[..3] {
        bench.expect(&mut stack, command, answer);
    }
    stack.poll();
    assert_eq!(bench.said(), SETUP[3].0);
    bench.advance(19_999);
    stack.poll();
    assert_eq!(stack.wifi_state(), WifiState::Joining);
    bench.advance(1);
    stack.poll();
    assert_eq!(stack.wifi_state(), WifiState::Failed);
}

#[test]
fn connect_waits_for_the_network_then_for_connect() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    let mut socket = stack.socket().unwrap();
    assert_eq!(stack.socket().unwrap_err(), AtError::NoSocket);
    assert_eq!(
        other(stack.connect(&mut socket, remote())),
        AtError::NotJoined
    );
    assert_eq!(
        other(stack.connect(&mut socket, "[::1]:7".parse().unwrap())),
        AtError::Unaddressable
    );
    assert_eq!(bench.said(), "AT\r\n");
    bench.answer("OK\r\n");
    for (command, answer) in &SETUP[1..] {
        bench.expect(&mut stack, command, answer);
    }
    stack.poll();
    assert_eq!(
        stack.connect(&mut socket, remote()),
        Err(nb::Error::WouldBlock)
    );
    assert_eq!(bench.said(), START);
    assert_eq!(
        stack.connect(&mut socket, remote()),
        Err(nb::Error::WouldBlock)
    );
    assert_eq!(
        other(stack.connect(&mut socket, SocketAddr::from(([10, 0, 0, 2], 7)))),
        AtError::InvalidState
    );
    // A connection over several reads, CONNECT split across two.
    bench.answer("CONN");
    assert_eq!(
        stack.connect(&mut socket, remote()),
        Err(nb::Error::WouldBlock)
    );
    bench.answer("ECT\r\n\r\nOK\r\n");
    assert_eq!(stack.connect(&mut socket, remote()), Ok(()));
    assert_eq!(stack.connect(&mut socket, remote()), Ok(()));
    assert_eq!(bench.said(), "", "one CIPSTART only");
}

#[test]
fn already_connected_is_a_connection_of_nobody_s_and_is_closed() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    bench.set_up(&mut stack);
    let mut socket = stack.socket().unwrap();
    let _ = stack.connect(&mut socket, remote());
    assert_eq!(bench.said(), START);
    bench.answer("ALREADY CONNECTED\r\n\r\nERROR\r\n");
    assert_eq!(
        other(stack.connect(&mut socket, remote())),
        AtError::ConnectFailed
    );
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "AT+CIPCLOSE\r\n");
}

/// A set-up stack whose CIPSTART is waiting for its answer.
fn starting(bench: &Bench) -> (Stack<'_>, AtSocket) {
    let mut stack = bench.stack();
    bench.set_up(&mut stack);
    let mut socket = stack.socket().unwrap();
    let _ = stack.connect(&mut socket, remote());
    assert_eq!(bench.said(), START);
    (stack, socket)
}

#[test]
fn an_ok_without_connect_does_not_open_the_connection() {
    let bench = Bench::default();
    let (mut stack, mut socket) = starting(&bench);
    bench.answer("\r\nOK\r\n");
    assert_eq!(
        other(stack.connect(&mut socket, remote())),
        AtError::ConnectFailed
    );
    assert_eq!(stack.framing_errors(), 1);
    stack.close(socket).unwrap();
    assert_eq!(
        bench.said(),
        "AT+CIPCLOSE\r\n",
        "whatever the modem holds is closed"
    );
}

#[test]
fn connect_then_error_does_not_leave_the_connection_open() {
    let bench = Bench::default();
    let (mut stack, mut socket) = starting(&bench);
    bench.answer("CONNECT\r\n\r\nERROR\r\n");
    assert_eq!(
        other(stack.connect(&mut socket, remote())),
        AtError::ConnectFailed
    );
    assert_eq!(stack.framing_errors(), 1);
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "AT+CIPCLOSE\r\n");
}

#[test]
fn a_stray_prompt_sends_no_data_and_ends_the_connection() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(stack.send(&mut socket, b"secret"), Ok(6));
    assert_eq!(bench.said(), "AT+CIPSEND=6\r\n");
    // A '>' before the modem said OK to the CIPSEND is not its prompt.
    bench.answer("> ");
    stack.poll();
    assert_eq!(bench.said(), "", "no data before the real prompt");
    assert_eq!(other(stack.send(&mut socket, b"x")), AtError::Framing);
    // The modem still waits for the data of its CIPSEND: it gets it after its prompt.
    bench.answer("\r\nOK\r\n> ");
    stack.poll();
    assert_eq!(bench.said(), "secret");
    assert_eq!(stack.framing_errors(), 1);
}

#[test]
fn a_reply_before_the_data_is_out_is_not_the_modem_s() {
    for early in ["SEND OK\r\n", "\r\nERROR\r\n", "SEND FAIL\r\n"] {
        let bench = Bench::default();
        let (mut stack, mut socket) = bench.connected();
        assert_eq!(stack.send(&mut socket, b"hello"), Ok(5));
        assert_eq!(bench.said(), "AT+CIPSEND=5\r\n");
        // Read together with the prompt, before the data could go out.
        bench.answer(&std::format!("\r\nOK\r\n> {early}"));
        bench.polls(&mut stack);
        assert_eq!(bench.said(), "hello", "{early:?}: the modem waits for them");
        assert_eq!(
            other(stack.send(&mut socket, b"x")),
            AtError::Framing,
            "{early:?}"
        );
        stack.close(socket).unwrap();
        assert_eq!(
            bench.said(),
            "",
            "{early:?}: the send is still answered first"
        );
        bench.answer("\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n");
        bench.polls(&mut stack);
        assert_eq!(bench.said(), "AT+CIPCLOSE\r\n", "{early:?}");
    }
}

#[test]
fn a_half_written_command_that_times_out_is_finished_before_the_next() {
    let bench = Bench::default();
    let (mut stack, mut socket) = starting(&bench);
    // The CIPSTART went out; its answer does not come. A close follows, through a
    // port that takes 4 bytes and then nothing.
    bench.wire.borrow_mut().write_room = Some(4);
    stack.close(socket).unwrap();
    bench.advance(5_000);
    stack.poll();
    assert_eq!(bench.said(), "AT+C", "the port took four bytes");
    socket = stack.socket().unwrap();
    let _ = stack.connect(&mut socket, remote());
    bench.advance(5_000);
    stack.poll();
    bench.wire.borrow_mut().write_room = None;
    bench.polls(&mut stack);
    assert_eq!(
        bench.said(),
        "IPCLOSE\r\n",
        "the rest of the line, and nothing after it until its answer"
    );
    bench.answer("CLOSED\r\n\r\nOK\r\n");
    assert_eq!(
        stack.connect(&mut socket, remote()),
        Err(nb::Error::WouldBlock)
    );
    assert_eq!(bench.said(), START);
}

#[test]
fn a_length_beyond_the_buffer_is_refused_and_swallows_no_reply() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(stack.send(&mut socket, b"hi"), Ok(2));
    bench.said();
    bench.answer(&std::format!(
        "\r\n+IPD,{}:abc\r\n\r\nOK\r\n> ",
        RX_BUFFER + 1
    ));
    bench.polls(&mut stack);
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 8])),
        AtError::Framing
    );
    assert_eq!(bench.said(), "hi", "the prompt after it was read as one");
    assert_eq!(stack.framing_errors(), 1);
}

#[test]
fn a_peer_s_modem_lines_arrive_as_data() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    let peer: &[u8] = b"\r\nCLOSED\r\n> SEND OK\r\n+IPD,5:\r\nOK\r\nready\r\n";
    bench.answer(&std::format!("\r\n+IPD,{}:", peer.len()));
    bench.answer_bytes(peer);
    bench.confirm(&mut stack);
    assert_eq!(receive_all(&mut stack, &mut socket), peer);
    assert_eq!(stack.framing_errors(), 0);
    assert_eq!(stack.send(&mut socket, b"x"), Ok(1), "still connected");
}

#[test]
fn nothing_is_delivered_before_the_frame_is_confirmed() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    bench.answer("\r\n+IPD,5:hello");
    bench.polls(&mut stack);
    assert_eq!(
        stack.receive(&mut socket, &mut [0; 8]),
        Err(nb::Error::WouldBlock)
    );
    // The length may be wrong: only what follows the payload tells.
    assert_eq!(bench.said(), CHECK);
    bench.answer(OPEN);
    assert_eq!(receive_all(&mut stack, &mut socket), b"hello");
}

#[test]
fn a_closed_report_lost_in_a_payload_is_noticed() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    // "+IPD,1:x" with its 1 flipped to 9 swallows the CLOSED after it.
    bench.answer("\r\n+IPD,9:xCLOSED\r\n");
    bench.expect(&mut stack, CHECK, "STATUS:4\r\n\r\nOK\r\n");
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 16])),
        AtError::Framing
    );
    assert_eq!(stack.framing_errors(), 1);
}

#[test]
fn an_answer_swallowed_by_a_payload_is_noticed() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(stack.send(&mut socket, b"hi"), Ok(2));
    bench.said();
    // "+IPD,3:abc" with its 3 read as 9 swallows the OK to CIPSEND; the rest looks
    // like a frame followed by a line.
    bench.answer("\r\n+IPD,9:abc\r\nOK\r\n\r\nRecv 2 bytes\r\n");
    bench.polls(&mut stack);
    assert_eq!(
        stack.receive(&mut socket, &mut [0; 16]),
        Err(nb::Error::WouldBlock),
        "held until the CIPSEND is answered"
    );
    bench.advance(5_000);
    bench.polls(&mut stack);
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 16])),
        AtError::Framing
    );
}

#[test]
fn garbled_headers_end_the_connection_and_deliver_nothing() {
    for garbled in [
        &b"\r\n+IPD5:hello\r\nOK\r\n"[..],
        b"\r\nIPD,5:hello\r\nOK\r\n",
        b"\r\n+IPD,:hello\r\nOK\r\n",
        b"\r\n+IPD,4:hello\r\nOK\r\n",
        b"\r\n+IPD,6:hello\r\nOK\r\n",
        b"\r\n+IPD,1,5:hello\r\nOK\r\n",
        b"\r\n+IPD,0:\r\n",
        b"\r\n\xff+IPD,5:hello\r\n",
        b"\r\n+IPD,5:helloSEND OK\r\n",
    ] {
        let bench = Bench::default();
        let (mut stack, mut socket) = bench.connected();
        bench.answer_bytes(garbled);
        bench.polls(&mut stack);
        bench.answer(OPEN);
        bench.polls(&mut stack);
        assert_eq!(
            other(stack.receive(&mut socket, &mut [0; 16])),
            AtError::Framing,
            "{garbled:?}"
        );
        assert_eq!(stack.framing_errors(), 1, "{garbled:?}");
        stack.close(socket).unwrap();
        assert!(bench.said().ends_with("AT+CIPCLOSE\r\n"), "{garbled:?}");
    }
}

#[test]
fn a_read_error_ends_the_connection_as_bytes_were_lost() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    bench.answer("\r\n+IPD,5:he");
    bench.polls(&mut stack);
    bench.wire.borrow_mut().read_error = true;
    bench.answer("llo");
    bench.polls(&mut stack);
    assert_eq!(stack.serial_errors(), 1);
    bench.answer(OPEN);
    bench.polls(&mut stack);
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 16])),
        AtError::Framing
    );
}

#[test]
fn no_command_goes_out_while_the_modem_s_bytes_wait() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    bench.wire.borrow_mut().max_read = 1;
    // Whatever is on the line came before the next command, so it cannot be its
    // answer; read first, then send.
    bench.answer("WIFI CONNECTED\r\nWIFI CONNECTED\r\n");
    assert_eq!(stack.send(&mut socket, b"hi"), Ok(2));
    assert_eq!(bench.said(), "", "bytes still wait");
    bench.polls(&mut stack);
    assert_eq!(bench.unread(), 0);
    assert_eq!(bench.said(), "AT+CIPSEND=2\r\n");
}

#[test]
fn a_peer_closing_right_after_its_data_is_read_whole() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    bench.answer("\r\n+IPD,5:helloCLOSED\r\n");
    assert_eq!(receive_all(&mut stack, &mut socket), b"hello");
    assert_eq!(stack.receive(&mut socket, &mut [0; 8]), Ok(0));
    assert_eq!(stack.framing_errors(), 0);
}

#[test]
fn a_refused_connection_fails_and_needs_no_close() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    bench.set_up(&mut stack);
    let mut socket = stack.socket().unwrap();
    let _ = stack.connect(&mut socket, remote());
    assert_eq!(bench.said(), START);
    bench.answer("ERROR\r\nCLOSED\r\n");
    assert_eq!(
        other(stack.connect(&mut socket, remote())),
        AtError::ConnectFailed
    );
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "", "nothing to close on the modem");
    let mut socket = stack.socket().unwrap();
    let _ = stack.connect(&mut socket, remote());
    assert_eq!(bench.said(), START);
}

#[test]
fn a_connect_without_answer_times_out_and_is_closed() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    bench.set_up(&mut stack);
    let mut socket = stack.socket().unwrap();
    let _ = stack.connect(&mut socket, remote());
    bench.said();
    bench.advance(4_999);
    assert_eq!(
        stack.connect(&mut socket, remote()),
        Err(nb::Error::WouldBlock)
    );
    bench.advance(1);
    assert_eq!(
        other(stack.connect(&mut socket, remote())),
        AtError::Timeout
    );
    stack.close(socket).unwrap();
    assert_eq!(
        bench.said(),
        "AT+CIPCLOSE\r\n",
        "the modem may have connected late"
    );
}

#[test]
fn send_waits_for_the_prompt_and_send_ok() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(stack.send(&mut socket, b"Hello Handbit"), Ok(13));
    assert_eq!(bench.said(), "AT+CIPSEND=13\r\n");
    assert_eq!(stack.send(&mut socket, b"more"), Err(nb::Error::WouldBlock));
    bench.answer("\r\nOK\r\n");
    stack.poll();
    assert_eq!(bench.said(), "", "no data before the prompt");
    bench.answer("> ");
    stack.poll();
    assert_eq!(bench.said(), "Hello Handbit");
    bench.answer("\r\nRecv 13 bytes\r\n");
    assert_eq!(stack.send(&mut socket, b"more"), Err(nb::Error::WouldBlock));
    bench.answer("\r\nSEND OK\r\n");
    assert_eq!(stack.send(&mut socket, b"more"), Ok(4));
    assert_eq!(bench.said(), "AT+CIPSEND=4\r\n");
    assert_eq!(stack.send(&mut socket, b""), Ok(0));
}

#[test]
fn one_send_takes_at_most_a_chunk() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    let big = [b'x'; SEND_CHUNK + 10];
    assert_eq!(stack.send(&mut socket, &big), Ok(SEND_CHUNK));
    assert_eq!(bench.said(), std::format!("AT+CIPSEND={SEND_CHUNK}\r\n"));
}

#[test]
fn a_slow_port_gets_everything_in_order() {
    let bench = Bench::default();
    bench.wire.borrow_mut().max_write = 3;
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(stack.send(&mut socket, b"abcdefghij"), Ok(10));
    for _ in 0..10 {
        stack.poll();
    }
    assert_eq!(bench.said(), "AT+CIPSEND=10\r\n");
    bench.answer("OK\r\n> ");
    for _ in 0..10 {
        stack.poll();
    }
    assert_eq!(bench.said(), "abcdefghij");
}

#[test]
fn a_full_port_is_not_written() {
    let bench = Bench::default();
    bench.wire.borrow_mut().write_room = Some(2);
    let mut stack = bench.stack();
    stack.poll();
    assert_eq!(bench.said(), "AT");
    stack.poll();
    assert_eq!(bench.said(), "");
    bench.wire.borrow_mut().write_room = None;
    stack.poll();
    assert_eq!(bench.said(), "\r\n");
}

#[test]
fn a_failed_send_ends_the_connection() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(stack.send(&mut socket, b"hi"), Ok(2));
    bench.said();
    bench.answer("OK\r\n> ");
    stack.poll();
    assert_eq!(bench.said(), "hi");
    bench.answer("\r\nSEND FAIL\r\n");
    assert_eq!(other(stack.send(&mut socket, b"hi")), AtError::Modem);
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 8])),
        AtError::Modem
    );
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "AT+CIPCLOSE\r\n");
}

#[test]
fn a_send_without_answer_times_out() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(stack.send(&mut socket, b"hi"), Ok(2));
    bench.advance(5_000);
    assert_eq!(other(stack.send(&mut socket, b"hi")), AtError::Timeout);
}

#[test]
fn received_data_split_anywhere_arrives_whole() {
    let bench = Bench::default();
    bench.wire.borrow_mut().max_read = 3;
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(
        stack.receive(&mut socket, &mut [0; 8]),
        Err(nb::Error::WouldBlock)
    );
    bench.answer("\r\n+IPD,7:OK\r\n> x\r\n+IPD,3:abc");
    bench.confirm(&mut stack);
    let got = receive_all(&mut stack, &mut socket);
    assert_eq!(got, b"OK\r\n> xabc");
    assert_eq!(
        stack.receive(&mut socket, &mut [0; 8]),
        Err(nb::Error::WouldBlock)
    );
}

#[test]
fn closed_gives_the_data_then_end_of_stream() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    bench.answer("+IPD,5:hello\r\nCLOSED\r\n");
    stack.poll();
    assert_eq!(other(stack.send(&mut socket, b"x")), AtError::Closed);
    let mut buf = [0u8; 3];
    assert_eq!(stack.receive(&mut socket, &mut buf), Ok(3));
    assert_eq!(stack.receive(&mut socket, &mut buf), Ok(2));
    assert_eq!(&buf[..2], b"lo");
    assert_eq!(stack.receive(&mut socket, &mut buf), Ok(0));
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "", "the modem closed it already");
}

#[test]
fn a_full_buffer_stops_reading_without_losing_bytes() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    let payload: Vec<u8> = (0..RX_BUFFER + 500).map(|i| (i % 251) as u8).collect();
    for part in payload.chunks(1000) {
        bench.answer(&std::format!("+IPD,{}:", part.len()));
        bench.answer_bytes(part);
        bench.answer("\r\n");
    }
    bench.answer("CLOSED\r\n");
    for _ in 0..50 {
        stack.poll();
    }
    assert!(bench.unread() > 400, "the rest waits in the port");
    // The modem's timeouts do not run out while the application is behind.
    bench.advance(60_000);
    stack.poll();
    let got = receive_all(&mut stack, &mut socket);
    assert_eq!(got, payload);
    assert_eq!(stack.receive(&mut socket, &mut [0; 8]), Ok(0));
}

#[test]
fn data_for_a_closed_socket_is_dropped() {
    let bench = Bench::default();
    let (mut stack, socket) = bench.connected();
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "AT+CIPCLOSE\r\n");
    let mut socket = stack.socket().unwrap();
    assert_eq!(
        stack.connect(&mut socket, remote()),
        Err(nb::Error::WouldBlock)
    );
    assert_eq!(bench.said(), "", "the close is answered first");
    bench.answer("+IPD,4:late\r\nCLOSED\r\n\r\nOK\r\n");
    assert_eq!(
        stack.connect(&mut socket, remote()),
        Err(nb::Error::WouldBlock)
    );
    assert_eq!(bench.said(), START);
    bench.answer("CONNECT\r\n\r\nOK\r\n\r\n+IPD,3:new");
    assert_eq!(stack.connect(&mut socket, remote()), Ok(()));
    bench.confirm(&mut stack);
    assert_eq!(receive_all(&mut stack, &mut socket), b"new");
}

#[test]
fn close_during_connect_closes_once_connected() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    bench.set_up(&mut stack);
    let mut socket = stack.socket().unwrap();
    let _ = stack.connect(&mut socket, remote());
    assert_eq!(bench.said(), START);
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "", "CIPSTART is still running");
    bench.answer("CONNECT\r\n\r\nOK\r\n");
    stack.poll();
    assert_eq!(bench.said(), "AT+CIPCLOSE\r\n");
}

#[test]
fn a_restarted_modem_ends_the_connection_and_is_set_up_again() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    assert_eq!(stack.send(&mut socket, b"hi"), Ok(2));
    bench.said();
    bench.answer_bytes(b"\r\n ets Jan  8 2013,rst cause:2\r\n\x8f\xfe garbage\r\nready\r\n");
    // The boot log comes first, and is no line the firmware prints while connected.
    assert_eq!(other(stack.send(&mut socket, b"x")), AtError::Framing);
    assert_eq!(bench.said(), "AT\r\n");
    assert_eq!(stack.wifi_state(), WifiState::Resetting);
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "");
}

#[test]
fn a_lost_network_is_rejoined() {
    let bench = Bench::default();
    let (mut stack, mut socket) = bench.connected();
    bench.answer("WIFI DISCONNECT\r\nCLOSED\r\n");
    stack.poll();
    assert_eq!(stack.wifi_state(), WifiState::Joining);
    assert_eq!(stack.receive(&mut socket, &mut [0; 4]), Ok(0));
    stack.close(socket).unwrap();
    let mut socket = stack.socket().unwrap();
    assert_eq!(
        other(stack.connect(&mut socket, remote())),
        AtError::NotJoined
    );
    // The firmware rejoins by itself; the address is asked again.
    bench.answer("WIFI CONNECTED\r\nWIFI GOT IP\r\n");
    bench.expect(
        &mut stack,
        "AT+CIFSR\r\n",
        "+CIFSR:STAIP,\"192.168.1.77\"\r\nOK\r\n",
    );
    stack.poll();
    assert_eq!(
        stack.wifi_state(),
        WifiState::Connected(Ipv4Addr::new(192, 168, 1, 77))
    );
    // It does not, this time: the stack joins again.
    bench.answer("WIFI DISCONNECT\r\n");
    stack.poll();
    bench.advance(19_999);
    stack.poll();
    assert_eq!(bench.said(), "");
    bench.advance(1);
    stack.poll();
    assert_eq!(bench.said(), SETUP[3].0);
    let _ = stack.close(socket);
}

#[test]
fn a_socket_of_another_stack_is_refused() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    let mut socket = stack.socket().unwrap();
    let mut foreign = AtSocket { id: socket.id + 1 };
    assert_eq!(other(stack.send(&mut foreign, b"x")), AtError::InvalidState);
    assert_eq!(other(stack.send(&mut socket, b"x")), AtError::InvalidState);
    assert_eq!(stack.close(foreign), Err(AtError::InvalidState));
    stack.close(socket).unwrap();
    assert!(stack.socket().is_ok());
}

#[test]
fn read_errors_before_the_modem_answers_are_boot_noise_not_serial_errors() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    // The boot log at 74880 baud, read at 115200: garbage and framing errors.
    for _ in 0..3 {
        bench.wire.borrow_mut().read_error = true;
        bench.answer_bytes(b"\x8a\xf1\x03ets Jan  8 2013,rst cause:2");
        bench.polls(&mut stack);
    }
    assert_eq!((stack.boot_noise(), stack.serial_errors()), (3, 0));
    // Once the modem has answered, a read error is a real one.
    let bench = Bench::default();
    let (mut stack, _socket) = bench.connected();
    let noise = stack.boot_noise();
    bench.wire.borrow_mut().read_error = true;
    bench.answer("\r\nOK\r\n");
    bench.polls(&mut stack);
    assert_eq!((stack.boot_noise(), stack.serial_errors()), (noise, 1));
}

#[test]
fn release_gives_the_port_back() {
    let bench = Bench::default();
    let stack = bench.stack();
    assert_eq!(stack.config().command_timeout, Duration::from_secs(5));
    assert_eq!(stack.serial_errors(), 0);
    let (_port, mut clock) = stack.release();
    assert_eq!(clock.now(), Instant::ZERO);
}

#[test]
fn a_network_lost_during_setup_is_noticed() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    for (command, answer) in &SETUP[..5] {
        bench.expect(&mut stack, command, answer);
    }
    bench.expect(&mut stack, SETUP[5].0, "\r\nOK\r\nWIFI DISCONNECT\r\n");
    bench.expect(&mut stack, SETUP[6].0, SETUP[6].1);
    bench.polls(&mut stack);
    assert_eq!(stack.wifi_state(), WifiState::Joining);
    bench.answer("WIFI CONNECTED\r\nWIFI GOT IP\r\n");
    bench.expect(&mut stack, "AT+CIFSR\r\n", SETUP[6].1);
    bench.polls(&mut stack);
    assert_eq!(
        stack.wifi_state(),
        WifiState::Connected(Ipv4Addr::new(192, 168, 1, 23))
    );
}
