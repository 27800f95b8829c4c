//! Route planning (RFC 3261 16.3 item 4-5, 16.4, 16.5): what to do with a new request, decided
//! from the request, where it came from and the node's tables alone. No transaction, no
//! output: [`plan`] answers with a [`RoutePlan`] that the core carries out, so the decisions
//! can be tested without either.
//!
//! The order of the checks is RFC 3261's: strict-routing repair and our own Route entries
//! first (16.4), then traversal-link admission on a server zone's port, requests for this node
//! itself, Max-Forwards (16.3 item 3), loops (16.3 item 4), and last the targets (16.5: the
//! next Route, a Request-URI outside our responsibility, or the zones router).

use super::cluster::ClusterPeers;
use super::flows::{same_flow, FlowTokens};
use super::hop::{hop_for_uri, HopError, NextHop};
use super::identity::Identity;
use super::interworking::Interworking;
use super::io::Flow;
use super::links::{link_of_route, Links};
use super::probe::Probes;
use super::tables::{RouteEdit, Target};
use super::targets::{dns_target, router_targets, ZoneTargets};
use crate::message::{Host, Message, Method, NameAddr, SipUri, Uri};
use crate::registrar::Registrar;
use causeway_zones::Unreachable;
use causeway_zones::{Alias, Protocol, RouteRequest, Router, SharedAliases, LOCAL_ZONE};
use std::collections::VecDeque;
use std::time::Instant;

/// What the planner reads: the node's identity (with its caches), the live links, the dial
/// plan, the registrations and the alias table shared with H.323.
pub(super) struct Tables<'a> {
    pub identity: &'a mut Identity,
    pub links: &'a Links,
    pub router: &'a Router,
    pub registrar: &'a Registrar,
    pub shared_aliases: Option<&'a SharedAliases>,
    pub flows: &'a FlowTokens,
    /// The node's SIP <-> H.323 gateway, when it runs one.
    pub interworking: Option<&'a Interworking>,
    /// The other peers of the node's cluster, when it is in one.
    pub cluster: Option<&'a ClusterPeers>,
    /// Next hops that just failed.
    pub unreachable: &'a Unreachable,
    /// The loads a remote cluster's peers answered probes with.
    pub probes: &'a Probes,
}

/// What to do with a request.
#[derive(Debug)]
pub(super) enum RoutePlan {
    /// For this node itself: REGISTER (registrar), OPTIONS (health probe), anything else is
    /// refused there.
    Local(Method),
    /// A REGISTER on traversal server zone `zone`'s port: a link asking to be admitted.
    LinkRegister(String),
    /// Answer at once with this status and reason phrase.
    Reject(u16, String),
    /// Proxy it.
    Forward(Forwarding),
}

#[derive(Debug)]
pub(super) struct Forwarding {
    /// In the order they are tried.
    pub targets: VecDeque<Target>,
    pub routes: RouteEdit,
    pub record_route: bool,
    /// The targets are registrations of the local zone (a failure of all is 480).
    pub local_zone: bool,
}

/// RFC 3261 16.4: the request's Route set after our own entries are taken off.
struct RouteInfo {
    edit: RouteEdit,
    /// Route entries after ours.
    remaining: Vec<NameAddr>,
    /// The Request-URI after strict-routing repair.
    ruri: Option<Uri>,
    /// Our last entry faced a traversal link: the request goes down it.
    via_link: Option<String>,
    /// Our last entry carried the token of a flow other than the request's: the request goes
    /// down that flow (RFC 5626 5.3).
    via_flow: Option<Flow>,
}

fn is_ours(identity: &mut Identity, uri: &Uri) -> bool {
    match uri {
        Uri::Sip(u) => identity.is_our_address(&u.host, u.port, u.secure),
        _ => false,
    }
}

