//! An `AsyncEchoServer` on edge-nal-std, on a thread of its own, for tests that
//! talk to it with std sockets: its events come out on a channel as they happen,
//! and its counters and screen are asked for through another.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use futures_lite::future;
use nal_echo::asynch::AsyncEchoServer;
use nal_echo::display::RecordingDisplay;
use nal_echo::time::StdClock;
use nal_echo::{ServerConfig, ServerEvent, ServerStats};
use nal_echo_host::asynch::{AnnouncingBind, AsyncIoDelay};

/// How long a test waits for anything.
pub const WAIT: Duration = Duration::from_secs(20);
/// How often the relay passes events on: the harness's pace, not the server's.
const RELAY_TICK: Duration = Duration::from_millis(1);

enum Request {
    Stats(mpsc::Sender<ServerStats>),
    /// The message line once `want` holds for it (or after [`WAIT`]).
    MessageWhere(Box<dyn Fn(&str) -> bool + Send>, mpsc::Sender<String>),
    Message(mpsc::Sender<String>),
}

pub struct AsyncHost {
    pub addr: SocketAddr,
    requests: Option<async_channel::Sender<Request>>,
    events: mpsc::Receiver<ServerEvent>,
    thread: Option<JoinHandle<()>>,
}

impl AsyncHost {
    /// A server with `SLOTS` slots of `BUF` bytes on a free port of 127.0.0.1.
    pub fn start<const SLOTS: usize, const BUF: usize>(config: ServerConfig) -> Self {
        for _ in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match Self::try_start::<SLOTS, BUF>(addr, config.clone()) {
                Ok(host) => return host,
                // Another program took the port between the probe and the bind.
                Err(io::ErrorKind::AddrInUse) => continue,
                Err(e) => panic!("the server cannot listen: {e:?}"),
            }
        }
        panic!("no free port in 20 tries");
    }

    fn try_start<const SLOTS: usize, const BUF: usize>(
        addr: SocketAddr,
        config: ServerConfig,
    ) -> Result<Self, io::ErrorKind> {
        let (bound_tx, bound_rx) = mpsc::channel();
        let (events_tx, events) = mpsc::channel();
        let (requests, requests_rx) = async_channel::unbounded();
        let thread = thread::spawn(move || {
            let server = AsyncEchoServer::<RecordingDisplay, SLOTS, BUF>::sized(
                RecordingDisplay::new(),
                config,
            );
            let bind = AnnouncingBind::new(move |r: Result<SocketAddr, &io::Error>| {
                let _ = bound_tx.send(r.map_err(io::Error::kind));
            });
            let serve = async {
                let _ = server
                    .run_at(&bind, addr, StdClock::new(), AsyncIoDelay)
                    .await;
            };
            async_io::block_on(future::or(serve, relay(&server, requests_rx, events_tx)));
        });
        let bound = bound_rx.recv_timeout(WAIT).expect("the server binds");
        match bound {
            Ok(_) => Ok(Self {
                addr,
                requests: Some(requests),
                events,
                thread: Some(thread),
            }),
            Err(kind) => {
                drop(requests);
                let _ = thread.join();
                Err(kind)
            }
        }
    }

    /// The next event, within [`WAIT`].
    pub fn next_event(&self) -> ServerEvent {
        self.events
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no event within {WAIT:?}: {e}"))
    }

    /// Events until one that `want` picks (which is returned), within [`WAIT`].
    pub fn event_where(&self, want: impl Fn(&ServerEvent) -> bool) -> ServerEvent {
        loop {
            let event = self.next_event();
            if want(&event) {
                return event;
            }
        }
    }

    /// Whether an event came that was not read yet.
    pub fn pending_events(&self) -> Vec<ServerEvent> {
        self.events.try_iter().collect()
    }

    pub fn stats(&self) -> ServerStats {
        self.ask(Request::Stats)
    }

    pub fn message(&self) -> String {
        self.ask(Request::Message)
    }

    /// The message line once `want` holds for it; what it is after [`WAIT`] if it
    /// never does (the screen is redrawn on its own time).
    pub fn message_where(&self, want: impl Fn(&str) -> bool + Send + 'static) -> String {
        self.ask(|reply| Request::MessageWhere(Box::new(want), reply))
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, WAIT).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.set_write_timeout(Some(WAIT)).unwrap();
        s
    }

    fn ask<T>(&self, request: impl FnOnce(mpsc::Sender<T>) -> Request) -> T {
        let (tx, rx) = mpsc::channel();
        let requests = self.requests.as_ref().expect("running");
        requests
            .send_blocking(request(tx))
            .expect("the server runs");
        rx.recv_timeout(WAIT).expect("the server answers")
    }
}

impl Drop for AsyncHost {
    fn drop(&mut self) {
        // Closing the channel ends the relay, and with it the server's future.
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Passes the server's events on and answers requests, until the test is done.
async fn relay<const SLOTS: usize, const BUF: usize>(
    server: &AsyncEchoServer<RecordingDisplay, SLOTS, BUF>,
    requests: async_channel::Receiver<Request>,
    events: mpsc::Sender<ServerEvent>,
) {
    loop {
        while let Some(event) = server.next_event() {
            let _ = events.send(event);
        }
        let request = future::or(async { Some(requests.recv().await) }, async {
            async_io::Timer::after(RELAY_TICK).await;
            None
        });
        match request.await {
            None => {}
            Some(Err(_)) => return,
            Some(Ok(Request::Stats(reply))) => {
                let _ = reply.send(server.stats());
            }
            Some(Ok(Request::Message(reply))) => {
                let _ = reply.send(server.with_screen(|s| s.message().to_string()));
            }
            Some(Ok(Request::MessageWhere(want, reply))) => {
                let message = || server.with_screen(|s| s.message().to_string());
                let ticks = WAIT.as_millis() / RELAY_TICK.as_millis();
                for _ in 0..ticks {
                    if want(&message()) {
                        break;
                    }
                    async_io::Timer::after(RELAY_TICK).await;
                }
                let _ = reply.send(server.with_screen(|s| s.message().to_string()));
            }
        }
    }
}
