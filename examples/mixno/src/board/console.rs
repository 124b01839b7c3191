//! The console: UARTHS (the K210's high-speed UART, on the CPU clock) on pads 4/5,
//! which the MixNo's USB serial chip carries to the PC, at 115200 baud 8N1. Also
//! [`print!`](crate::print), [`println!`](crate::println) and the panic handler.

use core::fmt;

use k210_pac as pac;

use super::sysctl::Clocks;

/// The console's baud rate.
pub const BAUD: u32 = 115_200;

fn regs() -> &'static pac::uarths::RegisterBlock {
    // SAFETY: UARTHS is always mapped; the firmware is single-threaded and only
    // this module touches it.
    unsafe { &*pac::UARTHS::ptr() }
}

/// Sets UARTHS to [`BAUD`] (1 stop bit) and turns on its transmitter and receiver.
pub fn init(clocks: Clocks) {
    let u = regs();
    // SAFETY (bits): any divisor is valid; baud = CPU clock / (div + 1).
    u.div.write(|w| unsafe { w.bits(clocks.cpu_hz / BAUD - 1) });
    u.txctrl.write(|w| w.txen().set_bit());
    u.rxctrl.write(|w| w.rxen().set_bit());
}

/// Writer to the console. It waits while UARTHS's transmit FIFO is full, and keeps
/// UART2's receive side drained meanwhile ([`super::uart2::pump`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Console;

impl Console {
    /// Sends bytes as they are.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        let u = regs();
        for &byte in bytes {
            while u.txdata.read().full().bit_is_set() {
                super::uart2::pump();
            }
            // SAFETY (bits): any byte.
            u.txdata.write(|w| unsafe { w.data().bits(byte) });
        }
    }
}

impl fmt::Write for Console {
    /// Sends `s`, with `\n` as `\r\n` for serial terminals.
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                self.write_bytes(b"\r\n");
            }
            self.write_bytes(line.as_bytes());
        }
        Ok(())
    }
}

/// Print to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::board::console::Console, format_args!($($arg)*));
    }};
}

/// Print a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        $crate::print!($($arg)*);
        $crate::print!("\n");
    }};
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("\npanic: {info}");
    loop {
        core::hint::spin_loop();
    }
}
