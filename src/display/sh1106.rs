//! [`Sh1106`]: a buffered 128x64 SH1106 OLED driver over embedded-hal 1.0 I2C that
//! sends only what changed.
//!
//! # Why our own driver
//!
//! The `sh1106` crate (0.5) is built on embedded-hal 0.2, while this crate and the
//! HALs it targets use embedded-hal 1.0. The ssd1306 driver cannot stand in for it:
//! its flush uses the SSD1306's horizontal addressing mode (`0x20`/`0x21`/`0x22`),
//! which the SH1106 does not have. The SH1106 is written page by page (page
//! addressing only), and its display RAM is 132 columns wide, with the 128 visible
//! columns of the usual modules at columns 2..=129. Modules sold as SH1106 that
//! carry an SSD1306-type controller also work: `init` sends the SSD1306's charge
//! pump command too (an SH1106 ignores it), and
//! [`with_column_offset(0)`](Sh1106::with_column_offset) writes from column 0.
//!
//! # What crosses the bus
//!
//! Drawing goes into a 1 KiB frame buffer (8 pages of 128 bytes; bit `y % 8` of
//! byte `x` in page `y / 8`). For every page the driver keeps the range of columns
//! whose bytes differ from what the panel was last sent: a pixel set to the colour
//! it already has marks nothing. [`flush`](crate::display::Flush::flush) then sends, for each
//! page with such columns, one command write (control byte `0x00`: page `0xB0 + page`,
//! then the column `first + offset` (2 unless
//! [`with_column_offset`](Sh1106::with_column_offset) says otherwise) as low nibble `0x00 | (c & 0x0F)` and high nibble
//! `0x10 | (c >> 4)`) and one data write (control byte `0x40` and the bytes of that
//! range). A message update on the [`StatusScreen`](crate::display::StatusScreen) therefore
//! costs only the changed columns of the two pages of its line.
//!
//! [`DrawTarget::clear`] is the exception: it marks every column of every page, so
//! the next flush sends the whole frame. `StatusScreen` clears on its first draw and
//! after [`invalidate`](crate::display::StatusScreen::invalidate) (and after a failed draw), so
//! a panel that lost or garbled its RAM is repainted completely.
//!
//! ```no_run
//! # fn demo<I2C: embedded_hal::i2c::I2c>(i2c: I2C) -> Result<(), nal_echo::display::sh1106::Sh1106Error<I2C::Error>> {
//! use nal_echo::display::sh1106::Sh1106;
//! use nal_echo::{Flush, StatusScreen};
//!
//! let mut display = Sh1106::new(i2c, 0x3C);
//! display.init()?;
//! let mut screen = StatusScreen::new();
//! screen.set_message_chars("Hello Handbit".chars());
//! screen.draw(&mut display)?;
//! # Ok(()) }
//! ```

use core::fmt;

use embedded_graphics::draw_target::DrawTarget;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{OriginDimensions, Pixel, Size};
use embedded_hal::i2c::I2c;

use crate::display::flush::Flush;
use crate::display::layout;

/// Visible width in pixels.
const WIDTH: usize = layout::WIDTH as usize;
/// Height in pixels.
const HEIGHT: usize = layout::HEIGHT as usize;
/// Pages of 8 rows.
const PAGES: usize = layout::PAGES as usize;
/// Columns of the SH1106 display RAM.
const RAM_COLUMNS: usize = 132;
/// RAM column of the leftmost visible pixel on the usual SH1106 modules.
const COLUMN_OFFSET: u8 = 2;
/// The largest column offset: the RAM has 132 columns, the glass 128.
const MAX_COLUMN_OFFSET: u8 = (RAM_COLUMNS - WIDTH) as u8;

/// Control byte: the rest of the write are commands.
const COMMANDS: u8 = 0x00;
/// Control byte: the rest of the write is display RAM data.
const DATA: u8 = 0x40;

/// Display off.
const DISPLAY_OFF: u8 = 0xAE;
/// Display on.
const DISPLAY_ON: u8 = 0xAF;
/// Contrast, followed by its value.
const SET_CONTRAST: u8 = 0x81;
/// Page address `0xB0 + page`.
const SET_PAGE: u8 = 0xB0;
/// Lower column address nibble `0x00 | low`.
const SET_COLUMN_LOW: u8 = 0x00;
/// Higher column address nibble `0x10 | high`.
const SET_COLUMN_HIGH: u8 = 0x10;

