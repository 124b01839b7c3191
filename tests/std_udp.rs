//! UDP on the std stack over the loopback: no call waits, datagrams keep their bytes
//! and their senders, and the OS's UDP behaviour (cut datagrams, ICMP errors, dual
//! stack) comes through the embedded-nal traits as documented.
//!
//! Ports are chosen by the OS, and every wait is bounded in count and time, so a bug
//! fails a test instead of hanging it.

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nal_echo::embedded_nal::{nb, UdpClientStack, UdpFullStack};
use nal_echo::stack::std::{StdError, StdStack, StdUdpSocket};
use nal_echo::stack::UdpLocalAddr;

use common::ipv6::ipv6_loopback;
use common::std_calls::{invalid, refused, until_ready};
use common::watchdog::watchdog;

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
/// Longest any wait in these tests may take.
const PATIENCE: Duration = Duration::from_secs(5);
/// Most rounds of a wait: the count bound, besides [`PATIENCE`].
const ROUNDS: usize = 5_000;
/// The largest UDP payload over IPv4: 65535 less the IPv4 and UDP headers.
const LARGEST_V4: usize = 65_507;
/// How long `wait` sleeps when nothing happens in these tests.
const SHORT_WAIT: nal_echo::Duration = nal_echo::Duration::from_millis(60);
/// A `wait` for news that comes: long enough never to time out by accident.
const LONG_WAIT: nal_echo::Duration = nal_echo::Duration::from_millis(5_000);

/// A socket of `stack` bound to an OS-chosen port, with the address it got.
fn bound(stack: &mut StdStack) -> (StdUdpSocket, SocketAddr) {
    let mut socket = stack.socket().unwrap();
    stack.bind(&mut socket, 0).unwrap();
    let addr = stack
        .udp_local_addr(&socket)
        .expect("a bound socket has an address");
    assert_ne!(addr.port(), 0);
    (socket, addr)
}

/// A std socket on `ip` whose receives give up after [`PATIENCE`] instead of hanging.
fn std_peer(ip: IpAddr) -> UdpSocket {
    let peer = UdpSocket::bind((ip, 0)).unwrap();
    peer.set_read_timeout(Some(PATIENCE)).unwrap();
    peer
}

/// One datagram from a std socket, bytes and sender.
fn std_receive(peer: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; LARGEST_V4 + 1];
    let (n, from) = peer.recv_from(&mut buf).expect("no datagram in time");
    buf.truncate(n);
    (buf, from)
}

/// One datagram from a stack socket, bytes and sender.
fn receive(stack: &mut StdStack, socket: &mut StdUdpSocket, len: usize) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; len];
    let (n, from) = until_ready(|| stack.receive(socket, &mut buf)).unwrap();
    buf.truncate(n);
    (buf, from)
}

fn would_block<T: std::fmt::Debug>(r: nb::Result<T, StdError>) {
    assert!(
        matches!(r, Err(nb::Error::WouldBlock)),
        "expected WouldBlock, got {r:?}"
    );
}

/// A UDP port nobody has open (a moment ago the OS gave it to a socket we dropped).
fn closed_port(ip: IpAddr) -> SocketAddr {
    UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap()
}

/// Bytes `offset..offset + len` of an endless, recognisable stream.
fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| (i % 251) as u8).collect()
}

/// Through the trait, as generic code such as the echo server asks.
fn local_addr_of<S: UdpLocalAddr>(stack: &S, socket: &S::UdpSocket) -> Option<SocketAddr> {
    stack.udp_local_addr(socket)
}

#[test]
fn receive_on_an_empty_socket_would_block_at_once() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut socket, addr) = bound(&mut stack);
    assert_eq!(addr.ip(), V4);
    let mut buf = [0u8; 16];
    for _ in 0..3 {
        would_block(stack.receive(&mut socket, &mut buf));
    }
    assert_eq!(stack.close(socket), Ok(()));
}

