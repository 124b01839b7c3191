//! [`ServerStats`]: what the echo server has done so far.

/// Counters of an [`EchoServer`](crate::server::EchoServer). They only grow (except `active`),
/// and wrap rather than panic after 2^32 events or 2^64 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerStats {
    /// Connections accepted into a slot.
    pub accepted: u32,
    /// Connections closed at once because every slot was busy.
    pub rejected: u32,
    /// Connections closed at once because the peer is not on the allowlist.
    pub denied: u32,
    /// Connections ended because they were idle for longer than the idle timeout.
    pub evicted: u32,
    /// Connections in a slot right now.
    pub active: u32,
    /// Bytes received from all peers.
    pub bytes_in: u64,
    /// Bytes echoed back (handed to the stack).
    pub bytes_out: u64,
    /// Receives that returned data.
    pub receives: u32,
    /// Errors: stack-wide failures and connections ended by an error (not by an
    /// orderly close).
    pub errors: u32,
    /// Failed draws or flushes of the status screen.
    pub display_errors: u32,
}
