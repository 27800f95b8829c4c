//! Calls from SIP to H.323: the INVITE (with an SDP offer) becomes a Setup with fastStart
//! proposals made from the offer, sent to the gatekeeper; CallProceeding/Alerting/Progress/
//! Connect come back as 100/180/183/200 (the answer from the accepted fastStart channels, or
//! from H.245 when the callee refused fastStart), ReleaseComplete as the mapped final status
//! or a BYE. SIP's ACK, BYE and CANCEL of such a call are here too.
//!
//! Must not build messages itself (`h225`, `sip_ua`, the mapping modules do).

use super::control::{self, Control};
use super::h225::{self, Incoming, Leg};
use super::media_path::{self, TapAddrs, TapCmd};
use super::sip_ua::{self, Dialog, Uas};
use super::{Call, Gateway, Origin, Output, Phase};
use crate::tap::Side;
use crate::{cause, fast_start, media::Media, sdp_map};
use causeway_h323::endpoint::CallIds;
use causeway_h323::q931::{CallReference, MessageType};
use causeway_sip::message::Message;
use std::time::Instant;

impl Gateway {
    /// A new INVITE from the proxy: checked, then placed as a Setup ([`Gateway::place`]).
    pub(super) fn sip_invite(&mut self, msg: Message, now: Instant, out: &mut Vec<Output>) {
        if self.active() >= self.cfg.max_calls {
            self.counters.refused += 1;
            let reason = "Service Unavailable (interworking call limit)";
            return self.reply(&msg, 503, reason, out);
        }
        let Some(callee) = sip_ua::ruri_user(&msg) else {
            return self.reply(&msg, 404, "Not Found (no user part to dial on H.323)", out);
        };
        // RFC 3264 delayed offer: the H.323 side is offered every audio codec the gateway
        // maps; what it picks is the 200's offer, the ACK brings the SIP side's answer
        let delayed = msg.body().is_empty();
        let parsed = if delayed {
            Ok(media_path::every_audio_codec())
        } else {
            sdp_map::from_sdp(msg.body())
        };
        let offer = match parsed {
            Ok(m) => m,
            Err(e) => {
                self.counters.malformed += 1;
                return self.reply(&msg, 400, &format!("Bad Request (SDP: {e})"), out);
            }
        };
        let tag = sip_ua::token(&mut *self.rng);
        let Some(dialog) = Dialog::uas(&msg, &tag) else {
            let reason = "Bad Request (no From, To, Call-ID or Contact)";
            return self.reply(&msg, 400, reason, out);
        };
        let id = self.new_call_id();
        let tap = match self.ports.open(id) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("interworking: no media ports for a call: {e}");
                return self.reply(&msg, 503, "Service Unavailable (no media ports)", out);
            }
        };
        // the H.323 side must be offered at least one codec it can be told
        if let Err(e) = fast_start::proposals(&media_path::h323_view(&offer, Some(tap)), 1) {
            self.counters.failed += 1;
            out.push(Output::Tap {
                call: id,
                cmd: TapCmd::Close,
            });
            return self.reply(&msg, 488, &format!("Not Acceptable Here ({e})"), out);
        }
        self.place(
            id,
            msg,
            dialog,
            tag,
            (offer, tap, delayed),
            callee,
            now,
            out,
        );
    }

    /// Sends the Setup of a checked INVITE (with the media through `tap`) and keeps the call.
    #[allow(clippy::too_many_arguments)]
    fn place(
        &mut self,
        id: u64,
        msg: Message,
        dialog: Dialog,
        tag: String,
        (offer, tap, delayed): (Media, TapAddrs, bool),
        callee: String,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let (user, display) = sip_ua::caller_of(&msg);
        let caller = user.unwrap_or_else(|| "anonymous".into());
        let towards_h323 = media_path::h323_view(&offer, Some(tap));
        let proposals = fast_start::proposals(&towards_h323, 1).unwrap_or_default();
        let cr = CallReference::new((self.rng.next_u32() as u16 & 0x7fff).max(1), false);
        let leg = Leg {
            conn: self.new_conn(),
            cr: cr.unwrap_or_else(|_| CallReference::dummy()),
            ids: self.new_ids(),
            tunneling: true,
        };
        let (from, to) = (h225::alias_of(&caller), h225::alias_of(&callee));
        let setup = leg.setup(
            &from,
            display.as_deref(),
            &to,
            self.cfg.h225_local,
            proposals,
        );
        let setup = match setup {
            Ok(s) => s,
            Err(e) => {
                tracing::info!("interworking: Setup for `{callee}` not built: {e}");
                out.push(Output::Tap {
                    call: id,
                    cmd: TapCmd::Close,
                });
                return self.reply(&msg, 484, "Address Incomplete (not an H.323 alias)", out);
            }
        };
        self.counters.calls_from_sip += 1;
        let mut uas = Uas::new(msg, tag, now, &self.cfg.timers);
        let (me, t) = (self.cfg.sip_local, &self.cfg.timers);
        if let Some(b) = uas.respond(100, "Trying", None, me, now, t) {
            out.push(Output::Sip {
                to: self.cfg.proxy,
                data: b,
            });
        }
        out.push(Output::Connect {
            conn: leg.conn,
            to: self.cfg.gatekeeper,
        });
        let sip_te = media_path::telephone_event(&offer);
        let session = self.rng.next_u64() >> 1;
        let call = Call {
            uas: Some(uas),
            pending_setup: Some(setup),
            offer: Some(towards_h323),
            sip_te: sip_te.clone(),
            delayed,
            ..Call::new(
                Origin::Sip,
                (caller, callee),
                dialog,
                (leg, tap),
                now + self.cfg.answer_timeout,
                session,
                now,
            )
        };
        self.insert(id, call);
        if let Some(c) = self.calls.get(&id) {
            self.tap_cmd(id, c, TapCmd::SipTelephoneEvent(sip_te.map(|f| f.pt)), out);
        }
        if !delayed {
            self.tap_peer(id, Side::Sip, &offer, out);
        }
    }

    pub(super) fn new_ids(&mut self) -> CallIds {
        let mut call_id = [0u8; 16];
        let mut conf_id = [0u8; 16];
        self.rng.fill_bytes(&mut call_id);
        self.rng.fill_bytes(&mut conf_id);
        CallIds {
            crv: 0,
            call_id,
            conf_id,
        }
    }

    /// A message on a call's H.225 connection, either origin.
    pub(super) fn on_h225_call(
        &mut self,
        id: u64,
        m: Incoming,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if m.tunneling == Some(false) && m.mt != MessageType::ReleaseComplete {
            c.leg.tunneling = false;
        }
        if m.mt == MessageType::ReleaseComplete {
            return self.h323_released(id, &m, now, out);
        }
        let h245 = m.h245.clone();
        match c.origin {
            Origin::Sip => self.h225_for_sip_caller(id, m, now, out),
            Origin::H323 => self.h225_for_h323_caller(id, m, now, out),
        }
        if !h245.is_empty() {
            self.on_h245(id, h245, now, out);
        }
    }

    fn h225_for_sip_caller(&mut self, id: u64, m: Incoming, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        if !m.fast_start.is_empty() && c.h323_media.is_none() {
            if let Some(offer) = &c.offer {
                match fast_start::answer_from_accepted(&m.fast_start, offer) {
                    Ok(a) => c.h323_media = Some(a),
                    Err(e) => tracing::info!("interworking: fastStart answer unusable: {e}"),
                }
            }
        }
        match m.mt {
            MessageType::Alerting if c.phase == Phase::Calling => {
                c.phase = Phase::Early;
                self.respond_invite(id, 180, "Ringing", false, now, out);
            }
            MessageType::Progress if c.h323_media.is_some() => {
                c.phase = Phase::Early;
                self.respond_invite(id, 183, "Session Progress", true, now, out);
            }
            MessageType::CallProceeding => {}
            MessageType::Connect => {
                // H.323 8.1.7.1: without a fastStart answer the media comes with H.245
                let fast = c.h323_media.is_some();
                let local = c.offer.clone().unwrap_or_default();
                let mut ctl = if fast {
                    Control::passive(local, self.rng.next_u32())
                } else {
                    Control::new(local, self.rng.next_u32())
                };
                let msgs = ctl.start();
                c.control = Some(ctl);
                if fast {
                    self.answered_from_h323(id, now, out);
                } else {
                    c.phase = Phase::Early;
                }
                self.send_h245(id, msgs, out);
            }
            _ => {}
        }
    }

    /// The H.323 side answered and the answer is known: 200 with the SDP answer.
    pub(super) fn answered_from_h323(&mut self, id: u64, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.phase == Phase::Answered || c.phase == Phase::Ended {
            return;
        }
        c.phase = Phase::Answered;
        c.deadline = None;
        self.counters.answered += 1;
        if let Some(m) = c.h323_media.clone() {
            self.tap_peer(id, Side::H323, &m, out);
        }
        self.respond_invite(id, 200, "OK", true, now, out);
    }

    /// A response to the INVITE from SIP, with our SDP answer when `with_sdp`.
    fn respond_invite(
        &mut self,
        id: u64,
        status: u16,
        reason: &str,
        with_sdp: bool,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let me = self.cfg.sip_local;
        let proxy = self.cfg.proxy;
        let t = self.cfg.timers.clone();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let sdp = if with_sdp { sip_sdp(c) } else { None };
        if let Some(u) = c.uas.as_mut() {
            if let Some(b) = u.respond(status, reason, sdp.as_deref(), me, now, &t) {
                out.push(Output::Sip { to: proxy, data: b });
            }
        }
    }

    /// ReleaseComplete from the H.323 side.
    fn h323_released(&mut self, id: u64, m: &Incoming, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        let q850 = m
            .cause
            .or_else(|| m.body.as_ref().and_then(cause_of_reason))
            .unwrap_or(16);
        let answered = c.phase == Phase::Answered;
        let conn = c.leg.conn;
        if !answered {
            self.counters.failed += 1;
        }
        let status = cause::status_for_cause(q850);
        let reason = format!("{} (H.323 cause {q850})", reason_phrase(status));
        self.end_sip(id, status, &reason, now, out);
        out.push(Output::Close { conn });
        self.finish(id, now, out);
    }

    /// The ACK of our 2xx; for a delayed offer it carries the SIP side's answer.
    pub(super) fn sip_ack(&mut self, id: u64, msg: &Message, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let acked = c.uas.as_ref().is_some_and(|u| u.awaiting_ack());
        if let Some(u) = c.uas.as_mut() {
            u.acked();
        }
        if !(acked && c.delayed) {
            return;
        }
        c.delayed = false;
        match sdp_map::from_sdp(msg.body()) {
            Ok(m) if !msg.body().is_empty() => {
                c.sip_te = media_path::telephone_event(&m);
                let te = c.sip_te.as_ref().map(|f| f.pt);
                if let Some(c) = self.calls.get(&id) {
                    self.tap_cmd(id, c, TapCmd::SipTelephoneEvent(te), out);
                }
                self.tap_peer(id, Side::Sip, &m, out);
            }
            other => {
                // RFC 3264 5: the answer is mandatory; without one the call cannot go on
                if other.is_err() {
                    self.counters.malformed += 1;
                }
                tracing::info!("interworking: the ACK of a delayed offer has no usable answer");
                self.end_sip(id, 0, "", now, out);
                self.release_h323(id, 31, out); // normal, unspecified
                self.finish(id, now, out);
            }
        }
    }

    pub(super) fn sip_bye(&mut self, id: u64, msg: &Message, now: Instant, out: &mut Vec<Output>) {
        self.reply(msg, 200, "OK", out);
        let live = self.calls.get(&id).is_some_and(|c| c.phase != Phase::Ended);
        if live {
            self.release_h323(id, 16, out); // normal call clearing
            self.finish(id, now, out);
        }
    }

    pub(super) fn sip_cancel(
        &mut self,
        id: u64,
        msg: &Message,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        self.reply(msg, 200, "OK", out);
        let pending = self.calls.get(&id).is_some_and(|c| {
            c.origin == Origin::Sip && matches!(c.phase, Phase::Calling | Phase::Early)
        });
        if pending {
            self.end_sip(id, 487, "Request Terminated", now, out);
            self.release_h323(id, 16, out);
            self.finish(id, now, out);
        }
    }

    /// An INVITE on a known Call-ID: a retransmission of the first (answered again by the
    /// transaction) or a re-INVITE, answered with the session as it stands.
    pub(super) fn sip_reinvite(
        &mut self,
        id: u64,
        msg: Message,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let proxy = self.cfg.proxy;
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let first = c
            .uas
            .as_ref()
            .is_some_and(|u| u.invite.vias().first() == msg.vias().first());
        if first && msg.to().and_then(|t| t.tag()).is_none() {
            if let Some(b) = c.uas.as_mut().and_then(|u| u.tx.on_request(false, now)) {
                out.push(Output::Sip { to: proxy, data: b });
            }
            return;
        }
        if c.phase != Phase::Answered {
            return self.reply(&msg, 491, "Request Pending", out);
        }
        self.sip_hold_or_resume(id, &msg, out);
    }

    /// Tunneled H.245 from the H.323 side.
    pub(super) fn on_h245(
        &mut self,
        id: u64,
        msgs: Vec<Vec<u8>>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let ends = msgs.iter().any(|b| control::is_end_session(b));
        if ends {
            // H.323 8.5: the far end closes H.245; ours follows, ReleaseComplete comes next
            self.end_h245(id, out);
        }
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(ctl) = c.control.as_mut() else {
            // before Connect (H.245 starts with it here): only digits are taken, a fastStart
            // callee may send them as soon as its channels are open
            for b in &msgs {
                if let Some((d, ms)) = control::digit_of(b) {
                    self.digit_from_h323(id, d, ms, out);
                }
            }
            return;
        };
        let mut replies = Vec::new();
        let mut events = Vec::new();
        let mut broken = false;
        for b in msgs {
            match ctl.on_bytes(&b, &mut replies) {
                Ok(ev) => events.extend(ev),
                Err(e) => {
                    tracing::info!("interworking: undecodable H.245 message: {e}");
                    broken = true;
                }
            }
        }
        if broken {
            // a peer whose H.245 cannot be read cannot be followed: that call is cleared
            self.counters.malformed += 1;
            return self.clear_h323_broken(id, now, out);
        }
        self.send_h245(id, replies, out);
        for ev in events {
            self.on_control_event(id, ev, now, out);
        }
    }

    fn on_control_event(
        &mut self,
        id: u64,
        ev: control::Event,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        match ev {
            control::Event::Ready(answer) if c.phase == Phase::Answered => {
                self.channel_reopened(id, answer, now, out);
            }
            control::Event::Paused => self.h323_hold(id, true, now, out),
            control::Event::Resumed => {
                // a channel of ours to reopen first (slow start): resumed once it is acked
                if c.control.as_ref().is_some_and(|ctl| ctl.is_passive()) {
                    self.h323_hold(id, false, now, out);
                }
            }
            control::Event::Ready(answer) => {
                c.h323_media = Some(answer);
                match c.origin {
                    Origin::Sip => self.answered_from_h323(id, now, out),
                    Origin::H323 => self.h245_ready_for_sip(id, now, out),
                }
            }
            control::Event::Failed(why) => {
                tracing::info!(call = %c.dialog.call_id, "interworking: H.245 failed: {why}");
                self.counters.failed += 1;
                self.end_sip(id, 488, &format!("Not Acceptable Here ({why})"), now, out);
                self.release_h323(id, 65, out); // bearer capability not implemented
                self.finish(id, now, out);
            }
            control::Event::EndSession => {}
            control::Event::Digit(digit, duration) => {
                self.digit_from_h323(id, digit, duration, out)
            }
        }
    }

    /// Our endSessionCommand (H.323 8.5), once per call, when H.245 is up (the call was
    /// connected).
    pub(super) fn end_h245(&mut self, id: u64, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.h245_ended || c.phase != Phase::Answered {
            return;
        }
        c.h245_ended = true;
        let end = causeway_h323::endpoint::encode_h245(&causeway_h323::endpoint::end_session());
        if let Ok(b) = end {
            self.send_h245(id, vec![b], out);
        }
    }

    /// H.245 messages, tunneled in a Facility (or the Connect being built).
    pub(super) fn send_h245(&mut self, id: u64, msgs: Vec<Vec<u8>>, out: &mut Vec<Output>) {
        if msgs.is_empty() {
            return;
        }
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if !c.leg.tunneling {
            tracing::info!("interworking: the H.323 side refused H.245 tunneling; separate H.245 is not supported");
            return;
        }
        match c.leg.facility(msgs) {
            Ok(b) => out.push(Output::H225 {
                conn: c.leg.conn,
                data: b,
            }),
            Err(e) => tracing::warn!("interworking: Facility not built: {e}"),
        }
    }
}

/// The SDP the SIP side gets from us: the H.323 side's media through the tap.
pub(super) fn sip_sdp(c: &Call) -> Option<Vec<u8>> {
    let m = c.h323_media.as_ref()?;
    Some(sdp_of(&media_path::sip_view(m, c.tap, c.sip_te.clone()), c))
}

/// The SDP we send for `m`: o= with the call's session id and a version bumped per change.
pub(super) fn sdp_of(m: &Media, c: &Call) -> Vec<u8> {
    let origin = m
        .streams
        .first()
        .map(|s| s.rtp.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    sdp_map::to_sdp(m, origin, c.sdp_session, c.sdp_version).into_bytes()
}

fn cause_of_reason(b: &h225::Body) -> Option<u8> {
    match b {
        h225::Body::releaseComplete(rc) => rc.reason.as_ref().map(cause::cause_for_reason),
        _ => None,
    }
}

/// The reason phrase of a status code (RFC 3261 21).
pub(super) fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        410 => "Gone",
        480 => "Temporarily Unavailable",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Call Failed",
    }
}
