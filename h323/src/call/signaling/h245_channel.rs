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
//! - H.460.19 on a traversal link of an anchored call: an OLC towards the traversal client
//!   (our end is `LinkEnd::Server`) gets TraversalParameters naming the relay address it
//!   carries as keepAliveChannel, with `[media] keepalive_payload_type` and
//!   [`h46019::KEEP_ALIVE_INTERVAL`]; on our `LinkEnd::Client` leg the parameters of received
//!   OLCs/OLCAcks are read ([`received_traversal`]) and removed before the message goes on
//!   (they name the server's relay, not something the endpoint inside should use), and the
//!   OLCAcks it sends towards the server name its keep-alive payload type (which E removes in
//!   turn). Media
//!   behaviour is unchanged: the relays already send and answer keep-alives.
//!
//!   The same step runs on tunneled H.245 (`relay` calls [`CallSignaling::traversal_link`]
//!   for each h245Control element).
//!
//! Must not touch: Q.931 messages (`relay` asks `offer` what an h245Address becomes),
//! tunneled H.245 (that goes through `relay`).

use super::h245_traversal::LinkOffer;
use super::{malformed, CallSignaling, Role};
use crate::asn;
use crate::call::h245::{rewrite_message, HookCtx, Rewrite};
use crate::call::state::{H245Relay, ListenState, Pending};
use crate::call::{CallEvent, CallId, ConnId, LinkEnd, ListenerId, Output, Side};
use crate::h46019::{self, TraversalParams};
use causeway_h323_asn1::h323_messages::TransportAddress;
use causeway_h323_asn1::multimedia_system_control::{
    MultimediaSystemControlMessage as H245Msg,
    OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters as FwdMux, RequestMessage,
    ResponseMessage,
};
use causeway_h323_asn1::rasn::aper;
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

impl CallSignaling {
    /// The H.460.19 step of a message relayed from `from` on an anchored call with a
    /// traversal link (see the module doc); any other message is returned as it is.
    pub(super) fn traversal_link(&self, id: CallId, from: Side, bytes: Vec<u8>) -> Vec<u8> {
        let Some(call) = self.calls.get(&id).filter(|c| c.anchored) else {
            return bytes;
        };
        let mut bytes = bytes;
        // what the other end of a link put in is for this node (C: E's relay addresses; E:
        // C's keep-alive payload type); the endpoint beyond never sees it. C's relay keeps
        // alive towards the addresses the channels name, so nothing more is read of it yet.
        if call.link_end(from).is_some() {
            if let Some((_lcn, _params, stripped)) = received_traversal(&bytes) {
                bytes = stripped;
            }
        }
        let pt = self.cfg.keepalive_payload_type;
        match call.link_end(from.other()) {
            Some(LinkEnd::Server) => add_traversal(&bytes, pt).unwrap_or(bytes),
            // C, the traversal client, says in its OLCAck which payload type its keep-alives
            // carry (as GNU Gatekeeper's client side does)
            Some(LinkEnd::Client) => ack_payload_type(&bytes, pt).unwrap_or(bytes),
            None => bytes,
        }
    }
}

/// `payload` with the TraversalParameters a traversal server puts in an OLC towards its
/// client: keepAliveChannel = the RTP address the OLC names (its mediaChannel, else the port
/// below its mediaControlChannel: RTP/RTCP pairs are even/odd, RFC 3550 section 11),
/// keepAlivePayloadType and keepAliveInterval. `None` for anything else, or an OLC naming no
/// address.
pub(crate) fn add_traversal(payload: &[u8], keep_alive_pt: u8) -> Option<Vec<u8>> {
    let H245Msg::request(RequestMessage::openLogicalChannel(mut olc)) =
        aper::decode::<H245Msg>(payload).ok()?
    else {
        return None;
    };
    let FwdMux::h2250LogicalChannelParameters(p) =
        &olc.forward_logical_channel_parameters.multiplex_parameters
    else {
        return None;
    };
    let rtp = match p.media_channel.as_ref().and_then(asn::h245_socket_addr) {
        Some(a) => a,
        None => {
            let rtcp = p
                .media_control_channel
                .as_ref()
                .and_then(asn::h245_socket_addr)?;
            SocketAddr::new(rtcp.ip(), rtcp.port().checked_sub(1)?)
        }
    };
    let params = TraversalParams {
        keep_alive_channel: Some(rtp),
        keep_alive_payload_type: Some(keep_alive_pt),
        keep_alive_interval: Some(h46019::KEEP_ALIVE_INTERVAL),
        ..TraversalParams::default()
    };
    h46019::set_olc_params(&mut olc, Some(&params));
    aper::encode(&H245Msg::request(RequestMessage::openLogicalChannel(olc))).ok()
}

/// `payload` with the TraversalParameters a traversal client puts in an OLCAck towards its
/// server: keepAlivePayloadType. `None` for anything else.
pub(crate) fn ack_payload_type(payload: &[u8], keep_alive_pt: u8) -> Option<Vec<u8>> {
    let H245Msg::response(ResponseMessage::openLogicalChannelAck(mut ack)) =
        aper::decode::<H245Msg>(payload).ok()?
    else {
        return None;
    };
    let params = TraversalParams {
        keep_alive_payload_type: Some(keep_alive_pt),
        ..TraversalParams::default()
    };
    h46019::set_ack_params(&mut ack, Some(&params));
    aper::encode(&H245Msg::response(ResponseMessage::openLogicalChannelAck(
        ack,
    )))
    .ok()
}

