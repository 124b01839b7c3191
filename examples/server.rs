//! The Handbit side of the tutorial on this host: an echo server on port 5001 that logs
//! its connections and shows its 128x64 screen.
//!
//! ```text
//! cargo run --example server -- [--bind ADDR] [--idle-timeout S] [--allow IP]...
//!                               [--slots N] [--threads N] [--buffer BYTES]
//!                               [--no-screen] [--png PATH] [--async]
//! ```
//!
//! * `--bind ADDR`: `IP:PORT` or `IP` (port 5001); IPv6 as `[::1]:5001` or `::1`. Port
//!   0 picks a free port. Default: port 5001 on all addresses, dual-stack (`[::]`)
//!   where the system allows, else `0.0.0.0`.
//! * `--idle-timeout S`: close connections idle for S seconds (decimal); 0 = never.
//!   Default 60.
//! * `--allow IP`: accept only these peers (repeatable, at most 8). Default: everyone.
//! * `--slots N`: clients served at once by each poll loop, 1 to 8. Default 4.
//! * `--threads N`: poll loops, each on a thread of its own with its own
//!   `EchoServer` and `StdStack`, all listening on the one port
//!   (`StdStack::with_shared_port`, `SO_REUSEPORT`); the kernel spreads the
//!   connections over them, so the server uses N cores and serves up to N × slots
//!   clients at once (a loop whose slots are full closes a new client of its own
//!   even if another loop has room). 1 to 64; default: the number of cores. Where
//!   the system cannot share a port (not Linux, Android or FreeBSD) one loop runs,
//!   and the server says so on stderr.
//! * `--buffer BYTES`: each slot's echo buffer, 1024 or 16384. Default 16384.
//! * `--no-udp`: answer TCP only. By default every loop also answers UDP on the
//!   same port (`UdpEcho`): each datagram of up to 65,507 bytes goes back to its
//!   sender whole; a larger one is counted as too large, never echoed cut.
//! * `--no-tcp`: answer UDP only.
//! * `--no-screen`: do not draw the screen in the terminal.
//! * `--png PATH`: write the screen as a PNG after each redraw (`PATH.tmp`, then
//!   renamed to `PATH`).
//! * `--async`: serve with the async front end instead: one `AsyncEchoServer`
//!   over edge-nal-std's stack on async-io, TCP only, on one thread, with the same
//!   log (its first line `listening on ADDR (async, S slots)`). `--threads`,
//!   `--no-tcp` and `--png` do not go with it; the screen is not drawn.
//!
//! # Output
//!
//! stdout is a log, one line per event, flushed line by line:
//!
//! ```text
//! listening on 127.0.0.1:5001 (2 loops x 4 slots)
//! connect 127.0.0.1:40000 slot 0
//! disconnect 127.0.0.1:40000 slot 0 (peer closed)
//! reject 127.0.0.1:40002 (slots full)
//! deny 10.0.0.7:40004 (not allowed)
//! evict 127.0.0.1:40006 slot 1 (idle)
//! ```
//!
//! The first line is always `listening on ADDR (L loops x S slots)`, printed once
//! every loop listens.
//! Disconnect reasons: `peer closed`, `pipe closed`, `error`. IPv4 peers of a
//! dual-stack listener are written as IPv4. Failures of the stack (e.g. the port is
//! taken) are printed on stderr as `error: ...` (the same one at most once a second)
//! and the server goes on trying.
//!
//! # The screen
//!
//! When stdout is a terminal and `--no-screen` is not given, the screen is drawn
//! below the log in half-block characters, with the server's counters and slots
//! beside it, and redrawn in place at most 10 times a second; log lines scroll
//! above it. Each loop draws its own screen (its clients' messages); the one that
//! changed last is shown, and the counters are those of all loops. Otherwise (stdout piped or `--no-screen`) stdout carries only the log
//! lines; `--png` still shows the screen.
//!
//! Runs until Ctrl-C (or until killed). Bad arguments: message and usage on stderr,
//! exit code 2.

use nal_echo_host as support;

#[path = "server/async_run.rs"]
mod async_run;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use nal_echo::stack::std::{IdleWait, StdStack, StdUdpSocket};
use nal_echo::{
    Duration, EchoServer, Progress, ServerConfig, ServerStats, UdpEcho, UdpStats,
    ALLOWLIST_CAPACITY,
};

