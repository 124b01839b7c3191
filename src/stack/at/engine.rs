//! The command state machine behind [`AtStack::poll`]: reading and parsing, the
//! answer to each command, timeouts, choosing and writing the next command.

use core::fmt::Write as _;

use embedded_io::{Read, ReadReady, Write, WriteReady};

use super::error::AtError;
use super::parser::{Event, Reply};
use super::stack::{
    AtStack, Cmd, Link, Pending, Phase, Staging, Step, Transport, RX_BUFFER, RX_DATAGRAMS,
};
use crate::log::trace_event;
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
    /// Reads what is there and acts on it. The second value is true if the port
    /// has nothing more: only then may an answer count as missing.
    pub(super) fn read_in(&mut self, now: Instant) -> (bool, bool) {
        let mut buf = [0u8; READ_CHUNK];
        let mut progress = false;
        for _ in 0..READS_PER_POLL {
            match self.serial.read_ready() {
                Ok(true) => {}
                Ok(false) => return (progress, true),
                Err(_) => {
                    self.count_read_error();
                    return (progress, true);
                }
            }
            let mut limit = self.read_limit();
            if limit == 0 && self.ready == 0 {
                // Confirmed frames fill the buffer while the answer they wait for is
                // behind them: they go without that extra check.
                self.release_held();
                limit = self.read_limit();
            }
            if limit == 0 {
                return (progress, false);
            }
            let chunk = &mut buf[..limit.min(READ_CHUNK)];
            let n = match self.serial.read(chunk) {
                Ok(0) => return (progress, true),
                Ok(n) => n.min(chunk.len()),
                Err(_) => {
                    self.count_read_error();
                    self.bytes_lost();
                    return (true, false);
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

    /// Most bytes to read now. Payload bytes the socket keeps need room in `rx`, so
    /// reads never take more than the free room: then no payload byte is dropped,
    /// whatever a chunk turns out to hold. Outside a payload one byte is always
    /// safe (a payload starts after its header's last byte), which lets a held
    /// frame's confirmation in when `rx` is full.
    fn read_limit(&self) -> usize {
        if !self.link.takes_data() && !self.holds_frames() {
            return READ_CHUNK;
        }
        let room = RX_BUFFER.saturating_sub(self.rx.len());
        let bytes = if self.parser.payload_left() > 0 {
            room
        } else {
            room.max(1)
        };
        bytes.min(self.datagram_slots())
    }

    /// Frames that may end before a UDP socket has no room for their lengths. A
    /// byte ends at most one frame, so reads of no more bytes than this never
    /// find a datagram without a slot.
    fn datagram_slots(&self) -> usize {
        match self.transport {
            Transport::Tcp => usize::MAX,
            Transport::Udp => RX_DATAGRAMS.saturating_sub(self.datagrams.len()),
        }
    }

    /// Before the modem answers `AT`, a read error is its boot log at 74880 baud
    /// (or a restart's): expected, and counted apart.
    fn count_read_error(&mut self) {
        if matches!(self.phase, Phase::Probe) {
            self.boot_noise = self.boot_noise.wrapping_add(1);
        } else {
            self.serial_errors = self.serial_errors.wrapping_add(1);
        }
    }

    /// The port lost bytes (an overrun, a framing error): whatever was being read
    /// cannot be continued.
    fn bytes_lost(&mut self) {
        self.parser.reset();
        if self.link.takes_data() || self.holds_frames() {
            self.framing_error();
        }
        self.staging = Staging::default();
    }

    fn handle(&mut self, event: Event<'_>, now: Instant) {
        match event {
            Event::FrameStart(_) => self.frame_start(),
            Event::Data(data) => self.stage(data),
            Event::FrameEnd => {
                self.staging.open = false;
                self.datagram_end();
                self.staging.framed = self.staging.staged;
                self.release_frames();
            }
            Event::Unknown | Event::Garbled => self.doubt(),
            Event::Prompt => self.on_prompt(),
            Event::Reply(reply) => self.on_reply(reply, now),
        }
    }

    fn frame_start(&mut self) {
        self.staging.open = true;
        self.staging.keep = self.link.takes_data();
        if self.staging.staged == 0 {
            self.staging.awaits = self.pending.map(|p| p.seq);
        }
    }

    fn stage(&mut self, data: &[u8]) {
        if !self.staging.keep {
            return;
        }
        for &byte in data {
            if self.rx.push_back(byte).is_err() {
                // `read_limit` leaves room for every payload byte read.
                self.framing_error();
                return;
            }
            self.staging.staged += 1;
        }
    }

    /// A UDP socket's frame is one datagram: its length goes beside its bytes, so
    /// that `receive` gives it whole and alone.
    fn datagram_end(&mut self) {
        let len = self.staging.staged.saturating_sub(self.staging.framed);
        if self.transport != Transport::Udp || len == 0 {
            return;
        }
        // `read_limit` leaves a slot for every frame that may end, and a frame is at
        // most RX_BUFFER bytes, which a u16 holds.
        let kept = u16::try_from(len)
            .ok()
            .is_some_and(|len| self.datagrams.push_back(len).is_ok());
        if kept {
            self.staging.datagrams += 1;
        } else {
            self.framing_error();
        }
    }

    /// Hands the confirmed frames to `receive` once nothing they wait for is left.
    fn release_frames(&mut self) {
        let waiting = self
            .pending
            .is_some_and(|p| Some(p.seq) == self.staging.awaits);
        if !waiting {
            self.release_held();
        }
    }

    fn release_held(&mut self) {
        if self.staging.framed == 0 {
            return;
        }
        self.ready += self.staging.framed;
        self.staging.staged -= self.staging.framed;
        self.staging.framed = 0;
        self.staging.datagrams = 0;
        self.staging.awaits = None;
    }

    /// Drops the frames held back: their bytes at the back of `rx`, and the
    /// lengths of those that are datagrams.
    fn drop_held(&mut self) {
        for _ in 0..self.staging.staged {
            self.rx.pop_back();
        }
        for _ in 0..self.staging.datagrams {
            self.datagrams.pop_back();
        }
    }

    /// Whether frames of the socket's are being read or held.
    pub(super) fn holds_frames(&self) -> bool {
        self.staging.keep && self.staging.active()
    }

    /// Something the firmware would not send: harmless while no connection is
    /// open, the end of one that is.
    fn doubt(&mut self) {
        if self.link.takes_data() || self.holds_frames() {
            self.framing_error();
        }
    }

    /// Gives the connection up: its held bytes are dropped, and the socket reports
    /// [`AtError::Framing`]; closing it sends CIPCLOSE.
    fn framing_error(&mut self) {
        self.framing_errors = self.framing_errors.wrapping_add(1);
        trace_event!(
            warn,
            "AT framing doubt: connection ended, {} unconfirmed bytes dropped",
            self.staging.staged
        );
        self.resyncing = true;
        self.drop_held();
        self.staging = Staging {
            open: self.staging.open,
            ..Staging::default()
        };
        self.end_link(AtError::Framing, true);
    }

    /// `>`: the data of the CIPSEND in flight goes out, if the modem has said OK
    /// to it; a prompt at any other time is not the modem's.
    fn on_prompt(&mut self) {
        match &mut self.pending {
            Some(Pending {
                cmd:
                    Cmd::Send {
                        acked: true,
                        prompted,
                    },
                ..
            }) if !*prompted => {
                *prompted = true;
                self.data_pos = Some(0);
            }
            _ => self.doubt(),
        }
    }

    fn on_reply(&mut self, reply: Reply, now: Instant) {
        match reply {
            Reply::Ready => self.restart(now),
            // After a doubt, news of the network may be a peer's bytes.
            Reply::WifiDisconnect | Reply::WifiGotIp if self.resyncing => {}
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
            Reply::Status(n) => {
                if let Some(Pending {
                    cmd: Cmd::Check { status },
                    ..
                }) = &mut self.pending
                {
                    *status = Some(n);
                    // 3: a connection is open. Else a CLOSED went into a payload.
                    if n != 3 {
                        self.doubt();
                    }
                }
            }
            Reply::Connect => self.on_connect(),
            Reply::AlreadyConnected => match (self.pending, self.link) {
                // A connection the stack does not know of: whose data would follow
                // is unknown, so it is closed and the client tries again.
                (
                    Some(Pending {
                        cmd: Cmd::Start, ..
                    }),
                    Link::Connecting { sent: true, .. },
                ) => self.link = Link::ended(AtError::ConnectFailed, true),
                _ => self.doubt(),
            },
            Reply::Closed => match self.link {
                Link::Connected { .. } => self.link = Link::ended(AtError::Closed, false),
                Link::Connecting { sent: true, .. } => {
                    self.link = Link::ended(AtError::ConnectFailed, false);
                }
                Link::Closing => self.link = Link::Idle,
                _ => {}
            },
            Reply::Info => {}
            Reply::Ok
            | Reply::Error
            | Reply::Fail
            | Reply::Busy
            | Reply::SendOk
            | Reply::SendFail => self.complete(reply, now),
        }
        self.release_frames();
    }

    /// `CONNECT` answers only the CIPSTART in flight, once.
    fn on_connect(&mut self) {
        let starting = matches!(
            self.pending,
            Some(Pending {
                cmd: Cmd::Start,
                ..
            })
        );
        match &mut self.link {
            Link::Connecting {
                sent: true,
                connect_seen,
                ..
            } if starting && !*connect_seen => *connect_seen = true,
            _ => self.doubt(),
        }
    }

    /// A final answer to the pending command. Without one it answers nothing: a
    /// late answer to a command that timed out, or payload read as lines.
    fn complete(&mut self, reply: Reply, now: Instant) {
        let Some(pending) = self.pending.take() else {
            self.doubt();
            return;
        };
        match pending.cmd {
            Cmd::Probe if reply == Reply::Ok => self.phase = Phase::Setup(Step::EchoOff),
            Cmd::Probe => self.hold(now, PROBE_INTERVAL),
            Cmd::Setup(step) => self.step_done(step, reply, now),
            Cmd::Start => self.start_done(reply, now),
            Cmd::Send { acked, prompted } => self.send_answer(pending, reply, now, acked, prompted),
            Cmd::Close if reply == Reply::Busy => self.hold(now, BUSY_WAIT),
            Cmd::Close => {
                self.stray_link = false;
                if self.link == Link::Closing {
                    self.link = Link::Idle;
                }
            }
            Cmd::Check { status } if self.resyncing => match (reply, status) {
                (Reply::Ok, Some(3)) => self.stray_link = true,
                (Reply::Ok, Some(_)) => self.resyncing = false,
                _ => self.hold(now, BUSY_WAIT),
            },
            Cmd::Check { status } => match reply {
                Reply::Busy => self.hold(now, BUSY_WAIT),
                // The modem still holds the connection: no CLOSED went into a payload.
                Reply::Ok if status == Some(3) || !self.link.takes_data() => {}
                _ => self.doubt(),
            },
            Cmd::Stale => {}
        }
    }

    fn start_done(&mut self, reply: Reply, now: Instant) {
        let Link::Connecting {
            remote,
            connect_seen,
            ..
        } = self.link
        else {
            // Closed by the application meanwhile (CIPCLOSE is sent next), or given
            // up after ALREADY CONNECTED.
            return;
        };
        match (reply, connect_seen) {
            (Reply::Ok, true) => self.link = Link::Connected { remote },
            (Reply::Busy, false) => {
                self.link = Link::Connecting {
                    remote,
                    sent: false,
                    connect_seen: false,
                };
                self.hold(now, BUSY_WAIT);
            }
            (Reply::Error | Reply::Fail, false) => {
                self.link = Link::ended(AtError::ConnectFailed, false);
            }
            // OK without CONNECT, or CONNECT and then no OK: one of them was not the
            // modem's answer, so whether it holds a connection is unknown.
            _ => {
                self.framing_errors = self.framing_errors.wrapping_add(1);
                self.link = Link::ended(AtError::ConnectFailed, true);
            }
        }
    }

    fn send_answer(
        &mut self,
        pending: Pending,
        reply: Reply,
        now: Instant,
        acked: bool,
        prompted: bool,
    ) {
        match reply {
            // OK only acknowledges CIPSEND; the prompt, the data and SEND OK follow.
            Reply::Ok if !acked => {
                self.pending = Some(Pending {
                    cmd: Cmd::Send {
                        acked: true,
                        prompted,
                    },
                    ..pending
                });
            }
            // After its prompt the modem reads exactly the bytes announced and prints
            // nothing before it has them all: a reply until then is not its own, and
            // the bytes must still go out, or it would take the next command for them.
            _ if prompted && !self.data_written() => {
                self.pending = Some(pending);
                self.doubt();
            }
            Reply::SendOk if prompted => self.sent(),
            // Not run: the bytes are still in `tx`, and CIPSEND goes out again.
            Reply::Busy if !prompted => self.hold(now, BUSY_WAIT),
            // A second OK, or SEND OK before the data: not the modem's answers. The
            // send goes on (the modem waits for its data), the connection does not.
            Reply::Ok | Reply::SendOk => {
                self.pending = Some(pending);
                self.doubt();
            }
            _ => {
                self.sent();
                self.end_link(AtError::Modem, true);
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
        if self.out_pos > 0 && self.out_pos < self.out.len() {
            // Cut off mid-line, the command would run into the next one.
            self.pending = Some(Pending {
                cmd: Cmd::Stale,
                deadline: now + self.config.command_timeout,
                seq: self.next_seq(),
            });
        } else {
            self.out.clear();
            self.out_pos = 0;
        }
        if self.staging.active() && self.staging.awaits == Some(pending.seq) {
            // Its answer never came after the held frames: it may have been read as
            // their payload.
            self.framing_error();
        }
        match pending.cmd {
            Cmd::Probe | Cmd::Stale => {}
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
            Cmd::Check { .. } => self.doubt(),
        }
        self.release_frames();
        true
    }

    fn next_seq(&mut self) -> u32 {
        self.commands_issued = self.commands_issued.wrapping_add(1);
        self.commands_issued
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
            _ if self.stray_link => Some(Cmd::Close),
            // After a doubt, and once the application closed that connection: the
            // rest of its garbled frame has passed when the modem says that no
            // connection is left.
            Link::Idle | Link::Connecting { sent: false, .. } if self.resyncing => {
                Some(Cmd::Check { status: None })
            }
            Link::Connecting { sent: false, .. } if self.lost_since.is_some() => {
                self.link = Link::ended(AtError::NotJoined, false);
                None
            }
            Link::Connecting { sent: false, .. } => Some(Cmd::Start),
            // Held frames whose confirmation nothing else will bring.
            _ if self.holds_frames() => Some(Cmd::Check { status: None }),
            Link::Connected { .. } if !self.tx.is_empty() => Some(Cmd::Send {
                acked: false,
                prompted: false,
            }),
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
                Link::Connecting { remote, sent, .. } => {
                    *sent = true;
                    let transport = match self.transport {
                        Transport::Tcp => "TCP",
                        Transport::Udp => "UDP",
                    };
                    write!(
                        out,
                        "AT+CIPSTART=\"{transport}\",\"{}\",{}",
                        remote.ip(),
                        remote.port()
                    )
                }
                _ => Err(core::fmt::Error),
            },
            Cmd::Send { .. } => write!(out, "AT+CIPSEND={}", self.tx.len()),
            Cmd::Check { .. } => out.write_str("AT+CIPSTATUS"),
            // Never issued: only a timed-out command becomes stale.
            Cmd::Stale => Err(core::fmt::Error),
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
        let seq = self.next_seq();
        if matches!(cmd, Cmd::Check { .. }) {
            self.staging.awaits = Some(seq);
        }
        self.pending = Some(Pending {
            cmd,
            deadline: now + timeout,
            seq,
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

    /// Whether the port has taken every byte of the prompted send.
    fn data_written(&self) -> bool {
        self.data_pos.is_some_and(|pos| pos >= self.tx.len())
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
        // Held frames wait for answers the modem forgot.
        self.drop_held();
        self.staging = Staging::default();
        self.pending = None;
        self.out.clear();
        self.out_pos = 0;
        self.sent();
        self.phase = Phase::Probe;
        self.lost_since = None;
        self.hold_until = now;
        self.end_link(AtError::ModemReset, false);
        match self.link {
            Link::Closing => self.link = Link::Idle,
            // The modem holds no connection any more: nothing to close.
            Link::Ended { error, open: true } => self.link = Link::ended(error, false),
            _ => {}
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
