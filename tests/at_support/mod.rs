//! A fake ESP8285 with Espressif's AT firmware, for the AT stack's tests: an
//! in-memory serial line, a modem that answers the commands the way the firmware
//! does and bridges its one connection (TCP or UDP) to a real loopback socket,
//! faults on the line around and inside its `+IPD` frames, and std servers to
//! talk to (TCP and UDP echo servers, and peers that send given bytes or
//! datagrams).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Both directions of the serial line between the board and the modem.
#[derive(Default)]
pub struct Wire {
    to_board: VecDeque<u8>,
    to_modem: VecDeque<u8>,
    /// Seed of the read sizes; 0 hands the board everything at once.
    split_seed: u32,
    /// Bytes were dropped after this many of the bytes queued to the board (an
    /// overrun): the read that reaches the gap reports it, as a UART's line status
    /// does.
    overrun_at: Option<usize>,
}

impl Wire {
    /// Next size of a read: 1..=7 bytes when splitting, so that lines and `+IPD`
    /// packets arrive in pieces.
    fn read_limit(&mut self) -> usize {
        if self.split_seed == 0 {
            return usize::MAX;
        }
        let mut x = self.split_seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.split_seed = x;
        1 + (x % 7) as usize
    }
}

pub type SharedWire = Rc<RefCell<Wire>>;

/// The board's end of the serial line. A read with nothing to read would block a
/// real port: it panics here, so every test checks that the stack never does it.
pub struct Serial(pub SharedWire);

/// The port's error: bytes were lost before the ones still to read.
#[derive(Debug)]
pub struct Overrun;

impl embedded_io::Error for Overrun {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl embedded_io::ErrorType for Serial {
    type Error = Overrun;
}

impl embedded_io::Read for Serial {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Overrun> {
        let mut wire = self.0.borrow_mut();
        if wire.overrun_at == Some(0) {
            wire.overrun_at = None;
            return Err(Overrun);
        }
        assert!(
            !wire.to_board.is_empty() || buf.is_empty(),
            "a read with nothing to read would block"
        );
        let before_gap = wire.overrun_at.unwrap_or(usize::MAX);
        let n = buf
            .len()
            .min(wire.to_board.len())
            .min(wire.read_limit())
            .min(before_gap);
        if let Some(at) = &mut wire.overrun_at {
            *at -= n;
        }
        for (slot, byte) in buf.iter_mut().zip(wire.to_board.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for Serial {
    fn read_ready(&mut self) -> Result<bool, Overrun> {
        let wire = self.0.borrow();
        Ok(wire.overrun_at == Some(0) || !wire.to_board.is_empty())
    }
}

impl embedded_io::Write for Serial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Overrun> {
        self.0.borrow_mut().to_modem.extend(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Overrun> {
        panic!("flush may block: the AT stack must not call it");
    }
}

impl embedded_io::WriteReady for Serial {
    fn write_ready(&mut self) -> Result<bool, Overrun> {
        Ok(true)
    }
}

/// Faults on the line from the modem, each drawn per `+IPD` frame with the given
/// chance in percent (from a seeded generator), at most one per connection: the
/// kinds the AT stack promises to catch, one at a time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub seed: u32,
    /// A byte of the `+IPD,<len>:` header other than a digit of the length is lost
    /// (silently: noise, not an overrun).
    pub drop_header_byte: u8,
    /// The last digit of the length is made larger. (A smaller one can cut the
    /// payload just before its own last CR LF, which then passes for the line
    /// break before the modem's next line; a lost digit or a changed higher one
    /// can make the length swallow exactly a whole frame: nothing can tell those
    /// from real frames.)
    pub flip_length_digit: u8,
    /// A run of 1..=16 bytes of the frame is lost, and the port reports an overrun.
    pub overrun: u8,
    /// A stray line (`OK`, `CLOSED`, `SEND OK`, `> `, `CONNECT`, junk) lands right
    /// before or right after the frame.
    pub stray_line: u8,
}

impl Faults {
    pub fn none() -> Self {
        Self::default()
    }

    fn any(&self) -> bool {
        self.drop_header_byte + self.flip_length_digit + self.overrun + self.stray_line > 0
    }

    fn next(&mut self) -> u32 {
        let mut x = self.seed.max(1);
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }

    fn chance(&mut self, percent: u8) -> bool {
        percent > 0 && self.next() % 100 < u32::from(percent)
    }

    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }
}

const STRAY_LINES: &[&[u8]] = &[
    b"\r\nOK\r\n",
    b"CLOSED\r\n",
    b"\r\nSEND OK\r\n",
    b"> ",
    b"CONNECT\r\n",
    b"\r\n\xfejunk\x00\r\n",
];

/// The host's clock, as the AT tests have always read real time.
pub use nal_echo::time::StdClock as WallClock;

pub const SSID: &str = "MixNo-AP";
pub const PASSWORD: &str = "handbit";
pub const STATION_IP: [u8; 4] = [192, 168, 4, 2];

enum Input {
    Command(Vec<u8>),
    /// Bytes of a CIPSEND still to come.
    Data {
        want: usize,
        got: Vec<u8>,
    },
}

/// The modem's one connection, bridged to a real socket.
enum Conn {
    Tcp(TcpStream),
    /// Connected to the remote of CIPSTART; each datagram is one `+IPD` frame.
    Udp(UdpSocket),
}

impl Conn {
    fn kind(&self) -> &'static str {
        match self {
            Conn::Tcp(_) => "TCP",
            Conn::Udp(_) => "UDP",
        }
    }

