//! Ephemeral ports for `connect` (and for a listener bound to port 0): smoltcp has
//! no allocator of its own, the caller must name the local port.

/// The IANA dynamic range, which is also what Linux and smoltcp-nal draw from.
pub(super) const FIRST: u16 = 49152;
const COUNT: u32 = 1 << 14;

/// The next port to try, handed out in turn so that a reconnect does not reuse the
/// port of the connection just closed (the peer may still hold it in TIME-WAIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ports {
    next: u16,
}

impl Ports {
    /// Starts at `seed` if it lies in the dynamic range, else maps it into the range.
    pub(super) const fn seeded(seed: u16) -> Self {
        let next = if seed >= FIRST {
            seed
        } else {
            FIRST + seed % (COUNT as u16)
        };
        Self { next }
    }

    /// The next port, from the cursor on, that is not `in_use`; `None` only if every
    /// port of the range is taken.
    pub(super) fn allocate(&mut self, in_use: impl Fn(u16) -> bool) -> Option<u16> {
        for _ in 0..COUNT {
            let port = self.next;
            self.next = if port == u16::MAX { FIRST } else { port + 1 };
            if !in_use(port) {
                return Some(port);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_in_range_is_the_first_port() {
        let mut p = Ports::seeded(50_000);
        assert_eq!(p.allocate(|_| false), Some(50_000));
        assert_eq!(p.allocate(|_| false), Some(50_001));
    }

    #[test]
    fn seed_below_range_is_mapped_into_it() {
        assert_eq!(Ports::seeded(0).allocate(|_| false), Some(FIRST));
        assert_eq!(Ports::seeded(7).allocate(|_| false), Some(FIRST + 7));
        assert_eq!(
            Ports::seeded(16_384 + 3).allocate(|_| false),
            Some(FIRST + 3)
        );
        assert_eq!(Ports::seeded(49_151).allocate(|_| false), Some(65_535));
    }

    #[test]
    fn wraps_from_the_top_to_the_start_of_the_range() {
        let mut p = Ports::seeded(u16::MAX);
        assert_eq!(p.allocate(|_| false), Some(u16::MAX));
        assert_eq!(p.allocate(|_| false), Some(FIRST));
    }

    #[test]
    fn skips_ports_in_use() {
        let mut p = Ports::seeded(u16::MAX - 1);
        let busy = |port: u16| port == u16::MAX - 1 || port == u16::MAX || port == FIRST;
        assert_eq!(p.allocate(busy), Some(FIRST + 1));
        assert_eq!(p.allocate(busy), Some(FIRST + 2));
    }

    #[test]
    fn a_full_range_gives_none_without_looping_forever() {
        let mut p = Ports::seeded(0);
        assert_eq!(p.allocate(|_| true), None);
        // The cursor went round once and is back where it started.
        assert_eq!(p, Ports::seeded(0));
    }
}
