//! The firmware's own screen pages, drawn on the same display as nal-echo's status
//! screen: the Wi-Fi page while the board has no address yet, and the statistics
//! page that button B brings up.
//!
//! A page is 6 rows of 21 characters in embedded-graphics' `FONT_6X10` (the status
//! screen's font). Every row is drawn as whole character cells, text and
//! background, padded with spaces, so redrawing a page only changes the pixels
//! whose text changed and the SH1106 driver sends only those columns; the screen is
//! cleared only when a page appears.

use core::fmt::{self, Write as _};

use embedded_graphics::Drawable;
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::mono_font::{MonoTextStyle, MonoTextStyleBuilder};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::Point;
use embedded_graphics::text::{Baseline, Text};
use nal_echo::{Duration, Flush, ServerStats};

/// Character cells across the 128-pixel panel.
pub const COLUMNS: usize = 21;
/// Rows of a page (10 pixels each).
pub const ROWS: usize = 6;
/// Top pixel row of the first text row: centres 60 rows of text on 64.
const TOP: i32 = 2;
const ROW_HEIGHT: i32 = 10;
const CELL_WIDTH: i32 = 6;
const BLANKS: &str = "                     ";

/// One row of text, cut at [`COLUMNS`] characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    text: heapless::String<{ COLUMNS * 4 }>,
    chars: usize,
}

impl fmt::Write for Row {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.chars == COLUMNS {
                break;
            }
            // Cannot fail: 4 bytes per character are reserved.
            let _ = self.text.push(c);
            self.chars += 1;
        }
        Ok(())
    }
}

/// The rows of one page; rows left empty are blank.
pub type Page = [Row; ROWS];

/// A row built from format arguments.
pub fn row(args: fmt::Arguments<'_>) -> Row {
    let mut r = Row::default();
    let _ = r.write_fmt(args);
    r
}

/// Draws [`Page`]s on a display, clearing it only for the first page after
/// [`invalidate`](Self::invalidate).
#[derive(Debug)]
pub struct PageDrawer {
    fresh: bool,
}

impl Default for PageDrawer {
    fn default() -> Self {
        Self::new()
    }
}

impl PageDrawer {
    pub const fn new() -> Self {
        Self { fresh: true }
    }

    /// Clear the whole display before the next page (it showed something else).
    pub fn invalidate(&mut self) {
        self.fresh = true;
    }

    /// Draw `page` and flush it.
    pub fn draw<D: Flush>(&mut self, display: &mut D, page: &Page) -> Result<(), D::Error> {
        if self.fresh {
            display.clear(BinaryColor::Off)?;
        }
        let style: MonoTextStyle<'_, BinaryColor> = MonoTextStyleBuilder::new()
            .font(&FONT_6X10)
            .text_color(BinaryColor::On)
            .background_color(BinaryColor::Off)
            .build();
        for (row, y) in page.iter().zip((TOP..).step_by(ROW_HEIGHT as usize)) {
            Text::with_baseline(&row.text, Point::new(0, y), style, Baseline::Top).draw(display)?;
            let pad = BLANKS.get(..COLUMNS - row.chars).unwrap_or("");
            let x = CELL_WIDTH * i32::try_from(row.chars).unwrap_or(0);
            Text::with_baseline(pad, Point::new(x, y), style, Baseline::Top).draw(display)?;
        }
        display.flush()?;
        self.fresh = false;
        Ok(())
    }
}

/// What the Wi-Fi page says about the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPhase {
    /// Joining the network.
    Joining,
    /// Joined; waiting for a DHCP lease.
    Dhcp,
}

/// The page shown until the board has an address:
///
/// ```text
/// Wi-Fi MyNetwork
/// joining...          (or: DHCP...)
/// 12 s
///
/// MAC 24:0a:c4:12:34:56
/// drops 0 restarts 0
/// ```
///
/// `restarts`: the chip restarted because the radio had stalled (since power-on).
pub fn wifi_page(
    ssid: &str,
    phase: LinkPhase,
    waited: Duration,
    mac: [u8; 6],
    drops: u32,
    restarts: u32,
) -> Page {
    let m = mac;
    [
        row(format_args!("Wi-Fi {ssid}")),
        row(format_args!(
            "{}",
            match phase {
                LinkPhase::Joining => "joining...",
                LinkPhase::Dhcp => "DHCP...",
            }
        )),
        row(format_args!("{} s", waited.total_millis() / 1000)),
        Row::default(),
        row(format_args!(
            "MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )),
        row(format_args!("drops {drops} restarts {restarts}")),
    ]
}

/// Shown for the moment before the chip restarts for a stalled radio.
pub fn stall_page(restarts: u32) -> Page {
    [
        row(format_args!("Wi-Fi radio stalled")),
        row(format_args!("restarting...")),
        Row::default(),
        row(format_args!("restarts {restarts}")),
        Row::default(),
        Row::default(),
    ]
}

/// The statistics page (button B):
///
/// ```text
/// up 0d 01:02:03
/// in  52341 B
/// out 52341 B
/// acc 12 rej 1 den 0
/// err 0 idle 2 disp 0
/// active 1/4 drops 0
/// ```
///
/// `acc`: connections accepted, `rej`: turned away because all slots were busy,
/// `den`: not on the allowlist, `err`: errors, `idle`: closed for idleness,
/// `disp`: failed screen updates, `active`: connections now / slots, `drops`: Wi-Fi
/// connection losses.
pub fn stats_page(stats: &ServerStats, slots: usize, uptime: Duration, drops: u32) -> Page {
    let s = uptime.total_millis() / 1000;
    [
        row(format_args!(
            "up {}d {:02}:{:02}:{:02}",
            s / 86_400,
            s / 3600 % 24,
            s / 60 % 60,
            s % 60
        )),
        row(format_args!("in  {} B", stats.bytes_in)),
        row(format_args!("out {} B", stats.bytes_out)),
        row(format_args!(
            "acc {} rej {} den {}",
            stats.accepted, stats.rejected, stats.denied
        )),
        row(format_args!(
            "err {} idle {} disp {}",
            stats.errors, stats.evicted, stats.display_errors
        )),
        row(format_args!(
            "active {}/{slots} drops {drops}",
            stats.active
        )),
    ]
}

/// `total` plus what one server (since its start) did; `active` is the server's.
/// The firmware starts a new server each time the Wi-Fi comes back, so the
/// statistics page adds up all of them.
pub fn add_stats(total: &ServerStats, server: &ServerStats) -> ServerStats {
    ServerStats {
        accepted: total.accepted.wrapping_add(server.accepted),
        rejected: total.rejected.wrapping_add(server.rejected),
        denied: total.denied.wrapping_add(server.denied),
        evicted: total.evicted.wrapping_add(server.evicted),
        active: server.active,
        bytes_in: total.bytes_in.wrapping_add(server.bytes_in),
        bytes_out: total.bytes_out.wrapping_add(server.bytes_out),
        receives: total.receives.wrapping_add(server.receives),
        errors: total.errors.wrapping_add(server.errors),
        display_errors: total.display_errors.wrapping_add(server.display_errors),
    }
}
