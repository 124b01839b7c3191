//! Fuzz harness: `UdpEcho` (beside an `EchoServer`, through `poll_udp`) and
//! `UdpPeriodicClient` on the mock network, driven by a schedule decoded from the
//! fuzzer's bytes.
//!
//! The bytes are read with a small cursor (no `arbitrary`, so that this file also
//! compiles into the main crate's tests). The first byte picks the set-up: the
//! echo's queue (1 or 3 datagrams), its retry time, an allowlist that leaves one
//! raw client out, and the periodic client's period and echo timeout. Then every
//! byte (with the bytes it needs) is one step:
//!
//! - a raw client sends a datagram (any length up to twice the echo's buffer, so
//!   some are too large) or reads what came back into a buffer of any size;
//! - the server (`poll` and `poll_udp`) or the periodic client is polled after a
//!   time jump (none, small, past the retry time or the echo timeout, backwards);
//! - a fault is set on a host: seeded loss, duplication and reordering of the
//!   datagrams it sends, `WouldBlock` or an error for the next sends or receives,
//!   seeded `WouldBlock` chaos.
//!
//! After every step it asserts:
//!
//! - every datagram a raw client reads is one it sent, whole (cut only by its own
//!   short read buffer), from the server's address; none that filled the echo's
//!   buffer ever comes back;
//! - the echo's counts add up: `datagrams_in` = `datagrams_out` + `dropped` +
//!   queued, the queue never above its capacity;
//! - the periodic client sees no mismatch (nothing on the network changes a byte),
//!   `echoed + lost - late <= sent`;
//! - at the end, with the faults cleared and time moved past every retry and echo
//!   timeout, nothing is left queued;
//! - nothing panics (with overflow checks on in the fuzz build).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use nal_echo::display::RecordingDisplay;
use nal_echo::embedded_nal::{nb, UdpClientStack, UdpFullStack};
use nal_echo::stack::mock::{DatagramFaults, MockError, MockNetwork, MockSocket, MockStack, Op};
use nal_echo::time::MockClock;
use nal_echo::{
    ClientConfig, Duration, EchoServer, Instant, ServerConfig, UdpEcho, UdpPeriodicClient,
    TUTORIAL_MESSAGES,
};

/// The echo's buffer: datagrams of 63 bytes or fewer are echoed.
const BUF: usize = 64;
/// Raw clients.
const CLIENTS: usize = 3;
/// Steps per input, so that one execution stays cheap.
const MAX_STEPS: usize = 300;
const PORT: u16 = 5001;
const SERVER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const PERIODIC_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));

fn client_ip(k: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2 + k as u8))
}

/// Reads the fuzzer's bytes; past the end, zeros.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| (acc << 8) | u64::from(self.byte()))
    }

    fn is_done(&self) -> bool {
        self.0.is_empty()
    }
}

/// A raw UDP client: its socket and every datagram it sent.
struct Raw<'n> {
    stack: MockStack<'n>,
    socket: MockSocket,
    sent: Vec<Vec<u8>>,
}

// Two sizes of one harness's echo, made once per input: boxing would only add a heap.
#[allow(clippy::large_enum_variant)]
enum Echo {
    Small(UdpEcho<MockSocket, 1, BUF>),
    Deep(UdpEcho<MockSocket, 3, BUF>),
}

pub fn run(data: &[u8]) {
    let mut input = Cursor(data);
    let setup = input.byte();
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let retry = Duration::from_millis(50 + 400 * u64::from(setup >> 7));
    let mut echo = if setup & 1 == 0 {
        Echo::Small(UdpEcho::sized().with_retry_for(retry))
    } else {
        Echo::Deep(UdpEcho::sized().with_retry_for(retry))
    };
    let mut config = ServerConfig::default().with_port(PORT);
    if setup & 2 != 0 {
        // Raw client 2 is left out.
        config = config
            .with_allowed(client_ip(0))
            .and_then(|c| c.with_allowed(client_ip(1)))
            .and_then(|c| c.with_allowed(PERIODIC_IP))
            .unwrap_or_else(|_| unreachable!("room for 3"));
    }
    let mut server = EchoServer::new(net.stack(SERVER_IP), RecordingDisplay::new(), config);
    let period = Duration::from_millis(20 + 10 * u64::from((setup >> 2) & 7));
    let echo_timeout = Duration::from_millis(30 + 20 * u64::from((setup >> 5) & 3));
    let client_config = ClientConfig::new(SocketAddr::new(SERVER_IP, PORT))
        .with_messages(TUTORIAL_MESSAGES)
        .with_period(period)
        .with_echo_timeout(echo_timeout);
    let mut periodic = UdpPeriodicClient::new(net.stack(PERIODIC_IP), &clock, client_config);
    let mut raws: Vec<Raw> = (0..CLIENTS).map(|k| raw(&net, k)).collect();
    poll_server(&mut server, &mut echo, clock.now_instant());

    for _ in 0..MAX_STEPS {
        if input.is_done() {
            break;
        }
        step(
            &mut input,
            &net,
            &clock,
            &mut server,
            &mut echo,
            &mut periodic,
            &mut raws,
            retry,
        );
        check(&echo, &periodic);
    }
    drain(
        &net,
        &clock,
        &mut server,
        &mut echo,
        &mut periodic,
        &mut raws,
        retry,
    );
}

