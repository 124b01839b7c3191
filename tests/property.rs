//! Properties: whatever the chunking, WouldBlock and short sends, every client gets
//! back exactly what it sent, in order; and the message line shows the newest
//! message, however its sender comes and goes.

mod common;

use std::cell::RefCell;

use common::saved::saving_failures;
use common::streams::{client_data, echo_exactly_through, newest_message_through, turn, Turn};
use common::SERVER_IP;
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::{MockNetwork, MockStack};
use nal_echo::{EchoServer, Instant, ServerConfig};
use proptest::prelude::*;

const CLIENTS: usize = 5;

/// An `EchoServer` of `CLIENTS` `BUF`-byte slots and no idle timeout on `net`, its
/// stack under `chaos` (seed, `WouldBlock` per mille) if set.
fn server<const BUF: usize>(
    net: &MockNetwork,
    chaos: Option<(u64, u16)>,
) -> RefCell<EchoServer<MockStack<'_>, RecordingDisplay, CLIENTS, BUF>> {
    let stack = net.stack(SERVER_IP);
    if let Some((seed, would_block)) = chaos {
        stack.chaos(seed, would_block);
    }
    let config = ServerConfig::default().with_idle_timeout(None);
    RefCell::new(EchoServer::sized(stack, RecordingDisplay::new(), config))
}

/// Every client sends its data in its chunks to an `EchoServer` with `BUF`-byte
/// slots, under chaos on both sides; each must get exactly its bytes back.
fn echo_exactly<const BUF: usize>(
    clients: &[(Vec<u8>, Vec<usize>)],
    server_seed: u64,
    client_seed: u64,
    would_block: u16,
) -> Result<(), TestCaseError> {
    let net: MockNetwork = MockNetwork::new();
    let server = server::<BUF>(&net, Some((server_seed, would_block)));
    let step = |round: u64| {
        let _ = server.borrow_mut().poll(Instant::from_millis(round));
    };
    let stats = || *server.borrow().stats();
    echo_exactly_through(&net, clients, client_seed, would_block, step, stats)
}

/// The message property on the `poll` server: the server's stack under chaos if
/// `chaos` is set.
fn shows_the_newest_message(
    turns: &[Turn],
    chaos: Option<(u64, u16)>,
) -> Result<(), TestCaseError> {
    let net: MockNetwork = MockNetwork::new();
    // One slot more than the four clients: a closed connection may hold one until
    // seen.
    let server = server::<256>(&net, chaos);
    let step = |ms: u64| {
        let _ = server.borrow_mut().poll(Instant::from_millis(ms));
    };
    let stats = || *server.borrow().stats();
    let message = || server.borrow().screen().message().to_string();
    newest_message_through(&net, turns, chaos.is_some(), step, stats, message)
}

proptest! {
    // Failures saved beside this file and replayed first.
    #![proptest_config(saving_failures(48))]

    #[test]
    fn every_client_gets_exactly_its_bytes_back(
        clients in prop::collection::vec(client_data(700), 4..=CLIENTS),
        server_seed in any::<u64>(),
        client_seed in any::<u64>(),
        would_block in 0u16..600,
    ) {
        echo_exactly::<256>(&clients, server_seed, client_seed, would_block)?;
    }

    /// Slots large enough that the screen defers decoding long receives (and moves
    /// their ends within the buffer): the echo is just as exact.
    #[test]
    fn every_client_gets_exactly_its_bytes_back_through_large_slots(
        clients in prop::collection::vec(client_data(3000), 4..=CLIENTS),
        server_seed in any::<u64>(),
        client_seed in any::<u64>(),
        would_block in 0u16..600,
    ) {
        echo_exactly::<4096>(&clients, server_seed, client_seed, would_block)?;
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
