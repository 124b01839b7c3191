//! The `soak` load tool against the `server` example, and against small wrong echo
//! servers that it must catch: one that flips bytes, one that answers nothing, one
//! that closes in the middle of an echo, and (Linux) one whose listen queue is full.
//! The `load` tool (host figures) against the `server` with two loops, and against a
//! server that changes one byte.
//! Every wait is bounded; every process started is killed when its guard drops.
//!
//! Uses the built `server` and `soak` examples: plain `cargo test` builds them, `cargo
//! test --test soak` alone does not (`cargo build --example server --example soak
//! --example load`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;

mod process;
use process::{example, Proc};

/// Connections a test server accepts before its thread ends.
const MAX_ACCEPTS: usize = 100_000;
/// Reads of one connection by the silent server (soak sends at most 2 KiB a message
/// by default and then waits).
const MAX_READS: usize = 10_000;

/// Reads of one connection by the corrupting server: more than a 0.3 s stream of
/// `load` needs on loopback.
const MAX_STREAM_READS: usize = 1_000_000;

/// Runs soak against `addr` with `args` (and `--json`); its exit code and the
/// summary's JSON object.
fn soak(addr: SocketAddr, args: &[&str]) -> (i32, String) {
    let mut soak = Proc::start(
        Command::new(example("soak"))
            .args(["--connect", &addr.to_string(), "--json", "--seed", "7"])
            .args(args),
    );
    let json = soak.expect_line("the JSON summary", |l| l.starts_with('{'));
    (soak.wait_exit(), json)
}

