//! nal-echo on the Handbit (掌控板): the tutorial's TCP echo server on port 5001 (and UDP),
//! with `ip:5001` and `accepting.....` on the board's OLED.
//!
//! # The board
//!
//! * ESP32 (ESP-WROOM-32 module, Xtensa LX6, Wi-Fi 2.4 GHz).
//! * SH1106 1.3" 128x64 OLED at I2C address `0x3C`; SCL = GPIO22, SDA = GPIO23,
//!   400 kHz. The motion sensor and the magnetometer sit on the same bus, so the
//!   display gets an `embedded_hal_bus::i2c::RefCellDevice` of the shared bus (give
//!   the other chips one each).
//! * Buttons A = GPIO0 and B = GPIO2, active low (pressed = low). B switches the
//!   screen between nal-echo's status screen and a statistics page; A is not used.
//!
//! **esp-hal 1.2 supports only ESP32 revision v3.0 and later**: on an older chip
//! `esp_hal::init` stops with a panic ("This chip's hardware revision is older than
//! the minimum required"). Many Handbits carry a revision 1 ESP32 and will not run
//! this firmware. `espflash board-info` shows the revision.
//!
//! # Features (exactly one)
//!
//! * `esp32`: the Handbit. Xtensa: needs the `esp` toolchain from espup.
//! * `esp32c3`: an ESP32-C3 board as a stand-in, on stable Rust, the same code.
//!   Pins: SDA = GPIO4, SCL = GPIO5 (free on the usual C3 boards; wire an SH1106
//!   module there), button B = GPIO9 (the BOOT button of most C3 boards).
//!
//! # Build and flash
//!
//! Wi-Fi credentials are read at build time (placeholders otherwise); an empty
//! password joins an open network.
//!
//! ```sh
//! # ESP32-C3 stand-in (stable Rust)
//! rustup target add riscv32imc-unknown-none-elf
//! WIFI_SSID=MyNetwork WIFI_PASSWORD=secret \
//!   cargo build --release --features esp32c3 --target riscv32imc-unknown-none-elf
//! espflash flash --monitor target/riscv32imc-unknown-none-elf/release/handbit
//!
//! # Handbit (ESP32, Xtensa)
//! cargo install espup espflash && espup install && . ~/export-esp.sh
//! WIFI_SSID=MyNetwork WIFI_PASSWORD=secret \
//!   cargo +esp build --release --features esp32 --target xtensa-esp32-none-elf -Zbuild-std=core,alloc
//! espflash flash --monitor target/xtensa-esp32-none-elf/release/handbit
//! ```
//!
//! (No `rust-toolchain.toml` here: one that selects `esp` would break the stable
//! build of the stand-in; `+esp` selects the toolchain instead.)
//!
//! This file is the board wiring only; the firmware's parts are in its modules and
//! all echo and status-screen logic is nal-echo's.

#![no_std]
#![no_main]

mod app;
mod button;
mod clock;
mod net;
mod pages;
mod panel;
mod radio;
mod wifi_device;
mod wifi_link;

use core::cell::RefCell;

use embedded_hal_bus::i2c::RefCellDevice;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::gpio::{Input, InputConfig, Pull};
use esp_hal::i2c::master::{Config as I2cConfig, I2c};
use esp_hal::rng::Rng;
use esp_hal::time::Rate;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use esp_radio::wifi::{Config as WifiConfig, ControllerConfig, Interface, WifiController};
use esp_rtos::CurrentThreadHandle;

use crate::wifi_device::WifiDevice;
use crate::wifi_link::WifiLink;

#[cfg(all(feature = "esp32", feature = "esp32c3"))]
compile_error!("choose one chip: feature `esp32` or `esp32c3`, not both");
#[cfg(not(any(feature = "esp32", feature = "esp32c3")))]
compile_error!("choose a chip: `--features esp32` (the Handbit) or `--features esp32c3`");