/// Clock divide ratio and oscillator frequency, followed by their value.
const SET_CLOCK: u8 = 0xD5;
/// Multiplex ratio, followed by the number of rows minus one.
const SET_MULTIPLEX: u8 = 0xA8;
/// Vertical display offset, followed by the row.
const SET_DISPLAY_OFFSET: u8 = 0xD3;
/// Display start line `0x40 | line`.
const SET_START_LINE: u8 = 0x40;
/// DC-DC converter control, followed by [`DC_DC_ON`].
const SET_DC_DC: u8 = 0xAD;
/// The DC-DC converter on (the panel's own supply).
const DC_DC_ON: u8 = 0x8B;
/// SSD1306 charge pump setting, followed by [`CHARGE_PUMP_ON`]. An SH1106 has no
/// such command and ignores it (and takes the `0x14` after it for a column address,
/// which every RAM write sets again): sent so that a module that carries an
/// SSD1306-type controller instead lights up too.
const SET_CHARGE_PUMP: u8 = 0x8D;
/// The SSD1306's charge pump on.
const CHARGE_PUMP_ON: u8 = 0x14;
/// Segment remap: RAM column 131 drives the leftmost segment (modules mount the
/// glass mirrored).
const SEGMENT_REMAP: u8 = 0xA1;
/// COM outputs scanned from the last to the first (with the remap: upright).
const COM_SCAN_REVERSED: u8 = 0xC8;
/// COM pins hardware configuration, followed by [`COM_PINS_ALTERNATIVE`].
const SET_COM_PINS: u8 = 0xDA;
/// Alternative COM pin layout, which 128x64 modules are wired for.
const COM_PINS_ALTERNATIVE: u8 = 0x12;
/// Pre-charge and discharge periods, followed by their value.
const SET_PRECHARGE: u8 = 0xD9;
/// VCOM deselect level, followed by its value.
const SET_VCOMH: u8 = 0xDB;
/// Show the RAM (rather than every pixel on).
const SHOW_RAM: u8 = 0xA4;
/// Normal (not inverted) display.
const NOT_INVERTED: u8 = 0xA6;

/// The init sequence after the control byte, for a 128x64 module. Values: clock
/// 0x80 (the power-on ratio), 64 rows, no offset, contrast 0xCF, pre-charge and
/// discharge 0x22 and VCOMH 0x40 (their power-on values). The display is switched
/// on after the RAM has been cleared.
const INIT: [u8; 24] = [
    DISPLAY_OFF,
    SET_CLOCK,
    0x80,
    SET_MULTIPLEX,
    HEIGHT as u8 - 1,
    SET_DISPLAY_OFFSET,
    0x00,
    SET_START_LINE,
    SET_DC_DC,
    DC_DC_ON,
    SET_CHARGE_PUMP,
    CHARGE_PUMP_ON,
    SEGMENT_REMAP,
    COM_SCAN_REVERSED,
    SET_COM_PINS,
    COM_PINS_ALTERNATIVE,
    SET_CONTRAST,
    0xCF,
    SET_PRECHARGE,
    0x22,
    SET_VCOMH,
    0x40,
    SHOW_RAM,
    NOT_INVERTED,
];

/// An error of the [`Sh1106`] driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Sh1106Error<E> {
    /// An I2C transfer failed.
    I2c(E),
}

impl<E: fmt::Debug> fmt::Display for Sh1106Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sh1106Error::I2c(e) => write!(f, "SH1106 I2C transfer failed: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Sh1106Error<E> {}

/// Columns `first..end` of one page that differ from the panel; none if `first >= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dirty {
    first: u8,
    end: u8,
}

impl Dirty {
    /// Nothing to send.
    const CLEAN: Self = Self {
        first: WIDTH as u8,
        end: 0,
    };
    /// The whole page.
    const ALL: Self = Self {
        first: 0,
        end: WIDTH as u8,
    };

    fn mark(&mut self, x: u8) {
        self.first = self.first.min(x);
        self.end = self.end.max(x.saturating_add(1));
    }

    fn range(self) -> Option<(u8, u8)> {
        (self.first < self.end).then_some((self.first, self.end))
    }
}