fn raw(net: &MockNetwork, k: usize) -> Raw<'_> {
    let mut stack = net.stack(client_ip(k));
    let mut socket = UdpClientStack::socket(&mut stack).unwrap_or_else(|e| panic!("{e:?}"));
    UdpFullStack::bind(&mut stack, &mut socket, 0).unwrap_or_else(|e| panic!("{e:?}"));
    Raw {
        stack,
        socket,
        sent: Vec::new(),
    }
}

type Server<'n> = EchoServer<MockStack<'n>, RecordingDisplay>;

fn poll_server(server: &mut Server<'_>, echo: &mut Echo, now: Instant) {
    let _ = server.poll(now);
    let _ = match echo {
        Echo::Small(e) => server.poll_udp(e, now),
        Echo::Deep(e) => server.poll_udp(e, now),
    };
}

#[allow(clippy::too_many_arguments)]
fn step(
    input: &mut Cursor<'_>,
    net: &MockNetwork,
    clock: &MockClock,
    server: &mut Server<'_>,
    echo: &mut Echo,
    periodic: &mut UdpPeriodicClient<MockStack<'_>, &MockClock>,
    raws: &mut [Raw<'_>],
    retry: Duration,
) {
    let op = input.byte();
    let k = usize::from(op >> 4) % CLIENTS;
    match op & 15 {
        0 | 1 => send(input, &mut raws[k]),
        2 => read(input, &mut raws[k]),
        3..=5 => {
            jump(input, clock, retry);
            poll_server(server, echo, clock.now_instant());
        }
        6 | 7 => {
            jump(input, clock, retry);
            let _ = periodic.poll();
        }
        8 => {
            let faults = DatagramFaults {
                lose_per_mille: u16::from(input.byte()) * 2,
                duplicate_per_mille: u16::from(input.byte()) * 2,
                reorder_per_mille: u16::from(input.byte()) * 2,
            };
            host(net, k, op).datagram_faults(input.u64(), faults);
        }
        9 => host(net, k, op).would_block_next(Op::SendTo, u32::from(input.byte() & 7)),
        10 => host(net, k, op).would_block_next(Op::ReceiveFrom, u32::from(input.byte() & 7)),
        11 => host(net, k, op).fail_next(Op::SendTo, u32::from(input.byte() & 3), error(input)),
        12 => {
            host(net, k, op).fail_next(Op::ReceiveFrom, u32::from(input.byte() & 3), error(input))
        }
        13 => host(net, k, op).chaos(input.u64(), u16::from(input.byte()) * 3),
        14 => host(net, k, op).clear_faults(),
        _ => {
            poll_server(server, echo, clock.now_instant());
            let _ = periodic.poll();
        }
    }
}

/// The host a fault step aims at: the server, the periodic client or a raw client.
fn host(net: &MockNetwork, k: usize, op: u8) -> MockStack<'_> {
    match op >> 6 {
        0 => net.stack(SERVER_IP),
        1 => net.stack(PERIODIC_IP),
        _ => net.stack(client_ip(k)),
    }
}

fn error(input: &mut Cursor<'_>) -> MockError {
    match input.byte() % 4 {
        0 => MockError::Injected,
        1 => MockError::ConnectionRefused,
        2 => MockError::Reset,
        _ => MockError::InvalidState,
    }
}

