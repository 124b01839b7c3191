//! Fuzz harness: `EchoServer` and `PeriodicClient` on the mock network, driven by a
//! schedule decoded from the fuzzer's bytes.
//!
//! The bytes are read with a small cursor (no `arbitrary`, so that this file also
//! compiles into the main crate's tests). The first byte picks the set-up: slot
//! buffers of 16 bytes (every receive decoded at once, slots full all the time) or
//! of 2400 bytes (long receives deferred to the redraw), idle timeout, refresh
//! interval, allowlist, whether the screen starts on, the periodic client's
//! messages (listed, or built at run time into its outbox by `poll_with`, some
//! longer than the room they get) and timeouts. Then every
//! byte (with the bytes it needs) is one step:
//!
//! - a raw client connects, sends a chunk, reads (any buffer size), closes (with or
//!   without unread echo, which resets), resets, or simply never reads again;
//! - the `EchoServer` or the `PeriodicClient` is polled after a time jump (none,
//!   small, a refresh interval, past the idle or echo timeout, or backwards);
//! - a fault is injected on the server's host or a client's host: WouldBlock, an
//!   error (`Reset`, `PipeClosed`, `NoSocket`, ...) for the next calls of an
//!   operation, short sends or receives, seeded chaos, a socket limit; a hog host
//!   takes or frees network-wide sockets; the display fails draws or flushes; the
//!   screen is switched off and on; the server's or the periodic client's stack
//!   answers `Ok(0)` to the next sends (taking nothing, as smoltcp does when its
//!   buffer is full) or to the next receives (an early end of stream).
//!
//! After every step it asserts:
//!
//! - every raw client's received bytes are a prefix of what it sent on that
//!   connection (a reconnect starts a new stream);
//! - the server's stats agree with its events and its slots: `accepted`,
//!   `rejected`, `denied` and `evicted` equal the events of their kind, `active`
//!   equals accepted minus closed and the occupied slots, at most `SLOTS`;
//!   `bytes_out <= bytes_in <=` all bytes clients sent (received bytes that were
//!   not yet echoed when their connection ended are dropped with it, so the gap
//!   between the two has no bound);
//! - the screen's message line holds no control character (C0, DEL, C1);
//! - the `PeriodicClient` never sees a mismatched echo (the server is exact), has
//!   `echoed <= sent`, `bytes_received <= bytes_sent`, and
//!   `consecutive_failures <= failures`;
//! - at the end, with every network fault cleared and the server polled until
//!   all in flight has moved, every raw client the server still serves has got
//!   back exactly what it sent (nothing lost, nothing held back);
//! - nothing panics (with overflow checks on in the fuzz build).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use core::cell::Cell;

use nal_echo::display::RecordingDisplay;
use nal_echo::embedded_nal::{nb, TcpClientStack, TcpFullStack};
use nal_echo::stack::mock::{MockError, MockNetwork, MockSocket, MockStack, Op};
use nal_echo::{
    ClientConfig, CloseReason, Duration, EchoServer, Instant, PeriodicClient, ServerConfig,
    ServerEvent, ServerStats,
};

/// Network-wide sockets: few, so that the hog can exhaust them.
const SOCKETS: usize = 14;
/// Receive buffer of each mock socket: small, so that a client that never reads
/// fills it and the server sees its sends blocked.
const PIPE: usize = 1024;
/// Server slots: few, so that all are busy and connections are rejected.
const SLOTS: usize = 2;
/// Raw clients; one more than slots, so that one is rejected or waits.
const CLIENTS: usize = 3;
/// Steps per input, so that one execution stays cheap.
const MAX_STEPS: usize = 200;
/// Polls after the schedule, with the faults cleared, for everything in flight to
/// be echoed: a slot moves at most `8 * BUF` bytes a poll (8 rounds of a buffer),
/// and at most `PIPE` bytes wait towards it, plus one poll to accept.
const DRAIN_ROUNDS: usize = PIPE / 16 / 8 + 4;
/// Largest chunk a raw client sends or reads at once.
const MAX_CHUNK: usize = 700;

