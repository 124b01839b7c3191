//! EchoServer on the mock network: echo, slots, eviction, faults and the screen.

mod common;

use common::{client_ip, server_addr, Peer, SERVER_IP};
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::{MockError, MockNetwork, MockStack, Op};
use nal_echo::{
    CloseReason, Duration, EchoServer, Instant, ServerConfig, ServerError, ServerEvent,
    StatusScreen,
};

const PORT: u16 = 5001;
type Server<'n> = EchoServer<MockStack<'n>, RecordingDisplay>;

fn config() -> ServerConfig {
    let mut c = ServerConfig::default();
    c.local_ip = Some(SERVER_IP);
    c
}

fn server(net: &MockNetwork, config: ServerConfig) -> Server<'_> {
    let mut s = EchoServer::new(net.stack(SERVER_IP), RecordingDisplay::new(), config);
    s.poll(Instant::ZERO).unwrap();
    assert!(s.is_listening());
    s
}

fn events(server: &mut Server<'_>) -> Vec<ServerEvent> {
    core::iter::from_fn(|| server.next_event()).collect()
}

/// Polls the server and reads on every peer, `rounds` times, at time `now`.
fn pump<const BUF: usize>(
    server: &mut EchoServer<MockStack<'_>, RecordingDisplay, 4, BUF>,
    peers: &mut [&mut Peer<'_>],
    now: Instant,
    rounds: usize,
) {
    for _ in 0..rounds {
        let _ = server.poll(now);
        for p in peers.iter_mut() {
            p.read();
        }
    }
}

#[test]
fn echoes_exactly_and_shows_the_last_message() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    pump(&mut srv, &mut [&mut a], Instant::ZERO, 1);
    assert_eq!(a.send(b"Hello Handbit"), 13);
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1000), 2);
    assert_eq!(a.received, b"Hello Handbit");
    assert_eq!(srv.screen().message(), "Hello Handbit");
    assert_eq!(srv.screen().header(), "192.168.0.4:5001");
    assert!(
        srv.screen().state().starts_with("1/4"),
        "{}",
        srv.screen().state()
    );
    let s = *srv.stats();
    assert_eq!(
        (s.accepted, s.active, s.bytes_in, s.bytes_out, s.receives),
        (1, 1, 13, 13, 1)
    );
    assert_eq!(
        events(&mut srv),
        [ServerEvent::Accepted {
            slot: 0,
            peer: a.local_addr()
        }]
    );
}

#[test]
fn extra_clients_are_closed_cleanly_and_a_freed_slot_is_reused() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    // One after another, as the stack's backlog would refuse a burst of seven.
    let mut peers: Vec<Peer<'_>> = (0..7)
        .map(|i| {
            let p = Peer::connect(&net, client_ip(i), server_addr(PORT));
            srv.poll(Instant::ZERO).unwrap();
            p
        })
        .collect();
    for p in peers.iter_mut() {
        p.send(b"hi");
    }
    for _ in 0..3 {
        srv.poll(Instant::ZERO).unwrap();
        peers.iter_mut().for_each(|p| {
            p.read();
        });
    }
    let served: Vec<bool> = peers.iter().map(|p| p.received == b"hi").collect();
    assert_eq!(served, [true, true, true, true, false, false, false]);
    for p in &peers[4..] {
        assert!(
            p.closed && !p.reset,
            "extra client must see an orderly close"
        );
    }
    assert_eq!(srv.stats().rejected, 3);
    assert_eq!(srv.stats().active, 4);
    let rejected = events(&mut srv)
        .into_iter()
        .filter(|e| matches!(e, ServerEvent::Rejected { .. }))
        .count();
    assert_eq!(rejected, 3);

    // One served client leaves; a new one takes its slot and is echoed.
    peers[1].close();
    srv.poll(Instant::ZERO).unwrap();
    assert_eq!(srv.stats().active, 3);
    let mut late = Peer::connect(&net, client_ip(20), server_addr(PORT));
    late.send(b"again");
    pump(&mut srv, &mut [&mut late], Instant::ZERO, 3);
    assert_eq!(late.received, b"again");
    assert_eq!(srv.stats().accepted, 5);
    assert_eq!(srv.peers().nth(1), Some(Some(late.local_addr())));
}