use nal_echo::time::StdClock;
use support::args::Args;
use support::display::{HostDisplay, PngWriter};
use support::term::{self, TermView};
use support::ErrorLog;

const USAGE: &str = "\
usage: cargo run --example server -- [--bind ADDR] [--idle-timeout S] [--allow IP]...
                                     [--slots N] [--threads N] [--buffer BYTES]
                                     [--no-udp | --no-tcp] [--no-screen] [--png PATH]
                                     [--async]

  --bind ADDR         IP:PORT or IP (port 5001), IPv6 as [::1]:5001; port 0 picks
                      a free port (default: port 5001 on all addresses)
  --idle-timeout S    close connections idle for S seconds, 0 = never (default 60)
  --allow IP          accept only these peers (repeatable, at most 8)
  --slots N           clients served at once by each loop, 1 to 8 (default 4)
  --threads N         poll loops sharing the port, 1 to 64 (default: the cores)
  --buffer BYTES      each slot's echo buffer, 1024 or 16384 (default 16384)
  --no-udp            answer TCP only (default: TCP and UDP on the same port)
  --no-tcp            answer UDP only
  --no-screen         do not draw the screen in the terminal
  --png PATH          write the screen as a PNG after each redraw
  --async             the async front end (AsyncEchoServer on edge-nal-std):
                      TCP only, one thread, no screen
  -h, --help          this text

stdout: 'listening on ADDR (L loops x S slots)' (', UDP too' before the ')' with
UDP; 'listening on ADDR (L loops, UDP only)' without TCP), then one line per
connect, disconnect, reject, deny and evict. Runs until Ctrl-C.
";

/// Most slots `--slots` accepts (each is a separate build of the server).
const MAX_SLOTS: usize = 8;
/// Most loops `--threads` accepts.
const MAX_THREADS: usize = 64;
/// The default echo buffer of a slot. A host has the memory, and a 16 KiB buffer
/// moves about seven times the bytes per second of 1 KiB through one poll thread
/// (`cargo bench --bench echo`).
const BUF: usize = 16 * 1024;
/// Datagrams waiting for their echo, per loop.
const UDP_QUEUE: usize = 4;
/// One more than the largest IPv4 datagram, 65,507 bytes: a datagram that fills
/// the buffer may have been cut (see `UdpEcho`).
const UDP_BUF: usize = 65_508;
/// The library's default buffer, the tutorial's `recv(1024)`.
const SMALL_BUF: usize = 1024;
/// Redraws of the terminal view are at least this far apart.
const RENDER_INTERVAL: StdDuration = StdDuration::from_millis(100);
/// The longest a loop sleeps: its only timer is the idle timeout (seconds), and it
/// sees Ctrl-C this late at most. Every loop wakes this often when idle, so it sets
/// what an idle server costs.
const LONGEST_SLEEP: Duration = Duration::from_millis(100);
/// A loop hands its counters and screen to the main thread at most this often.
const PUBLISH_INTERVAL: StdDuration = StdDuration::from_millis(50);

struct Options {
    bind: Option<(IpAddr, u16)>,
    idle_timeout: Option<Option<Duration>>,
    allow: Vec<IpAddr>,
    slots: usize,
    threads: usize,
    buffer: usize,
    tcp: bool,
    udp: bool,
    screen: bool,
    png: Option<PathBuf>,
    asynchronous: bool,
    threads_given: bool,
}

