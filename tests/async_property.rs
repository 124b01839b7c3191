//! Properties of the async server on the fault-injecting mock (`async_stack`),
//! driven step by step on the mock clock: whatever the chunking, `WouldBlock`,
//! short sends and receives, every client gets back exactly what it sent, in
//! order; whatever clients do (send, stop reading, close, reset, come back),
//! none ever gets a byte it did not send, and the server's counts add up; the
//! message line shows the newest message as clients come, send, close and come
//! back; and the async client verifies every echo of the async server.

mod common;

use core::future::Future;
use core::pin::{pin, Pin};
use core::task::{Context, Waker};

use common::saved::saving_failures;
use common::streams::{client_data, echo_exactly_through, newest_message_through, turn, Turn};
use common::{client_ip, server_addr, SERVER_IP};
use embedded_nal::TcpClientStack;
use nal_echo::asynch::{AsyncEchoServer, AsyncPeriodicClient};
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::{MockNetwork, MockSocket, MockStack};
use nal_echo::time::MockClock;
use nal_echo::{ClientConfig, Duration, ServerConfig, TUTORIAL_MESSAGES};
use proptest::prelude::*;

const CLIENTS: usize = 5;

/// Polls once: every future of the mock wakes itself when it waits, so a test
/// simply polls again after moving the clock or the peers.
fn step<F: Future>(future: Pin<&mut F>) {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        future.poll(&mut cx).is_pending(),
        "the server never ends by itself"
    );
}

/// Every client sends its data in its chunks to an `AsyncEchoServer` with
/// `BUF`-byte slots, under chaos on both sides; each must get exactly its bytes
/// back.
fn echo_exactly<const BUF: usize>(
    clients: &[(Vec<u8>, Vec<usize>)],
    server_seed: u64,
    client_seed: u64,
    would_block: u16,
) -> Result<(), TestCaseError> {
    let net: MockNetwork = MockNetwork::new();
    net.stack(SERVER_IP).chaos(server_seed, would_block);
    let clock = MockClock::new();
    let config = ServerConfig::default().with_idle_timeout(None);
    let server = AsyncEchoServer::<_, CLIENTS, BUF>::sized(RecordingDisplay::new(), config);
    let stack = net.async_stack(SERVER_IP);
    let mut run = pin!(server.run(&stack, &clock, clock.delay()));
    let step = |_round: u64| {
        step(run.as_mut());
        clock.advance(Duration::from_millis(1));
    };
    echo_exactly_through(&net, clients, client_seed, would_block, step, || {
        server.stats()
    })?;
    let stats = server.stats();
    let total: usize = clients.iter().map(|c| c.0.len()).sum();
    prop_assert_eq!(stats.bytes_in, total as u64);
    prop_assert_eq!((stats.accepted, stats.rejected), (clients.len() as u32, 0));
    Ok(())
}

/// The message property on the async server: the server's stack under chaos if
/// `chaos` is set.
fn shows_the_newest_message(
    turns: &[Turn],
    chaos: Option<(u64, u16)>,
) -> Result<(), TestCaseError> {
    let net: MockNetwork = MockNetwork::new();
    if let Some((seed, would_block)) = chaos {
        net.stack(SERVER_IP).chaos(seed, would_block);
    }
    let clock = MockClock::new();
    let config = ServerConfig::default().with_idle_timeout(None);
    // One slot more than clients: a closed connection may hold one until seen.
    let server = AsyncEchoServer::<_, 5, 256>::sized(RecordingDisplay::new(), config);
    let stack = net.async_stack(SERVER_IP);
    let mut run = pin!(server.run(&stack, &clock, clock.delay()));
    let step = |_ms: u64| {
        step(run.as_mut());
        clock.advance(Duration::from_millis(1));
    };
    let message = || server.with_screen(|screen| screen.message().to_string());
    newest_message_through(
        &net,
        turns,
        chaos.is_some(),
        step,
        || server.stats(),
        message,
    )
}

/// What one client does in one step of the churn property.
#[derive(Debug, Clone)]
enum Act {
    Send(Vec<u8>),
    Read,
    Close,
    Reset,
    Reconnect,
    Wait(u16),
}

