//! [`FrameDisplay`]: a 128x64 monochrome screen whose frames go out over serial.

use core::convert::Infallible;

use embedded_graphics_core::draw_target::DrawTarget;
use embedded_graphics_core::geometry::{OriginDimensions, Size};
use embedded_graphics_core::pixelcolor::BinaryColor;
use embedded_graphics_core::Pixel;
use nal_echo::Flush;

use crate::uart::Uart;

/// Width in pixels.
pub const WIDTH: usize = 128;
/// Height in pixels.
pub const HEIGHT: usize = 64;
const ROW_BYTES: usize = WIDTH / 8;

/// A 1-bit 128x64 frame buffer, like a buffered SSD1306. Drawing changes the buffer;
/// [`flush`](Flush::flush) writes it to the serial port in the format described in
/// the [crate docs](crate#serial-frame-format): the whole frame the first time, then
/// only the band of rows that changed (as the SSD1306 and SH1106 drivers send only
/// what changed), and nothing if no pixel changed.
pub struct FrameDisplay {
    pixels: [[u8; ROW_BYTES]; HEIGHT],
    /// First and last row changed since the last flush.
    dirty: Option<(usize, usize)>,
    frames: u32,
}

impl FrameDisplay {
    /// A dark screen.
    pub const fn new() -> Self {
        Self {
            pixels: [[0; ROW_BYTES]; HEIGHT],
            dirty: None,
            frames: 0,
        }
    }

    /// Frames written to serial so far.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Whether the pixel at (`x`, `y`) is lit (off outside the screen).
    pub fn lit(&self, x: usize, y: usize) -> bool {
        x < WIDTH && y < HEIGHT && self.pixels[y][x / 8] & (0x80 >> (x % 8)) != 0
    }

    /// Writes rows `first..=last`: as a `FRAME` the first time, else as `ROWS`.
    fn write_rows(&mut self, first: usize, last: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.frames = self.frames.wrapping_add(1);
        let (first, last) = if self.frames == 1 {
            crate::println!("FRAME {WIDTH}x{HEIGHT} {}", self.frames);
            (0, HEIGHT - 1)
        } else {
            crate::println!("ROWS {WIDTH}x{HEIGHT} {} {first}", self.frames);
            (first, last)
        };
        let mut line = [0u8; 2 * ROW_BYTES + 1];
        line[2 * ROW_BYTES] = b'\n';
        for row in self.pixels.iter().take(last + 1).skip(first) {
            for (i, byte) in row.iter().enumerate() {
                line[2 * i] = HEX[usize::from(byte >> 4)];
                line[2 * i + 1] = HEX[usize::from(byte & 0xf)];
            }
            Uart.write_bytes(&line);
        }
        Uart.write_bytes(b"END\n");
    }
}

impl Default for FrameDisplay {
    fn default() -> Self {
        Self::new()
    }
}

impl OriginDimensions for FrameDisplay {
    fn size(&self) -> Size {
        Size::new(WIDTH as u32, HEIGHT as u32)
    }
}

impl DrawTarget for FrameDisplay {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<BinaryColor>>,
    {
        for Pixel(point, color) in pixels {
            let (Ok(x), Ok(y)) = (usize::try_from(point.x), usize::try_from(point.y)) else {
                continue;
            };
            if x >= WIDTH || y >= HEIGHT {
                continue;
            }
            let byte = &mut self.pixels[y][x / 8];
            let mask = 0x80 >> (x % 8);
            let new = if color.is_on() {
                *byte | mask
            } else {
                *byte & !mask
            };
            if new != *byte {
                *byte = new;
                self.dirty = Some(match self.dirty {
                    Some((first, last)) => (first.min(y), last.max(y)),
                    None => (y, y),
                });
            }
        }
        Ok(())
    }
}

impl Flush for FrameDisplay {
    fn flush(&mut self) -> Result<(), Infallible> {
        if let Some((first, last)) = self.dirty.take() {
            self.write_rows(first, last);
        }
        Ok(())
    }
}
