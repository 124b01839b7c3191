//! [`ClientError`]: what [`PeriodicClient::poll`](crate::client::PeriodicClient::poll)
//! reports.

use core::fmt;

/// Why the [`PeriodicClient`](crate::client::PeriodicClient)'s connection ended or
/// could not be made, wrapping the stack's error (`N`).
///
/// None of these stops the client: the socket is closed, the failure is counted in
/// [`ClientStats`](crate::client::ClientStats), and the client connects again after
/// its [`Backoff`](crate::client::Backoff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClientError<N> {
    /// The stack gave no socket (for example, all sockets in use).
    Socket(N),
    /// The stack refused or failed the connection attempt.
    Connect(N),
    /// The connection was not established within
    /// [`ClientConfig::connect_timeout`](crate::client::ClientConfig::connect_timeout).
    ConnectTimeout,
    /// A send or receive on the connected socket failed (a reset, `PipeClosed`, or
    /// another error of the stack).
    Connection(N),
    /// The server closed the connection (a receive returned `Ok(0)`).
    ConnectionClosed,
    /// A byte came back that differs from the byte sent at that place, or more
    /// came back than was sent.
    EchoMismatch,
    /// A message's echo was not complete within
    /// [`ClientConfig::echo_timeout`](crate::client::ClientConfig::echo_timeout).
    EchoTimeout,
}

impl<N: fmt::Debug> fmt::Display for ClientError<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Socket(e) => write!(f, "no socket: {e:?}"),
            Self::Connect(e) => write!(f, "connect failed: {e:?}"),
            Self::ConnectTimeout => f.write_str("connect timed out"),
            Self::Connection(e) => write!(f, "connection failed: {e:?}"),
            Self::ConnectionClosed => f.write_str("connection closed by the peer"),
            Self::EchoMismatch => f.write_str("echo differs from what was sent"),
            Self::EchoTimeout => f.write_str("echo timed out"),
        }
    }
}

impl<N: fmt::Debug> core::error::Error for ClientError<N> {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn display_names_the_failed_step_and_the_cause() {
        let mut s: heapless::String<64> = heapless::String::new();
        write!(s, "{}", ClientError::Connect("refused")).unwrap();
        assert_eq!(s.as_str(), "connect failed: \"refused\"");
    }
}
