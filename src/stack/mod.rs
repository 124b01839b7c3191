//! embedded-nal stacks shipped with the crate.

#[cfg(feature = "mock")]
pub mod mock;