#[test]
fn a_client_that_never_reads_does_not_stall_another() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut hog = Peer::connect(&net, client_ip(1), server_addr(PORT));
    let mut good = Peer::connect(&net, client_ip(2), server_addr(PORT));
    let flood = [b'x'; 1024];
    let mut expected = Vec::new();
    for round in 0..200u32 {
        hog.send(&flood); // never reads
        let msg = format!("ping {round};");
        assert_eq!(good.send(msg.as_bytes()), msg.len());
        expected.extend_from_slice(msg.as_bytes());
        srv.poll(Instant::ZERO).unwrap();
        good.read();
    }
    srv.poll(Instant::ZERO).unwrap();
    good.read();
    assert_eq!(good.received, expected);
    // The hog's echoes filled its pipe; the server holds the rest and reads no more.
    assert!(net.pending(hog.local_addr()) > 0);
    assert!(srv.stats().bytes_in - expected.len() as u64 <= 2 * 4096 + 1024 + 1024);
}

#[test]
fn split_and_invalid_utf8_and_control_sequences_show_as_documented() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    let mut sent = Vec::new();
    let mut step = |bytes: &[u8], srv: &mut Server<'_>, a: &mut Peer<'_>| -> String {
        assert_eq!(a.send(bytes), bytes.len());
        sent.extend_from_slice(bytes);
        pump(srv, &mut [a], Instant::ZERO, 2);
        srv.screen().message().to_string()
    };
    assert_eq!(step(b"ok", &mut srv, &mut a), "ok");
    // 3-byte 掌 split 1 + 2: nothing new shows until it is whole.
    assert_eq!(step(&[0xE6], &mut srv, &mut a), "ok");
    assert_eq!(step(&[0x8E, 0x8C, b'A'], &mut srv, &mut a), "掌A");
    // 2-byte é split 1 + 1, 4-byte 😀 split 2 + 2.
    assert_eq!(step(&[0xC3], &mut srv, &mut a), "掌A");
    assert_eq!(step(&[0xA9], &mut srv, &mut a), "é");
    assert_eq!(step(&[0xF0, 0x9F], &mut srv, &mut a), "é");
    // The cjk font has no emoji, and its line stores what it can show.
    let emoji = if cfg!(feature = "cjk") { "?" } else { "😀" };
    assert_eq!(step(&[0x98, 0x80], &mut srv, &mut a), emoji);
    // Invalid bytes become U+FFFD; NUL, ESC sequences and CR/LF never show raw.
    let invalid = if cfg!(feature = "cjk") {
        "A?B??"
    } else {
        "A\u{FFFD}B\u{FFFD}\u{FFFD}"
    };
    assert_eq!(
        step(&[b'A', 0xFF, b'B', 0xC0, 0xAF], &mut srv, &mut a),
        invalid
    );
    assert_eq!(
        step(b"a\0b\x1b[31mc\x1b]0;title\x07d\r\n", &mut srv, &mut a),
        "abcd  "
    );
    assert_eq!(
        a.received, sent,
        "the echo is byte-exact whatever the screen shows"
    );
}

#[test]
fn idle_connections_are_evicted_and_traffic_keeps_them() {
    let net: MockNetwork = MockNetwork::new();
    let mut c = config();
    c.idle_timeout = Some(Duration::from_secs(10));
    let mut srv = server(&net, c);
    let mut quiet = Peer::connect(&net, client_ip(1), server_addr(PORT));
    let mut busy = Peer::connect(&net, client_ip(2), server_addr(PORT));
    pump(&mut srv, &mut [&mut quiet, &mut busy], Instant::ZERO, 1);
    busy.send(b"still here");
    pump(
        &mut srv,
        &mut [&mut quiet, &mut busy],
        Instant::from_millis(5_000),
        1,
    );
    pump(
        &mut srv,
        &mut [&mut quiet, &mut busy],
        Instant::from_millis(9_999),
        1,
    );
    assert_eq!(srv.stats().active, 2);
    pump(
        &mut srv,
        &mut [&mut quiet, &mut busy],
        Instant::from_millis(10_000),
        1,
    );
    assert!(quiet.closed && !busy.closed);
    assert_eq!((srv.stats().evicted, srv.stats().active), (1, 1));
    pump(
        &mut srv,
        &mut [&mut quiet, &mut busy],
        Instant::from_millis(15_000),
        1,
    );
    assert!(busy.closed);
    let idle = events(&mut srv)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                ServerEvent::Closed {
                    reason: CloseReason::Idle,
                    ..
                }
            )
        })
        .count();
    assert_eq!(idle, 2);
}

