//! Conversions between this crate's time types and core's and smoltcp's.

use crate::time::Duration;

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> Self {
        core::time::Duration::from_millis(d.total_millis())
    }
}

/// Whole milliseconds (rounded down), saturating at `u64::MAX` ms.
impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Self {
        Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(feature = "smoltcp")]
mod smoltcp_time {
    use crate::time::{Duration, Instant};

    /// The latest instant smoltcp can add its timeouts to without overflow.
    const MAX_MICROS: i64 = i64::MAX / 2;

    /// Milliseconds as smoltcp's microseconds, clamped to half of smoltcp's range
    /// (about 146,000 years of uptime), so that neither the conversion nor
    /// smoltcp's own `instant + timeout` sums can overflow, whatever the clock says.
    impl From<Instant> for smoltcp::time::Instant {
        fn from(now: Instant) -> Self {
            let millis = i64::try_from(now.total_millis()).unwrap_or(i64::MAX);
            smoltcp::time::Instant::from_micros(millis.saturating_mul(1000).min(MAX_MICROS))
        }
    }

    /// Whole milliseconds; an instant before smoltcp's zero is [`Instant::ZERO`].
    impl From<smoltcp::time::Instant> for Instant {
        fn from(at: smoltcp::time::Instant) -> Self {
            Instant::from_millis(u64::try_from(at.total_millis()).unwrap_or(0))
        }
    }

    impl From<Duration> for smoltcp::time::Duration {
        fn from(d: Duration) -> Self {
            smoltcp::time::Duration::from_millis(d.total_millis())
        }
    }

    /// Whole milliseconds (rounded down).
    impl From<smoltcp::time::Duration> for Duration {
        fn from(d: smoltcp::time::Duration) -> Self {
            Duration::from_millis(d.total_millis())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_durations_round_trip_in_whole_milliseconds() {
        let core = core::time::Duration::from_micros(1_500);
        assert_eq!(Duration::from(core), Duration::from_millis(1));
        let back: core::time::Duration = Duration::from_millis(1_234).into();
        assert_eq!(back, core::time::Duration::from_millis(1_234));
        assert_eq!(
            Duration::from(core::time::Duration::MAX).total_millis(),
            u64::MAX
        );
    }

    #[cfg(feature = "smoltcp")]
    #[test]
    fn smoltcp_times_convert_both_ways_and_saturate() {
        use crate::time::Instant;
        let at: smoltcp::time::Instant = Instant::from_millis(2_500).into();
        assert_eq!(at, smoltcp::time::Instant::from_millis(2_500));
        assert_eq!(Instant::from(at), Instant::from_millis(2_500));
        assert_eq!(
            Instant::from(smoltcp::time::Instant::from_millis(-5)),
            Instant::ZERO
        );
        let far: smoltcp::time::Instant = Instant::from_millis(u64::MAX).into();
        assert_eq!(far.total_micros(), i64::MAX / 2);
        let d: smoltcp::time::Duration = Duration::from_secs(3).into();
        assert_eq!(Duration::from(d), Duration::from_secs(3));
    }
}
