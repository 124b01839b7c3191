//! A load tool to point at an echo server (a board, or the `server` example): many
//! clients connect, send random messages, verify every echo byte for byte, close
//! after a random number of messages and connect again, until the time is up.
//!
//! ```text
//! cargo run --release --example soak -- --connect HOST:PORT [--clients N]
//!        [--seconds S] [--max-len N] [--max-messages N] [--hang-timeout S]
//!        [--ramp S] [--seed N] [--json] [--udp]
//! ```
//!
//! * `--connect HOST:PORT`: the echo server (HOST: IP or name; IPv6 as `[::1]:5001`).
//! * `--clients N`: clients looping at once, each on its own thread, 1 to 1024.
//!   Default 64.
//! * `--seconds S`: how long clients start new messages (decimal). Default 60.
//! * `--max-len N`: each message is 1 to N random bytes, N from 1 to 16384. Default
//!   2048. (A client writes a whole message before it reads the echo, so a message
//!   must fit in the buffers between it and the server; 16 KiB does.)
//! * `--max-messages N`: each connection sends 1 to N messages, then closes. Default 32.
//! * `--hang-timeout S`: how long the server has to answer (decimal, > 0). Default 5.
//! * `--ramp S`: start the clients evenly over S seconds (decimal) instead of all at
//!   once. Default 0: the first connects come as one burst, which is part of the
//!   test (a board must close at once whoever it will not serve); a ramp tells what
//!   the burst costs.
//! * `--seed N`: the random generator's seed (default: from the clock). The same
//!   seed gives every client the same lengths, bytes and message counts; timing
//!   still differs from run to run.
//! * `--json`: after the summary line, the same figures as one JSON object.
//! * `--udp`: datagrams instead of connections (see [UDP](#udp) below).
//!
//! # What is counted
//!
//! Each connection sends its messages one at a time: the next is sent once the
//! previous one's echo is complete. The message sent and not yet fully echoed is the
//! *pending* message; from its first byte written, the server has the hang timeout
//! to echo all of it or to close the connection.
//!
//! * **connects**: TCP connections established.
//! * **served**: connections that got at least one echoed byte.
//! * **refused**: connections closed or reset by the server before any echoed byte,
//!   and connection attempts the server reset (`connection refused`). The server
//!   example (and the board) close at once a client they have no slot for.
//! * **hangs**: connections that got neither the whole echo of their pending message
//!   nor a close or reset from the server within the hang timeout, and connection
//!   attempts not answered within it. Among them:
//!   * `connecting`: the connection attempt was not answered in time;
//!   * `first-message`: connected, not yet served;
//!   * `unacked`: connected, but the server's TCP did not acknowledge one byte
//!     written (Linux only: `TCP_INFO`; 0 elsewhere). The handshake completed on
//!     the client's side only: the server's listen queue was full and dropped the
//!     last ACK, so the connection never reached the server program. QEMU's user
//!     networking listens for its port forward with a backlog of 1, so a burst of
//!     connects to a board behind it ends like this before the board sees a SYN.
//! * **corrupt**: echoed bytes that differ from the byte sent at their place. The
//!   connection is closed at the first wrong byte; the rest of that echo is not
//!   counted.
//! * **lost**: bytes written on a served connection that had not come back when the
//!   server closed or reset it.
//! * **errors**: connection attempts that failed otherwise (e.g. no local port free),
//!   and local socket failures; printed on stderr, at most ten.
//! * **messages**, **bytes**: messages and bytes echoed complete and correct;
//!   **msgs/s**: messages per second of the run (from the start to the last client's
//!   end); **rtt**: from a message's first byte written to its echo's last byte read
//!   (p50 and p99, within 3 %).
//!
//! # Output
//!
//! stdout: first `soak: seed S, N clients, S s, max-len N, against ADDR`, then at the
//! end one summary line:
//!
//! ```text
//! messages 1200, msgs/s 200.0, bytes 1228800, connects 900, served 100, refused 800, hangs 0, hangs connecting 0, hangs first-message 0, hangs unacked 0, corrupt 0, lost 0, errors 0, rtt p50 1.20 ms, rtt p99 9.80 ms
//! ```
//!
//! and with `--json` the same figures as one JSON object, named in snake case
//! (`{"messages":1200,"msgs_per_s":200.0,...,"hangs_first_message":0,...,
//! "rtt_p99_ms":9.80,"seconds":6.0}`), `seconds` being the run's length.
//! Each hang is also described on stderr (`soak: hang: local port P, <phase>, given
//! up <t> s into the run`), so that it can be found in a capture.
//! A run takes the given seconds plus at most the hang timeout (the last messages).
//!
//! Exit code 0 only if hangs, corrupt and lost are 0 and at least one message was
//! echoed; 1 otherwise; 2 on bad arguments (message and usage on stderr).
//!
//! # UDP
//!
//! With `--udp` each client sends datagrams from one socket, one at a time: 8 to
//! `--max-len` bytes (at least 8), the first 8 the client's number and the
//! datagram's, the rest random. The next goes once the echo came, or after the hang
//! timeout without it. `--max-messages` and `--ramp` do not apply. Counted:
//! **datagrams** echoed whole and unchanged (and their **bytes**, **dgrams/s**,
//! **rtt**); **lost**: datagrams whose echo did not come within the hang timeout;
//! **late**: echoes that came after that; **duplicates**: a second echo of one
//! datagram; **corrupt**: echoes that are no datagram the client sent (a changed
//! byte, a cut datagram); **errors**: failed socket calls (an ICMP error: nobody
//! answers on that port). The summary line:
//!
//! ```text
//! datagrams 9000, dgrams/s 1500.0, bytes 9216000, lost 0, late 0, duplicates 0, corrupt 0, errors 0, rtt p50 0.20 ms, rtt p99 1.10 ms
//! ```
//!
//! and with `--json` the same as one JSON object. Exit code 0 only if lost,
//! corrupt and errors are 0 and at least one datagram was echoed: on loopback or a
//! LAN nothing is lost; over a lossy path a lost datagram is the path's, and the
//! tool reports it all the same.