fn parse() -> Options {
    let mut args = Args::from_env("server", USAGE);
    let mut opts = Options {
        bind: None,
        idle_timeout: None,
        allow: Vec::new(),
        slots: 4,
        threads: thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
        buffer: BUF,
        tcp: true,
        udp: true,
        screen: true,
        png: None,
        asynchronous: false,
        threads_given: false,
    };
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
            "--bind" => {
                let value = args.value(flag);
                match parse_bind(&value) {
                    Some(bind) => opts.bind = Some(bind),
                    None => args.fail(format_args!(
                        "--bind: '{value}' is not IP:PORT or IP (IPv6 as [::1]:5001)"
                    )),
                }
            }
            "--idle-timeout" => {
                let secs = args.seconds(flag);
                let ms = u64::try_from(secs.as_millis()).unwrap_or(u64::MAX);
                opts.idle_timeout = Some((ms > 0).then(|| Duration::from_millis(ms)));
            }
            "--allow" => {
                let ip: IpAddr = args.parse(flag, "an IP address");
                if opts.allow.len() == ALLOWLIST_CAPACITY {
                    args.fail(format_args!(
                        "--allow: at most {ALLOWLIST_CAPACITY} addresses"
                    ));
                }
                opts.allow.push(ip);
            }
            "--slots" => {
                let n: usize = args.parse(flag, "a number");
                if !(1..=MAX_SLOTS).contains(&n) {
                    args.fail(format_args!("--slots: must be 1 to {MAX_SLOTS}"));
                }
                opts.slots = n;
            }
            "--threads" => {
                let n: usize = args.parse(flag, "a number");
                if !(1..=MAX_THREADS).contains(&n) {
                    args.fail(format_args!("--threads: must be 1 to {MAX_THREADS}"));
                }
                opts.threads = n;
                opts.threads_given = true;
            }
            "--buffer" => {
                let n: usize = args.parse(flag, "a number");
                if n != SMALL_BUF && n != BUF {
                    args.fail(format_args!("--buffer: must be {SMALL_BUF} or {BUF}"));
                }
                opts.buffer = n;
            }
            "--no-udp" | "--no-tcp" => {
                args.switch(&flag);
                if flag.name == "--no-udp" {
                    opts.udp = false;
                } else {
                    opts.tcp = false;
                }
                if !(opts.tcp || opts.udp) {
                    args.fail(format_args!(
                        "--no-udp and --no-tcp: nothing would be answered"
                    ));
                }
            }
            "--no-screen" => {
                args.switch(&flag);
                opts.screen = false;
            }
            "--png" => opts.png = Some(PathBuf::from(args.value(flag))),
            "--async" => {
                args.switch(&flag);
                opts.asynchronous = true;
            }
            _ => args.unknown(&flag),
        }
    }
    if opts.asynchronous && (opts.threads_given || !opts.tcp || opts.png.is_some()) {
        args.fail("--async serves TCP on one thread without a screen: not with --threads, --no-tcp or --png");
    }
    opts
}

/// `IP:PORT`, `IP`, `[IPv6]:PORT` or `[IPv6]`.
fn parse_bind(value: &str) -> Option<(IpAddr, u16)> {
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Some((addr.ip(), addr.port()));
    }
    let ip = value.strip_prefix('[').and_then(|v| v.strip_suffix(']'));
    let ip: IpAddr = ip.unwrap_or(value).parse().ok()?;
    Some((ip, support::DEFAULT_PORT))
}

/// `run::<SLOTS, BUF>` for the options' slots and buffer.
macro_rules! dispatch {
    ($opts:ident, $($slots:literal)*) => {
        match ($opts.slots, $opts.buffer == SMALL_BUF) {
            $(
                ($slots, true) => run::<$slots, SMALL_BUF>($opts),
                ($slots, false) => run::<$slots, BUF>($opts),
            )*
            _ => run::<MAX_SLOTS, BUF>($opts),
        }
    };
}

fn main() -> ExitCode {
    let mut opts = parse();
    if opts.threads > 1 && !StdStack::CAN_SHARE_PORT {
        eprintln!(
            "note: --threads {}: this system cannot share a port between loops; one loop runs",
            opts.threads
        );
        opts.threads = 1;
    }
    dispatch!(opts, 1 2 3 4 5 6 7 8)
}

/// What the loops tell the main thread, which does all the printing.
enum Msg {
    Lines(Vec<String>),
    Error(String),
}

/// What a loop shows of itself: refreshed at most every [`PUBLISH_INTERVAL`].
#[derive(Default)]
struct LoopView {
    /// The listener's address, once it listens.
    listening: Option<SocketAddr>,
    stats: ServerStats,
    /// The UDP echo's counters, if the loop answers UDP.
    udp: Option<UdpStats>,
    peers: Vec<Option<SocketAddr>>,
    /// The screen, with the order in which it was last redrawn among all loops.
    screen: Option<(u64, HostDisplay)>,
}

/// The loops' views, and the order of redraws across loops.
struct Shared {
    loops: Vec<Mutex<LoopView>>,
    redraws: AtomicU64,
}

