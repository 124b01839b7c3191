//! [`Ledger`]: the counters, events and peers of a server, kept by one set of
//! rules whichever front end (`poll` or `async`) serves the connections.

use core::net::SocketAddr;

use heapless::Deque;

use crate::display::Status;
use crate::server::event::{CloseReason, ServerEvent};
use crate::server::stats::ServerStats;

/// Events kept for `next_event`; older ones are dropped when it is full.
const EVENT_QUEUE: usize = 16;

/// What a server has done, as its stats, its events and the status screen see it.
#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) stats: ServerStats,
    events: Deque<ServerEvent, EVENT_QUEUE>,
    last_peer: Option<SocketAddr>,
    datagram_sender: Option<SocketAddr>,
}

impl Ledger {
    pub(crate) fn accepted(&mut self, slot: usize, peer: SocketAddr) {
        self.stats.accepted = self.stats.accepted.wrapping_add(1);
        self.stats.active = self.stats.active.wrapping_add(1);
        self.last_peer = Some(peer);
        self.push(ServerEvent::Accepted { slot, peer });
    }

    /// Every slot was busy.
    pub(crate) fn rejected(&mut self, peer: SocketAddr) {
        self.stats.rejected = self.stats.rejected.wrapping_add(1);
        self.push(ServerEvent::Rejected { peer });
    }

    /// The peer is not on the allowlist.
    pub(crate) fn denied(&mut self, peer: SocketAddr) {
        self.stats.denied = self.stats.denied.wrapping_add(1);
        self.push(ServerEvent::Denied { peer });
    }

    /// The connection in `slot` ended: an error ending it counts as an error, an
    /// idle one as an eviction.
    pub(crate) fn closed(&mut self, slot: usize, peer: SocketAddr, reason: CloseReason) {
        match reason {
            CloseReason::Error => self.error(),
            CloseReason::Idle => self.stats.evicted = self.stats.evicted.wrapping_add(1),
            _ => {}
        }
        self.stats.active = self.stats.active.saturating_sub(1);
        self.push(ServerEvent::Closed { slot, peer, reason });
    }

    /// A datagram came from `peer`.
    pub(crate) fn datagram_from(&mut self, peer: SocketAddr) {
        self.last_peer = Some(peer);
        self.datagram_sender = Some(peer);
    }

    pub(crate) fn received(&mut self, bytes: usize) {
        self.stats.bytes_in = self.stats.bytes_in.wrapping_add(bytes as u64);
        self.stats.receives = self.stats.receives.wrapping_add(1);
    }

    pub(crate) fn sent(&mut self, bytes: usize) {
        self.stats.bytes_out = self.stats.bytes_out.wrapping_add(bytes as u64);
    }

    pub(crate) fn error(&mut self) {
        self.stats.errors = self.stats.errors.wrapping_add(1);
    }

    pub(crate) fn display_error(&mut self) {
        self.stats.display_errors = self.stats.display_errors.wrapping_add(1);
    }

    /// The state and counters lines of a server with `slots` slots.
    pub(crate) fn status(&self, slots: u32) -> Status {
        let s = &self.stats;
        Status {
            active: s.active,
            slots,
            last_peer: self.last_peer,
            datagram_sender: self.datagram_sender,
            accepted: s.accepted,
            refused: s.rejected.wrapping_add(s.denied),
            errors: s.errors,
        }
    }

    pub(crate) fn next_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    fn push(&mut self, event: ServerEvent) {
        crate::log::trace_event!(debug, "{}", event);
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }
}