use nal_echo_host as support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::args::Args;

#[path = "soak/udp.rs"]
mod udp;

const USAGE: &str = "\
usage: cargo run --release --example soak -- --connect HOST:PORT [--clients N]
         [--seconds S] [--max-len N] [--max-messages N] [--hang-timeout S]
         [--ramp S] [--seed N] [--json] [--udp]

  --connect HOST:PORT  the echo server (HOST: IP or name; IPv6 as [::1]:5001)
  --clients N          clients looping at once, 1 to 1024 (default 64)
  --seconds S          how long clients start new messages (default 60)
  --max-len N          messages are 1 to N random bytes, N <= 16384 (default 2048)
  --max-messages N     each connection sends 1 to N messages (default 32)
  --hang-timeout S     time the server has to echo or close (default 5)
  --ramp S             start the clients over S seconds, not at once (default 0)
  --seed N             random seed (default: from the clock)
  --json               also print the summary as a JSON line
  --udp                datagrams (8 to --max-len bytes) instead of connections
  -h, --help           this text

stdout: the seed and settings, then one summary line. Exit 0 only if no
connection hung, no byte came back wrong and none was lost.
";

const MAX_CLIENTS: usize = 1024;
/// See `--max-len` in the module docs: a message must fit in the path's buffers.
const MAX_LEN: usize = 16 * 1024;
/// Local failures printed on stderr; the rest are only counted.
const ERRORS_SHOWN: usize = 10;
/// Pause after a local failure, so a persistent one (no free port) does not spin.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

struct Options {
    addr: SocketAddr,
    clients: usize,
    run_for: Duration,
    max_len: usize,
    max_messages: u32,
    hang_timeout: Duration,
    ramp: Duration,
    seed: u64,
    json: bool,
    udp: bool,
}