fn act() -> impl Strategy<Value = (usize, Act)> {
    let act = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 1..600).prop_map(Act::Send),
        3 => Just(Act::Read),
        1 => Just(Act::Close),
        1 => Just(Act::Reset),
        1 => Just(Act::Reconnect),
        1 => (1u16..3000).prop_map(Act::Wait),
    ];
    (0..CLIENTS + 2, act)
}

/// One client of the churn property: its socket (none once closed, or if the
/// mock refused it: its backlog was full), what it sent and what came back.
/// Unlike `Peer` it takes every error as the end of its connection.
struct Client<'n> {
    stack: MockStack<'n>,
    socket: Option<MockSocket>,
    sent: Vec<u8>,
    received: Vec<u8>,
}

impl<'n> Client<'n> {
    fn connect(net: &'n MockNetwork, i: usize) -> Self {
        let mut stack = net.stack(client_ip(i as u8));
        let socket = stack.socket().ok().and_then(|mut socket| {
            match stack.connect(&mut socket, server_addr(5001)) {
                Ok(()) => Some(socket),
                Err(_) => {
                    let _ = stack.close(socket);
                    None
                }
            }
        });
        Self {
            stack,
            socket,
            sent: Vec::new(),
            received: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(socket) = self.socket.as_mut() {
            if let Ok(n) = self.stack.send(socket, bytes) {
                self.sent.extend_from_slice(&bytes[..n.min(bytes.len())]);
            }
        }
    }

    fn read(&mut self) {
        let mut buf = [0u8; 512];
        for _ in 0..100 {
            let Some(socket) = self.socket.as_mut() else {
                return;
            };
            match self.stack.receive(socket, &mut buf) {
                Ok(n @ 1..) => self.received.extend_from_slice(&buf[..n]),
                _ => return,
            }
        }
    }

    fn close(&mut self) {
        if let Some(socket) = self.socket.take() {
            let _ = self.stack.close(socket);
        }
    }

    fn reset(&self) {
        if let Some(socket) = self.socket.as_ref() {
            self.stack.reset(socket);
        }
    }

    /// Every byte that came back is the byte sent at that place.
    fn check_prefix(&self) -> Result<(), TestCaseError> {
        let got = &self.received;
        prop_assert!(got.len() <= self.sent.len(), "more back than sent");
        prop_assert_eq!(got.as_slice(), &self.sent[..got.len()]);
        Ok(())
    }
}

/// Clients (more than the slots) that send, stop reading, close, reset, wait and
/// come back, at random, under chaos: every echo is a prefix of what that
/// connection sent, and the counters add up.
fn survive_churn(acts: &[(usize, Act)], seed: u64, would_block: u16) -> Result<(), TestCaseError> {
    const SLOTS: usize = 3;
    let net: MockNetwork = MockNetwork::new();
    net.stack(SERVER_IP).chaos(seed, would_block);
    let clock = MockClock::new();
    let config = ServerConfig::default().with_idle_timeout(Some(Duration::from_secs(2)));
    let server = AsyncEchoServer::<_, SLOTS, 256>::sized(RecordingDisplay::new(), config);
    let stack = net.async_stack(SERVER_IP);
    let mut run = pin!(server.run(&stack, &clock, clock.delay()));
    step(run.as_mut());
    let mut clients: Vec<Client<'_>> = (0..CLIENTS + 2).map(|i| Client::connect(&net, i)).collect();
    let mut connects = clients.iter().filter(|c| c.socket.is_some()).count() as u32;
    for (who, act) in acts {
        let c = &mut clients[*who];
        match act {
            Act::Send(bytes) => c.send(bytes),
            Act::Read => c.read(),
            Act::Close => c.close(),
            Act::Reset => c.reset(),
            Act::Reconnect => {
                c.check_prefix()?;
                c.close();
                *c = Client::connect(&net, *who);
                connects += u32::from(c.socket.is_some());
            }
            Act::Wait(ms) => clock.advance(Duration::from_millis(u64::from(*ms))),
        }
        for _ in 0..4 {
            step(run.as_mut());
        }
        clock.advance(Duration::from_millis(1));
    }
    for c in &mut clients {
        c.read();
        c.check_prefix()?;
    }
    let stats = server.stats();
    prop_assert!(stats.bytes_out <= stats.bytes_in, "{:?}", stats);
    prop_assert!(stats.active as usize <= SLOTS, "{:?}", stats);
    // Every connection either got a slot or was refused, or still waits in the backlog.
    prop_assert!(stats.accepted + stats.rejected <= connects, "{:?}", stats);
    Ok(())
}

/// The async client against the async server, both on the mock under chaos and
/// driven on one clock: every echo is verified, none fails.
fn client_and_server_agree(
    seed: u64,
    would_block: u16,
    period_ms: u64,
) -> Result<(), TestCaseError> {
    let net: MockNetwork = MockNetwork::new();
    net.stack(SERVER_IP).chaos(seed, would_block);
    net.stack(client_ip(0))
        .chaos(seed.rotate_left(17), would_block);
    let clock = MockClock::new();
    let server = AsyncEchoServer::new(RecordingDisplay::new(), ServerConfig::default());
    let server_stack = net.async_stack(SERVER_IP);
    let mut run = pin!(server.run(&server_stack, &clock, clock.delay()));
    let config = ClientConfig::new(server_addr(5001))
        .with_messages(TUTORIAL_MESSAGES)
        .with_period(Duration::from_millis(period_ms));
    let client = AsyncPeriodicClient::new(&clock, clock.delay(), config);
    let client_stack = net.async_stack(client_ip(0));
    {
        let mut talk = pin!(client.run_until(&client_stack, |s| s.echoed >= 20));
        let mut cx = Context::from_waker(Waker::noop());
        let mut done = false;
        for _ in 0..1_000_000 {
            step(run.as_mut());
            if talk.as_mut().poll(&mut cx).is_ready() {
                done = true;
                break;
            }
            clock.advance(Duration::from_millis(1));
        }
        prop_assert!(done, "20 echoes within the steps");
    }
    let stats = client.stats();
    prop_assert_eq!(
        (
            stats.echoed,
            stats.mismatches,
            stats.failures,
            stats.connects
        ),
        (20, 0, 0, 1)
    );
    prop_assert_eq!(stats.bytes_received, stats.bytes_sent);
    prop_assert_eq!(server.stats().bytes_out, stats.bytes_sent);
    Ok(())
}

proptest! {
    #![proptest_config(saving_failures(32))]

    #[test]
    fn every_client_gets_exactly_its_bytes_back(
        clients in prop::collection::vec(client_data(700), 4..=CLIENTS),
        server_seed in any::<u64>(),
        client_seed in any::<u64>(),
        would_block in 0u16..600,
    ) {
        echo_exactly::<256>(&clients, server_seed, client_seed, would_block)?;
    }

    /// Slots large enough that the screen defers decoding long receives.
    #[test]
    fn every_client_gets_exactly_its_bytes_back_through_large_slots(
        clients in prop::collection::vec(client_data(3000), 4..=CLIENTS),
        server_seed in any::<u64>(),
        client_seed in any::<u64>(),
        would_block in 0u16..600,
    ) {
        echo_exactly::<4096>(&clients, server_seed, client_seed, would_block)?;
    }

    #[test]
    fn churn_never_invents_or_reorders_a_byte(
        acts in prop::collection::vec(act(), 1..300),
        seed in any::<u64>(),
        would_block in 0u16..500,
    ) {
        survive_churn(&acts, seed, would_block)?;
    }

    #[test]
    fn the_async_client_verifies_every_echo_of_the_async_server(
        seed in any::<u64>(),
        would_block in 0u16..700,
        period_ms in 1u64..50,
    ) {
        client_and_server_agree(seed, would_block, period_ms)?;
    }

    /// Without chaos the line shows the whole message; with it (the server's
    /// stack cuts receives short at random), the end the last receive brought.
    #[test]
    fn the_message_line_shows_the_newest_message(
        turns in prop::collection::vec(turn(), 1..40),
        chaos in prop::option::of((any::<u64>(), 0u16..600)),
    ) {
        shows_the_newest_message(&turns, chaos)?;
    }
}
