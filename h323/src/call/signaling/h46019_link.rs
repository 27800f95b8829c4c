//! H.460.19 traversal parameters on the traversal links of anchored calls (the reference
//! implementations' behaviour, ITU-T H.460.19 and GNU Gatekeeper's proxy):
//! - an OpenLogicalChannel towards the traversal client (our end is `LinkEnd::Server`, E) gets
//!   TraversalParameters naming the relay address it carries as keepAliveChannel, with
//!   `[media] keepalive_payload_type` and [`h46019::KEEP_ALIVE_INTERVAL`]; so do the fastStart
//!   proposals towards it;
//! - an OpenLogicalChannelAck towards the traversal server (our end is `LinkEnd::Client`, C)
//!   names the payload type of C's keep-alives;
//! - what the other end of a link put in is removed before the message goes on
//!   ([`received_traversal`]): it is for this node (E's relay addresses, C's payload type).
//!
//! Media behaviour does not depend on them: the relays already send and answer keep-alives
//! towards the addresses the channels name. Applied to separate H.245 channels
//! (`h245_channel`), tunneled H.245 and fastStart (`relay`).
//!
//! Must not touch: which messages are relayed, the media anchor.

use super::CallSignaling;
use crate::asn;
use crate::call::{CallId, LinkEnd, Side};
use crate::h46019::{self, TraversalParams};
use causeway_h323_asn1::multimedia_system_control::{
    MultimediaSystemControlMessage as H245Msg, OpenLogicalChannel,
    OpenLogicalChannelAckForwardMultiplexAckParameters as AckMux,
    OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters as FwdMux, RequestMessage,
    ResponseMessage,
};
use causeway_h323_asn1::rasn::aper;
use std::net::SocketAddr;

impl CallSignaling {
    /// The H.460.19 step of a message relayed from `from` on an anchored call with a
    /// traversal link (see the module doc); any other message is returned as it is.
    pub(super) fn traversal_link(&mut self, id: CallId, from: Side, bytes: Vec<u8>) -> Vec<u8> {
        let Some(call) = self.calls.get(&id).filter(|c| c.anchored) else {
            return bytes;
        };
        let (from_end, to_end) = (call.link_end(from), call.link_end(from.other()));
        let mut bytes = bytes;
        // what the other end of a link put in is for this node (C: E's relay addresses and
        // multiplexID; E: C's keep-alive payload type); the endpoint beyond never sees it
        if from_end.is_some() {
            if let Some(r) = received_traversal(&bytes) {
                bytes = r.stripped;
                if from_end == Some(LinkEnd::Client) {
                    self.take_mux_id(id, from, (r.lcn, r.session, r.ack), &r.params);
                }
            }
        }
        let pt = self.cfg.keepalive_payload_type;
        match to_end {
            Some(LinkEnd::Server) => {
                let to = from.other();
                let (mux, opened) = self.mux_lookups(id, to);
                add_server(&bytes, pt, &mux, &opened).unwrap_or(bytes)
            }
            // C, the traversal client, says in its OLCAck which payload type its keep-alives
            // carry (as GNU Gatekeeper's client side does)
            Some(LinkEnd::Client) => ack_payload_type(&bytes, pt).unwrap_or(bytes),
            None => bytes,
        }
    }

    /// E: what C's leg `to` of call `id` is told: the multiplexID of an H.245 session's
    /// stream on it (the anchor's), and the session of a channel C opened (by its number).
    fn mux_lookups(
        &self,
        id: CallId,
        to: Side,
    ) -> (impl Fn(u8) -> Option<u32> + '_, impl Fn(u16) -> u8 + '_) {
        let call_id = id.to_string();
        let anchor = self.anchor.as_deref();
        let mux = move |session: u8| anchor?.multiplex_id(&call_id, to, session);
        let call = self.calls.get(&id);
        let opened = move |lcn: u16| call.map_or(0, |c| c.channels.session(to, lcn));
        (mux, opened)
    }

