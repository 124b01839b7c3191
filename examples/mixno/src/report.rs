//! What the firmware prints on the console: Wi-Fi changes, client errors (each new
//! one once), receive and framing errors on the modem's line, and a stats line after each verified echo and at least once a second:
//!
//! `sent N echoed N mismatches N missed N failures N rtt min/avg/max a/b/c ms`

use nal_echo::stack::at::{AtError, WifiState};
use nal_echo::{ClientError, ClientStats, Duration, Instant, Progress};

use crate::println;

/// How often the stats line is printed when no echo comes.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// The AT stack's counts of trouble on the modem's line.
pub struct LineErrors {
    /// Read and write errors of UART2 once the modem has answered.
    pub serial: u32,
    /// Connections given up for garbled `+IPD` framing.
    pub framing: u32,
    /// Read errors before the modem answered `AT` (its boot log).
    pub boot_noise: u32,
}

/// Remembers what was printed last, to print only what changed.
pub struct Reporter {
    wifi: Option<WifiState>,
    last_error: Option<ClientError<AtError>>,
    serial_errors: u32,
    framing_errors: u32,
    boot_noise: u32,
    echoed: u32,
    printed_at: Instant,
}

impl Reporter {
    /// Nothing printed yet.
    pub fn new(now: Instant) -> Self {
        Self {
            wifi: None,
            last_error: None,
            serial_errors: 0,
            framing_errors: 0,
            boot_noise: 0,
            echoed: 0,
            printed_at: now,
        }
    }

    /// The result of a client poll: a new kind of error is printed once (the client
    /// has already closed the connection and retries after its backoff).
    pub fn client_result(&mut self, result: Result<Progress, ClientError<AtError>>) {
        if let Err(e) = result {
            if self.last_error != Some(e) {
                println!("client: {e}");
            }
            self.last_error = Some(e);
        }
    }

    /// Prints what changed: the modem's Wi-Fi state at once; the stats line (and the
    /// serial and framing error counts, if they grew) when an echo came or a second
    /// went by.
    pub fn update(
        &mut self,
        now: Instant,
        wifi: WifiState,
        LineErrors {
            serial: serial_errors,
            framing: framing_errors,
            boot_noise,
        }: LineErrors,
        stats: &ClientStats,
    ) {
        if self.wifi != Some(wifi) {
            self.wifi = Some(wifi);
            match wifi {
                WifiState::Resetting => println!("wifi: starting the ESP8285"),
                WifiState::Joining => println!("wifi: joining"),
                WifiState::Connected(ip) => println!("wifi: joined, address {ip}"),
                WifiState::Failed => println!("wifi: setup or join failed, retrying"),
            }
        }
        if stats.echoed != self.echoed || now - self.printed_at >= STATS_EVERY {
            self.echoed = stats.echoed;
            self.printed_at = now;
            // With the stats only, so that a burst of errors costs one line, not
            // one per error. The boot log's are expected: said, not as a failure.
            if boot_noise != self.boot_noise {
                self.boot_noise = boot_noise;
                println!(
                    "uart2: {boot_noise} receive errors while the modem booted (its log is at 74880 baud): expected"
                );
            }
            if serial_errors != self.serial_errors {
                self.serial_errors = serial_errors;
                println!("uart2: {serial_errors} receive errors so far");
            }
            if framing_errors != self.framing_errors {
                self.framing_errors = framing_errors;
                println!(
                    "modem: {framing_errors} connections dropped for garbled +IPD framing so far"
                );
            }
            print_stats(stats);
        }
    }
}

fn print_stats(s: &ClientStats) {
    crate::print!(
        "sent {} echoed {} mismatches {} missed {} failures {} rtt min/avg/max ",
        s.sent,
        s.echoed,
        s.mismatches,
        s.missed_ticks,
        s.failures
    );
    match (s.rtt_min, s.rtt_avg(), s.rtt_max) {
        (Some(min), Some(avg), Some(max)) => println!(
            "{}/{}/{} ms",
            min.total_millis(),
            avg.total_millis(),
            max.total_millis()
        ),
        _ => println!("-/-/- ms"),
    }
}
