//! [`Progress`]: whether a `poll` did anything.

/// What a `poll` of [`EchoServer`](crate::server::EchoServer) or
/// [`PeriodicClient`](crate::client::PeriodicClient) did.
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

    pub(crate) const fn from_flag(busy: bool) -> Self {
        if busy {
            Self::Busy
        } else {
            Self::Idle
        }
    }
}