fn route_info(msg: &Message, flow: &Flow, t: &mut Tables) -> RouteInfo {
    let identity = &mut *t.identity;
    // a strict-routing previous hop put our URI in the Request-URI
    let mut edit = RouteEdit::default();
    let mut remaining: Vec<NameAddr> = msg.routes().to_vec();
    let mut ruri = msg.request_uri().cloned();
    if let Some(Uri::Sip(u)) = &ruri {
        if u.user.is_none() && identity.is_our_address(&u.host, u.port, u.secure) {
            if let Some(last) = remaining.pop() {
                edit.ruri = Some(last.uri.to_string());
                ruri = Some(last.uri);
                edit.replace = Some(remaining.iter().map(name_addr_string).collect());
            }
        }
    }
    // pop our own Route entries (one, or two after double record-routing); only the last of
    // ours faces the next hop, and one that faces a traversal link sends the request down it
    let mut via_link = None;
    let mut via_flow = None;
    while remaining.first().is_some_and(|r| is_ours(identity, &r.uri)) {
        let first = remaining.remove(0);
        via_link = link_of_route(&first.uri);
        via_flow = t.flows.of_route(&first.uri).filter(|f| !same_flow(f, flow));
        match &mut edit.replace {
            Some(list) if !list.is_empty() => {
                list.remove(0);
            }
            Some(_) => {}
            None => edit.pop += 1,
        }
    }
    RouteInfo {
        edit,
        remaining,
        ruri,
        via_link,
        via_flow,
    }
}

/// The plan for a new request `msg` that arrived on `flow`.
pub(super) fn plan(msg: &Message, flow: &Flow, t: &mut Tables, now: Instant) -> RoutePlan {
    let method = msg
        .method()
        .cloned()
        .unwrap_or(Method::Other(Default::default()));
    let mut route = route_info(msg, flow, t);
    if let Some(z) = t.links.server_zone_at(flow.kind, flow.local.port()) {
        if method == Method::Register {
            return RoutePlan::LinkRegister(z.name.clone());
        }
        if !t.links.is_link_conn(&z.name, flow.conn) {
            let reason = format!(
                "Forbidden (no traversal link of zone `{}` on this connection)",
                z.name
            );
            return RoutePlan::Reject(403, reason);
        }
    }
    if route.remaining.is_empty() && is_for_us(&route.ruri, &method, t.identity) {
        return RoutePlan::Local(method);
    }
    if msg.max_forwards() == Some(0) {
        // RFC 3261 16.3 item 3 lets an element answer an OPTIONS that can go no further
        // itself: done for the peer at the far end of a traversal link, which probes the link
        // so (it cannot name our address across the NAT); anyone else gets RFC 4475 3.3.11's
        // 483
        let over_link = t
            .links
            .source_zone(flow.kind, flow.local.port(), flow.conn)
            .is_some();
        if method == Method::Options && over_link {
            return RoutePlan::Local(method);
        }
        return RoutePlan::Reject(483, "Too Many Hops".into());
    }
    if t.identity.is_loop(msg) {
        return RoutePlan::Reject(482, "Loop Detected".into());
    }
    let in_dialog = msg.to().and_then(|to| to.tag()).is_some();
    let dialog_creating = matches!(method, Method::Invite | Method::Subscribe | Method::Refer);
    let targets = match next_targets(msg, flow, &mut route, in_dialog, t, now) {
        Ok(targets) => targets,
        Err((status, reason)) => return RoutePlan::Reject(status, reason),
    };
    RoutePlan::Forward(Forwarding {
        targets: targets.targets,
        routes: route.edit,
        record_route: dialog_creating && !in_dialog,
        local_zone: targets.local_zone,
    })
}

/// A request addressed to this node itself: our address or domain with no user part (a
/// REGISTER may name a user), or a REGISTER for one of our domains.
fn is_for_us(ruri: &Option<Uri>, method: &Method, identity: &mut Identity) -> bool {
    let Some(Uri::Sip(u)) = ruri else {
        return false;
    };
    let ours =
        identity.is_our_address(&u.host, u.port, u.secure) || identity.is_our_domain(&u.host);
    ours && (u.user.is_none() || *method == Method::Register)
}

