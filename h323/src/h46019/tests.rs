//! H.460.19 traversal parameters in OLC/OLCAck and feature 19: round trips, placement among
//! other genericInformation entries, what reads as absent, and feature descriptors.

use super::feature::{self, Feature19};
use super::*;
use crate::endpoint::{decode_h245, encode_h245, olc, olc_ack, H245Msg};
use causeway_h323_asn1::h323_messages::FeatureSet;
use causeway_h323_asn1::multimedia_system_control::{
    H245TransportAddress, MulticastAddress, MulticastAddressIPAddress, RequestMessage,
    ResponseMessage,
};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn full() -> TraversalParams {
    TraversalParams {
        multiplexed_media: Some(sa("198.51.100.1:36000")),
        multiplexed_control: Some(sa("198.51.100.1:36001")),
        multiplex_id: Some(0x0102_0304),
        keep_alive_channel: Some(sa("198.51.100.1:36000")),
        keep_alive_payload_type: Some(KEEP_ALIVE_PAYLOAD_TYPE),
        keep_alive_interval: Some(KEEP_ALIVE_INTERVAL),
    }
}

fn an_olc() -> OpenLogicalChannel {
    match olc(1, sa("192.0.2.10:5005")).unwrap() {
        H245Msg::request(RequestMessage::openLogicalChannel(o)) => o,
        m => panic!("{m:?}"),
    }
}

fn an_ack() -> OpenLogicalChannelAck {
    match olc_ack(1, sa("192.0.2.10:5004"), sa("192.0.2.10:5005")).unwrap() {
        H245Msg::response(ResponseMessage::openLogicalChannelAck(a)) => a,
        m => panic!("{m:?}"),
    }
}

/// Another genericInformation entry (some other OID) that must survive our edits.
fn other_entry() -> GenericInformation {
    let id = ObjectIdentifier::new_unchecked(Cow::Owned(vec![0, 0, 8, 239, 2]));
    GenericInformation(GenericMessage::new(
        CapabilityIdentifier::standard(id),
        Some(3),
        None,
    ))
}

/// An H.460.19 entry whose parameter 1 holds `value`.
fn entry_with(param: u8, value: ParameterValue) -> GenericInformation {
    let id = ObjectIdentifier::new_unchecked(Cow::Borrowed(OID));
    GenericInformation(GenericMessage::new(
        CapabilityIdentifier::standard(id),
        None,
        Some(vec![GenericParameter::new(
            ParameterIdentifier::standard(param),
            value,
            None,
        )]),
    ))
}

#[test]
fn olc_carries_the_parameters_through_the_wire() {
    let mut o = an_olc();
    assert_eq!(olc_params(&o), None);
    let p = TraversalParams {
        keep_alive_channel: Some(sa("203.0.113.9:40000")),
        keep_alive_interval: Some(19),
        ..TraversalParams::default()
    };
    assert!(set_olc_params(&mut o, Some(&p)));
    let bytes = encode_h245(&H245Msg::request(RequestMessage::openLogicalChannel(o))).unwrap();
    let H245Msg::request(RequestMessage::openLogicalChannel(back)) = decode_h245(&bytes).unwrap()
    else {
        panic!("not an OLC")
    };
    assert_eq!(olc_params(&back), Some(p));
}

#[test]
fn ack_carries_the_parameters_through_the_wire() {
    let mut a = an_ack();
    let p = TraversalParams {
        keep_alive_payload_type: Some(116),
        multiplex_id: Some(7),
        multiplexed_media: Some(sa("[2001:db8::1]:36000")),
        ..TraversalParams::default()
    };
    assert!(set_ack_params(&mut a, Some(&p)));
    let msg = H245Msg::response(ResponseMessage::openLogicalChannelAck(a));
    let H245Msg::response(ResponseMessage::openLogicalChannelAck(back)) =
        decode_h245(&encode_h245(&msg).unwrap()).unwrap()
    else {
        panic!("not an OLCAck")
    };
    assert_eq!(ack_params(&back), Some(p));
}

#[test]
fn our_entry_goes_first_and_replaces_the_received_one() {
    let mut o = an_olc();
    let old = TraversalParams {
        multiplex_id: Some(1),
        ..TraversalParams::default()
    };
    o.generic_information = Some(vec![other_entry(), generic_information(&old).unwrap()]);
    assert_eq!(olc_params(&o), Some(old));
    assert!(set_olc_params(&mut o, Some(&full())));
    let info = o.generic_information.as_deref().unwrap();
    assert_eq!(info.len(), 2, "the old H.460.19 entry is gone");
    assert!(is_19(&info[0]));
    assert_eq!(info[1], other_entry());
    assert_eq!(olc_params(&o), Some(full()));
    // setting the same again changes nothing
    assert!(!set_olc_params(&mut o, Some(&full())));
}

