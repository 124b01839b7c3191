//! `server --async`: one `AsyncEchoServer` over edge-nal-std's stack on async-io,
//! printing the same log as the poll loops.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use futures_lite::future;
use nal_echo::asynch::AsyncEchoServer;
use nal_echo::time::StdClock;
use nal_echo::{ServerConfig, ServerError};
use nal_echo_host::asynch::{AnnouncingBind, AsyncIoDelay};
use nal_echo_host::display::HostDisplay;
use nal_echo_host::ErrorLog;

/// How often the log is written and Ctrl-C looked for.
const PRINT_INTERVAL: StdDuration = StdDuration::from_millis(20);
/// The pause before binding again when the port is taken, as the poll loops do.
const RETRY_BIND: StdDuration = StdDuration::from_secs(1);

/// Serves on `addr` (port 0: a port the system picks) until `stop`.
pub fn run<const SLOTS: usize, const BUF: usize>(
    addr: SocketAddr,
    config: ServerConfig,
    stop: &AtomicBool,
) -> ExitCode {
    let server = AsyncEchoServer::<HostDisplay, SLOTS, BUF>::sized(HostDisplay::new(), config);
    let mut errors = ErrorLog::default();
    while !stop.load(Ordering::SeqCst) {
        let at = match nal_echo_host::pick_port(addr.ip(), addr.port()) {
            Ok((port, _)) if addr.port() == 0 => SocketAddr::new(addr.ip(), port),
            _ => addr,
        };
        let bind = AnnouncingBind::new(move |bound: Result<SocketAddr, &io::Error>| {
            if bound.is_ok() {
                print_line(&format!("listening on {at} (async, {SLOTS} slots)"));
            }
        });
        let serve = server.run_at(&bind, at, StdClock::new(), AsyncIoDelay);
        let failed = async_io::block_on(future::or(async { Some(serve.await) }, async {
            print_events(&server, stop).await;
            None
        }));
        let Some(ServerError::Listen(e)) = failed else {
            break;
        };
        if let Some(line) = errors.line(&format_args!("cannot listen on {at}: {e}")) {
            eprintln!("{line}");
        }
        std::thread::sleep(RETRY_BIND);
    }
    ExitCode::SUCCESS
}

/// Writes each event as a line until Ctrl-C.
async fn print_events<const SLOTS: usize, const BUF: usize>(
    server: &AsyncEchoServer<HostDisplay, SLOTS, BUF>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        while let Some(event) = server.next_event() {
            print_line(&event.to_string());
        }
        async_io::Timer::after(PRINT_INTERVAL).await;
    }
}

fn print_line(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
