//! What the `echo` and `async_echo` harnesses share: the network's sizes and
//! hosts, the input cursor, the raw clients and what they do, the faults, and the
//! check of the server's counters against its events.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use nal_echo::display::RecordingDisplay;
use nal_echo::embedded_nal::{nb, TcpClientStack};
use nal_echo::stack::mock::{MockError, MockNetwork, MockSocket, MockStack, Op};
use nal_echo::{
    ClientConfig, ClientStats, CloseReason, Duration, Instant, ServerConfig, ServerEvent,
    ServerStats,
};

/// Network-wide sockets: few, so that the hog can exhaust them.
pub const SOCKETS: usize = 14;
/// Receive buffer of each mock socket: small, so that a client that never reads
/// fills it and the server sees its sends blocked.
pub const PIPE: usize = 1024;
/// Server slots: few, so that all are busy and connections are rejected.
pub const SLOTS: usize = 2;
/// Raw clients; one more than slots, so that one is rejected or waits.
pub const CLIENTS: usize = 3;
/// Steps per input, so that one execution stays cheap.
pub const MAX_STEPS: usize = 200;
/// Largest chunk a raw client sends or reads at once.
pub const MAX_CHUNK: usize = 700;

pub const PORT: u16 = 5001;
pub const SERVER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
/// Raw clients 0 and 2 live here.
pub const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
pub const PERIODIC_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
/// Raw client 1 lives here; it is not on the allowlist when there is one.
pub const STRANGER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 4));
/// Takes sockets to exhaust the network's table.
pub const HOG_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));

/// Reads the fuzzer's bytes; once they run out every read gives zero.
pub struct Cursor<'a> {
    pub data: &'a [u8],
}

impl Cursor<'_> {
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `n` bytes of the input itself, as data to send.
    pub fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// A raw client and the stream of its current connection.
#[derive(Default)]
pub struct RawClient {
    pub socket: Option<MockSocket>,
    pub sent: Vec<u8>,
    pub received: Vec<u8>,
}

/// What the server's events add up to.
#[derive(Default)]
pub struct Tally {
    pub accepted: u32,
    pub closed: u32,
    pub rejected: u32,
    pub denied: u32,
    pub evicted: u32,
}

impl Tally {
    /// Adds one event of the server.
    pub fn count(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Accepted { .. } => self.accepted += 1,
            ServerEvent::Closed { reason, .. } => {
                self.closed += 1;
                if reason == CloseReason::Idle {
                    self.evicted += 1;
                }
            }
            ServerEvent::Rejected { .. } => self.rejected += 1,
            ServerEvent::Denied { .. } => self.denied += 1,
            _ => {}
        }
    }
}

/// A new connection, and so a new stream; an old socket is closed first.
pub fn connect<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    client: &mut RawClient,
) {
    close(stack, client);
    let Ok(mut socket) = stack.socket() else {
        return;
    };
    // A connect that blocks is given up, as a client with a short timeout would.
    match stack.connect(&mut socket, SocketAddr::new(SERVER_IP, PORT)) {
        Ok(()) => client.socket = Some(socket),
        Err(_) => {
            let _ = stack.close(socket);
        }
    }
}

pub fn check_server_stats(s: &ServerStats, tally: &Tally, occupied: usize) {
    assert_eq!(s.accepted, tally.accepted, "accepted: {s:?}");
    assert_eq!(s.rejected, tally.rejected, "rejected: {s:?}");
    assert_eq!(s.denied, tally.denied, "denied: {s:?}");
    assert_eq!(s.evicted, tally.evicted, "evicted: {s:?}");
    assert_eq!(s.active, tally.accepted - tally.closed, "active: {s:?}");
    assert_eq!(s.active as usize, occupied, "active vs slots: {s:?}");
    assert!(occupied <= SLOTS);
    assert!(
        s.bytes_out <= s.bytes_in,
        "echoed more than received: {s:?}"
    );
}

/// Sends a chunk: up to 64 input bytes first (so the fuzzer controls the text),
/// then a pattern. Returns how many bytes the stack took.
pub fn send<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    client: &mut RawClient,
    cursor: &mut Cursor<'_>,
) -> usize {
    let len = usize::from(cursor.u16()) % (MAX_CHUNK + 1);
    let fill = cursor.byte();
    let mut chunk = cursor.take(len.min(64)).to_vec();
    chunk.extend((chunk.len()..len).map(|i| fill.wrapping_add(i as u8)));
    let Some(socket) = client.socket.as_mut() else {
        return 0;
    };
    match stack.send(socket, &chunk) {
        Ok(n) => {
            assert!(n <= chunk.len(), "send took {n} of {} bytes", chunk.len());
            client.sent.extend_from_slice(&chunk[..n]);
            n
        }
        Err(_) => 0,
    }
}

pub fn receive<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    client: &mut RawClient,
    cursor: &mut Cursor<'_>,
) {
    let mut buf = vec![0u8; usize::from(cursor.u16()) % (MAX_CHUNK + 1)];
    let Some(socket) = client.socket.as_mut() else {
        return;
    };
    match stack.receive(socket, &mut buf) {
        Ok(n) => {
            assert!(n <= buf.len(), "receive gave {n} into {} bytes", buf.len());
            client.received.extend_from_slice(&buf[..n]);
        }
        Err(nb::Error::WouldBlock | nb::Error::Other(_)) => {}
    }
}