impl Shared {
    fn new(loops: usize) -> Self {
        Self {
            loops: (0..loops).map(|_| Mutex::default()).collect(),
            redraws: AtomicU64::new(0),
        }
    }

    /// A loop's view; a loop that panicked left it as consistent as any other.
    fn view(&self, i: usize) -> Option<MutexGuard<'_, LoopView>> {
        let view = self.loops.get(i)?;
        Some(view.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn views(&self) -> impl Iterator<Item = MutexGuard<'_, LoopView>> {
        (0..self.loops.len()).filter_map(|i| self.view(i))
    }
}

/// One poll loop's setup.
struct LoopSetup {
    index: usize,
    bind: Option<IpAddr>,
    config: ServerConfig,
    /// Answer UDP too.
    udp: bool,
    shared_port: bool,
    shared: Arc<Shared>,
    lines: Sender<Msg>,
    stop: Arc<AtomicBool>,
}

fn spawn_loop<const SLOTS: usize, const BUF: usize>(setup: LoopSetup) -> JoinHandle<()> {
    thread::spawn(move || serve::<SLOTS, BUF>(setup))
}

/// A poll loop: an `EchoServer` (and its `UdpEcho`) on a `StdStack` of its own,
/// until `stop`.
fn serve<const SLOTS: usize, const BUF: usize>(setup: LoopSetup) {
    let LoopSetup {
        index,
        bind,
        config,
        udp,
        shared_port,
        shared,
        lines,
        stop,
    } = setup;
    let mut stack = bind.map_or_else(StdStack::new, StdStack::bind_to);
    if shared_port {
        stack = stack.with_shared_port();
    }
    let mut idle = IdleWait::new(&stack).with_longest_sleep(LONGEST_SLEEP);
    let config_ip = config.local_ip;
    let port_zero = config.port == 0;
    let tcp = config.tcp;
    let mut server = EchoServer::<_, _, SLOTS, BUF>::sized(stack, HostDisplay::new(), config);
    let mut datagrams = DatagramPart::new(udp, port_zero && tcp);
    let clock = StdClock::new();
    let mut errors = ErrorLog::default();
    let mut publisher = Publisher::default();
    while !stop.load(Ordering::Relaxed) {
        let now = clock.instant();
        let mut progress = server.poll(now).unwrap_or_else(|e| {
            report(&mut errors, &lines, &e);
            Progress::Idle
        });
        let answered = datagrams.poll(&mut server, now, &mut errors, &lines);
        progress = progress.or(answered);
        if port_zero && publisher.listening.is_none() {
            if let Some(bound) = bound_addr(&mut server, &datagrams, tcp) {
                server.show_address(config_ip, bound.port());
                datagrams.port_known(bound.port());
            }
        }
        let events: Vec<String> =
            std::iter::from_fn(|| server.next_event().map(|e| e.to_string())).collect();
        let evented = !events.is_empty();
        if evented {
            let _ = lines.send(Msg::Lines(events));
        }
        // Said to listen once every part answers, so that a client that waits for
        // 'listening on' finds the UDP socket too.
        // The address is asked of the OS (a system call) only until it is known.
        let listening = publisher
            .listening
            .or_else(|| bound_addr(&mut server, &datagrams, tcp).filter(|_| datagrams.is_ready()));
        let changed = progress.is_busy() || evented;
        publisher.after_poll(&server, &datagrams, listening, index, &shared, changed);
        idle.after_poll(progress);
    }
    datagrams.close(&mut server);
    let _ = server.release();
}

fn report(errors: &mut ErrorLog, lines: &Sender<Msg>, error: &dyn std::fmt::Display) {
    if let Some(line) = errors.line(error) {
        let _ = lines.send(Msg::Error(line));
    }
}

type HostServer<const SLOTS: usize, const BUF: usize> =
    EchoServer<StdStack, HostDisplay, SLOTS, BUF>;
type HostUdp = UdpEcho<StdUdpSocket, UDP_QUEUE, UDP_BUF>;

/// Where the loop answers: the TCP listener's address, or without TCP the UDP
/// socket's; `None` until it is bound.
fn bound_addr<const SLOTS: usize, const BUF: usize>(
    server: &mut HostServer<SLOTS, BUF>,
    datagrams: &DatagramPart,
    tcp: bool,
) -> Option<SocketAddr> {
    if tcp {
        server.is_listening().then(|| server.local_addr()).flatten()
    } else {
        datagrams.local_addr(server)
    }
}

