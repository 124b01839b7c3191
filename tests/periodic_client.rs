//! PeriodicClient against hand-driven servers on the mock network, on a mock clock.

mod common;

use common::{client_ip, server_addr, ManualServer};
use nal_echo::stack::mock::{MockError, MockNetwork, Op};
use nal_echo::time::MockClock;
use nal_echo::{
    Backoff, ClientConfig, ClientError, ClientState, Duration, PeriodicClient, TUTORIAL_MESSAGES,
};

const PORT: u16 = 5001;

fn config() -> ClientConfig {
    let mut c = ClientConfig::new(server_addr(PORT)).with_messages(TUTORIAL_MESSAGES);
    c.backoff = Backoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(4),
        jitter: Duration::ZERO,
    };
    c
}

/// Advances the clock to `ms` and polls the client once.
fn poll_at<S, T>(
    clock: &MockClock,
    client: &mut PeriodicClient<S, T>,
    ms: u64,
) -> Result<bool, ClientError<S::Error>>
where
    S: embedded_nal::TcpClientStack,
    T: nal_echo::Clock,
{
    clock.set(nal_echo::Instant::from_millis(ms));
    client.poll().map(|p| p.is_busy())
}

#[test]
fn sends_the_tutorial_messages_and_verifies_every_echo() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let mut client = PeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    for k in 0..10u64 {
        poll_at(&clock, &mut client, k * 1000).unwrap();
        assert!(server.accept());
        let got = server.read();
        server.write(&got);
        poll_at(&clock, &mut client, k * 1000 + 7).unwrap();
    }
    let s = client.stats();
    assert_eq!(
        (s.sent, s.echoed, s.mismatches, s.missed_ticks),
        (10, 10, 0, 0)
    );
    assert_eq!(s.rtt_min, Some(Duration::from_millis(7)));
    assert_eq!(s.rtt_max, Some(Duration::from_millis(7)));
    let expected: Vec<u8> = (0..10)
        .flat_map(|k| {
            [&b"Hello Handbit"[..], b"I'am MixNo"][k % 2]
                .iter()
                .copied()
        })
        .collect();
    assert_eq!(server.received, expected);
}

#[test]
fn schedule_is_drift_free_and_counts_missed_ticks() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let mut client = PeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    // (poll time, bytes expected to arrive by then)
    let plan: [(u64, &[u8]); 7] = [
        (0, b"Hello Handbit"),
        (1300, b"I'am MixNo"), // due at 1000, late by 300: sent, no drift
        (1900, b""),           // next is due at 2000, not 2300
        (2000, b"Hello Handbit"),
        (5500, b"I'am MixNo"), // 3000 and 4000 missed, 5000 sent late
        (5999, b""),
        (6000, b"Hello Handbit"),
    ];
    for (t, want) in plan {
        poll_at(&clock, &mut client, t).unwrap();
        server.accept();
        let got = server.read();
        assert_eq!(got, want, "at {t} ms");
        server.write(&got);
        poll_at(&clock, &mut client, t).unwrap();
    }
    assert_eq!(client.stats().missed_ticks, 2);
    assert_eq!(client.stats().echoed, 5);
}

#[test]
fn partial_sends_are_completed_in_order() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let stack = net.stack(client_ip(1));
    stack.limit_send(Some(3));
    let mut client = PeriodicClient::new(stack, &clock, config());
    for ms in 0..20 {
        poll_at(&clock, &mut client, ms).unwrap();
        server.accept();
        let got = server.read();
        server.write(&got);
    }
    assert_eq!(server.received, b"Hello Handbit");
    assert_eq!(client.stats().sent, 1);
    assert_eq!(client.stats().echoed, 1);
    // The tick at 1000 ms finds the message done and sends the next one.
    poll_at(&clock, &mut client, 1000).unwrap();
    assert_eq!(client.stats().missed_ticks, 0);
}

