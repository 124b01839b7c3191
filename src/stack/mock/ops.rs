//! The TCP calls, carried out on the network state.

use core::net::{IpAddr, SocketAddr};

use heapless::Deque;

use super::error::MockError;
use super::faults::Op;
use super::network::MockSocket;
use super::network::{End, Kind, Shut, Slot, State};

pub(super) type NbResult<T> = nb::Result<T, MockError>;

impl<const S: usize, const P: usize> State<S, P> {
    pub(super) fn failure(&mut self, ip: IpAddr, op: Op) -> Result<(), MockError> {
        self.host_mut(ip)
            .and_then(|h| h.take_failure(op))
            .map_or(Ok(()), Err)
    }

    pub(super) fn nb_fault(&mut self, ip: IpAddr, op: Op) -> NbResult<()> {
        self.host_mut(ip)
            .and_then(|h| h.take_nb_fault(op))
            .map_or(Ok(()), Err)
    }

    pub(super) fn open_sockets(&self, ip: IpAddr) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.host == ip && s.handed)
            .count()
    }

    pub(super) fn socket(&mut self, ip: IpAddr) -> Result<MockSocket, MockError> {
        self.open(ip, Kind::Fresh)
    }

    /// A new socket of host `ip` in state `kind`, within the host's socket limit.
    pub(super) fn open(&mut self, ip: IpAddr, kind: Kind) -> Result<MockSocket, MockError> {
        self.failure(ip, Op::Socket)?;
        let limit = self.host_mut(ip).and_then(|h| h.socket_max);
        if limit.is_some_and(|max| self.open_sockets(ip) >= max) {
            return Err(MockError::NoSocket);
        }
        let index = self.free_index().ok_or(MockError::NoSocket)?;
        let serial = self.next_serial();
        self.slots[index] = Some(Slot::new(ip, serial, kind));
        Ok(MockSocket { index, serial })
    }

    pub(super) fn bind(
        &mut self,
        ip: IpAddr,
        sock: &MockSocket,
        port: u16,
    ) -> Result<(), MockError> {
        let i = self.index_of(ip, sock)?;
        self.failure(ip, Op::Bind)?;
        if !matches!(self.slot(i).map(|s| &s.kind), Some(Kind::Fresh)) {
            return Err(MockError::InvalidState);
        }
        let port = match port {
            0 => self.ephemeral_port(ip),
            p if self.port_bound(ip, p) => return Err(MockError::AddrInUse),
            p => p,
        };
        if let Some(slot) = self.slot_mut(i) {
            slot.local = Some(SocketAddr::new(ip, port));
            slot.kind = Kind::Bound;
        }
        Ok(())
    }

    pub(super) fn listen(&mut self, ip: IpAddr, sock: &MockSocket) -> Result<(), MockError> {
        let i = self.index_of(ip, sock)?;
        self.failure(ip, Op::Listen)?;
        let slot = self.slot_mut(i).ok_or(MockError::InvalidState)?;
        match slot.kind {
            Kind::Bound => slot.kind = Kind::Listening(Deque::new()),
            Kind::Listening(_) => {}
            _ => return Err(MockError::InvalidState),
        }
        Ok(())
    }

    pub(super) fn connect(
        &mut self,
        ip: IpAddr,
        sock: &MockSocket,
        remote: SocketAddr,
    ) -> NbResult<()> {
        let i = self.index_of(ip, sock)?;
        self.nb_fault(ip, Op::Connect)?;
        let local = match self.slot(i).map(|s| (&s.kind, s.local)) {
            Some((Kind::Conn(end), _)) if end.shut == Shut::Reset => {
                return Err(MockError::Reset.into())
            }
            Some((Kind::Conn(_), _)) => return Ok(()),
            Some((Kind::Bound, Some(local))) => local,
            Some((Kind::Fresh, _)) => SocketAddr::new(ip, self.ephemeral_port(ip)),
            _ => return Err(MockError::InvalidState.into()),
        };
        self.link(i, local, remote)?;
        Ok(())
    }

    fn listener_at(&self, addr: SocketAddr) -> Option<usize> {
        let listens = |s: &Slot<P>| matches!(s.kind, Kind::Listening(_)) && s.local == Some(addr);
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(listens))
    }

    /// Connects client slot `i` (at `local`) to the listener at `remote`, queueing the
    /// server end in the listener's backlog.
    fn link(&mut self, i: usize, local: SocketAddr, remote: SocketAddr) -> Result<(), MockError> {
        let listener = self
            .listener_at(remote)
            .ok_or(MockError::ConnectionRefused)?;
        let backlog_full = match self.slot(listener).map(|s| &s.kind) {
            Some(Kind::Listening(backlog)) => backlog.is_full(),
            _ => true,
        };
        // A real server host out of sockets would drop the SYN: the client is refused.
        let server = self
            .free_index()
            .filter(|_| !backlog_full)
            .ok_or(MockError::ConnectionRefused)?;
        let conn = self.next_serial();
        let serial = self.next_serial();
        let end = |peer, remote| {
            Kind::Conn(End {
                conn,
                peer: Some(peer),
                remote,
                shut: Shut::Open,
            })
        };
        let mut server_slot = Slot::new(remote.ip(), serial, end(i, local));
        server_slot.handed = false;
        server_slot.local = Some(remote);
        self.slots[server] = Some(server_slot);
        if let Some(Kind::Listening(backlog)) = self.slot_mut(listener).map(|s| &mut s.kind) {
            // Cannot fail: fullness was checked above and nothing ran in between.
            let _ = backlog.push_back(server);
        }
        if let Some(client) = self.slot_mut(i) {
            client.local = Some(local);
            client.kind = end(server, remote);
        }
        Ok(())
    }

    /// The peer slot a connected socket may send to.
    fn send_peer(&self, i: usize) -> Result<usize, MockError> {
        match self.slot(i).and_then(Slot::end) {
            None => Err(MockError::InvalidState),
            Some(End {
                shut: Shut::Reset, ..
            }) => Err(MockError::Reset),
            Some(End {
                peer: Some(peer),
                shut: Shut::Open,
                ..
            }) => Ok(*peer),
            Some(_) => Err(MockError::PipeClosed),
        }
    }

    pub(super) fn send(&mut self, ip: IpAddr, sock: &MockSocket, buf: &[u8]) -> NbResult<usize> {
        let i = self.index_of(ip, sock)?;
        self.nb_fault(ip, Op::Send)?;
        let peer = self.send_peer(i)?;
        if buf.is_empty() {
            return Ok(0);
        }
        let room = self.slot(peer).map_or(0, |s| s.inbound.free());
        let want = buf.len().min(room);
        let n = self.host_mut(ip).map_or(want, |h| h.send_len(want));
        let calls = self.calls;
        let slot = self
            .slot_mut(peer)
            .filter(|_| n > 0)
            .ok_or(nb::Error::WouldBlock)?;
        let taken = slot.inbound.push(&buf[..n]);
        slot.last_send_to = Some(calls);
        Ok(taken)
    }

    pub(super) fn receive(
        &mut self,
        ip: IpAddr,
        sock: &MockSocket,
        buf: &mut [u8],
    ) -> NbResult<usize> {
        let i = self.index_of(ip, sock)?;
        self.nb_fault(ip, Op::Receive)?;
        let slot = self.slot(i).ok_or(MockError::InvalidState)?;
        let shut = slot.end().ok_or(MockError::InvalidState)?.shut;
        let available = slot.inbound.len();
        match shut {
            Shut::Reset => return Err(MockError::Reset.into()),
            _ if buf.is_empty() => return Ok(0),
            Shut::PeerClosed if available == 0 => return Ok(0),
            _ => {}
        }
        let want = buf.len().min(available);
        let n = self.host_mut(ip).map_or(want, |h| h.receive_len(want));
        let slot = self
            .slot_mut(i)
            .filter(|_| n > 0)
            .ok_or(nb::Error::WouldBlock)?;
        Ok(slot.inbound.pop(&mut buf[..n]))
    }

    pub(super) fn accept(
        &mut self,
        ip: IpAddr,
        sock: &MockSocket,
    ) -> NbResult<(MockSocket, SocketAddr)> {
        let i = self.index_of(ip, sock)?;
        self.nb_fault(ip, Op::Accept)?;
        let index = match self.slot_mut(i).map(|s| &mut s.kind) {
            Some(Kind::Listening(backlog)) => backlog.pop_front().ok_or(nb::Error::WouldBlock)?,
            _ => return Err(MockError::InvalidState.into()),
        };
        let slot = self.slot_mut(index).ok_or(MockError::InvalidState)?;
        slot.handed = true;
        let remote = slot
            .end()
            .map(|e| e.remote)
            .ok_or(MockError::InvalidState)?;
        Ok((
            MockSocket {
                index,
                serial: slot.serial,
            },
            remote,
        ))
    }

    pub(super) fn close(&mut self, ip: IpAddr, sock: MockSocket) -> Result<(), MockError> {
        let i = self.index_of(ip, &sock)?;
        let injected = self.failure(ip, Op::Close);
        self.release(i);
        injected
    }

    /// Frees slot `i`, telling whoever is connected to it.
    fn release(&mut self, i: usize) {
        let Some(slot) = self.slots.get_mut(i).and_then(Option::take) else {
            return;
        };
        match slot.kind {
            Kind::Listening(backlog) => backlog
                .into_iter()
                .for_each(|queued| self.abort_queued(queued)),
            Kind::Conn(End {
                peer: Some(peer), ..
            }) if slot.inbound.len() > 0 => {
                // Closing with unread data makes a real stack send RST, not FIN.
                self.reset_end(peer);
            }
            Kind::Conn(End {
                peer: Some(peer), ..
            }) => self.peer_closed(peer),
            _ => {}
        }
    }

    /// A connection still in a closing listener's backlog: its client is reset.
    fn abort_queued(&mut self, queued: usize) {
        if let Some(client) = self.reset_end(queued) {
            self.reset_end(client);
        }
        if let Some(slot) = self.slots.get_mut(queued) {
            *slot = None;
        }
    }

    fn peer_closed(&mut self, i: usize) {
        if let Some(end) = self.slot_mut(i).and_then(Slot::end_mut) {
            end.peer = None;
            if end.shut == Shut::Open {
                end.shut = Shut::PeerClosed;
            }
        }
    }
}
