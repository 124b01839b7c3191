//! The std stack on the loopback: no call waits, and the OS's TCP behaviour comes
//! through the embedded-nal traits (refused, reset, orderly close, backpressure).
//!
//! Ports are chosen by the OS, and every wait is bounded in count and time, so a bug
//! fails a test instead of hanging it.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread::sleep;
use std::time::{Duration, Instant};

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Pixel, Size};
use nal_echo::embedded_nal::{nb, TcpClientStack, TcpError, TcpErrorKind, TcpFullStack};
use nal_echo::stack::std::{StdError, StdSocket, StdStack};
use nal_echo::{CloseReason, EchoServer, NoFlush, ServerConfig, ServerEvent};

use common::std_calls::{invalid, refused, until_ready};
use common::watchdog::watchdog;

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
/// Longest any wait in these tests may take.
const PATIENCE: Duration = Duration::from_secs(10);
/// Most rounds of a wait (1 ms sleeps): the count bound, besides [`PATIENCE`].
const ROUNDS: usize = 10_000;

/// A listener on an OS-chosen port, with the address it got.
fn listener(stack: &mut StdStack) -> (StdSocket, SocketAddr) {
    let mut socket = stack.socket().unwrap();
    stack.bind(&mut socket, 0).unwrap();
    stack.listen(&mut socket).unwrap();
    let addr = stack
        .local_addr(&socket)
        .expect("a listener has an address");
    assert_ne!(addr.port(), 0);
    (socket, addr)
}

fn accept(stack: &mut StdStack, listener: &mut StdSocket) -> (StdSocket, SocketAddr) {
    until_ready(|| stack.accept(listener)).unwrap()
}

/// A std client whose reads give up after [`PATIENCE`] instead of hanging.
fn std_client(addr: SocketAddr) -> TcpStream {
    let client = TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.set_write_timeout(Some(PATIENCE)).unwrap();
    client
}

/// A server-side stack connection and the std client at its other end.
fn accepted_pair(stack: &mut StdStack) -> (StdSocket, TcpStream) {
    let (mut l, addr) = listener(stack);
    let client = std_client(addr);
    let (server, peer) = accept(stack, &mut l);
    assert_eq!(peer, client.local_addr().unwrap());
    stack.close(l).unwrap();
    (server, client)
}

/// A port nobody listens on (a moment ago the OS gave it to a listener we dropped).
fn closed_port(ip: IpAddr) -> SocketAddr {
    TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap()
}

/// Moves `data` from `from` to `to` through the stack, sending and receiving by turns
/// as a poll loop would, so partial sends are handled and no buffer has to hold it all.
fn transfer(stack: &mut StdStack, from: &mut StdSocket, to: &mut StdSocket, data: &[u8]) {
    let (mut sent, mut got) = (0, Vec::with_capacity(data.len()));
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    for _ in 0..100_000 {
        if sent < data.len() {
            match stack.send(from, &data[sent..]) {
                Ok(n) => sent += n,
                Err(nb::Error::WouldBlock) => {}
                Err(e) => panic!("send failed: {e:?}"),
            }
        }
        match stack.receive(to, &mut buf) {
            Ok(0) => panic!("the sender closed after {} bytes", got.len()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(nb::Error::WouldBlock) => sleep(Duration::from_micros(100)),
            Err(e) => panic!("receive failed: {e:?}"),
        }
        if got.len() >= data.len() || start.elapsed() > PATIENCE {
            break;
        }
    }
    assert_eq!(got.len(), data.len(), "bytes lost or late");
    assert!(got == data, "bytes changed or out of order");
}

/// Bytes `offset..offset + len` of an endless, recognisable stream.
fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn accept_with_nobody_connecting_would_block_at_once() {
    let _watchdog = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut l, addr) = listener(&mut stack);
    assert_eq!(addr.ip(), V4);
    for _ in 0..3 {
        assert!(matches!(stack.accept(&mut l), Err(nb::Error::WouldBlock)));
    }
    stack.close(l).unwrap();
}

