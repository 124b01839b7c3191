//! Echo throughput and 64-byte round trip on loopback: the library's EchoServer on
//! the std stack against a minimal thread-per-connection std echo server.
//!
//! `cargo bench --bench echo`
//!
//! Both servers are run with the same echo buffer, twice: 1 KiB (the tutorial's
//! `recv(1024)`, the library's default `BUF`) and 16 KiB (what a host program
//! would choose; the `server` example does). The EchoServer runs in one thread with
//! the examples' run-loop policy, `stack::std::IdleWait` (poll again after
//! progress, yield while the last progress is under 2 ms old, then sleep in
//! `StdStack::wait`, here at most 2 ms). `scripts/host_bench.py` measures the
//! `server` example itself from another process.
//!
//! A third server, `minimal-poll`, is the least a one-thread poll loop can do
//! without the library (plain non-blocking std sockets, same rounds, the same idle
//! policy with poll(2) for `wait`): the gap between it and the baseline is the one thread's, the gap
//! between it and nal-echo the library's.
//!
//! `NAL_ECHO_BENCH_NICE=-6 cargo bench --bench echo` runs the poll thread at that
//! nice value (Linux; lowering it needs root or CAP_SYS_NICE). With four clients the
//! baseline's four server threads share the CPU fairly with the eight client threads
//! and so get 4/12 of it, the one poll thread 1/9; at nice -6 (scheduler weight
//! 3906, four threads at nice 0 weigh 4096) the poll thread gets the share the
//! baseline's threads have together.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Pixel, Size};
use nal_echo::stack::std::{IdleWait, StdStack};
use nal_echo::{EchoServer, NoFlush, Progress, ServerConfig};

const BLOB: usize = 256 * 1024;
/// The tutorial's `recv(1024)` and the library's default buffer.
const SMALL: usize = 1024;
/// A buffer sized for a host.
const LARGE: usize = 16 * 1024;

/// The longest a poll loop with nothing to do sleeps before it polls again.
const IDLE_WAIT: nal_echo::Duration = nal_echo::Duration::from_millis(2);

/// `IdleWait`'s policy for the minimal poll loop, which has no `StdStack` to wait
/// on: nothing after progress; a yield while progress is recent; after that,
/// `sleep`, which sleeps in the OS until a socket has news.
struct Idle {
    last_progress: Instant,
}

impl Idle {
    /// How long after the last progress the loop still spins: `IdleWait`'s.
    const SPIN: Duration = IdleWait::SPIN;

    fn new() -> Self {
        Self {
            last_progress: Instant::now(),
        }
    }

    fn after_poll(&mut self, progress: bool, sleep: impl FnOnce()) {
        if progress {
            self.last_progress = Instant::now();
        } else if self.last_progress.elapsed() < Self::SPIN {
            thread::yield_now();
        } else {
            sleep();
        }
    }
}

/// A display that draws nowhere, so the bench measures the network path.
struct Nowhere;

impl OriginDimensions for Nowhere {
    fn size(&self) -> Size {
        Size::new(128, 64)
    }
}

impl DrawTarget for Nowhere {
    type Color = BinaryColor;
    type Error = core::convert::Infallible;
    fn draw_iter<I: IntoIterator<Item = Pixel<BinaryColor>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        pixels.into_iter().for_each(drop);
        Ok(())
    }
}

/// A running server and the flag that stops it.
struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Running {
    /// Runs `serve` on a thread of its own until the returned `Running` is dropped;
    /// `serve` gets the flag that says to stop.
    fn spawn(addr: SocketAddr, serve: impl FnOnce(&AtomicBool) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || serve(&flag));
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

/// A non-blocking listener on a free loopback port, and its address.
fn loopback_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    (listener, addr)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_nal_echo<const BUF: usize>() -> Running {
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let running = Running::spawn(addr, move |stop| {
        set_poll_thread_nice();
        let mut config = ServerConfig::default();
        config.port = port;
        config.idle_timeout = None;
        let stack = StdStack::bind_to([127, 0, 0, 1].into());
        let mut idle = IdleWait::new(&stack).with_longest_sleep(IDLE_WAIT);
        let mut server = EchoServer::<_, _, 4, BUF>::sized(stack, NoFlush(Nowhere), config);
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = nal_echo::Instant::from_millis(start.elapsed().as_millis() as u64);
            idle.after_poll(server.poll(now).unwrap_or(Progress::Busy));
        }
    });
    wait_listening(addr);
    running
}