    fn addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        match self {
            Conn::Tcp(c) => c.peer_addr().ok().zip(c.local_addr().ok()),
            Conn::Udp(c) => c.peer_addr().ok().zip(c.local_addr().ok()),
        }
    }

    /// Waits up to `limit` for something to read.
    fn wait(&mut self, limit: Duration) {
        let mut buf = [0u8; 1];
        match self {
            Conn::Tcp(c) => {
                c.set_nonblocking(false).unwrap();
                c.set_read_timeout(Some(limit)).unwrap();
                let _ = c.peek(&mut buf);
                c.set_nonblocking(true).unwrap();
            }
            Conn::Udp(c) => {
                c.set_nonblocking(false).unwrap();
                c.set_read_timeout(Some(limit)).unwrap();
                let _ = c.peek(&mut buf);
                c.set_nonblocking(true).unwrap();
            }
        }
    }
}

/// The modem: answers commands like the AT firmware, one TCP or UDP connection in
/// single-connection mode bridged to a real socket, `+IPD,<n>:` active receive.
pub struct FakeEsp {
    wire: SharedWire,
    echo: bool,
    joined: bool,
    input: Input,
    conn: Option<Conn>,
    /// Every command line received, in order.
    pub commands: Vec<String>,
    /// Answer ERROR to this many coming CIPSTARTs, as if the server were down.
    pub refuse_starts: u32,
    /// Put a line of noise before every answer while no connection is open
    /// (during setup: the modem's boot log, a host that sent garbage).
    pub noise: bool,
    /// Faults on the `+IPD` frames.
    pub faults: Faults,
    /// Frames sent, and frames a fault hit.
    pub frames: u32,
    pub faulty_frames: u32,
    /// A fault hit the current connection.
    faulted: bool,
    /// Largest `+IPD` packet; larger reads are split.
    pub max_ipd: usize,
    pub starts: u32,
    pub sends: u32,
    pub bytes_bridged: usize,
    /// What each connection's peer sent, in order (what the modem received for it).
    pub connects: Vec<Vec<u8>>,
    /// The datagrams each UDP connection's peer sent, in order.
    pub datagrams: Vec<Vec<Vec<u8>>>,
    /// The datagrams the modem sent for the board, in order.
    pub sent_datagrams: Vec<Vec<u8>>,
}

impl FakeEsp {
    /// A modem that has booted (echo on, not joined) on a new wire.
    pub fn new() -> (Self, Serial) {
        let wire = SharedWire::default();
        let esp = Self {
            wire: Rc::clone(&wire),
            echo: true,
            joined: false,
            input: Input::Command(Vec::new()),
            conn: None,
            commands: Vec::new(),
            refuse_starts: 0,
            noise: false,
            faults: Faults::none(),
            frames: 0,
            faulty_frames: 0,
            faulted: false,
            max_ipd: 1460,
            starts: 0,
            sends: 0,
            bytes_bridged: 0,
            connects: Vec::new(),
            datagrams: Vec::new(),
            sent_datagrams: Vec::new(),
        };
        (esp, Serial(wire))
    }

    /// Reads to the board are cut into 1..=7 byte pieces from now on.
    pub fn split_reads(&mut self, seed: u32) {
        self.wire.borrow_mut().split_seed = seed.max(1);
    }

    /// Raw bytes from the modem to the board.
    pub fn emit(&mut self, bytes: &[u8]) {
        self.wire.borrow_mut().to_board.extend(bytes);
    }

