//! RFC 3261 16.5 for requests the zones router routes: each target zone of its answer becomes
//! hops to try (a local-zone alias its registered contacts, a traversal zone its live link, a
//! neighbor zone its peer, a DNS zone RFC 3263 on the Request-URI), in the router's order,
//! then the interworking gateway for local-zone aliases only H.323 endpoints registered
//! (`interworking`), then the cluster peers holding local-zone aliases registered nowhere here
//! (`cluster`); no target at all is a 404 that says why.
//!
//! Pure: reads the tables, returns targets or the refusal.

use super::hop::{hop_for_uri, HopError, NextHop};
use super::interworking::{gateway_target, h323_owner, refusal, InterworkCtx};
use super::io::{ConnId, Flow};
use super::plan::Tables;
use super::tables::Target;
use crate::dns::SipTarget;
use crate::message::{Host, SipUri, Uri};
use crate::registrar::Reach;
use causeway_config::Transport;
use causeway_zones::{Alias, Owner, Route, ZoneKind};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::debug;

/// The targets of a routed request.
#[derive(Debug)]
pub(super) struct ZoneTargets {
    pub targets: VecDeque<Target>,
    /// They are registrations of the local zone.
    pub local_zone: bool,
}

/// The targets of the router's answer `route` for `alias` (dialled as `ruri`, sent by
/// `source`): SIP's, in the router's order, then the interworked ones.
pub(super) fn router_targets(
    route: &Route,
    (alias, ruri): (&Alias, &Uri),
    (source, from_peer): (SocketAddr, bool),
    t: &mut Tables,
    now: Instant,
) -> Result<ZoneTargets, (u16, String)> {
    let mut found = ZoneTargets {
        targets: VecDeque::new(),
        local_zone: false,
    };
    let mut down: Vec<String> = Vec::new();
    let iw = InterworkCtx {
        config: t.interworking,
        source,
    };
    // local-zone aliases only H.323 endpoints hold: to the gateway, after every SIP target
    let mut interworked: Vec<Target> = Vec::new();
    let mut h323: Option<(Alias, Owner)> = None;
    // local-zone aliases held on another peer of the cluster: to that peer, after the rest
    let mut clustered: Vec<Target> = Vec::new();
    let hop_cap = Some(t.router.hop_limit());
    for target in &route.targets {
        // the Request-URI changes only when a rule rewrote the alias
        let rewritten = (target.alias != *alias).then(|| alias_uri(&target.alias));
        match target.kind {
            ZoneKind::Local => {
                found.local_zone = true;
                let before = found.targets.len();
                local_contacts(&target.alias, t, now, &mut found.targets);
                // the shared table gives an alias to one protocol only: an H.323 holder means
                // no SIP registration
                if found.targets.len() == before {
                    if h323_owner(t.shared_aliases, &target.alias, now).is_some() {
                        interworked.extend(h323_target(&iw, &target.alias, t, now, &mut h323));
                    } else if let Some(c) = t.cluster.filter(|_| !from_peer) {
                        clustered.extend(c.targets(&target.alias));
                    }
                }
            }
            ZoneKind::TraversalServer | ZoneKind::TraversalClient => {
                let links = links_of(&target.zone, rewritten, t, now);
                if links.is_empty() {
                    down.push(format!("traversal zone `{}` is down", target.zone));
                }
                found.targets.extend(peers_in_turn(links, hop_cap));
            }
            ZoneKind::Neighbor => match neighbor(&target.zone, rewritten, t, now) {
                Ok(peers) => found.targets.extend(peers_in_turn(peers, hop_cap)),
                Err(e) => down.push(format!("neighbor zone `{}`: {e}", target.zone)),
            },
            ZoneKind::Dns => {
                // RFC 3263 on the (possibly rewritten) Request-URI
                let uri = match &rewritten {
                    Some(r) => Uri::parse(r).ok(),
                    None => Some(ruri.clone()),
                };
                match uri {
                    Some(Uri::Sip(su)) => {
                        let mut d = dns_target(&su, Some(target.zone.clone()), rewritten);
                        d.hop_cap = hop_cap;
                        found.targets.push_back(d);
                    }
                    _ => down.push(format!("DNS zone `{}`: not a SIP URI", target.zone)),
                }
            }
        }
    }
    found.targets.extend(interworked);
    found.targets.extend(clustered);
    if found.targets.is_empty() {
        let h323 =
            h323.or_else(|| Some((alias.clone(), h323_owner(t.shared_aliases, alias, now)?)));
        let refusal = no_target(alias, found.local_zone, &down, (&iw, h323));
        debug!(trace = ?route.trace, "{}", refusal.1);
        return Err(refusal);
    }
    Ok(found)
}

