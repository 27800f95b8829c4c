//! The gatekeeper in a cluster: an alias registered on no endpoint here but on another peer
//! (`causeway_zones::PeerAliases`, what the peers publish) is located there as a neighbor
//! zone is, with an LRQ to that peer's RAS address (the port tables' peer-to-peer 1719); the
//! peer answers from its own registrations only, so an LCF always names a peer that holds the
//! alias (the Setup there is resolved again: it goes further only if the endpoint moved in
//! between, each step to a peer that confirmed a registration). An
//! alias a SIP UA holds on another peer is interworked here and reaches that peer over SIP.
//! LRQs from a peer are answered like a neighbor's. An RRQ for an alias another peer's
//! endpoint or UA holds is refused (duplicateAlias) until that peer drops it, unless it comes
//! from that same endpoint (its RAS address, published with the alias) moving here.
//!
//! Must not touch: registrations, sockets, the call-signaling relay.

use super::location::Step;
use super::Gatekeeper;
use crate::asn::{self, AliasText};
use causeway_h323_asn1::h323_messages::AlternateGK;
use causeway_zones::{PeerAliases, Protocol};
use std::net::SocketAddr;

/// The zone name of LRQs to and from cluster peers (logs, status).
pub const CLUSTER_ZONE: &str = "Cluster";

impl Gatekeeper {
    /// The other peers of the node's cluster.
    pub fn with_cluster_peers(mut self, peers: PeerAliases) -> Gatekeeper {
        self.peers = Some(peers);
        self
    }

    /// The step for a local-zone alias nobody holds here: the first peer whose endpoint holds
    /// it (LRQ), or the interworking gateway for a peer's SIP UA.
    pub(super) fn peer_step(&self, alias: &AliasText) -> Option<Step> {
        let holders = self.peers.as_ref()?.holders(&alias.text);
        let h323 = holders
            .iter()
            .filter(|(h, _)| h.protocol == Protocol::H323)
            .find_map(|(_, info)| info.ras);
        if let Some(ras) = h323 {
            let address = asn::alias_address_or_guess(alias.kind, &alias.text);
            return Some(Step::Neighbor(CLUSTER_ZONE.to_string(), ras, address));
        }
        holders
            .iter()
            .any(|(h, _)| h.protocol == Protocol::Sip)
            .then(|| Step::SipOnly(alias.text.clone(), true))
    }

    /// An LRQ from `from` is a cluster peer's.
    pub(super) fn is_peer_ras(&self, from: SocketAddr) -> bool {
        self.peers.as_ref().is_some_and(|p| p.is_peer_ras(from))
    }

    /// The other live peers' gatekeepers as an RCF's alternateGatekeeper (H.225.0 7.8.1): by
    /// peer id, the first the most preferred (priority 0 is the highest), each with the
    /// identifier that peer published (an endpoint moving there names it in its RRQ); the
    /// endpoint must register with one before using it (needToRegister), as each peer keeps
    /// its own registrations. `None` when there is no other peer.
    pub(super) fn alternate_gatekeepers(&self) -> Option<Vec<AlternateGK>> {
        let peers = self.peers.as_ref()?.peers();
        let list: Vec<AlternateGK> = peers
            .iter()
            .filter_map(|(_, info, _)| Some((info.ras?, info.gatekeeper_id.as_deref())))
            .zip(0u8..=127)
            .map(|((ras, id), priority)| {
                AlternateGK::new(
                    asn::transport_address(ras),
                    id.map(asn::gatekeeper_id),
                    true,
                    priority,
                )
            })
            .collect();
        (!list.is_empty()).then_some(list)
    }

    /// The aliases of `aliases` that another peer holds for someone else than the endpoint whose RAS
    /// address is `from` (the same endpoint moving here, as its RCF's alternates invite it to, keeps them).
    pub(super) fn held_by_peers(&self, aliases: &[AliasText], from: SocketAddr) -> Vec<AliasText> {
        let Some(peers) = &self.peers else {
            return Vec::new();
        };
        let moving =
            |h: &causeway_zones::Holder| h.protocol == Protocol::H323 && h.address == Some(from);
        aliases
            .iter()
            .filter(|a| peers.holders(&a.text).iter().any(|(h, _)| !moving(h)))
            .cloned()
            .collect()
    }
}
