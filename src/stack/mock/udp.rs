//! The UDP calls, carried out on the network state. A datagram's bytes wait in the
//! receiver's pipe and its bounds in a queue beside it, so each `receive` gives one
//! datagram; the sender's [`DatagramFaults`](super::DatagramFaults) lose, duplicate
//! and reorder them, and the network logs what it did.

use core::net::{IpAddr, SocketAddr};

use heapless::Deque;

use super::error::MockError;
use super::faults::{Fate, Op};
use super::network::{Kind, MockSocket, Slot, State};

use super::ops::NbResult;

/// Datagrams a UDP socket holds before it drops new ones (as a full socket buffer
/// does), whatever their size.
pub(super) const QUEUE: usize = 16;

/// A UDP socket: the datagrams waiting in its pipe, oldest first, and where a
/// connected socket sends.
pub(super) struct Udp {
    queue: Deque<Datagram, QUEUE>,
    remote: Option<SocketAddr>,
}

/// One datagram waiting in a pipe.
#[derive(Clone, Copy)]
struct Datagram {
    from: SocketAddr,
    len: usize,
}

/// What the network did with the datagrams sent on it: each counter counts
/// datagrams, so a test can check what a receiver saw against what was injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct DatagramLog {
    /// Handed to the network by a successful `send` or `send_to`.
    pub sent: u64,
    /// Put in a receiver's queue (a duplicate counts twice).
    pub delivered: u64,
    /// Lost on purpose ([`DatagramFaults::lose_per_mille`](super::DatagramFaults)).
    pub lost: u64,
    /// Delivered a second time on purpose.
    pub duplicated: u64,
    /// Made to overtake the datagram before it.
    pub reordered: u64,
    /// Dropped because the receiver's queue or pipe was full.
    pub overflowed: u64,
    /// Sent to an address where no UDP socket is bound.
    pub unroutable: u64,
    /// Received into a buffer shorter than the datagram, whose rest was dropped.
    pub truncated: u64,
}

impl DatagramLog {
    pub(super) const fn new() -> Self {
        Self {
            sent: 0,
            delivered: 0,
            lost: 0,
            duplicated: 0,
            reordered: 0,
            overflowed: 0,
            unroutable: 0,
            truncated: 0,
        }
    }
}

impl Udp {
    pub(super) const fn new() -> Self {
        Self {
            queue: Deque::new(),
            remote: None,
        }
    }
}

impl<const S: usize, const P: usize> State<S, P> {
    fn udp(&self, ip: IpAddr, sock: &MockSocket) -> Result<(usize, &Udp), MockError> {
        let i = self.index_of(ip, sock)?;
        match self.slot(i).map(|s| &s.kind) {
            Some(Kind::Udp(udp)) => Ok((i, udp)),
            _ => Err(MockError::InvalidState),
        }
    }

