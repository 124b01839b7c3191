//! The message line in the monospace font, like the other lines (without `cjk`).

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::DrawTarget;
use heapless::String;

use crate::display::fit;
use crate::display::layout::MESSAGE_Y;
use crate::display::mono::{draw_mono_line, mono_glyph, CELLS};

/// Room for a full line of the longest UTF-8 characters (4 bytes).
pub(crate) const BYTES: usize = CELLS * 4;
/// The most characters the line shows.
pub(crate) const NEWEST: usize = CELLS;

/// Fits the message to the line.
pub(crate) fn fit(chars: impl Iterator<Item = char>) -> String<BYTES> {
    fit::fit::<NEWEST, BYTES>(chars, mono_glyph)
}

/// Redraws the cells of the message line that changed.
pub(crate) fn draw<D>(display: &mut D, old: &str, new: &str) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    draw_mono_line(display, MESSAGE_Y, old, new)
}
