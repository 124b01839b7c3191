//! Time from the CLINT's 64-bit `mtime` counter, which ticks at the CPU clock / 50
//! (7.8 MHz at 390 MHz). 64 bits at that rate never wrap.

use k210_pac as pac;
use nal_echo::{Clock, Instant};

use super::sysctl::Clocks;

/// `mtime` runs at the CPU clock divided by this (the Kendryte SDK's `CLINT_CLOCK_DIV`).
const MTIME_DIVIDER: u64 = 50;

/// Raw `mtime`: ticks since reset.
pub fn mtime() -> u64 {
    // SAFETY: a read of the CLINT's always-present timer register; nothing else
    // touches the CLINT.
    unsafe { (*pac::CLINT::ptr()).mtime.read().bits() }
}

/// The board's [`Clock`]: milliseconds since reset.
#[derive(Debug, Clone, Copy)]
pub struct BoardClock {
    /// `mtime` ticks per second.
    tick_hz: u64,
}

impl BoardClock {
    /// A clock for the CPU frequency in `clocks`.
    pub fn new(clocks: Clocks) -> Self {
        Self {
            tick_hz: (u64::from(clocks.cpu_hz) / MTIME_DIVIDER).max(1),
        }
    }

    /// Microseconds since reset.
    pub fn micros(&self) -> u64 {
        scale(mtime(), self.tick_hz, 1_000_000)
    }
}

impl Clock for BoardClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(scale(mtime(), self.tick_hz, 1000))
    }
}

/// `ticks * unit / tick_hz` without overflowing for any 64-bit tick count, and
/// without the rounding error of dividing by a whole number of ticks per unit.
fn scale(ticks: u64, tick_hz: u64, unit: u64) -> u64 {
    (ticks / tick_hz) * unit + (ticks % tick_hz) * unit / tick_hz
}

/// Busy-waits `us` microseconds (board setup only; the main loop never waits).
pub fn delay_us(clocks: Clocks, us: u64) {
    let clock = BoardClock::new(clocks);
    let end = clock.micros() + us;
    while clock.micros() < end {
        core::hint::spin_loop();
    }
}
