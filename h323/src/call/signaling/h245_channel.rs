//! Separate H.245 channels (H.323 8.1.3: in the gatekeeper-routed model the gatekeeper may
//! route the H.245 control channel): the h245Address a side offers, the listener causeway
//! binds for the other side instead, the two H.245 connections, and relaying H.245 payloads
//! between them through the media hook.
//!
//! Decisions:
//! - A separate H.245 channel is terminated on both sides; only one per call. An h245Address
//!   from the other side after the first offer is removed (H.323 allows one H.245 channel
//!   per call; that side reaches the relay through the listener it was told). Only the
//!   expected side's IP may connect to the listener.
//! - Losing one H.245 connection closes the other; the endpoints then clear the call as H.323
//!   8.5 has them do when H.245 goes away.
//! - A listener that cannot be bound: the offered h245Address is removed from the message
//!   that carried it.
//! - An H.245 payload that does not decode is forwarded untouched and counted.
//! - H.460.19 traversal parameters of relayed OLCs/OLCAcks: `h46019_link`.
//!
//! Must not touch: Q.931 messages (`relay` asks `offer` what an h245Address becomes),
//! tunneled H.245 (that goes through `relay`).

use super::h245_traversal::LinkOffer;
use super::{malformed, CallSignaling, Role};
use crate::asn;
use crate::call::h245::{rewrite_message, HookCtx, Rewrite};
use crate::call::state::{H245Relay, ListenState, Pending};
use crate::call::{CallEvent, CallId, ConnId, ListenerId, Output, Side};
use causeway_h323_asn1::h323_messages::TransportAddress;
use std::net::SocketAddr;
use std::time::Instant;

/// What to do with an h245Address a side offered.
pub(super) enum Offer {
    Strip,
    Rewrite(SocketAddr),
    Hold,
    /// The message was for causeway (C: E's startH245): it goes no further.
    Consume,
}

