use core::net::{Ipv4Addr, SocketAddrV4};

use embedded_io::{Read, ReadReady, Write, WriteReady};
use heapless::{Deque, Vec};

use crate::stack::at::config::{AtConfig, PASSWORD_CAP, SSID_CAP};
use crate::stack::at::error::AtError;
use crate::stack::at::parser::Parser;
use crate::time::{Clock, Instant};

/// Bytes received and not yet read by `receive`, together with the frames still
/// waiting for their confirmation; also the largest `+IPD` taken (a frame is held
/// whole until confirmed). Room for a full TCP segment (1460 bytes) behind some
/// unread data.
pub const RX_BUFFER: usize = 2048;
/// Most bytes one `send` takes (one `AT+CIPSEND`); also the largest datagram a UDP
/// socket sends.
pub const SEND_CHUNK: usize = 256;
/// Most datagrams a UDP socket holds, unread or waiting for their confirmation
/// (their bytes share [`RX_BUFFER`]); while that many wait, the stack stops
/// reading the serial line.
pub const RX_DATAGRAMS: usize = 64;
// A datagram's length is kept in a u16.
const _: () = assert!(RX_BUFFER <= u16::MAX as usize);
/// Room for the longest command, `AT+CWJAP` with every SSID and password byte
/// escaped.
const OUT_CAP: usize = 256;
const _: () = assert!(OUT_CAP >= "AT+CWJAP=\"\",\"\"\r\n".len() + 2 * (SSID_CAP + PASSWORD_CAP));

/// Where the modem is with the Wi-Fi network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WifiState {
    /// Waiting for the modem to answer, or setting it up.
    Resetting,
    /// Joining the network, or waiting for the modem to rejoin it.
    Joining,
    /// Joined, with this address (`0.0.0.0` if the modem did not say).
    Connected(Ipv4Addr),
    /// Setup or joining failed; it starts over after
    /// [`AtConfig::retry_delay`].
    Failed,
}

// By hand: defmt formats `Ipv4Addr` only with its `ip_in_core` feature, which this
// crate does not ask for.
#[cfg(feature = "defmt")]
impl defmt::Format for WifiState {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            WifiState::Resetting => defmt::write!(f, "Resetting"),
            WifiState::Joining => defmt::write!(f, "Joining"),
            WifiState::Connected(ip) => {
                let [a, b, c, d] = ip.octets();
                defmt::write!(f, "Connected({}.{}.{}.{})", a, b, c, d);
            }
            WifiState::Failed => defmt::write!(f, "Failed"),
        }
    }
}

/// The TCP socket of an [`AtStack`]: the modem's single connection.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AtSocket {
    pub(super) id: u32,
}

/// The UDP socket of an [`AtStack`]: the modem's single connection, as a UDP link
/// (see "UDP" in the [module](crate::stack::at) documentation).
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AtUdpSocket {
    pub(super) id: u32,
}

/// What the socket handed out carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Tcp,
    /// Each `+IPD` frame is a datagram, delivered whole.
    Udp,
}

