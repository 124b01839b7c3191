//! A recording I2C bus for the display drivers' tests.

use core::cell::RefCell;

use embedded_hal::i2c::{ErrorType, I2c, Operation, SevenBitAddress};
use nal_echo::stack::mock::MockNetwork;

/// The OLEDs' I2C address on the Handbit (and the ssd1306 default).
pub const OLED_ADDRESS: u8 = 0x3C;

/// What crossed the bus: every write, bytes on the wire since the last
/// `start_counting`, and the network's call counter at the first write since then.
#[derive(Default)]
pub struct BusLog {
    pub writes: Vec<Vec<u8>>,
    pub bytes: usize,
    pub first_write_at: Option<u64>,
}

impl BusLog {
    pub fn start_counting(&mut self) {
        self.bytes = 0;
        self.first_write_at = None;
    }
}

/// An I2C bus that records into a `BusLog`, reading the mock network's call counter
/// so a test can tell whether the echo went out before the first display byte.
pub struct RecordingI2c<'a> {
    pub net: &'a MockNetwork,
    pub log: &'a RefCell<BusLog>,
}

impl ErrorType for RecordingI2c<'_> {
    type Error = core::convert::Infallible;
}

impl I2c<SevenBitAddress> for RecordingI2c<'_> {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        assert_eq!(address, OLED_ADDRESS);
        let mut log = self.log.borrow_mut();
        for op in operations {
            if let Operation::Write(bytes) = op {
                // +1: the address byte goes over the wire too.
                log.bytes += bytes.len() + 1;
                log.first_write_at.get_or_insert(self.net.calls());
                log.writes.push(bytes.to_vec());
            }
        }
        Ok(())
    }
}