impl CallSignaling {
    pub(super) fn offer(
        &mut self,
        id: CallId,
        from: Side,
        (addr, start_h245): (&TransportAddress, bool),
        out: &mut Vec<Output>,
    ) -> Offer {
        let Some(target) = asn::socket_addr(addr) else {
            return Offer::Strip;
        };
        match self.link_offer(id, from, target, start_h245, out) {
            LinkOffer::Consumed => return Offer::Consume,
            LinkOffer::Opened => return Offer::Strip,
            LinkOffer::Done => {}
            LinkOffer::Plain => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return Offer::Strip;
                };
                match &mut call.h245 {
                    None => {
                        self.next_listener += 1;
                        let l = self.next_listener;
                        self.listeners.insert(l, id);
                        call.h245 = Some(H245Relay::new(from, target, l));
                    }
                    Some(r) if r.offered_by == from => {
                        // A repeated offer before causeway connected to it: the latest one
                        // counts.
                        if r.conns[from.index()].is_none() {
                            r.target = target;
                        }
                    }
                    Some(_) => return Offer::Strip,
                }
            }
        }
        self.maybe_listen(id, out);
        let Some(r) = self.calls.get(&id).and_then(|c| c.h245.as_ref()) else {
            return Offer::Strip;
        };
        match r.resolution() {
            Some(Some(a)) => Offer::Rewrite(a),
            Some(None) => Offer::Strip,
            None => Offer::Hold,
        }
    }

    /// Asks for the H.245 listener once the side that will connect to it has a local address
    /// (the listener is bound on the address that side's signaling reached us on).
    pub(super) fn maybe_listen(&mut self, id: CallId, out: &mut Vec<Output>) {
        if self.shared_listen(id) {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(r) = call.h245.as_ref() else {
            return;
        };
        if r.listen != ListenState::Waiting {
            return;
        }
        let Some(local) = call.local(r.offered_by.other()) else {
            return;
        };
        let listener = r.listener;
        if let Some(r) = call.h245.as_mut() {
            r.listen = ListenState::Requested;
            r.listener_open = true;
        }
        out.push(Output::Listen {
            listener,
            ip: local.ip(),
        });
    }

    pub(super) fn listening(
        &mut self,
        listener: ListenerId,
        addr: Option<SocketAddr>,
        out: &mut Vec<Output>,
    ) {
        let Some(&id) = self.listeners.get(&listener) else {
            // Bound after its call was cleared (CloseListener raced the bind): close it.
            if addr.is_some() {
                out.push(Output::CloseListener { listener });
            }
            return;
        };
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        if r.listen != ListenState::Requested {
            return;
        }
        match addr {
            Some(a) => r.listen = ListenState::Bound(a),
            None => {
                r.listen = ListenState::Failed;
                r.listener_open = false;
                self.listeners.remove(&listener);
            }
        }
        let y = r.offered_by.other();
        self.flush(id, y, out);
    }

    pub(super) fn h245_accepted(
        &mut self,
        listener: ListenerId,
        conn: ConnId,
        peer: SocketAddr,
        out: &mut Vec<Output>,
    ) {
        let Some(&id) = self.listeners.get(&listener) else {
            out.push(Output::Close { conn });
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            out.push(Output::Close { conn });
            return;
        };
        let Some(r) = call.h245.as_ref() else {
            out.push(Output::Close { conn });
            return;
        };
        let y = r.offered_by.other();
        let expected = match y {
            Side::Caller => Some(call.caller_addr),
            Side::Callee => call.callee_addr,
        };
        // Only the endpoint that was told this listener may use it.
        if r.conns[y.index()].is_some() || expected.map(|a| a.ip()) != Some(peer.ip()) {
            out.push(Output::Close { conn });
            return;
        }
        self.conns.insert(conn, Role::H245 { call: id, side: y });
        self.y_joined(id, conn, true, out);
    }

    /// Y's connection `conn` is there (accepted, `connected`; or being opened by C towards
    /// E): the listener is closed, and causeway connects to X unless X's connection comes to
    /// it (`reverse`).
    pub(super) fn y_joined(
        &mut self,
        id: CallId,
        conn: ConnId,
        connected: bool,
        out: &mut Vec<Output>,
    ) {
        let outbound = self.next_conn_id();
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        let (x, y) = (r.offered_by, r.offered_by.other());
        r.conns[y.index()] = Some(conn);
        r.connected[y.index()] = connected;
        let listener = r.listener;
        if r.listener_open {
            r.listener_open = false;
            out.push(Output::CloseListener { listener });
        }
        let target = r.target;
        let connect = !r.reverse;
        if connect {
            r.conns[x.index()] = Some(outbound);
        }
        self.listeners.remove(&listener);
        if connect {
            self.conns
                .insert(outbound, Role::H245 { call: id, side: x });
            out.push(Output::Connect {
                conn: outbound,
                to: target,
            });
        }
        if connected {
            self.h245_connected(id, y, out);
        }
    }

    pub(super) fn h245_connected(&mut self, id: CallId, side: Side, out: &mut Vec<Output>) {
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        r.connected[side.index()] = true;
        if r.connected[0] && r.connected[1] && !r.up_reported {
            r.up_reported = true;
            out.push(Output::Event(CallEvent::H245 {
                call: id,
                tunneled: false,
            }));
        }
        // C: its channel towards E says first which call it is
        self.indicate(id, side, out);
        self.flush_h245(id, side, out);
    }

    pub(super) fn h245_data(
        &mut self,
        id: CallId,
        from: Side,
        conn: ConnId,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let mut ctx = HookCtx {
            anchor: self.anchor.as_deref_mut().filter(|_| call.anchored),
            call: id,
            legs: call.legs(),
            channels: &mut call.channels,
            from,
            fast_start: false,
            now,
        };
        let bytes = match rewrite_message(&mut ctx, payload) {
            Rewrite::Unchanged => payload.to_vec(),
            Rewrite::Changed(v) => v,
            Rewrite::Undecodable(e) => {
                // Forwarded untouched: the endpoints' H.245 may know more than we do, but the
                // driver counts it.
                out.push(malformed(conn, format!("H.245: {e}")));
                payload.to_vec()
            }
        };
        let bytes = self.traversal_link(id, from, bytes);
        let max = self.cfg.max_queued_bytes;
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        let to = from.other();
        // E: C's connection may still be on its way (`reverse`); otherwise no connection to
        // that side means the channel is going away
        if r.conns[to.index()].is_none() && !r.reverse {
            return;
        }
        if r.queues[to.index()]
            .push(Pending::Bytes(bytes), max)
            .is_err()
        {
            self.overflow(id, out);
            return;
        }
        self.flush_h245(id, to, out);
    }

    fn flush_h245(&mut self, id: CallId, to: Side, out: &mut Vec<Output>) {
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        let (Some(conn), true) = (r.conns[to.index()], r.connected[to.index()]) else {
            return;
        };
        while let Some(p) = r.queues[to.index()].pop() {
            if let Pending::Bytes(payload) = p {
                out.push(Output::Send { conn, payload });
            }
        }
    }

    pub(super) fn h245_lost(
        &mut self,
        id: CallId,
        side: Side,
        conn: ConnId,
        out: &mut Vec<Output>,
    ) {
        self.conns.remove(&conn);
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        r.conns[side.index()] = None;
        r.connected[side.index()] = false;
        if let Some(other) = r.conns[side.other().index()].take() {
            r.connected[side.other().index()] = false;
            self.conns.remove(&other);
            out.push(Output::Close { conn: other });
        }
    }
}
