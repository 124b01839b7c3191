//! [`ClientConfig`]: what a [`PeriodicClient`](crate::PeriodicClient) sends, where and when.

use core::net::SocketAddr;

use crate::client::backoff::Backoff;
use crate::time::Duration;

/// The tutorial's two messages.
pub const TUTORIAL_MESSAGES: &[&[u8]] = &[b"Hello Handbit", b"I'am MixNo"];

/// Settings of a [`PeriodicClient`](crate::PeriodicClient). Build with
/// [`ClientConfig::new`] and change the fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The echo server.
    pub remote: SocketAddr,
    /// Sent in turn, one per period. Default [`TUTORIAL_MESSAGES`]. An empty list
    /// sends nothing (the client only keeps the connection up).
    pub messages: &'static [&'static [u8]],
    /// Time between two messages. Default 1000 ms.
    pub period: Duration,
    /// A connection attempt that takes longer fails. Default 5 s, like the tutorial's
    /// `settimeout(5)`.
    pub connect_timeout: Duration,
    /// A message whose echo has not fully come back after this long fails the
    /// connection. Default 5 s.
    pub echo_timeout: Duration,
    /// Waits between connection attempts.
    pub backoff: Backoff,
    /// Seed of the backoff jitter; give each board its own (for example from its MAC
    /// address) so that they do not retry in step.
    pub seed: u32,
}

impl ClientConfig {
    /// The defaults, sending to `remote`.
    pub fn new(remote: SocketAddr) -> Self {
        Self {
            remote,
            messages: TUTORIAL_MESSAGES,
            period: Duration::from_millis(1000),
            connect_timeout: Duration::from_secs(5),
            echo_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            seed: 1,
        }
    }
}
