//! GPIOHS (the high-speed GPIO on the CPU's bus) outputs: the ESP8285's enable line.

use k210_pac as pac;

/// A GPIOHS pin driven as an output.
#[derive(Debug)]
pub struct OutputPin {
    mask: u32,
}

impl OutputPin {
    /// Makes GPIOHS pin `pin` (0..=31) an output, driving `high` at once.
    pub fn new(pin: u8, high: bool) -> Self {
        let this = Self { mask: 1 << pin };
        this.set(high);
        let g = regs();
        // SAFETY (bits): any bit pattern is valid for these registers; only our bit
        // changes.
        g.input_en
            .modify(|r, w| unsafe { w.bits(r.bits() & !this.mask) });
        g.output_en
            .modify(|r, w| unsafe { w.bits(r.bits() | this.mask) });
        this
    }

    /// Drives the pin high or low.
    pub fn set(&self, high: bool) {
        // SAFETY (bits): as in `new`.
        regs().output_val.modify(|r, w| unsafe {
            w.bits(if high {
                r.bits() | self.mask
            } else {
                r.bits() & !self.mask
            })
        });
    }
}

fn regs() -> &'static pac::gpiohs::RegisterBlock {
    // SAFETY: GPIOHS is always mapped; the firmware is single-threaded and only
    // `OutputPin` writes these registers.
    unsafe { &*pac::GPIOHS::ptr() }
}
