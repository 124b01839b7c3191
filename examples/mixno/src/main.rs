//! # nal-echo on the MixNo: the tutorial's Wi-Fi echo client
//!
//! The MixNo side of the tutorial: every second it sends `Hello Handbit`, then
//! `I'am MixNo`, to the Handbit's echo server (port 5001), checks that each comes
//! back byte for byte, and prints statistics on the USB serial console. All of that
//! is nal-echo's `PeriodicClient` over nal-echo's AT stack (`stack::at`); this
//! firmware only wires the board to them.
//!
//! ## The board
//!
//! * Kendryte K210 (dual-core RV64GC, 6 MiB SRAM), target
//!   `riscv64gc-unknown-none-elf`; the CPU runs at whatever the boot ROM set
//!   (usually 390 MHz), read from the clock registers.
//! * ESP8285 running Espressif's AT firmware, on the K210's UART2:
//!   IO18 = UART2 TX (to the ESP8285), IO17 = UART2 RX (from it),
//!   IO19 = ESP8285 enable (a GPIOHS output; pulled low for 100 ms at start so the
//!   modem boots afresh, then high).
//! * 115200 baud, 8N1, and it stays there: the tutorial's `wifi_init1` switches to
//!   921600 with `AT+UART_CUR=921600,8,1,0,0`, but two 10-byte messages a second do
//!   not need it, and at 921600 a polled UART's short receive FIFO would overflow
//!   within a fraction of a millisecond of inattention.
//! * Console: UARTHS on IO4 (RX) / IO5 (TX), the USB serial port, 115200 baud.
//! * The LCD (and the camera) are not used.
//!
//! ## Build and flash
//!
//! ```sh
//! cd examples/mixno
//! WIFI_SSID=MyNet WIFI_PASSWORD=secret SERVER_IP=192.168.43.246 cargo build --release
//! llvm-objcopy -O binary target/riscv64gc-unknown-none-elf/release/mixno firmware.bin
//! kflash -p /dev/ttyUSB0 -b 1500000 -B dan firmware.bin
//! ```
//!
//! `llvm-objcopy` comes with LLVM (or `rust-objcopy` from `cargo install
//! cargo-binutils` with the `llvm-tools` rustup component); `kflash` with `pip
//! install kflash`. Then open the port at 115200 (`python3 -m serial.tools.miniterm
//! /dev/ttyUSB0 115200`).
//!
//! ## Why k210-pac and not k210-hal
//!
//! k210-hal 0.2 implements embedded-hal 0.2 (nal-echo is on 1.0), is unmaintained,
//! and does not link on riscv64gc: its riscv-rt is an old one with prebuilt
//! soft-float objects, which rust-lld refuses to mix with the target's double-float
//! ABI. The board layer (`board`) is a few register writes on k210-pac 0.2 with
//! riscv-rt 0.18 instead. For the same reason it never calls
//! `Peripherals::take()` (which goes through riscv 0.5).

#![no_std]
#![no_main]

mod board;
mod report;
mod settings;

use core::net::SocketAddr;

use nal_echo::stack::at::{AtConfig, AtStack, WifiState};
use nal_echo::{ClientConfig, Clock, PeriodicClient, TUTORIAL_MESSAGES};

use board::Board;
use report::{LineErrors, Reporter};

#[riscv_rt::entry]
fn main() -> ! {
    let board = Board::init();
    let mut clock = board.clock;
    println!(
        "\nnal-echo MixNo client: CPU {} MHz, APB0 {} MHz",
        board.clocks.cpu_hz / 1_000_000,
        board.clocks.apb0_hz / 1_000_000
    );
    if settings::WIFI_SSID == settings::PLACEHOLDER_SSID {
        println!("WIFI_SSID was not set at build time: joining the placeholder network");
    }

    // The lengths are checked at build time (settings.rs).
    let Some(at_config) = AtConfig::new(settings::WIFI_SSID, settings::WIFI_PASSWORD) else {
        panic!("SSID or password too long");
    };
    let stack = AtStack::new(board.esp_serial, board.clock, at_config);

    // The tutorial's messages, one a second (ClientConfig's defaults).
    let remote = SocketAddr::from((settings::SERVER_IP, settings::SERVER_PORT));
    let mut config = ClientConfig::new(remote).with_messages(TUTORIAL_MESSAGES);
    config.seed = board::clock::mtime() as u32;
    let mut client = PeriodicClient::new(stack, board.clock, config);
    println!("wifi \"{}\", server {remote}", settings::WIFI_SSID);

    let mut report = Reporter::new(clock.now());
    loop {
        client.stack_mut().poll();
        let wifi = client.stack_mut().wifi_state();
        // Until the modem has joined, a connection attempt could only fail and grow
        // the client's backoff; so the client starts once the network is there.
        if matches!(wifi, WifiState::Connected(_)) {
            let result = client.poll();
            report.client_result(result);
        }
        let stack = client.stack_mut();
        let line_errors = LineErrors {
            serial: stack.serial_errors(),
            framing: stack.framing_errors(),
            boot_noise: stack.boot_noise(),
        };
        report.update(clock.now(), wifi, line_errors, client.stats());
    }
}
