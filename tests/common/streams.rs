//! The properties shared by the `poll` and `async` servers: clients on the mock,
//! each with random data sent in random chunks under chaos, must each get exactly
//! their bytes back, in order; and the message line shows the newest message as
//! clients come, send, close and come back.

use nal_echo::stack::mock::MockNetwork;
use nal_echo::ServerStats;
use proptest::prelude::*;

use crate::common::{client_ip, server_addr, Peer};

/// A client's bytes and the sizes it sends them in (up to `max_chunk`).
pub fn client_data(max_chunk: usize) -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        prop::collection::vec(any::<u8>(), 0..6000),
        prop::collection::vec(1usize..max_chunk, 1..20),
    )
}

/// Connects `clients` to the server on port 5001 of `net` (which `step` drives
/// one step at a time, given the round as milliseconds, and `stats` reports on),
/// each with chaos seeded from `client_seed`, and feeds them their data in their
/// chunks until every one got as much back as it sent; then each must have got
/// exactly its own bytes, and the server must have echoed them all without error.
pub fn echo_exactly_through(
    net: &MockNetwork,
    clients: &[(Vec<u8>, Vec<usize>)],
    client_seed: u64,
    would_block: u16,
    mut step: impl FnMut(u64),
    stats: impl Fn() -> ServerStats,
) -> Result<(), TestCaseError> {
    step(0);
    let mut peers: Vec<Peer<'_>> = Vec::new();
    for i in 0..clients.len() {
        let p = Peer::connect(net, client_ip(i as u8), server_addr(5001));
        p.stack
            .chaos(client_seed.wrapping_add(i as u64), would_block);
        // Accept may WouldBlock under chaos: step until this client has its slot.
        for _ in 0..1000 {
            if stats().active as usize > i {
                break;
            }
            step(0);
        }
        peers.push(p);
    }
    let mut offsets = vec![0usize; clients.len()];
    let mut chunk_ix = vec![0usize; clients.len()];
    for round in 0..100_000 {
        step(round);
        let mut done = true;
        for (i, p) in peers.iter_mut().enumerate() {
            let (data, chunks) = &clients[i];
            if offsets[i] < data.len() {
                let want = chunks[chunk_ix[i] % chunks.len()];
                let end = (offsets[i] + want).min(data.len());
                let n = p.send(&data[offsets[i]..end]);
                offsets[i] += n;
                if n > 0 {
                    chunk_ix[i] += 1;
                }
            }
            p.read();
            prop_assert!(!p.closed && !p.reset, "client {} lost its connection", i);
            done &= p.received.len() >= data.len();
        }
        if done {
            break;
        }
    }
    for (i, p) in peers.iter().enumerate() {
        prop_assert_eq!(&p.received, &clients[i].0, "client {}", i);
    }
    let total: usize = clients.iter().map(|c| c.0.len()).sum();
    prop_assert_eq!(stats().bytes_out, total as u64);
    prop_assert_eq!(stats().errors, 0);
    Ok(())
}

/// One client's turn: which of four clients, what it sends, and whether it closes
/// after sending (at once, before the server has polled, unless under chaos).
pub type Turn = (usize, String, bool);

pub fn turn() -> impl Strategy<Value = Turn> {
    (
        0..4usize,
        "[A-Za-z0-9][A-Za-z0-9 '!?.]{0,10}[A-Za-z0-9]",
        any::<bool>(),
    )
}

/// Each turn a client (connecting first if it has no connection) sends a message
/// of its own to the server on port 5001 of `net` and may close at once; `step`
/// (given the time in milliseconds) drives the server until it has taken the
/// message, echoed it to every client still connected and seen every close. The
/// message line (`message`) then shows that message; when the server's stack is
/// under `chaos` (receives cut short at random), the end of it that the last
/// receive brought.
pub fn newest_message_through(
    net: &MockNetwork,
    turns: &[Turn],
    chaos: bool,
    mut step: impl FnMut(u64),
    stats: impl Fn() -> ServerStats,
    message: impl Fn() -> String,
) -> Result<(), TestCaseError> {
    let mut now = 0;
    step(now);
    // Each client's connection and what it sent on it.
    let mut peers: Vec<Option<(Peer<'_>, Vec<u8>)>> = (0..4).map(|_| None).collect();
    let mut sent = 0u64;
    for (k, (who, body, close)) in turns.iter().enumerate() {
        let text = format!("{k}:{body}");
        let (peer, sent_here) = peers[*who].get_or_insert_with(|| {
            let peer = Peer::connect(net, client_ip(*who as u8 + 1), server_addr(5001));
            (peer, Vec::new())
        });
        let mut left = text.as_bytes();
        while !left.is_empty() {
            left = &left[peer.send(left)..];
            now += 1;
            step(now);
            prop_assert!(now < 100_000, "the server never took turn {k}'s message");
        }
        sent_here.extend_from_slice(text.as_bytes());
        sent += text.len() as u64;
        // The mock's close is a full close: a server whose receive was cut short
        // (chaos) meets it on the echo and ends there, before the rest of the
        // message. So under chaos a client closes only after the server took all.
        let close_at_once = *close && !chaos;
        if close_at_once {
            peer.close();
            peers[*who] = None;
        }
        let live = peers.iter().flatten().count() as u32;
        // The servers decode a receive for the screen once its echo is sent (or
        // has failed, which ends the connection).
        let settled = |peers: &[Option<(Peer<'_>, Vec<u8>)>]| {
            let s = stats();
            s.bytes_in >= sent
                && s.active == live
                && peers.iter().flatten().all(|(p, mine)| p.received == *mine)
        };
        while !settled(&peers) {
            now += 1;
            step(now);
            peers.iter_mut().flatten().for_each(|(p, _)| {
                p.read();
            });
            prop_assert!(
                now < 100_000,
                "turn {k}: the server never settled: {:?}, {live} live",
                stats()
            );
        }
        let shown = message();
        if chaos {
            prop_assert!(
                !shown.is_empty() && text.ends_with(&shown),
                "turn {k}: {shown:?} for {text:?}"
            );
        } else {
            prop_assert_eq!(shown, text, "turn {}", k);
        }
        if *close && !close_at_once {
            if let Some((mut p, _)) = peers[*who].take() {
                p.close();
            }
        }
    }
    Ok(())
}
