//! Two smoltcp hosts on one in-memory Ethernet "wire", as two boards on a cable:
//! 10.0.0.1 on side 0 and 10.0.0.2 on side 1. The device itself allocates nothing
//! (fixed frame rings); the tests leak each host's buffers so that a host owns its
//! interface, device and sockets without borrowing from the test's stack frame.
#![allow(dead_code)]

use core::cell::{Cell, RefCell};
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use nal_echo::stack::smoltcp::{SmoltcpStack, UdpSocketPool};
use nal_echo::Clock;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, IpCidr, Ipv4Address};

/// Ethernet frame size limit, header included (smoltcp's convention for Ethernet).
pub const MTU: usize = 1514;
/// Frames a direction of the wire holds; more are dropped like on a congested link.
const DEPTH: usize = 16;

/// The address of the host on `side`.
pub fn ip(side: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, 1 + side as u8)
}

pub fn addr(side: usize, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip(side)), port)
}

/// One direction of the wire: a ring of frames.
struct Lane {
    frames: [[u8; MTU]; DEPTH],
    lens: [usize; DEPTH],
    head: usize,
    count: usize,
    delivered: u32,
    dropped: u32,
}

impl Lane {
    const fn new() -> Self {
        Self {
            frames: [[0; MTU]; DEPTH],
            lens: [0; DEPTH],
            head: 0,
            count: 0,
            delivered: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, frame: &[u8]) {
        if self.count == DEPTH {
            self.dropped += 1;
            return;
        }
        let i = (self.head + self.count) % DEPTH;
        self.frames[i][..frame.len()].copy_from_slice(frame);
        self.lens[i] = frame.len();
        self.count += 1;
    }

    fn pop(&mut self) -> Option<Frame> {
        if self.count == 0 {
            return None;
        }
        let i = self.head;
        self.head = (self.head + 1) % DEPTH;
        self.count -= 1;
        self.delivered += 1;
        Some(Frame {
            buf: self.frames[i],
            len: self.lens[i],
        })
    }
}

/// The cable. Lane `s` carries what side `s` sends.
pub struct Wire {
    lanes: [RefCell<Lane>; 2],
    cut: [Cell<bool>; 2],
}

impl Wire {
    /// A wire that lives as long as the test binary (see the module documentation).
    pub fn leaked() -> &'static Wire {
        Box::leak(Box::new(Wire {
            lanes: [RefCell::new(Lane::new()), RefCell::new(Lane::new())],
            cut: [Cell::new(false), Cell::new(false)],
        }))
    }

    /// Drops (or, with `false`, carries again) everything side `from` sends.
    pub fn cut(&self, from: usize, cut: bool) {
        self.cut[from].set(cut);
    }

    /// Frames side `from` sent that the other side has not read yet.
    pub fn in_flight(&self, from: usize) -> usize {
        self.lanes[from].borrow().count
    }

    /// Frames side `from` sent that the other side read.
    pub fn delivered(&self, from: usize) -> u32 {
        self.lanes[from].borrow().delivered
    }

    /// Frames side `from` sent that were lost (cut wire or full ring).
    pub fn dropped(&self, from: usize) -> u32 {
        self.lanes[from].borrow().dropped
    }

    fn send(&self, from: usize, frame: &[u8]) {
        let mut lane = self.lanes[from].borrow_mut();
        if self.cut[from].get() {
            lane.dropped += 1;
        } else {
            lane.push(frame);
        }
    }
}

/// One side's network card: a smoltcp `Device`.
pub struct Port {
    wire: &'static Wire,
    side: usize,
}

pub struct Frame {
    buf: [u8; MTU],
    len: usize,
}

pub struct Tx {
    wire: &'static Wire,
    side: usize,
}

impl phy::Device for Port {
    type RxToken<'a> = Frame;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _: Instant) -> Option<(Frame, Tx)> {
        let frame = self.wire.lanes[1 - self.side].borrow_mut().pop()?;
        Some((frame, self.tx()))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(self.tx())
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps
    }
}

impl Port {
    fn tx(&self) -> Tx {
        Tx {
            wire: self.wire,
            side: self.side,
        }
    }
}

impl phy::RxToken for Frame {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.buf[..self.len])
    }
}

impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = [0u8; MTU];
        let len = len.min(MTU);
        let result = f(&mut buf[..len]);
        self.wire.send(self.side, &buf[..len]);
        result
    }
}

