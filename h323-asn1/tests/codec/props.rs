//! Property tests: for a handful of message shapes per family (RAS, H323-UserInformation,
//! H.245), values with the interesting fields varied (sequence numbers, aliases of every kind
//! causeway handles, IPv4/IPv6 transport addresses, TTLs, call identifiers, channel numbers)
//! survive encode -> decode unchanged; and decoding arbitrary bytes as any of the three
//! top-level types never panics (and what decodes re-encodes and decodes to the same value).
//!
//! The shapes start from golden vectors (tests/golden/vectors.json) so that the many fields
//! nobody varies stay realistic.

use crate::common::*;
use causeway_h323_asn1::h323_messages::{
    AliasAddress, CallIdentifier, ConferenceIdentifier, EndpointIdentifier, FacilityReason,
    H323UUPDUH323MessageBody, H323UserInformation, RasMessage, ReleaseCompleteReason, TimeToLive,
    TransportAddress,
};
use causeway_h323_asn1::h460::{IncomingCallIndication, LRQKeepAliveData, TraversalParameters};
use causeway_h323_asn1::multimedia_system_control::{
    IndicationMessage, LogicalChannelNumber, MultimediaSystemControlMessage,
    OpenLogicalChannelAckForwardMultiplexAckParameters,
    OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters, RequestMessage,
    ResponseMessage, SequenceNumber, UserInputIndication,
};
use causeway_h323_asn1::rasn::{
    aper,
    types::{GeneralString, Ia5String},
    Decode, Encode,
};
use proptest::prelude::*;
use std::fmt::Debug;

fn round_trips<T: Encode + Decode + PartialEq + Debug>(value: &T) -> Result<(), TestCaseError> {
    let bytes = aper::encode(value).map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    let back: T = aper::decode(&bytes)
        .map_err(|e| TestCaseError::fail(format!("decode of {}: {e}", hex::encode(&bytes))))?;
    prop_assert_eq!(&back, value);
    Ok(())
}

// ---- field strategies -----------------------------------------------------------------------

fn transport() -> impl Strategy<Value = TransportAddress> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| ta4(a, p)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(a, p)| ta6(a, p)),
    ]
}

/// Text of the Basic Multilingual Plane as BMPString allows it (no surrogates, not U+FFFE/F).
fn bmp_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::char::range(' ', '~'),
            1 => proptest::char::range('\u{a0}', '\u{d7ff}'),
            1 => proptest::char::range('\u{e000}', '\u{fffd}'),
        ],
        1..=max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn alias() -> impl Strategy<Value = AliasAddress> {
    prop_oneof![
        "[0-9#*,]{1,32}".prop_map(|s| e164(&s)),
        bmp_text(64).prop_map(|s| h323_id(&s)),
        "h323:[a-z0-9.]{1,30}@[a-z0-9.]{1,30}".prop_map(|s| url(&s)),
        "[a-z0-9._]{1,30}@[a-z0-9.]{1,30}".prop_map(|s| email(&s)),
        transport().prop_map(AliasAddress::transportID),
    ]
}

fn aliases(max: usize) -> impl Strategy<Value = Vec<AliasAddress>> {
    proptest::collection::vec(alias(), 1..=max)
}

fn endpoint_id() -> impl Strategy<Value = EndpointIdentifier> {
    bmp_text(128).prop_map(|s| EndpointIdentifier(bmp(&s)))
}

fn call_id() -> impl Strategy<Value = CallIdentifier> {
    any::<[u8; 16]>().prop_map(|g| CallIdentifier::new(guid(g)))
}

fn seq_num() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

