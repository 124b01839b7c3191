//! Fuzz harness `smoltcp`: an [`EchoServer`] on a [`SmoltcpStack`] whose network card
//! is fed by a peer that the input describes, with overflow checks on.
//!
//! The input is a list of operations, one byte each and their arguments after it:
//! whole Ethernet frames of arbitrary bytes; TCP segments built with smoltcp's wire
//! types from fuzzed fields (so that the fuzzer gets through the checksums to the TCP
//! state machine), whose sequence and acknowledgement numbers are either arbitrary
//! or near what the conversation so far makes plausible; polls of the server; and
//! time steps. The first bytes pick the backlog and smoltcp's random seed.
//!
//! Properties, beyond "nothing panics":
//!
//! * Every byte the peer's built segments carry is the low byte of its own sequence
//!   number. A server that echoes exactly echoes, at offset `k` of its stream, the
//!   peer's byte at offset `k` of the peer's stream, so within one connection every
//!   echoed byte minus its offset is the same constant (the peer's first sequence
//!   number + 1, mod 256). A byte echoed out of place, twice at different offsets,
//!   skipped or made up breaks that, unless it is off by a multiple of 256.
//! * A connection never echoes beyond offset `n`, where `n` is the payload the peer
//!   sent with that address and port pair in all (retransmissions included, so a
//!   loose bound).
//! * The server's data belongs to a connection it opened with a SYN-ACK.
//! * The server's counters agree with its slots.
//!
//! A raw frame that could be IPv4 TCP (ethertype 0x0800, protocol 6) may carry
//! payload that is not the low bytes of its sequence numbers; after one, the run
//! checks only the last two properties and no panic.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;

use nal_echo::display::RecordingDisplay;
use nal_echo::stack::smoltcp::SmoltcpStack;
use nal_echo::time::MockClock;
use nal_echo::{Duration, EchoServer, ServerConfig};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, IpCidr, IpProtocol, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket,
    TcpRepr, TcpSeqNumber, TcpTimestampRepr,
};

const SLOTS: usize = 2;
const BUF: usize = 64;
/// Two slots, one for the connection turned away, one listening meanwhile.
const SOCKETS: usize = 4;
const SOCKET_BUFFER: usize = 512;
const PORT: u16 = 5001;
const MTU: usize = 1514;
/// Operations per input, so that a run stays short whatever the input's length.
const MAX_OPS: usize = 4096;
/// Frames waiting for the server; more are dropped, like on a congested link.
const RX_DEPTH: usize = 64;
/// Offsets at or beyond this in a connection are taken as not belonging to it.
const MAX_OFFSET: u32 = 1 << 24;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 2]);
/// Addresses the peer sends from: two neighbours, then ones that no real host uses.
const SOURCES: [Ipv4Addr; 8] = [
    Ipv4Addr::new(10, 0, 0, 2),
    Ipv4Addr::new(10, 0, 0, 3),
    Ipv4Addr::UNSPECIFIED,
    Ipv4Addr::new(10, 0, 0, 255),
    Ipv4Addr::BROADCAST,
    Ipv4Addr::new(224, 0, 0, 1),
    SERVER_IP,
    Ipv4Addr::new(192, 168, 1, 9),
];
/// The neighbours, answered when the server asks for their MAC.
const NEIGHBOURS: usize = 2;
const PEER_PORTS: [u16; 4] = [40_000, 40_001, 40_002, 65_535];

/// Frames in both directions between the peer and the server's card.
#[derive(Default)]
struct Cable {
    to_server: VecDeque<Vec<u8>>,
    from_server: VecDeque<Vec<u8>>,
}

/// The server's network card.
struct Card(Rc<RefCell<Cable>>);

struct Rx(Vec<u8>);

struct Tx(Rc<RefCell<Cable>>);

impl phy::Device for Card {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx)> {
        let frame = self.0.borrow_mut().to_server.pop_front()?;
        Some((Rx(frame), Tx(self.0.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(Tx(self.0.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps
    }
}

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let result = f(&mut frame);
        self.0.borrow_mut().from_server.push_back(frame);
        result
    }
}

/// The input, read front to back; reads past the end give nothing.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u8(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.u8()) % from.len()]
    }
}

/// One connection the server opened (its SYN-ACK), as the echo check sees it.
struct Opened {
    /// The server's initial sequence number.
    isn: TcpSeqNumber,
    /// Echoed byte minus its offset, once the first byte has been seen.
    constant: Option<u8>,
}

impl Opened {
    fn check(&mut self, offset: u32, byte: u8) {
        let found = byte.wrapping_sub(offset as u8);
        let constant = *self.constant.get_or_insert(found);
        assert_eq!(
            found, constant,
            "echoed byte {byte} at offset {offset} does not continue the stream"
        );
    }
}

