//! The H.245 message that names the call of a traversal H.245 connection (H.460.18 section
//! 8.3): when C opens an H.245 channel to E's shared H.245 port (2777, or the assent port), the
//! first message on it is a `genericIndication` with messageIdentifier 0.0.8.460.18.0.1,
//! subMessageIdentifier 1, parameter 1 = the callIdentifier's GUID (octetString) and, when the
//! sender answered the call (it is the called side), parameter 2 (`logical`). E ties the
//! connection to its call by that GUID; one port serves every call. GNU Gatekeeper sends and
//! reads the same message.
//!
//! Pure encode/decode over one H.245 PDU (a TPKT payload). Must not touch call state.

#[cfg(test)]
mod tests;

use causeway_h323_asn1::multimedia_system_control::{
    CapabilityIdentifier, GenericMessage, GenericParameter, IndicationMessage,
    MultimediaSystemControlMessage, ParameterIdentifier, ParameterValue,
};
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::types::{ObjectIdentifier, OctetString};
use std::borrow::Cow;

/// H.460.18's H.245 generic message identifier.
const H46018_OID: &[u32] = &[0, 0, 8, 460, 18, 0, 1];
const SUB_MESSAGE: u8 = 1;
const CALL_ID: u8 = 1;
const ANSWER: u8 = 2;

/// What the indication says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelOpen {
    /// The callIdentifier GUID of the call the channel belongs to.
    pub call_id: [u8; 16],
    /// The sender is the called side of that call.
    pub answer: bool,
}

/// The encoded indication (one H.245 PDU, to be framed in TPKT).
pub fn encode(open: ChannelOpen) -> Result<Vec<u8>, String> {
    let mut content = vec![GenericParameter::new(
        ParameterIdentifier::standard(CALL_ID),
        ParameterValue::octetString(OctetString::from(open.call_id.to_vec())),
        None,
    )];
    if open.answer {
        content.push(GenericParameter::new(
            ParameterIdentifier::standard(ANSWER),
            ParameterValue::logical(()),
            None,
        ));
    }
    let id = ObjectIdentifier::new_unchecked(Cow::Borrowed(H46018_OID));
    let msg = GenericMessage::new(
        CapabilityIdentifier::standard(id),
        Some(SUB_MESSAGE),
        Some(content),
    );
    let pdu = MultimediaSystemControlMessage::indication(IndicationMessage::genericIndication(msg));
    aper::encode(&pdu).map_err(|e| e.to_string())
}

/// The indication in `payload`, if that is what it is (anything else, undecodable bytes
/// included, is `None`).
pub fn decode(payload: &[u8]) -> Option<ChannelOpen> {
    let pdu = aper::decode::<MultimediaSystemControlMessage>(payload).ok()?;
    let MultimediaSystemControlMessage::indication(IndicationMessage::genericIndication(g)) = pdu
    else {
        return None;
    };
    let CapabilityIdentifier::standard(id) = &g.message_identifier else {
        return None;
    };
    if &id[..] != H46018_OID || g.sub_message_identifier != Some(SUB_MESSAGE) {
        return None;
    }
    let mut call_id = None;
    let mut answer = false;
    for p in g.message_content.iter().flatten() {
        match (&p.parameter_identifier, &p.parameter_value) {
            (ParameterIdentifier::standard(CALL_ID), ParameterValue::octetString(o)) => {
                call_id = <[u8; 16]>::try_from(&o[..]).ok();
            }
            (ParameterIdentifier::standard(ANSWER), _) => answer = true,
            _ => {}
        }
    }
    Some(ChannelOpen {
        call_id: call_id?,
        answer,
    })
}
