//! The board: its settings (Wi-Fi credentials, the OLED's address and column offset,
//! from the build environment), and starting it up the same way for both
//! firmwares: clocks, heap, esp-rtos, pins, the I2C bus, button B and the Wi-Fi
//! station.

use esp_hal::Blocking;
use esp_hal::clock::CpuClock;
use esp_hal::gpio::{Input, InputConfig, Pull};
use esp_hal::i2c::master::{Config as I2cConfig, I2c};
use esp_hal::rng::Rng;
use esp_hal::time::Rate;
use esp_hal::timer::timg::TimerGroup;
use esp_println::println;
use esp_radio::wifi::{Config as WifiConfig, ControllerConfig, Interface, WifiController};
use esp_rtos::CurrentThreadHandle;

use crate::radio;
use crate::wifi_link::{self, WifiLink};

/// The network to join, from the build environment.
pub const WIFI_SSID: &str = match option_env!("WIFI_SSID") {
    Some(ssid) => ssid,
    None => "handbit-ssid",
};
/// Its password (WPA2-Personal); empty for an open network.
pub const WIFI_PASSWORD: &str = match option_env!("WIFI_PASSWORD") {
    Some(password) => password,
    None => "handbit-password",
};
const _: () = assert!(WIFI_SSID.len() <= 32, "WIFI_SSID: at most 32 bytes");
const _: () = assert!(WIFI_PASSWORD.len() <= 64, "WIFI_PASSWORD: at most 64 bytes");

/// The OLED's 7-bit I2C address.
pub const OLED_ADDRESS: u8 = 0x3C;
/// The SH1106 RAM column of the glass's first pixel, from the build environment
/// (`OLED_COLUMN_OFFSET=0`..`4`, default 2): if the picture sits 2 pixels off to one
/// side with 2 columns of noise at the other edge, build with the other value
/// (`nal_echo::display::sh1106::Sh1106::with_column_offset` says more).
pub const OLED_COLUMN_OFFSET: u8 = match option_env!("OLED_COLUMN_OFFSET") {
    None => 2,
    Some(value) => {
        let digits = value.as_bytes();
        assert!(
            digits.len() == 1 && digits[0] >= b'0' && digits[0] <= b'4',
            "OLED_COLUMN_OFFSET: 0 to 4"
        );
        digits[0] - b'0'
    }
};
/// The I2C bus clock.
const I2C_KHZ: u32 = 400;

/// The started board's parts.
pub struct Parts {
    /// The I2C bus of the OLED (and, on the Handbit, the motion sensor and the
    /// magnetometer): share it with `embedded_hal_bus::i2c::RefCellDevice`.
    pub i2c: I2c<'static, Blocking>,
    /// Button B, pulled up: low while pressed.
    pub button_b: Input<'static>,
    /// The Wi-Fi station, configured with [`WIFI_SSID`] and [`WIFI_PASSWORD`].
    pub controller: WifiController<'static>,
    /// The station's frames.
    pub interface: Interface,
    /// From the hardware RNG (the radio runs): seeds the TCP/IP stack.
    pub random_seed: u64,
}

/// Starts the chip, the heap, esp-rtos and the Wi-Fi station, and sets up the pins;
/// logs the firmware's first console line. Returns after the OLED has had its
/// ~100 ms of power (it is initialised by the firmware's loop, with retries).
pub fn start(firmware: &str) -> Parts {
    // Wi-Fi needs at least 80 MHz.
    let p = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    // esp-radio's station needs about 60 KiB of heap (nal-echo and the TCP/IP stack
    // use none): RAM the bootloader used, plus some of the ordinary RAM.
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 36 * 1024);
    // esp-radio runs on esp-rtos' scheduler, which must start first; from here on
    // the caller runs in esp-rtos' main task.
    let timg0 = TimerGroup::new(p.TIMG0);
    esp_rtos::start(timg0.timer0, p.FROM_CPU_INTR0);
    println!(
        "nal-echo {firmware}: joining {WIFI_SSID} (restarts for a stalled radio: {})",
        radio::restarts()
    );

    // Pins of the board.
    #[cfg(feature = "esp32")]
    let (sda, scl, button_b) = (p.GPIO23, p.GPIO22, p.GPIO2);
    #[cfg(feature = "esp32c3")]
    let (sda, scl, button_b) = (p.GPIO4, p.GPIO5, p.GPIO9);

    let i2c = I2c::new(
        p.I2C0,
        I2cConfig::default().with_frequency(Rate::from_khz(I2C_KHZ)),
    )
    .expect("400 kHz is a valid I2C clock")
    .with_sda(sda)
    .with_scl(scl);
    let button_b = Input::new(button_b, InputConfig::default().with_pull(Pull::Up));

    let station = wifi_link::station_config(WIFI_SSID, WIFI_PASSWORD);
    let controller = WifiController::new(
        p.WIFI,
        ControllerConfig::default().with_initial_config(WifiConfig::Station(station)),
    )
    .expect("Wi-Fi start");
    let interface = Interface::station();
    // True random numbers once the radio runs.
    let rng = Rng::new();
    let random_seed = (u64::from(rng.random()) << 32) | u64::from(rng.random());

    // The SH1106 wants ~100 ms of power before it is switched on.
    CurrentThreadHandle::get().delay(esp_hal::time::Duration::from_millis(100));

    Parts {
        i2c,
        button_b,
        controller,
        interface,
        random_seed,
    }
}

/// What the board wiring hands to either firmware's `run`: `Frames` is how the
/// Wi-Fi station's frames reach the network stack (a smoltcp device for the poll
/// firmware, esp-radio's interface for embassy-net).
pub struct Board<'d, D, B, Frames> {
    /// The network to join (shown on the Wi-Fi page).
    pub ssid: &'static str,
    /// The Wi-Fi station, configured with the network's credentials.
    pub link: WifiLink<'d>,
    /// The station's frames.
    pub frames: Frames,
    /// The OLED (the firmware initialises it, and retries).
    pub display: D,
    /// Button B's level: `true` while pressed.
    pub button_b: B,
    /// From the hardware RNG: seeds the stack's sequence numbers and local ports.
    pub random_seed: u64,
}