/// A buffered 128x64 SH1106 on I2C: draw into it, then [`flush`](Flush::flush) to
/// send the changed columns (see the [module documentation](self)).
///
/// Pixels outside 128x64 are ignored. The driver is generic over embedded-hal 1.0
/// [`I2c`], so a shared bus (`embedded_hal_bus::i2c::RefCellDevice`) works too.
pub struct Sh1106<I2C> {
    i2c: I2C,
    address: u8,
    column_offset: u8,
    buffer: [u8; WIDTH * PAGES],
    dirty: [Dirty; PAGES],
}

impl<I2C> fmt::Debug for Sh1106<I2C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sh1106")
            .field("address", &self.address)
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}

impl<I2C: I2c> Sh1106<I2C> {
    /// A driver for the panel at the 7-bit `address` (`0x3C` on the Handbit, `0x3D`
    /// with SA0 high). Nothing is sent until [`init`](Self::init).
    pub fn new(i2c: I2C, address: u8) -> Self {
        Self {
            i2c,
            address,
            column_offset: COLUMN_OFFSET,
            buffer: [0; WIDTH * PAGES],
            dirty: [Dirty::CLEAN; PAGES],
        }
    }

    /// The RAM column that the glass's leftmost pixel shows: 2 on the usual SH1106
    /// modules (the default), 0 on modules whose controller is an SSD1306-type or
    /// whose glass starts at the first column; at most 4 (larger values are taken as
    /// 4).
    ///
    /// How to tell on a board: with the wrong offset the picture sits 2 pixels off
    /// to one side, its first or last 2 columns are missing, and 2 columns of noise
    /// (RAM nothing writes) stand at the other edge, most visible on the status
    /// screen's lines that reach the edges.
    pub fn with_column_offset(mut self, offset: u8) -> Self {
        self.column_offset = offset.min(MAX_COLUMN_OFFSET);
        self
    }

    /// Configure the panel, clear all of its RAM (132 columns, 8 pages) and switch
    /// the display on.
    ///
    /// Whatever the frame buffer already holds is sent on the next flush. The
    /// datasheet asks for about 100 ms between power-up (DC-DC on) and display on;
    /// call this some time after the panel got power.
    pub fn init(&mut self) -> Result<(), Sh1106Error<I2C::Error>> {
        self.command(&INIT)?;
        let blank = with_control::<{ 1 + RAM_COLUMNS }>(DATA, &[0; RAM_COLUMNS]);
        for page in 0..PAGES as u8 {
            self.command(&address_page(page, 0))?;
            self.write(&blank)?;
        }
        // The panel is blank now: what differs from it is what is lit in the buffer.
        for (row, dirty) in self.buffer.chunks_exact(WIDTH).zip(&mut self.dirty) {
            *dirty = Dirty::CLEAN;
            if let (Some(first), Some(last)) = (
                row.iter().position(|&b| b != 0),
                row.iter().rposition(|&b| b != 0),
            ) {
                dirty.mark(u8::try_from(first).unwrap_or(0));
                dirty.mark(u8::try_from(last).unwrap_or(WIDTH as u8 - 1));
            }
        }
        self.set_display_on(true)
    }

    /// Set the contrast (brightness), 0..=255; `init` sets 0xCF.
    pub fn set_contrast(&mut self, contrast: u8) -> Result<(), Sh1106Error<I2C::Error>> {
        self.command(&[SET_CONTRAST, contrast])
    }

    /// Switch the display on, or off (sleep; the RAM is kept).
    pub fn set_display_on(&mut self, on: bool) -> Result<(), Sh1106Error<I2C::Error>> {
        self.command(&[if on { DISPLAY_ON } else { DISPLAY_OFF }])
    }

    /// The frame buffer: page `p` is bytes `128 * p..128 * (p + 1)`, and bit `y % 8`
    /// of byte `128 * (y / 8) + x` is the pixel at `(x, y)`.
    pub fn buffer(&self) -> &[u8; WIDTH * PAGES] {
        &self.buffer
    }