#[test]
fn stripping_removes_only_h46019_and_empties_to_absent() {
    let mut o = an_olc();
    assert!(!set_olc_params(&mut o, None), "nothing to strip");
    assert_eq!(o.generic_information, None);
    o.generic_information = Some(vec![generic_information(&full()).unwrap(), other_entry()]);
    assert!(set_olc_params(&mut o, None));
    assert_eq!(o.generic_information, Some(vec![other_entry()]));
    let mut a = an_ack();
    a.generic_information = Some(vec![generic_information(&full()).unwrap()]);
    assert!(set_ack_params(&mut a, None));
    assert_eq!(a.generic_information, None);
    assert_eq!(ack_params(&a), None);
}

#[test]
fn what_is_not_traversal_parameters_reads_as_absent() {
    let garbage = ParameterValue::octetString(OctetString::from(vec![0xff; 9]));
    let good = ParameterValue::octetString(OctetString::from(encode_params(&full()).unwrap()));
    let cases = [
        vec![other_entry()],
        vec![entry_with(1, garbage.clone())],
        vec![entry_with(2, good.clone())],
        vec![entry_with(1, ParameterValue::unsigned32Max(5))],
        vec![entry_with(
            1,
            ParameterValue::octetString(OctetString::from(Vec::new())),
        )],
    ];
    for info in cases {
        assert_eq!(find(Some(&info)), None, "{info:?}");
    }
    assert_eq!(find(None), None);
    assert_eq!(find(Some(&[])), None);
    // a readable entry after an unreadable one is still found
    let info = [entry_with(1, garbage), entry_with(1, good)];
    assert_eq!(find(Some(&info)), Some(full()));
}

#[test]
fn an_address_causeway_cannot_reach_reads_as_absent() {
    let multicast = H245TransportAddress::multicastAddress(MulticastAddress::iPAddress(
        MulticastAddressIPAddress::new(OctetString::from(vec![224, 0, 1, 1]), 5000),
    ));
    let p = TraversalParameters::new(Some(multicast), None, Some(9), None, None, None);
    let bytes = aper::encode(&p).unwrap();
    assert_eq!(
        decode_params(&bytes),
        Some(TraversalParams {
            multiplex_id: Some(9),
            ..TraversalParams::default()
        })
    );
}

#[test]
fn values_outside_the_asn1_ranges_are_left_out() {
    let p = TraversalParams {
        keep_alive_payload_type: Some(200),
        keep_alive_interval: Some(0),
        multiplex_id: Some(u32::MAX),
        ..TraversalParams::default()
    };
    let back = decode_params(&encode_params(&p).unwrap()).unwrap();
    assert_eq!(
        back,
        TraversalParams {
            multiplex_id: Some(u32::MAX),
            ..TraversalParams::default()
        }
    );
    assert_eq!(
        decode_params(&encode_params(&TraversalParams::default()).unwrap()),
        Some(TraversalParams::default())
    );
}

#[test]
fn an_ipv4_mapped_address_reads_back_as_ipv4() {
    let mapped = SocketAddr::new(
        IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped()),
        4000,
    );
    let p = TraversalParams {
        keep_alive_channel: Some(mapped),
        ..TraversalParams::default()
    };
    let back = decode_params(&encode_params(&p).unwrap()).unwrap();
    assert_eq!(back.keep_alive_channel, Some(sa("192.0.2.7:4000")));
}

// ---- golden vector --------------------------------------------------------------------------

/// h323-asn1/tests/golden/vectors.json `olc_h46019`: asn1tools 0.169.0 (aligned PER, the ITU
/// H.245 module in ../shared/asn1 and h46019.asn, make_vectors.py) encoding of the G.711 OLC
/// (channel 101, RTCP 192.0.2.10:5005) with TraversalParameters multiplexedMediaChannel
/// 198.51.100.1:36000, multiplexedMediaControlChannel :36001, multiplexID 0x01020304,
/// keepAliveChannel :36000, keepAlivePayloadType 116, keepAliveInterval 19.
const OLC_H46019: &str = "038000640c6013801215000100c000020a138c00c000020a138d0004402c0120070008\
                          834c1300010100161e7e00c63364018ca000c63364018ca1c00102030400c63364018c\
                          a0e80012";

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn reads_and_writes_the_asn1tools_olc() {
    let golden = unhex(OLC_H46019);
    let H245Msg::request(RequestMessage::openLogicalChannel(mut o)) = decode_h245(&golden).unwrap()
    else {
        panic!("not an OLC")
    };
    let want = TraversalParams {
        multiplexed_media: Some(sa("198.51.100.1:36000")),
        multiplexed_control: Some(sa("198.51.100.1:36001")),
        multiplex_id: Some(0x0102_0304),
        keep_alive_channel: Some(sa("198.51.100.1:36000")),
        keep_alive_payload_type: Some(116),
        keep_alive_interval: Some(19),
    };
    assert_eq!(olc_params(&o), Some(want));
    // stripped, it is the plain OLC; our entry put back gives asn1tools' bytes again
    assert!(set_olc_params(&mut o, None));
    assert!(set_olc_params(&mut o, Some(&want)));
    let ours = encode_h245(&H245Msg::request(RequestMessage::openLogicalChannel(o))).unwrap();
    assert_eq!(ours, golden);
}