/// RFC 3261 16.5: the targets, from our Route entry facing a link, the next Route, a
/// Request-URI outside our responsibility, or the zones router.
fn next_targets(
    msg: &Message,
    flow: &Flow,
    route: &mut RouteInfo,
    in_dialog: bool,
    t: &mut Tables,
    now: Instant,
) -> Result<ZoneTargets, (u16, String)> {
    let direct = |target: Target| ZoneTargets {
        targets: VecDeque::from([target]),
        local_zone: false,
    };
    if let Some(zone) = route.via_link.clone() {
        // down that link, Request-URI and the rest of the Route set untouched (C pops its own
        // entries)
        return match t.links.hop(&zone) {
            Some(hop) => Ok(direct(Target::to(route.edit.ruri.clone(), hop))),
            None => Err((
                503,
                format!("Service Unavailable (traversal zone `{zone}` is down)"),
            )),
        };
    }
    if let Some(f) = route.via_flow {
        // down the UA's flow, Request-URI (its unreachable Contact) untouched
        let hop = NextHop::down_flow(&f);
        return Ok(direct(Target::to(route.edit.ruri.clone(), hop)));
    }
    if let Some(next) = route.remaining.first().cloned() {
        return loose_route(&next, route).map(direct);
    }
    if let Some(u) = direct_uri(&route.ruri, in_dialog, t.identity) {
        // a Request-URI outside our responsibility (an address, or an in-dialog remote
        // target) is forwarded to as it stands
        return uri_target(&u, route.edit.ruri.clone()).map(direct);
    }
    let Some(ruri) = &route.ruri else {
        return Err((400, "Bad Request (no Request-URI)".into()));
    };
    let alias = match ruri {
        Uri::Sip(u) => {
            let domain = if t.identity.is_our_address(&u.host, u.port, u.secure) {
                t.identity.domains().first().cloned()
            } else {
                Some(host_string(&u.host))
            };
            Alias::new(u.user.as_deref(), domain.as_deref())
        }
        Uri::Absolute { rest, .. } => Alias::new(Some(rest.split(';').next().unwrap_or("")), None),
    };
    let source_zone = t
        .links
        .source_zone(flow.kind, flow.local.port(), flow.conn)
        .unwrap_or(LOCAL_ZONE)
        .to_string();
    let source_registered = from_aor(msg).is_some_and(|aor| {
        t.registrar
            .lookup(&aor, now)
            .iter()
            .any(|b| b.source.remote == flow.remote)
    });
    let answer = t.router.route(&RouteRequest {
        alias: &alias,
        protocol: Protocol::Sip,
        source_zone: &source_zone,
        source_registered,
    });
    let from_peer = t.cluster.is_some_and(|c| c.came_from_peer(msg));
    router_targets(&answer, (&alias, ruri), (flow.remote, from_peer), t, now)
}

/// Loose routing: the next hop from the Route, Request-URI unchanged (16.6 item 6 for a strict
/// next hop: the Request-URI becomes the Route and the old one goes last).
fn loose_route(next: &NameAddr, route: &mut RouteInfo) -> Result<Target, (u16, String)> {
    let Uri::Sip(u) = &next.uri else {
        return Err((416, "Unsupported URI Scheme (in Route)".into()));
    };
    let mut target = uri_target(u, route.edit.ruri.clone())?;
    if !u.lr() {
        let mut rest: Vec<String> = route
            .remaining
            .iter()
            .skip(1)
            .map(name_addr_string)
            .collect();
        if let Some(r) = &route.ruri {
            rest.push(format!("<{r}>"));
        }
        route.edit.replace = Some(rest);
        target.ruri = Some(u.to_string());
    }
    Ok(target)
}

/// The target for a URI: its address, or RFC 3263 on its host.
fn uri_target(u: &SipUri, ruri: Option<String>) -> Result<Target, (u16, String)> {
    match hop_for_uri(u) {
        Ok(hop) => Ok(Target::to(ruri, hop)),
        Err(HopError::NeedsDns(_)) => Ok(dns_target(u, None, ruri)),
        Err(e) => Err((503, format!("Service Unavailable ({e})"))),
    }
}

/// The SIP Request-URI to forward to directly: not ours, and either an in-dialog request or an
/// IP address (a domain name goes through the router).
fn direct_uri(ruri: &Option<Uri>, in_dialog: bool, identity: &mut Identity) -> Option<SipUri> {
    let Some(Uri::Sip(u)) = ruri else {
        return None;
    };
    if identity.is_our_domain(&u.host) || identity.is_our_address(&u.host, u.port, u.secure) {
        return None;
    }
    let literal = matches!(u.host, Host::V4(_) | Host::V6(_));
    (in_dialog || literal).then(|| u.clone())
}

/// The caller's address of record, `sip:user@host`.
fn from_aor(msg: &Message) -> Option<String> {
    let u = msg.from()?.uri.as_sip()?;
    Some(format!(
        "sip:{}@{}",
        u.user.as_deref().unwrap_or(""),
        host_string(&u.host)
    ))
}

pub(super) fn host_string(h: &Host) -> String {
    match h {
        Host::Domain(d) => d.to_ascii_lowercase().into(),
        other => other.to_string(),
    }
}

/// A Route/Path value re-serialised from its parts.
pub(super) fn name_addr_string(n: &NameAddr) -> String {
    let mut s = format!("<{}>", n.uri);
    for (k, v) in n.params.iter() {
        s.push(';');
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

#[cfg(test)]
mod tests;
