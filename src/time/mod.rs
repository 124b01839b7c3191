//! Millisecond time: [`Instant`], [`Duration`], the [`Clock`] trait, and a polled
//! [`Watchdog`].
//!
//! Like smoltcp's `time` module: two small newtypes over milliseconds, so that a
//! deadline can never be mixed up with a span, and no floating point is needed.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

mod convert;
mod counter_clock;
#[cfg(feature = "mock")]
mod mock_clock;
#[cfg(feature = "std")]
mod std_clock;
mod watchdog;

pub use counter_clock::CounterClock;
#[cfg(feature = "mock")]
pub use mock_clock::MockClock;
#[cfg(all(feature = "mock", feature = "async"))]
pub use mock_clock::MockDelay;
#[cfg(feature = "std")]
pub use std_clock::StdClock;
pub use watchdog::Watchdog;

/// A point in time, in milliseconds since an arbitrary, fixed origin (usually boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant {
    millis: u64,
}

/// A span of time in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration {
    millis: u64,
}

impl Instant {
    /// The origin, `0 ms`.
    pub const ZERO: Instant = Instant { millis: 0 };

    /// An instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Self {
        Self { millis }
    }

    /// An instant `secs` seconds after the origin.
    pub const fn from_secs(secs: u64) -> Self {
        Self::from_millis(secs.saturating_mul(1000))
    }

    /// Milliseconds since the origin.
    pub const fn total_millis(self) -> u64 {
        self.millis
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later (clocks are trusted to
    /// be monotonic, but a wrong caller must not make the library panic).
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.millis.saturating_sub(earlier.millis))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration { millis: 0 };

    /// A span of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self { millis }
    }

    /// A span of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self::from_millis(secs.saturating_mul(1000))
    }

    /// The span in milliseconds.
    pub const fn total_millis(self) -> u64 {
        self.millis
    }

    /// `self * 2`, saturating.
    pub const fn doubled(self) -> Self {
        Self::from_millis(self.millis.saturating_mul(2))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant::from_millis(self.millis.saturating_add(rhs.millis))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration::from_millis(self.millis.saturating_add(rhs.millis))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.millis / 1000, self.millis % 1000)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.millis)
    }
}

/// A monotonic millisecond clock.
///
/// embedded-hal 1.0 has no clock trait, so the crate has this one. On a board,
/// [`CounterClock`] implements it over a free-running 32-bit counter (and `&clock`
/// shares one clock between the client, the smoltcp adapter and the server's
/// `poll`); on a host, [`StdClock`] (feature `std`); in
/// tests, [`MockClock`] (feature `mock`). Implement it by
/// hand like this:
///
/// ```
/// use nal_echo::{Clock, Instant};
///
/// struct Uptime { millis: u64 } // e.g. counted by a 1 kHz tick interrupt
///
/// impl Clock for Uptime {
///     fn now(&mut self) -> Instant {
///         Instant::from_millis(self.millis)
///     }
/// }
/// assert_eq!(Uptime { millis: 7 }.now(), Instant::from_millis(7));
/// ```
pub trait Clock {
    /// The current time. Must never go backwards.
    fn now(&mut self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for &mut C {
    fn now(&mut self) -> Instant {
        C::now(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let a = Instant::from_millis(5);
        let b = Instant::from_millis(9);
        assert_eq!(a - b, Duration::ZERO);
        assert_eq!(b - a, Duration::from_millis(4));
        assert_eq!(
            Instant::from_millis(u64::MAX) + Duration::from_secs(1),
            Instant::from_millis(u64::MAX)
        );
        assert_eq!(
            Duration::from_millis(u64::MAX).doubled(),
            Duration::from_millis(u64::MAX)
        );
    }

    #[test]
    fn display_is_human_readable() {
        use core::fmt::Write;
        let mut s: heapless::String<16> = heapless::String::new();
        write!(s, "{}", Instant::from_millis(61_005)).unwrap();
        assert_eq!(s.as_str(), "61.005s");
    }
}
