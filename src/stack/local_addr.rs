//! [`LocalAddr`]: the address a socket has, for stacks that can tell.

use core::net::SocketAddr;

use embedded_nal::TcpClientStack;

/// A stack that can tell a socket's local address: for a listener bound to port
/// 0, the port the stack chose. embedded-nal has no such call, so the stacks of
/// this crate implement this trait, and
/// [`EchoServer::local_addr`](crate::server::EchoServer::local_addr) uses it.
pub trait LocalAddr: TcpClientStack {
    /// The local address of `socket`; `None` before it listens or connects, or if
    /// the stack cannot tell.
    fn local_addr(&self, socket: &Self::TcpSocket) -> Option<SocketAddr>;
}
