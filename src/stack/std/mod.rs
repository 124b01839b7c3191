//! [`StdStack`]: the operating system's TCP and UDP sockets as an embedded-nal stack,
//! for host programs and tests (feature `std`).
//!
//! Every call returns at once: what would have to wait reports
//! [`nb::Error::WouldBlock`], so [`EchoServer`](crate::server::EchoServer) and
//! [`PeriodicClient`](crate::client::PeriodicClient) keep their never-blocking poll loop on
//! a PC just as on a board.
//!
//! This is a small adapter of its own, on socket2, rather than the
//! `std-embedded-nal` crate: that crate's `accept` returns blocking sockets and its
//! `connect` blocks until the handshake ends, either of which would stall the whole
//! poll loop on one slow peer. socket2 gives the non-blocking connect that std lacks.
//!
//! * Listeners bind dual-stack `[::]:port` where the OS allows it (IPv4 peers are then
//!   reported as plain IPv4 addresses, not `::ffff:a.b.c.d`), else `0.0.0.0:port`;
//!   [`StdStack::bind_to`] binds one address instead. `SO_REUSEADDR` is on (except on
//!   Windows), so a restarted server rebinds while old connections are in TIME_WAIT.
//! * A connection attempt reports `WouldBlock` until the handshake ends, then `Ok`
//!   or the real error (for example `ConnectionRefused`); a failed handle may connect
//!   again.
//! * `receive` returns `Ok(0)` once the peer has closed in order, and
//!   [`StdError::Io`]`(ConnectionReset)` if it aborted.
//! * Accepted and connected sockets have `TCP_NODELAY` on: echo latency matters more
//!   than the packet count.
//! * [`StdStack::wait`] sleeps until one of the stack's sockets has news (mio: epoll,
//!   kqueue), so a host loop with nothing to do neither spins nor sleeps blind.
//!   Clones share the list of sockets watched. [`IdleWait`] is the whole run-loop
//!   policy around it: poll again after progress, keep polling for a moment after
//!   the last progress, then sleep in `wait`.
//! * [`StdStack::with_shared_port`] lets several stacks, one per thread, listen on
//!   one port (`SO_REUSEPORT`): the kernel spreads the connections over the loops.
//! * UDP ([`StdUdpSocket`], `UdpClientStack` and `UdpFullStack`): sockets bind
//!   where listeners would, `send_to` and `receive` speak plain IPv4 on dual-stack
//!   sockets too, and `wait` covers them. A datagram that fills `receive`'s whole
//!   buffer may have been cut, and an ICMP error (`ConnectionRefused`) concerns one
//!   earlier datagram, not the socket: [`StdUdpSocket`] has the details.
//!
//! ```
//! use nal_echo::embedded_nal::{nb, TcpClientStack, TcpFullStack};
//! use nal_echo::stack::std::StdStack;
//!
//! let mut stack = StdStack::bind_to([127, 0, 0, 1].into());
//! let mut listener = stack.socket()?;
//! stack.bind(&mut listener, 0)?;
//! stack.listen(&mut listener)?;
//! assert!(stack.local_addr(&listener).is_some_and(|a| a.port() != 0));
//! // Nobody is connecting: accept does not wait for someone to.
//! assert!(matches!(stack.accept(&mut listener), Err(nb::Error::WouldBlock)));
//! stack.close(listener)?;
//! # Ok::<(), nal_echo::stack::std::StdError>(())
//! ```
//!
//! UDP on the same stack:
//!
//! ```
//! use nal_echo::embedded_nal::{nb, UdpClientStack, UdpFullStack};
//! use nal_echo::stack::std::StdStack;
//!
//! let mut stack = StdStack::bind_to([127, 0, 0, 1].into());
//! let mut server = UdpClientStack::socket(&mut stack)?;
//! UdpFullStack::bind(&mut stack, &mut server, 0)?;
//! let to = stack.udp_local_addr(&server).expect("a bound socket has an address");
//! let mut buffer = [0u8; 16];
//! // Nothing has arrived: receive does not wait for a datagram.
//! assert!(matches!(stack.receive(&mut server, &mut buffer), Err(nb::Error::WouldBlock)));
//!
//! let mut client = UdpClientStack::socket(&mut stack)?;
//! UdpFullStack::bind(&mut stack, &mut client, 0)?;
//! nb::block!(stack.send_to(&mut client, to, b"ping"))?;
//! // `block!` spins until the datagram is there; a poll loop would come back later.
//! let (n, peer) = nb::block!(stack.receive(&mut server, &mut buffer))?;
//! assert_eq!(&buffer[..n], b"ping");
//! assert_eq!(Some(peer), stack.udp_local_addr(&client));
//! UdpClientStack::close(&mut stack, client)?;
//! UdpClientStack::close(&mut stack, server)?;
//! # Ok::<(), nal_echo::stack::std::StdError>(())
//! ```

