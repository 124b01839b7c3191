//! `AsyncEchoServer` over edge-nal-std on real loopback sockets: the behaviours of
//! the `poll` server's host tests (tutorial messages, a mebibyte, slots and extra
//! clients, clients connecting at once, a peer that never reads, idle eviction,
//! invalid UTF-8, the allowlist, resets), each checked through the server's own
//! events, counters and screen. Every wait is bounded.

#[path = "common/async_host.rs"]
mod async_host;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant as StdInstant;

use async_host::{AsyncHost, WAIT};
use futures_lite::future;
use nal_echo::asynch::AsyncPeriodicClient;
use nal_echo::time::StdClock;
use nal_echo::{ClientConfig, CloseReason, Duration, ServerConfig, ServerEvent, TUTORIAL_MESSAGES};
use nal_echo_host::asynch::{AsyncIoDelay, StdConnect};

fn config() -> ServerConfig {
    ServerConfig::default().with_refresh_interval(Duration::from_millis(10))
}

fn echo_exact(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).unwrap();
    let mut back = vec![0u8; bytes.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, bytes);
}

/// Reads until the server ends the connection: `Ok(())` for an orderly close or a
/// reset, what was read otherwise.
fn read_until_closed(s: &mut TcpStream) -> Result<(), String> {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("still open after {WAIT:?}: {e}")),
        }
    }
}

fn local(s: &TcpStream) -> SocketAddr {
    s.local_addr().unwrap()
}

#[test]
fn the_tutorials_messages_are_echoed_verified_and_shown() {
    let host = AsyncHost::start::<4, 1024>(config());
    let client_config = ClientConfig::new(host.addr)
        .with_messages(TUTORIAL_MESSAGES)
        .with_period(Duration::from_millis(20));
    let client = AsyncPeriodicClient::new(StdClock::new(), AsyncIoDelay, client_config);
    let stack = StdConnect::default();
    let run = async {
        client.run_until(&stack, |s| s.echoed >= 6).await;
        true
    };
    let timeout = async {
        async_io::Timer::after(WAIT).await;
        false
    };
    assert!(
        async_io::block_on(future::or(run, timeout)),
        "6 echoes within {WAIT:?}"
    );
    let stats = client.stats();
    assert_eq!((stats.echoed, stats.sent, stats.connects), (6, 6, 1));
    assert_eq!((stats.failures, stats.mismatches), (0, 0));
    assert!(stats.rtt_min.is_some() && stats.rtt_max >= stats.rtt_min);
    assert!(matches!(
        host.next_event(),
        ServerEvent::Accepted { slot: 0, .. }
    ));
    // `run_until` returned, and its connection ended with it.
    assert!(matches!(
        host.next_event(),
        ServerEvent::Closed {
            slot: 0,
            reason: CloseReason::PeerClosed,
            ..
        }
    ));
    assert_eq!(host.message(), "I'am MixNo");
    let served = host.stats();
    assert_eq!(served.bytes_in, stats.bytes_sent);
    assert_eq!(served.bytes_out, stats.bytes_sent);
    assert_eq!((served.accepted, served.active), (1, 0));
}

#[test]
fn a_mebibyte_comes_back_byte_exact() {
    let host = AsyncHost::start::<4, 1024>(config());
    let blob: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut s = host.connect();
    let mut writer = s.try_clone().unwrap();
    let sent = blob.clone();
    // Write and read at once: the server applies backpressure, never drops.
    let w = thread::spawn(move || writer.write_all(&sent).unwrap());
    let mut back = vec![0u8; blob.len()];
    s.read_exact(&mut back).unwrap();
    w.join().unwrap();
    assert!(back == blob, "echo differs from the blob");
    let stats = host.stats();
    assert_eq!(stats.bytes_in, 1 << 20);
    assert_eq!(stats.bytes_out, 1 << 20);
}

