//! placeholder
/// placeholder
pub struct TextDecoder;
