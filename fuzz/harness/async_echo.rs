//! Fuzz harness: `AsyncEchoServer` and `AsyncPeriodicClient` on the mock network
//! through the async traits (`MockNetwork::async_stack`), each future polled one
//! step at a time as the fuzzer's bytes say, on the mock clock.
//!
//! The set-up and the steps are the `echo` harness's (world.rs): raw clients
//! connect, send, read, close, reset or go silent; the clock jumps (also
//! backwards) before the server's or the client's future is polled; faults hit
//! the server's, a client's or the periodic client's host; a hog takes sockets;
//! the display fails; the screen goes off and on. The periodic client sends its
//! listed messages (the async client builds none at run time).
//!
//! After every step it asserts:
//!
//! - every raw client's received bytes are a prefix of what it sent on that
//!   connection;
//! - the server's counters equal its events: `accepted`, `rejected`, `denied`,
//!   `evicted`, `active` (at most `SLOTS`), and `bytes_out <= bytes_in <=` all
//!   bytes sent;
//! - the message line holds no control character;
//! - the periodic client never sees a mismatched echo, and its counts are
//!   consistent;
//! - at the end, with every fault cleared and the server polled until all in
//!   flight has moved, every raw client the server still serves has got back
//!   exactly what it sent;
//! - nothing panics.

#[path = "world.rs"]
mod world;

use core::future::Future;
use core::net::SocketAddr;
use core::pin::{pin, Pin};
use core::task::{Context, Waker};

use nal_echo::asynch::{AsyncEchoServer, AsyncPeriodicClient};
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::MockNetwork;
use nal_echo::time::MockClock;
use nal_echo::{ClientStats, ServerEvent};
use world::{
    check_all, client_config, jump, server_config, Cursor, Peers, RawClient, Tally, CLIENT_IP,
    MAX_STEPS, PERIODIC_IP, PIPE, SERVER_IP, SLOTS, SOCKETS, STRANGER_IP,
};

/// Polls after the schedule for everything in flight to be echoed: a slot moves
/// up to 8 rounds of its buffer before it yields, and at most `PIPE` bytes wait
/// towards it, plus a few polls to accept and close.
const DRAIN_ROUNDS: usize = PIPE / 16 / 8 + 8;

/// Runs one input.
pub fn run(data: &[u8]) {
    let mut cursor = Cursor { data };
    let setup = cursor.byte();
    let client_setup = [cursor.byte(), cursor.byte(), cursor.byte()];
    if setup & 1 == 0 {
        run_sized::<16>(setup, client_setup, &mut cursor);
    } else {
        run_sized::<2400>(setup, client_setup, &mut cursor);
    }
}

/// Polls a future once; it never ends by itself.
fn step<F: Future>(future: Pin<&mut F>) {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        future.poll(&mut cx).is_pending(),
        "a future ended by itself"
    );
}

fn run_sized<const BUF: usize>(setup: u8, client_setup: [u8; 3], cursor: &mut Cursor<'_>) {
    let net = MockNetwork::<SOCKETS, PIPE>::new_sized();
    let clock = MockClock::new();
    let display = RecordingDisplay::new();
    let server = AsyncEchoServer::<_, SLOTS, BUF>::sized(&display, server_config(setup));
    let server_stack = net.async_stack(SERVER_IP);
    let mut serving = pin!(server.run(&server_stack, &clock, clock.delay()));
    let mut client_config = client_config(client_setup);
    if client_config.messages.is_empty() {
        client_config.messages = nal_echo::TUTORIAL_MESSAGES;
    }
    let client = AsyncPeriodicClient::new(&clock, clock.delay(), client_config);
    let client_stack = net.async_stack(PERIODIC_IP);
    let mut talking = pin!(client.run(&client_stack));
    let mut peers = Peers::new(&net);
    let mut watch = Watch::default();
    let mut screen_on = setup & 0xC0 == 0xC0;
    server.set_screen_enabled(screen_on);
    // Listening from the start, so that connects reach it without a poll first.
    step(serving.as_mut());
    watch.drain(&server);

    for _ in 0..MAX_STEPS {
        if cursor.is_empty() {
            break;
        }
        let op = cursor.byte();
        if let Some(sent) = peers.step(op, &display, cursor) {
            watch.total_sent += sent;
        } else {
            match op & 0x1F {
                12..=16 => {
                    jump(&clock, cursor.byte());
                    step(serving.as_mut());
                }
                17..=19 => {
                    jump(&clock, cursor.byte());
                    step(talking.as_mut());
                }
                28 => {
                    screen_on = !screen_on;
                    server.set_screen_enabled(screen_on);
                }
                _ => {
                    // A busy loop: both poll a few times without time passing.
                    for _ in 0..3 {
                        step(serving.as_mut());
                        step(talking.as_mut());
                    }
                }
            }
        }
        watch.drain(&server);
        watch.check(&server, &peers.clients, &client.stats());
    }
    for host in [SERVER_IP, CLIENT_IP, STRANGER_IP] {
        net.stack(host).clear_faults();
    }
    for _ in 0..DRAIN_ROUNDS {
        step(serving.as_mut());
        watch.drain(&server);
        peers.receive_everything();
    }
    watch.check(&server, &peers.clients, &client.stats());
    for (i, client) in peers.clients.iter().enumerate() {
        let local = peers.local_addr(i);
        let served = local.is_some_and(|l| watch.served.contains(&l));
        assert!(
            !served || client.received == client.sent,
            "client {i}, still served, got {} of the {} bytes it sent back",
            client.received.len(),
            client.sent.len()
        );
    }
}

/// What the server's events add up to, and who it serves now.
#[derive(Default)]
struct Watch {
    tally: Tally,
    served: Vec<SocketAddr>,
    /// Bytes the raw clients handed to the network.
    total_sent: u64,
}

impl Watch {
    fn drain<const BUF: usize>(&mut self, server: &AsyncEchoServer<&RecordingDisplay, SLOTS, BUF>) {
        while let Some(event) = server.next_event() {
            match event {
                ServerEvent::Accepted { peer, .. } => self.served.push(peer),
                ServerEvent::Closed { peer, .. } => self.served.retain(|p| *p != peer),
                _ => {}
            }
            self.tally.count(event);
        }
    }

    fn check<const BUF: usize>(
        &self,
        server: &AsyncEchoServer<&RecordingDisplay, SLOTS, BUF>,
        clients: &[RawClient],
        client_stats: &ClientStats,
    ) {
        let message = server.with_screen(|screen| screen.message().to_string());
        check_all(
            clients,
            &server.stats(),
            &self.tally,
            self.served.len(),
            self.total_sent,
            &message,
            client_stats,
        );
    }
}
