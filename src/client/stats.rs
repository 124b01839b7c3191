//! [`ClientStats`]: what a periodic client has done so far.

use crate::client::backoff::Backoff;
use crate::time::Duration;

/// Counters of a [`PeriodicClient`](crate::client::PeriodicClient) or a
/// [`UdpPeriodicClient`](crate::client::UdpPeriodicClient) (the datagram counters
/// stay 0 over TCP, where a lost, repeated or late echo ends the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientStats {
    /// Connections established.
    pub connects: u32,
    /// Failures: connection attempts that failed or timed out, and connections that
    /// were lost, mismatched or timed out waiting for an echo.
    pub failures: u32,
    /// Messages handed to the stack completely.
    pub sent: u32,
    /// Messages whose echo came back byte for byte.
    pub echoed: u32,
    /// Echoes that differed from what was sent.
    pub mismatches: u32,
    /// Periods in which no message could be sent (not connected, or the previous
    /// message still unsent); they are counted, never sent in a burst later.
    pub missed_ticks: u32,
    /// Bytes handed to the stack.
    pub bytes_sent: u64,
    /// Bytes of echo received.
    pub bytes_received: u64,
    /// Shortest round trip (first byte sent to last byte of echo verified).
    pub rtt_min: Option<Duration>,
    /// Longest round trip.
    pub rtt_max: Option<Duration>,
    /// Sum of all round trips, for the average.
    pub rtt_total: Duration,
    /// Failures in a row since the last successful connection.
    pub consecutive_failures: u32,
    /// UDP: datagrams whose echo did not come within the echo timeout.
    pub lost: u32,
    /// UDP: echoes of a datagram whose echo had already come.
    pub duplicates: u32,
    /// UDP: echoes that came after their datagram was counted lost (also counted
    /// in `lost`).
    pub late: u32,
    /// UDP: errors the stack reported for one send or receive (an ICMP error of an
    /// earlier datagram, for example); the socket stays in use.
    pub errors: u32,
}

impl ClientStats {
    /// Mean round trip, `None` before the first echo.
    pub fn rtt_avg(&self) -> Option<Duration> {
        match self.echoed {
            0 => None,
            n => Some(Duration::from_millis(
                self.rtt_total.total_millis() / u64::from(n),
            )),
        }
    }

    /// Counts a failure and returns the wait before the next attempt: `backoff`'s
    /// delay for the failures in a row, with `random` as its jitter.
    pub(crate) fn record_failure(&mut self, backoff: &Backoff, random: u32) -> Duration {
        self.failures = self.failures.wrapping_add(1);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        backoff.delay(self.consecutive_failures, random)
    }

    pub(crate) fn record_rtt(&mut self, rtt: Duration) {
        self.echoed = self.echoed.wrapping_add(1);
        self.rtt_total = self.rtt_total + rtt;
        self.rtt_min = Some(self.rtt_min.map_or(rtt, |m| m.min(rtt)));
        self.rtt_max = Some(self.rtt_max.map_or(rtt, |m| m.max(rtt)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_min_avg_max() {
        let mut s = ClientStats::default();
        assert_eq!(s.rtt_avg(), None);
        for ms in [30, 10, 20] {
            s.record_rtt(Duration::from_millis(ms));
        }
        assert_eq!(s.rtt_min, Some(Duration::from_millis(10)));
        assert_eq!(s.rtt_max, Some(Duration::from_millis(30)));
        assert_eq!(s.rtt_avg(), Some(Duration::from_millis(20)));
        assert_eq!(s.echoed, 3);
    }
}