/// The number `key` has in soak's flat JSON summary.
fn field(json: &str, key: &str) -> f64 {
    let tag = format!("\"{key}\":");
    let at = json
        .find(&tag)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + tag.len();
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

/// A loopback server handing each accepted connection to `serve` on its own thread.
fn test_server(serve: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().take(MAX_ACCEPTS).flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

/// Echoes what it reads until the peer closes, applying `change` to each chunk.
fn echo_with(mut stream: TcpStream, change: impl Fn(&mut [u8])) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                change(&mut buf[..n]);
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

#[test]
fn sixty_four_clients_connecting_at_once_against_four_slots_are_served_or_refused_and_nothing_hangs(
) {
    // Two loops of four slots, whatever the machine's cores: 8 slots for 64 clients.
    let mut server = Proc::start(Command::new(example("server")).args([
        "--bind",
        "127.0.0.1:0",
        "--no-screen",
        "--slots",
        "4",
        "--threads",
        "2",
    ]));
    let first = server.expect_line("'listening on'", |_| true);
    let addr: SocketAddr = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("first line must say where it listens: {first:?}"));

    let (code, json) = soak(addr, &["--clients", "64", "--seconds", "3"]);

    assert_eq!(code, 0, "{json}");
    for clean in ["hangs", "corrupt", "lost", "errors"] {
        assert_eq!(field(&json, clean), 0.0, "{clean}: {json}");
    }
    assert!(field(&json, "served") > 0.0, "{json}");
    assert!(field(&json, "refused") > 0.0, "4 slots, 64 clients: {json}");
    assert!(field(&json, "messages") > 0.0, "{json}");
    assert!(
        field(&json, "connects") >= field(&json, "served") + 1.0,
        "{json}"
    );
}

#[test]
fn a_server_that_flips_a_byte_is_reported_corrupt() {
    let addr = test_server(|stream| echo_with(stream, |chunk| chunk[0] ^= 0x20));

    let (code, json) = soak(addr, &["--clients", "2", "--seconds", "1"]);

    assert_eq!(code, 1, "{json}");
    assert!(field(&json, "corrupt") > 0.0, "{json}");
    assert_eq!(field(&json, "messages"), 0.0, "no echo is right: {json}");
}

#[test]
fn a_server_that_never_answers_is_reported_as_hanging() {
    // Reads and never answers, as a board that accepted and then stopped would; the
    // connection ends when soak gives up on it.
    let addr = test_server(|mut stream| {
        let mut buf = [0u8; 4096];
        for _ in 0..MAX_READS {
            if matches!(stream.read(&mut buf), Ok(0) | Err(_)) {
                return;
            }
        }
    });

    let (code, json) = soak(
        addr,
        &["--clients", "2", "--seconds", "0.5", "--hang-timeout", "1"],
    );

    assert_eq!(code, 1, "{json}");
    assert!(field(&json, "hangs") >= 2.0, "{json}");
    assert_eq!(
        field(&json, "hangs_first_message"),
        field(&json, "hangs"),
        "{json}"
    );
    // The host's TCP acknowledged the bytes: these are not listen-queue hangs.
    assert_eq!(field(&json, "hangs_unacked"), 0.0, "{json}");
    assert_eq!(field(&json, "served"), 0.0, "{json}");
}

#[test]
fn bytes_not_echoed_before_the_server_closes_are_lost() {
    // Echoes a connection's first 100 bytes, then closes it.
    let addr = test_server(|mut stream| {
        let mut buf = [0u8; 100];
        let mut echoed = 0;
        while echoed < buf.len() {
            match stream.read(&mut buf[echoed..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if stream.write_all(&buf[echoed..echoed + n]).is_err() {
                        return;
                    }
                    echoed += n;
                }
            }
        }
    });

    let (code, json) = soak(
        addr,
        &[
            "--clients",
            "1",
            "--seconds",
            "1",
            "--max-len",
            "64",
            "--max-messages",
            "8",
        ],
    );

    assert_eq!(code, 1, "{json}");
    assert!(field(&json, "lost") > 0.0, "{json}");
    assert!(field(&json, "served") > 0.0, "{json}");
    assert_eq!(field(&json, "corrupt"), 0.0, "{json}");
}

/// A listener whose queue holds one connection and that never accepts: what QEMU's
/// port forward (a backlog of 1) is to a burst of connects.
#[cfg(target_os = "linux")]
#[test]
fn a_full_listen_queue_is_reported_as_hangs_while_connecting() {
    use std::os::fd::AsRawFd;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // Linux takes a second listen() as a new backlog; 0 leaves room for one.
    // SAFETY: the descriptor is the listener's own and stays open across the call.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();

    let (code, json) = soak(
        addr,
        &["--clients", "4", "--seconds", "0.5", "--hang-timeout", "1"],
    );

    assert_eq!(code, 1, "{json}");
    assert!(field(&json, "hangs_connecting") >= 1.0, "{json}");
    assert_eq!(field(&json, "served"), 0.0, "{json}");
    drop(listener);
}

#[test]
fn bad_arguments_exit_2_with_the_usage() {
    for args in [
        &[][..],
        &["--connect", "127.0.0.1:1", "--clients", "0"],
        &["--connect", "127.0.0.1:1", "--max-len", "16385"],
        &["--connect", "127.0.0.1:1", "--hang-timeout", "0"],
        &["--connect", "127.0.0.1:1", "--ramp", "-1"],
        &["--connect", "127.0.0.1:1", "--bogus"],
    ] {
        let out = Command::new(example("soak")).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("usage: "), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

fn load(addr: SocketAddr, args: &[&str]) -> (i32, String) {
    let mut load = Proc::start(
        Command::new(example("load"))
            .args(["--connect", &addr.to_string(), "--seconds", "0.3"])
            .args(args),
    );
    let json = load.expect_line("the JSON line", |l| l.starts_with('{'));
    (load.wait_exit(), json)
}

/// The server example with two loops, and its address.
fn two_loop_server() -> (Proc, SocketAddr) {
    let mut server = Proc::start(Command::new(example("server")).args([
        "--bind",
        "127.0.0.1:0",
        "--no-screen",
        "--threads",
        "2",
    ]));
    let first = server.expect_line("'listening on'", |_| true);
    let addr = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("first line must say where it listens: {first:?}"));
    (server, addr)
}

#[test]
fn the_load_tool_checks_every_echo_of_the_server_in_both_tests() {
    let (_server, addr) = two_loop_server();
    let (code, json) = load(addr, &["--clients", "4", "--test", "rtt"]);
    assert_eq!(code, 0, "{json}");
    assert!(field(&json, "round_trips") > 0.0, "{json}");
    assert_eq!(field(&json, "bytes"), field(&json, "round_trips") * 64.0);
    assert_eq!(
        (field(&json, "corrupt"), field(&json, "errors")),
        (0.0, 0.0)
    );

    let (code, json) = load(addr, &["--clients", "2", "--test", "throughput"]);
    assert_eq!(code, 0, "{json}");
    assert!(field(&json, "bytes") > 0.0, "{json}");
    assert_eq!(
        (field(&json, "corrupt"), field(&json, "errors")),
        (0.0, 0.0)
    );
}

/// An echo server that changes the stream's byte at `offset`, once per connection.
fn corrupting_server(offset: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut conn in listener.incoming().take(MAX_ACCEPTS).flatten() {
            thread::spawn(move || {
                let (mut buf, mut at) = ([0u8; 64 * 1024], 0);
                for _ in 0..MAX_STREAM_READS {
                    let Ok(n @ 1..) = conn.read(&mut buf) else {
                        return;
                    };
                    if (at..at + n).contains(&offset) {
                        buf[offset - at] ^= 0x20;
                    }
                    at += n;
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn the_load_tool_fails_when_one_byte_comes_back_changed() {
    for test in ["rtt", "throughput"] {
        let addr = corrupting_server(200);
        let (code, json) = load(addr, &["--test", test]);
        assert_eq!(code, 1, "{test}: {json}");
        assert_eq!(field(&json, "corrupt"), 1.0, "{test}: {json}");
    }
}

#[test]
fn the_load_tool_checks_every_datagram_the_server_echoes_in_both_udp_tests() {
    let (_server, addr) = two_loop_server();
    let (code, json) = load(addr, &["--udp", "--clients", "4", "--test", "rtt"]);
    assert_eq!(code, 0, "{json}");
    assert!(field(&json, "datagrams") > 0.0, "{json}");
    assert_eq!(
        field(&json, "datagrams"),
        field(&json, "round_trips"),
        "{json}"
    );
    assert_eq!(field(&json, "bytes"), field(&json, "datagrams") * 64.0);
    let (code, json) = load(addr, &["--udp", "--clients", "2", "--test", "throughput"]);
    assert_eq!(code, 0, "{json}");
    assert!(field(&json, "datagrams") > 0.0, "{json}");
    assert_eq!(
        (field(&json, "corrupt"), field(&json, "errors")),
        (0.0, 0.0)
    );
}

/// A UDP echo that changes byte `offset` of the `nth` datagram it gets.
fn corrupting_udp_server(nth: usize, offset: usize) -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for k in 0..MAX_STREAM_READS {
            let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                return;
            };
            if k == nth && offset < n {
                buf[offset] ^= 0x20;
            }
            let _ = socket.send_to(&buf[..n], peer);
        }
    });
    addr
}

#[test]
fn the_load_tool_fails_when_one_byte_of_a_datagram_comes_back_changed() {
    for test in ["rtt", "throughput"] {
        for offset in [3, 40] {
            let addr = corrupting_udp_server(5, offset);
            let (code, json) = load(addr, &["--udp", "--test", test]);
            assert_eq!(code, 1, "{test} byte {offset}: {json}");
            assert_eq!(field(&json, "corrupt"), 1.0, "{test} byte {offset}: {json}");
        }
    }
}

#[test]
fn soak_over_udp_against_the_server_echoes_every_datagram() {
    let (_server, addr) = two_loop_server();
    let (code, json) = soak(addr, &["--udp", "--clients", "8", "--seconds", "0.5"]);
    assert_eq!(code, 0, "{json}");
    assert!(field(&json, "datagrams") > 0.0, "{json}");
    for key in ["lost", "late", "duplicates", "corrupt", "errors"] {
        assert_eq!(field(&json, key), 0.0, "{key}: {json}");
    }
}

/// A UDP echo that answers datagram `k` (counted from 0) as `answer(k, bytes)`
/// says: each datagram returned is sent back.
fn udp_test_server(answer: fn(usize, &mut Vec<u8>) -> Vec<Vec<u8>>) -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        for k in 0..MAX_STREAM_READS {
            let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                return;
            };
            let mut datagram = buf[..n].to_vec();
            for reply in answer(k, &mut datagram) {
                let _ = socket.send_to(&reply, peer);
            }
        }
    });
    addr
}

