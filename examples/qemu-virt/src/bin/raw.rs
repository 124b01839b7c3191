//! The baseline: a TCP echo server on port 5001 written directly against smoltcp,
//! without nal-echo (no screen, no embedded-nal). Same board, same device, same
//! socket buffers as `server`, so the two can be compared.
//!
//! Four sockets listen on port 5001; each echoes what arrives, as much as its send
//! buffer takes, and listens again after its peer has gone. One UDP socket on port
//! 5001 sends each datagram back to its sender while its send buffer has room.

#![no_std]
#![no_main]

use nal_echo_qemu_virt::clock::smoltcp_now;
use nal_echo_qemu_virt::{net, println, Sleeper};
use smoltcp::iface::PollResult;
use smoltcp::socket::{tcp, udp};

const PORT: u16 = 5001;
const SOCKETS: usize = 4;
/// Bytes moved per copy from a socket's receive buffer to its send buffer.
const CHUNK: usize = 2048;

#[riscv_rt::entry]
fn main() -> ! {
    let (mut phy, mut iface) = net::init();
    let mut sleeper = Sleeper::new(&phy);
    let (mut sockets, handles) = net::tcp_sockets::<SOCKETS>();
    let datagrams = net::udp_socket(&mut sockets);
    for &handle in &handles {
        if sockets.get_mut::<tcp::Socket>(handle).listen(PORT).is_err() {
            panic!("listen on {PORT}");
        }
    }
    if sockets
        .get_mut::<udp::Socket>(datagrams)
        .bind(PORT)
        .is_err()
    {
        panic!("bind UDP {PORT}");
    }
    println!("listening on {}:{PORT}", net::BOARD_IP);
    println!("udp on {}:{PORT}", net::BOARD_IP);
    let mut datagram = [0u8; net::LARGEST_DATAGRAM];
    let mut connected = [false; SOCKETS];
    let mut chunk = [0u8; CHUNK];
    loop {
        let mut progress =
            iface.poll(smoltcp_now(), &mut phy, &mut sockets) == PollResult::SocketStateChanged;
        for (slot, &handle) in handles.iter().enumerate() {
            let socket = sockets.get_mut::<tcp::Socket>(handle);
            if socket.is_active() != connected[slot] {
                connected[slot] = socket.is_active();
                match socket.remote_endpoint() {
                    Some(peer) if connected[slot] => println!("connect {peer} slot {slot}"),
                    _ if !connected[slot] => println!("disconnect slot {slot}"),
                    _ => {}
                }
            }
            progress |= echo(socket, &mut chunk);
            if !socket.may_recv() && socket.recv_queue() == 0 && socket.may_send() {
                // The peer has closed and everything was echoed: close our side.
                socket.close();
            }
            if !socket.is_open() && socket.listen(PORT).is_err() {
                panic!("listen on {PORT}");
            }
        }
        progress |= echo_datagrams(sockets.get_mut::<udp::Socket>(datagrams), &mut datagram);
        sleeper.idle(progress, || {
            iface.poll(smoltcp_now(), &mut phy, &mut sockets) == PollResult::SocketStateChanged
        });
    }
}

/// Moves received bytes to the send buffer while both have some; returns whether
/// it moved any.
fn echo(socket: &mut tcp::Socket<'_>, chunk: &mut [u8; CHUNK]) -> bool {
    let mut moved = false;
    while socket.can_recv() && socket.can_send() {
        let room = socket.send_capacity() - socket.send_queue();
        let n = room.min(CHUNK);
        let Ok(got) = socket.recv_slice(&mut chunk[..n]) else {
            break;
        };
        if got == 0 || socket.send_slice(&chunk[..got]).is_err() {
            break;
        }
        moved = true;
    }
    moved
}

/// Sends each datagram received back to its sender while the send buffer has room;
/// returns whether it echoed any.
fn echo_datagrams(socket: &mut udp::Socket<'_>, datagram: &mut [u8]) -> bool {
    let mut moved = false;
    while socket.can_recv() && socket.can_send() {
        let Ok((n, meta)) = socket.recv_slice(datagram) else {
            break;
        };
        if socket.send_slice(&datagram[..n], meta.endpoint).is_err() {
            break;
        }
        moved = true;
    }
    moved
}
