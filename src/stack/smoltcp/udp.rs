//! The UDP pool of a [`SmoltcpStack`]: the sockets the caller hands over with
//! [`SmoltcpStack::with_udp_sockets`], who holds each, and the ports they bind.

use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use ::smoltcp::iface::{SocketHandle, SocketSet};
use ::smoltcp::phy::Device;
use ::smoltcp::socket::udp::{self, BindError};
use ::smoltcp::socket::AnySocket;

use super::error::SmoltcpError;
use super::stack::{validate_handles, SmoltcpStack};
use crate::log::trace_event;
use crate::time::{Clock, Duration, Instant};

/// How long a UDP socket's transmit buffer may hold datagrams without once being
/// empty before the adapter drops them: three of smoltcp's ARP requests (one a
/// second) for the next hop went unanswered.
pub const UDP_STALL: Duration = Duration::from_secs(3);

/// A UDP pool socket, whether a [`SmoltcpUdpSocket`] holds it, and since when its
/// transmit buffer has held datagrams without once being empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UdpSlot {
    pub(super) handle: SocketHandle,
    pub(super) taken: bool,
    pub(super) waiting_since: Option<Instant>,
}

/// A UDP socket of a [`SmoltcpStack`]: a fresh handle, a bound socket or a
/// connected one.
///
/// Not `Clone`: a handle is the one owner of its pool socket. Give it back with
/// `close`; a dropped handle keeps its pool socket (bound, and taking datagrams
/// that nobody reads) until the stack itself is dropped.
#[derive(Debug)]
pub struct SmoltcpUdpSocket {
    pub(super) state: UdpState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UdpState {
    /// From `socket()`: no pool socket yet.
    Fresh,
    /// Bound to a port: receives from anyone, sends with `send_to`.
    Bound(SocketHandle),
    /// Bound, and `send` goes to `remote`, from which alone datagrams are taken.
    Connected {
        handle: SocketHandle,
        remote: SocketAddrV4,
    },
}

impl SmoltcpUdpSocket {
    pub(super) const fn new(state: UdpState) -> Self {
        Self { state }
    }

