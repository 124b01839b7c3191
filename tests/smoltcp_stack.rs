//! The smoltcp stack between two smoltcp hosts on an in-memory wire: the library's
//! server and client through it, concurrency, pool exhaustion and reuse, resets,
//! half-open handshakes, and the error of every wrong call.
//!
//! Time is a [`MockClock`] moved 1 ms per round, and every wait is bounded in rounds,
//! so a bug fails a test instead of hanging it.

mod smoltcp_support;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use nal_echo::display::RecordingDisplay;
use nal_echo::embedded_nal::{nb, TcpClientStack, TcpError, TcpErrorKind, TcpFullStack};
use nal_echo::stack::smoltcp::{SmoltcpError, SmoltcpSocket, SmoltcpStack};
use nal_echo::time::MockClock;
use nal_echo::{
    ClientConfig, CloseReason, Duration, EchoServer, PeriodicClient, ServerConfig, ServerEvent,
    TUTORIAL_MESSAGES,
};
use smoltcp::iface::{SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::wire::{TcpControl, TcpRepr, TcpSeqNumber, TcpTimestampRepr};
use smoltcp_support::{
    addr, arp_request, ip, tcp_frame, tcp_segment, Host, Port, Segment, Sockets, Wire,
};

const PORT: u16 = 5001;
/// Most simulated milliseconds any wait may take.
const ROUNDS: usize = 20_000;
const SERVER: usize = 0;
const CLIENT: usize = 1;

type Stack<'h, const N: usize> = SmoltcpStack<'h, 'static, Port, &'h MockClock, N>;
type Server<'h, const N: usize> = EchoServer<Stack<'h, N>, RecordingDisplay, 4>;

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

/// Runs `step` for `ms` simulated milliseconds.
fn for_ms(clock: &MockClock, ms: usize, mut step: impl FnMut()) {
    for _ in 0..ms {
        step();
        tick(clock);
    }
}

fn config() -> ServerConfig {
    let mut c = ServerConfig::default();
    c.port = PORT;
    c.local_ip = Some(IpAddr::V4(ip(SERVER)));
    c
}

fn echo_server<'h, const N: usize>(stack: Stack<'h, N>) -> Server<'h, N> {
    EchoServer::new(stack, RecordingDisplay::new(), config())
}

fn events<const N: usize>(server: &mut Server<'_, N>) -> Vec<ServerEvent> {
    core::iter::from_fn(|| server.next_event()).collect()
}