/// How a host's pool sockets are made.
#[derive(Clone, Copy)]
pub struct Sockets {
    /// Receive and transmit buffer size of each socket.
    pub buffer: usize,
    /// smoltcp's socket timeout (none by default, as in smoltcp).
    pub timeout: Option<Duration>,
}

impl Default for Sockets {
    fn default() -> Self {
        Self {
            buffer: 1024,
            timeout: None,
        }
    }
}

/// One board: interface, network card, `N` TCP pool sockets and `U` UDP ones.
pub struct Host<const N: usize, const U: usize = 0> {
    pub iface: Interface,
    pub device: Port,
    pub sockets: SocketSet<'static>,
    pub pool: [SocketHandle; N],
    pub udp: [SocketHandle; U],
}

impl<const N: usize> Host<N> {
    pub fn new(wire: &'static Wire, side: usize, options: Sockets) -> Self {
        Self::build(wire, side, options, |_| [])
    }
}

impl<const N: usize, const U: usize> Host<N, U> {
    /// A host whose UDP sockets are made by `udp`, a pool that lives as long as the
    /// test binary (see the module documentation).
    pub fn with_udp<const RX: usize, const TX: usize, const META: usize>(
        wire: &'static Wire,
        side: usize,
        options: Sockets,
        udp: &'static mut UdpSocketPool<U, RX, TX, META>,
    ) -> Self {
        Self::build(wire, side, options, |sockets| udp.add_to(sockets, |_| {}))
    }

    fn build(
        wire: &'static Wire,
        side: usize,
        options: Sockets,
        add_udp: impl FnOnce(&mut SocketSet<'static>) -> [SocketHandle; U],
    ) -> Self {
        let mut device = Port { wire, side };
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 1 + side as u8]);
        let mut config = Config::new(mac.into());
        config.random_seed = 0x1234_5678 + side as u64;
        let mut iface = Interface::new(config, &mut device, Instant::ZERO);
        let [a, b, c, d] = ip(side).octets();
        iface.update_ip_addrs(|ips| {
            ips.push(IpCidr::new(Ipv4Address::new(a, b, c, d).into(), 24))
                .unwrap();
        });
        let storage: Vec<SocketStorage<'static>> =
            (0..N + U).map(|_| SocketStorage::EMPTY).collect();
        let mut sockets = SocketSet::new(storage.leak());
        let pool = core::array::from_fn(|_| sockets.add(tcp_socket(options)));
        let udp = add_udp(&mut sockets);
        Self {
            iface,
            device,
            sockets,
            pool,
            udp,
        }
    }

    /// The host's stack with the default settings.
    pub fn stack<C: Clock>(&mut self, clock: C) -> SmoltcpStack<'_, 'static, Port, C, N, U> {
        SmoltcpStack::new(
            &mut self.iface,
            &mut self.device,
            &mut self.sockets,
            self.pool,
            clock,
        )
        .unwrap()
        .with_udp_sockets(self.udp)
        .unwrap()
    }
}

/// A UDP pool that lives as long as the test binary, for [`Host::with_udp`].
pub fn udp_pool<const U: usize, const RX: usize, const TX: usize, const META: usize>(
) -> &'static mut UdpSocketPool<U, RX, TX, META> {
    Box::leak(Box::new(UdpSocketPool::new()))
}

fn tcp_socket(options: Sockets) -> tcp::Socket<'static> {
    let rx = vec![0u8; options.buffer].leak();
    let tx = vec![0u8; options.buffer].leak();
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(&mut rx[..]),
        tcp::SocketBuffer::new(&mut tx[..]),
    );
    socket.set_timeout(options.timeout);
    socket
}

impl Wire {
    /// Puts a hand-made frame on the wire as if side `from` had sent it.
    pub fn inject(&self, from: usize, frame: &[u8]) {
        self.send(from, frame);
    }
}

