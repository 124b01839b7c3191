//! [`UdpSocketPool`]: the buffers of a [`SmoltcpStack`](crate::stack::smoltcp::SmoltcpStack)'s
//! UDP sockets in one value, sized by const generics.

use ::smoltcp::iface::{SocketHandle, SocketSet};
use ::smoltcp::socket::udp;

/// `M` UDP sockets' buffers: `RX` bytes of received datagrams and `TX` bytes of
/// datagrams to send each, and room for the metadata of `META` datagrams in each
/// direction. To put in a `static` or on the stack of `main`;
/// [`add_to`](Self::add_to) makes the sockets and gives the handles that
/// [`SmoltcpStack::with_udp_sockets`] takes.
///
/// * A datagram longer than `RX` never reaches `receive`: smoltcp drops it as it
///   arrives, as it does a datagram for which the buffer has no room left.
/// * `TX` bounds the largest datagram a socket sends; one also has to fit in one
///   IP packet of the link (1472 bytes on Ethernet).
/// * `META` is how many datagrams wait in each direction at most, whatever their
///   size (at least 1, or nothing can be sent or received).
///
/// For a [`UdpEcho`](crate::UdpEcho) of the default 1024-byte buffer (datagrams up
/// to 1023 bytes), `UdpSocketPool<1, 2048, 2048, 4>` holds two of the largest
/// datagrams, or four short ones, each way.
///
/// ```
/// use nal_echo::stack::smoltcp::UdpSocketPool;
/// use smoltcp::iface::{SocketSet, SocketStorage};
///
/// let mut pool = UdpSocketPool::<2, 2048, 2048, 4>::new();
/// let mut storage = [SocketStorage::EMPTY; 2];
/// let mut sockets = SocketSet::new(&mut storage[..]);
/// let handles = pool.add_to(&mut sockets, |socket| socket.set_hop_limit(Some(32)));
/// assert_eq!(handles.len(), 2);
/// ```
///
/// [`SmoltcpStack::with_udp_sockets`]: crate::stack::smoltcp::SmoltcpStack::with_udp_sockets
pub struct UdpSocketPool<const M: usize, const RX: usize, const TX: usize, const META: usize> {
    rx: [[u8; RX]; M],
    tx: [[u8; TX]; M],
    rx_meta: [[udp::PacketMetadata; META]; M],
    tx_meta: [[udp::PacketMetadata; META]; M],
}

impl<const M: usize, const RX: usize, const TX: usize, const META: usize>
    UdpSocketPool<M, RX, TX, META>
{
    /// Zeroed buffers; `const`, so the pool can be a `static`.
    pub const fn new() -> Self {
        Self {
            rx: [[0; RX]; M],
            tx: [[0; TX]; M],
            rx_meta: [[udp::PacketMetadata::EMPTY; META]; M],
            tx_meta: [[udp::PacketMetadata::EMPTY; META]; M],
        }
    }

    /// Makes the `M` sockets over the buffers, sets each up with `configure` (a hop
    /// limit...), adds them to `sockets` and returns their handles, in the order
    /// [`SmoltcpStack::with_udp_sockets`] takes them. The sockets are not bound:
    /// the adapter binds them.
    ///
    /// `sockets` must have room for `M` more: smoltcp's `SocketSet::add` panics on a
    /// full set of borrowed storage.
    ///
    /// [`SmoltcpStack::with_udp_sockets`]: crate::stack::smoltcp::SmoltcpStack::with_udp_sockets
    pub fn add_to<'a>(
        &'a mut self,
        sockets: &mut SocketSet<'a>,
        mut configure: impl FnMut(&mut udp::Socket<'a>),
    ) -> [SocketHandle; M] {
        let mut handles = [SocketHandle::default(); M];
        let rx = self.rx.iter_mut().zip(self.rx_meta.iter_mut());
        let tx = self.tx.iter_mut().zip(self.tx_meta.iter_mut());
        for (handle, ((rx, rx_meta), (tx, tx_meta))) in handles.iter_mut().zip(rx.zip(tx)) {
            let mut socket = udp::Socket::new(
                udp::PacketBuffer::new(&mut rx_meta[..], &mut rx[..]),
                udp::PacketBuffer::new(&mut tx_meta[..], &mut tx[..]),
            );
            configure(&mut socket);
            *handle = sockets.add(socket);
        }
        handles
    }
}

impl<const M: usize, const RX: usize, const TX: usize, const META: usize> Default
    for UdpSocketPool<M, RX, TX, META>
{
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::smoltcp::iface::SocketStorage;

    #[test]
    fn every_socket_has_its_own_buffers_and_the_configuration() {
        let mut pool = UdpSocketPool::<3, 64, 32, 5>::new();
        let mut storage = [SocketStorage::EMPTY; 4];
        let mut sockets = SocketSet::new(&mut storage[..]);
        let handles = pool.add_to(&mut sockets, |s| s.set_hop_limit(Some(9)));
        for h in handles {
            let s = sockets.get::<udp::Socket>(h);
            assert_eq!(
                (s.payload_recv_capacity(), s.payload_send_capacity()),
                (64, 32)
            );
            assert_eq!((s.packet_recv_capacity(), s.packet_send_capacity()), (5, 5));
            assert_eq!(s.hop_limit(), Some(9));
            assert!(!s.is_open());
        }
        assert!(handles[0] != handles[1] && handles[1] != handles[2]);
    }
}