/// Reads what has arrived for the client, without limits.
pub fn receive_everything<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    client: &mut RawClient,
) {
    let Some(socket) = client.socket.as_mut() else {
        return;
    };
    let mut buf = [0u8; PIPE];
    while let Ok(n @ 1..) = stack.receive(socket, &mut buf) {
        client.received.extend_from_slice(&buf[..n]);
    }
}

/// Ends the client's stream; unread echo makes the mock reset the server's end.
pub fn close<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    client: &mut RawClient,
) {
    if let Some(socket) = client.socket.take() {
        let _ = stack.close(socket);
    }
    client.sent.clear();
    client.received.clear();
}

pub fn jump(clock: &nal_echo::time::MockClock, how: u8) {
    let by = match how >> 6 {
        0 => u64::from(how & 0x3F),
        1 => u64::from(how & 0x3F) * 10,
        2 => u64::from(how & 0x3F) * 1000,
        // Backwards, as a bad clock may go.
        _ => {
            let back = u64::from(how & 0x3F) * 10;
            clock.set(Instant::from_millis(
                clock.now_instant().total_millis().saturating_sub(back),
            ));
            return;
        }
    };
    clock.advance(Duration::from_millis(by));
}

pub const OPS: [Op; 8] = [
    Op::Socket,
    Op::Connect,
    Op::Send,
    Op::Receive,
    Op::Accept,
    Op::Close,
    Op::Bind,
    Op::Listen,
];
pub const ERRORS: [MockError; 7] = [
    MockError::NoSocket,
    MockError::AddrInUse,
    MockError::ConnectionRefused,
    MockError::PipeClosed,
    MockError::Reset,
    MockError::InvalidState,
    MockError::Injected,
];

/// One fault for a host, chosen by the next bytes.
pub fn inject<const S: usize, const P: usize>(host: &MockStack<'_, S, P>, cursor: &mut Cursor<'_>) {
    let kind = cursor.byte();
    let arg = cursor.byte();
    let op = OPS[usize::from(arg) % OPS.len()];
    let count = u32::from(arg >> 3) % 4 + 1;
    match kind % 9 {
        0 => host.would_block_next(op, count),
        1 => host.fail_next(op, count, ERRORS[usize::from(kind >> 4) % ERRORS.len()]),
        2 => host.limit_send(Some(usize::from(arg % 8))),
        3 => host.limit_receive(Some(usize::from(arg % 8))),
        4 => {
            host.limit_send(None);
            host.limit_receive(None);
        }
        5 => host.chaos(u64::from(arg), u16::from(kind >> 4) * 60),
        6 => host.chaos_off(),
        7 => host.socket_limit(Some(usize::from(arg % 4))),
        _ => host.clear_faults(),
    }
}

/// Takes (`how` even) or frees sockets of the network-wide table.
pub fn hog_sockets<const S: usize, const P: usize>(
    hog: &mut MockStack<'_, S, P>,
    hogged: &mut Vec<MockSocket>,
    how: u8,
) {
    let n = usize::from(how >> 1) % (S + 1);
    if how & 1 == 0 {
        for _ in 0..n {
            match hog.socket() {
                Ok(s) => hogged.push(s),
                Err(_) => break,
            }
        }
    } else {
        for s in hogged.drain(..n.min(hogged.len())) {
            let _ = hog.close(s);
        }
    }
}

/// Messages of the periodic client: the tutorial's, with an empty one and
/// controls, and one longer than a mock socket's buffer.
const MESSAGES_SHORT: &[&[u8]] = &[
    b"Hello Handbit",
    b"",
    b"\x1b[31mred\x07\r\n",
    "掌控板".as_bytes(),
];
const LONG: [u8; 1500] = long_message();
const MESSAGES_LONG: &[&[u8]] = &[&LONG, b"x"];

const fn long_message() -> [u8; 1500] {
    let mut m = [0u8; 1500];
    let mut i = 0;
    while i < m.len() {
        m[i] = (i % 251) as u8;
        i += 1;
    }
    m
}

/// The server's settings that the input's first byte picks.
pub fn server_config(setup: u8) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.port = PORT;
    config.idle_timeout = match (setup >> 1) & 3 {
        0 => None,
        1 => Some(Duration::from_millis(0)),
        2 => Some(Duration::from_millis(50)),
        _ => Some(Duration::from_secs(60)),
    };
    config.refresh_interval = Duration::from_millis(u64::from((setup >> 3) & 3) * 50);
    if setup & 0x20 != 0 {
        let _ = config.allowlist.push(CLIENT_IP);
        let _ = config.allowlist.push(PERIODIC_IP);
    }
    config
}

