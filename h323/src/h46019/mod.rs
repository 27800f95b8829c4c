//! H.460.19 (media traversal) on the wire: the `TraversalParameters` that ride in the
//! genericInformation of an H.245 OpenLogicalChannel / OpenLogicalChannelAck, and feature 19 in
//! RAS feature sets ([`feature`]). Pure encode/decode over ASN.1 values; must not touch call
//! state, relays or sockets (the call code decides what to put in and what to do with what
//! comes out).
//!
//! The genericInformation entry: messageIdentifier standard OID 0.0.8.460.19.0.1, messageContent
//! parameter standard 1 whose value is an octetString holding the aligned-PER encoding of
//! TraversalParameters (`causeway_h323_asn1::h460`). Who sends what (ITU-T H.460.19 and the
//! H.460.19 proxy of GNU Gatekeeper, read for facts):
//! - the traversal server (E) adds to an OLC it sends towards a traversal client
//!   keepAliveChannel (the address the client's keep-alives must reach, the RTP port of the
//!   channel) and keepAliveInterval (19 s); with multiplexing also multiplexID,
//!   multiplexedMediaChannel and multiplexedMediaControlChannel (keepAliveChannel then names the
//!   multiplexed RTP port);
//! - the traversal client answers an OLC from its server with an OLCAck carrying
//!   keepAlivePayloadType (GNU Gatekeeper uses 116), plus the multiplex fields when it wants
//!   to receive multiplexed media;
//! - a proxy removes the entry it received before forwarding the message and puts its own
//!   first: some endpoints read only the first genericInformation entry.
//!
//! Robustness: an entry that is not H.460.19, a parameter of another kind, an octetString
//! that does not decode, an address that is not unicast IPv4/IPv6, all read as absent
//! (`None`), never as an error. Values outside the ASN.1 ranges (payload type above 127,
//! interval 0) are left out when encoding.

pub mod feature;
#[cfg(test)]
mod tests;

use crate::asn;
use causeway_h323_asn1::h323_messages::TimeToLive;
use causeway_h323_asn1::h460::TraversalParameters;
use causeway_h323_asn1::multimedia_system_control::{
    CapabilityIdentifier, GenericInformation, GenericMessage, GenericParameter, OpenLogicalChannel,
    OpenLogicalChannelAck, ParameterIdentifier, ParameterValue,
};
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::types::{ObjectIdentifier, OctetString};
use std::borrow::Cow;
use std::net::SocketAddr;

/// H.460.19's H.245 generic message identifier.
pub const OID: &[u32] = &[0, 0, 8, 460, 19, 0, 1];
/// The messageContent parameter that holds TraversalParameters.
const PARAM_TRAVERSAL: u8 = 1;
/// The keep-alive RTP payload type causeway asks for (GNU Gatekeeper's choice; any dynamic
/// type no codec of the call uses will do).
pub const KEEP_ALIVE_PAYLOAD_TYPE: u8 = 116;
/// The keep-alive interval, seconds, a traversal server tells its client (H.460.19's and GNU
/// Gatekeeper's 19 s, under the usual 30 s UDP NAT binding).
pub const KEEP_ALIVE_INTERVAL: u32 = 19;

/// What an H.460.19 TraversalParameters says, in causeway's terms. Every field is optional,
/// as on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TraversalParams {
    /// `multiplexedMediaChannel`: where multiplexed RTP goes.
    pub multiplexed_media: Option<SocketAddr>,
    /// `multiplexedMediaControlChannel`: where multiplexed RTCP goes.
    pub multiplexed_control: Option<SocketAddr>,
    /// `multiplexID`: the 4-byte prefix of multiplexed packets sent to the sender of this.
    pub multiplex_id: Option<u32>,
    /// `keepAliveChannel`: where the traversal client sends its keep-alives.
    pub keep_alive_channel: Option<SocketAddr>,
    /// `keepAlivePayloadType` (0..=127).
    pub keep_alive_payload_type: Option<u8>,
    /// `keepAliveInterval`, seconds (1..).
    pub keep_alive_interval: Option<u32>,
}

impl TraversalParams {
    fn to_asn(self) -> TraversalParameters {
        TraversalParameters::new(
            self.multiplexed_media.map(asn::h245_transport_address),
            self.multiplexed_control.map(asn::h245_transport_address),
            self.multiplex_id,
            self.keep_alive_channel.map(asn::h245_transport_address),
            self.keep_alive_payload_type.filter(|pt| *pt <= 127),
            self.keep_alive_interval.filter(|s| *s > 0).map(TimeToLive),
        )
    }

