//! UdpPeriodicClient on the mock network: the schedule, every echo matched, and
//! lost, duplicate, late and wrong echoes counted apart, with no reconnect storm.

mod common;

use core::net::SocketAddr;

use common::saved::saving_failures;
use common::{client_ip, server_addr, SERVER_IP};
use embedded_nal::{UdpClientStack, UdpFullStack};
use nal_echo::stack::mock::{DatagramFaults, MockError, MockNetwork, MockSocket, MockStack, Op};
use nal_echo::time::MockClock;
use nal_echo::{
    ClientConfig, ClientError, Duration, Instant, ServerConfig, UdpEcho, UdpPeriodicClient,
    TUTORIAL_MESSAGES,
};
use proptest::prelude::*;

const PORT: u16 = 5001;

fn config() -> ClientConfig {
    ClientConfig::new(server_addr(PORT))
        .with_messages(TUTORIAL_MESSAGES)
        .with_period(Duration::from_millis(1000))
        .with_echo_timeout(Duration::from_millis(3000))
}

/// A server socket the test answers by hand.
struct HandServer<'n> {
    stack: MockStack<'n>,
    socket: MockSocket,
}

impl<'n> HandServer<'n> {
    fn bind(net: &'n MockNetwork) -> Self {
        let mut stack = net.stack(SERVER_IP);
        let mut socket = UdpClientStack::socket(&mut stack).unwrap();
        UdpFullStack::bind(&mut stack, &mut socket, PORT).unwrap();
        Self { stack, socket }
    }

    /// The datagrams waiting, with their senders.
    fn take(&mut self) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut got = Vec::new();
        let mut buf = [0; 512];
        while let Ok((n, from)) =
            UdpClientStack::receive(&mut self.stack, &mut self.socket, &mut buf)
        {
            got.push((buf[..n].to_vec(), from));
        }
        got
    }

    fn answer(&mut self, to: SocketAddr, bytes: &[u8]) {
        UdpFullStack::send_to(&mut self.stack, &mut self.socket, to, bytes).unwrap();
    }
}

#[test]
fn the_tutorials_messages_go_out_once_a_period_and_every_echo_is_matched() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server_stack = net.stack(SERVER_IP);
    let mut echo = UdpEcho::<MockSocket>::new();
    echo.poll(&mut server_stack, &ServerConfig::default(), Instant::ZERO)
        .unwrap();
    let mut client = UdpPeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    for _ in 0..10 {
        client.poll().unwrap();
        echo.poll(
            &mut server_stack,
            &ServerConfig::default(),
            clock.now_instant(),
        )
        .unwrap();
        clock.advance(Duration::from_millis(7));
        client.poll().unwrap();
        clock.advance(Duration::from_millis(993));
    }
    let s = *client.stats();
    assert_eq!(
        (s.sent, s.echoed, s.lost, s.missed_ticks, s.connects),
        (10, 10, 0, 0, 1)
    );
    assert_eq!(s.rtt_min, Some(Duration::from_millis(7)));
    assert_eq!(s.rtt_max, Some(Duration::from_millis(7)));
    assert_eq!(echo.stats().datagrams_out, 10);
    assert_eq!(s.bytes_sent, 5 * (13 + 10));
}

#[test]
fn duplicate_late_and_wrong_echoes_are_counted_apart_and_the_socket_stays() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = HandServer::bind(&net);
    let mut client = UdpPeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    client.poll().unwrap();
    let (hello, from) = server.take().remove(0);
    assert_eq!(hello, b"Hello Handbit");
    server.answer(from, &hello);
    server.answer(from, &hello);
    server.answer(from, b"Hello Handbiz");
    client.poll().unwrap();
    let s = *client.stats();
    assert_eq!((s.echoed, s.duplicates, s.mismatches), (1, 1, 1));
    // "I'am MixNo" goes unanswered past the echo timeout, then comes back late.
    clock.advance(Duration::from_millis(1000));
    client.poll().unwrap();
    let (mixno, _) = server.take().remove(0);
    clock.advance(Duration::from_millis(3000));
    client.poll().unwrap();
    assert_eq!(client.stats().lost, 1);
    server.answer(from, &mixno);
    server.answer(from, &mixno);
    client.poll().unwrap();
    let s = *client.stats();
    assert_eq!((s.lost, s.late, s.duplicates, s.echoed), (1, 1, 2, 1));
    assert_eq!(
        (s.connects, s.failures),
        (1, 0),
        "no datagram's fate reopens the socket"
    );
}