const PORT: u16 = 5001;
const SERVER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
/// Raw clients 0 and 2 live here.
const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PERIODIC_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
/// Raw client 1 lives here; it is not on the allowlist when there is one.
const STRANGER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 4));
/// Takes sockets to exhaust the network's table.
const HOG_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));

/// Messages of the periodic client: the tutorial's, with an empty one and
/// controls, and one longer than a mock socket's buffer.
const MESSAGES_SHORT: &[&[u8]] = &[
    b"Hello Handbit",
    b"",
    b"\x1b[31mred\x07\r\n",
    "掌控板".as_bytes(),
];
const LONG: [u8; 1500] = long_message();
/// The periodic client's outbox for messages built at run time.
const OUTBOX: usize = 24;
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

/// Reads the fuzzer's bytes; once they run out every read gives zero.
struct Cursor<'a> {
    data: &'a [u8],
}

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `n` bytes of the input itself, as data to send.
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut cursor = Cursor { data };
    let setup = cursor.byte();
    if setup & 1 == 0 {
        World::<16>::new(setup, &mut cursor).run(&mut cursor);
    } else {
        World::<2400>::new(setup, &mut cursor).run(&mut cursor);
    }
}

/// A raw client and the stream of its current connection.
#[derive(Default)]
struct RawClient {
    socket: Option<MockSocket>,
    sent: Vec<u8>,
    received: Vec<u8>,
}

/// What the server's events add up to.
#[derive(Default)]
struct Tally {
    accepted: u32,
    closed: u32,
    rejected: u32,
    denied: u32,
    evicted: u32,
}

struct World<const BUF: usize> {
    setup: u8,
    /// Bytes of the PeriodicClient's config chosen in `new`.
    client_setup: [u8; 3],
    /// Bytes all clients (raw and periodic) handed to the network.
    total_sent: u64,
}

impl<const BUF: usize> World<BUF> {
    fn new(setup: u8, cursor: &mut Cursor<'_>) -> Self {
        Self {
            setup,
            client_setup: [cursor.byte(), cursor.byte(), cursor.byte()],
            total_sent: 0,
        }
    }

    fn server_config(&self) -> ServerConfig {
        let mut config = ServerConfig::default();
        config.port = PORT;
        config.idle_timeout = match (self.setup >> 1) & 3 {
            0 => None,
            1 => Some(Duration::from_millis(0)),
            2 => Some(Duration::from_millis(50)),
            _ => Some(Duration::from_secs(60)),
        };
        config.refresh_interval = Duration::from_millis(u64::from((self.setup >> 3) & 3) * 50);
        if self.setup & 0x20 != 0 {
            let _ = config.allowlist.push(CLIENT_IP);
            let _ = config.allowlist.push(PERIODIC_IP);
        }
        config
    }

    fn client_config(&self) -> ClientConfig {
        let [messages, period, timeouts] = self.client_setup;
        let mut config = ClientConfig::new(SocketAddr::new(SERVER_IP, PORT));
        config.messages = match messages % 4 {
            0 => nal_echo::TUTORIAL_MESSAGES,
            1 => MESSAGES_SHORT,
            2 => MESSAGES_LONG,
            // Built at run time instead (`poll_with`); no listed ones.
            _ => &[],
        };
        config.period = Duration::from_millis(u64::from(period) * 4);
        config.connect_timeout = Duration::from_millis(u64::from(timeouts & 0x0F) * 20);
        config.echo_timeout = Duration::from_millis(u64::from(timeouts >> 4) * 20);
        config.backoff.initial = Duration::from_millis(u64::from(messages >> 2));
        config.seed = u32::from(messages);
        config
    }

