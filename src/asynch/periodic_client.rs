//! [`AsyncPeriodicClient`]: the periodic client for async stacks
//! (embedded-nal-async `TcpConnect`), with the `poll` client's schedule, checks,
//! counters and backoff.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;

use embassy_futures::select::{select, Either};
use embedded_hal_async::delay::DelayNs;
use embedded_io_async::{Read, Write};
use embedded_nal_async::TcpConnect;

use crate::asynch::sleep::{now, sleep_until};
use crate::client::backoff::Jitter;
use crate::client::schedule::Schedule;
use crate::client::{ClientConfig, ClientError, ClientState, ClientStats};
use crate::log::{trace_event, Dbg};
use crate::time::{Clock, Duration, Instant};

/// Echo bytes read at a time.
const READ_CHUNK: usize = 64;

/// The [`PeriodicClient`](crate::client::PeriodicClient) for async stacks: sends
/// [`messages`](ClientConfig::messages) in turn, one per
/// [`period`](ClientConfig::period) on a drift-free schedule, checks each echo byte
/// for byte, measures its round trip, and on any failure (refused, connect or echo
/// timeout, reset, closed, a wrong or an extra byte) drops the connection and
/// connects again after the [`Backoff`](crate::client::Backoff) wait with jitter.
///
/// One message is on the wire at a time: the next is sent at its tick once the
/// echo of the last is verified; ticks that pass meanwhile are counted in
/// [`ClientStats::missed_ticks`], never sent in a burst. Between echoes the client
/// still reads, so a byte the server sends unasked is a mismatch at once, as with
/// the `poll` client. `Clock` is the crate's [`Clock`]; `Delay` any
/// embedded-hal-async [`DelayNs`] that can be cloned (embassy-time's `Delay`, say):
/// each run takes its own copy, so that `run` needs only `&self` and another
/// future may read [`stats`](Self::stats) while it runs.
pub struct AsyncPeriodicClient<Clock, Delay> {
    clock: RefCell<Clock>,
    delay: Delay,
    config: ClientConfig,
    stats: Cell<ClientStats>,
    jitter: Cell<Jitter>,
    state: Cell<ClientState>,
    retry_at: Cell<Instant>,
}

impl<C: Clock, D: DelayNs + Clone> AsyncPeriodicClient<C, D> {
    /// A client that connects to [`ClientConfig::remote`] when run.
    pub fn new(clock: C, delay: D, config: ClientConfig) -> Self {
        Self {
            clock: RefCell::new(clock),
            delay,
            jitter: Cell::new(Jitter::new(config.seed)),
            config,
            stats: Cell::new(ClientStats::default()),
            state: Cell::new(ClientState::Waiting),
            retry_at: Cell::new(Instant::ZERO),
        }
    }

    /// Runs for ever (drop the future to stop it).
    pub async fn run<S: TcpConnect>(&self, stack: &S) -> Infallible {
        loop {
            self.run_until(stack, |_| false).await;
        }
    }

    /// Runs until `done` says so; it is asked after each verified echo and after
    /// each failure, with the counters so far. The connection ends with the run;
    /// the next run connects again at once. Run one at a time: two runs of one
    /// client would count into the same counters.
    pub async fn run_until<S: TcpConnect>(
        &self,
        stack: &S,
        mut done: impl FnMut(&ClientStats) -> bool,
    ) {
        let mut delay = self.delay.clone();
        while !done(&self.stats.get()) {
            self.state.set(ClientState::Waiting);
            sleep_until(&self.clock, &mut delay, self.retry_at.get()).await;
            match self.connection(stack, &mut delay, &mut done).await {
                Ok(()) => {
                    // The connection ended with the run: the next run connects at once.
                    self.state.set(ClientState::Waiting);
                    self.retry_at.set(now(&self.clock));
                    return;
                }
                Err(e) => self.fail(&e),
            }
        }
    }

    /// Counters of what the client has done (also while it runs: `run` takes
    /// `&self`, so another future may show them).
    pub fn stats(&self) -> ClientStats {
        self.stats.get()
    }

    /// The settings in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Where the client is (or was, when its future was dropped) in its cycle.
    pub fn state(&self) -> ClientState {
        self.state.get()
    }

    /// When the next connection attempt is made, while [`ClientState::Waiting`].
    pub fn retry_at(&self) -> Option<Instant> {
        (self.state.get() == ClientState::Waiting).then_some(self.retry_at.get())
    }

    /// Gives the clock and the delay back.
    pub fn release(self) -> (C, D) {
        (self.clock.into_inner(), self.delay)
    }

