//! The node's registrations shared with the other peers of its cluster (soft state, the
//! cluster crate's directory; never the Raft log): what this peer publishes about itself (the
//! aliases registered here, its SIP and H.323 addresses, its load), and the sink that turns
//! what the other peers publish into `causeway_zones::PeerAliases`, which the SIP core and
//! the status read.
//!
//! Owns the text form of a publication (the `about` keys and entry values) in both
//! directions; must not route (the SIP core does) or talk to peers (the cluster crate does).

use causeway_cluster::DirectorySink;
use causeway_config::Transport;
use causeway_zones::{Held, PeerAliases, PeerInfo, Protocol, SharedAliases};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How often this peer's registrations are gathered and handed to the cluster crate (which
/// sends only what changed).
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// The longest between two passes over this peer's aliases: a SIP registration that ran out
/// leaves the published set this late at most.
const RESCAN_EVERY: Duration = Duration::from_secs(5);

/// The `about` keys.
const SIP_KEYS: [(Transport, &str); 3] = [
    (Transport::Udp, "sip.udp"),
    (Transport::Tcp, "sip.tcp"),
    (Transport::Tls, "sip.tls"),
];
const RAS: &str = "h323.ras";
const Q931: &str = "h323.q931";
const GATEKEEPER_ID: &str = "h323.gatekeeper_id";
const CALLS: &str = "load.calls";
const FREE_MEDIA: &str = "load.media_free";
const KBPS: &str = "load.kbps";

/// The load the status publisher last saw (calls in progress, free media sessions); the SIP
/// core tells it in its OPTIONS answers too.
pub(super) type Load = causeway_sip::proxy::LoadHandle;

/// An entry's value: `sip`, or `h323` with the endpoint's RAS address (`h323 10.0.0.5:1719`).
fn entry_text(p: Protocol, address: Option<SocketAddr>) -> String {
    match (p, address) {
        (Protocol::Sip, _) => "sip".to_string(),
        (Protocol::H323, None) => "h323".to_string(),
        (Protocol::H323, Some(a)) => format!("h323 {a}"),
    }
}

/// An entry's value read back; an unknown protocol is `None` (the alias is not taken as held).
fn entry_of(text: &str) -> Option<Held> {
    let (proto, address) = match text.split_once(' ') {
        Some((p, a)) => (p, a.parse().ok()),
        None => (text, None),
    };
    match proto {
        "sip" => Some((Protocol::Sip, None)),
        "h323" => Some((Protocol::H323, address)),
        _ => None,
    }
}

/// What a peer's `about` says of it; unknown keys and unparsable values are ignored (a newer
/// peer may publish more).
pub(super) fn info_of(about: &BTreeMap<String, String>) -> PeerInfo {
    let addr = |k: &str| about.get(k).and_then(|v| v.parse::<SocketAddr>().ok());
    let number = |k: &str| about.get(k).and_then(|v| v.parse::<u64>().ok());
    PeerInfo {
        sip: SIP_KEYS
            .iter()
            .filter_map(|(kind, k)| Some((*kind, addr(k)?)))
            .collect(),
        ras: addr(RAS),
        q931: addr(Q931),
        gatekeeper_id: about.get(GATEKEEPER_ID).cloned(),
        calls: number(CALLS),
        free_media: number(FREE_MEDIA),
        kbps: number(KBPS),
    }
}

/// This peer's fixed facts: its SIP listeners (the first of each transport, not the mutual-TLS
/// ones) and H.323 addresses, a wildcard address replaced by the peer's cluster address.
pub(super) fn about(
    sip: &[(Transport, SocketAddr, bool)],
    h323: Option<(SocketAddr, SocketAddr, &str)>,
    config: &causeway_config::Config,
) -> BTreeMap<String, String> {
    let own = config
        .cluster
        .as_ref()
        .and_then(|c| c.own_addr())
        .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
    about_with(sip, h323, own)
}

fn about_with(
    sip: &[(Transport, SocketAddr, bool)],
    h323: Option<(SocketAddr, SocketAddr, &str)>,
    own: IpAddr,
) -> BTreeMap<String, String> {
    let reachable = |a: SocketAddr| {
        if a.ip().is_unspecified() {
            SocketAddr::new(own, a.port())
        } else {
            a
        }
    };
    let mut out = BTreeMap::new();
    for (kind, key) in SIP_KEYS {
        if let Some((_, a, _)) = sip.iter().find(|(k, _, mtls)| *k == kind && !mtls) {
            out.insert(key.to_string(), reachable(*a).to_string());
        }
    }
    if let Some((ras, q931, gatekeeper_id)) = h323 {
        out.insert(RAS.to_string(), reachable(ras).to_string());
        out.insert(Q931.to_string(), reachable(q931).to_string());
        out.insert(GATEKEEPER_ID.to_string(), gatekeeper_id.to_string());
    }
    out
}

