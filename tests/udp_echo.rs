//! UdpEcho on the mock network, alone and beside an EchoServer: whole datagrams back
//! to their senders, in order; too-large, denied, refused and unsendable datagrams
//! counted and never echoed cut; the screen; and a lossy network.

mod common;

use core::net::SocketAddr;

use common::saved::saving_failures;
use common::{client_ip, server_addr, SERVER_IP};
use embedded_nal::{nb, UdpClientStack, UdpFullStack};
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::{DatagramFaults, MockError, MockNetwork, MockSocket, MockStack, Op};
use nal_echo::{Duration, EchoServer, Instant, Progress, ServerConfig, UdpEcho, UdpEchoError};
use proptest::prelude::*;

const PORT: u16 = 5001;

fn config() -> ServerConfig {
    ServerConfig::default().with_local_ip(SERVER_IP)
}

/// A UDP client: one bound socket on a host of its own.
struct Client<'n> {
    stack: MockStack<'n>,
    socket: MockSocket,
}

impl<'n> Client<'n> {
    fn new(net: &'n MockNetwork, n: u8) -> Self {
        let mut stack = net.stack(client_ip(n));
        let mut socket = UdpClientStack::socket(&mut stack).unwrap();
        UdpFullStack::bind(&mut stack, &mut socket, 0).unwrap();
        Self { stack, socket }
    }

    fn send(&mut self, bytes: &[u8]) {
        UdpFullStack::send_to(&mut self.stack, &mut self.socket, server_addr(PORT), bytes).unwrap();
    }

    /// Every datagram waiting, with its sender.
    fn received(&mut self) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut got = Vec::new();
        let mut buf = [0; 2048];
        while let Ok((n, from)) =
            UdpClientStack::receive(&mut self.stack, &mut self.socket, &mut buf)
        {
            got.push((buf[..n].to_vec(), from));
        }
        got
    }
}

type Echo = UdpEcho<MockSocket>;

#[test]
fn the_tutorials_messages_come_back_whole_to_their_sender_and_show_on_the_screen() {
    let net: MockNetwork = MockNetwork::new();
    let mut server = EchoServer::new(net.stack(SERVER_IP), RecordingDisplay::new(), config());
    let mut udp = Echo::new();
    let (mut a, mut b) = (Client::new(&net, 1), Client::new(&net, 2));
    assert_eq!(
        server.poll_udp(&mut udp, Instant::ZERO),
        Ok(Progress::Busy),
        "binds"
    );
    assert!(udp.is_bound());
    a.send(b"Hello Handbit");
    b.send(b"I'am MixNo");
    server.poll_udp(&mut udp, Instant::from_millis(10)).unwrap();
    server.poll(Instant::from_millis(200)).unwrap();
    assert_eq!(
        a.received(),
        vec![(b"Hello Handbit".to_vec(), server_addr(PORT))]
    );
    assert_eq!(
        b.received(),
        vec![(b"I'am MixNo".to_vec(), server_addr(PORT))]
    );
    assert_eq!(server.screen().message(), "I'am MixNo");
    assert_eq!(server.screen().state(), "udp 192.168.0.12");
    let s = udp.stats();
    assert_eq!((s.datagrams_in, s.datagrams_out, s.bytes_out), (2, 2, 23));
    assert_eq!(
        server.poll_udp(&mut udp, Instant::from_millis(300)),
        Ok(Progress::Idle)
    );
}

#[test]
fn a_datagram_that_fills_the_buffer_is_counted_as_too_large_and_never_echoed() {
    let net: MockNetwork = MockNetwork::new();
    let mut stack = net.stack(SERVER_IP);
    let mut udp = UdpEcho::<MockSocket, 2, 64>::sized();
    let mut a = Client::new(&net, 1);
    udp.poll(&mut stack, &config(), Instant::ZERO).unwrap();
    a.send(&[b'x'; 63]);
    a.send(&[b'y'; 64]);
    a.send(&[b'z'; 200]);
    a.send(b"after");
    udp.poll(&mut stack, &config(), Instant::ZERO).unwrap();
    let got: Vec<Vec<u8>> = a.received().into_iter().map(|(d, _)| d).collect();
    assert_eq!(got, vec![vec![b'x'; 63], b"after".to_vec()]);
    assert_eq!(udp.stats().too_large, 2);
    assert_eq!(
        net.datagram_log().truncated,
        1,
        "the stack cut the 200-byte one silently"
    );
}