// ---- RAS --------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn rrq_round_trips(
        seq in seq_num(),
        csa in proptest::collection::vec(transport(), 1..3),
        ras_addr in transport(),
        alias in proptest::option::of(aliases(4)),
        ttl in proptest::option::of(1..=u32::MAX),
        keep_alive in any::<bool>(),
        epid in proptest::option::of(endpoint_id()),
    ) {
        let RasMessage::registrationRequest(mut rrq) = decode("rrq") else { unreachable!() };
        rrq.request_seq_num.0 = seq;
        rrq.call_signal_address = csa;
        rrq.ras_address = vec![ras_addr];
        rrq.terminal_alias = alias;
        rrq.time_to_live = ttl.map(TimeToLive);
        rrq.keep_alive = Some(keep_alive);
        rrq.endpoint_identifier = epid;
        round_trips(&RasMessage::registrationRequest(rrq))?;
    }

    #[test]
    fn rcf_round_trips(seq in seq_num(), csa in transport(), epid in endpoint_id(),
                       ttl in proptest::option::of(1..=u32::MAX)) {
        let RasMessage::registrationConfirm(mut rcf) = decode("rcf") else { unreachable!() };
        rcf.request_seq_num.0 = seq;
        rcf.call_signal_address = vec![csa];
        rcf.endpoint_identifier = epid;
        rcf.time_to_live = ttl.map(TimeToLive);
        round_trips(&RasMessage::registrationConfirm(rcf))?;
    }

    #[test]
    fn arq_acf_round_trip(
        seq in seq_num(),
        dest in proptest::option::of(aliases(3)),
        src in aliases(3),
        bw in any::<u32>(),
        crv in any::<u16>(),
        cid in call_id(),
        conf in any::<[u8; 16]>(),
        answer in any::<bool>(),
        dest_addr in transport(),
        irr in proptest::option::of(1..=u16::MAX),
    ) {
        let RasMessage::admissionRequest(mut arq) = decode("arq") else { unreachable!() };
        arq.request_seq_num.0 = seq;
        arq.destination_info = dest;
        arq.src_info = src;
        arq.band_width.0 = bw;
        arq.call_reference_value.0 = crv;
        arq.call_identifier = Some(cid);
        arq.conference_id = ConferenceIdentifier(guid(conf));
        arq.answer_call = answer;
        round_trips(&RasMessage::admissionRequest(arq))?;

        let RasMessage::admissionConfirm(mut acf) = decode("acf") else { unreachable!() };
        acf.request_seq_num.0 = seq;
        acf.band_width.0 = bw;
        acf.dest_call_signal_address = dest_addr;
        acf.irr_frequency = irr;
        round_trips(&RasMessage::admissionConfirm(acf))?;
    }

    #[test]
    fn lrq_lcf_round_trip(
        seq in seq_num(),
        dest in aliases(3),
        reply in transport(),
        hop in proptest::option::of(1..=255u8),
        csa in transport(),
    ) {
        let RasMessage::locationRequest(mut lrq) = decode("lrq") else { unreachable!() };
        lrq.request_seq_num.0 = seq;
        lrq.destination_info = dest.clone();
        lrq.reply_address = reply.clone();
        lrq.hop_count = hop;
        round_trips(&RasMessage::locationRequest(lrq))?;

        let RasMessage::locationConfirm(mut lcf) = decode("lcf") else { unreachable!() };
        lcf.request_seq_num.0 = seq;
        lcf.call_signal_address = csa;
        lcf.ras_address = reply;
        lcf.destination_info = Some(dest);
        round_trips(&RasMessage::locationConfirm(lcf))?;
    }

    #[test]
    fn drq_urq_round_trip(seq in seq_num(), epid in endpoint_id(), crv in any::<u16>(),
                          cid in call_id(), csa in transport()) {
        let RasMessage::disengageRequest(mut drq) = decode("drq") else { unreachable!() };
        drq.request_seq_num.0 = seq;
        drq.endpoint_identifier = epid.clone();
        drq.call_reference_value.0 = crv;
        drq.call_identifier = Some(cid);
        round_trips(&RasMessage::disengageRequest(drq))?;

        let RasMessage::unregistrationRequest(mut urq) = decode("urq") else { unreachable!() };
        urq.request_seq_num.0 = seq;
        urq.endpoint_identifier = Some(epid);
        urq.call_signal_address = vec![csa];
        round_trips(&RasMessage::unregistrationRequest(urq))?;
    }
}

// ---- H323-UserInformation ---------------------------------------------------------------------

fn release_reason() -> impl Strategy<Value = ReleaseCompleteReason> {
    prop_oneof![
        Just(ReleaseCompleteReason::noBandwidth(())),
        Just(ReleaseCompleteReason::destinationRejection(())),
        Just(ReleaseCompleteReason::undefinedReason(())),
        // NULL extension-addition alternatives (open type 01 00).
        Just(ReleaseCompleteReason::calledPartyNotRegistered(())),
        Just(ReleaseCompleteReason::securityDenied(())),
    ]
}