    /// Forgets what the board wrote, for tests that script the modem's output.
    pub fn discard_input(&mut self) {
        self.wire.borrow_mut().to_modem.clear();
    }

    fn answer(&mut self, text: &str) {
        if self.noise && self.conn.is_none() {
            self.emit(b"\r\n\x00\xfejunk, line: 1,2\x7f\r\n");
        }
        self.emit(text.as_bytes());
    }

    /// The link drops (the AP went away, the server reset): the socket closes and
    /// the firmware prints CLOSED.
    pub fn drop_link(&mut self) {
        if self.conn.take().is_some() {
            self.emit(b"CLOSED\r\n");
        }
    }

    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Handles what the board wrote, and forwards what the server sent.
    pub fn step(&mut self) {
        let written: Vec<u8> = self.wire.borrow_mut().to_modem.drain(..).collect();
        for byte in written {
            self.byte(byte);
        }
        self.pump_socket();
    }

    /// Whether the board has read everything the modem sent.
    pub fn line_idle(&self) -> bool {
        let wire = self.wire.borrow();
        wire.to_board.is_empty() && wire.to_modem.is_empty()
    }

    /// Waits up to `limit` for the peer's next bytes (or its close) and forwards
    /// them; returns at once without a connection.
    pub fn wait_for_peer(&mut self, limit: Duration) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        conn.wait(limit);
        self.pump_socket();
    }

    fn byte(&mut self, byte: u8) {
        match &mut self.input {
            Input::Data { want, got } => {
                got.push(byte);
                if got.len() == *want {
                    let data = std::mem::take(got);
                    self.input = Input::Command(Vec::new());
                    self.forward(&data);
                }
            }
            Input::Command(line) => {
                if self.echo {
                    self.wire.borrow_mut().to_board.push_back(byte);
                }
                line.push(byte);
                if line.ends_with(b"\r\n") {
                    let text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
                    line.clear();
                    self.command(&text);
                }
            }
        }
    }

    fn command(&mut self, cmd: &str) {
        self.commands.push(cmd.to_string());
        match cmd {
            "AT" | "AT+CWMODE=1" => self.answer("\r\nOK\r\n"),
            "ATE0" => {
                self.echo = false;
                self.answer("\r\nOK\r\n");
            }
            "AT+CIPMUX=0" if self.conn.is_some() => self.answer("\r\nERROR\r\n"),
            "AT+CIPMUX=0" => self.answer("\r\nOK\r\n"),
            "AT+CIFSR" => {
                let [a, b, c, d] = STATION_IP;
                self.answer(&format!(
                    "+CIFSR:STAIP,\"{a}.{b}.{c}.{d}\"\r\n+CIFSR:STAMAC,\"a0:20:a6:12:34:56\"\r\n\r\nOK\r\n"
                ));
            }
            "AT+CIPSTATUS" => self.status(),
            "AT+CIPCLOSE" if self.conn.take().is_some() => self.answer("CLOSED\r\n\r\nOK\r\n"),
            "AT+CIPCLOSE" => self.answer("\r\nERROR\r\n"),
            _ if cmd.starts_with("AT+CWJAP=") => self.join(&cmd["AT+CWJAP=".len()..]),
            _ if cmd.starts_with("AT+CIPSTART=") => self.start(&cmd["AT+CIPSTART=".len()..]),
            _ if cmd.starts_with("AT+CIPSEND=") => self.send(&cmd["AT+CIPSEND=".len()..]),
            _ => self.answer("\r\nERROR\r\n"),
        }
    }

    fn status(&mut self) {
        match self
            .conn
            .as_ref()
            .and_then(|c| Some((c.kind(), c.addrs()?)))
        {
            Some((kind, (peer, local))) => self.answer(&format!(
                "STATUS:3\r\n+CIPSTATUS:0,\"{kind}\",\"{}\",{},{},0\r\n\r\nOK\r\n",
                peer.ip(),
                peer.port(),
                local.port()
            )),
            None if self.joined => self.answer("STATUS:4\r\n\r\nOK\r\n"),
            None => self.answer("STATUS:5\r\n\r\nOK\r\n"),
        }
    }

    fn join(&mut self, args: &str) {
        if args == format!("\"{SSID}\",\"{PASSWORD}\"") {
            self.joined = true;
            self.answer("WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n");
        } else {
            self.answer("+CWJAP:2\r\n\r\nFAIL\r\n");
        }
    }