#[test]
fn soak_over_udp_counts_lost_duplicated_and_changed_datagrams() {
    // Every 10th not answered, every 7th answered twice.
    let addr = udp_test_server(|k, d| match (k % 10, k % 7) {
        (3, _) => vec![],
        (_, 2) => vec![d.clone(), d.clone()],
        _ => vec![d.clone()],
    });
    let (code, json) = soak(
        addr,
        &[
            "--udp",
            "--clients",
            "1",
            "--seconds",
            "0.5",
            "--hang-timeout",
            "0.05",
        ],
    );
    assert_eq!(code, 1, "lost datagrams fail the run: {json}");
    assert!(field(&json, "lost") > 0.0, "{json}");
    assert!(field(&json, "duplicates") > 0.0, "{json}");
    assert_eq!(field(&json, "corrupt"), 0.0, "{json}");

    let addr = udp_test_server(|_, d| {
        let last = d.len() - 1;
        d[last] ^= 0x20;
        vec![d.clone()]
    });
    let (code, json) = soak(addr, &["--udp", "--clients", "2", "--seconds", "0.3"]);
    assert_eq!(code, 1, "{json}");
    assert!(field(&json, "corrupt") > 0.0, "{json}");
    assert_eq!(field(&json, "datagrams"), 0.0, "{json}");
}
