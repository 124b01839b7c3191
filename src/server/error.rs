//! [`ServerError`]: what [`EchoServer::poll`](crate::server::EchoServer::poll)
//! reports.

use core::fmt;

/// A stack-wide or display failure reported by
/// [`EchoServer::poll`](crate::server::EchoServer::poll), wrapping the stack's (`N`)
/// or the display's (`D`) error.
///
/// None of these stops the server: the rest of the poll's work is done, the failure
/// is counted in [`ServerStats::errors`](crate::server::ServerStats::errors) (or
/// `display_errors`), and the failed step is retried on the next poll.
/// Per-connection trouble (a reset, `PipeClosed`, `Ok(0)`, a failed send or receive)
/// is not an error of the server: it ends that connection only, and shows as a
/// [`ServerEvent::Closed`](crate::server::ServerEvent::Closed) and in the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ServerError<N, D> {
    /// The stack gave no socket to listen on (for example, all sockets in use).
    Socket(N),
    /// The stack failed to bind the listening socket to the port or to listen on
    /// it (for example, the port is taken); the socket was closed again.
    Listen(N),
    /// The stack failed to accept a connection waiting on the listening socket.
    Accept(N),
    /// Drawing or flushing the status screen failed; the whole screen is repainted
    /// on the next redraw.
    Display(D),
}

impl<N: fmt::Debug, D: fmt::Debug> fmt::Display for ServerError<N, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Socket(e) => write!(f, "no socket to listen on: {e:?}"),
            Self::Listen(e) => write!(f, "cannot listen: {e:?}"),
            Self::Accept(e) => write!(f, "accept failed: {e:?}"),
            Self::Display(e) => write!(f, "display failed: {e:?}"),
        }
    }
}

impl<N: fmt::Debug, D: fmt::Debug> core::error::Error for ServerError<N, D> {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn display_names_the_failed_step_and_the_cause() {
        let mut s: heapless::String<64> = heapless::String::new();
        let e: ServerError<&str, ()> = ServerError::Accept("EMFILE");
        write!(s, "{e}").unwrap();
        assert_eq!(s.as_str(), "accept failed: \"EMFILE\"");
    }
}
