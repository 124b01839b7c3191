#![no_std]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![doc = include_str!("../README.md")]

#[cfg(feature = "std")]
extern crate std;

mod log;

mod backoff;
mod client_config;
mod client_stats;
mod echo_server;
mod error;
mod flush;
mod periodic_client;
mod server_config;
mod server_event;
mod server_stats;
#[cfg(feature = "sh1106")]
pub mod sh1106;
pub mod status_screen;
mod text_decoder;
pub mod time;

pub mod stack;

pub use backoff::Backoff;
pub use client_config::{ClientConfig, TUTORIAL_MESSAGES};
pub use client_stats::ClientStats;
pub use echo_server::EchoServer;
pub use error::Error;
pub use flush::{Flush, NoFlush};
pub use periodic_client::{ClientState, PeriodicClient};
pub use server_config::{ServerConfig, ALLOWLIST_CAPACITY};
pub use server_event::{CloseReason, ServerEvent};
pub use server_stats::ServerStats;
pub use status_screen::StatusScreen;
pub use text_decoder::TextDecoder;
pub use time::{Clock, Duration, Instant};

pub use embedded_nal;
