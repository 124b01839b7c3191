//! Per-host fault injection: scripted failures, limits and seeded chaos.

use core::net::IpAddr;

use super::error::MockError;

/// A stack call, to aim a fault at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Op {
    /// `TcpClientStack::socket`.
    Socket,
    /// `TcpClientStack::connect`.
    Connect,
    /// `TcpClientStack::send`.
    Send,
    /// `TcpClientStack::receive`.
    Receive,
    /// `TcpFullStack::accept`.
    Accept,
    /// `TcpClientStack::close`.
    Close,
    /// `TcpFullStack::bind`.
    Bind,
    /// `TcpFullStack::listen`.
    Listen,
    /// `UdpClientStack::send` and `UdpFullStack::send_to`.
    SendTo,
    /// `UdpClientStack::receive`.
    ReceiveFrom,
}

const OPS: usize = 10;

impl Op {
    /// Only these can answer `WouldBlock`.
    const fn is_nb(self) -> bool {
        matches!(
            self,
            Op::Connect | Op::Send | Op::Receive | Op::Accept | Op::SendTo | Op::ReceiveFrom
        )
    }
}

/// A xorshift64 generator: tiny, and the same seed gives the same faults everywhere.
struct Chaos {
    state: u64,
    per_mille: u16,
}

impl Chaos {
    // xorshift never leaves zero, so the seed is mixed with a non-zero constant.
    const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new(seed: u64, per_mille: u16) -> Self {
        let state = match seed ^ Self::MIX {
            0 => Self::MIX,
            s => s,
        };
        Self {
            state,
            per_mille: per_mille.min(1000),
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn blocks(&mut self) -> bool {
        self.chance(self.per_mille)
    }

    /// True with a chance of `per_mille`/1000.
    fn chance(&mut self, per_mille: u16) -> bool {
        self.next() % 1000 < u64::from(per_mille)
    }

    /// A length in `1..=n`, for `n > 0`.
    fn length(&mut self, n: usize) -> usize {
        let pick = self.next() % (n as u64);
        // `pick < n`, so it fits back into usize.
        1 + pick as usize
    }
}

/// What the network does to the datagrams a host sends, each a chance in 1000
/// (values above 1000 count as 1000). Drawn from a seeded generator of its own, so
/// that the same seed and sends give the same faults, whatever TCP chaos does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DatagramFaults {
    /// The datagram is lost.
    pub lose_per_mille: u16,
    /// The datagram arrives twice.
    pub duplicate_per_mille: u16,
    /// The datagram overtakes the one before it, if that one is still waiting in the
    /// receiver's queue.
    pub reorder_per_mille: u16,
}

/// What happens to one datagram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Fate {
    pub(super) lost: bool,
    pub(super) duplicated: bool,
    pub(super) reordered: bool,
}

struct DatagramChaos {
    rng: Chaos,
    faults: DatagramFaults,
}

/// The faults set for one host (IP address); shared by all its `MockStack` handles.
pub(super) struct Host {
    pub(super) ip: IpAddr,
    fail: [(u32, MockError); OPS],
    block: [u32; OPS],
    send_max: Option<usize>,
    receive_max: Option<usize>,
    pub(super) socket_max: Option<usize>,
    chaos: Option<Chaos>,
    datagram_chaos: Option<DatagramChaos>,
}