fn other<T: core::fmt::Debug>(result: nb::Result<T, SmoltcpError>) -> SmoltcpError {
    match result {
        Err(nb::Error::Other(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Connects a new socket of `client` to `to`, running `server` alongside.
fn open<const B: usize>(
    clock: &MockClock,
    client: &mut Stack<'_, B>,
    to: SocketAddr,
    mut server: impl FnMut(),
) -> SmoltcpSocket {
    let mut socket = client.socket().unwrap();
    until(clock, "connect", || {
        server();
        match client.connect(&mut socket, to) {
            Ok(()) => Some(()),
            Err(nb::Error::WouldBlock) => None,
            Err(e) => panic!("connect failed: {e:?}"),
        }
    });
    socket
}

/// Sends `msg` and waits for exactly its echo.
fn echo<const B: usize>(
    clock: &MockClock,
    client: &mut Stack<'_, B>,
    socket: &mut SmoltcpSocket,
    msg: &[u8],
    mut server: impl FnMut(),
) {
    let mut sent = 0;
    let mut got = Vec::new();
    until(clock, "echo", || {
        server();
        if sent < msg.len() {
            match client.send(socket, &msg[sent..]) {
                Ok(n) => sent += n,
                Err(nb::Error::WouldBlock) => {}
                Err(e) => panic!("send failed: {e:?}"),
            }
        }
        read_into(client, socket, &mut got);
        (got.len() >= msg.len()).then_some(())
    });
    assert_eq!(got, msg);
}

/// Reads what is there into `into`; panics on end of stream or error.
fn read_into<const B: usize>(
    client: &mut Stack<'_, B>,
    socket: &mut SmoltcpSocket,
    into: &mut Vec<u8>,
) {
    let mut buf = [0u8; 512];
    for _ in 0..64 {
        match client.receive(socket, &mut buf) {
            Ok(0) => panic!("connection closed"),
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(nb::Error::WouldBlock) => return,
            Err(e) => panic!("receive failed: {e:?}"),
        }
    }
}

/// A raw listener on `port` of `stack`.
fn listener<const N: usize>(stack: &mut Stack<'_, N>, port: u16) -> SmoltcpSocket {
    let mut l = stack.socket().unwrap();
    stack.bind(&mut l, port).unwrap();
    stack.listen(&mut l).unwrap();
    l
}

/// Connects `client` to a raw listener and accepts: (client side, server side).
fn pair<const A: usize, const B: usize>(
    clock: &MockClock,
    server: &mut Stack<'_, A>,
    listener: &mut SmoltcpSocket,
    client: &mut Stack<'_, B>,
    port: u16,
) -> (SmoltcpSocket, SmoltcpSocket) {
    let c = open(clock, client, addr(SERVER, port), || {
        server.poll();
    });
    let (s, peer) = until(clock, "accept", || match server.accept(listener) {
        Ok(conn) => Some(conn),
        Err(nb::Error::WouldBlock) => {
            client.poll();
            None
        }
        Err(e) => panic!("accept failed: {e:?}"),
    });
    assert_eq!(Some(peer), client.local_addr(&c));
    (c, s)
}

#[test]
fn the_librarys_server_and_client_echo_through_two_stacks() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<7>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<2>::new(wire, CLIENT, Sockets::default());
    let mut server = echo_server(a.stack(&clock));
    let mut client_config = ClientConfig::new(addr(SERVER, PORT)).with_messages(TUTORIAL_MESSAGES);
    client_config.period = Duration::from_millis(20);
    let mut client = PeriodicClient::new(b.stack(&clock), &clock, client_config);

    until(&clock, "ten echoes", || {
        server.poll(clock.now_instant()).unwrap();
        let _ = client.poll();
        (client.stats().echoed >= 10).then_some(())
    });

    let stats = client.stats();
    assert_eq!(
        (stats.mismatches, stats.failures, stats.connects),
        (0, 0, 1)
    );
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.stats().errors, 0);
    // Ten messages alternate between the tutorial's two: the tenth is the second.
    assert_eq!(server.screen().message(), "I'am MixNo");
}

#[test]
fn four_interleaved_clients_are_echoed_exactly_and_a_fifth_is_closed_cleanly() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    // 4 slots + the turned-away fifth + 2 listening meanwhile.
    let mut a = Host::<7>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<5>::new(wire, CLIENT, Sockets::default());
    let mut server = echo_server(a.stack(&clock));
    let mut client = b.stack(&clock);
    let mut poll_server = || {
        server.poll(clock.now_instant()).unwrap();
    };

    let mut sockets: Vec<SmoltcpSocket> = (0..4)
        .map(|_| open(&clock, &mut client, addr(SERVER, PORT), &mut poll_server))
        .collect();
    // Distinct bytes per client, several buffers' worth, so windows fill and drain.
    let data: Vec<Vec<u8>> = (0..4u8)
        .map(|i| {
            (0..4000u32)
                .map(|k| (k as u8).wrapping_mul(7) ^ (i * 61))
                .collect()
        })
        .collect();
    let mut sent = [0usize; 4];
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); 4];
    until(&clock, "all echoes", || {
        poll_server();
        for i in 0..4 {
            let chunk = &data[i][sent[i]..(sent[i] + 300).min(data[i].len())];
            if !chunk.is_empty() {
                match client.send(&mut sockets[i], chunk) {
                    Ok(n) => sent[i] += n,
                    Err(nb::Error::WouldBlock) => {}
                    Err(e) => panic!("send failed: {e:?}"),
                }
            }
            read_into(&mut client, &mut sockets[i], &mut got[i]);
        }
        (0..4).all(|i| got[i].len() >= data[i].len()).then_some(())
    });
    assert_eq!(got, data);

    let mut fifth = open(&clock, &mut client, addr(SERVER, PORT), &mut poll_server);
    let mut buf = [0u8; 16];
    until(&clock, "the fifth's end of stream", || {
        poll_server();
        match client.receive(&mut fifth, &mut buf) {
            Ok(0) => Some(()),
            Err(nb::Error::WouldBlock) => None,
            other => panic!("expected an orderly close, got {other:?}"),
        }
    });
    // The four are still served.
    for (i, socket) in sockets.iter_mut().enumerate() {
        echo(
            &clock,
            &mut client,
            socket,
            format!("still {i}").as_bytes(),
            &mut poll_server,
        );
    }
    assert!(events(&mut server)
        .iter()
        .any(|e| matches!(e, ServerEvent::Rejected { .. })));
    assert_eq!(server.stats().rejected, 1);
    assert_eq!(server.stats().active, 4);
}

#[test]
fn a_connection_beyond_pool_and_backlog_is_refused_and_the_server_carries_on() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<2>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<4>::new(wire, CLIENT, Sockets::default());
    let mut server = echo_server(a.stack(&clock));
    let mut client = b.stack(&clock);
    let mut poll_server = || {
        server.poll(clock.now_instant()).unwrap();
    };

    let mut c1 = open(&clock, &mut client, addr(SERVER, PORT), &mut poll_server);
    let mut c2 = open(&clock, &mut client, addr(SERVER, PORT), &mut poll_server);
    let mut c3 = client.socket().unwrap();
    let refused = until(&clock, "refusal", || {
        poll_server();
        match client.connect(&mut c3, addr(SERVER, PORT)) {
            Err(nb::Error::WouldBlock) => None,
            other => Some(other),
        }
    });
    assert_eq!(
        refused,
        Err(nb::Error::Other(SmoltcpError::ConnectionRefused))
    );
    // The refused attempt gave its pool socket back.
    assert_eq!(client.free_sockets(), 2);

    echo(&clock, &mut client, &mut c1, b"one", &mut poll_server);
    echo(&clock, &mut client, &mut c2, b"two", &mut poll_server);

    // Once a connection ends, its socket listens again and the refused handle may
    // try again.
    client.close(c1).unwrap();
    for_ms(&clock, 50, &mut poll_server);
    until(&clock, "the retry", || {
        poll_server();
        match client.connect(&mut c3, addr(SERVER, PORT)) {
            Ok(()) => Some(()),
            Err(nb::Error::WouldBlock) => None,
            Err(e) => panic!("connect failed: {e:?}"),
        }
    });
    echo(&clock, &mut client, &mut c3, b"three", &mut poll_server);
    assert_eq!(server.stats().accepted, 3);
    assert_eq!(server.stats().errors, 0);
    assert_eq!(server.stack_mut().free_sockets(), 0);
}