mod error;
mod idle_wait;
mod os;
mod readiness;
mod udp;

use core::mem;
use core::net::{IpAddr, SocketAddr};

use crate::log::trace_event;
use crate::stack::local_addr::LocalAddr;
use ::std::io::{self, Read, Write};
use ::std::net::{TcpListener, TcpStream};
use embedded_nal::{nb, TcpClientStack, TcpFullStack};

pub use error::StdError;
pub use idle_wait::IdleWait;
use os::Connect;
use readiness::{Readiness, Watch};
pub use udp::StdUdpSocket;

/// The OS's TCP and UDP sockets behind the embedded-nal traits, never blocking.
///
/// The stack holds where listeners and UDP sockets bind and the OS's readiness list
/// of its sockets (for [`wait`](Self::wait)); each [`StdSocket`] and
/// [`StdUdpSocket`] owns its OS socket, so dropping or closing a handle closes the
/// socket. Clones share the readiness list: a server's and a client's stack cloned
/// from one another can be waited on together.
#[derive(Debug, Clone)]
pub struct StdStack {
    bind_ip: Option<IpAddr>,
    share_port: bool,
    readiness: Readiness,
}

/// A socket of a [`StdStack`]: a fresh handle, a listener or a connection.
#[derive(Debug)]
pub struct StdSocket {
    state: State,
}

#[derive(Debug)]
enum State {
    /// From `socket()`: the family is not known before bind or connect.
    Fresh,
    /// `bind()` recorded the port; the OS socket is made by `listen()`.
    Bound(u16),
    Listening(TcpListener),
    Connecting {
        stream: TcpStream,
        remote: SocketAddr,
    },
    Connected {
        stream: TcpStream,
        peer: SocketAddr,
    },
}

impl StdStack {
    /// A stack whose listeners and UDP sockets bind every address: dual-stack `[::]`
    /// where the OS allows it, else `0.0.0.0`.
    pub fn new() -> Self {
        Self {
            bind_ip: None,
            share_port: false,
            readiness: Readiness::new(),
        }
    }

    /// A stack whose listeners and UDP sockets bind `ip` only (for example
    /// `127.0.0.1` or `::1`); connected UDP sockets send from `ip` too.
    pub fn bind_to(ip: IpAddr) -> Self {
        Self {
            bind_ip: Some(ip),
            share_port: false,
            readiness: Readiness::new(),
        }
    }

    /// Whether [`with_shared_port`](Self::with_shared_port) works here: Linux and
    /// Android (`SO_REUSEPORT`), FreeBSD (`SO_REUSEPORT_LB`). Those kernels spread
    /// the connections to a port over the listeners that share it; other systems
    /// either cannot share a port or would give every connection to one listener.
    pub const CAN_SHARE_PORT: bool = os::CAN_SHARE_PORT;

    /// Listeners of this stack share their port with listeners of other stacks
    /// that ask for the same (in this process or another of the same user), and
    /// the kernel spreads new connections over them: several poll loops, one per
    /// thread and each with its own stack, serve one port on several cores. UDP
    /// sockets bound by such a stack share their port the same way, and the kernel
    /// spreads the datagrams by their sender. Where
    /// [`CAN_SHARE_PORT`](Self::CAN_SHARE_PORT) is false, `listen` and UDP's `bind`
    /// fail with [`StdError::Io`]`(Unsupported)`.
    pub fn with_shared_port(mut self) -> Self {
        self.share_port = true;
        self
    }

