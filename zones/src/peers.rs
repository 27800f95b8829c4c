//! The aliases registered on the other peers of this node's cluster, and how to reach those
//! peers: soft state each peer publishes about itself (crate `cluster`'s directory), kept here
//! so that the SIP core and the gatekeeper can route a call for an alias registered elsewhere
//! in the cluster to the peer that holds it, and refuse an alias another peer's endpoint holds.
//!
//! Keys are `shared::key` folded aliases. Must not hold this peer's own registrations (those are
//! `shared`'s) nor decide routing; the node fills it from what peers publish.

use crate::route::Protocol;
use causeway_config::Transport;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// How another peer is reached, as it published it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its SIP listeners.
    pub sip: Vec<(Transport, SocketAddr)>,
    /// Its gatekeeper's RAS address.
    pub ras: Option<SocketAddr>,
    /// Its H.225.0 call signaling address.
    pub q931: Option<SocketAddr>,
    /// Its gatekeeper identifier (peer-local: `[h323] gatekeeper_id`, by default the system
    /// name), which an endpoint moving to it names in its RRQ.
    pub gatekeeper_id: Option<String>,
    /// Calls in progress and free media sessions, as last published (its load).
    pub calls: Option<u64>,
    pub free_media: Option<u64>,
    /// Bandwidth its H.323 admissions asked for, kbit/s.
    pub kbps: Option<u64>,
}

impl PeerInfo {
    /// The SIP address to send to over `kind`, if the peer listens on it.
    pub fn sip_addr(&self, kind: Transport) -> Option<SocketAddr> {
        self.sip.iter().find(|(k, _)| *k == kind).map(|(_, a)| *a)
    }
}

/// How an alias is held: by which protocol, and for H.323 the endpoint's RAS address.
pub type Held = (Protocol, Option<SocketAddr>);

/// One alias as another peer holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    pub peer: u64,
    pub protocol: Protocol,
    /// H.323: the endpoint's RAS address, when the peer published it.
    pub address: Option<SocketAddr>,
}

#[derive(Debug, Default)]
struct Inner {
    /// alias key -> the peers holding it (a SIP AOR may be registered on several).
    aliases: HashMap<String, Vec<Holder>>,
    peers: BTreeMap<u64, PeerInfo>,
    /// Aliases held per peer (counts for status).
    counts: BTreeMap<u64, usize>,
}

/// Shared by the node's cluster task (writer) and the SIP core and gatekeeper (readers): a
/// mutex held for one operation. Lookups are one map access; a peer's restart or death is a pass
/// over the table (rare: a restart or a death); an update is as long as its changes.
#[derive(Clone, Debug, Default)]
pub struct PeerAliases {
    inner: Arc<Mutex<Inner>>,
}

impl PeerAliases {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // a poisoned lock only means another task panicked mid-update of plain maps
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// `peer`'s aliases changed (`None`: no longer held), and its info is `info`.
    pub fn update(&self, peer: u64, info: PeerInfo, changes: &[(String, Option<Protocol>)]) {
        let changes: Vec<(String, Option<Held>)> = changes
            .iter()
            .map(|(k, p)| (k.clone(), p.map(|p| (p, None))))
            .collect();
        self.update_with(peer, info, &changes);
    }

    /// As [`PeerAliases::update`], each held alias with the H.323 endpoint's address.
    pub fn update_with(&self, peer: u64, info: PeerInfo, changes: &[(String, Option<Held>)]) {
        self.with(|m| {
            m.peers.insert(peer, info);
            let mut count = m.counts.get(&peer).copied().unwrap_or(0);
            for (key, protocol) in changes {
                let holders = m.aliases.entry(key.clone()).or_default();
                let before = holders.len();
                holders.retain(|h| h.peer != peer);
                count = count.saturating_sub(before - holders.len());
                if let Some((protocol, address)) = protocol {
                    holders.push(Holder {
                        peer,
                        protocol: *protocol,
                        address: *address,
                    });
                    holders.sort_by_key(|h| h.peer);
                    count += 1;
                }
                if holders.is_empty() {
                    m.aliases.remove(key);
                }
            }
            m.counts.insert(peer, count);
        });
    }

    /// `peer` is gone: nothing of it is kept.
    pub fn forget(&self, peer: u64) {
        self.with(|m| {
            drop_aliases(m, peer);
            m.peers.remove(&peer);
            m.counts.remove(&peer);
        });
    }

