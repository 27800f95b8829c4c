//! RFC 5626 5.2 flow tokens: a flow (transport, our address, the peer's, the connection) packed
//! into a URI parameter of our own Record-Route entry, with an HMAC so that nobody else can
//! make one; a request that comes back to that entry goes down that flow. Stateless, as the
//! RFC suggests: nothing is stored per dialog, and a token outlives nothing but its flow.
//!
//! Owns the token format and its check; which entries carry one is `forward`'s business, and
//! what to do with a decoded flow is `plan`'s.

use super::io::{ConnId, Flow};
use crate::message::Uri;
use causeway_config::Transport;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// URI parameter of our Record-Route entry that carries a flow token.
pub const FLOW_PARAM: &str = "cw-flow";
/// Truncated HMAC-SHA256: 80 bits, RFC 2104's minimum of half the hash is not needed for a
/// token that only ever names a live flow (forging one gains a route to an existing peer).
const MAC_LEN: usize = 10;

/// Makes and checks flow tokens with one secret (per process: tokens die with it, as flows do).
pub struct FlowTokens {
    key: [u8; 32],
}

impl FlowTokens {
    pub fn new(key: [u8; 32]) -> FlowTokens {
        FlowTokens { key }
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length: this cannot fail
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts a 32-byte key"));
        m.update(data);
        m
    }

    /// The token of `f`: lowercase hex, safe as a URI parameter value.
    pub fn encode(&self, f: &Flow) -> String {
        let mut b = Vec::with_capacity(64);
        b.push(match f.kind {
            Transport::Udp => b'u',
            Transport::Tcp => b't',
            Transport::Tls => b's',
        });
        b.extend_from_slice(&f.conn.map_or(0, |c| c.0).to_be_bytes());
        push_addr(&mut b, f.local);
        push_addr(&mut b, f.remote);
        let tag = self.mac(&b).finalize().into_bytes();
        b.extend_from_slice(&tag[..MAC_LEN]);
        hex::encode(b)
    }

    /// The flow of a token we made; `None` for anything else.
    pub fn decode(&self, token: &str) -> Option<Flow> {
        let b = hex::decode(token).ok()?;
        let split = b.len().checked_sub(MAC_LEN)?;
        let (data, tag) = b.split_at(split);
        self.mac(data).verify_truncated_left(tag).ok()?;
        let (&kind, rest) = data.split_first()?;
        let kind = match kind {
            b'u' => Transport::Udp,
            b't' => Transport::Tcp,
            b's' => Transport::Tls,
            _ => return None,
        };
        let (conn, rest) = rest.split_first_chunk::<8>()?;
        let conn = u64::from_be_bytes(*conn);
        let (local, rest) = take_addr(rest)?;
        let (remote, rest) = take_addr(rest)?;
        if !rest.is_empty() {
            return None;
        }
        Some(Flow {
            kind,
            local,
            remote,
            conn: (conn != 0).then_some(ConnId(conn)),
        })
    }

    /// The flow named by our own Route entry `uri`, if it carries a token we made.
    pub fn of_route(&self, uri: &Uri) -> Option<Flow> {
        match uri {
            Uri::Sip(u) => self.decode(u.params.get(FLOW_PARAM).flatten()?),
            _ => None,
        }
    }
}

fn push_addr(b: &mut Vec<u8>, a: SocketAddr) {
    match a.ip() {
        IpAddr::V4(ip) => {
            b.push(4);
            b.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            b.push(6);
            b.extend_from_slice(&ip.octets());
        }
    }
    b.extend_from_slice(&a.port().to_be_bytes());
}

fn take_addr(b: &[u8]) -> Option<(SocketAddr, &[u8])> {
    let (&family, rest) = b.split_first()?;
    let (ip, rest) = match family {
        4 => {
            let (o, rest) = rest.split_first_chunk::<4>()?;
            (IpAddr::V4(Ipv4Addr::from(*o)), rest)
        }
        6 => {
            let (o, rest) = rest.split_first_chunk::<16>()?;
            (IpAddr::V6(Ipv6Addr::from(*o)), rest)
        }
        _ => return None,
    };
    let (port, rest) = rest.split_first_chunk::<2>()?;
    Some((SocketAddr::new(ip, u16::from_be_bytes(*port)), rest))
}

/// The same flow: a token that names the flow a request arrived on is not a route for it
/// (RFC 5626 5.3: the request came from the UA itself).
pub fn same_flow(a: &Flow, b: &Flow) -> bool {
    a.kind == b.kind
        && a.remote == b.remote
        && match (a.conn, b.conn) {
            (Some(x), Some(y)) => x == y,
            _ => a.local.port() == b.local.port(),
        }
}

#[cfg(test)]
mod tests;