    /// The pool socket, once bound or connected.
    pub(super) const fn handle(&self) -> Option<SocketHandle> {
        match self.state {
            UdpState::Bound(handle) | UdpState::Connected { handle, .. } => Some(handle),
            UdpState::Fresh => None,
        }
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize> SmoltcpStack<'s, 'b, D, C, N> {
    /// The same stack with `M` UDP sockets for embedded-nal's `UdpClientStack` and
    /// `UdpFullStack`: handles of UDP sockets already added to the socket set
    /// ([`UdpSocketPool::add_to`](super::UdpSocketPool::add_to) makes them). As with
    /// the TCP pool, the adapter uses them and no others, and closes those that are
    /// bound: they belong to the adapter from now on.
    ///
    /// A const generic rather than a slice keeps the stack free of a heap and of a
    /// second borrow; its default of 0 leaves `SmoltcpStack<'s, 'b, D, C, N>` the
    /// type of a stack without UDP, as it was.
    ///
    /// # Errors
    ///
    /// [`NotUdp`](SmoltcpError::NotUdp) if a handle is not a UDP socket of the set,
    /// [`InvalidState`](SmoltcpError::InvalidState) if a handle is given twice.
    pub fn with_udp_sockets<const M: usize>(
        self,
        udp: [SocketHandle; M],
    ) -> Result<SmoltcpStack<'s, 'b, D, C, N, M>, SmoltcpError> {
        let sockets: &SocketSet<'b> = self.sockets;
        validate_handles(
            &udp,
            |handle| find_udp(sockets, handle).is_some(),
            SmoltcpError::NotUdp,
        )?;
        for &handle in &udp {
            if let Some(socket) = find_udp_mut(self.sockets, handle) {
                socket.close();
            }
        }
        Ok(SmoltcpStack {
            iface: self.iface,
            device: self.device,
            sockets: self.sockets,
            clock: self.clock,
            slots: self.slots,
            listeners: self.listeners,
            backlog: self.backlog,
            ports: self.ports,
            untended: self.untended,
            udp_slots: udp.map(|handle| UdpSlot {
                handle,
                taken: false,
                waiting_since: None,
            }),
            udp_flushes: 0,
        })
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> SmoltcpStack<'s, 'b, D, C, N, U> {
    /// UDP pool sockets that no handle holds.
    pub fn free_udp_sockets(&self) -> usize {
        self.udp_slots.iter().filter(|s| !s.taken).count()
    }

    /// The UDP socket's local address: `0.0.0.0:port` for a bound socket (it takes
    /// datagrams to every address of the interface, as a listener takes
    /// connections), and for a connected one the interface's address that its
    /// datagrams leave from, as a TCP connection's; `None` for a fresh handle.
    pub fn udp_local_addr(&self, socket: &SmoltcpUdpSocket) -> Option<SocketAddr> {
        let port = self.udp(socket.handle()?)?.endpoint().port;
        let ip = match socket.state {
            UdpState::Connected { remote, .. } => self
                .iface
                .get_source_address_ipv4(remote.ip())
                .unwrap_or(Ipv4Addr::UNSPECIFIED),
            _ => Ipv4Addr::UNSPECIFIED,
        };
        (port != 0).then_some(SocketAddr::new(IpAddr::V4(ip), port))
    }

    pub(super) fn udp(&self, handle: SocketHandle) -> Option<&udp::Socket<'b>> {
        find_udp(self.sockets, handle)
    }

    /// The pool socket a UDP handle holds; `InvalidState` for a handle of another
    /// stack.
    pub(super) fn udp_owned(
        &mut self,
        handle: SocketHandle,
    ) -> Result<&mut udp::Socket<'b>, SmoltcpError> {
        let held = self.udp_slots.iter().any(|s| s.handle == handle && s.taken);
        if !held {
            return Err(SmoltcpError::InvalidState);
        }
        find_udp_mut(self.sockets, handle).ok_or(SmoltcpError::InvalidState)
    }

    /// Takes a free UDP pool socket and binds it to `port` (0: an ephemeral one).
    pub(super) fn open_udp(&mut self, port: u16) -> Result<SocketHandle, SmoltcpError> {
        let port = match port {
            0 => self.udp_ephemeral_port().ok_or(SmoltcpError::AddrInUse)?,
            port if udp_port_in_use(self.sockets, port) => return Err(SmoltcpError::AddrInUse),
            port => port,
        };
        let slot = self
            .udp_slots
            .iter_mut()
            .find(|s| !s.taken)
            .ok_or(SmoltcpError::NoSocket)?;
        slot.taken = true;
        let handle = slot.handle;
        let bound = self.udp_owned(handle).and_then(|socket| {
            socket.bind(port).map_err(|e| match e {
                BindError::InvalidState => SmoltcpError::InvalidState,
                BindError::Unaddressable => SmoltcpError::Unaddressable,
            })
        });
        if let Err(e) = bound {
            self.release_udp(handle);
            return Err(e);
        }
        Ok(handle)
    }

    /// Unbinds the socket (dropping what it holds either way) and gives it back to
    /// the pool.
    pub(super) fn release_udp(&mut self, handle: SocketHandle) {
        if let Some(socket) = find_udp_mut(self.sockets, handle) {
            socket.close();
        }
        if let Some(slot) = self.udp_slots.iter_mut().find(|s| s.handle == handle) {
            slot.taken = false;
            slot.waiting_since = None;
        }
    }

    /// How often a UDP socket's transmit buffer was emptied because its datagrams
    /// had waited [`UDP_STALL`] for the next hop's link address (see the module
    /// docs).
    pub fn udp_flushes(&self) -> u32 {
        self.udp_flushes
    }

    /// Before a send: if the socket's transmit buffer has held datagrams for
    /// [`UDP_STALL`] without once being empty, the one at its head waits for an ARP
    /// answer that does not come (smoltcp asks once a second and never gives up),
    /// and all behind it wait too: drop them all, keeping the socket's binding.
    /// Datagrams received and not yet taken are dropped with them (smoltcp clears
    /// both buffers on close).
    pub(super) fn unstick_udp(&mut self, handle: SocketHandle) {
        let now = self.clock.now();
        let queued = self.udp(handle).map_or(0, udp::Socket::send_queue);
        let Some(slot) = self.udp_slots.iter_mut().find(|s| s.handle == handle) else {
            return;
        };
        let since = match (queued, slot.waiting_since) {
            (0, _) => None,
            (_, None) => Some(now),
            (_, Some(since)) => Some(since),
        };
        slot.waiting_since = since;
        if since.is_none_or(|since| now - since < UDP_STALL) {
            return;
        }
        slot.waiting_since = None;
        if let Some(socket) = find_udp_mut(self.sockets, handle) {
            let endpoint = socket.endpoint();
            socket.close();
            // Rebinding what it was bound to cannot fail: the port is its own.
            let _ = socket.bind(endpoint);
        }
        self.udp_flushes = self.udp_flushes.wrapping_add(1);
        trace_event!(
            warn,
            "UDP datagrams waited {} ms for ARP: dropped",
            UDP_STALL.total_millis()
        );
    }

    /// A port of the dynamic range that no UDP socket of the set is bound to.
    fn udp_ephemeral_port(&mut self) -> Option<u16> {
        let sockets: &SocketSet<'b> = self.sockets;
        self.ports.allocate(|port| udp_port_in_use(sockets, port))
    }
}

/// Looks the socket up by iterating, as `find_tcp` does: no handle can make the
/// adapter panic.
pub(super) fn find_udp<'a, 'b>(
    sockets: &'a SocketSet<'b>,
    handle: SocketHandle,
) -> Option<&'a udp::Socket<'b>> {
    let (_, socket) = sockets.iter().find(|(h, _)| *h == handle)?;
    udp::Socket::downcast(socket)
}

/// The `&mut` twin of [`find_udp`].
pub(super) fn find_udp_mut<'a, 'b>(
    sockets: &'a mut SocketSet<'b>,
    handle: SocketHandle,
) -> Option<&'a mut udp::Socket<'b>> {
    let (_, socket) = sockets.iter_mut().find(|(h, _)| *h == handle)?;
    udp::Socket::downcast_mut(socket)
}

/// Whether a UDP socket of the set, in the pool or not, is bound to `port`:
/// smoltcp would hand a datagram to the first of two such sockets only.
fn udp_port_in_use(sockets: &SocketSet<'_>, port: u16) -> bool {
    sockets
        .iter()
        .filter_map(|(_, s)| udp::Socket::downcast(s))
        .any(|s| s.is_open() && s.endpoint().port == port)
}
