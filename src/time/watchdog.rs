//! [`Watchdog`]: something that should make progress has made none for too long.

use crate::time::{Duration, Instant};

/// Tells when work has waited `timeout` for something that should serve it (a
/// radio's send slots, a modem's answers) without it once making progress: the
/// moment to reset it. Polled, no timer: the caller says when work waits and when
/// progress was made, and asks.
///
/// Waiting starts the count, progress ends it; waiting again while it runs keeps
/// the first start, so a steady stream of work that is never served fires after
/// `timeout`, and one served now and then never does.
///
/// ```
/// use nal_echo::time::Watchdog;
/// use nal_echo::{Duration, Instant};
///
/// let mut dog = Watchdog::new(Duration::from_secs(20));
/// dog.waiting(Instant::from_millis(1_000));
/// dog.waiting(Instant::from_millis(15_000));
/// assert!(!dog.is_stalled(Instant::from_millis(20_999)));
/// assert!(dog.is_stalled(Instant::from_millis(21_000)));
/// dog.progress();
/// assert!(!dog.is_stalled(Instant::from_millis(60_000)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Watchdog {
    timeout: Duration,
    waiting_since: Option<Instant>,
}

impl Watchdog {
    /// A watchdog that fires after `timeout` of unserved work.
    pub const fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            waiting_since: None,
        }
    }

    /// Work waits at `now` (the count starts if it was not running).
    pub fn waiting(&mut self, now: Instant) {
        self.waiting_since.get_or_insert(now);
    }

    /// Progress was made: nothing waits any more.
    pub fn progress(&mut self) {
        self.waiting_since = None;
    }

    /// Whether work has waited `timeout` or longer at `now` without progress.
    pub fn is_stalled(&self, now: Instant) -> bool {
        self.waiting_since
            .is_some_and(|since| now - since >= self.timeout)
    }

    /// How long work has waited at `now`; zero if nothing waits.
    pub fn waited(&self, now: Instant) -> Duration {
        self.waiting_since
            .map_or(Duration::from_millis(0), |since| now - since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_now_and_then_never_fires_and_the_first_wait_counts() {
        let mut dog = Watchdog::new(Duration::from_millis(100));
        for t in 0..1000u64 {
            dog.waiting(Instant::from_millis(t));
            if t % 99 == 98 {
                dog.progress();
            }
            assert!(!dog.is_stalled(Instant::from_millis(t)), "at {t}");
        }
        let mut dog = Watchdog::new(Duration::from_millis(100));
        dog.waiting(Instant::from_millis(10));
        dog.waiting(Instant::from_millis(90));
        assert_eq!(
            dog.waited(Instant::from_millis(90)),
            Duration::from_millis(80)
        );
        assert!(!dog.is_stalled(Instant::from_millis(109)));
        assert!(dog.is_stalled(Instant::from_millis(110)));
        assert!(!Watchdog::new(Duration::from_millis(0)).is_stalled(Instant::from_millis(5)));
    }
}
