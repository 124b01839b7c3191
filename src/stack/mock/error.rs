//! [`MockError`]: what the mock stack reports.

use core::fmt;

use embedded_nal::{TcpError, TcpErrorKind};

/// An error of the mock network, as a real stack would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum MockError {
    /// The network's socket table is full, or the stack's socket limit is reached.
    NoSocket,
    /// The port is already bound on this host.
    AddrInUse,
    /// Nobody listens at the remote address, or its backlog is full.
    ConnectionRefused,
    /// The peer has closed its end: nothing more can be sent.
    PipeClosed,
    /// The connection was aborted.
    Reset,
    /// The socket is in the wrong state for the call, or is not this stack's.
    InvalidState,
    /// A fault injected by a test, for when no other variant fits.
    Injected,
    /// A datagram larger than the receive buffer of any socket on this network.
    TooLarge,
}

impl TcpError for MockError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            MockError::PipeClosed => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MockError::NoSocket => "no free socket",
            MockError::AddrInUse => "address in use",
            MockError::ConnectionRefused => "connection refused",
            MockError::PipeClosed => "peer closed the connection",
            MockError::Reset => "connection reset",
            MockError::InvalidState => "socket in the wrong state",
            MockError::Injected => "injected fault",
            MockError::TooLarge => "datagram too large",
        })
    }
}

impl core::error::Error for MockError {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn only_pipe_closed_is_pipe_closed() {
        assert_eq!(MockError::PipeClosed.kind(), TcpErrorKind::PipeClosed);
        assert_eq!(MockError::Reset.kind(), TcpErrorKind::Other);
        assert_eq!(MockError::Injected.kind(), TcpErrorKind::Other);
    }

    #[test]
    fn display_is_readable() {
        let mut s: heapless::String<32> = heapless::String::new();
        write!(s, "{}", MockError::ConnectionRefused).unwrap();
        assert_eq!(s.as_str(), "connection refused");
    }
}
