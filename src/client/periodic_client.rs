//! [`PeriodicClient`]: sends messages on a fixed schedule, verifies every echo and
//! reconnects on its own.

use core::mem;

use embedded_nal::{nb, TcpClientStack};
use heapless::Deque;

use crate::client::backoff::Jitter;
use crate::client::config::ClientConfig;
use crate::client::error::ClientError;
use crate::client::schedule::Schedule;
use crate::client::stats::ClientStats;
use crate::log::trace_event;
use crate::progress::Progress;
use crate::time::{Clock, Instant};

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

/// Where the bytes of a message on the wire are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    /// [`ClientConfig::messages`] at this index.
    Listed(u32),
    /// In the outbox, this long: the newest of the outbox's messages when it is
    /// sent, the oldest when it is echoed.
    Built(u32),
}

/// One message on the wire: `sent` bytes handed to the stack, `matched` echoed back.
struct InFlight {
    msg: Msg,
    sent: usize,
    matched: usize,
    sent_at: Instant,
}

struct Link<Socket> {
    socket: Socket,
    schedule: Schedule,
    next_msg: usize,
    in_flight: Deque<InFlight, IN_FLIGHT>,
}

/// The bytes of the messages built at run time, from their build until their echo:
/// the first `used` bytes, oldest first, where `used` is the total length of the
/// built messages in flight (so the outbox needs no counters of its own, and none
/// at all without room).
struct Outbox<const N: usize>([u8; N]);

impl<const N: usize> Outbox<N> {
    /// The free room after the `used` bytes.
    fn room(&mut self, used: usize) -> &mut [u8] {
        self.0.get_mut(used..).unwrap_or_default()
    }

    /// The oldest message, `len` long.
    fn oldest(&self, len: usize) -> &[u8] {
        self.0.get(..len).unwrap_or_default()
    }

    /// The newest message, `len` long, of the `used` bytes.
    fn newest(&self, used: usize, len: usize) -> &[u8] {
        self.0
            .get(used.saturating_sub(len)..used)
            .unwrap_or_default()
    }

    /// Bytes that the built messages in flight take. Without room there are none,
    /// and a build without an outbox costs nothing.
    fn used(in_flight: &Deque<InFlight, IN_FLIGHT>) -> usize {
        if N == 0 {
            return 0;
        }
        in_flight
            .iter()
            .map(|f| match f.msg {
                Msg::Built(len) => len as usize,
                Msg::Listed(_) => 0,
            })
            .sum()
    }

    /// The oldest message, `len` long, was echoed: the rest of the `used` bytes
    /// move to the front.
    fn release(&mut self, used: usize, len: usize) {
        if len <= used && used <= N {
            self.0.copy_within(len..used, 0);
        }
    }
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
/// the socket and reconnects after the [`Backoff`](crate::client::Backoff) wait. The
/// schedule starts again with each connection.
///
/// `Timer` is the [`Clock`] the client reads; `poll` never blocks. The
/// `Stack: TcpClientStack` bound on the struct is needed only to name the socket type.
///
/// # Messages built at run time
///
/// [`poll`](Self::poll) sends the fixed [`messages`](ClientConfig::messages);
/// [`poll_with`](Self::poll_with) asks the application for each message when it is
/// due instead, as a camera reports what it sees now. Such a message is copied into
/// the client's outbox of `OUTBOX` bytes, where it stays until its echo has been
/// verified; a message is at most as long as the room left in the outbox. The
/// default client ([`new`](Self::new)) has no outbox; give it one with
/// [`with_outbox`](Self::with_outbox).
pub struct PeriodicClient<Stack, Timer, const OUTBOX: usize = 0>
where
    Stack: TcpClientStack,
{
    stack: Stack,
    timer: Timer,
    config: ClientConfig,
    state: State<Stack::TcpSocket>,
    stats: ClientStats,
    jitter: Jitter,
    outbox: Outbox<OUTBOX>,
}

impl<Stack, Timer> PeriodicClient<Stack, Timer>
where
    Stack: TcpClientStack,
    Timer: Clock,
{
    /// A client of the [`messages`](ClientConfig::messages) of `config`, without an
    /// outbox for messages built at run time; it makes its first connection attempt
    /// on its first poll.
    pub fn new(stack: Stack, timer: Timer, config: ClientConfig) -> Self {
        Self::with_outbox(stack, timer, config)
    }
}

impl<Stack, Timer, const OUTBOX: usize> PeriodicClient<Stack, Timer, OUTBOX>
where
    Stack: TcpClientStack,
    Timer: Clock,
{
    /// A client with an outbox of `OUTBOX` bytes for messages built at run time
    /// (see [`poll_with`](Self::poll_with)): name the size with a turbofish,
    /// `PeriodicClient::<_, _, 64>::with_outbox(stack, timer, config)`.
    pub fn with_outbox(stack: Stack, timer: Timer, config: ClientConfig) -> Self {
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
            outbox: Outbox([0; OUTBOX]),
        }
    }

