//! Registration (H.225.0 7.9-7.10, 7.15): full and lightweight RRQ, URQ from an endpoint,
//! IRR, and what the timers do to a registration (IRQ probe when the time to live runs out,
//! URQ ttlExpired when the probe goes unanswered). Also the shared alias table's side of
//! registering: an alias a SIP UA holds is a duplicate, and a registration's aliases are
//! claimed and released there.
//!
//! Choices (each an operator-visible behaviour):
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
//! - A lightweight RRQ (keepAlive) is known by its endpoint identifier only (H.225.0 7.9.1);
//!   an unknown one gets fullRegistrationRequired.
//! - A URQ without an endpoint identifier names the endpoint by its call-signaling address
//!   (H.225.0 7.10).
//!
//! - An endpoint whose RRQ came from another IP than its rasAddress is behind a NAT: it is
//!   registered at the address the RRQ came from (where RCF, IRQ, URQ and later requests to
//!   it go) and its call-signaling addresses take that IP too (the port it gave is kept: the
//!   NAT forwards it, or the call cannot reach it whatever we do). A lightweight RRQ of such an
//!   endpoint from a new port of the same IP moves its RAS address there (the NAT rebound).
//!
//! - An RRQ announcing H.460.18 (feature 18) gets it when `h46018_ttl` is set: the RCF
//!   announces it too and grants at most that time to live, so the endpoint's refreshes keep
//!   its NAT mapping open; calls to it are announced by SCI (the service's `Announcer`) and it
//!   calls back.
//! - An RRQ that also announces H.460.19 (feature 19) gets feature 19 with
//!   mediaTraversalServer in that RCF (whoever answers H.460.18 anchors the endpoint's media),
//!   and the registration remembers it (`Endpoint::h46019`). Without H.460.18 it is not
//!   answered: H.460.19 keep-alives only make sense behind the signalling traversal.
//!
//! Must not touch: admitted calls beyond dropping those of a removed endpoint, routing,
//! sockets, clocks.

use super::table::Endpoint;
use super::{build, By, Datagram, Gatekeeper, Output, RasEvent};
use crate::asn::{self, AliasText};
use crate::h46018;
use crate::h46019::feature as feature19;
use causeway_h323_asn1::h323_messages::{
    AliasAddress, InfoRequestResponse, RasMessage, RegistrationRejectReason,
    RegistrationRejectReasonInvalidTerminalAliases, RegistrationRequest, TimeToLive,
    UnregRejectReason, UnregRequestReason, UnregistrationRequest,
};
use causeway_zones::{Owner, Protocol};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

impl Gatekeeper {
    pub(super) fn on_rrq(
        &mut self,
        m: &RegistrationRequest,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let n = m.request_seq_num.0;
        let named = m.ras_address.iter().find_map(asn::socket_addr);
        let reply = super::answer_to(named, d.from);
        let ttl = match m.time_to_live {
            Some(TimeToLive(t)) if t > 0 => t.min(self.cfg.time_to_live),
            _ => self.cfg.time_to_live,
        };
        if let Some(id) = &m.gatekeeper_identifier {
            if !self.is_our_id(&id.0) {
                let reason = RegistrationRejectReason::undefinedReason(());
                let why = "undefinedReason (another gatekeeper)";
                self.refuse_rrq(n, why, reason, d.from, reply, out);
                return;
            }
        }
        if m.keep_alive == Some(true) {
            self.on_lightweight_rrq(m, reply, ttl, d.from, now, out);
            return;
        }
        if named.is_none() {
            let reason = RegistrationRejectReason::invalidRASAddress(());
            self.refuse_rrq(n, "invalidRASAddress", reason, d.from, d.from, out);
            return;
        }
        self.on_full_rrq(m, reply, ttl, d, now, out);
    }

    /// RRJ to `to`, and the rejection counted and reported as coming from `from`.
    fn refuse_rrq(
        &mut self,
        n: u16,
        why: &str,
        reason: RegistrationRejectReason,
        from: SocketAddr,
        to: SocketAddr,
        out: &mut Vec<Output>,
    ) {
        self.reject("RRQ", why, from, out);
        let msg = build::rrj(n, &self.cfg.gatekeeper_id, reason);
        self.send(to, &msg, out);
    }

