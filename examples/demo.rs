//! The tutorial in one process: a Handbit echo server and a MixNo client on this host.
//!
//! ```text
//! cargo run --example demo [-- --seconds N] [--count N] [--png PATH]
//! ```
//!
//! An [`EchoServer`] listens on `127.0.0.1:5001` (another free port if 5001 is taken,
//! said on stderr) and a [`PeriodicClient`] sends `Hello Handbit` / `I'am MixNo` to it
//! once a second, checking every echo.
//!
//! * When stdout is a terminal, the server's 128x64 screen is drawn in it with half
//!   blocks and redrawn in place (at most 10 times a second), with the client's
//!   statistics beside it (below it if the terminal is too narrow).
//! * Otherwise (`| cat`, CI) the screen's text lines are printed as `header: ...`,
//!   `state: ...`, `counters: ...` and `message: ...`, each when it changes.
//!
//! It runs until Ctrl-C, for `--seconds N` (a decimal number) or until `--count N`
//! echoes came back, then prints
//!
//! ```text
//! demo: sent 5, echoed 5, mismatches 0, rtt min/avg/max 0/0/1 ms
//! ```
//!
//! and exits with 1 if an echo differed, if `--seconds` was given and nothing was
//! echoed, or if `--count N` was given and fewer than N came back; else 0. `--png PATH` writes the screen as a PNG after each redraw.
//! Bad arguments: message and usage on stderr, exit code 2.

use nal_echo_host as support;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use nal_echo::stack::std::{IdleWait, StdStack};
use nal_echo::{
    ClientConfig, ClientStats, EchoServer, PeriodicClient, Progress, ServerConfig, ServerStats,
    TUTORIAL_MESSAGES,
};

use nal_echo::time::StdClock;
use support::args::Args;
use support::display::{HostDisplay, PngWriter};
use support::term::{self, ScreenText, TermView};
use support::ErrorLog;

const USAGE: &str = "\
usage: cargo run --example demo [-- --seconds N] [--count N] [--png PATH]

  --seconds N   stop after N seconds (decimal) and print a summary;
                exit 1 if nothing was echoed or an echo differed
  --count N     stop once N echoes came back; exit 1 if fewer did
  --png PATH    write the screen as a PNG after each redraw
  -h, --help    this text

Runs an echo server on 127.0.0.1:5001 (another port if taken) and a client
sending the tutorial's messages once a second, until Ctrl-C, --seconds or --count.
";

/// Redraws of the terminal view are at least this far apart.
const RENDER_INTERVAL: StdDuration = StdDuration::from_millis(100);
/// After `--seconds`, echoes still on their way get this long to come back.
const DRAIN: StdDuration = StdDuration::from_millis(500);

struct Options {
    seconds: Option<StdDuration>,
    count: Option<u32>,
    png: Option<PathBuf>,
}

fn parse() -> Options {
    let mut args = Args::from_env("demo", USAGE);
    let mut opts = Options {
        seconds: None,
        count: None,
        png: None,
    };
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
            "--seconds" => opts.seconds = Some(args.seconds(flag)),
            "--count" => opts.count = Some(args.parse(flag, "a count")),
            "--png" => opts.png = Some(PathBuf::from(args.value(flag))),
            _ => args.unknown(&flag),
        }
    }
    opts
}

/// Where the screen goes.
enum View {
    Terminal {
        view: TermView,
        columns: Option<usize>,
        frame: u64,
        side: Vec<String>,
        at: Option<std::time::Instant>,
    },
    Plain(ScreenText),
}

type Server = EchoServer<StdStack, HostDisplay>;
type Client = PeriodicClient<StdStack, StdClock>;

fn main() -> ExitCode {
    let opts = parse();
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let Some(port) = choose_port(localhost) else {
        return ExitCode::FAILURE;
    };
    let clock = StdClock::new();
    // One readiness list for both sides, so the loop sleeps until either has news.
    let stack = StdStack::bind_to(localhost);
    let mut idle = IdleWait::new(&stack);
    let server_config = ServerConfig::default()
        .with_port(port)
        .with_local_ip(localhost);
    let mut server: Server = EchoServer::new(stack.clone(), HostDisplay::new(), server_config);
    let client_config = ClientConfig::new(SocketAddr::new(localhost, port))
        .with_messages(TUTORIAL_MESSAGES)
        .with_seed(std::process::id());
    let mut client: Client = PeriodicClient::new(stack, clock, client_config);

    let mut view = new_view();
    let mut png = opts.png.clone().map(PngWriter::new);
    run(
        &opts,
        &mut server,
        &mut client,
        &mut view,
        &mut png,
        &mut idle,
        &clock,
    );

    // Show the last state, then give the terminal back before the summary.
    if let View::Terminal { at, .. } = &mut view {
        *at = None;
    }
    render(&mut view, &mut server, &client, &clock);
    drop(view);
    drop(png); // waits until the last frame is written

    let stats = *client.stats();
    let _ = client.release();
    let _ = server.release();
    summary(&opts, &stats)
}

/// The tutorial's port, or another one if it is taken; `None` if there is none.
fn choose_port(ip: IpAddr) -> Option<u16> {
    match support::pick_port(ip, support::DEFAULT_PORT) {
        Ok((port, false)) => Some(port),
        Ok((port, true)) => {
            eprintln!(
                "demo: port {} is taken, using {port}",
                support::DEFAULT_PORT
            );
            Some(port)
        }
        Err(e) => {
            eprintln!("demo: no free port on {ip}: {e}");
            None
        }
    }
}

