//! Behaviour of the mock network, through the embedded-nal traits only.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use embedded_nal::{TcpClientStack, TcpFullStack};
use nb::Error::{Other, WouldBlock};

use super::*;

const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PORT: u16 = 7;
const ECHO: SocketAddr = SocketAddr::new(SERVER, PORT);

type Net = MockNetwork<12, 16>;

fn listener<const S: usize, const P: usize>(server: &mut MockStack<'_, S, P>) -> MockSocket {
    let mut l = server.socket().unwrap();
    server.bind(&mut l, PORT).unwrap();
    server.listen(&mut l).unwrap();
    l
}

fn connected<const S: usize, const P: usize>(client: &mut MockStack<'_, S, P>) -> MockSocket {
    let mut s = client.socket().unwrap();
    client.connect(&mut s, ECHO).unwrap();
    s
}

/// A server listening on `ECHO` and one connection to it: (listener, client, accepted).
fn pair<const S: usize, const P: usize>(
    server: &mut MockStack<'_, S, P>,
    client: &mut MockStack<'_, S, P>,
) -> (MockSocket, MockSocket, MockSocket) {
    let mut l = listener(server);
    let c = connected(client);
    let (a, _) = server.accept(&mut l).unwrap();
    (l, c, a)
}

fn recv_all<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    sock: &mut MockSocket,
) -> heapless::Vec<u8, 64> {
    let mut out = heapless::Vec::new();
    let mut buf = [0; 64];
    while let Ok(n @ 1..) = stack.receive(sock, &mut buf) {
        out.extend_from_slice(&buf[..n]).unwrap();
    }
    out
}

#[test]
fn connect_accept_and_echo_both_ways() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let mut l = listener(&mut server);
    let mut c = connected(&mut client);
    let client_addr = client.local_addr(&c).unwrap();
    assert_eq!(client_addr.ip(), CLIENT);
    assert!(client_addr.port() >= 49152);
    let (mut a, peer) = server.accept(&mut l).unwrap();
    assert_eq!(peer, client_addr);
    assert_eq!(server.local_addr(&a), Some(ECHO));
    assert_eq!(server.accept(&mut l), Err(WouldBlock));

    assert_eq!(client.send(&mut c, b"ping"), Ok(4));
    assert_eq!(recv_all(&mut server, &mut a).as_slice(), b"ping");
    assert_eq!(server.send(&mut a, b"pong"), Ok(4));
    let mut buf = [0; 8];
    assert_eq!(client.receive(&mut c, &mut buf), Ok(4));
    assert_eq!(&buf[..4], b"pong");
    assert_eq!(client.receive(&mut c, &mut buf), Err(WouldBlock));
}

#[test]
fn connect_without_listener_is_refused_and_again_is_ok() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let mut s = client.socket().unwrap();
    assert_eq!(
        client.connect(&mut s, ECHO),
        Err(Other(MockError::ConnectionRefused))
    );
    let _l = listener(&mut server);
    let wrong_host = SocketAddr::new(CLIENT, PORT);
    assert_eq!(
        client.connect(&mut s, wrong_host),
        Err(Other(MockError::ConnectionRefused))
    );
    assert_eq!(client.connect(&mut s, ECHO), Ok(()));
    assert_eq!(client.connect(&mut s, ECHO), Ok(()));
    assert_eq!(net.connections(), 1);
}

#[test]
fn short_sends_and_full_pipes_keep_order() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let (_l, mut c, mut a) = pair(&mut server, &mut client);
    client.limit_send(Some(3));
    let data = b"0123456789abcdefghij";
    let mut sent = 0;
    while sent < 16 {
        let n = client.send(&mut c, &data[sent..]).unwrap();
        assert!(n <= 3);
        sent += n;
    }
    assert_eq!(
        client.send(&mut c, &data[sent..]),
        Err(WouldBlock),
        "16-byte pipe is full"
    );
    assert_eq!(net.pending(ECHO), 16);
    assert_eq!(recv_all(&mut server, &mut a).as_slice(), &data[..16]);
    assert_eq!(client.send(&mut c, &data[16..]), Ok(3));
    assert_eq!(client.send(&mut c, &[]), Ok(0));
    client.limit_send(Some(0));
    assert_eq!(client.send(&mut c, b"x"), Err(WouldBlock));
}

#[test]
fn orderly_close_drains_then_reads_zero_and_sends_fail() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let (_l, mut c, mut a) = pair(&mut server, &mut client);
    client.send(&mut c, b"bye").unwrap();
    client.close(c).unwrap();
    assert_eq!(net.connections(), 1, "half closed is not fully closed");
    let mut buf = [0; 2];
    assert_eq!(server.receive(&mut a, &mut buf), Ok(2));
    assert_eq!(server.receive(&mut a, &mut buf), Ok(1));
    assert_eq!(server.receive(&mut a, &mut buf), Ok(0));
    assert_eq!(server.receive(&mut a, &mut buf), Ok(0));
    assert_eq!(server.send(&mut a, b"x"), Err(Other(MockError::PipeClosed)));
    server.close(a).unwrap();
    assert_eq!(net.connections(), 0);
}

