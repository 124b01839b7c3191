//! What the host examples (`demo`, `server`, `client`) share: a host clock, a 128x64
//! display with a "glass" ([`display::HostDisplay`]), terminal and PNG rendering,
//! argument parsing, Ctrl-C handling and a free-port helper.
//!
//! A crate of its own (a dev-dependency of nal-echo), so that each example uses
//! only its part of it without hiding dead code.

pub mod args;
pub mod asynch;
pub mod display;
pub mod term;

use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use nal_echo::{ClientStats, Duration};

/// The tutorial's port.
pub use nal_echo::DEFAULT_PORT;

/// A flag that turns true on Ctrl-C (SIGINT). The handler only sets the flag, so the
/// main loop ends normally and restores the terminal.
pub fn ctrl_c_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    if let Err(e) = ctrlc::set_handler(move || set.store(true, Ordering::SeqCst)) {
        eprintln!("warning: cannot handle Ctrl-C: {e}");
    }
    flag
}

/// `preferred` on `ip` if it is free, else another free port there (the system picks
/// one: bind port 0, read the port, close). The `bool` is true when it fell back.
/// A `preferred` of 0 always picks a free port (and is not a fallback).
pub fn pick_port(ip: IpAddr, preferred: u16) -> io::Result<(u16, bool)> {
    if preferred != 0 && TcpListener::bind((ip, preferred)).is_ok() {
        return Ok((preferred, false));
    }
    let port = TcpListener::bind((ip, 0))?.local_addr()?.port();
    Ok((port, preferred != 0))
}

/// The address this host would use to reach the outside, for the screen's header
/// (the tutorial shows the board's own address). Connecting a UDP socket sends
/// nothing; it only asks the routing table. `None` when there is no route.
pub fn outward_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind(("0.0.0.0", 0)).ok()?;
    socket.connect(("192.0.2.1", 9)).ok()?; // TEST-NET-1: never used by real hosts
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// Milliseconds of an optional span, `-` when there is none.
pub fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), |d| d.total_millis().to_string())
}

/// `min/avg/max` round trips in milliseconds, e.g. `0/0/1` (`-/-/-` before any echo).
pub fn rtt_triple(stats: &ClientStats) -> String {
    format!(
        "{}/{}/{}",
        ms(stats.rtt_min),
        ms(stats.rtt_avg()),
        ms(stats.rtt_max)
    )
}

/// Prints `error: ...` lines on stderr without flooding it: a failure that repeats
/// on every poll (say, the port is taken) is printed again at most once a second.
#[derive(Debug, Default)]
pub struct ErrorLog {
    last: Option<(String, std::time::Instant)>,
}

impl ErrorLog {
    /// The line to print for `error`, or `None` if the same one was printed less
    /// than a second ago.
    pub fn line(&mut self, error: &dyn std::fmt::Display) -> Option<String> {
        let text = error.to_string();
        let now = std::time::Instant::now();
        if let Some((last, at)) = &self.last {
            if *last == text && now.duration_since(*at) < StdDuration::from_secs(1) {
                return None;
            }
        }
        self.last = Some((text.clone(), now));
        Some(format!("error: {text}"))
    }
}
