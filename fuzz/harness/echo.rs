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

#[path = "world.rs"]
mod world;

use core::cell::Cell;
use core::net::SocketAddr;

use nal_echo::display::RecordingDisplay;
use nal_echo::embedded_nal::{nb, TcpClientStack, TcpFullStack};
use nal_echo::stack::mock::{MockError, MockNetwork, MockSocket, MockStack};
use nal_echo::{ClientConfig, EchoServer, PeriodicClient, ServerConfig};
use world::{
    check_all, client_config, jump, server_config, Cursor, Peers, RawClient, Tally, CLIENT_IP,
    MAX_STEPS, PERIODIC_IP, PIPE, SERVER_IP, SLOTS, SOCKETS, STRANGER_IP,
};

/// Polls after the schedule, with the faults cleared, for everything in flight to
/// be echoed: a slot moves at most `8 * BUF` bytes a poll (8 rounds of a buffer),
/// and at most `PIPE` bytes wait towards it, plus one poll to accept.
const DRAIN_ROUNDS: usize = PIPE / 16 / 8 + 4;
/// The periodic client's outbox for messages built at run time.
const OUTBOX: usize = 24;

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
        server_config(self.setup)
    }

    fn client_config(&self) -> ClientConfig {
        client_config(self.client_setup)
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
        let mut peers = Peers::new(&net);
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
            if let Some(sent) = peers.step(op, &display, cursor) {
                self.total_sent += sent;
                self.check(&server, &tally, &peers.clients, &periodic);
                continue;
            }
            match op & 0x1F {
                12..=16 => {
                    jump(&clock, cursor.byte());
                    let _ = server.poll(clock.now_instant());
                    drain_events(&mut server, &mut tally);
                }
                17..=19 => {
                    jump(&clock, cursor.byte());
                    let _ = reports.poll(&mut periodic);
                }
                28 => {
                    screen_on = !screen_on;
                    server.set_screen_enabled(screen_on);
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
            self.check(&server, &tally, &peers.clients, &periodic);
        }
        for host in [SERVER_IP, CLIENT_IP, STRANGER_IP] {
            net.stack(host).clear_faults();
        }
        server_zeros.set(0);
        for _ in 0..DRAIN_ROUNDS {
            let _ = server.poll(clock.now_instant());
            drain_events(&mut server, &mut tally);
            peers.receive_everything();
        }
        self.check(&server, &tally, &peers.clients, &periodic);
        for (i, client) in peers.clients.iter().enumerate() {
            let local = peers.local_addr(i);
            let served = local.is_some_and(|l| server.peers().flatten().any(|p| p == l));
            assert!(
                !served || client.received == client.sent,
                "client {i}, still served, got {} of the {} bytes it sent back",
                client.received.len(),
                client.sent.len()
            );
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
        check_all(
            clients,
            server.stats(),
            tally,
            server.peers().flatten().count(),
            self.total_sent,
            server.screen().message(),
            periodic.stats(),
        );
    }
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
        tally.count(event);
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
