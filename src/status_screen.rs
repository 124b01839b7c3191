//! placeholder
/// placeholder
pub struct StatusScreen;
