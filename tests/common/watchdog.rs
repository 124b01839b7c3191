//! A watchdog for tests of calls that must never block: a call that blocked would
//! never come back to fail an assertion, so the test binary is aborted instead.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A test still running after this long has a call that blocked: abort the run.
const HANG: Duration = Duration::from_secs(20);

/// Aborts the test binary if the test holding it does not end within [`HANG`]: a
/// blocking call would never come back to fail an assertion.
pub struct Watchdog(Arc<AtomicBool>);

pub fn watchdog() -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&done);
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < HANG {
            if seen.load(Ordering::Relaxed) {
                return;
            }
            sleep(Duration::from_millis(10));
        }
        // Straight to stderr: the harness would swallow a captured eprintln.
        let _ = writeln!(
            std::io::stderr(),
            "a test hung for {HANG:?}: a stack call blocked"
        );
        std::process::abort();
    });
    Watchdog(done)
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
