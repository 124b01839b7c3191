//! [`Backoff`]: how long a client waits before it tries to connect again.

use crate::time::Duration;

/// Exponential backoff with jitter.
///
/// After the `n`-th failure in a row (n = 1, 2, ...) the wait is
/// `min(initial * 2^(n-1), max) + r`, with `r` drawn evenly from `0..=jitter`. So the
/// longest wait is `max + jitter`; the jitter keeps boards that lost the server at
/// the same moment from all coming back at the same moment. A successful connection
/// starts the count again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backoff {
    /// Wait after the first failure. Default 500 ms.
    pub initial: Duration,
    /// Cap of the exponential part. Default 30 s.
    pub max: Duration,
    /// Largest random extra wait. Default 250 ms.
    pub jitter: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter: Duration::from_millis(250),
        }
    }
}

impl Backoff {
    /// The wait after `failures` failures in a row, with `random` as the source of the
    /// jitter (any value; it is reduced into `0..=jitter`).
    pub fn delay(&self, failures: u32, random: u32) -> Duration {
        let mut base = self.initial;
        for _ in 1..failures.min(64) {
            if base >= self.max {
                break;
            }
            base = base.doubled();
        }
        let base = base.min(self.max);
        let jitter = match self.jitter.total_millis() {
            0 => 0,
            j => u64::from(random) % (j + 1),
        };
        base + Duration::from_millis(jitter)
    }
}

/// A small xorshift generator: jitter needs to differ between boards, not to be
/// unpredictable, and a generator crate would be more code than this.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Jitter {
    state: u32,
}

impl Jitter {
    pub(crate) fn new(seed: u32) -> Self {
        // xorshift never leaves 0, so a zero seed is moved off it.
        Self {
            state: if seed == 0 { 0x9E37_79B9 } else { seed },
        }
    }

    pub(crate) fn next(&mut self) -> u32 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            jitter: Duration::ZERO,
        }
    }

    #[test]
    fn doubles_until_the_cap() {
        let b = no_jitter();
        let waits: [u64; 6] = core::array::from_fn(|i| b.delay(i as u32 + 1, 0).total_millis());
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX, 0).total_millis(), 1000);
    }

    #[test]
    fn jitter_stays_within_its_bound_and_varies() {
        let b = Backoff {
            jitter: Duration::from_millis(50),
            ..no_jitter()
        };
        let mut rng = Jitter::new(7);
        let mut seen = [false; 51];
        for _ in 0..2000 {
            let extra = b.delay(1, rng.next()).total_millis() - 100;
            assert!(extra <= 50);
            seen[extra as usize] = true;
        }
        assert!(
            seen.iter().filter(|s| **s).count() > 40,
            "jitter barely varies"
        );
    }

    #[test]
    fn zero_seed_still_generates() {
        let mut rng = Jitter::new(0);
        assert_ne!(rng.next(), 0);
    }
}
