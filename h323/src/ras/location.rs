//! Location (H.225.0 7.16) and where a dialled alias goes: LRQs from neighbor zones answered
//! with LCF or LRJ, the plan of steps for a dialled alias (registrations, the shared alias
//! table, neighbor zones by the search rules), and [`Gatekeeper::resolve`] for the
//! call-signaling relay, which asks neighbors with LRQ and takes their LCF/LRJ (or silence
//! until `locate_timeout`) before trying the next one.
//!
//! Choices (each an operator-visible behaviour):
//! - LRQ from a configured neighbor is answered from the local registrations only (LCF naming
//!   causeway's own call-signaling address; no forwarding, so no LRQ loops); from anyone else
//!   it is refused (requestDenied), and one with hopCount 0 gets hopCountExceeded.
//! - A Setup's targets are tried in order: called aliases, then the Called party number as
//!   E.164; the first registration found wins, else the neighbor zones are asked one after the
//!   other (hopCount: the router's hop limit). A transform or rule that changed the dialled
//!   alias makes the callee be told the alias it registered.
//! - An alias registered by a SIP UA (and with `[interworking] mode = "on"` an alias the
//!   search sends only to zones that carry SIP alone) goes to the node's interworking gateway
//!   when one is set (`interworking`), after every H.323 target: registrations, traversal
//!   zones, and neighbors (the gateway is the fallback when their LRQs fail). Without a
//!   gateway, or with mode "off", or for a Setup from the gateway, it is not reached (logged).
//!
//! Must not touch: registrations (read only), admitted calls, sockets, clocks.

use super::{build, Datagram, Gatekeeper, Output, Resolve};
use crate::asn::{self, AliasKind, AliasText};
use crate::call::{CallId, Destination, RouteFailure};
use causeway_h323_asn1::h323_messages::{
    AliasAddress, LocationConfirm, LocationRejectReason, LocationRequest,
};
use causeway_zones::{Alias, Health, Protocol, Route, RouteRequest, ZoneKind};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// A neighbor target still to try for a call, and the LRQ out for it.
#[derive(Debug)]
pub(super) struct Locate {
    call: CallId,
    /// (peer RAS address, alias, zone) targets left after the current one.
    rest: VecDeque<(SocketAddr, AliasAddress, String)>,
    /// The zone of the LRQ in flight (the found call goes there).
    zone: String,
    pub(super) deadline: Instant,
    local: SocketAddr,
    any_local: bool,
    /// The interworking gateway, when every neighbor fails.
    fallback: Option<Destination>,
}

/// One way to reach a dialled alias.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// A registered endpoint (by id) and the alias text that found it.
    Local(String, String),
    /// A local-zone target nobody registered.
    LocalMissing,
    /// A local-zone target registered by a SIP UA (the shared alias table): its AOR, and
    /// whether the UA is registered on another peer of the cluster.
    SipOnly(String, bool),
    /// A target in a zone that carries SIP alone (a DNS zone, a traversal zone without
    /// H.323): the alias asked for there.
    SipZone(String),
    /// Ask a neighbor zone: (zone, its RAS address, alias).
    Neighbor(String, SocketAddr, AliasAddress),
    /// A traversal zone that carries H.323: (zone, alias).
    Traversal(String, AliasAddress),
}

