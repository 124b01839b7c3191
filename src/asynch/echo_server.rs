//! [`AsyncEchoServer`]: the echo server for async stacks (edge-nal `TcpBind`), with
//! the `poll` server's rules, counters, events and screen.

use core::cell::{RefCell, RefMut};
use core::convert::Infallible;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use edge_nal::{Close, Readable, TcpAccept, TcpBind, TcpShutdown};
use embassy_futures::join::{join3, join_array};
use embassy_futures::select::{select, Either};
use embassy_futures::yield_now;
use embedded_hal_async::delay::DelayNs;
use embedded_io_async::{ErrorKind, Read, Write};

use crate::asynch::notify::Notify;
use crate::asynch::sleep::{now, sleep_until, sleep_until_or_never};
use crate::display::{Flush, StatusScreen, StatusView};
use crate::log::{trace_event, Dbg};
use crate::server::ledger::Ledger;
use crate::server::{CloseReason, ServerConfig, ServerError, ServerEvent, ServerStats};
use crate::text::message_feed::{Fed, MessageFeed, ScreenText};
use crate::time::{Clock, Instant};

/// Echo rounds a connection may do without waiting before it lets the other
/// connections and the screen run: an executor runs one future at a time, and a
/// peer that always has data ready would otherwise keep it.
const ROUNDS_PER_TURN: u32 = 8;
/// How long an orderly close (FIN, and the peer's FIN) may take before the
/// connection is reset instead: a peer that never reads or never closes must not
/// hold a slot.
const CLOSE_GRACE_MS: u32 = 1000;
/// The pause after a failed `accept`, so that a stack failing every call (out of
/// sockets, say) is retried, not spun on.
const ACCEPT_RETRY_MS: u32 = 100;

/// What a connection in a slot needs beside its buffer: the decoder of its text and
/// where its last receive ends in the buffer.
struct Slot {
    busy: bool,
    feed: MessageFeed,
    end: usize,
}

/// The part of the server that all its futures share.
struct Shared<Display, const SLOTS: usize> {
    view: StatusView<Display>,
    ledger: Ledger,
    slots: [Slot; SLOTS],
    /// The slot whose deferred receive is the newest receive of all, if it is.
    latest_deferred: Option<usize>,
}

/// The TCP echo server of [`EchoServer`](crate::server::EchoServer) for async
/// stacks: any edge-nal [`TcpBind`] (embassy-net through edge-nal-embassy, std
/// through edge-nal-std), an async delay and the crate's [`Clock`].
///
/// [`run`](Self::run) serves `SLOTS` connections at once with `SLOTS + 1` accept
/// futures joined in one future (no heap, no tasks to spawn): whichever accepts a
/// connection serves it if a slot is free, and closes it at once (counted in
/// [`ServerStats::rejected`]) if not, so one accept is always waiting. On
/// embassy-net each waiting accept is a listening socket: give edge-nal-embassy's
/// `TcpBuffers` at least `SLOTS + 1` sockets.
///
/// The rules are the `poll` server's: bytes echoed exactly and in order; a slot
/// reads again only once its last read is all sent (backpressure to its peer, not to
/// the others); idle connections evicted after
/// [`ServerConfig::idle_timeout`]; the allowlist; the same [`ServerStats`] and
/// [`ServerEvent`]s; the status screen redrawn after changes, at most once per
/// refresh interval, by the same view and text decoder.
///
/// `run` takes `&self`: other futures of the same task (or, with a `'static` server,
/// other tasks of the same executor) read [`stats`](Self::stats) and
/// [`next_event`](Self::next_event), or take the display for a page of their own,
/// while it runs. The server is not `Sync`: it belongs to one executor.
///
/// Reads must not lose data when cancelled before they complete (embassy-net's and
/// edge-nal-std's do not): the server waits with `Readable` and reads only once
/// data is there, but ends a connection by dropping a pending write.
pub struct AsyncEchoServer<Display, const SLOTS: usize = 4, const BUF: usize = 1024> {
    config: ServerConfig,
    shared: RefCell<Shared<Display, SLOTS>>,
    buffers: [RefCell<[u8; BUF]>; SLOTS],
    changed: Notify,
}

