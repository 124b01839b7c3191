//! What the firmware does when esp-radio stops granting send slots for good (see
//! `wifi_device.rs`): it shows it, counts it across the restart, and restarts the
//! chip, which is the one way to get a working radio back.

use esp_println::println;
use nal_echo::Flush;

use crate::pages::{self, PageDrawer};

/// Restarts for a stalled radio since power-on: in RTC memory, which a software
/// reset keeps (esp-hal zeroes it at power-on only).
#[esp_hal::ram(unstable(rtc_fast, persistent))]
static mut RADIO_RESTARTS: u32 = 0;

/// Restarts for a stalled radio since power-on.
pub fn restarts() -> u32 {
    // SAFETY: one task reads and writes it (esp-rtos' main task), never at once.
    unsafe { core::ptr::addr_of!(RADIO_RESTARTS).read_volatile() }
}

/// Shows the stall on the screen, counts it, and restarts the chip.
pub fn restart_for_stall<D: Flush>(display: &mut D, pages: &mut PageDrawer) -> ! {
    let count = restarts().wrapping_add(1);
    // SAFETY: as in `restarts`.
    unsafe { core::ptr::addr_of_mut!(RADIO_RESTARTS).write_volatile(count) };
    println!("Wi-Fi: the radio grants no send slot any more: restarting the chip ({count})");
    pages.invalidate();
    let _ = pages.draw(display, &pages::stall_page(count));
    esp_hal::system::software_reset()
}