#[test]
fn connect_completes_and_data_flows_both_ways() {
    let _watchdog = watchdog();
    let mut server = StdStack::bind_to(V4);
    let mut client = StdStack::new();
    let (mut l, addr) = listener(&mut server);
    let mut c = client.socket().unwrap();
    match client.connect(&mut c, addr) {
        Ok(()) | Err(nb::Error::WouldBlock) => {}
        Err(e) => panic!("connect failed at once: {e:?}"),
    }
    until_ready(|| client.connect(&mut c, addr)).unwrap();
    assert_eq!(client.peer_addr(&c), Some(addr));
    // Once connected, asking again is a no-op.
    assert_eq!(client.connect(&mut c, addr), Ok(()));

    let (mut s, peer) = accept(&mut server, &mut l);
    assert_eq!(Some(peer), client.local_addr(&c));
    assert_eq!(server.peer_addr(&s), Some(peer));
    assert_eq!(server.local_addr(&s), Some(addr));

    assert_eq!(client.send(&mut c, &[]), Ok(0));
    let up = pattern(0, 3_000_000);
    transfer(&mut client, &mut c, &mut s, &up);
    let down = pattern(7, 1_000_000);
    transfer(&mut server, &mut s, &mut c, &down);
    client.close(c).unwrap();
    assert_eq!(until_ready(|| server.receive(&mut s, &mut [0; 16])), Ok(0));
}

#[test]
fn connect_to_a_closed_port_is_refused_without_blocking() {
    let _watchdog = watchdog();
    let mut stack = StdStack::new();
    let remote = closed_port(V4);
    let mut c = stack.socket().unwrap();
    assert_eq!(
        until_ready(|| stack.connect(&mut c, remote)),
        Err(refused())
    );
    assert_eq!(stack.peer_addr(&c), None);
    // The failed handle may try again, and fails the same way.
    assert_eq!(
        until_ready(|| stack.connect(&mut c, remote)),
        Err(refused())
    );
    assert_eq!(stack.close(c), Ok(()));
}

#[test]
fn a_failed_connect_is_reported_by_send_too() {
    let _watchdog = watchdog();
    let mut stack = StdStack::new();
    let remote = closed_port(V4);
    let mut c = stack.socket().unwrap();
    let _ = stack.connect(&mut c, remote);
    let sent = until_ready(|| stack.send(&mut c, b"x"));
    assert!(matches!(sent, Err(e) if e == refused()), "{sent:?}");
}

#[test]
fn receive_on_an_idle_connection_would_block_at_once() {
    let _watchdog = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut s, _client) = accepted_pair(&mut stack);
    for _ in 0..3 {
        assert!(matches!(
            stack.receive(&mut s, &mut [0; 64]),
            Err(nb::Error::WouldBlock)
        ));
    }
}

#[test]
fn an_orderly_close_reads_as_zero_after_the_data() {
    let _watchdog = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut s, mut client) = accepted_pair(&mut stack);
    client.write_all(b"bye").unwrap();
    drop(client);
    let mut buf = [0u8; 16];
    assert_eq!(until_ready(|| stack.receive(&mut s, &mut buf)), Ok(3));
    assert_eq!(&buf[..3], b"bye");
    assert_eq!(until_ready(|| stack.receive(&mut s, &mut buf)), Ok(0));
    assert_eq!(until_ready(|| stack.receive(&mut s, &mut buf)), Ok(0));
}

/// Linux answers a close with unread received data with a reset (RFC 2525), which
/// is what the tutorial's killed client produces.
#[cfg(target_os = "linux")]
#[test]
fn a_peer_dropping_unread_data_resets_the_connection() {
    let _watchdog = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut s, client) = accepted_pair(&mut stack);
    assert_eq!(stack.send(&mut s, b"unread"), Ok(6));
    wait_readable(&client);
    drop(client);
    let got = until_ready(|| stack.receive(&mut s, &mut [0; 16]));
    assert_eq!(got, Err(StdError::Io(ErrorKind::ConnectionReset)));
    // The reset is reported once; then the sending direction is simply gone.
    let sent = until_ready(|| stack.send(&mut s, b"more"));
    let e = sent.expect_err("a send after a reset fails");
    assert_eq!(e, StdError::Io(ErrorKind::BrokenPipe));
    assert_eq!(e.kind(), TcpErrorKind::PipeClosed);
}

