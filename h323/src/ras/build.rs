//! Builders of the RAS messages the gatekeeper sends (H.225.0 section 7: GCF/GRJ, RCF/RRJ,
//! URQ/UCF/URJ, ACF/ARJ, DCF/DRJ, BCF/BRJ, IRQ, IACK, LRQ/LCF/LRJ, XRS).
//!
//! The generated types are `#[non_exhaustive]`, so every message is made through its `new` with
//! every field spelled out; extension additions that H.225.0 makes mandatory (RCF
//! willRespondToIRR/maintainConnection, ACF willRespondToIRR/uuiesRequested, IRQ
//! callIdentifier, LRQ canMapAlias/canMapSrcAlias, XRS messageNotUnderstood) are always `Some`.
//! Values only: no state, no decisions; ASN.1 value conversions (identifiers, protocol
//! identifier) are [`crate::asn`]'s.

use crate::asn::{call_identifier, endpoint_id, gatekeeper_id, h225_protocol_identifier};
use causeway_h323_asn1::h323_messages::*;
use causeway_h323_asn1::rasn::types::OctetString;

pub fn gcf(n: u16, gk: &str, ras: TransportAddress) -> RasMessage {
    RasMessage::gatekeeperConfirm(GatekeeperConfirm::new(
        RequestSeqNum(n),
        h225_protocol_identifier(),
        None,
        Some(gatekeeper_id(gk)),
        ras,
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
    ))
}

pub fn grj(n: u16, gk: &str, reason: GatekeeperRejectReason) -> RasMessage {
    RasMessage::gatekeeperReject(GatekeeperReject::new(
        RequestSeqNum(n),
        h225_protocol_identifier(),
        None,
        Some(gatekeeper_id(gk)),
        reason,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub struct Rcf<'a> {
    pub seq: u16,
    pub gatekeeper: &'a str,
    pub endpoint: &'a str,
    pub call_signal: Vec<TransportAddress>,
    pub aliases: Option<Vec<AliasAddress>>,
    pub ttl: u32,
}

pub fn rcf(r: Rcf<'_>) -> RasMessage {
    RasMessage::registrationConfirm(RegistrationConfirm::new(
        RequestSeqNum(r.seq),
        h225_protocol_identifier(),
        None,
        r.call_signal,
        r.aliases,
        Some(gatekeeper_id(r.gatekeeper)),
        endpoint_id(r.endpoint),
        None,
        Some(TimeToLive(r.ttl)),
        None,
        None,
        None,
        Some(false), // willRespondToIRR: we never send unsolicited IRR acks
        None,
        Some(false), // maintainConnection: RAS over UDP only
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
    ))
}

pub fn rrj(n: u16, gk: &str, reason: RegistrationRejectReason) -> RasMessage {
    RasMessage::registrationReject(RegistrationReject::new(
        RequestSeqNum(n),
        h225_protocol_identifier(),
        None,
        reason,
        Some(gatekeeper_id(gk)),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn urq(
    n: u16,
    gk: &str,
    endpoint: &str,
    call_signal: Vec<TransportAddress>,
    reason: UnregRequestReason,
) -> RasMessage {
    RasMessage::unregistrationRequest(UnregistrationRequest::new(
        RequestSeqNum(n),
        call_signal,
        None,
        None,
        Some(endpoint_id(endpoint)),
        None,
        Some(gatekeeper_id(gk)),
        None,
        None,
        None,
        Some(reason),
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn ucf(n: u16) -> RasMessage {
    RasMessage::unregistrationConfirm(UnregistrationConfirm::new(
        RequestSeqNum(n),
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn urj(n: u16, reason: UnregRejectReason) -> RasMessage {
    RasMessage::unregistrationReject(UnregistrationReject::new(
        RequestSeqNum(n),
        reason,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn acf(
    n: u16,
    bandwidth: u32,
    dest: TransportAddress,
    destination_info: Option<Vec<AliasAddress>>,
) -> RasMessage {
    RasMessage::admissionConfirm(AdmissionConfirm::new(
        RequestSeqNum(n),
        BandWidth(bandwidth),
        CallModel::gatekeeperRouted(()),
        dest,
        None,
        None,
        destination_info,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(false), // willRespondToIRR
        // uuiesRequested: the gatekeeper routes the call signaling itself and needs none in IRRs
        Some(UUIEsRequested::new(
            false, false, false, false, false, false, false, false, false, None, None, None, None,
        )),
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
    ))
}

pub fn arj(n: u16, reason: AdmissionRejectReason) -> RasMessage {
    RasMessage::admissionReject(AdmissionReject::new(
        RequestSeqNum(n),
        reason,
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
    ))
}

pub fn dcf(n: u16) -> RasMessage {
    RasMessage::disengageConfirm(DisengageConfirm::new(
        RequestSeqNum(n),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn drj(n: u16, reason: DisengageRejectReason) -> RasMessage {
    RasMessage::disengageReject(DisengageReject::new(
        RequestSeqNum(n),
        reason,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn bcf(n: u16, bandwidth: u32) -> RasMessage {
    RasMessage::bandwidthConfirm(BandwidthConfirm::new(
        RequestSeqNum(n),
        BandWidth(bandwidth),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn brj(n: u16, reason: BandRejectReason, allowed: u32) -> RasMessage {
    RasMessage::bandwidthReject(BandwidthReject::new(
        RequestSeqNum(n),
        reason,
        BandWidth(allowed),
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

/// IRQ for every call of an endpoint (callReferenceValue 0, H.225.0 7.15.1), with the
/// all-zero callIdentifier that goes with it.
pub fn irq(n: u16, reply: Option<TransportAddress>) -> RasMessage {
    RasMessage::infoRequest(InfoRequest::new(
        RequestSeqNum(n),
        CallReferenceValue(0),
        None,
        reply,
        Some(call_identifier([0u8; 16])),
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
    ))
}

pub fn iack(n: u16) -> RasMessage {
    RasMessage::infoRequestAck(InfoRequestAck::new(
        RequestSeqNum(n),
        None,
        None,
        None,
        None,
    ))
}

pub fn lrq(
    n: u16,
    gk: &str,
    destination: Vec<AliasAddress>,
    reply: TransportAddress,
    hop_count: u8,
) -> RasMessage {
    RasMessage::locationRequest(LocationRequest::new(
        RequestSeqNum(n),
        None,
        destination,
        None,
        reply,
        None,
        Some(false), // canMapAlias
        Some(gatekeeper_id(gk)),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(hop_count),
        None,
        None,
        None,
        None,
        Some(false), // canMapSrcAlias
        None,
    ))
}

pub fn lcf(n: u16, call_signal: TransportAddress, ras: TransportAddress) -> RasMessage {
    RasMessage::locationConfirm(LocationConfirm::new(
        RequestSeqNum(n),
        call_signal,
        ras,
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
        None,
        None,
        None,
        None,
    ))
}

pub fn lrj(n: u16, reason: LocationRejectReason) -> RasMessage {
    RasMessage::locationReject(LocationReject::new(
        RequestSeqNum(n),
        reason,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

/// XRS: the reply to a request the gatekeeper does not implement (H.225.0 7.13).
pub fn xrs(n: u16, not_understood: &[u8]) -> RasMessage {
    RasMessage::unknownMessageResponse(UnknownMessageResponse::new(
        RequestSeqNum(n),
        None,
        None,
        None,
        Some(OctetString::from(not_understood.to_vec())),
    ))
}