proptest! {
    #[test]
    fn setup_round_trips(
        src in proptest::option::of(aliases(4)),
        dest in proptest::option::of(aliases(4)),
        dest_addr in proptest::option::of(transport()),
        cid in call_id(),
        conf in any::<[u8; 16]>(),
        fast_start in proptest::option::of(proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 1..64), 1..4)),
        tunnelling in proptest::option::of(any::<bool>()),
    ) {
        let mut ui: H323UserInformation = decode("setup");
        let H323UUPDUH323MessageBody::setup(s) = &mut ui.h323_uu_pdu.h323_message_body
        else { unreachable!() };
        s.source_address = src;
        s.destination_address = dest;
        s.dest_call_signal_address = dest_addr;
        s.call_identifier = Some(cid);
        s.conference_id = ConferenceIdentifier(guid(conf));
        s.fast_start = fast_start.map(|v| v.into_iter().map(Into::into).collect());
        ui.h323_uu_pdu.h245_tunnelling = tunnelling;
        round_trips(&ui)?;
    }

    #[test]
    fn connect_round_trips(h245 in proptest::option::of(transport()), cid in call_id(),
                           control in proptest::option::of(proptest::collection::vec(
                               proptest::collection::vec(any::<u8>(), 1..200), 1..3))) {
        let mut ui: H323UserInformation = decode("connect");
        let H323UUPDUH323MessageBody::connect(c) = &mut ui.h323_uu_pdu.h323_message_body
        else { unreachable!() };
        c.h245_address = h245;
        c.call_identifier = Some(cid);
        ui.h323_uu_pdu.h245_control = control.map(|v| v.into_iter().map(Into::into).collect());
        round_trips(&ui)?;
    }

    #[test]
    fn release_complete_and_facility_round_trip(
        reason in proptest::option::of(release_reason()),
        cid in call_id(),
        alt in proptest::option::of(transport()),
        start_h245 in any::<bool>(),
    ) {
        let mut ui: H323UserInformation = decode("release_complete");
        let H323UUPDUH323MessageBody::releaseComplete(rc) = &mut ui.h323_uu_pdu.h323_message_body
        else { unreachable!() };
        rc.reason = reason;
        rc.call_identifier = Some(cid.clone());
        round_trips(&ui)?;

        let mut ui: H323UserInformation = decode("facility");
        let H323UUPDUH323MessageBody::facility(f) = &mut ui.h323_uu_pdu.h323_message_body
        else { unreachable!() };
        f.alternative_address = alt;
        f.call_identifier = Some(cid);
        f.reason = if start_h245 {
            FacilityReason::startH245(())
        } else {
            FacilityReason::routeCallToGatekeeper(())
        };
        round_trips(&ui)?;
    }
}

