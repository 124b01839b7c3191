//! [`UdpPeriodicClient`]: the periodic client over UDP.

use core::fmt;
use core::mem;

use embedded_nal::{nb, UdpClientStack};
use heapless::{Deque, Vec};

use crate::client::backoff::Jitter;
use crate::client::config::ClientConfig;
use crate::client::error::ClientError;
use crate::client::schedule::Schedule;
use crate::client::stats::ClientStats;
use crate::log::trace_event;
use crate::progress::Progress;
use crate::time::{Clock, Instant};

/// Datagrams awaiting their echo; when this many wait, ticks are missed.
const IN_FLIGHT: usize = 8;
/// Datagrams whose fate is known (echoed or lost) kept to tell a duplicate or a
/// late echo from a wrong one.
const SETTLED: usize = 8;
/// Stack errors in a row (no send or receive going through between them) after
/// which the socket itself is taken to be broken: closed, and opened again after
/// the backoff wait. An error about one datagram (an ICMP error on a host) comes
/// between successes; a stack whose link ended (the AT modem's) reports one on
/// every call until the socket is closed.
const ERRORS_IN_A_ROW: u8 = 3;
/// Receives per poll; bounded so that a flood cannot hold `poll`.
const RECEIVES_PER_POLL: usize = 4;
/// The receive buffer: an echo this long or longer cannot be checked whole, so it
/// counts as a mismatch. Messages are at most `ECHO_BUF - 1` bytes over UDP.
const ECHO_BUF: usize = 512;

/// A datagram sent: listed message `msg`, awaiting its echo since `at`.
#[derive(Debug, Clone, Copy)]
struct Sent {
    msg: u32,
    at: Instant,
}

/// A datagram whose fate is known.
#[derive(Debug, Clone, Copy)]
struct Settled {
    msg: u32,
    /// Counted lost, and no late echo has come yet.
    awaiting_late: bool,
}

struct Socketed<Socket, Error> {
    socket: Socket,
    /// Stack errors since the last send or receive that went through, and the last.
    errors_in_a_row: u8,
    last_error: Option<Error>,
    schedule: Schedule,
    next_msg: usize,
    /// A message due whose send the stack has not taken yet.
    unsent: Option<u32>,
    in_flight: Vec<Sent, IN_FLIGHT>,
    settled: Deque<Settled, SETTLED>,
}

// No heap to box the socket's state into, and there is one state per client.
#[allow(clippy::large_enum_variant)]
enum State<Socket, Error> {
    Waiting { until: Instant },
    Open(Socketed<Socket, Error>),
}

/// What became of one datagram received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    Matched,
    Duplicate,
    Late,
    Mismatch,
}

/// A client over any embedded-nal [`UdpClientStack`] that sends
/// [`messages`](ClientConfig::messages) in turn, one datagram per
/// [`period`](ClientConfig::period), on the same drift-free schedule as the TCP
/// [`PeriodicClient`](crate::client::PeriodicClient), and matches each echo to a
/// datagram it sent.
///
/// UDP has no connection to lose, so nothing that happens to one datagram makes
/// the client start over: an echo that does not come within the
/// [`echo_timeout`](ClientConfig::echo_timeout) is counted
/// [`lost`](ClientStats::lost); one that comes after that is counted
/// [`late`](ClientStats::late); a second echo of a datagram is a
/// [`duplicate`](ClientStats::duplicates); an echo that matches nothing sent is a
/// [`mismatch`](ClientStats::mismatches); an error the stack reports for a send or
/// receive (an ICMP "port unreachable" while the server restarts) is counted in
/// [`errors`](ClientStats::errors). A failure, retried after the
/// [`Backoff`](crate::client::Backoff) wait, is a socket that cannot be made or
/// connected, or one the stack fails 3 calls in a row with nothing going through
/// between them (a link that ended, as the AT modem's does: it answers every call
/// with the error until the socket is closed); the client closes it and opens a
/// new one.
///
/// An echo is matched by its bytes to the newest datagram in flight with the same
/// bytes: the tutorial's two messages alternate, so an echo cannot tell which of two
/// equal datagrams it answers, and the newest is the likely one (an older one whose
/// echo is missing is then counted lost at its timeout). The counts are exact; a
/// round trip is exact unless an echo is slower than the period times the number of
/// messages. Messages are at most 511 bytes; a longer echo is a mismatch.
pub struct UdpPeriodicClient<Stack, Timer>
where
    Stack: UdpClientStack,
{
    stack: Stack,
    timer: Timer,
    config: ClientConfig,
    state: State<Stack::UdpSocket, Stack::Error>,
    stats: ClientStats,
    jitter: Jitter,
}

impl<Stack, Timer> fmt::Debug for UdpPeriodicClient<Stack, Timer>
where
    Stack: UdpClientStack,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpPeriodicClient")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<Stack, Timer> UdpPeriodicClient<Stack, Timer>
