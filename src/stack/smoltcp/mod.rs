//! [`SmoltcpStack`]: embedded-nal's `TcpFullStack` and `TcpClientStack`, and
//! `UdpFullStack` and `UdpClientStack`, over a smoltcp 0.13 interface that the
//! caller owns (feature `smoltcp`), without a heap.
//!
//! The feature needs rustc 1.91 or later (smoltcp 0.13's minimum); the rest of the
//! crate does not.
//!
//! Why smoltcp 0.13 (0.13.1 or later): it is the version the latest embassy-net
//! (0.9) builds on, so a board that also runs embassy-net, or a later embassy
//! front end of this crate, has one smoltcp in its build, not two. 0.13.1 fixed the
//! two panics a peer could cause in 0.12 (a TCP SYN from the unspecified address,
//! and SACK arithmetic that overflowed where overflow checks are on), so frames
//! reach smoltcp unfiltered. 0.14 needs the same rustc, and the adapter builds and
//! passes its tests on it unchanged, but embassy-net does not use it yet. smoltcp-nal
//! implements only the client traits and owns the interface; this adapter borrows
//! the interface, the device and the socket set, and adds `TcpFullStack`, which
//! [`EchoServer`](crate::server::EchoServer) needs.
//!
//! # How the calls map onto smoltcp
//!
//! Every call polls the interface once with the time of the [`Clock`](crate::time::Clock) (except a
//! `receive` that finds data already waiting and a `send` that finds room), so a caller that spins on
//! `nb::block!` makes progress; [`SmoltcpStack::poll`] does the same, and tends the
//! pool, for times when the program makes no other call: call it once per main-loop
//! pass. `send`, `receive` and `accept` tend the pool only after a poll that changed a
//! socket or after 16 polls without, which keeps the echo path short; a timer that
//! fires without a packet (TIME-WAIT ending) is seen within those 16. Nothing waits, and nothing
//! panics whatever the peer sends (also with overflow checks on, as the tests and
//! the fuzz target `smoltcp` run).
//!
//! The adapter works with a pool of `N` TCP sockets that the caller created with its
//! own buffers (it allocates nothing):
//!
//! * `socket()` gives a handle that holds no pool socket yet: a listener needs none.
//! * smoltcp has no accept and no backlog: a listening socket itself becomes the
//!   connection, and a SYN that finds no socket listening on its port is answered
//!   with a reset. So `listen` arms free pool sockets on the port: all of them by
//!   default, at most the [`backlog`](SmoltcpStack::with_backlog) if one is set.
//!   SYNs that arrive together (in one poll) each take an armed socket, as a
//!   real stack's backlog would queue them. `accept` hands out an armed socket once
//!   its handshake is complete (ESTABLISHED, or CLOSE-WAIT if the peer already sent
//!   its FIN; a socket in SYN-RECEIVED is not usable yet), with its peer. Sockets
//!   that come back to the pool are armed again while the listener lasts. An armed
//!   socket whose handshake fails (the peer's reset, or the socket's timeout)
//!   listens again.
//! * `connect` takes a pool socket on the first call (a free one, else one that only
//!   listens, from a listener that keeps another one listening) and connects from an
//!   ephemeral port (49152..=65535 in turn from [`with_port_seed`], skipping ports in
//!   use); it reports `WouldBlock` until the handshake ends, then `Ok`, or
//!   [`ConnectionRefused`](SmoltcpError::ConnectionRefused) after a reset or timeout,
//!   which gives the pool socket back: the handle may connect again.
//! * `send` queues what fits in the socket's transmit buffer and polls so that it
//!   leaves at once; a full buffer is `WouldBlock`. `receive` gives `Ok(0)` once the
//!   peer's FIN has been read (an orderly close), [`Reset`](SmoltcpError::Reset) after
//!   a reset, and [`PipeClosed`](SmoltcpError::PipeClosed) to a send after the peer
//!   closed and the connection then ended. The stream ends where the peer's FIN
//!   was: text a peer sends after its own FIN, which RFC 9293 says to ignore and
//!   smoltcp (0.13 and 0.14) takes and misplaces, is never delivered. The one
//!   exception: text past the FIN that reached the socket out of order before the
//!   FIN did is merged in the same step, and comes at its own place in the stream.
//!   To see the FIN before any later segment, the adapter polls the interface one
//!   received frame at a time.
//! * `close` of a connection sends a FIN; its pool socket is reused once it reaches
//!   CLOSED or TIME-WAIT, checked on every later call. A closing socket is aborted
//!   (reset) early only when a `connect` or a listener with no socket armed at all
//!   needs one and nothing else is to be had: the one with the least data still to
//!   deliver. `close` of a listener resets the connections it armed and not yet
//!   handed out, and frees their sockets.
//!
//! # Sizing and settings
//!
//! * [`SocketPool`] holds the sockets' buffers, and [`pool_size`] says how many
//!   sockets a server needs, by the rule below.
//! * With the default backlog, `k` clients whose SYNs arrive at once are all
//!   answered if `k` ≤ `N` − connections open − connections still closing (FIN
//!   sent, not yet in TIME-WAIT); the SYNs beyond that get a reset.
//!   [`EchoServer`](crate::server::EchoServer) accepts every connection and closes those
//!   beyond its `SLOTS` at once, so with `N` ≥ `SLOTS + 2 + C`, where `C` is the
//!   number of connections that may still be closing at that moment, `SLOTS`
//!   clients that connect at the same instant are all served and the next one is
//!   turned away with an orderly close (FIN). With `N = SLOTS + 1` it is turned
//!   away with a reset: its closing socket is the only one left to listen with.
//! * A backlog set with [`with_backlog`](SmoltcpStack::with_backlog) caps the
//!   sockets armed per listener; then `N` ≥ connections open + the backlog of each
//!   listener + those still closing, and at most `backlog` SYNs are answered at once.
//! * smoltcp retransmits forever unless told otherwise: a peer that vanishes keeps a
//!   socket in SYN-RECEIVED or in a closing state for good. Set
//!   `tcp::Socket::set_timeout` (and keep-alive if you like) on the pool sockets; the
//!   adapter leaves socket options to the caller.
//! * Seed `iface::Config::random_seed` and [`with_port_seed`] with something that
//!   differs from boot to boot (a hardware RNG, a timer, the MAC), or a rebooted
//!   board reconnects with the port and sequence numbers of its last life.
//! * IPv4 only, whatever features of smoltcp other crates turn on.
//!
//! [`with_port_seed`]: SmoltcpStack::with_port_seed
//!
//! # UDP
//!
//! UDP sockets come from a second pool that the caller creates too:
//! [`UdpSocketPool`] holds their buffers, and
//! [`with_udp_sockets`](SmoltcpStack::with_udp_sockets) hands their handles to the
//! stack (a stack from `new` alone has none, and `bind` finds no socket). The
//! number of UDP sockets is the stack's second const generic, `U`, 0 by default,
//! so `SmoltcpStack<'s, 'b, D, C, N>` still names a stack without UDP.
//!
//! * `socket()` gives a handle that holds no pool socket yet.
//! * `bind` takes a free UDP pool socket ([`NoSocket`](SmoltcpError::NoSocket) if
//!   none) and binds it to the port on every address of the interface; port 0
//!   takes an ephemeral port, from the same sequence as `connect`'s, skipping ports
//!   that UDP sockets of the set have. A port that a UDP socket of the set has is
//!   [`AddrInUse`](SmoltcpError::AddrInUse) (smoltcp would give each datagram to
//!   one of the two only). A TCP listener on the same port is no conflict.
//! * `connect` binds a fresh handle to an ephemeral port first, then records the
//!   remote: `send` goes there, and `receive` takes datagrams from there only
//!   (others are dropped, as a connected socket of the OS does). Connecting a
//!   bound or connected socket just sets the remote.
//! * `send` and `send_to` queue the whole datagram in the socket's transmit buffer
//!   and poll so that it leaves at once; a full buffer gets one poll to drain, then
//!   is `WouldBlock`. A datagram that could never leave is an error, not a
//!   `WouldBlock` for good nor a silent loss in smoltcp:
//!   [`TooLarge`](SmoltcpError::TooLarge) if it is larger than the transmit buffer
//!   or than one IP packet of the link (smoltcp is built without fragmentation:
//!   1472 bytes on Ethernet), [`Unaddressable`](SmoltcpError::Unaddressable) for
//!   the unspecified address, port 0, IPv6, the interface's own address (smoltcp
//!   does not loop datagrams back), or an address that is on none of the
//!   interface's subnets and that no route covers.
//! * `receive` takes one datagram and its sender, polling first only if none is
//!   waiting; `WouldBlock` if none came. Nothing waits.
//! * `close` unbinds the socket and gives it back to the pool. Datagrams still
//!   queued are dropped, also those waiting for the peer's ARP reply.
//!
//! A datagram longer than `receive`'s buffer fills the buffer and the rest is
//! dropped without a word, as std's sockets and the mock do (smoltcp's
//! `recv_slice` would drop it whole). A caller that must know passes a buffer one
//! byte longer than the largest datagram it accepts, and takes a full buffer as a
//! datagram cut short, as [`UdpEcho`](crate::UdpEcho) does.
//!
//! Sizing the UDP pool:
//!
//! * One socket per bound or connected handle: a [`UdpEcho`](crate::UdpEcho)
//!   takes one, a [`UdpPeriodicClient`](crate::UdpPeriodicClient) one.
//! * A socket's receive buffer must hold the largest datagram it should take:
//!   smoltcp drops one that does not fit in the room left as it arrives, so it
//!   never reaches `receive`. Its transmit buffer bounds the largest datagram it
//!   sends (a `UdpEcho` sends back what it takes).
//! * `META` datagrams wait in each direction at most, whatever their size.
//!
//! One trap comes from smoltcp: a datagram whose next hop does not answer ARP
//! stays at the head of the transmit buffer (smoltcp asks again every second and
//! never gives up), and every datagram behind it waits too. A `UdpEcho` that
//! answers a sender nobody on the link answers ARP for (a forged source address,
//! or a host that has just left) would send nothing more, ever. So before each
//! send the adapter looks at the socket's transmit buffer: if it has held datagrams
//! for [`UDP_STALL`] (3 s) without once being empty, it drops them all (closing and
//! rebinding the socket, which drops its received datagrams too) and counts it in
//! [`udp_flushes`](SmoltcpStack::udp_flushes). A forged datagram thus costs about
//! 3 s of echoes, not the socket.
//!
//! ```
//! use nal_echo::embedded_nal::{nb, TcpClientStack, TcpFullStack};
//! use nal_echo::stack::smoltcp::{SmoltcpError, SmoltcpStack};
//! use nal_echo::Clock;
//! use nal_echo::stack::smoltcp::SocketPool;
//! use nal_echo::stack::smoltcp::smoltcp; // the same smoltcp as the adapter's
//! use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
//! use smoltcp::phy::Device;
//! use smoltcp::time::{Duration, Instant};
//! use smoltcp::wire::{EthernetAddress, IpCidr, Ipv4Address};
//!
//! /// Echoes one connection on port 7 of 10.0.0.1.
//! fn echo_once<D: Device>(device: &mut D, clock: impl Clock) -> Result<(), SmoltcpError> {
//!     let mut config = Config::new(EthernetAddress([0x02, 0, 0, 0, 0, 1]).into());
//!     config.random_seed = 0x5eed; // from a hardware RNG on a board
//!     let mut iface = Interface::new(config, device, Instant::ZERO);
//!     iface.update_ip_addrs(|ips| {
//!         let _ = ips.push(IpCidr::new(Ipv4Address::new(10, 0, 0, 1).into(), 24));
//!     });
//!
//!     // Three sockets: all three listen until one is accepted.
//!     let mut buffers = SocketPool::<3, 1024, 1024>::new();
//!     let mut storage = [SocketStorage::EMPTY; 3];
//!     let mut sockets = SocketSet::new(&mut storage[..]);
//!     let pool = buffers.add_to(&mut sockets, |socket| {
//!         // Give up on peers that vanish, so that their sockets come back to the pool.
//!         socket.set_timeout(Some(Duration::from_secs(30)));
//!     });
//!     let mut stack = SmoltcpStack::new(&mut iface, device, &mut sockets, pool, clock)?;
//!
//!     let mut listener = stack.socket()?;
//!     stack.bind(&mut listener, 7)?;
//!     stack.listen(&mut listener)?;
//!     let (mut conn, _peer) = nb::block!(stack.accept(&mut listener))?;
//!     let mut buf = [0u8; 256];
//!     loop {
//!         let n = nb::block!(stack.receive(&mut conn, &mut buf))?;
//!         if n == 0 {
//!             break; // the peer closed
//!         }
//!         let mut sent = 0;
//!         while sent < n {
//!             sent += nb::block!(stack.send(&mut conn, &buf[sent..n]))?;
//!         }
//!     }
//!     stack.close(conn)?;
//!     stack.close(listener)
//! }
//! ```

mod error;
mod fin;
mod nal;
mod pool;
mod ports;
mod socket_pool;
mod stack;
mod udp;
mod udp_nal;
mod udp_pool;

pub use error::SmoltcpError;
pub use socket_pool::{pool_size, SocketPool};
pub use stack::{SmoltcpSocket, SmoltcpStack};
pub use udp::{SmoltcpUdpSocket, UDP_STALL};
pub use udp_pool::UdpSocketPool;

/// The smoltcp this adapter is built on, so that a firmware names the same version
/// (`nal_echo::stack::smoltcp::smoltcp::iface::Interface`) rather than pulling in a
/// second, incompatible one.
pub use ::smoltcp;