    fn start(&mut self, args: &str) {
        self.starts += 1;
        if self.conn.is_some() {
            return self.answer("ALREADY CONNECTED\r\n\r\nERROR\r\n");
        }
        let Some((udp, addr)) = parse_start(args) else {
            return self.answer("\r\nERROR\r\n");
        };
        if !self.joined || self.refuse_starts > 0 {
            self.refuse_starts = self.refuse_starts.saturating_sub(1);
            return self.answer("\r\nERROR\r\nCLOSED\r\n");
        }
        if udp {
            return self.start_udp(addr);
        }
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(stream) => {
                stream.set_nonblocking(true).unwrap();
                stream.set_nodelay(true).unwrap();
                self.connects.push(Vec::new());
                self.faulted = false;
                self.conn = Some(Conn::Tcp(stream));
                self.answer("CONNECT\r\n\r\nOK\r\n");
            }
            Err(_) => self.answer("\r\nERROR\r\nCLOSED\r\n"),
        }
    }

    /// A UDP "connection": a local port, and the remote that sends go to.
    fn start_udp(&mut self, addr: SocketAddr) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(addr).unwrap();
        socket.set_nonblocking(true).unwrap();
        self.connects.push(Vec::new());
        self.datagrams.push(Vec::new());
        self.faulted = false;
        self.conn = Some(Conn::Udp(socket));
        self.answer("CONNECT\r\n\r\nOK\r\n");
    }

    fn send(&mut self, args: &str) {
        match args.parse::<usize>() {
            Ok(n @ 1..=2048) if self.conn.is_some() => {
                self.answer("\r\nOK\r\n> ");
                self.input = Input::Data {
                    want: n,
                    got: Vec::new(),
                };
            }
            Ok(_) if self.conn.is_none() => self.answer("link is not valid\r\n\r\nERROR\r\n"),
            _ => self.answer("\r\nERROR\r\n"),
        }
    }

    fn forward(&mut self, data: &[u8]) {
        self.sends += 1;
        let ok = match self.conn.as_mut() {
            Some(Conn::Tcp(c)) => write_all_nonblocking(c, data),
            Some(Conn::Udp(c)) => {
                self.sent_datagrams.push(data.to_vec());
                c.send(data).is_ok_and(|n| n == data.len())
            }
            None => false,
        };
        if ok {
            self.bytes_bridged += data.len();
            self.answer(&format!("\r\nRecv {} bytes\r\n\r\nSEND OK\r\n", data.len()));
        } else {
            self.answer("\r\nSEND FAIL\r\n");
        }
    }

    fn pump_socket(&mut self) {
        let conn = match self.conn.as_mut() {
            Some(Conn::Tcp(conn)) => conn,
            Some(Conn::Udp(_)) => return self.pump_datagrams(),
            None => return,
        };
        let mut buf = vec![0u8; self.max_ipd.max(1)];
        match conn.read(&mut buf) {
            Ok(0) => {
                self.conn = None;
                self.answer("CLOSED\r\n");
            }
            Ok(n) => {
                if let Some(sent) = self.connects.last_mut() {
                    sent.extend_from_slice(&buf[..n]);
                }
                self.frame(&buf[..n]);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => {
                self.conn = None;
                self.answer("CLOSED\r\n");
            }
        }
    }
}

impl FakeEsp {
    /// Each datagram that came is one frame, whatever its size. An ICMP error for
    /// an earlier send is not the firmware's business.
    fn pump_datagrams(&mut self) {
        let Some(Conn::Udp(socket)) = self.conn.as_mut() else {
            return;
        };
        let mut buf = vec![0u8; 65536];
        let Ok(n) = socket.recv(&mut buf) else {
            return;
        };
        if n == 0 {
            return;
        }
        let datagram = &buf[..n];
        if let Some(sent) = self.connects.last_mut() {
            sent.extend_from_slice(datagram);
        }
        if let Some(sent) = self.datagrams.last_mut() {
            sent.push(datagram.to_vec());
        }
        self.frame(datagram);
    }