/// Applies `NAL_ECHO_BENCH_NICE` to the calling thread, if set.
fn set_poll_thread_nice() {
    let Ok(value) = std::env::var("NAL_ECHO_BENCH_NICE") else {
        return;
    };
    let nice: i32 = value.parse().expect("NAL_ECHO_BENCH_NICE: an integer");
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread, no memory is passed.
        let tid = unsafe { libc::gettid() };
        let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
        assert_eq!(
            result,
            0,
            "setpriority({nice}): {}",
            std::io::Error::last_os_error()
        );
    }
    #[cfg(not(target_os = "linux"))]
    panic!("NAL_ECHO_BENCH_NICE={nice}: thread priorities are set on Linux only");
}

/// The least a one-thread poll loop can do, without the library: non-blocking std
/// sockets, up to four connections (accepted only while fewer are open), the same
/// eight receive/send rounds per connection and poll, and the same [`Idle`] policy
/// as [`start_nal_echo`], with poll(2) for the sleep. It shows how much of a gap is
/// the one thread's and how much the library's.
fn start_minimal_poll<const BUF: usize>() -> Running {
    let (listener, addr) = loopback_listener();
    let running = Running::spawn(addr, move |stop| {
        set_poll_thread_nice();
        let mut conns: Vec<MinimalConn<BUF>> = Vec::new();
        let mut idle = Idle::new();
        while !stop.load(Ordering::Relaxed) {
            let mut progress = false;
            if conns.len() < 4 {
                if let Ok((stream, _)) = listener.accept() {
                    stream.set_nonblocking(true).unwrap();
                    stream.set_nodelay(true).unwrap();
                    conns.push(MinimalConn::new(stream));
                    progress = true;
                }
            }
            let before = conns.len();
            conns.retain_mut(|conn| conn.serve(&mut progress));
            progress |= conns.len() != before;
            idle.after_poll(progress, || wait_ready(&listener, &conns));
        }
    });
    wait_listening(addr);
    running
}

/// Sleeps in poll(2) until the listener or a connection is ready for what the loop
/// wants of it (receive, or send what is pending), at most [`IDLE_WAIT`].
#[cfg(target_os = "linux")]
fn wait_ready<const BUF: usize>(listener: &TcpListener, conns: &[MinimalConn<BUF>]) {
    use std::os::fd::AsRawFd;
    let entry = |fd: &dyn AsRawFd, events| libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    let mut fds = Vec::with_capacity(5);
    if conns.len() < 4 {
        fds.push(entry(listener, libc::POLLIN));
    }
    for conn in conns {
        let want = if conn.start < conn.end {
            libc::POLLOUT
        } else {
            libc::POLLIN
        };
        fds.push(entry(&conn.stream, want));
    }
    let timeout = IDLE_WAIT.total_millis() as libc::c_int;
    // SAFETY: `fds` is a valid array of `fds.len()` pollfds for the whole call.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
}

#[cfg(not(target_os = "linux"))]
fn wait_ready<const BUF: usize>(_: &TcpListener, _: &[MinimalConn<BUF>]) {
    thread::sleep(Duration::from_millis(1));
}

/// A connection of [`start_minimal_poll`]: its stream and what is left to echo.
struct MinimalConn<const BUF: usize> {
    stream: TcpStream,
    buf: Box<[u8; BUF]>,
    start: usize,
    end: usize,
}