#[test]
fn closed_connections_give_their_sockets_back_round_after_round() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<3>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<2>::new(wire, CLIENT, Sockets::default());
    let mut server = echo_server(a.stack(&clock).with_backlog(1));
    let mut client = b.stack(&clock);

    // More rounds than either side has sockets: a leak would stop the loop.
    for round in 0..12 {
        let mut poll_server = || {
            server.poll(clock.now_instant()).unwrap();
        };
        let mut c = open(&clock, &mut client, addr(SERVER, PORT), &mut poll_server);
        echo(
            &clock,
            &mut client,
            &mut c,
            format!("round {round}").as_bytes(),
            &mut poll_server,
        );
        client.close(c).unwrap();
        until(&clock, "both sides reclaiming", || {
            server.poll(clock.now_instant()).unwrap();
            client.poll();
            let server_free = server.stack_mut().free_sockets();
            (server.stats().active == 0 && server_free == 2 && client.free_sockets() == 2)
                .then_some(())
        });
        let closed = events(&mut server).into_iter().any(|e| {
            matches!(
                e,
                ServerEvent::Closed {
                    reason: CloseReason::PeerClosed,
                    ..
                }
            )
        });
        assert!(closed, "round {round}: no orderly close seen");
    }
    assert_eq!(server.stats().accepted, 12);
    assert_eq!(server.stats().errors, 0);
}

#[test]
fn a_client_reset_ends_its_slot_with_an_error_and_the_server_carries_on() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<4>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<2>::new(wire, CLIENT, Sockets::default());
    let mut server = echo_server(a.stack(&clock));
    let mut client = b.stack(&clock);

    let mut poll_server = || {
        server.poll(clock.now_instant()).unwrap();
    };
    let mut c = open(&clock, &mut client, addr(SERVER, PORT), &mut poll_server);
    echo(
        &clock,
        &mut client,
        &mut c,
        b"before the reset",
        &mut poll_server,
    );
    client.abort(c).unwrap();
    assert_eq!(
        client.free_sockets(),
        2,
        "an aborted socket is free at once"
    );
    let reason = until(&clock, "the slot's end", || {
        server.poll(clock.now_instant()).unwrap();
        events(&mut server).into_iter().find_map(|e| match e {
            ServerEvent::Closed { reason, .. } => Some(reason),
            _ => None,
        })
    });
    assert_eq!(reason, CloseReason::Error);
    assert_eq!(server.stats().errors, 1);

    let mut poll_server = || {
        server.poll(clock.now_instant()).unwrap();
    };
    let mut c = open(&clock, &mut client, addr(SERVER, PORT), &mut poll_server);
    echo(
        &clock,
        &mut client,
        &mut c,
        b"after the reset",
        &mut poll_server,
    );
}

/// Starts a connection whose SYN-ACK is lost (the server's side of the wire stays
/// cut), checks that it is not accepted, and lets `give_up` end the attempt.
fn half_open<const A: usize, const B: usize>(
    clock: &MockClock,
    wire: &Wire,
    server: &mut Stack<'_, A>,
    listener: &mut SmoltcpSocket,
    client: &mut Stack<'_, B>,
    give_up: impl FnOnce(&mut Stack<'_, B>, SmoltcpSocket),
) {
    wire.cut(SERVER, true);
    let dropped = wire.dropped(SERVER);
    let mut half = client.socket().unwrap();
    for_ms(clock, 300, || {
        let to = addr(SERVER, listener_port(server, listener));
        assert_eq!(client.connect(&mut half, to), Err(nb::Error::WouldBlock));
        assert_eq!(server.accept(listener).err(), Some(nb::Error::WouldBlock));
    });
    assert!(
        wire.dropped(SERVER) > dropped,
        "the server never answered the SYN"
    );
    give_up(client, half);
    for_ms(clock, 100, || {
        assert_eq!(server.accept(listener).err(), Some(nb::Error::WouldBlock));
    });
}

fn listener_port<const A: usize>(server: &Stack<'_, A>, listener: &SmoltcpSocket) -> u16 {
    server.local_addr(listener).unwrap().port()
}

#[test]
fn a_handshake_that_never_completes_is_not_accepted_and_its_socket_listens_again() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let timeout = Sockets {
        timeout: Some(smoltcp::time::Duration::from_secs(3)),
        ..Sockets::default()
    };
    // Two sockets, both armed: each one counts.
    let mut a = Host::<2>::new(wire, SERVER, timeout);
    let mut b = Host::<3>::new(wire, CLIENT, Sockets::default());
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut l = listener(&mut server, 7);
    assert_eq!(server.free_sockets(), 0);

    // A first connection fills both ARP caches, so that the SYN below goes out.
    let (c, s) = pair(&clock, &mut server, &mut l, &mut client, 7);
    client.close(c).unwrap();
    server.close(s).unwrap();
    for_ms(&clock, 50, || {
        server.poll();
        client.poll();
    });

    // The peer gives up with a reset: smoltcp itself goes back to LISTEN.
    half_open(
        &clock,
        wire,
        &mut server,
        &mut l,
        &mut client,
        |client, half| {
            client.close(half).unwrap();
        },
    );
    // The peer vanishes: the socket times out to CLOSED, and the adapter re-arms it.
    half_open(
        &clock,
        wire,
        &mut server,
        &mut l,
        &mut client,
        |client, half| {
            wire.cut(CLIENT, true);
            client.close(half).unwrap();
        },
    );
    for_ms(&clock, 4_000, || {
        assert_eq!(server.accept(&mut l).err(), Some(nb::Error::WouldBlock));
    });
    wire.cut(CLIENT, false);
    wire.cut(SERVER, false);

    // Both sockets listen: two connections are accepted, a third is refused.
    let (_c1, _s1) = pair(&clock, &mut server, &mut l, &mut client, 7);
    let (_c2, _s2) = pair(&clock, &mut server, &mut l, &mut client, 7);
    assert_eq!(server.free_sockets(), 0);
    let mut c3 = client.socket().unwrap();
    let refused = until(&clock, "refusal", || {
        server.poll();
        match client.connect(&mut c3, addr(SERVER, 7)) {
            Err(nb::Error::WouldBlock) => None,
            other => Some(other),
        }
    });
    assert_eq!(
        refused,
        Err(nb::Error::Other(SmoltcpError::ConnectionRefused))
    );
}

