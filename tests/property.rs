//! Property: whatever the chunking, WouldBlock and short sends, every client gets
//! back exactly what it sent, in order.

mod common;

use common::saved::saving_failures;
use common::{client_ip, server_addr, Peer, SERVER_IP};
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::MockNetwork;
use nal_echo::{EchoServer, Instant, ServerConfig};
use proptest::prelude::*;

const CLIENTS: usize = 5;

/// A client's bytes and the sizes it sends them in (up to `max_chunk`).
fn client_data(max_chunk: usize) -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        prop::collection::vec(any::<u8>(), 0..6000),
        prop::collection::vec(1usize..max_chunk, 1..20),
    )
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
    let stack = net.stack(SERVER_IP);
    stack.chaos(server_seed, would_block);
    let mut config = ServerConfig::default();
    config.idle_timeout = None;
    let mut server =
        EchoServer::<_, _, CLIENTS, BUF>::sized(stack, RecordingDisplay::new(), config);
    server.poll(Instant::ZERO).ok();
    let mut peers: Vec<Peer<'_>> = (0..clients.len())
        .map(|i| {
            let p = Peer::connect(&net, client_ip(i as u8), server_addr(5001));
            p.stack
                .chaos(client_seed.wrapping_add(i as u64), would_block);
            // Accept may WouldBlock under chaos: poll until this client has its slot.
            for _ in 0..1000 {
                if server.stats().active as usize > i {
                    break;
                }
                let _ = server.poll(Instant::ZERO);
            }
            p
        })
        .collect();
    let mut offsets = vec![0usize; clients.len()];
    let mut chunk_ix = vec![0usize; clients.len()];
    for round in 0..100_000 {
        let _ = server.poll(Instant::from_millis(round));
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
    prop_assert_eq!(server.stats().bytes_out, total as u64);
    prop_assert_eq!(server.stats().errors, 0);
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
}