    /// Emits one `+IPD` frame the way the firmware does (nothing after the
    /// payload), with the faults drawn for it.
    fn frame(&mut self, payload: &[u8]) {
        self.frames += 1;
        let mut bytes = format!("\r\n+IPD,{}:", payload.len()).into_bytes();
        let header = bytes.len();
        bytes.extend_from_slice(payload);
        // One fault per connection at most: two together (a length one too long,
        // and a stray OK right after its frame that it swallows) can look like a
        // good frame.
        if !self.faults.any() || self.faulted {
            return self.emit(&bytes);
        }
        let mut faulty = true;
        if self.faults.chance(self.faults.flip_length_digit) {
            let last = header - 2;
            let old = bytes[last] - b'0';
            if old == 9 {
                faulty = false;
            } else {
                bytes[last] = b'0' + old + 1 + self.faults.below(usize::from(9 - old)) as u8;
            }
        } else if self.faults.chance(self.faults.drop_header_byte) {
            let non_digits: Vec<usize> = (0..header)
                .filter(|&i| !bytes[i].is_ascii_digit())
                .collect();
            bytes.remove(non_digits[self.faults.below(non_digits.len())]);
        } else if self.faults.chance(self.faults.stray_line) {
            let line = STRAY_LINES[self.faults.below(STRAY_LINES.len())];
            if self.faults.below(2) == 0 {
                bytes.splice(0..0, line.iter().copied());
            } else {
                bytes.extend_from_slice(line);
            }
        } else if self.faults.chance(self.faults.overrun) {
            let at = self.faults.below(bytes.len());
            let run = (1 + self.faults.below(16)).min(bytes.len() - at);
            self.emit(&bytes[..at]);
            self.wire.borrow_mut().overrun_after_queued();
            self.emit(&bytes[at + run..]);
            self.faulty_frames += 1;
            self.faulted = true;
            return;
        } else {
            faulty = false;
        }
        self.emit(&bytes);
        if faulty {
            self.faulty_frames += 1;
            self.faulted = true;
        }
    }
}

impl Wire {
    /// The bytes queued so far arrive; the next ones come after a loss (one gap
    /// at a time: a second one before the first is read merges with it).
    fn overrun_after_queued(&mut self) {
        if self.overrun_at.is_none() {
            self.overrun_at = Some(self.to_board.len());
        }
    }
}

/// `"TCP","a.b.c.d",port` or `"UDP","a.b.c.d",port` to whether it is UDP, and
/// the address.
fn parse_start(args: &str) -> Option<(bool, SocketAddr)> {
    let mut parts = args.split(',');
    let udp = match parts.next()? {
        "\"TCP\"" => false,
        "\"UDP\"" => true,
        _ => return None,
    };
    let ip = parts.next()?.strip_prefix('"')?.strip_suffix('"')?;
    let port = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    Some((udp, format!("{ip}:{port}").parse().ok()?))
}

/// A short write to a loopback socket: its buffer is far larger than a test sends.
fn write_all_nonblocking(conn: &mut TcpStream, mut data: &[u8]) -> bool {
    for _ in 0..1000 {
        if data.is_empty() {
            return true;
        }
        match conn.write(data) {
            Ok(0) => return false,
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(1)),
            Err(_) => return false,
        }
    }
    false
}

/// A std echo server on 127.0.0.1, one thread per connection.
pub struct EchoServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (Arc::clone(&accepted), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        thread::spawn(move || echo(stream));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        Self {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn echo(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A peer on 127.0.0.1 that sends `data` to every connection, then keeps it open
/// (reading and dropping what comes) until the test ends.
pub struct Peer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    pub fn start(data: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            let mut conns = Vec::new();
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.write_all(&data);
                        conns.push(stream);
                    }
                    // Waits for the next connection; the modem's side does not
                    // depend on this timing.
                    Err(_) => thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port on 127.0.0.1 where nobody listens (bound, read, closed).
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// A std UDP echo server on 127.0.0.1: every datagram goes back to its sender.
pub struct UdpEchoServer {
    pub addr: SocketAddr,
    echoed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpEchoServer {
    pub fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let echoed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (Arc::clone(&echoed), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !halt.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    if socket.send_to(&buf[..n], from).is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Self {
            addr,
            echoed,
            stop,
            thread: Some(thread),
        }
    }

    pub fn echoed(&self) -> usize {
        self.echoed.load(Ordering::Relaxed)
    }
}

impl Drop for UdpEchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A UDP peer on 127.0.0.1 that answers the first datagram from each sender with
/// `datagrams`, in order.
pub struct UdpPeer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpPeer {
    pub fn start(datagrams: Vec<Vec<u8>>) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut senders = Vec::new();
            let mut buf = [0u8; 2048];
            while !halt.load(Ordering::Relaxed) {
                let Ok((_, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if senders.contains(&from) {
                    continue;
                }
                senders.push(from);
                for datagram in &datagrams {
                    let _ = socket.send_to(datagram, from);
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for UdpPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
