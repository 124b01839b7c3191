//! The AT stack against a fake ESP8285: the MixNo client logic (`AtStack` under the
//! library's `PeriodicClient`, as in the firmware) runs on the host, the fake modem
//! answers like the AT firmware and bridges the connection to a real loopback
//! server. Dropped links, refused connections, noise, split reads, faults inside
//! and around `+IPD` frames, and random modem output; and the same link as UDP,
//! under `UdpPeriodicClient` and a bare reader of datagrams.
//!
//! The fake serial port panics on a read with nothing to read (a real one would
//! block) and on `flush`, so every test also checks that the stack never waits.
//! Time is real (the fake modem talks to real sockets); rounds wait for the peer's
//! bytes on the socket, never sleep, and every wait is bounded in rounds and in
//! time, so a bug fails a test instead of hanging it.

mod at_support;
mod common;

use std::time::{Duration as StdDuration, Instant as StdInstant};

use at_support::{
    closed_port, EchoServer, FakeEsp, Faults, Peer, Serial, UdpEchoServer, UdpPeer, WallClock,
    PASSWORD, SSID, STATION_IP,
};
use common::saved::saving_failures;
// Not `UdpClientStack` too: `AtStack` implements both, so that its calls would need
// the trait's name. The UDP tests below call it by its path.
use embedded_nal::{nb, TcpClientStack};
use nal_echo::stack::at::{AtConfig, AtError, AtSocket, AtStack, AtUdpSocket, WifiState};
use nal_echo::time::{Clock, MockClock};
use nal_echo::{
    Backoff, ClientConfig, ClientError, ClientStats, Duration, PeriodicClient, Progress,
    UdpPeriodicClient, TUTORIAL_MESSAGES,
};
use proptest::prelude::*;

type Client = PeriodicClient<AtStack<Serial, WallClock>, WallClock>;
type UdpClient = UdpPeriodicClient<AtStack<Serial, WallClock>, WallClock>;

/// Longest any wait may take.
const PATIENCE: StdDuration = StdDuration::from_secs(15);
/// Most rounds of a wait.
const ROUNDS: usize = 1_000_000;
/// Longest wait for the peer in one round, when the serial line is idle.
const PEER_WAIT: StdDuration = StdDuration::from_millis(1);

/// Lets the modem answer, and waits for the peer when nothing else moves.
fn modem_round(esp: &mut FakeEsp) {
    esp.step();
    if esp.line_idle() {
        esp.wait_for_peer(PEER_WAIT);
    }
    std::thread::yield_now();
}

fn modem_stack(serial: Serial) -> AtStack<Serial, WallClock> {
    AtStack::new(
        serial,
        WallClock::new(),
        AtConfig::new(SSID, PASSWORD).unwrap(),
    )
}

/// The tutorial's messages every 40 ms to `remote`, with short timeouts and backoff.
fn client_config(remote: std::net::SocketAddr) -> ClientConfig {
    let mut config = ClientConfig::new(remote).with_messages(TUTORIAL_MESSAGES);
    config.period = Duration::from_millis(40);
    config.connect_timeout = Duration::from_secs(3);
    config.echo_timeout = Duration::from_secs(3);
    config.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        jitter: Duration::from_millis(20),
    };
    config
}

fn client(serial: Serial, remote: std::net::SocketAddr) -> Client {
    PeriodicClient::new(modem_stack(serial), WallClock::new(), client_config(remote))
}

/// The TCP or the UDP client over the modem, as `run_until` drives them.
trait ModemClient {
    fn stack(&mut self) -> &mut AtStack<Serial, WallClock>;
    fn poll_client(&mut self) -> Result<Progress, ClientError<AtError>>;
    fn client_stats(&self) -> &ClientStats;
}

impl ModemClient for Client {
    fn stack(&mut self) -> &mut AtStack<Serial, WallClock> {
        self.stack_mut()
    }
    fn poll_client(&mut self) -> Result<Progress, ClientError<AtError>> {
        self.poll()
    }
    fn client_stats(&self) -> &ClientStats {
        self.stats()
    }
}

