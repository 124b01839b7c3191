//! The status screen and what it is drawn on: the text model of the 128x64 panel
//! ([`StatusScreen`]), fitting a line to the panel's width, the monospace and
//! Chinese (`cjk`) fonts, drawing only what changed, and the [`Flush`] trait of
//! buffered displays, and [`PanelInit`], which retries a panel's init. With `sh1106`, a driver for that controller; with `mock`, a
//! [`RecordingDisplay`] for tests.

#[cfg(feature = "cjk")]
mod cjk;
mod fit;
mod flush;
mod half_blocks;
mod layout;
mod mono;
#[cfg(not(feature = "cjk"))]
mod mono_message;
mod panel_init;
#[cfg(feature = "mock")]
mod recording;
#[cfg(feature = "sh1106")]
pub mod sh1106;
mod status_screen;
mod status_view;

pub use flush::{Flush, NoFlush};
pub use half_blocks::HalfBlocks;
pub use panel_init::PanelInit;
#[cfg(feature = "mock")]
pub use recording::{DisplayFault, RecordingDisplay};
pub use status_screen::StatusScreen;
pub(crate) use status_screen::MESSAGE_TAIL;
pub use status_view::{Status, StatusView};