    /// Lightweight re-registration (H.225.0 7.9.1): only the endpoint identifier counts.
    fn on_lightweight_rrq(
        &mut self,
        m: &RegistrationRequest,
        reply: SocketAddr,
        ttl: u32,
        from: SocketAddr,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let n = m.request_seq_num.0;
        let known = m
            .endpoint_identifier
            .as_ref()
            .and_then(|e| self.endpoint_of(e))
            .cloned();
        let Some(mut ep) = known else {
            let reason = RegistrationRejectReason::fullRegistrationRequired(());
            self.refuse_rrq(n, "fullRegistrationRequired", reason, from, reply, out);
            return;
        };
        if ep.nat && ep.ras != from && ep.ras.ip() == from.ip() {
            ep.ras = from;
            self.table.move_ras(&ep.id, from);
        }
        self.table
            .refresh(&ep.id, now + Duration::from_secs(u64::from(ttl)), ttl);
        let msg = build::rcf(build::Rcf {
            seq: n,
            gatekeeper: &self.cfg.gatekeeper_id,
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
    }

    /// A full registration from `ras`: checked (addresses, alias policy, duplicates, the
    /// table's size), then stored and confirmed.
    fn on_full_rrq(
        &mut self,
        m: &RegistrationRequest,
        ras: SocketAddr,
        ttl: u32,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let from = d.from;
        let n = m.request_seq_num.0;
        let h46018 = self
            .cfg
            .h46018_ttl
            .filter(|_| h46018::announces(m.feature_set.as_ref()));
        let ttl = h46018.map_or(ttl, |short| ttl.min(short));
        let h46019 = h46018.is_some() && feature19::announces(m.feature_set.as_ref());
        let nat = m
            .ras_address
            .iter()
            .find_map(asn::socket_addr)
            .is_some_and(|named| super::behind_nat(named, from));
        let call_signal: Vec<SocketAddr> = m
            .call_signal_address
            .iter()
            .filter_map(asn::socket_addr)
            .map(|a| {
                if nat {
                    SocketAddr::new(from.ip(), a.port())
                } else {
                    a
                }
            })
            .collect();
        if call_signal.is_empty() {
            let reason = RegistrationRejectReason::invalidCallSignalAddress(());
            self.refuse_rrq(n, "invalidCallSignalAddress", reason, from, ras, out);
            return;
        }
        let given: &[AliasAddress] = m.terminal_alias.as_deref().unwrap_or(&[]);
        let aliases: Vec<AliasText> = given.iter().filter_map(asn::alias_text).collect();
        let refused = self.refused_aliases(given);
        if !refused.is_empty() {
            let reason = RegistrationRejectReason::invalidTerminalAliases(
                RegistrationRejectReasonInvalidTerminalAliases::new(Some(refused), None, None),
            );
            self.refuse_rrq(n, "invalidTerminalAliases (policy)", reason, from, ras, out);
            return;
        }
        let previous = self.previous_registration(ras, &call_signal, &aliases);
        let conflicts = self.alias_conflicts(&aliases, (previous.as_deref(), ras), now);
        if !conflicts.is_empty() {
            let dup = conflicts
                .iter()
                .filter_map(|a| asn::alias_address(a.kind, &a.text))
                .collect();
            let reason = RegistrationRejectReason::duplicateAlias(dup);
            self.refuse_rrq(n, "duplicateAlias", reason, from, ras, out);
            return;
        }
        if previous.is_none() && self.table.len() >= self.cfg.max_registrations {
            let reason = RegistrationRejectReason::resourceUnavailable(());
            self.refuse_rrq(n, "resourceUnavailable", reason, from, ras, out);
            return;
        }
        let id = previous.unwrap_or_else(|| self.new_endpoint_id());
        self.store_registration(
            Endpoint {
                id: id.clone(),
                aliases: aliases.clone(),
                ras,
                call_signal,
                ttl,
                expires: now + Duration::from_secs(u64::from(ttl)),
                registered_at: now,
                probe: None,
                nat,
                h46018: h46018.is_some(),
                h46019,
                local: d.local,
            },
            now,
        );
        let mut msg = build::rcf(build::Rcf {
            seq: n,
            gatekeeper: &self.cfg.gatekeeper_id,
            endpoint: &id,
            call_signal: m.call_signal_address.clone(),
            aliases: m.terminal_alias.clone(),
            ttl,
        });
        if let RasMessage::registrationConfirm(c) = &mut msg {
            c.alternate_gatekeeper = self.alternate_gatekeepers();
        }
        if let (Some(_), RasMessage::registrationConfirm(c)) = (h46018, &mut msg) {
            let fs = h46018::feature_set();
            c.feature_set = Some(if h46019 {
                feature19::with_feature(fs, feature19::SERVER)
            } else {
                fs
            });
        }
        self.send(ras, &msg, out);
        out.push(Output::Event(RasEvent::Registered {
            id,
            aliases: aliases.iter().map(ToString::to_string).collect(),
            ras,
            ttl,
            lightweight: false,
        }));
    }

    /// A fresh endpoint identifier (the prefix makes it unique per run).
    fn new_endpoint_id(&mut self) -> String {
        let id = format!("{}-{}", self.cfg.endpoint_id_prefix, self.next_endpoint);
        self.next_endpoint += 1;
        id
    }

    /// The aliases of an RRQ that `registration_deny` / `registration_allow` refuse.
    fn refused_aliases(&self, given: &[AliasAddress]) -> Vec<AliasAddress> {
        given
            .iter()
            .filter(|a| asn::alias_text(a).is_some_and(|t| !self.alias_allowed(&t.text)))
            .cloned()
            .collect()
    }

    fn alias_allowed(&self, text: &str) -> bool {
        if self.cfg.deny.iter().any(|r| r.is_match(text)) {
            return false;
        }
        self.cfg.allow.is_empty() || self.cfg.allow.iter().any(|r| r.is_match(text))
    }

    /// The identifier of the endpoint a full RRQ re-registers, if any: the same endpoint again
    /// (retransmitted RRQ, restart) has the same RAS address and either the same
    /// call-signaling address or one of its aliases; several endpoints behind one RAS address
    /// (a gateway) differ in both.
    fn previous_registration(
        &self,
        ras: SocketAddr,
        call_signal: &[SocketAddr],
        aliases: &[AliasText],
    ) -> Option<String> {
        self.table
            .by_ras(ras, call_signal.first().copied())
            .or_else(|| {
                aliases
                    .iter()
                    .find_map(|a| self.table.by_alias(&a.text))
                    .filter(|e| e.ras == ras)
            })
            .map(|e| e.id.clone())
    }

    /// Aliases held by another H.323 endpoint than `previous`, by a SIP UA (the shared alias
    /// table), or on another cluster peer by someone else than the endpoint at `ras` (aliases
    /// `previous` holds here already are its own: a peer's stale view does not take them).
    fn alias_conflicts(
        &self,
        aliases: &[AliasText],
        (previous, ras): (Option<&str>, SocketAddr),
        now: Instant,
    ) -> Vec<AliasText> {
        let mut conflicts = self.table.conflicts(aliases, previous);
        if let Some(sh) = &self.shared {
            for a in aliases {
                let sip = sh
                    .owner(&a.text, now)
                    .is_some_and(|o| o.protocol == Protocol::Sip);
                if sip && !conflicts.contains(a) {
                    conflicts.push(a.clone());
                }
            }
        }
        let held_here = |a: &AliasText| {
            previous.is_some_and(|p| self.table.by_alias(&a.text).is_some_and(|e| e.id == p))
        };
        let new: Vec<AliasText> = aliases.iter().filter(|a| !held_here(a)).cloned().collect();
        for a in self.held_by_peers(&new, ras) {
            if !conflicts.contains(&a) {
                conflicts.push(a);
            }
        }
        conflicts
    }

    /// Stores a registration (replacing one with the same identifier) and moves its aliases
    /// in the shared alias table: the old registration's released, the new one's claimed.
    fn store_registration(&mut self, ep: Endpoint, now: Instant) {
        if let Some(sh) = &self.shared {
            if let Some(old) = self.table.get(&ep.id) {
                for a in &old.aliases {
                    sh.release(&a.text, &ep.id);
                }
            }
            for a in &ep.aliases {
                let owner = Owner {
                    protocol: Protocol::H323,
                    id: ep.id.clone(),
                    until: None,
                    address: Some(ep.ras),
                };
                // checked above; a SIP claim racing in between keeps its alias
                let _ = sh.claim(&a.text, owner, now);
            }
        }
        self.table.insert(ep);
    }

    /// Removes a registration, gives its aliases back to the shared table and forgets its
    /// admitted calls.
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

    pub(super) fn on_urq(
        &mut self,
        m: &UnregistrationRequest,
        d: Datagram<'_>,
        out: &mut Vec<Output>,
    ) {
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

    pub(super) fn on_irr(
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

    /// Registrations whose time to live ran out get an IRQ probe; those whose probe went
    /// unanswered are removed and told so with URQ (ttlExpired).
    pub(super) fn expire_registrations(&mut self, now: Instant, out: &mut Vec<Output>) {
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
                    &self.cfg.gatekeeper_id,
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
    }
}