#[test]
fn idle_timeout_can_be_off() {
    let net: MockNetwork = MockNetwork::new();
    let mut c = config();
    c.idle_timeout = None;
    let mut srv = server(&net, c);
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    pump(&mut srv, &mut [&mut a], Instant::ZERO, 1);
    pump(&mut srv, &mut [&mut a], Instant::from_secs(1_000_000), 1);
    assert!(!a.closed);
    assert_eq!(srv.stats().evicted, 0);
}

#[test]
fn peers_off_the_allowlist_are_closed_and_counted() {
    let net: MockNetwork = MockNetwork::new();
    let mut c = config();
    c.allowlist.push(client_ip(1)).unwrap();
    let mut srv = server(&net, c);
    let mut friend = Peer::connect(&net, client_ip(1), server_addr(PORT));
    let mut stranger = Peer::connect(&net, client_ip(2), server_addr(PORT));
    friend.send(b"a");
    stranger.send(b"b");
    pump(
        &mut srv,
        &mut [&mut friend, &mut stranger],
        Instant::ZERO,
        2,
    );
    assert_eq!(friend.received, b"a");
    assert!(stranger.received.is_empty());
    assert!(stranger.closed || stranger.reset);
    assert_eq!((srv.stats().denied, srv.stats().accepted), (1, 1));
    assert!(events(&mut srv).contains(&ServerEvent::Denied {
        peer: stranger.local_addr()
    }));
}

#[test]
fn stack_wide_failures_are_reported_and_retried() {
    let net: MockNetwork = MockNetwork::new();
    let stack = net.stack(SERVER_IP);
    stack.fail_next(Op::Socket, 2, MockError::NoSocket);
    stack.fail_next(Op::Bind, 1, MockError::AddrInUse);
    let mut srv: Server<'_> = EchoServer::new(stack, RecordingDisplay::new(), config());
    assert_eq!(
        srv.poll(Instant::ZERO),
        Err(ServerError::Socket(MockError::NoSocket))
    );
    assert_eq!(
        srv.poll(Instant::ZERO),
        Err(ServerError::Socket(MockError::NoSocket))
    );
    assert_eq!(
        srv.poll(Instant::ZERO),
        Err(ServerError::Listen(MockError::AddrInUse))
    );
    assert!(!srv.is_listening());
    srv.poll(Instant::ZERO).unwrap();
    assert!(srv.is_listening());
    assert_eq!(srv.stats().errors, 3);
    let (stack, _) = srv.release();
    assert_eq!(
        stack.open_sockets(),
        0,
        "the socket of the failed bind was closed"
    );
}

#[test]
fn accept_errors_are_reported_and_the_server_goes_on() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    srv.poll(Instant::ZERO).unwrap();
    let _ = a.local_addr();
    let stack_errors_before = srv.stats().errors;
    // Inject on the server's stack through a second handle of the same host.
    net.stack(SERVER_IP)
        .fail_next(Op::Accept, 2, MockError::Injected);
    let mut b = Peer::connect(&net, client_ip(2), server_addr(PORT));
    assert_eq!(
        srv.poll(Instant::ZERO),
        Err(ServerError::Accept(MockError::Injected))
    );
    assert_eq!(
        srv.poll(Instant::ZERO),
        Err(ServerError::Accept(MockError::Injected))
    );
    b.send(b"late but fine");
    pump(&mut srv, &mut [&mut a, &mut b], Instant::ZERO, 3);
    assert_eq!(b.received, b"late but fine");
    assert_eq!(srv.stats().errors, stack_errors_before + 2);
}