fn jump(input: &mut Cursor<'_>, clock: &MockClock, retry: Duration) {
    let now = clock.now_instant();
    match input.byte() % 6 {
        0 => {}
        1 => clock.advance(Duration::from_millis(1)),
        2 => clock.advance(Duration::from_millis(u64::from(input.byte()))),
        3 => clock.advance(retry),
        4 => clock.advance(Duration::from_secs(1)),
        // Backwards: a clock that steps back must not break anything.
        _ => clock.set(Instant::from_millis(
            now.total_millis().saturating_sub(u64::from(input.byte())),
        )),
    }
}

/// A datagram of any length up to twice the echo's buffer, tagged with the client
/// and its number so that no two are alike.
fn send(input: &mut Cursor<'_>, raw: &mut Raw<'_>) {
    let len = usize::from(input.byte()) % (2 * BUF);
    let seed = input.byte();
    let number = raw.sent.len();
    let datagram: Vec<u8> = (0..len)
        .map(|i| match i {
            0 => number as u8,
            1 => (number >> 8) as u8,
            _ => seed.wrapping_add(i as u8),
        })
        .collect();
    let to = SocketAddr::new(SERVER_IP, PORT);
    if UdpFullStack::send_to(&mut raw.stack, &mut raw.socket, to, &datagram).is_ok() {
        raw.sent.push(datagram);
    }
}

/// Reads every datagram waiting, into a buffer of any size, and checks each.
fn read(input: &mut Cursor<'_>, raw: &mut Raw<'_>) {
    let mut buf = vec![0u8; 1 + usize::from(input.byte()) % (2 * BUF)];
    for _ in 0..64 {
        match UdpClientStack::receive(&mut raw.stack, &mut raw.socket, &mut buf) {
            Ok((n, from)) => {
                assert_eq!(
                    from,
                    SocketAddr::new(SERVER_IP, PORT),
                    "a datagram from elsewhere"
                );
                let got = &buf[..n];
                let sent = raw
                    .sent
                    .iter()
                    .find(|d| d.starts_with(got) && (d.len() == n || n == buf.len()));
                let Some(sent) = sent else {
                    panic!("a datagram this client never sent: {got:?}");
                };
                assert!(
                    sent.len() < BUF,
                    "a datagram that filled the buffer came back"
                );
            }
            Err(nb::Error::WouldBlock) => break,
            // Only an injected fault: the datagram, if any, is still there.
            Err(nb::Error::Other(_)) => break,
        }
    }
}

fn queued(echo: &Echo) -> (nal_echo::UdpStats, usize, usize) {
    match echo {
        Echo::Small(e) => (*e.stats(), e.queued(), 1),
        Echo::Deep(e) => (*e.stats(), e.queued(), 3),
    }
}

fn check(echo: &Echo, periodic: &UdpPeriodicClient<MockStack<'_>, &MockClock>) {
    let (s, queued, capacity) = queued(echo);
    assert!(queued <= capacity);
    assert_eq!(
        s.datagrams_in,
        s.datagrams_out + s.dropped + queued as u32,
        "{s:?}"
    );
    let c = periodic.stats();
    assert_eq!(c.mismatches, 0, "{c:?}");
    assert!(c.late <= c.lost, "{c:?}");
    assert!(c.echoed + c.lost - c.late <= c.sent, "{c:?}");
}

/// Clears the faults, moves time past every retry and echo timeout, and polls
/// until nothing is queued.
fn drain(
    net: &MockNetwork,
    clock: &MockClock,
    server: &mut Server<'_>,
    echo: &mut Echo,
    periodic: &mut UdpPeriodicClient<MockStack<'_>, &MockClock>,
    raws: &mut [Raw<'_>],
    retry: Duration,
) {
    net.stack(SERVER_IP).clear_faults();
    net.stack(PERIODIC_IP).clear_faults();
    for k in 0..CLIENTS {
        net.stack(client_ip(k)).clear_faults();
    }
    for _ in 0..8 {
        clock.advance(retry);
        poll_server(server, echo, clock.now_instant());
        let _ = periodic.poll();
        check(echo, periodic);
    }
    let mut cursor = Cursor(&[]);
    for raw in raws.iter_mut() {
        read(&mut cursor, raw);
    }
    assert_eq!(
        queued(echo).1,
        0,
        "echoes left queued with no fault in the way"
    );
}