#[test]
fn an_echo_the_stack_will_not_take_waits_in_order_then_is_dropped_after_the_retry_time() {
    let net: MockNetwork = MockNetwork::new();
    let mut stack = net.stack(SERVER_IP);
    let faults = net.stack(SERVER_IP);
    let mut udp = UdpEcho::<MockSocket, 2, 64>::sized().with_retry_for(Duration::from_millis(500));
    let mut a = Client::new(&net, 1);
    udp.poll(&mut stack, &config(), Instant::ZERO).unwrap();
    for k in 0..5u8 {
        a.send(&[k]);
    }
    faults.would_block_next(Op::SendTo, 2);
    udp.poll(&mut stack, &config(), Instant::from_millis(100))
        .unwrap();
    assert_eq!(
        udp.queued(),
        2,
        "the queue is full: the rest waits in the stack"
    );
    assert!(a.received().is_empty());
    udp.poll(&mut stack, &config(), Instant::from_millis(200))
        .unwrap();
    let got: Vec<u8> = a.received().into_iter().map(|(d, _)| d[0]).collect();
    assert_eq!(
        got,
        vec![0, 1, 2, 3, 4],
        "all of them, in order, once the stack takes them"
    );
    assert_eq!(udp.stats().dropped, 0);

    faults.would_block_next(Op::SendTo, 1000);
    a.send(b"late");
    udp.poll(&mut stack, &config(), Instant::from_millis(1000))
        .unwrap();
    udp.poll(&mut stack, &config(), Instant::from_millis(1499))
        .unwrap();
    assert_eq!((udp.queued(), udp.stats().dropped), (1, 0));
    udp.poll(&mut stack, &config(), Instant::from_millis(1500))
        .unwrap();
    assert_eq!((udp.queued(), udp.stats().dropped), (0, 1));
    faults.clear_faults();
    a.send(b"next");
    udp.poll(&mut stack, &config(), Instant::from_millis(1600))
        .unwrap();
    assert_eq!(a.received(), vec![(b"next".to_vec(), server_addr(PORT))]);
}

#[test]
fn refused_sends_receive_errors_and_strangers_are_counted_and_the_echo_goes_on() {
    let net: MockNetwork = MockNetwork::new();
    let mut stack = net.stack(SERVER_IP);
    let faults = net.stack(SERVER_IP);
    let config = config().with_allowed(client_ip(1)).unwrap();
    let mut udp = Echo::new();
    let (mut a, mut stranger) = (Client::new(&net, 1), Client::new(&net, 2));
    udp.poll(&mut stack, &config, Instant::ZERO).unwrap();
    stranger.send(b"let me in");
    a.send(b"one");
    a.send(b"two");
    faults.fail_next(Op::SendTo, 1, MockError::Injected);
    faults.fail_next(Op::ReceiveFrom, 1, MockError::Reset);
    udp.poll(&mut stack, &config, Instant::ZERO).unwrap();
    udp.poll(&mut stack, &config, Instant::ZERO).unwrap();
    let s = *udp.stats();
    assert_eq!((s.denied, s.errors, s.dropped), (1, 2, 1), "{s:?}");
    let echoed: Vec<Vec<u8>> = a.received().into_iter().map(|(d, _)| d).collect();
    assert_eq!(
        echoed,
        vec![b"two".to_vec()],
        "the refused echo of \"one\" is not retried"
    );
    assert!(stranger.received().is_empty());
}

#[test]
fn a_port_in_use_is_a_bind_error_retried_on_the_next_poll() {
    let net: MockNetwork = MockNetwork::new();
    let mut stack = net.stack(SERVER_IP);
    let mut squatter = net.stack(SERVER_IP);
    let mut taken = UdpClientStack::socket(&mut squatter).unwrap();
    UdpFullStack::bind(&mut squatter, &mut taken, PORT).unwrap();
    let mut udp = Echo::new();
    assert_eq!(
        udp.poll(&mut stack, &config(), Instant::ZERO),
        Err(UdpEchoError::Bind(MockError::AddrInUse))
    );
    assert_eq!(stack.open_sockets(), 1, "the failed socket was closed");
    UdpClientStack::close(&mut squatter, taken).unwrap();
    assert_eq!(
        udp.poll(&mut stack, &config(), Instant::ZERO),
        Ok(Progress::Busy)
    );
    assert_eq!(udp.local_addr(&stack), Some(server_addr(PORT)));
    let stats = udp.close(&mut stack);
    assert_eq!((stats.errors, stack.open_sockets()), (0, 0));
}

