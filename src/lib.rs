#![no_std]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![doc = include_str!("../README.md")]

mod log;

mod error;
mod flush;
mod server_stats;
pub mod status_screen;
mod text_decoder;
pub mod time;

pub mod stack;

pub use error::Error;
pub use flush::{Flush, NoFlush};
pub use server_stats::ServerStats;
pub use status_screen::StatusScreen;
pub use text_decoder::TextDecoder;
pub use time::{Clock, Duration, Instant};

pub use embedded_nal;
