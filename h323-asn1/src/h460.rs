//! The H.460.18 (SIGNALLING-TRAVERSAL) and H.460.19 (MEDIA-TRAVERSAL) messages that travel,
//! PER-encoded, inside H.225.0 GenericData `raw` contents: [`IncomingCallIndication`] (the SCI
//! payload), [`LRQKeepAliveData`] and [`TraversalParameters`].
//!
//! Written by hand rather than generated: the two modules hold three small SEQUENCEs, and
//! running rasn-compiler on them means compiling the whole H.225.0/H.245 set again in the same
//! run (it resolves imports only among the modules it is given) and then discarding the
//! duplicate output, plus correcting h46019.asn's import of TimeToLive from H.245, which has no
//! such type (shared/asn1/PROVENANCE.md; H.460.19 takes it from H323-MESSAGES). The types below
//! follow shared/asn1/h460/h46018.asn and h46019.asn field for field, with that correction, and
//! are checked against asn1tools vectors (tests/codec/golden.rs, family `h460`).
//!
//! Each type is extensible (`...` in the module): `#[non_exhaustive]` is rasn's marker for
//! that, so values are built with `new`.

use crate::h323_messages::{CallIdentifier, TimeToLive, TransportAddress};
use crate::multimedia_system_control::H245TransportAddress;
use rasn::prelude::*;

/// H.460.18 IncomingCallIndication: where the endpoint must open its call-signalling
/// connection, and for which call.
#[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct IncomingCallIndication {
    /// `callSignallingAddress`: the gatekeeper's (or proxy's) call-signalling address.
    #[rasn(identifier = "callSignallingAddress")]
    pub call_signalling_address: TransportAddress,
    /// `callID`.
    #[rasn(identifier = "callID")]
    pub call_id: CallIdentifier,
}

impl IncomingCallIndication {
    /// A value with both fields.
    pub fn new(call_signalling_address: TransportAddress, call_id: CallIdentifier) -> Self {
        Self {
            call_signalling_address,
            call_id,
        }
    }
}

/// H.460.18 LRQKeepAliveData: the interval, in seconds, of LRQ keep-alives between
/// neighbour gatekeepers.
#[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct LRQKeepAliveData {
    /// `lrqKeepAliveInterval` (TimeToLive ::= INTEGER(1..4294967295) of H.225.0).
    #[rasn(identifier = "lrqKeepAliveInterval")]
    pub lrq_keep_alive_interval: TimeToLive,
}

impl LRQKeepAliveData {
    /// A value with the interval.
    pub fn new(lrq_keep_alive_interval: TimeToLive) -> Self {
        Self {
            lrq_keep_alive_interval,
        }
    }
}

/// H.460.19 TraversalParameters: multiplexed media addresses and keep-alive settings,
/// carried in OpenLogicalChannel/OpenLogicalChannelAck genericInformation.
#[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq, Eq, Hash)]
#[rasn(automatic_tags)]
#[non_exhaustive]
pub struct TraversalParameters {
    /// `multiplexedMediaChannel` (an H.245 TransportAddress).
    #[rasn(identifier = "multiplexedMediaChannel")]
    pub multiplexed_media_channel: Option<H245TransportAddress>,
    /// `multiplexedMediaControlChannel` (an H.245 TransportAddress).
    #[rasn(identifier = "multiplexedMediaControlChannel")]
    pub multiplexed_media_control_channel: Option<H245TransportAddress>,
    /// `multiplexID` INTEGER(0..4294967295).
    #[rasn(value("0..=4294967295"), identifier = "multiplexID")]
    pub multiplex_id: Option<u32>,
    /// `keepAliveChannel` (an H.245 TransportAddress).
    #[rasn(identifier = "keepAliveChannel")]
    pub keep_alive_channel: Option<H245TransportAddress>,
    /// `keepAlivePayloadType` INTEGER(0..127).
    #[rasn(value("0..=127"), identifier = "keepAlivePayloadType")]
    pub keep_alive_payload_type: Option<u8>,
    /// `keepAliveInterval` (TimeToLive of H.225.0, see the module doc).
    #[rasn(identifier = "keepAliveInterval")]
    pub keep_alive_interval: Option<TimeToLive>,
}

impl TraversalParameters {
    /// A value with every field.
    pub fn new(
        multiplexed_media_channel: Option<H245TransportAddress>,
        multiplexed_media_control_channel: Option<H245TransportAddress>,
        multiplex_id: Option<u32>,
        keep_alive_channel: Option<H245TransportAddress>,
        keep_alive_payload_type: Option<u8>,
        keep_alive_interval: Option<TimeToLive>,
    ) -> Self {
        Self {
            multiplexed_media_channel,
            multiplexed_media_control_channel,
            multiplex_id,
            keep_alive_channel,
            keep_alive_payload_type,
            keep_alive_interval,
        }
    }
}