/// A TCP and UDP client stack over an AT modem; see the [module](crate::stack::at)
/// documentation.
///
/// `S` is the serial port to the modem, `C` the clock that times the modem's
/// answers.
pub struct AtStack<S, C> {
    pub(super) serial: S,
    pub(super) clock: C,
    pub(super) config: AtConfig,
    pub(super) parser: Parser,
    pub(super) phase: Phase,
    /// The command whose answer is awaited; one at a time.
    pub(super) pending: Option<Pending>,
    /// No command is sent before this (after `busy`, between probes).
    pub(super) hold_until: Instant,
    /// The command being written, and how much of it the port took.
    pub(super) out: Vec<u8, OUT_CAP>,
    pub(super) out_pos: usize,
    pub(super) link: Link,
    /// The socket handed out, if any, and what it carries (the last one's while
    /// none is out).
    pub(super) socket: Option<u32>,
    pub(super) transport: Transport,
    pub(super) sockets_made: u32,
    /// Received payload: the first `ready` bytes for `receive`, then the
    /// `staging.staged` bytes of frames not confirmed yet.
    pub(super) rx: Deque<u8, RX_BUFFER>,
    pub(super) ready: usize,
    pub(super) staging: Staging,
    /// A UDP socket's datagram boundaries: the length of each whole frame in `rx`,
    /// in order, those of `ready` first and then the `staging.datagrams` held ones.
    pub(super) datagrams: Deque<u16, RX_DATAGRAMS>,
    /// The remote of the UDP socket's link, reported as every datagram's sender.
    pub(super) peer: SocketAddrV4,
    /// Bytes `send` took and the modem has not confirmed (`SEND OK`) yet.
    pub(super) tx: Vec<u8, SEND_CHUNK>,
    /// How much of `tx` has gone to the port since the prompt.
    pub(super) data_pos: Option<usize>,
    pub(super) ip: Ipv4Addr,
    /// When the modem reported `WIFI DISCONNECT` while set up.
    pub(super) lost_since: Option<Instant>,
    pub(super) serial_errors: u32,
    /// Read errors while the modem had not answered `AT` yet.
    pub(super) boot_noise: u32,
    pub(super) framing_errors: u32,
    /// Since a framing doubt: the rest of a garbled frame may still be read as
    /// lines, so news of the network is ignored and no connection is started until
    /// `AT+CIPSTATUS` says that the modem holds none.
    pub(super) resyncing: bool,
    /// The modem holds a connection that no socket has: `AT+CIPSTATUS` said so, or
    /// a UDP socket connected while the previous socket's was being closed. It is
    /// closed before anything else.
    pub(super) stray_link: bool,
    /// Commands issued so far, to tell one from the next.
    pub(super) commands_issued: u32,
}

/// Payload held back until the stack is sure it was framed as payload.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Staging {
    /// The frame being read goes to the socket (else it is a closed link's: dropped).
    pub(super) keep: bool,
    /// A `+IPD` header was read and its frame not confirmed yet.
    pub(super) open: bool,
    /// Bytes held at the back of `rx`.
    pub(super) staged: usize,
    /// Of those, the bytes of frames already confirmed, waiting for `awaits`.
    pub(super) framed: usize,
    /// How many frames `framed` is, for a UDP socket (their lengths are at the back
    /// of `datagrams`); 0 for TCP.
    pub(super) datagrams: usize,
    /// The command that was in flight when the held frames began: its answer must
    /// still come after them, or it was read as payload.
    pub(super) awaits: Option<u32>,
}

impl Staging {
    pub(super) fn active(&self) -> bool {
        self.open || self.staged > 0
    }
}

/// The setup commands, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    EchoOff,
    StationMode,
    Join,
    CloseStale,
    SingleLink,
    QueryIp,
}

