//! The socket pool: the role each pool socket plays for the adapter, and how roles
//! follow smoltcp's TCP states (reclaiming closed sockets, re-arming listeners).

use ::smoltcp::iface::{PollIngressSingleResult, PollResult, SocketHandle, SocketSet};
use ::smoltcp::phy::Device;
use ::smoltcp::socket::tcp::{self, State};
use ::smoltcp::socket::AnySocket;

use super::error::SmoltcpError;
use super::stack::{find_tcp, find_tcp_mut, SmoltcpStack};
use crate::time::Clock;

/// What a pool socket is doing for the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Free,
    /// Belongs to the listener on this port: listening, in a handshake, or
    /// established and waiting for `accept`.
    Armed(u16),
    /// A connection, or a connection attempt, that a `SmoltcpSocket` owns.
    Owned,
    /// Closed by its owner; free once smoltcp has finished with it.
    Closing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) handle: SocketHandle,
    pub(super) role: Role,
    /// Bytes of the peer's stream before its FIN not yet read; `None` until the
    /// socket shows the FIN (see `fin`).
    pub(super) unread_before_fin: Option<usize>,
}

/// How badly a socket is wanted when none is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// One more armed socket for a listener that has one already: only a free one.
    Extra,
    /// A `connect`, or a listener's first armed socket: a free one, else an idle
    /// listening socket of a listener that keeps another one listening, else a
    /// closing socket reset early (the one with the least unsent data first).
    Must,
}

/// Where a connection attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handshake {
    Pending,
    Done,
    Failed,
}

pub(super) fn handshake(state: State) -> Handshake {
    match state {
        State::SynSent | State::SynReceived => Handshake::Pending,
        // Only a reset or a timeout takes an attempt back to CLOSED; LISTEN and
        // TIME-WAIT cannot follow SYN-SENT without our close, but would be as dead.
        State::Closed | State::TimeWait | State::Listen => Handshake::Failed,
        _ => Handshake::Done,
    }
}

/// An armed socket that `accept` may hand out: SYN-RECEIVED is active but not yet
/// usable, and CLOSE-WAIT is a peer that already sent everything and its FIN.
pub(super) fn accept_ready(state: State) -> bool {
    matches!(state, State::Established | State::CloseWait)
}

/// smoltcp is done with the socket: `listen` and `connect` may reuse it.
pub(super) fn finished(state: State) -> bool {
    matches!(state, State::Closed | State::TimeWait)
}