where
    Stack: UdpClientStack,
    Timer: Clock,
{
    /// A client of the [`messages`](ClientConfig::messages) of `config`; it opens
    /// its socket on its first poll. `connect_timeout` does not apply (a UDP
    /// connect only sets the remote).
    pub fn new(stack: Stack, timer: Timer, config: ClientConfig) -> Self {
        let jitter = Jitter::new(config.seed);
        Self {
            stack,
            timer,
            config,
            state: State::Waiting {
                until: Instant::ZERO,
            },
            stats: ClientStats::default(),
            jitter,
        }
    }

    /// Do what can be done now: open the socket, take and match echoes, count the
    /// datagrams whose echo is overdue, send the message that is due.
    ///
    /// Returns whether anything happened. An `Err` reports that the socket could
    /// not be made or connected, or that the stack failed 3 calls in a row with
    /// nothing going through between them (the socket is closed); the client tries
    /// again after the backoff wait.
    pub fn poll(&mut self) -> Result<Progress, ClientError<Stack::Error>> {
        let now = self.timer.now();
        match mem::replace(&mut self.state, State::Waiting { until: now }) {
            State::Waiting { until } if now < until => {
                self.state = State::Waiting { until };
                Ok(Progress::Idle)
            }
            State::Waiting { .. } => self.open(now).map(|()| Progress::Busy),
            State::Open(mut link) => {
                let progress = self.exchange(&mut link, now);
                if link.errors_in_a_row < ERRORS_IN_A_ROW {
                    self.state = State::Open(link);
                    return Ok(Progress::from_flag(progress));
                }
                let _ = self.stack.close(link.socket);
                match link.last_error {
                    Some(e) => Err(self.fail(now, ClientError::Connection(e))),
                    None => Ok(Progress::Busy),
                }
            }
        }
    }

    /// Counters of what the client has done.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// The settings in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Datagrams sent whose echo has not come and is not yet overdue.
    pub fn in_flight(&self) -> usize {
        match &self.state {
            State::Open(link) => link.in_flight.len(),
            State::Waiting { .. } => 0,
        }
    }

    /// The stack, e.g. to drive a stack that needs polling of its own (smoltcp).
    pub fn stack_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }

    /// Close the socket, if any, and give the stack and the timer back.
    pub fn release(mut self) -> (Stack, Timer) {
        let waiting = State::Waiting {
            until: Instant::ZERO,
        };
        if let State::Open(link) = mem::replace(&mut self.state, waiting) {
            let _ = self.stack.close(link.socket);
        }
        (self.stack, self.timer)
    }

    fn open(&mut self, now: Instant) -> Result<(), ClientError<Stack::Error>> {
        let mut socket = match self.stack.socket() {
            Ok(socket) => socket,
            Err(e) => return Err(self.fail(now, ClientError::Socket(e))),
        };
        if let Err(e) = self.stack.connect(&mut socket, self.config.remote) {
            let _ = self.stack.close(socket);
            return Err(self.fail(now, ClientError::Connect(e)));
        }
        trace_event!(info, "UDP socket open");
        self.stats.connects = self.stats.connects.wrapping_add(1);
        self.stats.consecutive_failures = 0;
        let mut link = Socketed {
            socket,
            errors_in_a_row: 0,
            last_error: None,
            schedule: Schedule::starting(now),
            next_msg: 0,
            unsent: None,
            in_flight: Vec::new(),
            settled: Deque::new(),
        };
        self.exchange(&mut link, now);
        self.state = State::Open(link);
        Ok(())
    }

    fn exchange(
        &mut self,
        link: &mut Socketed<Stack::UdpSocket, Stack::Error>,
        now: Instant,
    ) -> bool {
        let mut progress = self.take_echoes(link, now);
        if link.errors_in_a_row >= ERRORS_IN_A_ROW {
            return progress;
        }
        self.expire(link, now);
        self.schedule(link, now);
        progress |= self.send(link, now);
        progress
    }

    fn take_echoes(
        &mut self,
        link: &mut Socketed<Stack::UdpSocket, Stack::Error>,
        now: Instant,
    ) -> bool {
        let mut buf = [0u8; ECHO_BUF];
        let mut progress = false;
        for _ in 0..RECEIVES_PER_POLL {
            match self.stack.receive(&mut link.socket, &mut buf) {
                Ok((n, from)) => {
                    link.errors_in_a_row = 0;
                    self.stats.bytes_received = self.stats.bytes_received.wrapping_add(n as u64);
                    let echo = buf.get(..n).filter(|_| n < ECHO_BUF);
                    let kind = match echo {
                        Some(echo) if from == self.config.remote => self.classify(link, echo, now),
                        _ => Echo::Mismatch,
                    };
                    self.count(kind);
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => {
                    self.count_error(link, e);
                    if link.errors_in_a_row >= ERRORS_IN_A_ROW {
                        return true;
                    }
                }
            }
            progress = true;
        }
        progress
    }

    /// Matches an echo to the newest datagram in flight with the same bytes, else to
    /// one whose fate is known.
    fn classify(
        &mut self,
        link: &mut Socketed<Stack::UdpSocket, Stack::Error>,
        echo: &[u8],
        now: Instant,
    ) -> Echo {
        let messages = self.config.messages;
        let same = |msg: u32| listed(messages, msg) == echo;
        if let Some(i) = link.in_flight.iter().rposition(|s| same(s.msg)) {
            let sent = link.in_flight.remove(i);
            self.stats.record_rtt(now - sent.at);
            settle(&mut link.settled, sent.msg, false);
            return Echo::Matched;
        }
        let lost = link
            .settled
            .iter_mut()
            .find(|s| s.awaiting_late && same(s.msg));
        if let Some(lost) = lost {
            lost.awaiting_late = false;
            return Echo::Late;
        }
        if link.settled.iter().any(|s| same(s.msg)) {
            Echo::Duplicate
        } else {
            Echo::Mismatch
        }
    }

    fn count(&mut self, kind: Echo) {
        let s = &mut self.stats;
        let counter = match kind {
            Echo::Matched => return,
            Echo::Duplicate => &mut s.duplicates,
            Echo::Late => &mut s.late,
            Echo::Mismatch => &mut s.mismatches,
        };
        *counter = counter.wrapping_add(1);
    }

    fn count_error(
        &mut self,
        link: &mut Socketed<Stack::UdpSocket, Stack::Error>,
        error: Stack::Error,
    ) {
        trace_event!(debug, "UDP call failed: {:?}", crate::log::Dbg(&error));
        self.stats.errors = self.stats.errors.wrapping_add(1);
        link.errors_in_a_row = link.errors_in_a_row.saturating_add(1);
        link.last_error = Some(error);
    }

    /// Counts the datagrams whose echo is overdue as lost.
    fn expire(&mut self, link: &mut Socketed<Stack::UdpSocket, Stack::Error>, now: Instant) {
        while let Some(i) = link
            .in_flight
            .iter()
            .position(|s| now - s.at >= self.config.echo_timeout)
        {
            let sent = link.in_flight.remove(i);
            self.stats.lost = self.stats.lost.wrapping_add(1);
            settle(&mut link.settled, sent.msg, true);
        }
    }

    /// Makes the message of the latest due tick the one to send; a tick whose
    /// message cannot be sent (the last one still unsent, or too many in flight) is
    /// missed.
    fn schedule(&mut self, link: &mut Socketed<Stack::UdpSocket, Stack::Error>, now: Instant) {
        let count = self.config.messages.len();
        if count == 0 {
            return;
        }
        let Some(late_ticks) = link.schedule.take_due(now, self.config.period) else {
            return;
        };
        let blocked = link.unsent.is_some() || link.in_flight.is_full();
        let missed = late_ticks + u64::from(blocked);
        let missed = u32::try_from(missed).unwrap_or(u32::MAX);
        self.stats.missed_ticks = self.stats.missed_ticks.wrapping_add(missed);
        if blocked {
            return;
        }
        link.unsent = Some(u32::try_from(link.next_msg).unwrap_or(u32::MAX));
        link.next_msg = (link.next_msg + 1) % count;
    }

    fn send(&mut self, link: &mut Socketed<Stack::UdpSocket, Stack::Error>, now: Instant) -> bool {
        let Some(msg) = link.unsent else {
            return false;
        };
        let bytes = listed(self.config.messages, msg);
        match self.stack.send(&mut link.socket, bytes) {
            Ok(()) => {
                link.errors_in_a_row = 0;
                self.stats.sent = self.stats.sent.wrapping_add(1);
                self.stats.bytes_sent = self.stats.bytes_sent.wrapping_add(bytes.len() as u64);
                // Cannot fail: a message is made unsent only while there is room.
                let _ = link.in_flight.push(Sent { msg, at: now });
            }
            Err(nb::Error::WouldBlock) => return false,
            Err(nb::Error::Other(e)) => self.count_error(link, e),
        }
        link.unsent = None;
        true
    }

    fn fail(
        &mut self,
        now: Instant,
        error: ClientError<Stack::Error>,
    ) -> ClientError<Stack::Error> {
        let wait = self
            .stats
            .record_failure(&self.config.backoff, self.jitter.next());
        trace_event!(
            warn,
            "UDP socket failed, retry in {} ms",
            wait.total_millis()
        );
        self.state = State::Waiting { until: now + wait };
        error
    }
}

/// Remembers a datagram's fate, forgetting the oldest when full.
fn settle(settled: &mut Deque<Settled, SETTLED>, msg: u32, lost: bool) {
    if settled.is_full() {
        settled.pop_front();
    }
    let _ = settled.push_back(Settled {
        msg,
        awaiting_late: lost,
    });
}

/// Listed message `i`; empty if there is none.
fn listed(messages: &'static [&'static [u8]], i: u32) -> &'static [u8] {
    messages.get(i as usize).copied().unwrap_or_default()
}
