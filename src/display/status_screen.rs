//! [`StatusScreen`]: what the 128x64 OLED shows, and drawing only what changed.

use core::fmt;
use core::net::{IpAddr, SocketAddr};

use embedded_graphics::pixelcolor::BinaryColor;
use heapless::String;

#[cfg(feature = "cjk")]
use crate::display::cjk as message_font;
use crate::display::flush::Flush;
use crate::display::layout::{COUNTERS_Y, HEADER_Y, STATE_Y};
use crate::display::mono::{draw_mono_line, fit_ascii, CELLS};
#[cfg(not(feature = "cjk"))]
use crate::display::mono_message as message_font;

/// Characters of a received text the message line needs to fit it: one more than
/// the most it can show (so that fitting sees the text was cut).
pub(crate) const MESSAGE_TAIL: usize = message_font::NEWEST + 1;

/// The header, state and counters lines are ASCII, one byte a cell.
const ASCII_LINE_BYTES: usize = CELLS;
/// What the state line says while no client is connected.
const ACCEPTING: &str = "accepting.....";

/// The text model of the 128x64 status screen, and its drawing.
///
/// Four lines of text, top to bottom (y is the top pixel row):
///
/// | line | y | shows | example |
/// |------|---|-------|---------|
/// | [`header`](Self::header) | 0 | listening `ip:port`; IPv6 in brackets; `*` when no address is known | `192.168.0.4:5001`, `[::1]:5001`, `*:5001` |
/// | [`state`](Self::state) | 16 | `accepting.....` while no client is connected, else `active/slots` and the last peer's address | `2/4 192.168.0.9` |
/// | [`counters`](Self::counters) | 32 | connections accepted, refused (rejected + denied) and errors | `acc 3 rej 1 err 0` |
/// | [`message`](Self::message) | 48 | the text of the latest receive | `Hello Handbit` |
///
/// Byte counters are deliberately not on the screen: they change with every
/// message, so showing them would cost an I2C transfer on every echo, while the
/// connection counters change rarely.
///
/// # Font
///
/// All lines use embedded-graphics' `FONT_6X10` (ASCII): 21 characters fit on a line,
/// and a character the font lacks shows as its replacement glyph `?` (the text model
/// keeps the character itself). With the `cjk` feature the message line uses u8g2's
/// proportional 12 px `wqy12_t_gb2312b` instead (ASCII, the 3755 common hanzi of
/// GB2312 and its full-width punctuation), so Chinese shows; there a character the
/// font lacks is stored and shown as `?`.
///
/// # Fitting
///
/// A line wider than 128 pixels keeps its end (the newest text) and starts with `<`
/// to mark that text was dropped: `<` plus as many of the last characters as fit.
/// With `FONT_6X10` that is 21 characters, so a 30-character message shows as `<`
/// followed by its last 20. The `cjk` message line is measured with the font's
/// advance widths, by the same rule. Control characters passed to
/// [`set_message_chars`](Self::set_message_chars) are stored as `?`; feed received
/// bytes through a [`TextDecoder`](crate::text::TextDecoder) to avoid them.
///
/// # Drawing
///
/// [`draw`](Self::draw) paints the whole screen only the first time and after
/// [`invalidate`](Self::invalidate). Otherwise it redraws only the lines that
/// changed and, in a monospace line, only the cells from the first to the last
/// that differ, then flushes once per line. A buffered SSD1306 sends the bounding
/// box of what was drawn, so changing one message costs one line's changed columns
/// (for `Hello Handbit` to `I'am MixNo`, 186 I2C bytes on the ssd1306 driver and 84
/// on the crate's SH1106 driver; 162 and 144 with `cjk`: `tests/ssd1306_i2c.rs`,
/// `tests/sh1106_i2c.rs`) instead of the whole 1 KiB frame. Setting a line to the text it already has changes nothing.
#[derive(Debug, Clone)]
pub struct StatusScreen {
    header: Line<ASCII_LINE_BYTES>,
    state: Line<ASCII_LINE_BYTES>,
    counters: Line<ASCII_LINE_BYTES>,
    message: Line<{ message_font::BYTES }>,
    repaint: bool,
}

impl StatusScreen {
    /// A screen with no address, no client, zero counters and no message; the first
    /// [`draw`](Self::draw) paints all of it.
    pub fn new() -> Self {
        let mut screen = Self {
            header: Line::new(),
            state: Line::new(),
            counters: Line::new(),
            message: Line::new(),
            repaint: true,
        };
        screen.set_clients(0, 0, None);
        screen.set_counters(0, 0, 0);
        screen
    }