// ---- H.245 ------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn olc_and_ack_round_trip(
        channel in 1..=u16::MAX,
        session in any::<u8>(),
        rtp in (any::<[u8; 4]>(), any::<u16>()),
        rtcp in proptest::option::of((any::<[u8; 4]>(), any::<u16>())),
        payload_type in proptest::option::of(96..=127u8),
    ) {
        let MultimediaSystemControlMessage::request(RequestMessage::openLogicalChannel(mut olc)) =
            decode("olc") else { unreachable!() };
        olc.forward_logical_channel_number = LogicalChannelNumber(channel);
        let OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters::h2250LogicalChannelParameters(p) =
            &mut olc.forward_logical_channel_parameters.multiplex_parameters
        else { unreachable!() };
        p.session_id = session;
        p.media_channel = Some(h245_ta4(rtp.0, rtp.1));
        p.media_control_channel = rtcp.map(|(a, port)| h245_ta4(a, port));
        p.dynamic_rtppayload_type = payload_type;
        round_trips(&MultimediaSystemControlMessage::request(
            RequestMessage::openLogicalChannel(olc)))?;

        let MultimediaSystemControlMessage::response(ResponseMessage::openLogicalChannelAck(mut ack)) =
            decode("olc_ack") else { unreachable!() };
        ack.forward_logical_channel_number = LogicalChannelNumber(channel);
        let Some(OpenLogicalChannelAckForwardMultiplexAckParameters::h2250LogicalChannelAckParameters(p)) =
            &mut ack.forward_multiplex_ack_parameters else { unreachable!() };
        p.session_id = Some(session).filter(|s| *s >= 1);
        p.media_channel = Some(h245_ta4(rtp.0, rtp.1));
        p.media_control_channel = rtcp.map(|(a, port)| h245_ta4(a, port));
        round_trips(&MultimediaSystemControlMessage::response(
            ResponseMessage::openLogicalChannelAck(ack)))?;
    }

    #[test]
    fn tcs_rtd_uii_round_trip(
        seq in any::<u8>(),
        text in "[ -~]{1,40}",
        signal in "[0-9#*A-D!]",
        duration in proptest::option::of(1..=u16::MAX),
    ) {
        let MultimediaSystemControlMessage::request(RequestMessage::terminalCapabilitySet(mut tcs)) =
            decode("tcs") else { unreachable!() };
        tcs.sequence_number = SequenceNumber(seq);
        round_trips(&MultimediaSystemControlMessage::request(
            RequestMessage::terminalCapabilitySet(tcs)))?;

        let MultimediaSystemControlMessage::request(RequestMessage::roundTripDelayRequest(mut rtd)) =
            decode("rtd_request") else { unreachable!() };
        rtd.sequence_number = SequenceNumber(seq);
        round_trips(&MultimediaSystemControlMessage::request(
            RequestMessage::roundTripDelayRequest(rtd)))?;

        round_trips(&MultimediaSystemControlMessage::indication(IndicationMessage::userInput(
            UserInputIndication::alphanumeric(GeneralString::from_bytes(text.as_bytes()).unwrap()),
        )))?;

        let MultimediaSystemControlMessage::indication(IndicationMessage::userInput(
            UserInputIndication::signal(mut sig))) = decode("uii_signal") else { unreachable!() };
        sig.signal_type = Ia5String::try_from(signal).unwrap();
        sig.duration = duration;
        round_trips(&MultimediaSystemControlMessage::indication(IndicationMessage::userInput(
            UserInputIndication::signal(sig))))?;
    }
}

// ---- arbitrary bytes --------------------------------------------------------------------------

/// Decoding must not panic; what decodes must encode, and decode again to the same value.
fn decode_is_total<T: Encode + Decode + PartialEq + Debug>(
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    if let Ok(value) = aper::decode::<T>(bytes) {
        round_trips(&value)?;
    }
    Ok(())
}

/// Arbitrary bytes, and golden vectors with a few bytes changed (which get much further into
/// the decoders than random bytes do).
fn input() -> impl Strategy<Value = Vec<u8>> {
    let names: Vec<String> = vectors().iter().map(|v| v.name.clone()).collect();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (
            proptest::sample::select(names),
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        )
            .prop_map(|(name, edits)| {
                let mut b = vector_bytes(&name);
                for (i, x) in edits {
                    let i = i.index(b.len());
                    b[i] = x;
                }
                b
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_bytes_as_ras(bytes in input()) {
        decode_is_total::<RasMessage>(&bytes)?;
    }

    #[test]
    fn any_bytes_as_user_information(bytes in input()) {
        decode_is_total::<H323UserInformation>(&bytes)?;
    }

    #[test]
    fn any_bytes_as_h245(bytes in input()) {
        decode_is_total::<MultimediaSystemControlMessage>(&bytes)?;
    }
}

// ---- H.460.18 / H.460.19 ----------------------------------------------------------------------

proptest! {
    #[test]
    fn h460_round_trip(
        csa in transport(),
        cid in call_id(),
        interval in 1..=u32::MAX,
        media in proptest::option::of((any::<[u8; 4]>(), any::<u16>())),
        mux_id in proptest::option::of(any::<u32>()),
        pt in proptest::option::of(0..=127u8),
    ) {
        round_trips(&IncomingCallIndication::new(csa, cid))?;
        round_trips(&LRQKeepAliveData::new(TimeToLive(interval)))?;
        let media = media.map(|(a, p)| h245_ta4(a, p));
        round_trips(&TraversalParameters::new(
            media.clone(), media.clone(), mux_id, media, pt, Some(TimeToLive(interval)),
        ))?;
    }
}