#[test]
fn slots_are_served_and_extra_clients_closed_at_once_and_counted() {
    let host = AsyncHost::start::<2, 1024>(config());
    let mut clients = Vec::new();
    for i in 0..5 {
        let s = host.connect();
        let me = local(&s);
        match host.next_event() {
            ServerEvent::Accepted { slot, peer } if i < 2 => {
                assert_eq!((slot, peer), (i, me));
            }
            ServerEvent::Rejected { peer } if i >= 2 => assert_eq!(peer, me),
            other => panic!("client {i}: {other:?}"),
        }
        clients.push(s);
    }
    for (i, s) in clients.iter_mut().enumerate() {
        if i < 2 {
            echo_exact(s, format!("client {i}").as_bytes());
        } else {
            read_until_closed(s).unwrap();
        }
    }
    let stats = host.stats();
    assert_eq!((stats.accepted, stats.rejected, stats.active), (2, 3, 2));
    // A slot freed is a slot served again.
    let first = clients.remove(0);
    let gone = local(&first);
    drop(first);
    let closed = host.event_where(|e| matches!(e, ServerEvent::Closed { .. }));
    assert_eq!(
        closed,
        ServerEvent::Closed {
            slot: 0,
            peer: gone,
            reason: CloseReason::PeerClosed
        }
    );
    let mut next = host.connect();
    assert_eq!(
        host.next_event(),
        ServerEvent::Accepted {
            slot: 0,
            peer: local(&next)
        }
    );
    echo_exact(&mut next, b"my turn");
}

#[test]
fn as_many_clients_as_slots_connecting_at_once_are_all_served() {
    const SLOTS: usize = 4;
    let host = AsyncHost::start::<SLOTS, 1024>(config());
    let addr = host.addr;
    let start = Arc::new(Barrier::new(SLOTS));
    let clients: Vec<_> = (0..SLOTS)
        .map(|i| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let mut s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                for round in 0..100 {
                    echo_exact(&mut s, format!("client {i} round {round}").as_bytes());
                }
                local(&s)
            })
        })
        .collect();
    let peers: Vec<SocketAddr> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let mut accepted = Vec::new();
    while accepted.len() < SLOTS {
        if let ServerEvent::Accepted { peer, .. } = host.next_event() {
            accepted.push(peer);
        }
    }
    accepted.sort();
    let mut expected = peers.clone();
    expected.sort();
    assert_eq!(accepted, expected);
    assert_eq!(host.stats().rejected, 0);
}

#[test]
fn a_client_that_never_reads_does_not_stop_a_reader() {
    let host = AsyncHost::start::<4, 1024>(config().with_idle_timeout(None));
    let hog = host.connect();
    hog.set_nonblocking(true).unwrap();
    let mut reader = host.connect();
    let chunk = [b'x'; 16 * 1024];
    let mut hogged = 0usize;
    let mut blocked = 0;
    for round in 0..100 {
        // Fill the hog's direction until the kernel's buffers are full.
        loop {
            match (&hog).write(&chunk) {
                Ok(n) => hogged += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    blocked += 1;
                    break;
                }
                Err(e) => panic!("hog write: {e}"),
            }
        }
        echo_exact(&mut reader, format!("reader {round}").as_bytes());
    }
    assert!(
        blocked == 100 && hogged > 0,
        "the hog's direction filled up"
    );
    let stats = host.stats();
    assert_eq!(
        stats.active, 2,
        "the hog is still connected, only held back"
    );
    assert!(stats.bytes_in < hogged as u64 + 2000, "{stats:?}");
}

#[test]
fn an_idle_client_is_evicted_and_a_busy_one_kept() {
    let host =
        AsyncHost::start::<4, 1024>(config().with_idle_timeout(Some(Duration::from_secs(1))));
    let mut idle = host.connect();
    let mut busy = host.connect();
    let last_word = StdInstant::now();
    echo_exact(&mut idle, b"then silence");
    let mut round = 0;
    let evicted = loop {
        echo_exact(&mut busy, format!("busy {round}").as_bytes());
        round += 1;
        let events = host.pending_events();
        if let Some(e) = events
            .iter()
            .find(|e| matches!(e, ServerEvent::Closed { .. }))
        {
            break *e;
        }
        assert!(last_word.elapsed() < WAIT, "no eviction within {WAIT:?}");
    };
    let idle_for = last_word.elapsed();
    assert!(
        matches!(evicted, ServerEvent::Closed { peer, reason: CloseReason::Idle, .. } if peer == local(&idle)),
        "{evicted:?}"
    );
    assert!(
        idle_for >= std::time::Duration::from_millis(990),
        "evicted after {idle_for:?}"
    );
    read_until_closed(&mut idle).unwrap();
    echo_exact(&mut busy, b"still here");
    let stats = host.stats();
    assert_eq!((stats.evicted, stats.active), (1, 1));
}