impl ModemClient for UdpClient {
    fn stack(&mut self) -> &mut AtStack<Serial, WallClock> {
        self.stack_mut()
    }
    fn poll_client(&mut self) -> Result<Progress, ClientError<AtError>> {
        self.poll()
    }
    fn client_stats(&self) -> &ClientStats {
        self.stats()
    }
}

/// The firmware's main loop, with the modem's side in between: polls the stack and
/// the client, lets the modem answer, until `done`. Collects the client's errors.
fn run_until<C: ModemClient>(
    client: &mut C,
    esp: &mut FakeEsp,
    errors: &mut Vec<ClientError<AtError>>,
    what: &str,
    mut done: impl FnMut(&C, &FakeEsp) -> bool,
) {
    let start = StdInstant::now();
    for _ in 0..ROUNDS {
        if done(client, esp) {
            return;
        }
        if start.elapsed() > PATIENCE {
            break;
        }
        client.stack().poll();
        if let Err(e) = client.poll_client() {
            errors.push(e);
        }
        modem_round(esp);
    }
    let wifi = client.stack().wifi_state();
    panic!(
        "gave up waiting for {what}: {:?}, wifi {wifi:?}, errors {errors:?}, modem saw {:?}",
        client.client_stats(),
        esp.commands,
    );
}

fn count(errors: &[ClientError<AtError>], which: ClientError<AtError>) -> usize {
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
        count(&errors, ClientError::Connect(AtError::NotJoined)),
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
    // Between them, AT+CIPSTATUS confirms each echo that nothing else follows.
    let link: Vec<&String> = esp.commands[setup.len()..]
        .iter()
        .filter(|c| *c != "AT+CIPSTATUS")
        .collect();
    assert_eq!(
        *link[0],
        format!("AT+CIPSTART=\"TCP\",\"127.0.0.1\",{}", server.addr.port())
    );
    assert_eq!(link[1], "AT+CIPSEND=13");
    assert_eq!(link[2], "AT+CIPSEND=10");
    assert_eq!(esp.starts, 1);
    assert_eq!(client.stack_mut().framing_errors(), 0);
}

#[test]
fn polls_return_while_the_modem_is_silent() {
    let (mut esp, serial) = FakeEsp::new();
    let mut stack = AtStack::new(
        serial,
        WallClock::new(),
        AtConfig::new(SSID, PASSWORD).unwrap(),
    );
    let mut socket = stack.socket().unwrap();
    // The modem has not read the AT yet: nothing can have answered it.
    for _ in 0..100 {
        stack.poll();
        assert_eq!(
            stack.connect(&mut socket, closed_port()),
            Err(nb::Error::Other(AtError::NotJoined))
        );
    }
    esp.step();
    assert_eq!(esp.commands, ["AT"], "one probe, not one per call");
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
        count(&errors, ClientError::ConnectionClosed) + count(&errors, ClientError::EchoTimeout)
            >= 1,
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

    assert_eq!(
        count(&errors, ClientError::Connect(AtError::ConnectFailed)),
        2
    );
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
    assert!(count(&errors, ClientError::Connect(AtError::ConnectFailed)) >= 2);
    assert_eq!(
        count(&errors, ClientError::Connect(AtError::ConnectFailed))
            + count(&errors, ClientError::Connect(AtError::NotJoined)),
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
        count(&errors, ClientError::Connect(AtError::NotJoined)),
        errors.len()
    );
    assert_eq!(client.stack_mut().framing_errors(), 0);
}

/// A bare client of the stack: connects to `remote`, reads, and on any error
/// closes and connects again. Collects what each connection received.
struct Reader {
    stack: AtStack<Serial, WallClock>,
    socket: Option<AtSocket>,
    connected: bool,
    remote: std::net::SocketAddr,
    /// What each connection received, in order.
    received: Vec<Vec<u8>>,
}

