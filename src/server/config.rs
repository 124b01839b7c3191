//! [`ServerConfig`]: how an [`EchoServer`](crate::server::EchoServer) behaves.

use core::fmt;
use core::net::IpAddr;

use crate::display::{Status, StatusView};
use crate::time::Duration;

/// The tutorial's port, the default of [`ServerConfig::port`].
pub const DEFAULT_PORT: u16 = 5001;

/// Most addresses an allowlist can hold.
pub const ALLOWLIST_CAPACITY: usize = 8;

/// Settings of an [`EchoServer`](crate::server::EchoServer).
///
/// Start from [`ServerConfig::default`] and change what you need with the `with_`
/// methods (the struct is `#[non_exhaustive]`, so that new settings are not
/// breaking changes, and cannot be built with `..Default::default()`):
///
/// ```
/// use core::net::{IpAddr, Ipv4Addr};
/// use nal_echo::{Duration, ServerConfig};
///
/// let board = IpAddr::V4(Ipv4Addr::new(192, 168, 4, 1));
/// let camera = IpAddr::V4(Ipv4Addr::new(192, 168, 4, 2));
/// let config = ServerConfig::default()
///     .with_port(5001)
///     .with_local_ip(board)
///     .with_idle_timeout(Some(Duration::from_secs(30)))
///     .with_allowed(camera)?;
/// assert!(config.allows(camera) && !config.allows(board));
/// # Ok::<(), nal_echo::server::AllowlistFull>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// TCP port to listen on, and the UDP port of a
    /// [`UdpEcho`](crate::server::udp::UdpEcho) run by the server. Default 5001,
    /// the tutorial's.
    pub port: u16,
    /// Accept TCP connections. Default `true`; `false` for a server that only
    /// answers datagrams ([`EchoServer::poll_udp`](crate::server::EchoServer::poll_udp)):
    /// its `poll` then only redraws the screen.
    pub tcp: bool,
    /// The board's own address, **only for the screen**: its header shows
    /// `ip:port` (`*:port` for `None`). It does not choose where the server listens
    /// (the stack listens on every address it has); embedded-nal cannot tell a
    /// stack's address, so the caller passes it (the tutorial read
    /// `ifconfig()[0]`).
    pub local_ip: Option<IpAddr>,
    /// A connection with no traffic in either direction for this long is closed.
    /// Default 60 s; `None` never evicts.
    pub idle_timeout: Option<Duration>,
    /// Peers allowed to connect. Empty (the default) allows everyone; otherwise any
    /// other peer is closed at once and counted in
    /// [`ServerStats::denied`](crate::server::ServerStats::denied). IPv4-mapped IPv6
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
            tcp: true,
            local_ip: None,
            idle_timeout: Some(Duration::from_secs(60)),
            allowlist: heapless::Vec::new(),
            refresh_interval: Duration::from_millis(100),
        }
    }
}

/// The allowlist already holds [`ALLOWLIST_CAPACITY`] addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AllowlistFull;

impl fmt::Display for AllowlistFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the allowlist holds {ALLOWLIST_CAPACITY} addresses at most"
        )
    }
}

impl core::error::Error for AllowlistFull {}

impl ServerConfig {
    /// Listen on `port`.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Accept TCP connections (`true`, the default) or not.
    pub fn with_tcp(mut self, tcp: bool) -> Self {
        self.tcp = tcp;
        self
    }

    /// Show `ip` in the screen's header (see [`local_ip`](Self::local_ip)).
    pub fn with_local_ip(mut self, ip: IpAddr) -> Self {
        self.local_ip = Some(ip);
        self
    }

    /// Close a connection idle for `timeout` (`None`: never).
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Redraw the screen at most once per `interval`.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Allow `peer` (and, once one address is allowed, only the allowed ones).
    pub fn with_allowed(mut self, peer: IpAddr) -> Result<Self, AllowlistFull> {
        self.allowlist.push(peer).map_err(|_| AllowlistFull)?;
        Ok(self)
    }

    /// The status view of a server with these settings and `slots` slots, showing
    /// `ip:port` and `accepting.....`.
    pub(crate) fn status_view<D>(&self, display: D, slots: u32) -> StatusView<D> {
        let mut view = StatusView::new(display, self.local_ip, self.port, self.refresh_interval);
        view.set_status(Status {
            slots,
            ..Status::default()
        });
        view
    }

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

    #[test]
    fn the_allowlist_takes_its_capacity_and_refuses_one_more() {
        let mut config = ServerConfig::default();
        for last in 0..ALLOWLIST_CAPACITY as u8 {
            config = config
                .with_allowed(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)))
                .unwrap();
        }
        let full = config
            .clone()
            .with_allowed(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 0)));
        assert_eq!(full, Err(AllowlistFull));
        assert!(config.allows(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))));
        assert!(!config.allows(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 0))));
    }
}
