//! [`MockNetwork`]: the shared state of all mock hosts, and its observers.

use core::cell::RefCell;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

use heapless::Deque;

use super::error::MockError;
use super::faults::Host;
use super::pipe::Pipe;
use super::stack::MockStack;
use super::udp::{DatagramLog, Udp};

/// Connections a listener holds before they are accepted.
pub(super) const BACKLOG: usize = 4;

/// An in-memory network that any number of [`MockStack`]s (hosts) share.
///
/// `SOCKETS` is the size of the network-wide socket table: every socket handed out,
/// and every connection waiting in a listener's backlog, takes one entry. Each entry
/// has a `PIPE`-byte buffer for the bytes on their way to it. The network also keeps
/// the fault settings of up to `SOCKETS` hosts.
pub struct MockNetwork<const SOCKETS: usize = 32, const PIPE: usize = 4096> {
    state: RefCell<State<SOCKETS, PIPE>>,
}

/// A socket of a [`MockStack`]. Like a real socket it cannot be copied: `close`
/// consumes it.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MockSocket {
    pub(super) index: usize,
    pub(super) serial: u32,
}

#[cfg(feature = "async")]
impl MockSocket {
    /// A second handle to the same socket, for the halves of a split socket; it is
    /// never closed.
    pub(super) fn alias(&self) -> Self {
        Self {
            index: self.index,
            serial: self.serial,
        }
    }
}

pub(super) struct State<const S: usize, const P: usize> {
    pub(super) slots: [Option<Slot<P>>; S],
    pub(super) hosts: [Option<Host>; S],
    pub(super) calls: u64,
    pub(super) datagrams: DatagramLog,
    serial: u32,
    next_port: u16,
}

/// One socket, or one not yet accepted server end of a connection.
pub(super) struct Slot<const P: usize> {
    pub(super) host: IpAddr,
    pub(super) serial: u32,
    /// A `MockSocket` refers to it (false while waiting in a backlog).
    pub(super) handed: bool,
    pub(super) local: Option<SocketAddr>,
    pub(super) kind: Kind,
    pub(super) inbound: Pipe<P>,
    pub(super) last_send_to: Option<u64>,
}

#[allow(
    clippy::large_enum_variant,
    reason = "no heap to box into; each slot already holds a PIPE-byte buffer"
)]
pub(super) enum Kind {
    Fresh,
    Bound,
    Listening(Deque<usize, BACKLOG>),
    Conn(End),
    /// A UDP socket (bound once it has a local address).
    Udp(Udp),
}

/// One end of a connection.
pub(super) struct End {
    /// Shared by both ends, so that a connection is counted once.
    pub(super) conn: u32,
    /// `None` once the peer has gone (closed or reset).
    pub(super) peer: Option<usize>,
    pub(super) remote: SocketAddr,
    pub(super) shut: Shut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shut {
    Open,
    PeerClosed,
    Reset,
}

const EPHEMERAL: u16 = 49152;

impl<const P: usize> Slot<P> {
    pub(super) const fn new(host: IpAddr, serial: u32, kind: Kind) -> Self {
        Self {
            host,
            serial,
            handed: true,
            local: None,
            kind,
            inbound: Pipe::new(),
            last_send_to: None,
        }
    }

    pub(super) fn end(&self) -> Option<&End> {
        match &self.kind {
            Kind::Conn(end) => Some(end),
            _ => None,
        }
    }

    pub(super) fn end_mut(&mut self) -> Option<&mut End> {
        match &mut self.kind {
            Kind::Conn(end) => Some(end),
            _ => None,
        }
    }

    fn uses_port(&self, ip: IpAddr, port: u16) -> bool {
        self.host == ip && self.local.is_some_and(|a| a.port() == port)
    }
}

impl<const S: usize, const P: usize> State<S, P> {
    const fn new() -> Self {
        Self {
            slots: [const { None }; S],
            hosts: [const { None }; S],
            calls: 0,
            datagrams: DatagramLog::new(),
            serial: 0,
            next_port: EPHEMERAL,
        }
    }

    pub(super) fn slot(&self, i: usize) -> Option<&Slot<P>> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    pub(super) fn slot_mut(&mut self, i: usize) -> Option<&mut Slot<P>> {
        self.slots.get_mut(i).and_then(Option::as_mut)
    }

    pub(super) fn host_mut(&mut self, ip: IpAddr) -> Option<&mut Host> {
        self.hosts.iter_mut().flatten().find(|h| h.ip == ip)
    }

    /// A number never handed out before (until 2^32 wraps), so stale handles miss.
    pub(super) fn next_serial(&mut self) -> u32 {
        self.serial = self.serial.wrapping_add(1);
        self.serial
    }

    /// The slot index of `sock` if it is a live socket of host `ip`.
    pub(super) fn index_of(&self, ip: IpAddr, sock: &MockSocket) -> Result<usize, MockError> {
        match self.slot(sock.index) {
            Some(s) if s.serial == sock.serial && s.handed && s.host == ip => Ok(sock.index),
            _ => Err(MockError::InvalidState),
        }
    }

    pub(super) fn free_index(&self) -> Option<usize> {
        self.slots.iter().position(Option::is_none)
    }

    pub(super) fn port_in_use(&self, ip: IpAddr, port: u16) -> bool {
        self.slots.iter().flatten().any(|s| s.uses_port(ip, port))
    }