    /// Do what can be done now: connect, read and verify echoes, send the message
    /// that is due.
    ///
    /// Returns whether anything happened. An `Err` reports why the connection
    /// (or the attempt) just failed; the client has already closed it and will try
    /// again after the backoff wait, so polling simply goes on.
    pub fn poll(&mut self) -> Result<Progress, ClientError<Stack::Error>> {
        self.poll_inner(None::<fn(&mut [u8]) -> usize>)
    }

    /// Like [`poll`](Self::poll), but when a message is due, `produce` builds it: it
    /// writes the message into the buffer it is given (the outbox's free room) and
    /// returns its length. `0` sends nothing for that period. An empty buffer (no
    /// outbox, or one still full of unechoed messages) counts the period as a
    /// [missed tick](ClientStats::missed_ticks), and `produce` is not called.
    ///
    /// ```
    /// # use nal_echo::{ClientConfig, PeriodicClient};
    /// # use nal_echo::stack::mock::MockNetwork;
    /// # use nal_echo::time::MockClock;
    /// # let net = MockNetwork::new();
    /// # let (clock, server) = (MockClock::new(), ([10, 0, 0, 1], 5001).into());
    /// # let stack = net.stack([10, 0, 0, 2].into());
    /// let mut client = PeriodicClient::<_, _, 64>::with_outbox(stack, &clock, ClientConfig::new(server));
    /// let seen = 3; // what the camera sees now
    /// let _ = client.poll_with(|buf| {
    ///     let report = b"objects: ";
    ///     let n = report.len().min(buf.len());
    ///     buf[..n].copy_from_slice(&report[..n]);
    ///     if n < buf.len() {
    ///         buf[n] = b'0' + seen;
    ///         return n + 1;
    ///     }
    ///     n
    /// });
    /// ```
    pub fn poll_with(
        &mut self,
        produce: impl FnOnce(&mut [u8]) -> usize,
    ) -> Result<Progress, ClientError<Stack::Error>> {
        self.poll_inner(Some(produce))
    }