/// What the peer sent from one address and port, and what the server answered.
#[derive(Default)]
struct Pair {
    ip: Option<Ipv4Addr>,
    port: u16,
    /// The peer's next sequence number: after its last SYN and in-order data.
    peer_next: u32,
    /// The server's next sequence number, from the last segment it sent.
    server_next: u32,
    /// Payload bytes the peer sent (built segments only).
    sent: u64,
    opened: Vec<Opened>,
}

struct Peer {
    pairs: Vec<Pair>,
    /// A raw frame may have carried TCP payload of the fuzzer's choosing.
    tainted: bool,
}

impl Peer {
    fn pair(&mut self, ip: Ipv4Addr, port: u16) -> &mut Pair {
        let i = match self
            .pairs
            .iter()
            .position(|p| p.ip == Some(ip) && p.port == port)
        {
            Some(i) => i,
            None => {
                self.pairs.push(Pair {
                    ip: Some(ip),
                    port,
                    ..Pair::default()
                });
                self.pairs.len() - 1
            }
        };
        &mut self.pairs[i]
    }

    /// Checks and records one frame the server sent; an ARP request for a
    /// neighbour gets its answer.
    fn observe(&mut self, frame: &[u8], cable: &mut Cable) {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            panic!("the server sent a runt frame: {frame:?}");
        };
        match eth.ethertype() {
            EthernetProtocol::Arp => answer_arp(eth.payload(), cable),
            EthernetProtocol::Ipv4 => self.observe_ipv4(eth.payload()),
            other => panic!("the server sent ethertype {other}"),
        }
    }

    fn observe_ipv4(&mut self, packet: &[u8]) {
        let checksums = ChecksumCapabilities::default();
        let packet = Ipv4Packet::new_checked(packet).expect("the server's IPv4 header");
        let ip = Ipv4Repr::parse(&packet, &checksums).expect("the server's IPv4 packet");
        assert_eq!(ip.src_addr, SERVER_IP);
        assert!(!ip.dst_addr.is_unspecified(), "the server sent to 0.0.0.0");
        if ip.next_header != IpProtocol::Tcp {
            return;
        }
        let tcp = TcpPacket::new_checked(packet.payload()).expect("the server's TCP header");
        let (src, dst) = (IpAddress::Ipv4(ip.src_addr), IpAddress::Ipv4(ip.dst_addr));
        let tcp = TcpRepr::parse(&tcp, &src, &dst, &checksums).expect("the server's segment");
        if tcp.src_port != PORT {
            return; // a reset for a port nobody listens on
        }
        let tainted = self.tainted;
        let pair = self.pair(ip.dst_addr, tcp.dst_port);
        let syn = tcp.control == TcpControl::Syn;
        let fin = tcp.control == TcpControl::Fin;
        pair.server_next = (tcp.seq_number + tcp.payload.len() + usize::from(syn || fin)).0 as u32;
        if syn {
            pair.opened.push(Opened {
                isn: tcp.seq_number,
                constant: None,
            });
        }
        if !tcp.payload.is_empty() {
            check_echo(pair, tcp.seq_number, tcp.payload, tainted);
        }
    }
}

/// The echo properties of the module docs for one data segment of the server.
fn check_echo(pair: &mut Pair, seq: TcpSeqNumber, payload: &[u8], tainted: bool) {
    let sent = pair.sent;
    // The connection whose stream this segment continues: the nearest SYN-ACK below.
    let (opened, offset) = pair
        .opened
        .iter_mut()
        // smoltcp's `-` of sequence numbers panics below zero: wrapping u32 instead.
        .map(|o| {
            let start = (o.isn.0 as u32).wrapping_add(1);
            let offset = (seq.0 as u32).wrapping_sub(start);
            (o, offset)
        })
        .filter(|(_, offset)| *offset < MAX_OFFSET)
        .min_by_key(|(_, offset)| *offset)
        .unwrap_or_else(|| panic!("data at {seq} on a connection never opened"));
    if tainted {
        return;
    }
    let end = u64::from(offset) + payload.len() as u64;
    assert!(
        end <= sent,
        "echoed up to offset {end}, the peer sent {sent} bytes"
    );
    for (i, &byte) in (0u32..).zip(payload) {
        opened.check(offset + i, byte);
    }
}

/// Answers the server's ARP request for a neighbour.
fn answer_arp(packet: &[u8], cable: &mut Cable) {
    let Ok(packet) = ArpPacket::new_checked(packet) else {
        panic!("the server sent a bad ARP packet");
    };
    let Ok(ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr,
        source_protocol_addr,
        target_protocol_addr,
        ..
    }) = ArpRepr::parse(&packet)
    else {
        return;
    };
    if SOURCES[..NEIGHBOURS].contains(&target_protocol_addr) {
        let reply = arp(
            ArpOperation::Reply,
            target_protocol_addr,
            source_hardware_addr,
            source_protocol_addr,
        );
        cable.to_server.push_back(reply);
    }
}

