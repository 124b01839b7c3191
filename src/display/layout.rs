//! Where things are on the panel: the one place for its geometry.
//!
//! The status screen is four lines on a 128x64 monochrome panel; each line takes
//! two SSD1306/SH1106 pages (16 pixel rows), so that updating a line never touches
//! a page of another line.

/// Width of the panel in pixels.
pub(crate) const WIDTH: u32 = 128;
/// Height of the panel in pixels.
pub(crate) const HEIGHT: u32 = 64;
/// Pixel rows of one display page (a byte of the controller's memory).
pub(crate) const PAGE_HEIGHT: u32 = 8;
/// Pages of the panel.
#[cfg_attr(not(feature = "sh1106"), allow(dead_code))]
pub(crate) const PAGES: u32 = HEIGHT / PAGE_HEIGHT;
/// Pixel rows a line may draw in: two pages.
pub(crate) const LINE_HEIGHT: u32 = 2 * PAGE_HEIGHT;

/// Top pixel row of the header line (`ip:port`).
pub(crate) const HEADER_Y: i32 = 0;
/// Top pixel row of the state line (`accepting.....`, `active/slots peer`).
pub(crate) const STATE_Y: i32 = HEADER_Y + LINE_HEIGHT as i32;
/// Top pixel row of the counters line.
pub(crate) const COUNTERS_Y: i32 = STATE_Y + LINE_HEIGHT as i32;
/// Top pixel row of the message line.
pub(crate) const MESSAGE_Y: i32 = COUNTERS_Y + LINE_HEIGHT as i32;

// The four lines fill the panel exactly.
const _: () = assert!(MESSAGE_Y as u32 + LINE_HEIGHT == HEIGHT);