/// Quiet polls after which `drive` tends the pool all the same: the next poll
/// tends it, the 16th quiet one in a row (as the module docs say).
const TEND_EVERY: u8 = 15;

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> SmoltcpStack<'s, 'b, D, C, N, U> {
    pub(super) fn tcp(&self, handle: SocketHandle) -> Option<&tcp::Socket<'b>> {
        find_tcp(self.sockets, handle)
    }

    pub(super) fn tcp_mut(&mut self, handle: SocketHandle) -> Option<&mut tcp::Socket<'b>> {
        find_tcp_mut(self.sockets, handle)
    }

    /// The pool slot of `handle`; `None` for a socket outside the pool.
    pub(super) fn slot(&self, handle: SocketHandle) -> Option<&Slot> {
        self.slots.iter().find(|s| s.handle == handle)
    }

    pub(super) fn slot_mut(&mut self, handle: SocketHandle) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.handle == handle)
    }

    pub(super) fn role(&self, handle: SocketHandle) -> Option<Role> {
        self.slot(handle).map(|s| s.role)
    }

    pub(super) fn set_role(&mut self, handle: SocketHandle, role: Role) {
        if let Some(slot) = self.slot_mut(handle) {
            slot.role = role;
        }
    }

    /// A closing socket that smoltcp has finished with counts as free before the
    /// next call reclaims it, so that `free_sockets` (`&self`) is exact.
    pub(super) fn is_free(&self, slot: &Slot) -> bool {
        match slot.role {
            Role::Free => true,
            Role::Closing => self.tcp(slot.handle).is_none_or(|s| finished(s.state())),
            Role::Armed(_) | Role::Owned => false,
        }
    }

    /// `Interface::poll`, taken apart so that every socket's FIN is noted after the
    /// frame that brought it and before the next one lands (see `fin`).
    pub(super) fn poll_iface(&mut self) -> bool {
        let now = ::smoltcp::time::Instant::from(self.clock.now());
        self.iface.poll_maintenance(now);
        let mut changed = false;
        loop {
            match self
                .iface
                .poll_ingress_single(now, &mut *self.device, self.sockets)
            {
                PollIngressSingleResult::None => break,
                PollIngressSingleResult::PacketProcessed => {}
                PollIngressSingleResult::SocketStateChanged => changed = true,
            }
            self.note_fins();
        }
        while self.iface.poll_egress(now, &mut *self.device, self.sockets)
            == PollResult::SocketStateChanged
        {
            changed = true;
        }
        changed
    }

    /// One poll of the interface, then the bookkeeping if a socket may have changed
    /// or `TEND_EVERY` polls went by without.
    /// Sockets change state only in a poll (or in our own calls, which tend to their
    /// socket themselves), so a quiet poll needs no walk over the pool; a timer that
    /// fires without a packet (TIME-WAIT ending) is seen within `TEND_EVERY` polls.
    pub(super) fn drive(&mut self) -> bool {
        let changed = self.poll_iface();
        if changed || self.untended >= TEND_EVERY {
            self.untended = 0;
            self.maintain();
        } else {
            self.untended += 1;
        }
        changed
    }

    /// One poll of the interface and the bookkeeping, whatever the poll did.
    pub(super) fn drive_all(&mut self) -> bool {
        self.untended = 0;
        let changed = self.poll_iface();
        self.maintain() | changed
    }

    fn maintain(&mut self) -> bool {
        let mut changed = false;
        for i in 0..N {
            if let Some(&slot) = self.slots.get(i) {
                changed |= self.tend(slot);
            }
        }
        for i in 0..N {
            if let Some(Some(port)) = self.listeners.get(i).copied() {
                changed |= self.top_up(port);
            }
        }
        changed
    }

    /// Reclaims a socket that finished closing, and re-arms one whose handshake
    /// failed (the peer's reset in SYN-RECEIVED already brings smoltcp back to
    /// LISTEN; a timeout, or a reset after the handshake, ends in CLOSED).
    fn tend(&mut self, slot: Slot) -> bool {
        let Some(state) = self.tcp(slot.handle).map(|s| s.state()) else {
            return false;
        };
        match slot.role {
            Role::Closing if finished(state) => {
                self.set_role(slot.handle, Role::Free);
                true
            }
            Role::Armed(port) if finished(state) => {
                if !self.arm(slot.handle, port) {
                    self.set_role(slot.handle, Role::Free);
                }
                true
            }
            _ => false,
        }
    }

    /// Arms free sockets for the listener on `port` until its backlog is full or the
    /// pool has none free. A socket is taken from elsewhere only if the listener
    /// would otherwise have none at all: closing connections are not cut short to
    /// deepen a backlog.
    pub(super) fn top_up(&mut self, port: u16) -> bool {
        let mut changed = false;
        // No more than the pool holds, so the loop is short whatever the backlog.
        for armed in self.count_armed(port)..self.backlog.min(N) {
            let need = if armed == 0 { Need::Must } else { Need::Extra };
            let Some(handle) = self.take(need, Role::Armed(port)) else {
                break;
            };
            if !self.arm(handle, port) {
                self.set_role(handle, Role::Free);
                break;
            }
            changed = true;
        }
        changed
    }

    fn arm(&mut self, handle: SocketHandle, port: u16) -> bool {
        self.forget_fin(handle);
        self.tcp_mut(handle)
            .is_some_and(|socket| socket.listen(port).is_ok())
    }

    fn count_armed(&self, port: u16) -> usize {
        self.slots
            .iter()
            .filter(|s| s.role == Role::Armed(port))
            .count()
    }

    /// An armed socket of the listener on `port` whose handshake is complete.
    pub(super) fn ready_connection(&self, port: u16) -> Option<SocketHandle> {
        self.slots
            .iter()
            .filter(|s| s.role == Role::Armed(port))
            .map(|s| s.handle)
            .find(|&h| self.tcp(h).is_some_and(|s| accept_ready(s.state())))
    }

    /// A pool socket for a new `role`, as far as `need` allows (see [`Need`]).
    pub(super) fn take(&mut self, need: Need, role: Role) -> Option<SocketHandle> {
        let handle = match self.slots.iter().find(|s| self.is_free(s)) {
            Some(slot) => slot.handle,
            None if need == Need::Extra => return None,
            None => self.disarm_spare().or_else(|| self.steal())?,
        };
        self.forget_fin(handle);
        self.set_role(handle, role);
        Some(handle)
    }

    /// Takes a socket that only listens from a listener that keeps another one
    /// listening: no connection is touched, and that listener still answers SYNs.
    fn disarm_spare(&mut self) -> Option<SocketHandle> {
        let handle = self
            .slots
            .iter()
            .filter_map(|s| match s.role {
                Role::Armed(port) => Some((s.handle, port)),
                _ => None,
            })
            .find(|&(handle, port)| self.is_listening(handle) && self.count_listening(port) > 1)
            .map(|(handle, _)| handle)?;
        // A socket in LISTEN has no peer: closing it sends nothing.
        self.tcp_mut(handle)?.abort();
        Some(handle)
    }

    fn is_listening(&self, handle: SocketHandle) -> bool {
        self.tcp(handle).is_some_and(|s| s.state() == State::Listen)
    }

    fn count_listening(&self, port: u16) -> usize {
        self.slots
            .iter()
            .filter(|s| s.role == Role::Armed(port) && self.is_listening(s.handle))
            .count()
    }

    /// Resets the closing socket with the least data still to deliver.
    fn steal(&mut self) -> Option<SocketHandle> {
        let (handle, _) = self
            .slots
            .iter()
            .filter(|s| s.role == Role::Closing)
            .filter_map(|s| Some((s.handle, self.tcp(s.handle)?.send_queue())))
            .min_by_key(|&(_, unsent)| unsent)?;
        self.tcp_mut(handle)?.abort();
        // The reset must leave before `listen` or `connect` wipes the socket's
        // connection, or the peer would wait on a dead connection.
        self.poll_iface();
        Some(handle)
    }

    /// Gives a socket back to the pool at once, resetting its connection if any.
    pub(super) fn release(&mut self, handle: SocketHandle) {
        if let Some(socket) = self.tcp_mut(handle).filter(|s| s.is_open()) {
            socket.abort();
            self.poll_iface();
        }
        self.set_role(handle, Role::Free);
    }

    /// The pool socket of a connection the caller owns; `InvalidState` for a handle
    /// of another stack.
    pub(super) fn owned(
        &mut self,
        handle: SocketHandle,
    ) -> Result<&mut tcp::Socket<'b>, SmoltcpError> {
        if self.role(handle) != Some(Role::Owned) {
            return Err(SmoltcpError::InvalidState);
        }
        self.tcp_mut(handle).ok_or(SmoltcpError::InvalidState)
    }

    /// Sends a FIN; the socket is reclaimed once it reaches CLOSED or TIME-WAIT.
    pub(super) fn close_connection(&mut self, handle: SocketHandle) -> Result<(), SmoltcpError> {
        self.owned(handle)?.close();
        self.set_role(handle, Role::Closing);
        self.poll_iface();
        Ok(())
    }

    pub(super) fn abort_connection(&mut self, handle: SocketHandle) -> Result<(), SmoltcpError> {
        self.owned(handle)?;
        self.release(handle);
        Ok(())
    }

    pub(super) fn register_listener(&mut self, port: u16) -> Result<(), SmoltcpError> {
        if self.listeners.contains(&Some(port)) {
            return Err(SmoltcpError::AddrInUse);
        }
        let entry = self
            .listeners
            .iter_mut()
            .find(|l| l.is_none())
            .ok_or(SmoltcpError::NoSocket)?;
        *entry = Some(port);
        Ok(())
    }

    /// Forgets the listener and resets the connections it armed but did not hand out,
    /// as a real stack does with its backlog.
    pub(super) fn close_listener(&mut self, port: u16) {
        if let Some(entry) = self.listeners.iter_mut().find(|l| **l == Some(port)) {
            *entry = None;
        }
        for i in 0..N {
            let Some(slot) = self.slots.get(i).copied() else {
                continue;
            };
            if slot.role == Role::Armed(port) {
                if let Some(socket) = self.tcp_mut(slot.handle) {
                    socket.abort();
                }
                self.set_role(slot.handle, Role::Free);
            }
        }
        self.poll_iface();
    }

    /// A port of the dynamic range that no TCP socket of the set and no listener uses.
    pub(super) fn ephemeral_port(&mut self) -> Option<u16> {
        let sockets: &SocketSet<'b> = self.sockets;
        let listeners = &self.listeners;
        self.ports
            .allocate(|port| listeners.contains(&Some(port)) || port_in_use(sockets, port))
    }
}