#[test]
fn a_tick_is_missed_while_the_previous_message_is_still_unsent() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let _server = ManualServer::listen(&net, PORT);
    let stack = net.stack(client_ip(1));
    stack.limit_send(Some(1));
    let mut client = PeriodicClient::new(stack, &clock, config());
    poll_at(&clock, &mut client, 0).unwrap(); // sends "He" (2 tries of 1 byte)
    poll_at(&clock, &mut client, 1000).unwrap(); // message 0 still unsent
    assert_eq!(client.stats().missed_ticks, 1);
    assert_eq!(client.stats().sent, 0);
    assert_eq!(client.stats().bytes_sent, 4);
}

#[test]
fn mismatched_echo_is_counted_and_the_connection_is_renewed() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let mut client = PeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    poll_at(&clock, &mut client, 0).unwrap();
    server.accept();
    server.read();
    server.write(b"Hello HandbiT");
    assert_eq!(
        poll_at(&clock, &mut client, 10),
        Err(ClientError::EchoMismatch)
    );
    assert_eq!(client.stats().mismatches, 1);
    assert_eq!(client.stats().echoed, 0);
    assert_eq!(client.state(), ClientState::Waiting);
    // An echo of bytes that were never sent is a mismatch too.
    server.drop_conn();
    poll_at(&clock, &mut client, 510).unwrap();
    assert_eq!(client.state(), ClientState::Connected);
    server.accept();
    server.read();
    server.write(b"Hello Handbit!");
    assert_eq!(
        poll_at(&clock, &mut client, 520),
        Err(ClientError::EchoMismatch)
    );
    assert_eq!(client.stats().mismatches, 2);
    assert_eq!(client.stats().echoed, 1);
}

#[test]
fn reconnects_after_reset_with_growing_backoff_reset_by_success() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let mut client = PeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    poll_at(&clock, &mut client, 0).unwrap();
    assert!(server.accept());
    let peer = server.conn.as_ref().unwrap().1;
    assert!(net.reset_connection(peer));
    assert_eq!(
        poll_at(&clock, &mut client, 100),
        Err(ClientError::Connection(MockError::Reset))
    );
    assert_eq!(client.retry_at(), Some(nal_echo::Instant::from_millis(600)));

    // The server is gone: every attempt is refused and the waits double up to the cap.
    server.stop_listening();
    let mut t = 600;
    let mut waits = Vec::new();
    for _ in 0..5 {
        assert_eq!(
            poll_at(&clock, &mut client, t - 1),
            Ok(false),
            "must wait until {t}"
        );
        assert_eq!(
            poll_at(&clock, &mut client, t),
            Err(ClientError::Connect(MockError::ConnectionRefused))
        );
        let next = client.retry_at().unwrap().total_millis();
        waits.push(next - t);
        t = next;
    }
    assert_eq!(waits, [1000, 2000, 4000, 4000, 4000]);

    // Back again: one success resets the backoff.
    let mut server = ManualServer::listen(&net, PORT);
    poll_at(&clock, &mut client, t).unwrap();
    assert_eq!(client.state(), ClientState::Connected);
    assert_eq!(client.stats().consecutive_failures, 0);
    assert!(server.accept());
    server.read(); // closing with unread bytes would be a reset, not an orderly close
    server.drop_conn();
    assert_eq!(
        poll_at(&clock, &mut client, t + 1),
        Err(ClientError::ConnectionClosed)
    );
    assert_eq!(client.retry_at().unwrap().total_millis(), t + 1 + 500);
    assert_eq!(client.stats().connects, 2);
}

#[test]
fn connect_in_progress_times_out_after_the_connect_timeout() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let _server = ManualServer::listen(&net, PORT);
    let stack = net.stack(client_ip(1));
    stack.would_block_next(Op::Connect, 1_000);
    let mut client = PeriodicClient::new(stack, &clock, config());
    for ms in (0..5000).step_by(250) {
        assert_eq!(poll_at(&clock, &mut client, ms), Ok(false));
        assert_eq!(client.state(), ClientState::Connecting);
    }
    assert_eq!(
        poll_at(&clock, &mut client, 5000),
        Err(ClientError::ConnectTimeout)
    );
    assert_eq!(client.stats().failures, 1);
    assert_eq!(client.stats().connects, 0);
}

