//! [`AtError`]: what the AT stack reports.

use core::fmt;

use embedded_nal::{TcpError, TcpErrorKind};

/// An error of the [`AtStack`](super::AtStack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AtError {
    /// The stack has one socket (the modem runs in single-connection mode), and it
    /// is in use.
    NoSocket,
    /// The modem has not joined the Wi-Fi network yet (it is starting, joining, or
    /// rejoining after the link was lost).
    NotJoined,
    /// The last attempt to set up the modem or to join the network failed; the
    /// stack tries again after [`AtConfig::retry_delay`](super::AtConfig::retry_delay).
    WifiFailed,
    /// The modem did not answer a command within its timeout.
    Timeout,
    /// The modem could not open the connection (`ERROR` or `CLOSED` to `CIPSTART`):
    /// refused, unreachable, or nobody listening.
    ConnectFailed,
    /// The connection was closed (by the peer, or by the modem); nothing more can be
    /// sent.
    Closed,
    /// The modem answered `ERROR`, `FAIL` or `SEND FAIL` to a command on the
    /// connection, so the data of that send is lost and the connection is given up.
    Modem,
    /// The modem restarted (it printed `ready`), which ends its connection.
    ModemReset,
    /// The modem's output around the connection's data could not be trusted (a
    /// garbled `+IPD` header, bytes lost on the serial line, a reply that answers
    /// nothing), so the connection was given up rather than risk delivering a byte
    /// the peer did not send. Close the socket; a new connection starts clean.
    Framing,
    /// The socket is in the wrong state for the call (sending before connecting,
    /// connecting elsewhere while connected...), or is not this stack's.
    InvalidState,
    /// The remote address is not IPv4 (the AT firmware's single connection is
    /// IPv4 only here).
    Unaddressable,
    /// A datagram to send is empty or longer than [`SEND_CHUNK`](super::SEND_CHUNK):
    /// one `AT+CIPSEND` is one datagram, so a longer one cannot be split, and the
    /// firmware sends no empty one. Nothing was sent; the socket goes on.
    DatagramSize,
}

impl TcpError for AtError {
    fn kind(&self) -> TcpErrorKind {
        match self {
            AtError::Closed => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

impl fmt::Display for AtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AtError::NoSocket => "no free socket",
            AtError::NotJoined => "Wi-Fi not joined",
            AtError::WifiFailed => "Wi-Fi setup failed",
            AtError::Timeout => "modem did not answer in time",
            AtError::ConnectFailed => "connection failed",
            AtError::Closed => "connection closed",
            AtError::Modem => "modem reported an error",
            AtError::ModemReset => "modem restarted",
            AtError::Framing => "modem output garbled, connection dropped",
            AtError::InvalidState => "socket in the wrong state",
            AtError::Unaddressable => "address not usable",
            AtError::DatagramSize => "datagram empty or too long to send",
        })
    }
}

impl core::error::Error for AtError {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn only_closed_is_pipe_closed() {
        assert_eq!(AtError::Closed.kind(), TcpErrorKind::PipeClosed);
        for e in [
            AtError::NoSocket,
            AtError::NotJoined,
            AtError::WifiFailed,
            AtError::Timeout,
            AtError::ConnectFailed,
            AtError::Modem,
            AtError::ModemReset,
            AtError::Framing,
            AtError::InvalidState,
            AtError::Unaddressable,
            AtError::DatagramSize,
        ] {
            assert_eq!(e.kind(), TcpErrorKind::Other, "{e:?}");
        }
    }

    #[test]
    fn display_is_readable() {
        let mut s: heapless::String<32> = heapless::String::new();
        write!(s, "{}", AtError::NotJoined).unwrap();
        assert_eq!(s.as_str(), "Wi-Fi not joined");
    }
}
