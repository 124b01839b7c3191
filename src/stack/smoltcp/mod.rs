//! [`SmoltcpStack`]: embedded-nal's `TcpFullStack` and `TcpClientStack` over a
//! smoltcp 0.13 interface that the caller owns (feature `smoltcp`), without a heap.
//!
//! The feature needs rustc 1.91 or later (smoltcp 0.13's minimum); the rest of the
//! crate does not.
//!
//! Why smoltcp 0.13 (0.13.1 or later): it is the version the latest embassy-net
//! (0.9) builds on, so a board that also runs embassy-net, or a later embassy
//! front end of this crate, has one smoltcp in its build, not two. 0.13.1 fixed the
//! two panics a peer could cause in 0.12 (a TCP SYN from the unspecified address,
//! and SACK arithmetic that overflowed where overflow checks are on), so frames
//! reach smoltcp unfiltered. 0.14 needs the same rustc, and the adapter builds and
//! passes its tests on it unchanged, but embassy-net does not use it yet. smoltcp-nal
//! implements only the client traits and owns the interface; this adapter borrows
//! the interface, the device and the socket set, and adds `TcpFullStack`, which
//! [`EchoServer`](crate::EchoServer) needs.
//!
//! # How the calls map onto smoltcp
//!
//! Every call polls the interface once with the time of the [`Clock`] (except a
//! `receive` that finds data already waiting and a `send` that finds room), so a caller that spins on
//! `nb::block!` makes progress; [`SmoltcpStack::poll`] does the same, and tends the
//! pool, for times when the program makes no other call: call it once per main-loop
//! pass. `send`, `receive` and `accept` tend the pool only after a poll that changed a
//! socket or after 16 polls without, which keeps the echo path short; a timer that
//! fires without a packet (TIME-WAIT ending) is seen within those 16. Nothing waits, and nothing
//! panics whatever the peer sends (also with overflow checks on, as the tests and
//! the fuzz target `smoltcp` run).
//!
//! The adapter works with a pool of `N` TCP sockets that the caller created with its
//! own buffers (it allocates nothing):
//!
//! * `socket()` gives a handle that holds no pool socket yet: a listener needs none.
//! * smoltcp has no accept and no backlog: a listening socket itself becomes the
//!   connection, and a SYN that finds no socket listening on its port is answered
//!   with a reset. So `listen` arms free pool sockets on the port: all of them by
//!   default, at most the [`backlog`](SmoltcpStack::with_backlog) if one is set.
//!   SYNs that arrive together (in one poll) each take an armed socket, as a
//!   real stack's backlog would queue them. `accept` hands out an armed socket once
//!   its handshake is complete (ESTABLISHED, or CLOSE-WAIT if the peer already sent
//!   its FIN; a socket in SYN-RECEIVED is not usable yet), with its peer. Sockets
//!   that come back to the pool are armed again while the listener lasts. An armed
//!   socket whose handshake fails (the peer's reset, or the socket's timeout)
//!   listens again.
//! * `connect` takes a pool socket on the first call (a free one, else one that only
//!   listens, from a listener that keeps another one listening) and connects from an
//!   ephemeral port (49152..=65535 in turn from [`with_port_seed`], skipping ports in
//!   use); it reports `WouldBlock` until the handshake ends, then `Ok`, or
//!   [`ConnectionRefused`](SmoltcpError::ConnectionRefused) after a reset or timeout,
//!   which gives the pool socket back: the handle may connect again.
//! * `send` queues what fits in the socket's transmit buffer and polls so that it
//!   leaves at once; a full buffer is `WouldBlock`. `receive` gives `Ok(0)` once the
//!   peer's FIN has been read (an orderly close), [`Reset`](SmoltcpError::Reset) after
//!   a reset, and [`PipeClosed`](SmoltcpError::PipeClosed) to a send after the peer
//!   closed and the connection then ended. One quirk of smoltcp (0.13 and 0.14)
//!   shows here: data a peer sends after its own FIN, which RFC 9293 says to
//!   ignore, is delivered before the end of stream, less the byte that falls on the
//!   FIN's sequence number. Only a peer that breaks TCP this way sees it (found by
//!   the fuzz target `smoltcp`).
//! * `close` of a connection sends a FIN; its pool socket is reused once it reaches
//!   CLOSED or TIME-WAIT, checked on every later call. A closing socket is aborted
//!   (reset) early only when a `connect` or a listener with no socket armed at all
//!   needs one and nothing else is to be had: the one with the least data still to
//!   deliver. `close` of a listener resets the connections it armed and not yet
//!   handed out, and frees their sockets.
//!
//! # Sizing and settings
//!
//! * With the default backlog, `k` clients whose SYNs arrive at once are all
//!   answered if `k` ≤ `N` − connections open − connections still closing (FIN
//!   sent, not yet in TIME-WAIT); the SYNs beyond that get a reset.
//!   [`EchoServer`](crate::EchoServer) accepts every connection and closes those
//!   beyond its `SLOTS` at once, so with `N` ≥ `SLOTS + 2 + C`, where `C` is the
//!   number of connections that may still be closing at that moment, `SLOTS`
//!   clients that connect at the same instant are all served and the next one is
//!   turned away with an orderly close (FIN). With `N = SLOTS + 1` it is turned
//!   away with a reset: its closing socket is the only one left to listen with.
//! * A backlog set with [`with_backlog`](SmoltcpStack::with_backlog) caps the
//!   sockets armed per listener; then `N` ≥ connections open + the backlog of each
//!   listener + those still closing, and at most `backlog` SYNs are answered at once.
//! * smoltcp retransmits forever unless told otherwise: a peer that vanishes keeps a
//!   socket in SYN-RECEIVED or in a closing state for good. Set
//!   `tcp::Socket::set_timeout` (and keep-alive if you like) on the pool sockets; the
//!   adapter leaves socket options to the caller.
//! * Seed `iface::Config::random_seed` and [`with_port_seed`] with something that
//!   differs from boot to boot (a hardware RNG, a timer, the MAC), or a rebooted
//!   board reconnects with the port and sequence numbers of its last life.
//! * IPv4 only, whatever features of smoltcp other crates turn on.
//!
//! [`with_port_seed`]: SmoltcpStack::with_port_seed
//!
//! ```
//! use nal_echo::embedded_nal::{nb, TcpClientStack, TcpFullStack};
//! use nal_echo::stack::smoltcp::{SmoltcpError, SmoltcpStack};
//! use nal_echo::Clock;
//! use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
//! use smoltcp::phy::Device;
//! use smoltcp::socket::tcp;
//! use smoltcp::time::{Duration, Instant};
//! use smoltcp::wire::{EthernetAddress, IpCidr, Ipv4Address};
//!
//! fn tcp_socket<'a>(rx: &'a mut [u8], tx: &'a mut [u8]) -> tcp::Socket<'a> {
//!     let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
//!     // Give up on peers that vanish, so that their sockets come back to the pool.
//!     socket.set_timeout(Some(Duration::from_secs(30)));
//!     socket
//! }
//!
//! /// Echoes one connection on port 7 of 10.0.0.1.
//! fn echo_once<D: Device>(device: &mut D, clock: impl Clock) -> Result<(), SmoltcpError> {
//!     let mut config = Config::new(EthernetAddress([0x02, 0, 0, 0, 0, 1]).into());
//!     config.random_seed = 0x5eed; // from a hardware RNG on a board
//!     let mut iface = Interface::new(config, device, Instant::ZERO);
//!     iface.update_ip_addrs(|ips| {
//!         let _ = ips.push(IpCidr::new(Ipv4Address::new(10, 0, 0, 1).into(), 24));
//!     });
//!
//!     // Three sockets: all three listen until one is accepted.
//!     let mut buffers = [[0u8; 1024]; 6];
//!     let [rx0, tx0, rx1, tx1, rx2, tx2] = &mut buffers;
//!     let mut storage = [SocketStorage::EMPTY; 3];
//!     let mut sockets = SocketSet::new(&mut storage[..]);
//!     let pool = [
//!         sockets.add(tcp_socket(rx0, tx0)),
//!         sockets.add(tcp_socket(rx1, tx1)),
//!         sockets.add(tcp_socket(rx2, tx2)),
//!     ];
//!     let mut stack = SmoltcpStack::new(&mut iface, device, &mut sockets, pool, clock)?;
//!
//!     let mut listener = stack.socket()?;
//!     stack.bind(&mut listener, 7)?;
//!     stack.listen(&mut listener)?;
//!     let (mut conn, _peer) = nb::block!(stack.accept(&mut listener))?;
//!     let mut buf = [0u8; 256];
//!     loop {
//!         let n = nb::block!(stack.receive(&mut conn, &mut buf))?;
//!         if n == 0 {
//!             break; // the peer closed
//!         }
//!         let mut sent = 0;
//!         while sent < n {
//!             sent += nb::block!(stack.send(&mut conn, &buf[sent..n]))?;
//!         }
//!     }
//!     stack.close(conn)?;
//!     stack.close(listener)
//! }
//! ```