    fn from_asn(p: &TraversalParameters) -> TraversalParams {
        let addr = |a: &Option<_>| a.as_ref().and_then(asn::h245_socket_addr).map(canonical);
        TraversalParams {
            multiplexed_media: addr(&p.multiplexed_media_channel),
            multiplexed_control: addr(&p.multiplexed_media_control_channel),
            multiplex_id: p.multiplex_id,
            keep_alive_channel: addr(&p.keep_alive_channel),
            keep_alive_payload_type: p.keep_alive_payload_type.filter(|pt| *pt <= 127),
            keep_alive_interval: p
                .keep_alive_interval
                .as_ref()
                .map(|t| t.0)
                .filter(|s| *s > 0),
        }
    }
}

/// An IPv4-mapped IPv6 address as IPv4: that is how it is written back (`asn`), so a value
/// read and written again reads the same.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// The PER encoding of `p` (the octetString content of the genericInformation parameter).
pub fn encode_params(p: &TraversalParams) -> Option<Vec<u8>> {
    aper::encode(&p.to_asn()).ok()
}

/// TraversalParameters from their PER encoding; `None` if the bytes do not decode.
pub fn decode_params(bytes: &[u8]) -> Option<TraversalParams> {
    let p: TraversalParameters = aper::decode(bytes).ok()?;
    Some(TraversalParams::from_asn(&p))
}

/// The genericInformation entry carrying `p`.
pub fn generic_information(p: &TraversalParams) -> Option<GenericInformation> {
    let bytes = encode_params(p)?;
    let id = ObjectIdentifier::new_unchecked(Cow::Borrowed(OID));
    Some(GenericInformation(GenericMessage::new(
        CapabilityIdentifier::standard(id),
        None,
        Some(vec![GenericParameter::new(
            ParameterIdentifier::standard(PARAM_TRAVERSAL),
            ParameterValue::octetString(OctetString::from(bytes)),
            None,
        )]),
    )))
}

fn is_19(g: &GenericInformation) -> bool {
    matches!(&g.0.message_identifier, CapabilityIdentifier::standard(id) if &id[..] == OID)
}

/// The traversal parameters of the first H.460.19 entry in `info` that holds decodable ones.
pub fn find(info: Option<&[GenericInformation]>) -> Option<TraversalParams> {
    info?
        .iter()
        .filter(|g| is_19(g))
        .flat_map(|g| g.0.message_content.iter().flatten())
        .filter(|p| {
            matches!(
                p.parameter_identifier,
                ParameterIdentifier::standard(PARAM_TRAVERSAL)
            )
        })
        .find_map(|p| match &p.parameter_value {
            ParameterValue::octetString(o) => decode_params(o),
            _ => None,
        })
}

/// Removes every H.460.19 entry from `info` and, with `p`, puts one carrying `p` first. An
/// emptied list becomes absent. True when `info` changed.
fn replace(info: &mut Option<Vec<GenericInformation>>, p: Option<&TraversalParams>) -> bool {
    let before = info.clone();
    let mut list = info.take().unwrap_or_default();
    list.retain(|g| !is_19(g));
    if let Some(entry) = p.and_then(generic_information) {
        list.insert(0, entry);
    }
    *info = (!list.is_empty()).then_some(list);
    *info != before
}

/// The traversal parameters an OpenLogicalChannel carries.
pub fn olc_params(olc: &OpenLogicalChannel) -> Option<TraversalParams> {
    find(olc.generic_information.as_deref())
}

/// The traversal parameters an OpenLogicalChannelAck carries.
pub fn ack_params(ack: &OpenLogicalChannelAck) -> Option<TraversalParams> {
    find(ack.generic_information.as_deref())
}

/// Puts `p` on an OpenLogicalChannel in place of any H.460.19 entry it had (`None`: removes
/// them). True when the message changed.
pub fn set_olc_params(olc: &mut OpenLogicalChannel, p: Option<&TraversalParams>) -> bool {
    replace(&mut olc.generic_information, p)
}

/// [`set_olc_params`] for an OpenLogicalChannelAck.
pub fn set_ack_params(ack: &mut OpenLogicalChannelAck, p: Option<&TraversalParams>) -> bool {
    replace(&mut ack.generic_information, p)
}
