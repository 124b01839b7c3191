//! The MixNo side of the tutorial on this host: sends messages to an echo server once
//! a period and checks that each comes back byte for byte.
//!
//! ```text
//! cargo run --example client -- --connect HOST:PORT [--message TEXT]...
//!                               [--period-ms N] [--count N] [--udp | --async]
//! ```
//!
//! * `--connect HOST:PORT`: the server; HOST is an IP address or a name (the first
//!   address it resolves to is used); IPv6 as `[::1]:5001`.
//! * `--message TEXT`: a message to send, not empty (repeatable; sent in turn).
//!   Default: the tutorial's `Hello Handbit` and `I'am MixNo`.
//! * `--period-ms N`: milliseconds between messages, at least 1. Default 1000.
//! * `--count N`: stop after N verified echoes (at least 1).
//! * `--udp`: send each message as a datagram (`UdpPeriodicClient`) instead of
//!   over a TCP connection. A lost echo is then counted, not a reason to reconnect.
//! * `--async`: use the async front end (`AsyncPeriodicClient` over edge-nal-std's
//!   stack on async-io) instead of the polled client; same output. It has one
//!   message on the wire at a time, and prints a connect when an echo follows it.
//!
//! # Output
//!
//! stdout, flushed line by line:
//!
//! ```text
//! connected to 127.0.0.1:5001
//! echo 1 ok rtt 0 ms
//! echo 2 ok rtt 1 ms
//! mismatch: echo differs from what was sent
//! rtt min/avg/max 0/0/1 ms
//! ```
//!
//! `connected to ADDR` after each (re)connection (`sending to ADDR over UDP` once
//! with `--udp`, and `lost N` for the N-th datagram whose echo did not come); `echo N ok rtt MS ms` for the N-th
//! verified echo (N counts from 1 over the whole run; the round trip is from the
//! message's first byte sent to its echo's last byte verified, averaged if several
//! completed in the same poll); `mismatch: ...` when an echo differs.
//!
//! With `--count N` the last line is `rtt min/avg/max A/B/C ms` and the exit code 0
//! once N echoes were verified; it exits 1 at once on a mismatch, or if the N echoes
//! are not verified within N x period + 10 s (also when it cannot connect at all),
//! saying so on stderr. Without `--count` it runs until Ctrl-C and ends with
//! `sent S, echoed E, mismatches M, missed ticks T, failures F, rtt min/avg/max A/B/C ms`
//! (with `--udp` also `, lost L, duplicates D, late T, errors E`; exit code 1 if there was a
//! mismatch, else 0).
//!
//! Connection failures are printed on stderr as `error: ...` (the same one at most
//! once a second); the client reconnects with backoff. Bad arguments: message and
//! usage on stderr, exit code 2; a HOST that does not resolve: exit 1.

use nal_echo_host as support;

use std::cell::Cell;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use nal_echo::asynch::AsyncPeriodicClient;
use support::asynch::{AsyncIoDelay, StdConnect};

use nal_echo::stack::std::{IdleWait, StdError, StdStack};
use nal_echo::{
    ClientConfig, ClientError, ClientStats, Duration, PeriodicClient, Progress, UdpPeriodicClient,
    TUTORIAL_MESSAGES,
};

use nal_echo::time::StdClock;
use support::args::Args;
use support::ErrorLog;

