//! UDP echo beside the TCP slots: [`UdpEcho`], its [`UdpStats`] and
//! [`UdpEchoError`].
//!
//! A `UdpEcho` is a part of its own, not a field of
//! [`EchoServer`](crate::server::EchoServer): a program that wants no UDP pays
//! nothing for it, and one that wants only UDP needs no TCP stack. Beside a server,
//! [`EchoServer::poll_udp`](crate::server::EchoServer::poll_udp) runs it with the
//! server's stack, port and allowlist and puts each datagram's text and sender on the
//! server's screen.

mod error;
mod stats;
mod udp_echo;

pub use error::UdpEchoError;
pub use stats::UdpStats;
pub use udp_echo::UdpEcho;