#[test]
fn a_flood_is_taken_eight_datagrams_a_poll() {
    let net: MockNetwork = MockNetwork::new();
    let mut stack = net.stack(SERVER_IP);
    let mut udp = Echo::new();
    let mut a = Client::new(&net, 1);
    udp.poll(&mut stack, &config(), Instant::ZERO).unwrap();
    for k in 0..12u8 {
        a.send(&[k]);
    }
    udp.poll(&mut stack, &config(), Instant::ZERO).unwrap();
    assert_eq!(a.received().len(), 8);
    udp.poll(&mut stack, &config(), Instant::ZERO).unwrap();
    assert_eq!(a.received().len(), 4);
}

/// One client's datagrams: (client, payload) in sending order.
fn traffic() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    prop::collection::vec((0u8..4, prop::collection::vec(any::<u8>(), 0..100)), 1..120)
}

proptest! {
    #![proptest_config(saving_failures(64))]

    /// Loss, duplication and reordering both ways, `WouldBlock` on the server's
    /// calls: every datagram a client gets is one it sent, unchanged, from the
    /// server; the server's counts add up; nothing is echoed cut.
    #[test]
    fn on_a_lossy_network_every_echo_is_a_datagram_its_client_sent_unchanged(
        sends in traffic(),
        seed in any::<u64>(),
        lose in 0u16..300,
        duplicate in 0u16..300,
        reorder in 0u16..300,
        would_block in 0u16..500,
    ) {
        let net: MockNetwork = MockNetwork::new();
        let mut stack = net.stack(SERVER_IP);
        let faults = DatagramFaults { lose_per_mille: lose, duplicate_per_mille: duplicate, reorder_per_mille: reorder };
        stack.datagram_faults(seed, faults);
        stack.chaos(seed ^ 1, would_block);
        let mut udp = UdpEcho::<MockSocket, 3, 64>::sized();
        let mut clients: Vec<Client> = (0..4).map(|n| Client::new(&net, n)).collect();
        for (n, c) in clients.iter().enumerate() {
            c.stack.datagram_faults(seed.wrapping_add(n as u64 + 2), faults);
        }
        let mut now = Instant::ZERO;
        prop_assert!(udp.poll(&mut stack, &config(), now).is_ok());
        let mut got: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 4];
        let pump = |udp: &mut UdpEcho<MockSocket, 3, 64>, stack: &mut MockStack, now: Instant| {
            for _ in 0..4 {
                let _ = udp.poll(stack, &config(), now);
            }
        };
        for (client, payload) in &sends {
            clients[*client as usize].send(payload);
            now += Duration::from_millis(1);
            pump(&mut udp, &mut stack, now);
            for (k, c) in clients.iter_mut().enumerate() {
                for (d, from) in c.received() {
                    prop_assert_eq!(from, server_addr(PORT));
                    got[k].push(d);
                }
            }
        }
        // Long enough for every queued echo to go out or be given up.
        stack.chaos_off();
        pump(&mut udp, &mut stack, now + Duration::from_secs(2));
        for (k, c) in clients.iter_mut().enumerate() {
            got[k].extend(c.received().into_iter().map(|(d, _)| d));
        }
        for (k, echoes) in got.iter().enumerate() {
            let sent: Vec<&Vec<u8>> = sends.iter().filter(|(c, _)| *c as usize == k).map(|(_, p)| p).collect();
            for echo in echoes {
                prop_assert!(sent.contains(&echo), "client {k} got {echo:?}, which it never sent");
                prop_assert!(echo.len() < 64, "a datagram that filled the buffer was echoed");
            }
        }
        let s = *udp.stats();
        let any_too_large = sends.iter().any(|(_, p)| p.len() >= 64);
        prop_assert!(s.too_large == 0 || any_too_large);
        prop_assert_eq!(s.datagrams_in, s.datagrams_out + s.dropped + udp.queued() as u32);
        prop_assert_eq!(udp.queued(), 0);
        let log = net.datagram_log();
        let received_by_clients: usize = got.iter().map(Vec::len).sum();
        prop_assert!(received_by_clients as u64 <= log.delivered);
    }
}

#[test]
fn bind_errors_read_as_sentences() {
    let e: UdpEchoError<MockError> = UdpEchoError::Bind(MockError::AddrInUse);
    assert_eq!(e.to_string(), "cannot bind the UDP port: AddrInUse");
}

