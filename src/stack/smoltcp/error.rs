//! [`SmoltcpError`]: what the smoltcp stack reports.

use core::fmt;

use ::smoltcp::socket::tcp::{ConnectError, ListenError};
use embedded_nal::{TcpError, TcpErrorKind};

/// An error of the [`SmoltcpStack`](super::SmoltcpStack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SmoltcpError {
    /// No pool socket is free for a connection or a UDP socket, or every listener
    /// entry is taken.
    NoSocket,
    /// The socket is in the wrong state for the call (sending on a listener, binding
    /// twice, accepting on a connection...), or belongs to another stack.
    InvalidState,
    /// The address cannot be used: an IPv6 or unspecified remote, port 0, no
    /// source address on the interface for the remote, or (for a datagram) no route
    /// to it.
    Unaddressable,
    /// Another listener of this stack, or another UDP socket of the set, already has
    /// the port.
    AddrInUse,
    /// The connection attempt ended with a reset, or timed out.
    ConnectionRefused,
    /// The connection was aborted, by the peer's reset or a timeout.
    Reset,
    /// The peer closed its end and then the connection ended: nothing more can be sent.
    PipeClosed,
    /// A pool handle given to [`SmoltcpStack::new`](super::SmoltcpStack::new) is not
    /// a TCP socket of the socket set.
    NotTcp,
    /// A handle given to
    /// [`SmoltcpStack::with_udp_sockets`](super::SmoltcpStack::with_udp_sockets) is
    /// not a UDP socket of the socket set.
    NotUdp,
    /// The datagram can never be sent: it is larger than the socket's transmit
    /// buffer, or than one IP packet on the link (smoltcp does not fragment here).
    TooLarge,
}

impl TcpError for SmoltcpError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            SmoltcpError::PipeClosed => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

impl fmt::Display for SmoltcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmoltcpError::NoSocket => "no free socket",
            SmoltcpError::InvalidState => "socket in the wrong state",
            SmoltcpError::Unaddressable => "address not usable",
            SmoltcpError::AddrInUse => "address in use",
            SmoltcpError::ConnectionRefused => "connection refused",
            SmoltcpError::Reset => "connection reset",
            SmoltcpError::PipeClosed => "peer closed the connection",
            SmoltcpError::NotTcp => "not a TCP socket of the set",
            SmoltcpError::NotUdp => "not a UDP socket of the set",
            SmoltcpError::TooLarge => "datagram too large to send",
        })
    }
}

impl core::error::Error for SmoltcpError {}

impl From<ConnectError> for SmoltcpError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::InvalidState => SmoltcpError::InvalidState,
            ConnectError::Unaddressable => SmoltcpError::Unaddressable,
        }
    }
}

impl From<ListenError> for SmoltcpError {
    fn from(e: ListenError) -> Self {
        match e {
            ListenError::InvalidState => SmoltcpError::InvalidState,
            ListenError::Unaddressable => SmoltcpError::Unaddressable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn only_pipe_closed_is_pipe_closed() {
        assert_eq!(SmoltcpError::PipeClosed.kind(), TcpErrorKind::PipeClosed);
        for e in [
            SmoltcpError::NoSocket,
            SmoltcpError::InvalidState,
            SmoltcpError::Unaddressable,
            SmoltcpError::AddrInUse,
            SmoltcpError::ConnectionRefused,
            SmoltcpError::Reset,
            SmoltcpError::NotTcp,
            SmoltcpError::NotUdp,
            SmoltcpError::TooLarge,
        ] {
            assert_eq!(e.kind(), TcpErrorKind::Other, "{e:?}");
        }
    }

    #[test]
    fn smoltcp_errors_keep_their_meaning() {
        assert_eq!(
            SmoltcpError::from(ConnectError::Unaddressable),
            SmoltcpError::Unaddressable
        );
        assert_eq!(
            SmoltcpError::from(ConnectError::InvalidState),
            SmoltcpError::InvalidState
        );
        assert_eq!(
            SmoltcpError::from(ListenError::Unaddressable),
            SmoltcpError::Unaddressable
        );
        assert_eq!(
            SmoltcpError::from(ListenError::InvalidState),
            SmoltcpError::InvalidState
        );
    }

    #[test]
    fn display_is_readable() {
        let mut s: heapless::String<32> = heapless::String::new();
        write!(s, "{}", SmoltcpError::ConnectionRefused).unwrap();
        assert_eq!(s.as_str(), "connection refused");
    }
}
