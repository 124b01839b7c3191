//! Display cost on a real ssd1306 driver over a recording I2C bus: a message update
//! sends few bytes, and only after the echo has been handed to the stack.

mod common;

use core::cell::RefCell;

use common::i2c::{BusLog, RecordingI2c};
use common::{client_ip, server_addr, Peer, SERVER_IP};
use nal_echo::stack::mock::MockNetwork;
use nal_echo::{EchoServer, Instant, ServerConfig};
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};

#[test]
fn a_message_update_costs_few_i2c_bytes_and_follows_the_echo() {
    let net: MockNetwork = MockNetwork::new();
    let log = RefCell::new(BusLog::default());
    let interface = I2CDisplayInterface::new(RecordingI2c {
        net: &net,
        log: &log,
    });
    let mut display = Ssd1306::new(interface, DisplaySize128x64, DisplayRotation::Rotate0)
        .into_buffered_graphics_mode();
    display.init().unwrap();

    let mut config = ServerConfig::default();
    config.local_ip = Some(SERVER_IP);
    let mut server = EchoServer::new(net.stack(SERVER_IP), display, config);
    server.poll(Instant::from_millis(0)).unwrap();
    let mut peer = Peer::connect(&net, client_ip(1), server_addr(5001));
    server.poll(Instant::from_millis(1000)).unwrap();
    let first_frame = log.borrow().bytes;

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
    }
    println!("first frame {first_frame} bytes, message updates {costs:?} bytes");
    assert!(
        first_frame > 1000,
        "the first draw paints the whole frame ({first_frame} bytes)"
    );
    // StatusScreen's docs quote these figures: change both together.
    let expected = if cfg!(feature = "cjk") { 162 } else { 186 };
    assert_eq!(costs, [expected; 3], "I2C bytes of each message update");
}
