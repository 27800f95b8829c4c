//! Next hops: which transport, address and connection a request goes to, derived from a URI
//! (RFC 3261 16.5/16.6 item 7 and RFC 3263 4.1/4.2 for the cases that need no DNS) or from a
//! registration's flow.
//!
//! Owns only the URI -> address mapping; it sends nothing and looks nothing up in DNS (RFC 3263
//! lookups are `crate::dns`).

use super::io::{ConnId, Flow};
use crate::message::{Host, SipUri};
use causeway_config::Transport;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Where to send a request next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextHop {
    pub kind: Transport,
    pub addr: SocketAddr,
    /// A connection to prefer (the flow a registration came in on).
    pub conn: Option<ConnId>,
    /// TLS server name to present and verify.
    pub server_name: Option<String>,
    /// The traversal zone whose link this hop is: sent only on that connection.
    pub link: Option<String>,
    /// A registered flow (RFC 5626 5.3): sent only on it (the connection, or for UDP from
    /// `local` to the address the flow's datagrams came from); its failure is 430 Flow Failed.
    pub flow: bool,
    /// Our end of the flow (UDP: the socket to send from).
    pub local: Option<SocketAddr>,
}

impl NextHop {
    /// The hop back down flow `f`.
    pub fn down_flow(f: &Flow) -> NextHop {
        NextHop {
            kind: f.kind,
            addr: f.remote,
            conn: f.conn,
            server_name: None,
            link: None,
            flow: true,
            local: Some(f.local),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HopError {
    #[error("transport `{0}` is not supported")]
    UnsupportedTransport(String),
    #[error("host `{0}` needs a DNS lookup, and no DNS zone is configured")]
    NeedsDns(String),
    #[error("address {0} is not a unicast destination")]
    NotUnicast(IpAddr),
}

/// The hop for `uri`: `maddr` overrides the host (RFC 3261 19.1.1), `transport=` or `sips:`
/// choose the transport, and a missing port is the transport's default (RFC 3263 4.2).
pub fn hop_for_uri(uri: &SipUri) -> Result<NextHop, HopError> {
    let kind = match uri.transport().map(str::to_ascii_lowercase).as_deref() {
        None if uri.secure => Transport::Tls,
        None | Some("udp") => {
            if uri.secure {
                Transport::Tls
            } else {
                Transport::Udp
            }
        }
        Some("tcp") => {
            if uri.secure {
                Transport::Tls
            } else {
                Transport::Tcp
            }
        }
        Some("tls") => Transport::Tls,
        Some(other) => return Err(HopError::UnsupportedTransport(other.to_string())),
    };
    let (ip, name) = match uri.maddr() {
        Some(m) => match m.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
            Ok(ip) => (ip, None),
            Err(_) => return Err(HopError::NeedsDns(m.to_string())),
        },
        None => match &uri.host {
            Host::V4(a) => (IpAddr::V4(*a), None),
            Host::V6(a) => (IpAddr::V6(*a), None),
            Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
                (IpAddr::V4(Ipv4Addr::LOCALHOST), Some(d.to_string()))
            }
            Host::Domain(d) => return Err(HopError::NeedsDns(d.to_string())),
        },
    };
    check_unicast(ip)?;
    let port = uri.port.unwrap_or(kind.default_port());
    Ok(NextHop {
        kind,
        addr: SocketAddr::new(ip, port),
        conn: None,
        server_name: name,
        link: None,
        flow: false,
        local: None,
    })
}

/// Never send to broadcast, multicast or unspecified addresses (RFC 4475 3.3.10: a response whose
/// Via names 255.255.255.255 must be dropped).
pub fn check_unicast(ip: IpAddr) -> Result<(), HopError> {
    let bad = match ip {
        IpAddr::V4(a) => a.is_broadcast() || a.is_multicast() || a.is_unspecified(),
        IpAddr::V6(a) => a.is_multicast() || a.is_unspecified(),
    };
    if bad {
        Err(HopError::NotUnicast(ip))
    } else {
        Ok(())
    }
}
