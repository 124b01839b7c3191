//! Received bytes as text: the streaming [`TextDecoder`] (UTF-8 split anywhere,
//! invalid bytes, control characters and escape sequences), and the feed that
//! decodes only as much of each connection's stream as the screen needs.

mod decoder;
pub(crate) mod message_feed;

pub use decoder::TextDecoder;
