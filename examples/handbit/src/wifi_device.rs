//! esp-radio's Wi-Fi station as a smoltcp 0.13 [`Device`].
//!
//! esp-radio has no smoltcp glue of its own (it depends on no smoltcp); its Wi-Fi
//! [`Interface`] implements embassy-net-driver 0.2's [`Driver`], whose receive and
//! transmit tokens map one to one onto smoltcp's. `Driver` is an async interface:
//! its calls take a task context to wake when a frame arrives. This firmware has
//! no executor and polls instead, so the context holds a waker that does nothing.
//! (esp-radio's inherent `Interface::receive`/`transmit` do the same without a
//! context, but they are `#[doc(hidden)]`; the trait is the documented way.)
//!
//! Frames: the driver's MTU is esp-radio's `ESP_RADIO_CONFIG_WIFI_MTU` (default
//! 1492), counted like smoltcp's Ethernet MTU (with the 14-byte header), so it is
//! passed on as it is; a larger frame would panic inside the driver. The driver
//! queues few frames (5 received, 3 to send by default), hence a burst size of 1.
//! While the station is not connected, the driver drops what is sent.
//!
//! A watchdog counts how long smoltcp has wanted to send without getting a send
//! slot: esp-radio 1.0.0-beta.1 counts a frame in flight when it grants a slot, and
//! a link drop just after that leaks the count; after three such drops it grants
//! no slot again, for good (the board then sits at "DHCP..."). The main loop asks
//! [`WifiDevice::radio_stalled`] and restarts the chip.

use core::task::{Context, Waker};

use embassy_net_driver::{Driver, RxToken as _, TxToken as _};
use esp_radio::wifi::{Interface, WifiRxToken, WifiTxToken};
use nal_echo::Duration;
use nal_echo::time::Watchdog;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// How long smoltcp may want to send without a send slot before the radio counts
/// as stalled: far longer than any congestion (a slot frees within milliseconds)
/// or a rejoin (15 s at most), short enough that a user does not give up first.
pub const RADIO_STALL: Duration = Duration::from_secs(30);

/// The Wi-Fi station interface as a smoltcp device.
pub struct WifiDevice {
    interface: Interface,
    send_slots: Watchdog,
}

impl WifiDevice {
    /// A device over the station interface (`Interface::station()`).
    pub fn new(interface: Interface) -> Self {
        Self {
            interface,
            send_slots: Watchdog::new(RADIO_STALL),
        }
    }

    /// The station's MAC address, for smoltcp's Ethernet address.
    pub fn mac_address(&self) -> [u8; 6] {
        self.interface.mac_address()
    }

    /// Whether smoltcp has wanted to send for [`RADIO_STALL`] without getting one
    /// send slot, at `now`: the radio has stalled (see the module docs).
    pub fn radio_stalled(&self, now: nal_echo::Instant) -> bool {
        self.send_slots.is_stalled(now)
    }

    /// Notes whether a send slot was granted.
    fn slot(&mut self, granted: bool, timestamp: Instant) {
        if granted {
            self.send_slots.progress();
        } else {
            let ms = u64::try_from(timestamp.total_millis()).unwrap_or(0);
            self.send_slots.waiting(nal_echo::Instant::from_millis(ms));
        }
    }
}

/// A received frame.
pub struct RxToken(WifiRxToken);

/// Room for one frame to send.
pub struct TxToken(WifiTxToken);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        self.0.consume(|frame| f(frame))
    }
}

impl phy::TxToken for TxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.consume(len, f)
    }
}

impl Device for WifiDevice {
    type RxToken<'a>
        = RxToken
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken
    where
        Self: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken, TxToken)> {
        let mut cx = Context::from_waker(Waker::noop());
        Driver::receive(&mut self.interface, &mut cx).map(|(rx, tx)| (RxToken(rx), TxToken(tx)))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<TxToken> {
        let mut cx = Context::from_waker(Waker::noop());
        let token = Driver::transmit(&mut self.interface, &mut cx).map(TxToken);
        self.slot(token.is_some(), timestamp);
        token
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = Driver::capabilities(&self.interface).max_transmission_unit;
        caps.max_burst_size = Some(1);
        caps
    }
}