/// A std peer and a stack socket on `ip` trade a datagram each way; then two stack
/// sockets do, one of them connected.
fn round_trip(ip: IpAddr) {
    let mut stack = StdStack::bind_to(ip);
    let (mut socket, addr) = bound(&mut stack);
    assert_eq!(addr.ip(), ip);
    assert_eq!(local_addr_of(&stack, &socket), Some(addr));

    let peer = std_peer(ip);
    let question = pattern(0, 300);
    peer.send_to(&question, addr).unwrap();
    let (got, from) = receive(&mut stack, &mut socket, 1024);
    assert_eq!(got, question);
    assert_eq!(from, peer.local_addr().unwrap());
    let answer = pattern(7, 200);
    until_ready(|| stack.send_to(&mut socket, from, &answer)).unwrap();
    assert_eq!(std_receive(&peer), (answer, addr));

    let mut client = stack.socket().unwrap();
    stack.connect(&mut client, addr).unwrap();
    let client_addr = stack.udp_local_addr(&client).unwrap();
    assert_eq!(client_addr.ip(), ip);
    until_ready(|| stack.send(&mut client, b"from the stack")).unwrap();
    let (got, from) = receive(&mut stack, &mut socket, 64);
    assert_eq!(
        (got.as_slice(), from),
        (&b"from the stack"[..], client_addr)
    );
    until_ready(|| stack.send_to(&mut socket, from, b"and back")).unwrap();
    let (got, from) = receive(&mut stack, &mut client, 64);
    assert_eq!((got.as_slice(), from), (&b"and back"[..], addr));
}

#[test]
fn a_round_trip_over_ipv4_keeps_the_bytes_and_the_peer() {
    let _w = watchdog();
    round_trip(V4);
}

#[test]
fn a_round_trip_over_ipv6_keeps_the_bytes_and_the_peer() {
    let _w = watchdog();
    if ipv6_loopback("a_round_trip_over_ipv6_keeps_the_bytes_and_the_peer") {
        round_trip(V6);
    }
}

#[test]
fn a_dual_stack_socket_reports_ipv4_peers_as_ipv4_and_answers_them() {
    let _w = watchdog();
    let mut stack = StdStack::new();
    let (mut socket, addr) = bound(&mut stack);
    let port = addr.port();

    let v4 = std_peer(V4);
    v4.send_to(b"over IPv4", (V4, port)).unwrap();
    let (got, peer) = receive(&mut stack, &mut socket, 64);
    assert_eq!(got, b"over IPv4");
    assert!(peer.is_ipv4(), "{peer} should be plain IPv4");
    assert_eq!(peer, v4.local_addr().unwrap());
    // Answered at the plain IPv4 address it was reported as.
    until_ready(|| stack.send_to(&mut socket, peer, b"to IPv4")).unwrap();
    assert_eq!(
        std_receive(&v4),
        (b"to IPv4".to_vec(), SocketAddr::new(V4, port))
    );

    // A connected socket of this stack binds the remote's family.
    connect_and_send(&mut stack, &mut socket, SocketAddr::new(V4, port));

    if !ipv6_loopback("a_dual_stack_socket_reports_ipv4_peers_as_ipv4_and_answers_them") {
        return;
    }
    assert_eq!(
        addr.ip(),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        "not dual-stack"
    );
    let v6 = std_peer(V6);
    v6.send_to(b"over IPv6", (V6, port)).unwrap();
    let (got, peer) = receive(&mut stack, &mut socket, 64);
    assert_eq!(
        (got.as_slice(), peer),
        (&b"over IPv6"[..], v6.local_addr().unwrap())
    );
    until_ready(|| stack.send_to(&mut socket, peer, b"to IPv6")).unwrap();
    assert_eq!(
        std_receive(&v6),
        (b"to IPv6".to_vec(), SocketAddr::new(V6, port))
    );
    connect_and_send(&mut stack, &mut socket, SocketAddr::new(V6, port));
}

/// A socket of `stack` connected to `to` sends a datagram that `server` (bound to
/// `to`'s port) receives from it, in `to`'s family.
fn connect_and_send(stack: &mut StdStack, server: &mut StdUdpSocket, to: SocketAddr) {
    let mut client = stack.socket().unwrap();
    stack.connect(&mut client, to).unwrap();
    let local = stack.udp_local_addr(&client).unwrap();
    assert_eq!(local.ip(), to.ip());
    until_ready(|| stack.send(&mut client, b"connected")).unwrap();
    let (got, from) = receive(stack, server, 64);
    assert_eq!((got.as_slice(), from), (&b"connected"[..], local));
    stack.close(client).unwrap();
}

#[test]
fn the_largest_ipv4_datagram_arrives_whole_and_a_larger_one_is_refused() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut server, addr) = bound(&mut stack);
    let mut client = stack.socket().unwrap();
    stack.connect(&mut client, addr).unwrap();

    let largest = pattern(3, LARGEST_V4);
    until_ready(|| stack.send(&mut client, &largest)).unwrap();
    // One byte more room than the datagram: a full buffer would mean it was cut.
    let (got, from) = receive(&mut stack, &mut server, LARGEST_V4 + 1);
    assert_eq!(got.len(), LARGEST_V4);
    assert!(got == largest, "bytes changed");
    assert_eq!(Some(from), stack.udp_local_addr(&client));

    // Too large for IPv4: refused by the OS, not sent in part, not WouldBlock.
    let too_large = pattern(0, LARGEST_V4 + 1);
    match stack.send(&mut client, &too_large) {
        Err(nb::Error::Other(StdError::Io(_))) => {}
        other => panic!("a datagram over 65507 bytes: {other:?}"),
    }
    would_block(stack.receive(&mut server, &mut [0u8; 16]));
}

