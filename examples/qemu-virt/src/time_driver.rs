//! embassy-time's driver on the CLINT: `now()` is `mtime`, and wake-ups wait in a
//! small table that the executor loop ([`crate::executor`]) checks.
//!
//! Tick rate: `mtime` counts at 10 MHz on QEMU's virt machine, so embassy-time is
//! built with `tick-hz-10_000_000` and a tick *is* an `mtime` count: no division on
//! every `Instant::now()`, and 100 ns resolution. (A 64-bit count at 10 MHz wraps
//! after 58,000 years.)
//!
//! Wake-ups: the executor runs in the main loop without interrupt handlers
//! (`mstatus.MIE` stays off, as in the poll firmware), so nothing can fire a timer
//! from an interrupt. Instead, [`schedule_wake`](Driver::schedule_wake) stores the
//! waker and its deadline, the loop calls [`wake_expired`] after each round of the
//! executor, and before the hart sleeps it arms `mtimecmp` for [`next_deadline`], so
//! that the timer interrupt (enabled in `mie` only to end `wfi`) wakes it in time.
//! This is the simplest correct choice: no trap handler, no re-entrancy, and a
//! deadline is never missed by more than one round of the loop.
//!
//! The table holds one entry per waker (embassy-executor's wakers are per task, and
//! this firmware has a handful of tasks); a waker scheduled again keeps the earlier
//! of its deadlines (an early wake is harmless: the task polls its timers and
//! schedules again). If the table were ever full, the waker is woken at once, which
//! is also correct, only busier.

use core::cell::RefCell;
use core::task::Waker;

use critical_section::Mutex;
use embassy_time_driver::Driver;

use crate::clock::mtime;

/// Wakers waiting for a deadline at once (tasks of the firmware, with room).
const ENTRIES: usize = 8;

/// A waker and the `mtime` deadline it waits for.
type Entry = Option<(u64, Waker)>;

/// The driver: `mtime` and the table of waiting wakers.
pub struct ClintTimeDriver {
    waiting: Mutex<RefCell<[Entry; ENTRIES]>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: ClintTimeDriver = ClintTimeDriver {
    waiting: Mutex::new(RefCell::new([const { None }; ENTRIES])),
});

impl Driver for ClintTimeDriver {
    fn now(&self) -> u64 {
        mtime()
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        let stored = critical_section::with(|cs| {
            let mut waiting = self.waiting.borrow_ref_mut(cs);
            if let Some((deadline, _)) = waiting
                .iter_mut()
                .flatten()
                .find(|(_, w)| w.will_wake(waker))
            {
                *deadline = (*deadline).min(at);
                return true;
            }
            match waiting.iter_mut().find(|e| e.is_none()) {
                Some(free) => {
                    *free = Some((at, waker.clone()));
                    true
                }
                None => false,
            }
        });
        if !stored {
            waker.wake_by_ref();
        }
    }
}

/// Wakes every waker whose deadline has come; returns whether it woke any.
pub fn wake_expired() -> bool {
    let now = mtime();
    let mut woke = false;
    loop {
        // One at a time, so that no waker runs inside the critical section.
        let due = critical_section::with(|cs| {
            let mut waiting = DRIVER.waiting.borrow_ref_mut(cs);
            waiting
                .iter_mut()
                .find(|e| matches!(e, Some((at, _)) if *at <= now))
                .and_then(Option::take)
        });
        match due {
            Some((_, waker)) => {
                waker.wake();
                woke = true;
            }
            None => return woke,
        }
    }
}

/// The earliest deadline waiting (`mtime` ticks), if any.
pub fn next_deadline() -> Option<u64> {
    critical_section::with(|cs| {
        DRIVER
            .waiting
            .borrow_ref(cs)
            .iter()
            .flatten()
            .map(|(at, _)| *at)
            .min()
    })
}
