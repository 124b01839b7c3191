//! A load generator for echo servers, run as a process of its own so that what it
//! measures is the server as users run it: 64-byte round trips or bulk throughput
//! from N clients, every echoed byte checked.
//!
//! ```text
//! cargo run --release --example load -- --connect ADDR [--clients N]
//!                                       [--test rtt|throughput] [--seconds S]
//!                                       [--size BYTES] [--udp]
//! ```
//!
//! * `--test rtt`: each client sends `--size` bytes (default 64), waits for all of
//!   them to come back, and again, for `--seconds` (default 3); every round trip is
//!   timed.
//! * `--test throughput`: each client writes a stream (on a thread of its own) for
//!   `--seconds` and reads the echo at the same time (on another), then closes
//!   its sending side and reads to the server's close.
//! * `--udp`: datagrams instead of a stream. `rtt`: one datagram of `--size` bytes
//!   (8 to 65507; its first 8 bytes number it) in flight per client, the next sent
//!   when its echo came or after 200 ms without (counted lost). `throughput`: up to
//!   16 datagrams in flight per client, each echo checked against the one of its
//!   number; 200 ms without an echo counts those in flight lost. The JSON line adds
//!   `"datagrams"` (echoes checked), `"lost"` and `"datagrams_per_s"`.
//!
//! All clients connect before the clock starts. One JSON line on stdout:
//! `{"test":"rtt","clients":4,"seconds":3.00,"round_trips":N,"rtt_p50_us":..,
//! "rtt_p99_us":..,"bytes":N,"mib_per_s":..,"corrupt":0}`. Exit code 0 if every
//! echo was exact and complete, 1 if not (a wrong byte, a short stream, an error).

use nal_echo_host as support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use support::args::Args;

#[path = "load/udp.rs"]
mod udp;

const USAGE: &str = "\
usage: cargo run --release --example load -- --connect ADDR [--clients N]
                                      [--test rtt|throughput] [--seconds S]
                                      [--size BYTES] [--udp]

  --connect ADDR    the echo server, IP:PORT
  --clients N       clients at once, 1 to 256 (default 1)
  --test T          rtt (round trips of --size bytes) or throughput (default rtt)
  --seconds S       how long to measure (default 3)
  --size BYTES      bytes per round trip, 1 to 65536 (default 64)
  --udp             datagrams (of --size bytes, 8 to 65507) instead of a stream
  -h, --help        this text

stdout: one JSON line. Exit code 0 only if every echo was exact and complete.
";

/// The stream's bytes repeat with this period (a prime: no buffer size aligns with
/// it, so a chunk echoed in the wrong place shows).
const PERIOD: usize = 251;
/// Bytes per write of the throughput test.
const CHUNK: usize = 64 * 1024;
/// A client that gets nothing back for this long fails the run.
const STALL: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq)]
enum Test {
    Rtt,
    Throughput,
}

struct Options {
    connect: SocketAddr,
    clients: usize,
    test: Test,
    seconds: Duration,
    size: usize,
    udp: bool,
}

fn parse() -> Options {
    let mut args = Args::from_env("load", USAGE);
    let mut connect = None;
    let mut opts = Options {
        connect: ([127, 0, 0, 1], 0).into(),
        clients: 1,
        test: Test::Rtt,
        seconds: Duration::from_secs(3),
        size: 64,
        udp: false,
    };
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
            "--connect" => connect = Some(args.parse(flag, "IP:PORT")),
            "--clients" => {
                opts.clients = args.parse(flag, "a number");
                if !(1..=256).contains(&opts.clients) {
                    args.fail("--clients: must be 1 to 256");
                }
            }
            "--test" => {
                opts.test = match args.value(flag).as_str() {
                    "rtt" => Test::Rtt,
                    "throughput" => Test::Throughput,
                    other => args.fail(format_args!("--test: '{other}' is not rtt or throughput")),
                }
            }
            "--seconds" => opts.seconds = args.seconds(flag),
            "--size" => {
                opts.size = args.parse(flag, "a number");
                if !(1..=65536).contains(&opts.size) {
                    args.fail("--size: must be 1 to 65536");
                }
            }
            "--udp" => {
                args.switch(&flag);
                opts.udp = true;
            }
            _ => args.unknown(&flag),
        }
    }
    if opts.udp && !(udp::HEADER..=udp::LARGEST).contains(&opts.size) {
        args.fail("--size: a datagram is 8 to 65507 bytes");
    }
    match connect {
        Some(addr) => opts.connect = addr,
        None => args.fail("--connect ADDR is required"),
    }
    opts
}

/// What one client measured.
#[derive(Default)]
struct Tally {
    rtts_ns: Vec<u64>,
    bytes: u64,
    corrupt: bool,
    error: Option<String>,
    /// UDP: echoes checked, and datagrams whose echo did not come.
    datagrams: u64,
    lost: u64,
}

