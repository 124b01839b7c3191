//! [`AtConfig`]: the network to join and how long to wait for the modem.

use heapless::String;

use crate::time::Duration;

/// Longest SSID (IEEE 802.11).
pub const SSID_CAP: usize = 32;
/// Longest password: a WPA2 passphrase has at most 63 characters, a raw key 64 hex
/// digits.
pub const PASSWORD_CAP: usize = 64;

/// Settings of an [`AtStack`](super::AtStack). Build with [`AtConfig::new`] and
/// change the fields you need.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AtConfig {
    /// The network to join.
    pub ssid: String<SSID_CAP>,
    /// Its password; empty for an open network.
    pub password: String<PASSWORD_CAP>,
    /// How long the modem may take to answer a command (CIPSTART and CIPSEND
    /// included: until `SEND OK`). Default 5 s.
    pub command_timeout: Duration,
    /// How long joining may take (`AT+CWJAP`), and how long the stack waits for the
    /// modem to rejoin by itself after `WIFI DISCONNECT` before it joins again.
    /// Default 20 s.
    pub join_timeout: Duration,
    /// Wait after a failed setup or join before starting over with `AT`. Default 5 s.
    pub retry_delay: Duration,
}

impl AtConfig {
    /// The defaults, joining `ssid` with `password`; `None` if the SSID is longer
    /// than [`SSID_CAP`] bytes or the password longer than [`PASSWORD_CAP`].
    pub fn new(ssid: &str, password: &str) -> Option<Self> {
        Some(Self {
            ssid: String::try_from(ssid).ok()?,
            password: String::try_from(password).ok()?,
            command_timeout: Duration::from_secs(5),
            join_timeout: Duration::from_secs(20),
            retry_delay: Duration::from_secs(5),
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn lengths_are_checked() {
        assert!(AtConfig::new(&"s".repeat(SSID_CAP), &"p".repeat(PASSWORD_CAP)).is_some());
        assert!(AtConfig::new(&"s".repeat(SSID_CAP + 1), "").is_none());
        assert!(AtConfig::new("s", &"p".repeat(PASSWORD_CAP + 1)).is_none());
        let c = AtConfig::new("net", "").unwrap();
        assert_eq!(c.join_timeout, Duration::from_secs(20));
    }
}
