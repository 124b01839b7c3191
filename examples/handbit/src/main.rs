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
//! This file only hands the started board (`board.rs`) to the main loop (`app.rs`);
//! the firmware's parts are in the library (`lib.rs`), shared with the embassy
//! variant (`src/bin/handbit-embassy.rs`), and all echo and status-screen logic is
//! nal-echo's.

#![no_std]
#![no_main]

use core::cell::RefCell;

use embedded_hal_bus::i2c::RefCellDevice;
use esp_backtrace as _;
use nal_echo_handbit::board::{self, OLED_ADDRESS, OLED_COLUMN_OFFSET, WIFI_SSID};
use nal_echo_handbit::wifi_device::WifiDevice;
use nal_echo_handbit::wifi_link::WifiLink;
use nal_echo_handbit::{app, panel};

// The app descriptor the ESP-IDF second-stage bootloader (and espflash) expects.
esp_bootloader_esp_idf::esp_app_desc!();

#[esp_hal::main]
fn main() -> ! {
    let parts = board::start("handbit");
    let bus = RefCell::new(parts.i2c);
    let display = panel::oled(RefCellDevice::new(&bus), OLED_ADDRESS, OLED_COLUMN_OFFSET);
    let button_b = parts.button_b;

    // The main loop initialises the OLED, and tries again with backoff if that
    // fails; the server runs meanwhile (and counts the failed updates).
    app::run(board::Board {
        ssid: WIFI_SSID,
        link: WifiLink::new(parts.controller),
        frames: WifiDevice::new(parts.interface),
        display,
        button_b: move || button_b.is_low(),
        random_seed: parts.random_seed,
    })
}