#[test]
#[cfg(unix)]
fn a_datagram_longer_than_the_buffer_fills_it_and_the_rest_is_lost() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut socket, addr) = bound(&mut stack);
    let peer = std_peer(V4);

    let long = pattern(0, 100);
    peer.send_to(&long, addr).unwrap();
    let (got, from) = receive(&mut stack, &mut socket, 10);
    assert_eq!(got, long[..10], "cut to the buffer");
    assert_eq!(from, peer.local_addr().unwrap());
    // The rest is gone: the next receive takes the next datagram.
    peer.send_to(b"next", addr).unwrap();
    assert_eq!(receive(&mut stack, &mut socket, 10).0, b"next");

    // The documented way to tell: a buffer one byte longer than the largest datagram
    // accepted is never filled by one that fits.
    peer.send_to(&long[..10], addr).unwrap();
    peer.send_to(&long[..11], addr).unwrap();
    assert_eq!(receive(&mut stack, &mut socket, 11).0.len(), 10, "whole");
    assert_eq!(
        receive(&mut stack, &mut socket, 11).0.len(),
        11,
        "maybe cut"
    );
}

#[test]
fn a_connected_socket_sends_to_its_remote_and_hears_only_it() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let remote = std_peer(V4);
    let remote_addr = remote.local_addr().unwrap();
    let mut socket = stack.socket().unwrap();
    stack.connect(&mut socket, remote_addr).unwrap();
    let local = stack.udp_local_addr(&socket).unwrap();
    assert_eq!(local.ip(), V4);
    assert_ne!(local.port(), 0);

    until_ready(|| stack.send(&mut socket, b"hello")).unwrap();
    assert_eq!(std_receive(&remote), (b"hello".to_vec(), local));

    // A stranger's datagram is dropped by the OS; the remote's answer comes through.
    let stranger = std_peer(V4);
    stranger.send_to(b"stranger", local).unwrap();
    remote.send_to(b"answer", local).unwrap();
    let (got, from) = receive(&mut stack, &mut socket, 64);
    assert_eq!((got.as_slice(), from), (&b"answer"[..], remote_addr));
    would_block(stack.receive(&mut socket, &mut [0u8; 64]));
    assert_eq!(stack.close(socket), Ok(()));
}

/// Sends on a connected socket until the OS reports the ICMP error of an earlier
/// datagram; every datagram that went out draws another, so one comes soon.
#[cfg(target_os = "linux")]
fn send_until_refused(stack: &mut StdStack, socket: &mut StdUdpSocket) {
    let start = Instant::now();
    for _ in 0..ROUNDS {
        match stack.send(socket, b"anyone?") {
            Err(nb::Error::Other(e)) => return assert_eq!(e, refused()),
            Ok(()) | Err(nb::Error::WouldBlock) => {}
        }
        if start.elapsed() > PATIENCE {
            break;
        }
        sleep(Duration::from_millis(1));
    }
    panic!("no ConnectionRefused after {:?}", start.elapsed());
}

#[test]
#[cfg(target_os = "linux")]
fn a_refused_datagram_is_reported_once_and_the_socket_stays_usable() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let closed = closed_port(V4);
    let mut socket = stack.socket().unwrap();
    stack.connect(&mut socket, closed).unwrap();
    let mut buf = [0u8; 64];

    // By receive: the port unreachable of the one datagram sent, once.
    until_ready(|| stack.send(&mut socket, b"anyone?")).unwrap();
    assert_eq!(
        until_ready(|| stack.receive(&mut socket, &mut buf)),
        Err(refused())
    );
    would_block(stack.receive(&mut socket, &mut buf));

    // By send: the error of an earlier datagram fails the next send, once.
    send_until_refused(&mut stack, &mut socket);
    would_block(stack.receive(&mut socket, &mut buf));

    // The same socket works once someone listens on that port.
    // Only another program taking the port in these microseconds fails this.
    let remote = UdpSocket::bind(closed).expect("rebind the port just found closed");
    remote.set_read_timeout(Some(PATIENCE)).unwrap();
    let local = stack.udp_local_addr(&socket).unwrap();
    until_ready(|| stack.send(&mut socket, b"now?")).unwrap();
    assert_eq!(std_receive(&remote), (b"now?".to_vec(), local));
    remote.send_to(b"yes", local).unwrap();
    let (got, from) = receive(&mut stack, &mut socket, 64);
    assert_eq!((got.as_slice(), from), (&b"yes"[..], closed));
}

