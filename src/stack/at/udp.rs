//! embedded-nal's `UdpClientStack` on [`AtStack`]: the modem's single link as a
//! UDP one (see "UDP" in the [module docs](super)).

use core::net::SocketAddr;

use embedded_io::{Read, ReadReady, Write, WriteReady};
use embedded_nal::{nb, UdpClientStack};

use super::error::AtError;
use super::stack::{AtStack, AtUdpSocket, Link, Transport, SEND_CHUNK};
use crate::log::fail;
use crate::time::Clock;

impl<S, C> AtStack<S, C>
where
    S: Read + Write + ReadReady + WriteReady,
    C: Clock,
{
    /// The oldest datagram released into `buffer`, cut to it (the rest of the
    /// datagram is dropped); `None` if none is released.
    fn take_datagram(&mut self, buffer: &mut [u8]) -> Option<usize> {
        if self.ready == 0 {
            return None;
        }
        // `ready` is always whole datagrams, the first ones in `datagrams`; should
        // a length be missing, the bytes released count as one datagram rather
        // than stay unread for ever.
        let len = self
            .datagrams
            .pop_front()
            .map_or(self.ready, usize::from)
            .min(self.ready);
        let mut n = 0;
        for i in 0..len {
            let Some(byte) = self.rx.pop_front() else {
                break;
            };
            if let Some(slot) = buffer.get_mut(i) {
                *slot = byte;
                n += 1;
            }
        }
        self.ready -= len;
        Some(n)
    }
}

impl<S, C> UdpClientStack for AtStack<S, C>
where
    S: Read + Write + ReadReady + WriteReady,
    C: Clock,
{
    type UdpSocket = AtUdpSocket;
    type Error = AtError;

    fn socket(&mut self) -> Result<AtUdpSocket, AtError> {
        self.open_socket(Transport::Udp)
            .map(|id| AtUdpSocket { id })
    }

    /// Records the remote and starts the link: `Ok` does not mean that the link is
    /// up (this call cannot report `WouldBlock`); `send` waits for it.
    fn connect(&mut self, socket: &mut AtUdpSocket, remote: SocketAddr) -> Result<(), AtError> {
        self.poll();
        self.check(socket.id, Transport::Udp)?;
        let SocketAddr::V4(remote) = remote else {
            return Err(AtError::Unaddressable);
        };
        match self.link {
            Link::Idle | Link::Closing => {
                self.joined()?;
                // The previous socket's link is still being closed: now no socket
                // has it, and it is closed before the CIPSTART goes out.
                self.stray_link |= self.link == Link::Closing;
                self.peer = remote;
                self.link = Link::Connecting {
                    remote,
                    sent: false,
                    connect_seen: false,
                };
                // Out now if the line is free, rather than on the next call.
                self.poll();
                Ok(())
            }
            Link::Connecting { remote: r, .. } | Link::Connected { remote: r } if r == remote => {
                Ok(())
            }
            Link::Connecting { .. } | Link::Connected { .. } => Err(AtError::InvalidState),
            Link::Ended { error, .. } => Err(error),
        }
    }

    fn send(&mut self, socket: &mut AtUdpSocket, datagram: &[u8]) -> nb::Result<(), AtError> {
        self.poll();
        self.check(socket.id, Transport::Udp)?;
        // Refused whatever the link's state: waiting would not make it fit.
        if datagram.is_empty() || datagram.len() > SEND_CHUNK {
            return fail(AtError::DatagramSize);
        }
        match self.link {
            Link::Connected { .. } if !self.tx.is_empty() => Err(nb::Error::WouldBlock),
            Link::Connected { .. } => {
                // Cannot fail: `tx` is empty and takes SEND_CHUNK bytes.
                let _ = self.tx.extend_from_slice(datagram);
                self.poll();
                Ok(())
            }
            Link::Connecting { .. } => Err(nb::Error::WouldBlock),
            Link::Ended { error, .. } => fail(error),
            Link::Idle | Link::Closing => fail(AtError::InvalidState),
        }
    }

    fn receive(
        &mut self,
        socket: &mut AtUdpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), AtError> {
        self.poll();
        self.check(socket.id, Transport::Udp)?;
        if let Some(n) = self.take_datagram(buffer) {
            return Ok((n, SocketAddr::V4(self.peer)));
        }
        match self.link {
            Link::Connecting { .. } | Link::Connected { .. } => Err(nb::Error::WouldBlock),
            // Held datagrams may still be confirmed, and come before the error.
            Link::Ended { .. } if self.holds_frames() => Err(nb::Error::WouldBlock),
            // UDP has no end of stream: CLOSED (the modem dropped the link) is an
            // error like the others.
            Link::Ended { error, .. } => fail(error),
            Link::Idle | Link::Closing => fail(AtError::InvalidState),
        }
    }

    fn close(&mut self, socket: AtUdpSocket) -> Result<(), AtError> {
        self.close_socket(socket.id, Transport::Udp)
    }
}
