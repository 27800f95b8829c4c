//! The status's view of the registrations shared in a cluster: who is registered on which
//! other peer, each peer's published load, and the cluster totals (this peer included).
//!
//! Reads the peer alias table and this snapshot's own counts; changes nothing.

use super::Status;
use causeway_sip::proxy::Load;
use causeway_zones::PeerAliases;
use serde::Serialize;

/// Aliases listed per snapshot at most (the counts are always whole).
const LISTED: usize = 1000;

/// Another peer as its publications describe it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerLoad {
    pub node_id: u64,
    /// Aliases registered on it (SIP AORs and H.323 aliases).
    pub registrations: usize,
    pub calls: Option<u64>,
    pub free_media: Option<u64>,
    /// Bandwidth its H.323 admissions asked for, kbit/s.
    pub kbps: Option<u64>,
    /// Its SIP listeners, `transport address`.
    pub sip: Vec<String>,
}

/// One alias registered on another peer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerRegistration {
    pub node_id: u64,
    pub alias: String,
    pub protocol: String,
}

/// The registrations and load of the whole cluster, as this peer knows them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ClusterDirectory {
    /// The other live peers (a peer not heard from is not listed).
    pub peers: Vec<PeerLoad>,
    /// Up to 1000 aliases registered on other peers, by peer then alias (a sample of each
    /// peer's when there are more).
    pub registrations: Vec<PeerRegistration>,
    /// Over the live peers and this one.
    pub total_registrations: usize,
    pub total_calls: u64,
    pub total_free_media: u64,
    pub total_kbps: u64,
}

impl Status {
    /// Who is registered where, from the other peers' publications; call after the local
    /// parts are filled (this peer's counts go into the totals).
    pub fn fill_directory(&mut self, peers: &PeerAliases) {
        let own_registrations = self.sip.registered_aors
            + self
                .h323
                .as_ref()
                .map_or(0, |h| h.registrations.iter().map(|r| r.aliases.len()).sum());
        let own = self.load();
        let mut d = ClusterDirectory {
            total_registrations: own_registrations,
            total_calls: own.calls,
            total_free_media: own.free_media.unwrap_or(0),
            total_kbps: own.kbps,
            ..Default::default()
        };
        for (node_id, info, count) in peers.peers() {
            d.total_registrations += count;
            d.total_calls += info.calls.unwrap_or(0);
            d.total_free_media += info.free_media.unwrap_or(0);
            d.total_kbps += info.kbps.unwrap_or(0);
            let room = LISTED.saturating_sub(d.registrations.len());
            d.registrations
                .extend(
                    peers
                        .aliases_of(node_id, room)
                        .into_iter()
                        .map(|(alias, p)| PeerRegistration {
                            node_id,
                            alias,
                            protocol: p.to_string(),
                        }),
                );
            d.peers.push(PeerLoad {
                node_id,
                registrations: count,
                calls: info.calls,
                free_media: info.free_media,
                kbps: info.kbps,
                sip: info
                    .sip
                    .iter()
                    .map(|(k, a)| format!("{} {a}", k.via_token()))
                    .collect(),
            });
        }
        self.directory = Some(d);
    }

    /// This peer's load as it publishes it: calls in progress (SIP calls the relay anchors and
    /// H.323 calls), free media sessions (port pairs the relay can still hand out), and the
    /// bandwidth H.323 admissions asked for.
    pub fn load(&self) -> Load {
        let h323_calls = self.h323.as_ref().map_or(0, |h| h.calls.len());
        Load {
            calls: (self.sip.calls_anchored + h323_calls) as u64,
            free_media: self
                .media
                .as_ref()
                .map(|m| m.ports_capacity.saturating_sub(m.ports_in_use) as u64),
            kbps: self.h323.as_ref().map_or(0, |h| h.admitted_kbps),
        }
    }
}
