//! Time from the CLINT's `mtime` counter (10 MHz on the virt machine).

use nal_echo::{Clock, Instant};

/// The CLINT's 64-bit `mtime` register.
const MTIME: *const u64 = 0x0200_BFF8 as *const u64;
/// `mtime` ticks per millisecond.
const TICKS_PER_MS: u64 = 10_000;
/// `mtime` ticks per microsecond.
const TICKS_PER_US: u64 = 10;

/// Raw `mtime`: 10 MHz ticks since reset. Read as MMIO, not with `rdtime`, which
/// traps in M-mode on some cores.
pub fn mtime() -> u64 {
    // SAFETY: the CLINT is always mapped on the virt machine; a 64-bit read is atomic.
    unsafe { MTIME.read_volatile() }
}

/// Microseconds since reset.
pub fn micros() -> u64 {
    mtime() / TICKS_PER_US
}

/// Milliseconds since reset.
pub fn millis() -> u64 {
    mtime() / TICKS_PER_MS
}

/// The board's [`Clock`]: milliseconds since reset. `mtime` is 64 bits wide, so it
/// never wraps in practice.
#[derive(Debug, Clone, Copy, Default)]
pub struct BoardClock;

impl Clock for BoardClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(millis())
    }
}

/// smoltcp's time, for code that drives smoltcp directly.
pub fn smoltcp_now() -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(micros() as i64)
}
