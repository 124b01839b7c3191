//! The embassy firmware's main task: embassy-net (DHCP) over esp-radio's Wi-Fi
//! interface, nal-echo's async echo server over edge-nal-embassy, and the same
//! screen and button behaviour as the poll firmware ([`crate::app`]).
//!
//! Three futures run side by side in the one task, so that all the memory (the
//! network stack's sockets, their buffers, the server) lives in that task's future,
//! with no statics of its own and no heap:
//!
//! ```text
//! embassy-net's runner      frames in and out, DHCP (the lease, its renewal)
//! the echo server           binds 0.0.0.0:5001 once and serves for ever
//! the board loop (10 ms)    Wi-Fi link (joins again after a drop), the address,
//!                           the OLED's init, button B, the Wi-Fi and statistics
//!                           pages, the radio's watchdog, the server's events
//! ```
//!
//! Unlike the poll firmware, the server is started once and never restarted: it
//! listens on every address, so a new DHCP address only changes what the status
//! screen shows (`show_address`), and a Wi-Fi loss only brings the Wi-Fi page back.
//! Connections to a lost address end by nal-echo's idle timeout. The status
//! screen's counters therefore count since reset, like the statistics page.

use core::cell::RefCell;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr};

use edge_nal_embassy::{Tcp, TcpBuffers};
use embassy_futures::select::{Either3, select3};
use embassy_net::{Config, DhcpConfig, Stack, StackResources};
use embassy_time::{Delay, Timer};
use esp_println::println;
use esp_radio::wifi::Interface;
use nal_echo::asynch::AsyncEchoServer;
use nal_echo::display::PanelInit;
use nal_echo::time::Watchdog;
use nal_echo::{Clock, Instant, ServerConfig};

use crate::app::{self, BUF, LINK_GRACE, PORT, STATS_REFRESH, WIFI_PAGE_REFRESH};
use crate::board::Board;
use crate::button::Button;
use crate::clock::BoardClock;
use crate::net::{self, SLOTS};
use crate::pages::{self, LinkPhase, PageDrawer};
use crate::panel::Panel;
use crate::radio;
use crate::watched_driver::WatchedDriver;
use crate::wifi_device::RADIO_STALL;
use crate::wifi_link::WifiLink;

/// edge-nal-embassy's sockets: the server waits in `SLOTS + 1` accepts at once (the
/// one beyond the slots turns a client away while all slots are busy).
const TCP_SOCKETS: usize = SLOTS + 1;
/// embassy-net's sockets: the TCP ones and the DHCP client.
const SOCKETS: usize = TCP_SOCKETS + 1;
/// The board loop's period: the button (debounced over 20 ms), the pages (redrawn
/// every 250 ms) and the link's state are read this often.
const TICK: embassy_time::Duration = embassy_time::Duration::from_millis(10);
/// A server whose bind failed is started again after this.
const BIND_RETRY: embassy_time::Duration = embassy_time::Duration::from_secs(1);

/// The server of this firmware.
type Server<D> = AsyncEchoServer<D, SLOTS, BUF>;