    /// Show the address the server listens on; `None` if it is not known.
    pub fn set_header(&mut self, ip: Option<IpAddr>, port: u16) {
        self.header.text = fit_ascii(format_args!("{}:{port}", Host(ip)));
    }

    /// Show how many of the client slots are in use, and the address of the
    /// latest peer (its port is left out to save room).
    pub fn set_clients(&mut self, active: usize, slots: usize, last_peer: Option<SocketAddr>) {
        self.state.text = match (active, last_peer) {
            (0, _) => fit_ascii(format_args!("{ACCEPTING}")),
            (_, None) => fit_ascii(format_args!("{active}/{slots}")),
            (_, Some(peer)) => fit_ascii(format_args!("{active}/{slots} {}", peer.ip())),
        };
    }

    /// Show the sender of the latest datagram (its port left out), for a server
    /// that serves no connection but answers datagrams: `udp 192.168.0.11`.
    pub fn set_datagram_sender(&mut self, sender: SocketAddr) {
        self.state.text = fit_ascii(format_args!("udp {}", sender.ip()));
    }

    /// Show the connection counters: connections accepted, refused (a server
    /// counts both those it had no slot for and those its allowlist denied) and
    /// errors.
    pub fn set_counters(&mut self, accepted: u32, refused: u32, errors: u32) {
        self.counters.text = fit_ascii(format_args!("acc {accepted} rej {refused} err {errors}"));
    }

    /// Show the decoded characters of one receive, fitted to the line. Without any
    /// character (a receive of only control bytes) the previous message stays.
    pub fn set_message_chars(&mut self, chars: impl IntoIterator<Item = char>) {
        let mut chars = chars.into_iter().peekable();
        if chars.peek().is_some() {
            self.message.text = message_font::fit(chars);
        }
    }

    /// The header line: `ip:port`.
    pub fn header(&self) -> &str {
        &self.header.text
    }

    /// The state line: `accepting.....`, `active/slots peer` or `udp sender`.
    pub fn state(&self) -> &str {
        &self.state.text
    }

    /// The counters line: `acc N rej N err N`.
    pub fn counters(&self) -> &str {
        &self.counters.text
    }

    /// The message line, as fitted to the screen.
    pub fn message(&self) -> &str {
        &self.message.text
    }

    /// Whether something changed since the last successful [`draw`](Self::draw).
    pub fn is_dirty(&self) -> bool {
        self.repaint
            || self.header.changed()
            || self.state.changed()
            || self.counters.changed()
            || self.message.changed()
    }

    /// Make the next [`draw`](Self::draw) paint the whole screen, e.g. because the
    /// display was reset or may hold garbage.
    pub fn invalidate(&mut self) {
        self.repaint = true;
    }

    /// Draw what changed since the last successful draw onto `display` and flush it.
    ///
    /// On an error the screen stays dirty and the next draw paints all of it, as
    /// the display may then show anything.
    pub fn draw<D>(&mut self, display: &mut D) -> Result<(), D::Error>
    where
        D: Flush,
    {
        let result = if self.repaint {
            self.paint_all(display)
        } else {
            self.paint_changes(display)
        };
        if result.is_err() {
            self.invalidate();
        }
        result
    }

    fn paint_all<D>(&mut self, display: &mut D) -> Result<(), D::Error>
    where
        D: Flush,
    {
        display.clear(BinaryColor::Off)?;
        draw_mono_line(display, HEADER_Y, "", &self.header.text)?;
        draw_mono_line(display, STATE_Y, "", &self.state.text)?;
        draw_mono_line(display, COUNTERS_Y, "", &self.counters.text)?;
        message_font::draw(display, "", &self.message.text)?;
        display.flush()?;
        self.header.shown();
        self.state.shown();
        self.counters.shown();
        self.message.shown();
        self.repaint = false;
        Ok(())
    }

    fn paint_changes<D>(&mut self, display: &mut D) -> Result<(), D::Error>
    where
        D: Flush,
    {
        // One flush per line keeps each transfer's bounding box to that line.
        for (line, y) in [
            (&mut self.header, HEADER_Y),
            (&mut self.state, STATE_Y),
            (&mut self.counters, COUNTERS_Y),
        ] {
            if line.changed() {
                draw_mono_line(display, y, &line.on_glass, &line.text)?;
                display.flush()?;
                line.shown();
            }
        }
        if self.message.changed() {
            message_font::draw(display, &self.message.on_glass, &self.message.text)?;
            display.flush()?;
            self.message.shown();
        }
        Ok(())
    }
}

