//! The tutorial's scenario on the mock network: a MixNo-like PeriodicClient sends
//! "Hello Handbit" / "I'am MixNo" every second to a Handbit-like EchoServer.

mod common;

use common::{client_ip, server_addr, SERVER_IP};
use embedded_graphics::prelude::{Point, Size};
use embedded_graphics::primitives::Rectangle;
use nal_echo::display::RecordingDisplay;
use nal_echo::stack::mock::MockNetwork;
use nal_echo::time::MockClock;
use nal_echo::{
    ClientConfig, Clock, EchoServer, PeriodicClient, ServerConfig, StatusScreen, TUTORIAL_MESSAGES,
};

const PERIODS: u32 = 30;

#[test]
fn every_echo_is_verified_and_the_screen_shows_the_last_message() {
    let net: MockNetwork = MockNetwork::new();
    let clock = MockClock::new();
    let mut config = ServerConfig::default();
    config.local_ip = Some(SERVER_IP);
    let mut server = EchoServer::new(net.stack(SERVER_IP), RecordingDisplay::new(), config);
    let mut client = PeriodicClient::new(
        net.stack(client_ip(1)),
        &clock,
        ClientConfig::new(server_addr(5001)).with_messages(TUTORIAL_MESSAGES),
    );

    // 10 ms steps, like a main loop that also does other work.
    let end = u64::from(PERIODS) * 1000 - 500;
    for t in (0..=end).step_by(10) {
        clock.set(nal_echo::Instant::from_millis(t));
        server.poll((&clock).now()).unwrap();
        client.poll().unwrap();
    }

    let c = *client.stats();
    assert_eq!(c.sent, PERIODS);
    assert_eq!(c.echoed, PERIODS, "every message came back");
    assert_eq!((c.mismatches, c.missed_ticks, c.failures), (0, 0, 0));
    assert!(c.rtt_max.unwrap().total_millis() <= 20, "{:?}", c.rtt_max);
    let s = *server.stats();
    let bytes = u64::from(PERIODS / 2) * (13 + 10);
    assert_eq!(
        (s.bytes_in, s.bytes_out, s.accepted, s.errors),
        (bytes, bytes, 1, 0)
    );

    // The 30th message is the second one.
    assert_eq!(server.screen().message(), "I'am MixNo");
    assert_eq!(server.screen().header(), "192.168.0.4:5001");

    // What is on the glass is the message, drawn as a full redraw would draw it.
    let mut reference = StatusScreen::new();
    reference.set_message_chars("I'am MixNo".chars());
    let mut fresh = RecordingDisplay::new();
    reference.draw(&mut fresh).unwrap();
    let message_line = Rectangle::new(Point::new(0, 48), Size::new(128, 16));
    assert!(server.display_mut().glass_region_eq(&fresh, message_line));
    let mut other = StatusScreen::new();
    other.set_message_chars("Hello Handbit".chars());
    let mut wrong = RecordingDisplay::new();
    other.draw(&mut wrong).unwrap();
    assert!(
        !server.display_mut().glass_region_eq(&wrong, message_line),
        "the check can fail"
    );
}
