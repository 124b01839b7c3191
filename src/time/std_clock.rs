//! [`StdClock`]: the host's monotonic clock, for host programs (feature `std`).

use crate::time::{Clock, Instant};

/// A [`Clock`] over `std::time::Instant`, at zero when made. `&StdClock` is a
/// `Clock` too, so one clock can serve a server and a client.
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    start: ::std::time::Instant,
}

impl StdClock {
    /// A clock at [`Instant::ZERO`] now.
    pub fn new() -> Self {
        Self {
            start: ::std::time::Instant::now(),
        }
    }

    /// Time since the clock was made, at the host's resolution.
    pub fn elapsed(&self) -> core::time::Duration {
        self.start.elapsed()
    }

    /// The time now.
    pub fn instant(&self) -> Instant {
        let millis = self.start.elapsed().as_millis();
        Instant::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for StdClock {
    fn now(&mut self) -> Instant {
        self.instant()
    }
}

impl Clock for &StdClock {
    fn now(&mut self) -> Instant {
        self.instant()
    }
}