impl<Display: Flush> AsyncEchoServer<Display> {
    /// A server with the default 4 slots of 1024 bytes; for other sizes, see
    /// [`sized`](Self::sized).
    pub fn new(display: Display, config: ServerConfig) -> Self {
        Self::sized(display, config)
    }
}

impl<Display: Flush, const SLOTS: usize, const BUF: usize> AsyncEchoServer<Display, SLOTS, BUF> {
    /// `SLOTS` as the screen counts: no server has 2^32 slots.
    const SLOT_COUNT: u32 = if SLOTS > u32::MAX as usize {
        u32::MAX
    } else {
        SLOTS as u32
    };

    /// A server with `SLOTS` slots of `BUF` bytes:
    /// `AsyncEchoServer::<_, 2, 512>::sized(display, config)`.
    pub fn sized(display: Display, config: ServerConfig) -> Self {
        let view = config.status_view(display, Self::SLOT_COUNT);
        let changed = Notify::default();
        // The first draw shows the header and `accepting.....`.
        changed.notify();
        Self {
            config,
            shared: RefCell::new(Shared {
                view,
                ledger: Ledger::default(),
                slots: core::array::from_fn(|_| Slot {
                    busy: false,
                    feed: MessageFeed::new(),
                    end: 0,
                }),
                latest_deferred: None,
            }),
            buffers: core::array::from_fn(|_| RefCell::new([0; BUF])),
            changed,
        }
    }