impl<const BUF: usize> MinimalConn<BUF> {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Box::new([0; BUF]),
            start: 0,
            end: 0,
        }
    }

    /// Up to eight rounds of receive-then-send; `false` once the connection ended.
    fn serve(&mut self, progress: &mut bool) -> bool {
        for _ in 0..8 {
            if self.start == self.end {
                match self.stream.read(&mut self.buf[..]) {
                    Ok(0) => return false,
                    Ok(n) => (self.start, self.end) = (0, n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                }
                *progress = true;
            }
            match self.stream.write(&self.buf[self.start..self.end]) {
                Ok(n) => {
                    self.start += n;
                    *progress |= n > 0;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
            if self.start < self.end {
                return true;
            }
        }
        true
    }
}

fn start_baseline<const BUF: usize>() -> Running {
    let (listener, addr) = loopback_listener();
    Running::spawn(addr, move |stop| {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut conn, _)) => {
                    conn.set_nonblocking(false).unwrap();
                    conn.set_nodelay(true).unwrap();
                    thread::spawn(move || {
                        let mut buf = vec![0u8; BUF];
                        while let Ok(n @ 1..) = conn.read(&mut buf) {
                            if conn.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    });
                }
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        }
    })
}

/// Connects once and closes again, then waits until the server has closed its side
/// too: the probe's slot is free again before the measured clients connect.
fn wait_listening(addr: SocketAddr) {
    for _ in 0..2000 {
        if let Ok(mut probe) = TcpStream::connect(addr) {
            probe
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            probe.shutdown(Shutdown::Write).unwrap();
            let closed = probe.read(&mut [0u8; 1]).unwrap();
            assert_eq!(closed, 0, "the server echoed data nobody sent");
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
    panic!("server at {addr} never listened");
}

fn clients(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            s
        })
        .collect()
}

/// Each client writes `BLOB` bytes and reads them back, all at once.
fn blast(conns: &[TcpStream]) -> Duration {
    let start = Instant::now();
    thread::scope(|scope| {
        for conn in conns {
            let mut writer = conn.try_clone().unwrap();
            let mut reader = conn.try_clone().unwrap();
            scope.spawn(move || writer.write_all(&[0x5a; BLOB]).unwrap());
            scope.spawn(move || {
                let mut back = vec![0u8; BLOB];
                reader.read_exact(&mut back).unwrap();
                black_box(back);
            });
        }
    });
    start.elapsed()
}

/// Each client sends 64 bytes and waits for them, `iters` times; returns the time
/// per round trip, averaged over the clients.
fn ping_pong(conns: &[TcpStream], iters: u64) -> Duration {
    let total: Duration = thread::scope(|scope| {
        let handles: Vec<_> = conns
            .iter()
            .map(|conn| {
                let mut c = conn.try_clone().unwrap();
                scope.spawn(move || {
                    let (msg, mut back) = ([7u8; 64], [0u8; 64]);
                    let start = Instant::now();
                    for _ in 0..iters {
                        c.write_all(&msg).unwrap();
                        c.read_exact(&mut back).unwrap();
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total / conns.len() as u32
}

/// A server under test: its name, its echo buffer and how to start it.
type Contender = (&'static str, fn() -> Running);

fn servers() -> [Contender; 6] {
    [
        ("nal-echo/1KiB", start_nal_echo::<SMALL>),
        ("minimal-poll/1KiB", start_minimal_poll::<SMALL>),
        ("thread-per-conn/1KiB", start_baseline::<SMALL>),
        ("nal-echo/16KiB", start_nal_echo::<LARGE>),
        ("minimal-poll/16KiB", start_minimal_poll::<LARGE>),
        ("thread-per-conn/16KiB", start_baseline::<LARGE>),
    ]
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    for n in [1usize, 4] {
        group.throughput(Throughput::Bytes((BLOB * n) as u64));
        for (name, start) in servers() {
            let server = start();
            let conns = clients(server.addr, n);
            group.bench_with_input(
                BenchmarkId::new(name, format!("{n} clients")),
                &n,
                |b, _| b.iter_custom(|iters| (0..iters).map(|_| blast(&conns)).sum()),
            );
        }
    }
    group.finish();
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("rtt64");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for n in [1usize, 4] {
        for (name, start) in servers() {
            let server = start();
            let conns = clients(server.addr, n);
            group.bench_with_input(
                BenchmarkId::new(name, format!("{n} clients")),
                &n,
                |b, _| b.iter_custom(|iters| ping_pong(&conns, iters)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, throughput, round_trip);
criterion_main!(benches);