    pub(super) fn port_bound(&self, ip: IpAddr, port: u16) -> bool {
        let bound = |s: &&Slot<P>| matches!(s.kind, Kind::Bound | Kind::Listening(_));
        self.slots
            .iter()
            .flatten()
            .filter(bound)
            .any(|s| s.uses_port(ip, port))
    }

    /// The next port from 49152 up that no socket of `ip` uses.
    pub(super) fn ephemeral_port(&mut self, ip: IpAddr) -> u16 {
        let mut port = self.next_port;
        for _ in EPHEMERAL..=u16::MAX {
            port = self.next_port;
            self.next_port = port.checked_add(1).unwrap_or(EPHEMERAL);
            if !self.port_in_use(ip, port) {
                break;
            }
        }
        port
    }

    /// Aborts the end in slot `i`: it sees `Reset` from now on.
    pub(super) fn reset_end(&mut self, i: usize) -> Option<usize> {
        let slot = self.slot_mut(i)?;
        slot.inbound.clear();
        let end = slot.end_mut()?;
        end.shut = Shut::Reset;
        end.peer.take()
    }

    /// Resets both ends of the connection that slot `i` is part of.
    pub(super) fn reset_both(&mut self, i: usize) {
        if let Some(peer) = self.reset_end(i) {
            self.reset_end(peer);
        }
    }
}

impl MockNetwork {
    /// An empty network with 32 sockets of 4 KiB receive buffers.
    ///
    /// For other sizes use [`MockNetwork::new_sized`] or `Default`.
    pub const fn new() -> Self {
        Self::new_sized()
    }
}

impl<const SOCKETS: usize, const PIPE: usize> Default for MockNetwork<SOCKETS, PIPE> {
    fn default() -> Self {
        Self::new_sized()
    }
}

impl<const SOCKETS: usize, const PIPE: usize> fmt::Debug for MockNetwork<SOCKETS, PIPE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockNetwork")
            .field("connections", &self.connections())
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl<const SOCKETS: usize, const PIPE: usize> MockNetwork<SOCKETS, PIPE> {
    /// An empty network with `SOCKETS` sockets of `PIPE`-byte receive buffers:
    /// `MockNetwork::<4, 64>::new_sized()`.
    pub const fn new_sized() -> Self {
        Self {
            state: RefCell::new(State::new()),
        }
    }

    /// A host with address `ip` on this network.
    ///
    /// Stacks made with the same `ip` are the same host: they share sockets, ports
    /// and fault settings. So a test can give one handle to the code under test and
    /// keep another to inject faults with.
    pub fn stack(&self, ip: IpAddr) -> MockStack<'_, SOCKETS, PIPE> {
        let mut st = self.state.borrow_mut();
        let known = st.hosts.iter().flatten().any(|h| h.ip == ip);
        // With the host table full the stack still works, only without faults.
        if let (false, Some(free)) = (known, st.hosts.iter_mut().find(|h| h.is_none())) {
            *free = Some(Host::new(ip));
        }
        MockStack::new(self, ip)
    }

    /// Runs `f` on the state; the borrow never outlives `f`, which never calls back.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut State<SOCKETS, PIPE>) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    /// Like [`with`](Self::with), counting one stack call.
    pub(super) fn call<R>(&self, f: impl FnOnce(&mut State<SOCKETS, PIPE>) -> R) -> R {
        self.with(|st| {
            st.calls += 1;
            f(st)
        })
    }

    /// Bytes waiting to be received by the sockets whose local address is `to`
    /// (summed over a listener's accepted sockets, which share its address).
    pub fn pending(&self, to: SocketAddr) -> usize {
        self.with(|st| {
            let ends = st.slots.iter().flatten().filter(|s| s.end().is_some());
            ends.filter(|s| s.local == Some(to))
                .map(|s| s.inbound.len())
                .sum()
        })
    }

    /// Connections that exist and are not closed at both ends (reset ones count until
    /// both sockets are closed).
    pub fn connections(&self) -> usize {
        self.with(|st| {
            let ids = || {
                st.slots
                    .iter()
                    .flatten()
                    .filter_map(|s| s.end())
                    .map(|e| e.conn)
            };
            let first = |(n, id): (usize, u32)| !ids().take(n).any(|other| other == id);
            ids().enumerate().filter(|&pair| first(pair)).count()
        })
    }

    /// Stack calls made on this network so far: a sequence number to order events by.
    pub fn calls(&self) -> u64 {
        self.with(|st| st.calls)
    }

    /// The [`calls`](Self::calls) value of the latest send that put bytes into the
    /// pipe towards `to` (the latest over sockets sharing that address). Forgotten
    /// when that socket is closed.
    pub fn last_send_call_to(&self, to: SocketAddr) -> Option<u64> {
        self.with(|st| {
            let towards = st.slots.iter().flatten().filter(|s| s.local == Some(to));
            towards.filter_map(|s| s.last_send_to).max()
        })
    }

    /// What became of the datagrams sent on this network so far.
    pub fn datagram_log(&self) -> DatagramLog {
        self.with(|st| st.datagrams)
    }

    /// Resets the live connection that has an end at `addr` (the first found if a
    /// listener's accepted sockets share it). Returns whether there was one.
    pub fn reset_connection(&self, addr: SocketAddr) -> bool {
        self.with(|st| {
            let live = |s: &Option<Slot<PIPE>>| {
                s.as_ref().is_some_and(|s| {
                    s.local == Some(addr) && s.end().is_some_and(|e| e.peer.is_some())
                })
            };
            let found = st.slots.iter().position(live);
            found.inspect(|&i| st.reset_both(i)).is_some()
        })
    }
}
