//! `AsyncPeriodicClient` over edge-nal-std against std servers on loopback that
//! echo, lie, add, stay silent, hang up or refuse: each failure is counted as the
//! `poll` client counts it, and the client connects again. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration as StdDuration;

use futures_lite::future;
use nal_echo::asynch::AsyncPeriodicClient;
use nal_echo::time::StdClock;
use nal_echo::{Backoff, ClientConfig, ClientState, ClientStats, Duration};
use nal_echo_host::asynch::{AsyncIoDelay, StdConnect};

const WAIT: StdDuration = StdDuration::from_secs(20);
const MESSAGES: &[&[u8]] = &[b"Hello Handbit", b"I'am MixNo"];

fn client_config(remote: SocketAddr) -> ClientConfig {
    ClientConfig::new(remote)
        .with_messages(MESSAGES)
        .with_period(Duration::from_millis(10))
        .with_echo_timeout(Duration::from_millis(300))
        .with_backoff(Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(5),
            jitter: Duration::ZERO,
        })
}

/// Runs the client until `done`, within [`WAIT`]; returns its counters.
fn run_until(config: ClientConfig, done: impl FnMut(&ClientStats) -> bool) -> ClientStats {
    let client = AsyncPeriodicClient::new(StdClock::new(), AsyncIoDelay, config);
    let stack = StdConnect::default();
    let run = async {
        client.run_until(&stack, done).await;
        true
    };
    let timeout = async {
        async_io::Timer::after(WAIT).await;
        false
    };
    let finished = async_io::block_on(future::or(run, timeout));
    assert!(finished, "not done within {WAIT:?}: {:?}", client.stats());
    client.stats()
}

/// A server that serves each connection it accepts with the next of `behaviours`,
/// then echoes honestly.
fn server(behaviours: Vec<fn(TcpStream)>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut behaviours = behaviours.into_iter();
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            conn.set_read_timeout(Some(WAIT)).unwrap();
            let serve = behaviours.next().unwrap_or(honest);
            thread::spawn(move || serve(conn));
        }
    });
    addr
}

fn honest(mut conn: TcpStream) {
    let mut buf = [0u8; 256];
    while let Ok(n @ 1..) = conn.read(&mut buf) {
        if conn.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Keeps the connection open, reading nothing back, until the client drops it (or
/// the read timeout).
fn hold_until_closed(mut conn: TcpStream) {
    let mut buf = [0u8; 64];
    while let Ok(1..) = conn.read(&mut buf) {}
}

/// Reads one message whole (both are at least 10 bytes long).
fn one_message(conn: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !MESSAGES.contains(&got.as_slice()) {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed early");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn an_honest_server_gets_every_message_in_turn_on_one_connection() {
    let stats = run_until(client_config(server(vec![])), |s| s.echoed >= 10);
    assert_eq!(
        (stats.echoed, stats.sent, stats.connects, stats.failures),
        (10, 10, 1, 0)
    );
    assert_eq!(stats.bytes_received, stats.bytes_sent);
    assert_eq!(stats.bytes_sent, 5 * (13 + 10));
}

#[test]
fn a_changed_byte_is_a_mismatch_and_the_client_connects_again() {
    fn liar(mut conn: TcpStream) {
        let mut msg = one_message(&mut conn);
        msg[3] ^= 0x20;
        let _ = conn.write_all(&msg);
        hold_until_closed(conn);
    }
    let stats = run_until(client_config(server(vec![liar])), |s| s.echoed >= 2);
    assert_eq!(
        (stats.mismatches, stats.failures, stats.connects),
        (1, 1, 2)
    );
}

#[test]
fn a_byte_the_server_adds_is_a_mismatch_even_between_messages() {
    fn adder(mut conn: TcpStream) {
        let mut msg = one_message(&mut conn);
        msg.push(b'!');
        let _ = conn.write_all(&msg);
        hold_until_closed(conn);
    }
    let stats = run_until(client_config(server(vec![adder])), |s| s.echoed >= 2);
    // The first echo itself was right; the byte after it was not asked for, and
    // is caught before the next message goes out.
    assert_eq!(
        (stats.mismatches, stats.failures, stats.connects),
        (1, 1, 2)
    );
    assert_eq!((stats.echoed, stats.sent), (2, 2));
}

#[test]
fn a_silent_server_is_an_echo_timeout() {
    fn silent(mut conn: TcpStream) {
        one_message(&mut conn);
        hold_until_closed(conn);
    }
    let stats = run_until(client_config(server(vec![silent, silent])), |s| {
        s.echoed >= 1
    });
    assert_eq!(
        (stats.failures, stats.connects, stats.mismatches),
        (2, 3, 0)
    );
}

#[test]
fn a_server_that_hangs_up_is_a_failure_and_the_schedule_goes_on() {
    fn echo_once_and_hang_up(mut conn: TcpStream) {
        let msg = one_message(&mut conn);
        let _ = conn.write_all(&msg);
    }
    let config = client_config(server(vec![echo_once_and_hang_up]));
    let stats = run_until(config, |s| s.echoed >= 3);
    assert_eq!(
        (stats.failures, stats.connects, stats.mismatches),
        (1, 2, 0)
    );
}

#[test]
fn a_refused_connection_is_retried_after_the_backoff() {
    // Bound, not listening: every connect is refused.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let refusing = socket.local_addr().unwrap().as_socket().unwrap();
    let stats = run_until(client_config(refusing), |s| s.failures >= 3);
    assert_eq!(
        (stats.failures, stats.consecutive_failures, stats.connects),
        (3, 3, 0)
    );
}

#[test]
fn a_run_ends_its_connection_and_the_next_connects_at_once() {
    let client =
        AsyncPeriodicClient::new(StdClock::new(), AsyncIoDelay, client_config(server(vec![])));
    assert_eq!(client.state(), ClientState::Waiting);
    let stack = StdConnect::default();
    async_io::block_on(client.run_until(&stack, |s| s.echoed >= 1));
    assert_eq!(client.state(), ClientState::Waiting);
    let retry_at = client.retry_at().expect("waiting");
    async_io::block_on(client.run_until(&stack, |s| s.echoed >= 2));
    let stats = client.stats();
    assert_eq!((stats.connects, stats.echoed, stats.failures), (2, 2, 0));
    assert!(client.retry_at() >= Some(retry_at));
}
