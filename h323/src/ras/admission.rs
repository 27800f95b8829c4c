//! Admission (H.225.0 7.11-7.12): ARQ answered with ACF or ARJ, DRQ (DCF/DRJ), BRQ (BCF/BRJ),
//! and the table of admitted calls.
//!
//! Choices (each an operator-visible behaviour):
//! - ARQ: callers must be registered (callerNotRegistered otherwise); every call is
//!   gatekeeper-routed, so ACF names causeway's call-signaling address. A dialled alias is
//!   routed through the search rules; a bare alias (no domain) that no rule matches is looked
//!   up in the registrations (the local zone of an H.323 gatekeeper). The LRQs of a neighbor
//!   target are sent when the Setup arrives, not at ARQ time (see `location`). A SIP UA's
//!   alias is admitted when the call would be interworked (`interworking`).
//! - An admitted call is keyed by endpoint, callIdentifier (the conferenceID for a v1 endpoint
//!   that sends none) and direction; past `max_calls` admitted calls an ARQ gets
//!   resourceUnavailable. A DRQ ends the endpoint's leg(s) of the call; a BRQ for a call the
//!   endpoint was not admitted to gets BRJ invalidConferenceID.
//!
//! Must not touch: registrations (read only), sockets, clocks.

use super::location::Step;
use super::table::Endpoint;
use super::{build, Datagram, Gatekeeper, Output, RasEvent};
use crate::asn;
use crate::call::RouteFailure;
use causeway_h323_asn1::h323_messages::{
    AdmissionRejectReason, AdmissionRequest, AliasAddress, BandRejectReason, BandwidthRequest,
    CallIdentifier, ConferenceIdentifier, DisengageRejectReason, DisengageRequest,
};
use std::net::SocketAddr;
use std::time::Instant;

/// A call admitted by ARQ, until DRQ.
#[derive(Clone, Copy, Debug)]
pub(super) struct Admitted {
    pub bandwidth: u32,
}

/// The key of an admitted call: its callIdentifier, or for a v1 endpoint that sends none the
/// conferenceID.
fn call_key(call: Option<&CallIdentifier>, conference: &ConferenceIdentifier) -> [u8; 16] {
    asn::guid_bytes(call.map_or(&conference.0, |c| &c.guid))
}

impl Gatekeeper {
    pub(super) fn on_arq(
        &mut self,
        m: &AdmissionRequest,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let n = m.request_seq_num.0;
        let Some(ep) = self.endpoint_of(&m.endpoint_identifier).cloned() else {
            let reason = AdmissionRejectReason::callerNotRegistered(());
            self.refuse_arq(n, "callerNotRegistered", reason, d.from, d.from, out);
            return;
        };
        let key = (
            ep.id.clone(),
            call_key(m.call_identifier.as_ref(), &m.conference_id),
            m.answer_call,
        );
        if !self.calls.contains_key(&key) && self.calls.len() >= self.cfg.max_calls {
            let reason = AdmissionRejectReason::resourceUnavailable(());
            self.refuse_arq(n, "resourceUnavailable", reason, d.from, ep.ras, out);
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
                let reason = AdmissionRejectReason::incompleteAddress(());
                self.refuse_arq(n, "incompleteAddress", reason, d.from, ep.ras, out);
                return;
            }
            if let Err(failure) = self.reachable(dest, Some(&ep), now) {
                let why = format!("{failure:?}");
                let reason = reject_reason(failure);
                self.refuse_arq(n, &why, reason, d.from, ep.ras, out);
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

    /// ARJ to `to`, and the rejection counted and reported as coming from `from`.
    fn refuse_arq(
        &mut self,
        n: u16,
        why: &str,
        reason: AdmissionRejectReason,
        from: SocketAddr,
        to: SocketAddr,
        out: &mut Vec<Output>,
    ) {
        self.reject("ARQ", why, from, out);
        self.send(to, &build::arj(n, reason), out);
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
            if plan.iter().any(|t| match t {
                Step::Local(..) | Step::Neighbor(..) | Step::Traversal(..) => true,
                // the Setup will go to the interworking gateway
                Step::SipOnly(..) => self.interworks_registered(false),
                Step::SipZone(_) => self.interworks_zones(false),
                Step::LocalMissing => false,
            }) {
                return Ok(());
            }
            if plan.iter().any(|t| matches!(t, Step::LocalMissing)) {
                failure = RouteFailure::NotRegistered;
            }
        }
        Err(failure)
    }

    pub(super) fn on_drq(&mut self, m: &DisengageRequest, d: Datagram<'_>, out: &mut Vec<Output>) {
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

    pub(super) fn on_brq(&mut self, m: &BandwidthRequest, d: Datagram<'_>, out: &mut Vec<Output>) {
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
}

/// The ARJ reason of a route failure.
fn reject_reason(failure: RouteFailure) -> AdmissionRejectReason {
    match failure {
        RouteFailure::NotRegistered => AdmissionRejectReason::calledPartyNotRegistered(()),
        RouteFailure::Refused => AdmissionRejectReason::requestDenied(()),
        RouteFailure::CallerNotRegistered => AdmissionRejectReason::callerNotRegistered(()),
        RouteFailure::Unreachable => AdmissionRejectReason::noRouteToDestination(()),
    }
}
