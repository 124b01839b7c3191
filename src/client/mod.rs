//! The periodic client: [`PeriodicClient`] (a drift-free schedule, byte-for-byte
//! verification of every echo, reconnection with [`Backoff`]), its
//! [`ClientConfig`], [`ClientStats`] and [`ClientError`]; and its UDP form,
//! [`UdpPeriodicClient`].

pub(crate) mod backoff;
mod config;
mod error;
mod periodic_client;
pub(crate) mod schedule;
mod stats;
mod udp_client;

pub use backoff::Backoff;
pub use config::{ClientConfig, TUTORIAL_MESSAGES};
pub use error::ClientError;
pub use periodic_client::{ClientState, PeriodicClient};
pub use stats::ClientStats;
pub use udp_client::UdpPeriodicClient;