mod error;
mod nal;
mod pool;
mod ports;

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use ::smoltcp::iface::{Interface, SocketHandle, SocketSet};
use ::smoltcp::phy::Device;
use ::smoltcp::socket::tcp;
use ::smoltcp::socket::AnySocket;
use ::smoltcp::wire::IpEndpoint;

use crate::time::Clock;

pub use error::SmoltcpError;
use pool::{Role, Slot};
use ports::Ports;

/// Armed sockets per listener unless [`SmoltcpStack::with_backlog`] says otherwise:
/// every free pool socket, so that as many SYNs as the pool can take may arrive at
/// once (the pool bounds every loop over the backlog).
const DEFAULT_BACKLOG: usize = usize::MAX;

/// embedded-nal's TCP stacks over a caller-owned smoltcp interface, device and socket
/// set, with a pool of `N` TCP sockets. See the [module](self) documentation for
/// what each call does.
pub struct SmoltcpStack<'s, 'b, D, C, const N: usize> {
    iface: &'s mut Interface,
    device: &'s mut D,
    sockets: &'s mut SocketSet<'b>,
    clock: C,
    slots: [Slot; N],
    /// Ports of the listeners; a listener holds no pool socket, so this is the only
    /// record that it exists when the pool is empty.
    listeners: [Option<u16>; N],
    backlog: usize,
    ports: Ports,
    /// Polls since the pool was last tended (see `drive`).
    untended: u8,
}