proptest! {
    #![proptest_config(saving_failures(64))]

    /// With `WouldBlock` on the server's calls but no loss on the wire, each client
    /// gets back exactly the datagrams it sent that fit, in the order it sent them.
    #[test]
    fn without_loss_every_client_gets_its_datagrams_back_in_order(
        sends in traffic(),
        seed in any::<u64>(),
        would_block in 0u16..700,
    ) {
        let net: MockNetwork = MockNetwork::new();
        let mut stack = net.stack(SERVER_IP);
        stack.chaos(seed, would_block);
        let mut udp = UdpEcho::<MockSocket, 3, 64>::sized().with_retry_for(Duration::from_secs(3600));
        let mut clients: Vec<Client> = (0..4).map(|n| Client::new(&net, n)).collect();
        let mut got: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 4];
        prop_assert_eq!(udp.poll(&mut stack, &config(), Instant::ZERO), Ok(Progress::Busy));
        for (client, payload) in &sends {
            clients[*client as usize].send(payload);
            for _ in 0..4 {
                let _ = udp.poll(&mut stack, &config(), Instant::ZERO);
            }
            for (k, c) in clients.iter_mut().enumerate() {
                got[k].extend(c.received().into_iter().map(|(d, _)| d));
            }
        }
        stack.chaos_off();
        for _ in 0..64 {
            let _ = udp.poll(&mut stack, &config(), Instant::ZERO);
        }
        for (k, c) in clients.iter_mut().enumerate() {
            got[k].extend(c.received().into_iter().map(|(d, _)| d));
        }
        prop_assert_eq!(net.datagram_log().overflowed, 0);
        for (k, echoes) in got.iter().enumerate() {
            let fit: Vec<Vec<u8>> = sends
                .iter()
                .filter(|(c, p)| *c as usize == k && p.len() < 64)
                .map(|(_, p)| p.clone())
                .collect();
            prop_assert_eq!(echoes, &fit, "client {}", k);
        }
        prop_assert_eq!(udp.stats().dropped, 0);
    }
}

#[test]
fn the_newest_message_wins_the_screen_whether_it_came_by_tcp_or_by_udp() {
    let net: MockNetwork = MockNetwork::new();
    let mut server = EchoServer::new(net.stack(SERVER_IP), RecordingDisplay::new(), config());
    let mut udp = Echo::new();
    server.poll(Instant::ZERO).unwrap();
    server.poll_udp(&mut udp, Instant::ZERO).unwrap();
    let mut tcp = common::Peer::connect(&net, client_ip(1), server_addr(PORT));
    let mut datagrams = Client::new(&net, 2);
    server.poll(Instant::ZERO).unwrap();
    // A long receive: its decoding waits for the next redraw.
    assert_eq!(tcp.send(&[b'T'; 900]), 900);
    server.poll(Instant::from_millis(1)).unwrap();
    datagrams.send(b"by udp");
    server.poll_udp(&mut udp, Instant::from_millis(2)).unwrap();
    server.poll(Instant::from_millis(500)).unwrap();
    assert_eq!(server.screen().message(), "by udp");
    assert!(
        server.screen().state().starts_with("1/4 192.168.0.12"),
        "{}",
        server.screen().state()
    );
    assert_eq!(tcp.send(b"by tcp"), 6);
    server.poll(Instant::from_millis(1000)).unwrap();
    assert_eq!(server.screen().message(), "by tcp");
}

#[test]
fn a_server_without_tcp_listens_on_nothing_and_still_shows_datagrams() {
    let net: MockNetwork = MockNetwork::new();
    let config = config().with_tcp(false);
    let mut server = EchoServer::new(net.stack(SERVER_IP), RecordingDisplay::new(), config);
    let mut udp = Echo::new();
    server.poll(Instant::ZERO).unwrap();
    server.poll_udp(&mut udp, Instant::ZERO).unwrap();
    assert!(!server.is_listening());
    let mut tcp = net.stack(client_ip(1));
    let mut sock = embedded_nal::TcpClientStack::socket(&mut tcp).unwrap();
    assert_eq!(
        embedded_nal::TcpClientStack::connect(&mut tcp, &mut sock, server_addr(PORT)),
        Err(nb::Error::Other(MockError::ConnectionRefused))
    );
    let mut a = Client::new(&net, 2);
    a.send(b"only udp");
    server.poll_udp(&mut udp, Instant::from_millis(1)).unwrap();
    server.poll(Instant::from_millis(200)).unwrap();
    assert_eq!(a.received().len(), 1);
    assert_eq!(server.screen().message(), "only udp");
    assert!(server.display().flushes() > 0);
}
