//! Fuzz harness of the AT stack: a scripted ESP8285 answers the stack's commands
//! over an in-memory serial port, while the fuzz input decides what happens next:
//! the application's calls, the peer's `+IPD` frames (any bytes, modem lookalikes
//! included), lines and noise between frames, faults in frames, the sizes of the
//! port's reads and the passing of time.
//!
//! Properties (a broken one panics):
//! * nothing panics, whatever the modem says;
//! * every connection of the stack receives a prefix of what the peer of the
//!   modem's connection behind it sent: no byte from noise, a stray line, another
//!   connection, or a guess.
//!
//! The faults are those the stack promises to catch (its module docs, "Framing"),
//! one at a time (a new one only once a new connection has begun): overruns the
//! port reports, a lost header byte other than a digit, a larger last digit of
//! the length, a stray modem line, noise (without `+`, so that noise alone is never
//! a frame). A smaller last digit can cut a payload just before its own last
//! CR LF, which then passes for the line break before the modem's next line; a
//! dropped or changed higher digit can make a length swallow exactly a whole
//! frame; two faults together (a length too long by 6 and a stray `\r\nOK\r\n`
//! right after it) can look like a good frame: no check can tell those.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use embedded_nal::TcpClientStack;
use nal_echo::stack::at::{embedded_io, AtConfig, AtSocket, AtStack};
use nal_echo::time::MockClock;
use nal_echo::Duration;

/// The serial line between the stack and the modem.
#[derive(Default)]
struct Line {
    to_stack: VecDeque<u8>,
    from_stack: Vec<u8>,
    /// Most bytes one read gives.
    chunk: usize,
    /// Bytes were lost after this many of those queued: the read reaching the gap
    /// fails, as a UART reports an overrun.
    overrun_at: Option<usize>,
}

struct Port(Rc<RefCell<Line>>);

#[derive(Debug)]
struct Overrun;

