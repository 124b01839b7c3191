//! UART2 (a DesignWare 16550-style UART on APB0) to the ESP8285, as an
//! [`embedded_io`] port for the AT stack: `Read` + `ReadReady` + `Write` +
//! `WriteReady`, none of which waits when the `*Ready` call said yes.
//!
//! Received bytes go from the hardware FIFO into a software ring of [`RX_RING`]
//! bytes. [`pump`] moves them; `read_ready` and `read` call it, and so does the
//! console while it waits for its own FIFO, so that printing a line (about 8 ms at
//! 115200 baud) does not let the modem's bytes overrun UART2's short hardware FIFO.

use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};

use critical_section::Mutex;
use heapless::Deque;
use k210_pac as pac;

use super::sysctl::Clocks;

/// Size of the software receive ring.
pub const RX_RING: usize = 512;

/// Line status register bits.
mod lsr {
    /// Data ready: the receive FIFO holds a byte.
    pub const DR: u32 = 1 << 0;
    /// Overrun: a byte arrived while the receive FIFO was full, and was lost.
    pub const OE: u32 = 1 << 1;
    /// Parity error (no parity is used: never set).
    pub const PE: u32 = 1 << 2;
    /// Framing error: no stop bit where one belonged (wrong baud rate, noise).
    pub const FE: u32 = 1 << 3;
    /// Break: the line was held low for a whole character.
    pub const BI: u32 = 1 << 4;
    /// The trap: with FIFOs on and programmable THRE mode (`IER.PTIME`, set here),
    /// bit 5 means "transmit FIFO *full*", not "transmit holding register empty".
    pub const TX_FULL: u32 = 1 << 5;
    /// Transmitter empty: FIFO and shift register both drained.
    pub const TEMT: u32 = 1 << 6;
    /// Every error bit; reading LSR clears them.
    pub const ERRORS: u32 = OE | PE | FE | BI;
}

/// LCR: divisor latch access.
const LCR_DLAB: u32 = 1 << 7;
/// LCR: 8 data bits, no parity, 1 stop bit.
const LCR_8N1: u32 = 0b11;
/// IER: programmable THRE interrupt mode (makes LSR bit 5 "TX FIFO full"). No
/// interrupts are enabled.
const IER_PTIME: u32 = 1 << 7;
/// FCR: FIFOs on, both cleared, TX empty trigger at half, RX trigger at 1 byte.
const FCR_SETUP: u32 = (0b11 << 4) | (1 << 2) | (1 << 1) | 1;

/// Received bytes not yet read.
static RX: Mutex<RefCell<Deque<u8, RX_RING>>> = Mutex::new(RefCell::new(Deque::new()));
/// LSR error bits seen and not yet reported.
static ERRORS: AtomicU32 = AtomicU32::new(0);

/// A receive error, reported once by the next `read_ready` or `read`. The bytes
/// around it are still delivered (the AT stack treats a garbled answer as a failed
/// command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartError {
    /// Bytes were lost: the hardware FIFO overflowed (the software ring was full or
    /// nobody pumped for too long).
    Overrun,
    /// A parity error.
    Parity,
    /// A framing error (wrong baud rate, noise; the ESP8285 prints its boot log at
    /// 74880 baud).
    Framing,
    /// A break on the line.
    Break,
}

impl embedded_io::Error for UartError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

/// UART2, set up and owned by whoever drives the modem.
#[derive(Debug)]
pub struct Uart2 {
    _private: (),
}

impl Uart2 {
    /// Sets UART2 to `baud` 8N1 with FIFOs. Its clock must be on and its reset done
    /// ([`super::sysctl`]).
    pub fn new(clocks: Clocks, baud: u32) -> Self {
        let u = regs();
        // Baud = APB0 / (16 * DL + DLF): the divisor in 1/16 units, rounded.
        let div = (clocks.apb0_hz + baud / 2) / baud;
        // SAFETY (bits): the DesignWare UART takes any value in these registers; the
        // ones written are from its databook.
        unsafe {
            u.lcr.write(|w| w.bits(LCR_DLAB));
            u.dlh_ier.write(|w| w.bits((div >> 12) & 0xff));
            u.rbr_dll_thr.write(|w| w.bits((div >> 4) & 0xff));
            u.dlf.write(|w| w.bits(div & 0xf));
            u.lcr.write(|w| w.bits(LCR_8N1));
            u.dlh_ier.write(|w| w.bits(IER_PTIME));
            u.fcr_iir.write(|w| w.bits(FCR_SETUP));
        }
        critical_section::with(|cs| RX.borrow_ref_mut(cs).clear());
        ERRORS.store(0, Ordering::Relaxed);
        Self { _private: () }
    }
}