    fn udp_port_bound(&self, ip: IpAddr, port: u16) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|s| matches!(s.kind, Kind::Udp(_)) && s.local == Some(SocketAddr::new(ip, port)))
    }

    pub(super) fn udp_bind(
        &mut self,
        ip: IpAddr,
        sock: &MockSocket,
        port: u16,
    ) -> Result<(), MockError> {
        let (i, _) = self.udp(ip, sock)?;
        self.failure(ip, Op::Bind)?;
        if self.slot(i).is_some_and(|s| s.local.is_some()) {
            return Err(MockError::InvalidState);
        }
        let port = match port {
            0 => self.ephemeral_port(ip),
            p if self.udp_port_bound(ip, p) => return Err(MockError::AddrInUse),
            p => p,
        };
        if let Some(slot) = self.slot_mut(i) {
            slot.local = Some(SocketAddr::new(ip, port));
        }
        Ok(())
    }

    /// Gives the socket an ephemeral port if it has none, and a remote.
    pub(super) fn udp_connect(
        &mut self,
        ip: IpAddr,
        sock: &MockSocket,
        remote: SocketAddr,
    ) -> Result<(), MockError> {
        let (i, _) = self.udp(ip, sock)?;
        self.failure(ip, Op::Connect)?;
        let local = match self.slot(i).and_then(|s| s.local) {
            Some(local) => local,
            None => SocketAddr::new(ip, self.ephemeral_port(ip)),
        };
        if let Some(slot) = self.slot_mut(i) {
            slot.local = Some(local);
            if let Kind::Udp(udp) = &mut slot.kind {
                udp.remote = Some(remote);
            }
        }
        Ok(())
    }

    pub(super) fn udp_send(&mut self, ip: IpAddr, sock: &MockSocket, buf: &[u8]) -> NbResult<()> {
        let remote = self
            .udp(ip, sock)?
            .1
            .remote
            .ok_or(MockError::InvalidState)?;
        self.udp_send_to(ip, sock, remote, buf)
    }

    pub(super) fn udp_send_to(
        &mut self,
        ip: IpAddr,
        sock: &MockSocket,
        remote: SocketAddr,
        buf: &[u8],
    ) -> NbResult<()> {
        let (i, _) = self.udp(ip, sock)?;
        self.nb_fault(ip, Op::SendTo)?;
        let from = self
            .slot(i)
            .and_then(|s| s.local)
            .ok_or(MockError::InvalidState)?;
        if buf.len() > P {
            return Err(MockError::TooLarge.into());
        }
        self.datagrams.sent += 1;
        let fate = self
            .host_mut(ip)
            .map(|h| h.datagram_fate())
            .unwrap_or_default();
        self.route(from, remote, buf, fate);
        Ok(())
    }

    /// Takes the oldest datagram; a buffer shorter than it gets its start, and the
    /// rest is dropped (as std and most stacks do, without saying so).
    pub(super) fn udp_receive(
        &mut self,
        ip: IpAddr,
        sock: &MockSocket,
        buf: &mut [u8],
    ) -> NbResult<(usize, SocketAddr)> {
        let (i, _) = self.udp(ip, sock)?;
        self.nb_fault(ip, Op::ReceiveFrom)?;
        let Some(Slot {
            kind: Kind::Udp(udp),
            inbound,
            ..
        }) = self.slot_mut(i)
        else {
            return Err(MockError::InvalidState.into());
        };
        let datagram = udp.queue.pop_front().ok_or(nb::Error::WouldBlock)?;
        let n = datagram.len.min(buf.len());
        inbound.pop(&mut buf[..n]);
        inbound.skip(datagram.len - n);
        if n < datagram.len {
            self.datagrams.truncated += 1;
        }
        Ok((n, datagram.from))
    }

    fn route(&mut self, from: SocketAddr, to: SocketAddr, buf: &[u8], fate: Fate) {
        let bound = |s: &Option<Slot<P>>| {
            s.as_ref()
                .is_some_and(|s| matches!(s.kind, Kind::Udp(_)) && s.local == Some(to))
        };
        let Some(to) = self.slots.iter().position(bound) else {
            self.datagrams.unroutable += 1;
            return;
        };
        if fate.lost {
            self.datagrams.lost += 1;
            return;
        }
        let copies = if fate.duplicated { 2 } else { 1 };
        for copy in 0..copies {
            self.deliver(to, from, buf, fate.reordered && copy == 0);
        }
        if fate.duplicated {
            self.datagrams.duplicated += 1;
        }
    }

    /// Queues the datagram at socket `to`, in front of the one before it if
    /// `overtake` and there is one.
    fn deliver(&mut self, to: usize, from: SocketAddr, buf: &[u8], overtake: bool) {
        let Some(Slot {
            kind: Kind::Udp(udp),
            inbound,
            ..
        }) = self.slot_mut(to)
        else {
            return;
        };
        if udp.queue.is_full() || inbound.free() < buf.len() {
            self.datagrams.overflowed += 1;
            return;
        }
        let before = udp.queue.back().copied();
        inbound.push(buf);
        let datagram = Datagram {
            from,
            len: buf.len(),
        };
        let reordered = match before {
            Some(older) if overtake => {
                inbound.swap_tail(older.len, buf.len());
                udp.queue.pop_back();
                // Both fit: one was just taken out, and there was room for the new one.
                let _ = udp.queue.push_back(datagram);
                let _ = udp.queue.push_back(older);
                true
            }
            _ => {
                let _ = udp.queue.push_back(datagram);
                false
            }
        };
        self.datagrams.delivered += 1;
        if reordered {
            self.datagrams.reordered += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use core::net::Ipv4Addr;

    use embedded_nal::{UdpClientStack, UdpFullStack};
    use nb::Error::{Other, WouldBlock};

    use crate::stack::mock::{DatagramFaults, MockError, MockNetwork, MockStack, Op};

    const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const ECHO: SocketAddr = SocketAddr::new(SERVER, 7);

    use super::*;

    type Net = MockNetwork<8, 64>;

    fn bound(stack: &mut MockStack<'_, 8, 64>, port: u16) -> MockSocket {
        let mut s = UdpClientStack::socket(stack).unwrap();
        UdpFullStack::bind(stack, &mut s, port).unwrap();
        s
    }

    /// Receives everything waiting, as (first byte, length) pairs.
    fn drain(
        stack: &mut MockStack<'_, 8, 64>,
        sock: &mut MockSocket,
    ) -> heapless::Vec<(u8, usize), 16> {
        let mut got = heapless::Vec::new();
        let mut buf = [0; 64];
        while let Ok((n, _)) = UdpClientStack::receive(stack, sock, &mut buf) {
            got.push((buf[0], n)).unwrap();
        }
        got
    }

    #[test]
    fn a_datagram_arrives_whole_with_its_sender_and_one_receive_takes_one() {
        let net = Net::new_sized();
        let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
        let mut s = bound(&mut server, 7);
        let mut c = UdpClientStack::socket(&mut client).unwrap();
        assert_eq!(
            UdpClientStack::receive(&mut server, &mut s, &mut [0; 8]),
            Err(WouldBlock)
        );
        UdpClientStack::connect(&mut client, &mut c, ECHO).unwrap();
        UdpClientStack::send(&mut client, &mut c, b"hello").unwrap();
        UdpClientStack::send(&mut client, &mut c, b"").unwrap();
        let mut buf = [0; 16];
        let (n, from) = UdpClientStack::receive(&mut server, &mut s, &mut buf).unwrap();
        assert_eq!(
            (&buf[..n], Some(from)),
            (&b"hello"[..], client.local_addr(&c))
        );
        UdpFullStack::send_to(&mut server, &mut s, from, b"back").unwrap();
        assert_eq!(
            UdpClientStack::receive(&mut server, &mut s, &mut buf),
            Ok((0, from))
        );
        assert_eq!(
            UdpClientStack::receive(&mut client, &mut c, &mut buf),
            Ok((4, ECHO))
        );
        let log = net.datagram_log();
        assert_eq!((log.sent, log.delivered, log.truncated), (3, 3, 0));
    }

    #[test]
    fn a_short_buffer_gets_the_start_and_the_rest_is_dropped_and_logged() {
        let net = Net::new_sized();
        let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
        let mut s = bound(&mut server, 7);
        let mut c = bound(&mut client, 0);
        UdpFullStack::send_to(&mut client, &mut c, ECHO, b"0123456789").unwrap();
        UdpFullStack::send_to(&mut client, &mut c, ECHO, b"ab").unwrap();
        let mut buf = [0; 4];
        assert_eq!(
            UdpClientStack::receive(&mut server, &mut s, &mut buf)
                .unwrap()
                .0,
            4
        );
        assert_eq!(&buf, b"0123");
        assert_eq!(
            UdpClientStack::receive(&mut server, &mut s, &mut buf)
                .unwrap()
                .0,
            2
        );
        assert_eq!(&buf[..2], b"ab");
        assert_eq!(net.datagram_log().truncated, 1);
    }

    #[test]
    fn seeded_faults_lose_duplicate_and_reorder_and_the_log_counts_each() {
        let net = Net::new_sized();
        let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
        let mut s = bound(&mut server, 7);
        let mut c = bound(&mut client, 0);
        let faults = DatagramFaults {
            lose_per_mille: 200,
            duplicate_per_mille: 200,
            reorder_per_mille: 200,
        };
        client.datagram_faults(11, faults);
        let mut seen: heapless::Vec<u8, 512> = heapless::Vec::new();
        for k in 0..200u8 {
            UdpFullStack::send_to(&mut client, &mut c, ECHO, &[k, k]).unwrap();
            // Datagrams wait in threes, so that there is one to overtake.
            if k % 3 == 2 {
                for (first, len) in drain(&mut server, &mut s) {
                    assert_eq!(len, 2);
                    seen.push(first).unwrap();
                }
            }
        }
        for (first, _) in drain(&mut server, &mut s) {
            seen.push(first).unwrap();
        }
        let log = net.datagram_log();
        assert!(
            log.lost > 0 && log.duplicated > 0 && log.reordered > 0,
            "{log:?}"
        );
        assert_eq!(log.sent, 200);
        assert_eq!(log.delivered, 200 - log.lost + log.duplicated);
        assert_eq!(seen.len() as u64, log.delivered);
        // Each reorder puts a datagram just before an older one: one more pair out
        // of order. Nothing else does.
        let later_before = |(i, a): (usize, &u8)| seen[i..].iter().filter(|b| *b < a).count();
        let inversions = seen.iter().enumerate().map(later_before).sum::<usize>() as u64;
        assert_eq!(inversions, log.reordered);
        // The same seed gives the same faults.
        let again = Net::new_sized();
        let (mut server2, mut client2) = (again.stack(SERVER), again.stack(CLIENT));
        let mut s2 = bound(&mut server2, 7);
        let mut c2 = bound(&mut client2, 0);
        client2.datagram_faults(11, faults);
        for k in 0..200u8 {
            UdpFullStack::send_to(&mut client2, &mut c2, ECHO, &[k, k]).unwrap();
            if k % 3 == 2 {
                drain(&mut server2, &mut s2);
            }
        }
        assert_eq!(again.datagram_log(), log);
    }

    #[test]
    fn full_queues_unbound_ports_and_oversized_datagrams_are_dropped_or_refused() {
        let net = Net::new_sized();
        let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
        let mut s = bound(&mut server, 7);
        let mut c = bound(&mut client, 0);
        for _ in 0..QUEUE + 2 {
            UdpFullStack::send_to(&mut client, &mut c, ECHO, b"x").unwrap();
        }
        UdpFullStack::send_to(&mut client, &mut c, SocketAddr::new(SERVER, 8), b"x").unwrap();
        assert_eq!(
            UdpFullStack::send_to(&mut client, &mut c, ECHO, &[0; 65]),
            Err(Other(MockError::TooLarge))
        );
        let log = net.datagram_log();
        assert_eq!(
            (log.delivered, log.overflowed, log.unroutable),
            (QUEUE as u64, 2, 1)
        );
        assert_eq!(drain(&mut server, &mut s).len(), QUEUE);
    }

    #[test]
    fn would_block_and_failures_aim_at_udp_calls_and_states_are_checked() {
        let net = Net::new_sized();
        let (mut server, mut client) = (net.stack(SERVER), net.stack(CLIENT));
        let mut s = bound(&mut server, 7);
        let mut c = UdpClientStack::socket(&mut client).unwrap();
        assert_eq!(
            UdpFullStack::send_to(&mut client, &mut c, ECHO, b"x"),
            Err(Other(MockError::InvalidState)),
            "an unbound socket has no source address"
        );
        assert_eq!(
            UdpClientStack::send(&mut client, &mut c, b"x"),
            Err(Other(MockError::InvalidState))
        );
        UdpClientStack::connect(&mut client, &mut c, ECHO).unwrap();
        client.would_block_next(Op::SendTo, 1);
        assert_eq!(
            UdpClientStack::send(&mut client, &mut c, b"x"),
            Err(WouldBlock)
        );
        UdpClientStack::send(&mut client, &mut c, b"x").unwrap();
        server.would_block_next(Op::ReceiveFrom, 1);
        assert_eq!(
            UdpClientStack::receive(&mut server, &mut s, &mut [0; 4]),
            Err(WouldBlock)
        );
        assert_eq!(
            UdpClientStack::receive(&mut server, &mut s, &mut [0; 4]).map(|r| r.0),
            Ok(1)
        );
        let mut again = UdpClientStack::socket(&mut server).unwrap();
        assert_eq!(
            UdpFullStack::bind(&mut server, &mut again, 7),
            Err(MockError::AddrInUse)
        );
        assert_eq!(
            UdpFullStack::bind(&mut server, &mut s, 9),
            Err(MockError::InvalidState)
        );
        // TCP and UDP ports are apart: a TCP listener may take port 7 too.
        let mut tcp = embedded_nal::TcpClientStack::socket(&mut server).unwrap();
        embedded_nal::TcpFullStack::bind(&mut server, &mut tcp, 7).unwrap();
        assert_eq!(
            embedded_nal::TcpClientStack::send(&mut server, &mut s, b"x"),
            Err(Other(MockError::InvalidState))
        );
    }
}
