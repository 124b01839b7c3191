//! The std stack (placeholder while it is written).
