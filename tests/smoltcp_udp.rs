//! UDP on the smoltcp stack between two smoltcp hosts on an in-memory wire: datagrams
//! whole and from the right peer, the truncation rule, a full transmit buffer, what
//! can never be sent, the UDP pool, TCP and UDP on one port, and the library's UDP
//! client against its UDP echo.
//!
//! Time is a [`MockClock`] moved 1 ms per round, and every wait is bounded in rounds,
//! so a bug fails a test instead of hanging it.

mod smoltcp_support;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use nal_echo::display::RecordingDisplay;
use nal_echo::embedded_nal::{nb, UdpClientStack, UdpFullStack};
use nal_echo::stack::smoltcp::{SmoltcpError, SmoltcpStack, SmoltcpUdpSocket};
use nal_echo::stack::UdpLocalAddr;
use nal_echo::time::MockClock;
use nal_echo::{
    ClientConfig, Duration, EchoServer, ServerConfig, UdpEcho, UdpPeriodicClient, TUTORIAL_MESSAGES,
};
use smoltcp::iface::Route;
use smoltcp::wire::{IpCidr, Ipv4Address};
use smoltcp_support::{addr, ip, udp_pool, Host, Port, Sockets, Wire};

const PORT: u16 = 5001;
/// Most simulated milliseconds any wait may take.
const ROUNDS: usize = 20_000;
const SERVER: usize = 0;
const CLIENT: usize = 1;

type Stack<'h, const N: usize, const U: usize> =
    SmoltcpStack<'h, 'static, Port, &'h MockClock, N, U>;

fn tick(clock: &MockClock) {
    clock.advance(Duration::from_millis(1));
}

/// Runs `step` once per simulated millisecond until it gives `Some`.
fn until<T>(clock: &MockClock, what: &str, mut step: impl FnMut() -> Option<T>) -> T {
    for _ in 0..ROUNDS {
        if let Some(done) = step() {
            return done;
        }
        tick(clock);
    }
    panic!("gave up waiting for {what}");
}

fn other<T: core::fmt::Debug>(result: nb::Result<T, SmoltcpError>) -> SmoltcpError {
    match result {
        Err(nb::Error::Other(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn config() -> ServerConfig {
    let mut c = ServerConfig::default();
    c.port = PORT;
    c.local_ip = Some(IpAddr::V4(ip(SERVER)));
    c
}

/// A UDP socket of `stack` bound to `port`.
fn bound<const N: usize, const U: usize>(
    stack: &mut Stack<'_, N, U>,
    port: u16,
) -> SmoltcpUdpSocket {
    let mut socket = stack.socket().unwrap();
    stack.bind(&mut socket, port).unwrap();
    socket
}

/// A UDP socket of `stack` connected to `to`.
fn connected<const N: usize, const U: usize>(
    stack: &mut Stack<'_, N, U>,
    to: SocketAddr,
) -> SmoltcpUdpSocket {
    let mut socket = stack.socket().unwrap();
    stack.connect(&mut socket, to).unwrap();
    socket
}

/// Waits for the next datagram on `socket`, received into a buffer of `len` bytes,
/// running `peer` alongside: its bytes as received, and its sender.
fn next_datagram<const N: usize, const U: usize>(
    clock: &MockClock,
    stack: &mut Stack<'_, N, U>,
    socket: &mut SmoltcpUdpSocket,
    len: usize,
    mut peer: impl FnMut(),
) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; len];
    until(clock, "a datagram", || {
        peer();
        match stack.receive(socket, &mut buf) {
            Ok((n, from)) => Some((buf[..n].to_vec(), from)),
            Err(nb::Error::WouldBlock) => None,
            Err(e) => panic!("receive failed: {e:?}"),
        }
    })
}

/// Sends until the stack takes the datagram, running `peer` alongside.
fn send_when_taken<const N: usize, const U: usize>(
    clock: &MockClock,
    stack: &mut Stack<'_, N, U>,
    socket: &mut SmoltcpUdpSocket,
    datagram: &[u8],
    mut peer: impl FnMut(),
) {
    until(clock, "the send", || {
        peer();
        match stack.send(socket, datagram) {
            Ok(()) => Some(()),
            Err(nb::Error::WouldBlock) => None,
            Err(e) => panic!("send failed: {e:?}"),
        }
    });
}

/// A host on `side` of `wire` with one TCP socket and one UDP socket of `RX` and
/// `TX` payload bytes and `META` datagrams each way.
fn udp_host<const RX: usize, const TX: usize, const META: usize>(
    wire: &'static Wire,
    side: usize,
) -> Host<1, 1> {
    Host::with_udp(
        wire,
        side,
        Sockets::default(),
        udp_pool::<1, RX, TX, META>(),
    )
}

/// Distinct bytes for datagram `i`, `len` long.
fn datagram(i: u8, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k as u8).wrapping_mul(31) ^ i).collect()
}

