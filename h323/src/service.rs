//! The H.323 side of a node as one sans-IO value: the gatekeeper and the call-signaling relay,
//! with the relay's route lookups answered by the gatekeeper (registrations, search rules, LRQ
//! to neighbors).
//!
//! The same verbs as its halves: [`Service::handle`] takes one [`Input`] (a RAS datagram or a
//! call-signaling input) and `now`, [`Service::handle_timeout`] runs what is due, and
//! [`Service::poll_timeout`] is the next deadline; everything for the driver comes out as one
//! [`Output`].
//!
//! With traversal zones it also carries the H.460.18 flows (`crate::h46018`): datagrams from a
//! traversal-client zone's E arrive on the RAS socket and go to that zone's [`ZoneClient`]
//! instead of the gatekeeper; datagrams on E's zone ports come as [`Input::Zone`]. A call E
//! routes to a traversal-server zone is first asked about down the flow (LRQ; C's gatekeeper
//! answers from its registrations): LCF (or no answer) leads to the call-back, LRJ clears the
//! call as calledPartyNotRegistered without bothering C. A call-signaling connection from a
//! zone client's host is marked as the traversal link for the call signaling.
//!
//! Owns only that plumbing; protocol behaviour is in [`crate::ras`] and [`crate::call`]. Must
//! not touch sockets or clocks (the driver owns them).

use crate::call::{self, CallSignaling, LinkEnd};
use crate::h46018::{self, ZoneClient, ZoneServer, ZoneView};
use crate::ras::{self, Gatekeeper, Resolve};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