    fn poll_inner(
        &mut self,
        produce: Option<impl FnOnce(&mut [u8]) -> usize>,
    ) -> Result<Progress, ClientError<Stack::Error>> {
        let now = self.timer.now();
        let state = mem::replace(&mut self.state, State::Waiting { until: now });
        let (next, result) = match state {
            State::Waiting { until } if now < until => (State::Waiting { until }, Ok(false)),
            State::Waiting { .. } => self.open(now, produce),
            State::Connecting { socket, since } => self.connect(socket, since, now, produce),
            State::Connected(link) => self.exchange(link, now, produce),
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

    fn open(
        &mut self,
        now: Instant,
        produce: Option<impl FnOnce(&mut [u8]) -> usize>,
    ) -> (State<Stack::TcpSocket>, ClientResult<Stack>) {
        match self.stack.socket() {
            Ok(socket) => self.connect(socket, now, now, produce),
            Err(e) => self.fail(None, now, ClientError::Socket(e)),
        }
    }

    fn connect(
        &mut self,
        mut socket: Stack::TcpSocket,
        since: Instant,
        now: Instant,
        produce: Option<impl FnOnce(&mut [u8]) -> usize>,
    ) -> (State<Stack::TcpSocket>, ClientResult<Stack>) {
        match self.stack.connect(&mut socket, self.config.remote) {
            Ok(()) => {
                trace_event!(info, "connected");
                self.stats.connects = self.stats.connects.wrapping_add(1);
                self.stats.consecutive_failures = 0;
                let link = Link {
                    socket,
                    schedule: Schedule::starting(now),
                    next_msg: 0,
                    in_flight: Deque::new(),
                };
                let (state, result) = self.exchange(link, now, produce);
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
        produce: Option<impl FnOnce(&mut [u8]) -> usize>,
    ) -> (State<Stack::TcpSocket>, ClientResult<Stack>) {
        let step = self
            .read_echoes(&mut link, now)
            .and_then(|read| self.check_echo_timeout(&link, now).map(|()| read))
            .and_then(|read| {
                self.schedule(&mut link, now, produce);
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
                // An echo of a byte not yet sent is as wrong as a different byte.
                self.oldest_bytes(f.msg)
                    .get(f.matched)
                    .filter(|_| f.matched < f.sent)
            });
            if expected != Some(&byte) {
                self.stats.mismatches = self.stats.mismatches.wrapping_add(1);
                return Err(ClientError::EchoMismatch);
            }
            let Some(front) = link.in_flight.front_mut() else {
                return Err(ClientError::EchoMismatch);
            };
            front.matched += 1;
            if front.matched == message_len(&self.config, front.msg) {
                self.stats.record_rtt(now - front.sent_at);
                if let Msg::Built(len) = front.msg {
                    self.outbox
                        .release(Outbox::<OUTBOX>::used(&link.in_flight), len as usize);
                }
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

    /// Starts the message of the latest due tick, if the previous one is fully sent:
    /// the next listed message, or the one `produce` builds.
    fn schedule(
        &mut self,
        link: &mut Link<Stack::TcpSocket>,
        now: Instant,
        produce: Option<impl FnOnce(&mut [u8]) -> usize>,
    ) {
        if produce.is_none() && self.config.messages.is_empty() {
            return;
        }
        let Some(late_ticks) = link.schedule.take_due(now, self.config.period) else {
            return;
        };
        let busy = link
            .in_flight
            .back()
            .is_some_and(|f| f.sent < message_len(&self.config, f.msg));
        let missed = if busy || link.in_flight.is_full() {
            late_ticks + 1
        } else {
            late_ticks
        };
        self.count_missed(missed);
        if missed > late_ticks {
            return;
        }
        let msg = match produce {
            Some(produce) => match self.build(Outbox::<OUTBOX>::used(&link.in_flight), produce) {
                Some(msg) => msg,
                None => return self.count_missed(1),
            },
            None => {
                let msg = link.next_msg;
                link.next_msg = (msg + 1) % self.config.messages.len();
                Msg::Listed(u32::try_from(msg).unwrap_or(u32::MAX))
            }
        };
        if message_len(&self.config, msg) == 0 {
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

    /// Has `produce` write a message into the outbox's room; `None` if there is no
    /// room.
    fn build(&mut self, used: usize, produce: impl FnOnce(&mut [u8]) -> usize) -> Option<Msg> {
        let room = self.outbox.room(used);
        if OUTBOX == 0 || room.is_empty() {
            return None;
        }
        // A producer claiming more than the room gets the room.
        // Room beyond 4 GiB is not offered: a message length is a u32.
        let offered = room.len().min(u32::MAX as usize);
        let room = room.get_mut(..offered).unwrap_or_default();
        let len = produce(room).min(offered);
        Some(Msg::Built(u32::try_from(len).unwrap_or(u32::MAX)))
    }

    fn count_missed(&mut self, ticks: u64) {
        let ticks = u32::try_from(ticks).unwrap_or(u32::MAX);
        self.stats.missed_ticks = self.stats.missed_ticks.wrapping_add(ticks);
    }

    /// The bytes of the oldest message in flight, `msg`.
    fn oldest_bytes(&self, msg: Msg) -> &[u8] {
        match msg {
            Msg::Listed(i) => listed(self.config.messages, i),
            Msg::Built(len) => self.outbox.oldest(len as usize),
        }
    }

    fn send(
        &mut self,
        link: &mut Link<Stack::TcpSocket>,
    ) -> Result<bool, ClientError<Stack::Error>> {
        let mut progress = false;
        let used = Outbox::<OUTBOX>::used(&link.in_flight);
        for _ in 0..SEND_TRIES {
            let Some(current) = link.in_flight.back_mut() else {
                break;
            };
            let msg = match current.msg {
                Msg::Listed(i) => listed(self.config.messages, i),
                Msg::Built(len) => self.outbox.newest(used, len as usize),
            };
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

    fn fail(
        &mut self,
        socket: Option<Stack::TcpSocket>,
        now: Instant,
        error: ClientError<Stack::Error>,
    ) -> (State<Stack::TcpSocket>, ClientResult<Stack>) {
        if let Some(socket) = socket {
            let _ = self.stack.close(socket);
        }
        let wait = self
            .stats
            .record_failure(&self.config.backoff, self.jitter.next());
        trace_event!(
            warn,
            "connection failed, retry in {} ms",
            wait.total_millis()
        );
        (State::Waiting { until: now + wait }, Err(error))
    }
}

/// How long message `msg` is.
fn message_len(config: &ClientConfig, msg: Msg) -> usize {
    match msg {
        Msg::Listed(i) => listed(config.messages, i).len(),
        Msg::Built(len) => len as usize,
    }
}

/// Listed message `i`; empty if there is none.
fn listed(messages: &'static [&'static [u8]], i: u32) -> &'static [u8] {
    messages.get(i as usize).copied().unwrap_or_default()
}