impl Host {
    pub(super) const fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            fail: [(0, MockError::Injected); OPS],
            block: [0; OPS],
            send_max: None,
            receive_max: None,
            socket_max: None,
            chaos: None,
            datagram_chaos: None,
        }
    }

    pub(super) fn fail_next(&mut self, op: Op, count: u32, err: MockError) {
        self.fail[op as usize] = (count, err);
    }

    pub(super) fn would_block_next(&mut self, op: Op, count: u32) {
        if op.is_nb() {
            self.block[op as usize] = count;
        }
    }

    pub(super) fn limit_send(&mut self, max: Option<usize>) {
        self.send_max = max;
    }

    pub(super) fn limit_receive(&mut self, max: Option<usize>) {
        self.receive_max = max;
    }

    pub(super) fn chaos(&mut self, seed: u64, per_mille: u16) {
        self.chaos = Some(Chaos::new(seed, per_mille));
    }

    pub(super) fn chaos_off(&mut self) {
        self.chaos = None;
    }

    pub(super) fn datagram_faults(&mut self, seed: u64, faults: DatagramFaults) {
        self.datagram_chaos = Some(DatagramChaos {
            rng: Chaos::new(seed, 0),
            faults,
        });
    }

    /// What the network does to the next datagram this host sends.
    pub(super) fn datagram_fate(&mut self) -> Fate {
        let Some(DatagramChaos { rng, faults }) = &mut self.datagram_chaos else {
            return Fate::default();
        };
        Fate {
            lost: rng.chance(faults.lose_per_mille),
            duplicated: rng.chance(faults.duplicate_per_mille),
            reordered: rng.chance(faults.reorder_per_mille),
        }
    }

    /// A scripted failure due for `op`, if any; consumes one.
    pub(super) fn take_failure(&mut self, op: Op) -> Option<MockError> {
        let (count, err) = &mut self.fail[op as usize];
        if *count == 0 {
            return None;
        }
        *count -= 1;
        Some(*err)
    }

    /// A failure, scripted `WouldBlock` or chaos `WouldBlock` due for an nb `op`.
    pub(super) fn take_nb_fault(&mut self, op: Op) -> Option<nb::Error<MockError>> {
        if let Some(err) = self.take_failure(op) {
            return Some(nb::Error::Other(err));
        }
        let block = &mut self.block[op as usize];
        if *block > 0 {
            *block -= 1;
            return Some(nb::Error::WouldBlock);
        }
        let chaos_blocks = self.chaos.as_mut().is_some_and(Chaos::blocks);
        chaos_blocks.then_some(nb::Error::WouldBlock)
    }

    /// How many of `want` bytes a send takes.
    pub(super) fn send_len(&mut self, want: usize) -> usize {
        let capped = self.send_max.map_or(want, |max| want.min(max));
        self.chaos_len(capped)
    }

    /// How many of `want` bytes a receive gives.
    pub(super) fn receive_len(&mut self, want: usize) -> usize {
        let capped = self.receive_max.map_or(want, |max| want.min(max));
        self.chaos_len(capped)
    }

    fn chaos_len(&mut self, n: usize) -> usize {
        match &mut self.chaos {
            Some(chaos) if n > 0 => chaos.length(n),
            _ => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn host() -> Host {
        Host::new(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    #[test]
    fn failures_come_before_would_block_and_run_out() {
        let mut h = host();
        h.fail_next(Op::Send, 1, MockError::Reset);
        h.would_block_next(Op::Send, 1);
        assert_eq!(
            h.take_nb_fault(Op::Send),
            Some(nb::Error::Other(MockError::Reset))
        );
        assert_eq!(h.take_nb_fault(Op::Send), Some(nb::Error::WouldBlock));
        assert_eq!(h.take_nb_fault(Op::Send), None);
        assert_eq!(h.take_nb_fault(Op::Receive), None);
    }

    #[test]
    fn would_block_is_ignored_for_calls_that_cannot_block() {
        let mut h = host();
        h.would_block_next(Op::Socket, 3);
        assert_eq!(h.take_nb_fault(Op::Socket), None);
    }

    #[test]
    fn chaos_lengths_stay_in_range_and_seed_zero_works() {
        let mut h = host();
        h.chaos(0, 0);
        for want in 1..50 {
            let n = h.send_len(want);
            assert!((1..=want).contains(&n), "{n} of {want}");
        }
        assert_eq!(h.receive_len(0), 0);
    }

    #[test]
    fn chaos_per_mille_is_clamped_to_always() {
        let mut h = host();
        h.chaos(7, u16::MAX);
        assert!((0..100).all(|_| h.take_nb_fault(Op::Accept) == Some(nb::Error::WouldBlock)));
    }
}