fn regs() -> &'static pac::uart1::RegisterBlock {
    // SAFETY: UART2 is always mapped. The firmware is single-threaded; `Uart2` and
    // `pump` are its only users.
    unsafe { &*pac::UART2::ptr() }
}

/// Reads LSR, keeping the error bits that the read clears.
fn read_lsr() -> u32 {
    let bits = regs().lsr.read().bits();
    if bits & lsr::ERRORS != 0 {
        ERRORS.fetch_or(bits & lsr::ERRORS, Ordering::Relaxed);
    }
    bits
}

/// Moves received bytes from the hardware FIFO into the software ring, until the
/// FIFO is empty or the ring full (then the rest waits in the FIFO). Cheap when
/// nothing came; call it from any loop that waits.
pub fn pump() {
    critical_section::with(|cs| {
        let mut rx = RX.borrow_ref_mut(cs);
        while !rx.is_full() && read_lsr() & lsr::DR != 0 {
            let byte = regs().rbr_dll_thr.read().bits() as u8;
            // Cannot fail: the ring is not full.
            let _ = rx.push_back(byte);
        }
    });
}

/// The errors seen since the last report, as one (the most serious), if any.
fn take_error() -> Option<UartError> {
    let bits = ERRORS.swap(0, Ordering::Relaxed);
    if bits & lsr::OE != 0 {
        Some(UartError::Overrun)
    } else if bits & lsr::BI != 0 {
        Some(UartError::Break)
    } else if bits & lsr::FE != 0 {
        Some(UartError::Framing)
    } else if bits & lsr::PE != 0 {
        Some(UartError::Parity)
    } else {
        None
    }
}

fn tx_full() -> bool {
    read_lsr() & lsr::TX_FULL != 0
}

impl embedded_io::ErrorType for Uart2 {
    type Error = UartError;
}

impl embedded_io::ReadReady for Uart2 {
    /// Whether received bytes are waiting; an `Err` reports a receive error once.
    fn read_ready(&mut self) -> Result<bool, UartError> {
        pump();
        if let Some(e) = take_error() {
            return Err(e);
        }
        Ok(critical_section::with(|cs| !RX.borrow_ref(cs).is_empty()))
    }
}

impl embedded_io::Read for Uart2 {
    /// Copies the bytes that are waiting, up to `buf.len()`. Waits only if none are
    /// (as `embedded_io` requires), which the AT stack never lets happen: it reads
    /// only after `read_ready` said yes.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            pump();
            if let Some(e) = take_error() {
                return Err(e);
            }
            let n = critical_section::with(|cs| {
                let mut rx = RX.borrow_ref_mut(cs);
                let mut n = 0;
                for slot in buf.iter_mut() {
                    match rx.pop_front() {
                        Some(byte) => *slot = byte,
                        None => break,
                    }
                    n += 1;
                }
                n
            });
            if n > 0 {
                return Ok(n);
            }
            core::hint::spin_loop();
        }
    }
}

impl embedded_io::WriteReady for Uart2 {
    /// Whether the transmit FIFO takes at least one byte.
    fn write_ready(&mut self) -> Result<bool, UartError> {
        Ok(!tx_full())
    }
}

impl embedded_io::Write for Uart2 {
    /// Puts as many bytes into the transmit FIFO as it takes. Waits only if it takes
    /// none (as `embedded_io` requires), which the AT stack never lets happen: it
    /// writes only after `write_ready` said yes.
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        while tx_full() {
            pump();
        }
        let u = regs();
        let mut n = 0;
        for &byte in buf {
            if n > 0 && tx_full() {
                break;
            }
            // SAFETY (bits): THR takes any byte.
            u.rbr_dll_thr.write(|w| unsafe { w.bits(u32::from(byte)) });
            n += 1;
        }
        Ok(n)
    }

    /// Waits until every byte has left the wire (the AT stack never calls this).
    fn flush(&mut self) -> Result<(), UartError> {
        while read_lsr() & lsr::TEMT == 0 {
            pump();
        }
        Ok(())
    }
}