    /// Sleeps until one of the sockets of this stack and its clones has news (a
    /// connection queued, data or a close arrived, a datagram or an ICMP error
    /// arrived on a UDP socket, room to send again, a connection attempt ended), or
    /// `timeout` passed. Returns whether it was woken early.
    ///
    /// For a host loop, after a poll that made no progress: the thread sleeps in the
    /// OS instead of spinning, and wakes as soon as there is work. News is reported
    /// once (edge-triggered), so call it only after polling everything: what was
    /// ready before that poll is not reported again. It may return early without
    /// news. Keep `timeout` as short as the callers' timers need (idle eviction,
    /// the client's period). Where the OS's notification is not available (Windows,
    /// or a socket the OS refused to watch), it sleeps at most 1 ms. Meant for one
    /// waiting thread: clones waiting on several threads take turns.
    pub fn wait(&self, timeout: crate::time::Duration) -> bool {
        self.readiness.wait(timeout)
    }

    /// The socket's local address (for a listener bound to port 0, the port the OS
    /// chose); `None` before `listen` or `connect`, or if the OS cannot tell.
    pub fn local_addr(&self, socket: &StdSocket) -> Option<SocketAddr> {
        let addr = match &socket.state {
            State::Listening(listener) => listener.local_addr(),
            State::Connecting { stream, .. } | State::Connected { stream, .. } => {
                stream.local_addr()
            }
            State::Fresh | State::Bound(_) => return None,
        };
        addr.ok().map(os::canonical)
    }

    /// The peer of a connected socket (IPv4 peers of a dual-stack listener as plain
    /// IPv4); `None` for other sockets, including one still connecting.
    pub fn peer_addr(&self, socket: &StdSocket) -> Option<SocketAddr> {
        match socket.state {
            State::Connected { peer, .. } => Some(peer),
            _ => None,
        }
    }
}

impl StdStack {
    /// Puts the socket's OS socket, if it has one yet, on the readiness list.
    fn watch(&self, socket: &StdSocket) {
        if let Some((os, what)) = socket.os_socket() {
            self.readiness.watch(&*os, what);
        }
    }

    fn unwatch(&self, socket: &StdSocket) {
        if let Some((os, _)) = socket.os_socket() {
            self.readiness.unwatch(&*os);
        }
    }
}

impl Default for StdStack {
    fn default() -> Self {
        Self::new()
    }
}

impl StdSocket {
    const fn new(state: State) -> Self {
        Self { state }
    }

    /// The OS socket, once there is one, and what it is watched for.
    fn os_socket(&self) -> Option<(socket2::SockRef<'_>, Watch)> {
        match &self.state {
            State::Listening(listener) => Some((listener.into(), Watch::Accept)),
            State::Connecting { stream, .. } | State::Connected { stream, .. } => {
                Some((stream.into(), Watch::Stream))
            }
            State::Fresh | State::Bound(_) => None,
        }
    }

    /// Where a connection goes: its remote address once connecting.
    fn remote(&self) -> Option<SocketAddr> {
        match self.state {
            State::Connecting { remote, .. } => Some(remote),
            State::Connected { peer, .. } => Some(peer),
            _ => None,
        }
    }

    fn start_connect(&mut self, remote: SocketAddr) -> nb::Result<(), StdError> {
        let attempt = os::start_connect(remote).map_err(|e| nb::Error::Other(e.into()))?;
        self.settle(attempt, remote)
    }

    /// Checks a pending connection without waiting. A failed attempt leaves the
    /// handle fresh, so it may connect again.
    fn advance(&mut self) -> nb::Result<(), StdError> {
        match mem::replace(&mut self.state, State::Fresh) {
            State::Connecting { stream, remote } => {
                let attempt = os::check_connect(stream).map_err(|e| nb::Error::Other(e.into()))?;
                self.settle(attempt, remote)
            }
            other => {
                self.state = other;
                Ok(())
            }
        }
    }