const USAGE: &str = "\
usage: cargo run --example client -- --connect HOST:PORT [--message TEXT]...
                                     [--period-ms N] [--count N] [--udp | --async]

  --connect HOST:PORT  the echo server (HOST: IP or name; IPv6 as [::1]:5001)
  --message TEXT       a message to send (repeatable; default: the tutorial's
                       'Hello Handbit' and 'I'am MixNo')
  --period-ms N        milliseconds between messages (default 1000)
  --count N            exit 0 after N verified echoes, printing the round trips;
                       exit 1 on a mismatch or if they take over N x period + 10 s
  --udp                send datagrams instead of a TCP stream
  --async              the async front end (AsyncPeriodicClient on edge-nal-std)
  -h, --help           this text

stdout: 'connected to ADDR', 'echo N ok rtt MS ms' per verified echo.
";

/// Extra time `--count` allows beyond N periods, for connecting and retries.
const COUNT_SLACK: StdDuration = StdDuration::from_secs(10);
/// How often the async run looks for Ctrl-C and its deadline.
const WATCH_INTERVAL: StdDuration = StdDuration::from_millis(50);

struct Options {
    connect: String,
    messages: &'static [&'static [u8]],
    period_ms: u64,
    count: Option<u32>,
    udp: bool,
    asynchronous: bool,
}

fn parse() -> Options {
    let mut args = Args::from_env("client", USAGE);
    let mut connect = None;
    let mut messages: Vec<&'static [u8]> = Vec::new();
    let mut period_ms = 1000;
    let mut count = None;
    let mut udp = false;
    let mut asynchronous = false;
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
            "--connect" => connect = Some(args.value(flag)),
            "--message" => {
                let text = args.value(flag);
                if text.is_empty() {
                    args.fail("--message: a message cannot be empty");
                }
                messages.push(Box::leak(text.into_bytes().into_boxed_slice()));
            }
            "--period-ms" => {
                period_ms = args.parse(flag, "a number of milliseconds");
                if period_ms == 0 {
                    args.fail("--period-ms: must be at least 1");
                }
            }
            "--count" => {
                let n: u32 = args.parse(flag, "a number");
                if n == 0 {
                    args.fail("--count: must be at least 1");
                }
                count = Some(n);
            }
            "--udp" => {
                args.switch(&flag);
                udp = true;
            }
            "--async" => {
                args.switch(&flag);
                asynchronous = true;
            }
            _ => args.unknown(&flag),
        }
    }
    if udp && asynchronous {
        args.fail("--udp and --async: the async client speaks TCP");
    }
    let Some(connect) = connect else {
        args.fail("--connect HOST:PORT is required")
    };
    if !connect.contains(':') {
        args.fail(format_args!(
            "--connect: '{connect}' has no port (HOST:PORT)"
        ));
    }
    let messages = if messages.is_empty() {
        TUTORIAL_MESSAGES
    } else {
        Vec::leak(messages)
    };
    Options {
        connect,
        messages,
        period_ms,
        count,
        udp,
        asynchronous,
    }
}

/// The first address `target` resolves to.
fn resolve(target: &str) -> Result<SocketAddr, String> {
    let mut addrs = target.to_socket_addrs().map_err(|e| e.to_string())?;
    addrs.next().ok_or_else(|| "no address".to_string())
}

/// How the run ended.
enum End {
    /// `--count` echoes verified.
    Done,
    /// A mismatch or the `--count` deadline.
    Failed,
    /// Ctrl-C.
    Interrupted,
}

/// The TCP or the UDP client, as `run` drives them.
trait Client {
    fn poll(&mut self) -> Result<Progress, ClientError<StdError>>;
    fn stats(&self) -> &ClientStats;
    fn config(&self) -> &ClientConfig;
    fn over_udp(&self) -> bool;
}

impl Client for PeriodicClient<StdStack, StdClock> {
    fn poll(&mut self) -> Result<Progress, ClientError<StdError>> {
        PeriodicClient::poll(self)
    }
    fn stats(&self) -> &ClientStats {
        PeriodicClient::stats(self)
    }
    fn config(&self) -> &ClientConfig {
        PeriodicClient::config(self)
    }
    fn over_udp(&self) -> bool {
        false
    }
}

