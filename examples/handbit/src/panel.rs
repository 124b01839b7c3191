//! The OLED behind the status screen: an SH1106 (the Handbit's), or with the
//! `ssd1306` feature the `ssd1306` crate's driver for modules that carry an
//! SSD1306-type controller. Both are initialised through [`Panel`], so the main
//! loop retries a failed init the same way ([`nal_echo::display::PanelInit`]).

use core::fmt;

use embedded_graphics::draw_target::DrawTarget;
use embedded_hal::i2c::I2c;
use nal_echo::Flush;

/// A display the main loop can (re)initialise, whose drawing errors can be logged.
pub trait Panel: Flush + DrawTarget<Error: fmt::Debug> {
    /// What a failed init reports.
    type InitError: fmt::Debug;

    /// Configures the controller, clears its RAM and switches the display on.
    fn init_panel(&mut self) -> Result<(), Self::InitError>;
}

#[cfg(not(feature = "ssd1306"))]
mod sh1106 {
    use super::{I2c, Panel};
    use nal_echo::display::sh1106::{Sh1106, Sh1106Error};

    impl<I2C: I2c> Panel for Sh1106<I2C> {
        type InitError = Sh1106Error<I2C::Error>;

        fn init_panel(&mut self) -> Result<(), Self::InitError> {
            self.init()
        }
    }
}

#[cfg(not(feature = "ssd1306"))]
/// The Handbit's SH1106 at `address`, writing from RAM column `column_offset`
/// (2 on the Handbit's module; 0 for glass that starts at the first column).
pub fn oled<I2C: I2c>(i2c: I2C, address: u8, column_offset: u8) -> impl Panel {
    nal_echo::display::sh1106::Sh1106::new(i2c, address).with_column_offset(column_offset)
}

#[cfg(feature = "ssd1306")]
mod ssd1306_panel {
    use super::Panel;
    use display_interface::DisplayError;
    use ssd1306::Ssd1306;
    use ssd1306::mode::{BufferedGraphicsMode, DisplayConfig};
    use ssd1306::prelude::WriteOnlyDataCommand;
    use ssd1306::size::DisplaySize128x64;

    impl<DI: WriteOnlyDataCommand> Panel
        for Ssd1306<DI, DisplaySize128x64, BufferedGraphicsMode<DisplaySize128x64>>
    {
        type InitError = DisplayError;

        fn init_panel(&mut self) -> Result<(), Self::InitError> {
            self.init()
        }
    }
}

#[cfg(feature = "ssd1306")]
/// An SSD1306-type module at `address`, through the `ssd1306` crate (its column
/// offset is the controller's own: 0).
pub fn oled<I2C: I2c>(i2c: I2C, address: u8, _column_offset: u8) -> impl Panel {
    use ssd1306::prelude::*;
    use ssd1306::{I2CDisplayInterface, Ssd1306};
    let interface = I2CDisplayInterface::new_custom_address(i2c, address);
    Ssd1306::new(interface, DisplaySize128x64, DisplayRotation::Rotate0)
        .into_buffered_graphics_mode()
}