#[test]
fn a_datagram_goes_there_and_back_with_its_bytes_and_its_sender() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = udp_host::<2048, 2048, 8>(wire, SERVER);
    let mut b = udp_host::<2048, 2048, 8>(wire, CLIENT);
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);

    let mut s = bound(&mut server, PORT);
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
    assert_eq!(server.udp_local_addr(&s), Some(any));
    let mut c = connected(&mut client, addr(SERVER, PORT));
    let me = UdpLocalAddr::udp_local_addr(&client, &c).unwrap();
    assert_eq!(me.ip(), IpAddr::V4(ip(CLIENT)));
    assert!(me.port() >= 49152, "an ephemeral port: {me}");

    // Every byte value, and the first datagram waits for ARP in the socket.
    let all: Vec<u8> = (0..=255).collect();
    client.send(&mut c, &all).unwrap();
    let (got, from) = next_datagram(&clock, &mut server, &mut s, 512, || {
        client.poll();
    });
    assert_eq!((got, from), (all, me));

    server.send_to(&mut s, from, b"and back").unwrap();
    let (got, from) = next_datagram(&clock, &mut client, &mut c, 512, || {
        server.poll();
    });
    assert_eq!(
        (got.as_slice(), from),
        (&b"and back"[..], addr(SERVER, PORT))
    );

    // An empty datagram is a datagram too.
    client.send(&mut c, b"").unwrap();
    let (got, from) = next_datagram(&clock, &mut server, &mut s, 512, || {
        client.poll();
    });
    assert_eq!((got.len(), from), (0, me));
}

#[test]
fn receive_finds_nothing_without_waiting_and_wrong_calls_are_errors() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<1, 2>::with_udp(
        wire,
        SERVER,
        Sockets::default(),
        udp_pool::<2, 256, 256, 4>(),
    );
    let mut server = a.stack(&clock);
    let invalid = SmoltcpError::InvalidState;
    let unaddressable = SmoltcpError::Unaddressable;
    let mut buf = [0u8; 16];

    let mut fresh = server.socket().unwrap();
    assert_eq!(other(server.receive(&mut fresh, &mut buf)), invalid);
    assert_eq!(other(server.send(&mut fresh, b"x")), invalid);
    assert_eq!(
        other(server.send_to(&mut fresh, addr(CLIENT, 7), b"x")),
        invalid
    );
    assert_eq!(server.udp_local_addr(&fresh), None);
    for remote in [
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7),
        addr(CLIENT, 0),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7),
    ] {
        assert_eq!(
            server.connect(&mut fresh, remote),
            Err(unaddressable),
            "{remote}"
        );
    }
    assert_eq!(
        server.free_udp_sockets(),
        2,
        "failed connects keep no socket"
    );

    let mut s = bound(&mut server, PORT);
    for _ in 0..50 {
        assert_eq!(server.receive(&mut s, &mut buf), Err(nb::Error::WouldBlock));
        tick(&clock);
    }
    assert_eq!(
        other(server.send(&mut s, b"x")),
        invalid,
        "send needs a remote"
    );
    assert_eq!(server.bind(&mut s, PORT + 1), Err(invalid));
    for remote in [
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7),
        addr(CLIENT, 0),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7),
    ] {
        assert_eq!(
            other(server.send_to(&mut s, remote, b"x")),
            unaddressable,
            "{remote}"
        );
    }
    server.close(fresh).unwrap();
    server.close(s).unwrap();
    assert_eq!(server.free_udp_sockets(), 2);
}