impl Gatekeeper {
    pub(super) fn on_lrq(&mut self, m: &LocationRequest, d: Datagram<'_>, out: &mut Vec<Output>) {
        let n = m.request_seq_num.0;
        let reply = super::answer_to(asn::socket_addr(&m.reply_address), d.from);
        let neighbor = self
            .neighbors
            .iter()
            .find(|(_, a)| a.ip() == d.from.ip())
            .map(|(z, _)| z.clone());
        let peer = || {
            self.is_peer_ras(d.from)
                .then(|| super::cluster::CLUSTER_ZONE.to_string())
        };
        let Some(zone) = neighbor.or_else(peer) else {
            self.reject("LRQ", "requestDenied (not a neighbor)", d.from, out);
            let msg = build::lrj(n, LocationRejectReason::requestDenied(()));
            self.send(reply, &msg, out);
            return;
        };
        if m.hop_count == Some(0) {
            self.reject("LRQ", "hopCountExceeded", d.from, out);
            let msg = build::lrj(n, LocationRejectReason::hopCountExceeded(()));
            self.send(reply, &msg, out);
            return;
        }
        let found = m.destination_info.iter().any(|a| {
            asn::alias_text(a).is_some_and(|t| {
                self.local_targets(&t, &zone, false)
                    .iter()
                    .any(|text| self.table.by_alias(text).is_some())
            })
        });
        if found {
            let signal = asn::transport_address(self.signal_address(d.local));
            let msg = build::lcf(n, signal, asn::transport_address(d.local));
            self.send(reply, &msg, out);
        } else {
            self.reject("LRQ", "notRegistered", d.from, out);
            let msg = build::lrj(n, LocationRejectReason::notRegistered(()));
            self.send(reply, &msg, out);
        }
    }

    /// Whether any of `aliases` is registered here, as the search rules see an alias asked
    /// for from zone `zone` (E's LRQ down a traversal zone's flow).
    pub fn reaches(&self, aliases: &[AliasAddress], zone: &str) -> bool {
        aliases.iter().any(|a| {
            asn::alias_text(a).is_some_and(|t| {
                self.local_targets(&t, zone, false)
                    .iter()
                    .any(|text| self.table.by_alias(text).is_some())
            })
        })
    }

    /// The alias texts to look up in the registrations for a dialled alias: the `LocalZone`
    /// targets of the search rules, or the alias itself when it is bare and no rule matched.
    fn local_targets(&self, alias: &AliasText, source_zone: &str, registered: bool) -> Vec<String> {
        let (route, as_dialled) = self.route(alias, source_zone, registered);
        let mut v: Vec<String> = route
            .targets
            .iter()
            .filter(|t| t.kind == ZoneKind::Local)
            .map(|t| t.alias.to_string())
            .collect();
        if as_dialled {
            v.push(alias.text.clone());
        }
        v
    }

    /// The search rules' answer for a dialled alias (protocol H.323), and whether the alias
    /// is also looked up as dialled: it is bare (no domain) and no rule matched it.
    fn route(&self, alias: &AliasText, source_zone: &str, registered: bool) -> (Route, bool) {
        let a = Alias::parse(&alias.text);
        let route = self.router.route(&RouteRequest {
            alias: &a,
            protocol: Protocol::H323,
            source_zone,
            source_registered: registered,
        });
        let as_dialled = route.targets.is_empty() && a.domain.is_none();
        (route, as_dialled)
    }

    /// The steps to try for one dialled alias, in order.
    pub(super) fn plan(
        &self,
        alias: &AliasText,
        source_zone: &str,
        registered: bool,
        now: Instant,
    ) -> Vec<Step> {
        let (route, as_dialled) = self.route(alias, source_zone, registered);
        let mut steps = Vec::new();
        for t in &route.targets {
            match t.kind {
                ZoneKind::Local => {
                    let target = AliasText {
                        kind: alias.kind,
                        text: t.alias.to_string(),
                    };
                    steps.push(self.local_step(&target, now))
                }
                ZoneKind::Neighbor => {
                    // each peer of the zone (a remote cluster's): LRQ to one after the other
                    // until one confirms, in the order the SIP probes found (live first, the
                    // emptiest first), else as configured
                    let before = steps.len();
                    let mut peers: Vec<SocketAddr> = self
                        .neighbors
                        .iter()
                        .filter(|(z, _)| *z == t.zone)
                        .map(|(_, p)| *p)
                        .collect();
                    if let Some(health) = &self.health {
                        peers.sort_by_key(|p| Health::order_key(health.get(p.ip())));
                    }
                    for p in peers {
                        steps.push(Step::Neighbor(
                            t.zone.clone(),
                            p,
                            asn::alias_address_or_guess(alias.kind, &t.alias.to_string()),
                        ));
                    }
                    if steps.len() == before {
                        tracing::debug!(
                            "zone {} has no RAS peer address; skipped for H.323",
                            t.zone
                        );
                    }
                }
                ZoneKind::TraversalClient | ZoneKind::TraversalServer
                    if self.traversal.contains(&t.zone) =>
                {
                    steps.push(Step::Traversal(
                        t.zone.clone(),
                        asn::alias_address_or_guess(alias.kind, &t.alias.to_string()),
                    ))
                }
                // SIP-only zones (traversal zones without H.323, DNS zones)
                ZoneKind::TraversalClient | ZoneKind::TraversalServer | ZoneKind::Dns => {
                    steps.push(Step::SipZone(t.alias.to_string()))
                }
            }
        }
        if as_dialled {
            steps.push(self.local_step(alias, now));
        }
        steps
    }

