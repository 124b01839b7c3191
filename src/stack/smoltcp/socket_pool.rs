//! [`SocketPool`]: the buffers of a [`SmoltcpStack`](crate::stack::smoltcp::SmoltcpStack)'s
//! TCP sockets in one value, sized by const generics.

use ::smoltcp::iface::{SocketHandle, SocketSet};
use ::smoltcp::socket::tcp;

/// Pool sockets for an [`EchoServer`](crate::server::EchoServer) of `slots` slots
/// whose `slots` clients may all connect at the same instant, with up to `closing`
/// connections still closing then (see "Sizing" in the [module
/// docs](crate::stack::smoltcp)): `slots + 2 + closing`. The extra two listen, so
/// that one more client is turned away with an orderly close rather than a reset.
pub const fn pool_size(slots: usize, closing: usize) -> usize {
    slots.saturating_add(2).saturating_add(closing)
}

/// `N` TCP sockets' receive (`RX` bytes each) and transmit (`TX`) buffers, to put
/// in a `static` or on the stack of `main`; [`add_to`](Self::add_to) makes the
/// sockets and gives the handles that [`SmoltcpStack::new`] takes.
///
/// The sockets themselves live in the caller's `SocketSet`, whose storage needs
/// room for them and for the interface's other sockets (DHCP, DNS...).
///
/// ```
/// use nal_echo::stack::smoltcp::{pool_size, SocketPool};
/// use smoltcp::iface::{SocketSet, SocketStorage};
/// use smoltcp::time::Duration;
///
/// const POOL: usize = pool_size(4, 1); // a 4-slot server: 7 sockets
/// let mut pool = SocketPool::<POOL, 1024, 1024>::new();
/// let mut storage = [SocketStorage::EMPTY; POOL];
/// let mut sockets = SocketSet::new(&mut storage[..]);
/// let handles = pool.add_to(&mut sockets, |socket| {
///     // Give up on peers that vanish, so that their sockets come back to the pool.
///     socket.set_timeout(Some(Duration::from_secs(30)));
/// });
/// assert_eq!(handles.len(), 7);
/// ```
///
/// [`SmoltcpStack::new`]: crate::stack::smoltcp::SmoltcpStack::new
pub struct SocketPool<const N: usize, const RX: usize, const TX: usize> {
    rx: [[u8; RX]; N],
    tx: [[u8; TX]; N],
}

impl<const N: usize, const RX: usize, const TX: usize> SocketPool<N, RX, TX> {
    /// Zeroed buffers; `const`, so the pool can be a `static`.
    pub const fn new() -> Self {
        Self {
            rx: [[0; RX]; N],
            tx: [[0; TX]; N],
        }
    }

    /// Makes the `N` sockets over the buffers, sets each up with `configure` (a
    /// timeout, keep-alive, Nagle...), adds them to `sockets` and returns their
    /// handles, in the order [`SmoltcpStack::new`] takes them.
    ///
    /// `sockets` must have room for `N` more: smoltcp's `SocketSet::add` panics on a
    /// full set of borrowed storage.
    ///
    /// [`SmoltcpStack::new`]: crate::stack::smoltcp::SmoltcpStack::new
    pub fn add_to<'a>(
        &'a mut self,
        sockets: &mut SocketSet<'a>,
        mut configure: impl FnMut(&mut tcp::Socket<'a>),
    ) -> [SocketHandle; N] {
        let mut handles = [SocketHandle::default(); N];
        let buffers = self.rx.iter_mut().zip(self.tx.iter_mut());
        for (handle, (rx, tx)) in handles.iter_mut().zip(buffers) {
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(&mut rx[..]),
                tcp::SocketBuffer::new(&mut tx[..]),
            );
            configure(&mut socket);
            *handle = sockets.add(socket);
        }
        handles
    }
}

impl<const N: usize, const RX: usize, const TX: usize> Default for SocketPool<N, RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::smoltcp::iface::SocketStorage;
    use ::smoltcp::time::Duration;

    #[test]
    fn every_socket_has_its_own_buffers_and_the_configuration() {
        let mut pool = SocketPool::<3, 64, 32>::new();
        let mut storage = [SocketStorage::EMPTY; 4];
        let mut sockets = SocketSet::new(&mut storage[..]);
        let handles = pool.add_to(&mut sockets, |s| {
            s.set_timeout(Some(Duration::from_secs(9)))
        });
        for h in handles {
            let s = sockets.get::<tcp::Socket>(h);
            assert_eq!((s.recv_capacity(), s.send_capacity()), (64, 32));
            assert_eq!(s.timeout(), Some(Duration::from_secs(9)));
        }
        assert!(handles[0] != handles[1] && handles[1] != handles[2]);
        assert_eq!(pool_size(4, 1), 7);
    }
}
