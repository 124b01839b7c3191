//! The UDP socket against the scripted modem: one link shared with TCP, CIPSTART
//! and CIPSEND of datagrams, and each `+IPD` frame received as one datagram.

use core::net::SocketAddr;
use std::vec::Vec;

use embedded_nal::{nb, UdpClientStack};

use super::{other, Bench, Stack, CHECK};
use crate::stack::at::{AtError, AtUdpSocket, RX_DATAGRAMS, SEND_CHUNK};

const UDP_START: &str = "AT+CIPSTART=\"UDP\",\"192.168.4.1\",5001\r\n";
/// The firmware's answer to CHECK while its UDP link is open.
const UDP_OPEN: &str = "STATUS:3\r\n+CIPSTATUS:0,\"UDP\",\"192.168.4.1\",5001,4000,0\r\n\r\nOK\r\n";

fn server() -> SocketAddr {
    SocketAddr::from(([192, 168, 4, 1], 5001))
}

/// A set-up stack whose UDP socket's CIPSTART is waiting for its answer.
fn udp_starting(bench: &Bench) -> (Stack<'_>, AtUdpSocket) {
    let mut stack = bench.stack();
    bench.set_up(&mut stack);
    let mut socket = stack.socket().unwrap();
    assert_eq!(stack.connect(&mut socket, server()), Ok(()));
    assert_eq!(bench.said(), UDP_START);
    (stack, socket)
}

/// A set-up stack with a UDP socket whose link is up.
fn udp_connected(bench: &Bench) -> (Stack<'_>, AtUdpSocket) {
    let (mut stack, socket) = udp_starting(bench);
    bench.answer("CONNECT\r\n\r\nOK\r\n");
    bench.polls(&mut stack);
    (stack, socket)
}

/// The next datagram, taken into a buffer of `room` bytes; `None` for WouldBlock.
fn datagram(stack: &mut Stack<'_>, socket: &mut AtUdpSocket, room: usize) -> Option<Vec<u8>> {
    let mut buf = std::vec![0u8; room];
    match stack.receive(socket, &mut buf) {
        Ok((n, from)) => {
            assert_eq!(from, server(), "every datagram is from the remote");
            Some(buf[..n].to_vec())
        }
        Err(nb::Error::WouldBlock) => None,
        Err(nb::Error::Other(e)) => panic!("receive failed: {e:?}"),
    }
}

#[test]
fn connect_starts_the_link_and_send_waits_for_it() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_starting(&bench);
    assert_eq!(
        stack.send(&mut socket, b"Hello Handbit"),
        Err(nb::Error::WouldBlock),
        "the link is not up yet"
    );
    assert_eq!(stack.connect(&mut socket, server()), Ok(()));
    assert_eq!(bench.said(), "", "one CIPSTART only");
    bench.answer("CONNECT\r\n\r\nOK\r\n");
    assert_eq!(stack.send(&mut socket, b"Hello Handbit"), Ok(()));
    assert_eq!(bench.said(), "AT+CIPSEND=13\r\n");
    assert_eq!(
        stack.send(&mut socket, b"I'am MixNo"),
        Err(nb::Error::WouldBlock),
        "one send in flight"
    );
    bench.answer("\r\nOK\r\n> ");
    stack.poll();
    assert_eq!(bench.said(), "Hello Handbit");
    bench.answer("\r\nRecv 13 bytes\r\n\r\nSEND OK\r\n");
    assert_eq!(stack.send(&mut socket, b"I'am MixNo"), Ok(()));
    assert_eq!(bench.said(), "AT+CIPSEND=10\r\n");
    assert_eq!(stack.connect(&mut socket, server()), Ok(()));
    let elsewhere = SocketAddr::from(([192, 168, 4, 1], 5002));
    assert_eq!(
        stack.connect(&mut socket, elsewhere),
        Err(AtError::InvalidState)
    );
}

#[test]
fn connect_answers_at_once_what_it_knows() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    let mut socket = stack.socket().unwrap();
    assert_eq!(
        stack.connect(&mut socket, "[::1]:7".parse().unwrap()),
        Err(AtError::Unaddressable)
    );
    assert_eq!(
        stack.connect(&mut socket, server()),
        Err(AtError::NotJoined)
    );
    assert_eq!(
        other(stack.send(&mut socket, b"x")),
        AtError::InvalidState,
        "not connected"
    );
}

