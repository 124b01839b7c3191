//! esp-radio's Wi-Fi `Interface` for embassy-net, with the send-slot watchdog of
//! the poll firmware (`wifi_device.rs` says why: esp-radio 1.0.0-beta.1 can stop
//! granting send slots for good after link drops).
//!
//! embassy-net asks the driver for a send slot (`transmit`) whenever smoltcp has a
//! frame to send, as the poll firmware's smoltcp device does; a refusal starts the
//! watchdog, a granted slot stops it. The driver itself moves into embassy-net's
//! runner, so the watchdog is shared through a `RefCell` with the firmware's loop
//! (both run in the one embassy task, never at once).

use core::cell::RefCell;
use core::task::Context;

use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use esp_radio::wifi::{Interface, WifiRxToken, WifiTxToken};
use nal_echo::Clock as _;
use nal_echo::time::Watchdog;

use crate::clock::BoardClock;

/// The station interface, noting in `watchdog` whether send slots are granted.
pub struct WatchedDriver<'a> {
    interface: Interface,
    watchdog: &'a RefCell<Watchdog>,
}

impl<'a> WatchedDriver<'a> {
    /// The station interface (`Interface::station()`) with its watchdog, made with
    /// [`crate::wifi_device::RADIO_STALL`].
    pub fn new(interface: Interface, watchdog: &'a RefCell<Watchdog>) -> Self {
        Self {
            interface,
            watchdog,
        }
    }
}

impl Driver for WatchedDriver<'_> {
    type RxToken<'b>
        = WifiRxToken
    where
        Self: 'b;
    type TxToken<'b>
        = WifiTxToken
    where
        Self: 'b;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(WifiRxToken, WifiTxToken)> {
        Driver::receive(&mut self.interface, cx)
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<WifiTxToken> {
        let token = Driver::transmit(&mut self.interface, cx);
        let mut watchdog = self.watchdog.borrow_mut();
        if token.is_some() {
            watchdog.progress();
        } else {
            watchdog.waiting(BoardClock.now());
        }
        token
    }

    fn link_state(&mut self, cx: &mut Context<'_>) -> LinkState {
        Driver::link_state(&mut self.interface, cx)
    }

    fn capabilities(&self) -> Capabilities {
        Driver::capabilities(&self.interface)
    }

    fn hardware_address(&self) -> HardwareAddress {
        Driver::hardware_address(&self.interface)
    }
}