impl Step {
    pub(super) fn next(self) -> Option<Step> {
        match self {
            Step::EchoOff => Some(Step::StationMode),
            Step::StationMode => Some(Step::Join),
            Step::Join => Some(Step::CloseStale),
            Step::CloseStale => Some(Step::SingleLink),
            Step::SingleLink => Some(Step::QueryIp),
            Step::QueryIp => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// `AT` until the modem answers.
    Probe,
    Setup(Step),
    Ready,
    Failed {
        retry_at: Instant,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmd {
    Probe,
    Setup(Step),
    Start,
    /// `acked` once the modem said OK to CIPSEND, `prompted` once `>` followed.
    Send {
        acked: bool,
        prompted: bool,
    },
    Close,
    /// `AT+CIPSTATUS`, asked to confirm the frames held: its answer follows them,
    /// and it says whether the connection is still open.
    Check {
        status: Option<u8>,
    },
    /// A command that timed out half written: the rest goes out so that the modem
    /// sees a whole line, and its answer is taken for nobody's.
    Stale,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub(super) cmd: Cmd,
    pub(super) deadline: Instant,
    pub(super) seq: u32,
}

/// The modem's connection, as far as the stack knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    Idle,
    /// `sent` once `CIPSTART` went out, `connect_seen` once the modem said CONNECT
    /// to it (the connection is open when OK follows).
    Connecting {
        remote: SocketAddrV4,
        sent: bool,
        connect_seen: bool,
    },
    Connected {
        remote: SocketAddrV4,
    },
    /// Over, for `error`; `open` if the modem may still hold it (then `close` sends
    /// `CIPCLOSE`).
    Ended {
        error: AtError,
        open: bool,
    },
    /// The socket was closed; `CIPCLOSE` is due or awaited.
    Closing,
}

impl Link {
    /// Whether the modem holds a connection for the current socket, so that `+IPD`
    /// data is the socket's (rather than a closed connection's).
    pub(super) fn takes_data(&self) -> bool {
        matches!(
            self,
            Link::Connecting {
                sent: true,
                connect_seen: true,
                ..
            } | Link::Connected { .. }
        )
    }
}

impl<S, C> AtStack<S, C>
where
    S: Read + Write + ReadReady + WriteReady,
    C: Clock,
{
    /// A stack that starts talking to the modem on its first poll.
    pub fn new(serial: S, clock: C, config: AtConfig) -> Self {
        Self {
            serial,
            clock,
            config,
            parser: Parser::default(),
            phase: Phase::Probe,
            pending: None,
            hold_until: Instant::ZERO,
            out: Vec::new(),
            out_pos: 0,
            link: Link::Idle,
            socket: None,
            transport: Transport::Tcp,
            sockets_made: 0,
            rx: Deque::new(),
            ready: 0,
            staging: Staging::default(),
            datagrams: Deque::new(),
            peer: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            tx: Vec::new(),
            data_pos: None,
            ip: Ipv4Addr::UNSPECIFIED,
            lost_since: None,
            serial_errors: 0,
            boot_noise: 0,
            framing_errors: 0,
            resyncing: false,
            stray_link: false,
            commands_issued: 0,
        }
    }

    /// Do what can be done now: read what the modem sent and act on it, send the
    /// next command or data. Returns whether anything happened.
    pub fn poll(&mut self) -> bool {
        let now = self.clock.now();
        let mut progress = self.write_out();
        let (read, drained) = self.read_in(now);
        progress |= read;
        // Bytes not read yet came before anything sent now, so they may hold the
        // answer awaited, or a late one that would pass for the next command's.
        if drained {
            progress |= self.check_timeout(now);
            progress |= self.schedule(now);
        }
        progress | self.write_out()
    }

    /// Where the modem is with the Wi-Fi network.
    pub fn wifi_state(&self) -> WifiState {
        match self.phase {
            Phase::Probe | Phase::Setup(Step::EchoOff | Step::StationMode) => WifiState::Resetting,
            Phase::Setup(_) => WifiState::Joining,
            Phase::Ready if self.lost_since.is_some() => WifiState::Joining,
            Phase::Ready => WifiState::Connected(self.ip),
            Phase::Failed { .. } => WifiState::Failed,
        }
    }

    /// Reads and writes the serial port failed so far (framing or overrun errors,
    /// for example). The stack goes on; a read error while a connection is open
    /// also ends it, as bytes were lost (see [`framing_errors`](Self::framing_errors)).
    pub fn serial_errors(&self) -> u32 {
        self.serial_errors
    }

    /// Read errors of the port while the modem had not yet answered `AT` (at start,
    /// and after it restarted): the ESP8266/ESP8285 prints its boot log at 74880
    /// baud, which a port at 115200 reads as framing errors. Expected, so counted
    /// apart from [`serial_errors`](Self::serial_errors), which they never grow.
    pub fn boot_noise(&self) -> u32 {
        self.boot_noise
    }

    /// Connections given up so far because the modem's output around them could
    /// not be trusted (see "Framing" in the [module](crate::stack::at) documentation): each
    /// one ended with [`AtError::Framing`], its unconfirmed data dropped.
    pub fn framing_errors(&self) -> u32 {
        self.framing_errors
    }

    /// The settings in use.
    pub fn config(&self) -> &AtConfig {
        &self.config
    }

    /// Gives the serial port and the clock back. The modem keeps its state; a new
    /// stack on it goes through the setup again (which closes a connection left open).
    pub fn release(self) -> (S, C) {
        (self.serial, self.clock)
    }
}