#[test]
fn a_datagram_is_never_split_and_never_empty() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_connected(&bench);
    let big = [b'x'; SEND_CHUNK + 1];
    assert_eq!(other(stack.send(&mut socket, &big)), AtError::DatagramSize);
    assert_eq!(other(stack.send(&mut socket, b"")), AtError::DatagramSize);
    assert_eq!(bench.said(), "", "nothing of them sent");
    assert_eq!(stack.send(&mut socket, &big[..SEND_CHUNK]), Ok(()));
    assert_eq!(bench.said(), std::format!("AT+CIPSEND={SEND_CHUNK}\r\n"));
    assert_eq!(
        other(stack.send(&mut socket, &big)),
        AtError::DatagramSize,
        "refused, not delayed, while a send is in flight"
    );
}

#[test]
fn two_frames_are_two_datagrams() {
    let bench = Bench::default();
    bench.wire.borrow_mut().max_read = 3;
    let (mut stack, mut socket) = udp_connected(&bench);
    bench.answer("\r\n+IPD,5:hello\r\n+IPD,3:abc");
    bench.expect(&mut stack, CHECK, UDP_OPEN);
    bench.polls(&mut stack);
    assert_eq!(datagram(&mut stack, &mut socket, 64).unwrap(), b"hello");
    assert_eq!(datagram(&mut stack, &mut socket, 64).unwrap(), b"abc");
    assert_eq!(datagram(&mut stack, &mut socket, 64), None);
}

#[test]
fn a_datagram_longer_than_the_buffer_is_cut_and_the_next_comes_whole() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_connected(&bench);
    bench.answer("\r\n+IPD,10:0123456789\r\n+IPD,4:next\r\n+IPD,4:gone");
    bench.expect(&mut stack, CHECK, UDP_OPEN);
    bench.polls(&mut stack);
    assert_eq!(datagram(&mut stack, &mut socket, 4).unwrap(), b"0123");
    assert_eq!(datagram(&mut stack, &mut socket, 64).unwrap(), b"next");
    assert_eq!(
        datagram(&mut stack, &mut socket, 0).unwrap(),
        b"",
        "an empty buffer takes a datagram too"
    );
    assert_eq!(datagram(&mut stack, &mut socket, 64), None);
}

#[test]
fn the_link_is_shared_with_tcp() {
    let bench = Bench::default();
    let mut stack = bench.stack();
    let udp = stack.socket().unwrap();
    assert_eq!(
        embedded_nal::TcpClientStack::socket(&mut stack).unwrap_err(),
        AtError::NoSocket
    );
    assert_eq!(stack.socket().unwrap_err(), AtError::NoSocket);
    stack.close(udp).unwrap();
    let tcp = embedded_nal::TcpClientStack::socket(&mut stack).unwrap();
    assert_eq!(stack.socket().unwrap_err(), AtError::NoSocket);
    // A socket of the other kind, or an old one, is not the one in use.
    let mut stale = AtUdpSocket { id: tcp.id };
    assert_eq!(other(stack.send(&mut stale, b"x")), AtError::InvalidState);
    embedded_nal::TcpClientStack::close(&mut stack, tcp).unwrap();
}

#[test]
fn a_failed_cipstart_is_reported_by_send_and_receive() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_starting(&bench);
    bench.answer("\r\nERROR\r\nCLOSED\r\n");
    assert_eq!(other(stack.send(&mut socket, b"x")), AtError::ConnectFailed);
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 8])),
        AtError::ConnectFailed
    );
    assert_eq!(
        stack.connect(&mut socket, server()),
        Err(AtError::ConnectFailed)
    );
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "", "nothing to close on the modem");
    let mut socket = stack.socket().unwrap();
    assert_eq!(stack.connect(&mut socket, server()), Ok(()));
    assert_eq!(bench.said(), UDP_START);
}

#[test]
fn a_cipstart_without_answer_times_out_and_is_closed() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_starting(&bench);
    bench.advance(5_000);
    assert_eq!(other(stack.send(&mut socket, b"x")), AtError::Timeout);
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "AT+CIPCLOSE\r\n");
}

#[test]
fn a_failed_send_ends_the_link() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_connected(&bench);
    assert_eq!(stack.send(&mut socket, b"hi"), Ok(()));
    bench.said();
    bench.answer("OK\r\n> ");
    stack.poll();
    assert_eq!(bench.said(), "hi");
    bench.answer("\r\nSEND FAIL\r\n");
    assert_eq!(other(stack.send(&mut socket, b"hi")), AtError::Modem);
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 8])),
        AtError::Modem
    );
}

#[test]
fn closed_gives_the_datagrams_and_then_an_error() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_connected(&bench);
    bench.answer("\r\n+IPD,5:helloCLOSED\r\n");
    bench.polls(&mut stack);
    assert_eq!(other(stack.send(&mut socket, b"x")), AtError::Closed);
    assert_eq!(datagram(&mut stack, &mut socket, 64).unwrap(), b"hello");
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 8])),
        AtError::Closed,
        "no end of stream in UDP"
    );
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "", "the modem closed it already");
}

