//! Where a peer's stream ends: at its FIN, whatever smoltcp takes after it.
//!
//! smoltcp (0.13 and 0.14) goes on taking segment text after a peer's FIN, which
//! RFC 9293 (3.10.7.4) says to ignore, and misplaces it: the byte on the FIN's
//! sequence number is dropped, and with out-of-order segments waiting in its
//! assembler one byte can be handed out twice (found by the fuzz target `smoltcp`).
//! The socket API does not say where the FIN was, but it can be seen: a socket
//! shows the FIN (CLOSE-WAIT and the states after it) in the frame that brought it,
//! and what it holds then is at its right place in the peer's stream. So the
//! adapter processes one frame at a time, notes what a socket holds when it first
//! shows the FIN, and ends the stream there. What it holds then is the stream up to
//! the FIN and, only if the peer sent text past its FIN out of order and ahead of
//! the FIN, that text too: smoltcp merges it in the same step, and nothing outside
//! smoltcp can tell it apart.

use ::smoltcp::iface::SocketHandle;
use ::smoltcp::phy::Device;
use ::smoltcp::socket::tcp::{self, State};
use ::smoltcp::socket::AnySocket;

use super::stack::SmoltcpStack;
use crate::time::Clock;

/// States in which the peer's FIN has been received. CLOSED is not one of them
/// (a reset, a timeout, or never opened), so a mark taken before a reset stays.
pub(super) fn fin_received(state: State) -> bool {
    matches!(
        state,
        State::CloseWait | State::LastAck | State::Closing | State::TimeWait
    )
}

impl<'s, 'b, D: Device, C: Clock, const N: usize, const U: usize> SmoltcpStack<'s, 'b, D, C, N, U> {
    /// Marks, in every socket that has just shown its peer's FIN, the bytes that
    /// came before it. Called after each frame, so it walks the socket set once and
    /// looks a slot up only for a socket past a FIN.
    pub(super) fn note_fins(&mut self) {
        for (handle, socket) in self.sockets.iter() {
            let Some(tcp) = tcp::Socket::downcast(socket) else {
                continue;
            };
            if !fin_received(tcp.state()) {
                continue;
            }
            // Not `slot_mut`: the socket set is borrowed by the walk.
            let slot = self.slots.iter_mut().find(|s| s.handle == handle);
            if let Some(slot) = slot.filter(|s| s.unread_before_fin.is_none()) {
                slot.unread_before_fin = Some(tcp.recv_queue());
            }
        }
    }

    /// Clears the mark of a socket about to open a new connection.
    pub(super) fn forget_fin(&mut self, handle: SocketHandle) {
        if let Some(slot) = self.slot_mut(handle) {
            slot.unread_before_fin = None;
        }
    }

    /// How many of `want` bytes a read may take: no more than come before the FIN.
    pub(super) fn readable_before_fin(&self, handle: SocketHandle, want: usize) -> usize {
        self.slot(handle)
            .and_then(|s| s.unread_before_fin)
            .map_or(want, |unread| unread.min(want))
    }

    /// Counts `n` bytes read off the mark, if the socket has one.
    pub(super) fn consumed_before_fin(&mut self, handle: SocketHandle, n: usize) {
        if let Some(slot) = self.slot_mut(handle) {
            slot.unread_before_fin = slot.unread_before_fin.map(|u| u.saturating_sub(n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_states_after_a_received_fin_count() {
        use State::*;
        let after_fin = [CloseWait, LastAck, Closing, TimeWait];
        for state in [
            Closed,
            Listen,
            SynSent,
            SynReceived,
            Established,
            FinWait1,
            FinWait2,
            CloseWait,
            Closing,
            LastAck,
            TimeWait,
        ] {
            assert_eq!(fin_received(state), after_fin.contains(&state), "{state}");
        }
    }
}
