//! The firmware's main loop, independent of the chip's pins: bring the Wi-Fi link
//! and a DHCP address up, run nal-echo's [`EchoServer`] over [`SmoltcpStack`],
//! toggle the statistics page with button B, and start over when the link is lost.
//!
//! ```text
//! loop {
//!     join Wi-Fi, get a DHCP lease      (Wi-Fi page on the OLED)
//!     EchoServer over SmoltcpStack     (nal-echo's screen: "ip:5001", "accepting.....")
//!     serve until the link has been down for LINK_GRACE
//!     release the server, keep its counters for the statistics page
//! }
//! ```

use core::fmt;
use core::net::{IpAddr, Ipv4Addr};

use esp_println::println;
use esp_rtos::CurrentThreadHandle;
use nal_echo::display::PanelInit;
use nal_echo::stack::smoltcp::{SmoltcpStack, SmoltcpUdpSocket, UdpSocketPool};
use nal_echo::{
    Clock, Duration, EchoServer, Instant, ServerConfig, ServerEvent, ServerStats, UdpEcho,
};
use smoltcp::iface::{Interface, SocketHandle, SocketSet, SocketStorage};

use crate::board::Board;
use crate::button::Button;
use crate::clock::BoardClock;
use crate::net::{self, Lease};
use crate::pages::{self, LinkPhase, PageDrawer};
use crate::panel::Panel;
use crate::radio;
use crate::wifi_device::WifiDevice;
use crate::wifi_link::WifiLink;

/// The tutorial's port.
pub const PORT: u16 = 5001;
/// Echo buffer of each slot (the tutorial's `recv(1024)`).
pub const BUF: usize = 1024;
/// A link down for longer than this ends the server; a shorter outage (the access
/// point roaming, a beacon lost) keeps the connections and the lease.
pub const LINK_GRACE: Duration = Duration::from_secs(5);
/// The statistics page is redrawn this often (it shows the uptime in seconds).
pub const STATS_REFRESH: Duration = Duration::from_millis(250);
/// The Wi-Fi page is redrawn this often (it shows the seconds waited).
pub const WIFI_PAGE_REFRESH: Duration = Duration::from_millis(250);
/// Stack-wide server errors are logged at most this often.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The server of this firmware.
type Server<'s, 'b, D> = EchoServer<
    SmoltcpStack<'s, 'b, WifiDevice, BoardClock, { net::POOL }, 1>,
    D,
    { net::SLOTS },
    BUF,
>;
/// The UDP echo beside the TCP slots, on the same port: datagrams up to the
/// largest a frame carries (a datagram that fills the buffer may have been cut).
type Datagrams = UdpEcho<SmoltcpUdpSocket, 2, { net::LARGEST_DATAGRAM + 1 }>;

/// Runs the echo server for ever.
pub fn run<D, B>(board: Board<'_, D, B, WifiDevice>) -> !
where
    D: Panel,
    D::Error: fmt::Debug,
    B: FnMut() -> bool,
{
    let Board {
        ssid,
        mut link,
        frames: mut device,
        mut display,
        mut button_b,
        random_seed,
    } = board;
    let mac = device.mac_address();
    let mut iface = net::interface(&mut device, random_seed);
    // Socket memory lives in this frame, which never returns: no heap, no statics.
    let mut storage = [SocketStorage::EMPTY; net::SOCKETS];
    let mut buffers = [[0u8; net::SOCKET_BUFFER]; net::POOL];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let mut udp_buffers =
        UdpSocketPool::<1, { net::UDP_BUFFER }, { net::UDP_BUFFER }, { net::UDP_PACKETS }>::new();
    let (dhcp, pool) = net::add_sockets(&mut sockets, &mut buffers);
    let udp = udp_buffers.add_to(&mut sockets, |_| {});

    let mut pages = PageDrawer::new();
    let mut panel = PanelInit::new();
    let mut totals = ServerStats::default();
    let mut port_seed = (random_seed >> 48) as u16;
    // The address of a lease that changed while the server ran: the next server
    // starts on it without joining again.
    let mut readdressed = None;
    loop {
        let ip = match readdressed.take() {
            Some(ip) => ip,
            None => {
                let mut parts = Net {
                    link: &mut link,
                    iface: &mut iface,
                    device: &mut device,
                    sockets: &mut sockets,
                    dhcp,
                };
                parts.bring_up(&mut display, &mut panel, &mut pages, ssid, mac)
            }
        };
        println!("address {ip}: echo server on port {PORT}");

        let stack = SmoltcpStack::new(&mut iface, &mut device, &mut sockets, pool, BoardClock)
            .and_then(|stack| stack.with_udp_sockets(udp));
        let stack = match stack {
            Ok(stack) => stack.with_port_seed(port_seed),
            // Only pools of wrong handles fail, and this function made them.
            Err(e) => panic!("smoltcp socket pools: {e:?}"),
        };
        port_seed = port_seed.wrapping_add(7919);
        let mut config = ServerConfig::default();
        config.port = PORT;
        config.local_ip = Some(IpAddr::V4(ip));
        let mut server: Server<'_, '_, D> = EchoServer::sized(stack, display, config);

        let lease = Leased { dhcp, ip };
        let end = serve(
            &mut server,
            &mut panel,
            &mut link,
            lease,
            &mut button_b,
            &mut pages,
            &totals,
        );
        if let End::Readdressed(ip) = end {
            readdressed = Some(ip);
        }

        totals = pages::add_stats(&totals, server.stats());
        let (_stack, released) = server.release();
        display = released;
        pages.invalidate();
    }
}

/// The network parts while no server holds them.
struct Net<'a, 'd, 'b> {
    link: &'a mut WifiLink<'d>,
    iface: &'a mut Interface,
    device: &'a mut WifiDevice,
    sockets: &'a mut SocketSet<'b>,
    dhcp: SocketHandle,
}

