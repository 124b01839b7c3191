//! [`IdleWait`]: what a host loop over a [`StdStack`] does between two polls.

use ::std::thread;
use ::std::time::Instant as StdInstant;

use super::StdStack;
use crate::progress::Progress;
use crate::time::Duration;

/// The run-loop policy of a host program: after a poll that made progress, poll
/// again at once; after an idle poll, yield the core but keep polling while the
/// last progress is recent (a reply is likely on its way, and a loop that is
/// already running answers it sooner than one the OS has to wake); after that,
/// sleep in [`StdStack::wait`] until a socket has news.
///
/// The spin is what makes a round trip as short as a blocking server's (the
/// `server` example measured from another process, see docs/figures.md); the
/// sleep keeps an idle program far below 1 % of a core (`scripts/idle_cpu.sh`).
///
/// ```no_run
/// use nal_echo::stack::std::{IdleWait, StdStack};
/// use nal_echo::time::StdClock;
/// use nal_echo::{EchoServer, Progress, ServerConfig};
/// # let display = nal_echo::display::RecordingDisplay::new();
///
/// let stack = StdStack::new();
/// let mut idle = IdleWait::new(&stack);
/// let mut server = EchoServer::new(stack, display, ServerConfig::default());
/// let clock = StdClock::new();
/// loop {
///     let progress = server.poll(clock.instant()).unwrap_or(Progress::Idle);
///     idle.after_poll(progress);
/// }
/// ```
#[derive(Debug)]
pub struct IdleWait {
    /// A clone of the loop's stack: clones share the list of sockets watched.
    stack: StdStack,
    spin: ::std::time::Duration,
    longest: Duration,
    last_progress: StdInstant,
}

/// What [`IdleWait`] does after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    PollAgain,
    Yield,
    Sleep,
}

impl IdleWait {
    /// How long after the last progress the loop keeps polling: several round
    /// trips on a LAN, a few hundred polls on a host.
    pub const SPIN: ::core::time::Duration = ::core::time::Duration::from_millis(2);
    /// The longest sleep: a socket's news ends it at once, so this only paces the
    /// program's timers (idle eviction, a client's period, redraws, Ctrl-C).
    pub const LONGEST_SLEEP: Duration = Duration::from_millis(10);

    /// The policy for a loop that polls `stack` (or a clone of it).
    pub fn new(stack: &StdStack) -> Self {
        Self {
            stack: stack.clone(),
            spin: Self::SPIN,
            longest: Self::LONGEST_SLEEP,
            last_progress: StdInstant::now(),
        }
    }

    /// Keep polling this long after the last progress (zero: sleep after every idle
    /// poll, the least CPU and the longest round trip). A `core::time::Duration`
    /// rather than the crate's millisecond [`Duration`]: a useful spin is a few
    /// round trips on a host, tens to hundreds of microseconds.
    pub fn with_spin(mut self, spin: ::core::time::Duration) -> Self {
        self.spin = spin;
        self
    }

    /// Sleep at most this long, so that the loop's own timers fire on time.
    pub fn with_longest_sleep(mut self, longest: Duration) -> Self {
        self.longest = longest;
        self
    }

    /// Returns when the loop should poll again: at once after progress, after a
    /// yield while progress is recent, else once a socket has news or the longest
    /// sleep passed.
    pub fn after_poll(&mut self, progress: Progress) {
        let now = StdInstant::now();
        match self.step(progress, now) {
            Step::PollAgain => self.last_progress = now,
            Step::Yield => thread::yield_now(),
            Step::Sleep => {
                self.stack.wait(self.longest);
            }
        }
    }

    fn step(&self, progress: Progress, now: StdInstant) -> Step {
        if progress.is_busy() {
            Step::PollAgain
        } else if now.saturating_duration_since(self.last_progress) < self.spin {
            Step::Yield
        } else {
            Step::Sleep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::std::time::Duration as StdDuration;

    fn policy(spin_ms: u64) -> IdleWait {
        IdleWait::new(&StdStack::new()).with_spin(StdDuration::from_millis(spin_ms))
    }

    #[test]
    fn progress_polls_again_and_restarts_the_spin() {
        let mut idle = policy(2);
        let start = idle.last_progress;
        let later = start + StdDuration::from_millis(5);
        assert_eq!(idle.step(Progress::Idle, later), Step::Sleep);
        assert_eq!(idle.step(Progress::Busy, later), Step::PollAgain);
        idle.after_poll(Progress::Busy);
        assert!(
            idle.last_progress > start,
            "progress moves the spin's start"
        );
    }

    #[test]
    fn an_idle_poll_yields_within_the_spin_and_sleeps_after_it() {
        let idle = policy(2);
        let start = idle.last_progress;
        let at = |us| start + StdDuration::from_micros(us);
        assert_eq!(idle.step(Progress::Idle, at(0)), Step::Yield);
        assert_eq!(idle.step(Progress::Idle, at(1_999)), Step::Yield);
        assert_eq!(idle.step(Progress::Idle, at(2_000)), Step::Sleep);
    }

    #[test]
    fn no_spin_sleeps_after_every_idle_poll() {
        let idle = policy(0);
        assert_eq!(idle.step(Progress::Idle, idle.last_progress), Step::Sleep);
    }
}
