//! What the async host programs and tests need beside edge-nal-std: an async delay
//! on async-io's timers, embedded-nal-async's `TcpConnect` over edge-nal-std's
//! stack (edge-nal-std implements edge-nal's own `TcpConnect` only), and a bind
//! that says when it listens.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use edge_nal::TcpBind;
use edge_nal_std::{Stack, TcpAcceptor, TcpSocket};

/// `embedded_hal_async::delay::DelayNs` on async-io's timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncIoDelay;

impl embedded_hal_async::delay::DelayNs for AsyncIoDelay {
    async fn delay_ns(&mut self, ns: u32) {
        async_io::Timer::after(Duration::from_nanos(u64::from(ns))).await;
    }
}

/// edge-nal-std's stack as an embedded-nal-async `TcpConnect`.
#[derive(Default)]
pub struct StdConnect(pub Stack);

impl embedded_nal_async::TcpConnect for StdConnect {
    type Error = io::Error;
    type Connection<'a> = TcpSocket;

    async fn connect(&self, remote: SocketAddr) -> Result<TcpSocket, io::Error> {
        edge_nal::TcpConnect::connect(&self.0, remote).await
    }
}

/// edge-nal-std's stack, calling `bound` with the outcome of each bind (the
/// address asked for, or the error): how a program says "listening on".
pub struct AnnouncingBind<F> {
    stack: Stack,
    bound: F,
}

impl<F: Fn(Result<SocketAddr, &io::Error>)> AnnouncingBind<F> {
    pub fn new(bound: F) -> Self {
        Self {
            stack: Stack::new(),
            bound,
        }
    }
}

impl<F: Fn(Result<SocketAddr, &io::Error>)> TcpBind for AnnouncingBind<F> {
    type Error = io::Error;
    type Accept<'a>
        = TcpAcceptor
    where
        Self: 'a;

    async fn bind(&self, local: SocketAddr) -> Result<TcpAcceptor, io::Error> {
        let result = self.stack.bind(local).await;
        (self.bound)(result.as_ref().map(|_| local));
        result
    }
}