#[test]
fn closing_with_unread_data_resets_the_peer() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let (_l, c, mut a) = pair(&mut server, &mut client);
    server.send(&mut a, b"echo nobody reads").unwrap();
    client.close(c).unwrap();
    assert_eq!(
        server.receive(&mut a, &mut [0; 4]),
        Err(Other(MockError::Reset))
    );
    assert_eq!(server.send(&mut a, b"x"), Err(Other(MockError::Reset)));
}

#[test]
fn reset_hits_both_ends_and_socket_stays_until_closed() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let (l, mut c, mut a) = pair(&mut server, &mut client);
    client.send(&mut c, b"lost").unwrap();
    assert!(client.reset(&c));
    assert!(!server.reset(&l), "a listener has no connection");
    assert_eq!(
        server.receive(&mut a, &mut [0; 4]),
        Err(Other(MockError::Reset))
    );
    assert_eq!(client.send(&mut c, b"x"), Err(Other(MockError::Reset)));
    assert_eq!(client.connect(&mut c, ECHO), Err(Other(MockError::Reset)));
    assert_eq!(client.open_sockets(), 1);
    assert_eq!(net.pending(ECHO), 0);
    client.close(c).unwrap();
    server.close(a).unwrap();
    assert_eq!(client.open_sockets(), 0);
    assert_eq!(net.connections(), 0);
}

#[test]
fn reset_connection_by_address() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let (_l, mut c, mut a) = pair(&mut server, &mut client);
    let addr = client.local_addr(&c).unwrap();
    assert!(!net.reset_connection(SocketAddr::new(CLIENT, 1)));
    assert!(net.reset_connection(addr));
    assert!(!net.reset_connection(addr), "already reset");
    assert_eq!(
        client.receive(&mut c, &mut [0; 4]),
        Err(Other(MockError::Reset))
    );
    assert_eq!(server.send(&mut a, b"x"), Err(Other(MockError::Reset)));
}

#[test]
fn backlog_holds_four_oldest_first_and_refuses_more() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let mut l = listener(&mut server);
    let socks: [MockSocket; 4] = core::array::from_fn(|_| connected(&mut client));
    let mut fifth = client.socket().unwrap();
    assert_eq!(
        client.connect(&mut fifth, ECHO),
        Err(Other(MockError::ConnectionRefused))
    );
    for s in &socks {
        let (_, peer) = server.accept(&mut l).unwrap();
        assert_eq!(Some(peer), client.local_addr(s));
    }
    assert_eq!(client.connect(&mut fifth, ECHO), Ok(()));
}

#[test]
fn closing_a_listener_resets_its_backlog() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let l = listener(&mut server);
    let mut c = connected(&mut client);
    client.send(&mut c, b"early").unwrap();
    server.close(l).unwrap();
    assert_eq!(
        client.receive(&mut c, &mut [0; 4]),
        Err(Other(MockError::Reset))
    );
    assert_eq!(server.open_sockets(), 0);
    client.close(c).unwrap();
    assert_eq!(net.connections(), 0);
}

#[test]
fn a_client_gone_before_accept_is_still_accepted_with_its_data() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let mut l = listener(&mut server);
    let mut c = connected(&mut client);
    client.send(&mut c, b"hi").unwrap();
    client.close(c).unwrap();
    let (mut a, _) = server.accept(&mut l).unwrap();
    assert_eq!(recv_all(&mut server, &mut a).as_slice(), b"hi");
    assert_eq!(server.receive(&mut a, &mut [0; 4]), Ok(0));
}

#[test]
fn port_in_use_until_closed() {
    let net = Net::default();
    let mut server = net.stack(SERVER);
    let l = listener(&mut server);
    let mut other = server.socket().unwrap();
    assert_eq!(server.bind(&mut other, PORT), Err(MockError::AddrInUse));
    let mut elsewhere = net.stack(CLIENT);
    let mut s = elsewhere.socket().unwrap();
    assert_eq!(elsewhere.bind(&mut s, PORT), Ok(()), "another host");
    server.close(l).unwrap();
    assert_eq!(server.bind(&mut other, PORT), Ok(()));
    let mut any = server.socket().unwrap();
    server.bind(&mut any, 0).unwrap();
    assert!(server.local_addr(&any).unwrap().port() >= 49152);
}