    /// A local-zone target: a registration, a SIP UA (the shared alias table), another
    /// cluster peer's registration, or nobody.
    fn local_step(&self, alias: &AliasText, now: Instant) -> Step {
        if let Some(ep) = self.table.by_alias(&alias.text) {
            return Step::Local(ep.id.clone(), alias.text.clone());
        }
        match self
            .shared
            .as_ref()
            .and_then(|sh| sh.owner(&alias.text, now))
        {
            Some(o) if o.protocol == Protocol::Sip => Step::SipOnly(o.id, false),
            Some(_) => Step::LocalMissing,
            None => self.peer_step(alias).unwrap_or(Step::LocalMissing),
        }
    }

    /// Where a gatekeeper-routed Setup goes: called aliases in order, then the Called party
    /// number as E.164. Neighbor targets are asked with LRQ (answer later as
    /// [`Output::Resolved`]). `from_gateway`: the Setup comes from the node's interworking
    /// gateway (never routed back to it).
    #[allow(clippy::too_many_arguments)]
    pub fn resolve(
        &mut self,
        call: CallId,
        called: &[AliasAddress],
        called_number: Option<&str>,
        caller: SocketAddr,
        from_gateway: bool,
        local: SocketAddr,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Resolve {
        let mut aliases: Vec<AliasText> = called.iter().filter_map(asn::alias_text).collect();
        if let Some(num) = called_number.filter(|n| !n.is_empty()) {
            aliases.push(AliasText {
                kind: AliasKind::E164,
                text: num.to_string(),
            });
        }
        let (source_zone, registered) = self.source_of(caller);
        let mut neighbors = VecDeque::new();
        let mut any_local = false;
        // the first target the gateway could take, tried after every H.323 one
        let mut interwork: Option<Destination> = None;
        for a in &aliases {
            for step in self.plan(a, &source_zone, registered, now) {
                match step {
                    Step::Local(id, target) => {
                        if let Some(ep) = self.table.get(&id).filter(|e| e.h46018) {
                            return Resolve::CallBack {
                                ras: ep.ras,
                                signalling: self.signal_address(ep.local),
                            };
                        }
                        if let Some(dest) = self.local_destination(&id, &target, a) {
                            return Resolve::Found(dest);
                        }
                    }
                    Step::LocalMissing => any_local = true,
                    Step::SipOnly(..) | Step::SipZone(_) if interwork.is_none() => {
                        interwork = self.interwork(&step, &a.text, from_gateway);
                    }
                    Step::SipOnly(..) | Step::SipZone(_) => {}
                    // the first traversal zone takes the call (as the first local hit does)
                    Step::Traversal(zone, alias) if neighbors.is_empty() => {
                        return Resolve::Traversal { zone, alias };
                    }
                    Step::Traversal(..) => {}
                    Step::Neighbor(zone, peer, alias) => {
                        if !neighbors
                            .iter()
                            .any(|(p, al, _)| *p == peer && *al == alias)
                        {
                            neighbors.push_back((peer, alias, zone));
                        }
                    }
                }
            }
        }
        if neighbors.is_empty() {
            return match interwork {
                Some(d) => Resolve::Found(d),
                None => Resolve::Failed(local_failure(any_local)),
            };
        }
        if self.locates.len() >= self.cfg.max_calls {
            return match interwork {
                Some(d) => Resolve::Found(d),
                None => Resolve::Failed(RouteFailure::Unreachable),
            };
        }
        let locate = Locate {
            call,
            rest: neighbors,
            zone: String::new(),
            deadline: now,
            local,
            any_local,
            fallback: interwork,
        };
        self.next_locate(locate, now, out);
        Resolve::Pending
    }

    /// The zone a Setup comes from (a neighbor by its IP, else `LocalZone`) and whether its
    /// caller is registered here.
    fn source_of(&self, caller: SocketAddr) -> (String, bool) {
        match self.neighbors.iter().find(|(_, a)| a.ip() == caller.ip()) {
            Some((z, _)) => (z.clone(), false),
            None => (
                "LocalZone".to_string(),
                self.table.by_signal_ip(caller.ip()).is_some(),
            ),
        }
    }

    /// The registered endpoint `id` as the destination of dialled alias `a`, found as
    /// `target`: when a transform or rule changed what was dialled, the callee is told the
    /// alias it registered.
    fn local_destination(&self, id: &str, target: &str, a: &AliasText) -> Option<Destination> {
        let addr = self.table.get(id).and_then(|e| e.call_signal.first())?;
        let alias = (target != a.text).then(|| asn::alias_address_or_guess(a.kind, target));
        Some(Destination {
            addr: *addr,
            alias,
            zone: "LocalZone".to_string(),
            link: None,
            alternates: Vec::new(),
        })
    }

    /// Sends the LRQ of the next neighbor target, or reports the failure.
    fn next_locate(&mut self, mut l: Locate, now: Instant, out: &mut Vec<Output>) {
        let Some((peer, alias, zone)) = l.rest.pop_front() else {
            let result = l.fallback.ok_or(local_failure(l.any_local));
            out.push(Output::Resolved {
                call: l.call,
                result,
            });
            return;
        };
        let n = self.seq();
        let hop = u8::try_from(self.router.hop_limit())
            .unwrap_or(u8::MAX)
            .max(1);
        let msg = build::lrq(
            n,
            &self.cfg.gatekeeper_id,
            vec![alias],
            asn::transport_address(l.local),
            hop,
        );
        self.send(peer, &msg, out);
        l.deadline = now + self.cfg.locate_timeout;
        l.zone = zone;
        self.locates.insert(n, l);
    }

    pub(super) fn on_lcf(&mut self, m: &LocationConfirm, now: Instant, out: &mut Vec<Output>) {
        let Some(l) = self.locates.remove(&m.request_seq_num.0) else {
            return;
        };
        match asn::socket_addr(&m.call_signal_address) {
            Some(a) => out.push(Output::Resolved {
                call: l.call,
                result: Ok(Destination {
                    addr: a,
                    alias: None,
                    zone: l.zone,
                    link: None,
                    alternates: Vec::new(),
                }),
            }),
            None => self.next_locate(l, now, out),
        }
    }

    pub(super) fn on_lrj(&mut self, n: u16, now: Instant, out: &mut Vec<Output>) {
        if let Some(l) = self.locates.remove(&n) {
            self.next_locate(l, now, out);
        }
    }

    /// Neighbors that did not answer within `locate_timeout`: the next target is tried.
    pub(super) fn expire_locates(&mut self, now: Instant, out: &mut Vec<Output>) {
        let expired: Vec<u16> = self
            .locates
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(n, _)| *n)
            .collect();
        for n in expired {
            if let Some(l) = self.locates.remove(&n) {
                self.next_locate(l, now, out);
            }
        }
    }
}

/// What a call that reached no registration and no neighbor fails with: NotRegistered when a
/// local-zone target was nobody's, else Unreachable.
fn local_failure(any_local: bool) -> RouteFailure {
    if any_local {
        RouteFailure::NotRegistered
    } else {
        RouteFailure::Unreachable
    }
}