    /// C: E's multiplexID and keep-alive payload type for a stream of leg `from` (E's): what
    /// C's relay sends towards E starts with the ID, its keep-alives carry the type. `what`: the channel number, its session if the message said, and
    /// whether it was an Ack (the channel was opened by the inside side).
    fn take_mux_id(
        &mut self,
        id: CallId,
        from: Side,
        (lcn, session, ack): (u16, Option<u8>, bool),
        params: &TraversalParams,
    ) {
        if params.multiplex_id.is_none() && params.keep_alive_payload_type.is_none() {
            return;
        }
        let opener = if ack { from.other() } else { from };
        let session = session.unwrap_or_else(|| {
            self.calls
                .get(&id)
                .map_or(0, |c| c.channels.session(opener, lcn))
        });
        let Some(a) = self.anchor.as_deref_mut() else {
            return;
        };
        let call = id.to_string();
        // the payload type first: the keep-alive the multiplexID sends at once carries it
        if let Some(pt) = params.keep_alive_payload_type {
            a.set_keepalive_payload_type(&call, from, session, pt);
        }
        if let Some(mux_id) = params.multiplex_id {
            a.set_multiplex_id(&call, from, session, mux_id);
        }
    }

    /// Whether messages from `from` of call `id` go through the H.460.19 step at all.
    pub(super) fn on_link(&self, id: CallId, from: Side) -> bool {
        self.calls.get(&id).is_some_and(|c| {
            c.anchored && (c.link_end(from).is_some() || c.link_end(from.other()).is_some())
        })
    }

    /// The H.460.19 step of a fastStart element from `from` (see the module doc); `None` when
    /// it stays as it is.
    pub(super) fn fast_start_link(
        &mut self,
        id: CallId,
        from: Side,
        bytes: &[u8],
    ) -> Option<Vec<u8>> {
        let call = self.calls.get(&id).filter(|c| c.anchored)?;
        let (from_end, to_end) = (call.link_end(from), call.link_end(from.other()));
        let mut olc = aper::decode::<OpenLogicalChannel>(bytes).ok()?;
        let mut changed = false;
        if from_end.is_some() {
            if let Some(params) = h46019::olc_params(&olc) {
                changed |= h46019::set_olc_params(&mut olc, None);
                if from_end == Some(LinkEnd::Client) {
                    let lcn = olc.forward_logical_channel_number.0;
                    let session = olc_session(&olc);
                    self.take_mux_id(id, from, (lcn, session, false), &params);
                }
            }
        }
        if to_end == Some(LinkEnd::Server) {
            let pt = self.cfg.keepalive_payload_type;
            let (mux, _) = self.mux_lookups(id, from.other());
            changed |= add_to_olc(&mut olc, pt, &mux);
        }
        changed.then(|| aper::encode(&olc).ok()).flatten()
    }
}

/// The H.245 sessionID of an OLC's forward channel.
fn olc_session(olc: &OpenLogicalChannel) -> Option<u8> {
    match &olc.forward_logical_channel_parameters.multiplex_parameters {
        FwdMux::h2250LogicalChannelParameters(p) => Some(p.session_id),
        _ => None,
    }
}

/// `payload` with the TraversalParameters a traversal server puts in an OLC towards its
/// client (see [`add_to_olc`]); no multiplexing. `None` for anything else, or an OLC naming no
/// address.
#[cfg(test)]
pub(crate) fn add_traversal(payload: &[u8], keep_alive_pt: u8) -> Option<Vec<u8>> {
    add_server(payload, keep_alive_pt, &|_| None, &|_| 0)
}

