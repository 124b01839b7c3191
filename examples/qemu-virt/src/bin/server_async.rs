//! The Handbit side of the tutorial, async: nal-echo's `AsyncEchoServer` on port
//! 5001 over embassy-net and edge-nal-embassy, on embassy's executor, with the same
//! slots, buffers and 128x64 screen (sent over serial) as the poll `server`. TCP
//! only: the library has no async UDP echo.
//!
//! Board side: the crate's `executor` (embassy-executor's raw executor in a loop
//! that sleeps), `time_driver` (embassy-time on the CLINT) and `net_driver` (the
//! virtio card as an embassy-net driver).
//!
//! Serial output: `listening on 10.0.2.15:5001`, one line per event (`connect
//! <peer> slot <n>`, `disconnect ...`, `reject ...`, `evict ...`) and the screen's
//! frames. (With edge-nal-embassy 0.9.0, `<peer>` is the board's own endpoint: its
//! accept hands back the local address, see the README.)
//!
//! Built with `EXIT_AFTER_S=N` in the environment, it ends QEMU (status 0) after N
//! seconds; otherwise it runs until QEMU is stopped.

#![no_std]
#![no_main]

use core::net::{IpAddr, Ipv4Addr};

use edge_nal_embassy::{Tcp, TcpBuffers};
use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use nal_echo::asynch::AsyncEchoServer;
use nal_echo::ServerConfig;
use nal_echo_qemu_virt::net_driver::{self, VirtioDriver};
use nal_echo_qemu_virt::{
    clock, env_number, executor, exit, mtime, net, println, BoardClock, FrameDisplay,
};
use static_cell::StaticCell;

/// Clients served at once (as the poll `server`).
const SLOTS: usize = 4;
/// Echo buffer per slot (as the poll `server`).
const BUF: usize = 4096;
/// Sockets of the stack: the server keeps SLOTS + 1 accepts going (the last one
/// turns a client away while all slots are taken), each a listening socket with
/// buffers from edge-nal-embassy's pool.
const SOCKETS: usize = SLOTS + 1;
const PORT: u16 = 5001;
/// Seconds after which the firmware ends QEMU; `None`: never.
const EXIT_AFTER_S: Option<u64> = env_number(option_env!("EXIT_AFTER_S"));

type Server = AsyncEchoServer<FrameDisplay, SLOTS, BUF>;
/// Per socket: transmit and receive buffers as large as the poll firmware's.
type Buffers = TcpBuffers<SOCKETS, { net::SOCKET_BUFFER }, { net::SOCKET_BUFFER }>;

#[riscv_rt::entry]
fn main() -> ! {
    static SERVER: StaticCell<Server> = StaticCell::new();
    let driver = VirtioDriver::new(net::card());
    let card_slot = driver.slot();
    let config = ServerConfig::default()
        .with_port(PORT)
        .with_local_ip(IpAddr::V4(Ipv4Addr::from(net::BOARD_IP.octets())));
    let server: &'static Server = SERVER.init(Server::sized(FrameDisplay::new(), config));
    executor::run(
        card_slot,
        |spawner| setup(spawner, driver, server),
        // Between rounds of the executor, never while the server runs: print its
        // events (it has no waker for them; this costs a borrow per round).
        || after_round(server),
    )
}

/// The stack (static `10.0.2.15/24`, as the poll firmware), its runner task and
/// the server's task.
fn setup(spawner: Spawner, driver: VirtioDriver, server: &'static Server) {
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    static BUFFERS: StaticCell<Buffers> = StaticCell::new();
    let seed = mtime() ^ 0x9e37_79b9_7f4a_7c15;
    let (stack, runner) = embassy_net::new(
        driver,
        net_driver::static_config(),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    let tcp = Tcp::new(stack, BUFFERS.init(Buffers::new()));
    match net_task(runner) {
        Ok(task) => spawner.spawn(task),
        Err(e) => panic!("net task: {e:?}"),
    }
    match server_task(tcp, server) {
        Ok(task) => spawner.spawn(task),
        Err(e) => panic!("server task: {e:?}"),
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, VirtioDriver>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn server_task(tcp: Tcp<'static>, server: &'static Server) {
    // The first poll of `run` puts all SLOTS + 1 sockets in LISTEN before this task
    // yields, so no SYN can reach the stack before then: the line may come first.
    println!("listening on {}:{PORT}", net::BOARD_IP);
    let error = server.run(&tcp, BoardClock, embassy_time::Delay).await;
    // edge-nal-embassy's bind cannot fail: this is a setup bug.
    panic!("server stopped: {error}");
}

/// Prints the server's events; ends QEMU after `EXIT_AFTER_S`.
fn after_round(server: &Server) {
    while let Some(event) = server.next_event() {
        println!("{event}");
    }
    if let Some(secs) = EXIT_AFTER_S.filter(|s| clock::millis() >= s * 1000) {
        let s = server.stats();
        println!(
            "exit after {secs} s: accepted {} rejected {} bytes {}",
            s.accepted, s.rejected, s.bytes_out
        );
        exit(0);
    }
}
