//! The virtio-net card as a smoltcp [`phy::Device`], the interface on QEMU's user
//! network, and TCP sockets with static buffers.

use core::cell::RefCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use nal_echo::stack::smoltcp::UdpSocketPool;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

use crate::clock::{mtime, smoltcp_now};
use crate::TakeOnce;

/// The board's address on QEMU's user network.
pub const BOARD_IP: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
/// The gateway, which is also how the guest reaches the host (`10.0.2.2:P` is the
/// host's `127.0.0.1:P`).
pub const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

/// First of the 8 virtio-mmio slots of the virt machine, `0x1000` apart. QEMU fills
/// them from the last one: the first `-device` is in slot 7.
const VIRTIO_MMIO_BASE: usize = 0x1000_1000;
const VIRTIO_MMIO_SLOTS: usize = 8;
const VIRTIO_MMIO_SIZE: usize = 0x1000;

/// Receive buffers the card holds, and transmit buffers in flight (a power of two).
const QUEUE_SIZE: usize = 16;
/// Bytes per packet buffer: a full Ethernet frame plus the virtio header, rounded up.
const BUFFER_LEN: usize = 2048;
/// Polls of the transmit ring before giving up on a buffer coming back.
const TX_WAIT_SPINS: u32 = 100_000_000;

/// Bytes of each TCP socket's receive and of its send buffer; the receive buffer is
/// the window the board offers.
pub const SOCKET_BUFFER: usize = 16 * 1024;
/// A connection whose peer does not answer (the handshake, or data waiting to be
/// acknowledged) for this long is aborted.
pub const SOCKET_TIMEOUT_S: u64 = 30;
/// TCP sockets [`tcp_sockets`] can hand out, in all.
pub const MAX_SOCKETS: usize = 8;
/// Payload bytes of the UDP socket's receive and of its send buffer: 8 datagrams
/// of the largest size one Ethernet frame carries (smoltcp reassembles none).
pub const UDP_BUFFER: usize = 8 * LARGEST_DATAGRAM;
/// The largest datagram one 1500-byte Ethernet frame carries: 1500 - 20 - 8.
pub const LARGEST_DATAGRAM: usize = 1472;
/// Datagrams each UDP buffer holds, whatever their sizes.
const UDP_PACKETS: usize = 16;

/// Pages of DMA memory for the virtqueues (2 queues of `QUEUE_SIZE`; a legacy
/// queue takes 2 pages).
const DMA_PAGES: usize = 8;

#[repr(C, align(4096))]
struct DmaPages([[u8; PAGE_SIZE]; DMA_PAGES]);

/// DMA for virtio on a board without MMU or IOMMU: physical = virtual. Queue memory
/// comes from a static pool and is never given back (the card lives as long as the
/// firmware); packet buffers are static too. No heap.
pub struct HalImpl;