#[test]
fn per_socket_failures_end_only_that_slot() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    let mut b = Peer::connect(&net, client_ip(2), server_addr(PORT));
    pump(&mut srv, &mut [&mut a, &mut b], Instant::ZERO, 1);

    // Reset on a: only a's slot ends, counted as an error.
    assert!(net.reset_connection(a.local_addr()));
    b.send(b"b1");
    pump(&mut srv, &mut [&mut b], Instant::ZERO, 2);
    assert_eq!(b.received, b"b1");
    assert_eq!((srv.stats().active, srv.stats().errors), (1, 1));

    // PipeClosed while echoing ends b's slot as a state change.
    net.stack(SERVER_IP)
        .fail_next(Op::Send, 1, MockError::PipeClosed);
    b.send(b"b2");
    pump(&mut srv, &mut [&mut b], Instant::ZERO, 2);
    assert_eq!(srv.stats().active, 0);
    assert_eq!(
        srv.stats().errors,
        1,
        "PipeClosed is not an error of the server"
    );

    // An orderly close (Ok(0)) frees the slot too.
    let mut c = Peer::connect(&net, client_ip(3), server_addr(PORT));
    pump(&mut srv, &mut [&mut c], Instant::ZERO, 1);
    c.close();
    pump(&mut srv, &mut [], Instant::ZERO, 1);
    let reasons: Vec<CloseReason> = events(&mut srv)
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Closed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            CloseReason::Error,
            CloseReason::PipeClosed,
            CloseReason::PeerClosed
        ]
    );
}

#[test]
fn short_sends_and_would_block_keep_every_byte_in_order() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let server_stack = net.stack(SERVER_IP);
    server_stack.limit_send(Some(7));
    server_stack.would_block_next(Op::Send, 5);
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut off = 0;
    for _ in 0..10_000 {
        if off < data.len() {
            off += a.send(&data[off..(off + 300).min(data.len())]);
        }
        srv.poll(Instant::ZERO).unwrap();
        a.read();
        if a.received.len() == data.len() {
            break;
        }
    }
    assert_eq!(a.received, data);
}

#[test]
fn screen_is_redrawn_only_on_change_and_at_most_once_per_interval() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1000), 1);
    let flushes = srv.display_mut().flushes();
    pump(&mut srv, &mut [&mut a], Instant::from_millis(2000), 3);
    assert_eq!(
        srv.display_mut().flushes(),
        flushes,
        "nothing changed, nothing drawn"
    );
    a.send(b"one");
    pump(&mut srv, &mut [&mut a], Instant::from_millis(3000), 1);
    let after_one = srv.display_mut().flushes();
    assert!(after_one > flushes);
    a.send(b"two");
    pump(&mut srv, &mut [&mut a], Instant::from_millis(3050), 1);
    assert_eq!(
        srv.display_mut().flushes(),
        after_one,
        "within the refresh interval"
    );
    assert_eq!(
        a.received, b"onetwo",
        "the echo does not wait for the screen"
    );
    pump(&mut srv, &mut [&mut a], Instant::from_millis(3100), 1);
    assert!(srv.display_mut().flushes() > after_one);
    assert_eq!(srv.screen().message(), "two");
}

#[test]
fn display_errors_are_counted_and_never_stop_the_echo() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1000), 1);
    srv.display_mut().fail_next_flush(1);
    a.send(b"boom");
    let r = srv.poll(Instant::from_millis(2000));
    assert!(matches!(r, Err(ServerError::Display(_))), "{r:?}");
    a.read();
    assert_eq!(a.received, b"boom");
    assert_eq!(srv.stats().display_errors, 1);
    // The next redraw repaints everything, so the glass is right again.
    srv.poll(Instant::from_millis(3000)).unwrap();
    assert_glass_matches_model(&mut srv);
}

