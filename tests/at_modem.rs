//! The AT stack against a fake ESP8285: the MixNo client logic (`AtStack` under the
//! library's `PeriodicClient`, as in the firmware) runs on the host, the fake modem
//! answers like the AT firmware and bridges the connection to a real loopback echo
//! server. Dropped links, refused connections, noise, split reads and random modem
//! output.
//!
//! Time is real (the fake modem talks to real sockets), and every wait is bounded in
//! rounds and in time, so a bug fails a test instead of hanging it.

mod at_support;

use std::thread::sleep;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use at_support::{closed_port, EchoServer, FakeEsp, Serial, WallClock, PASSWORD, SSID, STATION_IP};
use nal_echo::stack::at::{AtConfig, AtError, AtStack, WifiState};
use nal_echo::stack::mock::MockClock;
use nal_echo::{Backoff, ClientConfig, Duration, Error, PeriodicClient};
use proptest::prelude::*;

type Client = PeriodicClient<AtStack<Serial, WallClock>, WallClock>;

/// Longest any wait may take.
const PATIENCE: StdDuration = StdDuration::from_secs(15);
/// Most rounds of a wait (each sleeps 100 µs).
const ROUNDS: usize = 100_000;
/// Longer than any poll may take: the stack never waits for the modem.
const QUICK: StdDuration = StdDuration::from_millis(50);

fn client(serial: Serial, remote: std::net::SocketAddr) -> Client {
    let stack = AtStack::new(
        serial,
        WallClock::new(),
        AtConfig::new(SSID, PASSWORD).unwrap(),
    );
    let mut config = ClientConfig::new(remote);
    config.period = Duration::from_millis(40);
    config.connect_timeout = Duration::from_secs(3);
    config.echo_timeout = Duration::from_secs(3);
    config.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        jitter: Duration::from_millis(20),
    };
    PeriodicClient::new(stack, WallClock::new(), config)
}

/// The firmware's main loop, with the modem's side in between: polls the stack and
/// the client, lets the modem answer, until `done`. Collects the client's errors.
fn run_until(
    client: &mut Client,
    esp: &mut FakeEsp,
    errors: &mut Vec<Error<AtError>>,
    what: &str,
    mut done: impl FnMut(&Client, &FakeEsp) -> bool,
) {
    let start = StdInstant::now();
    for _ in 0..ROUNDS {
        if done(client, esp) {
            return;
        }
        if start.elapsed() > PATIENCE {
            break;
        }
        let before = StdInstant::now();
        client.stack_mut().poll();
        if let Err(e) = client.poll() {
            errors.push(e);
        }
        let took = before.elapsed();
        assert!(took < QUICK, "a poll took {took:?}");
        esp.step();
        sleep(StdDuration::from_micros(100));
    }
    let wifi = client.stack_mut().wifi_state();
    panic!(
        "gave up waiting for {what}: {:?}, wifi {wifi:?}, errors {errors:?}, modem saw {:?}",
        client.stats(),
        esp.commands,
    );
}

fn count(errors: &[Error<AtError>], which: Error<AtError>) -> usize {
    errors.iter().filter(|e| **e == which).count()
}

#[test]
fn the_client_echoes_through_the_modem() {
    let server = EchoServer::start();
    let (mut esp, serial) = FakeEsp::new();
    let mut client = client(serial, server.addr);
    let mut errors = Vec::new();
    run_until(&mut client, &mut esp, &mut errors, "six echoes", |c, _| {
        c.stats().echoed >= 6
    });

    let stats = client.stats();
    assert_eq!(stats.mismatches, 0);
    assert_eq!(stats.connects, 1);
    // The only failures are attempts made before the network was joined.
    assert_eq!(
        count(&errors, Error::Connect(AtError::NotJoined)),
        errors.len()
    );
    assert_eq!(server.accepted(), 1);
    assert_eq!(
        client.stack_mut().wifi_state(),
        WifiState::Connected(STATION_IP.into())
    );
    let setup = [
        "AT",
        "ATE0",
        "AT+CWMODE=1",
        "AT+CWJAP=\"MixNo-AP\",\"handbit\"",
        "AT+CIPCLOSE",
        "AT+CIPMUX=0",
        "AT+CIFSR",
    ];
    assert_eq!(esp.commands[..setup.len()], setup);
    assert_eq!(
        esp.commands[setup.len()],
        format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{}", server.addr.port())
    );
    assert_eq!(esp.commands[setup.len() + 1], "AT+CIPSEND=13");
    assert_eq!(esp.commands[setup.len() + 2], "AT+CIPSEND=10");
    assert_eq!(esp.starts, 1);
}

#[test]
fn a_dropped_link_is_reconnected() {
    let server = EchoServer::start();
    let (mut esp, serial) = FakeEsp::new();
    let mut client = client(serial, server.addr);
    let mut errors = Vec::new();
    run_until(
        &mut client,
        &mut esp,
        &mut errors,
        "three echoes",
        |c, _| c.stats().echoed >= 3,
    );
    let echoed = client.stats().echoed;
    let failures = client.stats().failures;
    // Mid-session, with a message possibly in flight.
    esp.drop_link();
    run_until(
        &mut client,
        &mut esp,
        &mut errors,
        "a second connection with three more echoes",
        |c, _| c.stats().connects == 2 && c.stats().echoed >= echoed + 3,
    );

    let stats = client.stats();
    assert_eq!(stats.mismatches, 0);
    assert!(stats.failures > failures, "the drop was a failure");
    assert!(
        count(&errors, Error::ConnectionClosed) + count(&errors, Error::EchoTimeout) >= 1,
        "the client saw the end: {errors:?}"
    );
    assert_eq!(esp.starts, 2);
    assert_eq!(server.accepted(), 2);
}