#[test]
fn connect_completes_after_would_block() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let stack = net.stack(client_ip(1));
    stack.would_block_next(Op::Connect, 3);
    let mut client = PeriodicClient::new(stack, &clock, config());
    for ms in 0..3 {
        poll_at(&clock, &mut client, ms).unwrap();
        assert_eq!(client.state(), ClientState::Connecting);
    }
    poll_at(&clock, &mut client, 3).unwrap();
    assert_eq!(client.state(), ClientState::Connected);
    server.accept();
    assert_eq!(server.read(), b"Hello Handbit");
}

#[test]
fn missing_echo_times_out() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let mut client = PeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    for ms in (0..5000).step_by(500) {
        poll_at(&clock, &mut client, ms).unwrap();
        server.accept();
        server.read(); // never echoes
    }
    assert_eq!(
        poll_at(&clock, &mut client, 5000),
        Err(ClientError::EchoTimeout)
    );
}

#[test]
fn socket_exhaustion_is_a_failure_with_backoff() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let _server = ManualServer::listen(&net, PORT);
    let stack = net.stack(client_ip(1));
    stack.fail_next(Op::Socket, 1, MockError::NoSocket);
    let mut client = PeriodicClient::new(stack, &clock, config());
    assert_eq!(
        poll_at(&clock, &mut client, 0),
        Err(ClientError::Socket(MockError::NoSocket))
    );
    assert_eq!(poll_at(&clock, &mut client, 499), Ok(false));
    poll_at(&clock, &mut client, 500).unwrap();
    assert_eq!(client.state(), ClientState::Connected);
}

#[test]
fn release_closes_the_socket() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let mut client = PeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    poll_at(&clock, &mut client, 0).unwrap();
    server.accept();
    let (stack, _) = client.release();
    assert_eq!(stack.open_sockets(), 0);
    server.read();
    let (s, _) = server.conn.as_mut().unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(
        embedded_nal::TcpClientStack::receive(&mut server.stack, s, &mut buf),
        Ok(0)
    );
}

/// A camera's report, built when it is due: `objects: N` with the tick's count.
fn report(count: u8) -> impl FnOnce(&mut [u8]) -> usize {
    move |buf| {
        let text = format!("objects: {count}");
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        n
    }
}

#[test]
fn messages_built_at_run_time_are_sent_when_due_and_each_echo_is_verified() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let config = ClientConfig::new(server_addr(PORT));
    let mut client =
        PeriodicClient::<_, _, 32>::with_outbox(net.stack(client_ip(1)), &clock, config);
    for k in 0..5u8 {
        let ms = u64::from(k) * 1000;
        clock.set(nal_echo::Instant::from_millis(ms));
        client.poll_with(report(k)).unwrap();
        // Between ticks the producer is not asked.
        clock.set(nal_echo::Instant::from_millis(ms + 5));
        client.poll_with(|_| panic!("nothing is due")).unwrap();
        assert!(server.accept());
        let got = server.read();
        assert_eq!(got, format!("objects: {k}").as_bytes());
        server.write(&got);
        clock.set(nal_echo::Instant::from_millis(ms + 9));
        client.poll_with(|_| panic!("nothing is due")).unwrap();
    }
    let s = client.stats();
    assert_eq!(
        (s.sent, s.echoed, s.mismatches, s.missed_ticks),
        (5, 5, 0, 0)
    );
    assert_eq!(s.rtt_max, Some(Duration::from_millis(9)));
}

