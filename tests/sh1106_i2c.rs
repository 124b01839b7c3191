//! The SH1106 driver over a recording I2C bus: a message update sends few bytes, only
//! after the echo has been handed to the stack, and what the bytes put into the
//! panel's RAM (replayed on a simulated SH1106, and on a simulated SSD1306-type
//! controller, which some modules sold as SH1106 carry) is exactly what was drawn.

mod common;

use core::cell::RefCell;

use common::i2c::{BusLog, RecordingI2c, OLED_ADDRESS as ADDRESS};
use common::{client_ip, server_addr, Peer, SERVER_IP};
use nal_echo::display::sh1106::Sh1106;
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::{MockNetwork, MockStack};
use nal_echo::{EchoServer, Instant, ServerConfig};

/// The controller behind the glass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Controller {
    /// 132-column RAM, the glass at columns 2..=129, its own DC-DC converter.
    Sh1106,
    /// 128-column RAM, the glass at columns 0..=127, dark unless its charge pump is
    /// switched on (`0x8D 0x14`).
    Ssd1306,
}

/// A panel as far as the driver uses it: RAM in 8 pages, page and column
/// addressing, and data bytes that auto-increment the column within the page.
struct SimPanel {
    controller: Controller,
    charge_pump: bool,
    ram: [[u8; 132]; 8],
    page: usize,
    column: usize,
    on: bool,
}

impl SimPanel {
    /// A panel fresh from power-up: RAM holds noise and the display is off.
    fn new(controller: Controller) -> Self {
        Self {
            controller,
            charge_pump: false,
            ram: [[0xA5; 132]; 8],
            page: 0,
            column: 0,
            on: false,
        }
    }

    fn replay(&mut self, writes: &[Vec<u8>]) {
        for write in writes {
            let (&control, rest) = write.split_first().expect("a control byte");
            match control {
                0x00 => self.commands(rest),
                0x40 => self.data(rest),
                other => panic!("unexpected control byte {other:#04x}"),
            }
        }
    }

    fn commands(&mut self, mut bytes: &[u8]) {
        while let Some((&cmd, rest)) = bytes.split_first() {
            bytes = rest;
            match cmd {
                0x00..=0x0F => self.column = (self.column & 0xF0) | usize::from(cmd & 0x0F),
                0x10..=0x1F => self.column = (self.column & 0x0F) | (usize::from(cmd & 0x0F) << 4),
                0xB0..=0xB7 => self.page = usize::from(cmd & 0x07),
                0xAE => self.on = false,
                0xAF => self.on = true,
                // Not an SH1106 command: ignored (the 0x14 after it is then a column
                // address, which every data write sets again).
                0x8D if self.controller == Controller::Sh1106 => {}
                0x8D => {
                    let (&arg, rest) = bytes.split_first().expect("the pump setting");
                    self.charge_pump = arg == 0x14;
                    bytes = rest;
                }
                // Two-byte commands: skip the argument.
                0x81 | 0xA8 | 0xAD | 0xD3 | 0xD5 | 0xD9 | 0xDA | 0xDB => {
                    bytes = bytes.get(1..).expect("the command's argument");
                }
                // Start line, remap, scan direction, normal/inverse, entire-on, pump.
                0x30..=0x33 | 0x40..=0x7F | 0xA0 | 0xA1 | 0xA4..=0xA7 | 0xC0 | 0xC8 => {}
                other => panic!("unexpected command {other:#04x}"),
            }
        }
    }

