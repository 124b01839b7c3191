//! [`Flush`]: push what was drawn onto the glass.

use embedded_graphics::draw_target::DrawTarget;
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{OriginDimensions, Pixel, Size};

/// A monochrome draw target whose drawing becomes visible only after `flush`.
///
/// Buffered drivers (ssd1306's `BufferedGraphicsMode`) draw into RAM and send the
/// changed area on `flush`; direct targets draw at once: wrap them in [`NoFlush`].
pub trait Flush: DrawTarget<Color = BinaryColor> {
    /// Send everything drawn since the last flush to the panel.
    fn flush(&mut self) -> Result<(), Self::Error>;
}

/// Adapter for a draw target that needs no flush (it draws directly).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NoFlush<D>(pub D);

impl<D> NoFlush<D> {
    /// Give the wrapped draw target back.
    pub fn release(self) -> D {
        self.0
    }
}

impl<D: OriginDimensions> OriginDimensions for NoFlush<D> {
    fn size(&self) -> Size {
        self.0.size()
    }
}

impl<D> DrawTarget for NoFlush<D>
where
    D: DrawTarget<Color = BinaryColor> + OriginDimensions,
{
    type Color = BinaryColor;
    type Error = D::Error;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<BinaryColor>>,
    {
        self.0.draw_iter(pixels)
    }
}

impl<D> Flush for NoFlush<D>
where
    D: DrawTarget<Color = BinaryColor> + OriginDimensions,
{
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(feature = "ssd1306")]
impl<DI, SIZE> Flush for ssd1306::Ssd1306<DI, SIZE, ssd1306::mode::BufferedGraphicsMode<SIZE>>
where
    DI: ssd1306::prelude::WriteOnlyDataCommand,
    SIZE: ssd1306::size::DisplaySize,
{
    fn flush(&mut self) -> Result<(), Self::Error> {
        ssd1306::Ssd1306::flush(self)
    }
}
