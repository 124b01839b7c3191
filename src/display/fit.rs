//! Fitting a line to the panel's width: the newest characters are kept, and a
//! marker shows that older ones were dropped.

use core::fmt;

use heapless::{HistoryBuf, String};

use crate::display::layout::WIDTH;

/// Marks a line whose beginning was dropped to fit.
pub(crate) const MARKER: char = '<';
/// Shown instead of characters that cannot be drawn.
pub(crate) const UNDRAWABLE: char = '?';

/// Fits `chars` to a line of at most `N` bytes, measuring each character with
/// `glyph` (what it is drawn as, and its advance width); `R` is at least the most
/// characters that fit on a line.
pub(crate) fn fit<const R: usize, const N: usize>(
    chars: impl Iterator<Item = char>,
    glyph: fn(char) -> (char, u32),
) -> String<N> {
    let mut fitter = Fitter::<R>::new(glyph);
    chars.for_each(|c| fitter.push(c));
    fitter.finish()
}

/// Keeps the newest characters of a line being fitted, and whether all of it fits.
pub(crate) struct Fitter<const R: usize> {
    /// The last characters seen; `R` is at least the most that fit on a line.
    newest: HistoryBuf<char, R>,
    /// Width of everything seen so far, counted only until it overflows.
    width: u32,
    overflow: bool,
    /// What a character is drawn as, and its advance width.
    glyph: fn(char) -> (char, u32),
}

impl<const R: usize> Fitter<R> {
    pub(crate) const fn new(glyph: fn(char) -> (char, u32)) -> Self {
        Self {
            newest: HistoryBuf::new(),
            width: 0,
            overflow: false,
            glyph,
        }
    }

    pub(crate) fn push(&mut self, c: char) {
        if !self.overflow {
            self.width += (self.glyph)(c).1;
            self.overflow = self.width > WIDTH;
        }
        // The oldest character is dropped to make room: the line no longer fits.
        self.overflow |= self.newest.is_full();
        self.newest.write(c);
    }

    /// The fitted line: everything if it fits, else the marker and the newest
    /// characters that fit after it (in width and in `N` bytes).
    pub(crate) fn finish<const N: usize>(self) -> String<N> {
        let mut line = String::new();
        let kept = if self.overflow {
            let kept = self.newest_fitting(N);
            let _ = line.push(MARKER);
            kept
        } else {
            self.newest.len()
        };
        for &c in self.newest.oldest_ordered().skip(self.newest.len() - kept) {
            if line.push((self.glyph)(c).0).is_err() {
                break;
            }
        }
        line
    }

    /// How many of the newest characters fit after the marker.
    fn newest_fitting(&self, bytes: usize) -> usize {
        let (marker, marker_width) = (self.glyph)(MARKER);
        let mut room = WIDTH.saturating_sub(marker_width);
        let mut bytes = bytes.saturating_sub(marker.len_utf8());
        let mut kept = 0;
        for &c in self.newest.oldest_ordered().rev() {
            let (shown, width) = (self.glyph)(c);
            if width > room || shown.len_utf8() > bytes {
                break;
            }
            room -= width;
            bytes -= shown.len_utf8();
            kept += 1;
        }
        kept
    }
}

impl<const R: usize> fmt::Write for Fitter<R> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.chars().for_each(|c| self.push(c));
        Ok(())
    }
}