    fn columns(&self) -> usize {
        match self.controller {
            Controller::Sh1106 => 132,
            Controller::Ssd1306 => 128,
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        for &b in bytes {
            // Past its last column an SSD1306 in page addressing wraps to the first
            // (so the driver's clear of 132 columns is harmless); an SH1106 has 132.
            if self.controller == Controller::Ssd1306 && self.column == self.columns() {
                self.column = 0;
            }
            assert!(
                self.column < self.columns(),
                "data past the last RAM column"
            );
            self.ram[self.page][self.column] = b;
            self.column += 1;
        }
    }

    /// What a person sees at `(x, y)` of the 128 visible columns (RAM 2..=129 of an
    /// SH1106, 0..=127 of an SSD1306, which stays dark without its charge pump).
    fn visible(&self, x: usize, y: usize) -> bool {
        let (column, powered) = match self.controller {
            Controller::Sh1106 => (x + 2, true),
            Controller::Ssd1306 => (x, self.charge_pump),
        };
        self.on && powered && self.ram[y / 8][column] & (1 << (y % 8)) != 0
    }

    /// The columns nobody sees stay blank.
    fn hidden_columns_blank(&self) -> bool {
        let hidden: &[usize] = match self.controller {
            Controller::Sh1106 => &[0, 1, 130, 131],
            Controller::Ssd1306 => &[],
        };
        self.ram
            .iter()
            .all(|page| hidden.iter().all(|&c| page[c] == 0))
    }
}

type Server<'n> = EchoServer<MockStack<'n>, Sh1106<RecordingI2c<'n>>>;

/// Replays everything sent so far and checks that the glass shows the driver's
/// buffer and what a fresh screen with the same text draws.
fn assert_panel_shows_the_screen(
    server: &mut Server<'_>,
    log: &RefCell<BusLog>,
    controller: Controller,
) {
    let mut panel = SimPanel::new(controller);
    panel.replay(&log.borrow().writes);
    assert!(panel.on, "the display is switched on");
    assert!(panel.hidden_columns_blank());

    let mut fresh = server.screen().clone();
    fresh.invalidate();
    let reference = RecordingDisplay::new();
    fresh.draw(&mut &reference).unwrap();

    let buffer = *server.display_mut().buffer();
    let mut lit = 0;
    for y in 0..64 {
        for x in 0..128 {
            let seen = panel.visible(x, y);
            let buffered = buffer[128 * (y / 8) + x] & (1 << (y % 8)) != 0;
            assert_eq!(seen, buffered, "glass vs driver buffer at ({x}, {y})");
            assert_eq!(
                seen,
                reference.glass(x as i32, y as i32),
                "glass vs fresh drawing at ({x}, {y})"
            );
            lit += usize::from(seen);
        }
    }
    assert!(lit > 100, "text shows ({lit} pixels lit)");
}

#[test]
fn a_message_update_costs_few_i2c_bytes_follows_the_echo_and_shows_what_was_drawn() {
    message_updates_on(Controller::Sh1106, 2);
}

/// A module sold as SH1106 with an SSD1306-type controller: the same driver with
/// column offset 0 lights it (the charge pump command) and shows the screen.
#[test]
fn an_ssd1306_type_controller_lights_up_and_shows_the_screen_at_column_offset_0() {
    message_updates_on(Controller::Ssd1306, 0);
}

fn message_updates_on(controller: Controller, column_offset: u8) {
    let net: MockNetwork = MockNetwork::new();
    let log = RefCell::new(BusLog::default());
    let mut display = Sh1106::new(
        RecordingI2c {
            net: &net,
            log: &log,
        },
        ADDRESS,
    )
    .with_column_offset(column_offset);
    display.init().unwrap();
    let init_bytes = log.borrow().bytes;
    log.borrow_mut().start_counting();

    let mut config = ServerConfig::default();
    config.local_ip = Some(SERVER_IP);
    let mut server: Server<'_> = EchoServer::new(net.stack(SERVER_IP), display, config);
    server.poll(Instant::from_millis(0)).unwrap();
    let mut peer = Peer::connect(&net, client_ip(1), server_addr(5001));
    server.poll(Instant::from_millis(1000)).unwrap();
    let first_frame = log.borrow().bytes;
    assert_panel_shows_the_screen(&mut server, &log, controller);

    let mut costs = Vec::new();
    for (k, msg) in [&b"Hello Handbit"[..], b"I'am MixNo", b"Hello Handbit"]
        .iter()
        .enumerate()
    {
        log.borrow_mut().start_counting();
        peer.send(msg);
        server
            .poll(Instant::from_millis(2000 + 1000 * k as u64))
            .unwrap();
        let bus = log.borrow();
        let echo_at = net.last_send_call_to(peer.local_addr()).expect("echo sent");
        let drawn_at = bus.first_write_at.expect("screen updated");
        // `echo_at` numbers the send call; `drawn_at` counts the calls made before the
        // first I2C write. Had the screen gone first, the send would be numbered higher.
        assert!(echo_at <= drawn_at, "echo (call {echo_at}) must reach the stack before the first I2C byte (after call {drawn_at})");
        costs.push(bus.bytes);
        drop(bus);
        peer.read();
        assert_eq!(peer.received.len(), [13, 23, 36][k]);
        assert_eq!(
            server.screen().message(),
            core::str::from_utf8(msg).unwrap()
        );
        assert_panel_shows_the_screen(&mut server, &log, controller);
    }
    println!(
        "init {init_bytes} bytes, first frame {first_frame} bytes, message updates {costs:?} bytes"
    );
    assert!(
        first_frame > 1000,
        "the first draw paints the whole frame ({first_frame} bytes)"
    );
    // docs/design.md quotes these figures: change both together. The `cjk` font's
    // glyphs are taller and wider, so they touch more columns and pages.
    let expected = if cfg!(feature = "cjk") { 144 } else { 84 };
    assert_eq!(costs, [expected; 3], "I2C bytes of each message update");
}
