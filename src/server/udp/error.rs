//! [`UdpEchoError`]: what [`UdpEcho::poll`](crate::server::udp::UdpEcho::poll) reports.

use core::fmt;

/// A failure of the UDP part as a whole; what goes wrong with one datagram is only
/// counted ([`UdpStats`](crate::server::udp::UdpStats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum UdpEchoError<N> {
    /// The stack gave no socket.
    Socket(N),
    /// The socket could not be bound to the port (in use, for example); retried on
    /// the next poll.
    Bind(N),
}

impl<N: fmt::Debug> fmt::Display for UdpEchoError<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Socket(e) => write!(f, "no UDP socket: {e:?}"),
            Self::Bind(e) => write!(f, "cannot bind the UDP port: {e:?}"),
        }
    }
}

impl<N: fmt::Debug> core::error::Error for UdpEchoError<N> {}