    fn run(&mut self, cursor: &mut Cursor<'_>) {
        let net = MockNetwork::<SOCKETS, PIPE>::new_sized();
        let clock = nal_echo::time::MockClock::new();
        let display = RecordingDisplay::new();
        let (server_zeros, periodic_zeros) = (Zeros::default(), Zeros::default());
        let mut server = EchoServer::<_, _, SLOTS, BUF>::sized(
            ZeroingStack::new(net.stack(SERVER_IP), &server_zeros),
            &display,
            self.server_config(),
        );
        let periodic_stack = ZeroingStack::new(net.stack(PERIODIC_IP), &periodic_zeros);
        let mut periodic = PeriodicClient::<_, _, OUTBOX>::with_outbox(
            periodic_stack,
            &clock,
            self.client_config(),
        );
        let mut reports = Reports {
            built: self.client_setup[0] % 4 == 3,
            count: 0,
        };
        let mut client_stacks = [net.stack(CLIENT_IP), net.stack(STRANGER_IP)];
        let mut hog = net.stack(HOG_IP);
        let mut hogged: Vec<MockSocket> = Vec::new();
        let mut clients: [RawClient; CLIENTS] = Default::default();
        let mut tally = Tally::default();
        // Drawing costs more than everything else in a step, so most schedules start
        // with the screen off; one step switches it on (and off).
        let mut screen_on = self.setup & 0xC0 == 0xC0;
        server.set_screen_enabled(screen_on);
        // Listening from the start, so that connects reach it without a poll first.
        let _ = server.poll(clock.now_instant());
        drain_events(&mut server, &mut tally);

        for _ in 0..MAX_STEPS {
            if cursor.is_empty() {
                break;
            }
            let op = cursor.byte();
            let which = usize::from(op >> 5) % CLIENTS;
            let stack = &mut client_stacks[which % 2];
            match op & 0x1F {
                0..=2 => self.connect(stack, &mut clients[which]),
                3..=6 => self.send(stack, &mut clients[which], cursor),
                7..=9 => receive(stack, &mut clients[which], cursor),
                10 => close(stack, &mut clients[which]),
                11 => {
                    if let Some(socket) = &clients[which].socket {
                        stack.reset(socket);
                    }
                }
                12..=16 => {
                    jump(&clock, cursor.byte());
                    let _ = server.poll(clock.now_instant());
                    drain_events(&mut server, &mut tally);
                }
                17..=19 => {
                    jump(&clock, cursor.byte());
                    let _ = reports.poll(&mut periodic);
                }
                20..=22 => inject(&net.stack(SERVER_IP), cursor),
                23 | 24 => inject(stack, cursor),
                25 => inject(&net.stack(PERIODIC_IP), cursor),
                26 => hog_sockets(&mut hog, &mut hogged, cursor.byte()),
                27 => {
                    let n = u32::from(cursor.byte() & 3);
                    if op & 0x20 == 0 {
                        display.fail_next_draw(n);
                    } else {
                        display.fail_next_flush(n);
                    }
                }
                28 => {
                    screen_on = !screen_on;
                    server.set_screen_enabled(screen_on);
                }
                29 => {
                    // The server side resets the connection of this client.
                    if let Some(addr) = clients[which]
                        .socket
                        .as_ref()
                        .and_then(|s| stack.local_addr(s))
                    {
                        net.reset_connection(addr);
                    }
                }
                30 => {
                    let zeros = if op & 0x20 == 0 {
                        &server_zeros
                    } else {
                        &periodic_zeros
                    };
                    zeros.set(cursor.byte());
                }
                _ => {
                    // A busy loop: everyone polls a few times without time passing.
                    for _ in 0..3 {
                        let _ = server.poll(clock.now_instant());
                        drain_events(&mut server, &mut tally);
                        let _ = reports.poll(&mut periodic);
                    }
                }
            }
            self.check(&server, &tally, &clients, &periodic);
        }
        for host in [SERVER_IP, CLIENT_IP, STRANGER_IP] {
            net.stack(host).clear_faults();
        }
        server_zeros.set(0);
        for _ in 0..DRAIN_ROUNDS {
            let _ = server.poll(clock.now_instant());
            drain_events(&mut server, &mut tally);
            for (i, client) in clients.iter_mut().enumerate() {
                receive_everything(&mut client_stacks[i % 2], client);
            }
        }
        self.check(&server, &tally, &clients, &periodic);
        for (i, client) in clients.iter().enumerate() {
            let stack = &client_stacks[i % 2];
            let local = client.socket.as_ref().and_then(|s| stack.local_addr(s));
            let served = local.is_some_and(|l| server.peers().flatten().any(|p| p == l));
            assert!(
                !served || client.received == client.sent,
                "client {i}, still served, got {} of the {} bytes it sent back",
                client.received.len(),
                client.sent.len()
            );
        }
    }

