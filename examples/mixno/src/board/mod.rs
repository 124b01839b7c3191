//! The board layer: just enough of the K210 for the MixNo's Wi-Fi client, on
//! k210-pac registers. No interrupts are used; everything is polled.

pub mod clock;
pub mod console;
pub mod fpioa;
pub mod gpiohs;
pub mod sysctl;
pub mod uart2;

use k210_pac as pac;

pub use clock::BoardClock;
pub use sysctl::Clocks;
pub use uart2::Uart2;

/// The ESP8285's AT firmware talks at this rate after reset.
pub const ESP_BAUD: u32 = 115_200;
/// GPIOHS pin of the ESP8285's enable line (on pad 19).
const ESP_EN_GPIOHS: u8 = 19;
/// How long the ESP8285 is held off at start, so that it boots afresh.
const ESP_RESET_US: u64 = 100_000;

/// What the firmware gets from the board.
pub struct Board {
    /// Clock frequencies, as the boot ROM set them.
    pub clocks: Clocks,
    /// Milliseconds since reset.
    pub clock: BoardClock,
    /// The serial port to the ESP8285, at [`ESP_BAUD`]. The modem is running (its
    /// enable line stays high).
    pub esp_serial: Uart2,
}

impl Board {
    /// Sets up clocks, pads, the console and UART2, and restarts the ESP8285
    /// (enable low for 100 ms, then high). Call once, first thing.
    pub fn init() -> Self {
        // Not `Peripherals::take()`: it goes through riscv 0.5's `interrupt::free`,
        // whose soft-float objects cannot be linked into a riscv64gc (double-float)
        // image. `steal` is fine: this runs once, before anything else.
        // SAFETY: nothing else holds the peripherals.
        let p = unsafe { pac::Peripherals::steal() };
        let clocks = Clocks::read(&p.SYSCTL);
        sysctl::enable_clocks(&p.SYSCTL);

        use fpioa::{function, pad};
        // Banks 0 (the console's IO4, IO5), 2 (IO17) and 3 (IO18, IO19) at 3.3 V.
        let pads = [
            pad::CONSOLE_RX,
            pad::CONSOLE_TX,
            pad::ESP_RX,
            pad::ESP_TX,
            pad::ESP_EN,
        ];
        sysctl::power_banks_3v3(&p.SYSCTL, &pads);
        fpioa::output(&p.FPIOA, pad::CONSOLE_TX, function::UARTHS_TX);
        fpioa::input(&p.FPIOA, pad::CONSOLE_RX, function::UARTHS_RX, true);
        console::init(clocks);

        // ESP8285 off while its UART is set up; the pull-up keeps the idle line high
        // while its TX floats.
        fpioa::gpiohs(&p.FPIOA, pad::ESP_EN, ESP_EN_GPIOHS);
        let esp_enable = gpiohs::OutputPin::new(ESP_EN_GPIOHS, false);
        fpioa::output(&p.FPIOA, pad::ESP_TX, function::UART2_TX);
        fpioa::input(&p.FPIOA, pad::ESP_RX, function::UART2_RX, true);
        sysctl::reset_uart2(&p.SYSCTL, clocks);
        let esp_serial = Uart2::new(clocks, ESP_BAUD);
        clock::delay_us(clocks, ESP_RESET_US);
        esp_enable.set(true);

        Self {
            clocks,
            clock: BoardClock::new(clocks),
            esp_serial,
        }
    }
}