fn parse() -> Options {
    let mut args = Args::from_env("soak", USAGE);
    let mut connect = None;
    let mut opts = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], support::DEFAULT_PORT)),
        clients: 64,
        run_for: Duration::from_secs(60),
        max_len: 2048,
        max_messages: 32,
        hang_timeout: Duration::from_secs(5),
        ramp: Duration::ZERO,
        seed: clock_seed(),
        json: false,
        udp: false,
    };
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
            "--connect" => connect = Some(args.value(flag)),
            "--clients" => {
                opts.clients = args.parse(flag, "a number");
                if !(1..=MAX_CLIENTS).contains(&opts.clients) {
                    args.fail(format_args!("--clients: must be 1 to {MAX_CLIENTS}"));
                }
            }
            "--seconds" => opts.run_for = args.seconds(flag),
            "--max-len" => {
                opts.max_len = args.parse(flag, "a number");
                if !(1..=MAX_LEN).contains(&opts.max_len) {
                    args.fail(format_args!("--max-len: must be 1 to {MAX_LEN}"));
                }
            }
            "--max-messages" => {
                opts.max_messages = args.parse(flag, "a number");
                if opts.max_messages == 0 {
                    args.fail("--max-messages: must be at least 1");
                }
            }
            "--hang-timeout" => {
                opts.hang_timeout = args.seconds(flag);
                if opts.hang_timeout.is_zero() {
                    args.fail("--hang-timeout: must be more than 0");
                }
            }
            "--ramp" => opts.ramp = args.seconds(flag),
            "--seed" => opts.seed = args.parse(flag, "a number (0 to 2^64-1)"),
            "--json" => {
                args.switch(&flag);
                opts.json = true;
            }
            "--udp" => {
                args.switch(&flag);
                opts.udp = true;
            }
            _ => args.unknown(&flag),
        }
    }
    if opts.udp && opts.max_len < udp::HEADER {
        args.fail(format_args!(
            "--max-len: a datagram is at least {} bytes",
            udp::HEADER
        ));
    }
    let Some(connect) = connect else {
        args.fail("--connect HOST:PORT is required")
    };
    opts.addr = match connect.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) | Err(_) => args.fail(format_args!("--connect: cannot resolve '{connect}'")),
    };
    opts
}

fn clock_seed() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(1, |d| d.as_nanos() as u64)
}

fn main() -> ExitCode {
    let opts = parse();
    if opts.udp {
        return udp::run(&opts);
    }
    println!(
        "soak: seed {}, {} clients, {} s, max-len {}, against {}",
        opts.seed,
        opts.clients,
        opts.run_for.as_secs_f64(),
        opts.max_len,
        opts.addr
    );
    let started = Instant::now();
    let stop_at = started + opts.run_for;
    let errors_shown = AtomicUsize::new(0);
    let totals = thread::scope(|scope| {
        let workers: Vec<_> = (0..opts.clients)
            .map(|i| {
                let client = Client {
                    opts: &opts,
                    start_at: started + opts.ramp.mul_f64(i as f64 / opts.clients as f64),
                    rng: Rng::for_client(opts.seed, i),
                    started,
                    stop_at,
                    errors_shown: &errors_shown,
                };
                scope.spawn(move || client.run())
            })
            .collect();
        let mut totals = Tally::default();
        for worker in workers {
            match worker.join() {
                Ok(tally) => totals.add(tally),
                Err(_) => totals.errors += 1,
            }
        }
        totals
    });
    let summary = Summary::of(totals, started.elapsed());
    println!("{}", summary.line());
    if opts.json {
        println!("{}", summary.json());
    }
    if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One client's counts (see the module docs for each).
#[derive(Default)]
struct Tally {
    messages: u64,
    bytes: u64,
    connects: u64,
    served: u64,
    refused: u64,
    hangs: u64,
    hangs_connecting: u64,
    hangs_first_message: u64,
    hangs_unacked: u64,
    corrupt: u64,
    lost: u64,
    errors: u64,
    rtt: RttHistogram,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.connects += other.connects;
        self.served += other.served;
        self.refused += other.refused;
        self.hangs += other.hangs;
        self.hangs_connecting += other.hangs_connecting;
        self.hangs_first_message += other.hangs_first_message;
        self.hangs_unacked += other.hangs_unacked;
        self.corrupt += other.corrupt;
        self.lost += other.lost;
        self.errors += other.errors;
        self.rtt.add(&other.rtt);
    }
}