    /// Give the I2C bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    /// One command write: control byte `0x00`, then `commands`.
    fn command(&mut self, commands: &[u8]) -> Result<(), Sh1106Error<I2C::Error>> {
        self.write(&with_control::<{ INIT.len() + 1 }>(COMMANDS, commands))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Sh1106Error<I2C::Error>> {
        self.i2c
            .write(self.address, bytes)
            .map_err(Sh1106Error::I2c)
    }

    fn set_pixel(&mut self, x: usize, y: usize, on: bool) {
        let (page, bit) = (y / 8, 1 << (y % 8));
        let Some(byte) = self.buffer.get_mut(page * WIDTH + x) else {
            return;
        };
        let new = if on { *byte | bit } else { *byte & !bit };
        if new != *byte {
            *byte = new;
            if let (Some(dirty), Ok(x)) = (self.dirty.get_mut(page), u8::try_from(x)) {
                dirty.mark(x);
            }
        }
    }

    /// Send the changed columns of every page; a page is marked clean once sent.
    fn send_dirty(&mut self) -> Result<(), Sh1106Error<I2C::Error>> {
        for page in 0..PAGES {
            let Some((first, end)) = self.dirty.get(page).and_then(|d| d.range()) else {
                continue;
            };
            let start = page * WIDTH;
            let bytes = self
                .buffer
                .get(start + usize::from(first)..start + usize::from(end))
                .unwrap_or(&[]);
            let data = with_control::<{ 1 + WIDTH }>(DATA, bytes);
            // `page < 8` and `first < 128`: both fit.
            let command = address_page(page as u8, first + self.column_offset);
            self.command(&command)?;
            self.write(&data)?;
            if let Some(dirty) = self.dirty.get_mut(page) {
                *dirty = Dirty::CLEAN;
            }
        }
        Ok(())
    }
}

/// The commands that point the RAM address at `column` of `page`.
fn address_page(page: u8, column: u8) -> [u8; 3] {
    [
        SET_PAGE | (page & 0x07),
        SET_COLUMN_LOW | (column & 0x0F),
        SET_COLUMN_HIGH | (column >> 4),
    ]
}

/// A write of `control` followed by `bytes` (as many as fit in `N - 1`).
fn with_control<const N: usize>(control: u8, bytes: &[u8]) -> WriteBuf<N> {
    let mut buf = [0; N];
    let len = bytes.len().min(N.saturating_sub(1));
    if let Some((first, rest)) = buf.split_first_mut() {
        *first = control;
        if let (Some(to), Some(from)) = (rest.get_mut(..len), bytes.get(..len)) {
            to.copy_from_slice(from);
        }
    }
    WriteBuf { buf, len: len + 1 }
}

/// A control byte and its bytes, on the stack.
struct WriteBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> core::ops::Deref for WriteBuf<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&self.buf)
    }
}

impl<I2C> OriginDimensions for Sh1106<I2C> {
    fn size(&self) -> Size {
        Size::new(WIDTH as u32, HEIGHT as u32)
    }
}

impl<I2C: I2c> DrawTarget for Sh1106<I2C> {
    type Color = BinaryColor;
    type Error = Sh1106Error<I2C::Error>;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<BinaryColor>>,
    {
        for Pixel(point, color) in pixels {
            let (Ok(x), Ok(y)) = (usize::try_from(point.x), usize::try_from(point.y)) else {
                continue;
            };
            if x < WIDTH && y < HEIGHT {
                self.set_pixel(x, y, color.is_on());
            }
        }
        Ok(())
    }

    /// Fill the whole buffer and mark all of it, changed or not: the next flush
    /// sends the whole frame (a full repaint).
    fn clear(&mut self, color: BinaryColor) -> Result<(), Self::Error> {
        self.buffer.fill(if color.is_on() { 0xFF } else { 0x00 });
        self.dirty = [Dirty::ALL; PAGES];
        Ok(())
    }
}

impl<I2C: I2c> Flush for Sh1106<I2C> {
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.send_dirty()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use embedded_graphics::prelude::{Point, Primitive};
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
    use embedded_graphics::Drawable;
    use embedded_hal::i2c::{ErrorKind, ErrorType, Operation};
    use std::vec;
    use std::vec::Vec;

    /// Records every write of every transaction; fails while `fail` is set.
    #[derive(Default)]
    struct Bus {
        writes: Vec<(u8, Vec<u8>)>,
        fail: bool,
    }

    impl ErrorType for Bus {
        type Error = ErrorKind;
    }

