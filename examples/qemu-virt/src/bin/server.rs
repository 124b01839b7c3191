//! The Handbit side of the tutorial on the emulated board: nal-echo's `EchoServer`
//! on port 5001 over smoltcp, answering TCP and UDP there at once (`UdpEcho`,
//! datagrams up to 1472 bytes, what one Ethernet frame carries), with its 128x64
//! screen sent over serial.
//!
//! Serial output: `listening on 10.0.2.15:5001` once it listens, `udp on
//! 10.0.2.15:5001` once the UDP socket is bound, then one line per
//! event (`connect <peer> slot <n>`, `disconnect <peer> slot <n> (<reason>)`,
//! `reject <peer> (slots full)`, `evict <peer> slot <n> (idle)`), and the screen's
//! frames (`FRAME 128x64 <seq>` ... `END`, see the crate docs).
//!
//! Built with `EXIT_AFTER_S=N` in the environment, it ends QEMU (status 0) after N
//! seconds; otherwise it runs until QEMU is stopped.

#![no_std]
#![no_main]

use core::net::{IpAddr, Ipv4Addr};

use nal_echo::stack::smoltcp::{SmoltcpStack, SmoltcpUdpSocket};
use nal_echo::Clock;
use nal_echo::{EchoServer, ServerConfig, ServerEvent, UdpEcho};
use nal_echo_qemu_virt::{
    env_number, exit, mtime, net, println, BoardClock, FrameDisplay, Sleeper,
};

/// Clients served at once.
const SLOTS: usize = 4;
/// Echo buffer per slot. 4 KiB rather than the library's default 1 KiB: a socket's
/// 16 KiB window then drains in 4 receive-and-send rounds instead of 16, which
/// measured about 25 % more throughput here; more than 4 KiB gained nothing.
const BUF: usize = 4096;
/// Sockets of the stack. Every one not in a connection listens (the adapter's
/// default backlog): SLOTS clients that connect at the same instant are all served,
/// and the next one is turned away with an orderly close, also while 2 other
/// connections are still closing (the adapter's sizing rule, SLOTS + 2 + 2).
const SOCKETS: usize = 8;
const PORT: u16 = 5001;
/// Echoes of datagrams waiting for room in the UDP socket's send buffer.
const UDP_QUEUE: usize = 4;
/// One more than the largest datagram a frame carries: a datagram that fills the
/// buffer may have been cut and is not echoed (see `UdpEcho`).
const UDP_BUF: usize = net::LARGEST_DATAGRAM + 1;
/// Seconds after which the firmware ends QEMU; `None`: never.
const EXIT_AFTER_S: Option<u64> = env_number(option_env!("EXIT_AFTER_S"));

#[riscv_rt::entry]
fn main() -> ! {
    let (mut phy, mut iface) = net::init();
    let mut sleeper = Sleeper::new(&phy);
    let (mut sockets, pool) = net::tcp_sockets::<SOCKETS>();
    let udp_socket = net::udp_socket(&mut sockets);
    let stack = SmoltcpStack::new(&mut iface, &mut phy, &mut sockets, pool, BoardClock)
        .and_then(|stack| stack.with_udp_sockets([udp_socket]));
    let stack = match stack {
        Ok(stack) => stack.with_port_seed(mtime() as u16),
        Err(e) => panic!("smoltcp stack: {e:?}"),
    };
    let mut config = ServerConfig::default();
    config.port = PORT;
    config.local_ip = Some(IpAddr::V4(Ipv4Addr::from(net::BOARD_IP.octets())));
    let mut server: EchoServer<_, _, SLOTS, BUF> =
        EchoServer::sized(stack, FrameDisplay::new(), config);
    let mut udp: UdpEcho<SmoltcpUdpSocket, UDP_QUEUE, UDP_BUF> = UdpEcho::sized();

    let mut clock = BoardClock;
    let (mut announced, mut udp_announced) = (false, false);
    let mut last_error_ms = None;
    loop {
        let mut progress = server.stack_mut().poll();
        let now = clock.now();
        match server.poll(now) {
            Ok(p) => progress |= p.is_busy(),
            Err(e) => say_error(&mut last_error_ms, now, &e),
        }
        match server.poll_udp(&mut udp, now) {
            Ok(p) => progress |= p.is_busy(),
            Err(e) => say_error(&mut last_error_ms, now, &e),
        }
        if !announced && server.is_listening() {
            announced = true;
            println!("listening on {}:{PORT}", net::BOARD_IP);
        }
        if !udp_announced && udp.is_bound() {
            udp_announced = true;
            println!("udp on {}:{PORT}", net::BOARD_IP);
        }
        while let Some(event) = server.next_event() {
            log_event(&event);
        }
        if let Some(secs) = EXIT_AFTER_S.filter(|s| now.total_millis() >= s * 1000) {
            let (s, u) = (server.stats(), udp.stats());
            println!(
                "exit after {secs} s: accepted {} rejected {} bytes {} datagrams {}",
                s.accepted, s.rejected, s.bytes_out, u.datagrams_out
            );
            exit(0);
        }
        sleeper.idle(progress, || server.stack_mut().poll());
    }
}

/// Stack-wide trouble is retried by the next poll; say so at most once a second.
fn say_error(last_ms: &mut Option<u64>, now: nal_echo::Instant, error: &dyn core::fmt::Display) {
    if last_ms.is_none_or(|t| now.total_millis() >= t + 1000) {
        *last_ms = Some(now.total_millis());
        println!("error: {error}");
    }
}

fn log_event(event: &ServerEvent) {
    println!("{event}");
}
