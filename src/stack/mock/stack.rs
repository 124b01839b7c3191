//! [`MockStack`]: one host on a [`MockNetwork`], as an embedded-nal stack.

use core::fmt;
use core::net::{IpAddr, SocketAddr};

use embedded_nal::{TcpClientStack, TcpFullStack, UdpClientStack, UdpFullStack};

use super::error::MockError;
use super::faults::{DatagramFaults, Host, Op};
use super::network::{Kind, MockNetwork, MockSocket};
use super::udp::Udp;
use crate::stack::local_addr::{LocalAddr, UdpLocalAddr};

/// One host (IP address) on a [`MockNetwork`]: a non-blocking TCP and UDP stack.
///
/// Fault settings belong to the host, so every `MockStack` of the same address sees
/// them; they take `&self` so a test can change them while the code under test owns
/// another handle.
pub struct MockStack<'a, const SOCKETS: usize = 32, const PIPE: usize = 4096> {
    net: &'a MockNetwork<SOCKETS, PIPE>,
    ip: IpAddr,
}

impl<const SOCKETS: usize, const PIPE: usize> fmt::Debug for MockStack<'_, SOCKETS, PIPE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockStack")
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

impl<'a, const SOCKETS: usize, const PIPE: usize> MockStack<'a, SOCKETS, PIPE> {
    pub(super) const fn new(net: &'a MockNetwork<SOCKETS, PIPE>, ip: IpAddr) -> Self {
        Self { net, ip }
    }

    /// This host's address.
    pub const fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The network this host is on.
    pub const fn network(&self) -> &'a MockNetwork<SOCKETS, PIPE> {
        self.net
    }

    fn host(&self, f: impl FnOnce(&mut Host)) {
        self.net.with(|st| st.host_mut(self.ip).map(f));
    }

    /// The next `count` calls of `op` fail with `err`. A failed `close` still frees
    /// the socket.
    pub fn fail_next(&self, op: Op, count: u32, err: MockError) {
        self.host(|h| h.fail_next(op, count, err));
    }

    /// The next `count` calls of `op` return `WouldBlock` and do nothing (for
    /// `connect`: the connection is still in progress). Only for `Connect`, `Send`,
    /// `Receive` and `Accept`; ignored for the others.
    pub fn would_block_next(&self, op: Op, count: u32) {
        self.host(|h| h.would_block_next(op, count));
    }

    /// Every send takes at most `max` bytes (`Some(0)`: sends block); `None` lifts it.
    pub fn limit_send(&self, max: Option<usize>) {
        self.host(|h| h.limit_send(max));
    }

    /// Every receive gives at most `max` bytes (`Some(0)`: receives block); `None`
    /// lifts it.
    pub fn limit_receive(&self, max: Option<usize>) {
        self.host(|h| h.limit_receive(max));
    }

    /// Seeded pseudo-random faults: each connect, send, receive and accept returns
    /// `WouldBlock` with a chance of `would_block_per_mille`/1000; a send that goes
    /// through takes a random 1..=len bytes, a receive gives a random 1..=available.
    /// The same seed and calls give the same results.
    pub fn chaos(&self, seed: u64, would_block_per_mille: u16) {
        self.host(|h| h.chaos(seed, would_block_per_mille));
    }

    /// Stops [`chaos`](Self::chaos).
    pub fn chaos_off(&self) {
        self.host(Host::chaos_off);
    }

    /// Seeded faults on the datagrams this host sends from now on: each is lost,
    /// duplicated or made to overtake the one before it with the chances in
    /// `faults`. The same seed and sends give the same faults; the network's
    /// [`datagram_log`](MockNetwork::datagram_log) counts what was done.
    pub fn datagram_faults(&self, seed: u64, faults: DatagramFaults) {
        self.host(|h| h.datagram_faults(seed, faults));
    }

    /// `socket()` fails with `NoSocket` while this host has `max` sockets open.
    pub fn socket_limit(&self, max: Option<usize>) {
        self.host(|h| h.socket_max = max);
    }

    /// Forgets every fault setting of this host.
    pub fn clear_faults(&self) {
        self.host(|h| *h = Host::new(h.ip));
    }

    /// Aborts `sock`'s connection: both ends get `Reset` from their next send or
    /// receive. The socket stays open until closed. Returns whether `sock` is a
    /// connected socket of this host.
    pub fn reset(&self, sock: &MockSocket) -> bool {
        self.net.with(|st| {
            let i = st.index_of(self.ip, sock).ok();
            i.filter(|&i| st.slot(i).and_then(|s| s.end()).is_some())
                .inspect(|&i| st.reset_both(i))
                .is_some()
        })
    }

    /// The local address of `sock`, once bound or connected. An accepted socket has
    /// its listener's address.
    pub fn local_addr(&self, sock: &MockSocket) -> Option<SocketAddr> {
        self.net.with(|st| {
            st.index_of(self.ip, sock)
                .ok()
                .and_then(|i| st.slot(i)?.local)
        })
    }

    /// Sockets of this host handed out and not yet closed.
    pub fn open_sockets(&self) -> usize {
        self.net.with(|st| st.open_sockets(self.ip))
    }
}