impl Client for UdpPeriodicClient<StdStack, StdClock> {
    fn poll(&mut self) -> Result<Progress, ClientError<StdError>> {
        UdpPeriodicClient::poll(self)
    }
    fn stats(&self) -> &ClientStats {
        UdpPeriodicClient::stats(self)
    }
    fn config(&self) -> &ClientConfig {
        UdpPeriodicClient::config(self)
    }
    fn over_udp(&self) -> bool {
        true
    }
}

fn main() -> ExitCode {
    let opts = parse();
    let remote = match resolve(&opts.connect) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("client: cannot resolve {}: {e}", opts.connect);
            return ExitCode::FAILURE;
        }
    };
    let config = ClientConfig::new(remote)
        .with_messages(opts.messages)
        .with_period(Duration::from_millis(opts.period_ms))
        .with_seed(std::process::id());
    let stack = StdStack::new();
    let mut idle = IdleWait::new(&stack);
    // The client's clock and the deadline's share their origin (a copy).
    let clock = StdClock::new();
    let (end, stats) = if opts.asynchronous {
        run_async(config, &opts, &clock)
    } else if opts.udp {
        let mut client = UdpPeriodicClient::new(stack, clock, config);
        let end = run(&mut client, &opts, &mut idle, &clock);
        let stats = *client.stats();
        let _ = client.release();
        (end, stats)
    } else {
        let mut client = PeriodicClient::new(stack, clock, config);
        let end = run(&mut client, &opts, &mut idle, &clock);
        let stats = *client.stats();
        let _ = client.release();
        (end, stats)
    };
    report(end, &stats, opts.udp)
}

/// Polls until the `--count` echoes are verified, a mismatch or the deadline ends
/// the run, or Ctrl-C; prints what happens as it happens.
fn run(client: &mut impl Client, opts: &Options, idle: &mut IdleWait, clock: &StdClock) -> End {
    let watch = Watch::new(opts);
    let mut errors = ErrorLog::default();
    let mut seen = ClientStats::default();
    loop {
        if let Some(end) = watch.stopped(clock, client.stats().echoed) {
            return end;
        }
        let progress = poll_once(client, &mut errors);
        let now = *client.stats();
        let remote = client.config().remote;
        if let Some(end) = watch.after_change(&mut seen, &now, remote, client.over_udp()) {
            return end;
        }
        idle.after_poll(if progress {
            Progress::Busy
        } else {
            Progress::Idle
        });
    }
}

/// The async client until the `--count` echoes are verified, a mismatch or the
/// deadline ends the run, or Ctrl-C, printing as `run` does.
fn run_async(config: ClientConfig, opts: &Options, clock: &StdClock) -> (End, ClientStats) {
    let watch = Watch::new(opts);
    let remote = config.remote;
    let client = AsyncPeriodicClient::new(*clock, AsyncIoDelay, config);
    let stack = StdConnect::default();
    let echoed = Cell::new(0);
    let run = async {
        let (mut seen, mut end) = (ClientStats::default(), End::Done);
        let done = |now: &ClientStats| {
            echoed.set(now.echoed);
            watch
                .after_change(&mut seen, now, remote, false)
                .map(|e| end = e)
                .is_some()
        };
        client.run_until(&stack, done).await;
        end
    };
    let stopped = async {
        loop {
            if let Some(end) = watch.stopped(clock, echoed.get()) {
                return end;
            }
            async_io::Timer::after(WATCH_INTERVAL).await;
        }
    };
    let end = async_io::block_on(futures_lite::future::or(run, stopped));
    (end, client.stats())
}

/// When a run ends: Ctrl-C, the `--count` deadline, a mismatch or the count.
struct Watch {
    stop: Arc<AtomicBool>,
    deadline: Option<StdDuration>,
    count: Option<u32>,
}

impl Watch {
    fn new(opts: &Options) -> Self {
        let deadline = opts.count.map(|n| {
            StdDuration::from_millis(opts.period_ms.saturating_mul(u64::from(n))) + COUNT_SLACK
        });
        Self {
            stop: support::ctrl_c_flag(),
            deadline,
            count: opts.count,
        }
    }

