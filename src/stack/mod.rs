//! embedded-nal stacks shipped with the crate.

#[cfg(feature = "mock")]
pub mod mock;

#[cfg(feature = "std")]
pub mod std;

#[cfg(feature = "smoltcp")]
pub mod smoltcp;

#[cfg(feature = "at")]
pub mod at;