/// How one connection ended.
enum End {
    /// All its messages were echoed; the client closed it.
    Done,
    /// The server closed or reset it; `unechoed` bytes written had not come back.
    ClosedByServer { unechoed: usize },
    /// Neither the echo nor a close within the hang timeout.
    Hang,
    /// An echoed byte differed (`wrong` of the bytes read were wrong).
    Corrupt { wrong: usize },
    /// A local failure (not the server's doing).
    Error(std::io::Error),
}

struct Client<'a> {
    opts: &'a Options,
    start_at: Instant,
    rng: Rng,
    started: Instant,
    stop_at: Instant,
    errors_shown: &'a AtomicUsize,
}

/// One connection's progress.
struct Conn {
    stream: TcpStream,
    served: bool,
}

impl Client<'_> {
    fn run(mut self) -> Tally {
        let mut tally = Tally::default();
        // Pacing the load, not waiting for an event: a ramp is a schedule.
        thread::sleep(self.start_at.saturating_duration_since(Instant::now()));
        let mut message = vec![0u8; self.opts.max_len];
        let mut echo = vec![0u8; self.opts.max_len];
        while Instant::now() < self.stop_at {
            let stream = match TcpStream::connect_timeout(&self.opts.addr, self.opts.hang_timeout) {
                Ok(stream) => stream,
                Err(e) => {
                    self.count_connect_error(e, &mut tally);
                    continue;
                }
            };
            tally.connects += 1;
            // A message is written whole before its echo is read: Nagle would hold
            // its last segment back until the first is acknowledged.
            if let Err(e) = stream.set_nodelay(true) {
                self.count_error(e, &mut tally);
                continue;
            }
            let mut conn = Conn {
                stream,
                served: false,
            };
            let count = self.rng.below(self.opts.max_messages as u64) + 1;
            let end = self.converse(&mut conn, count, &mut message, &mut echo, &mut tally);
            self.count_end(end, &conn, &mut tally);
        }
        tally
    }

    fn count_connect_error(&self, e: std::io::Error, tally: &mut Tally) {
        match e.kind() {
            ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => tally.refused += 1,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                tally.hangs += 1;
                tally.hangs_connecting += 1;
                self.describe_hang(None, "connecting");
            }
            _ => {
                self.count_error(e, tally);
            }
        }
    }

    fn count_error(&self, e: std::io::Error, tally: &mut Tally) {
        tally.errors += 1;
        if self.errors_shown.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
            eprintln!("soak: error: {e}");
        }
        thread::sleep(ERROR_PAUSE);
    }

    fn describe_hang(&self, local: Option<SocketAddr>, phase: &str) {
        let at = self.started.elapsed().as_secs_f64();
        let port = local.map_or_else(|| "?".to_string(), |a| a.port().to_string());
        eprintln!("soak: hang: local port {port}, {phase}, given up {at:.3} s into the run");
    }

    fn count_end(&self, end: End, conn: &Conn, tally: &mut Tally) {
        if conn.served {
            tally.served += 1;
        }
        match end {
            End::Done => {}
            End::ClosedByServer { unechoed } if conn.served => tally.lost += unechoed as u64,
            End::ClosedByServer { .. } => tally.refused += 1,
            End::Hang => {
                tally.hangs += 1;
                let unacked = data_acked(&conn.stream) == Some(false);
                let phase = match (conn.served, unacked) {
                    (_, true) => "connected, no byte acknowledged by the server",
                    (false, false) => "connected, first message not echoed",
                    (true, false) => "served, message not echoed",
                };
                tally.hangs_unacked += u64::from(unacked);
                tally.hangs_first_message += u64::from(!conn.served);
                self.describe_hang(conn.stream.local_addr().ok(), phase);
            }
            End::Corrupt { wrong } => tally.corrupt += wrong as u64,
            End::Error(e) => self.count_error(e, tally),
        }
    }

    /// Sends `count` messages one after another (fewer if the time is up), each
    /// verified before the next.
    fn converse(
        &mut self,
        conn: &mut Conn,
        count: u64,
        message: &mut [u8],
        echo: &mut [u8],
        tally: &mut Tally,
    ) -> End {
        for _ in 0..count {
            if Instant::now() >= self.stop_at {
                break;
            }
            let len = self.rng.below(message.len() as u64) as usize + 1;
            let message = &mut message[..len];
            self.rng.fill(message);
            let sent_at = Instant::now();
            let deadline = sent_at + self.opts.hang_timeout;
            if let Some(end) = exchange(conn, message, &mut echo[..len], deadline) {
                return end;
            }
            tally.messages += 1;
            tally.bytes += len as u64;
            let rtt_us = sent_at.elapsed().as_micros();
            tally.rtt.record(u64::try_from(rtt_us).unwrap_or(u64::MAX));
        }
        End::Done
    }
}