#[test]
fn a_datagram_longer_than_the_buffer_fills_it_and_the_next_comes_whole() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = udp_host::<2048, 2048, 8>(wire, SERVER);
    let mut b = udp_host::<2048, 2048, 8>(wire, CLIENT);
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut s = bound(&mut server, PORT);
    let mut c = connected(&mut client, addr(SERVER, PORT));

    let long = datagram(1, 100);
    let short = datagram(2, 10);
    client.send(&mut c, &long).unwrap();
    client.send(&mut c, &short).unwrap();
    // A buffer of 40 gets the long one's start; its other 60 bytes are gone.
    let (got, _) = next_datagram(&clock, &mut server, &mut s, 40, || {
        client.poll();
    });
    assert_eq!(got, long[..40]);
    // A buffer one byte longer than the datagram tells it came whole.
    let (got, _) = next_datagram(&clock, &mut server, &mut s, 11, || {
        client.poll();
    });
    assert_eq!(got, short);
    assert_eq!(
        server.receive(&mut s, &mut [0; 64]),
        Err(nb::Error::WouldBlock)
    );
}

#[test]
fn a_full_transmit_buffer_would_block_and_its_datagrams_go_once_it_drains() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = udp_host::<2048, 2048, 8>(wire, SERVER);
    // 256 bytes to send: two datagrams of 100 fit, a third does not.
    let mut b = udp_host::<2048, 256, 4>(wire, CLIENT);
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut s = bound(&mut server, PORT);
    let mut c = connected(&mut client, addr(SERVER, PORT));

    // The server's ARP reply is lost: the client's datagrams wait for it.
    wire.cut(SERVER, true);
    let sent: Vec<Vec<u8>> = (0..3).map(|i| datagram(i, 100)).collect();
    client.send(&mut c, &sent[0]).unwrap();
    server.poll();
    client.send(&mut c, &sent[1]).unwrap();
    for _ in 0..100 {
        server.poll();
        assert_eq!(client.send(&mut c, &sent[2]), Err(nb::Error::WouldBlock));
        // As large as the whole buffer: it would fit an empty one, so it waits too.
        assert_eq!(client.send(&mut c, &[7; 256]), Err(nb::Error::WouldBlock));
        tick(&clock);
    }
    assert_eq!(
        other(client.send(&mut c, &[7; 257])),
        SmoltcpError::TooLarge,
        "larger than the buffer can never go"
    );

    wire.cut(SERVER, false);
    send_when_taken(&clock, &mut client, &mut c, &sent[2], || {
        server.poll();
    });
    let mut got = Vec::new();
    for _ in 0..3 {
        let (bytes, _) = next_datagram(&clock, &mut server, &mut s, 512, || {
            client.poll();
        });
        got.push(bytes);
    }
    assert_eq!(got, sent);
}

#[test]
fn a_datagram_that_can_never_leave_is_an_error_and_the_socket_goes_on() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = udp_host::<2048, 2048, 8>(wire, SERVER);
    // A transmit buffer larger than an Ethernet frame holds.
    let mut b = udp_host::<2048, 4096, 4>(wire, CLIENT);
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut s = bound(&mut server, PORT);
    let mut c = connected(&mut client, addr(SERVER, PORT));

    // 1500 bytes of IP packet: 20 of IPv4 header, 8 of UDP, 1472 of datagram.
    let too_long = datagram(0, 1473);
    assert_eq!(
        other(client.send(&mut c, &too_long)),
        SmoltcpError::TooLarge
    );
    // Off the /24 with no route: smoltcp would hold it at the head of the buffer.
    let far = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 7, 7)), 9);
    assert_eq!(
        other(client.send_to(&mut c, far, b"x")),
        SmoltcpError::Unaddressable
    );
    // Its own address: smoltcp would ask ARP for itself for ever.
    let own = addr(CLIENT, 9);
    assert_eq!(
        other(client.send_to(&mut c, own, b"x")),
        SmoltcpError::Unaddressable
    );

    let largest = datagram(1, 1472);
    client.send(&mut c, &largest).unwrap();
    let (got, _) = next_datagram(&clock, &mut server, &mut s, 2048, || {
        client.poll();
    });
    assert_eq!(got, largest);

    // Once a route covers it, the far address is sendable (the server, as the
    // gateway, drops it).
    let (iface, _) = client.parts_mut();
    iface.routes_mut().update(|routes| {
        let via = Ipv4Address::new(10, 0, 0, 1);
        let cidr = IpCidr::new(Ipv4Address::new(192, 168, 0, 0).into(), 16);
        routes
            .push(Route {
                cidr,
                via_router: via.into(),
                preferred_until: None,
                expires_at: None,
            })
            .unwrap();
    });
    assert_eq!(client.send_to(&mut c, far, b"x"), Ok(()));
    client.send(&mut c, b"still here").unwrap();
    let (got, _) = next_datagram(&clock, &mut server, &mut s, 64, || {
        client.poll();
    });
    assert_eq!(got, b"still here");
}