/// Waits (bounded) until data is in `stream`'s receive queue, without taking it.
fn wait_readable(stream: &TcpStream) {
    let mut probe = [0u8; 1];
    assert!(matches!(stream.peek(&mut probe), Ok(1)), "no data arrived");
}

#[test]
fn send_to_a_peer_that_does_not_read_would_block_and_loses_nothing() {
    let _watchdog = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut s, mut client) = accepted_pair(&mut stack);
    const CHUNK: usize = 64 * 1024;
    let mut sent = 0;
    let start = Instant::now();
    let blocked = loop {
        assert!(sent < 256 << 20, "256 MiB taken without backpressure");
        assert!(
            start.elapsed() < PATIENCE,
            "no backpressure after {sent} bytes"
        );
        match stack.send(&mut s, &pattern(sent, CHUNK)) {
            Ok(n) => sent += n,
            Err(nb::Error::WouldBlock) => break true,
            Err(e) => panic!("send failed: {e:?}"),
        }
    };
    assert!(blocked && sent > 0);
    let mut got = vec![0u8; sent];
    client.read_exact(&mut got).unwrap();
    assert!(got == pattern(0, sent), "bytes changed or out of order");
    // The peer has read everything: the queue has room again.
    assert_eq!(until_ready(|| stack.send(&mut s, b"!")), Ok(1));
}

/// `client` sends a line, the stack connection `s` sends it back.
fn bounce(stack: &mut StdStack, s: &mut StdSocket, client: &mut TcpStream) {
    let line = b"ping\n";
    client.write_all(line).unwrap();
    let mut buf = [0u8; 16];
    let n = until_ready(|| stack.receive(s, &mut buf)).unwrap();
    assert_eq!(&buf[..n], line);
    assert_eq!(until_ready(|| stack.send(s, &buf[..n])), Ok(n));
    let mut back = [0u8; 5];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, line);
}

#[test]
fn a_default_stack_listens_dual_stack_and_reports_ipv4_peers_as_ipv4() {
    let _watchdog = watchdog();
    let mut stack = StdStack::new();
    let (mut l, addr) = listener(&mut stack);
    let port = addr.port();

    let mut v4 = std_client(SocketAddr::new(V4, port));
    let (mut s4, peer4) = accept(&mut stack, &mut l);
    assert_eq!(peer4, v4.local_addr().unwrap());
    assert!(peer4.is_ipv4(), "{peer4} should be plain IPv4");
    assert_eq!(stack.peer_addr(&s4), Some(peer4));
    assert_eq!(stack.local_addr(&s4), Some(SocketAddr::new(V4, port)));
    bounce(&mut stack, &mut s4, &mut v4);

    if !common::ipv6::ipv6_loopback(
        "a_default_stack_listens_dual_stack_and_reports_ipv4_peers_as_ipv4",
    ) {
        return;
    }
    assert_eq!(
        addr.ip(),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        "not dual-stack"
    );
    let mut v6 = std_client(SocketAddr::new(V6, port));
    let (mut s6, peer6) = accept(&mut stack, &mut l);
    assert_eq!(peer6, v6.local_addr().unwrap());
    assert_eq!(peer6.ip(), V6);
    bounce(&mut stack, &mut s6, &mut v6);

    // The stack connects over IPv6 as well.
    let mut c = stack.socket().unwrap();
    until_ready(|| stack.connect(&mut c, SocketAddr::new(V6, port))).unwrap();
    let (mut s, peer) = accept(&mut stack, &mut l);
    assert_eq!(Some(peer), stack.local_addr(&c));
    transfer(&mut stack, &mut c, &mut s, b"over IPv6");
}