    /// A new connection, and so a new stream; an old socket is closed first.
    fn connect<const S: usize, const P: usize>(
        &mut self,
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

    fn send<const S: usize, const P: usize>(
        &mut self,
        stack: &mut MockStack<'_, S, P>,
        client: &mut RawClient,
        cursor: &mut Cursor<'_>,
    ) {
        let len = usize::from(cursor.u16()) % (MAX_CHUNK + 1);
        let fill = cursor.byte();
        // Input bytes first (so the fuzzer controls the text), then a pattern.
        let mut chunk = cursor.take(len.min(64)).to_vec();
        chunk.extend((chunk.len()..len).map(|i| fill.wrapping_add(i as u8)));
        let Some(socket) = client.socket.as_mut() else {
            return;
        };
        if let Ok(n) = stack.send(socket, &chunk) {
            assert!(n <= chunk.len(), "send took {n} of {} bytes", chunk.len());
            client.sent.extend_from_slice(&chunk[..n]);
            self.total_sent += n as u64;
        }
    }

    fn check<Stack, Display, Timer>(
        &self,
        server: &EchoServer<Stack, Display, SLOTS, BUF>,
        tally: &Tally,
        clients: &[RawClient],
        periodic: &PeriodicClient<ZeroingStack<'_>, Timer, OUTBOX>,
    ) where
        Stack: nal_echo::embedded_nal::TcpFullStack,
        Display: nal_echo::Flush,
        Timer: nal_echo::Clock,
    {
        for (i, c) in clients.iter().enumerate() {
            assert!(
                c.sent.starts_with(&c.received),
                "client {i} got bytes it did not send: sent {:?}, received {:?}",
                c.sent,
                c.received
            );
        }
        check_server_stats(server.stats(), tally, server.peers().flatten().count());
        let s = server.stats();
        let client_stats = periodic.stats();
        let all_sent = self.total_sent + client_stats.bytes_sent;
        assert!(
            s.bytes_in <= all_sent,
            "server got {} of {all_sent} bytes sent",
            s.bytes_in
        );
        let message = server.screen().message();
        assert!(
            !message.chars().any(char::is_control),
            "control character on the screen: {message:?}"
        );
        assert_eq!(
            client_stats.mismatches, 0,
            "echo mismatch: {client_stats:?}"
        );
        assert!(client_stats.echoed <= client_stats.sent, "{client_stats:?}");
        assert!(
            client_stats.bytes_received <= client_stats.bytes_sent,
            "{client_stats:?}"
        );
        assert!(
            client_stats.consecutive_failures <= client_stats.failures,
            "{client_stats:?}"
        );
    }
}

fn check_server_stats(s: &ServerStats, tally: &Tally, occupied: usize) {
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

/// Counts the events of the last poll. A poll makes fewer events than the queue
/// holds (at most `SLOTS` closes and `SLOTS + 1` accepts), so none is lost.
fn drain_events<Stack, Display, const BUF: usize>(
    server: &mut EchoServer<Stack, Display, SLOTS, BUF>,
    tally: &mut Tally,
) where
    Stack: nal_echo::embedded_nal::TcpFullStack,
    Display: nal_echo::Flush,
{
    while let Some(event) = server.next_event() {
        match event {
            ServerEvent::Accepted { .. } => tally.accepted += 1,
            ServerEvent::Closed { reason, .. } => {
                tally.closed += 1;
                if reason == CloseReason::Idle {
                    tally.evicted += 1;
                }
            }
            ServerEvent::Rejected { .. } => tally.rejected += 1,
            ServerEvent::Denied { .. } => tally.denied += 1,
            _ => {}
        }
    }
}

fn receive<const S: usize, const P: usize>(
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
fn receive_everything<const S: usize, const P: usize>(
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
fn close<const S: usize, const P: usize>(stack: &mut MockStack<'_, S, P>, client: &mut RawClient) {
    if let Some(socket) = client.socket.take() {
        let _ = stack.close(socket);
    }
    client.sent.clear();
    client.received.clear();
}

fn jump(clock: &nal_echo::time::MockClock, how: u8) {
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

const OPS: [Op; 8] = [
    Op::Socket,
    Op::Connect,
    Op::Send,
    Op::Receive,
    Op::Accept,
    Op::Close,
    Op::Bind,
    Op::Listen,
];
const ERRORS: [MockError; 7] = [
    MockError::NoSocket,
    MockError::AddrInUse,
    MockError::ConnectionRefused,
    MockError::PipeClosed,
    MockError::Reset,
    MockError::InvalidState,
    MockError::Injected,
];

/// One fault for a host, chosen by the next bytes.
fn inject<const S: usize, const P: usize>(host: &MockStack<'_, S, P>, cursor: &mut Cursor<'_>) {
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
fn hog_sockets<const S: usize, const P: usize>(
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

/// `Ok(0)` answers due from a [`ZeroingStack`]: (sends, receives).
#[derive(Default)]
struct Zeros(Cell<(u8, u8)>);

impl Zeros {
    /// Low nibble: sends, high nibble: receives.
    fn set(&self, counts: u8) {
        self.0.set((counts & 0x0F, counts >> 4));
    }

    fn take_send(&self) -> bool {
        let (sends, receives) = self.0.get();
        self.0.set((sends.saturating_sub(1), receives));
        sends > 0
    }

    fn take_receive(&self) -> bool {
        let (sends, receives) = self.0.get();
        self.0.set((sends, receives.saturating_sub(1)));
        receives > 0
    }
}

/// A mock stack whose sends and receives answer `Ok(0)` when told to: the one
/// answer the mock itself never gives on an open connection.
struct ZeroingStack<'a> {
    inner: MockStack<'a, SOCKETS, PIPE>,
    zeros: &'a Zeros,
}

impl<'a> ZeroingStack<'a> {
    fn new(inner: MockStack<'a, SOCKETS, PIPE>, zeros: &'a Zeros) -> Self {
        Self { inner, zeros }
    }
}

impl TcpClientStack for ZeroingStack<'_> {
    type TcpSocket = MockSocket;
    type Error = MockError;

    fn socket(&mut self) -> Result<MockSocket, MockError> {
        self.inner.socket()
    }

    fn connect(
        &mut self,
        socket: &mut MockSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), MockError> {
        self.inner.connect(socket, remote)
    }

    fn send(&mut self, socket: &mut MockSocket, buffer: &[u8]) -> nb::Result<usize, MockError> {
        if !buffer.is_empty() && self.zeros.take_send() {
            return Ok(0);
        }
        self.inner.send(socket, buffer)
    }

    fn receive(
        &mut self,
        socket: &mut MockSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, MockError> {
        if !buffer.is_empty() && self.zeros.take_receive() {
            return Ok(0);
        }
        self.inner.receive(socket, buffer)
    }

    fn close(&mut self, socket: MockSocket) -> Result<(), MockError> {
        self.inner.close(socket)
    }
}

impl TcpFullStack for ZeroingStack<'_> {
    fn bind(&mut self, socket: &mut MockSocket, local_port: u16) -> Result<(), MockError> {
        self.inner.bind(socket, local_port)
    }

    fn listen(&mut self, socket: &mut MockSocket) -> Result<(), MockError> {
        self.inner.listen(socket)
    }

    fn accept(
        &mut self,
        socket: &mut MockSocket,
    ) -> nb::Result<(MockSocket, SocketAddr), MockError> {
        self.inner.accept(socket)
    }
}

/// The periodic client's messages when they are built at run time: a count, in
/// messages of changing length, some longer than the room they are given (the
/// client must send only the room), some empty.
struct Reports {
    built: bool,
    count: u32,
}

impl Reports {
    fn poll<Timer: nal_echo::Clock>(
        &mut self,
        client: &mut PeriodicClient<ZeroingStack<'_>, Timer, OUTBOX>,
    ) -> Result<nal_echo::Progress, nal_echo::ClientError<nal_echo::stack::mock::MockError>> {
        if !self.built {
            return client.poll();
        }
        client.poll_with(|room| {
            self.count = self.count.wrapping_add(1);
            let text = format!("seen {} ", self.count);
            let claimed = (self.count as usize * 7) % 40;
            for (i, b) in room.iter_mut().take(claimed).enumerate() {
                *b = text.as_bytes()[i % text.len()];
            }
            claimed
        })
    }
}