impl embedded_io::Error for Overrun {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl embedded_io::ErrorType for Port {
    type Error = Overrun;
}

impl embedded_io::Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Overrun> {
        let mut line = self.0.borrow_mut();
        if line.overrun_at == Some(0) {
            line.overrun_at = None;
            return Err(Overrun);
        }
        assert!(
            !line.to_stack.is_empty(),
            "a read with nothing to read would block"
        );
        let n = buf
            .len()
            .min(line.to_stack.len())
            .min(line.chunk.max(1))
            .min(line.overrun_at.unwrap_or(usize::MAX));
        if let Some(at) = &mut line.overrun_at {
            *at -= n;
        }
        for (slot, byte) in buf.iter_mut().zip(line.to_stack.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for Port {
    fn read_ready(&mut self) -> Result<bool, Overrun> {
        let line = self.0.borrow();
        Ok(line.overrun_at == Some(0) || !line.to_stack.is_empty())
    }
}

impl embedded_io::Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Overrun> {
        self.0.borrow_mut().from_stack.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Overrun> {
        panic!("flush may block: the stack must not call it");
    }
}

impl embedded_io::WriteReady for Port {
    fn write_ready(&mut self) -> Result<bool, Overrun> {
        Ok(true)
    }
}

/// The modem: answers like the AT firmware, one connection at a time.
struct Modem {
    line: Rc<RefCell<Line>>,
    echo: bool,
    command: Vec<u8>,
    /// Data bytes of a CIPSEND still to come.
    data_left: usize,
    /// The open connection, an index into `peers`.
    link: Option<usize>,
    /// What each connection's peer sent, in order.
    peers: Vec<Vec<u8>>,
    /// A fault may be injected: one per connection the modem opens (and one before
    /// the first). Armed when the modem opens the connection, not when the
    /// application first hears of it: by then a frame of it may have taken its
    /// fault already, and a second one (a stray line that a too-long length
    /// swallows exactly) is the double fault no check can tell.
    fault_armed: bool,
}

impl Modem {
    fn emit(&self, bytes: &[u8]) {
        self.line.borrow_mut().to_stack.extend(bytes);
    }

    /// Reads what the stack wrote and answers it.
    fn serve(&mut self) {
        let written = std::mem::take(&mut self.line.borrow_mut().from_stack);
        for byte in written {
            if self.data_left > 0 {
                self.data_left -= 1;
                if self.data_left == 0 {
                    self.emit(b"\r\nRecv some bytes\r\n\r\nSEND OK\r\n");
                }
                continue;
            }
            if self.echo {
                self.emit(&[byte]);
            }
            self.command.push(byte);
            if self.command.ends_with(b"\r\n") {
                let command = std::mem::take(&mut self.command);
                self.run(&command[..command.len() - 2]);
            }
        }
    }

    fn run(&mut self, command: &[u8]) {
        match command {
            b"AT" | b"AT+CWMODE=1" | b"AT+CIPMUX=0" => self.emit(b"\r\nOK\r\n"),
            b"ATE0" => {
                self.echo = false;
                self.emit(b"\r\nOK\r\n");
            }
            b"AT+CIFSR" => self.emit(b"+CIFSR:STAIP,\"10.0.0.2\"\r\n\r\nOK\r\n"),
            b"AT+CIPSTATUS" if self.link.is_some() => {
                self.emit(b"STATUS:3\r\n+CIPSTATUS:0,\"TCP\",\"10.0.0.1\",7,4000,0\r\n\r\nOK\r\n")
            }
            b"AT+CIPSTATUS" => self.emit(b"STATUS:4\r\n\r\nOK\r\n"),
            b"AT+CIPCLOSE" if self.link.take().is_some() => self.emit(b"CLOSED\r\n\r\nOK\r\n"),
            b"AT+CIPCLOSE" => self.emit(b"\r\nERROR\r\n"),
            _ if command.starts_with(b"AT+CWJAP=") => {
                self.emit(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n")
            }
            _ if command.starts_with(b"AT+CIPSTART=") => {
                if self.link.is_some() {
                    self.emit(b"ALREADY CONNECTED\r\n\r\nERROR\r\n");
                } else {
                    self.link = Some(self.peers.len());
                    self.peers.push(Vec::new());
                    // A new connection may take one fault of its own.
                    self.fault_armed = true;
                    self.emit(b"CONNECT\r\n\r\nOK\r\n");
                }
            }
            _ if command.starts_with(b"AT+CIPSEND=") => {
                let n = std::str::from_utf8(&command[11..])
                    .ok()
                    .and_then(|n| n.parse::<usize>().ok());
                match n {
                    Some(n @ 1..=2048) if self.link.is_some() => {
                        self.emit(b"\r\nOK\r\n> ");
                        self.data_left = n;
                    }
                    _ => self.emit(b"\r\nERROR\r\n"),
                }
            }
            _ => self.emit(b"\r\nERROR\r\n"),
        }
    }

    /// The peer sends `payload`: one frame, hit by the faults in `faults`.
    fn frame(&mut self, payload: &[u8], faults: u8, pick: u8) {
        let Some(link) = self.link else {
            return;
        };
        let faults = if faults != 0 && self.take_fault() {
            faults
        } else {
            0
        };
        self.peers[link].extend_from_slice(payload);
        let mut bytes = format!("\r\n+IPD,{}:", payload.len()).into_bytes();
        let colon = bytes.len() - 1;
        bytes.extend_from_slice(payload);
        if faults & 1 != 0 {
            // A lost header byte other than a digit.
            let non_digits: Vec<usize> = (0..=colon)
                .filter(|&i| !bytes[i].is_ascii_digit())
                .collect();
            bytes.remove(non_digits[usize::from(pick) % non_digits.len()]);
        } else if faults & 2 != 0 {
            // A larger last digit of the length.
            let last = colon - 1;
            let old = bytes[last] - b'0';
            if old < 9 {
                bytes[last] = b'0' + old + 1 + pick % (9 - old);
            }
        }
        if faults & 4 != 0 {
            // An overrun loses a run of bytes; the port reports it.
            let at = usize::from(pick) % bytes.len();
            let run = (1 + usize::from(pick / 16)).min(bytes.len() - at);
            self.emit(&bytes[..at]);
            let mut line = self.line.borrow_mut();
            if line.overrun_at.is_none() {
                line.overrun_at = Some(line.to_stack.len());
            }
            drop(line);
            self.emit(&bytes[at + run..]);
        } else {
            self.emit(&bytes);
        }
    }

    /// Whether a fault may be injected now; if so, none after it for a while.
    fn take_fault(&mut self) -> bool {
        std::mem::take(&mut self.fault_armed)
    }

    fn peer_closes(&mut self) {
        if self.link.take().is_some() {
            self.emit(b"CLOSED\r\n");
        }
    }
}

/// Lines a modem may print between frames at a wrong time.
const STRAY: &[&[u8]] = &[
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"CLOSED\r\n",
    b"\r\nSEND OK\r\n",
    b"> ",
    b"CONNECT\r\n",
    b"ALREADY CONNECTED\r\n",
    b"WIFI DISCONNECT\r\n",
    b"WIFI GOT IP\r\n",
    b"STATUS:3\r\n",
    b"STATUS:4\r\n",
    b"busy p...\r\n",
    b"ready\r\n",
    b"\r\n",
];

/// The fuzz input, read front to back; zeros once it is used up.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The application: one socket, connected to the peer or connecting.
struct App {
    socket: Option<AtSocket>,
    /// The current connection, as (index into `received`, the modem's connection).
    connection: Option<(usize, Option<usize>)>,
    received: Vec<(Option<usize>, Vec<u8>)>,
}

const REMOTE: ([u8; 4], u16) = ([10, 0, 0, 1], 7);

pub fn run(data: &[u8]) {
    let line = Rc::new(RefCell::new(Line {
        chunk: 64,
        ..Line::default()
    }));
    let clock = MockClock::new();
    let mut config = AtConfig::new("net", "pw").expect("short enough");
    config.command_timeout = Duration::from_millis(500);
    let mut stack = AtStack::new(Port(Rc::clone(&line)), &clock, config);
    let mut modem = Modem {
        line: Rc::clone(&line),
        echo: true,
        command: Vec::new(),
        data_left: 0,
        link: None,
        peers: Vec::new(),
        fault_armed: true,
    };
    let mut app = App {
        socket: None,
        connection: None,
        received: Vec::new(),
    };
    let mut input = Input(data);
    // Bounded: every step takes at least one input byte.
    while !input.is_empty() {
        let op = input.byte();
        match op % 16 {
            0..=2 => modem.serve(),
            3 => {
                stack.poll();
            }
            4 => connect(&mut stack, &mut app, &modem),
            5 | 6 => receive(&mut stack, &mut app, &modem, usize::from(input.byte()) + 1),
            7 => {
                let n = usize::from(input.byte() % 64);
                let bytes = input.bytes(n).to_vec();
                if let Some(socket) = app.socket.as_mut() {
                    let _ = stack.send(socket, &bytes);
                }
            }
            8 => {
                if let Some(socket) = app.socket.take() {
                    stack.close(socket).expect("the stack's own socket");
                    app.connection = None;
                }
            }
            9 | 10 => {
                let faults = if op % 16 == 9 { 0 } else { input.byte() };
                let pick = input.byte();
                let n = usize::from(input.byte()) % 200 + 1;
                let payload = input.bytes(n).to_vec();
                if !payload.is_empty() {
                    modem.frame(&payload, faults, pick);
                }
            }
            11 => modem.peer_closes(),
            12 => {
                let line = STRAY[usize::from(input.byte()) % STRAY.len()];
                if modem.take_fault() {
                    modem.emit(line);
                }
            }
            13 => {
                let n = usize::from(input.byte() % 32);
                let noise: Vec<u8> = input
                    .bytes(n)
                    .iter()
                    .map(|&b| if b == b'+' { b'-' } else { b })
                    .collect();
                if modem.take_fault() {
                    modem.emit(&noise);
                }
            }
            14 => clock.advance(Duration::from_millis(u64::from(input.byte()) * 10)),
            _ => line.borrow_mut().chunk = usize::from(input.byte() % 70) + 1,
        }
    }
}

fn connect(stack: &mut AtStack<Port, &MockClock>, app: &mut App, modem: &Modem) {
    if app.socket.is_none() {
        app.socket = stack.socket().ok();
    }
    let Some(socket) = app.socket.as_mut() else {
        return;
    };
    if let Ok(()) = stack.connect(socket, REMOTE.into()) {
        app.begin(modem);
    }
}

impl App {
    /// The socket's connection is open (connect said so, or data came after the
    /// modem's CONNECT): it talks to the modem's connection opened last (a later
    /// one would first bring its own CONNECT).
    fn begin(&mut self, modem: &Modem) -> usize {
        match self.connection {
            Some((index, _)) => index,
            None => {
                let link = modem.peers.len().checked_sub(1);
                let index = self.received.len();
                self.connection = Some((index, link));
                self.received.push((link, Vec::new()));
                index
            }
        }
    }
}

fn receive(stack: &mut AtStack<Port, &MockClock>, app: &mut App, modem: &Modem, size: usize) {
    let Some(socket) = app.socket.as_mut() else {
        return;
    };
    let mut buf = vec![0u8; size];
    if let Ok(n @ 1..) = stack.receive(socket, &mut buf) {
        let index = app.begin(modem);
        app.received[index].1.extend_from_slice(&buf[..n]);
        check(app, modem, index);
    }
}

/// The connection got a prefix of what its peer sent.
fn check(app: &App, modem: &Modem, index: usize) {
    let (link, got) = &app.received[index];
    let sent: &[u8] = link.map_or(&[], |l| modem.peers[l].as_slice());
    assert!(
        sent.starts_with(got),
        "connection {index} received {got:?}, which its peer {link:?} did not send first ({sent:?})"
    );
}
