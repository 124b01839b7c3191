//! `soak --udp`: clients that send datagrams one at a time and check every echo.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{Options, Rng, RttHistogram, ERRORS_SHOWN, ERROR_PAUSE};

/// A datagram starts with its client's number and its own (4 bytes each).
pub const HEADER: usize = 8;
/// The largest IPv4 datagram.
const LARGEST: usize = 65_507;

/// One client's counts (see the module docs).
#[derive(Default)]
struct Tally {
    datagrams: u64,
    bytes: u64,
    lost: u64,
    late: u64,
    duplicates: u64,
    corrupt: u64,
    errors: u64,
    rtt: RttHistogram,
    /// The numbers of the latest datagrams counted lost, to tell a late echo.
    recently_lost: VecDeque<u32>,
}

/// Lost datagrams remembered per client.
const REMEMBERED: usize = 64;

impl Tally {
    fn add(&mut self, other: Tally) {
        self.datagrams += other.datagrams;
        self.bytes += other.bytes;
        self.lost += other.lost;
        self.late += other.late;
        self.duplicates += other.duplicates;
        self.corrupt += other.corrupt;
        self.errors += other.errors;
        self.rtt.add(&other.rtt);
    }
}

pub fn run(opts: &Options) -> ExitCode {
    println!(
        "soak: seed {}, {} clients, {} s, max-len {}, UDP, against {}",
        opts.seed,
        opts.clients,
        opts.run_for.as_secs_f64(),
        opts.max_len,
        opts.addr
    );
    let started = Instant::now();
    let shown = AtomicUsize::new(0);
    let totals = thread::scope(|scope| {
        let workers: Vec<_> = (0..opts.clients)
            .map(|i| {
                let shown = &shown;
                scope.spawn(move || client(opts, i, started + opts.run_for, shown))
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
    let elapsed = started.elapsed();
    let t = &totals;
    let (p50, p99) = (t.rtt.percentile_ms(50), t.rtt.percentile_ms(99));
    let rate = t.datagrams as f64 / elapsed.as_secs_f64();
    println!(
        "datagrams {}, dgrams/s {rate:.1}, bytes {}, lost {}, late {}, duplicates {}, corrupt {}, errors {}, rtt p50 {p50:.2} ms, rtt p99 {p99:.2} ms",
        t.datagrams, t.bytes, t.lost, t.late, t.duplicates, t.corrupt, t.errors
    );
    if opts.json {
        println!(
            "{{\"datagrams\":{},\"dgrams_per_s\":{rate:.1},\"bytes\":{},\"lost\":{},\"late\":{},\"duplicates\":{},\"corrupt\":{},\"errors\":{},\"rtt_p50_ms\":{p50:.2},\"rtt_p99_ms\":{p99:.2},\"seconds\":{:.1}}}",
            t.datagrams, t.bytes, t.lost, t.late, t.duplicates, t.corrupt, t.errors, elapsed.as_secs_f64()
        );
    }
    if t.lost == 0 && t.corrupt == 0 && t.errors == 0 && t.datagrams > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn open(server: SocketAddr, patience: Duration) -> std::io::Result<UdpSocket> {
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(any)?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(patience))?;
    Ok(socket)
}

/// Client `i` until `stop_at`.
fn client(opts: &Options, i: usize, stop_at: Instant, shown: &AtomicUsize) -> Tally {
    let mut tally = Tally::default();
    let socket = match open(opts.addr, opts.hang_timeout) {
        Ok(socket) => socket,
        Err(e) => {
            error(&mut tally, shown, &e);
            return tally;
        }
    };
    let mut rng = Rng::for_client(opts.seed, i);
    let longest = opts.max_len.min(LARGEST);
    let mut echo = vec![0u8; LARGEST + 1];
    let mut seq = 0u32;
    while Instant::now() < stop_at {
        let len = HEADER + rng.below((longest - HEADER + 1) as u64) as usize;
        let mut datagram = vec![0u8; len];
        datagram[..4].copy_from_slice(&(i as u32).to_le_bytes());
        datagram[4..HEADER].copy_from_slice(&seq.to_le_bytes());
        rng.fill(&mut datagram[HEADER..]);
        let sent = Instant::now();
        if let Err(e) = socket.send(&datagram) {
            error(&mut tally, shown, &e);
        } else {
            await_echo(&socket, &datagram, seq, sent, &mut echo, &mut tally, shown);
        }
        seq = seq.wrapping_add(1);
    }
    tally
}

/// Reads until the echo of `datagram` (number `seq`) or the hang timeout; earlier
/// ones' echoes that come meanwhile are late or duplicates.
fn await_echo(
    socket: &UdpSocket,
    datagram: &[u8],
    seq: u32,
    sent: Instant,
    buf: &mut [u8],
    tally: &mut Tally,
    shown: &AtomicUsize,
) {
    loop {
        let n = match socket.recv(buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                tally.lost += 1;
                if tally.recently_lost.len() == REMEMBERED {
                    tally.recently_lost.pop_front();
                }
                tally.recently_lost.push_back(seq);
                return;
            }
            Err(e) => {
                error(tally, shown, &e);
                return;
            }
        };
        let echo = &buf[..n];
        let number = echo
            .get(4..HEADER)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        match number {
            _ if echo == datagram => {
                let us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                tally.rtt.record(us);
                tally.datagrams += 1;
                tally.bytes += n as u64;
                return;
            }
            // Only the one datagram in flight can be unanswered; an older number
            // is a late echo (its own was counted lost) or a repeated one.
            Some(k) if k < seq && echo.get(..4) == datagram.get(..4) => {
                match tally.recently_lost.iter().position(|&lost| lost == k) {
                    Some(at) => {
                        tally.recently_lost.remove(at);
                        tally.late += 1;
                    }
                    None => tally.duplicates += 1,
                }
            }
            _ => {
                tally.corrupt += 1;
                return;
            }
        }
    }
}

fn error(tally: &mut Tally, shown: &AtomicUsize, e: &std::io::Error) {
    tally.errors += 1;
    if shown.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
        eprintln!("soak: error: {e}");
    }
    // A persistent failure (nobody answers: ICMP errors) must not spin.
    thread::sleep(ERROR_PAUSE);
}
