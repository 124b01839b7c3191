//! The OS's readiness notification (mio: epoll, kqueue), so that a host loop with
//! nothing to do sleeps until a socket has news instead of spinning or sleeping blind.

use ::std::sync::atomic::{AtomicBool, Ordering};
use ::std::sync::{Arc, Mutex};
use ::std::time::Duration as StdDuration;

use crate::time::Duration;

/// The longest a wait sleeps where readiness is not watched (no mio `Poll`, or a
/// socket that could not be registered): short, so that loops stay responsive.
const BLIND_WAIT: StdDuration = StdDuration::from_millis(1);
/// Events taken per wait; more stay queued and end the next wait at once.
#[cfg_attr(not(unix), allow(dead_code))]
const EVENTS: usize = 16;

/// One registration list, shared by a stack and its clones.
#[derive(Clone, Debug)]
pub(super) struct Readiness {
    /// `None` where the OS's notification could not be set up (or on Windows).
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    #[cfg_attr(not(unix), allow(dead_code))]
    registry: mio::Registry,
    poll: Mutex<(mio::Poll, mio::Events)>,
    /// A socket could not be registered, so a wait cannot trust its silence.
    blind: AtomicBool,
}

/// What a socket is watched for.
#[derive(Clone, Copy)]
pub(super) enum Watch {
    /// A listener: connections queued.
    Accept,
    /// A connection: data or a close arrived, room to send, the handshake ended.
    Stream,
    /// A UDP socket: a datagram or an ICMP error arrived, room to send.
    Datagram,
}

impl Readiness {
    pub(super) fn new() -> Self {
        Self { inner: open() }
    }

    /// Registers a socket; a failure only makes waits shorter.
    #[cfg(unix)]
    pub(super) fn watch(&self, socket: &impl ::std::os::fd::AsRawFd, what: Watch) {
        let Some(inner) = &self.inner else { return };
        let interest = match what {
            Watch::Accept => mio::Interest::READABLE,
            Watch::Stream | Watch::Datagram => mio::Interest::READABLE | mio::Interest::WRITABLE,
        };
        let fd = socket.as_raw_fd();
        let source = &mut mio::unix::SourceFd(&fd);
        if inner
            .registry
            .register(source, mio::Token(0), interest)
            .is_err()
        {
            inner.blind.store(true, Ordering::Relaxed);
        }
    }

    /// Removes a socket before it is closed, as mio asks (the OS would drop it from
    /// the list on close anyway, which covers sockets dropped without `close`).
    #[cfg(unix)]
    pub(super) fn unwatch(&self, socket: &impl ::std::os::fd::AsRawFd) {
        if let Some(inner) = &self.inner {
            let fd = socket.as_raw_fd();
            let _ = inner.registry.deregister(&mut mio::unix::SourceFd(&fd));
        }
    }

    #[cfg(not(unix))]
    pub(super) fn watch<T>(&self, _socket: &T, _what: Watch) {}

    #[cfg(not(unix))]
    pub(super) fn unwatch<T>(&self, _socket: &T) {}

    /// Sleeps until a watched socket has news or `timeout` passed; `true` if woken
    /// by news (or by a signal: either way, poll again).
    pub(super) fn wait(&self, timeout: Duration) -> bool {
        let timeout = StdDuration::from_millis(timeout.total_millis());
        let Some(inner) = &self.inner else {
            ::std::thread::sleep(timeout.min(BLIND_WAIT));
            return false;
        };
        let timeout = if inner.blind.load(Ordering::Relaxed) {
            timeout.min(BLIND_WAIT)
        } else {
            timeout
        };
        // A poisoned lock only means another waiter panicked; the Poll is still sound.
        let mut guard = inner.poll.lock().unwrap_or_else(|e| e.into_inner());
        let (poll, events) = &mut *guard;
        match poll.poll(events, Some(timeout)) {
            Ok(()) => !events.is_empty(),
            Err(_) => true,
        }
    }
}

#[cfg(unix)]
fn open() -> Option<Arc<Inner>> {
    let poll = mio::Poll::new().ok()?;
    let registry = poll.registry().try_clone().ok()?;
    Some(Arc::new(Inner {
        registry,
        poll: Mutex::new((poll, mio::Events::with_capacity(EVENTS))),
        blind: AtomicBool::new(false),
    }))
}

/// mio watches raw sockets only on unix; elsewhere waits sleep briefly.
#[cfg(not(unix))]
fn open() -> Option<Arc<Inner>> {
    None
}