static mut DMA: DmaPages = DmaPages([[0; PAGE_SIZE]; DMA_PAGES]);
static DMA_USED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: dma_alloc hands out zeroed (never used before), page-aligned, disjoint
// pages that stay valid forever; addresses are identity-mapped, so `share` may hand
// out the pointer itself.
unsafe impl Hal for HalImpl {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let first = DMA_USED.fetch_add(pages, Ordering::AcqRel);
        if first + pages > DMA_PAGES {
            panic!("virtio DMA: {pages} more pages wanted, pool of {DMA_PAGES} exhausted");
        }
        // SAFETY: in bounds (checked above), and no other allocation covers these pages.
        let ptr = unsafe {
            (&raw mut DMA)
                .cast::<[u8; PAGE_SIZE]>()
                .add(first)
                .cast::<u8>()
        };
        let Some(ptr) = NonNull::new(ptr) else {
            unreachable!("a static is never at address 0");
        };
        (ptr.as_ptr() as usize as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        0 // Only when a queue is dropped, which never happens here.
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as usize as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as usize as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// The virtio-net driver of this board: virtio-drivers' raw (non-blocking, no heap)
/// interface.
pub type Net = VirtIONetRaw<HalImpl, MmioTransport<'static>, QUEUE_SIZE>;

/// Find the virtio-net card among the 8 virtio-mmio slots: its slot and transport.
/// Empty slots have device id 0 and are skipped; only the card's slot gets a
/// transport (dropping a transport resets its device).
pub fn find_net() -> Option<(usize, MmioTransport<'static>)> {
    for slot in 0..VIRTIO_MMIO_SLOTS {
        let header = NonNull::new(slot_base(slot) as *mut VirtIOHeader)?;
        // SAFETY: a virtio-mmio register block of the virt machine, used by nothing else.
        if let Ok(transport) = unsafe { MmioTransport::new(header, VIRTIO_MMIO_SIZE) } {
            if transport.device_type() == DeviceType::Network {
                return Some((slot, transport));
            }
        }
    }
    None
}

/// Address of a virtio-mmio slot's registers.
pub const fn slot_base(slot: usize) -> usize {
    VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_SIZE
}

type Buffer = [u8; BUFFER_LEN];

/// Packet buffers shared with the card: `token[i]` is the virtqueue token of
/// buffer `i` while the card owns it.
struct Ring {
    buffers: &'static mut [Buffer; QUEUE_SIZE],
    token: [Option<u16>; QUEUE_SIZE],
    /// Bytes handed to the card (transmit ring).
    len: [usize; QUEUE_SIZE],
}

impl Ring {
    fn slot_of(&self, token: u16) -> usize {
        match self.token.iter().position(|t| *t == Some(token)) {
            Some(slot) => slot,
            None => panic!("virtio-net: unknown token {token}"),
        }
    }
}

/// The virtio-net card as a smoltcp device, without a heap and without waiting.
///
/// * Receive: all `QUEUE_SIZE` buffers are given to the card at start. A received
///   frame is read in place and its buffer goes back to the card when the token is
///   dropped, consumed or not (a lost buffer would shrink the ring for good).
/// * Transmit: a frame is built in one of `QUEUE_SIZE` transmit buffers and handed
///   to the card without waiting for it to be sent; buffers the card has finished
///   with are taken back on the next transmit. With every buffer in flight,
///   `transmit` says so and smoltcp tries again on a later poll.
pub struct VirtioPhy {
    net: RefCell<Net>,
    rx: RefCell<Ring>,
    tx: RefCell<Ring>,
    mac: [u8; 6],
    slot: usize,
}

/// A received frame, in place in its receive buffer.
pub struct Rx<'a> {
    phy: &'a VirtioPhy,
    slot: usize,
    start: usize,
    len: usize,
}

/// Permission to send one frame.
pub struct Tx<'a> {
    phy: &'a VirtioPhy,
}

impl VirtioPhy {
    /// Take over the card in virtio-mmio slot `slot`: give it every receive buffer.
    /// Call once (the packet buffers are statics); a second call panics.
    pub fn new(slot: usize, mut net: Net) -> Self {
        static RX: TakeOnce<[Buffer; QUEUE_SIZE]> = TakeOnce::new([[0; BUFFER_LEN]; QUEUE_SIZE]);
        static TX: TakeOnce<[Buffer; QUEUE_SIZE]> = TakeOnce::new([[0; BUFFER_LEN]; QUEUE_SIZE]);
        let (Some(rx), Some(tx)) = (RX.take(), TX.take()) else {
            panic!("VirtioPhy::new called twice");
        };
        let mut rx = Ring {
            buffers: rx,
            token: [None; QUEUE_SIZE],
            len: [0; QUEUE_SIZE],
        };
        for slot in 0..QUEUE_SIZE {
            // SAFETY: the buffer is static and not touched until the card gives it back.
            match unsafe { net.receive_begin(&mut rx.buffers[slot]) } {
                Ok(token) => rx.token[slot] = Some(token),
                Err(e) => panic!("virtio-net receive_begin: {e:?}"),
            }
        }
        let tx = Ring {
            buffers: tx,
            token: [None; QUEUE_SIZE],
            len: [0; QUEUE_SIZE],
        };
        let mac = net.mac_address();
        Self {
            net: RefCell::new(net),
            rx: RefCell::new(rx),
            tx: RefCell::new(tx),
            mac,
            slot,
        }
    }

