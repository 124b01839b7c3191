//! The `server` example's UDP echo against real sockets on loopback: IPv4 and IPv6,
//! the largest datagram, a too-large one, many clients at once, and each transport
//! turned off. Every wait is bounded (a read timeout, the process guard).

mod common;

use std::io::ErrorKind;
use std::net::{Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::thread;

mod process;
use process::{example, Proc, WAIT};

/// The server example on a port the OS picks on `ip`, and that port.
fn server(ip: &str, extra: &[&str]) -> (Proc, u16, String) {
    let mut p = Proc::start(
        Command::new(example("server"))
            .args(["--bind", &format!("{ip}:0"), "--no-screen"])
            .args(extra),
    );
    let first = p.expect_line("'listening on'", |_| true);
    let addr: SocketAddr = first
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    (p, addr.port(), first)
}

/// A UDP socket bound on `ip` and connected to the server's `port` there.
fn client(ip: &str, port: u16) -> UdpSocket {
    let any: SocketAddr = format!("{ip}:0").parse().unwrap();
    let socket = UdpSocket::bind(any).unwrap();
    socket.connect(SocketAddr::new(any.ip(), port)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

/// Sends `bytes` and reads one datagram back.
fn round_trip(socket: &UdpSocket, bytes: &[u8]) -> Vec<u8> {
    socket.send(bytes).unwrap();
    let mut buf = vec![0u8; 70_000];
    let n = socket.recv(&mut buf).expect("an echo within the wait");
    buf.truncate(n);
    buf
}

fn v4(port: u16) -> UdpSocket {
    client("127.0.0.1", port)
}

#[test]
fn the_server_answers_tcp_and_udp_on_one_port_and_says_so() {
    let (_srv, port, first) = server("127.0.0.1", &[]);
    assert!(first.ends_with(", UDP too)"), "{first:?}");
    assert_eq!(round_trip(&v4(port), b"Hello Handbit"), b"Hello Handbit");
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    std::io::Write::write_all(&mut tcp, b"I'am MixNo").unwrap();
    let mut back = [0u8; 10];
    std::io::Read::read_exact(&mut tcp, &mut back).unwrap();
    assert_eq!(&back, b"I'am MixNo");
}

#[test]
fn a_dual_stack_server_answers_ipv4_and_ipv6_datagrams_from_their_port() {
    let (_srv, port, _) = server("[::]", &[]);
    let socket = v4(port);
    assert_eq!(round_trip(&socket, b"over IPv4"), b"over IPv4");
    if !common::ipv6::ipv6_loopback("a_dual_stack_server_answers_ipv4_and_ipv6_datagrams") {
        return;
    }
    let v6 = client("[::1]", port);
    assert_eq!(round_trip(&v6, b"over IPv6"), b"over IPv6");
    // A connected socket only hears its remote: the echo came from the port.
    assert_eq!(
        v6.peer_addr().unwrap(),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port))
    );
}

#[test]
fn the_largest_ipv4_datagram_and_an_empty_one_come_back_whole() {
    let (_srv, port, _) = server("127.0.0.1", &[]);
    let socket = v4(port);
    let largest: Vec<u8> = (0..65_507u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(round_trip(&socket, &largest), largest);
    assert_eq!(round_trip(&socket, b""), b"");
}

#[test]
fn a_datagram_too_large_for_the_buffer_is_not_echoed_and_the_next_one_is() {
    if !common::ipv6::ipv6_loopback("a_datagram_too_large_for_the_buffer_is_not_echoed") {
        return;
    }
    let (_srv, port, _) = server("[::1]", &[]);
    let socket = client("[::1]", port);
    // IPv6 carries 65,527 bytes of payload; the server's buffer ends at 65,508.
    socket.send(&vec![b'L'; 65_508]).unwrap();
    socket.send(&vec![b'L'; 65_527]).unwrap();
    // The datagrams of one sender stay in order, so the first echo that comes is
    // the one that fits: the two before it were dropped, not cut.
    assert_eq!(round_trip(&socket, b"fits"), b"fits");
}

#[test]
fn thirty_two_clients_at_once_each_get_their_own_datagrams_back() {
    let (_srv, port, _) = server("127.0.0.1", &["--threads", "2"]);
    let clients: Vec<_> = (0..32u8)
        .map(|k| {
            thread::spawn(move || {
                let socket = v4(port);
                for n in 0..10u8 {
                    let msg = [b'c', k, n];
                    assert_eq!(round_trip(&socket, &msg), msg, "client {k} datagram {n}");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn without_udp_a_datagram_is_refused_and_without_tcp_a_connect_is() {
    let (_tcp_only, port, first) = server("127.0.0.1", &["--no-udp"]);
    assert!(first.ends_with(" slots)"), "{first:?}");
    let socket = v4(port);
    socket.send(b"anyone?").unwrap();
    let err = socket.recv(&mut [0u8; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");

    let (_udp_only, port, first) = server("127.0.0.1", &["--no-tcp"]);
    assert!(first.ends_with(", UDP only)"), "{first:?}");
    assert_eq!(round_trip(&v4(port), b"only UDP"), b"only UDP");
    let refused = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
}

#[test]
fn no_udp_and_no_tcp_together_is_a_usage_error() {
    let out = Command::new(example("server"))
        .args(["--no-udp", "--no-tcp"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing would be answered"), "{err}");
}

#[test]
fn the_client_example_over_udp_gets_its_echoes_from_the_server_example() {
    let (_srv, port, _) = server("127.0.0.1", &["--no-tcp"]);
    let out = Command::new(example("client"))
        .args(["--connect", &format!("127.0.0.1:{port}"), "--udp"])
        .args(["--period-ms", "50", "--count", "5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("sending to 127.0.0.1:{port} over UDP"));
    for (n, line) in (1..=5).zip(&lines[1..]) {
        assert!(line.starts_with(&format!("echo {n} ok rtt ")), "{stdout}");
    }
    assert!(lines[6].starts_with("rtt min/avg/max "), "{stdout}");
}
