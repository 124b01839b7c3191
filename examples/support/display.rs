//! [`HostDisplay`]: the OLED of the host examples, and its PNG output.

use std::convert::Infallible;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Pixel, Point, Size};
use embedded_graphics_simulator::{BinaryColorTheme, OutputSettingsBuilder, SimulatorDisplay};
use nal_echo::Flush;

/// Width of the panel in pixels.
pub const WIDTH: u32 = 128;
/// Height of the panel in pixels.
pub const HEIGHT: u32 = 64;

/// A 128x64 monochrome display like a buffered SSD1306: drawing goes into a working
/// buffer and [`Flush::flush`] copies it onto the "glass" (what a person would see)
/// and counts a new frame, so a program knows when to show it again.
#[derive(Clone)]
pub struct HostDisplay {
    work: SimulatorDisplay<BinaryColor>,
    glass: SimulatorDisplay<BinaryColor>,
    frames: u64,
}

impl HostDisplay {
    /// A blank display.
    pub fn new() -> Self {
        let blank = SimulatorDisplay::new(Size::new(WIDTH, HEIGHT));
        Self {
            work: blank.clone(),
            glass: blank,
            frames: 0,
        }
    }

    /// Flushes so far; it changes whenever the glass may have changed.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Whether the pixel at (`x`, `y`) is lit on the glass (off outside the panel).
    pub fn lit(&self, x: u32, y: u32) -> bool {
        x < WIDTH && y < HEIGHT && self.glass.get_pixel(Point::new(x as i32, y as i32)).is_on()
    }

    /// A copy of the glass.
    pub fn glass(&self) -> SimulatorDisplay<BinaryColor> {
        self.glass.clone()
    }
}

/// Write `frame` as a PNG: 4x scale, a 1-pixel gap between pixels and the colours of
/// a white OLED. The file is written as `PATH.tmp` first and then renamed, so a
/// reader never sees half a file.
pub fn save_png(frame: &SimulatorDisplay<BinaryColor>, path: &Path) -> io::Result<()> {
    let settings = OutputSettingsBuilder::new()
        .theme(BinaryColorTheme::OledWhite)
        .scale(4)
        .pixel_spacing(1)
        .build();
    let mut tmp = OsString::from(path.as_os_str());
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    frame
        .to_rgb_output_image(&settings)
        .save_png(&tmp)
        .map_err(io::Error::other)?;
    std::fs::rename(&tmp, path)
}

impl Default for HostDisplay {
    fn default() -> Self {
        Self::new()
    }
}

impl OriginDimensions for HostDisplay {
    fn size(&self) -> Size {
        Size::new(WIDTH, HEIGHT)
    }
}

impl DrawTarget for HostDisplay {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<BinaryColor>>,
    {
        // The simulator ignores pixels outside the panel.
        self.work.draw_iter(pixels)
    }
}

impl Flush for HostDisplay {
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.glass.clone_from(&self.work);
        self.frames += 1;
        Ok(())
    }
}

/// Writes PNGs of a display after redraws, on a thread of its own: encoding takes
/// tens of milliseconds (more in a debug build), which the poll loop must not wait
/// for. When frames come faster than they are written, only the newest is written.
/// Dropping the writer waits until the last frame is on disk.
pub struct PngWriter {
    frames: Option<Sender<SimulatorDisplay<BinaryColor>>>,
    worker: Option<JoinHandle<()>>,
    sent: u64,
}

impl PngWriter {
    /// Writes to `path`. A failure is printed on stderr, once until a write succeeds.
    pub fn new(path: PathBuf) -> Self {
        let (frames, queue) = mpsc::channel::<SimulatorDisplay<BinaryColor>>();
        let worker = std::thread::spawn(move || {
            let mut failed = false;
            while let Ok(mut frame) = queue.recv() {
                while let Ok(newer) = queue.try_recv() {
                    frame = newer;
                }
                match save_png(&frame, &path) {
                    Ok(()) => failed = false,
                    Err(e) if !failed => {
                        failed = true;
                        eprintln!("error: cannot write {}: {e}", path.display());
                    }
                    Err(_) => {}
                }
            }
        });
        Self {
            frames: Some(frames),
            worker: Some(worker),
            sent: 0,
        }
    }

    /// Hand the glass to the writer if a frame was flushed since the last call.
    pub fn update(&mut self, display: &HostDisplay) {
        if display.frames() == self.sent {
            return;
        }
        self.sent = display.frames();
        if let Some(frames) = &self.frames {
            let _ = frames.send(display.glass());
        }
    }
}

impl Drop for PngWriter {
    fn drop(&mut self) {
        drop(self.frames.take()); // ends the worker's loop once the queue is empty
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
