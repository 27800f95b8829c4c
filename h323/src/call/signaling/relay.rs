//! Relaying Q.931 messages between the two legs of a call (H.225.0 7.3-7.4): Alerting,
//! Connect, Progress, Facility, Notify, Information and ReleaseComplete both ways, the call
//! state they move, what each message goes through on the way (the h245Address relay and the
//! media hook, see `inspect`), and the bounded send queue towards each side.
//!
//! Decisions:
//! - The callee's own CallProceeding is absorbed (the caller already had causeway's), or
//!   turned into a Facility when it carries something the caller needs (fastStart,
//!   h245Address, h245Control), see `uuie`.
//! - A message whose UUIE does not decode is forwarded untouched and counted (Malformed):
//!   dropping it would break calls with peers whose extensions rasn cannot read.
//! - A Q.931 message that does not parse on a call's connection is dropped and counted (it
//!   cannot be relayed meaningfully).
//! - A message is re-encoded only when something in it changed; otherwise the original bytes
//!   are forwarded.
//!
//! Must not touch: connections of other calls, the separate H.245 channel itself (that is
//! `h245_channel`; this module only asks it what an offered h245Address becomes).

use super::clearing::{send_release, ToSide};
use super::h245_channel::Offer;
use super::{malformed, CallSignaling};
use crate::asn;
use crate::call::h245::{rewrite_list, HookCtx};
use crate::call::release::{reason_cause, reason_name, Release};
use crate::call::state::{CallState, HeldMsg, Pending};
use crate::call::uuie::{self, UuError};
use crate::call::{CallEvent, CallId, ConnId, Output, Side};
use crate::q931::{MessageType, Q931};
use causeway_h323_asn1::h323_messages::{
    H323UUPDUH323MessageBody as Body, H323UserInformation, ReleaseCompleteReason,
};
use std::time::Instant;

/// What `inspect` did to a message.
pub(super) struct Inspected {
    /// It must be re-encoded.
    pub changed: bool,
    /// It must wait for the H.245 listener.
    pub held: bool,
    /// It was for causeway and goes no further.
    pub consumed: bool,
}

