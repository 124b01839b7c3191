//! [`EchoServer`]: a TCP echo server that never blocks, serves several clients and
//! shows what it receives.

use core::net::{IpAddr, SocketAddr};

use crate::display::{Flush, StatusScreen, StatusView};
use crate::log::trace_event;
use crate::progress::Progress;
use crate::server::config::ServerConfig;
use crate::server::error::ServerError;
use crate::server::event::{CloseReason, ServerEvent};
use crate::server::ledger::Ledger;
use crate::server::stats::ServerStats;
use crate::server::udp::{UdpEcho, UdpEchoError};
use crate::stack::local_addr::LocalAddr;
use crate::text::message_feed::{datagram_text, Fed, MessageFeed, ScreenText};
use crate::time::Instant;
use embedded_nal::{
    nb, TcpClientStack, TcpError, TcpErrorKind, TcpFullStack, UdpClientStack, UdpFullStack,
};

/// Receive-and-send rounds per slot and poll: enough to move several kilobytes per
/// poll, few enough that one busy peer cannot hold `poll` for long.
const ROUNDS_PER_POLL: usize = 8;
/// Send attempts per slot and round: a short send usually means the stack's buffer
/// is full, so retrying more often than this only burns time.
const SEND_TRIES: usize = 2;

/// One received chunk that is being echoed: `buf[start..end]` is still unsent.
struct Connection<Socket> {
    socket: Socket,
    peer: SocketAddr,
    start: usize,
    end: usize,
    last_activity: Instant,
    feed: MessageFeed,
}

/// What one receive-and-send round of a slot did.
struct Round {
    progress: bool,
    go_on: bool,
}

/// What servicing one slot did.
enum Step {
    Idle,
    Progress,
    End(CloseReason),
}

/// A TCP echo server over any embedded-nal [`TcpFullStack`], drawing its status on a
/// 128x64 monochrome display.
///
/// * `SLOTS` connections are served at once (default 4); more are accepted and closed
///   at once, so they are not left hanging in the backlog.
/// * Each slot has a `BUF`-byte buffer (default 1024, the tutorial's `recv(1024)`).
///   Received bytes are echoed exactly and in order; while a slot still has unsent
///   bytes it receives nothing more, which passes the backpressure on to its peer
///   without slowing the other slots.
///
/// * The message line shows the end of the newest receive that had text. The end of
///   a receive longer than 408 bytes (580 with `cjk`) is decoded only when the
///   screen is next redrawn, and only if that receive is still the newest then; a
///   long receive that another long one on the same connection follows is never
///   decoded (the later one's end is enough to decode correctly). While the next
///   receive overwrites the slot's buffer, that end waits in a copy on the stack of
///   `poll` (408 or 580 bytes). A bulk sender then costs the screen a few hundred
///   bytes of decoding per redraw rather than per receive, whatever `BUF`.
///
/// [`poll`](Self::poll) does a bounded amount of work and returns; call it from the
/// main loop. The `Stack: TcpClientStack` bound on the struct is needed only to name
/// the socket type.
pub struct EchoServer<Stack, Display, const SLOTS: usize = 4, const BUF: usize = 1024>
where
    Stack: TcpClientStack,
{
    stack: Stack,
    config: ServerConfig,
    listener: Option<Stack::TcpSocket>,
    connections: [Option<Connection<Stack::TcpSocket>>; SLOTS],
    buffers: [[u8; BUF]; SLOTS],
    view: StatusView<Display>,
    ledger: Ledger,
    first_slot: usize,
    /// The slot whose deferred receive is the newest receive of all, if it is.
    latest_deferred: Option<usize>,
}

type PollResult<S, D> = Result<
    Progress,
    ServerError<
        <S as TcpClientStack>::Error,
        <D as embedded_graphics::draw_target::DrawTarget>::Error,
    >,
>;