#[test]
fn a_port_in_use_is_refused_and_ephemeral_ports_skip_it() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<1, 4>::with_udp(
        wire,
        SERVER,
        Sockets::default(),
        udp_pool::<4, 256, 256, 4>(),
    );
    let mut server = a.stack(&clock).with_port_seed(50_000);

    let first = bound(&mut server, PORT);
    let mut twin = server.socket().unwrap();
    assert_eq!(server.bind(&mut twin, PORT), Err(SmoltcpError::AddrInUse));
    assert_eq!(
        server.free_udp_sockets(),
        3,
        "a refused bind keeps no socket"
    );
    // The handle stays fresh: it may bind elsewhere.
    server.bind(&mut twin, PORT + 1).unwrap();

    let taken = bound(&mut server, 50_000);
    let ephemeral = bound(&mut server, 0);
    let port = server.udp_local_addr(&ephemeral).unwrap().port();
    assert_eq!(port, 50_001, "50000 is taken");
    let local = server.udp_local_addr(&taken).unwrap();
    assert_eq!(
        local,
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 50_000)
    );

    // A closed socket's port is free again.
    server.close(first).unwrap();
    let again = bound(&mut server, PORT);
    assert_eq!(server.udp_local_addr(&again).unwrap().port(), PORT);
}

#[test]
fn without_a_free_udp_socket_bind_and_connect_fail_and_close_gives_it_back() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<2, 1>::with_udp(
        wire,
        SERVER,
        Sockets::default(),
        udp_pool::<1, 256, 256, 4>(),
    );
    let mut server = a.stack(&clock);

    let only = bound(&mut server, PORT);
    assert_eq!(server.free_udp_sockets(), 0);
    let mut more = server.socket().unwrap();
    assert_eq!(
        server.bind(&mut more, PORT + 1),
        Err(SmoltcpError::NoSocket)
    );
    assert_eq!(
        server.connect(&mut more, addr(CLIENT, 7)),
        Err(SmoltcpError::NoSocket)
    );
    assert_eq!(server.free_sockets(), 2, "the TCP pool is another pool");

    server.close(only).unwrap();
    assert_eq!(server.free_udp_sockets(), 1);
    server.connect(&mut more, addr(CLIENT, 7)).unwrap();
    assert_eq!(server.free_udp_sockets(), 0);
    server.close(more).unwrap();
    assert_eq!(server.free_udp_sockets(), 1);
}

#[test]
fn a_stack_without_udp_sockets_binds_none_and_handles_are_checked() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    // `Host::new` makes the stack that `SmoltcpStack::new` gives: no UDP pool.
    let mut a = Host::<2>::new(wire, SERVER, Sockets::default());
    {
        let mut tcp_only: Stack<'_, 2, 0> = a.stack(&clock);
        let mut s = tcp_only.socket().unwrap();
        assert_eq!(tcp_only.bind(&mut s, PORT), Err(SmoltcpError::NoSocket));
    }

    let tcp = a.pool[0];
    let stack = SmoltcpStack::new(&mut a.iface, &mut a.device, &mut a.sockets, a.pool, &clock);
    let refused = stack.unwrap().with_udp_sockets([tcp]).err();
    assert_eq!(refused, Some(SmoltcpError::NotUdp));

    let mut b = udp_host::<256, 256, 4>(wire, CLIENT);
    let udp = b.udp[0];
    let stack = SmoltcpStack::new(&mut b.iface, &mut b.device, &mut b.sockets, b.pool, &clock);
    let twice = stack.unwrap().with_udp_sockets([udp, udp]).err();
    assert_eq!(twice, Some(SmoltcpError::InvalidState));
}

