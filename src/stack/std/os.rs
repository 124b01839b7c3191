//! The few system calls the stack makes, each non-blocking and without panics.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ::std::io;
use ::std::net::{TcpListener, TcpStream, UdpSocket};
use socket2::{Domain, Protocol, Socket, Type};

/// The `listen()` queue. A burst of connects beyond it is not refused but dropped:
/// Linux drops the SYN, or the handshake's last ACK when the queue filled up in
/// between, and such a client may think itself connected for seconds without the
/// server ever seeing it (with 8, 64 clients connecting at once left 9 to 17 of them
/// unanswered for over 5 s: `tests/soak.rs`). With room for the burst, the server
/// accepts every client and closes at once those it has no slot for.
const BACKLOG: i32 = 1024;
/// A signal may interrupt a call; retrying a few times is enough, and bounded so a
/// signal storm cannot turn a poll into a loop.
const EINTR_TRIES: usize = 4;
/// Accepts that may be skipped in one call because the connection died in the queue.
const ACCEPT_TRIES: usize = 4;

/// Runs `op` again while it is interrupted by a signal, at most [`EINTR_TRIES`] times.
pub(super) fn retry<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut result = op();
    for _ in 1..EINTR_TRIES {
        match result {
            Err(ref e) if e.kind() == io::ErrorKind::Interrupted => result = op(),
            _ => break,
        }
    }
    result
}

/// `a.b.c.d` for an IPv4-mapped IPv6 address, so a dual-stack listener reports IPv4
/// peers as users wrote them in allowlists and expect them on the screen.
pub(super) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Kernels that balance connections over listeners sharing a port.
pub(super) const CAN_SHARE_PORT: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd"
));

/// A non-blocking listener on `ip` (or dual-stack when `None`) and `port`, sharing
/// the port with other listeners that ask for it if `share`.
pub(super) fn listen(ip: Option<IpAddr>, port: u16, share: bool) -> io::Result<TcpListener> {
    on_ip_or_every_address(ip, port, |addr, dual_stack| {
        listen_on(addr, dual_stack, share)
    })
}

/// A non-blocking UDP socket bound like a listener: on `ip` (or dual-stack when
/// `None`) and `port`, sharing the port with other sockets that ask for it if `share`.
pub(super) fn bind_datagrams(ip: Option<IpAddr>, port: u16, share: bool) -> io::Result<UdpSocket> {
    on_ip_or_every_address(ip, port, |addr, dual_stack| {
        bind_datagrams_on(addr, dual_stack, share)
    })
}

/// Opens a socket through `open` on `ip`, or where no address is given on
/// dual-stack `[::]` (the flag tells `open` to accept IPv4 as well), falling back
/// to `0.0.0.0` where the OS has no IPv6 or no dual-stack sockets.
fn on_ip_or_every_address<T>(
    ip: Option<IpAddr>,
    port: u16,
    open: impl Fn(SocketAddr, bool) -> io::Result<T>,
) -> io::Result<T> {
    match ip {
        Some(ip) => open(SocketAddr::new(ip, port), false),
        None => match open(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), true) {
            // The port is taken for IPv4 as well, or cannot be shared at all; another
            // try would only hide that.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::AddrInUse | io::ErrorKind::Unsupported
                ) =>
            {
                Err(e)
            }
            // No IPv6 here (or no dual-stack sockets): serve IPv4 alone.
            Err(_) => open(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), false),
            ok => ok,
        },
    }
}