impl<Stack, Display> EchoServer<Stack, Display>
where
    Stack: TcpFullStack,
    Display: Flush,
{
    /// A server with the default 4 slots of 1024 bytes that will listen on
    /// `config.port` from its first [`poll`](Self::poll). For other sizes, see
    /// [`sized`](Self::sized).
    pub fn new(stack: Stack, display: Display, config: ServerConfig) -> Self {
        Self::sized(stack, display, config)
    }
}

impl<Stack, Display, const SLOTS: usize, const BUF: usize> EchoServer<Stack, Display, SLOTS, BUF>
where
    Stack: TcpFullStack,
    Display: Flush,
{
    /// `SLOTS` as the screen counts: no server has 2^32 slots.
    const SLOT_COUNT: u32 = if SLOTS > u32::MAX as usize {
        u32::MAX
    } else {
        SLOTS as u32
    };

    /// A server with `SLOTS` slots of `BUF` bytes that will listen on `config.port`
    /// from its first [`poll`](Self::poll): name the sizes with a turbofish,
    /// `EchoServer::<_, _, 2, 512>::sized(stack, display, config)`, or in the type
    /// of the variable it goes into.
    pub fn sized(stack: Stack, display: Display, config: ServerConfig) -> Self {
        let view = config.status_view(display, Self::SLOT_COUNT);
        Self {
            stack,
            config,
            listener: None,
            connections: core::array::from_fn(|_| None),
            buffers: [[0; BUF]; SLOTS],
            view,
            ledger: Ledger::default(),
            first_slot: 0,
            latest_deferred: None,
        }
    }

    /// Do what can be done now without waiting: listen if not yet listening, echo,
    /// evict idle connections, accept and redraw the screen.
    ///
    /// Returns whether anything happened (a caller may sleep briefly on
    /// [`Progress::Idle`]). An `Err` reports a stack-wide or display failure; the rest of the
    /// poll's work was still done, counted in [`stats`](Self::stats), and the failed
    /// step is retried on the next poll.
    pub fn poll(&mut self, now: Instant) -> PollResult<Stack, Display> {
        let mut failure = None;
        let mut progress = false;
        match self.listen() {
            Ok(p) => progress |= p,
            Err(e) => failure = Some(e),
        }
        // Slots first: their echoes leave sooner, and slots that ended are free for
        // the connections accepted next.
        progress |= self.service_slots(now);
        if self.listener.is_some() {
            match self.accept(now) {
                Ok(p) => progress |= p,
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Err(e) = self.refresh_screen(now) {
            failure = failure.or(Some(e));
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(Progress::from_flag(progress)),
        }
    }

    /// Counters of what the server has done.
    pub fn stats(&self) -> &ServerStats {
        &self.ledger.stats
    }

    /// The screen's text model (what is, or is about to be, on the display; a long
    /// receive reaches it at the next redraw, see the type's docs).
    pub fn screen(&self) -> &StatusScreen {
        self.view.screen()
    }

    /// The settings in use.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Whether the server is listening.
    pub fn is_listening(&self) -> bool {
        self.listener.is_some()
    }

    /// The peer in each slot, `None` for a free slot.
    pub fn peers(&self) -> impl Iterator<Item = Option<SocketAddr>> + '_ {
        self.connections.iter().map(|c| c.as_ref().map(|c| c.peer))
    }

    /// The oldest event not yet read. At most 16 are kept; older ones are dropped.
    pub fn next_event(&mut self) -> Option<ServerEvent> {
        self.ledger.next_event()
    }

    /// The stack, e.g. to drive a stack that needs polling of its own (smoltcp) or to
    /// read a listener's address.
    pub fn stack_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }

    /// The display, for drawing something else on it; call
    /// [`invalidate_screen`](Self::invalidate_screen) to have the status repainted.
    pub fn display_mut(&mut self) -> &mut Display {
        self.view.display_mut()
    }

    /// The display.
    pub fn display(&self) -> &Display {
        self.view.display()
    }

    /// Stop (`false`) or resume (`true`) drawing the status screen, e.g. while the
    /// application shows a page of its own on the display. Echoing goes on; the
    /// text model keeps up (once per refresh interval), and resuming repaints the
    /// whole screen.
    pub fn set_screen_enabled(&mut self, enabled: bool) {
        self.view.set_enabled(enabled);
    }

    /// Show `ip:port` in the screen's header instead of the configured address:
    /// for example a new DHCP lease, or the port the stack chose for port 0 (see
    /// [`local_addr`](Self::local_addr)).
    pub fn show_address(&mut self, ip: Option<IpAddr>, port: u16) {
        self.view.set_header(ip, port);
    }

    /// Repaint the whole status screen on the next redraw.
    pub fn invalidate_screen(&mut self) {
        self.view.invalidate();
    }

    /// Close every socket and give the stack and the display back.
    pub fn release(mut self) -> (Stack, Display) {
        for slot in 0..SLOTS {
            self.end(slot, CloseReason::Released);
        }
        if let Some(listener) = self.listener.take() {
            let _ = self.stack.close(listener);
        }
        (self.stack, self.view.release())
    }

    fn listen(&mut self) -> Result<bool, ServerError<Stack::Error, Display::Error>> {
        if self.listener.is_some() || !self.config.tcp {
            return Ok(false);
        }
        let mut socket = self
            .stack
            .socket()
            .map_err(|e| self.stack_failure(ServerError::Socket(e)))?;
        let bound = self.stack.bind(&mut socket, self.config.port);
        if let Err(e) = bound.and_then(|()| self.stack.listen(&mut socket)) {
            let _ = self.stack.close(socket);
            return Err(self.stack_failure(ServerError::Listen(e)));
        }
        trace_event!(info, "listening on port {}", self.config.port);
        self.listener = Some(socket);
        Ok(true)
    }

    /// Accepts at most one connection more than there are slots, so a flood of
    /// connects cannot keep `poll` from returning.
    fn accept(&mut self, now: Instant) -> Result<bool, ServerError<Stack::Error, Display::Error>> {
        let mut progress = false;
        for _ in 0..=SLOTS {
            let Some(listener) = self.listener.as_mut() else {
                break;
            };
            match self.stack.accept(listener) {
                Ok((socket, peer)) => {
                    self.admit(socket, peer, now);
                    progress = true;
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => return Err(self.stack_failure(ServerError::Accept(e))),
            }
        }
        Ok(progress)
    }

    fn admit(&mut self, socket: Stack::TcpSocket, peer: SocketAddr, now: Instant) {
        if !self.config.allows(peer.ip()) {
            self.close_quietly(socket);
            self.ledger.denied(peer);
            return;
        }
        let Some(slot) = self.connections.iter().position(Option::is_none) else {
            self.close_quietly(socket);
            self.ledger.rejected(peer);
            return;
        };
        self.connections[slot] = Some(Connection {
            socket,
            peer,
            start: 0,
            end: 0,
            last_activity: now,
            feed: MessageFeed::new(),
        });
        self.ledger.accepted(slot, peer);
    }

    /// Services every slot once, starting one slot later each poll so that no slot is
    /// always first to the stack's shared buffers.
    fn service_slots(&mut self, now: Instant) -> bool {
        let mut progress = false;
        for k in 0..SLOTS {
            let slot = (self.first_slot + k) % SLOTS;
            match self.service(slot, now) {
                Step::Idle => {}
                Step::Progress => progress = true,
                Step::End(reason) => {
                    self.end(slot, reason);
                    progress = true;
                }
            }
        }
        self.first_slot = (self.first_slot + 1) % SLOTS.max(1);
        progress
    }

    fn service(&mut self, slot: usize, now: Instant) -> Step {
        let mut progress = false;
        let mut text = ScreenText::new();
        let mut ended = None;
        for _ in 0..ROUNDS_PER_POLL {
            match self.echo_round(slot, now, &mut text) {
                Ok(Round { progress: p, go_on }) => {
                    progress |= p;
                    if !go_on {
                        break;
                    }
                }
                Err(reason) => {
                    ended = Some(reason);
                    break;
                }
            }
        }
        // The line is fitted once a poll, for the latest receive that had text: also
        // when the peer closed right after it (the tutorial's client does).
        if !text.is_empty() {
            self.view.set_message(text.oldest_ordered().copied());
        }
        if let Some(reason) = ended {
            return Step::End(reason);
        }
        if self.is_idle(slot, now) {
            return Step::End(CloseReason::Idle);
        }
        if progress {
            Step::Progress
        } else {
            Step::Idle
        }
    }

    /// Receives once if nothing is pending, then sends what is pending. Another round
    /// makes sense only if data came and all of it went out again.
    fn echo_round(
        &mut self,
        slot: usize,
        now: Instant,
        text: &mut ScreenText,
    ) -> Result<Round, CloseReason> {
        let Some(conn) = self.connections[slot].as_mut() else {
            return Ok(Round {
                progress: false,
                go_on: false,
            });
        };
        let buf = &mut self.buffers[slot];
        let (mut received, mut saved) = (0, None);
        if conn.start == conn.end {
            saved = conn.feed.before_receive(buf, conn.end);
            let result = receive(&mut self.stack, conn, buf, &mut self.ledger);
            if !matches!(result, Ok(1..)) {
                conn.feed.not_received(buf, conn.end, saved.take());
            }
            received = result?;
            if received > 0 {
                conn.last_activity = now;
            }
        }
        // The echo leaves first: only the screen waits for the decoding.
        let sent = send_pending(&mut self.stack, conn, buf, &mut self.ledger);
        if received > 0 {
            match conn.feed.received(buf, received, saved.as_ref(), text) {
                Fed::Deferred => self.latest_deferred = Some(slot),
                Fed::Decoded(true) => self.latest_deferred = None,
                Fed::Decoded(false) => {}
            }
        }
        let (sent, received) = (sent?, received > 0);
        if sent {
            conn.last_activity = now;
        }
        let flushed = conn.start == conn.end;
        Ok(Round {
            progress: received || sent,
            go_on: received && flushed,
        })
    }

    fn is_idle(&self, slot: usize, now: Instant) -> bool {
        match (&self.connections[slot], self.config.idle_timeout) {
            (Some(conn), Some(timeout)) => now - conn.last_activity >= timeout,
            _ => false,
        }
    }

    fn end(&mut self, slot: usize, reason: CloseReason) {
        if self.latest_deferred == Some(slot) {
            self.settle_latest();
        }
        let Some(conn) = self.connections[slot].take() else {
            return;
        };
        let peer = conn.peer;
        self.close_quietly(conn.socket);
        self.ledger.closed(slot, peer, reason);
    }

    /// Decodes the newest receive if its decoding was deferred, for the message line.
    fn settle_latest(&mut self) {
        let Some(slot) = self.latest_deferred.take() else {
            return;
        };
        let (Some(Some(conn)), Some(buf)) =
            (self.connections.get_mut(slot), self.buffers.get(slot))
        else {
            return;
        };
        let mut text = ScreenText::new();
        if conn.feed.settle(buf, conn.end, &mut text) {
            self.view.set_message(text.oldest_ordered().copied());
        }
    }

    /// A failed close still frees the socket on every stack we know, and there is
    /// nothing more to do with it, so it is only counted.
    fn close_quietly(&mut self, socket: Stack::TcpSocket) {
        if self.stack.close(socket).is_err() {
            self.ledger.error();
        }
    }

    fn stack_failure(
        &mut self,
        error: ServerError<Stack::Error, Display::Error>,
    ) -> ServerError<Stack::Error, Display::Error> {
        self.ledger.error();
        #[cfg(any(feature = "log", feature = "defmt"))]
        if let ServerError::Socket(e) | ServerError::Listen(e) | ServerError::Accept(e) = &error {
            trace_event!(warn, "stack failure: {:?}", crate::log::Dbg(e));
        }
        error
    }

    /// Runs after every slot has been serviced, so the echo of this poll is already
    /// with the stack when the (slow) display transfer starts.
    fn refresh_screen(
        &mut self,
        now: Instant,
    ) -> Result<(), ServerError<Stack::Error, Display::Error>> {
        self.view.set_status(self.ledger.status(Self::SLOT_COUNT));
        if !self.view.is_due(now) {
            return Ok(());
        }
        self.settle_latest();
        match self.view.draw(now) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.ledger.display_error();
                Err(ServerError::Display(e))
            }
        }
    }
}

