//! nal-echo on the Handbit (掌控板), embassy variant: the same firmware as `handbit`
//! (`src/main.rs`: the same board, pins, pages, button and OLED handling), but on
//! esp-rtos' embassy executor, with embassy-net (DHCP) over esp-radio's Wi-Fi
//! interface and nal-echo's async echo server over edge-nal-embassy.
//!
//! ```sh
//! WIFI_SSID=MyNetwork WIFI_PASSWORD=secret cargo build --release \
//!   --features esp32c3,embassy --bin handbit-embassy --target riscv32imc-unknown-none-elf
//! espflash flash --monitor target/riscv32imc-unknown-none-elf/release/handbit-embassy
//! ```
//!
//! The main loop is `embassy_app.rs`; README.md says what differs from `handbit`.

#![no_std]
#![no_main]

use core::cell::RefCell;

use embassy_executor::Spawner;
use embedded_hal_bus::i2c::RefCellDevice;
use esp_backtrace as _;
use nal_echo_handbit::board::{self, OLED_ADDRESS, OLED_COLUMN_OFFSET, WIFI_SSID};
use nal_echo_handbit::wifi_link::WifiLink;
use nal_echo_handbit::{embassy_app, panel};

// The app descriptor the ESP-IDF second-stage bootloader (and espflash) expects.
esp_bootloader_esp_idf::esp_app_desc!();

// esp-rtos' embassy executor on its main task; this function is the one embassy
// task, and everything the firmware holds lives in its future.
#[esp_rtos::main]
async fn main(_spawner: Spawner) -> ! {
    let parts = board::start("handbit-embassy");
    let bus = RefCell::new(parts.i2c);
    let display = panel::oled(RefCellDevice::new(&bus), OLED_ADDRESS, OLED_COLUMN_OFFSET);
    let button_b = parts.button_b;

    embassy_app::run(board::Board {
        ssid: WIFI_SSID,
        link: WifiLink::new(parts.controller),
        frames: parts.interface,
        display,
        button_b: move || button_b.is_low(),
        random_seed: parts.random_seed,
    })
    .await
}
