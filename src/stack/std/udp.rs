//! [`StdUdpSocket`]: the OS's UDP sockets behind embedded-nal's `UdpClientStack` and
//! `UdpFullStack`, never blocking, on the same [`StdStack`] as its TCP sockets. What
//! callers must know is on the type, where rustdoc shows it.

use core::net::SocketAddr;

use ::std::io;
use ::std::net::UdpSocket;
use embedded_nal::{nb, UdpClientStack, UdpFullStack};

use super::readiness::Watch;
use super::{nb_error, os, StdError, StdStack};
use crate::log::trace_event;
use crate::stack::local_addr::UdpLocalAddr;

/// A UDP socket of a [`StdStack`]: a fresh handle, a bound socket or a connected one.
///
/// * `bind` opens the OS socket where a TCP listener would listen: dual-stack
///   `[::]:port` where the OS allows it, else `0.0.0.0:port`, or the address of
///   [`StdStack::bind_to`]; [`StdStack::with_shared_port`] shares the port
///   (`SO_REUSEPORT`). Unlike a listener it does not set `SO_REUSEADDR`: UDP has no
///   TIME_WAIT to wait out, and on Linux the option would let a second socket take
///   a port in use.
/// * `connect` binds an ephemeral port of the remote's family (or on the `bind_to`
///   address) and records the remote: `send` goes there, and the OS passes on
///   datagrams from it only.
/// * `send_to` takes plain IPv4 addresses on a dual-stack socket too, and `receive`
///   reports IPv4 peers of a dual-stack socket as plain IPv4, not `::ffff:a.b.c.d`.
/// * A datagram is sent whole or not at all; a full send buffer is `WouldBlock`.
/// * A datagram longer than `receive`'s buffer is cut to the buffer by the OS
///   (Windows fails the call instead), and the rest is lost. A datagram that fills
///   the whole buffer may therefore have been cut: callers that must know pass a
///   buffer one byte longer than the largest datagram they accept, and treat a full
///   buffer as too long.
/// * An ICMP error for an earlier datagram (port unreachable) comes back once, from
///   the next `receive` or `send`, as `nb::Error::Other(`[`StdError::Io`]`(ConnectionRefused))`.
///   It concerns that one datagram, not the socket, which stays usable. Linux
///   reports it on connected sockets only.
/// * [`StdStack::wait`] wakes when a datagram or an ICMP error arrives.
#[derive(Debug)]
pub struct StdUdpSocket {
    state: State,
}

#[derive(Debug)]
enum State {
    /// From `socket()`: the family is not known before bind or connect.
    Fresh,
    /// From `bind()`: receives from anyone, sends with `send_to`.
    Bound(OsSocket),
    /// From `connect()`: `send` goes to the remote the OS recorded.
    Connected(OsSocket),
}

/// An open OS socket and its family, in which destinations must be written.
#[derive(Debug)]
struct OsSocket {
    udp: UdpSocket,
    ipv6: bool,
}

impl OsSocket {
    fn new(udp: UdpSocket) -> io::Result<Self> {
        let ipv6 = udp.local_addr()?.is_ipv6();
        Ok(Self { udp, ipv6 })
    }

    fn send_to(&self, remote: SocketAddr, datagram: &[u8]) -> nb::Result<(), StdError> {
        let to = os::in_family(self.ipv6, remote);
        let sent = os::retry(|| self.udp.send_to(datagram, to)).map_err(nb_error)?;
        whole(sent, datagram)
    }

    fn send(&self, datagram: &[u8]) -> nb::Result<(), StdError> {
        let sent = os::retry(|| self.udp.send(datagram)).map_err(nb_error)?;
        whole(sent, datagram)
    }

    fn receive(&self, buffer: &mut [u8]) -> nb::Result<(usize, SocketAddr), StdError> {
        let (n, peer) = os::retry(|| self.udp.recv_from(buffer)).map_err(nb_error)?;
        Ok((n, os::canonical(peer)))
    }
}

/// UDP sends a datagram whole or not at all, so a shorter count cannot be a partial
/// send to finish later: it is reported as the failure it would be.
fn whole(sent: usize, datagram: &[u8]) -> nb::Result<(), StdError> {
    if sent == datagram.len() {
        return Ok(());
    }
    trace_event!(debug, "datagram cut: {} of {} bytes", sent, datagram.len());
    Err(nb::Error::Other(StdError::Io(io::ErrorKind::WriteZero)))
}