#[test]
fn wrong_state_calls_are_errors_not_panics() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let mut fresh = client.socket().unwrap();
    let mut l = listener(&mut server);
    let invalid = MockError::InvalidState;
    assert_eq!(client.send(&mut fresh, b"x"), Err(Other(invalid)));
    assert_eq!(client.receive(&mut fresh, &mut [0; 1]), Err(Other(invalid)));
    assert_eq!(client.accept(&mut fresh).map(|_| ()), Err(Other(invalid)));
    assert_eq!(client.listen(&mut fresh), Err(invalid));
    assert_eq!(server.receive(&mut l, &mut [0; 1]), Err(Other(invalid)));
    assert_eq!(server.connect(&mut l, ECHO), Err(Other(invalid)));
    assert_eq!(server.bind(&mut l, 8), Err(invalid));
    assert_eq!(server.listen(&mut l), Ok(()), "listening twice is harmless");
    assert_eq!(
        server.send(&mut fresh, b"x"),
        Err(Other(invalid)),
        "another host's socket"
    );
    assert_eq!(server.close(fresh), Err(invalid));
    assert_eq!(client.open_sockets(), 1);
    assert_eq!(client.local_addr(&l), None);
}

#[test]
fn socket_table_and_socket_limit_run_out() {
    let net: MockNetwork<3, 8> = MockNetwork::default();
    let (mut a, mut b) = (net.stack(SERVER), net.stack(CLIENT));
    b.socket_limit(Some(1));
    let s = b.socket().unwrap();
    assert_eq!(b.socket(), Err(MockError::NoSocket));
    let _x = a.socket().unwrap();
    let _y = a.socket().unwrap();
    assert_eq!(a.socket(), Err(MockError::NoSocket), "table of 3 is full");
    b.close(s).unwrap();
    b.socket_limit(None);
    assert!(b.socket().is_ok());
}

#[test]
fn a_full_table_refuses_connections() {
    let net: MockNetwork<2, 8> = MockNetwork::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let _l = listener(&mut server);
    let mut c = client.socket().unwrap();
    assert_eq!(
        client.connect(&mut c, ECHO),
        Err(Other(MockError::ConnectionRefused))
    );
}

#[test]
fn fail_next_fails_each_op_count_times() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let e = MockError::Injected;
    server.fail_next(Op::Socket, 2, e);
    assert_eq!(server.socket(), Err(e));
    assert_eq!(server.socket(), Err(e));
    let mut l = server.socket().unwrap();
    server.fail_next(Op::Bind, 1, MockError::AddrInUse);
    assert_eq!(server.bind(&mut l, PORT), Err(MockError::AddrInUse));
    server.bind(&mut l, PORT).unwrap();
    server.fail_next(Op::Listen, 1, e);
    assert_eq!(server.listen(&mut l), Err(e));
    server.listen(&mut l).unwrap();
    let mut c = client.socket().unwrap();
    client.fail_next(Op::Connect, 1, MockError::ConnectionRefused);
    assert_eq!(
        client.connect(&mut c, ECHO),
        Err(Other(MockError::ConnectionRefused))
    );
    client.connect(&mut c, ECHO).unwrap();
    server.fail_next(Op::Accept, 1, e);
    assert_eq!(server.accept(&mut l).map(|_| ()), Err(Other(e)));
    let (mut a, _) = server.accept(&mut l).unwrap();
    client.fail_next(Op::Send, 1, MockError::Reset);
    assert_eq!(client.send(&mut c, b"x"), Err(Other(MockError::Reset)));
    assert_eq!(net.pending(ECHO), 0, "a failed send moves nothing");
    client.send(&mut c, b"x").unwrap();
    server.fail_next(Op::Receive, 1, e);
    assert_eq!(server.receive(&mut a, &mut [0; 1]), Err(Other(e)));
    assert_eq!(server.receive(&mut a, &mut [0; 1]), Ok(1));
    client.fail_next(Op::Close, 1, e);
    assert_eq!(client.close(c), Err(e));
    assert_eq!(client.open_sockets(), 0, "a failed close still frees");
    assert_eq!(server.receive(&mut a, &mut [0; 1]), Ok(0));
}

#[test]
fn would_block_connect_is_in_progress_until_a_later_call() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let mut l = listener(&mut server);
    let mut c = client.socket().unwrap();
    net.stack(CLIENT).would_block_next(Op::Connect, 2);
    assert_eq!(client.connect(&mut c, ECHO), Err(WouldBlock));
    assert_eq!(client.connect(&mut c, ECHO), Err(WouldBlock));
    assert_eq!(server.accept(&mut l).map(|_| ()), Err(WouldBlock));
    assert_eq!(net.connections(), 0);
    assert_eq!(client.connect(&mut c, ECHO), Ok(()));
    assert!(server.accept(&mut l).is_ok());
}

