//! Transport addresses: the H.225.0 `TransportAddress` and the H.245 `H245TransportAddress`
//! to and from `SocketAddr`, and from one ASN.1 form to the other (the media hook sees the
//! addresses of H.245 messages as H.225.0 ones).
//!
//! Only IPv4 and IPv6 unicast addresses have a `SocketAddr`; the other kinds (IPX, NetBIOS,
//! NSAP, source routes, non-standard, multicast) are `None`, which causeway cannot reach.
//! Must not hold any policy about which family a caller may send (that is the caller's).

use causeway_h323_asn1::h323_messages::{
    TransportAddress, TransportAddressIp6Address, TransportAddressIpAddress,
};
use causeway_h323_asn1::multimedia_system_control::{
    H245TransportAddress, UnicastAddress, UnicastAddressIP6Address, UnicastAddressIPAddress,
};
use causeway_h323_asn1::rasn::types::OctetString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The socket address of an IPv4 or IPv6 transport address; `None` for the other kinds, or
/// for an address of the wrong length.
pub fn socket_addr(addr: &TransportAddress) -> Option<SocketAddr> {
    match addr {
        TransportAddress::ipAddress(a) => Some(SocketAddr::new(v4(&a.ip)?, a.port)),
        TransportAddress::ip6Address(a) => Some(SocketAddr::new(v6(&a.ip)?, a.port)),
        _ => None,
    }
}

/// The transport address of a socket address (an IPv4-mapped IPv6 address is written as
/// IPv4, which is what an IPv4-only endpoint can use).
pub fn transport_address(addr: SocketAddr) -> TransportAddress {
    match wire_ip(addr.ip()) {
        IpAddr::V4(ip) => TransportAddress::ipAddress(TransportAddressIpAddress::new(
            octets(&ip.octets()),
            addr.port(),
        )),
        IpAddr::V6(ip) => TransportAddress::ip6Address(TransportAddressIp6Address::new(
            octets(&ip.octets()),
            addr.port(),
        )),
    }
}

/// The socket address of an H.245 unicast IPv4 or IPv6 address (OpenLogicalChannel media
/// channels, h245Address of H.245 itself); `None` for the other kinds.
pub fn h245_socket_addr(addr: &H245TransportAddress) -> Option<SocketAddr> {
    match addr {
        H245TransportAddress::unicastAddress(UnicastAddress::iPAddress(a)) => {
            Some(SocketAddr::new(v4(&a.network)?, a.tsap_identifier))
        }
        H245TransportAddress::unicastAddress(UnicastAddress::iP6Address(a)) => {
            Some(SocketAddr::new(v6(&a.network)?, a.tsap_identifier))
        }
        _ => None,
    }
}

/// The H.245 unicast address of a socket address (IPv4-mapped written as IPv4, as
/// [`transport_address`] does).
pub fn h245_transport_address(addr: SocketAddr) -> H245TransportAddress {
    let unicast = match wire_ip(addr.ip()) {
        IpAddr::V4(ip) => UnicastAddress::iPAddress(UnicastAddressIPAddress::new(
            octets(&ip.octets()),
            addr.port(),
        )),
        IpAddr::V6(ip) => UnicastAddress::iP6Address(UnicastAddressIP6Address::new(
            octets(&ip.octets()),
            addr.port(),
        )),
    };
    H245TransportAddress::unicastAddress(unicast)
}

/// The address as it goes on the wire: IPv4-mapped IPv6 as IPv4.
fn wire_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn v4(octets: &OctetString) -> Option<IpAddr> {
    let ip: [u8; 4] = octets.as_ref().try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(ip)))
}

fn v6(octets: &OctetString) -> Option<IpAddr> {
    let ip: [u8; 16] = octets.as_ref().try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(ip)))
}

fn octets(bytes: &[u8]) -> OctetString {
    OctetString::from(bytes.to_vec())
}
