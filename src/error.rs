//! [`Error`]: what `poll` reports. None of it stops the server or the client.

use core::fmt;

/// An error reported by a `poll`, wrapping the stack's (`N`) or the display's (`D`)
/// error.
///
/// Per-connection trouble (a reset, `PipeClosed`, `Ok(0)`) is not an error of the
/// server: it only ends that connection and shows in the stats. What is reported here
/// is stack-wide or display trouble; the work of the poll is done regardless and the
/// failed step is retried on a later poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error<N, D = core::convert::Infallible> {
    /// The stack failed to open, bind or listen on the server socket, or to accept.
    Listen(N),
    /// The stack failed to accept a connection.
    Accept(N),
    /// The stack could not give a socket (for example, all sockets in use).
    Socket(N),
    /// A connection attempt failed or was refused.
    Connect(N),
    /// A connection attempt did not complete within the connect timeout.
    ConnectTimeout,
    /// A connected socket failed (reset, closed, or another per-socket error).
    Connection(N),
    /// The peer closed the connection.
    ConnectionClosed,
    /// The echo did not match what was sent.
    EchoMismatch,
    /// An echo did not come back within the echo timeout.
    EchoTimeout,
    /// Drawing or flushing the status screen failed.
    Display(D),
}

impl<N: fmt::Debug, D: fmt::Debug> fmt::Display for Error<N, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Listen(e) => write!(f, "cannot listen: {e:?}"),
            Error::Accept(e) => write!(f, "accept failed: {e:?}"),
            Error::Socket(e) => write!(f, "no socket: {e:?}"),
            Error::Connect(e) => write!(f, "connect failed: {e:?}"),
            Error::ConnectTimeout => f.write_str("connect timed out"),
            Error::Connection(e) => write!(f, "connection failed: {e:?}"),
            Error::ConnectionClosed => f.write_str("connection closed by the peer"),
            Error::EchoMismatch => f.write_str("echo differs from what was sent"),
            Error::EchoTimeout => f.write_str("echo timed out"),
            Error::Display(e) => write!(f, "display failed: {e:?}"),
        }
    }
}

impl<N: fmt::Debug, D: fmt::Debug> core::error::Error for Error<N, D> {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn display_names_the_failed_step_and_the_cause() {
        let mut s: heapless::String<64> = heapless::String::new();
        let e: Error<&str, ()> = Error::Accept("EMFILE");
        write!(s, "{e}").unwrap();
        assert_eq!(s.as_str(), "accept failed: \"EMFILE\"");
    }
}