    impl I2c for Bus {
        fn transaction(
            &mut self,
            address: u8,
            operations: &mut [Operation<'_>],
        ) -> Result<(), ErrorKind> {
            if self.fail {
                return Err(ErrorKind::Other);
            }
            for op in operations {
                if let Operation::Write(bytes) = op {
                    self.writes.push((address, bytes.to_vec()));
                }
            }
            Ok(())
        }
    }

    fn driver() -> Sh1106<Bus> {
        let mut d = Sh1106::new(Bus::default(), 0x3C);
        d.init().unwrap();
        d.i2c.writes.clear();
        d
    }

    fn point(d: &mut Sh1106<Bus>, x: i32, y: i32, color: BinaryColor) {
        d.draw_iter([Pixel(Point::new(x, y), color)]).unwrap();
    }

    fn writes(d: &Sh1106<Bus>) -> Vec<Vec<u8>> {
        d.i2c.writes.iter().map(|(_, w)| w.clone()).collect()
    }

    #[test]
    fn init_sends_the_sequence_clears_all_ram_then_switches_on() {
        let mut d = Sh1106::new(Bus::default(), 0x3C);
        d.init().unwrap();
        let w = &d.i2c.writes;
        assert!(w.iter().all(|(address, _)| *address == 0x3C));
        assert_eq!(w.len(), 1 + 2 * 8 + 1);
        assert_eq!(
            w[0].1,
            [
                0x00, 0xAE, 0xD5, 0x80, 0xA8, 0x3F, 0xD3, 0x00, 0x40, 0xAD, 0x8B, 0x8D, 0x14, 0xA1,
                0xC8, 0xDA, 0x12, 0x81, 0xCF, 0xD9, 0x22, 0xDB, 0x40, 0xA4, 0xA6
            ]
        );
        for page in 0..8u8 {
            let i = 1 + 2 * usize::from(page);
            assert_eq!(w[i].1, [0x00, 0xB0 + page, 0x00, 0x10]);
            assert_eq!(w[i + 1].1.len(), 1 + 132);
            assert_eq!(w[i + 1].1[0], 0x40);
            assert!(w[i + 1].1[1..].iter().all(|&b| b == 0));
        }
        assert_eq!(w[17].1, [0x00, 0xAF]);
        // Nothing drawn yet: nothing to send.
        d.i2c.writes.clear();
        d.flush().unwrap();
        assert!(d.i2c.writes.is_empty());
    }

    #[test]
    fn corner_pixels_address_columns_2_and_129() {
        let mut d = driver();
        point(&mut d, 0, 0, BinaryColor::On);
        d.flush().unwrap();
        assert_eq!(writes(&d), [vec![0x00, 0xB0, 0x02, 0x10], vec![0x40, 0x01]]);

        d.i2c.writes.clear();
        point(&mut d, 127, 63, BinaryColor::On);
        d.flush().unwrap();
        // Column 129 = 0x81; page 7, bit 7.
        assert_eq!(writes(&d), [vec![0x00, 0xB7, 0x01, 0x18], vec![0x40, 0x80]]);
    }

    #[test]
    fn a_column_offset_of_0_addresses_columns_0_and_127_and_larger_ones_stop_at_4() {
        let mut d = Sh1106::new(Bus::default(), 0x3C).with_column_offset(0);
        point(&mut d, 0, 0, BinaryColor::On);
        point(&mut d, 127, 0, BinaryColor::On);
        d.flush().unwrap();
        let w = writes(&d);
        assert_eq!(w[0], [0x00, 0xB0, 0x00, 0x10]);
        assert_eq!((w[1].len(), w[1][1], w[1][128]), (1 + 128, 0x01, 0x01));

        let mut d = Sh1106::new(Bus::default(), 0x3C).with_column_offset(9);
        point(&mut d, 127, 0, BinaryColor::On);
        d.flush().unwrap();
        // 127 + 4 = 131, the RAM's last column.
        assert_eq!(writes(&d)[0], [0x00, 0xB0, 0x03, 0x18]);
    }

