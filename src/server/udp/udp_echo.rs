//! [`UdpEcho`]: echoes datagrams whole and in order, never blocking.

use core::fmt;
use core::net::SocketAddr;

use embedded_nal::{nb, UdpFullStack};
use heapless::Deque;

use crate::log::trace_event;
use crate::progress::Progress;
use crate::server::config::ServerConfig;
use crate::server::udp::error::UdpEchoError;
use crate::server::udp::stats::UdpStats;
use crate::stack::local_addr::UdpLocalAddr;
use crate::time::{Duration, Instant};

/// Datagrams taken from the stack per poll at most, so that a flood cannot keep
/// `poll` from returning.
const RECEIVES_PER_POLL: usize = 8;

/// A datagram waiting for its echo; its bytes are in the buffer of its place in the
/// queue.
#[derive(Debug, Clone, Copy)]
struct Queued {
    peer: SocketAddr,
    len: usize,
    since: Instant,
}

/// A UDP echo over any embedded-nal [`UdpFullStack`]: each datagram goes back to its
/// sender unchanged, whole or not at all, in the order they came.
///
/// * A datagram is received into a `BUF`-byte buffer. embedded-nal cannot say that a
///   datagram was longer than the buffer (most stacks cut it without a word), so a
///   datagram that fills the whole buffer is taken as cut: it is counted in
///   [`UdpStats::too_large`] and never echoed. The largest datagram echoed is
///   `BUF - 1` bytes (1023 by default; on a host, `BUF = 65_508` echoes every IPv4
///   datagram).
/// * Up to `QUEUE` datagrams wait for their echo (`QUEUE` ≥ 1; default 2). While
///   the queue is full nothing more is received: datagrams wait in the stack, which
///   drops what it cannot hold, as any UDP socket does. A datagram whose echo the
///   stack would not take (`WouldBlock`) is retried on each poll for up to the retry
///   time (default 1 s), then dropped and counted ([`UdpStats::dropped`]), as is one
///   the stack refuses with an error.
/// * Datagrams from peers the allowlist does not name are dropped and counted.
/// * [`poll`](Self::poll) does a bounded amount of work (8 receives at most) and
///   never waits.
///
/// Beside an [`EchoServer`](crate::server::EchoServer), call
/// [`EchoServer::poll_udp`](crate::server::EchoServer::poll_udp) so that datagrams
/// reach the server's screen; alone, call [`poll`](Self::poll).
pub struct UdpEcho<Socket, const QUEUE: usize = 2, const BUF: usize = 1024> {
    socket: Option<Socket>,
    port: Option<u16>,
    retry_for: Duration,
    queue: Deque<Queued, QUEUE>,
    /// The buffer of the oldest queued datagram; the others follow, wrapping.
    head: usize,
    buffers: [[u8; BUF]; QUEUE],
    stats: UdpStats,
}

impl<Socket> UdpEcho<Socket> {
    /// A UDP echo with the default queue of 2 datagrams of up to 1023 bytes, bound
    /// from its first poll to the server's port.
    pub fn new() -> Self {
        Self::sized()
    }
}

