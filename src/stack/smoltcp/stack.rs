use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use ::smoltcp::iface::{Interface, SocketHandle, SocketSet};
use ::smoltcp::phy::Device;
use ::smoltcp::socket::tcp;
use ::smoltcp::socket::AnySocket;
use ::smoltcp::wire::IpEndpoint;

use crate::time::Clock;

use crate::stack::smoltcp::error::SmoltcpError;
use crate::stack::smoltcp::pool::{Role, Slot};
use crate::stack::smoltcp::ports::Ports;
use crate::stack::smoltcp::udp::UdpSlot;

/// Armed sockets per listener unless [`SmoltcpStack::with_backlog`] says otherwise:
/// every free pool socket, so that as many SYNs as the pool can take may arrive at
/// once (the pool bounds every loop over the backlog).
const DEFAULT_BACKLOG: usize = usize::MAX;

/// embedded-nal's TCP and UDP stacks over a caller-owned smoltcp interface, device
/// and socket set, with a pool of `N` TCP sockets and one of `U` UDP sockets. See the
/// [module](crate::stack::smoltcp) documentation for what each call does.
///
/// `U` is 0 unless [`with_udp_sockets`](Self::with_udp_sockets) hands over UDP
/// sockets: a stack from [`new`](Self::new) is `SmoltcpStack<'s, 'b, D, C, N>` as
/// before UDP came, and its UDP calls find no socket to bind.
pub struct SmoltcpStack<'s, 'b, D, C, const N: usize, const U: usize = 0> {
    pub(super) iface: &'s mut Interface,
    pub(super) device: &'s mut D,
    pub(super) sockets: &'s mut SocketSet<'b>,
    pub(super) clock: C,
    pub(super) slots: [Slot; N],
    /// Ports of the listeners; a listener holds no pool socket, so this is the only
    /// record that it exists when the pool is empty.
    pub(super) listeners: [Option<u16>; N],
    pub(super) backlog: usize,
    pub(super) ports: Ports,
    /// Polls since the pool was last tended (see `drive`).
    pub(super) untended: u8,
    /// The UDP pool; its sockets need no tending, only a record of who holds them.
    pub(super) udp_slots: [UdpSlot; U],
    /// UDP transmit buffers emptied because their datagrams waited for ARP.
    pub(super) udp_flushes: u32,
}

/// A socket of a [`SmoltcpStack`]: a fresh handle, a listener or a connection.
///
/// Not `Clone`: a handle is the one owner of its pool socket. Give it back with
/// `close` (or [`SmoltcpStack::abort`]); a dropped handle keeps its pool socket
/// until the stack itself is dropped.
#[derive(Debug)]
pub struct SmoltcpSocket {
    pub(super) state: SocketState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SocketState {
    Fresh,
    /// `bind()` recorded the port (0: an ephemeral one at `listen`).
    Bound(u16),
    Listening(u16),
    Connecting {
        handle: SocketHandle,
        remote: SocketAddr,
    },
    Connected {
        handle: SocketHandle,
        remote: SocketAddr,
    },
}

impl SmoltcpSocket {
    pub(super) const fn new(state: SocketState) -> Self {
        Self { state }
    }

