//! The RAS requests an endpoint sends to its gatekeeper (H.225.0 section 7: GRQ, RRQ full and
//! lightweight, URQ and its UCF, ARQ, DRQ, IRR), and reading RAS messages back.
//!
//! Values only: no sockets, no retransmission, no sequence numbers of its own (the caller
//! numbers its requests). Must not touch the gatekeeper's side (`crate::ras`).

use super::{ipv4_transport, terminal_type, vendor, CallIds, Me, Result};
use crate::asn;
use causeway_h323_asn1::h323_messages as h225;
use causeway_h323_asn1::rasn;

pub fn encode_ras(m: &h225::RasMessage) -> Result<Vec<u8>> {
    rasn::aper::encode(m).map_err(|e| format!("RAS encode: {e}"))
}

pub fn decode_ras(b: &[u8]) -> Result<h225::RasMessage> {
    rasn::aper::decode(b).map_err(|e| format!("RAS decode: {e}"))
}

/// The requestSeqNum of any RAS message that has one.
pub fn seq_of(m: &h225::RasMessage) -> Option<u16> {
    use h225::RasMessage as R;
    Some(match m {
        R::gatekeeperRequest(x) => x.request_seq_num.0,
        R::gatekeeperConfirm(x) => x.request_seq_num.0,
        R::gatekeeperReject(x) => x.request_seq_num.0,
        R::registrationRequest(x) => x.request_seq_num.0,
        R::registrationConfirm(x) => x.request_seq_num.0,
        R::registrationReject(x) => x.request_seq_num.0,
        R::unregistrationRequest(x) => x.request_seq_num.0,
        R::unregistrationConfirm(x) => x.request_seq_num.0,
        R::unregistrationReject(x) => x.request_seq_num.0,
        R::admissionRequest(x) => x.request_seq_num.0,
        R::admissionConfirm(x) => x.request_seq_num.0,
        R::admissionReject(x) => x.request_seq_num.0,
        R::disengageRequest(x) => x.request_seq_num.0,
        R::disengageConfirm(x) => x.request_seq_num.0,
        R::disengageReject(x) => x.request_seq_num.0,
        R::infoRequest(x) => x.request_seq_num.0,
        R::requestInProgress(x) => x.request_seq_num.0,
        R::unknownMessageResponse(x) => x.request_seq_num.0,
        _ => return None,
    })
}

pub fn grq(seq: u16, me: &Me) -> Result<h225::RasMessage> {
    Ok(h225::RasMessage::gatekeeperRequest(
        h225::GatekeeperRequest::new(
            h225::RequestSeqNum(seq),
            asn::h225_protocol_identifier(),
            None,
            ipv4_transport(me.ras)?,
            terminal_type(),
            None,
            None,
            Some(me.aliases.clone()),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some(false), // supportsAssignedGK (mandatory since v6)
            None,
        ),
    ))
}

/// A full RRQ (`eid` None, aliases) or a lightweight refresh (keepAlive TRUE, `eid` Some, no
/// aliases: H.225.0 7.9.1).
pub fn rrq(
    seq: u16,
    me: &Me,
    ttl: u32,
    gkid: Option<h225::GatekeeperIdentifier>,
    eid: Option<h225::EndpointIdentifier>,
    discovery_complete: bool,
) -> Result<h225::RasMessage> {
    let keep_alive = eid.is_some();
    Ok(h225::RasMessage::registrationRequest(
        h225::RegistrationRequest::new(
            h225::RequestSeqNum(seq),
            asn::h225_protocol_identifier(),
            None,
            discovery_complete,
            vec![ipv4_transport(me.csa)?],
            vec![ipv4_transport(me.ras)?],
            terminal_type(),
            (!keep_alive).then(|| me.aliases.clone()),
            gkid,
            vendor(),
            None,
            Some(h225::TimeToLive(ttl.max(1))),
            None,
            None,
            None,
            Some(keep_alive), // keepAlive (v2+)
            eid,
            Some(false), // willSupplyUUIEs (v3+)
            Some(false), // maintainConnection (v4+)
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some(false), // supportsAssignedGK (v6+)
            None,
            None,
            None,
        ),
    ))
}

pub fn urq(
    seq: u16,
    me: &Me,
    gkid: Option<h225::GatekeeperIdentifier>,
    eid: Option<h225::EndpointIdentifier>,
) -> Result<h225::RasMessage> {
    Ok(h225::RasMessage::unregistrationRequest(
        h225::UnregistrationRequest::new(
            h225::RequestSeqNum(seq),
            vec![ipv4_transport(me.csa)?],
            Some(me.aliases.clone()),
            None,
            eid,
            None,
            gkid,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    ))
}

pub fn ucf(seq: u16) -> h225::RasMessage {
    h225::RasMessage::unregistrationConfirm(h225::UnregistrationConfirm::new(
        h225::RequestSeqNum(seq),
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

#[allow(clippy::too_many_arguments)]
pub fn arq(
    seq: u16,
    me: &Me,
    eid: h225::EndpointIdentifier,
    gkid: Option<h225::GatekeeperIdentifier>,
    ids: &CallIds,
    dest: Option<Vec<h225::AliasAddress>>,
    src: Vec<h225::AliasAddress>,
    answer: bool,
) -> Result<h225::RasMessage> {
    Ok(h225::RasMessage::admissionRequest(
        h225::AdmissionRequest::new(
            h225::RequestSeqNum(seq),
            h225::CallType::pointToPoint(()),
            Some(h225::CallModel::gatekeeperRouted(())),
            eid,
            dest,
            answer.then(|| ipv4_transport(me.csa)).transpose()?,
            None,
            src,
            (!answer).then(|| ipv4_transport(me.csa)).transpose()?,
            h225::BandWidth(1280),
            h225::CallReferenceValue(ids.crv),
            None,
            None,
            h225::ConferenceIdentifier(asn::guid(ids.conf_id)),
            false,
            answer,
            Some(true), // canMapAlias (v2+)
            Some(asn::call_identifier(ids.call_id)),
            None,
            None,
            gkid,
            None,
            None,
            None,
            None,
            Some(false), // willSupplyUUIEs (v3+)
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some(false), // canMapSrcAlias (v6+)
        ),
    ))
}

pub fn drq(
    seq: u16,
    eid: h225::EndpointIdentifier,
    gkid: Option<h225::GatekeeperIdentifier>,
    ids: &CallIds,
    answered: bool,
) -> h225::RasMessage {
    h225::RasMessage::disengageRequest(h225::DisengageRequest::new(
        h225::RequestSeqNum(seq),
        eid,
        h225::ConferenceIdentifier(asn::guid(ids.conf_id)),
        h225::CallReferenceValue(ids.crv),
        h225::DisengageReason::normalDrop(()),
        None,
        Some(asn::call_identifier(ids.call_id)), // callIdentifier (v2+)
        gkid,
        None,
        None,
        None,
        Some(answered), // answeredCall (v3+)
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn irr(seq: u16, me: &Me, eid: h225::EndpointIdentifier) -> Result<h225::RasMessage> {
    Ok(h225::RasMessage::infoRequestResponse(
        h225::InfoRequestResponse::new(
            None,
            h225::RequestSeqNum(seq),
            terminal_type(),
            eid,
            ipv4_transport(me.ras)?,
            vec![ipv4_transport(me.csa)?],
            Some(me.aliases.clone()),
            None,
            None,
            None,
            None,
            Some(false), // needResponse (v4+)
            None,
            Some(h225::InfoRequestResponseStatus::complete(())),
            Some(false), // unsolicited (v4+)
            None,
        ),
    ))
}