#[test]
fn a_server_that_is_gone_for_a_while_costs_lost_datagrams_not_a_reconnect_storm() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let client_stack = net.stack(client_ip(1));
    let faults = net.stack(client_ip(1));
    let mut client = UdpPeriodicClient::new(client_stack, &clock, config());
    // Nobody listens for 5 periods; an ICMP error comes back for the first send
    // and for a receive (two in a row: fewer than the three that close a socket).
    faults.fail_next(Op::SendTo, 1, MockError::ConnectionRefused);
    faults.fail_next(Op::ReceiveFrom, 1, MockError::ConnectionRefused);
    for _ in 0..5 {
        client.poll().unwrap();
        clock.advance(Duration::from_millis(1000));
    }
    // The server is back.
    let mut server_stack = net.stack(SERVER_IP);
    let mut echo = UdpEcho::<MockSocket>::new();
    echo.poll(
        &mut server_stack,
        &ServerConfig::default(),
        clock.now_instant(),
    )
    .unwrap();
    for _ in 0..10 {
        client.poll().unwrap();
        echo.poll(
            &mut server_stack,
            &ServerConfig::default(),
            clock.now_instant(),
        )
        .unwrap();
        client.poll().unwrap();
        clock.advance(Duration::from_millis(1000));
    }
    let s = *client.stats();
    assert_eq!((s.errors, s.sent), (2, 14), "{s:?}");
    assert_eq!(s.lost, 4, "the datagrams sent while nobody listened");
    assert_eq!(s.echoed, 10);
    assert_eq!((s.connects, s.failures), (1, 0));
}

#[test]
fn a_socket_that_cannot_be_made_is_retried_after_the_backoff() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let faults = net.stack(client_ip(1));
    faults.fail_next(Op::Socket, 1, MockError::NoSocket);
    let mut client = UdpPeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    assert_eq!(client.poll(), Err(ClientError::Socket(MockError::NoSocket)));
    assert_eq!(client.stats().failures, 1);
    for _ in 0..100 {
        clock.advance(Duration::from_millis(100));
        client.poll().unwrap();
    }
    assert_eq!(client.stats().connects, 1);
    let (stack, _) = client.release();
    assert_eq!(stack.open_sockets(), 0);
}

#[test]
fn would_block_on_send_delays_the_datagram_and_a_tick_it_spans_is_missed() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = HandServer::bind(&net);
    let faults = net.stack(client_ip(1));
    let mut client = UdpPeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    faults.would_block_next(Op::SendTo, 3);
    client.poll().unwrap();
    client.poll().unwrap();
    assert!(server.take().is_empty());
    client.poll().unwrap();
    client.poll().unwrap();
    assert_eq!(server.take().len(), 1, "sent once the stack takes it");
    faults.would_block_next(Op::SendTo, 1000);
    clock.advance(Duration::from_millis(1000));
    client.poll().unwrap();
    clock.advance(Duration::from_millis(1000));
    client.poll().unwrap();
    assert_eq!(client.stats().missed_ticks, 1);
    faults.clear_faults();
    client.poll().unwrap();
    assert_eq!(
        server.take()[0].0,
        b"I'am MixNo",
        "the message of the blocked tick"
    );
}

