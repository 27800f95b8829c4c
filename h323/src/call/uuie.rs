//! `H323-UserInformation` in the User-user element of a Q.931 message (H.225.0 7.2.2.17):
//! decode, the per-message-type fields the relay reads or rewrites (h245Address, fastStart,
//! callIdentifier), re-encode into the message, and the few messages causeway builds itself
//! (CallProceeding, Facility, ReleaseComplete).
//!
//! Pure functions over values; no call state, no sockets. H.245 content is `h245`'s.

use super::release::Release;
use crate::q931::ie::UU_PROTOCOL_X208;
use crate::q931::{CallReference, CauseValue, MessageType, Q931};
use causeway_h323_asn1::h323_messages::{
    CallIdentifier, CallProceedingUUIE, EndpointType, FacilityReason, FacilityUUIE, GatekeeperInfo,
    H323UUPDUH323MessageBody as Body, H323UserInformation, ProtocolIdentifier, ReleaseCompleteUUIE,
    TransportAddress, H323UUPDU,
};
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::types::{OctetString, SequenceOf};

/// Why the User-user content could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UuError {
    /// No User-user element, or not protocol discriminator 5.
    Missing,
    /// The element or its PER content does not decode.
    Bad(String),
}

impl std::fmt::Display for UuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UuError::Missing => write!(f, "no H323-UserInformation"),
            UuError::Bad(e) => write!(f, "bad H323-UserInformation: {e}"),
        }
    }
}

/// The H323-UserInformation of a message.
pub(crate) fn decode(msg: &Q931) -> Result<H323UserInformation, UuError> {
    let uu = msg
        .user_user()
        .map_err(|e| UuError::Bad(e.to_string()))?
        .ok_or(UuError::Missing)?;
    if uu.protocol != UU_PROTOCOL_X208 {
        return Err(UuError::Missing);
    }
    aper::decode::<H323UserInformation>(&uu.data).map_err(|e| UuError::Bad(e.to_string()))
}

/// Replaces the message's User-user element with `uu` and returns the encoded message.
pub(crate) fn encode(msg: &mut Q931, uu: &H323UserInformation) -> Result<Vec<u8>, String> {
    let per = aper::encode(uu).map_err(|e| e.to_string())?;
    msg.set_user_user(&per).map_err(|e| e.to_string())?;
    Ok(msg.encode())
}

/// The h245Address field of the message bodies that have one.
pub(crate) fn h245_address_mut(body: &mut Body) -> Option<&mut Option<TransportAddress>> {
    match body {
        Body::setup(b) => Some(&mut b.h245_address),
        Body::callProceeding(b) => Some(&mut b.h245_address),
        Body::connect(b) => Some(&mut b.h245_address),
        Body::alerting(b) => Some(&mut b.h245_address),
        Body::facility(b) => Some(&mut b.h245_address),
        Body::progress(b) => Some(&mut b.h245_address),
        _ => None,
    }
}

/// The fastStart field of the message bodies that have one.
pub(crate) fn fast_start_mut(body: &mut Body) -> Option<&mut Option<SequenceOf<OctetString>>> {
    match body {
        Body::setup(b) => Some(&mut b.fast_start),
        Body::callProceeding(b) => Some(&mut b.fast_start),
        Body::connect(b) => Some(&mut b.fast_start),
        Body::alerting(b) => Some(&mut b.fast_start),
        Body::facility(b) => Some(&mut b.fast_start),
        Body::progress(b) => Some(&mut b.fast_start),
        _ => None,
    }
}

/// A Facility startH245 that carries nothing but the address (no fastStart, no tunneled
/// H.245): what E sends C to ask for the channel of a call (H.460.18 8.3), and the only
/// message C takes for itself.
pub(crate) fn is_bare_start_h245(uu: &H323UserInformation) -> bool {
    let pdu = &uu.h323_uu_pdu;
    let Body::facility(f) = &pdu.h323_message_body else {
        return false;
    };
    matches!(f.reason, FacilityReason::startH245(_))
        && f.fast_start.as_ref().is_none_or(|l| l.is_empty())
        && pdu.h245_control.as_ref().is_none_or(|l| l.is_empty())
}

