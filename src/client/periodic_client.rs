//! [`PeriodicClient`]: sends messages on a fixed schedule, verifies every echo and
//! reconnects on its own.

use core::mem;

use embedded_nal::{nb, TcpClientStack};
use heapless::Deque;

use crate::client::backoff::Jitter;
use crate::client::config::ClientConfig;
use crate::client::error::ClientError;
use crate::client::stats::ClientStats;
use crate::log::trace_event;
use crate::progress::Progress;
use crate::time::{Clock, Duration, Instant};

/// Messages sent but not yet fully echoed; when this many wait, ticks are missed.
const IN_FLIGHT: usize = 8;
/// Receives per poll; bounded so that a fast echo stream cannot hold `poll`.
const RECEIVES_PER_POLL: usize = 4;
/// Send attempts per poll for the message being sent.
const SEND_TRIES: usize = 2;

/// Where a client is in its connection cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClientState {
    /// Waiting for the next connection attempt (backoff).
    Waiting,
    /// A connection attempt is in progress.
    Connecting,
    /// Connected; messages are being sent.
    Connected,
}

/// One message on the wire: `sent` bytes handed to the stack, `matched` echoed back.
struct InFlight {
    msg: usize,
    sent: usize,
    matched: usize,
    sent_at: Instant,
}

struct Link<Socket> {
    socket: Socket,
    /// Origin of the schedule: message `k` is due at `start + k * period`.
    start: Instant,
    tick: u64,
    next_msg: usize,
    in_flight: Deque<InFlight, IN_FLIGHT>,
}

// No heap to box the link into, and there is one state per client, so the size
// difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum State<Socket> {
    Waiting { until: Instant },
    Connecting { socket: Socket, since: Instant },
    Connected(Link<Socket>),
}

type ClientResult<S> = Result<bool, ClientError<<S as TcpClientStack>::Error>>;

/// A TCP client over any embedded-nal [`TcpClientStack`] that sends
/// [`messages`](ClientConfig::messages) in turn, one per
/// [`period`](ClientConfig::period), and checks that each comes back byte for byte.
///
/// The schedule is drift-free: message `k` of a connection is due at
/// `connected_at + k * period`, however late a poll comes; periods that pass without
/// a send are counted in [`ClientStats::missed_ticks`], never sent in a burst later.
/// Any failure (refused, timed out, reset, closed, mismatched or missing echo) closes
/// the socket and reconnects after the [`Backoff`](crate::Backoff) wait. The
/// schedule starts again with each connection.
///
/// `Timer` is the [`Clock`] the client reads; `poll` never blocks. The
/// `Stack: TcpClientStack` bound on the struct is needed only to name the socket type.
pub struct PeriodicClient<Stack, Timer>
where
    Stack: TcpClientStack,
{
    stack: Stack,
    timer: Timer,
    config: ClientConfig,
    state: State<Stack::TcpSocket>,
    stats: ClientStats,
    jitter: Jitter,
}