/// A loop's UDP echo: on the server's port, and with port 0 and TCP, on the port
/// the TCP listener was given (the UDP socket is made once that is known).
struct DatagramPart {
    echo: Option<Box<HostUdp>>,
    waits_for_port: bool,
}

impl DatagramPart {
    fn new(udp: bool, waits_for_port: bool) -> Self {
        let echo = (udp && !waits_for_port).then(|| Box::new(HostUdp::sized()));
        Self {
            echo,
            waits_for_port: udp && waits_for_port,
        }
    }

    fn port_known(&mut self, port: u16) {
        if std::mem::take(&mut self.waits_for_port) {
            self.echo = Some(Box::new(HostUdp::sized().with_port(port)));
        }
    }

    fn poll<const SLOTS: usize, const BUF: usize>(
        &mut self,
        server: &mut HostServer<SLOTS, BUF>,
        now: nal_echo::Instant,
        errors: &mut ErrorLog,
        lines: &Sender<Msg>,
    ) -> Progress {
        let Some(echo) = self.echo.as_mut() else {
            return Progress::Idle;
        };
        server.poll_udp(echo, now).unwrap_or_else(|e| {
            report(errors, lines, &e);
            Progress::Idle
        })
    }

    fn local_addr<const SLOTS: usize, const BUF: usize>(
        &self,
        server: &mut HostServer<SLOTS, BUF>,
    ) -> Option<SocketAddr> {
        self.echo.as_ref()?.local_addr(&*server.stack_mut())
    }

    /// Answers UDP, or is not meant to.
    fn is_ready(&self) -> bool {
        !self.waits_for_port && self.echo.as_ref().is_none_or(|e| e.is_bound())
    }

    fn stats(&self) -> Option<UdpStats> {
        self.echo.as_ref().map(|e| *e.stats())
    }

    fn close<const SLOTS: usize, const BUF: usize>(&mut self, server: &mut HostServer<SLOTS, BUF>) {
        if let Some(echo) = self.echo.take() {
            echo.close(server.stack_mut());
        }
    }
}

/// Hands a loop's view to the main thread when it changed, at most every
/// [`PUBLISH_INTERVAL`] (at once when it starts listening).
#[derive(Default)]
struct Publisher {
    listening: Option<SocketAddr>,
    frame: u64,
    dirty: bool,
    at: Option<StdInstant>,
}

impl Publisher {
    fn after_poll<const SLOTS: usize, const BUF: usize>(
        &mut self,
        server: &HostServer<SLOTS, BUF>,
        datagrams: &DatagramPart,
        listening: Option<SocketAddr>,
        index: usize,
        shared: &Shared,
        changed: bool,
    ) {
        let started = listening.is_some() && self.listening.is_none();
        self.listening = listening;
        self.dirty |= changed || started || server.display().frames() != self.frame;
        let due = || self.at.is_none_or(|t| t.elapsed() >= PUBLISH_INTERVAL);
        if !(started || self.dirty && due()) {
            return;
        }
        self.dirty = false;
        self.at = Some(StdInstant::now());
        let Some(mut view) = shared.view(index) else {
            return;
        };
        view.listening = listening;
        view.stats = *server.stats();
        view.udp = datagrams.stats();
        view.peers = server.peers().collect();
        if server.display().frames() != self.frame {
            self.frame = server.display().frames();
            let order = shared.redraws.fetch_add(1, Ordering::Relaxed);
            view.screen = Some((order, server.display().clone()));
        }
    }
}