/// The glass of the server's display equals a fresh full drawing of its text model.
fn assert_glass_matches_model(srv: &mut Server<'_>) {
    let mut reference = StatusScreen::new();
    let model = srv.screen();
    let header: Vec<&str> = model.header().rsplitn(2, ':').collect();
    reference.set_header(Some(header[1].parse().unwrap()), header[0].parse().unwrap());
    let (active, peer) = (srv.stats().active as usize, srv.peers().flatten().last());
    reference.set_clients(active, 4, peer);
    let s = srv.stats();
    reference.set_counters(s.accepted, s.rejected + s.denied, s.errors);
    reference.set_message_chars(srv.screen().message().chars());
    let mut fresh = RecordingDisplay::new();
    reference.draw(&mut fresh).unwrap();
    let area = embedded_graphics::primitives::Rectangle::new(
        embedded_graphics::prelude::Point::zero(),
        embedded_graphics::prelude::Size::new(128, 64),
    );
    assert!(
        srv.display_mut().glass_region_eq(&fresh, area),
        "glass differs from the model"
    );
}

#[test]
fn release_closes_every_socket() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    pump(&mut srv, &mut [&mut a], Instant::ZERO, 1);
    let (stack, _display) = srv.release();
    assert_eq!(stack.open_sockets(), 0);
    a.read();
    assert!(a.closed);
}

#[test]
fn a_paused_screen_is_not_drawn_and_is_repainted_on_resume() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1000), 1);
    srv.set_screen_enabled(false);
    let flushes = srv.display_mut().flushes();
    a.send(b"while paused");
    pump(&mut srv, &mut [&mut a], Instant::from_millis(2000), 2);
    assert_eq!(a.received, b"while paused", "echo goes on");
    assert_eq!(
        srv.display_mut().flushes(),
        flushes,
        "nothing drawn while paused"
    );
    assert_eq!(srv.screen().message(), "while paused", "the model keeps up");
    srv.set_screen_enabled(true);
    pump(&mut srv, &mut [&mut a], Instant::from_millis(3000), 1);
    assert!(srv.display_mut().flushes() > flushes);
    assert_glass_matches_model(&mut srv);
}

#[test]
fn the_message_line_shows_the_latest_receive_even_within_one_poll() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let server_stack = net.stack(SERVER_IP);
    server_stack.limit_receive(Some(5));
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1000), 1);
    a.send(b"firstlast!");
    // One poll receives "first" then "last!" in two rounds.
    srv.poll(Instant::from_millis(2000)).unwrap();
    assert_eq!(srv.screen().message(), "last!");
    a.read();
    assert_eq!(a.received, b"firstlast!");
}

/// The tutorial's client sends, then closes: when its message and its close reach
/// the server within one poll, the message still shows (and is echoed as far as the
/// closed peer allows).
#[test]
fn a_message_that_comes_with_the_peers_close_still_shows() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = server(&net, config());
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    let a_addr = a.local_addr();
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1000), 1);
    a.send(b"Hello Handbit");
    a.read();
    srv.poll(Instant::from_millis(2000)).unwrap();
    assert_eq!(srv.screen().message(), "Hello Handbit");
    let mut b = Peer::connect(&net, client_ip(2), server_addr(PORT));
    pump(&mut srv, &mut [&mut b], Instant::from_millis(3000), 1);
    let b_addr = b.local_addr();
    b.send(b"I'am MixNo");
    b.close();
    srv.poll(Instant::from_millis(4000)).unwrap();
    assert_eq!(srv.screen().message(), "I'am MixNo");
    assert_eq!(srv.stats().bytes_in, 13 + 10);
    // The mock's close is a full close: the echo finds the pipe closed.
    assert_eq!(
        events(&mut srv),
        [
            ServerEvent::Accepted {
                slot: 0,
                peer: a_addr
            },
            ServerEvent::Accepted {
                slot: 1,
                peer: b_addr
            },
            ServerEvent::Closed {
                slot: 1,
                peer: b_addr,
                reason: CloseReason::PipeClosed
            },
        ]
    );
}

/// Slots large enough that decoding long receives for the screen is deferred.
type LargeServer<'n> = EchoServer<MockStack<'n>, RecordingDisplay, 4, 4096>;

