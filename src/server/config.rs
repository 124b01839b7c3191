//! [`ServerConfig`]: how an [`EchoServer`](crate::server::EchoServer) behaves.

use core::net::IpAddr;

use crate::time::Duration;

/// The tutorial's port, the default of [`ServerConfig::port`].
pub const DEFAULT_PORT: u16 = 5001;

/// Most addresses an allowlist can hold.
pub const ALLOWLIST_CAPACITY: usize = 8;

/// Settings of an [`EchoServer`](crate::EchoServer).
///
/// Start from [`ServerConfig::default`] and change the fields you need; the struct is
/// `#[non_exhaustive]` so that new settings are not breaking changes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// TCP port to listen on. Default 5001, the tutorial's.
    pub port: u16,
    /// The board's own address, shown on the screen as `ip:port`. embedded-nal cannot
    /// tell a stack's address, so the caller passes it (the tutorial read
    /// `ifconfig()[0]`). `None` shows `*:port`.
    pub local_ip: Option<IpAddr>,
    /// A connection with no traffic in either direction for this long is closed.
    /// Default 60 s; `None` never evicts.
    pub idle_timeout: Option<Duration>,
    /// Peers allowed to connect. Empty (the default) allows everyone; otherwise any
    /// other peer is closed at once and counted in
    /// [`ServerStats::denied`](crate::ServerStats::denied). IPv4-mapped IPv6
    /// addresses (`::ffff:a.b.c.d`, as a dual-stack listener reports IPv4 peers)
    /// match their IPv4 entry.
    pub allowlist: heapless::Vec<IpAddr, ALLOWLIST_CAPACITY>,
    /// The screen is redrawn at most once per this interval. Default 100 ms.
    pub refresh_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            local_ip: None,
            idle_timeout: Some(Duration::from_secs(60)),
            allowlist: heapless::Vec::new(),
            refresh_interval: Duration::from_millis(100),
        }
    }
}

impl ServerConfig {
    /// Whether `peer` may connect under the allowlist.
    pub fn allows(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.allowlist.is_empty() || self.allowlist.iter().any(|a| a.to_canonical() == peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn empty_allowlist_allows_everyone() {
        assert!(ServerConfig::default().allows(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))));
    }

    #[test]
    fn allowlist_matches_mapped_ipv4_and_nothing_else() {
        let mut c = ServerConfig::default();
        c.allowlist
            .push(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 9)))
            .unwrap();
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 168, 0, 9).to_ipv6_mapped());
        assert!(c.allows(mapped));
        assert!(c.allows(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 9))));
        assert!(!c.allows(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 10))));
        assert!(!c.allows(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }
}