impl<const SOCKETS: usize, const PIPE: usize> TcpClientStack for MockStack<'_, SOCKETS, PIPE> {
    type TcpSocket = MockSocket;
    type Error = MockError;

    fn socket(&mut self) -> Result<MockSocket, MockError> {
        self.net.call(|st| st.socket(self.ip))
    }

    fn connect(
        &mut self,
        socket: &mut MockSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), MockError> {
        self.net.call(|st| st.connect(self.ip, socket, remote))
    }

    fn send(&mut self, socket: &mut MockSocket, buffer: &[u8]) -> nb::Result<usize, MockError> {
        self.net.call(|st| st.send(self.ip, socket, buffer))
    }

    fn receive(
        &mut self,
        socket: &mut MockSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, MockError> {
        self.net.call(|st| st.receive(self.ip, socket, buffer))
    }

    fn close(&mut self, socket: MockSocket) -> Result<(), MockError> {
        self.net.call(|st| st.close(self.ip, socket))
    }
}

impl<const SOCKETS: usize, const PIPE: usize> TcpFullStack for MockStack<'_, SOCKETS, PIPE> {
    fn bind(&mut self, socket: &mut MockSocket, local_port: u16) -> Result<(), MockError> {
        self.net.call(|st| st.bind(self.ip, socket, local_port))
    }

    fn listen(&mut self, socket: &mut MockSocket) -> Result<(), MockError> {
        self.net.call(|st| st.listen(self.ip, socket))
    }

    fn accept(
        &mut self,
        socket: &mut MockSocket,
    ) -> nb::Result<(MockSocket, SocketAddr), MockError> {
        self.net.call(|st| st.accept(self.ip, socket))
    }
}

impl<const SOCKETS: usize, const PIPE: usize> LocalAddr for MockStack<'_, SOCKETS, PIPE> {
    fn local_addr(&self, socket: &MockSocket) -> Option<SocketAddr> {
        MockStack::local_addr(self, socket)
    }
}

impl<const SOCKETS: usize, const PIPE: usize> UdpClientStack for MockStack<'_, SOCKETS, PIPE> {
    type UdpSocket = MockSocket;
    type Error = MockError;

    fn socket(&mut self) -> Result<MockSocket, MockError> {
        self.net.call(|st| st.open(self.ip, Kind::Udp(Udp::new())))
    }

    fn connect(&mut self, socket: &mut MockSocket, remote: SocketAddr) -> Result<(), MockError> {
        self.net.call(|st| st.udp_connect(self.ip, socket, remote))
    }

    fn send(&mut self, socket: &mut MockSocket, buffer: &[u8]) -> nb::Result<(), MockError> {
        self.net.call(|st| st.udp_send(self.ip, socket, buffer))
    }

    fn receive(
        &mut self,
        socket: &mut MockSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), MockError> {
        self.net.call(|st| st.udp_receive(self.ip, socket, buffer))
    }

    fn close(&mut self, socket: MockSocket) -> Result<(), MockError> {
        self.net.call(|st| st.close(self.ip, socket))
    }
}

impl<const SOCKETS: usize, const PIPE: usize> UdpFullStack for MockStack<'_, SOCKETS, PIPE> {
    fn bind(&mut self, socket: &mut MockSocket, local_port: u16) -> Result<(), MockError> {
        self.net.call(|st| st.udp_bind(self.ip, socket, local_port))
    }

    fn send_to(
        &mut self,
        socket: &mut MockSocket,
        remote: SocketAddr,
        buffer: &[u8],
    ) -> nb::Result<(), MockError> {
        self.net
            .call(|st| st.udp_send_to(self.ip, socket, remote, buffer))
    }
}

impl<const SOCKETS: usize, const PIPE: usize> UdpLocalAddr for MockStack<'_, SOCKETS, PIPE> {
    fn udp_local_addr(&self, socket: &MockSocket) -> Option<SocketAddr> {
        MockStack::local_addr(self, socket)
    }
}
