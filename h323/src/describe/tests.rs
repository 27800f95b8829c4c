//! The ladder's view of H.323 messages built by the test endpoint's encoders, and of bytes that
//! are not H.323 at all.

use super::*;
use crate::asn;
use crate::endpoint::{self as ep, CallIds, Me};
use crate::q931::{CallReference, Cause, CauseValue, MessageType, Q931};
use causeway_h323_asn1::h323_messages as h225;
use proptest::prelude::*;

fn ids() -> CallIds {
    CallIds {
        crv: 7,
        call_id: [0xab; 16],
        conf_id: [0x11; 16],
    }
}

fn q931_with(kind: MessageType, uu: Vec<u8>) -> Vec<u8> {
    let mut m = Q931::new(kind, CallReference::new(7, false).expect("crv"));
    m.set_user_user(&uu).expect("uu");
    m.encode()
}

#[test]
fn setup_with_tunneled_h245_names_both_and_its_call() {
    let body = ep::setup_uuie(
        &ids(),
        vec![h225::AliasAddress::h323_ID(asn::bmp("alice"))],
        None,
        None,
        None,
        "192.0.2.1:1720".parse().expect("addr"),
    )
    .expect("setup");
    let tcs = ep::encode_h245(&ep::tcs(1)).expect("tcs");
    let uu = ep::encode_uu(body, true, vec![tcs]).expect("uu");
    let d = q931(&q931_with(MessageType::Setup, uu));
    assert_eq!(d.summary, "Setup [H.245 request terminalCapabilitySet]");
    assert_eq!(d.call.as_deref(), Some("abababababababababababababababab"));
    assert!(d.text.contains("call reference 7"), "{}", d.text);
    assert!(
        d.text.contains("setup(") && d.text.contains("alice"),
        "{}",
        d.text
    );
    assert!(d.text.contains("h245Control[0]: request("), "{}", d.text);
    assert_eq!(d.release, None);
    assert_eq!(d.from.as_deref(), Some("h323:alice"));
}

#[test]
fn release_complete_carries_its_cause() {
    let uu = ep::encode_uu(ep::release_complete_uuie(&ids(), None), false, vec![]).expect("uu");
    let mut m = Q931::new(
        MessageType::ReleaseComplete,
        CallReference::new(7, true).expect("crv"),
    );
    m.set_user_user(&uu).expect("uu");
    m.set_cause_ie(&Cause::new(CauseValue(17))).expect("cause");
    let d = q931(&m.encode());
    assert_eq!(d.summary, "ReleaseComplete cause 17");
    assert_eq!(d.release, Some(Some(17)));
    assert!(d.text.contains("(to originator)"), "{}", d.text);
}

#[test]
fn ras_admission_names_the_call_and_the_answer_its_request() {
    let me = Me {
        ras: "192.0.2.1:1719".parse().expect("addr"),
        csa: "192.0.2.1:1720".parse().expect("addr"),
        aliases: vec![h225::AliasAddress::h323_ID(asn::bmp("alice"))],
    };
    let arq = ep::arq(
        42,
        &me,
        asn::endpoint_id("ep1"),
        None,
        &ids(),
        None,
        vec![h225::AliasAddress::h323_ID(asn::bmp("alice"))],
        false,
    )
    .expect("arq");
    let d = ras(&ep::encode_ras(&arq).expect("encode"));
    assert_eq!(d.summary, "ARQ seq 42");
    assert_eq!((d.seq, d.answer), (Some(42), false));
    assert_eq!(d.call.as_deref(), Some("abababababababababababababababab"));
    assert_eq!(d.from.as_deref(), Some("h323:alice"));
    let drq = ep::drq(43, asn::endpoint_id("ep1"), None, &ids(), true);
    let d = ras(&ep::encode_ras(&drq).expect("encode"));
    assert_eq!(d.summary, "DRQ seq 43");
    assert!(d.call.is_some());
    let ucf = ras(&ep::encode_ras(&ep::ucf(44)).expect("encode"));
    assert_eq!((ucf.summary.as_str(), ucf.seq), ("UCF seq 44", Some(44)));
}

#[test]
fn separate_h245_payload_with_two_pdus_names_both() {
    let mut p = ep::encode_h245(&ep::tcs(1)).expect("tcs");
    p.extend(ep::encode_h245(&ep::msd(5)).expect("msd"));
    let d = h245(&p);
    assert_eq!(
        d.summary,
        "H.245 request terminalCapabilitySet, request masterSlaveDetermination"
    );
}

#[test]
fn garbage_is_described_not_refused() {
    for d in [q931(b"\x99garbage"), h245(b"\xff\xff"), ras(b"")] {
        assert!(d.summary.ends_with("(undecodable)"), "{}", d.summary);
        assert!(d.text.contains("does not decode"), "{}", d.text);
        assert_eq!(d.call, None);
    }
}

proptest! {
    /// Any bytes: a summary, a text within its bound, no panic.
    #[test]
    fn any_bytes_are_described_within_bounds(b in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for d in [q931(&b), h245(&b), ras(&b)] {
            prop_assert!(!d.summary.is_empty());
            prop_assert!(d.text.len() <= MAX_TEXT + 16);
        }
    }
}