/// A socket of a [`SmoltcpStack`]: a fresh handle, a listener or a connection.
///
/// Not `Clone`: a handle is the one owner of its pool socket. Give it back with
/// `close` (or [`SmoltcpStack::abort`]); a dropped handle keeps its pool socket
/// until the stack itself is dropped.
#[derive(Debug)]
pub struct SmoltcpSocket {
    state: SocketState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SocketState {
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
    const fn new(state: SocketState) -> Self {
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

impl<'s, 'b, D, C, const N: usize> fmt::Debug for SmoltcpStack<'s, 'b, D, C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmoltcpStack")
            .field("slots", &self.slots)
            .field("listeners", &self.listeners)
            .field("backlog", &self.backlog)
            .finish_non_exhaustive()
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize> SmoltcpStack<'s, 'b, D, C, N> {
    /// A stack over the caller's interface, device and socket set. `pool` are handles
    /// of TCP sockets already added to `sockets`; the adapter uses them and no others
    /// (sockets of the set outside the pool are left alone, and their ports are not
    /// handed out). Pool sockets that are open are aborted: they belong to the
    /// adapter from now on.
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
            }),
            listeners: [None; N],
            backlog: DEFAULT_BACKLOG,
            ports: Ports::seeded(ports::FIRST),
            untended: 0,
        })
    }

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

fn validate_pool(sockets: &SocketSet<'_>, pool: &[SocketHandle]) -> Result<(), SmoltcpError> {
    for (i, &handle) in pool.iter().enumerate() {
        if find_tcp(sockets, handle).is_none() {
            return Err(SmoltcpError::NotTcp);
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
fn find_tcp<'a, 'b>(
    sockets: &'a SocketSet<'b>,
    handle: SocketHandle,
) -> Option<&'a tcp::Socket<'b>> {
    let (_, socket) = sockets.iter().find(|(h, _)| *h == handle)?;
    tcp::Socket::downcast(socket)
}

/// The `&mut` twin of [`find_tcp`].
fn find_tcp_mut<'a, 'b>(
    sockets: &'a mut SocketSet<'b>,
    handle: SocketHandle,
) -> Option<&'a mut tcp::Socket<'b>> {
    let (_, socket) = sockets.iter_mut().find(|(h, _)| *h == handle)?;
    tcp::Socket::downcast_mut(socket)
}

/// smoltcp's endpoint as a `SocketAddr`; also right for IPv6 should another crate
/// turn on smoltcp's `proto-ipv6`.
fn socket_addr(endpoint: IpEndpoint) -> SocketAddr {
    SocketAddr::new(IpAddr::from(endpoint.addr), endpoint.port)
}

/// The crate's millisecond time as smoltcp's microseconds. Clamped to half of
/// smoltcp's range (about 146,000 years of uptime), so that neither the conversion
/// nor smoltcp's own `instant + timeout` sums can overflow, whatever the clock says.
fn smoltcp_instant(now: crate::time::Instant) -> ::smoltcp::time::Instant {
    const MAX_MICROS: i64 = i64::MAX / 2;
    let millis = i64::try_from(now.total_millis()).unwrap_or(i64::MAX);
    ::smoltcp::time::Instant::from_micros(millis.saturating_mul(1000).min(MAX_MICROS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::smoltcp::wire::{IpAddress, Ipv4Address};

    #[test]
    fn clock_millis_become_smoltcp_micros_without_overflow() {
        let at = |ms| smoltcp_instant(crate::time::Instant::from_millis(ms));
        assert_eq!(at(0), ::smoltcp::time::Instant::ZERO);
        assert_eq!(at(1_500).total_micros(), 1_500_000);
        assert_eq!(at(u64::MAX).total_micros(), i64::MAX / 2);
    }

    #[test]
    fn endpoints_become_socket_addrs() {
        let ep = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), 49152);
        assert_eq!(socket_addr(ep), "10.0.0.2:49152".parse().unwrap());
    }
}
