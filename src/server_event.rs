//! [`ServerEvent`]: what happened to connections, for logs and host programs.

use core::net::SocketAddr;

/// Why a connection in a slot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed in order (`receive` gave `Ok(0)`).
    PeerClosed,
    /// The stack reported `PipeClosed`.
    PipeClosed,
    /// Any other per-socket error, such as a reset.
    Error,
    /// No traffic for longer than the idle timeout.
    Idle,
    /// The server was released.
    Released,
}

/// A change in the server's connections. Read them with
/// [`EchoServer::next_event`](crate::EchoServer::next_event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A connection took slot `slot`.
    Accepted {
        /// Index of the slot.
        slot: usize,
        /// The peer's address.
        peer: SocketAddr,
    },
    /// The connection in slot `slot` ended.
    Closed {
        /// Index of the slot.
        slot: usize,
        /// The peer's address.
        peer: SocketAddr,
        /// Why it ended.
        reason: CloseReason,
    },
    /// A connection was closed at once because every slot was busy.
    Rejected {
        /// The peer's address.
        peer: SocketAddr,
    },
    /// A connection was closed at once because the peer is not on the allowlist.
    Denied {
        /// The peer's address.
        peer: SocketAddr,
    },
}

// core::net addresses have no defmt::Format, so the peer goes through Debug.
#[cfg(feature = "defmt")]
impl defmt::Format for ServerEvent {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            ServerEvent::Accepted { slot, peer } => {
                defmt::write!(f, "accepted {} in slot {}", defmt::Debug2Format(peer), slot)
            }
            ServerEvent::Closed { slot, peer, reason } => defmt::write!(
                f,
                "closed {} in slot {}: {}",
                defmt::Debug2Format(peer),
                slot,
                reason
            ),
            ServerEvent::Rejected { peer } => {
                defmt::write!(f, "rejected {} (slots full)", defmt::Debug2Format(peer))
            }
            ServerEvent::Denied { peer } => {
                defmt::write!(f, "denied {} (not allowed)", defmt::Debug2Format(peer))
            }
        }
    }
}
