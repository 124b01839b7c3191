//! The command state machine behind [`AtStack::poll`]: reading and parsing, the
//! answer to each command, timeouts, choosing and writing the next command.

use core::fmt::Write as _;

use embedded_io::{Read, ReadReady, Write, WriteReady};

use super::parser::{Event, Reply};
use super::{AtError, AtStack, Cmd, Link, Pending, Phase, Step, RX_BUFFER};
use crate::time::{Clock, Duration, Instant};

/// Bytes per serial read.
const READ_CHUNK: usize = 64;
/// Reads per poll; bounded so that a talkative modem cannot hold `poll`.
const READS_PER_POLL: usize = 8;
/// Writes per poll, for ports that take a few bytes per call.
const WRITES_PER_POLL: usize = 8;
/// Time between two `AT` while the modem does not answer (booting, or not there).
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Wait before sending a command the modem answered `busy` to.
const BUSY_WAIT: Duration = Duration::from_millis(500);

impl<S, C> AtStack<S, C>
where
    S: Read + Write + ReadReady + WriteReady,
    C: Clock,
{
    /// Reads what is there and acts on it. The second value is true if reading
    /// stopped because the receive buffer is full.
    pub(super) fn read_in(&mut self, now: Instant) -> (bool, bool) {
        let mut buf = [0u8; READ_CHUNK];
        let mut progress = false;
        for _ in 0..READS_PER_POLL {
            match self.serial.read_ready() {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => {
                    self.serial_errors = self.serial_errors.wrapping_add(1);
                    break;
                }
            }
            // Never read more than the payload buffer can take: then no payload byte
            // is ever dropped, whatever the chunk turns out to hold.
            let room = if self.link.takes_data() {
                RX_BUFFER - self.rx.len()
            } else {
                READ_CHUNK
            };
            if room == 0 {
                return (progress, true);
            }
            let chunk = &mut buf[..room.min(READ_CHUNK)];
            let n = match self.serial.read(chunk) {
                Ok(0) => break,
                Ok(n) => n.min(chunk.len()),
                Err(_) => {
                    self.serial_errors = self.serial_errors.wrapping_add(1);
                    break;
                }
            };
            progress = true;
            let mut input = &chunk[..n];
            while let Some(event) = self.parser.next_event(&mut input) {
                self.handle(event, now);
            }
        }
        (progress, false)
    }

    fn handle(&mut self, event: Event<'_>, now: Instant) {
        match event {
            Event::Data(data) => {
                if self.link.takes_data() {
                    for &byte in data {
                        // Cannot fail: `read_in` read at most the free room.
                        let _ = self.rx.push_back(byte);
                    }
                }
            }
            Event::Prompt => {
                if let Some(Pending {
                    cmd: Cmd::Send { prompted },
                    ..
                }) = &mut self.pending
                {
                    if !*prompted {
                        *prompted = true;
                        self.data_pos = Some(0);
                    }
                }
            }
            Event::Reply(reply) => self.on_reply(reply, now),
        }
    }

    fn on_reply(&mut self, reply: Reply, now: Instant) {
        match reply {
            Reply::Ready => self.restart(now),
            Reply::WifiDisconnect => {
                if self.past_join() && self.lost_since.is_none() {
                    self.lost_since = Some(now);
                }
            }
            Reply::WifiGotIp => {
                if self.past_join()
                    && self.lost_since.take().is_some()
                    && self.phase == Phase::Ready
                {
                    // A new lease may have brought a new address.
                    self.phase = Phase::Setup(Step::QueryIp);
                }
            }
            Reply::StaIp(ip) => {
                if let Some(Pending {
                    cmd: Cmd::Setup(Step::QueryIp),
                    ..
                }) = self.pending
                {
                    self.ip = ip;
                }
            }
            Reply::Connect | Reply::AlreadyConnected => {
                if let Link::Connecting { remote, sent: true } = self.link {
                    self.link = Link::Connected { remote };
                }
            }
            Reply::Closed => match self.link {
                Link::Connected { .. } => self.link = Link::ended(AtError::Closed, false),
                Link::Connecting { sent: true, .. } => {
                    self.link = Link::ended(AtError::ConnectFailed, false);
                }
                Link::Closing => self.link = Link::Idle,
                _ => {}
            },
            Reply::Ok
            | Reply::Error
            | Reply::Fail
            | Reply::Busy
            | Reply::SendOk
            | Reply::SendFail => self.complete(reply, now),
        }
    }

    /// A final answer to the pending command (without one, a late answer to a
    /// command that timed out: nothing waits for it).
    fn complete(&mut self, reply: Reply, now: Instant) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        match pending.cmd {
            Cmd::Probe if reply == Reply::Ok => self.phase = Phase::Setup(Step::EchoOff),
            Cmd::Probe => self.hold(now, PROBE_INTERVAL),
            Cmd::Setup(step) => self.step_done(step, reply, now),
            Cmd::Start => match (reply, self.link) {
                (Reply::Busy, Link::Connecting { remote, .. }) => {
                    self.link = Link::Connecting {
                        remote,
                        sent: false,
                    };
                    self.hold(now, BUSY_WAIT);
                }
                // Firmware that prints no CONNECT before its OK.
                (Reply::Ok, Link::Connecting { remote, .. }) => {
                    self.link = Link::Connected { remote };
                }
                (_, Link::Connecting { .. }) => {
                    self.link = Link::ended(AtError::ConnectFailed, false);
                }
                // Connected already (ERROR follows ALREADY CONNECTED), or closed by
                // the application meanwhile: CIPCLOSE is sent next either way.
                _ => {}
            },
            Cmd::Send { prompted } => match reply {
                // OK only acknowledges CIPSEND; the prompt, the data and SEND OK follow.
                Reply::Ok => self.pending = Some(pending),
                Reply::SendOk => self.sent(),
                // Not run: the bytes are still in `tx`, and CIPSEND goes out again.
                Reply::Busy if !prompted => self.hold(now, BUSY_WAIT),
                _ => {
                    self.sent();
                    self.end_link(AtError::Modem, true);
                }
            },
            Cmd::Close if reply == Reply::Busy => self.hold(now, BUSY_WAIT),
            Cmd::Close => {
                if self.link == Link::Closing {
                    self.link = Link::Idle;
                }
            }
        }
    }

    fn step_done(&mut self, step: Step, reply: Reply, now: Instant) {
        if self.phase != Phase::Setup(step) {
            return;
        }
        match (step, reply) {
            (_, Reply::Busy) => self.hold(now, BUSY_WAIT),
            // ERROR to CIPCLOSE means nothing was open; without an address the
            // stack still works.
            (Step::CloseStale | Step::QueryIp, _) | (_, Reply::Ok) => self.next_step(step),
            _ => self.fail(now),
        }
    }

    /// Past the join, where losing the network matters (during it, CWJAP itself
    /// disconnects first).
    fn past_join(&self) -> bool {
        matches!(
            self.phase,
            Phase::Ready | Phase::Setup(Step::CloseStale | Step::SingleLink | Step::QueryIp)
        )
    }

    fn next_step(&mut self, step: Step) {
        self.phase = step.next().map_or(Phase::Ready, Phase::Setup);
    }

    /// Gives up on the pending command if its time is over.
    pub(super) fn check_timeout(&mut self, now: Instant) -> bool {
        let Some(pending) = self.pending.filter(|p| now >= p.deadline) else {
            return false;
        };
        self.pending = None;
        // A command the port never fully took must not run into the next one.
        self.out.clear();
        self.out_pos = 0;
        match pending.cmd {
            Cmd::Probe => {}
            Cmd::Setup(step @ (Step::CloseStale | Step::QueryIp)) => {
                if self.phase == Phase::Setup(step) {
                    self.next_step(step);
                }
            }
            Cmd::Setup(_) => self.fail(now),
            Cmd::Start => {
                if let Link::Connecting { .. } = self.link {
                    self.link = Link::ended(AtError::Timeout, true);
                }
            }
            Cmd::Send { .. } => {
                self.sent();
                self.end_link(AtError::Timeout, true);
            }
            Cmd::Close => {
                if self.link == Link::Closing {
                    self.link = Link::Idle;
                }
            }
        }
        true
    }

    /// Sends the next command, if the line is free and one is due.
    pub(super) fn schedule(&mut self, now: Instant) -> bool {
        if self.pending.is_some() || !self.out.is_empty() || now < self.hold_until {
            return false;
        }
        if let Phase::Failed { retry_at } = self.phase {
            if now < retry_at {
                return false;
            }
            self.phase = Phase::Probe;
        }
        let cmd = match self.phase {
            Phase::Probe => Cmd::Probe,
            Phase::Setup(step) => Cmd::Setup(step),
            Phase::Ready => match self.link_command(now) {
                Some(cmd) => cmd,
                None => return false,
            },
            Phase::Failed { .. } => return false,
        };
        self.issue(now, cmd)
    }

    /// What the connection needs next, once set up.
    fn link_command(&mut self, now: Instant) -> Option<Cmd> {
        if let Some(since) = self.lost_since {
            if now - since >= self.config.join_timeout {
                // The firmware did not rejoin by itself.
                self.lost_since = None;
                self.end_link(AtError::NotJoined, true);
                self.phase = Phase::Setup(Step::Join);
                return Some(Cmd::Setup(Step::Join));
            }
        }
        match self.link {
            Link::Closing => Some(Cmd::Close),
            Link::Connecting { sent: false, .. } if self.lost_since.is_some() => {
                self.link = Link::ended(AtError::NotJoined, false);
                None
            }
            Link::Connecting { sent: false, .. } => Some(Cmd::Start),
            Link::Connected { .. } if !self.tx.is_empty() => Some(Cmd::Send { prompted: false }),
            _ => None,
        }
    }

    /// Puts `cmd` in the output and waits for its answer.
    fn issue(&mut self, now: Instant, cmd: Cmd) -> bool {
        self.out.clear();
        self.out_pos = 0;
        let out = &mut self.out;
        let written = match cmd {
            Cmd::Probe => out.write_str("AT"),
            Cmd::Setup(Step::EchoOff) => out.write_str("ATE0"),
            Cmd::Setup(Step::StationMode) => out.write_str("AT+CWMODE=1"),
            Cmd::Setup(Step::Join) => out
                .write_str("AT+CWJAP=\"")
                .and_then(|()| escaped(out, &self.config.ssid))
                .and_then(|()| out.write_str("\",\""))
                .and_then(|()| escaped(out, &self.config.password))
                .and_then(|()| out.write_str("\"")),
            Cmd::Setup(Step::CloseStale) | Cmd::Close => out.write_str("AT+CIPCLOSE"),
            Cmd::Setup(Step::SingleLink) => out.write_str("AT+CIPMUX=0"),
            Cmd::Setup(Step::QueryIp) => out.write_str("AT+CIFSR"),
            Cmd::Start => match &mut self.link {
                Link::Connecting { remote, sent } => {
                    *sent = true;
                    write!(
                        out,
                        "AT+CIPSTART=\"TCP\",\"{}\",{}",
                        remote.ip(),
                        remote.port()
                    )
                }
                _ => Err(core::fmt::Error),
            },
            Cmd::Send { .. } => write!(out, "AT+CIPSEND={}", self.tx.len()),
        }
        .and_then(|()| out.write_str("\r\n"));
        if written.is_err() {
            // OUT_CAP holds the longest command, so only a broken invariant gets here;
            // sending half a command would be worse than sending none.
            self.out.clear();
            return false;
        }
        let timeout = match cmd {
            Cmd::Probe => PROBE_INTERVAL,
            Cmd::Setup(Step::Join) => self.config.join_timeout,
            _ => self.config.command_timeout,
        };
        self.pending = Some(Pending {
            cmd,
            deadline: now + timeout,
        });
        true
    }

    /// Writes what the port takes now: the command, then the data of a prompted send.
    pub(super) fn write_out(&mut self) -> bool {
        let mut progress = false;
        for _ in 0..WRITES_PER_POLL {
            let command = self.out_pos < self.out.len();
            let bytes = if command {
                self.out.get(self.out_pos..)
            } else {
                self.data_pos.and_then(|p| self.tx.get(p..))
            };
            let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
                break;
            };
            match self.serial.write_ready() {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => {
                    self.serial_errors = self.serial_errors.wrapping_add(1);
                    break;
                }
            }
            let n = match self.serial.write(bytes) {
                Ok(0) => break,
                Ok(n) => n.min(bytes.len()),
                Err(_) => {
                    self.serial_errors = self.serial_errors.wrapping_add(1);
                    break;
                }
            };
            progress = true;
            if command {
                self.out_pos += n;
            } else if let Some(pos) = &mut self.data_pos {
                *pos += n;
            }
        }
        if !self.out.is_empty() && self.out_pos >= self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        progress
    }

    fn hold(&mut self, now: Instant, wait: Duration) {
        self.hold_until = now + wait;
    }

    /// The send in flight is over, whichever way.
    fn sent(&mut self) {
        self.tx.clear();
        self.data_pos = None;
    }

    /// Ends a connection in progress or open; a closed or closing one stays so.
    fn end_link(&mut self, error: AtError, open: bool) {
        if let Link::Connecting { .. } | Link::Connected { .. } = self.link {
            self.link = Link::ended(error, open);
        }
    }

    /// Setup or joining failed: start over after the retry delay.
    fn fail(&mut self, now: Instant) {
        self.phase = Phase::Failed {
            retry_at: now + self.config.retry_delay,
        };
        self.lost_since = None;
        self.end_link(AtError::WifiFailed, true);
    }

    /// The modem restarted (`ready`): it lost its connection and settings, and
    /// forgot the command it was running.
    fn restart(&mut self, now: Instant) {
        self.pending = None;
        self.out.clear();
        self.out_pos = 0;
        self.sent();
        self.phase = Phase::Probe;
        self.lost_since = None;
        self.hold_until = now;
        self.end_link(AtError::ModemReset, false);
        if self.link == Link::Closing {
            self.link = Link::Idle;
        }
    }
}

impl Link {
    fn ended(error: AtError, open: bool) -> Self {
        Link::Ended { error, open }
    }
}

/// Writes `text` with the characters AT+CWJAP needs escaped (`"` `,` `\`).
fn escaped<W: core::fmt::Write>(out: &mut W, text: &str) -> core::fmt::Result {
    for c in text.chars() {
        if matches!(c, '"' | ',' | '\\') {
            out.write_char('\\')?;
        }
        out.write_char(c)?;
    }
    Ok(())
}
