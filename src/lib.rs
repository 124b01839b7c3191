#![no_std]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![doc = include_str!("../README.md")]

#[cfg(feature = "std")]
extern crate std;

mod log;

#[cfg(feature = "async")]
pub mod asynch;
pub mod client;
pub mod display;
mod progress;
pub mod server;
pub mod stack;
pub mod text;
pub mod time;

pub use client::{
    Backoff, ClientConfig, ClientError, ClientState, ClientStats, PeriodicClient,
    UdpPeriodicClient, TUTORIAL_MESSAGES,
};
pub use display::{Flush, NoFlush, StatusScreen};
pub use progress::Progress;
pub use server::udp::{UdpEcho, UdpEchoError, UdpStats};
pub use server::{
    CloseReason, EchoServer, ServerConfig, ServerError, ServerEvent, ServerStats,
    ALLOWLIST_CAPACITY, DEFAULT_PORT,
};
pub use text::TextDecoder;
pub use time::{Clock, Duration, Instant};

pub use embedded_nal;

/// The board quick start of `docs/no_std.md`, compiled as a doctest so that the page
/// cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../docs/no_std.md")]
struct NoStdQuickStart;

/// The example of `docs/udp.md`, compiled as a doctest so that the page cannot go
/// stale.
#[cfg(doctest)]
#[doc = include_str!("../docs/udp.md")]
struct UdpPage;

/// The examples of `docs/async.md`, compiled as doctests so that the page cannot go
/// stale.
#[cfg(all(doctest, feature = "async"))]
#[doc = include_str!("../docs/async.md")]
struct AsyncPage;