#[test]
fn send_leaves_at_once_fills_up_and_receive_reports_the_orderly_end() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<3>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<2>::new(wire, CLIENT, Sockets::default());
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut l = listener(&mut server, 7);
    let (mut c, mut s) = pair(&clock, &mut server, &mut l, &mut client, 7);

    assert_eq!(wire.in_flight(CLIENT), 0);
    assert_eq!(client.send(&mut c, b"now"), Ok(3));
    assert!(
        wire.in_flight(CLIENT) > 0,
        "the data waited for a later call"
    );

    // The server does not read: the client's buffer and the server's window fill,
    // to exactly what the two buffers hold.
    let chunk = [0x5a; 256];
    let mut total = 3;
    let mut last = Ok(0);
    for_ms(&clock, 300, || {
        server.poll();
        last = client.send(&mut c, &chunk);
        match last {
            Ok(n) => total += n,
            Err(nb::Error::WouldBlock) => {}
            Err(e) => panic!("send failed: {e:?}"),
        }
    });
    assert_eq!(last, Err(nb::Error::WouldBlock));
    assert_eq!(total, 2048, "server receive buffer + client send buffer");

    let mut got = Vec::new();
    until(&clock, "all data", || {
        client.poll();
        read_into(&mut server, &mut s, &mut got);
        (got.len() == total).then_some(())
    });
    assert_eq!(&got[..3], b"now");
    assert!(got[3..].iter().all(|&b| b == 0x5a));

    client.close(c).unwrap();
    let mut buf = [0u8; 8];
    let end = until(&clock, "end of stream", || {
        client.poll();
        match server.receive(&mut s, &mut buf) {
            Err(nb::Error::WouldBlock) => None,
            other => Some(other),
        }
    });
    assert_eq!(end, Ok(0));
    // After the peer's FIN this side may still send (CLOSE-WAIT).
    assert_eq!(server.send(&mut s, b"late"), Ok(4));
    assert_eq!(server.receive(&mut s, &mut buf), Ok(0), "EOF stays EOF");
}

#[test]
fn a_send_after_the_peer_closed_and_reset_is_pipe_closed() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<3>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<1>::new(wire, CLIENT, Sockets::default());
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut l = listener(&mut server, 7);
    let (c, mut s) = pair(&clock, &mut server, &mut l, &mut client, 7);

    client.close(c).unwrap();
    let mut buf = [0u8; 8];
    until(&clock, "end of stream", || {
        client.poll();
        (server.receive(&mut s, &mut buf) == Ok(0)).then_some(())
    });
    for_ms(&clock, 20, || {
        client.poll();
        server.poll();
    });
    // The client's only socket is still closing (FIN-WAIT-2, nothing unsent): a new
    // connect takes it over, which resets the old connection.
    assert_eq!(client.free_sockets(), 0);
    let mut again = client.socket().unwrap();
    let _ = client.connect(&mut again, addr(SERVER, 9));
    let e = until(&clock, "the reset", || {
        client.poll();
        match server.send(&mut s, b"x") {
            Err(nb::Error::Other(e)) => Some(e),
            _ => None,
        }
    });
    assert_eq!(e, SmoltcpError::PipeClosed);
    assert_eq!(e.kind(), TcpErrorKind::PipeClosed);
    // Nobody listens on port 9.
    let refused = until(&clock, "refusal", || {
        server.poll();
        match client.connect(&mut again, addr(SERVER, 9)) {
            Err(nb::Error::WouldBlock) => None,
            other => Some(other),
        }
    });
    assert_eq!(
        refused,
        Err(nb::Error::Other(SmoltcpError::ConnectionRefused))
    );
}

#[test]
fn after_a_reset_unread_data_comes_first_then_the_reset() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<3>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<2>::new(wire, CLIENT, Sockets::default());
    // Two armed at most, so that the third socket is seen coming back free.
    let mut server = a.stack(&clock).with_backlog(2);
    let mut client = b.stack(&clock);
    let mut l = listener(&mut server, 7);
    let (mut c, mut s) = pair(&clock, &mut server, &mut l, &mut client, 7);

    assert_eq!(client.send(&mut c, b"last words"), Ok(10));
    client.abort(c).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    let e = until(&clock, "the reset", || {
        match server.receive(&mut s, &mut buf) {
            Ok(n) => {
                assert_ne!(n, 0, "a reset is not an orderly close");
                got.extend_from_slice(&buf[..n]);
                None
            }
            Err(nb::Error::WouldBlock) => None,
            Err(nb::Error::Other(e)) => Some(e),
        }
    });
    assert_eq!(got, b"last words");
    assert_eq!(e, SmoltcpError::Reset);
    assert_eq!(other(server.send(&mut s, b"x")), SmoltcpError::Reset);
    server.close(s).unwrap();
    until(&clock, "reclaiming", || {
        server.poll();
        (server.free_sockets() == 1).then_some(())
    });
}

#[test]
fn closing_a_listener_resets_what_it_did_not_hand_out_and_frees_its_sockets() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<3>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<2>::new(wire, CLIENT, Sockets::default());
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let l = listener(&mut server, 7);
    assert_eq!(server.free_sockets(), 0, "every free socket is armed");

    // Established on an armed socket, never accepted.
    let mut c = open(&clock, &mut client, addr(SERVER, 7), || {
        server.poll();
    });
    server.close(l).unwrap();
    assert_eq!(server.free_sockets(), 3);
    let mut buf = [0u8; 8];
    let e = until(&clock, "the reset", || {
        server.poll();
        match client.receive(&mut c, &mut buf) {
            Err(nb::Error::WouldBlock) => None,
            other => Some(other),
        }
    });
    assert_eq!(e, Err(nb::Error::Other(SmoltcpError::Reset)));
}

