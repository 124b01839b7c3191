//! [`Schedule`]: the drift-free ticks of a periodic client, shared by its TCP and
//! UDP forms.

use crate::time::{Duration, Instant};

/// Message `k` of a connection (or of a UDP socket's life) is due at
/// `start + k * period`, however late a poll comes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    start: Instant,
    tick: u64,
}

impl Schedule {
    pub(crate) const fn starting(at: Instant) -> Self {
        Self { start: at, tick: 0 }
    }

    /// When the next tick is due.
    pub(crate) fn next_due(&self, period: Duration) -> Instant {
        let period = period.total_millis().max(1);
        self.start + Duration::from_millis(self.tick.saturating_mul(period))
    }

    /// If a tick is due at `now`, moves past it and every tick before it and
    /// returns how many of those passed without a poll (to be counted as missed):
    /// the latest tick is the one to send, never a burst of the missed ones.
    pub(crate) fn take_due(&mut self, now: Instant, period: Duration) -> Option<u64> {
        let due = self.next_due(period);
        let period = period.total_millis().max(1);
        if now < due {
            return None;
        }
        let late_ticks = (now - due).total_millis() / period;
        self.tick = self.tick.saturating_add(late_ticks + 1);
        Some(late_ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_the_grid_and_a_late_poll_skips_the_ticks_it_missed() {
        let mut s = Schedule::starting(Instant::from_millis(100));
        let period = Duration::from_millis(1000);
        assert_eq!(s.take_due(Instant::from_millis(100), period), Some(0));
        assert_eq!(s.take_due(Instant::from_millis(1099), period), None);
        assert_eq!(s.take_due(Instant::from_millis(1150), period), Some(0));
        // Ticks at 2100 and 3100 passed; the one at 4100 is sent.
        assert_eq!(s.take_due(Instant::from_millis(4200), period), Some(2));
        assert_eq!(s.take_due(Instant::from_millis(5099), period), None);
        assert_eq!(s.take_due(Instant::from_millis(5100), period), Some(0));
    }

    #[test]
    fn a_zero_period_is_one_millisecond() {
        let mut s = Schedule::starting(Instant::ZERO);
        assert_eq!(s.take_due(Instant::ZERO, Duration::from_millis(0)), Some(0));
        assert_eq!(s.take_due(Instant::ZERO, Duration::from_millis(0)), None);
        assert_eq!(
            s.take_due(Instant::from_millis(3), Duration::from_millis(0)),
            Some(2)
        );
    }
}