fn main() -> ExitCode {
    let opts = parse();
    if opts.udp {
        let tallies = udp::run(&opts);
        return report(&opts, &tallies.0, tallies.1);
    }
    let conns: Result<Vec<TcpStream>, _> =
        (0..opts.clients).map(|_| connect(opts.connect)).collect();
    let conns = match conns {
        Ok(conns) => conns,
        Err(e) => {
            eprintln!("error: cannot connect to {}: {e}", opts.connect);
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let tallies: Vec<Tally> = thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .map(|conn| {
                let opts = &opts;
                scope.spawn(move || match opts.test {
                    Test::Rtt => round_trips(conn, opts.size, opts.seconds),
                    Test::Throughput => stream(conn, opts.seconds),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| failed("a client thread panicked"))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    report(&opts, &tallies, elapsed)
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let conn = TcpStream::connect_timeout(&addr, STALL)?;
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(STALL))?;
    conn.set_write_timeout(Some(STALL))?;
    Ok(conn)
}

fn failed(why: &str) -> Tally {
    Tally {
        error: Some(why.to_string()),
        ..Tally::default()
    }
}

/// The stream's bytes from `offset` on, `len` of them.
fn pattern(offset: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((offset + i as u64) % PERIOD as u64) as u8)
        .collect()
}

/// Round trips of `size` bytes until `seconds` passed; each message is the stream's
/// next `size` bytes, so an echo of an earlier one does not pass.
fn round_trips(mut conn: TcpStream, size: usize, seconds: Duration) -> Tally {
    let mut tally = Tally::default();
    let mut back = vec![0u8; size];
    let messages: Vec<Vec<u8>> = (0..PERIOD as u64)
        .map(|k| pattern(k * size as u64, size))
        .collect();
    let start = Instant::now();
    let mut k = 0;
    while start.elapsed() < seconds {
        let msg = &messages[k % PERIOD];
        let sent = Instant::now();
        if let Err(e) = conn
            .write_all(msg)
            .and_then(|()| conn.read_exact(&mut back))
        {
            tally.error = Some(e.to_string());
            break;
        }
        tally
            .rtts_ns
            .push(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
        tally.bytes += size as u64;
        if back != *msg {
            tally.corrupt = true;
            break;
        }
        k += 1;
    }
    tally
}

/// Writes the stream for `seconds` while reading the echo, then closes the sending
/// side and reads to the end: every byte sent must come back, in order.
fn stream(conn: TcpStream, seconds: Duration) -> Tally {
    let Ok(mut writer) = conn.try_clone() else {
        return failed("cannot clone the socket");
    };
    let mut reader = conn;
    let sending = thread::spawn(move || -> std::io::Result<u64> {
        // The chunk starts where the stream is: PERIOD divides the offset of every
        // write made of whole chunks only if CHUNK is a multiple of it, so the
        // chunk is cut to a multiple.
        let chunk = pattern(0, CHUNK - CHUNK % PERIOD);
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed() < seconds {
            writer.write_all(&chunk)?;
            sent += chunk.len() as u64;
        }
        writer.shutdown(Shutdown::Write)?;
        Ok(sent)
    });
    let mut tally = Tally::default();
    let expected = pattern(0, CHUNK + PERIOD);
    let mut buf = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let at = (tally.bytes % PERIOD as u64) as usize;
                if buf[..n] != expected[at..at + n] {
                    tally.corrupt = true;
                    // Ends the writer at once instead of after a stalled write.
                    let _ = reader.shutdown(Shutdown::Both);
                    break;
                }
                tally.bytes += n as u64;
            }
            Err(e) => {
                tally.error = Some(e.to_string());
                let _ = reader.shutdown(Shutdown::Both);
                break;
            }
        }
    }
    match sending.join() {
        Ok(Ok(sent)) if sent != tally.bytes && tally.error.is_none() && !tally.corrupt => {
            tally.error = Some(format!("sent {sent} bytes, {} came back", tally.bytes));
        }
        Ok(Ok(_)) => {}
        // After a corrupt byte the writer's failure is the shutdown's doing.
        Ok(Err(_)) if tally.corrupt => {}
        Ok(Err(e)) => tally.error = tally.error.take().or(Some(e.to_string())),
        Err(_) => tally.error = Some("the writer panicked".to_string()),
    }
    tally
}

fn report(opts: &Options, tallies: &[Tally], elapsed: Duration) -> ExitCode {
    let mut rtts: Vec<u64> = tallies
        .iter()
        .flat_map(|t| t.rtts_ns.iter().copied())
        .collect();
    rtts.sort_unstable();
    let percentile = |p: usize| rtts.get((rtts.len() * p / 100).min(rtts.len().saturating_sub(1)));
    let us = |ns: Option<&u64>| {
        ns.map_or("null".to_string(), |&ns| {
            format!("{:.1}", ns as f64 / 1000.0)
        })
    };
    let bytes: u64 = tallies.iter().map(|t| t.bytes).sum();
    let corrupt = tallies.iter().filter(|t| t.corrupt).count();
    let errors: Vec<&str> = tallies.iter().filter_map(|t| t.error.as_deref()).collect();
    let test = match opts.test {
        Test::Rtt => "rtt",
        Test::Throughput => "throughput",
    };
    let datagrams: u64 = tallies.iter().map(|t| t.datagrams).sum();
    let udp = if opts.udp {
        let lost: u64 = tallies.iter().map(|t| t.lost).sum();
        let rate = datagrams as f64 / elapsed.as_secs_f64();
        format!(",\"datagrams\":{datagrams},\"lost\":{lost},\"datagrams_per_s\":{rate:.0}")
    } else {
        String::new()
    };
    println!(
        "{{\"test\":\"{test}\",\"clients\":{},\"seconds\":{:.2},\"round_trips\":{},\"rtt_p50_us\":{},\"rtt_p99_us\":{},\"bytes\":{bytes},\"mib_per_s\":{:.1},\"corrupt\":{corrupt},\"errors\":{}{udp}}}",
        opts.clients,
        elapsed.as_secs_f64(),
        rtts.len(),
        us(percentile(50)),
        us(percentile(99)),
        bytes as f64 / elapsed.as_secs_f64() / (1024.0 * 1024.0),
        errors.len(),
    );
    for e in &errors {
        eprintln!("error: {e}");
    }
    if corrupt == 0 && errors.is_empty() && bytes > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
