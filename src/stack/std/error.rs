//! [`StdError`]: what the std stack reports.

use core::fmt;

use ::std::io;
use embedded_nal::{TcpError, TcpErrorKind};

/// An error of the std stack: the operating system's, or a call the socket's state
/// does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StdError {
    /// The operating system failed the call; the kind says why (for example
    /// `ConnectionRefused`, `ConnectionReset` or `AddrInUse`).
    Io(io::ErrorKind),
    /// The socket is in the wrong state for the call: sending on a listener,
    /// accepting on a connection, binding twice, connecting a connected socket
    /// elsewhere...
    InvalidState,
}

impl From<io::Error> for StdError {
    fn from(e: io::Error) -> Self {
        StdError::Io(e.kind())
    }
}

impl TcpError for StdError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            // EPIPE is what a write gets once this side has shut down, or after the
            // peer's reset was already reported: the sending direction is gone.
            StdError::Io(io::ErrorKind::BrokenPipe) => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

impl fmt::Display for StdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StdError::Io(kind) => write!(f, "{kind}"),
            StdError::InvalidState => f.write_str("socket in the wrong state"),
        }
    }
}

impl core::error::Error for StdError {}

#[cfg(test)]
mod tests {
    use super::*;
    use ::std::string::ToString;

    #[test]
    fn only_broken_pipe_is_pipe_closed() {
        assert_eq!(
            StdError::Io(io::ErrorKind::BrokenPipe).kind(),
            TcpErrorKind::PipeClosed
        );
        assert_eq!(
            StdError::Io(io::ErrorKind::ConnectionReset).kind(),
            TcpErrorKind::Other
        );
        assert_eq!(
            StdError::Io(io::ErrorKind::ConnectionAborted).kind(),
            TcpErrorKind::Other
        );
        assert_eq!(StdError::InvalidState.kind(), TcpErrorKind::Other);
    }

    #[test]
    fn display_is_readable() {
        assert_eq!(
            StdError::Io(io::ErrorKind::ConnectionRefused).to_string(),
            "connection refused"
        );
        assert_eq!(
            StdError::InvalidState.to_string(),
            "socket in the wrong state"
        );
    }

    #[test]
    fn from_io_error_keeps_the_kind() {
        let e = io::Error::from(io::ErrorKind::AddrInUse);
        assert_eq!(StdError::from(e), StdError::Io(io::ErrorKind::AddrInUse));
    }
}
