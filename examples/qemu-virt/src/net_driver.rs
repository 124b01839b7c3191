//! The virtio-net card as an embassy-net driver ([`embassy_net_driver::Driver`]),
//! over the same [`VirtioPhy`] (same queues, static buffers, no heap) as the
//! smoltcp firmware, and the embassy-net configuration of the board.
//!
//! Wakers: the card's interrupt never runs a handler (`mstatus.MIE` stays off, see
//! [`crate::idle`]). When [`receive`](Driver::receive) or
//! [`transmit`](Driver::transmit) has nothing to give, the waker is kept in
//! [`CARD_WAKER`]; the executor loop ([`crate::executor`]) reads the card's
//! interrupt status after every round and wakes it when the card has used a buffer
//! (a frame came in, or one went out and its buffer is free again). Before the hart
//! sleeps, the same check runs after the interrupts were taken back, so a frame
//! that came in between wakes the runner instead of being slept on. (Waking on
//! every poll when nothing is ready would also be correct with this executor, but
//! the loop would then never be idle and the board would keep a host core busy.)

use embassy_net::{Ipv4Cidr, StaticConfigV4};
use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use embassy_sync::waitqueue::AtomicWaker;
use smoltcp::phy::{self, Device};

use crate::net::{self, VirtioPhy, BOARD_IP, GATEWAY};

/// The task waiting for the card: embassy-net's runner.
pub static CARD_WAKER: AtomicWaker = AtomicWaker::new();

/// The card, driven by embassy-net.
pub struct VirtioDriver {
    phy: VirtioPhy,
}

/// A received frame (the buffer goes back to the card when it is dropped).
pub struct RxToken<'a>(net::Rx<'a>);

/// Permission to send one frame.
pub struct TxToken<'a>(net::Tx<'a>);

impl VirtioDriver {
    /// Drive `phy` (from [`net::card`]).
    pub fn new(phy: VirtioPhy) -> Self {
        Self { phy }
    }

    /// The virtio-mmio slot of the card.
    pub fn slot(&self) -> usize {
        self.phy.slot()
    }
}

/// The `Instant` smoltcp's device wants; the virtio device does not look at it.
const NO_TIME: smoltcp::time::Instant = smoltcp::time::Instant::ZERO;

impl Driver for VirtioDriver {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(
        &mut self,
        cx: &mut core::task::Context,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        CARD_WAKER.register(cx.waker());
        let (rx, tx) = self.phy.receive(NO_TIME)?;
        Some((RxToken(rx), TxToken(tx)))
    }

    fn transmit(&mut self, cx: &mut core::task::Context) -> Option<Self::TxToken<'_>> {
        CARD_WAKER.register(cx.waker());
        self.phy.transmit(NO_TIME).map(TxToken)
    }

    fn link_state(&mut self, _cx: &mut core::task::Context) -> LinkState {
        // QEMU's user network is always there.
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        // As for smoltcp: the MTU of an Ethernet device includes its 14-byte header.
        caps.max_transmission_unit = self.phy.capabilities().max_transmission_unit;
        caps.max_burst_size = self.phy.capabilities().max_burst_size;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.phy.mac())
    }
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        self.0.consume_mut(f)
    }
}

impl embassy_net_driver::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        phy::TxToken::consume(self.0, len, f)
    }
}

/// The board's address, as the poll firmware's interface has it: `10.0.2.15/24`,
/// default route via `10.0.2.2`.
pub fn static_config() -> embassy_net::Config {
    // embassy-net 0.9 and this crate share smoltcp 0.13: the same address types.
    embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(BOARD_IP, 24),
        gateway: Some(GATEWAY),
        dns_servers: Default::default(),
    })
}
