//! The MixNo side of the tutorial on the emulated board: nal-echo's `PeriodicClient`
//! over smoltcp, sending `Hello Handbit` / `I'am MixNo` to `10.0.2.2:PORT` (the
//! host's `127.0.0.1:PORT` under QEMU user networking) and checking every echo; or
//! with `UDP=1` its `UdpPeriodicClient`, one datagram per message.
//!
//! Build-time settings (environment variables read with `option_env!`):
//!
//! * `SERVER_PORT`: the server's port on the host (default 5001);
//! * `PERIOD_MS`: time between messages (default 1000);
//! * `COUNT`: end QEMU with status 0 after this many verified echoes (default: never).
//! * `UDP`: `1` sends datagrams instead of a TCP stream (default 0).
//!
//! Serial output: `client to 10.0.2.2:PORT` (`... over UDP`), then
//! `stats sent N echoed N mismatches N rtt min/avg/max A/B/C ms` after each verified
//! echo and at least once a second. An echo that differs from what was sent ends
//! QEMU with status 1.

#![no_std]
#![no_main]

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use nal_echo::stack::smoltcp::{SmoltcpError, SmoltcpStack};
use nal_echo::{
    ClientConfig, ClientError, ClientStats, Clock, Duration, PeriodicClient, Progress,
    UdpPeriodicClient, TUTORIAL_MESSAGES,
};
use nal_echo_qemu_virt::{env_number, env_u64, exit, mtime, net, println, BoardClock, Sleeper};
use smoltcp::phy::Device;

const SERVER_PORT: u64 = env_u64(option_env!("SERVER_PORT"), 5001);
const PERIOD_MS: u64 = env_u64(option_env!("PERIOD_MS"), 1000);
/// Verified echoes after which the firmware ends QEMU; `None`: never.
const COUNT: Option<u64> = env_number(option_env!("COUNT"));
/// Datagrams instead of a stream.
const UDP: bool = env_u64(option_env!("UDP"), 0) == 1;
const _: () = assert!(
    SERVER_PORT > 0 && SERVER_PORT <= 65535,
    "SERVER_PORT: 1..=65535"
);
const _: () = assert!(PERIOD_MS > 0, "PERIOD_MS must be positive");

/// One socket for the connection, one spare while the previous one is closing.
const SOCKETS: usize = 2;

#[riscv_rt::entry]
fn main() -> ! {
    let (mut phy, mut iface) = net::init();
    let mac = phy.mac();
    let mut sleeper = Sleeper::new(&phy);
    let (mut sockets, pool) = net::tcp_sockets::<SOCKETS>();
    let udp_socket = net::udp_socket(&mut sockets);
    let stack = SmoltcpStack::new(&mut iface, &mut phy, &mut sockets, pool, BoardClock)
        .and_then(|stack| stack.with_udp_sockets([udp_socket]));
    let stack = match stack {
        Ok(stack) => stack.with_port_seed(mtime() as u16),
        Err(e) => panic!("smoltcp stack: {e:?}"),
    };
    let remote = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::from(net::GATEWAY.octets())),
        SERVER_PORT as u16,
    );
    let mut config = ClientConfig::new(remote).with_messages(TUTORIAL_MESSAGES);
    config.period = Duration::from_millis(PERIOD_MS);
    config.seed = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]) ^ mtime() as u32;
    if UDP {
        println!("client to {remote} over UDP, period {PERIOD_MS} ms");
        run(
            UdpPeriodicClient::new(stack, BoardClock, config),
            &mut sleeper,
        )
    } else {
        println!("client to {remote}, period {PERIOD_MS} ms");
        run(PeriodicClient::new(stack, BoardClock, config), &mut sleeper)
    }
}

type Stack<'s, D> = SmoltcpStack<'s, 'static, D, BoardClock, SOCKETS, 1>;

/// The TCP or the UDP client, as `run` drives them.
trait Client {
    fn poll(&mut self) -> Result<Progress, ClientError<SmoltcpError>>;
    fn stats(&self) -> &ClientStats;
    /// Polls the interface; whether a socket changed.
    fn poll_stack(&mut self) -> bool;
}

impl<D: Device> Client for PeriodicClient<Stack<'_, D>, BoardClock> {
    fn poll(&mut self) -> Result<Progress, ClientError<SmoltcpError>> {
        PeriodicClient::poll(self)
    }
    fn stats(&self) -> &ClientStats {
        PeriodicClient::stats(self)
    }
    fn poll_stack(&mut self) -> bool {
        self.stack_mut().poll()
    }
}

impl<D: Device> Client for UdpPeriodicClient<Stack<'_, D>, BoardClock> {
    fn poll(&mut self) -> Result<Progress, ClientError<SmoltcpError>> {
        UdpPeriodicClient::poll(self)
    }
    fn stats(&self) -> &ClientStats {
        UdpPeriodicClient::stats(self)
    }
    fn poll_stack(&mut self) -> bool {
        self.stack_mut().poll()
    }
}

fn run(mut client: impl Client, sleeper: &mut Sleeper) -> ! {
    let mut clock = BoardClock;
    let mut printed_echoes = 0;
    let mut printed_at = clock.now();
    let mut last_error = None;
    loop {
        let mut progress = client.poll_stack();
        match client.poll() {
            Ok(p) => progress |= p.is_busy(),
            Err(e) => {
                progress = true;
                // The client has already closed and will reconnect after its backoff.
                if last_error != Some(e) {
                    println!("client: {e}");
                }
                last_error = Some(e);
            }
        }
        let stats = *client.stats();
        let now = clock.now();
        if stats.echoed != printed_echoes || now - printed_at >= Duration::from_secs(1) {
            printed_echoes = stats.echoed;
            printed_at = now;
            print_stats(&stats);
        }
        if stats.mismatches > 0 {
            println!("FAIL: an echo differed from what was sent");
            exit(1);
        }
        if COUNT.is_some_and(|count| u64::from(stats.echoed) >= count) {
            println!("done: {} verified echoes", stats.echoed);
            exit(0);
        }
        sleeper.idle(progress, || client.poll_stack());
    }
}

fn print_stats(s: &ClientStats) {
    let ms = |d: Option<Duration>| d.map_or(u64::MAX, |d| d.total_millis());
    let (min, avg, max) = (ms(s.rtt_min), ms(s.rtt_avg()), ms(s.rtt_max));
    if s.echoed == 0 {
        println!(
            "stats sent {} echoed 0 mismatches {} lost {} rtt min/avg/max -/-/- ms",
            s.sent, s.mismatches, s.lost
        );
    } else {
        println!(
            "stats sent {} echoed {} mismatches {} lost {} rtt min/avg/max {min}/{avg}/{max} ms",
            s.sent, s.echoed, s.mismatches, s.lost
        );
    }
}
