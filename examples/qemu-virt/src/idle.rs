//! [`Sleeper`]: let the hart sleep (`wfi`) while there is nothing to do, so that an
//! idle board does not keep a host core busy.
//!
//! After the main loop has made no progress for [`IDLE_AFTER_MS`], the hart waits
//! for an interrupt: the network card's (a frame came or went) or the timer's (at
//! most [`SLEEP_MS`] later, so that timeouts, the screen's refresh and a client's
//! schedule still run). Interrupts only wake the hart: `mstatus.MIE` stays off, so
//! no handler runs.

use crate::clock::mtime;
use crate::net::{slot_base, VirtioPhy};

/// Idle time after which the hart sleeps. A busy peer never waits for a wake-up.
pub const IDLE_AFTER_MS: u64 = 10;
/// Longest sleep: the timer wakes the hart this long after it went to sleep.
pub const SLEEP_MS: u64 = 10;

const TICKS_PER_MS: u64 = 10_000;
/// CLINT: hart 0's timer compare register.
const MTIMECMP: *mut u64 = 0x0200_4000 as *mut u64;
/// PLIC: priorities (one u32 per source), enables and claim of context 0 (hart 0,
/// M-mode).
const PLIC_PRIORITY: usize = 0x0c00_0000;
const PLIC_ENABLE: usize = 0x0c00_2000;
const PLIC_THRESHOLD: usize = 0x0c20_0000;
const PLIC_CLAIM: usize = 0x0c20_0004;
/// virtio-mmio: interrupt status and acknowledge registers.
const VIRTIO_INTERRUPT_STATUS: usize = 0x60;
const VIRTIO_INTERRUPT_ACK: usize = 0x64;
/// `mie` bits: machine timer and machine external interrupts.
const MIE_MTIE: usize = 1 << 7;
const MIE_MEIE: usize = 1 << 11;

/// Decides when the main loop may sleep, and sleeps.
pub struct Sleeper {
    virtio: usize,
    idle_since: Option<u64>,
    sleeps: u64,
}

impl Sleeper {
    /// Route the card's interrupt to hart 0 (waking only) and arm nothing yet.
    pub fn new(phy: &VirtioPhy) -> Self {
        enable_wakeups(phy.slot());
        Self {
            virtio: slot_base(phy.slot()),
            idle_since: None,
            sleeps: 0,
        }
    }

    /// Call once per turn of the main loop with whether the turn did anything. After
    /// [`IDLE_AFTER_MS`] of idle turns it sleeps until a frame comes or goes or
    /// [`SLEEP_MS`] pass. `poll` runs between taking back the interrupts and going to
    /// sleep, so that a frame that came meanwhile is handled rather than slept on;
    /// it returns whether it did anything.
    pub fn idle(&mut self, progress: bool, poll: impl FnOnce() -> bool) {
        let now = mtime();
        if progress {
            self.idle_since = None;
            return;
        }
        let since = *self.idle_since.get_or_insert(now);
        if now.saturating_sub(since) < IDLE_AFTER_MS * TICKS_PER_MS {
            return;
        }
        ack_card_interrupt(self.virtio);
        clear_plic();
        if poll() {
            self.idle_since = None;
            return;
        }
        sleep_until(now + SLEEP_MS * TICKS_PER_MS);
        self.sleeps += 1;
    }

    /// Times the hart went to sleep.
    pub fn sleeps(&self) -> u64 {
        self.sleeps
    }
}

/// Let the card in virtio-mmio slot `slot` (PLIC source `slot + 1`) and the timer
/// wake the hart from `wfi`. Only waking: `mstatus.MIE` stays off, so no handler
/// runs, and `mtimecmp` is disarmed until [`sleep_until`].
pub fn enable_wakeups(slot: usize) {
    let irq = slot + 1;
    // SAFETY: PLIC, CLINT and CSR accesses of the virt machine's hart 0; with
    // mstatus.MIE off the enabled interrupts never trap.
    unsafe {
        MTIMECMP.write_volatile(u64::MAX);
        ((PLIC_PRIORITY + 4 * irq) as *mut u32).write_volatile(1);
        let enable = (PLIC_ENABLE + 4 * (irq / 32)) as *mut u32;
        enable.write_volatile(enable.read_volatile() | 1 << (irq % 32));
        (PLIC_THRESHOLD as *mut u32).write_volatile(0);
        core::arch::asm!("csrs mie, {0}", in(reg) MIE_MTIE | MIE_MEIE);
    }
}

/// Acknowledge the interrupt of the card whose registers are at `virtio` (see
/// [`slot_base`]); returns whether it had one (it used a receive or a transmit
/// buffer since the last acknowledgement). One register read when it had none.
pub fn ack_card_interrupt(virtio: usize) -> bool {
    // SAFETY: the card's virtio-mmio interrupt status and acknowledge registers.
    unsafe {
        let status = ((virtio + VIRTIO_INTERRUPT_STATUS) as *const u32).read_volatile();
        if status != 0 {
            ((virtio + VIRTIO_INTERRUPT_ACK) as *mut u32).write_volatile(status);
        }
        status != 0
    }
}

/// Claim and complete every interrupt pending at the PLIC, so that only a new one
/// wakes the hart (acknowledge the card's first: [`ack_card_interrupt`]).
pub fn clear_plic() {
    // SAFETY: the PLIC's claim register of hart 0's M-mode context.
    unsafe {
        let claim = PLIC_CLAIM as *mut u32;
        for _ in 0..32 {
            let irq = claim.read_volatile();
            if irq == 0 {
                break;
            }
            claim.write_volatile(irq);
        }
    }
}

/// `wfi` until an enabled interrupt is pending or `mtime` reaches `deadline`, then
/// disarm the timer again. Returns at once if an interrupt is already pending.
pub fn sleep_until(deadline: u64) {
    // SAFETY: as in `enable_wakeups`; wfi returns once mip & mie is nonzero.
    unsafe {
        MTIMECMP.write_volatile(deadline);
        core::arch::asm!("wfi");
        MTIMECMP.write_volatile(u64::MAX);
    }
}
