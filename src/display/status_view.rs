//! [`StatusView`]: the status screen on a display, redrawn at a bounded rate.

use core::net::{IpAddr, SocketAddr};

use crate::display::flush::Flush;
use crate::display::status_screen::StatusScreen;
use crate::time::{Duration, Instant};

/// What the state and counters lines show, as plain numbers: whoever serves the
/// connections hands these over, and the view never sees its types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// Connections being served.
    pub active: u32,
    /// Connections that can be served at once.
    pub slots: u32,
    /// The peer that connected or sent a datagram last, if any did.
    pub last_peer: Option<SocketAddr>,
    /// The sender of the last datagram, if a datagram came: shown while no
    /// connection is served.
    pub datagram_sender: Option<SocketAddr>,
    /// Connections accepted so far.
    pub accepted: u32,
    /// Connections refused so far (no free slot, or not on the allowlist).
    pub refused: u32,
    /// Errors so far.
    pub errors: u32,
}

/// A [`StatusScreen`] on a display: owns both, and paces the drawing.
///
/// Setting what the screen shows is cheap and may happen on every poll; the display
/// is drawn at most once per refresh interval, and only if something changed, so a
/// slow I2C panel cannot slow the work that feeds it. While disabled (the
/// application shows a page of its own) the text model keeps up and nothing is
/// drawn; enabling repaints the whole screen.
pub struct StatusView<Display> {
    display: Display,
    screen: StatusScreen,
    refresh_interval: Duration,
    /// What the state and counters lines were last set from.
    status: Option<Status>,
    /// When the next draw may happen.
    next_draw: Instant,
    enabled: bool,
}

impl<Display> StatusView<Display> {
    /// A view of a screen whose header shows `ip:port` (`*:port` without an
    /// address) and no client, drawn onto `display` at most once per
    /// `refresh_interval`.
    pub fn new(
        display: Display,
        ip: Option<IpAddr>,
        port: u16,
        refresh_interval: Duration,
    ) -> Self {
        let mut screen = StatusScreen::new();
        screen.set_header(ip, port);
        Self {
            display,
            screen,
            refresh_interval,
            status: None,
            next_draw: Instant::ZERO,
            enabled: true,
        }
    }

    /// Show `ip:port` in the header (`*:port` without an address).
    pub fn set_header(&mut self, ip: Option<IpAddr>, port: u16) {
        self.screen.set_header(ip, port);
    }

    /// Show `status` on the state and counters lines. Formatting the lines costs
    /// more than a busy poll's echo, so it is done only when `status` changed.
    pub fn set_status(&mut self, status: Status) {
        if self.status == Some(status) {
            return;
        }
        self.status = Some(status);
        let count = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        match (status.active, status.datagram_sender) {
            (0, Some(sender)) => self.screen.set_datagram_sender(sender),
            _ => {
                self.screen
                    .set_clients(count(status.active), count(status.slots), status.last_peer)
            }
        }
        self.screen
            .set_counters(status.accepted, status.refused, status.errors);
    }

    /// Show the newest text on the message line (see
    /// [`StatusScreen::set_message_chars`]).
    pub fn set_message(&mut self, chars: impl IntoIterator<Item = char>) {
        self.screen.set_message_chars(chars);
    }

    /// Whether the next [`draw`](Self::draw) at `now` would be on time: the refresh
    /// interval has passed since the last draw (or there was none).
    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.next_draw
    }

    /// When the next draw may happen: what a drawing task sleeps until.
    pub fn next_draw_at(&self) -> Instant {
        self.next_draw
    }

    /// Stop (`false`) or resume (`true`) drawing; resuming repaints everything.
    pub fn set_enabled(&mut self, enabled: bool) {
        if enabled && !self.enabled {
            self.screen.invalidate();
        }
        self.enabled = enabled;
    }

    /// Whether the view draws.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Repaint the whole screen on the next draw.
    pub fn invalidate(&mut self) {
        self.screen.invalidate();
    }

    /// The text model: what is, or is about to be, on the display.
    pub fn screen(&self) -> &StatusScreen {
        &self.screen
    }

    /// The display.
    pub fn display(&self) -> &Display {
        &self.display
    }

    /// The display, for drawing something else on it; call
    /// [`invalidate`](Self::invalidate) to have the status repainted.
    pub fn display_mut(&mut self) -> &mut Display {
        &mut self.display
    }

    /// Gives the display back.
    pub fn release(self) -> Display {
        self.display
    }
}

impl<Display: Flush> StatusView<Display> {
    /// Draws what changed if the view is enabled and the draw [is due](Self::is_due);
    /// returns whether it drew. A failed draw counts as a draw for the pacing, and
    /// the whole screen is repainted next time.
    pub fn draw(&mut self, now: Instant) -> Result<bool, Display::Error> {
        if !self.enabled || !self.is_due(now) || !self.screen.is_dirty() {
            return Ok(false);
        }
        self.next_draw = now + self.refresh_interval;
        self.screen.draw(&mut self.display).map(|()| true)
    }
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use super::*;
    use crate::display::recording::RecordingDisplay;

    fn view() -> StatusView<RecordingDisplay> {
        StatusView::new(
            RecordingDisplay::new(),
            None,
            5001,
            Duration::from_millis(100),
        )
    }

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn draws_at_most_once_per_interval_and_only_what_changed() {
        let mut v = view();
        assert_eq!(v.draw(at(0)), Ok(true));
        v.set_message("a".chars());
        assert_eq!(v.draw(at(99)), Ok(false), "inside the interval");
        assert_eq!(v.draw(at(100)), Ok(true));
        assert_eq!(v.draw(at(500)), Ok(false), "nothing changed");
        assert_eq!(v.display().flushes(), 2);
    }

    #[test]
    fn the_same_status_twice_changes_nothing_and_a_new_one_shows() {
        let mut v = view();
        let status = Status {
            active: 1,
            slots: 4,
            last_peer: Some(SocketAddr::from(([10, 0, 0, 2], 40000))),
            datagram_sender: None,
            accepted: 3,
            refused: 2,
            errors: 1,
        };
        v.set_status(status);
        assert_eq!(v.screen().state(), "1/4 10.0.0.2");
        assert_eq!(v.screen().counters(), "acc 3 rej 2 err 1");
        v.draw(at(0)).unwrap();
        v.set_status(status);
        assert!(!v.screen().is_dirty());
        v.set_status(Status {
            active: 0,
            ..status
        });
        assert_eq!(v.screen().state(), "accepting.....");
        let sender = Some(SocketAddr::from(([10, 0, 0, 9], 5)));
        v.set_status(Status {
            active: 0,
            datagram_sender: sender,
            ..status
        });
        assert_eq!(v.screen().state(), "udp 10.0.0.9");
        v.set_status(Status {
            datagram_sender: sender,
            ..status
        });
        assert_eq!(v.screen().state(), "1/4 10.0.0.2", "connections come first");
    }

    #[test]
    fn disabled_it_keeps_the_text_and_draws_nothing_until_enabled_again() {
        let mut v = view();
        v.draw(at(0)).unwrap();
        v.set_enabled(false);
        v.set_message("while away".chars());
        assert_eq!(v.draw(at(1000)), Ok(false));
        assert_eq!(v.screen().message(), "while away");
        v.set_enabled(true);
        let flushes = v.display().flushes();
        assert_eq!(v.draw(at(2000)), Ok(true));
        // A repaint is one flush of the whole screen.
        assert_eq!(v.display().flushes(), flushes + 1);
    }
}