impl<Stack, Timer> PeriodicClient<Stack, Timer>
where
    Stack: TcpClientStack,
    Timer: Clock,
{
    /// A client that makes its first connection attempt on its first poll.
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

    /// Do what can be done now: connect, read and verify echoes, send the message
    /// that is due.
    ///
    /// Returns whether anything happened. An `Err` reports why the connection
    /// (or the attempt) just failed; the client has already closed it and will try
    /// again after the backoff wait, so polling simply goes on.
    pub fn poll(&mut self) -> Result<Progress, ClientError<Stack::Error>> {
        let now = self.timer.now();
        let state = mem::replace(&mut self.state, State::Waiting { until: now });
        let (next, result) = match state {
            State::Waiting { until } if now < until => (State::Waiting { until }, Ok(false)),
            State::Waiting { .. } => self.open(now),
            State::Connecting { socket, since } => self.connect(socket, since, now),
            State::Connected(link) => self.exchange(link, now),
        };
        self.state = next;
        result.map(Progress::from_flag)
    }

    /// Counters of what the client has done.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// The settings in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Where the client is in its connection cycle.
    pub fn state(&self) -> ClientState {
        match self.state {
            State::Waiting { .. } => ClientState::Waiting,
            State::Connecting { .. } => ClientState::Connecting,
            State::Connected(_) => ClientState::Connected,
        }
    }

    /// The stack, e.g. to drive a stack that needs polling of its own (smoltcp).
    pub fn stack_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }

    /// When the next connection attempt is made, while [`ClientState::Waiting`].
    pub fn retry_at(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { until } => Some(until),
            _ => None,
        }
    }

    /// Close the connection, if any, and give the stack and the timer back.
    pub fn release(mut self) -> (Stack, Timer) {
        match mem::replace(
            &mut self.state,
            State::Waiting {
                until: Instant::ZERO,
            },
        ) {
            State::Connecting { socket, .. } | State::Connected(Link { socket, .. }) => {
                let _ = self.stack.close(socket);
            }
            State::Waiting { .. } => {}
        }
        (self.stack, self.timer)
    }

    fn open(&mut self, now: Instant) -> (State<Stack::TcpSocket>, ClientResult<Stack>) {
        match self.stack.socket() {
            Ok(socket) => self.connect(socket, now, now),
            Err(e) => self.fail(None, now, ClientError::Socket(e)),
        }
    }

    fn connect(
        &mut self,
        mut socket: Stack::TcpSocket,
        since: Instant,
        now: Instant,
    ) -> (State<Stack::TcpSocket>, ClientResult<Stack>) {
        match self.stack.connect(&mut socket, self.config.remote) {
            Ok(()) => {
                trace_event!(info, "connected");
                self.stats.connects = self.stats.connects.wrapping_add(1);
                self.stats.consecutive_failures = 0;
                let link = Link {
                    socket,
                    start: now,
                    tick: 0,
                    next_msg: 0,
                    in_flight: Deque::new(),
                };
                let (state, result) = self.exchange(link, now);
                (state, result.map(|_| true))
            }
            Err(nb::Error::WouldBlock) if now - since >= self.config.connect_timeout => {
                self.fail(Some(socket), now, ClientError::ConnectTimeout)
            }
            Err(nb::Error::WouldBlock) => (State::Connecting { socket, since }, Ok(false)),
            Err(nb::Error::Other(e)) => self.fail(Some(socket), now, ClientError::Connect(e)),
        }
    }

    fn exchange(
        &mut self,
        mut link: Link<Stack::TcpSocket>,
        now: Instant,
    ) -> (State<Stack::TcpSocket>, ClientResult<Stack>) {
        let step = self
            .read_echoes(&mut link, now)
            .and_then(|read| self.check_echo_timeout(&link, now).map(|()| read))
            .and_then(|read| {
                self.schedule(&mut link, now);
                self.send(&mut link).map(|sent| read | sent)
            });
        match step {
            Ok(progress) => (State::Connected(link), Ok(progress)),
            Err(e) => self.fail(Some(link.socket), now, e),
        }
    }

    fn read_echoes(
        &mut self,
        link: &mut Link<Stack::TcpSocket>,
        now: Instant,
    ) -> Result<bool, ClientError<Stack::Error>> {
        let mut buf = [0u8; 64];
        let mut progress = false;
        for _ in 0..RECEIVES_PER_POLL {
            match self.stack.receive(&mut link.socket, &mut buf) {
                Ok(0) => return Err(ClientError::ConnectionClosed),
                Ok(n) => {
                    let echo = buf.get(..n).unwrap_or(&buf);
                    self.stats.bytes_received =
                        self.stats.bytes_received.wrapping_add(echo.len() as u64);
                    self.verify(link, echo, now)?;
                    progress = true;
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => return Err(ClientError::Connection(e)),
            }
        }
        Ok(progress)
    }

    /// Matches echoed bytes against the messages in flight, oldest first.
    fn verify(
        &mut self,
        link: &mut Link<Stack::TcpSocket>,
        echo: &[u8],
        now: Instant,
    ) -> Result<(), ClientError<Stack::Error>> {
        for &byte in echo {
            let expected = link.in_flight.front().and_then(|f| {
                let msg = self.config.messages.get(f.msg)?;
                // An echo of a byte not yet sent is as wrong as a different byte.
                msg.get(f.matched).filter(|_| f.matched < f.sent)
            });
            if expected != Some(&byte) {
                self.stats.mismatches = self.stats.mismatches.wrapping_add(1);
                return Err(ClientError::EchoMismatch);
            }
            let Some(front) = link.in_flight.front_mut() else {
                return Err(ClientError::EchoMismatch);
            };
            front.matched += 1;
            if front.matched == self.message_len(front.msg) {
                self.stats.record_rtt(now - front.sent_at);
                link.in_flight.pop_front();
            }
        }
        Ok(())
    }

    fn check_echo_timeout(
        &self,
        link: &Link<Stack::TcpSocket>,
        now: Instant,
    ) -> Result<(), ClientError<Stack::Error>> {
        match link.in_flight.front() {
            Some(f) if now - f.sent_at >= self.config.echo_timeout => Err(ClientError::EchoTimeout),
            _ => Ok(()),
        }
    }

    /// Starts the message of the latest due tick, if the previous one is fully sent.
    fn schedule(&mut self, link: &mut Link<Stack::TcpSocket>, now: Instant) {
        let period = self.config.period.total_millis().max(1);
        let due = link.start + Duration::from_millis(link.tick.saturating_mul(period));
        if now < due || self.config.messages.is_empty() {
            return;
        }
        let late_ticks = (now - due).total_millis() / period;
        link.tick = link.tick.saturating_add(late_ticks + 1);
        let busy = link
            .in_flight
            .back()
            .is_some_and(|f| f.sent < self.message_len(f.msg));
        let missed = if busy || link.in_flight.is_full() {
            late_ticks + 1
        } else {
            late_ticks
        };
        self.stats.missed_ticks = self.stats.missed_ticks.wrapping_add(missed as u32);
        if missed > late_ticks {
            return;
        }
        let msg = link.next_msg;
        link.next_msg = (msg + 1) % self.config.messages.len();
        if self.message_len(msg) == 0 {
            self.stats.sent = self.stats.sent.wrapping_add(1);
            return;
        }
        let _ = link.in_flight.push_back(InFlight {
            msg,
            sent: 0,
            matched: 0,
            sent_at: now,
        });
    }

    fn send(
        &mut self,
        link: &mut Link<Stack::TcpSocket>,
    ) -> Result<bool, ClientError<Stack::Error>> {
        let mut progress = false;
        for _ in 0..SEND_TRIES {
            let Some(current) = link.in_flight.back_mut() else {
                break;
            };
            let msg = self
                .config
                .messages
                .get(current.msg)
                .copied()
                .unwrap_or_default();
            let Some(rest) = msg.get(current.sent..).filter(|r| !r.is_empty()) else {
                break;
            };
            match self.stack.send(&mut link.socket, rest) {
                Ok(0) | Err(nb::Error::WouldBlock) => break,
                Ok(n) => {
                    let n = n.min(rest.len());
                    current.sent += n;
                    self.stats.bytes_sent = self.stats.bytes_sent.wrapping_add(n as u64);
                    if current.sent == msg.len() {
                        self.stats.sent = self.stats.sent.wrapping_add(1);
                    }
                    progress = true;
                }
                Err(nb::Error::Other(e)) => return Err(ClientError::Connection(e)),
            }
        }
        Ok(progress)
    }

    fn message_len(&self, msg: usize) -> usize {
        self.config.messages.get(msg).map_or(0, |m| m.len())
    }

    fn fail(
        &mut self,
        socket: Option<Stack::TcpSocket>,
        now: Instant,
        error: ClientError<Stack::Error>,
    ) -> (State<Stack::TcpSocket>, ClientResult<Stack>) {
        if let Some(socket) = socket {
            let _ = self.stack.close(socket);
        }
        self.stats.failures = self.stats.failures.wrapping_add(1);
        self.stats.consecutive_failures = self.stats.consecutive_failures.saturating_add(1);
        let wait = self
            .config
            .backoff
            .delay(self.stats.consecutive_failures, self.jitter.next());
        trace_event!(
            warn,
            "connection failed, retry in {} ms",
            wait.total_millis()
        );
        (State::Waiting { until: now + wait }, Err(error))
    }
}