impl Net<'_, '_, '_> {
    /// Joins the network and gets a DHCP lease, showing the Wi-Fi page meanwhile;
    /// returns the board's address.
    fn bring_up<D: Panel>(
        &mut self,
        display: &mut D,
        panel: &mut PanelInit,
        pages: &mut PageDrawer,
        ssid: &str,
        mac: [u8; 6],
    ) -> Ipv4Addr {
        net::restart_dhcp(self.iface, self.sockets, self.dhcp);
        pages.invalidate();
        let mut clock = BoardClock;
        let started = clock.now();
        let mut next_draw = started;
        let mut was_up = false;
        loop {
            let now = clock.now();
            let up = self.link.poll(now);
            if up != was_up {
                was_up = up;
                if up {
                    println!("Wi-Fi: joined {ssid}");
                } else {
                    println!("Wi-Fi: lost {ssid}");
                    net::restart_dhcp(self.iface, self.sockets, self.dhcp);
                }
            }
            if up {
                match net::poll_dhcp(self.iface, self.device, self.sockets, self.dhcp) {
                    Lease::Got(ip) => return ip,
                    Lease::Lost => println!("DHCP: lease lost"),
                    Lease::Unchanged => {}
                }
            }
            if self.device.radio_stalled(now) {
                radio::restart_for_stall(display, pages);
            }
            if init_panel(panel, now, display) {
                pages.invalidate();
            }
            if now >= next_draw && panel.is_done() {
                next_draw = now + WIFI_PAGE_REFRESH;
                let phase = if up {
                    LinkPhase::Dhcp
                } else {
                    LinkPhase::Joining
                };
                let drops = self.link.drops();
                let page =
                    pages::wifi_page(ssid, phase, now - started, mac, drops, radio::restarts());
                let _ = pages.draw(display, &page);
            }
            sleep_ms(5);
        }
    }
}

/// The DHCP client and the address the server was started on.
#[derive(Clone, Copy)]
struct Leased {
    dhcp: SocketHandle,
    ip: Ipv4Addr,
}

/// Why a server ended.
enum End {
    /// The Wi-Fi link was down for [`LINK_GRACE`], or the lease was lost: join and
    /// ask DHCP again.
    Rejoin,
    /// The lease changed to this address: a new server starts on it at once (the
    /// connections to the old address are closed with the old server).
    Readdressed(Ipv4Addr),
}

/// Serves TCP and UDP until the Wi-Fi link has been down for [`LINK_GRACE`] or the
/// DHCP lease changes or is lost.
fn serve<D, B>(
    server: &mut Server<'_, '_, D>,
    panel: &mut PanelInit,
    link: &mut WifiLink<'_>,
    lease: Leased,
    button_b: &mut B,
    pages: &mut PageDrawer,
    totals: &ServerStats,
) -> End
where
    D: Panel,
    D::Error: fmt::Debug,
    B: FnMut() -> bool,
{
    let mut datagrams = Datagrams::sized();
    let end = serve_until_end(
        server,
        &mut datagrams,
        panel,
        link,
        lease,
        button_b,
        pages,
        totals,
    );
    datagrams.close(server.stack_mut());
    end
}

