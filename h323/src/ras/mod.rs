//! The RAS gatekeeper (H.225.0 section 7, UDP 1719): discovery (GRQ), registration (RRQ, with
//! lightweight re-registration and time to live), unregistration both ways (URQ), admission of
//! gatekeeper-routed calls (ARQ/DRQ/BRQ), probing of stale endpoints (IRQ/IRR) and location
//! requests to and from neighbor zones (LRQ).
//!
//! Sans-IO: [`Gatekeeper::handle`] takes one datagram, the address it arrived on and `now`, and
//! pushes [`Output`]s (datagrams to send, route answers for the call-signaling relay, events);
//! [`Gatekeeper::handle_timeout`] runs what is due (registration expiry, probe and LRQ
//! deadlines) and [`Gatekeeper::poll_timeout`] says when that is next. The
//! zones router decides where a dialled alias goes; this module resolves `LocalZone` targets
//! against its registrations and asks neighbor zones with LRQ.
//!
//! Choices (each an operator-visible behaviour):
//! - GRQ: answered with GCF whether it came unicast or to the multicast group (224.0.1.41,
//!   `multicast_discovery`); one naming another gatekeeper gets GRJ unicast, silence multicast.
//! - Time to live: an endpoint gets what it asked for, capped at `[h323] time_to_live`, or that
//!   value when it asked for nothing. When it runs out without a refresh the endpoint is sent an
//!   IRQ; an IRR within `probe_timeout` keeps it registered for another time to live, silence
//!   removes it and a URQ (ttlExpired) tells it so.
//! - A full RRQ from the RAS address of a registered endpoint with its call-signaling address
//!   or one of its aliases replaces that registration and keeps its endpoint identifier (a
//!   retransmitted or restarted endpoint); an alias held by another endpoint is refused with
//!   duplicateAlias.
//! - Aliases are checked against `registration_deny` then `registration_allow` (regexes matched
//!   against the whole alias text); refused aliases are listed in invalidTerminalAliases.
//! - ARQ: callers must be registered (callerNotRegistered otherwise); every call is
//!   gatekeeper-routed, so ACF names causeway's call-signaling address. A dialled alias is
//!   routed through the search rules; a bare alias (no domain) that no rule matches is looked
//!   up in the registrations (the local zone of an H.323 gatekeeper). The LRQs of a neighbor
//!   target are sent when the Setup arrives, not at ARQ time.
//! - LRQ from a configured neighbor is answered from the local registrations only (LCF naming
//!   causeway's own call-signaling address; no forwarding, so no LRQ loops); from anyone else
//!   it is refused (requestDenied).
//!
//! Must not touch: sockets, clocks, Q.931.

pub mod build;
pub mod table;

use crate::asn::{self, AliasKind, AliasText};
use crate::call::{CallId, Destination, RouteFailure};
use causeway_h323_asn1::h323_messages::*;
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::types::BmpString;
use causeway_zones::{Alias, Owner, Protocol, RouteRequest, Router, SharedAliases, ZoneKind};
use regex::Regex;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use table::{Endpoint, Table};

/// The gatekeeper's settings (from `[h323]`).
#[derive(Clone, Debug)]
pub struct GatekeeperConfig {
    pub gatekeeper_id: String,
    /// Largest time to live granted, seconds.
    pub time_to_live: u32,
    /// How long an endpoint whose TTL ran out has to answer the IRQ.
    pub probe_timeout: Duration,
    pub max_registrations: usize,
    /// Admitted calls at once (ARQ past this: resourceUnavailable).
    pub max_calls: usize,
    /// The call-signaling port written into ACF and LCF.
    pub q931_port: u16,
    /// The call-signaling IP when the listener is bound to one; else the IP each datagram
    /// arrived on.
    pub q931_ip: Option<IpAddr>,
    pub allow: Vec<Regex>,
    pub deny: Vec<Regex>,
    /// Prefix of endpoint identifiers (unique per run, so an endpoint cannot refresh a
    /// registration of a previous run by guessing its identifier).
    pub endpoint_id_prefix: String,
    /// How long a neighbor has to answer an LRQ.
    pub locate_timeout: Duration,
}

/// One datagram received on the RAS socket.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    pub from: SocketAddr,
    /// Our address as the peer reached it (its IP goes into GCF/ACF/LCF).
    pub local: SocketAddr,
    pub bytes: &'a [u8],
    /// Arrived on the multicast discovery socket (224.0.1.41).
    pub multicast: bool,
}

// Outputs and answers are moved once from the gatekeeper to the driver: boxing the large
// ASN.1 alias inside would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Send {
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// The answer to a [`Gatekeeper::resolve`] that returned [`Resolve::Pending`].
    Resolved {
        call: CallId,
        result: Result<Destination, RouteFailure>,
    },
    Event(RasEvent),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Endpoint,
    Gatekeeper,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RasEvent {
    Registered {
        id: String,
        aliases: Vec<String>,
        ras: SocketAddr,
        ttl: u32,
        lightweight: bool,
    },
    Unregistered {
        id: String,
        by: By,
    },
    /// TTL ran out and the IRQ probe went unanswered.
    Expired {
        id: String,
    },
    Rejected {
        message: &'static str,
        reason: String,
        from: SocketAddr,
    },
    Admitted {
        endpoint: String,
        answer: bool,
        called: Vec<String>,
    },
    Malformed {
        from: SocketAddr,
        error: String,
    },
}