/// Writes `message` and reads its echo into `echo` by `deadline`; `None` once all of
/// it came back right, else how the connection ended.
fn exchange(conn: &mut Conn, message: &[u8], echo: &mut [u8], deadline: Instant) -> Option<End> {
    let mut written = 0;
    while written < message.len() {
        if let Err(end) = set_timeouts(&conn.stream, deadline) {
            return Some(end);
        }
        match conn.stream.write(&message[written..]) {
            Ok(0) => return Some(End::ClosedByServer { unechoed: written }),
            Ok(n) => written += n,
            Err(e) => return Some(io_end(e, written)),
        }
    }
    let mut read = 0;
    while read < message.len() {
        if let Err(end) = set_timeouts(&conn.stream, deadline) {
            return Some(end);
        }
        match conn.stream.read(&mut echo[read..]) {
            Ok(0) => {
                return Some(End::ClosedByServer {
                    unechoed: written - read,
                })
            }
            Ok(n) => {
                conn.served = true;
                let wrong = echo[read..read + n]
                    .iter()
                    .zip(&message[read..read + n])
                    .filter(|(got, sent)| got != sent)
                    .count();
                if wrong > 0 {
                    return Some(End::Corrupt { wrong });
                }
                read += n;
            }
            Err(e) => return Some(io_end(e, written - read)),
        }
    }
    None
}

/// Both timeouts of `stream` to the time left until `deadline`; a hang once it passed.
fn set_timeouts(stream: &TcpStream, deadline: Instant) -> Result<(), End> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(End::Hang);
    }
    stream
        .set_read_timeout(Some(left))
        .and_then(|()| stream.set_write_timeout(Some(left)))
        .map_err(End::Error)
}

/// A failed read or write: the server's close, the hang timeout, or a local error.
fn io_end(e: std::io::Error, unechoed: usize) -> End {
    match e.kind() {
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::UnexpectedEof => End::ClosedByServer { unechoed },
        ErrorKind::WouldBlock | ErrorKind::TimedOut => End::Hang,
        _ => End::Error(e),
    }
}

/// Whether the server's TCP acknowledged at least one byte written on `stream`;
/// `None` where that cannot be asked.
#[cfg(target_os = "linux")]
fn data_acked(stream: &TcpStream) -> Option<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero tcp_info is valid (integers only), and getsockopt writes at
    // most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let got = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    // Older kernels fill less of the struct; bytes_acked needs Linux 4.1. The SYN
    // counts as one byte acknowledged.
    let needed = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + 8;
    (got == 0 && len as usize >= needed).then_some(info.tcpi_bytes_acked > 1)
}

#[cfg(not(target_os = "linux"))]
fn data_acked(_stream: &TcpStream) -> Option<bool> {
    None
}

/// The figures of a whole run.
struct Summary {
    tally: Tally,
    elapsed: Duration,
    p50_ms: f64,
    p99_ms: f64,
}

impl Summary {
    fn of(tally: Tally, elapsed: Duration) -> Self {
        let p50_ms = tally.rtt.percentile_ms(50);
        let p99_ms = tally.rtt.percentile_ms(99);
        Self {
            tally,
            elapsed,
            p50_ms,
            p99_ms,
        }
    }

