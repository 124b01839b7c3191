//! [`HalfBlocks`]: the panel's pixels as text, for host programs and logs.

use core::fmt::{self, Write as _};

use crate::display::layout::{HEIGHT, WIDTH};

/// The 128x64 panel as 32 lines of 128 characters, two pixel rows per character:
/// `▀` top pixel lit, `▄` bottom pixel lit, `█` both, a space neither. `lit(x, y)`
/// says whether a pixel is lit (for example
/// [`RecordingDisplay::glass`](crate::display::RecordingDisplay::glass)).
///
/// ```
/// use nal_echo::display::HalfBlocks;
///
/// let diagonal = HalfBlocks::new(|x, y| x == y);
/// let text = diagonal.to_string();
/// let first = text.lines().next().unwrap();
/// assert!(first.starts_with("▀▄ "));
/// assert_eq!(text.lines().count(), 32);
/// ```
#[derive(Clone, Copy)]
pub struct HalfBlocks<F> {
    lit: F,
}

impl<F: Fn(i32, i32) -> bool> HalfBlocks<F> {
    /// The pixels that `lit` reports.
    pub const fn new(lit: F) -> Self {
        Self { lit }
    }

    /// Writes line `row` (`0..32`) without a line break.
    pub fn write_row(&self, row: u32, out: &mut impl fmt::Write) -> fmt::Result {
        let y = i32::try_from(2 * row).unwrap_or(i32::MAX);
        for x in 0..WIDTH as i32 {
            out.write_char(
                match ((self.lit)(x, y), (self.lit)(x, y.saturating_add(1))) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                },
            )?;
        }
        Ok(())
    }
}

impl<F: Fn(i32, i32) -> bool> fmt::Display for HalfBlocks<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in 0..HEIGHT / 2 {
            if row > 0 {
                f.write_char('\n')?;
            }
            self.write_row(row, f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::string::{String, ToString};

    #[test]
    fn each_character_shows_two_rows_and_each_line_the_whole_width() {
        let blocks = HalfBlocks::new(|x, y| {
            (x == 0 && y <= 1) || (x == 1 && y == 1) || (x == 127 && y == 62)
        });
        let text = blocks.to_string();
        let lines: std::vec::Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 32);
        assert!(lines.iter().all(|l| l.chars().count() == 128));
        assert!(lines[0].starts_with("█▄ "));
        assert!(lines[31].ends_with('▀'));
        let mut row = String::new();
        blocks.write_row(31, &mut row).unwrap();
        assert_eq!(row, lines[31]);
    }
}