    fn settle(&mut self, attempt: Connect, remote: SocketAddr) -> nb::Result<(), StdError> {
        match attempt {
            Connect::Done(stream) => {
                self.state = State::Connected {
                    stream,
                    peer: remote,
                };
                Ok(())
            }
            Connect::Pending(stream) => {
                self.state = State::Connecting { stream, remote };
                Err(nb::Error::WouldBlock)
            }
        }
    }

    /// The stream of a connection, finishing a pending connect first.
    fn stream(&mut self) -> nb::Result<&TcpStream, StdError> {
        if matches!(self.state, State::Connecting { .. }) {
            self.advance()?;
        }
        match &self.state {
            State::Connected { stream, .. } => Ok(stream),
            _ => Err(nb::Error::Other(StdError::InvalidState)),
        }
    }
}

/// A signal that outlasted the retries is as transient as a full buffer.
fn nb_error(e: io::Error) -> nb::Error<StdError> {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => nb::Error::WouldBlock,
        kind => {
            trace_event!(debug, "socket call failed: {:?}", crate::log::Dbg(&kind));
            nb::Error::Other(StdError::Io(kind))
        }
    }
}

impl TcpClientStack for StdStack {
    type TcpSocket = StdSocket;
    type Error = StdError;

    fn socket(&mut self) -> Result<StdSocket, StdError> {
        Ok(StdSocket::new(State::Fresh))
    }

    fn connect(&mut self, socket: &mut StdSocket, remote: SocketAddr) -> nb::Result<(), StdError> {
        match socket.remote() {
            None if matches!(socket.state, State::Fresh) => {
                let result = socket.start_connect(remote);
                self.watch(socket);
                result
            }
            Some(current) if current == remote => socket.advance(),
            _ => Err(nb::Error::Other(StdError::InvalidState)),
        }
    }

    fn send(&mut self, socket: &mut StdSocket, buffer: &[u8]) -> nb::Result<usize, StdError> {
        let stream = socket.stream()?;
        if buffer.is_empty() {
            return Ok(0);
        }
        os::retry(|| (&*stream).write(buffer)).map_err(nb_error)
    }

    fn receive(
        &mut self,
        socket: &mut StdSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, StdError> {
        let stream = socket.stream()?;
        os::retry(|| (&*stream).read(buffer)).map_err(nb_error)
    }

    /// Closes the OS socket: an orderly close, which the OS turns into a reset if
    /// received data was left unread.
    fn close(&mut self, socket: StdSocket) -> Result<(), StdError> {
        self.unwatch(&socket);
        drop(socket);
        Ok(())
    }
}

impl TcpFullStack for StdStack {
    /// Records the port (0: the OS picks one at `listen`).
    fn bind(&mut self, socket: &mut StdSocket, local_port: u16) -> Result<(), StdError> {
        match socket.state {
            State::Fresh => {
                socket.state = State::Bound(local_port);
                Ok(())
            }
            _ => Err(StdError::InvalidState),
        }
    }

    /// Opens the listening OS socket. On failure (`AddrInUse`...) the handle stays
    /// bound, to be closed or to try again.
    fn listen(&mut self, socket: &mut StdSocket) -> Result<(), StdError> {
        let State::Bound(port) = socket.state else {
            return Err(StdError::InvalidState);
        };
        socket.state = State::Listening(os::listen(self.bind_ip, port, self.share_port)?);
        self.watch(socket);
        Ok(())
    }

    fn accept(&mut self, socket: &mut StdSocket) -> nb::Result<(StdSocket, SocketAddr), StdError> {
        let State::Listening(listener) = &socket.state else {
            return Err(nb::Error::Other(StdError::InvalidState));
        };
        let (stream, peer) = os::accept(listener).map_err(nb_error)?;
        let socket = StdSocket::new(State::Connected { stream, peer });
        self.watch(&socket);
        Ok((socket, peer))
    }
}

impl LocalAddr for StdStack {
    fn local_addr(&self, socket: &StdSocket) -> Option<SocketAddr> {
        StdStack::local_addr(self, socket)
    }
}