#[test]
fn ports_and_addresses() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<3>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<3>::new(wire, CLIENT, Sockets::default());
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock).with_port_seed(50_000).with_backlog(1);

    // Port 0: an ephemeral port, reported like a real stack's listener.
    let mut l = server.socket().unwrap();
    server.bind(&mut l, 0).unwrap();
    server.listen(&mut l).unwrap();
    let local = server.local_addr(&l).unwrap();
    assert_eq!(local.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert!(local.port() >= 49152);

    // The client's own listener holds the seed port: connect skips it.
    let _held = listener(&mut client, 50_000);
    let (c, s) = pair(&clock, &mut server, &mut l, &mut client, local.port());
    assert_eq!(client.local_addr(&c), Some(addr(CLIENT, 50_001)));
    assert_eq!(client.remote_addr(&c), Some(addr(SERVER, local.port())));
    assert_eq!(server.remote_addr(&s), Some(addr(CLIENT, 50_001)));
    assert_eq!(server.local_addr(&s), Some(addr(SERVER, local.port())));
    // Ports go on in turn.
    let (c2, _s2) = pair(&clock, &mut server, &mut l, &mut client, local.port());
    assert_eq!(client.local_addr(&c2), Some(addr(CLIENT, 50_002)));
}

#[test]
fn wrong_calls_are_errors_and_leak_nothing() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<3>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<1>::new(wire, CLIENT, Sockets::default());
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let invalid = SmoltcpError::InvalidState;
    let mut buf = [0u8; 4];

    let mut fresh = client.socket().unwrap();
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7);
    assert_eq!(
        other(client.connect(&mut fresh, v6)),
        SmoltcpError::Unaddressable
    );
    let port0 = addr(SERVER, 0);
    assert_eq!(
        other(client.connect(&mut fresh, port0)),
        SmoltcpError::Unaddressable
    );
    let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7);
    assert_eq!(
        other(client.connect(&mut fresh, unspecified)),
        SmoltcpError::Unaddressable
    );
    assert_eq!(client.free_sockets(), 1, "failed connects keep no socket");
    assert_eq!(other(client.send(&mut fresh, b"x")), invalid);
    assert_eq!(other(client.receive(&mut fresh, &mut buf)), invalid);
    assert_eq!(other(client.accept(&mut fresh)), invalid);
    assert_eq!(
        client.listen(&mut fresh),
        Err(invalid),
        "listen before bind"
    );
    assert_eq!(client.local_addr(&fresh), None);

    let mut l = listener(&mut server, 7);
    assert_eq!(server.bind(&mut l, 8), Err(invalid));
    assert_eq!(server.listen(&mut l), Err(invalid));
    assert_eq!(other(server.send(&mut l, b"x")), invalid);
    assert_eq!(other(server.receive(&mut l, &mut buf)), invalid);
    assert_eq!(other(server.connect(&mut l, addr(CLIENT, 7))), invalid);
    let mut twin = server.socket().unwrap();
    server.bind(&mut twin, 7).unwrap();
    assert_eq!(server.listen(&mut twin), Err(SmoltcpError::AddrInUse));
    server.close(twin).unwrap();

    let (mut c, _s) = pair(&clock, &mut server, &mut l, &mut client, 7);
    assert_eq!(
        client.connect(&mut c, addr(SERVER, 7)),
        Ok(()),
        "connect again is Ok"
    );
    assert_eq!(other(client.connect(&mut c, addr(SERVER, 8))), invalid);
    assert_eq!(client.bind(&mut c, 9), Err(invalid));
    assert_eq!(other(client.accept(&mut c)), invalid);
    assert_eq!(client.send(&mut c, b""), Ok(0));

    // The only client socket is in use and not closing: nothing to connect with.
    let mut second = client.socket().unwrap();
    assert_eq!(
        other(client.connect(&mut second, addr(SERVER, 7))),
        SmoltcpError::NoSocket
    );
    client.close(second).unwrap();
    client.close(fresh).unwrap();
}

#[test]
fn new_rejects_handles_that_are_not_tcp_sockets_of_the_set() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<2>::new(wire, SERVER, Sockets::default());
    let [h0, h1] = a.pool;

    let duplicate = SmoltcpStack::new(
        &mut a.iface,
        &mut a.device,
        &mut a.sockets,
        [h0, h0],
        &clock,
    );
    assert_eq!(duplicate.err(), Some(SmoltcpError::InvalidState));

    // A handle of a bigger set points past this set's storage.
    let mut storage = [
        SocketStorage::EMPTY,
        SocketStorage::EMPTY,
        SocketStorage::EMPTY,
    ];
    let mut other_set = SocketSet::new(&mut storage[..]);
    let mut foreign = h0;
    for _ in 0..3 {
        let rx = tcp::SocketBuffer::new(Vec::new().leak());
        let tx = tcp::SocketBuffer::new(Vec::new().leak());
        foreign = other_set.add(tcp::Socket::new(rx, tx));
    }
    let stranger = SmoltcpStack::new(
        &mut a.iface,
        &mut a.device,
        &mut a.sockets,
        [h1, foreign],
        &clock,
    );
    assert_eq!(stranger.err(), Some(SmoltcpError::NotTcp));

    // A removed socket's handle.
    a.sockets.remove(h1);
    let removed = SmoltcpStack::new(
        &mut a.iface,
        &mut a.device,
        &mut a.sockets,
        [h0, h1],
        &clock,
    );
    assert_eq!(removed.err(), Some(SmoltcpError::NotTcp));
}

