//! Board support for running nal-echo on QEMU's RISC-V `virt` machine.
//!
//! The emulated board: one RV64GC hart in M-mode (no firmware, `-bios none`), 128 MiB
//! of RAM at `0x8000_0000`, a 16550 UART, the CLINT timer, the `sifive_test` exit
//! device and a virtio-net card on QEMU's user network (the board is `10.0.2.15`,
//! the host `10.0.2.2`).
//!
//! * [`uart`]: [`println!`] and [`print!`] on the serial port.
//! * [`exit`]: end QEMU with an exit status; panics exit 1, CPU traps exit 2.
//! * [`clock`]: [`BoardClock`], a [`nal_echo::Clock`] over the CLINT's `mtime`.
//! * [`net`]: the virtio-net card as a smoltcp `phy::Device` (non-blocking), the
//!   interface and TCP sockets.
//! * [`display`]: [`FrameDisplay`], the 128x64 screen, sent over serial as text.
//! * [`idle`]: [`Sleeper`], `wfi` while there is nothing to do.
//! * For the async firmware: [`executor`] (embassy's executor in a loop that
//!   sleeps), [`time_driver`] (embassy-time on the CLINT) and [`net_driver`] (the
//!   card as an embassy-net driver).
//!
//! No heap: packet, socket and virtqueue memory are statics, handed out once
//! ([`TakeOnce`]).
//!
//! # Serial frame format
//!
//! The first [`flush`](nal_echo::Flush::flush) that changed a pixel writes the whole
//! frame; every later one writes only the band of pixel rows from the first to the
//! last row that changed:
//!
//! ```text
//! FRAME 128x64 SEQ
//! 64 lines, one per pixel row, top to bottom: 32 lowercase hex digits (16 bytes);
//! within a byte the most significant bit is the leftmost pixel, 1 = lit
//! END
//! ROWS 128x64 SEQ FIRST
//! 1 to 64 lines like those above: rows FIRST, FIRST + 1, ...
//! END
//! ```
//!
//! `SEQ` counts blocks from 1. Nothing else is printed inside a block. A reader
//! replays the blocks in order from the `FRAME`; a block without its `END` (the
//! board was stopped while printing it) is the last one and is left out. (A whole
//! frame is 2.2 KB of serial output, 3.3 ms of the emulated board's time; a new
//! message line is about a sixth of that.)
//! `examples/qemu_frame.rs` of the main crate decodes it into a PNG.

#![no_std]

pub mod clock;
pub mod display;
pub mod executor;
pub mod idle;
pub mod net;
pub mod net_driver;
pub mod time_driver;
pub mod uart;

pub use clock::{mtime, BoardClock};
pub use display::FrameDisplay;
pub use idle::Sleeper;

use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

/// Where the `sifive_test` device sits: a write ends QEMU.
const SIFIVE_TEST: *mut u32 = 0x10_0000 as *mut u32;

/// End QEMU with exit status `code` (0 = pass).
pub fn exit(code: u16) -> ! {
    let value = if code == 0 {
        0x5555
    } else {
        (u32::from(code) << 16) | 0x3333
    };
    // SAFETY: the sifive_test register of the virt machine, always mapped.
    unsafe { SIFIVE_TEST.write_volatile(value) };
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let _ = writeln!(uart::Uart, "PANIC: {info}");
    exit(1)
}

/// Every CPU exception (illegal instruction, access fault, ...) ends up here: print
/// it and end QEMU with status 2 instead of riscv-rt's default endless loop.
#[unsafe(export_name = "ExceptionHandler")]
extern "C" fn exception_handler(frame: &riscv_rt::TrapFrame) -> ! {
    let (mcause, mepc, mtval): (usize, usize, usize);
    // SAFETY: reading machine CSRs in M-mode has no side effect.
    unsafe {
        core::arch::asm!(
            "csrr {0}, mcause",
            "csrr {1}, mepc",
            "csrr {2}, mtval",
            out(reg) mcause,
            out(reg) mepc,
            out(reg) mtval,
        )
    };
    let _ = writeln!(
        uart::Uart,
        "TRAP mcause={mcause:#x} mepc={mepc:#x} mtval={mtval:#x} ra={:#x}",
        frame.ra
    );
    exit(2)
}

/// Interrupts are never enabled; if one comes anyway, report it like an exception.
#[unsafe(export_name = "DefaultHandler")]
extern "C" fn default_handler() -> ! {
    let mcause: usize;
    // SAFETY: as above.
    unsafe { core::arch::asm!("csrr {0}, mcause", out(reg) mcause) };
    let _ = writeln!(uart::Uart, "INTERRUPT mcause={mcause:#x}");
    exit(2)
}

/// A static whose contents can be borrowed mutably once, for the lifetime of the
/// program: buffers handed to smoltcp and to the network card.
pub struct TakeOnce<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: `take` hands out at most one reference to the value, ever; the board has
// one hart and no interrupts are enabled.
unsafe impl<T> Sync for TakeOnce<T> {}

impl<T> TakeOnce<T> {
    /// A static holding `value`.
    pub const fn new(value: T) -> Self {
        Self {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, the first time; `None` after that.
    // Interior mutability behind the flag, like `static_cell`'s `take`.
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the flag above lets only the first caller through.
        Some(unsafe { &mut *self.value.get() })
    }
}

/// A build-time setting: the decimal number in `value` (from `option_env!`), or
/// `None` without one. Used in a `const`, a malformed value fails the build.
pub const fn env_number(value: Option<&str>) -> Option<u64> {
    let Some(text) = value else {
        return None;
    };
    let bytes = text.as_bytes();
    assert!(!bytes.is_empty(), "empty number in a build-time setting");
    let mut n: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let digit = bytes[i];
        assert!(
            digit.is_ascii_digit(),
            "not a decimal number in a build-time setting"
        );
        n = n * 10 + (digit - b'0') as u64;
        i += 1;
    }
    Some(n)
}

/// [`env_number`] with a default.
pub const fn env_u64(value: Option<&str>, default: u64) -> u64 {
    match env_number(value) {
        Some(n) => n,
        None => default,
    }
}
