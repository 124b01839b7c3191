//! A firmware that only runs nal-echo's `EchoServer` (4 slots of 1024 bytes) and
//! `PeriodicClient` over a stack, a display and a clock that the optimiser cannot
//! see through, so that `size.sh` measures what the library costs a board: the
//! library's code and its values, without a network driver or a HAL.
#![no_std]
#![no_main]

use core::convert::Infallible;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::sync::atomic::{AtomicU32, Ordering};

use embedded_graphics_core::pixelcolor::BinaryColor;
use embedded_graphics_core::prelude::{DrawTarget, OriginDimensions, Pixel, Size};
use nal_echo::embedded_nal::{nb, TcpClientStack, TcpError, TcpErrorKind, TcpFullStack};
use nal_echo::{
    ClientConfig, Clock, EchoServer, Flush, Instant, PeriodicClient, ServerConfig,
    TUTORIAL_MESSAGES,
};

/// What the "hardware" says: read with atomics, so that no result is known at build
/// time and every path of the library stays in the image.
static WIRE: AtomicU32 = AtomicU32::new(0);

fn wire() -> u32 {
    WIRE.load(Ordering::Relaxed)
}

#[derive(Debug)]
struct WireError;

impl TcpError for WireError {
    fn kind(&self) -> TcpErrorKind {
        if wire() & 1 == 0 {
            TcpErrorKind::PipeClosed
        } else {
            TcpErrorKind::Other
        }
    }
}

/// A stack whose every answer comes from the wire.
struct WireStack;

fn answer<T>(ok: impl FnOnce() -> T) -> nb::Result<T, WireError> {
    match wire() % 3 {
        0 => Ok(ok()),
        1 => Err(nb::Error::WouldBlock),
        _ => Err(nb::Error::Other(WireError)),
    }
}

fn peer() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(wire())), wire() as u16)
}

impl TcpClientStack for WireStack {
    type TcpSocket = u32;
    type Error = WireError;

    fn socket(&mut self) -> Result<u32, WireError> {
        answer(wire).map_err(|_| WireError)
    }

    fn connect(&mut self, _: &mut u32, _: SocketAddr) -> nb::Result<(), WireError> {
        answer(|| ())
    }

    fn send(&mut self, _: &mut u32, buffer: &[u8]) -> nb::Result<usize, WireError> {
        WIRE.fetch_add(
            buffer.iter().map(|&b| u32::from(b)).sum(),
            Ordering::Relaxed,
        );
        answer(|| wire() as usize % (buffer.len() + 1))
    }

    fn receive(&mut self, _: &mut u32, buffer: &mut [u8]) -> nb::Result<usize, WireError> {
        answer(|| {
            let n = wire() as usize % (buffer.len() + 1);
            buffer.iter_mut().take(n).for_each(|b| *b = wire() as u8);
            n
        })
    }

    fn close(&mut self, _: u32) -> Result<(), WireError> {
        answer(|| ()).map_err(|_| WireError)
    }
}

impl TcpFullStack for WireStack {
    fn bind(&mut self, _: &mut u32, _: u16) -> Result<(), WireError> {
        answer(|| ()).map_err(|_| WireError)
    }

    fn listen(&mut self, _: &mut u32) -> Result<(), WireError> {
        answer(|| ()).map_err(|_| WireError)
    }

    fn accept(&mut self, _: &mut u32) -> nb::Result<(u32, SocketAddr), WireError> {
        answer(|| (wire(), peer()))
    }
}

/// A 128x64 panel whose pixels go to the wire.
struct WireDisplay;

impl OriginDimensions for WireDisplay {
    fn size(&self) -> Size {
        Size::new(128, 64)
    }
}

impl DrawTarget for WireDisplay {
    type Color = BinaryColor;
    type Error = Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<BinaryColor>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Infallible> {
        for Pixel(p, c) in pixels {
            WIRE.fetch_add(
                p.x as u32 ^ p.y as u32 ^ c.is_on() as u32,
                Ordering::Relaxed,
            );
        }
        Ok(())
    }
}

impl Flush for WireDisplay {
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

struct WireClock;

impl Clock for WireClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(u64::from(wire()))
    }
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut config = ServerConfig::default();
    config.local_ip = Some(IpAddr::V4(Ipv4Addr::new(192, 168, 4, 1)));
    let mut server: EchoServer<WireStack, WireDisplay> =
        EchoServer::new(WireStack, WireDisplay, config);
    let mut client_config = ClientConfig::new(peer());
    client_config.messages = TUTORIAL_MESSAGES;
    let mut client = PeriodicClient::new(WireStack, WireClock, client_config);
    let mut clock = WireClock;
    loop {
        let _ = server.poll(clock.now());
        while let Some(event) = server.next_event() {
            WIRE.fetch_add(event_code(&event), Ordering::Relaxed);
        }
        let _ = client.poll();
        WIRE.fetch_add(client.stats().echoed, Ordering::Relaxed);
    }
}

/// Uses the event, as a firmware that logs it would.
fn event_code(event: &nal_echo::ServerEvent) -> u32 {
    match event {
        nal_echo::ServerEvent::Accepted { slot, .. } => *slot as u32,
        nal_echo::ServerEvent::Closed { slot, .. } => *slot as u32 + 8,
        _ => 16,
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