/// Turns the other peers' publications into the peer alias table.
pub(super) struct Sink(pub PeerAliases);

impl DirectorySink for Sink {
    fn update(
        &self,
        peer: u64,
        about: &BTreeMap<String, String>,
        changes: &[(String, Option<String>)],
    ) {
        let changes: Vec<(String, Option<Held>)> = changes
            .iter()
            .map(|(k, v)| (k.clone(), v.as_deref().and_then(entry_of)))
            .collect();
        self.0.update_with(peer, info_of(about), &changes);
    }

    fn forget(&self, peer: u64) {
        self.0.forget(peer);
    }
}

/// Hands this peer's load to the cluster crate every `PUBLISH_EVERY`, and its live aliases
/// when they changed (the shared table's change count moved) or `RESCAN_EVERY` passed (a SIP
/// claim lapses without a change of its own); the cluster crate diffs and sends, and answers
/// how many it left out. Runs until the node stops.
pub(super) async fn publish_loop(
    publisher: causeway_cluster::Publisher,
    shared: SharedAliases,
    fixed: BTreeMap<String, String>,
    load: Load,
) {
    let mut skipped_before = 0;
    let mut scanned: Option<(u64, Instant)> = None;
    let mut tick = tokio::time::interval(PUBLISH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut about = fixed.clone();
        let now_load = *load.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = now_load {
            about.insert(CALLS.to_string(), l.calls.to_string());
            if let Some(f) = l.free_media {
                about.insert(FREE_MEDIA.to_string(), f.to_string());
            }
            about.insert(KBPS.to_string(), l.kbps.to_string());
        }
        let now = Instant::now();
        let changes = shared.changes();
        let due = scanned.is_none_or(|(seen, at)| seen != changes || now >= at + RESCAN_EVERY);
        if !due {
            publisher.publish_about(about);
            continue;
        }
        scanned = Some((changes, now));
        let entries: BTreeMap<String, String> = shared
            .live(now)
            .into_iter()
            .map(|(k, p, address)| (k, entry_text(p, address)))
            .collect();
        let skipped = publisher.publish(about, entries).skipped;
        if skipped != skipped_before {
            // said once per change, not every half second
            tracing::warn!(
                skipped,
                "cluster: aliases left out of what this peer publishes (over the directory's bounds)"
            );
            skipped_before = skipped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_round_trips_into_peer_info() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let sip = [
            (Transport::Udp, a("0.0.0.0:5060"), false),
            (Transport::Tls, a("127.0.0.1:5062"), true),
            (Transport::Tls, a("127.0.0.1:5061"), false),
        ];
        let own = "10.0.0.2".parse().unwrap();
        let h323 = Some((a("0.0.0.0:1719"), a("10.0.0.2:1720"), "peer2"));
        let mut about = about_with(&sip, h323, own);
        about.insert(CALLS.into(), "3".into());
        about.insert("future.key".into(), "x".into());
        let info = info_of(&about);
        assert_eq!(info.sip_addr(Transport::Udp), Some(a("10.0.0.2:5060")));
        assert_eq!(info.sip_addr(Transport::Tls), Some(a("127.0.0.1:5061")));
        assert_eq!(info.sip_addr(Transport::Tcp), None);
        assert_eq!(info.ras, Some(a("10.0.0.2:1719")));
        assert_eq!(info.gatekeeper_id.as_deref(), Some("peer2"));
        assert_eq!(info.calls, Some(3));
        assert_eq!(info.free_media, None);
    }

    #[test]
    fn entries_become_aliases_and_unknown_protocols_removals() {
        let sink = Sink(PeerAliases::default());
        sink.update(
            2,
            &BTreeMap::new(),
            &[
                ("bob@example.com".into(), Some("sip".into())),
                ("2001".into(), Some("h323 192.0.2.7:1719".into())),
                ("odd".into(), Some("xmpp".into())),
            ],
        );
        assert_eq!(sink.0.holders("bob@example.com").len(), 1);
        let h = sink.0.holders("2001")[0].0;
        assert_eq!(h.protocol, Protocol::H323);
        assert_eq!(h.address, "192.0.2.7:1719".parse().ok());
        assert!(sink.0.holders("odd").is_empty());
        sink.forget(2);
        assert!(sink.0.holders("2001").is_empty());
    }
}
