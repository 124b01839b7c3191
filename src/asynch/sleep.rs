//! Waiting for an [`Instant`] of the crate's clock with an async delay, so that
//! the library needs no timer of its own (no embassy-time): the board's
//! `DelayNs` sleeps, the board's [`Clock`] says when to wake.

use core::cell::RefCell;

use embedded_hal_async::delay::DelayNs;

use crate::time::{Clock, Instant};

/// Reads a clock shared by futures of one task; the borrow never outlives `now`.
pub(crate) fn now<C: Clock>(clock: &RefCell<C>) -> Instant {
    clock.borrow_mut().now()
}

/// Returns at `at` or later. The delay may wake early or late; the clock decides.
pub(crate) async fn sleep_until<C: Clock, D: DelayNs>(
    clock: &RefCell<C>,
    delay: &mut D,
    at: Instant,
) {
    loop {
        let now = now(clock);
        if now >= at {
            return;
        }
        let ms = u32::try_from((at - now).total_millis()).unwrap_or(u32::MAX);
        delay.delay_ms(ms).await;
    }
}

/// [`sleep_until`] `at`, or for ever for `None`.
pub(crate) async fn sleep_until_or_never<C: Clock, D: DelayNs>(
    clock: &RefCell<C>,
    delay: &mut D,
    at: Option<Instant>,
) {
    match at {
        Some(at) => sleep_until(clock, delay, at).await,
        None => core::future::pending().await,
    }
}