/// What [`Gatekeeper::resolve`] found.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolve {
    Found(Destination),
    Failed(RouteFailure),
    /// An LRQ is out; the answer comes as [`Output::Resolved`].
    Pending,
}

/// Messages received, by type, and other counters (for status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub received: BTreeMap<&'static str, u64>,
    pub sent: u64,
    pub malformed: u64,
    pub rejected: u64,
}

/// One registration, for status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationView {
    pub id: String,
    pub aliases: Vec<String>,
    pub ras: SocketAddr,
    pub call_signal: Vec<SocketAddr>,
    pub seconds_left: u64,
    pub probing: bool,
}

/// A call admitted by ARQ, until DRQ.
#[derive(Clone, Copy, Debug)]
struct Admitted {
    bandwidth: u32,
}

/// A neighbor target still to try for a call, and the LRQ out for it.
#[derive(Debug)]
struct Locate {
    call: CallId,
    /// (peer RAS address, alias) targets left after the current one.
    rest: VecDeque<(SocketAddr, AliasAddress)>,
    deadline: Instant,
    local: SocketAddr,
    any_local: bool,
}

pub struct Gatekeeper {
    cfg: GatekeeperConfig,
    router: Router,
    table: Table,
    calls: HashMap<(String, [u8; 16], bool), Admitted>,
    locates: HashMap<u16, Locate>,
    /// Neighbor zones by the IP of their peer: (zone name, RAS address).
    neighbors: Vec<(String, SocketAddr)>,
    next_seq: u16,
    next_endpoint: u64,
    counters: Counters,
    /// The alias table shared with the SIP registrar, when the node runs both.
    shared: Option<SharedAliases>,
}

impl Gatekeeper {
    /// `neighbors`: the neighbor zones as (name, RAS address), from `[[zone]] type = "neighbor"`.
    pub fn new(
        cfg: GatekeeperConfig,
        router: Router,
        neighbors: Vec<(String, SocketAddr)>,
    ) -> Gatekeeper {
        Gatekeeper {
            cfg,
            router,
            table: Table::default(),
            calls: HashMap::new(),
            locates: HashMap::new(),
            neighbors,
            next_seq: 1,
            next_endpoint: 1,
            counters: Counters::default(),
            shared: None,
        }
    }

    /// Shares the alias table with the SIP registrar: an alias a SIP UA registered cannot be
    /// registered here (duplicateAlias), and the other way round.
    pub fn with_shared_aliases(mut self, shared: SharedAliases) -> Gatekeeper {
        self.shared = Some(shared);
        self
    }

