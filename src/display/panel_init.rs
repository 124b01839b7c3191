//! [`PanelInit`]: a panel's init, tried again with backoff until it works.

use crate::client::Backoff;
use crate::time::Instant;

/// Retries a display's init from the main loop until it succeeds, waiting longer
/// after each failure (the [`Backoff`] of the clients: 500 ms doubling up to 30 s,
/// no jitter by default), so that a panel that missed its first init (powered late,
/// a glitch on the bus) lights up later, and the loop never waits for it.
///
/// ```
/// use nal_echo::display::PanelInit;
/// use nal_echo::Instant;
///
/// let mut panel = PanelInit::new();
/// let mut tries = 0;
/// let mut init = || { tries += 1; if tries < 2 { Err("NACK") } else { Ok(()) } };
/// assert_eq!(panel.poll(Instant::ZERO, &mut init), Some(Err("NACK")));
/// assert_eq!(panel.poll(Instant::from_millis(499), &mut init), None, "backing off");
/// assert_eq!(panel.poll(Instant::from_millis(500), &mut init), Some(Ok(())));
/// assert!(panel.is_done() && panel.failures() == 1);
/// assert_eq!(panel.poll(Instant::from_millis(9000), &mut init), None, "done");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelInit {
    backoff: Backoff,
    /// When the next try is due; `None` once one worked.
    next: Option<Instant>,
    failures_in_a_row: u32,
    failures: u32,
}

impl Default for PanelInit {
    fn default() -> Self {
        Self::new()
    }
}

impl PanelInit {
    /// An init due at once.
    pub fn new() -> Self {
        Self {
            backoff: Backoff {
                jitter: crate::time::Duration::from_millis(0),
                ..Backoff::default()
            },
            next: Some(Instant::ZERO),
            failures_in_a_row: 0,
            failures: 0,
        }
    }

    /// Waits after failures by `backoff` instead.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Runs `init` if a try is due at `now`: `None` if none was (backing off, or
    /// done), else what it returned. A failure schedules the next try.
    pub fn poll<E>(
        &mut self,
        now: Instant,
        init: impl FnOnce() -> Result<(), E>,
    ) -> Option<Result<(), E>> {
        let due = self.next?;
        if now < due {
            return None;
        }
        let result = init();
        match result {
            Ok(()) => self.next = None,
            Err(_) => {
                self.failures = self.failures.wrapping_add(1);
                self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
                self.next = Some(now + self.backoff.delay(self.failures_in_a_row, 0));
            }
        }
        Some(result)
    }

    /// Tries again at once (the panel was replaced or lost its power, for example).
    pub fn restart(&mut self) {
        self.next = Some(Instant::ZERO);
        self.failures_in_a_row = 0;
    }

    /// Whether an init has worked (since the last [`restart`](Self::restart)).
    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }

    /// Failed tries so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_doubling_to_the_cap_and_a_success_ends_it() {
        let mut panel = PanelInit::new();
        let mut at = Instant::ZERO;
        let mut waits = heapless::Vec::<u64, 10>::new();
        for _ in 0..9 {
            assert_eq!(panel.poll(at, || Err::<(), _>(())), Some(Err(())));
            let next = panel.next.unwrap();
            waits.push((next - at).total_millis()).unwrap();
            assert_eq!(
                panel.poll(
                    Instant::from_millis(next.total_millis() - 1),
                    || Err::<(), _>(())
                ),
                None
            );
            at = next;
        }
        assert_eq!(
            &waits[..],
            &[500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(panel.poll(at, || Ok::<(), ()>(())), Some(Ok(())));
        assert_eq!((panel.is_done(), panel.failures()), (true, 9));
        panel.restart();
        assert_eq!(panel.poll(at, || Err::<(), _>(())), Some(Err(())));
        assert_eq!(
            (panel.next.unwrap() - at).total_millis(),
            500,
            "the count starts again"
        );
    }
}
