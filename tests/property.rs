//! Properties: whatever the chunking, WouldBlock and short sends, every client gets
//! back exactly what it sent, in order; and the message line shows the newest
//! message, however its sender comes and goes.

mod common;

use std::cell::RefCell;

use common::saved::saving_failures;
use common::streams::{client_data, echo_exactly_through};
use common::{client_ip, server_addr, Peer, SERVER_IP};
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::MockNetwork;
use nal_echo::{EchoServer, Instant, ServerConfig};
use proptest::prelude::*;

const CLIENTS: usize = 5;

/// Every client sends its data in its chunks to an `EchoServer` with `BUF`-byte
/// slots, under chaos on both sides; each must get exactly its bytes back.
fn echo_exactly<const BUF: usize>(
    clients: &[(Vec<u8>, Vec<usize>)],
    server_seed: u64,
    client_seed: u64,
    would_block: u16,
) -> Result<(), TestCaseError> {
    let net: MockNetwork = MockNetwork::new();
    let stack = net.stack(SERVER_IP);
    stack.chaos(server_seed, would_block);
    let config = ServerConfig::default().with_idle_timeout(None);
    let server = RefCell::new(EchoServer::<_, _, CLIENTS, BUF>::sized(
        stack,
        RecordingDisplay::new(),
        config,
    ));
    let step = |round: u64| {
        let _ = server.borrow_mut().poll(Instant::from_millis(round));
    };
    let stats = || *server.borrow().stats();
    echo_exactly_through(&net, clients, client_seed, would_block, step, stats)
}

/// One client's turn: which of four clients, what it sends, and whether it closes
/// after sending (at once, before the server has polled, unless under chaos).
type Turn = (usize, String, bool);

fn turn() -> impl Strategy<Value = Turn> {
    (
        0..4usize,
        "[A-Za-z0-9][A-Za-z0-9 '!?.]{0,10}[A-Za-z0-9]",
        any::<bool>(),
    )
}

/// Each turn a client (connecting first if it has no connection) sends a message
/// of its own and may close at once; the server polls until it has taken the
/// message. The message line then shows that message; under chaos (receives cut
/// short at random) the end of it that the last receive brought.
fn shows_the_newest_message(
    turns: &[Turn],
    chaos: Option<(u64, u16)>,
) -> Result<(), TestCaseError> {
    const PORT: u16 = 5001;
    let net: MockNetwork = MockNetwork::new();
    let stack = net.stack(SERVER_IP);
    if let Some((seed, would_block)) = chaos {
        stack.chaos(seed, would_block);
    }
    let config = ServerConfig::default().with_idle_timeout(None);
    // One slot more than clients: a closed connection may hold one until seen.
    let mut server = EchoServer::<_, _, 5, 256>::sized(stack, RecordingDisplay::new(), config);
    while !server.is_listening() {
        let _ = server.poll(Instant::ZERO);
    }
    let mut peers: Vec<Option<Peer<'_>>> = (0..4).map(|_| None).collect();
    let mut sent = 0u64;
    let mut now = 0;
    for (k, (who, body, close)) in turns.iter().enumerate() {
        let message = format!("{k}:{body}");
        let peer = peers[*who].get_or_insert_with(|| {
            Peer::connect(&net, client_ip(*who as u8 + 1), server_addr(PORT))
        });
        let mut left = message.as_bytes();
        while !left.is_empty() {
            left = &left[peer.send(left)..];
            now += 1;
            let _ = server.poll(Instant::from_millis(now));
            prop_assert!(now < 100_000, "the server never took turn {k}'s message");
        }
        sent += message.len() as u64;
        // The mock's close is a full close: a server whose receive was cut short
        // (chaos) meets it on the echo and ends there, before the rest of the
        // message. So under chaos a client closes only after the server took all.
        let close_at_once = *close && chaos.is_none();
        if close_at_once {
            peer.close();
            peers[*who] = None;
        }
        let live = peers.iter().flatten().count() as u32;
        while server.stats().bytes_in < sent || server.stats().active != live {
            now += 1;
            let _ = server.poll(Instant::from_millis(now));
            peers.iter_mut().flatten().for_each(|p| {
                p.read();
            });
            prop_assert!(
                now < 100_000,
                "turn {k}: the server never settled: {:?}, {live} live",
                server.stats()
            );
        }
        let shown = server.screen().message();
        if chaos.is_some() {
            prop_assert!(
                !shown.is_empty() && message.ends_with(shown),
                "turn {k}: {shown:?} for {message:?}"
            );
        } else {
            prop_assert_eq!(shown, message.as_str(), "turn {}", k);
        }
        if *close && !close_at_once {
            if let Some(mut p) = peers[*who].take() {
                p.close();
            }
        }
    }
    Ok(())
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

    #[test]
    fn the_message_line_shows_the_newest_message(
        turns in prop::collection::vec(turn(), 1..40),
    ) {
        shows_the_newest_message(&turns, None)?;
    }

    #[test]
    fn the_message_line_shows_the_end_of_the_newest_message_under_chaos(
        turns in prop::collection::vec(turn(), 1..40),
        seed in any::<u64>(),
        would_block in 0u16..600,
    ) {
        shows_the_newest_message(&turns, Some((seed, would_block)))?;
    }
}
