//! embedded-nal's `TcpClientStack` on [`AtStack`], and what its UDP side shares
//! with it: the one socket, its checks and its close.

use core::net::SocketAddr;

use embedded_io::{Read, ReadReady, Write, WriteReady};
use embedded_nal::{nb, TcpClientStack};

use super::error::AtError;
use super::stack::{
    AtSocket, AtStack, Cmd, Link, Pending, Staging, Transport, WifiState, SEND_CHUNK,
};
use crate::log::fail;
use crate::time::Clock;

impl<S, C> AtStack<S, C>
where
    S: Read + Write + ReadReady + WriteReady,
    C: Clock,
{
    /// Whether socket `id` of that transport is the one in use.
    pub(super) fn check(&self, id: u32, transport: Transport) -> Result<(), AtError> {
        match self.socket {
            Some(ours) if ours == id && self.transport == transport => Ok(()),
            _ => Err(AtError::InvalidState),
        }
    }

    pub(super) fn joined(&self) -> Result<(), AtError> {
        match self.wifi_state() {
            WifiState::Connected(_) => Ok(()),
            WifiState::Failed => Err(AtError::WifiFailed),
            WifiState::Resetting | WifiState::Joining => Err(AtError::NotJoined),
        }
    }

    fn send_in_flight(&self) -> bool {
        matches!(
            self.pending,
            Some(Pending {
                cmd: Cmd::Send { .. },
                ..
            })
        )
    }

    /// Hands out the one socket, TCP or UDP; the id tells it from earlier ones.
    pub(super) fn open_socket(&mut self, transport: Transport) -> Result<u32, AtError> {
        self.poll();
        if self.socket.is_some() {
            return Err(AtError::NoSocket);
        }
        self.sockets_made = self.sockets_made.wrapping_add(1);
        self.socket = Some(self.sockets_made);
        self.transport = transport;
        Ok(self.sockets_made)
    }

    /// Frees the socket: its unread and unsent data are dropped, and the modem's
    /// link, if it may hold one, is closed.
    pub(super) fn close_socket(&mut self, id: u32, transport: Transport) -> Result<(), AtError> {
        self.poll();
        self.check(id, transport)?;
        self.socket = None;
        self.rx.clear();
        self.ready = 0;
        self.datagrams.clear();
        // The parser may be inside a frame; the rest of it is dropped.
        self.staging = Staging {
            open: self.staging.open,
            ..Staging::default()
        };
        // The bytes of a CIPSEND already sent must still follow its prompt.
        if !self.send_in_flight() {
            self.tx.clear();
        }
        self.link = match self.link {
            Link::Idle | Link::Connecting { sent: false, .. } | Link::Ended { open: false, .. } => {
                Link::Idle
            }
            Link::Connecting { sent: true, .. }
            | Link::Connected { .. }
            | Link::Ended { open: true, .. }
            | Link::Closing => Link::Closing,
        };
        self.poll();
        Ok(())
    }
}

impl<S, C> TcpClientStack for AtStack<S, C>
where
    S: Read + Write + ReadReady + WriteReady,
    C: Clock,
{
    type TcpSocket = AtSocket;
    type Error = AtError;

    fn socket(&mut self) -> Result<AtSocket, AtError> {
        self.open_socket(Transport::Tcp).map(|id| AtSocket { id })
    }

    fn connect(&mut self, socket: &mut AtSocket, remote: SocketAddr) -> nb::Result<(), AtError> {
        self.poll();
        self.check(socket.id, Transport::Tcp)?;
        let SocketAddr::V4(remote) = remote else {
            return fail(AtError::Unaddressable);
        };
        match self.link {
            Link::Idle => {
                self.joined()?;
                self.link = Link::Connecting {
                    remote,
                    sent: false,
                    connect_seen: false,
                };
                // Out now if the line is free, rather than on the next call.
                self.poll();
                Err(nb::Error::WouldBlock)
            }
            // The previous socket's connection is still being closed.
            Link::Closing => Err(nb::Error::WouldBlock),
            Link::Connecting { remote: r, .. } if r == remote => Err(nb::Error::WouldBlock),
            Link::Connected { remote: r } if r == remote => Ok(()),
            Link::Connecting { .. } | Link::Connected { .. } => fail(AtError::InvalidState),
            Link::Ended { error, .. } => fail(error),
        }
    }

    fn send(&mut self, socket: &mut AtSocket, buffer: &[u8]) -> nb::Result<usize, AtError> {
        self.poll();
        self.check(socket.id, Transport::Tcp)?;
        match self.link {
            Link::Connected { .. } if buffer.is_empty() => Ok(0),
            Link::Connected { .. } if !self.tx.is_empty() => Err(nb::Error::WouldBlock),
            Link::Connected { .. } => {
                let n = buffer.len().min(SEND_CHUNK);
                // Cannot fail: `tx` is empty and takes SEND_CHUNK bytes.
                let _ = self
                    .tx
                    .extend_from_slice(buffer.get(..n).unwrap_or_default());
                self.poll();
                Ok(n)
            }
            Link::Connecting { .. } => Err(nb::Error::WouldBlock),
            Link::Ended { error, .. } => fail(error),
            Link::Idle | Link::Closing => fail(AtError::InvalidState),
        }
    }

    fn receive(&mut self, socket: &mut AtSocket, buffer: &mut [u8]) -> nb::Result<usize, AtError> {
        self.poll();
        self.check(socket.id, Transport::Tcp)?;
        if self.ready > 0 && !buffer.is_empty() {
            let mut n = 0;
            for slot in buffer.iter_mut().take(self.ready) {
                let Some(byte) = self.rx.pop_front() else {
                    break;
                };
                *slot = byte;
                n += 1;
            }
            self.ready -= n;
            return Ok(n);
        }
        match self.link {
            Link::Connecting { .. } | Link::Connected { .. } => Err(nb::Error::WouldBlock),
            // Held frames may still be confirmed, and come before the end.
            Link::Ended { .. } if self.holds_frames() => Err(nb::Error::WouldBlock),
            Link::Ended {
                error: AtError::Closed,
                ..
            } => Ok(0),
            Link::Ended { error, .. } => fail(error),
            Link::Idle | Link::Closing => fail(AtError::InvalidState),
        }
    }

    fn close(&mut self, socket: AtSocket) -> Result<(), AtError> {
        self.close_socket(socket.id, Transport::Tcp)
    }
}