/// `payload` with the TraversalParameters a traversal server puts in what it sends its
/// client: an OLC's (see [`add_to_olc`]); an OLCAck's, when the channel's stream on the
/// client's leg has a multiplexID: the multiplexed media and control channels (the Ack's own
/// addresses: E's multiplexed pair) and the ID, which the client's media must carry. `mux`:
/// the multiplexID of a session's stream; `opened`: the session of a channel the client
/// opened. `None` when nothing changes.
fn add_server(
    payload: &[u8],
    keep_alive_pt: u8,
    mux: &dyn Fn(u8) -> Option<u32>,
    opened: &dyn Fn(u16) -> u8,
) -> Option<Vec<u8>> {
    match aper::decode::<H245Msg>(payload).ok()? {
        H245Msg::request(RequestMessage::openLogicalChannel(mut olc)) => {
            add_to_olc(&mut olc, keep_alive_pt, mux).then_some(())?;
            aper::encode(&H245Msg::request(RequestMessage::openLogicalChannel(olc))).ok()
        }
        H245Msg::response(ResponseMessage::openLogicalChannelAck(mut ack)) => {
            let Some(AckMux::h2250LogicalChannelAckParameters(p)) =
                &ack.forward_multiplex_ack_parameters
            else {
                return None;
            };
            let lcn = ack.forward_logical_channel_number.0;
            let session = p.session_id.unwrap_or_else(|| opened(lcn));
            let mux_id = mux(session)?;
            let params = TraversalParams {
                multiplexed_media: p.media_channel.as_ref().and_then(asn::h245_socket_addr),
                multiplexed_control: p
                    .media_control_channel
                    .as_ref()
                    .and_then(asn::h245_socket_addr),
                multiplex_id: Some(mux_id),
                ..TraversalParams::default()
            };
            h46019::set_ack_params(&mut ack, Some(&params));
            let msg = H245Msg::response(ResponseMessage::openLogicalChannelAck(ack));
            aper::encode(&msg).ok()
        }
        _ => None,
    }
}

/// Sets an OLC's TraversalParameters as a traversal server sends them: keepAliveChannel = the
/// RTP address the OLC names (its mediaChannel, else the port below its mediaControlChannel:
/// RTP/RTCP pairs are even/odd, RFC 3550 section 11), keepAlivePayloadType and
/// keepAliveInterval; with a multiplexID for the session's stream (`mux`), that ID and the
/// multiplexed channels (that RTP address and the next port). False when the OLC names no
/// address (nothing set).
fn add_to_olc(
    olc: &mut OpenLogicalChannel,
    keep_alive_pt: u8,
    mux: &dyn Fn(u8) -> Option<u32>,
) -> bool {
    let FwdMux::h2250LogicalChannelParameters(p) =
        &olc.forward_logical_channel_parameters.multiplex_parameters
    else {
        return false;
    };
    let rtp = match p.media_channel.as_ref().and_then(asn::h245_socket_addr) {
        Some(a) => Some(a),
        None => p
            .media_control_channel
            .as_ref()
            .and_then(asn::h245_socket_addr)
            .and_then(|rtcp| Some(SocketAddr::new(rtcp.ip(), rtcp.port().checked_sub(1)?))),
    };
    let Some(rtp) = rtp else {
        return false;
    };
    let mut params = TraversalParams {
        keep_alive_channel: Some(rtp),
        keep_alive_payload_type: Some(keep_alive_pt),
        keep_alive_interval: Some(h46019::KEEP_ALIVE_INTERVAL),
        ..TraversalParams::default()
    };
    if let Some(id) = mux(p.session_id) {
        params.multiplex_id = Some(id);
        params.multiplexed_media = Some(rtp);
        params.multiplexed_control = rtp
            .port()
            .checked_add(1)
            .map(|port| SocketAddr::new(rtp.ip(), port));
    }
    h46019::set_olc_params(olc, Some(&params));
    true
}