proptest! {
    #![proptest_config(saving_failures(48))]

    /// Client and UdpEcho on a network that loses, duplicates and reorders both
    /// ways, with `WouldBlock` on every call: each datagram's copies that come back
    /// are one echo and duplicates, none means lost; so the client's duplicates
    /// minus lost equal the network's, and each alone when the other fault is off.
    #[test]
    fn the_clients_counts_are_what_the_network_did(
        seed in any::<u64>(),
        lose in 0u16..400,
        duplicate in 0u16..400,
        reorder in 0u16..400,
        would_block in 0u16..300,
        periods in 5usize..60,
    ) {
        let net: MockNetwork = MockNetwork::new();
        let clock = MockClock::new();
        let faults = DatagramFaults { lose_per_mille: lose, duplicate_per_mille: duplicate, reorder_per_mille: reorder };
        let mut server_stack = net.stack(SERVER_IP);
        server_stack.datagram_faults(seed, faults);
        server_stack.chaos(seed ^ 3, would_block);
        let client_stack = net.stack(client_ip(1));
        client_stack.datagram_faults(seed ^ 5, faults);
        client_stack.chaos(seed ^ 7, would_block);
        let mut echo = UdpEcho::<MockSocket, 4, 64>::sized().with_retry_for(Duration::from_secs(3600));
        // Echoes come in the period they were sent unless the server's sends block
        // across a period; those come late.
        let config = config().with_period(Duration::from_millis(100)).with_echo_timeout(Duration::from_millis(50));
        let mut client = UdpPeriodicClient::new(client_stack, &clock, config);
        let server_config = ServerConfig::default();
        prop_assert!(echo.poll(&mut server_stack, &server_config, Instant::ZERO).is_ok());
        for period in 0..periods {
            if period > 0 {
                clock.advance(Duration::from_millis(100));
            }
            for _ in 0..8 {
                prop_assert!(client.poll().is_ok());
                let _ = echo.poll(&mut server_stack, &server_config, clock.now_instant());
            }
        }
        // Quiet, then past the echo timeout but before the next tick: each
        // datagram's fate is known and no new one is sent.
        net.stack(SERVER_IP).chaos_off();
        net.stack(client_ip(1)).chaos_off();
        for _ in 0..64 {
            let _ = echo.poll(&mut server_stack, &server_config, clock.now_instant());
            let _ = client.poll();
        }
        clock.advance(Duration::from_millis(60));
        let _ = client.poll();
        let s = *client.stats();
        let log = net.datagram_log();
        prop_assert_eq!(client.in_flight(), 0);
        prop_assert_eq!(s.sent, s.echoed + s.lost);
        prop_assert_eq!((s.mismatches, s.errors), (0, 0));
        prop_assert_eq!(log.overflowed + log.unroutable + log.truncated, 0);
        // A datagram whose copies came back C times: C = 0 is lost; else the first
        // is its echo (or late, after it was counted lost) and C - 1 are duplicates.
        // On the wire C - 1 is the duplications minus the losses of its copies.
        prop_assert_eq!(
            i64::from(s.duplicates) - i64::from(s.lost) + i64::from(s.late),
            log.duplicated as i64 - log.lost as i64,
            "{:?} {:?}", s, log
        );
        if lose == 0 {
            prop_assert_eq!(u64::from(s.duplicates), log.duplicated);
        }
        if duplicate == 0 {
            prop_assert_eq!(u64::from(s.lost - s.late), log.lost);
        }
        prop_assert_eq!((s.connects, s.failures), (1, 0));
    }
}

#[test]
fn a_stack_that_fails_every_call_gets_its_socket_reopened_after_the_backoff() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let faults = net.stack(client_ip(1));
    let mut server_stack = net.stack(SERVER_IP);
    let mut echo = UdpEcho::<MockSocket>::new();
    echo.poll(&mut server_stack, &ServerConfig::default(), Instant::ZERO)
        .unwrap();
    let mut client = UdpPeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    client.poll().unwrap();
    // A link that ended: every send and receive fails until the socket is closed.
    faults.fail_next(Op::SendTo, 1000, MockError::Reset);
    faults.fail_next(Op::ReceiveFrom, 1000, MockError::Reset);
    clock.advance(Duration::from_millis(1000));
    assert_eq!(
        client.poll(),
        Err(ClientError::Connection(MockError::Reset))
    );
    let s = *client.stats();
    assert_eq!((s.failures, s.errors), (1, 3), "{s:?}");
    assert_eq!(
        net.stack(client_ip(1)).open_sockets(),
        0,
        "the broken socket is closed"
    );
    // Within the backoff nothing is tried; after it, a new socket.
    client.poll().unwrap();
    assert_eq!(client.stats().errors, 3);
    faults.clear_faults();
    for _ in 0..50 {
        clock.advance(Duration::from_millis(100));
        client.poll().unwrap();
        echo.poll(
            &mut server_stack,
            &ServerConfig::default(),
            clock.now_instant(),
        )
        .unwrap();
    }
    let s = *client.stats();
    assert_eq!((s.connects, s.failures), (2, 1), "{s:?}");
    assert!(s.echoed >= 4, "{s:?}");
}
