//! [`UdpStats`]: what a [`UdpEcho`](crate::server::udp::UdpEcho) has done.

/// Counters of a [`UdpEcho`](crate::server::udp::UdpEcho); they wrap around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct UdpStats {
    /// Datagrams received and queued for their echo.
    pub datagrams_in: u32,
    /// Datagrams echoed (handed to the stack whole).
    pub datagrams_out: u32,
    /// Bytes in the datagrams received and queued.
    pub bytes_in: u64,
    /// Bytes in the datagrams echoed.
    pub bytes_out: u64,
    /// Queued datagrams given up: the stack would not take them within the retry
    /// time, or refused them with an error.
    pub dropped: u32,
    /// Datagrams that filled the whole buffer, so may have been cut by the stack:
    /// never echoed.
    pub too_large: u32,
    /// Datagrams from peers the allowlist does not name: never echoed.
    pub denied: u32,
    /// Errors the stack reported for a receive or a send (an ICMP error of an
    /// earlier datagram, for example).
    pub errors: u32,
}