    /// The virtio-mmio slot of the card (its interrupt is `slot + 1`).
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// The card's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }
}

/// Takes back the transmit buffers the card is done with; returns a free one.
fn reclaim_tx(net: &mut Net, tx: &mut Ring) -> Option<usize> {
    while let Some(token) = net.poll_transmit() {
        let slot = tx.slot_of(token);
        let len = tx.len[slot];
        // SAFETY: the buffer and length given to transmit_begin for this token.
        if let Err(e) = unsafe { net.transmit_complete(token, &tx.buffers[slot][..len]) } {
            panic!("virtio-net transmit_complete: {e:?}");
        }
        tx.token[slot] = None;
    }
    tx.token.iter().position(Option::is_none)
}

impl phy::Device for VirtioPhy {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: smoltcp::time::Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let net = self.net.get_mut();
        let token = net.poll_receive()?;
        let rx = self.rx.get_mut();
        let slot = rx.slot_of(token);
        rx.token[slot] = None;
        // SAFETY: the buffer given to receive_begin for this token.
        let (start, len) = match unsafe { net.receive_complete(token, &mut rx.buffers[slot]) } {
            Ok((header, len)) => (header, len.min(BUFFER_LEN - header)),
            // A frame shorter than the header: pass on nothing, recycle the buffer.
            Err(_) => (0, 0),
        };
        let phy = &*self;
        Some((
            Rx {
                phy,
                slot,
                start,
                len,
            },
            Tx { phy },
        ))
    }

    fn transmit(&mut self, _now: smoltcp::time::Instant) -> Option<Tx<'_>> {
        reclaim_tx(self.net.get_mut(), self.tx.get_mut())?;
        Some(Tx { phy: &*self })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        // For Ethernet, smoltcp's MTU includes the 14-byte header.
        caps.max_transmission_unit = 1514;
        caps.max_burst_size = Some(QUEUE_SIZE);
        caps
    }
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // Only a shared borrow while `f` runs: smoltcp sends its reply from inside.
        let rx = self.phy.rx.borrow();
        f(&rx.buffers[self.slot][self.start..self.start + self.len])
        // The buffer goes back to the card in `drop`.
    }
}

impl Rx<'_> {
    /// The frame, mutable (embassy-net's token hands out `&mut [u8]`). A reply sent
    /// from inside `f` uses the transmit ring, not this borrow. The buffer goes back
    /// to the card when the token is dropped, after the borrow ends.
    pub fn consume_mut<R>(self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut rx = self.phy.rx.borrow_mut();
        let (start, len) = (self.start, self.len);
        let result = f(&mut rx.buffers[self.slot][start..start + len]);
        drop(rx);
        result
    }
}

impl Drop for Rx<'_> {
    fn drop(&mut self) {
        let mut rx = self.phy.rx.borrow_mut();
        let mut net = self.phy.net.borrow_mut();
        // SAFETY: the buffer is static and not touched until the card gives it back.
        match unsafe { net.receive_begin(&mut rx.buffers[self.slot]) } {
            Ok(token) => rx.token[self.slot] = Some(token),
            Err(e) => panic!("virtio-net receive_begin: {e:?}"),
        }
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut net = self.phy.net.borrow_mut();
        let mut tx = self.phy.tx.borrow_mut();
        // A token that came with a received frame may find every buffer in flight:
        // the card finishes them without our help, so wait (bounded) for one.
        let mut slot = reclaim_tx(&mut net, &mut tx);
        for _ in 0..TX_WAIT_SPINS {
            if slot.is_some() {
                break;
            }
            core::hint::spin_loop();
            slot = reclaim_tx(&mut net, &mut tx);
        }
        let Some(slot) = slot else {
            panic!("virtio-net: no transmit buffer came back");
        };
        let buffer = &mut tx.buffers[slot];
        let header = match net.fill_buffer_header(buffer) {
            Ok(header) => header,
            Err(e) => panic!("virtio-net header: {e:?}"),
        };
        let total = (header + len).min(BUFFER_LEN);
        let result = f(&mut buffer[header..total]);
        // SAFETY: the buffer is static and not touched until the card gives it back
        // (reclaim_tx).
        match unsafe { net.transmit_begin(&buffer[..total]) } {
            Ok(token) => {
                tx.token[slot] = Some(token);
                tx.len[slot] = total;
            }
            Err(e) => panic!("virtio-net transmit_begin: {e:?}"),
        }
        result
    }
}

