//! The Handbit firmware's parts, shared by its two binaries:
//!
//! * `handbit` (`src/main.rs`): nal-echo's poll `EchoServer` over its smoltcp
//!   adapter, one loop that never blocks ([`app`]);
//! * `handbit-embassy` (`src/bin/handbit-embassy.rs`, feature `embassy`): nal-echo's
//!   async server over embassy-net and edge-nal-embassy on esp-rtos' embassy
//!   executor ([`embassy_app`]).
//!
//! Both start the board the same way ([`board`]), and show the same pages
//! ([`pages`]) on the same OLED ([`panel`]) with the same button ([`button`]).

#![no_std]

pub mod app;
pub mod board;
pub mod button;
pub mod clock;
#[cfg(feature = "embassy")]
pub mod embassy_app;
pub mod net;
pub mod pages;
pub mod panel;
pub mod radio;
#[cfg(feature = "embassy")]
pub mod watched_driver;
pub mod wifi_device;
pub mod wifi_link;

#[cfg(all(feature = "esp32", feature = "esp32c3"))]
compile_error!("choose one chip: feature `esp32` or `esp32c3`, not both");
#[cfg(not(any(feature = "esp32", feature = "esp32c3")))]
compile_error!("choose a chip: `--features esp32` (the Handbit) or `--features esp32c3`");