fn port_in_use(sockets: &SocketSet<'_>, port: u16) -> bool {
    sockets
        .iter()
        .filter_map(|(_, s)| tcp::Socket::downcast(s))
        .any(|s| {
            s.listen_endpoint().port == port || s.local_endpoint().is_some_and(|e| e.port == port)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];

    #[test]
    fn only_a_complete_handshake_is_accepted() {
        let ready: heapless::Vec<State, 11> =
            ALL.into_iter().filter(|&s| accept_ready(s)).collect();
        assert_eq!(ready.as_slice(), &[State::Established, State::CloseWait]);
        assert!(!accept_ready(State::SynReceived));
    }

    #[test]
    fn a_connect_fails_only_when_the_socket_is_dead() {
        assert_eq!(handshake(State::SynSent), Handshake::Pending);
        assert_eq!(handshake(State::SynReceived), Handshake::Pending);
        assert_eq!(handshake(State::Established), Handshake::Done);
        // The server may send its data and FIN before our next look.
        assert_eq!(handshake(State::CloseWait), Handshake::Done);
        assert_eq!(handshake(State::Closed), Handshake::Failed);
        assert_eq!(handshake(State::TimeWait), Handshake::Failed);
    }

    #[test]
    fn closed_and_time_wait_are_reusable() {
        for state in ALL {
            let reusable = matches!(state, State::Closed | State::TimeWait);
            assert_eq!(finished(state), reusable, "{state}");
        }
    }
}