fn arp(operation: ArpOperation, src: Ipv4Addr, dst_mac: EthernetAddress, dst: Ipv4Addr) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: PEER_MAC,
        source_protocol_addr: src,
        target_hardware_addr: dst_mac,
        target_protocol_addr: dst,
    };
    let eth = EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: dst_mac,
        ethertype: EthernetProtocol::Arp,
    };
    let mut frame = vec![0u8; eth.buffer_len() + repr.buffer_len()];
    let mut eth_frame = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut eth_frame);
    repr.emit(&mut ArpPacket::new_unchecked(eth_frame.payload_mut()));
    frame
}

/// A frame of the fuzzer's bytes; see the module docs for why TCP taints the run.
fn raw_frame(input: &mut Input<'_>, peer: &mut Peer) -> Vec<u8> {
    let len = usize::from(input.u16()) % (MTU + 1);
    let frame = input.bytes(len).to_vec();
    if frame.get(12..14) == Some(&[0x08, 0x00]) && frame.get(14 + 9) == Some(&6) {
        peer.tainted = true;
    }
    frame
}

/// A sequence number near `next`, or any.
fn seq_near(input: &mut Input<'_>, next: u32) -> u32 {
    match input.u8() % 4 {
        0 => input.u32(),
        1 => next,
        // Just around `next`, and around a window's size beyond it.
        2 => next.wrapping_add(i32::from(input.u8() as i8) as u32),
        _ => next.wrapping_add(u32::from(input.u16())),
    }
}

/// A TCP segment built from fuzzed fields, with correct checksums.
fn built_frame(input: &mut Input<'_>, peer: &mut Peer) -> Vec<u8> {
    let src = input.pick(&SOURCES);
    let src_port = match input.u8() % 8 {
        0 => input.u16(),
        k => PEER_PORTS[usize::from(k) % PEER_PORTS.len()],
    };
    let dst_port = if input.u8().is_multiple_of(8) {
        input.u16()
    } else {
        PORT
    };
    let flags = input.u8();
    let control = match flags % 6 {
        0 | 1 => TcpControl::None,
        2 => TcpControl::Syn,
        3 => TcpControl::Fin,
        4 => TcpControl::Rst,
        _ => TcpControl::Psh,
    };
    let pair = peer.pair(src, src_port);
    let seq = seq_near(input, pair.peer_next);
    let ack = (flags & 0x40 == 0).then(|| seq_near(input, pair.server_next));
    let server_next = pair.server_next;
    let options = input.u8();
    let sack = |input: &mut Input<'_>| {
        let left = seq_near(input, server_next);
        (left, left.wrapping_add(u32::from(input.u16())))
    };
    let sack_ranges = [
        (options & 1 != 0).then(|| sack(input)),
        (options & 2 != 0).then(|| sack(input)),
        (options & 4 != 0).then(|| sack(input)),
    ];
    let window_len = input.u16();
    let window_scale = (options & 8 != 0).then(|| input.u8() % 16);
    let max_seg_size = (options & 16 != 0).then(|| input.u16());
    let timestamp = (options & 32 != 0).then(|| TcpTimestampRepr::new(input.u32(), input.u32()));
    let len = usize::from(input.u8()) * 6;
    // The first payload byte's sequence number: a SYN takes one before it.
    let first = seq.wrapping_add(u32::from(control == TcpControl::Syn));
    let payload: Vec<u8> = (0..len)
        .map(|i| first.wrapping_add(i as u32) as u8)
        .collect();
    let pair = peer.pair(src, src_port);
    pair.sent += len as u64;
    pair.peer_next = match control {
        TcpControl::Syn => first,
        _ if seq == pair.peer_next => seq.wrapping_add(len as u32),
        _ => pair.peer_next,
    };
    let mut repr = TcpRepr {
        src_port,
        dst_port,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len,
        window_scale,
        max_seg_size,
        sack_permitted: options & 64 != 0,
        sack_ranges,
        timestamp,
        payload: &payload,
    };
    fit_options(&mut repr);
    tcp_frame(src, &repr)
}

/// Drops SACK blocks, then the timestamp, until the options fit the 40 bytes a TCP
/// header has room for (smoltcp's `emit` trusts its caller on this).
fn fit_options(repr: &mut TcpRepr<'_>) {
    const MAX_HEADER: usize = 60;
    for i in (0..repr.sack_ranges.len()).rev() {
        if repr.header_len() <= MAX_HEADER {
            return;
        }
        repr.sack_ranges[i] = None;
    }
    if repr.header_len() > MAX_HEADER {
        repr.timestamp = None;
    }
}