impl CallSignaling {
    pub(super) fn signaling_data(
        &mut self,
        id: CallId,
        from: Side,
        conn: ConnId,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let msg = match Q931::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                out.push(malformed(conn, format!("Q.931: {e}")));
                return;
            }
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let cr = msg.call_reference;
        if cr.is_empty() || cr.value() != call.crv.value() {
            if !cr.is_empty() && msg.message_type != MessageType::ReleaseComplete {
                let rel = Release::with_cause(ReleaseCompleteReason::undefinedReason(()), 81);
                send_release(conn, cr.reply(), &call.protocol, &rel, out);
            }
            return;
        }
        match msg.message_type {
            MessageType::ReleaseComplete => {
                let reason = match uuie::decode(&msg) {
                    Ok(uu) => match uu.h323_uu_pdu.h323_message_body {
                        Body::releaseComplete(rc) => rc.reason,
                        _ => None,
                    },
                    Err(_) => None,
                };
                let cause = msg
                    .cause()
                    .ok()
                    .flatten()
                    .map(|c| c.value.0)
                    .or(reason.as_ref().map(reason_cause))
                    .unwrap_or(16);
                let mut to = [ToSide::Nothing, ToSide::Nothing];
                to[from.other().index()] = ToSide::Forward(payload.to_vec());
                let name = reason.as_ref().map(|r| reason_name(r).to_string());
                self.clear(id, Some(from), to, cause, name, out);
            }
            MessageType::Setup => {
                out.push(malformed(conn, "second Setup on a call".into()));
            }
            // routing: what the caller sends waits for the Setup to be forwarded (H.245
            // relay and media anchor need the callee leg), then goes after it
            _ if from == Side::Caller && call.setup.is_some() => {
                let max = self.cfg.max_queued_bytes;
                let early = Pending::Bytes(payload.to_vec());
                if let Some(c) = self.calls.get_mut(&id) {
                    if c.early.push(early, max).is_err() {
                        self.overflow(id, out);
                    }
                }
            }
            _ => self.relay(id, from, conn, msg, payload, now, out),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn relay(
        &mut self,
        id: CallId,
        from: Side,
        conn: ConnId,
        mut msg: Q931,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let mt = msg.message_type;
        let mut uu = match uuie::decode(&msg) {
            Ok(uu) => uu,
            Err(e) => {
                if let UuError::Bad(_) = e {
                    out.push(malformed(conn, format!("{mt:?}: {e}")));
                }
                // Forwarded untouched (module docs); Status, Notify, ... may have no UUIE.
                self.progress(id, from, mt, None, now, out);
                if from == Side::Callee && mt == MessageType::CallProceeding {
                    return;
                }
                self.enqueue(id, from.other(), Pending::Bytes(payload.to_vec()), out);
                return;
            }
        };
        let Inspected {
            mut changed,
            held,
            consumed,
        } = self.inspect(id, from, conn, &mut uu, now, out);
        if consumed {
            return;
        }
        self.progress(id, from, mt, Some(&uu), now, out);
        if !self.calls.contains_key(&id) {
            return;
        }
        if from == Side::Callee && mt == MessageType::CallProceeding {
            let pdu = &mut uu.h323_uu_pdu;
            let (fast, h245) = match &pdu.h323_message_body {
                Body::callProceeding(cp) => (
                    cp.fast_start.as_ref().is_some_and(|f| !f.is_empty()),
                    cp.h245_address.is_some(),
                ),
                _ => (false, false),
            };
            let control = pdu.h245_control.as_ref().is_some_and(|c| !c.is_empty());
            if fast || h245 {
                uuie::proceeding_as_facility(&mut uu);
            } else if control {
                uuie::empty_body(&mut uu);
            } else {
                // Nothing the caller needs: it already had causeway's CallProceeding.
                return;
            }
            msg.message_type = MessageType::Facility;
            changed = true;
        }
        let pending = if held {
            let len = payload.len();
            Pending::Held(Box::new(HeldMsg { msg, uu, len }))
        } else if changed {
            match uuie::encode(&mut msg, &uu) {
                Ok(b) => Pending::Bytes(b),
                Err(e) => {
                    out.push(malformed(conn, format!("re-encoding {mt:?}: {e}")));
                    Pending::Bytes(payload.to_vec())
                }
            }
        } else {
            Pending::Bytes(payload.to_vec())
        };
        self.enqueue(id, from.other(), pending, out);
    }

    /// Call state changes from the callee's answers.
    fn progress(
        &mut self,
        id: CallId,
        from: Side,
        mt: MessageType,
        uu: Option<&H323UserInformation>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if from != Side::Callee {
            return;
        }
        match mt {
            MessageType::Alerting
                if matches!(call.state, CallState::Proceeding | CallState::Connecting) =>
            {
                call.state = CallState::Alerting;
                call.deadline = Some(now + self.cfg.alerting_timeout);
                out.push(Output::Event(CallEvent::Alerting { call: id }));
            }
            MessageType::Connect if call.state != CallState::Connected => {
                call.state = CallState::Connected;
                call.deadline = None;
                out.push(Output::Event(CallEvent::Connected { call: id }));
                let tunnels = uu.is_some_and(|u| u.h323_uu_pdu.h245_tunnelling == Some(true));
                if call.setup_tunneling && tunnels && !call.tunnel_reported {
                    call.tunnel_reported = true;
                    out.push(Output::Event(CallEvent::H245 {
                        call: id,
                        tunneled: true,
                    }));
                }
            }
            _ => {}
        }
    }

    /// Runs a decoded message from `from` through the H.245 address relay and the media hook.
    pub(super) fn inspect(
        &mut self,
        id: CallId,
        from: Side,
        conn: ConnId,
        uu: &mut H323UserInformation,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Inspected {
        let mut changed = false;
        let mut held = false;
        let start_h245 = uuie::is_bare_start_h245(uu);
        let body = &mut uu.h323_uu_pdu.h323_message_body;
        if let Some(slot) = uuie::h245_address_mut(body) {
            if let Some(addr) = slot.as_ref() {
                match self.offer(id, from, (addr, start_h245), out) {
                    Offer::Strip => {
                        *slot = None;
                        changed = true;
                    }
                    Offer::Rewrite(a) => {
                        *slot = Some(asn::transport_address(a));
                        changed = true;
                    }
                    Offer::Hold => held = true,
                    Offer::Consume => {
                        return Inspected {
                            changed,
                            held,
                            consumed: true,
                        }
                    }
                }
            }
        }
        let mut bad = Vec::new();
        let Some(call) = self.calls.get_mut(&id) else {
            return Inspected {
                changed,
                held,
                consumed: false,
            };
        };
        let mut ctx = HookCtx {
            anchor: self.anchor.as_deref_mut().filter(|_| call.anchored),
            call: id,
            legs: call.legs(),
            channels: &mut call.channels,
            from,
            fast_start: true,
            now,
        };
        if let Some(Some(list)) = uuie::fast_start_mut(body) {
            changed |= rewrite_list(&mut ctx, list, &mut bad);
        }
        ctx.fast_start = false;
        if let Body::setup(s) = body {
            if let Some(list) = &mut s.parallel_h245_control {
                changed |= rewrite_list(&mut ctx, list, &mut bad);
            }
        }
        if let Some(list) = &mut uu.h323_uu_pdu.h245_control {
            changed |= rewrite_list(&mut ctx, list, &mut bad);
        }
        if self.on_link(id, from) {
            changed |= self.h46019_step(id, from, uu);
        }
        for e in bad {
            out.push(malformed(conn, format!("H.245 in H.225.0 message: {e}")));
        }
        Inspected {
            changed,
            held,
            consumed: false,
        }
    }

    /// H.460.19 parameters on a traversal link (`h46019_link`), in the fastStart proposals
    /// and tunneled H.245 of a message as on a separate channel; whether anything changed.
    fn h46019_step(&mut self, id: CallId, from: Side, uu: &mut H323UserInformation) -> bool {
        let mut changed = false;
        if let Some(Some(list)) = uuie::fast_start_mut(&mut uu.h323_uu_pdu.h323_message_body) {
            for olc in list.iter_mut() {
                if let Some(done) = self.fast_start_link(id, from, olc) {
                    *olc = done.into();
                    changed = true;
                }
            }
        }
        for pdu in uu.h323_uu_pdu.h245_control.iter_mut().flatten() {
            let done = self.traversal_link(id, from, pdu.to_vec());
            if done[..] != pdu[..] {
                *pdu = done.into();
                changed = true;
            }
        }
        changed
    }

    pub(super) fn enqueue(&mut self, id: CallId, to: Side, p: Pending, out: &mut Vec<Output>) {
        let max = self.cfg.max_queued_bytes;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.queues[to.index()].push(p, max).is_err() {
            self.overflow(id, out);
            return;
        }
        self.flush(id, to, out);
    }

    /// Sends what can be sent of a side's queue.
    pub(super) fn flush(&mut self, id: CallId, to: Side, out: &mut Vec<Output>) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(conn) = call.ready_conn(to) else {
            return;
        };
        // With no relay, a held message cannot exist; strip to be safe.
        let resolution = call.h245.as_ref().map_or(Some(None), |r| r.resolution());
        let q = &mut call.queues[to.index()];
        loop {
            match q.front() {
                None => break,
                Some(Pending::Held(_)) if resolution.is_none() => break,
                Some(_) => {}
            }
            match q.pop() {
                Some(Pending::Bytes(payload)) => out.push(Output::Send { conn, payload }),
                Some(Pending::Held(h)) => {
                    let HeldMsg {
                        mut msg, mut uu, ..
                    } = *h;
                    let addr = resolution.flatten();
                    if let Some(slot) =
                        uuie::h245_address_mut(&mut uu.h323_uu_pdu.h323_message_body)
                    {
                        *slot = addr.map(asn::transport_address);
                    }
                    match uuie::encode(&mut msg, &uu) {
                        Ok(payload) => out.push(Output::Send { conn, payload }),
                        Err(e) => out.push(malformed(conn, format!("re-encoding: {e}"))),
                    }
                }
                None => break,
            }
        }
    }
}