/// One input of the H.323 side, for either half.
// built and consumed one at a time: the size of a call input costs nothing worth a Box
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Input<'a> {
    /// One RAS datagram (the gatekeeper).
    Ras(ras::Datagram<'a>),
    /// One call-signaling input (the relay).
    Call(call::Input<'a>),
    /// One datagram on traversal-server zone `zone`'s port (`local`: that port as the sender
    /// reached it).
    Zone {
        zone: usize,
        from: SocketAddr,
        local: SocketAddr,
        bytes: &'a [u8],
    },
}

/// What the driver must do, from either half.
// moved once from the service to the driver: boxing the large RAS variant buys nothing
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Output {
    Ras(ras::Output),
    Call(call::Output),
    /// The traversal flows (H.460.18).
    Zone(h46018::Output),
}

pub struct Service {
    pub gatekeeper: Gatekeeper,
    pub calls: CallSignaling,
    /// Our RAS address, written as the replyAddress of LRQs.
    ras_local: SocketAddr,
    call_out: Vec<call::Output>,
    ras_out: Vec<ras::Output>,
    /// C's side of each traversal-client zone that carries H.323.
    zone_clients: Vec<ZoneClient>,
    /// E's side of the traversal-server zones that carry H.323.
    zone_server: Option<ZoneServer>,
    zone_out: Vec<h46018::Output>,
    /// SCIs to registered H.460.18 endpoints.
    announcer: h46018::Announcer,
    /// E: calls waiting for C's answer to the LRQ down a zone's flow: (zone index, name).
    locating: HashMap<call::CallId, (usize, String)>,
    /// C: E call-signaling addresses no connection could be opened to lately; tried last.
    failed: causeway_zones::Unreachable,
    /// C: the flows whose peer's name has not resolved yet (shown in status as down).
    waiting: Vec<WaitingFlow>,
}

/// C's flow to a peer given by a name that does not resolve (yet).
struct WaitingFlow {
    zone: String,
    name: String,
    since: Instant,
    error: String,
}

/// Calls waiting for C's answer at once (each waits at most the LRQ's tries); past this a call
/// goes straight to the call-back.
const MAX_LOCATING: usize = 1024;

impl Service {
    pub fn new(gatekeeper: Gatekeeper, calls: CallSignaling, ras_local: SocketAddr) -> Service {
        Service {
            gatekeeper,
            calls,
            ras_local,
            call_out: Vec::new(),
            ras_out: Vec::new(),
            zone_clients: Vec::new(),
            zone_server: None,
            zone_out: Vec::new(),
            announcer: h46018::Announcer::default(),
            locating: HashMap::new(),
            failed: causeway_zones::Unreachable::default(),
            waiting: Vec::new(),
        }
    }

    /// The H.460.18 flows of the node's traversal zones.
    pub fn with_traversal(
        mut self,
        clients: Vec<ZoneClient>,
        server: Option<ZoneServer>,
    ) -> Service {
        self.zone_clients = clients;
        self.zone_server = server.filter(|s| !s.is_empty());
        self
    }

    /// A traversal flow that joins late (its peer's name `name` resolved only now): it
    /// registers at its first timeout, as the flows given at start.
    /// A name that resolves to an E the zone already has a flow to adds none (RAS datagrams
    /// from that address reach the first flow only): false.
    pub fn add_zone_client(&mut self, client: ZoneClient, name: &str) -> bool {
        self.waiting
            .retain(|w| !(w.zone == client.zone() && w.name == name));
        let same = |c: &ZoneClient| c.zone() == client.zone() && c.peer() == client.peer();
        if self.zone_clients.iter().any(same) {
            return false;
        }
        self.zone_clients.push(client);
        true
    }

    /// The flow of zone `zone` to the peer named `name` waits for the name to resolve;
    /// `error` is why the last lookup failed. Status shows it down from the first call on.
    /// One entry per configured peer (the caller's retry calls this again for the same one).
    pub fn flow_waiting(&mut self, zone: &str, name: &str, error: String, now: Instant) {
        match self
            .waiting
            .iter_mut()
            .find(|w| w.zone == zone && w.name == name)
        {
            Some(w) => w.error = error,
            None => self.waiting.push(WaitingFlow {
                zone: zone.to_string(),
                name: name.to_string(),
                since: now,
                error,
            }),
        }
    }

    /// The node's SIP <-> H.323 interworking gateway (its call-signaling address) and
    /// `[interworking] mode`: see [`Gatekeeper::set_interworking`].
    pub fn set_interworking(
        &mut self,
        interworking: Option<(SocketAddr, causeway_config::InterworkingMode)>,
    ) {
        self.gatekeeper.set_interworking(interworking);
    }

    /// Each traversal zone's H.323 side, for status.
    pub fn zone_views(&self, now: Instant) -> Vec<ZoneView> {
        let mut v: Vec<ZoneView> = self.zone_clients.iter().map(|c| c.view(now)).collect();
        v.extend(self.waiting.iter().map(|w| ZoneView {
            zone: w.zone.clone(),
            role: "client",
            up: false,
            since_secs: now.saturating_duration_since(w.since).as_secs(),
            peer: None,
            peer_name: Some(w.name.clone()),
            last_keepalive_secs: None,
            last_error: Some(w.error.clone()),
            refused: 0,
        }));
        if let Some(s) = &self.zone_server {
            v.extend(s.views(now));
        }
        v
    }

    /// One input, to the half it is for; route questions between the halves are answered
    /// before this returns.
    pub fn handle(&mut self, input: Input<'_>, now: Instant, out: &mut Vec<Output>) {
        match input {
            Input::Ras(d) => match self.zone_clients.iter_mut().find(|c| c.peer() == d.from) {
                Some(client) => client.handle(d.bytes, now, &mut self.zone_out),
                None => self.gatekeeper.handle(d, now, &mut self.ras_out),
            },
            Input::Call(call::Input::Accepted {
                conn, peer, local, ..
            }) => {
                let link = self.is_zone_client(peer).then_some(LinkEnd::Server);
                if link.is_some() {
                    self.tell_nat(peer.ip(), now);
                }
                let i = call::Input::Accepted {
                    conn,
                    peer,
                    local,
                    link,
                };
                self.calls.handle(i, now, &mut self.call_out)
            }
            Input::Call(i) => self.calls.handle(i, now, &mut self.call_out),
            Input::Zone {
                zone,
                from,
                local,
                bytes,
            } => {
                if let Some(s) = &mut self.zone_server {
                    s.handle(zone, from, local, bytes, now, &mut self.zone_out);
                }
            }
        }
        self.settle(now, out);
    }

    /// Runs what is due at `now` in both halves.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.gatekeeper.handle_timeout(now, &mut self.ras_out);
        self.calls.handle_timeout(now, &mut self.call_out);
        for c in &mut self.zone_clients {
            c.handle_timeout(now, &mut self.zone_out);
        }
        if let Some(s) = &mut self.zone_server {
            s.handle_timeout(now, &mut self.zone_out);
        }
        self.announcer.handle_timeout(now, &mut self.zone_out);
        self.settle(now, out);
    }

    /// The next deadline of either half.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let zones = self
            .zone_clients
            .iter()
            .filter_map(ZoneClient::poll_timeout)
            .chain(self.zone_server.as_ref().and_then(ZoneServer::poll_timeout))
            .chain(self.announcer.poll_timeout());
        [self.gatekeeper.poll_timeout(), self.calls.poll_timeout()]
            .into_iter()
            .flatten()
            .chain(zones)
            .min()
    }

    /// Feeds route questions and answers between the halves (and the traversal flows) until
    /// none has any, and hands everything else to the driver.
    fn settle(&mut self, now: Instant, out: &mut Vec<Output>) {
        // each round answers routes; an answer can only produce outputs, never a new route
        // question of the same call, so this ends (bounded anyway against a future bug)
        for _ in 0..64 {
            if self.call_out.is_empty() && self.ras_out.is_empty() && self.zone_out.is_empty() {
                return;
            }
            for o in std::mem::take(&mut self.zone_out) {
                match &o {
                    h46018::Output::Event(h46018::ZoneEvent::IncomingCall {
                        signalling,
                        call_id,
                        ..
                    }) => {
                        let input = call::Input::CallBack {
                            signalling: *signalling,
                            call_id: *call_id,
                        };
                        self.calls.handle(input, now, &mut self.call_out);
                    }
                    h46018::Output::Event(h46018::ZoneEvent::Locate {
                        zone,
                        peer,
                        seq,
                        aliases,
                    }) => {
                        let found = self.gatekeeper.reaches(aliases, zone);
                        let asking = |c: &&mut ZoneClient| c.zone() == zone && c.peer() == *peer;
                        if let Some(c) = self.zone_clients.iter_mut().find(asking) {
                            c.answer_locate(*seq, found, now, &mut self.zone_out);
                        }
                    }
                    h46018::Output::Event(h46018::ZoneEvent::Located { tag, found }) => {
                        self.located(*tag, *found, now)
                    }
                    _ => {}
                }
                out.push(Output::Zone(o));
            }
            let mut routed = Vec::new();
            for o in self.ras_out.drain(..) {
                match o {
                    ras::Output::Resolved { call, result } => routed.push((call, result)),
                    ras::Output::Event(ras::RasEvent::ServiceControlResponse { seq, from }) => {
                        self.announcer.answered(seq, from)
                    }
                    other => out.push(Output::Ras(other)),
                }
            }
            for o in std::mem::take(&mut self.call_out) {
                match o {
                    call::Output::Route {
                        call,
                        called,
                        called_number,
                        caller,
                        caller_aliases: _,
                        from_interworking,
                    } => {
                        let r = self.gatekeeper.resolve(
                            call,
                            &called,
                            called_number.as_deref(),
                            caller,
                            from_interworking,
                            self.ras_local,
                            now,
                            &mut self.ras_out,
                        );
                        match r {
                            Resolve::Found(d) => routed.push((call, Ok(d))),
                            Resolve::Failed(f) => routed.push((call, Err(f))),
                            Resolve::Pending => {}
                            Resolve::Traversal { zone, alias } => {
                                if let Some(r) = self.route_traversal(call, zone, alias, now) {
                                    routed.push((call, r));
                                }
                            }
                            Resolve::CallBack { ras, signalling } => {
                                let input = call::Input::RoutedCallBack {
                                    call,
                                    target: call::CallBackTarget::Endpoint { ras, signalling },
                                    zone_name: "LocalZone".into(),
                                    flow: ras,
                                };
                                self.calls.handle(input, now, &mut self.call_out);
                            }
                        }
                    }
                    call::Output::CallBack {
                        call,
                        target,
                        call_id,
                    } => {
                        let sent = match target {
                            call::CallBackTarget::Zone(zone) => {
                                self.zone_server.as_mut().is_some_and(|s| {
                                    s.incoming_call(zone, call_id, now, &mut self.zone_out)
                                })
                            }
                            call::CallBackTarget::Endpoint { ras, signalling } => self
                                .announcer
                                .announce(ras, signalling, call_id, now, &mut self.zone_out),
                        };
                        if !sent {
                            let input = call::Input::CallBackFailed { call };
                            self.calls.handle(input, now, &mut self.call_out);
                        }
                    }
                    other => {
                        match &other {
                            call::Output::Event(call::CallEvent::CalleeUnreachable {
                                to, ..
                            }) => self.callee_unreachable(*to, now),
                            call::Output::Event(call::CallEvent::CalleeReached { to, .. }) => {
                                self.failed.answered(*to)
                            }
                            _ => {}
                        }
                        out.push(Output::Call(other))
                    }
                }
            }
            for (call, result) in routed {
                self.calls.handle(
                    call::Input::Routed { call, result },
                    now,
                    &mut self.call_out,
                );
            }
        }
    }

    /// E: whether a call-signaling connection from `peer` comes from the client of one of the
    /// traversal-server zones (C's calls and call-backs come from the host its RAS flow does,
    /// as the firewall between them shows it).
    fn is_zone_client(&self, peer: SocketAddr) -> bool {
        let Some(server) = &self.zone_server else {
            return false;
        };
        server.is_client_ip(peer.ip())
    }

    /// Tells call signaling whether the zone client at `ip` is behind a NAT, before a call
    /// with a link leg to it is routed.
    fn tell_nat(&mut self, ip: std::net::IpAddr, now: Instant) {
        let behind_nat = self.zone_server.as_ref().is_some_and(|s| s.behind_nat(ip));
        let input = call::Input::LinkNat { ip, behind_nat };
        self.calls.handle(input, now, &mut self.call_out);
    }

    /// A call routed to traversal zone `zone`: on C, Setup to E's call-signaling address (from
    /// E's RCF) while the flow is up; on E, the call-back through the zone's client flow.
    /// `None` when the call went to the call-back (its answer comes from call signaling).
    fn route_traversal(
        &mut self,
        call: call::CallId,
        zone: String,
        alias: causeway_h323_asn1::h323_messages::AliasAddress,
        now: Instant,
    ) -> Option<Result<call::Destination, call::RouteFailure>> {
        // a zone to an E cluster has a flow to each peer: the live one the SIP probes found
        // the emptiest, the next if that one's flow is down
        let mut clients: Vec<&ZoneClient> = self
            .zone_clients
            .iter()
            .filter(|c| c.zone() == zone)
            .collect();
        if !clients.is_empty() {
            // an E no connection opened to lately goes last, whatever the probes said
            clients.sort_by_key(|c| {
                let failed = c.signalling().is_some_and(|a| self.failed.is_down(a, now));
                let health = self.gatekeeper.peer_health(c.peer().ip());
                (failed, causeway_zones::Health::order_key(health))
            });
            // the others are where the Setup goes when no connection to the first opens
            let mut up = clients.iter().filter_map(|c| c.signalling());
            return Some(match up.next() {
                Some(addr) => Ok(call::Destination {
                    addr,
                    alias: Some(alias),
                    zone,
                    link: Some(LinkEnd::Client),
                    alternates: up.collect(),
                }),
                None => Err(call::RouteFailure::Unreachable),
            });
        }
        let server = self.zone_server.as_ref()?;
        let flow = server
            .zone_index(&zone)
            .and_then(|i| Some((i, server.flow(i)?)));
        let Some((index, flow)) = flow else {
            return Some(Err(call::RouteFailure::Unreachable));
        };
        // E asks C first (LRQ down the flow); the call-back follows C's LCF
        if self.locating.len() < MAX_LOCATING {
            let server = self.zone_server.as_mut()?;
            if server.locate(index, call, alias, now, &mut self.zone_out) {
                self.locating.insert(call, (index, zone));
                return None;
            }
        }
        self.call_back(call, index, zone, flow, now);
        None
    }

    /// C: no connection to `to` opened. When it is an E of a traversal zone, later calls try
    /// it last for a while (as the SIP core does with a peer that did not answer); other
    /// callees are not remembered.
    fn callee_unreachable(&mut self, to: SocketAddr, now: Instant) {
        if self.zone_clients.iter().any(|c| c.signalling() == Some(to)) {
            self.failed.failed(to, now);
        }
    }

    /// E: call `call` goes to zone `index`'s client by call-back.
    fn call_back(
        &mut self,
        call: call::CallId,
        index: usize,
        zone: String,
        flow: SocketAddr,
        now: Instant,
    ) {
        self.tell_nat(flow.ip(), now);
        let input = call::Input::RoutedCallBack {
            call,
            target: call::CallBackTarget::Zone(index),
            zone_name: zone,
            flow,
        };
        self.calls.handle(input, now, &mut self.call_out);
    }

    /// E: C answered the LRQ for `call` (or never did: `None`, the call-back decides).
    fn located(&mut self, call: call::CallId, found: Option<bool>, now: Instant) {
        let Some((index, zone)) = self.locating.remove(&call) else {
            return;
        };
        let flow = self.zone_server.as_ref().and_then(|s| s.flow(index));
        let result = match (found, flow) {
            (Some(false), _) => Err(call::RouteFailure::NotRegistered),
            (_, None) => Err(call::RouteFailure::Unreachable),
            (_, Some(flow)) => return self.call_back(call, index, zone, flow, now),
        };
        let input = call::Input::Routed { call, result };
        self.calls.handle(input, now, &mut self.call_out);
    }
}

#[cfg(test)]
mod tests;
