//! What a request says about a NAT between its sender and us (RFC 3581, RFC 5626 5): whether
//! its top Via or a Contact names an address we cannot reach as written, so that requests for
//! the sender must go back down the flow it came on. The tests Kamailio's operators run with
//! `nat_uac_test` (private Contact, Via differing from the source) as plain functions.
//!
//! Pure: reads the parsed message and its flow; decides nothing about where to send.

use super::io::Flow;
use crate::message::{Host, Message, Uri};
use std::net::IpAddr;

/// The sender is behind a NAT: its top Via names another host or (UDP) another port than the
/// datagram came from (what `received`/`rport` will show), or one of its Contacts cannot be
/// reached as written.
pub(super) fn behind_nat(msg: &Message, flow: &Flow) -> bool {
    via_differs(msg, flow)
        || match msg.contacts() {
            Some(crate::message::Contacts::List(list)) => {
                list.iter().any(|c| contact_unreachable(&c.uri, flow))
            }
            _ => false,
        }
}

/// The top Via's sent-by is not where the request came from: another IP literal, or on UDP
/// another port (a stream's sent-by is its listener, not the connection's port).
pub(super) fn via_differs(msg: &Message, flow: &Flow) -> bool {
    let Some(via) = msg.vias().first() else {
        return false;
    };
    let Some(ip) = literal(&via.host) else {
        return false;
    };
    if ip != flow.remote.ip() {
        return true;
    }
    !flow.kind.is_reliable() && via.port.unwrap_or(flow.kind.default_port()) != flow.remote.port()
}

/// A Contact we cannot reach as written from where its request came: a private, shared,
/// link-local or loopback address other than the source's. A Contact with RFC 5626's `ob`
/// parameter asks for its flow outright.
pub(super) fn contact_unreachable(uri: &Uri, flow: &Flow) -> bool {
    let Uri::Sip(u) = uri else {
        return false;
    };
    if u.params.has("ob") {
        return true;
    }
    let Some(ip) = literal(&u.host) else {
        return false;
    };
    // the same host with another port is a UA registering for a neighbour as often as a NAT:
    // the Via tells those apart (`via_differs`)
    ip != flow.remote.ip() && is_internal(ip)
}

fn literal(h: &Host) -> Option<IpAddr> {
    match h {
        Host::V4(a) => Some(IpAddr::V4(*a)),
        Host::V6(a) => Some(IpAddr::V6(*a)),
        Host::Domain(_) => None,
    }
}

/// Addresses that mean nothing outside their own network: RFC 1918, RFC 6598 shared space,
/// link-local, loopback, unspecified, IPv6 unique-local (RFC 4193) and link-local.
pub(super) fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests;