fn listen_on(addr: SocketAddr, dual_stack: bool, share: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    prepare_to_bind(&socket, dual_stack, share)?;
    // So a restarted server can rebind while its old connections sit in TIME_WAIT.
    // Not on Windows, where the option lets a second socket take a port in use.
    #[cfg(not(windows))]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Without `SO_REUSEADDR`, unlike a listener: UDP has no TIME_WAIT to wait out, and
/// on Linux two UDP sockets that both set it may bind the same port, the newer one
/// then taking the datagrams, so a second server would steal the first one's
/// traffic instead of failing with `AddrInUse`.
fn bind_datagrams_on(addr: SocketAddr, dual_stack: bool, share: bool) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    prepare_to_bind(&socket, dual_stack, share)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// What a socket that binds a port needs before `bind`, TCP or UDP alike.
fn prepare_to_bind(socket: &Socket, dual_stack: bool, share: bool) -> io::Result<()> {
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    if share {
        share_port(socket)?;
    }
    socket.set_nonblocking(true)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn share_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

/// FreeBSD's `SO_REUSEPORT` lets sockets share a port without balancing; `_LB` does.
#[cfg(target_os = "freebsd")]
fn share_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port_lb(true)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn share_port(_: &Socket) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The next pending connection, ready for non-blocking use, with its peer.
///
/// A connection that failed while it waited in the queue (Linux then fails
/// `accept` with its error) is skipped, as accept(2) advises, so that it is not
/// taken for a failure of the listener.
pub(super) fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    if !may_have_pending(listener) {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    for _ in 0..ACCEPT_TRIES {
        match retry(|| listener.accept()) {
            Ok((stream, peer)) => return prepare(stream).map(|s| (s, canonical(peer))),
            Err(e) if died_in_queue(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::ErrorKind::WouldBlock.into())
}

/// Whether a connection may be waiting in the listener's queue: `false` only when a
/// zero-timeout poll(2) says for certain that none is.
///
/// Asked before every accept because Linux makes a new socket and file for each
/// accept(2) before it looks at the queue, and frees them again when the queue is
/// empty. A poll loop asks once per poll, and under load that is expensive: on the
/// 2-core VM of this project, accepting once per 1 KiB echoed halved the loopback
/// throughput of a non-blocking echo loop, once per 8 KiB cost 7 %; poll(2) first
/// costs nearly nothing (README, "Host figures").
#[cfg(unix)]
fn may_have_pending(listener: &TcpListener) -> bool {
    use ::std::os::fd::AsRawFd;
    let mut entry = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `entry` is one valid pollfd that outlives the call, the count says one,
    // and a zero timeout returns at once. The fd stays open: `listener` is borrowed.
    let ready = unsafe { libc::poll(&mut entry, 1, 0) };
    // A failed poll (EINTR, ENOMEM) proves nothing; accept itself will tell.
    ready != 0
}

/// Elsewhere accept itself is asked.
#[cfg(not(unix))]
fn may_have_pending(_listener: &TcpListener) -> bool {
    true
}

fn died_in_queue(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | NetworkDown | NetworkUnreachable | HostUnreachable
    )
}

/// Accepted sockets do not inherit the listener's non-blocking mode on every OS.
fn prepare(stream: TcpStream) -> io::Result<TcpStream> {
    stream.set_nonblocking(true)?;
    // Echo latency matters more than packet count. A failure here is harmless (some
    // OSes fail it on a connection already reset, which `receive` will report).
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// What a connection attempt has come to.
pub(super) enum Connect {
    /// The connection is established.
    Done(TcpStream),
    /// The handshake is still under way.
    Pending(TcpStream),
}

/// Starts a non-blocking connection to `remote`.
pub(super) fn start_connect(remote: SocketAddr) -> io::Result<Connect> {
    let socket = Socket::new(
        Domain::for_address(remote),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&remote.into()) {
        Ok(()) => not_to_itself(socket.into()).map(Connect::Done),
        Err(e) if in_progress(&e) => Ok(Connect::Pending(socket.into())),
        Err(e) => Err(e),
    }
}

/// Whether a non-blocking `connect` has only started (EINPROGRESS, or WSAEWOULDBLOCK
/// on Windows). An interrupted connect also goes on in the background.
fn in_progress(e: &io::Error) -> bool {
    // `ErrorKind::InProgress` is still unstable (rust-lang/rust#130840), so the errno
    // itself is compared.
    #[cfg(unix)]
    let started = e.raw_os_error() == Some(libc::EINPROGRESS);
    #[cfg(not(unix))]
    let started = false;
    started
        || matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        )
}

/// Where a pending connection stands, without waiting: a failure is in SO_ERROR,
/// and a connection with no peer address yet (ENOTCONN) is still in its handshake.
pub(super) fn check_connect(stream: TcpStream) -> io::Result<Connect> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => not_to_itself(stream).map(Connect::Done),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(Connect::Pending(stream)),
        Err(e) => Err(e),
    }
}

/// Refuses a connection whose two ends are the same address and port. A connect to
/// a local port nobody listens on succeeds through TCP's simultaneous open when the
/// kernel happens to pick that very port as the socket's own; everything sent then
/// comes back as if echoed. Go's `net.Dial` refuses it the same way.
fn not_to_itself(stream: TcpStream) -> io::Result<TcpStream> {
    if stream.local_addr()? == stream.peer_addr()? {
        return Err(io::ErrorKind::ConnectionRefused.into());
    }
    Ok(stream)
}

/// A non-blocking UDP socket on an ephemeral port, connected to `remote`: bound on
/// `ip` if given, else on every address of the remote's family. UDP's connect only
/// records the peer (there is no handshake), so it never waits.
pub(super) fn connect_datagrams(ip: Option<IpAddr>, remote: SocketAddr) -> io::Result<UdpSocket> {
    let local = SocketAddr::new(ip.unwrap_or_else(|| every_address_of(remote.ip())), 0);
    let socket = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    socket.bind(&local.into())?;
    socket.connect(&in_family(local.is_ipv6(), remote).into())?;
    Ok(socket.into())
}

fn every_address_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// `remote` written in the family of a socket (IPv6 if `ipv6`): an IPv6 socket
/// reaches IPv4 peers, when dual-stack, only as `::ffff:a.b.c.d`, and an IPv4
/// socket takes an IPv4-mapped address only as plain IPv4. Other addresses stay as
/// they are, for the OS to refuse what the socket cannot reach.
pub(super) fn in_family(ipv6: bool, remote: SocketAddr) -> SocketAddr {
    let ip = match (ipv6, remote.ip()) {
        (true, IpAddr::V4(v4)) => v4.to_ipv6_mapped().into(),
        (false, IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(v6.into(), IpAddr::V4),
        (_, ip) => ip,
    };
    SocketAddr::new(ip, remote.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_gives_up_after_a_few_interrupts() {
        let mut calls = 0;
        let r: io::Result<()> = retry(|| {
            calls += 1;
            Err(io::ErrorKind::Interrupted.into())
        });
        assert_eq!(calls, EINTR_TRIES);
        assert_eq!(r.map_err(|e| e.kind()), Err(io::ErrorKind::Interrupted));
    }

    #[test]
    fn retry_stops_at_the_first_other_result() {
        let mut calls = 0;
        let r = retry(|| {
            calls += 1;
            if calls == 1 {
                Err(io::ErrorKind::Interrupted.into())
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r.ok(), Some(2));
    }

    #[test]
    fn mapped_ipv4_becomes_ipv4() {
        let mapped = SocketAddr::new(Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), 7);
        assert_eq!(
            canonical(mapped),
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 7)
        );
        let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 7);
        assert_eq!(canonical(v6), v6);
    }

    #[test]
    fn destinations_are_written_in_the_socket_family() {
        let v4 = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 7);
        let mapped = SocketAddr::new(Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), 7);
        let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 7);
        assert_eq!(in_family(true, v4), mapped);
        assert_eq!(in_family(true, mapped), mapped);
        assert_eq!(in_family(true, v6), v6);
        assert_eq!(in_family(false, v4), v4);
        assert_eq!(in_family(false, mapped), v4);
        assert_eq!(in_family(false, v6), v6, "left for the OS to refuse");
    }

    #[test]
    fn pending_connection_is_seen_before_accept_and_not_after() {
        use ::std::thread::sleep;
        use ::std::time::{Duration, Instant};
        let listener = listen(Some(Ipv4Addr::LOCALHOST.into()), 0, false).unwrap();
        assert!(!cfg!(unix) || !may_have_pending(&listener));
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // The handshake ends in the kernel; the queue gets the connection soon after.
        let deadline = Instant::now() + Duration::from_secs(5);
        let (_stream, from) = loop {
            assert!(Instant::now() < deadline, "no connection queued");
            if may_have_pending(&listener) {
                break accept(&listener).unwrap();
            }
            sleep(Duration::from_millis(1));
        };
        assert_eq!(from, peer.local_addr().unwrap());
        assert!(!cfg!(unix) || !may_have_pending(&listener));
        let empty = accept(&listener).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(empty, Err(io::ErrorKind::WouldBlock));
    }

    #[test]
    #[cfg(unix)]
    fn einprogress_is_in_progress() {
        assert!(in_progress(&io::Error::from_raw_os_error(
            libc::EINPROGRESS
        )));
        assert!(!in_progress(&io::ErrorKind::ConnectionRefused.into()));
    }

    #[test]
    fn a_connection_to_itself_is_refused_and_another_is_not() {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .unwrap();
        let own = socket.local_addr().unwrap();
        // Linux and the BSDs complete this through simultaneous open.
        socket.connect(&own).unwrap();
        let looped: TcpStream = socket.into();
        assert_eq!(looped.local_addr().unwrap(), looped.peer_addr().unwrap());
        let refused = check_connect(looped).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(refused, Err(io::ErrorKind::ConnectionRefused));

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(matches!(check_connect(stream), Ok(Connect::Done(_))));
    }
}
