//! The monospace font (embedded-graphics' `FONT_6X10`) of the header, state and
//! counters lines (and of the message line without `cjk`): fitting by cells, and
//! redrawing only the cells that changed.

use core::fmt::{self, Write as _};

use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::mono_font::{MonoTextStyle, MonoTextStyleBuilder};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, Drawable, Point, Primitive, Size};
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};
use heapless::String;

use crate::display::fit::{Fitter, UNDRAWABLE};
use crate::display::layout::WIDTH;

/// Width of one character cell.
pub(crate) const CELL_WIDTH: u32 = FONT_6X10.character_size.width + FONT_6X10.character_spacing;
/// Height of one character cell.
pub(crate) const CELL_HEIGHT: u32 = FONT_6X10.character_size.height;
/// Character cells across the panel.
pub(crate) const CELLS: usize = (WIDTH / CELL_WIDTH) as usize;

/// How a character shows in the monospace font: every one takes a cell, and a
/// control character, which `Text` would act on, shows as `?`.
pub(crate) fn mono_glyph(c: char) -> (char, u32) {
    let shown = if c.is_control() { UNDRAWABLE } else { c };
    (shown, CELL_WIDTH)
}

/// Format a monospace ASCII line and fit it to the screen.
pub(crate) fn fit_ascii(args: fmt::Arguments<'_>) -> String<CELLS> {
    let mut fitter = Fitter::<CELLS>::new(mono_glyph);
    // Cannot fail: the fitter accepts any amount of text.
    let _ = fitter.write_fmt(args);
    fitter.finish()
}

/// The monospace text style: with a background, so a glyph overwrites its cell.
fn mono_style() -> MonoTextStyle<'static, BinaryColor> {
    MonoTextStyleBuilder::new()
        .font(&FONT_6X10)
        .text_color(BinaryColor::On)
        .background_color(BinaryColor::Off)
        .build()
}

/// Redraw the cells of the line at `y` that differ between the text on the glass
/// and the new text: the new glyphs, then blank cells where the old text was longer.
pub(crate) fn draw_mono_line<D>(
    display: &mut D,
    y: i32,
    old: &str,
    new: &str,
) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let Some((first, last)) = changed_cells(old, new) else {
        return Ok(());
    };
    let new_cells = new.chars().count();
    if first < new_cells {
        let glyphs = cells(new, first, last.min(new_cells - 1));
        let origin = Point::new(cell_x(first), y);
        Text::with_baseline(glyphs, origin, mono_style(), Baseline::Top).draw(display)?;
    }
    if last >= new_cells {
        let from = first.max(new_cells);
        let blank = Size::new(cells_width(last + 1 - from), CELL_HEIGHT);
        Rectangle::new(Point::new(cell_x(from), y), blank)
            .into_styled(PrimitiveStyle::with_fill(BinaryColor::Off))
            .draw(display)?;
    }
    Ok(())
}

/// The first and last cell whose character differs, a missing character included.
fn changed_cells(old: &str, new: &str) -> Option<(usize, usize)> {
    let (mut old, mut new) = (old.chars(), new.chars());
    let mut changed = None;
    for cell in 0.. {
        let (was, is) = (old.next(), new.next());
        if was.is_none() && is.is_none() {
            break;
        }
        if was != is {
            changed = Some((changed.map_or(cell, |(first, _)| first), cell));
        }
    }
    changed
}

/// The characters of cells `first..=last` of `text`.
fn cells(text: &str, first: usize, last: usize) -> &str {
    let offset = |cell| text.char_indices().nth(cell).map_or(text.len(), |(i, _)| i);
    text.get(offset(first)..offset(last + 1)).unwrap_or("")
}

/// Width in pixels of `count` cells.
fn cells_width(count: usize) -> u32 {
    u32::try_from(count).map_or(u32::MAX, |count| count.saturating_mul(CELL_WIDTH))
}

/// Left pixel column of a cell.
fn cell_x(cell: usize) -> i32 {
    i32::try_from(cells_width(cell)).unwrap_or(i32::MAX)
}