/// The screen in the terminal, or its text lines when stdout is not a terminal.
fn new_view() -> View {
    if term::stdout_is_terminal() {
        View::Terminal {
            view: TermView::new(),
            columns: term::terminal_columns(),
            frame: u64::MAX,
            side: Vec::new(),
            at: None,
        }
    } else {
        View::Plain(ScreenText::default())
    }
}

/// Polls both sides and redraws until Ctrl-C, `--count` answers, or `--seconds`
/// (then the messages on their way may still come back, for `DRAIN` at most).
fn run(
    opts: &Options,
    server: &mut Server,
    client: &mut Client,
    view: &mut View,
    png: &mut Option<PngWriter>,
    idle: &mut IdleWait,
    clock: &StdClock,
) {
    let stop = support::ctrl_c_flag();
    let mut errors = ErrorLog::default();
    let mut draining: Option<std::time::Instant> = None;
    loop {
        if stop.load(Ordering::SeqCst) || opts.count.is_some_and(|n| answered(client.stats()) >= n)
        {
            return;
        }
        if let Some(since) = draining {
            let s = client.stats();
            if answered(s) >= s.sent || since.elapsed() >= DRAIN {
                return;
            }
        } else if opts.seconds.is_some_and(|limit| clock.elapsed() >= limit) {
            // Time is up: no new message is sent, but one on its way may come back.
            draining = Some(std::time::Instant::now());
            continue;
        }
        let mut progress = false;
        match server.poll(clock.instant()) {
            Ok(p) => progress |= p.is_busy(),
            Err(e) => report(view, errors.line(&e)),
        }
        match client.poll() {
            Ok(p) => progress |= p.is_busy(),
            Err(e) => report(view, errors.line(&e)),
        }
        while server.next_event().is_some() {} // the demo shows no connection log
        render(view, server, client, clock);
        if let Some(png) = png.as_mut() {
            png.update(server.display_mut());
        }
        idle.after_poll(if progress {
            Progress::Busy
        } else {
            Progress::Idle
        });
    }
}

/// The summary line and the exit code: failure on a mismatch, on no echo at all in
/// a timed run, or on fewer echoes than `--count`.
fn summary(opts: &Options, stats: &ClientStats) -> ExitCode {
    println!(
        "demo: sent {}, echoed {}, mismatches {}, rtt min/avg/max {} ms",
        stats.sent,
        stats.echoed,
        stats.mismatches,
        support::rtt_triple(stats)
    );
    let _ = std::io::stdout().flush();
    let too_few = opts.count.is_some_and(|n| stats.echoed < n);
    if stats.mismatches > 0 || (opts.seconds.is_some() && stats.echoed == 0) || too_few {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Messages whose echo came back, right or wrong.
fn answered(stats: &ClientStats) -> u32 {
    stats.echoed + stats.mismatches
}

/// Print an error line on stderr, above the terminal view if there is one.
fn report(view: &mut View, line: Option<String>) {
    let Some(line) = line else { return };
    match view {
        View::Terminal { view, .. } => view.above(|| eprintln!("{line}")),
        View::Plain(_) => eprintln!("{line}"),
    }
}

/// Show the screen if a new frame was flushed (or, in the terminal, the statistics
/// changed), at most once per [`RENDER_INTERVAL`] in the terminal.
fn render(view: &mut View, server: &mut Server, client: &Client, clock: &StdClock) {
    match view {
        View::Terminal {
            view,
            columns,
            frame,
            side,
            at,
        } => {
            if at.is_some_and(|t| t.elapsed() < RENDER_INTERVAL) {
                return;
            }
            let new_side = side_panel(client, server.stats(), clock);
            let display = server.display_mut();
            if display.frames() == *frame && new_side == *side {
                return;
            }
            *frame = display.frames();
            *side = new_side;
            *at = Some(std::time::Instant::now());
            let boxed = term::boxed(term::frame_lines(display), "Handbit OLED 128x64");
            view.show(term::with_side(boxed, side, *columns));
        }
        View::Plain(text) => {
            let changes = text.changes(server.screen());
            if !changes.is_empty() {
                let mut out = std::io::stdout().lock();
                for line in changes {
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
            }
        }
    }
}

/// The statistics shown beside the screen.
fn side_panel(client: &Client, server: &ServerStats, clock: &StdClock) -> Vec<String> {
    let c: &ClientStats = client.stats();
    let row = |label: &str, value: String| format!("{label:<13}{value}");
    vec![
        format!("MixNo client -> {}", client.config().remote),
        row("state", format!("{:?}", client.state()).to_lowercase()),
        row("sent", c.sent.to_string()),
        row("echoed", c.echoed.to_string()),
        row("mismatches", c.mismatches.to_string()),
        row("missed ticks", c.missed_ticks.to_string()),
        row("rtt min", format!("{} ms", support::ms(c.rtt_min))),
        row("rtt avg", format!("{} ms", support::ms(c.rtt_avg()))),
        row("rtt max", format!("{} ms", support::ms(c.rtt_max))),
        row("failures", c.failures.to_string()),
        String::new(),
        "Handbit server".to_string(),
        row("accepted", server.accepted.to_string()),
        row("bytes in", server.bytes_in.to_string()),
        row("bytes out", server.bytes_out.to_string()),
        row("errors", server.errors.to_string()),
        String::new(),
        row("running", format!("{} s", clock.elapsed().as_secs())),
        "Ctrl-C quits".to_string(),
    ]
}
