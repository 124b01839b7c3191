//! The Handbit side of the tutorial on this host: an echo server on port 5001 that logs
//! its connections and shows its 128x64 screen.
//!
//! ```text
//! cargo run --example server -- [--bind ADDR] [--idle-timeout S] [--allow IP]...
//!                               [--slots N] [--no-screen] [--png PATH]
//! ```
//!
//! * `--bind ADDR`: `IP:PORT` or `IP` (port 5001); IPv6 as `[::1]:5001` or `::1`. Port
//!   0 picks a free port. Default: port 5001 on all addresses, dual-stack (`[::]`)
//!   where the system allows, else `0.0.0.0`.
//! * `--idle-timeout S`: close connections idle for S seconds (decimal); 0 = never.
//!   Default 60.
//! * `--allow IP`: accept only these peers (repeatable, at most 8). Default: everyone.
//! * `--slots N`: clients served at once, 1 to 8. Default 4.
//! * `--no-screen`: do not draw the screen in the terminal.
//! * `--png PATH`: write the screen as a PNG after each redraw (`PATH.tmp`, then
//!   renamed to `PATH`).
//!
//! # Output
//!
//! stdout is a log, one line per event, flushed line by line:
//!
//! ```text
//! listening on 127.0.0.1:5001
//! connect 127.0.0.1:40000 slot 0
//! disconnect 127.0.0.1:40000 slot 0 (peer closed)
//! reject 127.0.0.1:40002 (slots full)
//! deny 10.0.0.7:40004 (not allowed)
//! evict 127.0.0.1:40006 slot 1 (idle)
//! ```
//!
//! The first line is always `listening on ADDR`, printed once the server listens.
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
//! above it. Otherwise (stdout piped or `--no-screen`) stdout carries only the log
//! lines; `--png` still shows the screen.
//!
//! Runs until Ctrl-C (or until killed). Bad arguments: message and usage on stderr,
//! exit code 2.

use nal_echo_host as support;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use nal_echo::stack::std::StdStack;
use nal_echo::{Duration, EchoServer, ServerConfig, ServerEvent, ALLOWLIST_CAPACITY};

use nal_echo::time::StdClock;
use support::args::Args;
use support::display::{HostDisplay, PngWriter};
use support::term::{self, TermView};
use support::ErrorLog;

const USAGE: &str = "\
usage: cargo run --example server -- [--bind ADDR] [--idle-timeout S] [--allow IP]...
                                     [--slots N] [--no-screen] [--png PATH]

  --bind ADDR         IP:PORT or IP (port 5001), IPv6 as [::1]:5001; port 0 picks
                      a free port (default: port 5001 on all addresses)
  --idle-timeout S    close connections idle for S seconds, 0 = never (default 60)
  --allow IP          accept only these peers (repeatable, at most 8)
  --slots N           clients served at once, 1 to 8 (default 4)
  --no-screen         do not draw the screen in the terminal
  --png PATH          write the screen as a PNG after each redraw
  -h, --help          this text

stdout: 'listening on ADDR', then one line per connect, disconnect, reject,
deny and evict. Runs until Ctrl-C.
";

/// Most slots `--slots` accepts (each is a separate build of the server).
const MAX_SLOTS: usize = 8;
/// Each slot's echo buffer. A host has the memory, and a 16 KiB buffer moves about
/// seven times the bytes per second of the 1 KiB default through one poll thread
/// (`cargo bench --bench echo`).
const BUF: usize = 16 * 1024;
/// Redraws of the terminal view are at least this far apart.
const RENDER_INTERVAL: StdDuration = StdDuration::from_millis(100);

struct Options {
    bind: Option<(IpAddr, u16)>,
    idle_timeout: Option<Option<Duration>>,
    allow: Vec<IpAddr>,
    slots: usize,
    screen: bool,
    png: Option<PathBuf>,
}