#[test]
fn a_stack_bound_to_ipv4_loopback_is_not_reachable_on_ipv6() {
    let _watchdog = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut l, addr) = listener(&mut stack);
    let v6 = SocketAddr::new(V6, addr.port());
    assert!(TcpStream::connect_timeout(&v6, PATIENCE).is_err());
    assert!(matches!(stack.accept(&mut l), Err(nb::Error::WouldBlock)));
    let _v4 = std_client(addr);
    accept(&mut stack, &mut l);

    if !common::ipv6::ipv6_loopback("a_stack_bound_to_ipv4_loopback_is_not_reachable_on_ipv6") {
        return;
    }
    let mut stack = StdStack::bind_to(V6);
    let (_l, addr) = listener(&mut stack);
    assert_eq!(addr.ip(), V6);
    let v4 = SocketAddr::new(V4, addr.port());
    assert!(TcpStream::connect_timeout(&v4, PATIENCE).is_err());
}

#[test]
fn listen_on_a_port_in_use_fails_and_the_handle_stays_usable() {
    let _watchdog = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (l, addr) = listener(&mut stack);
    let mut second = stack.socket().unwrap();
    stack.bind(&mut second, addr.port()).unwrap();
    assert_eq!(
        stack.listen(&mut second),
        Err(StdError::Io(ErrorKind::AddrInUse))
    );
    assert_eq!(stack.local_addr(&second), None);
    // Once the port is free, the same handle listens.
    stack.close(l).unwrap();
    assert_eq!(stack.listen(&mut second), Ok(()));
    assert_eq!(stack.local_addr(&second), Some(addr));
    assert_eq!(stack.close(second), Ok(()));
}

/// A listener on `port` of a stack that shares its port, or the error of `listen`.
fn shared_listener(port: u16) -> Result<(StdStack, StdSocket), StdError> {
    let mut stack = StdStack::bind_to(V4).with_shared_port();
    let mut socket = stack.socket().unwrap();
    stack.bind(&mut socket, port).unwrap();
    stack.listen(&mut socket)?;
    Ok((stack, socket))
}

#[test]
fn stacks_that_share_a_port_split_its_connections_and_lose_none() {
    let _watchdog = watchdog();
    if !StdStack::CAN_SHARE_PORT {
        let refused = shared_listener(0).map(|_| ());
        assert_eq!(refused, Err(StdError::Io(ErrorKind::Unsupported)));
        return;
    }
    let (mut a, mut la) = shared_listener(0).unwrap();
    let addr = a.local_addr(&la).unwrap();
    let (mut b, mut lb) = shared_listener(addr.port()).unwrap();
    // A stack that does not ask to share finds the port taken.
    let mut plain = StdStack::bind_to(V4);
    let mut third = plain.socket().unwrap();
    plain.bind(&mut third, addr.port()).unwrap();
    assert_eq!(
        plain.listen(&mut third),
        Err(StdError::Io(ErrorKind::AddrInUse))
    );

    // The kernel picks a listener by a hash of the connection's addresses: with 32
    // connections, the chance that one listener gets them all is 2 in 2^32.
    const CLIENTS: usize = 32;
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| std_client(addr)).collect();
    let mut accepted: [Vec<(StdSocket, SocketAddr)>; 2] = [Vec::new(), Vec::new()];
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for (i, (stack, listener)) in [(&mut a, &mut la), (&mut b, &mut lb)]
            .into_iter()
            .enumerate()
        {
            while let Ok(conn) = stack.accept(listener) {
                accepted[i].push(conn);
            }
        }
        if accepted[0].len() + accepted[1].len() == CLIENTS || start.elapsed() > PATIENCE {
            break;
        }
        sleep(Duration::from_millis(1));
    }
    let counts = [accepted[0].len(), accepted[1].len()];
    assert_eq!(counts[0] + counts[1], CLIENTS, "accepted {counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "one listener took all: {counts:?}"
    );

    // Every client was accepted once, by one of the two, and is served there.
    let mut peers: Vec<SocketAddr> = accepted.iter().flatten().map(|(_, p)| *p).collect();
    peers.sort();
    let mut expected: Vec<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    expected.sort();
    assert_eq!(peers, expected);
    for (i, stack) in [&mut a, &mut b].into_iter().enumerate() {
        for (conn, peer) in &mut accepted[i] {
            let client = clients
                .iter_mut()
                .find(|c| c.local_addr().unwrap() == *peer)
                .unwrap();
            bounce(stack, conn, client);
        }
    }
}

