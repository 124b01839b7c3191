//! [`Progress`]: whether a `poll` did anything.

/// What a `poll` of [`EchoServer`](crate::server::EchoServer),
/// [`UdpEcho`](crate::server::udp::UdpEcho) or a client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Progress {
    /// Nothing happened: nothing arrived, nothing could be sent, no connection came
    /// or went. A main loop may sleep or wait for an interrupt before polling again.
    Idle,
    /// Something happened: poll again soon, as more may be ready.
    Busy,
}

impl Progress {
    /// Whether something happened.
    pub const fn is_busy(self) -> bool {
        matches!(self, Self::Busy)
    }

    /// Busy if either is: what a loop that polls two parts (a server's TCP and
    /// UDP, a server and a client) made of one round.
    ///
    /// ```
    /// use nal_echo::Progress;
    /// assert_eq!(Progress::Idle.or(Progress::Busy), Progress::Busy);
    /// assert_eq!(Progress::Idle.or(Progress::Idle), Progress::Idle);
    /// ```
    #[must_use]
    pub const fn or(self, other: Self) -> Self {
        Self::from_flag(self.is_busy() || other.is_busy())
    }

    pub(crate) const fn from_flag(busy: bool) -> Self {
        if busy {
            Self::Busy
        } else {
            Self::Idle
        }
    }
}
