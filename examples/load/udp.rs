//! `load --udp`: round trips and datagrams per second over UDP, every echo checked
//! against the datagram of its number.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::{failed, pattern, Options, Tally, Test};

/// A datagram starts with its number.
pub const HEADER: usize = 8;
/// The largest IPv4 datagram.
pub const LARGEST: usize = 65_507;
/// How long a datagram's echo may take before it counts as lost.
const PATIENCE: Duration = Duration::from_millis(200);
/// Datagrams in flight per client in the throughput test.
const WINDOW: usize = 16;

/// Every client's tally and the time they took together.
pub fn run(opts: &Options) -> (Vec<Tally>, Duration) {
    let sockets: Result<Vec<UdpSocket>, _> =
        (0..opts.clients).map(|_| open(opts.connect)).collect();
    let sockets = match sockets {
        Ok(sockets) => sockets,
        Err(e) => {
            return (
                vec![failed(&format!("cannot open a UDP socket: {e}"))],
                Duration::ZERO,
            )
        }
    };
    let start = Instant::now();
    let tallies = thread::scope(|scope| {
        let handles: Vec<_> = sockets
            .into_iter()
            .map(|socket| {
                scope.spawn(move || match opts.test {
                    Test::Rtt => round_trips(&socket, opts.size, opts.seconds),
                    Test::Throughput => windowed(&socket, opts.size, opts.seconds),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| failed("a client thread panicked"))
            })
            .collect()
    });
    (tallies, start.elapsed())
}

fn open(server: SocketAddr) -> std::io::Result<UdpSocket> {
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(any)?;
    socket.connect(server)?;
    socket.set_read_timeout(Some(PATIENCE))?;
    Ok(socket)
}

/// Datagram `k`: its number, then the stream's bytes from `k * size`.
fn datagram(k: u64, size: usize) -> Vec<u8> {
    let mut d = k.to_le_bytes().to_vec();
    d.extend(pattern(k * size as u64, size - HEADER));
    d
}

/// The number an echo carries, if it is exactly the datagram of that number.
fn checked(echo: &[u8], size: usize) -> Result<u64, ()> {
    let number = echo
        .get(..HEADER)
        .and_then(|h| h.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or(())?;
    if echo == datagram(number, size) {
        Ok(number)
    } else {
        Err(())
    }
}

/// What one receive brought: an echo's number, nothing within the patience, or a
/// failure that ends the client.
enum Got {
    Echo(u64),
    Nothing,
}

fn receive(socket: &UdpSocket, buf: &mut [u8], size: usize, tally: &mut Tally) -> Result<Got, ()> {
    match socket.recv(buf) {
        Ok(n) => checked(&buf[..n], size)
            .map(Got::Echo)
            .map_err(|()| tally.corrupt = true),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Ok(Got::Nothing)
        }
        Err(e) => {
            tally.error = Some(e.to_string());
            Err(())
        }
    }
}

fn send(socket: &UdpSocket, d: &[u8], tally: &mut Tally) -> Result<(), ()> {
    socket
        .send(d)
        .map(|_| ())
        .map_err(|e| tally.error = Some(e.to_string()))
}

fn count(tally: &mut Tally, size: usize) {
    tally.datagrams += 1;
    tally.bytes += size as u64;
}

/// One datagram in flight: its round trip, or lost after the patience.
fn round_trips(socket: &UdpSocket, size: usize, seconds: Duration) -> Tally {
    let mut tally = Tally::default();
    let mut buf = vec![0u8; LARGEST + 1];
    let start = Instant::now();
    let mut k = 0u64;
    'sending: while start.elapsed() < seconds {
        let sent = Instant::now();
        if send(socket, &datagram(k, size), &mut tally).is_err() {
            break;
        }
        loop {
            match receive(socket, &mut buf, size, &mut tally) {
                Ok(Got::Echo(n)) if n == k => {
                    tally
                        .rtts_ns
                        .push(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
                    count(&mut tally, size);
                    break;
                }
                // A late echo of an earlier one: its own was counted lost.
                Ok(Got::Echo(n)) if n < k => {}
                Ok(Got::Echo(_)) => {
                    tally.corrupt = true;
                    break 'sending;
                }
                Ok(Got::Nothing) => {
                    tally.lost += 1;
                    break;
                }
                Err(()) => break 'sending,
            }
        }
        k += 1;
    }
    tally
}

/// Up to [`WINDOW`] datagrams in flight; each echo frees a place.
fn windowed(socket: &UdpSocket, size: usize, seconds: Duration) -> Tally {
    let mut tally = Tally::default();
    let mut buf = vec![0u8; LARGEST + 1];
    let mut in_flight: BTreeMap<u64, ()> = BTreeMap::new();
    let start = Instant::now();
    let mut next = 0u64;
    while start.elapsed() < seconds {
        while in_flight.len() < WINDOW {
            if send(socket, &datagram(next, size), &mut tally).is_err() {
                return tally;
            }
            in_flight.insert(next, ());
            next += 1;
        }
        match receive(socket, &mut buf, size, &mut tally) {
            Ok(Got::Echo(n)) if in_flight.remove(&n).is_some() => count(&mut tally, size),
            // A duplicate, or an echo that came after it was counted lost.
            Ok(Got::Echo(n)) if n < next => {}
            Ok(Got::Echo(_)) => {
                tally.corrupt = true;
                return tally;
            }
            Ok(Got::Nothing) => {
                tally.lost += in_flight.len() as u64;
                in_flight.clear();
            }
            Err(()) => return tally,
        }
    }
    tally
}