// The `wait` tests synchronise on the event itself: readiness is edge-triggered and
// registered when the socket is bound, so news that came before `wait` is called
// still wakes it, and `true` (woken, not timed out) is what is asserted.

#[test]
#[cfg(unix)]
fn wait_wakes_when_a_datagram_arrives_and_then_sleeps_again() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut socket, addr) = bound(&mut stack);
    let waiter = stack.clone();
    // Whatever binding reported (room to send) is taken by a first wait.
    let _ = waiter.wait(SHORT_WAIT);
    assert!(!waiter.wait(SHORT_WAIT), "woken with no news");

    let peer = std_peer(V4);
    peer.send_to(b"news", addr).unwrap();
    assert!(waiter.wait(LONG_WAIT), "not woken by a datagram");
    let mut buf = [0u8; 8];
    let (n, from) = stack.receive(&mut socket, &mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"news"[..], peer.local_addr().unwrap())
    );
    assert!(!waiter.wait(SHORT_WAIT), "woken again with no news");

    // A closed socket is no longer watched: its datagrams wake nobody.
    stack.close(socket).unwrap();
    let _ = peer.send_to(b"late", addr);
    assert!(!waiter.wait(SHORT_WAIT), "woken by a closed socket");
}

#[test]
fn calls_in_the_wrong_state_are_invalid_and_do_not_panic() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let elsewhere = closed_port(V4);
    let mut buf = [0u8; 8];

    let mut fresh = stack.socket().unwrap();
    invalid(stack.send(&mut fresh, b"x"));
    invalid(stack.send(&mut fresh, b""));
    invalid(stack.send_to(&mut fresh, elsewhere, b"x"));
    invalid(stack.receive(&mut fresh, &mut buf));
    assert_eq!(stack.udp_local_addr(&fresh), None);

    let (mut bound, _) = bound(&mut stack);
    invalid(stack.send(&mut bound, b"x"));
    assert_eq!(stack.bind(&mut bound, 0), Err(StdError::InvalidState));
    assert_eq!(
        stack.connect(&mut bound, elsewhere),
        Err(StdError::InvalidState)
    );

    let mut connected = stack.socket().unwrap();
    stack.connect(&mut connected, elsewhere).unwrap();
    assert_eq!(stack.bind(&mut connected, 0), Err(StdError::InvalidState));
    assert_eq!(
        stack.connect(&mut connected, elsewhere),
        Err(StdError::InvalidState)
    );

    for socket in [fresh, bound, connected] {
        assert_eq!(stack.close(socket), Ok(()));
    }
}

#[test]
fn binding_a_port_in_use_fails_and_the_handle_stays_fresh() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (first, addr) = bound(&mut stack);
    let mut second = stack.socket().unwrap();
    // No SO_REUSEADDR: on Linux it would let this socket take the port.
    assert_eq!(
        stack.bind(&mut second, addr.port()),
        Err(StdError::Io(ErrorKind::AddrInUse))
    );
    assert_eq!(stack.udp_local_addr(&second), None);
    // Once the port is free, the same handle binds it.
    stack.close(first).unwrap();
    assert_eq!(stack.bind(&mut second, addr.port()), Ok(()));
    assert_eq!(stack.udp_local_addr(&second), Some(addr));
}

/// A socket bound to `port` by a stack that shares its port, or the error of `bind`.
fn shared_socket(port: u16) -> Result<(StdStack, StdUdpSocket), StdError> {
    let mut stack = StdStack::bind_to(V4).with_shared_port();
    let mut socket = stack.socket().unwrap();
    stack.bind(&mut socket, port)?;
    Ok((stack, socket))
}

