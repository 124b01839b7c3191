//! The loop that runs embassy's executor on the board, and sleeps.
//!
//! embassy-executor is built with `platform-spin` but without `executor-thread`:
//! its spin `Executor` would poll without end and never let the hart sleep, so this
//! module supplies the platform instead (a `__pender` and the loop around
//! [`raw::Executor::poll`]). One round of the loop:
//!
//! 1. poll the tasks that were woken, then run the caller's `after_round`;
//! 2. wake the timers that are due ([`time_driver::wake_expired`]);
//! 3. if the card has used a buffer since the last round (its interrupt status),
//!    wake the task waiting for it ([`net_driver::CARD_WAKER`]).
//!
//! When a round woke nothing and nothing was woken for [`IDLE_AFTER_MS`] (as the
//! poll firmware's [`Sleeper`](crate::Sleeper) does), the hart takes back the
//! card's interrupt, checks once more, and sleeps (`wfi`) until the card's interrupt
//! or the next timer deadline (at most [`SLEEP_MS`]). Interrupts only wake the hart:
//! `mstatus.MIE` stays off and no handler runs.

use core::sync::atomic::{AtomicBool, Ordering};

use embassy_executor::{raw, Spawner};
use static_cell::StaticCell;

use crate::clock::mtime;
use crate::idle::{ack_card_interrupt, clear_plic, enable_wakeups, sleep_until};
use crate::net::slot_base;
use crate::{net_driver, time_driver};

/// Idle time after which the hart sleeps. A busy peer never waits for a wake-up.
pub const IDLE_AFTER_MS: u64 = 10;
/// Longest sleep without a timer deadline (a bound only; nothing needs it).
pub const SLEEP_MS: u64 = 100;

const TICKS_PER_MS: u64 = 10_000;

/// Set by the executor when a task was woken: poll again before sleeping.
static PENDED: AtomicBool = AtomicBool::new(false);

/// The executor's pender: a task was woken (from the loop itself, never from an
/// interrupt), so the next round polls it.
#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {
    PENDED.store(true, Ordering::Release);
}

/// Run the executor forever: `init` spawns the tasks; `card_slot` is the
/// virtio-mmio slot of the network card, whose interrupt wakes the hart;
/// `after_round` runs after every round of the executor (outside every task:
/// printing what the tasks did, say).
pub fn run(card_slot: usize, init: impl FnOnce(Spawner), mut after_round: impl FnMut()) -> ! {
    static EXECUTOR: StaticCell<raw::Executor> = StaticCell::new();
    let executor: &'static raw::Executor = EXECUTOR.init(raw::Executor::new(core::ptr::null_mut()));
    enable_wakeups(card_slot);
    let virtio = slot_base(card_slot);
    init(executor.spawner());
    let mut idle_since = None;
    loop {
        PENDED.store(false, Ordering::Release);
        // SAFETY: poll is never called from the pender nor re-entered; one hart.
        unsafe { executor.poll() };
        after_round();
        time_driver::wake_expired();
        if ack_card_interrupt(virtio) {
            net_driver::CARD_WAKER.wake();
        }
        if PENDED.load(Ordering::Acquire) {
            idle_since = None;
            continue;
        }
        let now = mtime();
        let since = *idle_since.get_or_insert(now);
        if now.saturating_sub(since) < IDLE_AFTER_MS * TICKS_PER_MS {
            continue;
        }
        // Take back the interrupts, then look once more: whatever came after this
        // raises a new interrupt, which ends the wfi below at once.
        let card = ack_card_interrupt(virtio);
        clear_plic();
        if card {
            net_driver::CARD_WAKER.wake();
            continue;
        }
        let limit = now + SLEEP_MS * TICKS_PER_MS;
        let deadline = time_driver::next_deadline().map_or(limit, |d| d.min(limit));
        if deadline > mtime() {
            sleep_until(deadline);
        }
    }
}
