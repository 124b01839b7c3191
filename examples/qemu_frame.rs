//! Reads the screen of the emulated board (`examples/qemu-virt`) from its serial log.
//!
//! ```text
//! cargo run --example qemu_frame -- LOGFILE [--png OUT.png] [--expect-message TEXT]
//! ```
//!
//! The firmware writes its first flushed 128x64 frame to serial as
//! `FRAME 128x64 SEQ`, 64 lines of 32 hex digits (one pixel row each, most
//! significant bit leftmost, 1 = lit) and `END`, and each later flush as
//! `ROWS 128x64 SEQ FIRST`, the changed rows from row `FIRST` on, and `END`. This
//! program replays the blocks of `LOGFILE` in order, prints the resulting screen in
//! half-block characters, and:
//!
//! * `--png OUT.png`: writes it as a PNG (4x scale, white OLED colours);
//! * `--expect-message TEXT`: compares its message line (pixel rows 48 to 63) with
//!   the line [`StatusScreen`] draws for `TEXT`, pixel for pixel.
//!
//! Exit status: 0 when a screen was found (and the message line matches), 1 when the
//! message line differs, 2 for bad arguments, an unreadable log or no complete
//! `FRAME` in it.
//!
//! The reference is drawn with the monospace font; the firmware is built without
//! the `cjk` feature, so with `cjk` on the comparison is refused (exit 2).

use nal_echo_host as support;

use std::path::PathBuf;
use std::process::ExitCode;

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, Pixel, Point};
use nal_echo::{Flush, StatusScreen};

use support::display::{save_png, HostDisplay, HEIGHT, WIDTH};

const USAGE: &str = "\
usage: qemu_frame LOGFILE [--png OUT.png] [--expect-message TEXT]
";

/// First pixel row of the message line.
const MESSAGE_TOP: u32 = 48;

struct Options {
    log: PathBuf,
    png: Option<PathBuf>,
    expect: Option<String>,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("qemu_frame: {message}");
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let log = match std::fs::read(&options.log) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            eprintln!("qemu_frame: cannot read {}: {e}", options.log.display());
            return ExitCode::from(2);
        }
    };
    let Some((seq, rows)) = replay(&log) else {
        eprintln!(
            "qemu_frame: no screen in {}: no complete FRAME 128x64 ... END block, or a garbled block after the last",
            options.log.display()
        );
        return ExitCode::from(2);
    };
    let frame = to_display(&rows);
    println!("frame {seq} of {}:", options.log.display());
    for line in support::term::frame_lines(&frame) {
        println!("|{line}|");
    }
    if let Some(png) = &options.png {
        if let Err(e) = save_png(&frame.glass(), png) {
            eprintln!("qemu_frame: cannot write {}: {e}", png.display());
            return ExitCode::from(2);
        }
        println!("wrote {}", png.display());
    }
    let Some(text) = &options.expect else {
        return ExitCode::SUCCESS;
    };
    if cfg!(feature = "cjk") {
        eprintln!("qemu_frame: built with `cjk`: the reference font differs from the firmware's");
        return ExitCode::from(2);
    }
    let reference = reference_screen(text);
    let differing = (MESSAGE_TOP..HEIGHT)
        .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
        .filter(|&(x, y)| frame.lit(x, y) != reference.lit(x, y))
        .count();
    if differing == 0 {
        println!("message line shows {text:?}");
        ExitCode::SUCCESS
    } else {
        println!("message line does not show {text:?}: {differing} pixels differ");
        ExitCode::from(1)
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut log = None;
    let mut png = None;
    let mut expect = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--png" => png = Some(PathBuf::from(args.next().ok_or("--png needs a path")?)),
            "--expect-message" => {
                expect = Some(args.next().ok_or("--expect-message needs a text")?);
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option '{flag}'")),
            path if log.is_none() => log = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument '{extra}'")),
        }
    }
    Ok(Options {
        log: log.ok_or("no LOGFILE given")?,
        png,
        expect,
    })
}

/// One block of the serial log.
enum Block {
    /// A whole frame.
    Frame { seq: String, rows: Vec<Vec<u8>> },
    /// Rows from `first` on.
    Rows {
        seq: String,
        first: usize,
        rows: Vec<Vec<u8>>,
    },
    /// A header whose body is not well-formed.
    Garbled,
}

/// The screen after replaying the log's blocks in order, with the sequence number
/// of the last block: a `FRAME` replaces the screen, a `ROWS` block overwrites its
/// rows. A block cut off by the end of the log (the board was stopped while
/// printing it) is left out; a garbled one leaves the screen unknown until the
/// next `FRAME`. `None` when no screen is known at the end.
fn replay(log: &str) -> Option<(String, Vec<Vec<u8>>)> {
    let lines: Vec<&str> = log.lines().map(str::trim_end).collect();
    let mut screen: Option<(String, Vec<Vec<u8>>)> = None;
    let mut i = 0;
    while i < lines.len() {
        let Some((block, next)) = block_at(&lines, i) else {
            i += 1;
            continue;
        };
        i = next;
        screen = match (block, screen) {
            (Block::Frame { seq, rows }, _) => Some((seq, rows)),
            (Block::Rows { seq, first, rows }, Some((_, mut pixels))) => {
                pixels.splice(first..first + rows.len(), rows);
                Some((seq, pixels))
            }
            (Block::Rows { .. } | Block::Garbled, _) => None,
        };
    }
    screen
}

/// The block whose header is `lines[at]`, and the index after its `END`; `None` if
/// that line is no header or the block has no `END`.
fn block_at(lines: &[&str], at: usize) -> Option<(Block, usize)> {
    let words: Vec<&str> = lines[at].split(' ').collect();
    let (full, seq, first) = match words.as_slice() {
        ["FRAME", "128x64", seq] => (true, *seq, 0),
        ["ROWS", "128x64", seq, first] => (false, *seq, first.parse().ok()?),
        _ => return None,
    };
    let height = HEIGHT as usize;
    let end = (at + 1..lines.len().min(at + 2 + height)).find(|&i| lines[i] == "END")?;
    let rows = lines[at + 1..end]
        .iter()
        .map(|row| decode_row(row))
        .collect::<Option<Vec<_>>>();
    let seq = seq.to_string();
    let block = match rows {
        Some(rows) if full && rows.len() == height => Block::Frame { seq, rows },
        Some(rows) if !full && !rows.is_empty() && first + rows.len() <= height => {
            Block::Rows { seq, first, rows }
        }
        _ => Block::Garbled,
    };
    Some((block, end + 1))
}

/// One row: 32 hex digits, 16 bytes.
fn decode_row(row: &str) -> Option<Vec<u8>> {
    if row.len() != 2 * (WIDTH as usize / 8) {
        return None;
    }
    (0..row.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(row.get(i..i + 2)?, 16).ok())
        .collect()
}

fn to_display(rows: &[Vec<u8>]) -> HostDisplay {
    let mut display = HostDisplay::new();
    let pixels = rows.iter().enumerate().flat_map(|(y, row)| {
        (0..WIDTH as usize).map(move |x| {
            let on = row[x / 8] & (0x80 >> (x % 8)) != 0;
            Pixel(Point::new(x as i32, y as i32), BinaryColor::from(on))
        })
    });
    let Ok(()) = display.draw_iter(pixels);
    let Ok(()) = display.flush();
    display
}

/// What a [`StatusScreen`] with message `text` draws.
fn reference_screen(text: &str) -> HostDisplay {
    let mut screen = StatusScreen::new();
    screen.set_message_chars(text.chars());
    let mut display = HostDisplay::new();
    let Ok(()) = screen.draw(&mut display);
    display
}