/// Runs the echo server for ever.
pub async fn run<D, B>(board: Board<'_, D, B, Interface>) -> !
where
    D: Panel,
    D::Error: fmt::Debug,
    B: FnMut() -> bool,
{
    let Board {
        ssid,
        link,
        frames: interface,
        display,
        button_b,
        random_seed,
    } = board;
    let mac = interface.mac_address();
    let watchdog = RefCell::new(Watchdog::new(RADIO_STALL));
    let mut resources = StackResources::<SOCKETS>::new();
    let (stack, mut runner) = embassy_net::new(
        WatchedDriver::new(interface, &watchdog),
        Config::dhcpv4(DhcpConfig::default()),
        &mut resources,
        random_seed,
    );
    let buffers = TcpBuffers::<TCP_SOCKETS, { net::SOCKET_TX }, { net::SOCKET_RX }>::new();
    let tcp = Tcp::new(stack, &buffers);
    let server: Server<D> =
        AsyncEchoServer::sized(display, ServerConfig::default().with_port(PORT));
    // The Wi-Fi page first, until there is an address.
    server.set_screen_enabled(false);

    let board_loop = BoardLoop {
        server: &server,
        stack,
        link,
        watchdog: &watchdog,
        button_b,
        ssid,
        mac,
    };
    match select3(runner.run(), serve(&server, &tcp), board_loop.run()).await {
        Either3::First(never) | Either3::Second(never) | Either3::Third(never) => never,
    }
}

/// Runs the server; if binding fails (no socket free), logs it and starts again.
async fn serve<D: Panel>(server: &Server<D>, tcp: &Tcp<'_>) -> ! {
    loop {
        let error = server.run(tcp, BoardClock, Delay).await;
        println!("server: bind failed ({error:?}), again in 1 s");
        Timer::after(BIND_RETRY).await;
    }
}

/// The board's side of the firmware, beside the server.
struct BoardLoop<'a, 'd, D, B> {
    server: &'a Server<D>,
    stack: Stack<'a>,
    link: WifiLink<'d>,
    watchdog: &'a RefCell<Watchdog>,
    button_b: B,
    ssid: &'static str,
    mac: [u8; 6],
}

impl<D, B> BoardLoop<'_, '_, D, B>
where
    D: Panel,
    D::Error: fmt::Debug,
    B: FnMut() -> bool,
{
    /// Every [`TICK`]: the link, the address, the panel, the button, the pages.
    async fn run(mut self) -> ! {
        let server = self.server;
        let mut clock = BoardClock;
        let mut panel = PanelInit::new();
        let mut pages = PageDrawer::new();
        let mut button = Button::new((self.button_b)(), clock.now());
        let mut was_up = false;
        // The address on the status screen; `None` while the Wi-Fi page shows.
        let mut shown: Option<Ipv4Addr> = None;
        // Since when the shown address has been missing (embassy-net drops it as
        // soon as the link goes down, and asks DHCP again when it is back).
        let mut missing_since: Option<Instant> = None;
        let mut waiting_since = clock.now();
        let mut stats_shown = false;
        let mut next_draw = Instant::ZERO;
        loop {
            let now = clock.now();
            let up = self.link.poll(now);
            if up != was_up {
                was_up = up;
                if up {
                    println!("Wi-Fi: joined {}", self.ssid);
                } else {
                    println!("Wi-Fi: lost {}", self.ssid);
                }
            }

            let address = self.stack.config_v4().map(|c| c.address.address());
            match (shown, address) {
                (None, Some(ip)) => {
                    println!("address {ip}: echo server on port {PORT}");
                    shown = Some(ip);
                    server.show_address(Some(IpAddr::V4(ip)), PORT);
                    server.set_screen_enabled(!stats_shown);
                    server.invalidate_screen();
                    pages.invalidate();
                }
                (Some(old), Some(ip)) => {
                    if missing_since.take().is_some() {
                        println!("DHCP: address {ip} again");
                    }
                    if ip != old {
                        println!("DHCP: new address {ip} (was {old})");
                        shown = Some(ip);
                        server.show_address(Some(IpAddr::V4(ip)), PORT);
                    }
                }
                (Some(old), None) => {
                    let since = *missing_since.get_or_insert_with(|| {
                        println!("DHCP: address {old} lost");
                        now
                    });
                    if now - since >= LINK_GRACE {
                        println!(
                            "no address for {} s: back to the Wi-Fi page",
                            LINK_GRACE.total_millis() / 1000
                        );
                        shown = None;
                        missing_since = None;
                        stats_shown = false;
                        waiting_since = now;
                        server.show_address(None, PORT);
                        server.set_screen_enabled(false);
                        pages.invalidate();
                        next_draw = now;
                    }
                }
                (None, None) => {}
            }

            if self.watchdog.borrow().is_stalled(now) {
                server.with_display(|display| radio::restart_for_stall(display, &mut pages));
            }
            if server.with_display(|display| app::init_panel(&mut panel, now, display)) {
                // The panel's RAM is blank now: paint everything again.
                server.invalidate_screen();
                pages.invalidate();
            }
            while let Some(event) = server.next_event() {
                println!("{event}");
            }

            // Button B switches between the status screen and the statistics page
            // once there is an address (as in the poll firmware).
            if button.update((self.button_b)(), now) && shown.is_some() {
                stats_shown = !stats_shown;
                // Paused, the server keeps its screen's text up to date without
                // drawing; resumed, it repaints the whole screen.
                server.set_screen_enabled(!stats_shown);
                if stats_shown {
                    pages.invalidate();
                    next_draw = now;
                }
            }
            if now >= next_draw {
                if shown.is_none() {
                    next_draw = now + WIFI_PAGE_REFRESH;
                    if panel.is_done() {
                        let phase = if up {
                            LinkPhase::Dhcp
                        } else {
                            LinkPhase::Joining
                        };
                        let page = pages::wifi_page(
                            self.ssid,
                            phase,
                            now - waiting_since,
                            self.mac,
                            self.link.drops(),
                            radio::restarts(),
                        );
                        let _ = server.with_display(|display| pages.draw(display, &page));
                    }
                } else if stats_shown {
                    next_draw = now + STATS_REFRESH;
                    let uptime = now - Instant::ZERO;
                    let page = pages::stats_page(&server.stats(), SLOTS, uptime, self.link.drops());
                    // A failed draw is tried again at the next refresh, from a
                    // cleared screen.
                    if server
                        .with_display(|display| pages.draw(display, &page))
                        .is_err()
                    {
                        pages.invalidate();
                    }
                }
            }

            Timer::after(TICK).await;
        }
    }
}