    /// Removes a registration and gives its aliases back to the shared table.
    fn remove_endpoint(&mut self, id: &str) -> Option<Endpoint> {
        let ep = self.table.remove(id)?;
        if let Some(sh) = &self.shared {
            for a in &ep.aliases {
                sh.release(&a.text, &ep.id);
            }
        }
        self.calls.retain(|(e, _, _), _| e != id);
        Some(ep)
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn registrations(&self) -> &Table {
        &self.table
    }

    pub fn admitted_calls(&self) -> usize {
        self.calls.len()
    }

    pub fn registration_views(&self, now: Instant) -> Vec<RegistrationView> {
        let mut v: Vec<_> = self
            .table
            .iter()
            .map(|e| RegistrationView {
                id: e.id.clone(),
                aliases: e.aliases.iter().map(ToString::to_string).collect(),
                ras: e.ras,
                call_signal: e.call_signal.clone(),
                seconds_left: e.expires.saturating_duration_since(now).as_secs(),
                probing: e.probe.is_some(),
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    fn seq(&mut self) -> u16 {
        let n = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        n
    }

    fn send(&mut self, to: SocketAddr, msg: &RasMessage, out: &mut Vec<Output>) {
        match aper::encode(msg) {
            Ok(bytes) => {
                self.counters.sent += 1;
                out.push(Output::Send { to, bytes });
            }
            // Only values we built ourselves get here; a failure is a bug in a builder, which
            // must not take the node down.
            Err(e) => tracing::error!("RAS encode failed: {e}"),
        }
    }

    fn reject(
        &mut self,
        message: &'static str,
        reason: &str,
        from: SocketAddr,
        out: &mut Vec<Output>,
    ) {
        self.counters.rejected += 1;
        out.push(Output::Event(RasEvent::Rejected {
            message,
            reason: reason.to_string(),
            from,
        }));
    }

    fn signal_address(&self, local: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.cfg.q931_ip.unwrap_or(local.ip()), self.cfg.q931_port)
    }

    /// Handles one RAS datagram.
    pub fn handle(&mut self, d: Datagram<'_>, now: Instant, out: &mut Vec<Output>) {
        let msg: RasMessage = match aper::decode(d.bytes) {
            Ok(m) => m,
            Err(e) => {
                self.counters.malformed += 1;
                out.push(Output::Event(RasEvent::Malformed {
                    from: d.from,
                    error: e.to_string(),
                }));
                return;
            }
        };
        *self.counters.received.entry(name(&msg)).or_default() += 1;
        match msg {
            RasMessage::gatekeeperRequest(m) => self.on_grq(&m, d, out),
            RasMessage::registrationRequest(m) => self.on_rrq(&m, d, now, out),
            RasMessage::unregistrationRequest(m) => self.on_urq(&m, d, out),
            RasMessage::admissionRequest(m) => self.on_arq(&m, d, now, out),
            RasMessage::disengageRequest(m) => self.on_drq(&m, d, out),
            RasMessage::bandwidthRequest(m) => self.on_brq(&m, d, out),
            RasMessage::infoRequestResponse(m) => self.on_irr(&m, d, now, out),
            RasMessage::locationRequest(m) => self.on_lrq(&m, d, now, out),
            RasMessage::locationConfirm(m) => self.on_lcf(&m, now, out),
            RasMessage::locationReject(m) => self.on_lrj(m.request_seq_num.0, now, out),
            // answers to our URQs and IRQs need nothing more
            RasMessage::unregistrationConfirm(_)
            | RasMessage::unregistrationReject(_)
            | RasMessage::unknownMessageResponse(_)
            | RasMessage::requestInProgress(_)
            | RasMessage::infoRequestAck(_)
            | RasMessage::infoRequestNak(_) => {}
            other => {
                // Requests a gatekeeper does not serve (and confirms it never asked for):
                // XRS for requests, so the endpoint stops retrying (H.225.0 7.13).
                if let Some(n) = request_seq(&other) {
                    let reply = reply_address(&other).unwrap_or(d.from);
                    self.send(reply, &build::xrs(n, d.bytes), out);
                }
            }
        }
    }

    fn on_grq(&mut self, m: &GatekeeperRequest, d: Datagram<'_>, out: &mut Vec<Output>) {
        let n = m.request_seq_num.0;
        let reply = asn::socket_addr(&m.ras_address).unwrap_or(d.from);
        if let Some(gk) = &m.gatekeeper_identifier {
            if !self.is_our_id(&gk.0) && d.multicast {
                // a multicast GRQ looking for another gatekeeper is not ours to answer
                return;
            }
            if !self.is_our_id(&gk.0) {
                self.reject("GRQ", "terminalExcluded (another gatekeeper)", d.from, out);
                let msg = build::grj(
                    n,
                    &self.cfg.gatekeeper_id,
                    GatekeeperRejectReason::terminalExcluded(()),
                );
                self.send(reply, &msg, out);
                return;
            }
        }
        let msg = build::gcf(n, &self.cfg.gatekeeper_id, asn::transport_address(d.local));
        self.send(reply, &msg, out);
    }

    fn is_our_id(&self, id: &BmpString) -> bool {
        asn::bmp_text(id).is_some_and(|s| s == self.cfg.gatekeeper_id)
    }

    fn on_rrq(
        &mut self,
        m: &RegistrationRequest,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let n = m.request_seq_num.0;
        let ras = m.ras_address.iter().find_map(asn::socket_addr);
        let reply = ras.unwrap_or(d.from);
        let gk = self.cfg.gatekeeper_id.clone();
        let ttl = match m.time_to_live {
            Some(TimeToLive(t)) if t > 0 => t.min(self.cfg.time_to_live),
            _ => self.cfg.time_to_live,
        };
        if let Some(id) = &m.gatekeeper_identifier {
            if !self.is_our_id(&id.0) {
                self.reject("RRQ", "undefinedReason (another gatekeeper)", d.from, out);
                let msg = build::rrj(n, &gk, RegistrationRejectReason::undefinedReason(()));
                self.send(reply, &msg, out);
                return;
            }
        }
        if m.keep_alive == Some(true) {
            // lightweight re-registration (H.225.0 7.9.1): only the endpoint identifier counts
            let id = m
                .endpoint_identifier
                .as_ref()
                .and_then(|e| asn::bmp_text(&e.0));
            let known = id.as_deref().and_then(|id| self.table.get(id)).cloned();
            let Some(ep) = known else {
                self.reject("RRQ", "fullRegistrationRequired", d.from, out);
                let msg = build::rrj(
                    n,
                    &gk,
                    RegistrationRejectReason::fullRegistrationRequired(()),
                );
                self.send(reply, &msg, out);
                return;
            };
            self.table
                .refresh(&ep.id, now + Duration::from_secs(u64::from(ttl)), ttl);
            let msg = build::rcf(build::Rcf {
                seq: n,
                gatekeeper: &gk,
                endpoint: &ep.id,
                call_signal: ep
                    .call_signal
                    .iter()
                    .map(|a| asn::transport_address(*a))
                    .collect(),
                aliases: None,
                ttl,
            });
            self.send(ep.ras, &msg, out);
            out.push(Output::Event(RasEvent::Registered {
                id: ep.id,
                aliases: ep.aliases.iter().map(ToString::to_string).collect(),
                ras: ep.ras,
                ttl,
                lightweight: true,
            }));
            return;
        }
        let Some(ras) = ras else {
            self.reject("RRQ", "invalidRASAddress", d.from, out);
            let msg = build::rrj(n, &gk, RegistrationRejectReason::invalidRASAddress(()));
            self.send(d.from, &msg, out);
            return;
        };
        let call_signal: Vec<SocketAddr> = m
            .call_signal_address
            .iter()
            .filter_map(asn::socket_addr)
            .collect();
        if call_signal.is_empty() {
            self.reject("RRQ", "invalidCallSignalAddress", d.from, out);
            let msg = build::rrj(
                n,
                &gk,
                RegistrationRejectReason::invalidCallSignalAddress(()),
            );
            self.send(ras, &msg, out);
            return;
        }
        let given: &[AliasAddress] = m.terminal_alias.as_deref().unwrap_or(&[]);
        let aliases: Vec<AliasText> = given.iter().filter_map(asn::alias_text).collect();
        let refused: Vec<AliasAddress> = given
            .iter()
            .filter(|a| asn::alias_text(a).is_some_and(|t| !self.alias_allowed(&t.text)))
            .cloned()
            .collect();
        if !refused.is_empty() {
            self.reject("RRQ", "invalidTerminalAliases (policy)", d.from, out);
            let reason = RegistrationRejectReason::invalidTerminalAliases(
                RegistrationRejectReasonInvalidTerminalAliases::new(Some(refused), None, None),
            );
            self.send(ras, &build::rrj(n, &gk, reason), out);
            return;
        }
        // the same endpoint again (retransmitted RRQ, restart): same RAS address and either
        // the same call-signaling address or one of its aliases; several endpoints behind one
        // RAS address (a gateway) differ in both
        let previous = self
            .table
            .by_ras(ras, call_signal.first().copied())
            .or_else(|| {
                aliases
                    .iter()
                    .find_map(|a| self.table.by_alias(&a.text))
                    .filter(|e| e.ras == ras)
            })
            .map(|e| e.id.clone());
        let mut conflicts = self.table.conflicts(&aliases, previous.as_deref());
        if let Some(sh) = &self.shared {
            for a in &aliases {
                let sip = sh
                    .owner(&a.text, now)
                    .is_some_and(|o| o.protocol == Protocol::Sip);
                if sip && !conflicts.contains(a) {
                    conflicts.push(a.clone());
                }
            }
        }
        if !conflicts.is_empty() {
            self.reject("RRQ", "duplicateAlias", d.from, out);
            let dup = conflicts
                .iter()
                .filter_map(|a| asn::alias_address(a.kind, &a.text))
                .collect();
            let msg = build::rrj(n, &gk, RegistrationRejectReason::duplicateAlias(dup));
            self.send(ras, &msg, out);
            return;
        }
        if previous.is_none() && self.table.len() >= self.cfg.max_registrations {
            self.reject("RRQ", "resourceUnavailable", d.from, out);
            let msg = build::rrj(n, &gk, RegistrationRejectReason::resourceUnavailable(()));
            self.send(ras, &msg, out);
            return;
        }
        let id = previous.unwrap_or_else(|| {
            let id = format!("{}-{}", self.cfg.endpoint_id_prefix, self.next_endpoint);
            self.next_endpoint += 1;
            id
        });
        let ep = Endpoint {
            id: id.clone(),
            aliases: aliases.clone(),
            ras,
            call_signal: call_signal.clone(),
            ttl,
            expires: now + Duration::from_secs(u64::from(ttl)),
            registered_at: now,
            probe: None,
        };
        if let Some(old) = self.table.get(&id).cloned() {
            if let Some(sh) = &self.shared {
                for a in &old.aliases {
                    sh.release(&a.text, &id);
                }
            }
        }
        if let Some(sh) = &self.shared {
            for a in &aliases {
                let owner = Owner {
                    protocol: Protocol::H323,
                    id: id.clone(),
                    until: None,
                };
                // checked above; a SIP claim racing in between keeps its alias
                let _ = sh.claim(&a.text, owner, now);
            }
        }
        self.table.insert(ep);
        let msg = build::rcf(build::Rcf {
            seq: n,
            gatekeeper: &gk,
            endpoint: &id,
            call_signal: m.call_signal_address.clone(),
            aliases: m.terminal_alias.clone(),
            ttl,
        });
        self.send(ras, &msg, out);
        out.push(Output::Event(RasEvent::Registered {
            id,
            aliases: aliases.iter().map(ToString::to_string).collect(),
            ras,
            ttl,
            lightweight: false,
        }));
    }

    fn alias_allowed(&self, text: &str) -> bool {
        if self.cfg.deny.iter().any(|r| r.is_match(text)) {
            return false;
        }
        self.cfg.allow.is_empty() || self.cfg.allow.iter().any(|r| r.is_match(text))
    }

    /// The registered endpoint a request names, by endpointIdentifier.
    fn endpoint_of(&self, id: &EndpointIdentifier) -> Option<&Endpoint> {
        asn::bmp_text(&id.0).and_then(|id| self.table.get(&id))
    }

    fn on_urq(&mut self, m: &UnregistrationRequest, d: Datagram<'_>, out: &mut Vec<Output>) {
        let n = m.request_seq_num.0;
        let by_id = m
            .endpoint_identifier
            .as_ref()
            .and_then(|id| self.endpoint_of(id))
            .map(|e| e.id.clone());
        // without an identifier, the call-signaling address names the endpoint (H.225.0 7.10)
        let id = by_id.or_else(|| {
            let wanted: Vec<SocketAddr> = m
                .call_signal_address
                .iter()
                .filter_map(asn::socket_addr)
                .collect();
            self.table
                .iter()
                .find(|e| e.call_signal.iter().any(|a| wanted.contains(a)))
                .map(|e| e.id.clone())
        });
        match id.and_then(|id| self.remove_endpoint(&id)) {
            Some(ep) => {
                self.send(ep.ras, &build::ucf(n), out);
                out.push(Output::Event(RasEvent::Unregistered {
                    id: ep.id,
                    by: By::Endpoint,
                }));
            }
            None => {
                self.reject("URQ", "notCurrentlyRegistered", d.from, out);
                let msg = build::urj(n, UnregRejectReason::notCurrentlyRegistered(()));
                self.send(d.from, &msg, out);
            }
        }
    }

    fn on_arq(
        &mut self,
        m: &AdmissionRequest,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let n = m.request_seq_num.0;
        let Some(ep) = self.endpoint_of(&m.endpoint_identifier).cloned() else {
            self.reject("ARQ", "callerNotRegistered", d.from, out);
            let msg = build::arj(n, AdmissionRejectReason::callerNotRegistered(()));
            self.send(d.from, &msg, out);
            return;
        };
        let key = (
            ep.id.clone(),
            call_key(m.call_identifier.as_ref(), &m.conference_id),
            m.answer_call,
        );
        if !self.calls.contains_key(&key) && self.calls.len() >= self.cfg.max_calls {
            self.reject("ARQ", "resourceUnavailable", d.from, out);
            let msg = build::arj(n, AdmissionRejectReason::resourceUnavailable(()));
            self.send(ep.ras, &msg, out);
            return;
        }
        let signal = asn::transport_address(self.signal_address(d.local));
        let called: Vec<String> = m
            .destination_info
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter_map(asn::alias_text)
            .map(|a| a.to_string())
            .collect();
        if !m.answer_call {
            let dest = m.destination_info.as_deref().unwrap_or(&[]);
            if dest.is_empty() {
                self.reject("ARQ", "incompleteAddress", d.from, out);
                let msg = build::arj(n, AdmissionRejectReason::incompleteAddress(()));
                self.send(ep.ras, &msg, out);
                return;
            }
            if let Err(failure) = self.reachable(dest, Some(&ep), now) {
                let reason = match failure {
                    RouteFailure::NotRegistered => {
                        AdmissionRejectReason::calledPartyNotRegistered(())
                    }
                    RouteFailure::Refused => AdmissionRejectReason::requestDenied(()),
                    RouteFailure::CallerNotRegistered => {
                        AdmissionRejectReason::callerNotRegistered(())
                    }
                    RouteFailure::Unreachable => AdmissionRejectReason::noRouteToDestination(()),
                };
                self.reject("ARQ", &format!("{failure:?}"), d.from, out);
                self.send(ep.ras, &build::arj(n, reason), out);
                return;
            }
        }
        self.calls.insert(
            key,
            Admitted {
                bandwidth: m.band_width.0,
            },
        );
        let msg = build::acf(n, m.band_width.0, signal, None);
        self.send(ep.ras, &msg, out);
        out.push(Output::Event(RasEvent::Admitted {
            endpoint: ep.id,
            answer: m.answer_call,
            called,
        }));
    }

    fn on_drq(&mut self, m: &DisengageRequest, d: Datagram<'_>, out: &mut Vec<Output>) {
        let n = m.request_seq_num.0;
        let Some(ep) = self.endpoint_of(&m.endpoint_identifier).cloned() else {
            self.reject("DRQ", "notRegistered", d.from, out);
            let msg = build::drj(n, DisengageRejectReason::notRegistered(()));
            self.send(d.from, &msg, out);
            return;
        };
        let call = call_key(m.call_identifier.as_ref(), &m.conference_id);
        // either leg of the endpoint (it may have been caller and callee of the same call)
        let answered = m.answered_call;
        self.calls.retain(|(e, c, answer), _| {
            !(*e == ep.id && *c == call && answered.is_none_or(|a| a == *answer))
        });
        self.send(ep.ras, &build::dcf(n), out);
    }

    fn on_brq(&mut self, m: &BandwidthRequest, d: Datagram<'_>, out: &mut Vec<Output>) {
        let n = m.request_seq_num.0;
        let Some(ep) = self.endpoint_of(&m.endpoint_identifier).cloned() else {
            self.reject("BRQ", "notBound", d.from, out);
            let msg = build::brj(n, BandRejectReason::notBound(()), 0);
            self.send(d.from, &msg, out);
            return;
        };
        let call = call_key(m.call_identifier.as_ref(), &m.conference_id);
        let mut found = false;
        for ((e, c, _), adm) in self.calls.iter_mut() {
            if *e == ep.id && *c == call {
                adm.bandwidth = m.band_width.0;
                found = true;
            }
        }
        if found {
            self.send(ep.ras, &build::bcf(n, m.band_width.0), out);
        } else {
            self.reject("BRQ", "invalidConferenceID", d.from, out);
            let msg = build::brj(n, BandRejectReason::invalidConferenceID(()), 0);
            self.send(ep.ras, &msg, out);
        }
    }

    fn on_irr(
        &mut self,
        m: &InfoRequestResponse,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(ep) = self.endpoint_of(&m.endpoint_identifier).cloned() else {
            return;
        };
        // any IRR from a registered endpoint proves it alive; one answering our probe renews
        if ep.probe.is_some() {
            self.table
                .refresh(&ep.id, now + Duration::from_secs(u64::from(ep.ttl)), ep.ttl);
        }
        if m.need_response == Some(true) {
            let reply = asn::socket_addr(&m.ras_address).unwrap_or(d.from);
            self.send(reply, &build::iack(m.request_seq_num.0), out);
        }
    }

    fn on_lrq(
        &mut self,
        m: &LocationRequest,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let _ = now;
        let n = m.request_seq_num.0;
        let reply = asn::socket_addr(&m.reply_address).unwrap_or(d.from);
        let Some(zone) = self
            .neighbors
            .iter()
            .find(|(_, a)| a.ip() == d.from.ip())
            .map(|(z, _)| z.clone())
        else {
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

    /// The alias texts to look up in the registrations for a dialled alias: the `LocalZone`
    /// targets of the search rules, or the alias itself when it is bare and no rule matched.
    fn local_targets(&self, alias: &AliasText, source_zone: &str, registered: bool) -> Vec<String> {
        let a = Alias::parse(&alias.text);
        let route = self.router.route(&RouteRequest {
            alias: &a,
            protocol: Protocol::H323,
            source_zone,
            source_registered: registered,
        });
        let mut v: Vec<String> = route
            .targets
            .iter()
            .filter(|t| t.kind == ZoneKind::Local)
            .map(|t| t.alias.to_string())
            .collect();
        if route.targets.is_empty() && a.domain.is_none() {
            v.push(alias.text.clone());
        }
        v
    }

    /// Whether any alias of `dest` leads somewhere (a registration, or a neighbor zone to ask).
    fn reachable(
        &self,
        dest: &[AliasAddress],
        caller: Option<&Endpoint>,
        now: Instant,
    ) -> Result<(), RouteFailure> {
        let mut failure = RouteFailure::Unreachable;
        for a in dest.iter().filter_map(asn::alias_text) {
            let plan = self.plan(&a, "LocalZone", caller.is_some(), now);
            if plan
                .iter()
                .any(|t| matches!(t, Step::Local(..) | Step::Neighbor(..)))
            {
                return Ok(());
            }
            if plan.iter().any(|t| matches!(t, Step::LocalMissing)) {
                failure = RouteFailure::NotRegistered;
            }
        }
        Err(failure)
    }

    /// The steps to try for one dialled alias, in order.
    fn plan(
        &self,
        alias: &AliasText,
        source_zone: &str,
        registered: bool,
        now: Instant,
    ) -> Vec<Step> {
        let a = Alias::parse(&alias.text);
        let route = self.router.route(&RouteRequest {
            alias: &a,
            protocol: Protocol::H323,
            source_zone,
            source_registered: registered,
        });
        let mut steps = Vec::new();
        let local = |text: String, steps: &mut Vec<Step>| match self.table.by_alias(&text) {
            Some(ep) => steps.push(Step::Local(ep.id.clone(), text)),
            None => {
                let sip = self.shared.as_ref().and_then(|sh| sh.owner(&text, now));
                match sip {
                    Some(o) if o.protocol == Protocol::Sip => {
                        // found, but reaching a SIP UA from H.323 needs interworking, which
                        // this version does not do
                        tracing::info!(
                            "H.323 call to `{text}`: registered by SIP ({}); SIP/H.323 interworking is not available",
                            o.id
                        );
                        steps.push(Step::SipOnly);
                    }
                    _ => steps.push(Step::LocalMissing),
                }
            }
        };
        for t in &route.targets {
            match t.kind {
                ZoneKind::Local => local(t.alias.to_string(), &mut steps),
                ZoneKind::Neighbor => {
                    let peer = self
                        .neighbors
                        .iter()
                        .find(|(z, _)| *z == t.zone)
                        .map(|(_, a)| *a);
                    match peer {
                        Some(p) => steps.push(Step::Neighbor(
                            t.zone.clone(),
                            p,
                            asn::alias_address_or_guess(alias.kind, &t.alias.to_string()),
                        )),
                        None => tracing::debug!(
                            "zone {} has no RAS peer address; skipped for H.323",
                            t.zone
                        ),
                    }
                }
                // SIP-only zones (traversal links and DNS zones carry SIP in this version)
                _ => {}
            }
        }
        if route.targets.is_empty() && a.domain.is_none() {
            local(alias.text.clone(), &mut steps);
        }
        steps
    }

    /// Where a gatekeeper-routed Setup goes: called aliases in order, then the Called party
    /// number as E.164. Neighbor targets are asked with LRQ (answer later as
    /// [`Output::Resolved`]).
    #[allow(clippy::too_many_arguments)]
    pub fn resolve(
        &mut self,
        call: CallId,
        called: &[AliasAddress],
        called_number: Option<&str>,
        caller: SocketAddr,
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
        let (source_zone, registered) =
            match self.neighbors.iter().find(|(_, a)| a.ip() == caller.ip()) {
                Some((z, _)) => (z.clone(), false),
                None => (
                    "LocalZone".to_string(),
                    self.table.by_signal_ip(caller.ip()).is_some(),
                ),
            };
        let mut neighbors = VecDeque::new();
        let mut any_local = false;
        for a in &aliases {
            for step in self.plan(a, &source_zone, registered, now) {
                match step {
                    Step::Local(id, target) => {
                        if let Some(addr) = self.table.get(&id).and_then(|e| e.call_signal.first())
                        {
                            // a transform or rule changed what was dialled: the callee is
                            // told the alias it registered
                            let alias = (target != a.text)
                                .then(|| asn::alias_address(a.kind, &target))
                                .flatten()
                                .or_else(|| {
                                    (target != a.text)
                                        .then(|| asn::alias_address_or_guess(a.kind, &target))
                                });
                            return Resolve::Found(Destination {
                                addr: *addr,
                                alias,
                                zone: "LocalZone".to_string(),
                            });
                        }
                    }
                    Step::LocalMissing => any_local = true,
                    Step::SipOnly => {}
                    Step::Neighbor(_, peer, alias) => {
                        if !neighbors.iter().any(|(p, al)| *p == peer && *al == alias) {
                            neighbors.push_back((peer, alias));
                        }
                    }
                }
            }
        }
        if neighbors.is_empty() {
            return Resolve::Failed(if any_local {
                RouteFailure::NotRegistered
            } else {
                RouteFailure::Unreachable
            });
        }
        if self.locates.len() >= self.cfg.max_calls {
            return Resolve::Failed(RouteFailure::Unreachable);
        }
        let locate = Locate {
            call,
            rest: neighbors,
            deadline: now,
            local,
            any_local,
        };
        self.next_locate(locate, now, out);
        Resolve::Pending
    }

    /// Sends the LRQ of the next neighbor target, or reports the failure.
    fn next_locate(&mut self, mut l: Locate, now: Instant, out: &mut Vec<Output>) {
        let Some((peer, alias)) = l.rest.pop_front() else {
            out.push(Output::Resolved {
                call: l.call,
                result: Err(if l.any_local {
                    RouteFailure::NotRegistered
                } else {
                    RouteFailure::Unreachable
                }),
            });
            return;
        };
        let n = self.seq();
        let hop = u8::try_from(self.router.hop_limit())
            .unwrap_or(u8::MAX)
            .max(1);
        let msg = build::lrq(
            n,
            &self.cfg.gatekeeper_id.clone(),
            vec![alias],
            asn::transport_address(l.local),
            hop,
        );
        self.send(peer, &msg, out);
        l.deadline = now + self.cfg.locate_timeout;
        self.locates.insert(n, l);
    }

    fn on_lcf(&mut self, m: &LocationConfirm, now: Instant, out: &mut Vec<Output>) {
        let Some(l) = self.locates.remove(&m.request_seq_num.0) else {
            return;
        };
        match asn::socket_addr(&m.call_signal_address) {
            Some(a) => out.push(Output::Resolved {
                call: l.call,
                result: Ok(Destination {
                    addr: a,
                    alias: None,
                    zone: "neighbor".to_string(),
                }),
            }),
            None => self.next_locate(l, now, out),
        }
    }

    fn on_lrj(&mut self, n: u16, now: Instant, out: &mut Vec<Output>) {
        if let Some(l) = self.locates.remove(&n) {
            self.next_locate(l, now, out);
        }
    }

    /// The next deadline: the earliest time [`Gatekeeper::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let locate = self.locates.values().map(|l| l.deadline).min();
        match (self.table.next_deadline(), locate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs what is due at `now`: expiry, IRQ probes and LRQ deadlines.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        for id in self.table.due(now) {
            let Some(ep) = self.table.get(&id).cloned() else {
                continue;
            };
            if ep.probe.is_some() {
                // the probe went unanswered: the registration is gone
                self.remove_endpoint(&id);
                let n = self.seq();
                let msg = build::urq(
                    n,
                    &self.cfg.gatekeeper_id.clone(),
                    &id,
                    ep.call_signal
                        .iter()
                        .map(|a| asn::transport_address(*a))
                        .collect(),
                    UnregRequestReason::ttlExpired(()),
                );
                self.send(ep.ras, &msg, out);
                out.push(Output::Event(RasEvent::Expired { id }));
            } else {
                let n = self.seq();
                // no replyAddress: the IRR goes to the gatekeeper's RAS address, the source of
                // this IRQ
                let msg = build::irq(n, None);
                self.send(ep.ras, &msg, out);
                self.table.set_probe(&id, n, now + self.cfg.probe_timeout);
            }
        }
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

/// One way to reach a dialled alias.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// A registered endpoint (by id) and the alias text that found it.
    Local(String, String),
    /// A local-zone target nobody registered.
    LocalMissing,
    /// A local-zone target registered by a SIP UA (the shared alias table).
    SipOnly,
    /// Ask a neighbor zone: (zone, its RAS address, alias).
    Neighbor(String, SocketAddr, AliasAddress),
}

/// The key of an admitted call: its callIdentifier, or for a v1 endpoint that sends none the
/// conferenceID.
fn call_key(call: Option<&CallIdentifier>, conference: &ConferenceIdentifier) -> [u8; 16] {
    asn::guid_bytes(call.map_or(&conference.0, |c| &c.guid))
}

/// The message name for counters and logs.
pub fn name(m: &RasMessage) -> &'static str {
    match m {
        RasMessage::gatekeeperRequest(_) => "GRQ",
        RasMessage::gatekeeperConfirm(_) => "GCF",
        RasMessage::gatekeeperReject(_) => "GRJ",
        RasMessage::registrationRequest(_) => "RRQ",
        RasMessage::registrationConfirm(_) => "RCF",
        RasMessage::registrationReject(_) => "RRJ",
        RasMessage::unregistrationRequest(_) => "URQ",
        RasMessage::unregistrationConfirm(_) => "UCF",
        RasMessage::unregistrationReject(_) => "URJ",
        RasMessage::admissionRequest(_) => "ARQ",
        RasMessage::admissionConfirm(_) => "ACF",
        RasMessage::admissionReject(_) => "ARJ",
        RasMessage::bandwidthRequest(_) => "BRQ",
        RasMessage::bandwidthConfirm(_) => "BCF",
        RasMessage::bandwidthReject(_) => "BRJ",
        RasMessage::disengageRequest(_) => "DRQ",
        RasMessage::disengageConfirm(_) => "DCF",
        RasMessage::disengageReject(_) => "DRJ",
        RasMessage::locationRequest(_) => "LRQ",
        RasMessage::locationConfirm(_) => "LCF",
        RasMessage::locationReject(_) => "LRJ",
        RasMessage::infoRequest(_) => "IRQ",
        RasMessage::infoRequestResponse(_) => "IRR",
        RasMessage::nonStandardMessage(_) => "NSM",
        RasMessage::unknownMessageResponse(_) => "XRS",
        RasMessage::requestInProgress(_) => "RIP",
        RasMessage::resourcesAvailableIndicate(_) => "RAI",
        RasMessage::resourcesAvailableConfirm(_) => "RAC",
        RasMessage::infoRequestAck(_) => "IACK",
        RasMessage::infoRequestNak(_) => "INAK",
        RasMessage::serviceControlIndication(_) => "SCI",
        RasMessage::serviceControlResponse(_) => "SCR",
        RasMessage::admissionConfirmSequence(_) => "ACFseq",
        _ => "other",
    }
}

/// The sequence number of a request we do not serve (for XRS); confirms/rejects get no XRS.
fn request_seq(m: &RasMessage) -> Option<u16> {
    match m {
        RasMessage::nonStandardMessage(r) => Some(r.request_seq_num.0),
        RasMessage::resourcesAvailableIndicate(r) => Some(r.request_seq_num.0),
        RasMessage::serviceControlIndication(r) => Some(r.request_seq_num.0),
        RasMessage::infoRequest(r) => Some(r.request_seq_num.0),
        _ => None,
    }
}

fn reply_address(m: &RasMessage) -> Option<SocketAddr> {
    match m {
        RasMessage::infoRequest(r) => r.reply_address.as_ref().and_then(asn::socket_addr),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
