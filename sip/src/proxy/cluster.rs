//! The SIP side of a cluster as routing sees it: a `LocalZone` alias that nobody registered
//! on this peer but another peer published (`causeway_zones::PeerAliases`) goes to that
//! peer's SIP listener, after every local target; the peer then reaches its own registration.
//! A request that came from a peer (its top Via carries the `cw-peer` mark a peer adds, or
//! names a peer's SIP listener) is never sent to a peer again, so an alias that just moved
//! cannot bounce between peers. A REGISTER for an AOR
//! an H.323 endpoint holds on another peer is refused as it is for one held here.
//!
//! Pure: reads the peer table, builds targets and refusals; sends nothing.

use super::hop::NextHop;
use super::tables::Target;
use crate::message::{Host, Message};
use causeway_config::Transport;
use causeway_zones::{Alias, PeerAliases, Protocol};
use std::net::{IpAddr, SocketAddr};

/// The parameter a peer adds to its Via on a request it forwards to another peer.
pub(super) const PEER_VIA_PARAM: &str = ";cw-peer";

/// What the core knows of its cluster: the other peers' aliases and listeners, and the
/// transports to reach a peer over, best first (TLS when this node has it, as the port
/// tables' peer-to-peer SIP).
#[derive(Clone, Debug)]
pub struct ClusterPeers {
    pub aliases: PeerAliases,
    pub prefer: Vec<Transport>,
}

impl ClusterPeers {
    /// `addr` is one of a live peer's SIP listeners.
    pub(super) fn is_peer(&self, addr: SocketAddr) -> bool {
        self.aliases.is_peer_sip(addr)
    }

    /// The request was forwarded by a peer: its top Via carries the peer mark, or names a
    /// peer's SIP listener. (A UA that forges either only loses the routing to peers.)
    pub(super) fn came_from_peer(&self, msg: &Message) -> bool {
        let Some(via) = msg.vias().first() else {
            return false;
        };
        if via.params.get(&PEER_VIA_PARAM[1..]).is_some() {
            return true;
        }
        let ip: IpAddr = match via.host {
            Host::V4(a) => a.into(),
            Host::V6(a) => a.into(),
            Host::Domain(_) => return false,
        };
        let secure = via.transport.eq_ignore_ascii_case("TLS");
        let port = via.port.unwrap_or(if secure { 5061 } else { 5060 });
        self.aliases.is_peer_sip(SocketAddr::new(ip, port))
    }

    /// One target per peer holding `alias` (by peer id), over the first transport of
    /// `prefer` that peer listens on; the Request-URI becomes the alias itself, which the
    /// peer's registrar resolves.
    pub(super) fn targets(&self, alias: &Alias) -> Vec<Target> {
        let ruri = format!("sip:{alias}");
        self.aliases
            .holders(&alias.to_string())
            .into_iter()
            .filter_map(|(_, info)| {
                let (kind, addr) = self
                    .prefer
                    .iter()
                    .find_map(|k| info.sip_addr(*k).map(|a| (*k, a)))?;
                let hop = NextHop {
                    kind,
                    addr,
                    conn: None,
                    server_name: None,
                    link: None,
                    flow: false,
                    local: None,
                };
                Some(Target::to(Some(ruri.clone()), hop))
            })
            .collect()
    }

    /// The peer on which an H.323 endpoint holds `aor`, if one does.
    pub(super) fn h323_holder(&self, aor: &str) -> Option<u64> {
        self.aliases
            .holders(aor)
            .into_iter()
            .find(|(h, _)| h.protocol == Protocol::H323)
            .map(|(h, _)| h.peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_zones::PeerInfo;

    fn peers() -> ClusterPeers {
        let aliases = PeerAliases::default();
        let info = |port: u16, tls: bool| PeerInfo {
            sip: [(Transport::Udp, port)]
                .into_iter()
                .chain(tls.then_some((Transport::Tls, port + 1)))
                .map(|(k, p)| (k, SocketAddr::from(([127, 0, 0, 1], p))))
                .collect(),
            ..Default::default()
        };
        aliases.update(
            2,
            info(5070, true),
            &[("bob@example.com".into(), Some(Protocol::Sip))],
        );
        aliases.update(
            3,
            info(5080, false),
            &[
                ("bob@example.com".into(), Some(Protocol::Sip)),
                ("2001@example.com".into(), Some(Protocol::H323)),
            ],
        );
        ClusterPeers {
            aliases,
            prefer: vec![Transport::Tls, Transport::Udp],
        }
    }

    fn request(via: &str) -> Message {
        let text = format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: {via};branch=z9hG4bK1\r\n\
             From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c\r\n\
             CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(bytes::Bytes::from(text)).unwrap()
    }

    #[test]
    fn each_holder_is_a_target_over_the_best_transport_it_has() {
        let p = peers();
        let t = p.targets(&Alias::parse("bob@example.com"));
        let hops: Vec<(Transport, u16)> =
            t.iter().map(|t| (t.hop.kind, t.hop.addr.port())).collect();
        assert_eq!(hops, [(Transport::Tls, 5071), (Transport::Udp, 5080)]);
        assert_eq!(t[0].ruri.as_deref(), Some("sip:bob@example.com"));
        assert!(p.targets(&Alias::parse("carol@example.com")).is_empty());
        assert_eq!(p.h323_holder("sip:2001@example.com"), Some(3));
        assert_eq!(p.h323_holder("bob@example.com"), None);
    }

    #[test]
    fn a_request_a_peer_forwarded_is_recognised_by_its_via() {
        let p = peers();
        assert!(p.came_from_peer(&request("SIP/2.0/UDP 127.0.0.1:5080")));
        assert!(p.came_from_peer(&request("SIP/2.0/TLS 127.0.0.1:5071")));
        assert!(!p.came_from_peer(&request("SIP/2.0/UDP 127.0.0.1:5090")));
        assert!(!p.came_from_peer(&request("SIP/2.0/UDP 127.0.0.1")));
        assert!(!p.came_from_peer(&request("SIP/2.0/UDP peer.example.com:5080")));
        // the mark, whatever address the peer is known by
        assert!(p.came_from_peer(&request("SIP/2.0/TLS 10.9.9.9:5061;cw-peer")));
    }
}
