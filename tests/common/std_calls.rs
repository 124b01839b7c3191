//! What the std stack's tests (TCP and UDP) share: the errors they expect, and a
//! bounded retry of calls that report `WouldBlock`.

use std::io::ErrorKind;
use std::thread::sleep;
use std::time::{Duration, Instant};

use nal_echo::embedded_nal::nb;
use nal_echo::stack::std::StdError;

/// Longest `until_ready` waits.
const PATIENCE: Duration = Duration::from_secs(10);
/// Most rounds of `until_ready` (1 ms pauses): the count bound, besides [`PATIENCE`].
const ROUNDS: usize = 10_000;

pub fn refused() -> StdError {
    StdError::Io(ErrorKind::ConnectionRefused)
}

pub fn invalid<T: std::fmt::Debug>(r: nb::Result<T, StdError>) {
    match r {
        Err(nb::Error::Other(StdError::InvalidState)) => {}
        other => panic!("expected InvalidState, got {other:?}"),
    }
}

/// Repeats `op` while it returns `WouldBlock`, at most [`ROUNDS`] times and
/// [`PATIENCE`] long. A call that blocked would never return: the test's
/// [`watchdog`](super::watchdog::watchdog) catches that, and no test asserts how
/// long a call took.
pub fn until_ready<T>(mut op: impl FnMut() -> nb::Result<T, StdError>) -> Result<T, StdError> {
    let start = Instant::now();
    for _ in 0..ROUNDS {
        match op() {
            Ok(v) => return Ok(v),
            Err(nb::Error::Other(e)) => return Err(e),
            Err(nb::Error::WouldBlock) => {}
        }
        if start.elapsed() > PATIENCE {
            break;
        }
        sleep(Duration::from_millis(1));
    }
    panic!("still WouldBlock after {:?}", start.elapsed());
}
