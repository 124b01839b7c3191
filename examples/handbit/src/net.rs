//! The smoltcp side: the interface, the socket pool for nal-echo's adapter, and the
//! DHCP client that gets the board its address.
//!
//! nal-echo's `SmoltcpStack` borrows the interface and the socket set for as long as
//! the server runs. The DHCP socket lives in the same set (outside the adapter's
//! pool), so every poll of the stack also renews the lease; reading a *new* lease
//! needs the socket set, so it is done here before the server starts (and again
//! after each Wi-Fi drop, when the firmware starts a new server).

use core::net::Ipv4Addr;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, tcp};
use smoltcp::time::Duration;
use smoltcp::wire::{EthernetAddress, IpCidr};

use crate::clock::smoltcp_now;
use crate::wifi_device::WifiDevice;

/// Clients served at once by the echo server.
pub const SLOTS: usize = 4;
/// TCP sockets of the adapter's pool. Every one not in a connection listens (the
/// adapter's default backlog), so SLOTS clients that power up together are all
/// served, and the next one is turned away with an orderly close, also while two
/// other connections are still closing (nal-echo's `stack::smoltcp` docs:
/// `SLOTS + 2 + C`, C connections still closing).
pub const POOL: usize = SLOTS + 2 + 2;
/// All sockets of the set: the pool, the DHCP client and the UDP echo's socket.
pub const SOCKETS: usize = POOL + 2;
/// The largest datagram one Wi-Fi frame carries: esp-radio's MTU (1492, counted
/// with the 14-byte Ethernet header) less the IPv4 and UDP headers (smoltcp
/// reassembles no fragments).
pub const LARGEST_DATAGRAM: usize = 1492 - 14 - 20 - 8;
/// Payload bytes of the UDP socket's receive and of its send buffer: two of the
/// largest datagrams.
pub const UDP_BUFFER: usize = 2 * LARGEST_DATAGRAM;
/// Datagrams each UDP buffer holds, whatever their sizes.
pub const UDP_PACKETS: usize = 8;
/// Receive buffer (the window offered to a peer) and send buffer of each TCP socket.
pub const SOCKET_RX: usize = 2048;
pub const SOCKET_TX: usize = 2048;
/// Buffer memory of one TCP socket.
pub const SOCKET_BUFFER: usize = SOCKET_RX + SOCKET_TX;
/// A peer that stops answering (handshake or unacknowledged data) for this long is
/// given up, so that its socket comes back to the pool.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

/// The interface on the station's MAC address, with no address yet.
pub fn interface(device: &mut WifiDevice, random_seed: u64) -> Interface {
    let mut config = Config::new(EthernetAddress(device.mac_address()).into());
    config.random_seed = random_seed;
    Interface::new(config, device, smoltcp_now())
}

/// Adds the DHCP client and the TCP pool to `sockets`, each TCP socket on one of
/// `buffers`; returns the DHCP socket and the pool.
pub fn add_sockets<'a>(
    sockets: &mut SocketSet<'a>,
    buffers: &'a mut [[u8; SOCKET_BUFFER]; POOL],
) -> (SocketHandle, [SocketHandle; POOL]) {
    let dhcp = sockets.add(dhcpv4::Socket::new());
    let pool = buffers.each_mut().map(|buffer| {
        let (rx, tx) = buffer.split_at_mut(SOCKET_RX);
        let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
        socket.set_timeout(Some(SOCKET_TIMEOUT));
        sockets.add(socket)
    });
    (dhcp, pool)
}

/// What the DHCP client reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Nothing new.
    Unchanged,
    /// A lease was applied to the interface: the board's address.
    Got(Ipv4Addr),
    /// The lease was lost; the interface has no address now.
    Lost,
}

/// Forget the address and restart DHCP from the beginning (after the link was down:
/// the board may be on another network now).
pub fn restart_dhcp(iface: &mut Interface, sockets: &mut SocketSet<'_>, dhcp: SocketHandle) {
    clear_address(iface);
    sockets.get_mut::<dhcpv4::Socket>(dhcp).reset();
}

/// Polls the interface once and applies what the DHCP client learnt.
pub fn poll_dhcp(
    iface: &mut Interface,
    device: &mut WifiDevice,
    sockets: &mut SocketSet<'_>,
    dhcp: SocketHandle,
) -> Lease {
    iface.poll(smoltcp_now(), device, sockets);
    take_lease(iface, sockets, dhcp)
}

/// Applies what the DHCP client learnt since it was last asked (a new lease, a
/// changed one, or its loss) to the interface, whoever polls the interface: the
/// server's stack does while it runs.
pub fn take_lease(iface: &mut Interface, sockets: &mut SocketSet<'_>, dhcp: SocketHandle) -> Lease {
    let (cidr, router) = match sockets.get_mut::<dhcpv4::Socket>(dhcp).poll() {
        None => return Lease::Unchanged,
        Some(dhcpv4::Event::Deconfigured) => {
            clear_address(iface);
            return Lease::Lost;
        }
        Some(dhcpv4::Event::Configured(config)) => (config.address, config.router),
    };
    iface.update_ip_addrs(|addrs| {
        addrs.clear();
        // Cannot fail: the list was just emptied.
        let _ = addrs.push(IpCidr::Ipv4(cidr));
    });
    match router {
        Some(router) => {
            // Cannot fail: the table holds the one default route at most.
            let _ = iface.routes_mut().add_default_ipv4_route(router);
        }
        None => {
            iface.routes_mut().remove_default_ipv4_route();
        }
    }
    Lease::Got(cidr.address())
}

fn clear_address(iface: &mut Interface) {
    iface.update_ip_addrs(|addrs| addrs.clear());
    iface.routes_mut().remove_default_ipv4_route();
}
