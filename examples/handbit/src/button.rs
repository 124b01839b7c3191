//! A push button sampled from the main loop: debounced, reported once per press.

use nal_echo::{Duration, Instant};

/// How long a new level must hold before it counts. Contact bounce of small tact
/// switches dies down within a few milliseconds.
const SETTLE: Duration = Duration::from_millis(20);

/// Debounces a button's level and reports each press (the edge from released to
/// pressed) once. Feed it the level at every pass of the main loop.
#[derive(Debug, Clone, Copy)]
pub struct Button {
    /// The accepted state: `true` while pressed.
    pressed: bool,
    /// The level last seen, and since when it has held.
    level: bool,
    since: Instant,
}

impl Button {
    /// A button whose current level is `pressed`: holding it at start is not a press.
    pub const fn new(pressed: bool, now: Instant) -> Self {
        Self {
            pressed,
            level: pressed,
            since: now,
        }
    }

    /// The level now (`true` = pressed); returns `true` once for each press, as soon
    /// as the pressed level has held for 20 ms.
    pub fn update(&mut self, level: bool, now: Instant) -> bool {
        if level != self.level {
            self.level = level;
            self.since = now;
            return false;
        }
        if level != self.pressed && now - self.since >= SETTLE {
            self.pressed = level;
            return level;
        }
        false
    }
}
