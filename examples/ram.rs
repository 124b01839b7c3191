//! Prints the RAM the server and the client take, for the README's memory table.
//!
//! `cargo run --example ram --features mock,async`
//!
//! The mock socket handle is 16 bytes on a 64-bit host; a board's stack has its own
//! handle size (smoltcp's is a 4-byte index), which adds to each slot.

use core::mem::size_of;

use nal_echo::asynch::{AsyncEchoServer, AsyncPeriodicClient};
use nal_echo::stack::mock::MockStack;
use nal_echo::time::MockClock;
use nal_echo::{EchoServer, NoFlush, PeriodicClient, StatusScreen, TextDecoder};

type Server<const SLOTS: usize, const BUF: usize> =
    EchoServer<MockStack<'static>, NoFlush<()>, SLOTS, BUF>;

fn main() {
    let one = size_of::<Server<1, 1024>>();
    let two = size_of::<Server<2, 1024>>();
    let socket = size_of::<nal_echo::stack::mock::MockSocket>();
    println!(
        "EchoServer<_, _, 4, 1024>: {} bytes",
        size_of::<Server<4, 1024>>()
    );
    println!(
        "EchoServer<_, _, 4, 256>:  {} bytes",
        size_of::<Server<4, 256>>()
    );
    println!(
        "one slot (BUF = 1024):     {} bytes = BUF + {} (socket handle {socket})",
        two - one,
        two - one - 1024
    );
    println!(
        "StatusScreen:              {} bytes",
        size_of::<StatusScreen>()
    );
    println!(
        "TextDecoder:               {} bytes",
        size_of::<TextDecoder>()
    );
    println!(
        "PeriodicClient:            {} bytes",
        size_of::<PeriodicClient<MockStack<'static>, &MockClock>>()
    );
    println!(
        "PeriodicClient, outbox 64: {} bytes",
        size_of::<PeriodicClient<MockStack<'static>, &MockClock, 64>>()
    );
    println!(
        "AsyncEchoServer<_, 4, 1024>: {} bytes (its `run` future holds the rest)",
        size_of::<AsyncEchoServer<NoFlush<()>, 4, 1024>>()
    );
    println!(
        "AsyncPeriodicClient:       {} bytes",
        size_of::<AsyncPeriodicClient<&MockClock, ()>>()
    );
}