#[test]
fn a_refused_connection_is_retried() {
    let server = EchoServer::start();
    let (mut esp, serial) = FakeEsp::new();
    esp.refuse_starts = 2;
    let mut client = client(serial, server.addr);
    let mut errors = Vec::new();
    run_until(&mut client, &mut esp, &mut errors, "two echoes", |c, _| {
        c.stats().echoed >= 2
    });

    assert_eq!(count(&errors, Error::Connect(AtError::ConnectFailed)), 2);
    assert_eq!(esp.starts, 3);
    assert_eq!(client.stats().connects, 1);
    assert_eq!(client.stats().mismatches, 0);
}

#[test]
fn a_server_that_is_down_fails_every_attempt() {
    let (mut esp, serial) = FakeEsp::new();
    let mut client = client(serial, closed_port());
    let mut errors = Vec::new();
    run_until(
        &mut client,
        &mut esp,
        &mut errors,
        "three attempts",
        |_, e| e.starts >= 3,
    );
    // The third attempt came after the first two failed.
    assert!(count(&errors, Error::Connect(AtError::ConnectFailed)) >= 2);
    assert_eq!(
        count(&errors, Error::Connect(AtError::ConnectFailed))
            + count(&errors, Error::Connect(AtError::NotJoined)),
        errors.len()
    );
    assert_eq!(client.stats().connects, 0);
    assert!(!esp.connected());
}

#[test]
fn noise_tiny_reads_and_split_packets_do_not_matter() {
    let server = EchoServer::start();
    let (mut esp, serial) = FakeEsp::new();
    esp.noise = true;
    esp.max_ipd = 4;
    esp.split_reads(0x5eed);
    let mut client = client(serial, server.addr);
    let mut errors = Vec::new();
    run_until(&mut client, &mut esp, &mut errors, "six echoes", |c, _| {
        c.stats().echoed >= 6
    });

    assert_eq!(client.stats().mismatches, 0);
    assert_eq!(client.stats().connects, 1);
    assert_eq!(
        count(&errors, Error::Connect(AtError::NotJoined)),
        errors.len()
    );
}

/// Pieces a modem might send, and pure noise.
fn modem_output() -> impl Strategy<Value = Vec<u8>> {
    let tokens: &[&[u8]] = &[
        b"OK\r\n",
        b"\r\nOK\r\n",
        b"ERROR\r\n",
        b"FAIL\r\n",
        b"SEND OK\r\n",
        b"SEND FAIL\r\n",
        b"> ",
        b"CONNECT\r\n",
        b"CLOSED\r\n",
        b"ALREADY CONNECTED\r\n",
        b"WIFI GOT IP\r\n",
        b"WIFI DISCONNECT\r\n",
        b"ready\r\n",
        b"busy p...\r\n",
        b"+IPD,5:",
        b"+IPD,",
        b"13:",
        b"Hello Handbit",
        b"I'am MixNo",
        b"+CIFSR:STAIP,\"10.1.2.3\"\r\n",
        b"\r\n",
    ];
    prop_oneof![
        3 => proptest::sample::select(tokens).prop_map(<[u8]>::to_vec),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the modem says, in whatever pieces, the stack and the client keep
    /// going: no panic, no runaway, and never more echo than bytes on the line.
    #[test]
    fn random_modem_output_never_panics(chunks in proptest::collection::vec(modem_output(), 0..300)) {
        let clock = MockClock::new();
        let (mut esp, serial) = FakeEsp::new();
        let stack = AtStack::new(serial, &clock, AtConfig::new(SSID, PASSWORD).unwrap());
        let mut config = ClientConfig::new(([10, 0, 0, 1], 7).into());
        config.period = Duration::from_millis(100);
        let mut client = PeriodicClient::new(stack, &clock, config);
        let mut emitted = 0;
        for chunk in &chunks {
            emitted += chunk.len();
            esp.emit(chunk);
            client.stack_mut().poll();
            let _ = client.poll();
            esp.discard_input();
            clock.advance(Duration::from_millis(37));
        }
        prop_assert!(client.stats().bytes_received <= emitted as u64);
        let _ = client.stack_mut().wifi_state();
    }

    /// The fake modem answers properly, but noise lands between its answers: setup,
    /// connection and echo run into surprises at every stage, and nothing panics.
    #[test]
    fn noise_between_real_answers_never_panics(
        noise in proptest::collection::vec(proptest::option::weighted(0.15, modem_output()), 0..400)
    ) {
        let server = EchoServer::start();
        let clock = MockClock::new();
        let (mut esp, serial) = FakeEsp::new();
        let stack = AtStack::new(serial, &clock, AtConfig::new(SSID, PASSWORD).unwrap());
        let mut config = ClientConfig::new(server.addr);
        config.period = Duration::from_millis(100);
        let mut client = PeriodicClient::new(stack, &clock, config);
        for chunk in &noise {
            esp.step();
            if let Some(chunk) = chunk {
                esp.emit(chunk);
            }
            let before = StdInstant::now();
            client.stack_mut().poll();
            let _ = client.poll();
            prop_assert!(before.elapsed() < QUICK);
            clock.advance(Duration::from_millis(37));
        }
    }
}