/// The periodic client's settings that the input's next three bytes pick.
pub fn client_config(client_setup: [u8; 3]) -> ClientConfig {
    let [messages, period, timeouts] = client_setup;
    let mut config = ClientConfig::new(SocketAddr::new(SERVER_IP, PORT));
    config.messages = match messages % 4 {
        0 => nal_echo::TUTORIAL_MESSAGES,
        1 => MESSAGES_SHORT,
        2 => MESSAGES_LONG,
        // Built at run time instead (`poll_with`, poll harness); none for async.
        _ => &[],
    };
    config.period = Duration::from_millis(u64::from(period) * 4);
    config.connect_timeout = Duration::from_millis(u64::from(timeouts & 0x0F) * 20);
    config.echo_timeout = Duration::from_millis(u64::from(timeouts >> 4) * 20);
    config.backoff.initial = Duration::from_millis(u64::from(messages >> 2));
    config.seed = u32::from(messages);
    config
}

/// The network side of a harness: its hosts, the raw clients and the hog.
pub struct Peers<'n> {
    pub net: &'n MockNetwork<SOCKETS, PIPE>,
    pub stacks: [MockStack<'n, SOCKETS, PIPE>; 2],
    pub clients: [RawClient; CLIENTS],
    pub hog: MockStack<'n, SOCKETS, PIPE>,
    pub hogged: Vec<MockSocket>,
}

impl<'n> Peers<'n> {
    pub fn new(net: &'n MockNetwork<SOCKETS, PIPE>) -> Self {
        Self {
            net,
            stacks: [net.stack(CLIENT_IP), net.stack(STRANGER_IP)],
            clients: Default::default(),
            hog: net.stack(HOG_IP),
            hogged: Vec::new(),
        }
    }

    /// Takes step `op` if it is one that both harnesses take alike (a raw
    /// client's action, a fault, the hog, the display failing, a reset from the
    /// server's side); returns the bytes a client handed to the network, or
    /// `None` for a step of the harness's own.
    pub fn step(
        &mut self,
        op: u8,
        display: &RecordingDisplay,
        cursor: &mut Cursor<'_>,
    ) -> Option<u64> {
        let which = usize::from(op >> 5) % CLIENTS;
        let stack = &mut self.stacks[which % 2];
        let client = &mut self.clients[which];
        match op & 0x1F {
            0..=2 => connect(stack, client),
            3..=6 => return Some(send(stack, client, cursor) as u64),
            7..=9 => receive(stack, client, cursor),
            10 => close(stack, client),
            11 => {
                if let Some(socket) = &client.socket {
                    stack.reset(socket);
                }
            }
            20..=22 => inject(&self.net.stack(SERVER_IP), cursor),
            23 | 24 => inject(stack, cursor),
            25 => inject(&self.net.stack(PERIODIC_IP), cursor),
            26 => hog_sockets(&mut self.hog, &mut self.hogged, cursor.byte()),
            27 => {
                let n = u32::from(cursor.byte() & 3);
                if op & 0x20 == 0 {
                    display.fail_next_draw(n);
                } else {
                    display.fail_next_flush(n);
                }
            }
            29 => {
                // The server side resets the connection of this client.
                if let Some(addr) = client.socket.as_ref().and_then(|s| stack.local_addr(s)) {
                    self.net.reset_connection(addr);
                }
            }
            _ => return None,
        }
        Some(0)
    }

    /// Reads what has arrived for every raw client.
    pub fn receive_everything(&mut self) {
        for (i, client) in self.clients.iter_mut().enumerate() {
            receive_everything(&mut self.stacks[i % 2], client);
        }
    }

    /// Each raw client's address, while it has a socket.
    pub fn local_addr(&self, i: usize) -> Option<SocketAddr> {
        let socket = self.clients.get(i)?.socket.as_ref()?;
        self.stacks[i % 2].local_addr(socket)
    }
}

/// What both harnesses check after every step: each raw client got only a prefix
/// of what it sent, the server's counters equal its events (`occupied`: the
/// slots in use), it received no more than all clients sent (`raw_sent` by the
/// raw clients), no control character is on the message line, and the periodic
/// client saw no mismatch and counts consistently.
pub fn check_all(
    clients: &[RawClient],
    server: &ServerStats,
    tally: &Tally,
    occupied: usize,
    raw_sent: u64,
    message: &str,
    client: &ClientStats,
) {
    for (i, c) in clients.iter().enumerate() {
        assert!(
            c.sent.starts_with(&c.received),
            "client {i} got bytes it did not send: sent {:?}, received {:?}",
            c.sent,
            c.received
        );
    }
    check_server_stats(server, tally, occupied);
    let all_sent = raw_sent + client.bytes_sent;
    assert!(
        server.bytes_in <= all_sent,
        "server got {} of {all_sent} bytes sent",
        server.bytes_in
    );
    assert!(
        !message.chars().any(char::is_control),
        "control character on the screen: {message:?}"
    );
    assert_eq!(client.mismatches, 0, "echo mismatch: {client:?}");
    assert!(client.echoed <= client.sent, "{client:?}");
    assert!(client.bytes_received <= client.bytes_sent, "{client:?}");
    assert!(client.consecutive_failures <= client.failures, "{client:?}");
}
