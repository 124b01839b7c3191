//! [`LocalAddr`]: the address a socket has, for stacks that can tell.

use core::net::SocketAddr;

use embedded_nal::{TcpClientStack, UdpClientStack};

/// A stack that can tell a socket's local address: for a listener bound to port
/// 0, the port the stack chose. embedded-nal has no such call, so the stacks of
/// this crate implement this trait, and
/// [`EchoServer::local_addr`](crate::server::EchoServer::local_addr) uses it.
pub trait LocalAddr: TcpClientStack {
    /// The local address of `socket`; `None` before it listens or connects, or if
    /// the stack cannot tell.
    fn local_addr(&self, socket: &Self::TcpSocket) -> Option<SocketAddr>;
}

/// A stack that can tell a UDP socket's local address: for a socket bound to port
/// 0, the port the stack chose. The UDP twin of [`LocalAddr`], a trait of its own
/// because a stack may offer UDP without TCP.
pub trait UdpLocalAddr: UdpClientStack {
    /// The local address of `socket`; `None` before it is bound or connected, or if
    /// the stack cannot tell.
    fn udp_local_addr(&self, socket: &Self::UdpSocket) -> Option<SocketAddr>;
}