#[test]
fn a_connected_socket_takes_datagrams_from_its_remote_only() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<1, 2>::with_udp(
        wire,
        SERVER,
        Sockets::default(),
        udp_pool::<2, 2048, 2048, 8>(),
    );
    let mut b = udp_host::<2048, 2048, 8>(wire, CLIENT);
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut s = bound(&mut server, PORT);
    let mut stranger = bound(&mut server, PORT + 1);
    let mut c = connected(&mut client, addr(SERVER, PORT));

    client.send(&mut c, b"hello").unwrap();
    let (_, me) = next_datagram(&clock, &mut server, &mut s, 64, || {
        client.poll();
    });
    server.send_to(&mut stranger, me, b"not yours").unwrap();
    server.send_to(&mut s, me, b"yours").unwrap();
    let (got, from) = next_datagram(&clock, &mut client, &mut c, 64, || {
        server.poll();
    });
    assert_eq!((got.as_slice(), from), (&b"yours"[..], addr(SERVER, PORT)));
    assert_eq!(
        client.receive(&mut c, &mut [0; 64]),
        Err(nb::Error::WouldBlock)
    );
}

#[test]
fn tcp_and_udp_share_the_echo_port_through_one_stack() {
    // Both traits in scope: each call names its own.
    use nal_echo::embedded_nal::TcpClientStack;
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<7, 1>::with_udp(
        wire,
        SERVER,
        Sockets::default(),
        udp_pool::<1, 2048, 2048, 8>(),
    );
    let mut b = udp_host::<2048, 2048, 8>(wire, CLIENT);
    let mut server: EchoServer<Stack<'_, 7, 1>, RecordingDisplay, 4> =
        EchoServer::new(a.stack(&clock), RecordingDisplay::new(), config());
    let mut udp = UdpEcho::<SmoltcpUdpSocket>::new();
    let mut client = b.stack(&clock);
    let mut poll_server = || {
        let now = clock.now_instant();
        server.poll(now).unwrap();
        server.poll_udp(&mut udp, now).unwrap();
    };

    let mut t = TcpClientStack::socket(&mut client).unwrap();
    until(&clock, "the TCP connect", || {
        poll_server();
        match TcpClientStack::connect(&mut client, &mut t, addr(SERVER, PORT)) {
            Ok(()) => Some(()),
            Err(nb::Error::WouldBlock) => None,
            Err(e) => panic!("connect failed: {e:?}"),
        }
    });
    let mut u = connected(&mut client, addr(SERVER, PORT));

    let stream = datagram(9, 3000);
    let datagrams: Vec<Vec<u8>> = (0..20).map(|i| datagram(i, 50 + 37 * i as usize)).collect();
    let (mut streamed, mut stream_back) = (0, Vec::new());
    let (mut next, mut waiting, mut echoes) = (0, false, Vec::new());
    let mut buf = [0u8; 1024];
    until(&clock, "every echo", || {
        poll_server();
        if streamed < stream.len() {
            let chunk = &stream[streamed..(streamed + 300).min(stream.len())];
            match TcpClientStack::send(&mut client, &mut t, chunk) {
                Ok(n) => streamed += n,
                Err(nb::Error::WouldBlock) => {}
                Err(e) => panic!("TCP send failed: {e:?}"),
            }
        }
        match TcpClientStack::receive(&mut client, &mut t, &mut buf) {
            Ok(0) => panic!("the server closed"),
            Ok(n) => stream_back.extend_from_slice(&buf[..n]),
            Err(nb::Error::WouldBlock) => {}
            Err(e) => panic!("TCP receive failed: {e:?}"),
        }
        if !waiting && next < datagrams.len() {
            UdpClientStack::send(&mut client, &mut u, &datagrams[next]).unwrap();
            (next, waiting) = (next + 1, true);
        }
        match UdpClientStack::receive(&mut client, &mut u, &mut buf) {
            Ok((n, from)) => {
                assert_eq!(from, addr(SERVER, PORT));
                echoes.push(buf[..n].to_vec());
                waiting = false;
            }
            Err(nb::Error::WouldBlock) => {}
            Err(e) => panic!("UDP receive failed: {e:?}"),
        }
        (stream_back.len() >= stream.len() && echoes.len() == datagrams.len()).then_some(())
    });
    assert_eq!(stream_back, stream);
    assert_eq!(echoes, datagrams);
    assert_eq!(server.stats().errors, 0);
    let stats = udp.stats();
    assert_eq!((stats.datagrams_in, stats.datagrams_out), (20, 20));
    assert_eq!((stats.errors, stats.dropped, stats.too_large), (0, 0, 0));
}