#[test]
fn stacks_that_share_a_port_split_its_datagrams_and_lose_none() {
    let _w = watchdog();
    if !StdStack::CAN_SHARE_PORT {
        let refused = shared_socket(0).map(|_| ());
        assert_eq!(refused, Err(StdError::Io(ErrorKind::Unsupported)));
        return;
    }
    let (mut a, mut sa) = shared_socket(0).unwrap();
    let addr = a.udp_local_addr(&sa).unwrap();
    let (mut b, mut sb) = shared_socket(addr.port()).unwrap();
    let mut plain = StdStack::bind_to(V4);
    let mut third = plain.socket().unwrap();
    assert_eq!(
        plain.bind(&mut third, addr.port()),
        Err(StdError::Io(ErrorKind::AddrInUse))
    );

    // The kernel picks a socket by a hash of the sender's address: with 32 senders,
    // the chance that one socket gets them all is 2 in 2^32.
    const SENDERS: usize = 32;
    let senders: Vec<UdpSocket> = (0..SENDERS).map(|_| std_peer(V4)).collect();
    for sender in &senders {
        sender.send_to(b"which one?", addr).unwrap();
    }
    let mut peers: [Vec<SocketAddr>; 2] = [Vec::new(), Vec::new()];
    let mut buf = [0u8; 16];
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for (i, (stack, socket)) in [(&mut a, &mut sa), (&mut b, &mut sb)]
            .into_iter()
            .enumerate()
        {
            while let Ok((_, peer)) = stack.receive(socket, &mut buf) {
                peers[i].push(peer);
            }
        }
        if peers[0].len() + peers[1].len() == SENDERS || start.elapsed() > PATIENCE {
            break;
        }
        sleep(Duration::from_millis(1));
    }
    let counts = [peers[0].len(), peers[1].len()];
    assert!(
        counts.iter().all(|&n| n > 0),
        "one socket took all: {counts:?}"
    );
    let got: BTreeSet<SocketAddr> = peers.iter().flatten().copied().collect();
    let sent: BTreeSet<SocketAddr> = senders.iter().map(|s| s.local_addr().unwrap()).collect();
    assert_eq!(counts[0] + counts[1], SENDERS, "received {counts:?}");
    assert_eq!(got, sent);
}

/// What client `i` sends as its datagram `k`.
fn message(i: usize, k: usize) -> Vec<u8> {
    format!("client {i} datagram {k}").into_bytes()
}

/// Echoes what the server socket has received, keeping what the send buffer
/// refused for the next round; returns whether anything moved.
fn echo_round(
    stack: &mut StdStack,
    server: &mut StdUdpSocket,
    pending: &mut VecDeque<(Vec<u8>, SocketAddr)>,
) -> bool {
    let mut moved = false;
    let mut buf = [0u8; 64];
    for _ in 0..ROUNDS {
        match stack.receive(server, &mut buf) {
            Ok((n, peer)) => pending.push_back((buf[..n].to_vec(), peer)),
            Err(nb::Error::WouldBlock) => break,
            Err(e) => panic!("server receive failed: {e:?}"),
        }
        moved = true;
    }
    while let Some((datagram, peer)) = pending.front() {
        match stack.send_to(server, *peer, datagram) {
            Ok(()) => {}
            Err(nb::Error::WouldBlock) => break,
            Err(e) => panic!("server send failed: {e:?}"),
        }
        pending.pop_front();
        moved = true;
    }
    moved
}

#[test]
fn thirty_two_clients_sending_at_once_each_get_their_own_echoes() {
    let _w = watchdog();
    const CLIENTS: usize = 32;
    const EACH: usize = 4;
    let mut stack = StdStack::bind_to(V4);
    let (mut server, addr) = bound(&mut stack);
    let mut clients: Vec<StdUdpSocket> = (0..CLIENTS)
        .map(|_| {
            let mut c = stack.socket().unwrap();
            stack.connect(&mut c, addr).unwrap();
            c
        })
        .collect();
    for k in 0..EACH {
        for (i, client) in clients.iter_mut().enumerate() {
            until_ready(|| stack.send(client, &message(i, k))).unwrap();
        }
    }

    let mut echoes: Vec<Vec<Vec<u8>>> = vec![Vec::new(); CLIENTS];
    let mut pending = VecDeque::new();
    let mut buf = [0u8; 64];
    let start = Instant::now();
    for _ in 0..ROUNDS {
        let mut moved = echo_round(&mut stack, &mut server, &mut pending);
        for (i, client) in clients.iter_mut().enumerate() {
            while let Ok((n, from)) = stack.receive(client, &mut buf) {
                assert_eq!(from, addr, "client {i} heard from a stranger");
                echoes[i].push(buf[..n].to_vec());
                moved = true;
            }
        }
        let done = echoes.iter().all(|e| e.len() >= EACH);
        if done || start.elapsed() > PATIENCE {
            break;
        }
        if !moved {
            // Sleeps in the OS until a datagram arrives; the loop checks the result.
            stack.wait(SHORT_WAIT);
        }
    }
    for (i, got) in echoes.iter_mut().enumerate() {
        got.sort();
        let mut expected: Vec<Vec<u8>> = (0..EACH).map(|k| message(i, k)).collect();
        expected.sort();
        assert_eq!(*got, expected, "the echoes of client {i}");
    }
    assert!(pending.is_empty());
}