/// A bare H323-UU-PDU around a body.
pub(crate) fn pdu(body: Body) -> H323UUPDU {
    H323UUPDU::new(
        body, None, None, None, None, None, None, None, None, None, None,
    )
}

/// What causeway says it is in the destinationInfo of messages it originates: a gatekeeper.
fn gatekeeper_endpoint() -> EndpointType {
    EndpointType::new(
        None,
        None,
        Some(GatekeeperInfo::new(None)),
        None,
        None,
        None,
        false,
        false,
        None,
        None,
    )
}

/// The CallProceeding a gatekeeper-routed gatekeeper answers a Setup with (H.225.0 7.3.2,
/// H.323 8.1.3). h245Tunneling echoes the Setup's, and provisionalRespToH245Tunnelling says
/// that this is not the called endpoint's answer (H.323 8.2.1: the caller keeps tunneling
/// until an answer from the called endpoint says otherwise).
pub(crate) fn call_proceeding(
    crv: CallReference,
    protocol: &ProtocolIdentifier,
    call_id: Option<&CallIdentifier>,
    tunneling: Option<bool>,
) -> Result<Vec<u8>, String> {
    let body = CallProceedingUUIE::new(
        protocol.clone(),
        gatekeeper_endpoint(),
        None,
        call_id.cloned(),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let mut p = pdu(Body::callProceeding(body));
    p.h245_tunnelling = tunneling;
    p.provisional_resp_to_h245_tunnelling = Some(());
    let uu = H323UserInformation::new(p, None);
    encode(&mut Q931::new(MessageType::CallProceeding, crv), &uu)
}

/// A ReleaseComplete with a reason and the matching Cause element.
pub(crate) fn release_complete(
    crv: CallReference,
    protocol: &ProtocolIdentifier,
    call_id: Option<&CallIdentifier>,
    release: &Release,
) -> Result<Vec<u8>, String> {
    let body = ReleaseCompleteUUIE::new(
        protocol.clone(),
        Some(release.reason.clone()),
        call_id.cloned(),
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
    );
    let uu = H323UserInformation::new(pdu(Body::releaseComplete(body)), None);
    let mut msg = Q931::new(MessageType::ReleaseComplete, crv);
    msg.set_cause(CauseValue(release.cause))
        .map_err(|e| e.to_string())?;
    encode(&mut msg, &uu)
}

/// The Facility that carries what a called endpoint's CallProceeding said to the caller, who
/// already had a CallProceeding from causeway (a second one would not fit Q.931's call state
/// 3, Q.931 5.8.4): fastStart, h245Address and the H.245 security fields move into a
/// Facility-UUIE (H.225.0 7.4.x lists them there too); reason startH245 when it carries an
/// h245Address, undefinedReason otherwise. The H323-UU-PDU around it (h245Control,
/// h245Tunneling, ...) is kept as is.
pub(crate) fn proceeding_as_facility(uu: &mut H323UserInformation) {
    let Body::callProceeding(cp) = &uu.h323_uu_pdu.h323_message_body else {
        return;
    };
    let reason = if cp.h245_address.is_some() {
        FacilityReason::startH245(())
    } else {
        FacilityReason::undefinedReason(())
    };
    let f = FacilityUUIE::new(
        cp.protocol_identifier.clone(),
        None,
        None,
        None,
        reason,
        cp.call_identifier.clone(),
        None,
        None,
        cp.tokens.clone(),
        cp.crypto_tokens.clone(),
        None,
        cp.h245_address.clone(),
        cp.fast_start.clone(),
        cp.multiple_calls,
        cp.maintain_connection,
        cp.fast_connect_refused,
        None,
        None,
        cp.feature_set.clone(),
        Some(cp.destination_info.clone()),
        cp.h245_security_mode.clone(),
    );
    uu.h323_uu_pdu.h323_message_body = Body::facility(f);
}

/// A Facility with an empty body: what H.225.0 7.4 uses to carry h245Control alone.
pub(crate) fn empty_body(uu: &mut H323UserInformation) {
    uu.h323_uu_pdu.h323_message_body = Body::empty(());
}
