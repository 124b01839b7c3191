//! A deterministic in-memory network, for tests.
//!
//! - [`MockNetwork`] / [`MockStack`]: hosts that talk TCP and UDP to each other
//!   through `embedded-nal`, never blocking, with scripted and seeded faults: for
//!   datagrams, loss, duplication and reordering ([`DatagramFaults`]), truncation to
//!   the receiver's buffer, and a log of what was done to them ([`DatagramLog`]).
//! - With the feature `async`, [`MockNetwork::async_stack`]: a host through
//!   edge-nal's `TcpBind` and embedded-nal-async's `TcpConnect`, with the same
//!   faults, for the async front ends.
//!
//! The mock clock and display are beside what they stand in for:
//! [`MockClock`](crate::time::MockClock) and
//! [`RecordingDisplay`](crate::display::RecordingDisplay).
//!
//! No heap: everything lives in fixed-size arrays inside these values.
//!
//! ```
//! use core::net::{IpAddr, Ipv4Addr, SocketAddr};
//! use embedded_nal::{TcpClientStack, TcpFullStack};
//! use nal_echo::stack::mock::{MockNetwork, Op};
//!
//! let net = MockNetwork::new();
//! let (server_ip, client_ip) = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
//! let mut server = net.stack(server_ip);
//! let mut client = net.stack(client_ip);
//!
//! let mut listener = server.socket()?;
//! server.bind(&mut listener, 7)?;
//! server.listen(&mut listener)?;
//!
//! let mut sock = client.socket()?;
//! client.connect(&mut sock, SocketAddr::new(server_ip, 7))?;
//! let (mut conn, peer) = server.accept(&mut listener)?;
//! assert_eq!(Some(peer), client.local_addr(&sock));
//!
//! // A second handle to the same host injects faults while `client` is in use.
//! net.stack(client_ip).would_block_next(Op::Send, 1);
//! assert_eq!(client.send(&mut sock, b"hi"), Err(nb::Error::WouldBlock));
//! assert_eq!(client.send(&mut sock, b"hi")?, 2);
//!
//! let mut buf = [0; 8];
//! assert_eq!(server.receive(&mut conn, &mut buf)?, 2);
//! assert_eq!(&buf[..2], b"hi");
//! # Ok::<(), nb::Error<nal_echo::stack::mock::MockError>>(())
//! ```

#[cfg(feature = "async")]
mod asynch;
mod error;
mod faults;
mod network;
mod ops;
mod pipe;
mod stack;
mod udp;

#[cfg(feature = "async")]
pub use asynch::{AsyncMockAcceptor, AsyncMockHalf, AsyncMockSocket, AsyncMockStack};
pub use error::MockError;
pub use faults::{DatagramFaults, Op};
pub use network::{MockNetwork, MockSocket};
pub use stack::MockStack;
pub use udp::DatagramLog;

#[cfg(test)]
mod tests;