/// The gateway for a local-zone alias an H.323 endpoint holds (the first such alias and its
/// owner kept in `h323` for the refusal when nothing is found).
fn h323_target(
    iw: &InterworkCtx<'_>,
    alias: &Alias,
    t: &Tables,
    now: Instant,
    h323: &mut Option<(Alias, Owner)>,
) -> Option<Target> {
    let owner = h323_owner(t.shared_aliases, alias, now)?;
    h323.get_or_insert((alias.clone(), owner));
    gateway_target(iw, alias)
}

/// The registered contacts of a local-zone alias, by the registrar's order (q, then the most
/// recently refreshed). A binding reached over its flow gets the hop down that flow, one flow
/// per RFC 5626 instance (5.2: one flow of an instance at a time, the first in that order).
fn local_contacts(alias: &Alias, t: &mut Tables, now: Instant, out: &mut VecDeque<Target>) {
    let aor = format!(
        "sip:{}@{}",
        alias.user.as_deref().unwrap_or(""),
        alias.domain.as_deref().unwrap_or("")
    );
    let mut instances: Vec<&str> = Vec::new();
    for b in t.registrar.lookup(&aor, now) {
        if let Some(o) = &b.outbound {
            if instances.contains(&o.instance.as_str()) {
                continue;
            }
            instances.push(&o.instance);
        }
        if b.reach != Reach::Contact {
            let flow = Flow {
                kind: b.source.kind,
                local: b.source.local,
                remote: b.source.remote,
                conn: b.source.conn.map(ConnId),
            };
            out.push_back(Target {
                path: b.path.to_vec(),
                ..Target::to(Some(b.contact().to_string()), NextHop::down_flow(&flow))
            });
            continue;
        }
        let Ok(Uri::Sip(cu)) = Uri::parse(b.contact()) else {
            continue;
        };
        match hop_for_uri(&cu) {
            Ok(mut hop) => {
                // over the connection the registration came in on while it lasts (RFC 5923
                // spirit: the UA may accept no connection of ours), else a new one
                if b.source.kind == hop.kind && b.source.kind.is_reliable() {
                    hop.conn = b.source.conn.map(ConnId);
                }
                out.push_back(Target {
                    path: b.path.to_vec(),
                    ..Target::to(Some(b.contact().to_string()), hop)
                });
            }
            Err(HopError::NeedsDns(_)) => {
                let mut d = dns_target(&cu, None, Some(b.contact().to_string()));
                d.path = b.path.to_vec();
                out.push_back(d);
            }
            Err(e) => debug!(contact = %b.contact(), error = %e, "unusable contact"),
        }
    }
}

/// A neighbor zone's peers in order (one, or a remote cluster's), a peer that just failed
/// last (`unreachable`): each an address, or a host name for RFC 3263 with the node's resolver.
fn neighbor(
    zone: &str,
    ruri: Option<String>,
    t: &Tables,
    now: Instant,
) -> Result<Vec<Target>, String> {
    let Some(z) = t.router.zone(zone) else {
        return Ok(Vec::new());
    };
    let mut targets = Vec::new();
    for peer in z.peer_list() {
        if let Some(target) = neighbor_peer(peer, z.transport(), ruri.clone())? {
            targets.push(target);
        }
    }
    // stable: live before failed, then the most free media sessions a probe heard of, then
    // the configured order
    targets.sort_by_key(|n| {
        let h = super::probe::health(t.unreachable, t.probes, n.hop.addr, now);
        causeway_zones::Health::order_key(Some(h))
    });
    Ok(targets)
}

