//! The yardstick of the host figures: a thread-per-connection echo server on std's
//! blocking sockets, what one writes without a library (a thread per client,
//! `read` then `write_all`, `TCP_NODELAY` on).
//!
//! ```text
//! cargo run --release --example baseline -- [--bind ADDR] [--buffer BYTES]
//! ```
//!
//! * `--bind ADDR`: `IP:PORT`; port 0 picks a free port. Default `127.0.0.1:0`.
//! * `--buffer BYTES`: each connection's echo buffer. Default 16384.
//!
//! The first line on stdout is `listening on ADDR`. Runs until killed.

use nal_echo_host as support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;

use support::args::Args;

const USAGE: &str = "\
usage: cargo run --release --example baseline -- [--bind ADDR] [--buffer BYTES]

  --bind ADDR       IP:PORT, port 0 picks a free port (default 127.0.0.1:0)
  --buffer BYTES    each connection's echo buffer (default 16384)
  -h, --help        this text

stdout: 'listening on ADDR'. Runs until killed.
";

fn main() -> ExitCode {
    let mut args = Args::from_env("baseline", USAGE);
    let mut bind: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut buffer = 16 * 1024;
    while let Some(flag) = args.next_flag() {
        match flag.name.as_str() {
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
    for conn in listener.incoming().flatten() {
        thread::spawn(move || echo(conn, buffer));
    }
    ExitCode::SUCCESS
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
