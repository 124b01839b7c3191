//! FPIOA: which function each of the 48 pads carries. Each pad's register holds the
//! function number (`ch_sel`) and the pad's electrical settings; the values here are
//! the Kendryte SDK's defaults for the function (drive strength 0xF for outputs,
//! input enable and Schmitt trigger for inputs).

use k210_pac as pac;

/// Function numbers (the SDK's `fpioa_function_t`).
pub mod function {
    /// UARTHS (the USB serial console) receive.
    pub const UARTHS_RX: u8 = 18;
    /// UARTHS transmit.
    pub const UARTHS_TX: u8 = 19;
    /// GPIOHS pin `n` (0..=31) is function `GPIOHS0 + n`.
    pub const GPIOHS0: u8 = 24;
    /// UART2 receive.
    pub const UART2_RX: u8 = 66;
    /// UART2 transmit.
    pub const UART2_TX: u8 = 67;
}

/// The pads the MixNo wires.
pub mod pad {
    /// UARTHS RX, from the USB serial chip (the ISP port kflash uses).
    pub const CONSOLE_RX: usize = 4;
    /// UARTHS TX, to the USB serial chip.
    pub const CONSOLE_TX: usize = 5;
    /// UART2 RX, from the ESP8285's TX.
    pub const ESP_RX: usize = 17;
    /// UART2 TX, to the ESP8285's RX.
    pub const ESP_TX: usize = 18;
    /// The ESP8285's enable (chip power-down when low), a GPIOHS output.
    pub const ESP_EN: usize = 19;
}

/// Routes `function`'s output to `pad`.
pub fn output(fpioa: &pac::fpioa::RegisterBlock, pad: usize, function: u8) {
    // SAFETY (bits): every function number below 256 and drive strength 0..=15 is a
    // valid field value.
    fpioa.io[pad].write(|w| {
        unsafe { w.ch_sel().bits(function).ds().bits(0xf) }
            .oe_en()
            .set_bit()
    });
}

/// Routes `pad` to `function`'s input, with the pad's pull-up on if `pull_up`.
pub fn input(fpioa: &pac::fpioa::RegisterBlock, pad: usize, function: u8, pull_up: bool) {
    // SAFETY (bits): as in `output`.
    fpioa.io[pad].write(|w| {
        unsafe { w.ch_sel().bits(function) }
            .ie_en()
            .set_bit()
            .st()
            .set_bit()
            .pu()
            .bit(pull_up)
    });
}

/// Gives `pad` to GPIOHS pin `pin` (input and output enabled; GPIOHS's own
/// `output_en` then decides the direction).
pub fn gpiohs(fpioa: &pac::fpioa::RegisterBlock, pad: usize, pin: u8) {
    // SAFETY (bits): as in `output`.
    fpioa.io[pad].write(|w| {
        unsafe { w.ch_sel().bits(function::GPIOHS0 + pin).ds().bits(0xf) }
            .oe_en()
            .set_bit()
            .ie_en()
            .set_bit()
            .st()
            .set_bit()
    });
}
