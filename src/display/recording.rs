//! [`RecordingDisplay`]: a 128x64 monochrome frame buffer that records what it is
//! asked to do.

use core::cell::Cell;
use core::fmt;

use embedded_graphics::draw_target::DrawTarget;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{OriginDimensions, Pixel, Point, PointsIter, Size};
use embedded_graphics::primitives::Rectangle;

use crate::display::flush::Flush;
use crate::display::layout::{HEIGHT, WIDTH};

const BYTES: usize = (WIDTH * HEIGHT / 8) as usize;

/// The injected failure of a [`RecordingDisplay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DisplayFault;

impl fmt::Display for DisplayFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("injected display fault")
    }
}

impl core::error::Error for DisplayFault {}

/// A 128x64 [`Flush`] target like a buffered OLED driver: drawing goes into a working
/// buffer, and only `flush` copies it onto the "glass" (what a person would see).
///
/// Pixels outside 128x64 are ignored. `&RecordingDisplay` is a draw target too, so
/// the code under test can own `&display` while the test inspects it.
pub struct RecordingDisplay {
    work: [Cell<u8>; BYTES],
    glass: [Cell<u8>; BYTES],
    flushes: Cell<u32>,
    draw_calls: Cell<u32>,
    pixels_drawn: Cell<u64>,
    failing_draws: Cell<u32>,
    failing_flushes: Cell<u32>,
}

impl Default for RecordingDisplay {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RecordingDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingDisplay")
            .field("flushes", &self.flushes())
            .field("draw_calls", &self.draw_calls())
            .field("pixels_drawn", &self.pixels_drawn())
            .finish_non_exhaustive()
    }
}

/// Byte index and bit mask of an on-screen point.
fn locate(p: Point) -> Option<(usize, u8)> {
    let x = u32::try_from(p.x).ok().filter(|&x| x < WIDTH)?;
    let y = u32::try_from(p.y).ok().filter(|&y| y < HEIGHT)?;
    let bit = y * WIDTH + x;
    Some(((bit / 8) as usize, 1 << (bit % 8)))
}

fn lit(buf: &[Cell<u8>; BYTES], p: Point) -> bool {
    locate(p).is_some_and(|(i, mask)| buf[i].get() & mask != 0)
}

/// The part of `area` on the screen: off-screen pixels are always off.
fn on_screen(area: Rectangle) -> Rectangle {
    area.intersection(&Rectangle::new(Point::zero(), Size::new(WIDTH, HEIGHT)))
}

/// Takes one from a fault counter; true if a fault was due.
fn take(counter: &Cell<u32>) -> bool {
    let due = counter.get();
    counter.set(due.saturating_sub(1));
    due > 0
}

impl RecordingDisplay {
    /// A blank display with blank glass and zero counters.
    pub const fn new() -> Self {
        Self {
            work: [const { Cell::new(0) }; BYTES],
            glass: [const { Cell::new(0) }; BYTES],
            flushes: Cell::new(0),
            draw_calls: Cell::new(0),
            pixels_drawn: Cell::new(0),
            failing_draws: Cell::new(0),
            failing_flushes: Cell::new(0),
        }
    }

    /// Successful flushes so far.
    pub fn flushes(&self) -> u32 {
        self.flushes.get()
    }

    /// Successful draw calls (`draw_iter`, and the fills and clears built on it).
    pub fn draw_calls(&self) -> u32 {
        self.draw_calls.get()
    }

    /// On-screen pixels written by successful draw calls.
    pub fn pixels_drawn(&self) -> u64 {
        self.pixels_drawn.get()
    }

    /// Sets the three counters back to zero.
    pub fn clear_counters(&self) {
        self.flushes.set(0);
        self.draw_calls.set(0);
        self.pixels_drawn.set(0);
    }

    /// Whether `(x, y)` is on in the working buffer (drawn, maybe not yet flushed).
    pub fn pixel(&self, x: i32, y: i32) -> bool {
        lit(&self.work, Point::new(x, y))
    }

    /// Whether `(x, y)` is on on the glass (as of the last flush).
    pub fn glass(&self, x: i32, y: i32) -> bool {
        lit(&self.glass, Point::new(x, y))
    }

    /// Whether the glass of `self` and `other` look the same within `area`.
    pub fn glass_region_eq(&self, other: &RecordingDisplay, area: Rectangle) -> bool {
        on_screen(area)
            .points()
            .all(|p| lit(&self.glass, p) == lit(&other.glass, p))
    }

    /// How many pixels are on on the glass within `area`.
    pub fn glass_lit_count(&self, area: Rectangle) -> usize {
        on_screen(area)
            .points()
            .filter(|&p| lit(&self.glass, p))
            .count()
    }

    /// The next `count` draw calls fail with [`DisplayFault`] and draw nothing.
    pub fn fail_next_draw(&self, count: u32) {
        self.failing_draws.set(count);
    }

    /// The next `count` flushes fail with [`DisplayFault`] and leave the glass as is.
    pub fn fail_next_flush(&self, count: u32) {
        self.failing_flushes.set(count);
    }