#[test]
fn would_block_send_receive_accept_do_nothing() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let (mut l, mut c, mut a) = pair(&mut server, &mut client);
    let _c2 = connected(&mut client);
    client.would_block_next(Op::Send, 1);
    assert_eq!(client.send(&mut c, b"x"), Err(WouldBlock));
    assert_eq!(net.pending(ECHO), 0);
    client.send(&mut c, b"x").unwrap();
    server.would_block_next(Op::Receive, 1);
    assert_eq!(server.receive(&mut a, &mut [0; 1]), Err(WouldBlock));
    assert_eq!(server.receive(&mut a, &mut [0; 1]), Ok(1));
    server.would_block_next(Op::Accept, 1);
    assert_eq!(server.accept(&mut l).map(|_| ()), Err(WouldBlock));
    assert!(server.accept(&mut l).is_ok());
}

#[test]
fn limit_receive_chunks() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let (_l, mut c, mut a) = pair(&mut server, &mut client);
    client.send(&mut c, b"abcdefg").unwrap();
    server.limit_receive(Some(3));
    let mut buf = [0; 8];
    assert_eq!(server.receive(&mut a, &mut buf), Ok(3));
    assert_eq!(server.receive(&mut a, &mut buf), Ok(3));
    assert_eq!(server.receive(&mut a, &mut buf), Ok(1));
    assert_eq!(buf[0], b'g');
    server.limit_receive(Some(0));
    client.send(&mut c, b"h").unwrap();
    assert_eq!(server.receive(&mut a, &mut buf), Err(WouldBlock));
    server.clear_faults();
    assert_eq!(server.receive(&mut a, &mut buf), Ok(1));
}

/// Runs a fixed script of calls under chaos and records every result.
fn chaos_run(seed: u64) -> heapless::Vec<nb::Result<usize, MockError>, 200> {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let mut l = listener(&mut server);
    let mut c = client.socket().unwrap();
    client.chaos(seed, 300);
    server.chaos(seed.wrapping_add(1), 300);
    let mut log = heapless::Vec::new();
    let mut conn = None;
    let mut buf = [0; 8];
    for _ in 0..60 {
        log.push(client.connect(&mut c, ECHO).map(|()| 0)).unwrap();
        if let Ok((s, _)) = server.accept(&mut l) {
            conn = Some(s);
        }
        log.push(client.send(&mut c, b"abcdef")).unwrap();
        if let Some(a) = conn.as_mut() {
            log.push(server.receive(a, &mut buf)).unwrap();
        }
    }
    log
}

#[test]
fn chaos_is_deterministic_per_seed() {
    let run = chaos_run(42);
    assert_eq!(run, chaos_run(42));
    assert_ne!(run, chaos_run(43));
    assert!(run.contains(&Err(WouldBlock)));
    let lengths = || run.iter().filter_map(|r| r.as_ref().ok());
    assert!(
        lengths().any(|&n| (2..6).contains(&n)),
        "random short lengths"
    );
}

#[test]
fn chaos_always_and_chaos_off() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    let (_l, mut c, _a) = pair(&mut server, &mut client);
    client.chaos(1, 1000);
    assert!((0..20).all(|_| client.send(&mut c, b"x") == Err(WouldBlock)));
    client.chaos_off();
    assert_eq!(client.send(&mut c, b"xyz"), Ok(3));
}

#[test]
fn observers_order_sends_and_count_bytes() {
    let net = Net::default();
    let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
    assert_eq!(net.calls(), 0);
    let (_l, mut c, mut a) = pair(&mut server, &mut client);
    let client_addr = client.local_addr(&c).unwrap();
    assert_eq!(net.calls(), 6);
    assert_eq!(net.last_send_call_to(ECHO), None);
    client.send(&mut c, b"abc").unwrap();
    let sent_at = net.calls();
    assert_eq!(net.last_send_call_to(ECHO), Some(sent_at));
    assert_eq!(net.pending(ECHO), 3);
    assert_eq!(net.pending(client_addr), 0);
    server.receive(&mut a, &mut [0; 8]).unwrap();
    server.send(&mut a, b"abc").unwrap();
    let echoed_at = net.last_send_call_to(client_addr).unwrap();
    assert!(echoed_at > sent_at);
    assert_eq!(net.pending(client_addr), 3);
    assert_eq!(server.send(&mut a, b""), Ok(0));
    assert_eq!(
        net.last_send_call_to(client_addr),
        Some(echoed_at),
        "empty send moves nothing"
    );
}

#[test]
fn stacks_of_one_ip_share_sockets_and_faults() {
    let net = MockNetwork::new();
    let (mut one, two) = (net.stack(CLIENT), net.stack(CLIENT));
    let s = one.socket().unwrap();
    assert_eq!(two.open_sockets(), 1);
    assert_eq!(one.ip(), CLIENT);
    two.fail_next(Op::Socket, 1, MockError::NoSocket);
    assert_eq!(one.socket(), Err(MockError::NoSocket));
    assert_eq!(two.local_addr(&s), None, "not bound yet");
}