impl<Stack, Display, const SLOTS: usize, const BUF: usize> EchoServer<Stack, Display, SLOTS, BUF>
where
    Stack: TcpFullStack + LocalAddr,
{
    /// The address the server listens on, as the stack tells it: with port 0, the
    /// port the stack chose. `None` until a poll has listened.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.stack.local_addr(self.listener.as_ref()?)
    }
}

impl<Stack, Display, const SLOTS: usize, const BUF: usize> EchoServer<Stack, Display, SLOTS, BUF>
where
    Stack: TcpFullStack + UdpFullStack,
    Display: Flush,
{
    /// Runs a [`UdpEcho`] beside the TCP slots, with this server's stack, port and
    /// allowlist: call it next to [`poll`](Self::poll), which redraws the screen.
    /// Each datagram echoed shows on the screen as a TCP receive does (its text
    /// decoded by the same rules, on its own; its sender as the last peer).
    pub fn poll_udp<const QUEUE: usize, const UDP_BUF: usize>(
        &mut self,
        udp: &mut UdpEcho<<Stack as UdpClientStack>::UdpSocket, QUEUE, UDP_BUF>,
        now: Instant,
    ) -> Result<Progress, UdpEchoError<<Stack as UdpClientStack>::Error>> {
        let (mut text, mut peer) = (ScreenText::new(), None);
        let progress = udp.poll_with(&mut self.stack, &self.config, now, |from, bytes| {
            peer = Some(from);
            let fresh = datagram_text(bytes);
            if !fresh.is_empty() {
                text = fresh;
            }
        });
        if let Some(peer) = peer {
            self.ledger.datagram_from(peer);
        }
        if !text.is_empty() {
            // Newer than any TCP receive whose decoding still waits.
            self.latest_deferred = None;
            self.view.set_message(text.oldest_ordered().copied());
        }
        progress
    }
}