/// A TCP segment with every field drawn from `rng`.
fn random_segment<'p>(rng: &mut Rng, payload: &'p [u8], ports: [u16; 2]) -> TcpRepr<'p> {
    let control = match rng.below(5) {
        0 => TcpControl::Syn,
        1 => TcpControl::Fin,
        2 => TcpControl::Rst,
        3 => TcpControl::Psh,
        _ => TcpControl::None,
    };
    let start = rng.below(payload.len() as u64) as usize;
    let len = rng.below(120) as usize;
    TcpRepr {
        src_port: if rng.coin() {
            ports[0]
        } else {
            rng.next() as u16
        },
        dst_port: if rng.coin() {
            ports[1]
        } else {
            rng.next() as u16
        },
        control,
        seq_number: TcpSeqNumber(rng.next() as i32),
        ack_number: rng.coin().then(|| TcpSeqNumber(rng.next() as i32)),
        window_len: rng.next() as u16,
        window_scale: rng.coin().then(|| rng.below(20) as u8),
        max_seg_size: rng.coin().then(|| rng.below(3000) as u16),
        sack_permitted: rng.coin(),
        sack_ranges: [
            rng.coin().then(|| (rng.next() as u32, rng.next() as u32)),
            None,
            None,
        ],
        timestamp: rng
            .coin()
            .then(|| TcpTimestampRepr::new(rng.next() as u32, rng.next() as u32)),
        payload: &payload[start..(start + len).min(payload.len())],
    }
}

/// xorshift64: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 0
    }
}

#[test]
fn a_syn_from_the_unspecified_address_is_dropped_not_answered() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<2>::new(wire, SERVER, Sockets::default());
    let mut server = a.stack(&clock);
    let mut l = listener(&mut server, 7);
    let mut rng = Rng(7);
    let mut syn = random_segment(&mut rng, &[0], [1234, 7]);
    (syn.src_port, syn.dst_port, syn.control, syn.ack_number) = (1234, 7, TcpControl::Syn, None);
    syn.payload = &[];
    // smoltcp 0.12 answered it and failed an assertion on the reply's address;
    // 0.13.1 drops it, with nothing in between any more.
    wire.inject(CLIENT, &tcp_frame(SERVER, Ipv4Addr::UNSPECIFIED, &syn));
    for_ms(&clock, 100, || {
        assert_eq!(server.accept(&mut l).err(), Some(nb::Error::WouldBlock));
    });
    assert_eq!(wire.delivered(CLIENT), 1);
    assert_eq!(
        wire.in_flight(SERVER) + wire.dropped(SERVER) as usize,
        0,
        "no reply"
    );
    assert_eq!(server.free_sockets(), 0, "both sockets still armed");
}

#[test]
fn noise_from_strangers_does_not_disturb_the_echo() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<7>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<2>::new(wire, CLIENT, Sockets::default());
    let mut server = echo_server(a.stack(&clock));
    let mut client_config = ClientConfig::new(addr(SERVER, PORT)).with_messages(TUTORIAL_MESSAGES);
    client_config.period = Duration::from_millis(10);
    let mut client = PeriodicClient::new(b.stack(&clock), &clock, client_config);
    let mut rng = Rng(0x5eed);
    let payload: Vec<u8> = (0..=255).collect();
    let sources = [
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(10, 0, 0, 255),
        Ipv4Addr::new(224, 0, 0, 1),
        ip(SERVER),
        ip(CLIENT),
        Ipv4Addr::new(10, 0, 0, 99),
    ];
    for _ in 0..5_000 {
        server.poll(clock.now_instant()).unwrap();
        let _ = client.poll();
        if rng.coin() {
            let src = sources[rng.below(sources.len() as u64) as usize];
            // Client ports count up from 49152: some segments hit the real connection.
            let ports = [49152, PORT];
            let segment = random_segment(&mut rng, &payload, ports);
            wire.inject(CLIENT, &tcp_frame(SERVER, src, &segment));
        }
        tick(&clock);
    }
    let stats = client.stats();
    assert_eq!(
        (stats.mismatches, stats.failures, stats.connects),
        (0, 0, 1)
    );
    assert!(stats.echoed >= 400, "only {} echoes", stats.echoed);
}

/// A segment of a hand-made peer to port 7 of the server: a SYN allowing SACK
/// without `ack`, a data segment with it.
fn stranger_segment(seq: i32, ack: Option<TcpSeqNumber>, payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        src_port: 40_000,
        dst_port: 7,
        control: if ack.is_none() {
            TcpControl::Syn
        } else {
            TcpControl::None
        },
        seq_number: TcpSeqNumber(seq),
        ack_number: ack,
        window_len: 8192,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: ack.is_none(),
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    }
}

/// Polls the server and gives the one TCP segment it sent back (ARP aside).
fn answer<const N: usize>(wire: &Wire, server: &mut Stack<'_, N>) -> Segment {
    server.poll();
    let mut answers: Vec<Segment> = core::iter::from_fn(|| wire.take(SERVER))
        .filter_map(|f| tcp_segment(&f))
        .collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers.remove(0)
}