impl Reader {
    fn new(serial: Serial, remote: std::net::SocketAddr) -> Self {
        let mut config = AtConfig::new(SSID, PASSWORD).unwrap();
        // The fake modem answers at once: a lost answer need not cost 5 s.
        config.command_timeout = Duration::from_millis(300);
        let stack = AtStack::new(serial, WallClock::new(), config);
        Self {
            stack,
            socket: None,
            connected: false,
            remote,
            received: Vec::new(),
        }
    }

    fn round(&mut self) {
        self.stack.poll();
        let mut socket = match self.socket.take() {
            Some(socket) => socket,
            None => match self.stack.socket() {
                Ok(socket) => socket,
                Err(e) => panic!("the only socket is free: {e:?}"),
            },
        };
        let ok = if self.connected {
            self.read(&mut socket)
        } else {
            match self.stack.connect(&mut socket, self.remote) {
                Ok(()) => {
                    self.connected = true;
                    self.received.push(Vec::new());
                    true
                }
                Err(nb::Error::WouldBlock) => true,
                Err(nb::Error::Other(_)) => false,
            }
        };
        if ok {
            self.socket = Some(socket);
        } else {
            self.connected = false;
            self.stack.close(socket).unwrap();
        }
    }

    fn read(&mut self, socket: &mut AtSocket) -> bool {
        let mut buf = [0u8; 97];
        for _ in 0..8 {
            match self.stack.receive(socket, &mut buf) {
                Ok(0) => return false,
                Ok(n) => self
                    .received
                    .last_mut()
                    .unwrap()
                    .extend_from_slice(&buf[..n]),
                Err(nb::Error::WouldBlock) => return true,
                Err(nb::Error::Other(_)) => return false,
            }
        }
        true
    }

    fn run(&mut self, esp: &mut FakeEsp, mut done: impl FnMut(&Reader) -> bool) -> bool {
        let start = StdInstant::now();
        for _ in 0..ROUNDS {
            if done(self) {
                return true;
            }
            if start.elapsed() > PATIENCE {
                break;
            }
            self.round();
            modem_round(esp);
        }
        false
    }
}

/// What a peer sends that looks like the modem talking.
const MODEM_LOOKALIKES: &[&[u8]] = &[
    b"\r\nCLOSED\r\n",
    b">",
    b"> ",
    b"SEND OK",
    b"\r\nSEND OK\r\n",
    b"+IPD,5:",
    b"\r\n+IPD,5:",
    b"\r\nOK\r\n",
    b"CONNECT\r\n",
    b"ready\r\n",
    b"\r\n",
    b"WIFI DISCONNECT\r\n",
];

#[test]
fn a_peer_s_modem_lookalikes_arrive_as_data() {
    let data: Vec<u8> = MODEM_LOOKALIKES.concat();
    let peer = Peer::start(data.clone());
    let (mut esp, serial) = FakeEsp::new();
    esp.max_ipd = 7;
    let mut reader = Reader::new(serial, peer.addr);
    let got_all = reader.run(&mut esp, |r| {
        r.received.first().is_some_and(|d| d.len() >= data.len())
    });
    assert!(got_all, "received {:?}", reader.received);
    assert_eq!(reader.received, [data]);
    assert_eq!(reader.stack.framing_errors(), 0);
    assert!(esp.frames > 10);
}

/// Peer data: modem lookalikes and random bytes.
fn peer_data() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            2 => proptest::sample::select(MODEM_LOOKALIKES).prop_map(<[u8]>::to_vec),
            1 => proptest::collection::vec(any::<u8>(), 1..40),
        ],
        1..24,
    )
    .prop_map(|parts| parts.concat())
}

fn faults() -> impl Strategy<Value = Faults> {
    (any::<u32>(), 0u8..20, 0u8..20, 0u8..20, 0u8..20).prop_map(
        |(seed, drop_header_byte, flip_length_digit, overrun, stray_line)| Faults {
            seed,
            drop_header_byte,
            flip_length_digit,
            overrun,
            stray_line,
        },
    )
}