/// The TraversalParameters of an OLC or OLCAck received from a traversal server: the
/// forwardLogicalChannelNumber, the parameters, and the message without them (to forward).
/// `None` when `payload` is neither or carries none.
pub(crate) fn received_traversal(payload: &[u8]) -> Option<(u16, TraversalParams, Vec<u8>)> {
    let (lcn, params, stripped) = match aper::decode::<H245Msg>(payload).ok()? {
        H245Msg::request(RequestMessage::openLogicalChannel(mut olc)) => {
            let params = h46019::olc_params(&olc)?;
            h46019::set_olc_params(&mut olc, None);
            let lcn = olc.forward_logical_channel_number.0;
            (
                lcn,
                params,
                H245Msg::request(RequestMessage::openLogicalChannel(olc)),
            )
        }
        H245Msg::response(ResponseMessage::openLogicalChannelAck(mut ack)) => {
            let params = h46019::ack_params(&ack)?;
            h46019::set_ack_params(&mut ack, None);
            let lcn = ack.forward_logical_channel_number.0;
            let msg = H245Msg::response(ResponseMessage::openLogicalChannelAck(ack));
            (lcn, params, msg)
        }
        _ => return None,
    };
    Some((lcn, params, aper::encode(&stripped).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{decode_h245, encode_h245, olc, olc_ack, tcs};

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_olc_towards_the_client_names_its_relay_as_keep_alive_channel() {
        // the relay's RTCP at :36001 (E's multiplexed pair): keep-alives go to :36000
        let bytes = encode_h245(&olc(3, sa("198.51.100.1:36001")).unwrap()).unwrap();
        let added = add_traversal(&bytes, h46019::KEEP_ALIVE_PAYLOAD_TYPE).expect("an OLC");
        let H245Msg::request(RequestMessage::openLogicalChannel(o)) = decode_h245(&added).unwrap()
        else {
            panic!("not an OLC")
        };
        assert_eq!(
            h46019::olc_params(&o),
            Some(TraversalParams {
                keep_alive_channel: Some(sa("198.51.100.1:36000")),
                keep_alive_payload_type: Some(116),
                keep_alive_interval: Some(19),
                ..TraversalParams::default()
            })
        );
        // C reads them and forwards the OLC as it was before E added them
        let (lcn, params, stripped) = received_traversal(&added).expect("parameters");
        assert_eq!(lcn, 3);
        assert_eq!(params.keep_alive_channel, Some(sa("198.51.100.1:36000")));
        assert_eq!(stripped, bytes);
    }

    #[test]
    fn other_messages_are_left_alone() {
        let t = encode_h245(&tcs(1)).unwrap();
        assert_eq!(add_traversal(&t, h46019::KEEP_ALIVE_PAYLOAD_TYPE), None);
        assert_eq!(received_traversal(&t), None);
        let ack = olc_ack(3, sa("10.0.0.5:5004"), sa("10.0.0.5:5005")).unwrap();
        let ack = encode_h245(&ack).unwrap();
        assert_eq!(
            add_traversal(&ack, h46019::KEEP_ALIVE_PAYLOAD_TYPE),
            None,
            "only OLCs get parameters"
        );
        assert_eq!(received_traversal(&ack), None, "an Ack without any");
        assert_eq!(
            add_traversal(&[0xff; 7], h46019::KEEP_ALIVE_PAYLOAD_TYPE),
            None
        );
        assert_eq!(received_traversal(&[]), None);
    }

    #[test]
    fn an_ack_from_the_server_is_read_and_stripped() {
        let H245Msg::response(ResponseMessage::openLogicalChannelAck(mut ack)) =
            olc_ack(4, sa("10.0.0.5:5004"), sa("10.0.0.5:5005")).unwrap()
        else {
            panic!()
        };
        let plain = encode_h245(&H245Msg::response(ResponseMessage::openLogicalChannelAck(
            ack.clone(),
        )))
        .unwrap();
        let p = TraversalParams {
            keep_alive_payload_type: Some(116),
            ..TraversalParams::default()
        };
        h46019::set_ack_params(&mut ack, Some(&p));
        let bytes = encode_h245(&H245Msg::response(ResponseMessage::openLogicalChannelAck(
            ack,
        )))
        .unwrap();
        assert_eq!(received_traversal(&bytes), Some((4, p, plain)));
    }

    #[test]
    fn the_clients_ack_names_its_keep_alive_payload_type() {
        let ack =
            encode_h245(&olc_ack(4, sa("10.0.0.5:5004"), sa("10.0.0.5:5005")).unwrap()).unwrap();
        let with = ack_payload_type(&ack, 120).expect("an OLCAck");
        let (lcn, p, stripped) = received_traversal(&with).expect("parameters");
        assert_eq!(
            (lcn, p.keep_alive_payload_type, stripped),
            (4, Some(120), ack)
        );
        let t = encode_h245(&tcs(1)).unwrap();
        assert_eq!(ack_payload_type(&t, 120), None, "only OLCAcks");
    }
}