#[test]
fn a_peer_that_sends_but_never_reads_is_evicted_when_its_echo_stalls() {
    let host =
        AsyncHost::start::<4, 1024>(config().with_idle_timeout(Some(Duration::from_secs(1))));
    let hog = host.connect();
    hog.set_nonblocking(true).unwrap();
    let chunk = [b'y'; 16 * 1024];
    let started = StdInstant::now();
    // Until the server's echo stalls and the server gives up on the peer.
    let closed = loop {
        match (&hog).write(&chunk) {
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => {}
        }
        let events = host.pending_events();
        if let Some(e) = events
            .iter()
            .find(|e| matches!(e, ServerEvent::Closed { .. }))
        {
            break *e;
        }
        assert!(
            started.elapsed() < WAIT,
            "the stalled peer was never evicted"
        );
        thread::yield_now();
    };
    assert!(
        matches!(
            closed,
            ServerEvent::Closed {
                reason: CloseReason::Idle,
                ..
            }
        ),
        "{closed:?}"
    );
    assert_eq!(host.stats().evicted, 1);
}

#[test]
fn invalid_utf8_and_escapes_are_echoed_exactly_and_shown_as_documented() {
    let host = AsyncHost::start::<4, 1024>(config());
    let mut s = host.connect();
    echo_exact(&mut s, b"ok");
    assert_eq!(host.message(), "ok");
    echo_exact(&mut s, &[b'A', 0xFF, b'B', 0xC0, 0xAF]);
    let invalid = if cfg!(feature = "cjk") {
        "A?B??"
    } else {
        "A\u{FFFD}B\u{FFFD}\u{FFFD}"
    };
    assert_eq!(host.message(), invalid);
    // 掌 split over two receives shows once it is whole.
    echo_exact(&mut s, &[0xE6]);
    echo_exact(&mut s, &[0x8E, 0x8C, b'!']);
    assert_eq!(host.message(), "掌!");
    echo_exact(&mut s, b"a\0b\x1b[31mc\x1b]0;title\x07d\r\n");
    assert_eq!(host.message(), "abcd  ");
    echo_exact(&mut s, b"alive");
}

#[test]
fn a_long_receive_shows_its_end_after_the_next_redraw() {
    let host = AsyncHost::start::<4, 1024>(config());
    let mut s = host.connect();
    let mut long = vec![b'x'; 900];
    long.extend_from_slice(b" the end");
    echo_exact(&mut s, &long);
    let shown = host.message_where(|m| m.ends_with("the end"));
    assert!(shown.ends_with("x the end"), "{shown:?}");
}

#[test]
fn a_peer_not_on_the_allowlist_is_denied() {
    let allowed: std::net::IpAddr = [127, 0, 0, 2].into();
    let host = AsyncHost::start::<4, 1024>(config().with_allowed(allowed).unwrap());
    let mut denied = host.connect();
    assert_eq!(
        host.next_event(),
        ServerEvent::Denied {
            peer: local(&denied)
        }
    );
    let _ = denied.write_all(b"anyone there?");
    read_until_closed(&mut denied).unwrap();
    let stats = host.stats();
    assert_eq!((stats.denied, stats.accepted), (1, 0));
}

#[test]
fn a_reset_mid_stream_ends_only_that_connection() {
    let host = AsyncHost::start::<4, 1024>(config());
    let reset = socket2::Socket::from(host.connect());
    let from = reset.local_addr().unwrap().as_socket().unwrap();
    // Reset once it is served (a connection reset before its accept is an
    // accept error, counted, with no slot to end).
    assert!(matches!(host.next_event(), ServerEvent::Accepted { peer, .. } if peer == from));
    let mut other = host.connect();
    reset.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    let _ = (&reset).write(b"half a mess");
    drop(reset);
    let closed = host.event_where(|e| matches!(e, ServerEvent::Closed { .. }));
    assert!(
        matches!(closed, ServerEvent::Closed { peer, .. } if peer == from),
        "{closed:?}"
    );
    echo_exact(&mut other, b"unaffected");
    assert_eq!(host.stats().active, 1);
}