proptest! {
    // Failures saved beside this file and replayed first.
    #![proptest_config(saving_failures(16))]

    /// Whatever the faults on the line (of the kinds the stack promises to catch:
    /// see `Faults`), each connection gets a prefix of what its peer sent; without
    /// faults it gets all of it, on the first connection.
    #[test]
    fn every_connection_gets_a_prefix_of_what_its_peer_sent(
        data in peer_data(),
        faults in prop_oneof![1 => Just(Faults::none()), 3 => faults()],
        max_ipd in 1usize..200,
        split in any::<u32>(),
    ) {
        let peer = Peer::start(data.clone());
        let (mut esp, serial) = FakeEsp::new();
        esp.max_ipd = max_ipd;
        esp.faults = faults;
        esp.split_reads(split);
        let clean = faults.seed == 0 && faults.overrun == 0 && faults.stray_line == 0
            && faults.drop_header_byte == 0 && faults.flip_length_digit == 0;
        let mut reader = Reader::new(serial, peer.addr);
        let done = reader.run(&mut esp, |r| {
            r.received.iter().any(|d| d.len() >= data.len()) || r.received.len() > 4
        });
        // Under faults the stack may spend its time recovering; only a clean line
        // must deliver everything in time.
        prop_assert!(done || !clean, "no progress: {:?}, modem saw {:?}", reader.received, esp.commands);
        for (i, got) in reader.received.iter().enumerate() {
            prop_assert!(
                data.starts_with(got),
                "connection {i} got {got:?}, not a prefix of {data:?} ({} faulty frames)",
                esp.faulty_frames
            );
        }
        if clean {
            prop_assert_eq!(&reader.received, &vec![data]);
            prop_assert_eq!(reader.stack.framing_errors(), 0);
        } else if esp.faulty_frames == 0 {
            prop_assert_eq!(reader.stack.framing_errors(), 0);
        }
    }
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
    // Failures saved beside this file and replayed first.
    #![proptest_config(saving_failures(32))]

    /// Whatever the modem says, in whatever pieces, the stack and the client keep
    /// going: no panic, no runaway, and never more echo than bytes on the line.
    #[test]
    fn random_modem_output_never_panics(chunks in proptest::collection::vec(modem_output(), 0..300)) {
        let clock = MockClock::new();
        let (mut esp, serial) = FakeEsp::new();
        let stack = AtStack::new(serial, &clock, AtConfig::new(SSID, PASSWORD).unwrap());
        let mut config = ClientConfig::new(([10, 0, 0, 1], 7).into()).with_messages(TUTORIAL_MESSAGES);
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
    /// connection and echo run into surprises at every stage. Nothing panics, no
    /// echo comes back wrong, and once the noise stops the client echoes again.
    #[test]
    fn noise_between_real_answers_is_survived(
        noise in proptest::collection::vec(proptest::option::weighted(0.15, modem_output()), 0..400)
    ) {
        let server = EchoServer::start();
        let clock = MockClock::new();
        let (mut esp, serial) = FakeEsp::new();
        let stack = AtStack::new(serial, &clock, AtConfig::new(SSID, PASSWORD).unwrap());
        let mut config = ClientConfig::new(server.addr).with_messages(TUTORIAL_MESSAGES);
        config.period = Duration::from_millis(100);
        let mut client = PeriodicClient::new(stack, &clock, config);
        for chunk in &noise {
            esp.step();
            if let Some(chunk) = chunk {
                esp.emit(chunk);
            }
            client.stack_mut().poll();
            let _ = client.poll();
            clock.advance(Duration::from_millis(37));
        }
        let echoed = client.stats().echoed;
        let start = StdInstant::now();
        for _ in 0..20_000 {
            if client.stats().echoed > echoed || start.elapsed() > PATIENCE {
                break;
            }
            modem_round(&mut esp);
            client.stack_mut().poll();
            let _ = client.poll();
            clock.advance(Duration::from_millis(37));
        }
        prop_assert!(
            client.stats().echoed > echoed,
            "no echo after the noise: {:?}, modem saw {:?}",
            client.stats(),
            esp.commands
        );
        prop_assert_eq!(client.stats().mismatches, 0);
    }
}

fn udp_client(serial: Serial, remote: std::net::SocketAddr) -> UdpClient {
    UdpPeriodicClient::new(modem_stack(serial), WallClock::new(), client_config(remote))
}

/// Runs the UDP client against a UDP echo server through `esp` until six
/// datagrams came back and none is in flight; checks that every one sent came
/// back, once and unchanged.
fn udp_client_echoes(esp: &mut FakeEsp, serial: Serial) -> UdpClient {
    let server = UdpEchoServer::start();
    let mut client = udp_client(serial, server.addr);
    let mut errors = Vec::new();
    run_until(
        &mut client,
        esp,
        &mut errors,
        "six echoes, none in flight",
        |c, _| c.stats().echoed >= 6 && c.in_flight() == 0,
    );
    let stats = *client.stats();
    assert_eq!(stats.sent, stats.echoed, "{stats:?}");
    assert_eq!(
        (
            stats.lost,
            stats.late,
            stats.duplicates,
            stats.mismatches,
            stats.errors
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(stats.connects, 1);
    // The only failures are attempts made before the network was joined.
    assert_eq!(
        count(&errors, ClientError::Connect(AtError::NotJoined)),
        errors.len()
    );
    assert_eq!(server.echoed(), stats.sent as usize);
    assert_eq!(client.stack_mut().framing_errors(), 0);
    let start = format!("AT+CIPSTART=\"UDP\",\"127.0.0.1\",{}", server.addr.port());
    assert_eq!(
        esp.commands.iter().filter(|c| **c == start).count(),
        1,
        "one CIPSTART, exactly {start}: {:?}",
        esp.commands
    );
    client
}

#[test]
fn the_udp_client_echoes_through_the_modem() {
    let (mut esp, serial) = FakeEsp::new();
    udp_client_echoes(&mut esp, serial);
    // Each message is one CIPSEND of its length, and one datagram.
    let sends: Vec<&String> = esp
        .commands
        .iter()
        .filter(|c| c.starts_with("AT+CIPSEND="))
        .collect();
    assert_eq!(sends[..2], ["AT+CIPSEND=13", "AT+CIPSEND=10"]);
    assert_eq!(
        esp.sent_datagrams[..2],
        [TUTORIAL_MESSAGES[0], TUTORIAL_MESSAGES[1]]
    );
    assert_eq!(esp.datagrams.len(), 1);
    assert_eq!(esp.datagrams[0], esp.sent_datagrams, "echoed one for one");
}

#[test]
fn udp_with_noise_tiny_reads_and_split_frames() {
    let (mut esp, serial) = FakeEsp::new();
    esp.noise = true;
    esp.split_reads(0x5eed);
    udp_client_echoes(&mut esp, serial);
}

/// A bare client of the stack's UDP socket: connects to `remote`, says hello (the
/// peer answers a new sender), reads datagrams, and on any error closes and
/// connects again. Collects the datagrams of each connection.
struct DatagramReader<C: Clock> {
    stack: AtStack<Serial, C>,
    socket: Option<AtUdpSocket>,
    connected: bool,
    greeted: bool,
    remote: std::net::SocketAddr,
    /// The datagrams each connection received, in order.
    received: Vec<Vec<Vec<u8>>>,
}

impl<C: Clock> DatagramReader<C> {
    fn new(serial: Serial, clock: C, remote: std::net::SocketAddr) -> Self {
        let mut config = AtConfig::new(SSID, PASSWORD).unwrap();
        // The fake modem answers at once: a lost answer need not cost 5 s.
        config.command_timeout = Duration::from_millis(300);
        Self {
            stack: AtStack::new(serial, clock, config),
            socket: None,
            connected: false,
            greeted: false,
            remote,
            received: Vec::new(),
        }
    }

    fn round(&mut self) {
        self.stack.poll();
        let mut socket = match self.socket.take() {
            Some(socket) => socket,
            None => match embedded_nal::UdpClientStack::socket(&mut self.stack) {
                Ok(socket) => socket,
                Err(e) => panic!("the only socket is free: {e:?}"),
            },
        };
        let ok = if !self.connected {
            self.connect(&mut socket)
        } else if !self.greeted {
            self.greet(&mut socket)
        } else {
            self.read(&mut socket)
        };
        if ok {
            self.socket = Some(socket);
        } else {
            self.connected = false;
            self.greeted = false;
            embedded_nal::UdpClientStack::close(&mut self.stack, socket).unwrap();
        }
    }

    fn connect(&mut self, socket: &mut AtUdpSocket) -> bool {
        let connected =
            embedded_nal::UdpClientStack::connect(&mut self.stack, socket, self.remote).is_ok();
        if connected {
            self.connected = true;
            self.received.push(Vec::new());
        }
        connected
    }

    fn greet(&mut self, socket: &mut AtUdpSocket) -> bool {
        match embedded_nal::UdpClientStack::send(&mut self.stack, socket, b"hello") {
            Ok(()) => {
                self.greeted = true;
                true
            }
            Err(nb::Error::WouldBlock) => true,
            Err(nb::Error::Other(_)) => false,
        }
    }

    fn read(&mut self, socket: &mut AtUdpSocket) -> bool {
        // Longer than any datagram of the tests: none is cut.
        let mut buf = [0u8; 512];
        for _ in 0..8 {
            match embedded_nal::UdpClientStack::receive(&mut self.stack, socket, &mut buf) {
                Ok((n, from)) => {
                    assert_eq!(from, self.remote);
                    self.received.last_mut().unwrap().push(buf[..n].to_vec());
                }
                Err(nb::Error::WouldBlock) => return true,
                Err(nb::Error::Other(_)) => return false,
            }
        }
        true
    }

    fn run(&mut self, esp: &mut FakeEsp, mut done: impl FnMut(&Self) -> bool) -> bool {
        let start = StdInstant::now();
        for _ in 0..ROUNDS {
            if done(self) {
                return true;
            }
            if start.elapsed() > PATIENCE {
                break;
            }
            self.round();
            modem_round(esp);
        }
        false
    }
}

#[test]
fn a_udp_peer_s_datagrams_arrive_whole_and_apart() {
    let mut datagrams: Vec<Vec<u8>> = MODEM_LOOKALIKES.iter().map(|d| d.to_vec()).collect();
    datagrams.push((0..=255).collect());
    let peer = UdpPeer::start(datagrams.clone());
    let (mut esp, serial) = FakeEsp::new();
    esp.split_reads(7);
    let mut reader = DatagramReader::new(serial, WallClock::new(), peer.addr);
    let got_all = reader.run(&mut esp, |r| {
        r.received
            .first()
            .is_some_and(|d| d.len() >= datagrams.len())
    });
    assert!(got_all, "received {:?}", reader.received);
    assert_eq!(reader.received, [datagrams]);
    assert_eq!(reader.stack.framing_errors(), 0);
}

/// A peer's datagrams: modem lookalikes and random bytes.
fn peer_datagrams() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(
        prop_oneof![
            2 => proptest::sample::select(MODEM_LOOKALIKES).prop_map(<[u8]>::to_vec),
            1 => proptest::collection::vec(any::<u8>(), 1..200),
        ],
        1..24,
    )
}

proptest! {
    // Failures saved beside this file and replayed first.
    #![proptest_config(saving_failures(16))]

    /// Whatever the faults on the line (those the stack promises to catch), each
    /// UDP connection gets the first datagrams its peer sent, each whole and
    /// apart; without faults it gets all of them, on the first connection.
    #[test]
    fn every_udp_connection_gets_the_first_datagrams_of_its_peer(
        datagrams in peer_datagrams(),
        faults in prop_oneof![1 => Just(Faults::none()), 3 => faults()],
        split in any::<u32>(),
    ) {
        let peer = UdpPeer::start(datagrams.clone());
        let (mut esp, serial) = FakeEsp::new();
        esp.faults = faults;
        esp.split_reads(split);
        let clean = faults.seed == 0 && faults.overrun == 0 && faults.stray_line == 0
            && faults.drop_header_byte == 0 && faults.flip_length_digit == 0;
        let mut reader = DatagramReader::new(serial, WallClock::new(), peer.addr);
        let done = reader.run(&mut esp, |r| {
            r.received.iter().any(|d| d.len() >= datagrams.len()) || r.received.len() > 4
        });
        prop_assert!(done || !clean, "no progress: {:?}, modem saw {:?}", reader.received, esp.commands);
        for (i, got) in reader.received.iter().enumerate() {
            prop_assert!(
                datagrams.starts_with(got),
                "connection {i} got {got:?}, not the first of {datagrams:?} ({} faulty frames)",
                esp.faulty_frames
            );
        }
        if clean {
            prop_assert_eq!(&reader.received, &vec![datagrams]);
            prop_assert_eq!(reader.stack.framing_errors(), 0);
        } else if esp.faulty_frames == 0 {
            prop_assert_eq!(reader.stack.framing_errors(), 0);
        }
    }
}

proptest! {
    // Failures saved beside this file and replayed first.
    #![proptest_config(saving_failures(16))]

    /// The fake modem answers properly, but noise lands between its answers while
    /// a UDP socket connects, greets and reads. Nothing panics, and once the noise
    /// stops a connection gets all the peer's datagrams, whole and apart.
    #[test]
    fn noise_between_real_answers_is_survived_over_udp(
        noise in proptest::collection::vec(proptest::option::weighted(0.15, modem_output()), 0..400)
    ) {
        let datagrams: Vec<Vec<u8>> = MODEM_LOOKALIKES.iter().map(|d| d.to_vec()).collect();
        let peer = UdpPeer::start(datagrams.clone());
        let clock = MockClock::new();
        let (mut esp, serial) = FakeEsp::new();
        let mut reader = DatagramReader::new(serial, &clock, peer.addr);
        for chunk in &noise {
            esp.step();
            if let Some(chunk) = chunk {
                esp.emit(chunk);
            }
            reader.round();
            clock.advance(Duration::from_millis(37));
        }
        // The connection open when the noise stops may be the one.
        let since = reader.received.len().saturating_sub(1);
        let start = StdInstant::now();
        for _ in 0..20_000 {
            let whole = reader.received.iter().skip(since).any(|d| *d == datagrams);
            if whole || start.elapsed() > PATIENCE {
                break;
            }
            reader.round();
            modem_round(&mut esp);
            clock.advance(Duration::from_millis(37));
        }
        prop_assert!(
            reader.received.iter().skip(since).any(|d| *d == datagrams),
            "no connection got all datagrams after the noise: {:?}, modem saw {:?}",
            reader.received,
            esp.commands
        );
    }
}

/// The modem drops the UDP link (the network went away): the stack answers every
/// call with the error until the socket is closed, so the client closes it after
/// three errors in a row, connects a new one after its backoff, and echoes again.
#[test]
fn the_udp_client_connects_a_new_link_after_the_modem_drops_one() {
    let (mut esp, serial) = FakeEsp::new();
    let server = UdpEchoServer::start();
    let mut client = udp_client(serial, server.addr);
    let mut errors = Vec::new();
    run_until(&mut client, &mut esp, &mut errors, "six echoes", |c, _| {
        c.stats().echoed >= 6
    });
    esp.drop_link();
    let echoed = client.stats().echoed;
    run_until(
        &mut client,
        &mut esp,
        &mut errors,
        "six more echoes over a new link",
        |c, _| c.stats().echoed >= echoed + 6,
    );
    let stats = *client.stats();
    assert_eq!(stats.connects, 2, "{stats:?}");
    // Three errors closed the link (other failures: attempts before the join).
    assert_eq!(stats.errors, 3, "{stats:?}");
    assert_eq!(stats.mismatches, 0);
    let starts = esp
        .commands
        .iter()
        .filter(|c| c.starts_with("AT+CIPSTART=\"UDP\""))
        .count();
    assert_eq!(starts, 2, "{:?}", esp.commands);
}