/// The four lines as text, top to bottom, one per line: what the screen shows, for
/// logs and host programs.
impl fmt::Display for StatusScreen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n{}\n{}\n{}",
            self.header(),
            self.state(),
            self.counters(),
            self.message()
        )
    }
}

impl Default for StatusScreen {
    fn default() -> Self {
        Self::new()
    }
}

/// One line: the text to show and the text last drawn, to draw only the difference.
#[derive(Debug, Clone)]
struct Line<const N: usize> {
    text: String<N>,
    on_glass: String<N>,
}

impl<const N: usize> Line<N> {
    const fn new() -> Self {
        Self {
            text: String::new(),
            on_glass: String::new(),
        }
    }

    fn changed(&self) -> bool {
        self.text != self.on_glass
    }

    fn shown(&mut self) {
        self.on_glass.clone_from(&self.text);
    }
}

/// The host part of the header: IPv6 bracketed so the port stays readable.
struct Host(Option<IpAddr>);

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            None => f.write_str("*"),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::display::layout::{MESSAGE_Y, WIDTH};
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};
    use embedded_graphics::mono_font::ascii::FONT_6X10;
    use embedded_graphics::mono_font::MonoTextStyle;
    use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Pixel, Point, Size};
    use embedded_graphics::primitives::Rectangle;
    use embedded_graphics::text::{Baseline, Text};
    use embedded_graphics::Drawable;
    use std::vec::Vec;

    const HEIGHT: usize = crate::display::layout::HEIGHT as usize;

    #[derive(Debug, PartialEq, Eq)]
    struct Failed;

    /// A 128x64 frame that records the bounding box of the pixels drawn between
    /// flushes, which is what a buffered SSD1306 sends on flush.
    struct Framebuffer {
        pixels: [[bool; WIDTH as usize]; HEIGHT],
        written: Option<(Point, Point)>,
        flushes: Vec<Rectangle>,
        fail: bool,
    }

    impl Framebuffer {
        fn new() -> Self {
            Self {
                pixels: [[false; WIDTH as usize]; HEIGHT],
                written: None,
                flushes: Vec::new(),
                fail: false,
            }
        }

        /// Roughly what the SSD1306 driver sends: whole pages of the box, and the
        /// commands that set the column and page window.
        fn i2c_bytes(&self) -> u32 {
            let box_bytes = |area: &Rectangle| {
                let first_page = area.top_left.y / 8;
                let last_page = (area.top_left.y + area.size.height as i32 - 1) / 8;
                area.size.width * (last_page - first_page + 1) as u32
            };
            self.flushes.iter().map(|area| box_bytes(area) + 8).sum()
        }

        fn lit(&self) -> usize {
            self.pixels.iter().flatten().filter(|&&on| on).count()
        }

        #[cfg(feature = "cjk")]
        fn rows(&self, rows: core::ops::Range<usize>) -> Vec<[bool; WIDTH as usize]> {
            self.pixels[rows].to_vec()
        }
    }

    impl OriginDimensions for Framebuffer {
        fn size(&self) -> Size {
            Size::new(WIDTH, HEIGHT as u32)
        }
    }

    impl DrawTarget for Framebuffer {
        type Color = BinaryColor;
        type Error = Failed;

        fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Failed>
        where
            I: IntoIterator<Item = Pixel<BinaryColor>>,
        {
            if self.fail {
                return Err(Failed);
            }
            for Pixel(point, color) in pixels {
                let (Ok(x), Ok(y)) = (usize::try_from(point.x), usize::try_from(point.y)) else {
                    continue;
                };
                if x >= WIDTH as usize || y >= HEIGHT {
                    continue;
                }
                self.pixels[y][x] = color.is_on();
                self.written = Some(match self.written {
                    None => (point, point),
                    Some((low, high)) => (low.component_min(point), high.component_max(point)),
                });
            }
            Ok(())
        }
    }

    impl Flush for Framebuffer {
        fn flush(&mut self) -> Result<(), Failed> {
            if self.fail {
                return Err(Failed);
            }
            if let Some((low, high)) = self.written.take() {
                self.flushes.push(Rectangle::with_corners(low, high));
            }
            Ok(())
        }
    }

    /// What embedded-graphics draws for the given lines on a blank frame.
    fn reference(screen: &StatusScreen) -> Framebuffer {
        let mut frame = Framebuffer::new();
        let style = MonoTextStyle::new(&FONT_6X10, BinaryColor::On);
        for (text, y) in [
            (screen.header(), HEADER_Y),
            (screen.state(), STATE_Y),
            (screen.counters(), COUNTERS_Y),
        ] {
            Text::with_baseline(text, Point::new(0, y), style, Baseline::Top)
                .draw(&mut frame)
                .unwrap();
        }
        #[cfg(not(feature = "cjk"))]
        Text::with_baseline(
            screen.message(),
            Point::new(0, MESSAGE_Y),
            style,
            Baseline::Top,
        )
        .draw(&mut frame)
        .unwrap();
        #[cfg(feature = "cjk")]
        crate::display::cjk::draw_reference(&mut frame, screen.message());
        frame
    }

    /// A screen as the tutorial board shows it, already drawn once.
    fn drawn_screen(message: &str) -> (StatusScreen, Framebuffer) {
        let mut screen = StatusScreen::new();
        screen.set_header(Some(Ipv4Addr::new(192, 168, 0, 4).into()), 5001);
        screen.set_message_chars(message.chars());
        let mut frame = Framebuffer::new();
        screen.draw(&mut frame).unwrap();
        frame.flushes.clear();
        (screen, frame)
    }

    #[cfg(not(feature = "cjk"))]
    fn message_of(len: usize) -> std::string::String {
        ('a'..='z').cycle().take(len).collect()
    }

    #[test]
    fn header_shows_ipv4_ipv6_or_any() {
        let mut screen = StatusScreen::new();
        assert_eq!(screen.header(), "");
        screen.set_header(Some(Ipv4Addr::new(192, 168, 0, 4).into()), 5001);
        assert_eq!(screen.header(), "192.168.0.4:5001");
        screen.set_header(Some(Ipv6Addr::LOCALHOST.into()), 5001);
        assert_eq!(screen.header(), "[::1]:5001");
        screen.set_header(None, 5001);
        assert_eq!(screen.header(), "*:5001");
    }

    #[test]
    fn long_header_keeps_the_port() {
        let mut screen = StatusScreen::new();
        let ip = Ipv6Addr::new(
            0x2001, 0xdb8, 0x1234, 0x5678, 0x9abc, 0xdef0, 0x1234, 0x5678,
        );
        screen.set_header(Some(ip.into()), 65535);
        assert_eq!(screen.header(), "<ef0:1234:5678]:65535");
    }

    #[test]
    fn state_shows_accepting_or_clients_and_last_peer() {
        let mut screen = StatusScreen::new();
        assert_eq!(screen.state(), "accepting.....");
        let peer = SocketAddrV4::new(Ipv4Addr::new(192, 168, 0, 9), 50123).into();
        screen.set_clients(2, 4, Some(peer));
        assert_eq!(screen.state(), "2/4 192.168.0.9");
        screen.set_clients(1, 4, None);
        assert_eq!(screen.state(), "1/4");
        screen.set_clients(0, 4, Some(peer));
        assert_eq!(screen.state(), "accepting.....");
    }

    #[test]
    fn the_text_form_is_the_four_lines() {
        let mut screen = StatusScreen::new();
        screen.set_header(Some(Ipv4Addr::new(192, 168, 0, 4).into()), 5001);
        screen.set_message_chars("Hello Handbit".chars());
        assert_eq!(
            std::format!("{screen}"),
            "192.168.0.4:5001\naccepting.....\nacc 0 rej 0 err 0\nHello Handbit"
        );
    }

    #[test]
    fn counters_show_accepted_refused_and_errors() {
        let mut screen = StatusScreen::new();
        assert_eq!(screen.counters(), "acc 0 rej 0 err 0");
        screen.set_counters(3, 3, 7);
        assert_eq!(screen.counters(), "acc 3 rej 3 err 7");
        screen.set_counters(u32::MAX, 0, 1);
        // Too long for the line: the end stays, after the marker.
        assert_eq!(screen.counters(), "<94967295 rej 0 err 1");
    }

    #[cfg(not(feature = "cjk"))]
    #[test]
    fn fitting_keeps_the_end_after_a_marker() {
        let mut screen = StatusScreen::new();
        let fits = message_of(21);
        screen.set_message_chars(fits.chars());
        assert_eq!(screen.message(), fits);

        let long = message_of(30);
        screen.set_message_chars(long.chars());
        assert_eq!(screen.message(), std::format!("<{}", &long[10..]));

        let one_more = message_of(22);
        screen.set_message_chars(one_more.chars());
        assert_eq!(screen.message(), std::format!("<{}", &one_more[2..]));
    }

    #[test]
    fn empty_receive_keeps_the_message() {
        let mut screen = StatusScreen::new();
        screen.set_message_chars("Hello Handbit".chars());
        screen.set_message_chars("".chars());
        assert_eq!(screen.message(), "Hello Handbit");
    }

    #[test]
    fn control_chars_are_stored_as_question_marks() {
        let mut screen = StatusScreen::new();
        screen.set_message_chars("a\nb\u{1b}".chars());
        assert_eq!(screen.message(), "a?b?");
    }

    #[test]
    fn same_text_does_not_make_the_screen_dirty() {
        let (mut screen, _) = drawn_screen("Hello Handbit");
        assert!(!screen.is_dirty());
        screen.set_header(Some(Ipv4Addr::new(192, 168, 0, 4).into()), 5001);
        screen.set_clients(0, 4, None);
        screen.set_counters(0, 0, 0);
        screen.set_message_chars("Hello Handbit".chars());
        assert!(!screen.is_dirty());
        screen.set_message_chars("x".chars());
        assert!(screen.is_dirty());
        screen.set_message_chars("Hello Handbit".chars());
        assert!(!screen.is_dirty());
    }

    #[test]
    fn first_draw_paints_everything_once() {
        let mut screen = StatusScreen::new();
        assert!(screen.is_dirty());
        screen.set_header(None, 5001);
        screen.set_message_chars("Hello Handbit".chars());
        let mut frame = Framebuffer::new();
        screen.draw(&mut frame).unwrap();
        assert!(!screen.is_dirty());
        let full = Rectangle::new(Point::zero(), Size::new(WIDTH, HEIGHT as u32));
        assert_eq!(frame.flushes, [full]);
        assert!(frame.pixels == reference(&screen).pixels);
        assert!(frame.lit() > 0);
    }

    #[test]
    fn clean_screen_draws_nothing() {
        let (mut screen, mut frame) = drawn_screen("Hello Handbit");
        screen.draw(&mut frame).unwrap();
        assert!(frame.flushes.is_empty());
        assert!(frame.written.is_none());
    }

    #[test]
    fn message_change_costs_one_small_flush() {
        let (mut screen, mut frame) = drawn_screen("Hello Handbit");
        screen.set_message_chars("I'am MixNo".chars());
        screen.draw(&mut frame).unwrap();
        assert_eq!(frame.flushes.len(), 1);
        let area = frame.flushes[0];
        assert!(area.top_left.y >= MESSAGE_Y, "{area:?}");
        assert!(area.bottom_right().unwrap().y < HEIGHT as i32, "{area:?}");
        std::println!("{} bytes", frame.i2c_bytes());
        assert!(frame.i2c_bytes() <= 200, "{} bytes", frame.i2c_bytes());
        assert!(frame.pixels == reference(&screen).pixels);
    }

    #[cfg(not(feature = "cjk"))]
    #[test]
    fn message_change_writes_only_the_changed_cells() {
        let (mut screen, mut frame) = drawn_screen("Hello Handbit");
        screen.set_message_chars("I'am MixNo".chars());
        screen.draw(&mut frame).unwrap();
        // Every cell differs, and cells 10..13 are blanked.
        let cells = Rectangle::new(Point::new(0, MESSAGE_Y), Size::new(13 * 6, 10));
        assert_eq!(frame.flushes, [cells]);

        screen.set_message_chars("I'am MaxNo".chars());
        screen.draw(&mut frame).unwrap();
        let cell = Rectangle::new(Point::new(6 * 6, MESSAGE_Y), Size::new(6, 10));
        assert_eq!(frame.flushes[1..], [cell]);
        assert!(frame.pixels == reference(&screen).pixels);
    }

    #[cfg(not(feature = "cjk"))]
    #[test]
    fn shorter_message_blanks_the_old_tail() {
        let (mut screen, mut frame) = drawn_screen("Hello Handbit");
        screen.set_message_chars("Hello".chars());
        screen.draw(&mut frame).unwrap();
        let tail = Rectangle::new(Point::new(5 * 6, MESSAGE_Y), Size::new(8 * 6, 10));
        assert_eq!(frame.flushes, [tail]);
        assert!(frame.pixels == reference(&screen).pixels);
    }

    #[test]
    fn each_changed_line_is_flushed_on_its_own() {
        let (mut screen, mut frame) = drawn_screen("Hello Handbit");
        let peer = SocketAddrV4::new(Ipv4Addr::new(192, 168, 0, 9), 50123).into();
        screen.set_clients(1, 4, Some(peer));
        screen.set_message_chars("I'am MixNo".chars());
        screen.draw(&mut frame).unwrap();
        assert_eq!(frame.flushes.len(), 2);
        assert!(frame.flushes[0].top_left.y >= STATE_Y);
        assert!(frame.flushes[0].bottom_right().unwrap().y < COUNTERS_Y);
        assert!(frame.flushes[1].top_left.y >= MESSAGE_Y);
        assert!(frame.pixels == reference(&screen).pixels);
    }

    #[test]
    fn many_changes_end_up_as_a_fresh_paint() {
        let (mut screen, mut frame) = drawn_screen("Hello Handbit");
        let messages = [
            "abc",
            "",
            "a much longer message than fits",
            "x",
            "Hi Handbit",
        ];
        for (i, message) in messages.into_iter().enumerate() {
            screen.set_message_chars(message.chars());
            screen.set_clients(i, 4, None);
            screen.set_counters(i as u32 * 1000, 0, 0);
            screen.draw(&mut frame).unwrap();
            assert!(
                frame.pixels == reference(&screen).pixels,
                "after {message:?}"
            );
        }
    }

    #[test]
    fn failed_draw_keeps_dirty_and_repaints_everything() {
        let (mut screen, mut frame) = drawn_screen("Hello Handbit");
        screen.set_message_chars("I'am MixNo".chars());
        frame.fail = true;
        assert_eq!(screen.draw(&mut frame), Err(Failed));
        assert!(screen.is_dirty());
        frame.fail = false;
        frame.written = None;
        screen.draw(&mut frame).unwrap();
        let full = Rectangle::new(Point::zero(), Size::new(WIDTH, HEIGHT as u32));
        assert_eq!(frame.flushes, [full]);
        assert!(!screen.is_dirty());
    }

    #[test]
    fn invalidate_repaints_everything() {
        let (mut screen, mut frame) = drawn_screen("Hello Handbit");
        screen.invalidate();
        assert!(screen.is_dirty());
        frame.pixels = [[true; WIDTH as usize]; HEIGHT];
        screen.draw(&mut frame).unwrap();
        assert!(frame.pixels == reference(&screen).pixels);
    }

    #[cfg(feature = "cjk")]
    #[test]
    fn chinese_shows_and_differs_from_question_marks() {
        let (mut screen, mut frame) = drawn_screen("???");
        let question_marks = frame.rows(MESSAGE_Y as usize..HEIGHT);
        screen.set_message_chars("掌控板".chars());
        screen.draw(&mut frame).unwrap();
        let chinese = frame.rows(MESSAGE_Y as usize..HEIGHT);
        assert_eq!(screen.message(), "掌控板");
        assert!(chinese.iter().flatten().filter(|&&on| on).count() > 30);
        assert!(chinese != question_marks);
        assert!(frame.pixels == reference(&screen).pixels);
    }

    #[cfg(feature = "cjk")]
    #[test]
    fn cjk_fitting_measures_advance_widths() {
        let mut screen = StatusScreen::new();
        let long: std::string::String = "掌控板".chars().cycle().take(20).collect();
        screen.set_message_chars(long.chars());
        // `<` is 6 px and each character 12 px: 10 fit in the remaining 122.
        let kept: std::string::String = long.chars().skip(10).collect();
        assert_eq!(screen.message(), std::format!("<{kept}"));

        let narrow = "i".repeat(64);
        screen.set_message_chars(narrow.chars());
        assert_eq!(screen.message(), narrow);
        screen.set_message_chars(std::format!("{narrow}i").chars());
        assert_eq!(screen.message(), std::format!("<{}", "i".repeat(61)));
    }

    #[cfg(feature = "cjk")]
    #[test]
    fn cjk_unknown_chars_show_as_question_marks() {
        let mut screen = StatusScreen::new();
        screen.set_message_chars("a😀b".chars());
        assert_eq!(screen.message(), "a?b");
    }
}
