//! The Handbit side of the tutorial, async: an echo server on port 5001 over
//! embassy-net and edge-nal-embassy, on embassy's executor (see the crate's
//! `executor`, `time_driver` and `net_driver` modules).
//!
//! INTERIM: a plain edge-nal echo per slot until nal-echo's `AsyncEchoServer` is
//! available.

#![no_std]
#![no_main]

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use edge_nal::{TcpAccept, TcpBind};
use edge_nal_embassy::{Tcp, TcpBuffers};
use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use embedded_io_async::{Read, Write};
use nal_echo_qemu_virt::net_driver::{self, VirtioDriver};
use nal_echo_qemu_virt::{executor, mtime, net, println};
use static_cell::StaticCell;

/// Clients served at once.
const SLOTS: usize = 4;
/// Echo buffer per slot.
const BUF: usize = 4096;
/// Sockets of the stack: one per slot and one more, accepting while all are busy.
const SOCKETS: usize = SLOTS + 1;
const PORT: u16 = 5001;

#[riscv_rt::entry]
fn main() -> ! {
    let driver = VirtioDriver::new(net::card());
    let slot = driver.slot();
    executor::run(slot, move |spawner| setup(spawner, driver))
}

fn setup(spawner: Spawner, driver: VirtioDriver) {
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    static BUFFERS: StaticCell<
        TcpBuffers<SOCKETS, { net::SOCKET_BUFFER }, { net::SOCKET_BUFFER }>,
    > = StaticCell::new();
    let seed = mtime() ^ 0x9e37_79b9_7f4a_7c15;
    let (stack, runner) = embassy_net::new(
        driver,
        net_driver::static_config(),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    let tcp = Tcp::new(stack, BUFFERS.init(TcpBuffers::new()));
    spawner.spawn(net_task(runner).expect("net task spawned once"));
    for slot in 0..SLOTS {
        spawner.spawn(echo_task(tcp, slot).expect("SLOTS echo tasks"));
    }
    println!("listening on {}:{PORT}", net::BOARD_IP);
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, VirtioDriver>) -> ! {
    runner.run().await
}

#[embassy_executor::task(pool_size = SLOTS)]
async fn echo_task(tcp: Tcp<'static>, slot: usize) {
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
    let mut buf = [0u8; BUF];
    loop {
        let Ok(acceptor) = tcp.bind(local).await else {
            continue;
        };
        let Ok((peer, mut socket)) = acceptor.accept().await else {
            continue;
        };
        println!("connect {peer} slot {slot}");
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = socket.flush().await;
        println!("disconnect {peer} slot {slot} (peer closed)");
    }
}
