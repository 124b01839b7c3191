//! The embedded-nal traits on [`SmoltcpStack`].

use core::net::{SocketAddr, SocketAddrV4};

use ::smoltcp::iface::SocketHandle;
use ::smoltcp::phy::Device;
use ::smoltcp::socket::tcp::{self, RecvError};
use ::smoltcp::wire::IpEndpoint;
use embedded_nal::{nb, TcpClientStack, TcpFullStack};

use super::error::SmoltcpError;
use super::pool::{handshake, Handshake, Need, Role};
use super::stack::{find_tcp_mut, socket_addr, SmoltcpSocket, SmoltcpStack, SocketState};
use crate::log::fail;
use crate::stack::local_addr::LocalAddr;
use crate::time::Clock;

/// What a `recv_slice` means to embedded-nal.
fn received(
    result: Result<usize, RecvError>,
    empty_buffer: bool,
) -> nb::Result<usize, SmoltcpError> {
    match result {
        Ok(0) if !empty_buffer => Err(nb::Error::WouldBlock),
        Ok(n) => Ok(n),
        Err(RecvError::Finished) => Ok(0),
        // Never connected is ruled out by the caller: what is left is a reset or timeout.
        Err(RecvError::InvalidState) => fail(SmoltcpError::Reset),
    }
}

