//! [`AtStack`]: embedded-nal's `TcpClientStack` and `UdpClientStack` over an
//! ESP8266/ESP8285 running Espressif's AT firmware on a serial line (feature `at`),
//! polled, never blocking.
//!
//! Why not esp-at-nal: esp-at-nal 0.5 (on atat 0.24) waits inside each call for the
//! modem's answer (up to 20 s to join the network, 5 s for every `CIPSTART`), needs
//! the received bytes to be fed to it at the same time from an interrupt or another
//! task, and an embassy-time driver. This crate's rule is that nothing blocks: a
//! single-threaded poll loop must keep its buttons and screen alive while the modem
//! works. So this stack sends one command, returns, and takes the modem's answer
//! from whatever bytes later calls find on the serial line.
//!
//! # Driving it
//!
//! Every call (`socket`, `connect`, `send`, `receive`, `close` and [`poll`]) first
//! reads what the serial line has, acts on it and sends the next command. A client
//! waiting out its backoff makes no calls, so call [`poll`] on every pass of the
//! main loop as well (for a [`PeriodicClient`](crate::client::PeriodicClient):
//! `client.stack_mut().poll()`), or the Wi-Fi setup stalls meanwhile.
//!
//! The serial port must not block either: the stack reads only while
//! [`ReadReady`](embedded_io::ReadReady) says bytes are there, writes only while
//! [`WriteReady`](embedded_io::WriteReady) says the port takes some (keeping the
//! rest for later calls), and never calls `flush`. A UART receive FIFO is short (16
//! bytes on the K210): at 115200 baud poll at least every millisecond, or give the
//! port an interrupt-fed buffer.
//!
//! # What it sends
//!
//! At start, and again after the modem prints `ready` (it restarted) or after a
//! failed setup step ([`AtConfig::retry_delay`] later):
//!
//! 1. `AT`, every second until `OK`;
//! 2. `ATE0` (no echo), `AT+CWMODE=1` (station);
//! 3. `AT+CWJAP="ssid","password"` (`,` `"` `\` escaped), waiting up to
//!    [`AtConfig::join_timeout`] for `OK` (`WIFI CONNECTED` and `WIFI GOT IP` come
//!    first); `FAIL` or `ERROR` fails the setup;
//! 4. `AT+CIPCLOSE`, its answer ignored: it closes a connection that the modem kept
//!    while only the host restarted, since `AT+CIPMUX=0` is refused while one is open;
//! 5. `AT+CIPMUX=0` (one connection, no link ids);
//! 6. `AT+CIFSR` for the address of [`WifiState::Connected`].
//!
//! `busy p...` to a command makes the stack send it again 500 ms later (1 s for
//! `AT`). After `WIFI DISCONNECT` the firmware rejoins by itself; if `WIFI GOT IP`
//! has not come within the join timeout, the stack sends `AT+CWJAP` again.
//!
//! # The socket
//!
//! One socket at a time, TCP or UDP ([`AtError::NoSocket`] for a second of either
//! kind), IPv4 only. This section is about TCP; [UDP](#udp) differs where it says.
//!
//! * `connect` answers [`NotJoined`](AtError::NotJoined) (or
//!   [`WifiFailed`](AtError::WifiFailed)) until the network is joined; then sends
//!   `AT+CIPSTART="TCP","a.b.c.d",port` and reports `WouldBlock` until `CONNECT`
//!   and then `OK` arrive, then `Ok`; `ERROR` or `CLOSED` give
//!   [`ConnectFailed`](AtError::ConnectFailed), no answer within the command timeout
//!   [`Timeout`](AtError::Timeout). `ALREADY CONNECTED` (a connection the stack does
//!   not know of), `OK` without `CONNECT` or `CONNECT` without `OK` also give
//!   `ConnectFailed`, and closing the socket then sends `AT+CIPCLOSE`. After an
//!   error, close the socket and take a new one.
//! * `send` copies up to [`SEND_CHUNK`] bytes into the stack and reports them sent at
//!   once; the stack then sends `AT+CIPSEND=<n>`, waits for its `OK` and the `>`
//!   prompt after it, writes the bytes and waits for `SEND OK`. Until then further sends report
//!   `WouldBlock`: one send is in flight at a time, and the bytes stay in the stack
//!   until the modem has them. If the modem answers `ERROR`/`SEND FAIL`, or nothing
//!   in time, those bytes are lost and the next call reports
//!   [`Modem`](AtError::Modem) or [`Timeout`](AtError::Timeout), as a TCP stack
//!   reports a connection that broke after its buffer took the data.
//! * `receive` gives what came in `+IPD,<n>:<data>` frames (the firmware's active
//!   mode, which every AT version has, unlike the passive `AT+CIPRECVMODE` that old
//!   ESP8285 images lack) once they are confirmed (see [Framing](#framing)), from a
//!   buffer of [`RX_BUFFER`] bytes. While that buffer is full the stack stops
//!   reading the serial line rather than drop a byte: the rest waits in the port's
//!   own buffer (and is lost there, by the port, if that one overflows too; the
//!   port reports it and the connection ends, see below). A command times out only
//!   once the port has nothing more to read, as its answer may be waiting behind
//!   the data. An application that stops reading thus stops the modem's traffic
//!   too.
//! * After `CLOSED`, `receive` gives the buffered data and then `Ok(0)`, and `send`
//!   gives [`Closed`](AtError::Closed) (kind `PipeClosed`). After another failure
//!   both give that error, `receive` only once its confirmed data is read.
//! * `close` forgets unread and unsent data and sends `AT+CIPCLOSE` if the modem may
//!   still hold the connection; data that arrives for it meanwhile is dropped. A new
//!   connection waits (`WouldBlock`) until that close is answered.
//!
//! A command goes out only once the port has nothing unread: those bytes came
//! before it, so none of them can be its answer. A command that timed out half
//! written is finished (so that the modem does not read it and the next one as a
//! single line) and its answer is taken for nobody's.
//! A reply that comes after its command timed out answers nothing: harmless while
//! no connection is open, a framing doubt (below) while one is.
//!
//! # Framing
//!
//! The length in a `+IPD` header is the only thing that separates a peer's bytes
//! from the modem's lines, and nothing checks it: a header byte lost in an overrun
//! or changed by line noise turns payload into "modem lines" and modem lines into
//! payload. The contract: **the application only ever receives bytes that the
//! modem framed as payload of its connection, in order; on any doubt the stack
//! ends the connection instead of delivering a byte it is not sure of.**
//!
//! What the firmware sends (Espressif's ESP8266 NonOS AT 1.x, the ESP8285 images,
//! and ESP-AT 2.x in single-connection mode, `AT+CIPMUX=0`): `\r\n+IPD,<len>:`, or
//! `\r\n+IPD,<len>,"<remote ip>",<port>:` after `AT+CIPDINFO=1`, then exactly
//! `<len>` bytes, and nothing after them: the next thing on the line is the next
//! message (`\r\n+IPD,...`, `\r\nOK\r\n`, `\r\nSEND OK\r\n`...) or one printed
//! without a leading line break (`CLOSED\r\n`, `WIFI DISCONNECT\r\n`). One `+IPD`
//! carries one lwIP receive callback's data: a TCP segment (at most 1460 bytes)
//! normally, up to the TCP receive window (ESP-IDF's default is 5744 bytes on
//! ESP-AT) when lwIP passes on segments it queued out of order.
//!
//! So the stack holds each frame's payload back and releases it only when the
//! points below hold. The held bytes sit at the back of the receive buffer, behind
//! the data already released, so holding costs no buffer of its own (a few words
//! of state); [`RX_BUFFER`] is 2048 bytes so that a full segment fits behind some
//! unread data.
//!
//! * its header is exactly one of the two forms above, at the start of a line, with
//!   `1 <= len <=` [`RX_BUFFER`] (a longer frame, which the firmware sends only
//!   after out-of-order segments, cannot be held whole and counts as a bad header);
//! * the bytes after the payload are `\r\n` and then a whole line the firmware
//!   prints or a whole valid `+IPD` header, or one of the lines it prints without a
//!   line break first;
//! * the command that was in flight when the frame began has got its answer after
//!   it (a too-long length would swallow that answer); if the frames fill the
//!   buffer (or a UDP socket's [`RX_DATAGRAMS`]) while that answer is behind them,
//!   they go without this check;
//! * if nothing else follows the frame, the stack asks `AT+CIPSTATUS`: its answer
//!   confirms the frame, and its `STATUS:3` that the connection is still open (a
//!   `CLOSED` read as payload would leave it open here only).
//!
//! Any doubt while a connection is open ends it with [`AtError::Framing`] (its
//! unconfirmed bytes dropped), counts it in [`framing_errors`](AtStack::framing_errors)
//! and makes `close` send `AT+CIPCLOSE`; a [`PeriodicClient`](crate::client::PeriodicClient)
//! then reconnects with its backoff. A doubt is: a header that does not parse or
//! is out of bounds, a payload not followed by what the firmware sends, a line the
//! firmware does not print (noise, a payload whose header was lost), a line too
//! long to be one, a read error of the port (an overrun lost bytes), a `>` that
//! does not follow the `OK` to a CIPSEND, a reply that comes after the prompt but
//! before the port took all of the CIPSEND's data (the modem prints nothing until
//! it has them, and the data still goes out: it would take the next command for
//! them), and an `OK`, `SEND OK`, `CONNECT` or `ALREADY CONNECTED` that answers no
//! command in flight.
//!
//! After a doubt the rest of that frame is read as lines. Until `AT+CIPSTATUS`
//! (sent once the application closed the socket, after `AT+CIPCLOSE`) says that
//! the modem holds no connection, news of the network is ignored and no new
//! connection is started, so that a peer's bytes cannot pass for the modem then.
//!
//! What this cannot catch: a lost or changed digit of a length that makes the
//! frame end exactly where the modem's next frame ends, or exactly where the
//! peer's own bytes go on with something the firmware prints (a length two short
//! of a payload that ends in `\r\n` loses those two bytes; a peer's bytes that
//! look like a whole `+IPD` frame are taken for one); and two faults at once,
//! such as a length six too long followed by a stray `\r\nOK\r\n` that it swallows.
//! Bytes lost without the port noticing are such faults too. Line noise that the
//! UART reports (framing errors) and overruns are caught.
//!
//! # UDP
//!
//! [`AtUdpSocket`] (embedded-nal's `UdpClientStack`) is the same single link
//! (`AT+CIPMUX=0`) as a UDP one: a UDP and a TCP socket are never open together,
//! the second gets [`AtError::NoSocket`]. It works as the TCP socket does, except:
//!
//! * `connect` answers [`NotJoined`](AtError::NotJoined),
//!   [`WifiFailed`](AtError::WifiFailed) and [`Unaddressable`](AtError::Unaddressable)
//!   at once; otherwise it records the remote and returns `Ok`, since embedded-nal's
//!   UDP `connect` cannot report `WouldBlock`. The stack then sends
//!   `AT+CIPSTART="UDP","a.b.c.d",port` (once the previous socket's link is closed,
//!   if that is still going on; the firmware picks the local port) and takes its
//!   `CONNECT` and `OK` as for TCP. Until the link is up, `send` reports
//!   `WouldBlock` and the datagram stays with the caller. A CIPSTART that fails
//!   (`ERROR`, `ALREADY CONNECTED`, no answer...) is reported by the next `send` or
//!   `receive`.
//! * `send` sends one datagram per `AT+CIPSEND=<n>`, whole: an empty one or one
//!   longer than [`SEND_CHUNK`] is refused with [`DatagramSize`](AtError::DatagramSize)
//!   (the firmware sends each CIPSEND as one datagram, so a longer one is never
//!   split in two). A datagram taken is reported sent and the send is in flight as
//!   for TCP: further sends report `WouldBlock` until `SEND OK`, and a send the
//!   modem fails is reported by the next call and ends the link.
//! * `receive` gives one datagram per call, with the remote of `connect` as its
//!   sender. Each `+IPD` frame of a UDP link is one datagram: the stack keeps the
//!   length of each beside its bytes, for up to [`RX_DATAGRAMS`] datagrams unread
//!   or held for confirmation (while that many wait, it stops reading the serial
//!   line, as when [`RX_BUFFER`] is full). A datagram longer than the caller's
//!   buffer fills it and the rest of it is dropped: callers that must know pass a
//!   buffer one byte longer than the largest datagram they accept. The sender is
//!   not checked: the single-connection `+IPD` header does not name it, and the
//!   firmware's UDP link takes the datagrams sent to its local port by anyone.
//! * The [framing](#framing) contract holds for datagrams: one is delivered only
//!   once its frame is confirmed, and then whole, as exactly one frame's payload
//!   (a doubt never cuts, merges or shortens the datagrams delivered). A doubt
//!   ends the link with [`Framing`](AtError::Framing), and for UDP that means
//!   losing datagrams: those held for confirmation are dropped (the ones already
//!   confirmed are still delivered first), and so is whatever comes until the
//!   socket is closed and a new one connected. A datagram too long to be held
//!   (over [`RX_BUFFER`] bytes) counts as a bad header, as would an empty one
//!   reported as `+IPD,0:`.
//! * An error ends the link and is reported by every later call, as for TCP; after
//!   `CLOSED` (the modem dropped the link) `receive` gives the datagrams already
//!   confirmed and then [`Closed`](AtError::Closed), as UDP has no end of stream.
//!   So unlike a host's UDP socket, where an error concerns one datagram, this
//!   socket must be closed after an error and a new one connected. A
//!   [`UdpPeriodicClient`](crate::UdpPeriodicClient) does so after 3 errors in a
//!   row with nothing going through between them, once its backoff has passed.
//!
//! Not `UdpFullStack`: a bound socket would need the firmware's UDP link with a
//! remote that follows each sender (`AT+CIPSTART="UDP","0.0.0.0",0,<local
//! port>,2`), every datagram's sender parsed from `+IPD,<len>,"<ip>",<port>:`
//! headers (`AT+CIPDINFO=1`, which old ESP8285 images lack) and kept beside its
//! length, and `send_to` through `AT+CIPSEND=<n>,"<ip>",<port>`; with one link, it
//! would also rule out any TCP socket meanwhile.
//!
//! [`poll`]: AtStack::poll
//!
//! ```
//! use nal_echo::stack::at::{AtConfig, AtStack, WifiState};
//! use nal_echo::{Clock, Instant};
//!
//! /// A serial port with nothing attached: it takes every byte and never has one.
//! struct Uart(Vec<u8>);
//! impl embedded_io::ErrorType for Uart {
//!     type Error = core::convert::Infallible;
//! }
//! impl embedded_io::Read for Uart {
//!     fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> { Ok(0) }
//! }
//! impl embedded_io::ReadReady for Uart {
//!     fn read_ready(&mut self) -> Result<bool, Self::Error> { Ok(false) }
//! }
//! impl embedded_io::Write for Uart {
//!     fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { self.0.extend_from_slice(b); Ok(b.len()) }
//!     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
//! }
//! impl embedded_io::WriteReady for Uart {
//!     fn write_ready(&mut self) -> Result<bool, Self::Error> { Ok(true) }
//! }
//! struct Boot;
//! impl Clock for Boot {
//!     fn now(&mut self) -> Instant { Instant::ZERO }
//! }
//!
//! let config = AtConfig::new("MixNo-AP", "secret").expect("short enough");
//! let mut stack = AtStack::new(Uart(Vec::new()), Boot, config);
//! stack.poll(); // returns at once: the modem's OK is for a later poll to find
//! assert_eq!(stack.wifi_state(), WifiState::Resetting);
//! let (uart, _clock) = stack.release();
//! assert_eq!(uart.0, b"AT\r\n");
//! ```

mod config;
mod engine;
mod error;
mod nal;
mod parser;
mod stack;
#[cfg(test)]
mod tests;
mod udp;

pub use config::{AtConfig, PASSWORD_CAP, SSID_CAP};
/// The embedded-io whose traits the serial port implements (re-exported so that a
/// port need not name the same version itself).
pub use embedded_io;
pub use error::AtError;
pub use stack::{AtSocket, AtStack, AtUdpSocket, WifiState, RX_BUFFER, RX_DATAGRAMS, SEND_CHUNK};