/// A fastStart element (a bare OpenLogicalChannel) through the step without multiplexing
/// (tests of the codec side).
#[cfg(test)]
fn fast_start_step(bytes: &[u8], strip: bool, add: Option<u8>) -> Option<Vec<u8>> {
    let mut olc = aper::decode::<OpenLogicalChannel>(bytes).ok()?;
    let mut changed = strip && h46019::set_olc_params(&mut olc, None);
    if let Some(pt) = add {
        changed |= add_to_olc(&mut olc, pt, &|_| None);
    }
    changed.then(|| aper::encode(&olc).ok()).flatten()
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

/// What [`received_traversal`] found.
#[derive(Debug, PartialEq)]
pub(crate) struct Received {
    /// The forwardLogicalChannelNumber.
    pub lcn: u16,
    /// The sessionID, when the message names it.
    pub session: Option<u8>,
    /// An OLCAck (the channel was opened by the other side).
    pub ack: bool,
    pub params: TraversalParams,
    /// The message without them (to forward).
    pub stripped: Vec<u8>,
}

/// The TraversalParameters of an OLC or OLCAck received over a traversal link. `None` when
/// `payload` is neither or carries none.
pub(crate) fn received_traversal(payload: &[u8]) -> Option<Received> {
    let (lcn, session, ack, params, stripped) = match aper::decode::<H245Msg>(payload).ok()? {
        H245Msg::request(RequestMessage::openLogicalChannel(mut olc)) => {
            let params = h46019::olc_params(&olc)?;
            h46019::set_olc_params(&mut olc, None);
            let lcn = olc.forward_logical_channel_number.0;
            let session = olc_session(&olc);
            let msg = H245Msg::request(RequestMessage::openLogicalChannel(olc));
            (lcn, session, false, params, msg)
        }
        H245Msg::response(ResponseMessage::openLogicalChannelAck(mut ack)) => {
            let params = h46019::ack_params(&ack)?;
            h46019::set_ack_params(&mut ack, None);
            let lcn = ack.forward_logical_channel_number.0;
            let session = match &ack.forward_multiplex_ack_parameters {
                Some(AckMux::h2250LogicalChannelAckParameters(p)) => p.session_id,
                _ => None,
            };
            let msg = H245Msg::response(ResponseMessage::openLogicalChannelAck(ack));
            (lcn, session, true, params, msg)
        }
        _ => return None,
    };
    let stripped = aper::encode(&stripped).ok()?;
    Some(Received {
        lcn,
        session,
        ack,
        params,
        stripped,
    })
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
        let r = received_traversal(&added).expect("parameters");
        let (lcn, params, stripped) = (r.lcn, r.params, r.stripped);
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
        let r = received_traversal(&bytes).expect("parameters");
        assert_eq!((r.lcn, r.ack, r.params, r.stripped), (4, true, p, plain));
    }

    #[test]
    fn the_clients_ack_names_its_keep_alive_payload_type() {
        let ack =
            encode_h245(&olc_ack(4, sa("10.0.0.5:5004"), sa("10.0.0.5:5005")).unwrap()).unwrap();
        let with = ack_payload_type(&ack, 120).expect("an OLCAck");
        let r = received_traversal(&with).expect("parameters");
        let (lcn, p, stripped) = (r.lcn, r.params, r.stripped);
        assert_eq!(
            (lcn, p.keep_alive_payload_type, stripped),
            (4, Some(120), ack)
        );
        let t = encode_h245(&tcs(1)).unwrap();
        assert_eq!(ack_payload_type(&t, 120), None, "only OLCAcks");
    }

    #[test]
    fn a_fast_start_proposal_towards_the_client_gets_parameters_the_client_strips() {
        let H245Msg::request(RequestMessage::openLogicalChannel(o)) =
            olc(5, sa("198.51.100.1:36001")).unwrap()
        else {
            panic!()
        };
        let bytes = aper::encode(&o).unwrap();
        let added = fast_start_step(&bytes, false, Some(118)).expect("changed");
        let with: OpenLogicalChannel = aper::decode(&added).unwrap();
        let p = h46019::olc_params(&with).expect("parameters");
        assert_eq!(p.keep_alive_channel, Some(sa("198.51.100.1:36000")));
        assert_eq!(p.keep_alive_payload_type, Some(118));
        assert_eq!(fast_start_step(&added, true, None), Some(bytes.clone()));
        assert_eq!(
            fast_start_step(&bytes, true, None),
            None,
            "nothing to strip"
        );
        assert_eq!(fast_start_step(&[0xff, 3], true, Some(1)), None);
    }
}