    /// Serves on `0.0.0.0:port` ([`ServerConfig::port`]) until binding fails, which
    /// is the only way it returns; see [`run_at`](Self::run_at).
    pub async fn run<Stack, C, D>(
        &self,
        stack: &Stack,
        clock: C,
        delay: D,
    ) -> ServerError<Stack::Error, Display::Error>
    where
        Stack: TcpBind,
        C: Clock,
        D: DelayNs + Clone,
    {
        let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.config.port);
        self.run_at(stack, local, clock, delay).await
    }

    /// Binds `local` and serves for ever; returns only [`ServerError::Listen`] if
    /// the bind fails. Everything else (a failed accept, a reset, a display that
    /// fails) is counted in [`stats`](Self::stats) and served through. Drop the
    /// future (for example in a `select` with a stop signal) to stop: its
    /// connections are dropped with it, as the stack drops sockets.
    ///
    /// With [`ServerConfig::tcp`] `false` it binds nothing and only keeps the
    /// screen.
    pub async fn run_at<Stack, C, D>(
        &self,
        stack: &Stack,
        local: SocketAddr,
        clock: C,
        delay: D,
    ) -> ServerError<Stack::Error, Display::Error>
    where
        Stack: TcpBind,
        C: Clock,
        D: DelayNs + Clone,
    {
        let clock = RefCell::new(clock);
        if !self.config.tcp {
            match self.keep_screen(&clock, delay).await {}
        }
        let acceptor = match stack.bind(local).await {
            Ok(acceptor) => acceptor,
            Err(e) => {
                trace_event!(
                    warn,
                    "cannot listen on port {}: {:?}",
                    local.port(),
                    Dbg(&e)
                );
                self.shared().ledger.error();
                return ServerError::Listen(e);
            }
        };
        trace_event!(info, "listening on port {}", local.port());
        let workers: [_; SLOTS] =
            core::array::from_fn(|_| self.accept_and_serve(&acceptor, &clock, delay.clone()));
        let spare = self.accept_and_serve(&acceptor, &clock, delay.clone());
        let (_, never, _) =
            join3(join_array(workers), spare, self.keep_screen(&clock, delay)).await;
        match never {}
    }

    /// Counters of what the server has done.
    pub fn stats(&self) -> ServerStats {
        self.shared().ledger.stats
    }

    /// The oldest event not yet read. At most 16 are kept; older ones are dropped.
    pub fn next_event(&self) -> Option<ServerEvent> {
        self.shared().ledger.next_event()
    }

    /// The settings in use.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Runs `f` with the screen's text model (what is, or is about to be, on the
    /// display). `f` must not call the server.
    pub fn with_screen<R>(&self, f: impl FnOnce(&StatusScreen) -> R) -> R {
        f(self.shared().view.screen())
    }

    /// Runs `f` with the display, for drawing something else on it (stop the
    /// status screen first with [`set_screen_enabled`](Self::set_screen_enabled)).
    /// `f` must not call the server.
    pub fn with_display<R>(&self, f: impl FnOnce(&mut Display) -> R) -> R {
        f(self.shared().view.display_mut())
    }

    /// Stop (`false`) or resume (`true`) drawing the status screen; resuming
    /// repaints it. Echoing goes on.
    pub fn set_screen_enabled(&self, enabled: bool) {
        self.shared().view.set_enabled(enabled);
        self.changed.notify();
    }

    /// Show `ip:port` in the screen's header (a new DHCP lease, say).
    pub fn show_address(&self, ip: Option<IpAddr>, port: u16) {
        self.shared().view.set_header(ip, port);
        self.changed.notify();
    }

    /// Repaint the whole status screen on the next redraw.
    pub fn invalidate_screen(&self) {
        self.shared().view.invalidate();
        self.changed.notify();
    }

    /// Gives the display back (drop or stop `run` first: it borrows the server).
    pub fn release(self) -> Display {
        self.shared.into_inner().view.release()
    }

    /// Never held across an `await`, so it cannot be taken twice.
    fn shared(&self) -> RefMut<'_, Shared<Display, SLOTS>> {
        self.shared.borrow_mut()
    }

    async fn accept_and_serve<A, C, D>(
        &self,
        acceptor: &A,
        clock: &RefCell<C>,
        mut delay: D,
    ) -> Infallible
    where
        A: TcpAccept,
        C: Clock,
        D: DelayNs,
    {
        loop {
            match acceptor.accept().await {
                Ok((peer, socket)) => self.admit(peer, socket, clock, &mut delay).await,
                Err(e) => {
                    // Often one connection's trouble (reset before it was
                    // accepted), sometimes the stack's (out of sockets): counted,
                    // and the accept is tried again.
                    trace_event!(warn, "accept failed: {:?}", Dbg(&e));
                    self.shared().ledger.error();
                    self.changed.notify();
                    delay.delay_ms(ACCEPT_RETRY_MS).await;
                }
            }
            // A flood of connections to refuse must not keep the others waiting.
            yield_now().await;
        }
    }

    async fn admit<S, C, D>(
        &self,
        peer: SocketAddr,
        mut socket: S,
        clock: &RefCell<C>,
        delay: &mut D,
    ) where
        S: Read + Write + Readable + TcpShutdown,
        C: Clock,
        D: DelayNs,
    {
        if let Some(slot) = self.take_slot(peer) {
            self.changed.notify();
            let reason = self.serve(slot, &mut socket, clock, delay).await;
            close(&mut socket, delay).await;
            self.free_slot(slot, peer, reason);
            self.changed.notify();
            return;
        }
        // Counted as soon as it is refused; the close may take a while.
        self.changed.notify();
        close(&mut socket, delay).await;
    }

    /// A free slot for `peer`, taken; `None` (and the refusal counted) if the
    /// allowlist denies it or every slot is busy.
    fn take_slot(&self, peer: SocketAddr) -> Option<usize> {
        let mut shared = self.shared();
        if !self.config.allows(peer.ip()) {
            shared.ledger.denied(peer);
            return None;
        }
        let Some(slot) = shared.slots.iter().position(|s| !s.busy) else {
            shared.ledger.rejected(peer);
            return None;
        };
        shared.slots[slot] = Slot {
            busy: true,
            feed: MessageFeed::new(),
            end: 0,
        };
        shared.ledger.accepted(slot, peer);
        Some(slot)
    }

    fn free_slot(&self, slot: usize, peer: SocketAddr, reason: CloseReason) {
        let mut shared = self.shared();
        if shared.latest_deferred == Some(slot) {
            self.settle_latest(&mut shared);
        }
        shared.slots[slot].busy = false;
        shared.ledger.closed(slot, peer, reason);
    }

    /// Echoes until the connection ends, and says why it did.
    async fn serve<S, C, D>(
        &self,
        slot: usize,
        socket: &mut S,
        clock: &RefCell<C>,
        delay: &mut D,
    ) -> CloseReason
    where
        S: Read + Write + Readable,
        C: Clock,
        D: DelayNs,
    {
        let Some(buffer) = self.buffers.get(slot) else {
            return CloseReason::Error;
        };
        let mut last_activity = now(clock);
        for round in 1u32.. {
            if let Err(reason) = self
                .echo_round(slot, buffer, socket, &mut last_activity, clock, delay)
                .await
            {
                return reason;
            }
            if round % ROUNDS_PER_TURN == 0 {
                yield_now().await;
            }
        }
        CloseReason::Error
    }

    /// Waits for data (or the idle timeout), receives once and sends it all back.
    async fn echo_round<S, C, D>(
        &self,
        slot: usize,
        buffer: &RefCell<[u8; BUF]>,
        socket: &mut S,
        last_activity: &mut Instant,
        clock: &RefCell<C>,
        delay: &mut D,
    ) -> Result<(), CloseReason>
    where
        S: Read + Write + Readable,
        C: Clock,
        D: DelayNs,
    {
        let idle_at = self.config.idle_timeout.map(|t| *last_activity + t);
        // `readable` takes nothing from the socket, so the timeout may drop it.
        match select(
            socket.readable(),
            sleep_until_or_never(clock, delay, idle_at),
        )
        .await
        {
            Either::First(Ok(())) => {}
            Either::First(Err(e)) => return Err(close_reason(&e)),
            Either::Second(()) => return Err(CloseReason::Idle),
        }
        let received = self.receive(slot, buffer, socket).await?;
        *last_activity = now(clock);
        // The echo leaves first: only the screen waits for the decoding.
        let sent = self
            .send_all(buffer, received.len, socket, last_activity, clock, delay)
            .await;
        self.show_receive(slot, buffer, received);
        sent
    }

    /// Reads into the slot's buffer; `Ok(0)` and errors end the connection.
    // Only this slot's own future ever borrows its buffer across an await; the
    // screen only tries (`try_borrow`) and leaves the text for later if it is taken.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn receive<S: Read>(
        &self,
        slot: usize,
        buffer: &RefCell<[u8; BUF]>,
        socket: &mut S,
    ) -> Result<Received, CloseReason> {
        // Held while the read waits: the screen then leaves this slot's text for
        // its next draw.
        let mut buf = buffer.borrow_mut();
        let saved = {
            let state = &mut self.shared().slots[slot];
            state.feed.before_receive(&buf[..], state.end)
        };
        let result = socket.read(&mut buf[..]).await;
        let mut shared = self.shared();
        match result {
            Ok(n @ 1..) => {
                // A stack claiming more than the buffer holds must not make us panic.
                let len = n.min(BUF);
                shared.slots[slot].end = len;
                shared.ledger.received(len);
                Ok(Received { len, saved })
            }
            other => {
                let state = &mut shared.slots[slot];
                state.feed.not_received(&mut buf[..], state.end, saved);
                Err(match other {
                    Err(e) => close_reason(&e),
                    Ok(_) => CloseReason::PeerClosed,
                })
            }
        }
    }

    /// Sends `buf[..len]`, each write bounded by the idle timeout: a peer that
    /// stops reading is evicted like one that stops sending.
    // As in `receive`: a shared borrow, which the screen's `try_borrow` shares.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn send_all<S, C, D>(
        &self,
        buffer: &RefCell<[u8; BUF]>,
        len: usize,
        socket: &mut S,
        last_activity: &mut Instant,
        clock: &RefCell<C>,
        delay: &mut D,
    ) -> Result<(), CloseReason>
    where
        S: Write,
        C: Clock,
        D: DelayNs,
    {
        // Shared while the writes wait: the screen may decode this receive.
        let buf = buffer.borrow();
        let mut start = 0;
        while let Some(pending) = buf.get(start..len).filter(|p| !p.is_empty()) {
            let idle_at = self.config.idle_timeout.map(|t| *last_activity + t);
            let written = match select(
                socket.write(pending),
                sleep_until_or_never(clock, delay, idle_at),
            )
            .await
            {
                Either::First(Ok(0)) => return Err(CloseReason::PipeClosed),
                Either::First(Ok(n)) => n.min(pending.len()),
                Either::First(Err(e)) => return Err(close_reason(&e)),
                Either::Second(()) => return Err(CloseReason::Idle),
            };
            start += written;
            *last_activity = now(clock);
            self.shared().ledger.sent(written);
        }
        Ok(())
    }

    /// Hands a receive to the slot's decoder, and its text to the screen.
    fn show_receive(&self, slot: usize, buffer: &RefCell<[u8; BUF]>, received: Received) {
        let buf = buffer.borrow();
        let mut shared = self.shared();
        let mut text = ScreenText::new();
        let fed = shared.slots[slot].feed.received(
            &buf[..],
            received.len,
            received.saved.as_ref(),
            &mut text,
        );
        match fed {
            Fed::Deferred => shared.latest_deferred = Some(slot),
            Fed::Decoded(true) => {
                shared.latest_deferred = None;
                shared.view.set_message(text.oldest_ordered().copied());
            }
            Fed::Decoded(false) => {}
        }
        self.changed.notify();
    }

    /// Decodes the newest receive if its decoding was deferred and its slot's
    /// buffer is not being read into.
    fn settle_latest(&self, shared: &mut Shared<Display, SLOTS>) {
        let Some(slot) = shared.latest_deferred else {
            return;
        };
        let (Some(buffer), Some(state)) = (self.buffers.get(slot), shared.slots.get_mut(slot))
        else {
            return;
        };
        let Ok(buf) = buffer.try_borrow() else {
            return;
        };
        shared.latest_deferred = None;
        let mut text = ScreenText::new();
        if state.feed.settle(&buf[..], state.end, &mut text) {
            shared.view.set_message(text.oldest_ordered().copied());
        }
    }

    /// Redraws the screen after each change, at most once per refresh interval.
    async fn keep_screen<C: Clock, D: DelayNs>(
        &self,
        clock: &RefCell<C>,
        mut delay: D,
    ) -> Infallible {
        loop {
            self.changed.wait().await;
            let due = self.shared().view.next_draw_at();
            sleep_until(clock, &mut delay, due).await;
            self.redraw(now(clock));
        }
    }

    fn redraw(&self, now: Instant) {
        let mut guard = self.shared();
        let shared = &mut *guard;
        let status = shared.ledger.status(Self::SLOT_COUNT);
        shared.view.set_status(status);
        self.settle_latest(shared);
        if shared.view.draw(now).is_err() {
            trace_event!(warn, "display failed");
            shared.ledger.display_error();
        }
    }
}

/// A receive now in a slot's buffer: its length, and the end of the deferred
/// receive it overwrote.
struct Received {
    len: usize,
    saved: Option<crate::text::message_feed::SavedTail>,
}

/// Closes in order, or resets if that takes longer than [`CLOSE_GRACE_MS`]. A
/// failure is not counted: it means the connection is already gone, which is
/// what closing wants.
async fn close<S: TcpShutdown, D: DelayNs>(socket: &mut S, delay: &mut D) {
    let closed = select(socket.close(Close::Both), delay.delay_ms(CLOSE_GRACE_MS)).await;
    if let Either::Second(()) = closed {
        let _ = select(socket.abort(), delay.delay_ms(CLOSE_GRACE_MS)).await;
    }
}

fn close_reason<E: embedded_io_async::Error>(error: &E) -> CloseReason {
    match error.kind() {
        ErrorKind::BrokenPipe | ErrorKind::NotConnected | ErrorKind::ConnectionAborted => {
            CloseReason::PipeClosed
        }
        _ => CloseReason::Error,
    }
}
