//! The Wi-Fi station link: join the network and join it again after a drop, without
//! ever waiting.
//!
//! esp-radio 1.0.0-beta.1 connects only through an async call, `connect_async`, and
//! does not reconnect by itself. Its first poll starts the connection
//! (`esp_wifi_connect`) and then waits for the outcome, so [`WifiLink`] polls the
//! future once and drops it, and learns the outcome from `is_connected()` on later
//! passes of the main loop. An attempt that has not succeeded after
//! [`RETRY`] is started again, and so is the link right after a drop.

use esp_radio::wifi::{AuthenticationMethodConfig, WifiController, sta::StationConfig};
use nal_echo::{Duration, Instant};

/// Time given to one connection attempt (scan, authentication, association).
pub const RETRY: Duration = Duration::from_secs(15);

/// The station settings for `ssid` and `password`: WPA2-Personal (the access point
/// may offer more, e.g. WPA2/WPA3), or an open network when `password` is empty.
///
/// # Panics
///
/// If the SSID is longer than 32 bytes or the password longer than 64; main.rs
/// checks both lengths at compile time.
pub fn station_config(ssid: &str, password: &str) -> StationConfig {
    let authentication = if password.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        AuthenticationMethodConfig::Wpa2Personal(
            password
                .try_into()
                .expect("Wi-Fi password longer than 64 bytes"),
        )
    };
    StationConfig::default()
        .with_ssid(ssid.try_into().expect("Wi-Fi SSID longer than 32 bytes"))
        .with_authentication(authentication)
}

/// The station's connection, kept up from the main loop.
pub struct WifiLink<'d> {
    controller: WifiController<'d>,
    up: bool,
    /// When to start the next attempt; `None`: at once.
    next_attempt: Option<Instant>,
    drops: u32,
}

impl<'d> WifiLink<'d> {
    /// A link over a controller already configured as a station (its initial
    /// config); nothing is started until the first [`poll`](Self::poll).
    pub fn new(controller: WifiController<'d>) -> Self {
        Self {
            controller,
            up: false,
            next_attempt: None,
            drops: 0,
        }
    }

    /// Whether the station is connected now; starts an attempt when one is due.
    pub fn poll(&mut self, now: Instant) -> bool {
        if self.controller.is_connected() {
            self.up = true;
            return true;
        }
        if self.up {
            // Just dropped: try again at once.
            self.up = false;
            self.drops = self.drops.wrapping_add(1);
            self.next_attempt = None;
        }
        if self.next_attempt.is_none_or(|t| now >= t) {
            self.start_attempt();
            self.next_attempt = Some(now + RETRY);
        }
        false
    }

    /// Times the connection was lost after it had been up.
    pub fn drops(&self) -> u32 {
        self.drops
    }

    /// Starts `esp_wifi_connect` through one poll of `connect_async` (the only
    /// public way), without waiting for its outcome. An error here (for example
    /// an attempt already under way) needs nothing: `is_connected` tells the rest.
    fn start_attempt(&mut self) {
        let _ = embassy_futures::poll_once(self.controller.connect_async());
    }
}