/// The network to join, from the build environment.
const WIFI_SSID: &str = match option_env!("WIFI_SSID") {
    Some(ssid) => ssid,
    None => "handbit-ssid",
};
/// Its password (WPA2-Personal); empty for an open network.
const WIFI_PASSWORD: &str = match option_env!("WIFI_PASSWORD") {
    Some(password) => password,
    None => "handbit-password",
};
const _: () = assert!(WIFI_SSID.len() <= 32, "WIFI_SSID: at most 32 bytes");
const _: () = assert!(WIFI_PASSWORD.len() <= 64, "WIFI_PASSWORD: at most 64 bytes");

/// The OLED's 7-bit I2C address.
const OLED_ADDRESS: u8 = 0x3C;
/// The SH1106 RAM column of the glass's first pixel, from the build environment
/// (`OLED_COLUMN_OFFSET=0`..`4`, default 2): if the picture sits 2 pixels off to one
/// side with 2 columns of noise at the other edge, build with the other value
/// (`nal_echo::display::sh1106::Sh1106::with_column_offset` says more).
const OLED_COLUMN_OFFSET: u8 = match option_env!("OLED_COLUMN_OFFSET") {
    None => 2,
    Some(value) => {
        let digits = value.as_bytes();
        assert!(
            digits.len() == 1 && digits[0] >= b'0' && digits[0] <= b'4',
            "OLED_COLUMN_OFFSET: 0 to 4"
        );
        digits[0] - b'0'
    }
};
/// The I2C bus clock.
const I2C_KHZ: u32 = 400;

// The app descriptor the ESP-IDF second-stage bootloader (and espflash) expects.
esp_bootloader_esp_idf::esp_app_desc!();

#[esp_hal::main]
fn main() -> ! {
    // Wi-Fi needs at least 80 MHz.
    let p = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // esp-radio's station needs about 60 KiB of heap (nal-echo and smoltcp use none):
    // RAM the bootloader used, plus some of the ordinary RAM.
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 36 * 1024);
    // esp-radio runs on esp-rtos' scheduler, which must start first; from here on
    // `main` is esp-rtos' main task.
    let timg0 = TimerGroup::new(p.TIMG0);
    esp_rtos::start(timg0.timer0, p.FROM_CPU_INTR0);
    println!(
        "nal-echo handbit: joining {WIFI_SSID} (restarts for a stalled radio: {})",
        radio::restarts()
    );

    // Pins of the board.
    #[cfg(feature = "esp32")]
    let (sda, scl, button_b) = (p.GPIO23, p.GPIO22, p.GPIO2);
    #[cfg(feature = "esp32c3")]
    let (sda, scl, button_b) = (p.GPIO4, p.GPIO5, p.GPIO9);

    let i2c = I2c::new(
        p.I2C0,
        I2cConfig::default().with_frequency(Rate::from_khz(I2C_KHZ)),
    )
    .expect("400 kHz is a valid I2C clock")
    .with_sda(sda)
    .with_scl(scl);
    let bus = RefCell::new(i2c);
    let display = panel::oled(RefCellDevice::new(&bus), OLED_ADDRESS, OLED_COLUMN_OFFSET);
    let button_b = Input::new(button_b, InputConfig::default().with_pull(Pull::Up));

    let station = wifi_link::station_config(WIFI_SSID, WIFI_PASSWORD);
    let controller = WifiController::new(
        p.WIFI,
        ControllerConfig::default().with_initial_config(WifiConfig::Station(station)),
    )
    .expect("Wi-Fi start");
    let device = WifiDevice::new(Interface::station());
    // True random numbers once the radio runs.
    let rng = Rng::new();
    let random_seed = (u64::from(rng.random()) << 32) | u64::from(rng.random());

    // The SH1106 wants ~100 ms of power before it is switched on. The main loop
    // initialises it, and tries again with backoff if that fails; the server runs
    // meanwhile (and counts the failed updates).
    CurrentThreadHandle::get().delay(esp_hal::time::Duration::from_millis(100));

    app::run(app::Board {
        ssid: WIFI_SSID,
        link: WifiLink::new(controller),
        device,
        display,
        button_b: move || button_b.is_low(),
        random_seed,
    })
}