    /// Ctrl-C, or the deadline passed with `echoed` echoes verified.
    fn stopped(&self, clock: &StdClock, echoed: u32) -> Option<End> {
        if self.stop.load(Ordering::SeqCst) {
            return Some(End::Interrupted);
        }
        if self.deadline.is_some_and(|d| clock.elapsed() >= d) {
            eprintln!(
                "client: {echoed} of {} echoes verified in {:.1} s; giving up",
                self.count.unwrap_or(0),
                clock.elapsed().as_secs_f64()
            );
            return Some(End::Failed);
        }
        None
    }

    /// Prints what changed since `seen`, which becomes `now`; with `--count`, a
    /// mismatch or the count reached ends the run.
    fn after_change(
        &self,
        seen: &mut ClientStats,
        now: &ClientStats,
        remote: SocketAddr,
        udp: bool,
    ) -> Option<End> {
        print_lines(&news(seen, now, remote, udp));
        let mismatch = now.mismatches != seen.mismatches;
        *seen = *now;
        let count = self.count?;
        if mismatch {
            return Some(End::Failed);
        }
        (now.echoed >= count).then_some(End::Done)
    }
}

/// One poll; an error is printed once per kind (a mismatch is reported from the
/// stats). Returns whether anything happened.
fn poll_once(client: &mut impl Client, errors: &mut ErrorLog) -> bool {
    match client.poll() {
        Ok(progress) => progress.is_busy(),
        Err(ClientError::EchoMismatch) => true,
        Err(e) => {
            if let Some(line) = errors.line(&e) {
                eprintln!("{line}");
            }
            true
        }
    }
}

/// What changed between two snapshots of the stats: a connect, each verified echo
/// with the round trip, a mismatch.
fn news(seen: &ClientStats, now: &ClientStats, remote: SocketAddr, udp: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if now.connects != seen.connects {
        lines.push(if udp {
            format!("sending to {remote} over UDP")
        } else {
            format!("connected to {remote}")
        });
    }
    for n in seen.lost + 1..=now.lost {
        lines.push(format!("lost {n}"));
    }
    let new_echoes = now.echoed.wrapping_sub(seen.echoed);
    if new_echoes > 0 {
        let total = now.rtt_total.total_millis() - seen.rtt_total.total_millis();
        let rtt = total / u64::from(new_echoes);
        for n in seen.echoed + 1..=now.echoed {
            lines.push(format!("echo {n} ok rtt {rtt} ms"));
        }
    }
    if now.mismatches != seen.mismatches {
        lines.push(format!("mismatch: {}", ClientError::<()>::EchoMismatch));
    }
    lines
}

fn print_lines(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}

/// The last line and the exit code: 0 for `--count` done or a clean Ctrl-C.
fn report(end: End, stats: &ClientStats, udp: bool) -> ExitCode {
    let mut out = std::io::stdout();
    match end {
        End::Done => {
            let _ = writeln!(out, "rtt min/avg/max {} ms", support::rtt_triple(stats));
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        End::Failed => {
            eprintln!("client: {}", summary(stats, udp));
            ExitCode::FAILURE
        }
        End::Interrupted => {
            let _ = writeln!(out, "{}", summary(stats, udp));
            let _ = out.flush();
            if stats.mismatches > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

fn summary(s: &ClientStats, udp: bool) -> String {
    let datagrams = if udp {
        format!(
            ", lost {}, duplicates {}, late {}",
            s.lost, s.duplicates, s.late
        )
    } else {
        String::new()
    };
    format!(
        "sent {}, echoed {}, mismatches {}, missed ticks {}, failures {}, rtt min/avg/max {} ms{datagrams}",
        s.sent,
        s.echoed,
        s.mismatches,
        s.missed_ticks,
        s.failures,
        support::rtt_triple(s)
    )
}