fn run<const SLOTS: usize, const BUF: usize>(opts: Options) -> ExitCode {
    let (bind, mut addr) = match opts.bind {
        // Port 0 goes to the OS; the first loop tells the port once it listens.
        Some((ip, port)) => (Some(ip), SocketAddr::new(ip, port)),
        None => (None, all_addresses(support::DEFAULT_PORT)),
    };
    let mut config = ServerConfig::default()
        .with_port(addr.port())
        .with_tcp(opts.tcp);
    config.local_ip = if addr.ip().is_unspecified() {
        support::outward_ip() // what a client elsewhere would connect to
    } else {
        Some(addr.ip())
    };
    if let Some(idle) = opts.idle_timeout {
        config.idle_timeout = idle;
    }
    for ip in &opts.allow {
        // parse() allowed no more than the capacity.
        let _ = config.allowlist.push(*ip);
    }

    let stop = support::ctrl_c_flag();
    if opts.asynchronous {
        return async_run::run::<SLOTS, BUF>(addr, config, &stop);
    }
    let shared = Arc::new(Shared::new(opts.threads));
    let (lines, inbox) = mpsc::channel();
    let setup = |index: usize, config: ServerConfig| LoopSetup {
        index,
        bind,
        config,
        udp: opts.udp,
        shared_port: opts.threads > 1,
        shared: Arc::clone(&shared),
        lines: lines.clone(),
        stop: Arc::clone(&stop),
    };
    // The first loop alone until it listens: with port 0, it learns the port the
    // others then share.
    let mut loops = vec![spawn_loop::<SLOTS, BUF>(setup(0, config.clone()))];
    let mut ui = Ui::new(&opts);
    let mut held = Vec::new();
    let mut announced = false;
    while !stop.load(Ordering::SeqCst) {
        let msgs = receive(&inbox);
        let first = shared.view(0).and_then(|v| v.listening).map(|a| a.port());
        if let Some(port) = first {
            addr.set_port(port);
            if loops.len() < opts.threads {
                let config = config.clone().with_port(port);
                let rest = (1..opts.threads).map(|i| setup(i, config.clone()));
                loops.extend(rest.map(spawn_loop::<SLOTS, BUF>));
            }
        }
        if !announced
            && loops.len() == opts.threads
            && shared.views().all(|v| v.listening.is_some())
        {
            announced = true;
            let line = format!("listening on {addr} ({})", what_answers::<SLOTS>(&opts));
            held.insert(0, Msg::Lines(vec![line]));
        }
        held.extend(msgs);
        // Errors at once; log lines only after 'listening on', which comes first.
        let (errors, log): (Vec<Msg>, Vec<Msg>) =
            held.drain(..).partition(|m| matches!(m, Msg::Error(_)));
        ui.print(errors);
        if announced {
            ui.print(log);
        } else {
            held = log;
        }
        ui.render(&shared, &addr);
    }
    drop(ui);
    for handle in loops {
        let _ = handle.join();
    }
    ExitCode::SUCCESS
}

/// The end of the 'listening on' line: loops, slots and transports.
fn what_answers<const SLOTS: usize>(opts: &Options) -> String {
    let loops = opts.threads;
    match (opts.tcp, opts.udp) {
        (true, true) => format!("{loops} loops x {SLOTS} slots, UDP too"),
        (true, false) => format!("{loops} loops x {SLOTS} slots"),
        (false, _) => format!("{loops} loops, UDP only"),
    }
}

/// What the loops sent: waits up to [`RENDER_INTERVAL`] for the first message.
fn receive(inbox: &Receiver<Msg>) -> Vec<Msg> {
    let mut msgs = Vec::new();
    match inbox.recv_timeout(RENDER_INTERVAL) {
        Ok(msg) => msgs.push(msg),
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return msgs,
    }
    msgs.extend(inbox.try_iter());
    msgs
}

/// Where `StdStack::new()` listens on `port`: `[::]` (dual-stack) where the system has
/// IPv6, else `0.0.0.0`, as the stack decides.
fn all_addresses(port: u16) -> SocketAddr {
    let ip: IpAddr = match TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)) {
        Ok(_) => Ipv6Addr::UNSPECIFIED.into(),
        Err(_) => Ipv4Addr::UNSPECIFIED.into(),
    };
    SocketAddr::new(ip, port)
}

/// The main thread's output: the log, and the screen in the terminal or as PNG.
struct Ui {
    screen: Option<Screen>,
    png: Option<PngWriter>,
    shown: u64,
}

impl Ui {
    fn new(opts: &Options) -> Self {
        Self {
            screen: (opts.screen && term::stdout_is_terminal()).then(|| Screen {
                view: TermView::new(),
                columns: term::terminal_columns(),
                side: Vec::new(),
                at: None,
            }),
            png: opts.png.clone().map(PngWriter::new),
            shown: u64::MAX,
        }
    }