    /// The pool socket behind a connection (also one still connecting).
    const fn handle(&self) -> Option<SocketHandle> {
        match self.state {
            SocketState::Connecting { handle, .. } | SocketState::Connected { handle, .. } => {
                Some(handle)
            }
            _ => None,
        }
    }
}

impl<'s, 'b, D, C, const N: usize, const U: usize> fmt::Debug for SmoltcpStack<'s, 'b, D, C, N, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmoltcpStack")
            .field("slots", &self.slots)
            .field("listeners", &self.listeners)
            .field("backlog", &self.backlog)
            .field("udp_slots", &self.udp_slots)
            .finish_non_exhaustive()
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize> SmoltcpStack<'s, 'b, D, C, N> {
    /// A stack over the caller's interface, device and socket set. `pool` are handles
    /// of TCP sockets already added to `sockets`; the adapter uses them and no others
    /// (sockets of the set outside the pool are left alone, and their ports are not
    /// handed out). Pool sockets that are open are aborted: they belong to the
    /// adapter from now on. The stack has no UDP sockets until
    /// [`with_udp_sockets`](SmoltcpStack::with_udp_sockets) gives it some.
    ///
    /// # Errors
    ///
    /// [`NotTcp`](SmoltcpError::NotTcp) if a handle is not a TCP socket of `sockets`,
    /// [`InvalidState`](SmoltcpError::InvalidState) if a handle is given twice.
    pub fn new(
        iface: &'s mut Interface,
        device: &'s mut D,
        sockets: &'s mut SocketSet<'b>,
        pool: [SocketHandle; N],
        clock: C,
    ) -> Result<Self, SmoltcpError> {
        validate_pool(sockets, &pool)?;
        for &handle in &pool {
            if let Some(socket) = find_tcp_mut(sockets, handle).filter(|s| s.is_open()) {
                socket.abort();
            }
        }
        Ok(Self {
            iface,
            device,
            sockets,
            clock,
            slots: pool.map(|handle| Slot {
                handle,
                role: Role::Free,
                unread_before_fin: None,
            }),
            listeners: [None; N],
            backlog: DEFAULT_BACKLOG,
            ports: Ports::seeded(crate::stack::smoltcp::ports::FIRST),
            untended: 0,
            udp_slots: [],
            udp_flushes: 0,
        })
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> SmoltcpStack<'s, 'b, D, C, N, U> {
    /// At most `k` sockets armed per listener (listening, in a handshake, or
    /// established and not yet accepted); 0 is taken as 1, or nothing could ever be
    /// accepted. The default is no limit: every free pool socket is armed, so that
    /// SYNs that arrive together are all answered as long as the pool lasts. Limit it
    /// when several listeners share the pool, or to keep sockets free for `connect`
    /// (which otherwise takes a spare listening socket, see the module docs).
    pub fn with_backlog(mut self, k: usize) -> Self {
        self.backlog = k.max(1);
        self
    }

    /// The first ephemeral port to try (default 49152). A seed below 49152 is mapped
    /// into 49152..=65535; ports then go up in turn, wrap, and skip ports in use.
    pub fn with_port_seed(mut self, seed: u16) -> Self {
        self.ports = Ports::seeded(seed);
        self
    }

    /// Drives the interface now (every other call does so too), and gives back pool
    /// sockets that finished closing. Returns whether any socket changed.
    pub fn poll(&mut self) -> bool {
        self.drive_all()
    }

    /// The borrowed interface and socket set, for what the board runs beside the
    /// adapter: a DHCP socket in the same set, an address change on a new lease.
    /// Leave the pool's sockets in the set: they belong to the adapter.
    pub fn parts_mut(&mut self) -> (&mut Interface, &mut SocketSet<'b>) {
        (self.iface, self.sockets)
    }

    /// The borrowed device, for what the board keeps in it (a radio's counters or
    /// its watchdog, for example).
    pub fn device_mut(&mut self) -> &mut D {
        self.device
    }

    /// Pool sockets not armed, not in a connection and not still closing.
    pub fn free_sockets(&self) -> usize {
        self.slots.iter().filter(|s| self.is_free(s)).count()
    }

    /// The socket's local address: `0.0.0.0:port` for a listener (it accepts on every
    /// address of the interface), the connection's own address otherwise; `None`
    /// before `listen` or `connect`.
    pub fn local_addr(&self, socket: &SmoltcpSocket) -> Option<SocketAddr> {
        match socket.state {
            SocketState::Listening(port) => {
                Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
            }
            _ => self
                .tcp(socket.handle()?)?
                .local_endpoint()
                .map(socket_addr),
        }
    }

    /// The peer of a connected socket (still known after the connection ended);
    /// `None` for other sockets, including one still connecting.
    pub fn remote_addr(&self, socket: &SmoltcpSocket) -> Option<SocketAddr> {
        match socket.state {
            SocketState::Connected { remote, .. } => Some(remote),
            _ => None,
        }
    }

    /// Ends a connection at once with a reset (like `SO_LINGER` 0) and gives its pool
    /// socket back immediately; for a listener or a fresh handle, the same as `close`.
    ///
    /// # Errors
    ///
    /// [`InvalidState`](SmoltcpError::InvalidState) if the socket is not this stack's.
    pub fn abort(&mut self, socket: SmoltcpSocket) -> Result<(), SmoltcpError> {
        self.drive();
        match socket.handle() {
            Some(handle) => self.abort_connection(handle),
            None => self.close_handle(socket),
        }
    }
}

pub(super) fn validate_pool(
    sockets: &SocketSet<'_>,
    pool: &[SocketHandle],
) -> Result<(), SmoltcpError> {
    validate_handles(
        pool,
        |handle| find_tcp(sockets, handle).is_some(),
        SmoltcpError::NotTcp,
    )
}

/// `wrong_kind` if a handle is not `of_kind`, `InvalidState` if one comes twice.
pub(super) fn validate_handles(
    pool: &[SocketHandle],
    of_kind: impl Fn(SocketHandle) -> bool,
    wrong_kind: SmoltcpError,
) -> Result<(), SmoltcpError> {
    for (i, &handle) in pool.iter().enumerate() {
        if !of_kind(handle) {
            return Err(wrong_kind);
        }
        if pool
            .get(..i)
            .is_some_and(|earlier| earlier.contains(&handle))
        {
            return Err(SmoltcpError::InvalidState);
        }
    }
    Ok(())
}

/// Looks the socket up by iterating rather than with `SocketSet::get`, which panics
/// on a handle of another set or type: this way no handle can make the adapter panic.
pub(super) fn find_tcp<'a, 'b>(
    sockets: &'a SocketSet<'b>,
    handle: SocketHandle,
) -> Option<&'a tcp::Socket<'b>> {
    let (_, socket) = sockets.iter().find(|(h, _)| *h == handle)?;
    tcp::Socket::downcast(socket)
}

/// The `&mut` twin of [`find_tcp`].
pub(super) fn find_tcp_mut<'a, 'b>(
    sockets: &'a mut SocketSet<'b>,
    handle: SocketHandle,
) -> Option<&'a mut tcp::Socket<'b>> {
    let (_, socket) = sockets.iter_mut().find(|(h, _)| *h == handle)?;
    tcp::Socket::downcast_mut(socket)
}

/// smoltcp's endpoint as a `SocketAddr`; also right for IPv6 should another crate
/// turn on smoltcp's `proto-ipv6`.
pub(super) fn socket_addr(endpoint: IpEndpoint) -> SocketAddr {
    SocketAddr::new(IpAddr::from(endpoint.addr), endpoint.port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::smoltcp::wire::{IpAddress, Ipv4Address};

    #[test]
    fn endpoints_become_socket_addrs() {
        let ep = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), 49152);
        assert_eq!(socket_addr(ep), "10.0.0.2:49152".parse().unwrap());
    }
}
