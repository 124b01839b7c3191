//! PLACEHOLDER until nal-echo's `asynch::AsyncEchoServer` (feature `async`) is on
//! main: the same calls, so that the embassy firmware compiles; it serves nothing
//! (its `run` never returns and accepts nothing). Removed when the library lands.

use core::cell::{Cell, RefCell};
use core::net::IpAddr;

use nal_echo::{Clock, ServerConfig, ServerEvent, ServerStats};

/// Stands in for `nal_echo::asynch::AsyncEchoServer`.
pub struct AsyncEchoServer<D, const SLOTS: usize, const BUF: usize> {
    display: RefCell<D>,
    config: ServerConfig,
    screen: Cell<bool>,
}

impl<D, const SLOTS: usize, const BUF: usize> AsyncEchoServer<D, SLOTS, BUF> {
    /// The server for `display` and `config`.
    pub fn sized(display: D, config: ServerConfig) -> Self {
        Self {
            display: RefCell::new(display),
            config,
            screen: Cell::new(true),
        }
    }

    /// Serves until binding fails (the placeholder: never, and serves nothing).
    pub async fn run<T, C, Dl>(&self, _tcp: &T, _clock: C, _delay: Dl) -> T::Error
    where
        T: edge_nal::TcpBind,
        C: Clock,
        Dl: embedded_hal_async::delay::DelayNs + Clone,
    {
        let _ = self.config.port;
        core::future::pending().await
    }

    pub fn stats(&self) -> ServerStats {
        ServerStats::default()
    }

    pub fn next_event(&self) -> Option<ServerEvent> {
        None
    }

    pub fn set_screen_enabled(&self, enabled: bool) {
        self.screen.set(enabled);
    }

    pub fn invalidate_screen(&self) {}

    pub fn show_address(&self, _ip: Option<IpAddr>, _port: u16) {}

    pub fn with_display<R>(&self, f: impl FnOnce(&mut D) -> R) -> R {
        f(&mut self.display.borrow_mut())
    }
}