    fn msgs_per_s(&self) -> f64 {
        self.tally.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn passed(&self) -> bool {
        let t = &self.tally;
        t.hangs == 0 && t.corrupt == 0 && t.lost == 0 && t.messages > 0
    }

    fn line(&self) -> String {
        let t = &self.tally;
        format!(
            "messages {}, msgs/s {:.1}, bytes {}, connects {}, served {}, refused {}, \
             hangs {}, hangs connecting {}, hangs first-message {}, hangs unacked {}, \
             corrupt {}, lost {}, errors {}, \
             rtt p50 {:.2} ms, rtt p99 {:.2} ms",
            t.messages,
            self.msgs_per_s(),
            t.bytes,
            t.connects,
            t.served,
            t.refused,
            t.hangs,
            t.hangs_connecting,
            t.hangs_first_message,
            t.hangs_unacked,
            t.corrupt,
            t.lost,
            t.errors,
            self.p50_ms,
            self.p99_ms
        )
    }

    fn json(&self) -> String {
        let t = &self.tally;
        format!(
            "{{\"messages\":{},\"msgs_per_s\":{:.1},\"bytes\":{},\"connects\":{},\
             \"served\":{},\"refused\":{},\"hangs\":{},\"hangs_connecting\":{},\
             \"hangs_first_message\":{},\"hangs_unacked\":{},\
             \"corrupt\":{},\"lost\":{},\"errors\":{},\"rtt_p50_ms\":{:.2},\
             \"rtt_p99_ms\":{:.2},\"seconds\":{:.1}}}",
            t.messages,
            self.msgs_per_s(),
            t.bytes,
            t.connects,
            t.served,
            t.refused,
            t.hangs,
            t.hangs_connecting,
            t.hangs_first_message,
            t.hangs_unacked,
            t.corrupt,
            t.lost,
            t.errors,
            self.p50_ms,
            self.p99_ms,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Round trips in microseconds, counted in buckets 1/16 of a power of two wide
/// (exact below 32 µs), so that a run of any length needs the same memory and a
/// percentile is within 3 % of the true one.
struct RttHistogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for RttHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; Self::bucket(u64::MAX) + 1],
            total: 0,
        }
    }
}

impl RttHistogram {
    const EXACT: u64 = 32;
    const STEPS: u64 = 16;

    fn bucket(us: u64) -> usize {
        if us < Self::EXACT {
            return us as usize;
        }
        let exp = u64::from(63 - us.leading_zeros());
        let step = (us >> (exp - 4)) & (Self::STEPS - 1);
        (Self::EXACT + (exp - 5) * Self::STEPS + step) as usize
    }

    /// The middle of bucket `i`, in microseconds.
    fn middle(i: usize) -> f64 {
        let i = i as u64;
        if i < Self::EXACT {
            return i as f64;
        }
        let exp = (i - Self::EXACT) / Self::STEPS + 5;
        let step = (i - Self::EXACT) % Self::STEPS;
        let width = 1u64 << (exp - 4);
        ((Self::STEPS + step) * width) as f64 + width as f64 / 2.0
    }

    fn record(&mut self, us: u64) {
        if let Some(count) = self.counts.get_mut(Self::bucket(us)) {
            *count += 1;
            self.total += 1;
        }
    }

    fn add(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// The `pct` percentile (nearest rank) in milliseconds; 0 without round trips.
    fn percentile_ms(&self, pct: u64) -> f64 {
        let rank = (self.total * pct).div_ceil(100).max(1);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank && count > 0 {
                return Self::middle(i) / 1000.0;
            }
        }
        0.0
    }
}

/// xorshift64*: small, fast, and reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    /// Client `i`'s generator: the seed and the index mixed (splitmix64), so clients
    /// differ and none starts from the all-zero state xorshift cannot leave.
    fn for_client(seed: u64, i: usize) -> Self {
        let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(if z == 0 { 1 } else { z })
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for load (n > 0; the modulo bias is below 2^-40).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}
