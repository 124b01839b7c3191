//! [`ClientConfig`]: what a [`PeriodicClient`](crate::client::PeriodicClient) sends, where and when.

use core::net::SocketAddr;

use crate::client::backoff::Backoff;
use crate::time::Duration;

/// The tutorial's two messages.
pub const TUTORIAL_MESSAGES: &[&[u8]] = &[b"Hello Handbit", b"I'am MixNo"];

/// Settings of a [`PeriodicClient`](crate::client::PeriodicClient). Build with
/// [`ClientConfig::new`] and change what you need with the `with_` methods:
///
/// ```
/// use nal_echo::{ClientConfig, Duration, TUTORIAL_MESSAGES};
///
/// let config = ClientConfig::new(([192, 168, 4, 1], 5001).into())
///     .with_messages(TUTORIAL_MESSAGES)
///     .with_period(Duration::from_millis(500))
///     .with_seed(0x2a); // e.g. from the board's MAC address
/// assert_eq!(config.messages.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The echo server.
    pub remote: SocketAddr,
    /// Sent in turn, one per period, by [`poll`](crate::client::PeriodicClient::poll)
    /// (the tutorial's are [`TUTORIAL_MESSAGES`]). Default: none, so that the client
    /// only keeps the connection up, or sends what
    /// [`poll_with`](crate::client::PeriodicClient::poll_with) builds.
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
    /// The defaults, connecting to `remote`, with no listed messages.
    pub fn new(remote: SocketAddr) -> Self {
        Self {
            remote,
            messages: &[],
            period: Duration::from_millis(1000),
            connect_timeout: Duration::from_secs(5),
            echo_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            seed: 1,
        }
    }

    /// Send `messages` in turn, one per period.
    pub fn with_messages(mut self, messages: &'static [&'static [u8]]) -> Self {
        self.messages = messages;
        self
    }

    /// Send one message per `period`.
    pub fn with_period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// Give a connection attempt `timeout` to succeed.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Give each echo `timeout` to come back whole.
    pub fn with_echo_timeout(mut self, timeout: Duration) -> Self {
        self.echo_timeout = timeout;
        self
    }

    /// Wait between connection attempts as `backoff` says.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Seed the backoff jitter with `seed`.
    pub fn with_seed(mut self, seed: u32) -> Self {
        self.seed = seed;
        self
    }
}