/// An Ethernet frame to side `to` carrying `tcp` from `src`, with a correct
/// checksum: what a misbehaving host could send.
pub fn tcp_frame(to: usize, src: Ipv4Addr, tcp: &smoltcp::wire::TcpRepr<'_>) -> Vec<u8> {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr,
        TcpPacket,
    };
    let dst = ip(to);
    let ip_repr = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr {
        src_addr: EthernetAddress([0x02, 0, 0, 0, 0, 0x66]),
        dst_addr: EthernetAddress([0x02, 0, 0, 0, 0, 1 + to as u8]),
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut frame = vec![0u8; eth.buffer_len() + ip_repr.buffer_len() + tcp.buffer_len()];
    let mut eth_frame = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut eth_frame);
    let mut ip_packet = Ipv4Packet::new_unchecked(eth_frame.payload_mut());
    ip_repr.emit(&mut ip_packet, &ChecksumCapabilities::default());
    let mut tcp_packet = TcpPacket::new_unchecked(ip_packet.payload_mut());
    tcp.emit(
        &mut tcp_packet,
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        &ChecksumCapabilities::default(),
    );
    frame
}

/// An Ethernet frame to side `to` carrying a UDP datagram from `src`, with correct
/// checksums: a host may claim any source address.
pub fn udp_frame(to: usize, src: SocketAddr, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr,
        UdpPacket, UdpRepr,
    };
    let (IpAddr::V4(src_ip), dst) = (src.ip(), ip(to)) else {
        panic!("IPv4 only");
    };
    let udp = UdpRepr {
        src_port: src.port(),
        dst_port,
    };
    let ip_repr = Ipv4Repr {
        src_addr: src_ip,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: udp.header_len() + payload.len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr {
        src_addr: STRANGER_MAC,
        dst_addr: EthernetAddress([0x02, 0, 0, 0, 0, 1 + to as u8]),
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut frame = vec![0u8; eth.buffer_len() + ip_repr.buffer_len() + ip_repr.payload_len];
    let mut eth_frame = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut eth_frame);
    let mut ip_packet = Ipv4Packet::new_unchecked(eth_frame.payload_mut());
    ip_repr.emit(&mut ip_packet, &ChecksumCapabilities::default());
    let mut udp_packet = UdpPacket::new_unchecked(ip_packet.payload_mut());
    udp.emit(
        &mut udp_packet,
        &IpAddress::Ipv4(src_ip),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |buf| buf.copy_from_slice(payload),
        &ChecksumCapabilities::default(),
    );
    frame
}

/// The MAC of the hand-made frames' sender.
pub const STRANGER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x66]);

impl Wire {
    /// Takes the next frame side `from` sent off the wire, as the other side's card
    /// would have read it.
    pub fn take(&self, from: usize) -> Option<Vec<u8>> {
        let frame = self.lanes[from].borrow_mut().pop()?;
        Some(frame.buf[..frame.len].to_vec())
    }
}

/// An ARP request for side `to`'s address from `src` at [`STRANGER_MAC`]: smoltcp
/// learns the sender's MAC from it, so that it can answer the sender's TCP.
pub fn arp_request(to: usize, src: Ipv4Addr) -> Vec<u8> {
    use smoltcp::wire::{
        ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, EthernetRepr,
    };
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: STRANGER_MAC,
        source_protocol_addr: src,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: ip(to),
    };
    let eth = EthernetRepr {
        src_addr: STRANGER_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    };
    let mut frame = vec![0u8; eth.buffer_len() + arp.buffer_len()];
    let mut eth_frame = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut eth_frame);
    arp.emit(&mut ArpPacket::new_unchecked(eth_frame.payload_mut()));
    frame
}

/// The TCP header fields of a frame a host sent, `None` for anything but IPv4 TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub control: smoltcp::wire::TcpControl,
    pub seq: smoltcp::wire::TcpSeqNumber,
    pub ack: Option<smoltcp::wire::TcpSeqNumber>,
    pub sack: Option<(u32, u32)>,
    pub payload: Vec<u8>,
}

pub fn tcp_segment(frame: &[u8]) -> Option<Segment> {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr,
    };
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let packet = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let checksums = ChecksumCapabilities::default();
    let ip = Ipv4Repr::parse(&packet, &checksums).ok()?;
    if ip.next_header != IpProtocol::Tcp {
        return None;
    }
    let tcp = TcpPacket::new_checked(packet.payload()).ok()?;
    let repr = TcpRepr::parse(&tcp, &ip.src_addr.into(), &ip.dst_addr.into(), &checksums).ok()?;
    Some(Segment {
        control: repr.control,
        seq: repr.seq_number,
        ack: repr.ack_number,
        sack: repr.sack_ranges[0],
        payload: repr.payload.to_vec(),
    })
}