/// Find and start the card, and set up the interface: `10.0.2.15/24`, default route
/// via `10.0.2.2`, the card's MAC, a random seed from `mtime` (TCP initial sequence
/// numbers). Panics without a virtio-net card.
pub fn init() -> (VirtioPhy, Interface) {
    let mut phy = card();
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(phy.mac())));
    config.random_seed = mtime() ^ 0x9e37_79b9_7f4a_7c15;
    let mut iface = Interface::new(config, &mut phy, smoltcp_now());
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(BOARD_IP.into(), 24));
    });
    let _ = iface.routes_mut().add_default_ipv4_route(GATEWAY);
    (phy, iface)
}

/// Find and start the card, with every receive buffer given to it. Panics without a
/// virtio-net card, or if called twice.
pub fn card() -> VirtioPhy {
    let Some((slot, transport)) = find_net() else {
        panic!("no virtio-net device: start QEMU with -device virtio-net-device,netdev=...");
    };
    let net = match Net::new(transport) {
        Ok(net) => net,
        Err(e) => panic!("virtio-net init: {e:?}"),
    };
    VirtioPhy::new(slot, net)
}

/// Socket storage for `N` sockets (at most [`MAX_SOCKETS`]) and `N` TCP sockets in
/// it, with [`SOCKET_BUFFER`]-byte static buffers, and room for the one UDP socket of
/// [`udp_socket`]. Panics if asked for more sockets than are left.
pub fn tcp_sockets<const N: usize>() -> (SocketSet<'static>, [SocketHandle; N]) {
    static STORAGE: TakeOnce<[SocketStorage<'static>; MAX_SOCKETS + 1]> =
        TakeOnce::new([SocketStorage::EMPTY; MAX_SOCKETS + 1]);
    static BUFFERS: TakeOnce<[[u8; SOCKET_BUFFER]; 2 * MAX_SOCKETS]> =
        TakeOnce::new([[0; SOCKET_BUFFER]; 2 * MAX_SOCKETS]);
    assert!(N <= MAX_SOCKETS, "at most {MAX_SOCKETS} sockets");
    let (Some(storage), Some(buffers)) = (STORAGE.take(), BUFFERS.take()) else {
        panic!("tcp_sockets called twice");
    };
    let mut set = SocketSet::new(&mut storage[..N + 1]);
    let mut buffers = buffers.iter_mut();
    let handles = core::array::from_fn(|_| {
        let (Some(rx), Some(tx)) = (buffers.next(), buffers.next()) else {
            unreachable!("2 * MAX_SOCKETS buffers");
        };
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        );
        // Give up on a peer that stops answering, so that its socket comes back.
        socket.set_timeout(Some(smoltcp::time::Duration::from_secs(SOCKET_TIMEOUT_S)));
        set.add(socket)
    });
    (set, handles)
}

/// Adds the board's one UDP socket to `set` (from [`tcp_sockets`], which leaves room
/// for it), with [`UDP_BUFFER`]-byte static buffers. Panics if called twice.
pub fn udp_socket(set: &mut SocketSet<'static>) -> SocketHandle {
    static POOL: TakeOnce<UdpSocketPool<1, UDP_BUFFER, UDP_BUFFER, UDP_PACKETS>> =
        TakeOnce::new(UdpSocketPool::new());
    let Some(pool) = POOL.take() else {
        panic!("udp_socket called twice");
    };
    let [handle] = pool.add_to(set, |_| {});
    handle
}