/// Receives into the slot's buffer; `Ok(0)` means nothing arrived yet.
fn receive<S: TcpClientStack>(
    stack: &mut S,
    conn: &mut Connection<S::TcpSocket>,
    buf: &mut [u8],
    ledger: &mut Ledger,
) -> Result<usize, CloseReason> {
    match stack.receive(&mut conn.socket, buf) {
        Ok(0) => Err(CloseReason::PeerClosed),
        Ok(n) => {
            // A stack claiming more than the buffer holds must not make us panic.
            let n = n.min(buf.len());
            conn.start = 0;
            conn.end = n;
            ledger.received(n);
            Ok(n)
        }
        Err(nb::Error::WouldBlock) => Ok(0),
        Err(nb::Error::Other(e)) => Err(close_reason(&e)),
    }
}

/// Hands unsent bytes to the stack; returns whether any were taken. A send of `Ok(0)`
/// is treated like `WouldBlock`: the bytes stay.
fn send_pending<S: TcpClientStack>(
    stack: &mut S,
    conn: &mut Connection<S::TcpSocket>,
    buf: &[u8],
    ledger: &mut Ledger,
) -> Result<bool, CloseReason> {
    let mut progress = false;
    for _ in 0..SEND_TRIES {
        let Some(pending) = buf.get(conn.start..conn.end).filter(|p| !p.is_empty()) else {
            break;
        };
        match stack.send(&mut conn.socket, pending) {
            Ok(0) | Err(nb::Error::WouldBlock) => break,
            Ok(n) => {
                let n = n.min(pending.len());
                conn.start += n;
                ledger.sent(n);
                progress = true;
            }
            Err(nb::Error::Other(e)) => return Err(close_reason(&e)),
        }
    }
    Ok(progress)
}

fn close_reason<E: TcpError>(error: &E) -> CloseReason {
    match error.kind() {
        TcpErrorKind::PipeClosed => CloseReason::PipeClosed,
        _ => CloseReason::Error,
    }
}