/// A hand-made peer's connection to port 7 of `server`, its first byte at sequence
/// number `isn + 1`; gives the accepted socket and the peer's acknowledgement number.
fn stranger_connection<const N: usize>(
    wire: &Wire,
    clock: &MockClock,
    server: &mut Stack<'_, N>,
    isn: i32,
) -> (SmoltcpSocket, Option<TcpSeqNumber>) {
    let mut l = listener(server, 7);
    let peer = ip(CLIENT);
    wire.inject(CLIENT, &arp_request(SERVER, peer));
    server.poll();
    assert!(wire.take(SERVER).is_some(), "no ARP reply");
    wire.inject(
        CLIENT,
        &tcp_frame(SERVER, peer, &stranger_segment(isn, None, &[])),
    );
    let syn_ack = answer(wire, server);
    assert_eq!(
        (syn_ack.control, syn_ack.ack),
        (TcpControl::Syn, Some(TcpSeqNumber(isn + 1)))
    );
    let ours = Some(syn_ack.seq + 1);
    wire.inject(
        CLIENT,
        &tcp_frame(SERVER, peer, &stranger_segment(isn + 1, ours, &[])),
    );
    let (conn, _) = until(clock, "accept", || server.accept(&mut l).ok());
    (conn, ours)
}

#[test]
fn a_sack_block_across_the_sequence_wrap_is_answered_without_overflow() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<2>::new(wire, SERVER, Sockets::default());
    let mut server = a.stack(&clock);
    // The peer's first byte is sequence number 2^32 - 15: the server acknowledges
    // numbers just below the wrap.
    let isn = -16;
    let (mut conn, ours) = stranger_connection(wire, &clock, &mut server, isn);
    let peer = ip(CLIENT);

    // Bytes 100..110 arrive before 0..100: the ACK carries a SACK block beyond the
    // wrap. smoltcp 0.12 summed it in usize from the sign-extended ack and overflowed.
    let data: Vec<u8> = (0..110u8).collect();
    let late = stranger_segment(isn + 101, ours, &data[100..]);
    wire.inject(CLIENT, &tcp_frame(SERVER, peer, &late));
    let sack = answer(wire, &mut server);
    assert_eq!(sack.ack, Some(TcpSeqNumber(isn + 1)));
    assert_eq!(sack.sack, Some(((isn + 101) as u32, (isn + 111) as u32)));

    let early = stranger_segment(isn + 1, ours, &data[..100]);
    wire.inject(CLIENT, &tcp_frame(SERVER, peer, &early));
    let ack = answer(wire, &mut server);
    assert_eq!(ack.ack, Some(TcpSeqNumber(isn + 111)));
    let mut got = Vec::new();
    read_into(&mut server, &mut conn, &mut got);
    assert_eq!(got, data);
}

/// Everything `socket` delivers up to its end of stream; panics on an error.
fn read_to_end<const N: usize>(server: &mut Stack<'_, N>, socket: &mut SmoltcpSocket) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 7];
    for _ in 0..ROUNDS {
        match server.receive(socket, &mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(nb::Error::WouldBlock) => panic!("no end of stream after {got:?}"),
            Err(e) => panic!("receive failed after {got:?}: {e:?}"),
        }
    }
    panic!("no end of stream within {ROUNDS} reads");
}

fn with_fin(segment: TcpRepr<'_>) -> TcpRepr<'_> {
    TcpRepr {
        control: TcpControl::Fin,
        ..segment
    }
}

#[test]
fn the_stream_ends_at_the_peers_fin_whatever_the_peer_sends_after_it() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<2>::new(wire, SERVER, Sockets::default());
    let mut server = a.stack(&clock);
    let isn = 1000;
    let (mut conn, ours) = stranger_connection(wire, &clock, &mut server, isn);
    let peer = ip(CLIENT);
    let data: Vec<u8> = (0..40u8).collect();

    // Bytes 0..10 and the FIN on 10, then text from 10 on in the same poll and from
    // 20 on in a later one. smoltcp takes the text after the FIN, less the byte on
    // the FIN's number; the adapter ends the stream at the FIN.
    let fin = with_fin(stranger_segment(isn + 1, ours, &data[..10]));
    let after = stranger_segment(isn + 11, ours, &data[10..20]);
    wire.inject(CLIENT, &tcp_frame(SERVER, peer, &fin));
    wire.inject(CLIENT, &tcp_frame(SERVER, peer, &after));
    server.poll();
    let later = stranger_segment(isn + 21, ours, &data[20..]);
    wire.inject(CLIENT, &tcp_frame(SERVER, peer, &later));
    server.poll();
    assert_eq!(read_to_end(&mut server, &mut conn), &data[..10]);
    assert_eq!(
        server.receive(&mut conn, &mut [0u8; 4]),
        Ok(0),
        "the end stays"
    );
}

/// The one case where bytes past the FIN come through, as the module docs say:
/// they reached the socket, out of order, before the FIN did, and they come at
/// their own places in the peer's stream.
#[test]
fn text_past_the_fin_that_came_before_it_is_delivered_in_its_place() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<2>::new(wire, SERVER, Sockets::default());
    let mut server = a.stack(&clock);
    let isn = 5000;
    let (mut conn, ours) = stranger_connection(wire, &clock, &mut server, isn);
    let peer = ip(CLIENT);
    let data: Vec<u8> = (0..30u8).collect();

    let ahead = stranger_segment(isn + 11, ours, &data[10..20]);
    wire.inject(CLIENT, &tcp_frame(SERVER, peer, &ahead));
    server.poll();
    let fin = with_fin(stranger_segment(isn + 1, ours, &data[..10]));
    let after = stranger_segment(isn + 21, ours, &data[20..]);
    wire.inject(CLIENT, &tcp_frame(SERVER, peer, &fin));
    wire.inject(CLIENT, &tcp_frame(SERVER, peer, &after));
    server.poll();
    assert_eq!(read_to_end(&mut server, &mut conn), &data[..20]);
}

