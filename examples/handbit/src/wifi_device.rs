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

use core::task::{Context, Waker};

use embassy_net_driver::{Driver, RxToken as _, TxToken as _};
use esp_radio::wifi::{Interface, WifiRxToken, WifiTxToken};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// The Wi-Fi station interface as a smoltcp device.
pub struct WifiDevice {
    interface: Interface,
}

impl WifiDevice {
    /// A device over the station interface (`Interface::station()`).
    pub fn new(interface: Interface) -> Self {
        Self { interface }
    }

    /// The station's MAC address, for smoltcp's Ethernet address.
    pub fn mac_address(&self) -> [u8; 6] {
        self.interface.mac_address()
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

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken> {
        let mut cx = Context::from_waker(Waker::noop());
        Driver::transmit(&mut self.interface, &mut cx).map(TxToken)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = Driver::capabilities(&self.interface).max_transmission_unit;
        caps.max_burst_size = Some(1);
        caps
    }
}