fn tcp_frame(src: Ipv4Addr, tcp: &TcpRepr<'_>) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: SERVER_IP,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr {
        src_addr: PEER_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut frame = vec![0u8; eth.buffer_len() + ip.buffer_len() + tcp.buffer_len()];
    let mut eth_frame = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut eth_frame);
    let mut ip_packet = Ipv4Packet::new_unchecked(eth_frame.payload_mut());
    let checksums = ChecksumCapabilities::default();
    ip.emit(&mut ip_packet, &checksums);
    let mut tcp_packet = TcpPacket::new_unchecked(ip_packet.payload_mut());
    let (src, dst) = (IpAddress::Ipv4(src), IpAddress::Ipv4(SERVER_IP));
    tcp.emit(&mut tcp_packet, &src, &dst, &checksums);
    frame
}

fn pool_socket<'a>(rx: &'a mut [u8], tx: &'a mut [u8]) -> tcp::Socket<'a> {
    let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    // Vanished peers' sockets come back, so the fuzzer also reaches the timeouts.
    socket.set_timeout(Some(smoltcp::time::Duration::from_secs(3)));
    socket
}

pub fn run(data: &[u8]) {
    let mut input = Input(data);
    let backlog = input.u8() % 6;
    let seed = u64::from(input.u32());

    let cable = Rc::new(RefCell::new(Cable::default()));
    let mut card = Card(cable.clone());
    let mut config = Config::new(SERVER_MAC.into());
    config.random_seed = seed;
    let mut iface = Interface::new(config, &mut card, Instant::ZERO);
    iface.update_ip_addrs(|ips| {
        let _ = ips.push(IpCidr::new(IpAddress::Ipv4(SERVER_IP), 24));
    });
    let mut buffers = [[0u8; SOCKET_BUFFER]; 2 * SOCKETS];
    let mut storage = [SocketStorage::EMPTY; SOCKETS];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let mut pool = [None::<SocketHandle>; SOCKETS];
    let mut halves = buffers.chunks_exact_mut(2);
    for slot in &mut pool {
        let [rx, tx] = halves.next().expect("two buffers per socket") else {
            unreachable!("chunks of two");
        };
        *slot = Some(sockets.add(pool_socket(rx, tx)));
    }
    let pool = pool.map(|h| h.expect("every socket added"));
    let clock = MockClock::new();
    let stack = SmoltcpStack::new(&mut iface, &mut card, &mut sockets, pool, &clock)
        .expect("a pool of TCP sockets");
    let stack = match backlog {
        0 => stack,
        k => stack.with_backlog(usize::from(k)),
    };
    let mut server_config = ServerConfig::default();
    server_config.port = PORT;
    server_config.local_ip = Some(IpAddr::V4(SERVER_IP));
    let mut server: EchoServer<_, _, SLOTS, BUF> =
        EchoServer::sized(stack, RecordingDisplay::new(), server_config);

    let mut peer = Peer {
        pairs: Vec::new(),
        tainted: false,
    };
    let poll = |peer: &mut Peer, server: &mut EchoServer<_, _, SLOTS, BUF>| {
        let _ = server.poll(clock.now_instant());
        let mut cable = cable.borrow_mut();
        while let Some(frame) = cable.from_server.pop_front() {
            peer.observe(&frame, &mut cable);
        }
    };
    // The server listens, and knows the first neighbour's MAC, before the input
    // starts: as after any earlier exchange.
    let hello = arp(
        ArpOperation::Request,
        SOURCES[0],
        EthernetAddress::BROADCAST,
        SERVER_IP,
    );
    cable.borrow_mut().to_server.push_back(hello);
    poll(&mut peer, &mut server);
    assert!(server.is_listening());
    for _ in 0..MAX_OPS {
        let Some(op) = input.byte() else {
            break;
        };
        let frame = match op % 8 {
            0 => Some(raw_frame(&mut input, &mut peer)),
            1..=3 => Some(built_frame(&mut input, &mut peer)),
            4 | 5 => None,
            6 => {
                clock.advance(Duration::from_millis(u64::from(input.u8())));
                None
            }
            _ => {
                clock.advance(Duration::from_millis(u64::from(input.u8()) * 250));
                None
            }
        };
        if let Some(frame) = frame {
            let mut cable = cable.borrow_mut();
            if cable.to_server.len() < RX_DEPTH {
                cable.to_server.push_back(frame);
            }
        }
        if op % 8 >= 4 {
            poll(&mut peer, &mut server);
        }
    }
    // Retransmissions and timeouts play out.
    for _ in 0..40 {
        clock.advance(Duration::from_millis(250));
        poll(&mut peer, &mut server);
    }
    let active = server.peers().filter(Option::is_some).count();
    assert_eq!(
        active,
        server.stats().active as usize,
        "slots and counters differ"
    );
}
