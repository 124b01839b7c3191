//! The echo server: [`EchoServer`] (slots, accept, refusal of clients it has no
//! slot for, the allowlist, idle eviction, per-slot backpressure), its
//! [`ServerConfig`], [`ServerStats`], [`ServerEvent`]s and [`ServerError`]; and
//! the UDP echo that runs beside it, [`udp::UdpEcho`].

mod config;
mod echo_server;
mod error;
mod event;
pub(crate) mod ledger;
mod stats;
pub mod udp;

pub use config::{AllowlistFull, ServerConfig, ALLOWLIST_CAPACITY, DEFAULT_PORT};
pub use echo_server::EchoServer;
pub use error::ServerError;
pub use event::{CloseReason, ServerEvent};
pub use stats::ServerStats;
