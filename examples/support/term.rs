//! Showing the 128x64 screen in a terminal: Unicode half blocks, one character per
//! column and two pixel rows, in a box, redrawn in place; and the plain-text form for
//! when stdout is not a terminal.

use std::io::{self, IsTerminal, Stdout, Write};

use nal_echo::display::HalfBlocks;
use nal_echo::StatusScreen;

use crate::display::{HostDisplay, WIDTH};

/// Columns taken by the boxed screen: the frame plus the two sides of the box.
pub const BOX_WIDTH: usize = WIDTH as usize + 2;
/// Columns between the box and text beside it.
const GAP: usize = 2;

/// Whether stdout is a terminal (else the examples print plain text).
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// Width of the controlling terminal, from `stty size`; `None` if unknown.
pub fn terminal_columns() -> Option<usize> {
    let tty = std::fs::File::open("/dev/tty").ok()?;
    let out = std::process::Command::new("stty")
        .arg("size")
        .stdin(tty)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// The glass as 32 lines of 128 half-block characters (the library's
/// [`HalfBlocks`]).
pub fn frame_lines(display: &HostDisplay) -> Vec<String> {
    let lit = |x: i32, y: i32| match (u32::try_from(x), u32::try_from(y)) {
        (Ok(x), Ok(y)) => display.lit(x, y),
        _ => false,
    };
    HalfBlocks::new(lit)
        .to_string()
        .lines()
        .map(String::from)
        .collect()
}

/// `lines` (all [`WIDTH`] characters wide) in a box with `title` in its top border.
pub fn boxed(lines: Vec<String>, title: &str) -> Vec<String> {
    let inner = WIDTH as usize;
    let title: String = format!("─ {title} ").chars().take(inner).collect();
    let fill = inner - title.chars().count();
    let mut out = Vec::with_capacity(lines.len() + 2);
    out.push(format!("┌{title}{}┐", "─".repeat(fill)));
    out.extend(lines.into_iter().map(|l| format!("│{l}│")));
    out.push(format!("└{}┘", "─".repeat(inner)));
    out
}

/// The boxed screen with `side` to its right (from its second line on) or, if the
/// terminal is known to be too narrow for that, below it.
pub fn with_side(boxed: Vec<String>, side: &[String], columns: Option<usize>) -> Vec<String> {
    let side_width = side.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    if columns.is_some_and(|c| c < BOX_WIDTH + GAP + side_width) {
        let mut out = boxed;
        out.extend(side.iter().cloned());
        return out;
    }
    let mut out = boxed;
    for (line, text) in out.iter_mut().skip(1).zip(side) {
        line.push_str(&" ".repeat(GAP));
        line.push_str(text);
    }
    out
}

/// A block of lines kept at the bottom of a terminal and redrawn in place: the cursor
/// moves up over the block and each line is overwritten (no clearing, so no flicker).
/// The cursor is hidden and line wrapping turned off (so a narrow terminal cuts lines
/// instead of breaking the in-place redraw) until the view is dropped, which
/// restores both, also when the program ends through Ctrl-C (the examples' handler
/// only sets a flag) or a panic.
pub struct TermView {
    out: Stdout,
    shown: Vec<String>,
}

impl TermView {
    /// Takes over stdout, which should be a terminal.
    pub fn new() -> Self {
        let mut out = io::stdout();
        let _ = out.write_all(b"\x1b[?25l\x1b[?7l");
        let _ = out.flush();
        Self {
            out,
            shown: Vec::new(),
        }
    }

    /// Replace the block with `lines`.
    pub fn show(&mut self, lines: Vec<String>) {
        let mut buf = String::from("\x1b[?2026h"); // synchronized update, where supported
        if !self.shown.is_empty() {
            buf.push_str(&format!("\x1b[{}A\r", self.shown.len()));
        }
        for line in &lines {
            buf.push_str(line);
            buf.push_str("\x1b[K\n");
        }
        if lines.len() < self.shown.len() {
            buf.push_str("\x1b[J");
        }
        buf.push_str("\x1b[?2026l");
        let _ = self.out.write_all(buf.as_bytes());
        let _ = self.out.flush();
        self.shown = lines;
    }

    /// Let `print` write whole lines (on stdout or stderr) above the block, which is
    /// then drawn again below them.
    pub fn above(&mut self, print: impl FnOnce()) {
        if !self.shown.is_empty() {
            let _ = write!(self.out, "\x1b[{}A\r\x1b[J", self.shown.len());
            let _ = self.out.flush();
        }
        print();
        let lines = std::mem::take(&mut self.shown);
        self.show(lines);
    }
}

impl Default for TermView {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TermView {
    fn drop(&mut self) {
        // Also clears the line below the block, where the terminal echoed `^C`.
        let _ = self.out.write_all(b"\r\x1b[K\x1b[?7h\x1b[?25h");
        let _ = self.out.flush();
    }
}

/// The plain-text form of the screen: its four text lines, each printed as
/// `label: text` when it changed (all four the first time).
#[derive(Default)]
pub struct ScreenText {
    last: Option<[String; 4]>,
}

impl ScreenText {
    /// The lines that changed since the last call.
    pub fn changes(&mut self, screen: &StatusScreen) -> Vec<String> {
        let now = [
            screen.header().to_string(),
            screen.state().to_string(),
            screen.counters().to_string(),
            screen.message().to_string(),
        ];
        let labels = ["header", "state", "counters", "message"];
        let out = labels
            .iter()
            .zip(&now)
            .enumerate()
            .filter(|(i, (_, text))| self.last.as_ref().is_none_or(|l| l[*i] != **text))
            .map(|(_, (label, text))| format!("{label}: {text}").trim_end().to_string())
            .collect();
        self.last = Some(now);
        out
    }
}