    #[test]
    fn unchanged_pixels_send_nothing() {
        let mut d = driver();
        // Off on a blank buffer changes nothing.
        let area = Rectangle::new(Point::new(10, 10), Size::new(30, 20));
        area.into_styled(PrimitiveStyle::with_fill(BinaryColor::Off))
            .draw(&mut d)
            .unwrap();
        d.flush().unwrap();
        assert!(d.i2c.writes.is_empty());

        point(&mut d, 5, 9, BinaryColor::On);
        d.flush().unwrap();
        d.i2c.writes.clear();
        point(&mut d, 5, 9, BinaryColor::On);
        d.flush().unwrap();
        assert!(d.i2c.writes.is_empty());
        // And a flush after a flush sends nothing either.
        d.flush().unwrap();
        assert!(d.i2c.writes.is_empty());
    }

    #[test]
    fn only_the_changed_columns_of_changed_pages_are_sent() {
        let mut d = driver();
        point(&mut d, 40, 20, BinaryColor::On);
        point(&mut d, 45, 17, BinaryColor::On);
        point(&mut d, 100, 60, BinaryColor::On);
        d.flush().unwrap();
        // Page 2, columns 40..=45 (RAM 42 = 0x2A), then page 7, column 100 (RAM 102 = 0x66).
        assert_eq!(
            writes(&d),
            [
                vec![0x00, 0xB2, 0x0A, 0x12],
                vec![0x40, 0x10, 0, 0, 0, 0, 0x02],
                vec![0x00, 0xB7, 0x06, 0x16],
                vec![0x40, 0x10],
            ]
        );
        assert_eq!(d.buffer()[2 * 128 + 40], 0x10);
    }

    #[test]
    fn clear_sends_the_whole_frame() {
        let mut d = driver();
        d.clear(BinaryColor::Off).unwrap();
        d.flush().unwrap();
        let w = writes(&d);
        assert_eq!(w.len(), 16);
        for page in 0..8u8 {
            assert_eq!(w[2 * usize::from(page)], [0x00, 0xB0 + page, 0x02, 0x10]);
            assert_eq!(w[2 * usize::from(page) + 1].len(), 1 + 128);
        }
    }

    #[test]
    fn off_screen_pixels_are_ignored() {
        let mut d = driver();
        for (x, y) in [(-1, 0), (0, -1), (128, 0), (0, 64), (i32::MAX, i32::MIN)] {
            point(&mut d, x, y, BinaryColor::On);
        }
        d.flush().unwrap();
        assert!(d.i2c.writes.is_empty());
        assert!(d.buffer().iter().all(|&b| b == 0));
    }

    #[test]
    fn a_failed_flush_keeps_the_page_dirty() {
        let mut d = driver();
        point(&mut d, 3, 3, BinaryColor::On);
        d.i2c.fail = true;
        assert_eq!(d.flush(), Err(Sh1106Error::I2c(ErrorKind::Other)));
        d.i2c.fail = false;
        d.flush().unwrap();
        assert_eq!(writes(&d), [vec![0x00, 0xB0, 0x05, 0x10], vec![0x40, 0x08]]);
    }

    #[test]
    fn init_after_drawing_resends_what_is_lit() {
        let mut d = Sh1106::new(Bus::default(), 0x3D);
        point(&mut d, 7, 8, BinaryColor::On);
        point(&mut d, 9, 8, BinaryColor::On);
        d.init().unwrap();
        d.i2c.writes.clear();
        d.flush().unwrap();
        assert_eq!(
            writes(&d),
            [vec![0x00, 0xB1, 0x09, 0x10], vec![0x40, 0x01, 0x00, 0x01]]
        );
        assert!(d.i2c.writes.iter().all(|(address, _)| *address == 0x3D));
    }

    #[test]
    fn contrast_and_display_on_off() {
        let mut d = driver();
        d.set_contrast(0x10).unwrap();
        d.set_display_on(false).unwrap();
        d.set_display_on(true).unwrap();
        assert_eq!(
            writes(&d),
            [vec![0x00, 0x81, 0x10], vec![0x00, 0xAE], vec![0x00, 0xAF]]
        );
        let bus = d.release();
        assert_eq!(bus.writes.len(), 3);
    }

    #[test]
    fn error_is_displayable() {
        use core::fmt::Write;
        let mut s: heapless::String<64> = heapless::String::new();
        write!(s, "{}", Sh1106Error::I2c(ErrorKind::Other)).unwrap();
        assert_eq!(s.as_str(), "SH1106 I2C transfer failed: Other");
    }
}