/// Clients served at once by the simultaneous-connect test's server.
const SLOTS: usize = 4;

/// Connects `count` sockets of `client` to the echo server so that every SYN is on
/// the wire before the server's stack polls once: the server's side of the ARP
/// exchange is done first, then the client sends all SYNs in one poll of its own.
fn syns_in_one_poll<const N: usize, const B: usize>(
    wire: &Wire,
    server: &mut Server<'_, N>,
    clock: &MockClock,
    client: &mut Stack<'_, B>,
    count: usize,
) -> Vec<SmoltcpSocket> {
    server.poll(clock.now_instant()).unwrap();
    assert!(server.is_listening());
    let mut sockets: Vec<SmoltcpSocket> = (0..count).map(|_| client.socket().unwrap()).collect();
    for s in &mut sockets {
        assert_eq!(
            client.connect(s, addr(SERVER, PORT)),
            Err(nb::Error::WouldBlock)
        );
    }
    // Only the client's ARP request is out: the SYNs wait for the reply.
    assert_eq!(wire.in_flight(CLIENT), 1);
    server.stack_mut().poll();
    client.poll();
    assert_eq!(wire.in_flight(CLIENT), count, "one SYN per client");
    server.stack_mut().poll();
    assert_eq!(wire.in_flight(CLIENT), 0, "all SYNs read in one poll");
    sockets
}

#[test]
fn slots_clients_whose_syns_arrive_in_one_poll_are_all_served_and_one_more_is_closed() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    // The documented sizing: SLOTS + 2 sockets and the default backlog.
    let mut a = Host::<{ SLOTS + 2 }>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<{ SLOTS + 1 }>::new(wire, CLIENT, Sockets::default());
    let mut server = echo_server(a.stack(&clock));
    let mut client = b.stack(&clock);
    let mut sockets = syns_in_one_poll(wire, &mut server, &clock, &mut client, SLOTS + 1);

    let mut connected = vec![false; SLOTS + 1];
    until(&clock, "every handshake", || {
        server.poll(clock.now_instant()).unwrap();
        for (s, done) in sockets.iter_mut().zip(&mut connected) {
            if !*done {
                match client.connect(s, addr(SERVER, PORT)) {
                    Ok(()) => *done = true,
                    Err(nb::Error::WouldBlock) => {}
                    Err(e) => panic!("a client was refused: {e:?}"),
                }
            }
        }
        connected.iter().all(|&c| c).then_some(())
    });

    // Every client sends; SLOTS get their own bytes back, one gets an orderly close.
    let messages: Vec<Vec<u8>> = (0..=SLOTS)
        .map(|i| format!("client {i}").into_bytes())
        .collect();
    for (s, msg) in sockets.iter_mut().zip(&messages) {
        assert_eq!(client.send(s, msg), Ok(msg.len()));
    }
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); SLOTS + 1];
    let mut closed = [false; SLOTS + 1];
    let mut buf = [0u8; 64];
    until(&clock, "every echo or close", || {
        server.poll(clock.now_instant()).unwrap();
        for i in 0..=SLOTS {
            if closed[i] || got[i].len() == messages[i].len() {
                continue;
            }
            match client.receive(&mut sockets[i], &mut buf) {
                Ok(0) => closed[i] = true,
                Ok(n) => got[i].extend_from_slice(&buf[..n]),
                Err(nb::Error::WouldBlock) => {}
                Err(e) => panic!("client {i}: {e:?}"),
            }
        }
        (0..=SLOTS)
            .all(|i| closed[i] || got[i].len() == messages[i].len())
            .then_some(())
    });
    let echoed: Vec<usize> = (0..=SLOTS).filter(|&i| got[i] == messages[i]).collect();
    let turned_away: Vec<usize> = (0..=SLOTS).filter(|&i| closed[i]).collect();
    assert_eq!(echoed.len(), SLOTS, "echoed: {echoed:?}");
    assert_eq!(turned_away.len(), 1, "closed: {turned_away:?}");
    assert!(
        got[turned_away[0]].is_empty(),
        "the turned-away client got bytes"
    );
    assert_eq!(
        (
            server.stats().accepted,
            server.stats().rejected,
            server.stats().errors
        ),
        (SLOTS as u32, 1, 0)
    );
}

#[test]
fn connect_takes_a_spare_listening_socket_but_never_a_listeners_last() {
    let wire = Wire::leaked();
    let clock = MockClock::new();
    let mut a = Host::<2>::new(wire, SERVER, Sockets::default());
    let mut b = Host::<3>::new(wire, CLIENT, Sockets::default());
    let mut server = a.stack(&clock);
    let mut client = b.stack(&clock);
    let mut l = listener(&mut server, 7);
    let mut far = listener(&mut client, 9);
    assert_eq!(server.free_sockets(), 0, "both sockets armed");

    // The server's stack connects out with one of its two listening sockets...
    let mut out = server.socket().unwrap();
    let mut accepted = None;
    until(&clock, "the connect out", || {
        if let Ok(conn) = client.accept(&mut far) {
            accepted = Some(conn);
        }
        match server.connect(&mut out, addr(CLIENT, 9)) {
            Ok(()) => accepted.is_some().then_some(()),
            Err(nb::Error::WouldBlock) => None,
            Err(e) => panic!("connect failed: {e:?}"),
        }
    });
    // ...and the other still answers a SYN.
    let (_c, _s) = pair(&clock, &mut server, &mut l, &mut client, 7);
    let mut second = server.socket().unwrap();
    assert_eq!(
        other(server.connect(&mut second, addr(CLIENT, 9))),
        SmoltcpError::NoSocket
    );
}