// ---- feature 19 ---------------------------------------------------------------------------

fn supported(d: Vec<causeway_h323_asn1::h323_messages::FeatureDescriptor>) -> FeatureSet {
    FeatureSet::new(false, None, None, Some(d))
}

#[test]
fn feature_descriptors_say_what_they_were_built_with() {
    for (m, s) in [(false, false), (true, false), (false, true), (true, true)] {
        let f = Feature19 {
            transmit_multiplexed: m,
            traversal_server: s,
        };
        let fs = supported(vec![feature::descriptor(f)]);
        assert_eq!(feature::find(Some(&fs)), Some(f));
    }
    assert_eq!(feature::find(None), None);
    assert_eq!(
        feature::find(Some(&crate::h46018::feature_set())),
        None,
        "18 alone is not 19"
    );
}

#[test]
fn feature_19_is_found_in_desired_and_needed_features_too() {
    let d = feature::descriptor(Feature19::default());
    let desired = FeatureSet::new(false, None, Some(vec![d.clone()]), None);
    let needed = FeatureSet::new(false, Some(vec![d]), None, None);
    assert!(feature::announces(Some(&desired)));
    assert!(feature::announces(Some(&needed)));
}

#[test]
fn with_feature_keeps_18_and_replaces_an_older_19() {
    let fs = crate::h46018::feature_set();
    let fs = feature::with_feature(fs, Feature19::default());
    let server = Feature19 {
        traversal_server: true,
        ..Feature19::default()
    };
    let fs = feature::with_feature(fs, server);
    assert!(crate::h46018::announces(Some(&fs)));
    assert_eq!(feature::find(Some(&fs)), Some(server));
    assert_eq!(fs.supported_features.as_ref().map(Vec::len), Some(2));
}

// ---- properties ---------------------------------------------------------------------------

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)).to_canonical(), port)
        }),
    ]
}

prop_compose! {
    fn params()(
        multiplexed_media in proptest::option::of(addr()),
        multiplexed_control in proptest::option::of(addr()),
        multiplex_id in proptest::option::of(any::<u32>()),
        keep_alive_channel in proptest::option::of(addr()),
        keep_alive_payload_type in proptest::option::of(0u8..=127),
        keep_alive_interval in proptest::option::of(1u32..),
    ) -> TraversalParams {
        TraversalParams {
            multiplexed_media,
            multiplexed_control,
            multiplex_id,
            keep_alive_channel,
            keep_alive_payload_type,
            keep_alive_interval,
        }
    }
}

proptest! {
    #[test]
    fn params_round_trip(p in params()) {
        prop_assert_eq!(decode_params(&encode_params(&p).unwrap()), Some(p));
    }

    #[test]
    fn params_round_trip_in_a_whole_olc_and_ack(p in params()) {
        let mut o = an_olc();
        o.generic_information = Some(vec![other_entry()]);
        set_olc_params(&mut o, Some(&p));
        let msg = H245Msg::request(RequestMessage::openLogicalChannel(o));
        let H245Msg::request(RequestMessage::openLogicalChannel(back)) =
            decode_h245(&encode_h245(&msg).unwrap()).unwrap() else { panic!() };
        prop_assert_eq!(olc_params(&back), Some(p));
        let mut a = an_ack();
        set_ack_params(&mut a, Some(&p));
        prop_assert_eq!(ack_params(&a), Some(p));
    }

    #[test]
    fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Some(p) = decode_params(&bytes) {
            // what decodes, encodes, and reads back the same
            prop_assert_eq!(decode_params(&encode_params(&p).unwrap()), Some(p));
        }
        let info = [entry_with(1, ParameterValue::octetString(OctetString::from(bytes)))];
        let _ = find(Some(&info));
    }

    #[test]
    fn mutated_parameters_never_panic(
        p in params(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_params(&p).unwrap();
        for (i, x) in flips {
            if !bytes.is_empty() {
                let n = bytes.len();
                bytes[i % n] ^= x;
            }
        }
        let _ = decode_params(&bytes);
    }
}
