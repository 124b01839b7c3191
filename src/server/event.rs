//! [`ServerEvent`]: what happened to connections, for logs and host programs.

use core::fmt;
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
/// [`EchoServer::next_event`](crate::server::EchoServer::next_event).
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

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::PeerClosed => "peer closed",
            CloseReason::PipeClosed => "pipe closed",
            CloseReason::Error => "error",
            CloseReason::Idle => "idle",
            CloseReason::Released => "released",
        })
    }
}

/// One log line, the same on every board and host program: `connect <peer> slot
/// <n>`, `disconnect <peer> slot <n> (<reason>)`, `evict <peer> slot <n> (idle)`,
/// `reject <peer> (slots full)`, `deny <peer> (not allowed)`. IPv4 peers of a
/// dual-stack listener show as plain IPv4.
impl fmt::Display for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |peer: &SocketAddr| SocketAddr::new(peer.ip().to_canonical(), peer.port());
        match self {
            ServerEvent::Accepted { slot, peer } => {
                write!(f, "connect {} slot {slot}", shown(peer))
            }
            ServerEvent::Closed {
                slot,
                peer,
                reason: CloseReason::Idle,
            } => {
                write!(f, "evict {} slot {slot} (idle)", shown(peer))
            }
            ServerEvent::Closed { slot, peer, reason } => {
                write!(f, "disconnect {} slot {slot} ({reason})", shown(peer))
            }
            ServerEvent::Rejected { peer } => write!(f, "reject {} (slots full)", shown(peer)),
            ServerEvent::Denied { peer } => write!(f, "deny {} (not allowed)", shown(peer)),
        }
    }
}

// The same line as `Display`, from the one formatter: core::net addresses have no
// defmt::Format, and an event is rare enough for core::fmt.
#[cfg(feature = "defmt")]
impl defmt::Format for ServerEvent {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn line(event: ServerEvent) -> heapless::String<64> {
        let mut s = heapless::String::new();
        write!(s, "{event}").unwrap();
        s
    }

    #[test]
    fn events_read_as_log_lines_with_plain_ipv4_peers() {
        let mapped = SocketAddr::new(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped().into(), 4000);
        let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 7);
        assert_eq!(
            line(ServerEvent::Accepted {
                slot: 2,
                peer: mapped
            }),
            "connect 127.0.0.1:4000 slot 2"
        );
        let idle = ServerEvent::Closed {
            slot: 0,
            peer: v6,
            reason: CloseReason::Idle,
        };
        assert_eq!(line(idle), "evict [::1]:7 slot 0 (idle)");
        let reset = ServerEvent::Closed {
            slot: 1,
            peer: v6,
            reason: CloseReason::Error,
        };
        assert_eq!(line(reset), "disconnect [::1]:7 slot 1 (error)");
        assert_eq!(
            line(ServerEvent::Rejected { peer: v6 }),
            "reject [::1]:7 (slots full)"
        );
        assert_eq!(
            line(ServerEvent::Denied { peer: mapped }),
            "deny 127.0.0.1:4000 (not allowed)"
        );
    }
}