fn large_server(net: &MockNetwork) -> LargeServer<'_> {
    let mut s = LargeServer::sized(net.stack(SERVER_IP), RecordingDisplay::new(), config());
    s.poll(Instant::ZERO).unwrap();
    s
}

/// What the message line shows for `text` received in one piece.
fn fitted(text: &str) -> String {
    let mut screen = StatusScreen::new();
    screen.set_message_chars(text.chars());
    screen.message().to_string()
}

/// 3000 bytes of text that end in `end`.
fn long_text(end: &str) -> String {
    let filler: String = (0..3000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    filler + end
}

#[test]
fn a_long_receive_reaches_the_message_line_at_the_next_redraw() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = large_server(&net);
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    a.send(b"first");
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1000), 3);
    assert_eq!(srv.screen().message(), "first");
    let long = long_text("the very end");
    assert_eq!(a.send(long.as_bytes()), long.len());
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1050), 3);
    assert_eq!(
        a.received,
        [b"first", long.as_bytes()].concat(),
        "echoed at once"
    );
    assert_eq!(srv.screen().message(), "first", "decoded only when drawn");
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1100), 3);
    assert_eq!(srv.screen().message(), fitted(&long));
    assert_glass_shows(&mut srv, &fitted(&long));
}

#[test]
fn the_newest_receive_wins_when_a_long_one_waits_to_be_decoded() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = large_server(&net);
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    let mut b = Peer::connect(&net, client_ip(2), server_addr(PORT));
    a.send(b"first");
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1000),
        3,
    );
    // A long receive, then a short one from another client: the short one is newer.
    a.send(long_text("from a").as_bytes());
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1040),
        3,
    );
    b.send(b"b is newer");
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1060),
        3,
    );
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1100),
        3,
    );
    assert_eq!(srv.screen().message(), "b is newer");
    // And the other way round: the long one is newer.
    b.send(b"b first");
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1150),
        3,
    );
    let long = long_text("a is newer");
    a.send(long.as_bytes());
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1160),
        3,
    );
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1200),
        3,
    );
    assert_eq!(srv.screen().message(), fitted(&long));
    // A short receive right after a long one on the same connection continues it:
    // the long one ended inside an escape sequence that the short one finishes.
    let open = long_text("bulk\x1b[3");
    a.send(open.as_bytes());
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1250),
        3,
    );
    a.send(b"1mred");
    pump(
        &mut srv,
        &mut [&mut a, &mut b],
        Instant::from_millis(1300),
        3,
    );
    assert_eq!(srv.screen().message(), "red");
    let sent = [b"first", long_text("from a").as_bytes()].concat();
    assert!(a.received.starts_with(&sent));
    assert_eq!(b.received, b"b is newerb first");
}

#[test]
fn a_long_receive_of_a_connection_that_closes_is_still_shown() {
    let net: MockNetwork = MockNetwork::new();
    let mut srv = large_server(&net);
    let mut a = Peer::connect(&net, client_ip(1), server_addr(PORT));
    a.send(b"first");
    pump(&mut srv, &mut [&mut a], Instant::from_millis(1000), 3);
    let long = long_text("last words");
    a.send(long.as_bytes());
    a.close();
    pump(&mut srv, &mut [], Instant::from_millis(1010), 3);
    assert_eq!(srv.stats().active, 0, "the connection ended");
    assert_eq!(srv.screen().message(), fitted(&long));
}

/// The glass of a large server's message line shows `message` as a full drawing.
fn assert_glass_shows(srv: &mut LargeServer<'_>, message: &str) {
    let mut reference = StatusScreen::new();
    reference.set_message_chars(message.chars());
    let mut fresh = RecordingDisplay::new();
    reference.draw(&mut fresh).unwrap();
    let line = embedded_graphics::primitives::Rectangle::new(
        embedded_graphics::prelude::Point::new(0, 48),
        embedded_graphics::prelude::Size::new(128, 16),
    );
    assert!(
        srv.display_mut().glass_region_eq(&fresh, line),
        "message line"
    );
}