impl<Socket> Default for UdpEcho<Socket> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Socket, const QUEUE: usize, const BUF: usize> fmt::Debug for UdpEcho<Socket, QUEUE, BUF> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpEcho")
            .field("bound", &self.socket.is_some())
            .field("queued", &self.queue.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<Socket, const QUEUE: usize, const BUF: usize> UdpEcho<Socket, QUEUE, BUF> {
    /// How long a datagram waits for the stack to take its echo by default.
    pub const RETRY_FOR: Duration = Duration::from_secs(1);

    /// A UDP echo with a queue of `QUEUE` datagrams of up to `BUF - 1` bytes:
    /// `UdpEcho::<_, 4, 1500>::sized()`.
    pub fn sized() -> Self {
        Self {
            socket: None,
            port: None,
            retry_for: Self::RETRY_FOR,
            queue: Deque::new(),
            head: 0,
            buffers: [[0; BUF]; QUEUE],
            stats: UdpStats::default(),
        }
    }

    /// Bind this port instead of the server's (`ServerConfig::port`).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Give up a datagram whose echo the stack has not taken after this long.
    pub fn with_retry_for(mut self, retry_for: Duration) -> Self {
        self.retry_for = retry_for;
        self
    }

    /// Counters of what it has done.
    pub fn stats(&self) -> &UdpStats {
        &self.stats
    }

    /// Whether its socket is bound.
    pub fn is_bound(&self) -> bool {
        self.socket.is_some()
    }

    /// Datagrams waiting for their echo.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

impl<Socket, const QUEUE: usize, const BUF: usize> UdpEcho<Socket, QUEUE, BUF> {
    /// Binds if not yet bound, echoes what is queued, then receives and echoes what
    /// came (at most 8 datagrams). Returns whether anything happened; an `Err` means
    /// the socket could not be made or bound, retried on the next poll.
    pub fn poll<S>(
        &mut self,
        stack: &mut S,
        config: &ServerConfig,
        now: Instant,
    ) -> Result<Progress, UdpEchoError<S::Error>>
    where
        S: UdpFullStack<UdpSocket = Socket>,
    {
        self.poll_with(stack, config, now, |_, _| {})
    }

    /// Like [`poll`](Self::poll), calling `seen` with each datagram queued for its
    /// echo and its sender.
    pub(crate) fn poll_with<S>(
        &mut self,
        stack: &mut S,
        config: &ServerConfig,
        now: Instant,
        mut seen: impl FnMut(SocketAddr, &[u8]),
    ) -> Result<Progress, UdpEchoError<S::Error>>
    where
        S: UdpFullStack<UdpSocket = Socket>,
    {
        let mut progress = self.bind(stack, config)?;
        progress |= self.flush(stack, now);
        for _ in 0..RECEIVES_PER_POLL {
            if self.queue.is_full() || !self.receive(stack, config, now, &mut seen) {
                break;
            }
            progress = true;
            self.flush(stack, now);
        }
        Ok(Progress::from_flag(progress))
    }

    /// The socket's local address, as the stack tells it: with port 0, the port the
    /// stack chose. `None` before it is bound.
    pub fn local_addr<S>(&self, stack: &S) -> Option<SocketAddr>
    where
        S: UdpLocalAddr<UdpSocket = Socket>,
    {
        stack.udp_local_addr(self.socket.as_ref()?)
    }

    /// Closes the socket (queued echoes are dropped, uncounted) and gives back what
    /// it counted.
    pub fn close<S>(mut self, stack: &mut S) -> UdpStats
    where
        S: UdpFullStack<UdpSocket = Socket>,
    {
        if let Some(socket) = self.socket.take() {
            if stack.close(socket).is_err() {
                self.stats.errors = self.stats.errors.wrapping_add(1);
            }
        }
        self.stats
    }

    fn bind<S>(
        &mut self,
        stack: &mut S,
        config: &ServerConfig,
    ) -> Result<bool, UdpEchoError<S::Error>>
    where
        S: UdpFullStack<UdpSocket = Socket>,
    {
        if self.socket.is_some() {
            return Ok(false);
        }
        let port = self.port.unwrap_or(config.port);
        let mut socket = stack.socket().map_err(UdpEchoError::Socket)?;
        if let Err(e) = stack.bind(&mut socket, port) {
            let _ = stack.close(socket);
            note_failure("bind", &e);
            return Err(UdpEchoError::Bind(e));
        }
        trace_event!(info, "UDP echo on port {}", port);
        self.socket = Some(socket);
        Ok(true)
    }

    /// Receives one datagram into the queue's next buffer. Returns whether the
    /// stack had something to say (a datagram, or an error about one).
    fn receive<S>(
        &mut self,
        stack: &mut S,
        config: &ServerConfig,
        now: Instant,
        seen: &mut impl FnMut(SocketAddr, &[u8]),
    ) -> bool
    where
        S: UdpFullStack<UdpSocket = Socket>,
    {
        let (Some(socket), Some(buf)) = (
            self.socket.as_mut(),
            self.buffers
                .get_mut(self.head.wrapping_add(self.queue.len()) % QUEUE.max(1)),
        ) else {
            return false;
        };
        let stats = &mut self.stats;
        let (len, peer) = match stack.receive(socket, buf) {
            Err(nb::Error::WouldBlock) => return false,
            Err(nb::Error::Other(e)) => {
                note_failure("receive", &e);
                stats.errors = stats.errors.wrapping_add(1);
                return true;
            }
            Ok(datagram) => datagram,
        };
        if len >= BUF {
            stats.too_large = stats.too_large.wrapping_add(1);
        } else if !config.allows(peer.ip()) {
            stats.denied = stats.denied.wrapping_add(1);
        } else {
            stats.datagrams_in = stats.datagrams_in.wrapping_add(1);
            stats.bytes_in = stats.bytes_in.wrapping_add(len as u64);
            // Cannot fail: the caller checked that the queue has room.
            let _ = self.queue.push_back(Queued {
                peer,
                len,
                since: now,
            });
            seen(peer, buf.get(..len).unwrap_or_default());
        }
        true
    }

    /// Hands queued echoes to the stack, oldest first, until it takes no more.
    fn flush<S>(&mut self, stack: &mut S, now: Instant) -> bool
    where
        S: UdpFullStack<UdpSocket = Socket>,
    {
        let mut progress = false;
        while let (Some(socket), Some(&front)) = (self.socket.as_mut(), self.queue.front()) {
            let bytes = self
                .buffers
                .get(self.head)
                .and_then(|b| b.get(..front.len))
                .unwrap_or_default();
            let stats = &mut self.stats;
            match stack.send_to(socket, front.peer, bytes) {
                Ok(()) => {
                    stats.datagrams_out = stats.datagrams_out.wrapping_add(1);
                    stats.bytes_out = stats.bytes_out.wrapping_add(front.len as u64);
                }
                Err(nb::Error::WouldBlock) if now - front.since < self.retry_for => break,
                Err(nb::Error::WouldBlock) => stats.dropped = stats.dropped.wrapping_add(1),
                Err(nb::Error::Other(e)) => {
                    note_failure("send", &e);
                    stats.errors = stats.errors.wrapping_add(1);
                    stats.dropped = stats.dropped.wrapping_add(1);
                }
            }
            self.queue.pop_front();
            self.head = (self.head + 1) % QUEUE.max(1);
            progress = true;
        }
        progress
    }
}

/// A failed call about one datagram, or of the bind: logged with the error's value.
fn note_failure<E: fmt::Debug>(call: &str, error: &E) {
    trace_event!(debug, "UDP {} failed: {:?}", call, crate::log::Dbg(error));
    let _ = (call, error);
}
