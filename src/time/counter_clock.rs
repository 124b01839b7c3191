//! [`CounterClock`]: a [`Clock`] over a free-running 32-bit hardware counter,
//! shareable between everything that needs the time.

use core::cell::Cell;

use crate::time::{Clock, Instant};

/// A [`Clock`] over a free-running counter that wraps at 2^32 (a SysTick-extended
/// timer, a 1 MHz `TIMG` or `mtime` low word...), extended to 64 bits.
///
/// `read` returns the counter; `hz` is its rate. The clock must be read at least
/// once per wrap of the counter (71 minutes at 1 MHz), which any main loop does.
/// Reading takes `&self`, so one clock serves the whole firmware: `&clock` is a
/// `Clock` to hand to a [`PeriodicClient`](crate::client::PeriodicClient) and to the
/// smoltcp adapter, and [`instant`](Self::instant) gives the `now` of
/// [`EchoServer::poll`](crate::server::EchoServer::poll):
///
/// ```
/// use core::cell::Cell;
/// use nal_echo::time::CounterClock;
/// use nal_echo::{Clock, Instant};
///
/// // Stand-in for a timer register counting microseconds.
/// let register = Cell::new(u32::MAX - 999);
/// let clock = CounterClock::new(|| register.get(), 1_000_000);
/// let mut for_the_client = &clock; // e.g. PeriodicClient::new(stack, &clock, config)
/// assert_eq!(for_the_client.now(), Instant::ZERO);
/// register.set(2_000); // wrapped: 3000 µs later
/// assert_eq!(clock.instant(), Instant::from_millis(3)); // e.g. server.poll(clock.instant())
/// ```
pub struct CounterClock<R> {
    read: R,
    hz: u32,
    last: Cell<u32>,
    ticks: Cell<u64>,
}

impl<R: Fn() -> u32> CounterClock<R> {
    /// A clock at [`Instant::ZERO`] now, over a counter of `hz` ticks a second
    /// (at least 1).
    pub fn new(read: R, hz: u32) -> Self {
        let last = read();
        Self {
            read,
            hz: hz.max(1),
            last: Cell::new(last),
            ticks: Cell::new(0),
        }
    }

    /// The time now.
    pub fn instant(&self) -> Instant {
        let raw = (self.read)();
        let elapsed = raw.wrapping_sub(self.last.get());
        self.last.set(raw);
        let ticks = self.ticks.get().saturating_add(u64::from(elapsed));
        self.ticks.set(ticks);
        let hz = u64::from(self.hz);
        // Split so that the multiplication cannot overflow.
        Instant::from_millis((ticks / hz) * 1000 + (ticks % hz) * 1000 / hz)
    }
}

impl<R: Fn() -> u32> Clock for CounterClock<R> {
    fn now(&mut self) -> Instant {
        self.instant()
    }
}

impl<R: Fn() -> u32> Clock for &CounterClock<R> {
    fn now(&mut self) -> Instant {
        self.instant()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_across_wraps_at_any_rate() {
        let raw = Cell::new(0u32);
        let clock = CounterClock::new(|| raw.get(), 32_768); // a watch crystal
        for _ in 0..3 {
            raw.set(raw.get().wrapping_add(u32::MAX / 2 + 1)); // half a wrap
            clock.instant();
        }
        // 1.5 wraps = 3 * 2^31 ticks of 32768 Hz = 196608 s.
        assert_eq!(clock.instant(), Instant::from_secs(196_608));
        raw.set(raw.get().wrapping_add(16_384)); // half a second more
        assert_eq!(clock.instant(), Instant::from_millis(196_608_500));
    }

    #[test]
    fn a_zero_rate_is_taken_as_one_tick_a_second() {
        let raw = Cell::new(5u32);
        let clock = CounterClock::new(|| raw.get(), 0);
        raw.set(7);
        assert_eq!(clock.instant(), Instant::from_secs(2));
    }
}
