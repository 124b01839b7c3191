//! Time for nal-echo and smoltcp from esp-hal's system timer.
//!
//! `esp_hal::time::Instant` counts microseconds since boot in 64 bits, so it never
//! wraps in the life of a board and needs none of the wrap handling that
//! `nal_echo::Clock`'s docs show for 32-bit timers.

use nal_echo::{Clock, Instant};

/// Microseconds since boot.
pub fn micros() -> u64 {
    esp_hal::time::Instant::now()
        .duration_since_epoch()
        .as_micros()
}

/// The board's [`Clock`]: milliseconds since boot. It holds nothing, so a copy can
/// go to the smoltcp adapter while the main loop keeps its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct BoardClock;

impl Clock for BoardClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(micros() / 1000)
    }
}

/// smoltcp's time, for the code that drives smoltcp itself (DHCP before the server
/// runs). The adapter converts the [`BoardClock`] on its own.
pub fn smoltcp_now() -> smoltcp::time::Instant {
    // 2^63 µs is 292,000 years: the conversion cannot fail in practice.
    smoltcp::time::Instant::from_micros(i64::try_from(micros()).unwrap_or(i64::MAX))
}
