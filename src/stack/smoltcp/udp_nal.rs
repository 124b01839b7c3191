//! embedded-nal's UDP traits on [`SmoltcpStack`].

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use ::smoltcp::iface::SocketHandle;
use ::smoltcp::phy::Device;
use ::smoltcp::socket::udp::{self, SendError};
use ::smoltcp::wire::{IpAddress, IpEndpoint};
use embedded_nal::{nb, UdpClientStack, UdpFullStack};

use super::error::SmoltcpError;
use super::stack::{socket_addr, SmoltcpStack};
use super::udp::{SmoltcpUdpSocket, UdpState};
use crate::log::{fail, trace_event};
use crate::stack::local_addr::UdpLocalAddr;
use crate::time::Clock;

/// An IPv4 header without options and a UDP header: what a datagram adds to its
/// bytes in one IP packet.
const HEADERS: usize = 20 + 8;

/// A remote a datagram can go to: IPv4 (the adapter's only family), a specified
/// address and a port.
fn ipv4_remote(remote: SocketAddr) -> Result<SocketAddrV4, SmoltcpError> {
    match remote {
        SocketAddr::V4(v4) if !v4.ip().is_unspecified() && v4.port() != 0 => Ok(v4),
        _ => Err(SmoltcpError::Unaddressable),
    }
}