impl StdUdpSocket {
    /// The OS socket, once bound or connected.
    fn os(&self) -> Option<&OsSocket> {
        match &self.state {
            State::Bound(os) | State::Connected(os) => Some(os),
            State::Fresh => None,
        }
    }

    fn os_or_invalid(&self) -> nb::Result<&OsSocket, StdError> {
        self.os().ok_or(nb::Error::Other(StdError::InvalidState))
    }
}

impl StdStack {
    /// The UDP socket's local address (for a socket bound to port 0, the port the OS
    /// chose); `None` before `bind` or `connect`, or if the OS cannot tell.
    pub fn udp_local_addr(&self, socket: &StdUdpSocket) -> Option<SocketAddr> {
        let os = socket.os()?;
        os.udp.local_addr().ok().map(os::canonical)
    }

    /// Takes a new OS socket into the stack: its family noted, and watched for
    /// [`wait`](Self::wait) from now on.
    fn adopt(&self, udp: UdpSocket) -> Result<OsSocket, StdError> {
        let os = OsSocket::new(udp)?;
        self.readiness.watch(&os.udp, Watch::Datagram);
        Ok(os)
    }
}

fn must_be_fresh(socket: &StdUdpSocket) -> Result<(), StdError> {
    match socket.state {
        State::Fresh => Ok(()),
        _ => Err(StdError::InvalidState),
    }
}

impl UdpClientStack for StdStack {
    type UdpSocket = StdUdpSocket;
    type Error = StdError;

    fn socket(&mut self) -> Result<StdUdpSocket, StdError> {
        Ok(StdUdpSocket {
            state: State::Fresh,
        })
    }

    /// Binds an ephemeral port and connects a fresh handle; on failure it stays
    /// fresh, to try again.
    fn connect(&mut self, socket: &mut StdUdpSocket, remote: SocketAddr) -> Result<(), StdError> {
        must_be_fresh(socket)?;
        let os = self.adopt(os::connect_datagrams(self.bind_ip, remote)?)?;
        socket.state = State::Connected(os);
        Ok(())
    }

    /// Sends one datagram to the connected remote.
    fn send(&mut self, socket: &mut StdUdpSocket, buffer: &[u8]) -> nb::Result<(), StdError> {
        match &socket.state {
            State::Connected(os) => os.send(buffer),
            _ => Err(nb::Error::Other(StdError::InvalidState)),
        }
    }

    /// Takes one datagram: its length (at most the buffer's: see the module docs on
    /// datagrams cut to the buffer) and its sender.
    fn receive(
        &mut self,
        socket: &mut StdUdpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), StdError> {
        socket.os_or_invalid()?.receive(buffer)
    }

    fn close(&mut self, socket: StdUdpSocket) -> Result<(), StdError> {
        if let Some(os) = socket.os() {
            self.readiness.unwatch(&os.udp);
        }
        drop(socket);
        Ok(())
    }
}

impl UdpFullStack for StdStack {
    /// Opens the OS socket on `local_port` (0: the OS picks one). On failure
    /// (`AddrInUse`...) the handle stays fresh, to be closed or to try again.
    fn bind(&mut self, socket: &mut StdUdpSocket, local_port: u16) -> Result<(), StdError> {
        must_be_fresh(socket)?;
        let udp = os::bind_datagrams(self.bind_ip, local_port, self.share_port)?;
        socket.state = State::Bound(self.adopt(udp)?);
        Ok(())
    }

    /// Sends one datagram to `remote`, from a bound or a connected socket (the BSDs
    /// refuse the latter; Linux sends it).
    fn send_to(
        &mut self,
        socket: &mut StdUdpSocket,
        remote: SocketAddr,
        buffer: &[u8],
    ) -> nb::Result<(), StdError> {
        socket.os_or_invalid()?.send_to(remote, buffer)
    }
}

impl UdpLocalAddr for StdStack {
    fn udp_local_addr(&self, socket: &StdUdpSocket) -> Option<SocketAddr> {
        StdStack::udp_local_addr(self, socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_sent_in_part_is_an_error_not_a_success() {
        assert_eq!(whole(4, b"ping"), Ok(()));
        assert_eq!(whole(0, b""), Ok(()));
        assert_eq!(
            whole(3, b"ping"),
            Err(nb::Error::Other(StdError::Io(io::ErrorKind::WriteZero)))
        );
    }
}