/// The live links of a traversal zone (one, or one per peer of a remote cluster), in the
/// order `neighbor` gives a remote cluster's peers.
fn links_of(zone: &str, ruri: Option<String>, t: &Tables, now: Instant) -> Vec<Target> {
    let mut targets: Vec<Target> = t
        .links
        .of_zone(zone)
        .into_iter()
        .filter_map(|(name, _)| t.links.hop(name))
        .map(|hop| Target::to(ruri.clone(), hop))
        .collect();
    targets.sort_by_key(|n| {
        let h = super::probe::health(t.unreachable, t.probes, n.hop.addr, now);
        causeway_zones::Health::order_key(Some(h))
    });
    targets
}

/// One zone's peers in the order to try them: the first, then each other only as an
/// alternate (tried when the one before gave no answer: the same destination behind another
/// peer would give the same one).
fn peers_in_turn(peers: Vec<Target>, hop_cap: Option<u32>) -> impl Iterator<Item = Target> {
    peers.into_iter().enumerate().map(move |(i, p)| Target {
        hop_cap,
        alternate: i > 0,
        ..p
    })
}

/// One peer of a neighbor zone.
fn neighbor_peer(
    peer: &str,
    transport: Transport,
    ruri: Option<String>,
) -> Result<Option<Target>, String> {
    let uri = Uri::parse(&format!("sip:{peer};transport={}", transport.param()));
    let hop = uri
        .clone()
        .map_err(|e| e.to_string())
        .and_then(|u| match u {
            Uri::Sip(su) => hop_for_uri(&su).map_err(|e| e.to_string()),
            _ => Err("not a SIP peer".to_string()),
        });
    match (hop, uri) {
        (Ok(hop), _) => Ok(Some(Target::to(ruri, hop))),
        (Err(_), Ok(Uri::Sip(su))) if !peer.is_empty() => Ok(Some(dns_target(&su, None, ruri))),
        (Err(_), _) if !peer.is_empty() => Ok(None),
        (Err(e), _) => Err(e),
    }
}

/// Why no target was found: a zone down (503), or no registration or route (404; a local
/// alias an H.323 endpoint holds says why it was not interworked).
fn no_target(
    alias: &Alias,
    local_zone: bool,
    down: &[String],
    (iw, h323): (&InterworkCtx<'_>, Option<(Alias, Owner)>),
) -> (u16, String) {
    if !down.is_empty() {
        return (503, format!("Service Unavailable ({})", down.join("; ")));
    }
    let reason = match (local_zone, h323) {
        (true, Some((a, o))) => refusal(iw, &a, &o),
        (true, None) => format!("Not Found ({alias} is not registered)"),
        (false, _) => format!("Not Found (no route to {alias})"),
    };
    (404, reason)
}

/// A target whose hop RFC 3263 must find first.
pub(super) fn dns_target(u: &SipUri, zone: Option<String>, ruri: Option<String>) -> Target {
    let host = match &u.host {
        Host::Domain(d) => d.to_string(),
        Host::V4(a) => a.to_string(),
        Host::V6(a) => a.to_string(),
    };
    let unresolved = NextHop {
        kind: Transport::Udp,
        addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        conn: None,
        server_name: None,
        link: None,
        flow: false,
        local: None,
    };
    Target {
        resolve: Some((
            SipTarget {
                host,
                port: u.port,
                transport: u.transport().and_then(Transport::from_token),
                secure: u.secure,
            },
            zone,
        )),
        ..Target::to(ruri, unresolved)
    }
}

/// The Request-URI for an alias a search rule rewrote.
fn alias_uri(a: &Alias) -> String {
    format!("sip:{a}")
}
