//! A filter between the caller's device and smoltcp: drops the frames that make
//! smoltcp 0.12 panic, so that no peer can stop the board with one packet.
//!
//! smoltcp 0.12 answers a TCP SYN from the unspecified address (`0.0.0.0` or `::`)
//! on a listening socket, and its `dispatch_ip` then fails
//! `assert!(!dst_addr.is_unspecified())` (fixed in smoltcp 0.13.1, which needs rustc
//! 1.91). No real host sends TCP from the unspecified address, so such frames are
//! dropped before smoltcp sees them. Only Ethernet frames are inspected (the medium
//! this crate builds smoltcp for); other media pass through untouched.

use ::smoltcp::phy::{Device, DeviceCapabilities, Medium, PacketMeta, RxToken};
use ::smoltcp::time::Instant;

const ETHERNET_HEADER: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];
const PROTOCOL_TCP: u8 = 6;
const NEXT_HEADER_ICMPV6: u8 = 58;

/// The caller's device, filtered.
pub(super) struct Guard<'d, D> {
    device: &'d mut D,
}

impl<'d, D> Guard<'d, D> {
    pub(super) fn new(device: &'d mut D) -> Self {
        Self { device }
    }
}

/// A received frame, checked when smoltcp consumes it.
pub(super) struct GuardRx<R> {
    token: R,
    medium: Medium,
}

impl<D: Device> Device for Guard<'_, D> {
    type RxToken<'a>
        = GuardRx<D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let medium = self.device.capabilities().medium;
        let (token, tx) = self.device.receive(timestamp)?;
        Some((GuardRx { token, medium }, tx))
    }

    fn transmit(&mut self, timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.device.transmit(timestamp)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.device.capabilities()
    }
}

impl<R: RxToken> RxToken for GuardRx<R> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        let medium = self.medium;
        // An empty frame is what smoltcp drops most cheaply: it fails the first length
        // check.
        self.token.consume(|frame| {
            f(if is_dangerous(medium, frame) {
                &[]
            } else {
                frame
            })
        })
    }

    fn meta(&self) -> PacketMeta {
        self.token.meta()
    }
}

fn is_dangerous(medium: Medium, frame: &[u8]) -> bool {
    if medium != Medium::Ethernet {
        return false;
    }
    let ethertype = frame.get(12..ETHERNET_HEADER);
    let packet = frame.get(ETHERNET_HEADER..).unwrap_or_default();
    if ethertype == Some(&ETHERTYPE_IPV4[..]) {
        ipv4_tcp_from_unspecified(packet)
    } else if ethertype == Some(&ETHERTYPE_IPV6[..]) {
        ipv6_from_unspecified(packet)
    } else {
        false
    }
}

fn ipv4_tcp_from_unspecified(packet: &[u8]) -> bool {
    packet.get(9) == Some(&PROTOCOL_TCP) && packet.get(12..16) == Some(&[0; 4][..])
}

/// From `::` only neighbour discovery (ICMPv6) is legitimate; anything else could
/// carry TCP behind extension headers.
fn ipv6_from_unspecified(packet: &[u8]) -> bool {
    packet.get(6) != Some(&NEXT_HEADER_ICMPV6) && packet.get(8..24) == Some(&[0; 16][..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ethernet(ethertype: [u8; 2], packet: &[u8]) -> heapless::Vec<u8, 128> {
        let mut frame = heapless::Vec::new();
        frame.extend_from_slice(&[0xff; 12]).unwrap();
        frame.extend_from_slice(&ethertype).unwrap();
        frame.extend_from_slice(packet).unwrap();
        frame
    }

    fn ipv4(protocol: u8, src: [u8; 4]) -> [u8; 20] {
        let mut p = [0u8; 20];
        p[0] = 0x45;
        p[9] = protocol;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&[10, 0, 0, 1]);
        p
    }

    fn ipv6(next_header: u8, src: [u8; 16]) -> [u8; 40] {
        let mut p = [0u8; 40];
        p[0] = 0x60;
        p[6] = next_header;
        p[8..24].copy_from_slice(&src);
        p
    }

    #[test]
    fn tcp_from_the_unspecified_address_is_dropped() {
        let frame = ethernet(ETHERTYPE_IPV4, &ipv4(PROTOCOL_TCP, [0; 4]));
        assert!(is_dangerous(Medium::Ethernet, &frame));
        let frame = ethernet(ETHERTYPE_IPV6, &ipv6(PROTOCOL_TCP, [0; 16]));
        assert!(is_dangerous(Medium::Ethernet, &frame));
        // Hop-by-hop options (0) in front of TCP do not hide it.
        let frame = ethernet(ETHERTYPE_IPV6, &ipv6(0, [0; 16]));
        assert!(is_dangerous(Medium::Ethernet, &frame));
    }

    #[test]
    fn everything_else_passes() {
        let tcp = ethernet(ETHERTYPE_IPV4, &ipv4(PROTOCOL_TCP, [10, 0, 0, 2]));
        assert!(!is_dangerous(Medium::Ethernet, &tcp));
        // DHCP clients send UDP from 0.0.0.0.
        let dhcp = ethernet(ETHERTYPE_IPV4, &ipv4(17, [0; 4]));
        assert!(!is_dangerous(Medium::Ethernet, &dhcp));
        // IPv6 duplicate address detection sends ICMPv6 from ::.
        let dad = ethernet(ETHERTYPE_IPV6, &ipv6(NEXT_HEADER_ICMPV6, [0; 16]));
        assert!(!is_dangerous(Medium::Ethernet, &dad));
        let arp = ethernet([0x08, 0x06], &[0; 28]);
        assert!(!is_dangerous(Medium::Ethernet, &arp));
        // Runt frames are smoltcp's to drop.
        assert!(!is_dangerous(Medium::Ethernet, &[0x08]));
        assert!(!is_dangerous(
            Medium::Ethernet,
            &ethernet(ETHERTYPE_IPV4, &[0x45])
        ));
    }
}
