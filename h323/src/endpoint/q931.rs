//! The H.225.0 call-signaling content an endpoint sends: the `H323-UserInformation` carried
//! in the User-user element of its Q.931 messages (Setup, CallProceeding, Alerting, Connect,
//! Facility, Status, ReleaseComplete UUIEs), encoded and decoded with string errors.
//!
//! Values only; the Q.931 message around them is `crate::q931`'s. Must not hold the
//! gatekeeper's own UUIEs (those are `crate::call`'s).

use super::{ipv4_transport, terminal_type, CallIds, Result};
use crate::asn;
use causeway_h323_asn1::h323_messages as h225;
use causeway_h323_asn1::rasn;
use causeway_h323_asn1::rasn::types::OctetString;
use std::net::SocketAddr;

pub fn encode_uu(
    body: h225::H323UUPDUH323MessageBody,
    tunneling: bool,
    h245: Vec<Vec<u8>>,
) -> Result<Vec<u8>> {
    let control = (!h245.is_empty()).then(|| h245.into_iter().map(OctetString::from).collect());
    let pdu = h225::H323UUPDU::new(
        body,
        None,
        None,
        Some(tunneling),
        control,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    rasn::aper::encode(&h225::H323UserInformation::new(pdu, None))
        .map_err(|e| format!("UUIE encode: {e}"))
}

pub fn decode_uu(b: &[u8]) -> Result<h225::H323UserInformation> {
    rasn::aper::decode(b).map_err(|e| format!("H323-UserInformation decode: {e}"))
}

pub fn setup_uuie(
    ids: &CallIds,
    src: Vec<h225::AliasAddress>,
    dest: Option<Vec<h225::AliasAddress>>,
    dest_csa: Option<SocketAddr>,
    h245_addr: Option<SocketAddr>,
    own_csa: SocketAddr,
) -> Result<h225::H323UUPDUH323MessageBody> {
    Ok(h225::H323UUPDUH323MessageBody::setup(h225::SetupUUIE::new(
        asn::h225_protocol_identifier(),
        h245_addr.map(ipv4_transport).transpose()?,
        Some(src),
        terminal_type(),
        dest,
        dest_csa.map(ipv4_transport).transpose()?,
        None,
        None,
        false,
        h225::ConferenceIdentifier(asn::guid(ids.conf_id)),
        h225::SetupUUIEConferenceGoal::create(()),
        None,
        h225::CallType::pointToPoint(()),
        Some(ipv4_transport(own_csa)?),
        None,
        Some(asn::call_identifier(ids.call_id)), // callIdentifier (v2+)
        None,
        None,
        None,
        None,
        Some(false), // mediaWaitForConnect (v3+)
        Some(false), // canOverlapSend (v3+)
        None,
        Some(false), // multipleCalls (v4+)
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
        None,
        None,
    )))
}

pub fn call_proceeding_uuie(ids: &CallIds) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::callProceeding(h225::CallProceedingUUIE::new(
        asn::h225_protocol_identifier(),
        terminal_type(),
        None,
        Some(asn::call_identifier(ids.call_id)),
        None,
        None,
        None,
        None,
        Some(false),
        Some(false),
        None,
        None,
    ))
}

pub fn alerting_uuie(ids: &CallIds) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::alerting(h225::AlertingUUIE::new(
        asn::h225_protocol_identifier(),
        terminal_type(),
        None,
        Some(asn::call_identifier(ids.call_id)),
        None,
        None,
        None,
        None,
        Some(false),
        Some(false),
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

pub fn connect_uuie(
    ids: &CallIds,
    h245_addr: Option<SocketAddr>,
) -> Result<h225::H323UUPDUH323MessageBody> {
    Ok(h225::H323UUPDUH323MessageBody::connect(
        h225::ConnectUUIE::new(
            asn::h225_protocol_identifier(),
            h245_addr.map(ipv4_transport).transpose()?,
            terminal_type(),
            h225::ConferenceIdentifier(asn::guid(ids.conf_id)),
            Some(asn::call_identifier(ids.call_id)),
            None,
            None,
            None,
            None,
            Some(false),
            Some(false),
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

/// Facility carrying only tunneled H.245 (reason transportedInformation, H.225.0 v4+).
pub fn facility_uuie(ids: &CallIds) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::facility(h225::FacilityUUIE::new(
        asn::h225_protocol_identifier(),
        None,
        None,
        Some(h225::ConferenceIdentifier(asn::guid(ids.conf_id))),
        h225::FacilityReason::transportedInformation(()),
        Some(asn::call_identifier(ids.call_id)),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(false),
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn status_uuie(ids: &CallIds) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::status(h225::StatusUUIE::new(
        asn::h225_protocol_identifier(),
        asn::call_identifier(ids.call_id),
        None,
        None,
    ))
}

pub fn release_complete_uuie(
    ids: &CallIds,
    reason: Option<h225::ReleaseCompleteReason>,
) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::releaseComplete(h225::ReleaseCompleteUUIE::new(
        asn::h225_protocol_identifier(),
        reason,
        Some(asn::call_identifier(ids.call_id)),
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

/// The H.460.18 call-back Facility (H.460.18 section 8): the first message on the connection
/// an endpoint (or C) opens after an SCI, reason undefinedReason with the SCI's callIdentifier,
/// call reference 0 from the called side. The whole Q.931 payload.
pub fn call_back_facility(call_id: [u8; 16], tunneling: bool) -> Result<Vec<u8>> {
    let ids = CallIds {
        crv: 0,
        call_id,
        conf_id: call_id,
    };
    let mut body = facility_uuie(&ids);
    if let h225::H323UUPDUH323MessageBody::facility(f) = &mut body {
        f.reason = h225::FacilityReason::undefinedReason(());
    }
    let uu = encode_uu(body, tunneling, vec![])?;
    let crv = crate::q931::CallReference::new(0, true).map_err(|e| e.to_string())?;
    let mut q = crate::q931::Q931::new(crate::q931::MessageType::Facility, crv);
    q.set_user_user(&uu).map_err(|e| e.to_string())?;
    Ok(q.encode())
}