#[test]
fn calls_in_the_wrong_state_are_invalid_and_do_not_panic() {
    let _watchdog = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let elsewhere = closed_port(V4);
    let mut buf = [0u8; 8];

    let mut fresh = stack.socket().unwrap();
    invalid(stack.send(&mut fresh, b"x"));
    invalid(stack.send(&mut fresh, b""));
    invalid(stack.receive(&mut fresh, &mut buf));
    invalid(stack.accept(&mut fresh));
    assert_eq!(stack.listen(&mut fresh), Err(StdError::InvalidState));
    assert_eq!(stack.local_addr(&fresh), None);
    assert_eq!(stack.peer_addr(&fresh), None);

    let mut bound = stack.socket().unwrap();
    stack.bind(&mut bound, 0).unwrap();
    assert_eq!(stack.bind(&mut bound, 0), Err(StdError::InvalidState));
    invalid(stack.connect(&mut bound, elsewhere));
    invalid(stack.send(&mut bound, b"x"));
    invalid(stack.accept(&mut bound));

    let (mut l, addr) = listener(&mut stack);
    invalid(stack.send(&mut l, b"x"));
    invalid(stack.receive(&mut l, &mut buf));
    invalid(stack.connect(&mut l, addr));
    assert_eq!(stack.bind(&mut l, 0), Err(StdError::InvalidState));
    assert_eq!(stack.listen(&mut l), Err(StdError::InvalidState));
    assert_eq!(stack.peer_addr(&l), None);

    let mut c = stack.socket().unwrap();
    let _ = stack.connect(&mut c, addr);
    invalid(stack.connect(&mut c, elsewhere));
    let (mut s, _) = accept(&mut stack, &mut l);
    invalid(stack.accept(&mut s));
    invalid(stack.connect(&mut s, elsewhere));
    assert_eq!(stack.bind(&mut s, 0), Err(StdError::InvalidState));
    assert_eq!(stack.listen(&mut s), Err(StdError::InvalidState));

    for socket in [fresh, bound, l, c, s] {
        assert_eq!(stack.close(socket), Ok(()));
    }
}

/// A 128x64 target that draws nothing: the screen is not under test here.
struct Blank;

impl OriginDimensions for Blank {
    fn size(&self) -> Size {
        Size::new(128, 64)
    }
}

