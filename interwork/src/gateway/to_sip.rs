//! Calls from H.323 to SIP: the Setup the gatekeeper routed to the gateway becomes an INVITE
//! to the proxy, with an SDP offer made from the Setup's fastStart proposals (a delayed-offer
//! INVITE when there are none: the 2xx's offer is answered in the ACK once H.245 settled the
//! channels). 180/183/2xx come back as Alerting/Connect with the fastStart answer, a final
//! error as ReleaseComplete with the RFC 3398 cause; ReleaseComplete from H.323 becomes a
//! CANCEL or a BYE.
//!
//! Must not build messages itself (`h225`, `sip_ua`, the mapping modules do).

use super::control::Control;
use super::h225::{self, Incoming, Leg};
use super::media_path::{self, TapAddrs, TapCmd};
use super::sip_ua::{self, NewInvite, Uac};
use super::{Call, ConnId, Gateway, Origin, Output, Phase};
use crate::media::Media;
use crate::tap::Side;
use crate::{cause, fast_start, sdp_map};
use causeway_h323::asn;
use causeway_h323::endpoint::CallIds;
use causeway_h323::q931::CallReference;
use causeway_sip::message::{build_ack, Message};
use std::time::Instant;

impl Gateway {
    /// The first message on a connection the gatekeeper opened: a Setup, or the connection
    /// is closed.
    pub(super) fn h323_setup(
        &mut self,
        conn: ConnId,
        m: Incoming,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(h225::Body::setup(setup)) = &m.body else {
            out.push(Output::Close { conn });
            return;
        };
        let ids = CallIds {
            crv: m.cr,
            call_id: setup
                .call_identifier
                .as_ref()
                .map(|c| asn::guid_bytes(&c.guid))
                .unwrap_or_default(),
            conf_id: asn::guid_bytes(&setup.conference_id.0),
        };
        let cr = CallReference::new(m.cr, false)
            .map(|c| c.reply())
            .unwrap_or_else(|_| CallReference::dummy());
        let leg = Leg {
            conn,
            cr,
            ids,
            tunneling: m.tunneling == Some(true),
        };
        if self.active() >= self.cfg.max_calls {
            self.counters.refused += 1;
            return refuse(&leg, 47, out); // resource unavailable, unspecified
        }
        let Some(dest) = h225::destination_text(&m) else {
            return refuse(&leg, 28, out); // invalid number format
        };
        let offer = if m.fast_start.is_empty() {
            None
        } else {
            match fast_start::offer_from_proposals(&m.fast_start) {
                Ok(o) => Some(o),
                Err(crate::media::MapError::NoCommonCodec) => {
                    self.counters.failed += 1;
                    return refuse(&leg, 65, out); // bearer capability not implemented
                }
                Err(e) => {
                    self.counters.malformed += 1;
                    tracing::info!("interworking: fastStart proposals unreadable: {e}");
                    return refuse(&leg, 100, out);
                }
            }
        };
        let id = self.new_call_id();
        let tap = match self.ports.open(id) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("interworking: no media ports for a call: {e}");
                return refuse(&leg, 47, out);
            }
        };
        self.invite_sip(id, &m, (leg, tap), offer, dest, now, out);
    }

    /// Sends the INVITE of a checked Setup (media through `tap`) and keeps the call.
    #[allow(clippy::too_many_arguments)]
    fn invite_sip(
        &mut self,
        id: u64,
        m: &Incoming,
        (leg, tap): (Leg, TapAddrs),
        offer: Option<Media>,
        dest: String,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let (user, display) = h225::source_of(m);
        let caller = user.unwrap_or_else(|| "anonymous".into());
        let ruri = self.ruri_for(&dest);
        let session = self.rng.next_u64() >> 1;
        let sip_te = Some(media_path::default_te());
        let sdp = offer.as_ref().map(|o| {
            let v = media_path::sip_view(o, Some(tap), sip_te.clone());
            let origin = v
                .streams
                .first()
                .map(|s| s.rtp.ip())
                .unwrap_or(self.cfg.sip_local.ip());
            sdp_map::to_sdp(&v, origin, session, 1).into_bytes()
        });
        let (invite, dialog, branch) = sip_ua::invite(
            &NewInvite {
                ruri: &ruri,
                from_user: &caller,
                display: display.as_deref(),
                me: self.cfg.sip_local,
                sdp: sdp.as_deref(),
            },
            &mut *self.rng,
        );
        let conn = leg.conn;
        match leg.call_proceeding() {
            Ok(b) => out.push(Output::H225 { conn, data: b }),
            Err(e) => tracing::warn!("interworking: CallProceeding not built: {e}"),
        }
        out.push(Output::Sip {
            to: self.cfg.proxy,
            data: invite.clone(),
        });
        let Some(uac) = Uac::new("INVITE", branch, invite, now, &self.cfg.timers) else {
            out.push(Output::Tap {
                call: id,
                cmd: TapCmd::Close,
            });
            return refuse(&leg, 41, out);
        };
        self.counters.calls_from_h323 += 1;
        let call = Call {
            uac: vec![uac],
            h323_media: offer.clone(),
            offer,
            sip_te,
            proposals: m.fast_start.clone(),
            ..Call::new(
                Origin::H323,
                (caller, dest),
                dialog,
                (leg, tap),
                now + self.cfg.answer_timeout,
                session,
                now,
            )
        };
        self.insert(id, call);
        if let Some(o) = self.calls.get(&id).and_then(|c| c.offer.clone()) {
            self.tap_peer(id, Side::H323, &o, out);
        }
    }

    /// The Request-URI for an H.323 destination alias: a SIP URI as it is (the gatekeeper
    /// names a SIP registration as url-ID `sip:aor`), `user@host` as a SIP URI, anything else
    /// as a user at the node's domain.
    fn ruri_for(&self, dest: &str) -> String {
        let lower = dest.to_ascii_lowercase();
        if lower.starts_with("sip:") || lower.starts_with("sips:") {
            return dest.to_string();
        }
        match dest.split_once('@') {
            Some((user, host)) if !host.is_empty() => {
                format!("sip:{}@{host}", sip_ua::escape_user(user))
            }
            _ => format!("sip:{}@{}", sip_ua::escape_user(dest), self.cfg.domain),
        }
    }

    /// A response on the SIP side, either origin (the gateway's own client transactions).
    pub(super) fn on_sip_response(
        &mut self,
        id: u64,
        resp: &Message,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let proxy = self.cfg.proxy;
        let (Some(status), Some(branch)) = (resp.status(), sip_ua::branch_of(resp)) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(u) = c
            .uac
            .iter_mut()
            .find(|u| u.branch == branch && cseq_method(resp) == Some(u.method))
        else {
            return;
        };
        let (method, reinvite) = (u.method, u.reinvite);
        let req = u.request.clone();
        let (pass, ack) = u.tx.on_response(status, now, &|| build_ack(&req, resp));
        if let Some(a) = ack {
            out.push(Output::Sip { to: proxy, data: a });
        }
        if reinvite {
            if pass {
                self.reinvite_answered(id, resp, out);
            }
            return;
        }
        if method != "INVITE" {
            return;
        }
        if c.phase == Phase::Ended {
            let cancelled = c.uac.iter().any(|u| u.method == "CANCEL");
            if (101..200).contains(&status) && !cancelled && c.ack.is_none() {
                // RFC 3261 9.1: the CANCEL waits for a provisional response
                let cancel = causeway_sip::message::build_cancel(&req);
                out.push(Output::Sip {
                    to: proxy,
                    data: cancel.clone(),
                });
                let t = &self.cfg.timers;
                if let Some(u) = Uac::new("CANCEL", branch.to_string(), cancel, now, t) {
                    c.uac.push(u);
                }
                return;
            }
            if (200..300).contains(&status) && c.ack.is_none() {
                // RFC 3261 15: the H.323 caller gave up, yet the callee answered (the CANCEL
                // crossed the 2xx, or there was no provisional to CANCEL after): ACK and BYE
                self.answered_after_the_end(id, resp, out);
            }
            return;
        }
        if (200..300).contains(&status) {
            // a retransmitted 2xx (RFC 6026: passed up) is acknowledged again
            if let Some(a) = c.ack.clone() {
                out.push(Output::Sip { to: proxy, data: a });
                return;
            }
        }
        if !pass {
            return;
        }
        match status {
            100 => {}
            101..=199 => self.sip_early(id, status, resp, out),
            200..=299 => self.sip_answered(id, resp, now, out),
            _ => {
                self.counters.failed += 1;
                let q850 = cause::cause_for_status(status);
                self.release_h323(id, q850, out);
                self.finish(id, now, out);
            }
        }
    }

    /// 180 / 183 to our INVITE: Alerting / Progress; one with an SDP answer (early media)
    /// carries the fastStart answer at once (H.323 8.1.7: any of them may), and the 2xx then
    /// needs none.
    fn sip_early(&mut self, id: u64, status: u16, resp: &Message, out: &mut Vec<Output>) {
        let fast = self.early_fast_start(id, resp, out);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let first = c.phase == Phase::Calling;
        let msg = match status {
            180 if first => c.leg.alerting(fast),
            _ if !fast.is_empty() => c.leg.progress(fast),
            183 if first => c.leg.progress(Vec::new()),
            _ => return,
        };
        c.phase = Phase::Early;
        match msg {
            Ok(b) => out.push(Output::H225 {
                conn: c.leg.conn,
                data: b,
            }),
            Err(e) => tracing::warn!("interworking: Alerting/Progress not built: {e}"),
        }
    }

    /// The fastStart answer an early SDP answer makes (once per call), with the tap told the
    /// SIP side's address.
    fn early_fast_start(&mut self, id: u64, resp: &Message, out: &mut Vec<Output>) -> Vec<Vec<u8>> {
        let Some(c) = self.calls.get(&id) else {
            return Vec::new();
        };
        if c.fast_answered || c.offer.is_none() || resp.body().is_empty() {
            return Vec::new();
        }
        let Ok(sdp) = sdp_map::from_sdp(resp.body()) else {
            return Vec::new();
        };
        let towards_h323 = media_path::h323_view(&media_path::without_telephone_event(&sdp), c.tap);
        let Ok(accepted) = fast_start::accept(&c.proposals, &towards_h323) else {
            return Vec::new();
        };
        let te = media_path::telephone_event(&sdp);
        let pt = te.as_ref().map(|f| f.pt);
        self.tap_cmd(id, c, TapCmd::SipTelephoneEvent(pt), out);
        self.tap_peer(id, Side::Sip, &sdp, out);
        if let Some(c) = self.calls.get_mut(&id) {
            c.sip_te = te;
            c.fast_answered = true;
        }
        accepted
    }

    /// 2xx to our INVITE: ACK it and Connect the H.323 side with the fastStart answer (or,
    /// for a delayed offer, start H.245 with the 2xx's offer and ACK once it settled).
    fn sip_answered(&mut self, id: u64, resp: &Message, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.control.is_some() {
            // a delayed-offer call whose H.245 is still settling: the ACK follows then
            return;
        }
        c.dialog.confirm(resp);
        let sdp = match sdp_map::from_sdp(resp.body()) {
            Ok(m) if !resp.body().is_empty() => Some(m),
            Ok(_) => None,
            Err(e) => {
                self.counters.malformed += 1;
                tracing::info!("interworking: SDP of the 2xx unreadable: {e}");
                None
            }
        };
        let Some(sdp) = sdp else {
            // no usable answer: the dialog is confirmed and ended at once
            c.phase = Phase::Answered;
            self.send_ack(id, None, out);
            self.counters.failed += 1;
            self.end_sip(id, 0, "", now, out);
            self.release_h323(id, 65, out);
            self.finish(id, now, out);
            return;
        };
        // the SIP side's media and telephone-event, wherever it is in the exchange
        c.sip_te = media_path::telephone_event(&sdp);
        let te = c.sip_te.as_ref().map(|f| f.pt);
        let towards_h323 = media_path::h323_view(&media_path::without_telephone_event(&sdp), c.tap);
        if let Some(cc) = self.calls.get(&id) {
            self.tap_cmd(id, cc, TapCmd::SipTelephoneEvent(te), out);
        }
        self.tap_peer(id, Side::Sip, &sdp, out);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.offer.is_none() {
            // delayed offer: the 2xx carries the offer; H.245 settles the answer
            c.phase = Phase::Early;
            let mut ctl = Control::new(media_path::h323_view(&sdp, c.tap), self.rng.next_u32());
            let msgs = ctl.start();
            c.control = Some(ctl);
            return self.connect_h323(id, Vec::new(), msgs, out);
        }
        c.phase = Phase::Answered;
        c.deadline = None;
        self.counters.answered += 1;
        self.send_ack(id, None, out);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let accepted = match fast_start::accept(&c.proposals, &towards_h323) {
            // already given with early media
            Ok(_) if c.fast_answered => Vec::new(),
            Ok(a) => a,
            Err(e) => {
                tracing::info!("interworking: the SIP answer fits no fastStart proposal: {e}");
                self.counters.failed += 1;
                self.end_sip(id, 0, "", now, out);
                self.release_h323(id, 65, out);
                self.finish(id, now, out);
                return;
            }
        };
        // H.245 runs beside the fastStart channels (capabilities, UII, pause)
        let mut ctl = Control::passive(towards_h323, self.rng.next_u32());
        let msgs = ctl.start();
        c.control = Some(ctl);
        self.connect_h323(id, accepted, msgs, out);
    }

    /// Our ACK of the 2xx (kept, for its retransmissions), with the answer of a delayed offer.
    fn send_ack(&mut self, id: u64, sdp: Option<&[u8]>, out: &mut Vec<Output>) {
        let (me, proxy) = (self.cfg.sip_local, self.cfg.proxy);
        let branch = sip_ua::token(&mut *self.rng);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let body = sdp.map(|b| ("application/sdp", b));
        let ack = c.dialog.request("ACK", me, &branch, body);
        out.push(Output::Sip {
            to: proxy,
            data: ack.clone(),
        });
        c.ack = Some(ack);
    }

    fn answered_after_the_end(&mut self, id: u64, resp: &Message, out: &mut Vec<Output>) {
        let (me, proxy) = (self.cfg.sip_local, self.cfg.proxy);
        if let Some(c) = self.calls.get_mut(&id) {
            c.dialog.confirm(resp);
        }
        self.send_ack(id, None, out);
        let branch = sip_ua::token(&mut *self.rng);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let bye = c.dialog.request("BYE", me, &branch, None);
        out.push(Output::Sip {
            to: proxy,
            data: bye,
        });
    }

    fn connect_h323(
        &mut self,
        id: u64,
        fast: Vec<Vec<u8>>,
        h245: Vec<Vec<u8>>,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        match c.leg.connect(fast, h245) {
            Ok(b) => out.push(Output::H225 {
                conn: c.leg.conn,
                data: b,
            }),
            Err(e) => tracing::warn!("interworking: Connect not built: {e}"),
        }
    }

    /// H.323 messages of a call from H.323 (ReleaseComplete is handled for both origins).
    pub(super) fn h225_for_h323_caller(
        &mut self,
        _id: u64,
        _m: Incoming,
        _now: Instant,
        _out: &mut Vec<Output>,
    ) {
        // Facility, Status and the like carry nothing to map; tunneled H.245 is taken by
        // the caller of this function.
    }

    /// H.245 settled the media of a delayed-offer call: the ACK carries the answer.
    pub(super) fn h245_ready_for_sip(&mut self, id: u64, _now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.phase == Phase::Answered || c.phase == Phase::Ended {
            return;
        }
        c.phase = Phase::Answered;
        c.deadline = None;
        self.counters.answered += 1;
        let sdp = super::to_h323::sip_sdp(c);
        if let Some(m) = c.h323_media.clone() {
            self.tap_peer(id, Side::H323, &m, out);
        }
        self.send_ack(id, sdp.as_deref(), out);
    }

    /// A SIP-side failure of a call from H.323 (e.g. timer B): ReleaseComplete.
    pub(super) fn sip_failed(&mut self, id: u64, status: u16, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        self.counters.failed += 1;
        if c.origin == Origin::H323 {
            self.release_h323(id, cause::cause_for_status(status), out);
        }
        self.finish(id, now, out);
    }
}

fn refuse(leg: &Leg, cause: u8, out: &mut Vec<Output>) {
    if let Ok(b) = leg.release_complete(cause) {
        out.push(Output::H225 {
            conn: leg.conn,
            data: b,
        });
    }
    out.push(Output::Close { conn: leg.conn });
}

fn cseq_method(m: &Message) -> Option<&'static str> {
    let (_, method) = m.cseq()?;
    ["INVITE", "BYE", "CANCEL"]
        .into_iter()
        .find(|x| *x == method.as_str())
}
