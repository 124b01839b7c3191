//! Build-time settings, from environment variables read by `option_env!` when the
//! firmware is compiled (cargo rebuilds when they change):
//!
//! * `WIFI_SSID`, `WIFI_PASSWORD`: the network to join (placeholders by default;
//!   both end up in the binary as plain text);
//! * `SERVER_IP`: the echo server (the Handbit), a dotted IPv4 address; default
//!   `192.168.43.246` as in the tutorial;
//! * `SERVER_PORT`: default 5001.
//!
//! Malformed values fail the build, not the board.

use nal_echo::stack::at::{PASSWORD_CAP, SSID_CAP};

/// The SSID when `WIFI_SSID` is not set.
pub const PLACEHOLDER_SSID: &str = "your-ssid";

/// The network to join.
pub const WIFI_SSID: &str = match option_env!("WIFI_SSID") {
    Some(s) => s,
    None => PLACEHOLDER_SSID,
};
/// Its password (empty for an open network).
pub const WIFI_PASSWORD: &str = match option_env!("WIFI_PASSWORD") {
    Some(s) => s,
    None => "your-password",
};
/// The echo server's address.
pub const SERVER_IP: [u8; 4] = match parse_ipv4(match option_env!("SERVER_IP") {
    Some(s) => s,
    None => "192.168.43.246",
}) {
    Some(ip) => ip,
    None => panic!("SERVER_IP must be a dotted IPv4 address such as 192.168.43.246"),
};
/// The echo server's port.
pub const SERVER_PORT: u16 = match option_env!("SERVER_PORT") {
    None => 5001,
    Some(s) => match parse_decimal(s.as_bytes(), 65535) {
        Some(port) if port > 0 => port,
        _ => panic!("SERVER_PORT must be 1..=65535"),
    },
};

const _: () = assert!(WIFI_SSID.len() <= SSID_CAP, "WIFI_SSID: at most 32 bytes");
const _: () = assert!(
    WIFI_PASSWORD.len() <= PASSWORD_CAP,
    "WIFI_PASSWORD: at most 64 bytes"
);

/// `a.b.c.d` with each part 0..=255, no spaces.
const fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let bytes = s.as_bytes();
    let mut out = [0u8; 4];
    let mut part = 0;
    let mut start = 0;
    let mut i = 0;
    while i <= bytes.len() {
        if i == bytes.len() || bytes[i] == b'.' {
            if part == 4 {
                return None;
            }
            let (_, rest) = bytes.split_at(start);
            let (digits, _) = rest.split_at(i - start);
            match parse_decimal(digits, 255) {
                Some(v) => out[part] = v as u8,
                None => return None,
            }
            part += 1;
            start = i + 1;
        }
        i += 1;
    }
    if part == 4 {
        Some(out)
    } else {
        None
    }
}

/// 1 to 5 decimal digits, at most `max`.
const fn parse_decimal(digits: &[u8], max: u32) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    let mut i = 0;
    while i < digits.len() {
        let d = digits[i];
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (d - b'0') as u32;
        i += 1;
    }
    if v <= max {
        Some(v as u16)
    } else {
        None
    }
}

// The parser's own checks, run by the compiler.
const _: () = assert!(matches!(
    parse_ipv4("192.168.43.246"),
    Some([192, 168, 43, 246])
));
const _: () = assert!(matches!(parse_ipv4("0.0.0.0"), Some([0, 0, 0, 0])));
const _: () = assert!(parse_ipv4("192.168.43").is_none());
const _: () = assert!(parse_ipv4("1.2.3.4.5").is_none());
const _: () = assert!(parse_ipv4("1.2.3.256").is_none());
const _: () = assert!(parse_ipv4("1..3.4").is_none());
const _: () = assert!(parse_ipv4(" 1.2.3.4").is_none());
const _: () = assert!(parse_ipv4("").is_none());