impl DrawTarget for Blank {
    type Color = BinaryColor;
    type Error = core::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<BinaryColor>>>(
        &mut self,
        _: I,
    ) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[test]
fn the_echo_server_over_the_std_stack_echoes_a_std_client() {
    let _watchdog = watchdog();
    // Port 0: the OS picks a free port, and the server tells which.
    let config = ServerConfig::default().with_port(0);
    let mut server = EchoServer::new(StdStack::bind_to(V4), NoFlush(Blank), config);
    assert_eq!(
        server.local_addr(),
        None,
        "not listening before the first poll"
    );
    let start = Instant::now();
    let poll = |server: &mut EchoServer<StdStack, NoFlush<Blank>>| {
        let now = nal_echo::Instant::from_millis(start.elapsed().as_millis() as u64);
        server.poll(now).unwrap();
    };
    poll(&mut server);
    assert!(server.is_listening());
    let bound = server.local_addr().expect("a listener has an address");
    assert_eq!(bound.ip(), V4);
    assert_ne!(bound.port(), 0);
    let port = bound.port();
    server.show_address(Some(V4), port);
    assert_eq!(server.screen().header(), format!("127.0.0.1:{port}"));

    let mut client = std_client(SocketAddr::new(V4, port));
    client.set_nonblocking(true).unwrap();
    let message = b"Hello from the std client\n";
    client.write_all(message).unwrap();
    let mut echoed = Vec::new();
    let mut buf = [0u8; 64];
    for _ in 0..ROUNDS {
        poll(&mut server);
        match client.read(&mut buf) {
            Ok(n) => echoed.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => sleep(Duration::from_millis(1)),
            Err(e) => panic!("client read failed: {e}"),
        }
        if echoed.len() >= message.len() || start.elapsed() > PATIENCE {
            break;
        }
    }
    assert_eq!(echoed, message);
    let me = client.local_addr().unwrap();
    assert_eq!(
        server.next_event(),
        Some(ServerEvent::Accepted { slot: 0, peer: me })
    );

    client.shutdown(Shutdown::Write).unwrap();
    for _ in 0..ROUNDS {
        poll(&mut server);
        if server.stats().active == 0 || start.elapsed() > PATIENCE {
            break;
        }
        sleep(Duration::from_millis(1));
    }
    let closed = ServerEvent::Closed {
        slot: 0,
        peer: me,
        reason: CloseReason::PeerClosed,
    };
    assert_eq!(server.next_event(), Some(closed));
    assert_eq!(server.stats().bytes_in, message.len() as u64);
    assert_eq!(server.stats().bytes_out, message.len() as u64);
    let _ = server.release();
    // Released means closed: the port is free again.
    assert!(TcpListener::bind((V4, port)).is_ok());
}

/// How long `wait` sleeps when nothing happens in these tests.
const SHORT_WAIT: nal_echo::Duration = nal_echo::Duration::from_millis(60);
/// A `wait` for news that comes: long enough never to time out by accident.
const LONG_WAIT: nal_echo::Duration = nal_echo::Duration::from_millis(10_000);

// The `wait` tests synchronise on the event itself: readiness is edge-triggered and
// registered when the socket is made, so news that came before `wait` is called
// still wakes it, and `true` (woken, not timed out) is what is asserted.

#[test]
#[cfg(unix)]
fn wait_sleeps_until_a_connection_is_queued() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut l, addr) = listener(&mut stack);
    // Nobody connects: the wait ends by its timeout, and says so.
    assert!(!stack.wait(SHORT_WAIT));
    let _client = std_client(addr);
    assert!(stack.wait(LONG_WAIT), "not woken by a queued connection");
    let _ = accept(&mut stack, &mut l);
}

#[test]
#[cfg(unix)]
fn wait_on_a_clone_wakes_for_data_and_then_sleeps_again() {
    let _w = watchdog();
    let mut stack = StdStack::bind_to(V4);
    let (mut server, mut client) = accepted_pair(&mut stack);
    let waiter = stack.clone();
    // Whatever the connection's set-up reported is taken by a first wait.
    let _ = waiter.wait(SHORT_WAIT);
    client.write_all(b"news").unwrap();
    assert!(waiter.wait(LONG_WAIT), "the clone was not woken by data");
    let mut buf = [0u8; 8];
    assert_eq!(stack.receive(&mut server, &mut buf), Ok(4));
    // Nothing new: a poll loop would sleep now, not spin.
    assert!(!waiter.wait(SHORT_WAIT), "woken again with no news");
}

#[test]
#[cfg(unix)]
fn wait_wakes_when_a_connected_peer_closes() {
    let _w = watchdog();
    let mut stack = StdStack::new();
    let server = TcpListener::bind((V4, 0)).unwrap();
    let addr = server.local_addr().unwrap();
    let mut socket = stack.socket().unwrap();
    let _ = until_ready(|| stack.connect(&mut socket, addr));
    let (peer, _) = server.accept().unwrap();
    let _ = stack.wait(SHORT_WAIT);
    drop(peer);
    assert!(stack.wait(LONG_WAIT), "not woken by the peer's close");
    assert_eq!(stack.receive(&mut socket, &mut [0u8; 4]), Ok(0));
}