#[allow(clippy::too_many_arguments)]
fn serve_until_end<D, B>(
    server: &mut Server<'_, '_, D>,
    datagrams: &mut Datagrams,
    panel: &mut PanelInit,
    link: &mut WifiLink<'_>,
    lease: Leased,
    button_b: &mut B,
    pages: &mut PageDrawer,
    totals: &ServerStats,
) -> End
where
    D: Panel,
    D::Error: fmt::Debug,
    B: FnMut() -> bool,
{
    let mut clock = BoardClock;
    let mut button = Button::new(button_b(), clock.now());
    let mut stats_shown = false;
    let mut next_stats_draw = Instant::ZERO;
    let mut down_since: Option<Instant> = None;
    let mut last_error: Option<Instant> = None;
    loop {
        let now = clock.now();
        if link.poll(now) {
            if down_since.take().is_some() {
                println!("Wi-Fi: back");
            }
        } else {
            let since = *down_since.get_or_insert_with(|| {
                println!("Wi-Fi: lost");
                now
            });
            if now - since >= LINK_GRACE {
                println!(
                    "Wi-Fi: down for {} s, restarting the server",
                    LINK_GRACE.total_millis() / 1000
                );
                return End::Rejoin;
            }
        }

        let mut progress = server.stack_mut().poll();
        if server.stack_mut().device_mut().radio_stalled(now) {
            radio::restart_for_stall(server.display_mut(), pages);
        }
        // The stack polled the interface, and with it the DHCP client.
        let (iface, sockets) = server.stack_mut().parts_mut();
        match net::take_lease(iface, sockets, lease.dhcp) {
            net::Lease::Got(ip) if ip != lease.ip => {
                println!(
                    "DHCP: new address {ip} (was {}): restarting the server",
                    lease.ip
                );
                return End::Readdressed(ip);
            }
            net::Lease::Lost => {
                println!("DHCP: lease lost: asking again");
                return End::Rejoin;
            }
            net::Lease::Got(_) | net::Lease::Unchanged => {}
        }
        match server.poll(now) {
            Ok(p) => progress |= p.is_busy(),
            Err(e) => log_error(&mut last_error, now, &e),
        }
        match server.poll_udp(datagrams, now) {
            Ok(p) => progress |= p.is_busy(),
            Err(e) => log_error(&mut last_error, now, &e),
        }
        while let Some(event) = server.next_event() {
            log_event(&event);
        }
        if init_panel(panel, now, server.display_mut()) {
            // The panel's RAM is blank now: paint everything again.
            server.invalidate_screen();
            pages.invalidate();
        }

        if button.update(button_b(), now) {
            stats_shown = !stats_shown;
            // Paused, the server keeps its screen's text up to date without drawing;
            // resumed, it repaints the whole screen.
            server.set_screen_enabled(!stats_shown);
            if stats_shown {
                pages.invalidate();
                next_stats_draw = now;
            }
        }
        if stats_shown && now >= next_stats_draw {
            next_stats_draw = now + STATS_REFRESH;
            let stats = pages::add_stats(totals, server.stats());
            let uptime = now - Instant::ZERO;
            let page = pages::stats_page(&stats, net::SLOTS, uptime, link.drops());
            // A failed draw is tried again at the next refresh, from a cleared screen.
            if pages.draw(server.display_mut(), &page).is_err() {
                pages.invalidate();
            }
        }

        if !progress {
            // Nothing to do now: let the idle task run (and the chip doze) briefly.
            sleep_ms(1);
        }
    }
}

/// Stack-wide trouble is retried by the next poll; logged at most once a second.
fn log_error(last: &mut Option<Instant>, now: Instant, error: &dyn fmt::Display) {
    if last.is_none_or(|t| now - t >= ERROR_LOG_INTERVAL) {
        *last = Some(now);
        println!("server: {error}");
    }
}

/// Initialises the OLED if a try is due (at start, then with backoff after each
/// failure); returns whether it has just worked. The echo never waits for it.
pub fn init_panel<D: Panel>(panel: &mut PanelInit, now: Instant, display: &mut D) -> bool {
    match panel.poll(now, || display.init_panel()) {
        Some(Ok(())) => {
            println!("OLED: on (after {} failed tries)", panel.failures());
            true
        }
        Some(Err(e)) => {
            println!("OLED: init failed ({e:?}), try {} failed", panel.failures());
            false
        }
        None => false,
    }
}

/// Gives the CPU to other tasks for `ms` milliseconds (esp-rtos' main task).
fn sleep_ms(ms: u64) {
    CurrentThreadHandle::get().delay(esp_hal::time::Duration::from_millis(ms));
}

fn log_event(event: &ServerEvent) {
    println!("{event}");
}