/// Copies what fits of `payload` into `buffer`; the rest is dropped.
fn copy_start(payload: &[u8], buffer: &mut [u8]) -> usize {
    let n = payload.len().min(buffer.len());
    if let (Some(to), Some(from)) = (buffer.get_mut(..n), payload.get(..n)) {
        to.copy_from_slice(from);
    }
    n
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> SmoltcpStack<'s, 'b, D, C, N, U> {
    /// Queues one datagram and sends it at once; a full transmit buffer gets one
    /// poll to drain before the send is `WouldBlock`.
    fn send_datagram(
        &mut self,
        handle: SocketHandle,
        remote: SocketAddrV4,
        datagram: &[u8],
    ) -> nb::Result<(), SmoltcpError> {
        self.check_sendable(handle, remote, datagram.len())
            .or_else(fail)?;
        self.unstick_udp(handle);
        match self.queue_datagram(handle, remote, datagram) {
            Err(nb::Error::WouldBlock) => {
                self.drive();
                self.queue_datagram(handle, remote, datagram)
            }
            done => done,
        }
    }

    /// Errors for a datagram that could never leave, rather than `WouldBlock` for
    /// good or a silent drop in smoltcp's egress: one larger than the transmit
    /// buffer or than an IP packet on the link (smoltcp is built without
    /// fragmentation), and one to an address the interface has no route to, which
    /// smoltcp would keep at the head of the buffer and retry for ever.
    fn check_sendable(
        &mut self,
        handle: SocketHandle,
        remote: SocketAddrV4,
        len: usize,
    ) -> Result<(), SmoltcpError> {
        let ip_payload = self.device.capabilities().ip_mtu().saturating_sub(HEADERS);
        if !fits(self.udp_owned(handle)?, len, ip_payload) {
            return Err(SmoltcpError::TooLarge);
        }
        if !self.routable(*remote.ip()) {
            return Err(SmoltcpError::Unaddressable);
        }
        Ok(())
    }

    /// Whether smoltcp's egress can send to `to`: the interface has an IPv4
    /// address to send from, `to` is not one of its own (smoltcp does not loop a
    /// datagram back, it would ask ARP for itself for ever: a peer could forge that
    /// source), and `to` is on one of its subnets, a broadcast or multicast
    /// address, or covered by a route that has not expired.
    fn routable(&mut self, to: Ipv4Addr) -> bool {
        if self.iface.get_source_address_ipv4(&to).is_none() || self.iface.has_ip_addr(to) {
            return false;
        }
        let dst = IpAddress::Ipv4(to);
        to.is_broadcast()
            || to.is_multicast()
            || self.iface.ip_addrs().iter().any(|c| c.contains_addr(&dst))
            || self.has_route(dst)
    }

    /// Whether a route that has not expired covers `dst`.
    fn has_route(&mut self, dst: IpAddress) -> bool {
        let now = ::smoltcp::time::Instant::from(self.clock.now());
        let mut routed = false;
        // `update` is the only way smoltcp lets one read the routes; nothing changes.
        self.iface.routes_mut().update(|routes| {
            routed = routes.iter().any(|route| {
                route.cidr.contains_addr(&dst) && route.expires_at.is_none_or(|end| now <= end)
            });
        });
        routed
    }

    fn queue_datagram(
        &mut self,
        handle: SocketHandle,
        remote: SocketAddrV4,
        datagram: &[u8],
    ) -> nb::Result<(), SmoltcpError> {
        let socket = self.udp_owned(handle).map_err(nb::Error::Other)?;
        match socket.send_slice(datagram, IpEndpoint::from(remote)) {
            Ok(()) => {
                // Out now rather than on the next call, which may be a while away.
                self.poll_iface();
                Ok(())
            }
            Err(SendError::BufferFull) => Err(nb::Error::WouldBlock),
            Err(SendError::Unaddressable) => fail(SmoltcpError::Unaddressable),
        }
    }

    /// Takes the oldest datagram (from `from` only, if given; others ahead of it
    /// are dropped) into `buffer`, cut to its length.
    fn take_datagram(
        &mut self,
        handle: SocketHandle,
        from: Option<SocketAddrV4>,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), SmoltcpError> {
        let socket = self.udp_owned(handle).map_err(nb::Error::Other)?;
        // No more than the socket holds, however many come from elsewhere.
        for _ in 0..socket.packet_recv_capacity() {
            let Ok((payload, meta)) = socket.recv() else {
                break;
            };
            let peer = socket_addr(meta.endpoint);
            if from.is_some_and(|remote| SocketAddr::V4(remote) != peer) {
                trace_event!(debug, "UDP datagram from a stranger dropped");
                continue;
            }
            return Ok((copy_start(payload, buffer), peer));
        }
        Err(nb::Error::WouldBlock)
    }

    fn close_udp(&mut self, socket: SmoltcpUdpSocket) -> Result<(), SmoltcpError> {
        let Some(handle) = socket.handle() else {
            return Ok(());
        };
        self.udp_owned(handle)?;
        self.release_udp(handle);
        Ok(())
    }
}

/// Whether a datagram of `len` bytes can ever be queued and sent whole: it fits in
/// the empty transmit buffer (which needs room for one datagram's metadata too)
/// and in one IP packet.
fn fits(socket: &udp::Socket<'_>, len: usize, ip_payload: usize) -> bool {
    socket.packet_send_capacity() > 0 && len <= socket.payload_send_capacity() && len <= ip_payload
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> UdpClientStack
    for SmoltcpStack<'s, 'b, D, C, N, U>
{
    type UdpSocket = SmoltcpUdpSocket;
    type Error = SmoltcpError;

    /// A handle that holds no pool socket yet.
    fn socket(&mut self) -> Result<SmoltcpUdpSocket, SmoltcpError> {
        self.drive_all();
        Ok(SmoltcpUdpSocket::new(UdpState::Fresh))
    }

    /// Binds a fresh handle to an ephemeral port first; then records the remote
    /// (a bound or connected socket just takes the new remote).
    /// [`Unaddressable`](SmoltcpError::Unaddressable) for an IPv6 or unspecified
    /// remote or port 0, [`NoSocket`](SmoltcpError::NoSocket) if the UDP pool has
    /// no free socket.
    fn connect(
        &mut self,
        socket: &mut SmoltcpUdpSocket,
        remote: SocketAddr,
    ) -> Result<(), SmoltcpError> {
        self.drive_all();
        let remote = ipv4_remote(remote)?;
        let handle = match socket.handle() {
            Some(handle) => handle,
            None => self.open_udp(0)?,
        };
        socket.state = UdpState::Connected { handle, remote };
        Ok(())
    }

    /// Sends one datagram, whole, to the connected remote.
    fn send(
        &mut self,
        socket: &mut SmoltcpUdpSocket,
        buffer: &[u8],
    ) -> nb::Result<(), SmoltcpError> {
        let UdpState::Connected { handle, remote } = socket.state else {
            return fail(SmoltcpError::InvalidState);
        };
        self.send_datagram(handle, remote, buffer)
    }

    /// Takes one datagram and its sender; a datagram longer than `buffer` fills it
    /// and the rest is dropped (see the module docs).
    fn receive(
        &mut self,
        socket: &mut SmoltcpUdpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), SmoltcpError> {
        let (handle, from) = match socket.state {
            UdpState::Bound(handle) => (handle, None),
            UdpState::Connected { handle, remote } => (handle, Some(remote)),
            UdpState::Fresh => return fail(SmoltcpError::InvalidState),
        };
        // A datagram already here needs no poll of the interface; only an empty
        // socket does.
        match self.take_datagram(handle, from, buffer) {
            Err(nb::Error::WouldBlock) => {
                self.drive();
                self.take_datagram(handle, from, buffer)
            }
            done => done,
        }
    }

    /// Unbinds the socket and gives its pool socket back; datagrams still queued in
    /// either direction are dropped.
    fn close(&mut self, socket: SmoltcpUdpSocket) -> Result<(), SmoltcpError> {
        self.drive_all();
        self.close_udp(socket)
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> UdpFullStack
    for SmoltcpStack<'s, 'b, D, C, N, U>
{
    /// Takes a free UDP pool socket and binds it to `local_port` on every address
    /// of the interface (0: an ephemeral port). [`AddrInUse`](SmoltcpError::AddrInUse)
    /// if a UDP socket of the set has the port, [`NoSocket`](SmoltcpError::NoSocket)
    /// if the pool has none free; the handle stays fresh.
    fn bind(&mut self, socket: &mut SmoltcpUdpSocket, local_port: u16) -> Result<(), SmoltcpError> {
        self.drive_all();
        if socket.state != UdpState::Fresh {
            return Err(SmoltcpError::InvalidState);
        }
        socket.state = UdpState::Bound(self.open_udp(local_port)?);
        Ok(())
    }

    /// Sends one datagram, whole, to `remote`, from a bound or a connected socket.
    fn send_to(
        &mut self,
        socket: &mut SmoltcpUdpSocket,
        remote: SocketAddr,
        buffer: &[u8],
    ) -> nb::Result<(), SmoltcpError> {
        let Some(handle) = socket.handle() else {
            return fail(SmoltcpError::InvalidState);
        };
        let remote = ipv4_remote(remote).or_else(fail)?;
        self.send_datagram(handle, remote, buffer)
    }
}

impl<D: Device, C: Clock, const N: usize, const U: usize> UdpLocalAddr
    for SmoltcpStack<'_, '_, D, C, N, U>
{
    fn udp_local_addr(&self, socket: &SmoltcpUdpSocket) -> Option<SocketAddr> {
        SmoltcpStack::udp_local_addr(self, socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv6Addr};

    #[test]
    fn only_a_specified_ipv4_remote_is_addressable() {
        let ok: SocketAddr = "10.0.0.2:7".parse().unwrap();
        assert_eq!(ipv4_remote(ok), Ok("10.0.0.2:7".parse().unwrap()));
        for bad in [
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 0),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7),
        ] {
            assert_eq!(ipv4_remote(bad), Err(SmoltcpError::Unaddressable), "{bad}");
        }
    }

    #[test]
    fn a_datagram_longer_than_the_buffer_fills_it() {
        let mut buf = [0u8; 4];
        assert_eq!(copy_start(b"abcdef", &mut buf), 4);
        assert_eq!(&buf, b"abcd");
        let mut big = [0u8; 8];
        assert_eq!(copy_start(b"ab", &mut big), 2);
        assert_eq!(&big[..2], b"ab");
        assert_eq!(copy_start(b"ab", &mut []), 0);
    }
}
