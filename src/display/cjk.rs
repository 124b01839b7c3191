//! The message line in u8g2's `wqy12_t_gb2312b`, so that Chinese shows.
//!
//! `gb2312b` is the smallest WenQuanYi 12 px GB2312 set with what users type:
//! the 3755 common hanzi (掌控板 among them) and the full-width punctuation
//! `，！？：；（）`. `gb2312a` has the same hanzi but lacks that punctuation (9.5 KB
//! less flash); `chinese1..3` lack 掌 and 控; the full `gb2312` adds only rare
//! hanzi, for 84 KB more.

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, Point, Primitive, Size};
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::Drawable;
use heapless::String;
use u8g2_fonts::fonts::u8g2_font_wqy12_t_gb2312b;
use u8g2_fonts::types::{FontColor, VerticalPosition};
use u8g2_fonts::FontRenderer;

use crate::display::fit::{self, UNDRAWABLE};
use crate::display::layout::{LINE_HEIGHT, MESSAGE_Y, WIDTH};

/// Unknown characters are replaced before drawing; ignoring them in the renderer
/// too means drawing can only fail on the display.
const RENDERER: FontRenderer =
    FontRenderer::new::<u8g2_font_wqy12_t_gb2312b>().with_ignore_unknown_chars(true);

/// Where any glyph may draw, relative to a text drawn at (0, 0) with
/// `VerticalPosition::Top`: some glyphs reach above the ascent.
const GLYPH_BOX: Rectangle = RENDERER.get_font_bounding_box(VerticalPosition::Top);

/// Text origin that puts the highest glyph pixel on the line's top row.
const ORIGIN_Y: i32 = MESSAGE_Y - GLYPH_BOX.top_left.y;

// The lowest glyph pixel must stay on the panel, within the line's two pages.
const _: () = assert!(GLYPH_BOX.size.height <= LINE_HEIGHT);

/// The narrowest advance of the font (`i`, `l`, `:`), checked by a test.
const MIN_ADVANCE: u32 = 2;

/// The most characters that fit on the line.
pub(crate) const NEWEST: usize = (WIDTH / MIN_ADVANCE) as usize;

/// Room for the line in UTF-8: at most 2 bytes per 3 pixels in this font (`ì`),
/// so 86 bytes, plus the marker; checked by a test.
pub(crate) const BYTES: usize = 96;

/// Fits the message to the line.
pub(crate) fn fit(chars: impl Iterator<Item = char>) -> String<BYTES> {
    fit::fit::<NEWEST, BYTES>(chars, glyph)
}

/// How `c` shows: itself with its advance if the font has it, else `?`.
fn glyph(c: char) -> (char, u32) {
    match advance(c) {
        Some(width) if !c.is_control() => (c, width),
        _ => (UNDRAWABLE, advance(UNDRAWABLE).unwrap_or(0)),
    }
}

/// The advance width of `c`, if the font has a glyph for it.
fn advance(c: char) -> Option<u32> {
    let dimensions = RENDERER
        .get_rendered_dimensions(c, Point::zero(), VerticalPosition::Top)
        .ok()?;
    u32::try_from(dimensions.advance.x)
        .ok()
        .filter(|&width| width > 0)
}

/// Clear the line as far as the old or the new text reaches, then draw the new
/// text: this font has no background colour, so glyphs cannot overwrite cells.
pub(crate) fn draw<D>(display: &mut D, old: &str, new: &str) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let width = extent(old).max(extent(new)).min(WIDTH);
    if width == 0 {
        return Ok(());
    }
    Rectangle::new(
        Point::new(0, MESSAGE_Y),
        Size::new(width, GLYPH_BOX.size.height),
    )
    .into_styled(PrimitiveStyle::with_fill(BinaryColor::Off))
    .draw(display)?;
    let color = FontColor::Transparent(BinaryColor::On);
    let origin = Point::new(0, ORIGIN_Y);
    match RENDERER.render(new, origin, VerticalPosition::Top, color, display) {
        Err(u8g2_fonts::Error::DisplayError(error)) => Err(error),
        // Transparent text needs no background support, and unknown glyphs are
        // ignored: nothing else can fail.
        Ok(_) | Err(_) => Ok(()),
    }
}

/// How far right `text` draws: its advance, or its ink if that reaches further.
fn extent(text: &str) -> u32 {
    let Ok(dimensions) =
        RENDERER.get_rendered_dimensions(text, Point::zero(), VerticalPosition::Top)
    else {
        return WIDTH;
    };
    let ink = dimensions
        .bounding_box
        .and_then(|ink| ink.bottom_right())
        .map_or(0, |corner| corner.x + 1);
    u32::try_from(dimensions.advance.x.max(ink)).unwrap_or(0)
}

/// The message as u8g2 draws it on a blank frame, to compare drawings with.
#[cfg(test)]
pub(crate) fn draw_reference<D>(display: &mut D, text: &str)
where
    D: DrawTarget<Color = BinaryColor>,
    D::Error: core::fmt::Debug,
{
    let color = FontColor::Transparent(BinaryColor::On);
    let origin = Point::new(0, ORIGIN_Y);
    RENDERER
        .render(text, origin, VerticalPosition::Top, color, display)
        .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::fit::MARKER;

    #[test]
    fn font_has_the_characters_users_type() {
        let typed = "掌控板你好中文世界，。！？：；（）“”、《》Hello Handbit 0123456789:.<?";
        for c in typed.chars() {
            assert!(advance(c).is_some(), "{c} missing");
        }
        assert_eq!(advance('掌'), Some(12));
    }

    #[test]
    fn line_buffers_hold_a_full_line_of_any_glyphs() {
        let mut widest_bytes_per_px = 0.0f32;
        for c in (' '..='\u{ffff}').filter(|c| !c.is_control()) {
            if let Some(width) = advance(c) {
                assert!(width >= MIN_ADVANCE, "{c:?} is {width} px");
                widest_bytes_per_px = widest_bytes_per_px.max(c.len_utf8() as f32 / width as f32);
            }
        }
        let most_bytes = (WIDTH as f32 * widest_bytes_per_px) as usize + MARKER.len_utf8();
        assert!(most_bytes <= BYTES, "{most_bytes} bytes");
    }
}