    fn count(&self, f: impl FnOnce(&mut ClientStats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }

    /// One connection: made, then used until `done` or a failure.
    async fn connection<S: TcpConnect>(
        &self,
        stack: &S,
        delay: &mut D,
        done: &mut impl FnMut(&ClientStats) -> bool,
    ) -> Result<(), ClientError<S::Error>> {
        self.state.set(ClientState::Connecting);
        let deadline = now(&self.clock) + self.config.connect_timeout;
        let attempt = select(
            stack.connect(self.config.remote),
            sleep_until(&self.clock, delay, deadline),
        );
        let mut conn = match attempt.await {
            Either::First(Ok(conn)) => conn,
            Either::First(Err(e)) => return Err(ClientError::Connect(e)),
            Either::Second(()) => return Err(ClientError::ConnectTimeout),
        };
        trace_event!(info, "connected");
        self.state.set(ClientState::Connected);
        self.count(|s| {
            s.connects = s.connects.wrapping_add(1);
            s.consecutive_failures = 0;
        });
        let mut schedule = Schedule::starting(now(&self.clock));
        for k in 0usize.. {
            let late_ticks = self.next_tick(&mut conn, &mut schedule, delay).await?;
            let missed = u32::try_from(late_ticks).unwrap_or(u32::MAX);
            self.count(|s| s.missed_ticks = s.missed_ticks.wrapping_add(missed));
            let messages = self.config.messages;
            let message = messages
                .get(k % messages.len().max(1))
                .copied()
                .unwrap_or_default();
            self.exchange(&mut conn, message, delay).await?;
            if done(&self.stats.get()) {
                break;
            }
        }
        Ok(())
    }

    /// Waits for the next tick, reading meanwhile: nothing may come between
    /// echoes. Returns how many ticks passed unsent. Without messages it only
    /// watches the connection.
    async fn next_tick<T: Read>(
        &self,
        conn: &mut T,
        schedule: &mut Schedule,
        delay: &mut D,
    ) -> Result<u64, ClientError<T::Error>> {
        let period = self.config.period;
        let due = if self.config.messages.is_empty() {
            None
        } else {
            Some(schedule.next_due(period))
        };
        let mut unasked = [0u8; 1];
        let tick = async {
            match due {
                Some(at) => sleep_until(&self.clock, delay, at).await,
                None => core::future::pending().await,
            }
        };
        match select(conn.read(&mut unasked), tick).await {
            Either::First(Ok(0)) => Err(ClientError::ConnectionClosed),
            Either::First(Ok(_)) => {
                self.count(|s| s.mismatches = s.mismatches.wrapping_add(1));
                Err(ClientError::EchoMismatch)
            }
            Either::First(Err(e)) => Err(ClientError::Connection(e)),
            Either::Second(()) => Ok(schedule.take_due(now(&self.clock), period).unwrap_or(0)),
        }
    }

    /// Sends `message` and verifies its echo within the echo timeout.
    async fn exchange<T: Read + Write>(
        &self,
        conn: &mut T,
        message: &[u8],
        delay: &mut D,
    ) -> Result<(), ClientError<T::Error>> {
        if message.is_empty() {
            self.count(|s| s.sent = s.sent.wrapping_add(1));
            return Ok(());
        }
        let sent_at = now(&self.clock);
        let deadline = sent_at + self.config.echo_timeout;
        let round_trip = select(
            send_and_verify(conn, message, &self.stats),
            sleep_until(&self.clock, delay, deadline),
        );
        match round_trip.await {
            Either::First(verified) => verified?,
            Either::Second(()) => return Err(ClientError::EchoTimeout),
        }
        let rtt = now(&self.clock) - sent_at;
        self.count(|s| s.record_rtt(rtt));
        Ok(())
    }

    fn fail<N: core::fmt::Debug>(&self, error: &ClientError<N>) {
        let mut jitter = self.jitter.get();
        let mut wait = Duration::ZERO;
        self.count(|s| wait = s.record_failure(&self.config.backoff, jitter.next()));
        self.jitter.set(jitter);
        trace_event!(
            warn,
            "connection failed: {:?}, retry in {} ms",
            Dbg(error),
            wait.total_millis()
        );
        self.retry_at.set(now(&self.clock) + wait);
    }
}

/// Writes `message` whole, then reads its echo and compares it byte for byte. It
/// reads no more than the message, so that a byte beyond it is caught while
/// waiting for the next tick.
async fn send_and_verify<T: Read + Write>(
    conn: &mut T,
    message: &[u8],
    stats: &Cell<ClientStats>,
) -> Result<(), ClientError<T::Error>> {
    let count = |f: &dyn Fn(&mut ClientStats)| {
        let mut s = stats.get();
        f(&mut s);
        stats.set(s);
    };
    let mut sent = 0;
    while let Some(rest) = message.get(sent..).filter(|r| !r.is_empty()) {
        let n = match conn.write(rest).await {
            Ok(0) => return Err(ClientError::ConnectionClosed),
            Ok(n) => n.min(rest.len()),
            Err(e) => return Err(ClientError::Connection(e)),
        };
        sent += n;
        count(&|s| s.bytes_sent = s.bytes_sent.wrapping_add(n as u64));
    }
    count(&|s| s.sent = s.sent.wrapping_add(1));
    let mut matched = 0;
    let mut echo = [0u8; READ_CHUNK];
    while let Some(expected) = message.get(matched..).filter(|r| !r.is_empty()) {
        let want = expected.len().min(READ_CHUNK);
        let n = match conn.read(&mut echo[..want]).await {
            Ok(0) => return Err(ClientError::ConnectionClosed),
            Ok(n) => n.min(want),
            Err(e) => return Err(ClientError::Connection(e)),
        };
        count(&|s| s.bytes_received = s.bytes_received.wrapping_add(n as u64));
        if echo.get(..n) != expected.get(..n) {
            count(&|s| s.mismatches = s.mismatches.wrapping_add(1));
            return Err(ClientError::EchoMismatch);
        }
        matched += n;
    }
    Ok(())
}
