//! The yardsticks of the host figures, echo servers written without a library:
//!
//! * `--mode threads` (default): a thread per connection on std's blocking
//!   sockets (`read` then `write_all`, `TCP_NODELAY` on), what one usually writes.
//! * `--mode poll`: the least a one-thread poll loop does, on non-blocking std
//!   sockets: at most `--slots` connections (more wait in the listen queue), up to
//!   eight receive/send rounds per connection and pass, and the `server` example's
//!   idle policy (yield while the last progress is under 2 ms old, then sleep 1 ms).
//!   Beside `server --threads 1`, it tells the library's cost from the design's.
//! * `--mode udp`: a UDP echo, one thread on a blocking std socket (`recv_from`
//!   then `send_to` into a 64 KiB buffer), what one usually writes for UDP.
//!
//! ```text
//! cargo run --release --example baseline -- [--bind ADDR] [--buffer BYTES]
//!                                           [--mode threads|poll|udp] [--slots N]
//! ```
//!
//! * `--bind ADDR`: `IP:PORT`; port 0 picks a free port. Default `127.0.0.1:0`.
//! * `--buffer BYTES`: each connection's echo buffer. Default 16384.
//! * `--slots N`: connections the poll loop serves at once. Default 4.
//!
//! The first line on stdout is `listening on ADDR`. Runs until killed.

use nal_echo_host as support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use support::args::Args;

const USAGE: &str = "\
usage: cargo run --release --example baseline -- [--bind ADDR] [--buffer BYTES]
                                          [--mode threads|poll|udp] [--slots N]

  --bind ADDR       IP:PORT, port 0 picks a free port (default 127.0.0.1:0)
  --buffer BYTES    each connection's echo buffer (default 16384)
  --mode M          threads (a thread per connection), poll (one thread) or
                    udp (a UDP echo on one thread)
  --slots N         connections the poll loop serves at once (default 4)
  -h, --help        this text

stdout: 'listening on ADDR'. Runs until killed.
";

fn main() -> ExitCode {
    let mut args = Args::from_env("baseline", USAGE);
    let mut bind: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut buffer = 16 * 1024;
    let mut mode = Mode::Threads;
    let mut slots = 4;
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
            "--mode" => {
                mode = match args.value(flag).as_str() {
                    "threads" => Mode::Threads,
                    "poll" => Mode::Poll,
                    "udp" => Mode::Udp,
                    other => args.fail(format_args!(
                        "--mode: '{other}' is not threads, poll or udp"
                    )),
                }
            }
            "--slots" => {
                slots = args.parse(flag, "a number");
                if slots == 0 {
                    args.fail("--slots: must be at least 1");
                }
            }
            "--bind" => bind = args.parse(flag, "IP:PORT"),
            "--buffer" => {
                buffer = args.parse(flag, "a number");
                if buffer == 0 {
                    args.fail("--buffer: must be at least 1");
                }
            }
            _ => args.unknown(&flag),
        }
    }
    if mode == Mode::Udp {
        return udp_echo(bind);
    }
    let listener = match TcpListener::bind(bind) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => eprintln!("error: {e}"),
    }
    if mode == Mode::Poll {
        return poll_loop(&listener, buffer, slots);
    }
    for conn in listener.incoming().flatten() {
        thread::spawn(move || echo(conn, buffer));
    }
    ExitCode::SUCCESS
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Threads,
    Poll,
    Udp,
}

/// Each datagram back to its sender, on one blocking socket.
fn udp_echo(bind: SocketAddr) -> ExitCode {
    let socket = match UdpSocket::bind(bind) {
        Ok(socket) => socket,
        Err(e) => {
            eprintln!("error: cannot bind {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match socket.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => eprintln!("error: {e}"),
    }
    let mut buf = vec![0u8; 65_536];
    loop {
        // An ICMP error of an earlier echo is not this datagram's: go on.
        if let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], peer);
        }
    }
}

/// A connection of the poll loop: its stream and the part of `buf` not yet echoed.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    /// Up to eight rounds of receive-then-send; `false` once the connection ended.
    fn serve(&mut self, progress: &mut bool) -> bool {
        for _ in 0..8 {
            if self.start == self.end {
                match self.stream.read(&mut self.buf) {
                    Ok(0) => return false,
                    Ok(n) => (self.start, self.end) = (0, n),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                }
                *progress = true;
            }
            match self.stream.write(&self.buf[self.start..self.end]) {
                Ok(n) => {
                    self.start += n;
                    *progress |= n > 0;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
            if self.start < self.end {
                return true;
            }
        }
        true
    }
}

fn poll_loop(listener: &TcpListener, buffer: usize, slots: usize) -> ExitCode {
    if let Err(e) = listener.set_nonblocking(true) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let mut conns: Vec<Conn> = Vec::new();
    let mut last_progress = Instant::now();
    loop {
        let mut progress = false;
        if conns.len() < slots {
            if let Ok((stream, _)) = listener.accept() {
                if stream.set_nonblocking(true).is_ok() {
                    let _ = stream.set_nodelay(true);
                    let buf = vec![0u8; buffer];
                    conns.push(Conn {
                        stream,
                        buf,
                        start: 0,
                        end: 0,
                    });
                    progress = true;
                }
            }
        }
        let before = conns.len();
        conns.retain_mut(|conn| conn.serve(&mut progress));
        progress |= conns.len() != before;
        if progress {
            last_progress = Instant::now();
        } else if last_progress.elapsed() < Duration::from_millis(2) {
            thread::yield_now();
        } else {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

fn echo(mut conn: TcpStream, buffer: usize) {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; buffer];
    while let Ok(n @ 1..) = conn.read(&mut buf) {
        if conn.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}