#[test]
fn a_wrong_byte_in_the_echo_of_a_built_message_fails_the_connection() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let mut client =
        PeriodicClient::<_, _, 32>::with_outbox(net.stack(client_ip(1)), &clock, config());
    client.poll_with(report(7)).unwrap();
    assert!(server.accept());
    let mut got = server.read();
    assert_eq!(got, b"objects: 7");
    got[9] = b'8';
    server.write(&got);
    clock.set(nal_echo::Instant::from_millis(3));
    assert_eq!(
        client.poll_with(|_| panic!("nothing is due")),
        Err(ClientError::EchoMismatch)
    );
    assert_eq!(client.stats().mismatches, 1);
}

#[test]
fn a_full_outbox_misses_the_tick_without_asking_and_frees_up_with_the_echo() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    // Room for one report of 10 bytes only.
    let mut client =
        PeriodicClient::<_, _, 10>::with_outbox(net.stack(client_ip(1)), &clock, config());
    client.poll_with(report(1)).unwrap();
    assert!(server.accept());
    let first = server.read();
    assert_eq!(first, b"objects: 1");
    // Due again, the first still unechoed: no room, so no call and a missed tick.
    clock.set(nal_echo::Instant::from_millis(1000));
    client.poll_with(|_| panic!("no room to build in")).unwrap();
    assert_eq!(client.stats().missed_ticks, 1);
    server.write(&first);
    clock.set(nal_echo::Instant::from_millis(1001));
    client.poll_with(|_| panic!("nothing is due")).unwrap();
    assert_eq!(client.stats().echoed, 1);
    // The echo freed the outbox: the next tick's report goes out.
    clock.set(nal_echo::Instant::from_millis(2000));
    client.poll_with(report(2)).unwrap();
    assert_eq!(server.read(), b"objects: 2");
}

#[test]
fn a_producer_claiming_more_than_its_room_sends_only_the_room() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    let mut client =
        PeriodicClient::<_, _, 4>::with_outbox(net.stack(client_ip(1)), &clock, config());
    client
        .poll_with(|buf| {
            buf.copy_from_slice(b"abcd");
            usize::MAX
        })
        .unwrap();
    assert!(server.accept());
    assert_eq!(server.read(), b"abcd");
}

#[test]
fn without_an_outbox_every_due_tick_of_poll_with_is_missed() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let _server = ManualServer::listen(&net, PORT);
    let mut client = PeriodicClient::new(net.stack(client_ip(1)), &clock, config());
    for k in 0..3 {
        clock.set(nal_echo::Instant::from_millis(k * 1000));
        client
            .poll_with(|_| panic!("no outbox to build in"))
            .unwrap();
    }
    assert_eq!((client.stats().sent, client.stats().missed_ticks), (0, 3));
}

#[test]
fn several_built_messages_in_flight_are_verified_in_order_as_the_outbox_turns_over() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut server = ManualServer::listen(&net, PORT);
    // Room for three 10-byte reports: the fourth needs the first's echo.
    let mut client =
        PeriodicClient::<_, _, 30>::with_outbox(net.stack(client_ip(1)), &clock, config());
    let mut sent = Vec::new();
    for k in 0..8u8 {
        clock.set(nal_echo::Instant::from_millis(u64::from(k) * 1000));
        client.poll_with(report(k)).unwrap();
        assert!(server.accept());
        sent.extend(server.read());
        // The echo lags two messages behind, and comes in two pieces.
        if k >= 2 {
            let lagging = format!("objects: {}", k - 2);
            server.write(&lagging.as_bytes()[..4]);
            clock.set(nal_echo::Instant::from_millis(u64::from(k) * 1000 + 1));
            client.poll_with(|_| panic!("nothing is due")).unwrap();
            server.write(&lagging.as_bytes()[4..]);
            clock.set(nal_echo::Instant::from_millis(u64::from(k) * 1000 + 2));
            client.poll_with(|_| panic!("nothing is due")).unwrap();
        }
    }
    let expected: Vec<u8> = (0..8)
        .flat_map(|k| format!("objects: {k}").into_bytes())
        .collect();
    assert_eq!(sent, expected);
    let s = client.stats();
    assert_eq!(
        (s.sent, s.echoed, s.mismatches, s.missed_ticks),
        (8, 6, 0, 0)
    );
}