    fn draw_pixels(
        &self,
        pixels: impl IntoIterator<Item = Pixel<BinaryColor>>,
    ) -> Result<(), DisplayFault> {
        if take(&self.failing_draws) {
            return Err(DisplayFault);
        }
        let mut drawn = 0;
        for (i, mask, on) in pixels
            .into_iter()
            .filter_map(|Pixel(p, c)| locate(p).map(|(i, m)| (i, m, c.is_on())))
        {
            let byte = &self.work[i];
            byte.set(if on {
                byte.get() | mask
            } else {
                byte.get() & !mask
            });
            drawn += 1;
        }
        self.draw_calls.set(self.draw_calls.get().wrapping_add(1));
        self.pixels_drawn
            .set(self.pixels_drawn.get().wrapping_add(drawn));
        Ok(())
    }

    fn flush_glass(&self) -> Result<(), DisplayFault> {
        if take(&self.failing_flushes) {
            return Err(DisplayFault);
        }
        self.work
            .iter()
            .zip(&self.glass)
            .for_each(|(w, g)| g.set(w.get()));
        self.flushes.set(self.flushes.get().wrapping_add(1));
        Ok(())
    }
}

impl OriginDimensions for RecordingDisplay {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl OriginDimensions for &RecordingDisplay {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl DrawTarget for RecordingDisplay {
    type Color = BinaryColor;
    type Error = DisplayFault;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), DisplayFault>
    where
        I: IntoIterator<Item = Pixel<BinaryColor>>,
    {
        self.draw_pixels(pixels)
    }
}

impl DrawTarget for &RecordingDisplay {
    type Color = BinaryColor;
    type Error = DisplayFault;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), DisplayFault>
    where
        I: IntoIterator<Item = Pixel<BinaryColor>>,
    {
        self.draw_pixels(pixels)
    }
}

impl Flush for RecordingDisplay {
    fn flush(&mut self) -> Result<(), DisplayFault> {
        self.flush_glass()
    }
}

impl Flush for &RecordingDisplay {
    fn flush(&mut self) -> Result<(), DisplayFault> {
        self.flush_glass()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::prelude::*;
    use embedded_graphics::primitives::PrimitiveStyle;

    fn square(at: Point) -> Rectangle {
        Rectangle::new(at, Size::new(4, 4))
    }

    fn fill(
        d: &mut impl DrawTarget<Color = BinaryColor, Error = DisplayFault>,
        r: Rectangle,
    ) -> Result<(), DisplayFault> {
        r.into_styled(PrimitiveStyle::with_fill(BinaryColor::On))
            .draw(d)
    }

    #[test]
    fn glass_changes_only_on_flush() {
        let mut d = RecordingDisplay::new();
        fill(&mut d, square(Point::new(10, 20))).unwrap();
        assert!(d.pixel(11, 21));
        assert!(!d.glass(11, 21));
        d.flush().unwrap();
        assert!(d.glass(11, 21));
        d.clear(BinaryColor::Off).unwrap();
        assert!(!d.pixel(11, 21));
        assert!(d.glass(11, 21), "cleared but not flushed");
        assert_eq!(d.glass_lit_count(square(Point::new(10, 20))), 16);
    }

    #[test]
    fn off_screen_pixels_are_ignored_and_not_counted() {
        let mut d = RecordingDisplay::new();
        fill(&mut d, Rectangle::new(Point::new(126, 62), Size::new(4, 4))).unwrap();
        fill(&mut d, square(Point::new(-10, -10))).unwrap();
        assert_eq!(d.pixels_drawn(), 4);
        assert_eq!(d.draw_calls(), 2);
        assert!(d.pixel(127, 63));
        assert!(!d.pixel(128, 63));
    }

    #[test]
    fn counters_count_and_clear() {
        let mut d = RecordingDisplay::new();
        fill(&mut d, square(Point::zero())).unwrap();
        d.flush().unwrap();
        d.flush().unwrap();
        assert_eq!((d.draw_calls(), d.pixels_drawn(), d.flushes()), (1, 16, 2));
        d.clear_counters();
        assert_eq!((d.draw_calls(), d.pixels_drawn(), d.flushes()), (0, 0, 0));
    }

    #[test]
    fn injected_faults_fail_then_recover() {
        let mut d = RecordingDisplay::new();
        d.fail_next_draw(1);
        assert_eq!(fill(&mut d, square(Point::zero())), Err(DisplayFault));
        assert!(!d.pixel(0, 0));
        fill(&mut d, square(Point::zero())).unwrap();
        d.fail_next_flush(2);
        assert_eq!(d.flush(), Err(DisplayFault));
        assert_eq!(d.flush(), Err(DisplayFault));
        assert!(!d.glass(0, 0));
        assert_eq!(d.flushes(), 0);
        d.flush().unwrap();
        assert!(d.glass(0, 0));
    }

    #[test]
    fn shared_reference_draws_and_regions_compare() {
        let (a, b) = (RecordingDisplay::new(), RecordingDisplay::new());
        let mut target = &a;
        fill(&mut target, square(Point::new(100, 0))).unwrap();
        Flush::flush(&mut target).unwrap();
        let left = Rectangle::new(Point::zero(), Size::new(64, 64));
        assert!(a.glass_region_eq(&b, left));
        assert!(!a.glass_region_eq(&b, square(Point::new(100, 0))));
        assert_eq!(a.flushes(), 1);
    }

    #[test]
    fn fault_error_is_displayable() {
        use core::fmt::Write;
        let mut s: heapless::String<32> = heapless::String::new();
        write!(s, "{DisplayFault}").unwrap();
        assert_eq!(s.as_str(), "injected display fault");
    }
}
