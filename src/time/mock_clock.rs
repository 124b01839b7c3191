//! [`MockClock`]: time that moves only when the test says so.

use core::cell::Cell;

use crate::time::{Clock, Duration, Instant};

/// A [`Clock`] set and advanced by hand.
///
/// `&MockClock` is a `Clock` too, so the code under test can own `&clock` while the
/// test keeps advancing it.
#[derive(Debug, Default)]
pub struct MockClock {
    now: Cell<u64>,
}

impl MockClock {
    /// A clock at [`Instant::ZERO`].
    pub const fn new() -> Self {
        Self { now: Cell::new(0) }
    }

    /// The time the clock shows.
    pub fn now_instant(&self) -> Instant {
        Instant::from_millis(self.now.get())
    }

    /// Moves the clock to `at` (also backwards, to test code against a bad clock).
    pub fn set(&self, at: Instant) {
        self.now.set(at.total_millis());
    }

    /// Moves the clock forward by `by`, saturating.
    pub fn advance(&self, by: Duration) {
        self.set(self.now_instant() + by);
    }
}

/// An embedded-hal-async delay on a [`MockClock`] (feature `async`): it ends once
/// the test has moved the clock past its end, never before. Waiting, it wakes its
/// task at once, so the test's executor polls again after each move.
#[cfg(feature = "async")]
#[derive(Debug, Clone, Copy)]
pub struct MockDelay<'c> {
    clock: &'c MockClock,
}

#[cfg(feature = "async")]
impl MockClock {
    /// A delay that this clock ends.
    pub fn delay(&self) -> MockDelay<'_> {
        MockDelay { clock: self }
    }
}

#[cfg(feature = "async")]
impl MockDelay<'_> {
    async fn sleep(&self, millis: u64) {
        let end = self.clock.now_instant() + Duration::from_millis(millis);
        core::future::poll_fn(|cx| {
            if self.clock.now_instant() >= end {
                return core::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            core::task::Poll::Pending
        })
        .await;
    }
}

/// Rounds up to whole milliseconds, the clock's unit: never shorter than asked.
#[cfg(feature = "async")]
impl embedded_hal_async::delay::DelayNs for MockDelay<'_> {
    async fn delay_ns(&mut self, ns: u32) {
        self.sleep(u64::from(ns).div_ceil(1_000_000)).await;
    }

    async fn delay_us(&mut self, us: u32) {
        self.sleep(u64::from(us).div_ceil(1000)).await;
    }

    async fn delay_ms(&mut self, ms: u32) {
        self.sleep(u64::from(ms)).await;
    }
}

impl Clock for &MockClock {
    fn now(&mut self) -> Instant {
        self.now_instant()
    }
}

impl Clock for MockClock {
    fn now(&mut self) -> Instant {
        self.now_instant()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(mut clock: impl Clock) -> Instant {
        clock.now()
    }

    #[test]
    fn starts_at_zero_and_moves_only_by_hand() {
        let clock = MockClock::new();
        assert_eq!(read(&clock), Instant::ZERO);
        clock.advance(Duration::from_millis(1500));
        clock.advance(Duration::from_secs(2));
        assert_eq!(read(&clock), Instant::from_millis(3500));
        clock.set(Instant::from_secs(10));
        assert_eq!(clock.now_instant(), Instant::from_millis(10_000));
    }

    #[test]
    fn a_borrowed_clock_sees_later_advances() {
        let clock = MockClock::default();
        let mut owned_by_client = &clock;
        clock.advance(Duration::from_millis(7));
        assert_eq!(owned_by_client.now(), Instant::from_millis(7));
        clock.advance(Duration::from_millis(3));
        assert_eq!(
            owned_by_client.now() - Instant::from_millis(7),
            Duration::from_millis(3)
        );
    }

    #[test]
    fn advance_saturates() {
        let mut clock = MockClock::new();
        clock.set(Instant::from_millis(u64::MAX - 1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Instant::from_millis(u64::MAX));
    }
}
