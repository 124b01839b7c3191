//! The virt machine's 16550 UART at `0x1000_0000` (QEMU needs no setup), and
//! [`print!`](crate::print) / [`println!`](crate::println) on it.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

const BASE: *mut u8 = 0x1000_0000 as *mut u8;
/// FIFO control register: 0x07 enables and clears both 16-byte FIFOs.
const FCR: usize = 2;
const FIFO_ON: u8 = 0x07;
const FIFO_LEN: usize = 16;
/// Line status register; bit 5: the transmitter (with FIFOs on: the whole transmit
/// FIFO) is empty.
const LSR: usize = 5;
const THR_EMPTY: u8 = 0x20;

static FIFO_ENABLED: AtomicBool = AtomicBool::new(false);

/// Writer to the serial port. Writing never fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct Uart;

impl Uart {
    /// Send bytes: wait until the transmit FIFO is empty, fill it, and so on. (Each
    /// register access is a trip into QEMU, so one status read per 16 bytes halves
    /// the cost of printing.)
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        if !FIFO_ENABLED.swap(true, Ordering::Relaxed) {
            // SAFETY: the UART's registers, always mapped on the virt machine.
            unsafe { BASE.add(FCR).write_volatile(FIFO_ON) };
        }
        for chunk in bytes.chunks(FIFO_LEN) {
            // SAFETY: as above.
            unsafe {
                while BASE.add(LSR).read_volatile() & THR_EMPTY == 0 {
                    core::hint::spin_loop();
                }
                for &b in chunk {
                    BASE.write_volatile(b);
                }
            }
        }
    }
}

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Print to the serial port.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::uart::Uart, format_args!($($arg)*));
    }};
}

/// Print a line to the serial port.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::uart::Uart, format_args!($($arg)*));
        $crate::uart::Uart.write_bytes(b"\n");
    }};
}
