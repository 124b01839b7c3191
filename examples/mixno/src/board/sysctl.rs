//! System controller: clock frequencies (read from the PLL and divider registers as
//! the boot ROM or a previous program left them), clock gates and reset lines.

use k210_pac as pac;

/// The K210's crystal.
const XTAL_HZ: u64 = 26_000_000;

/// Clock frequencies, in Hz.
#[derive(Debug, Clone, Copy)]
pub struct Clocks {
    /// The CPU clock (ACLK). UARTHS runs on it, and the CLINT's `mtime` at a fiftieth.
    pub cpu_hz: u32,
    /// The APB0 bus clock: UART1-3, GPIO, FPIOA.
    pub apb0_hz: u32,
}

impl Clocks {
    /// The frequencies as configured now. Nothing is changed: the firmware runs the
    /// CPU at whatever the boot ROM set (usually 390 MHz, APB0 195 MHz).
    pub fn read(sysctl: &pac::sysctl::RegisterBlock) -> Self {
        let sel = sysctl.clk_sel0.read();
        let cpu_hz = if sel.aclk_sel().bit_is_set() {
            pll0_hz(sysctl) / (2 << sel.aclk_divider_sel().bits())
        } else {
            XTAL_HZ
        };
        let apb0_hz = cpu_hz / (u64::from(sel.apb0_clk_sel().bits()) + 1);
        Self {
            cpu_hz: cpu_hz as u32,
            apb0_hz: apb0_hz as u32,
        }
    }
}

/// PLL0 = 26 MHz * (clkf + 1) / (clkr + 1) / (clkod + 1), or 26 MHz when bypassed.
fn pll0_hz(sysctl: &pac::sysctl::RegisterBlock) -> u64 {
    let pll = sysctl.pll0.read();
    if pll.bypass().bit_is_set() {
        return XTAL_HZ;
    }
    let clkr = u64::from(pll.clkr().bits()) + 1;
    let clkf = u64::from(pll.clkf().bits()) + 1;
    let clkod = u64::from(pll.clkod().bits()) + 1;
    XTAL_HZ * clkf / clkr / clkod
}

/// Turns on the clocks of what the firmware uses: the APB0 bus, then the FPIOA's and
/// UART2's gates (the Kendryte SDK's `sysctl_clock_enable` does the same two steps).
/// UARTHS, GPIOHS and the CLINT have no gate.
pub fn enable_clocks(sysctl: &pac::sysctl::RegisterBlock) {
    sysctl.clk_en_cent.modify(|_, w| w.apb0_clk_en().set_bit());
    sysctl
        .clk_en_peri
        .modify(|_, w| w.fpioa_clk_en().set_bit().uart2_clk_en().set_bit());
}

/// Pads per I/O power bank: bank `n` powers pads `6n..6n+6`.
const PADS_PER_BANK: usize = 6;

/// Powers the I/O banks of `pads` at 3.3 V (the ESP8285 and the USB serial chip
/// drive 3.3 V levels), as the Kendryte SDK's board start-up does with
/// `sysctl_set_power_mode`, rather than trusting the register's reset value; the
/// other banks (the camera's, at 1.8 V on some boards) are left as they are.
pub fn power_banks_3v3(sysctl: &pac::sysctl::RegisterBlock, pads: &[usize]) {
    // A set bit selects 1.8 V for its bank, a clear one 3.3 V.
    let mask = pads
        .iter()
        .fold(0u32, |mask, &pad| mask | 1 << (pad / PADS_PER_BANK).min(7));
    // SAFETY (bits): bits 0..=7 select the banks' voltages; the rest are reserved
    // and written back as read.
    sysctl
        .power_sel
        .modify(|r, w| unsafe { w.bits(r.bits() & !mask) });
}

/// Resets UART2: asserts its reset line for a few microseconds, then releases it.
pub fn reset_uart2(sysctl: &pac::sysctl::RegisterBlock, clocks: Clocks) {
    sysctl.peri_reset.modify(|_, w| w.uart2_reset().set_bit());
    super::clock::delay_us(clocks, 10);
    sysctl.peri_reset.modify(|_, w| w.uart2_reset().clear_bit());
}