    /// The other peers holding `alias` (any alias text; folded as `shared::key`), by peer id.
    pub fn holders(&self, alias: &str) -> Vec<(Holder, PeerInfo)> {
        let k = crate::shared::key(alias);
        self.with(|m| {
            let Some(hs) = m.aliases.get(&k) else {
                return Vec::new();
            };
            hs.iter()
                .filter_map(|h| Some((*h, m.peers.get(&h.peer)?.clone())))
                .collect()
        })
    }

    /// Is `addr` one of a live peer's SIP listeners?
    pub fn is_peer_sip(&self, addr: SocketAddr) -> bool {
        self.with(|m| {
            m.peers
                .values()
                .any(|p| p.sip.iter().any(|(_, a)| *a == addr))
        })
    }

    /// Is `addr` a live peer's gatekeeper (RAS)?
    pub fn is_peer_ras(&self, addr: SocketAddr) -> bool {
        self.with(|m| m.peers.values().any(|p| p.ras == Some(addr)))
    }

    /// The live peers with their info and how many aliases each holds.
    pub fn peers(&self) -> Vec<(u64, PeerInfo, usize)> {
        self.with(|m| {
            m.peers
                .iter()
                .map(|(id, info)| (*id, info.clone(), m.counts.get(id).copied().unwrap_or(0)))
                .collect()
        })
    }

    /// Up to `limit` aliases `peer` holds, sorted (for status): all of them when it holds no
    /// more, else the first `limit` met (the scan stops there, so a status listing costs about
    /// `limit` times the share of the table that is `peer`'s, not the whole table).
    pub fn aliases_of(&self, peer: u64, limit: usize) -> Vec<(String, Protocol)> {
        if limit == 0 {
            return Vec::new();
        }
        self.with(|m| {
            let mut out: Vec<(String, Protocol)> = m
                .aliases
                .iter()
                .filter_map(|(k, hs)| {
                    let h = hs.iter().find(|h| h.peer == peer)?;
                    Some((k.clone(), h.protocol))
                })
                .take(limit)
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        })
    }
}

fn drop_aliases(m: &mut Inner, peer: u64) {
    if m.counts.get(&peer).copied().unwrap_or(0) == 0 {
        return;
    }
    m.aliases.retain(|_, hs| {
        hs.retain(|h| h.peer != peer);
        !hs.is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(port: u16) -> PeerInfo {
        PeerInfo {
            sip: vec![(Transport::Udp, SocketAddr::from(([127, 0, 0, 1], port)))],
            ..Default::default()
        }
    }

    #[test]
    fn aliases_follow_updates_and_forgets() {
        let t = PeerAliases::default();
        // a peer heard first is known before its entries arrive (the directory's first call)
        t.update(2, info(5062), &[]);
        assert_eq!(t.peers().len(), 1);
        t.update(
            2,
            info(5062),
            &[
                ("bob@example.com".into(), Some(Protocol::Sip)),
                ("2001".into(), Some(Protocol::H323)),
            ],
        );
        t.update(
            3,
            info(5063),
            &[("bob@example.com".into(), Some(Protocol::Sip))],
        );
        let bob: Vec<u64> = t
            .holders("sip:Bob@Example.com")
            .iter()
            .map(|(h, _)| h.peer)
            .collect();
        assert_eq!(bob, [2, 3]);
        assert_eq!(t.holders("2001")[0].0.protocol, Protocol::H323);
        assert!(t.is_peer_sip(SocketAddr::from(([127, 0, 0, 1], 5063))));
        assert!(!t.is_peer_sip(SocketAddr::from(([127, 0, 0, 1], 5064))));

        // a removal, and a re-add of the same alias does not count twice
        t.update(2, info(5062), &[("2001".into(), None)]);
        t.update(
            2,
            info(5062),
            &[("bob@example.com".into(), Some(Protocol::Sip))],
        );
        assert!(t.holders("2001").is_empty());
        let counts: Vec<(u64, usize)> = t.peers().iter().map(|(id, _, n)| (*id, *n)).collect();
        assert_eq!(counts, [(2, 1), (3, 1)]);

        // a restarted peer starts over (the directory forgets it, then hears it anew); a dead
        // one disappears with its aliases
        t.forget(2);
        t.update(2, info(5062), &[]);
        assert_eq!(t.holders("bob@example.com").len(), 1);
        t.forget(3);
        assert!(t.holders("bob@example.com").is_empty());
        assert!(!t.is_peer_sip(SocketAddr::from(([127, 0, 0, 1], 5063))));
        assert_eq!(t.peers().len(), 1);
    }

    #[test]
    fn removing_what_was_never_held_changes_nothing() {
        let t = PeerAliases::default();
        t.update(4, info(5064), &[("ghost".into(), None)]);
        assert_eq!(t.peers()[0].2, 0);
        assert!(t.aliases_of(4, 10).is_empty());
    }
}