#[test]
fn a_doubt_ends_the_link_after_the_confirmed_datagrams() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_connected(&bench);
    bench.answer("\r\n+IPD,4:zero");
    bench.expect(&mut stack, CHECK, UDP_OPEN);
    bench.polls(&mut stack);
    // Held until the CIPSEND in flight is answered after them; noise comes instead.
    assert_eq!(stack.send(&mut socket, b"hi"), Ok(()));
    assert_eq!(bench.said(), "AT+CIPSEND=2\r\n");
    bench.answer("\r\n+IPD,3:one\r\n+IPD,3:two\r\n+IPD,5:thr");
    bench.polls(&mut stack);
    bench.answer_bytes(b"ee\r\n\xfejunk\x00\r\n");
    bench.polls(&mut stack);
    assert_eq!(
        datagram(&mut stack, &mut socket, 64).unwrap(),
        b"zero",
        "confirmed before the doubt, and whole"
    );
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 8])),
        AtError::Framing
    );
    assert_eq!(other(stack.send(&mut socket, b"x")), AtError::Framing);
    assert_eq!(stack.framing_errors(), 1);
    stack.close(socket).unwrap();
    bench.said();
    // The modem still waits for the data of its CIPSEND, and then closes.
    bench.answer("\r\nOK\r\n> ");
    bench.polls(&mut stack);
    assert_eq!(bench.said(), "hi");
}

#[test]
fn a_new_socket_after_noise_starts_clean() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_connected(&bench);
    bench.answer_bytes(b"\r\n\x00\xfejunk, line: 1,2\x7f\r\n");
    assert_eq!(
        other(stack.receive(&mut socket, &mut [0; 8])),
        AtError::Framing
    );
    stack.close(socket).unwrap();
    assert_eq!(bench.said(), "AT+CIPCLOSE\r\n");
    bench.answer("CLOSED\r\n\r\nOK\r\n");
    let mut socket = stack.socket().unwrap();
    assert_eq!(stack.connect(&mut socket, server()), Ok(()));
    // The rest of a garbled frame may still come: the modem must hold no link first.
    bench.expect(&mut stack, CHECK, "STATUS:4\r\n\r\nOK\r\n");
    bench.polls(&mut stack);
    assert_eq!(bench.said(), UDP_START);
    bench.answer("CONNECT\r\n\r\nOK\r\n\r\n+IPD,3:new");
    bench.expect(&mut stack, CHECK, UDP_OPEN);
    bench.polls(&mut stack);
    assert_eq!(datagram(&mut stack, &mut socket, 64).unwrap(), b"new");
}

#[test]
fn a_udp_socket_may_connect_while_the_tcp_link_closes() {
    let bench = Bench::default();
    let (mut stack, tcp) = bench.connected();
    embedded_nal::TcpClientStack::close(&mut stack, tcp).unwrap();
    assert_eq!(bench.said(), "AT+CIPCLOSE\r\n");
    let mut socket = stack.socket().unwrap();
    assert_eq!(stack.connect(&mut socket, server()), Ok(()));
    assert_eq!(bench.said(), "", "the close is answered first");
    bench.answer("+IPD,4:late\r\nCLOSED\r\n\r\nOK\r\n");
    bench.polls(&mut stack);
    assert_eq!(bench.said(), UDP_START);
    bench.answer("CONNECT\r\n\r\nOK\r\n\r\n+IPD,3:new");
    bench.expect(&mut stack, CHECK, UDP_OPEN);
    bench.polls(&mut stack);
    assert_eq!(
        datagram(&mut stack, &mut socket, 64).unwrap(),
        b"new",
        "the old link's data is dropped"
    );
    assert_eq!(datagram(&mut stack, &mut socket, 64), None);
}

#[test]
fn many_datagrams_wait_in_the_port_while_the_queue_is_full() {
    let bench = Bench::default();
    let (mut stack, mut socket) = udp_connected(&bench);
    let sent: Vec<Vec<u8>> = (0..RX_DATAGRAMS + 10)
        .map(|i| std::format!("d{i}").into_bytes())
        .collect();
    for d in &sent {
        bench.answer(&std::format!("\r\n+IPD,{}:", d.len()));
        bench.answer_bytes(d);
    }
    bench.polls(&mut stack);
    assert!(bench.unread() > 0, "the rest waits in the port");
    let mut got = Vec::new();
    for _ in 0..10 * sent.len() {
        if got.len() == sent.len() {
            break;
        }
        match datagram(&mut stack, &mut socket, 64) {
            Some(d) => got.push(d),
            None if bench.said() == CHECK => bench.answer(UDP_OPEN),
            None => bench.polls(&mut stack),
        }
    }
    assert_eq!(got, sent);
    assert_eq!(stack.framing_errors(), 0);
}
