//! The stream property shared by the `poll` and `async` servers: clients on the
//! mock, each with random data sent in random chunks under chaos, must each get
//! exactly their bytes back, in order.

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
