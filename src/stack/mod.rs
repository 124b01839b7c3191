//! embedded-nal stacks shipped with the crate, and [`LocalAddr`] and [`UdpLocalAddr`], which they
//! implement.

pub(crate) mod local_addr;

pub use local_addr::{LocalAddr, UdpLocalAddr};

#[cfg(feature = "mock")]
pub mod mock;

#[cfg(feature = "std")]
pub mod std;

#[cfg(feature = "smoltcp")]
pub mod smoltcp;

#[cfg(feature = "at")]
pub mod at;