fn parse() -> Options {
    let mut args = Args::from_env("server", USAGE);
    let mut opts = Options {
        bind: None,
        idle_timeout: None,
        allow: Vec::new(),
        slots: 4,
        screen: true,
        png: None,
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
            "--no-screen" => {
                args.switch(&flag);
                opts.screen = false;
            }
            "--png" => opts.png = Some(PathBuf::from(args.value(flag))),
            _ => args.unknown(&flag),
        }
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

fn main() -> ExitCode {
    let opts = parse();
    match opts.slots {
        1 => run::<1>(opts),
        2 => run::<2>(opts),
        3 => run::<3>(opts),
        4 => run::<4>(opts),
        5 => run::<5>(opts),
        6 => run::<6>(opts),
        7 => run::<7>(opts),
        _ => run::<MAX_SLOTS>(opts),
    }
}

fn run<const SLOTS: usize>(opts: Options) -> ExitCode {
    let (stack, mut addr) = match opts.bind {
        // Port 0 goes to the OS; the server tells the port once it listens.
        Some((ip, port)) => (StdStack::bind_to(ip), SocketAddr::new(ip, port)),
        None => (StdStack::new(), all_addresses(support::DEFAULT_PORT)),
    };

    let mut config = ServerConfig::default().with_port(addr.port());
    config.local_ip = if addr.ip().is_unspecified() {
        support::outward_ip() // what a client elsewhere would connect to
    } else {
        Some(addr.ip())
    };
    let config_ip = config.local_ip;
    if let Some(idle) = opts.idle_timeout {
        config.idle_timeout = idle;
    }
    for ip in &opts.allow {
        // parse() allowed no more than the capacity.
        let _ = config.allowlist.push(*ip);
    }
    let waiter = stack.clone();
    let mut server = EchoServer::<_, _, SLOTS, BUF>::sized(stack, HostDisplay::new(), config);

    let stop = support::ctrl_c_flag();
    let clock = StdClock::new();
    let mut view = (opts.screen && term::stdout_is_terminal()).then(|| Screen {
        view: TermView::new(),
        columns: term::terminal_columns(),
        frame: u64::MAX,
        side: Vec::new(),
        at: None,
    });
    let mut png = opts.png.map(PngWriter::new);
    let mut errors = ErrorLog::default();
    let mut announced = false;

    while !stop.load(Ordering::SeqCst) {
        let (progress, error) = match server.poll(clock.instant()) {
            Ok(progress) => (progress.is_busy(), None),
            Err(e) => (false, errors.line(&e)),
        };
        let mut log = Vec::new();
        if !announced && server.is_listening() {
            announced = true;
            if let Some(bound) = server.local_addr().filter(|_| addr.port() == 0) {
                addr.set_port(bound.port());
                server.show_address(config_ip, addr.port());
            }
            log.push(format!("listening on {addr}"));
        }
        while let Some(event) = server.next_event() {
            log.push(event_line(event));
        }
        let print = || {
            if let Some(error) = &error {
                eprintln!("{error}");
            }
            if !log.is_empty() {
                let mut out = std::io::stdout().lock();
                for line in &log {
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
            }
        };
        match view.as_mut() {
            Some(screen) => {
                if error.is_some() || !log.is_empty() {
                    screen.view.above(print);
                }
                screen.render(&mut server, &addr);
            }
            None => print(),
        }
        if let Some(png) = png.as_mut() {
            png.update(server.display_mut());
        }
        if !progress {
            support::idle_wait(&waiter);
        }
    }
    drop(view);
    let _ = server.release();
    ExitCode::SUCCESS
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

/// One log line for an event (the library's `Display` of `ServerEvent`).
fn event_line(event: ServerEvent) -> String {
    event.to_string()
}

/// The screen in the terminal, below the log.
struct Screen {
    view: TermView,
    columns: Option<usize>,
    frame: u64,
    side: Vec<String>,
    at: Option<std::time::Instant>,
}

impl Screen {
    /// Redraw if a frame was flushed or the counters changed, at most once per
    /// [`RENDER_INTERVAL`].
    fn render<const SLOTS: usize>(
        &mut self,
        server: &mut EchoServer<StdStack, HostDisplay, SLOTS, BUF>,
        addr: &SocketAddr,
    ) {
        if self.at.is_some_and(|t| t.elapsed() < RENDER_INTERVAL) {
            return;
        }
        let side = side_panel(server, addr);
        let display = server.display_mut();
        if display.frames() == self.frame && side == self.side {
            return;
        }
        self.frame = display.frames();
        self.side = side;
        self.at = Some(std::time::Instant::now());
        let boxed = term::boxed(term::frame_lines(display), "Handbit OLED 128x64");
        self.view
            .show(term::with_side(boxed, &self.side, self.columns));
    }
}

/// The counters and slots shown beside the screen.
fn side_panel<const SLOTS: usize>(
    server: &EchoServer<StdStack, HostDisplay, SLOTS, BUF>,
    addr: &SocketAddr,
) -> Vec<String> {
    let s = server.stats();
    let row = |label: &str, value: String| format!("{label:<11}{value}");
    let mut lines = vec![
        format!("echo server on {addr}"),
        row(
            "state",
            if server.is_listening() {
                "listening".to_string()
            } else {
                "not listening".to_string()
            },
        ),
        row("accepted", s.accepted.to_string()),
        row("rejected", s.rejected.to_string()),
        row("denied", s.denied.to_string()),
        row("evicted", s.evicted.to_string()),
        row("errors", s.errors.to_string()),
        row("bytes in", s.bytes_in.to_string()),
        row("bytes out", s.bytes_out.to_string()),
        String::new(),
    ];
    for (slot, peer) in server.peers().enumerate() {
        let peer = peer.map_or_else(|| "-".to_string(), |p| p.to_string());
        lines.push(row(&format!("slot {slot}"), peer));
    }
    lines.push(String::new());
    lines.push("Ctrl-C quits".to_string());
    lines
}