#[test]
fn the_librarys_udp_client_is_echoed_by_its_udp_echo_through_two_stacks() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = udp_host::<2048, 2048, 8>(wire, SERVER);
    let mut b = udp_host::<2048, 2048, 8>(wire, CLIENT);
    let mut server = a.stack(&clock);
    let mut echo = UdpEcho::<SmoltcpUdpSocket>::new();
    let client_config = ClientConfig::new(addr(SERVER, PORT))
        .with_messages(TUTORIAL_MESSAGES)
        .with_period(Duration::from_millis(20));
    let mut client = UdpPeriodicClient::new(b.stack(&clock), &clock, client_config);

    until(&clock, "twenty echoes", || {
        echo.poll(&mut server, &config(), clock.now_instant())
            .unwrap();
        client.poll().unwrap();
        (client.stats().echoed >= 20 && client.in_flight() == 0).then_some(())
    });

    let stats = client.stats();
    assert_eq!(stats.sent, stats.echoed);
    assert_eq!(
        (stats.lost, stats.mismatches, stats.errors, stats.failures),
        (0, 0, 0, 0)
    );
    assert_eq!(echo.stats().datagrams_in, stats.sent);
    assert_eq!(
        echo.local_addr(&server),
        Some("0.0.0.0:5001".parse().unwrap())
    );
}

/// A datagram whose sender nobody on the link answers ARP for (a forged source, or
/// a host that left) makes its echo wait at the head of smoltcp's transmit buffer
/// for ever, and every echo behind it: the adapter drops them once they have
/// waited `UDP_STALL`, and the echo goes on.
#[test]
fn a_sender_nobody_answers_arp_for_costs_seconds_of_echoes_not_the_socket() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = udp_host::<4096, 4096, 8>(wire, SERVER);
    let mut b = udp_host::<4096, 4096, 8>(wire, CLIENT);
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut echo = UdpEcho::<SmoltcpUdpSocket, 2, 600>::sized();
    let mut c = connected(&mut client, addr(SERVER, PORT));
    echo.poll(&mut server, &config(), clock.now_instant())
        .unwrap();

    let ghost = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), 4444);
    wire.inject(
        CLIENT,
        &smoltcp_support::udp_frame(SERVER, ghost, PORT, b"who am I"),
    );
    until(&clock, "the ghost's datagram", || {
        let _ = echo.poll(&mut server, &config(), clock.now_instant());
        (echo.stats().datagrams_in == 1).then_some(())
    });
    let start = clock.now_instant();
    let mut buf = [0u8; 64];
    let mut answered = None;
    for k in 0..10_000u32 {
        if k % 250 == 0 {
            let _ = client.send(&mut c, &k.to_le_bytes());
        }
        let _ = echo.poll(&mut server, &config(), clock.now_instant());
        client.poll();
        if let Ok((4, _)) = client.receive(&mut c, &mut buf) {
            answered = Some((clock.now_instant() - start, buf[..4].to_vec()));
            break;
        }
        tick(&clock);
    }
    let (after, _) = answered.expect("an echo within 10 s");
    assert!(
        after >= nal_echo::stack::smoltcp::UDP_STALL,
        "echoes behind the ghost's wait, {after:?}"
    );
    assert!(after < Duration::from_secs(5), "{after:?}");
    assert_eq!(server.udp_flushes(), 1);
    // From now on each echo comes (after those of the datagrams sent before it).
    for k in 0..5u32 {
        let mark = (100_000 + k).to_le_bytes();
        client.send(&mut c, &mark).unwrap();
        let came = (0..16).any(|_| {
            let (bytes, _) = next_datagram(&clock, &mut client, &mut c, 64, || {
                let _ = echo.poll(&mut server, &config(), clock.now_instant());
            });
            assert!(bytes == mark || u32::from_le_bytes(bytes[..4].try_into().unwrap()) < 100_000);
            bytes == mark
        });
        assert!(came, "the echo of datagram {k}");
    }
    assert_eq!(server.udp_flushes(), 1);
}