    fn print(&mut self, msgs: Vec<Msg>) {
        if msgs.is_empty() {
            return;
        }
        let print = || {
            let mut out = std::io::stdout().lock();
            for msg in msgs {
                match msg {
                    Msg::Error(line) => eprintln!("{line}"),
                    Msg::Lines(lines) => {
                        for line in lines {
                            let _ = writeln!(out, "{line}");
                        }
                    }
                }
            }
            let _ = out.flush();
        };
        match self.screen.as_mut() {
            Some(screen) => screen.view.above(print),
            None => print(),
        }
    }

    /// The screen that changed last, in the terminal and as PNG.
    fn render(&mut self, shared: &Shared, addr: &SocketAddr) {
        let latest = shared
            .views()
            .filter_map(|v| v.screen.clone())
            .max_by_key(|(order, _)| *order);
        let Some((order, display)) = latest else {
            return;
        };
        if let Some(png) = self.png.as_mut() {
            png.update(&display);
        }
        if let Some(screen) = self.screen.as_mut() {
            let fresh = order != self.shown;
            if screen.render(&display, side_panel(shared, addr), fresh) {
                self.shown = order;
            }
        }
    }
}

/// The screen in the terminal, below the log.
struct Screen {
    view: TermView,
    columns: Option<usize>,
    side: Vec<String>,
    at: Option<StdInstant>,
}

impl Screen {
    /// Redraws if the screen or the counters changed, at most once per
    /// [`RENDER_INTERVAL`]; whether it drew.
    fn render(&mut self, display: &HostDisplay, side: Vec<String>, fresh: bool) -> bool {
        if self.at.is_some_and(|t| t.elapsed() < RENDER_INTERVAL) || (!fresh && side == self.side) {
            return false;
        }
        self.side = side;
        self.at = Some(StdInstant::now());
        let boxed = term::boxed(term::frame_lines(display), "Handbit OLED 128x64");
        self.view
            .show(term::with_side(boxed, &self.side, self.columns));
        true
    }
}

/// The counters of all loops, and every loop's slots, beside the screen.
fn side_panel(shared: &Shared, addr: &SocketAddr) -> Vec<String> {
    let views: Vec<_> = shared.views().collect();
    let sum = |f: fn(&ServerStats) -> u64| views.iter().map(|v| f(&v.stats)).sum::<u64>();
    let row = |label: &str, value: String| format!("{label:<11}{value}");
    let listening = views.iter().all(|v| v.listening.is_some());
    let mut lines = vec![
        format!("echo server on {addr}"),
        row(
            "state",
            if listening {
                "listening"
            } else {
                "not listening"
            }
            .to_string(),
        ),
        row("accepted", sum(|s| s.accepted.into()).to_string()),
        row("rejected", sum(|s| s.rejected.into()).to_string()),
        row("denied", sum(|s| s.denied.into()).to_string()),
        row("evicted", sum(|s| s.evicted.into()).to_string()),
        row("errors", sum(|s| s.errors.into()).to_string()),
        row("bytes in", sum(|s| s.bytes_in).to_string()),
        row("bytes out", sum(|s| s.bytes_out).to_string()),
    ];
    if views.iter().any(|v| v.udp.is_some()) {
        let udp = |f: fn(&UdpStats) -> u64| {
            views
                .iter()
                .filter_map(|v| v.udp.as_ref())
                .map(f)
                .sum::<u64>()
                .to_string()
        };
        lines.push(row("udp in", udp(|s| s.datagrams_in.into())));
        lines.push(row("udp out", udp(|s| s.datagrams_out.into())));
        lines.push(row(
            "udp drop",
            udp(|s| u64::from(s.dropped) + u64::from(s.denied)),
        ));
        lines.push(row("too large", udp(|s| s.too_large.into())));
    }
    lines.push(String::new());
    for (l, view) in views.iter().enumerate() {
        for (slot, peer) in view.peers.iter().enumerate() {
            let label = if views.len() == 1 {
                format!("slot {slot}")
            } else {
                format!("slot {l}.{slot}")
            };
            let peer = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
            lines.push(row(&label, peer));
        }
    }
    lines.push(String::new());
    lines.push("Ctrl-C quits".to_string());
    lines
}