/// Why a connection can no longer send: after the peer's FIN the send direction was
/// closed by the peer (EPIPE); without it, the connection was reset or timed out.
fn closed_error(socket: &mut tcp::Socket<'_>) -> SmoltcpError {
    // An empty read changes nothing, and is the only way smoltcp tells whether a
    // FIN came before the end.
    match socket.recv_slice(&mut []) {
        Err(RecvError::Finished) => SmoltcpError::PipeClosed,
        _ => SmoltcpError::Reset,
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> SmoltcpStack<'s, 'b, D, C, N, U> {
    /// Takes a pool socket and sends the SYN. A failure gives the socket back.
    fn start_connect(
        &mut self,
        socket: &mut SmoltcpSocket,
        remote: SocketAddr,
    ) -> Result<(), SmoltcpError> {
        // smoltcp is built with IPv4 only (and the adapter does not know whether a
        // crate elsewhere turned IPv6 on).
        let SocketAddr::V4(v4) = remote else {
            return Err(SmoltcpError::Unaddressable);
        };
        let handle = self
            .take(Need::Must, Role::Owned)
            .ok_or(SmoltcpError::NoSocket)?;
        if let Err(e) = self.open_connection(handle, v4) {
            self.release(handle);
            return Err(e);
        }
        socket.state = SocketState::Connecting { handle, remote };
        self.poll_iface();
        Ok(())
    }

    fn open_connection(
        &mut self,
        handle: SocketHandle,
        remote: SocketAddrV4,
    ) -> Result<(), SmoltcpError> {
        let port = self.ephemeral_port().ok_or(SmoltcpError::AddrInUse)?;
        let socket = find_tcp_mut(self.sockets, handle).ok_or(SmoltcpError::InvalidState)?;
        socket
            .connect(self.iface.context(), IpEndpoint::from(remote), port)
            .map_err(SmoltcpError::from)
    }

    /// Looks at a connection attempt: done, still going, or failed (then the handle
    /// is fresh again and its pool socket free).
    fn advance(&mut self, socket: &mut SmoltcpSocket) -> nb::Result<(), SmoltcpError> {
        let SocketState::Connecting { handle, remote } = socket.state else {
            return match socket.state {
                SocketState::Connected { .. } => Ok(()),
                _ => fail(SmoltcpError::InvalidState),
            };
        };
        let state = self.owned(handle).map_err(nb::Error::Other)?.state();
        match handshake(state) {
            Handshake::Pending => Err(nb::Error::WouldBlock),
            Handshake::Done => {
                socket.state = SocketState::Connected { handle, remote };
                Ok(())
            }
            Handshake::Failed => {
                self.release(handle);
                socket.state = SocketState::Fresh;
                fail(SmoltcpError::ConnectionRefused)
            }
        }
    }

    /// The pool socket of a connection, finishing a pending connect first.
    fn connection(&mut self, socket: &mut SmoltcpSocket) -> nb::Result<SocketHandle, SmoltcpError> {
        match socket.state {
            SocketState::Connected { handle, .. } => Ok(handle),
            SocketState::Connecting { handle, .. } => self.advance(socket).map(|()| handle),
            _ => fail(SmoltcpError::InvalidState),
        }
    }

    pub(super) fn close_handle(&mut self, socket: SmoltcpSocket) -> Result<(), SmoltcpError> {
        match socket.state {
            SocketState::Fresh | SocketState::Bound(_) => Ok(()),
            SocketState::Listening(port) => {
                self.close_listener(port);
                Ok(())
            }
            SocketState::Connecting { handle, .. } | SocketState::Connected { handle, .. } => {
                self.close_connection(handle)
            }
        }
    }

    /// `recv_slice`, but the stream ends at the peer's FIN whatever smoltcp holds
    /// after it (see `fin`).
    fn read(&mut self, handle: SocketHandle, buffer: &mut [u8]) -> nb::Result<usize, SmoltcpError> {
        let len = self.readable_before_fin(handle, buffer.len());
        if len == 0 && !buffer.is_empty() {
            return Ok(0);
        }
        let part = buffer.get_mut(..len).unwrap_or_default();
        let result = self
            .owned(handle)
            .map_err(nb::Error::Other)?
            .recv_slice(part);
        if let Ok(n) = result {
            self.consumed_before_fin(handle, n);
        }
        received(result, part.is_empty())
    }

    fn send_now(&mut self, handle: SocketHandle, buffer: &[u8]) -> nb::Result<usize, SmoltcpError> {
        let socket = self.owned(handle).map_err(nb::Error::Other)?;
        if !socket.may_send() {
            return fail(closed_error(socket));
        }
        match socket.send_slice(buffer) {
            Ok(0) => Err(nb::Error::WouldBlock),
            Ok(n) => {
                // Out now rather than on the next call, which may be a while away.
                self.poll_iface();
                Ok(n)
            }
            Err(_) => fail(closed_error(socket)),
        }
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> TcpClientStack
    for SmoltcpStack<'s, 'b, D, C, N, U>
{
    type TcpSocket = SmoltcpSocket;
    type Error = SmoltcpError;

    /// A handle that holds no pool socket yet.
    fn socket(&mut self) -> Result<SmoltcpSocket, SmoltcpError> {
        self.drive_all();
        Ok(SmoltcpSocket::new(SocketState::Fresh))
    }

    /// The first call takes a pool socket ([`NoSocket`](SmoltcpError::NoSocket) if
    /// none can be had) and sends the SYN; later calls with the same remote report
    /// how the handshake went. Another remote is `InvalidState`.
    fn connect(
        &mut self,
        socket: &mut SmoltcpSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), SmoltcpError> {
        self.drive_all();
        match socket.state {
            SocketState::Fresh => self
                .start_connect(socket, remote)
                .map_err(nb::Error::Other)?,
            SocketState::Connecting { remote: r, .. }
            | SocketState::Connected { remote: r, .. }
                if r == remote => {}
            _ => return fail(SmoltcpError::InvalidState),
        }
        self.advance(socket)
    }

    /// Queues what fits in the transmit buffer (`WouldBlock` if nothing does) and
    /// sends it at once.
    fn send(
        &mut self,
        socket: &mut SmoltcpSocket,
        buffer: &[u8],
    ) -> nb::Result<usize, SmoltcpError> {
        // A connection with room in its buffer needs no poll first (the poll after
        // queuing sends the data); only a full buffer or a handshake waits for one.
        if let (SocketState::Connected { handle, .. }, false) = (socket.state, buffer.is_empty()) {
            match self.send_now(handle, buffer) {
                Err(nb::Error::WouldBlock) => {}
                done => return done,
            }
        }
        self.drive();
        let handle = self.connection(socket)?;
        if buffer.is_empty() {
            return Ok(0);
        }
        self.send_now(handle, buffer)
    }

    /// `WouldBlock` until data comes; `Ok(0)` once the peer's FIN has been read.
    fn receive(
        &mut self,
        socket: &mut SmoltcpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, SmoltcpError> {
        // Data already here needs no poll of the interface; only an empty socket does.
        if let SocketState::Connected { handle, .. } = socket.state {
            if self.owned(handle).is_ok_and(|tcp| tcp.can_recv()) {
                return self.read(handle, buffer);
            }
        }
        self.drive();
        let handle = self.connection(socket)?;
        self.read(handle, buffer)
    }

    /// A connection sends its FIN and its pool socket is reused once smoltcp is done
    /// with it; a listener resets the connections it has not handed out yet.
    fn close(&mut self, socket: SmoltcpSocket) -> Result<(), SmoltcpError> {
        self.drive_all();
        self.close_handle(socket)
    }
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> TcpFullStack
    for SmoltcpStack<'s, 'b, D, C, N, U>
{
    /// Records the port; 0 takes an ephemeral port at `listen`.
    fn bind(&mut self, socket: &mut SmoltcpSocket, local_port: u16) -> Result<(), SmoltcpError> {
        self.drive_all();
        match socket.state {
            SocketState::Fresh => {
                socket.state = SocketState::Bound(local_port);
                Ok(())
            }
            _ => Err(SmoltcpError::InvalidState),
        }
    }

    /// Arms up to the backlog of free pool sockets on the port. Succeeds even when
    /// the pool has none free now: sockets are armed as they come back.
    fn listen(&mut self, socket: &mut SmoltcpSocket) -> Result<(), SmoltcpError> {
        self.drive_all();
        let SocketState::Bound(bound) = socket.state else {
            return Err(SmoltcpError::InvalidState);
        };
        let port = match bound {
            0 => self.ephemeral_port().ok_or(SmoltcpError::AddrInUse)?,
            port => port,
        };
        self.register_listener(port)?;
        socket.state = SocketState::Listening(port);
        self.top_up(port);
        Ok(())
    }

    /// Hands out an armed socket whose handshake is complete, and arms another.
    fn accept(
        &mut self,
        socket: &mut SmoltcpSocket,
    ) -> nb::Result<(SmoltcpSocket, SocketAddr), SmoltcpError> {
        // Called on every server poll: the pool is tended only after a poll that
        // changed a socket (and by `SmoltcpStack::poll`), and an accepted socket's
        // replacement is armed right here.
        self.drive();
        let SocketState::Listening(port) = socket.state else {
            return fail(SmoltcpError::InvalidState);
        };
        let handle = self.ready_connection(port).ok_or(nb::Error::WouldBlock)?;
        let remote = self.tcp(handle).and_then(|s| s.remote_endpoint());
        let Some(remote) = remote.map(socket_addr) else {
            // Cannot happen to an established socket; re-armed by the next call.
            self.release(handle);
            return Err(nb::Error::WouldBlock);
        };
        self.set_role(handle, Role::Owned);
        self.top_up(port);
        let conn = SmoltcpSocket::new(SocketState::Connected { handle, remote });
        Ok((conn, remote))
    }
}

impl<D: Device, C: Clock, const N: usize, const U: usize> LocalAddr
    for SmoltcpStack<'_, '_, D, C, N, U>
{
    fn local_addr(&self, socket: &SmoltcpSocket) -> Option<SocketAddr> {
        SmoltcpStack::local_addr(self, socket)
    }
}
