//! Tests of Q.931 messages and their information elements (Q.931 section 4, H.225.0 7.2):
//! H.225.0 Setup and ReleaseComplete vectors, typed views, malformed input that names its fault,
//! and property tests against a reference encoder.

use super::ie::*;
use super::*;
use proptest::prelude::*;

/// An H.225.0 Setup built by hand from Q.931 4.5 / H.225.0 7.2.2 (not by our encoder).
const SETUP: &[u8] = &[
    0x08, // protocol discriminator Q.931
    0x02, 0x12, 0x34, // call reference: 2 octets, flag 0, value 0x1234
    0x05, // Setup
    0x04, 0x03, 0x88, 0x90, 0xa5, // Bearer: ITU-T, unrestricted digital; circuit 64k; H.221
    0x28, 0x05, b'A', b'l', b'i', b'c', b'e', // Display "Alice"
    0x6c, 0x06, 0x01, 0x80, b'1', b'0', b'0', b'1', // Calling: E.164, allowed, "1001"
    0x70, 0x05, 0x81, b'2', b'0', b'0', b'2', // Called: E.164, "2002"
    0x7e, 0x00, 0x06, 0x05, 0x20, 0xa8, 0x06, 0x00, 0x08, // User-user, 2-octet length
];

/// ReleaseComplete, flag 1 (sent by the called side), Cause 16 normal call clearing, location
/// user (Q.850 2.2.5).
const RELEASE_COMPLETE: &[u8] = &[0x08, 0x02, 0x92, 0x34, 0x5a, 0x08, 0x02, 0x80, 0x90];

#[test]
fn h225_7_setup_vector_typed_views() {
    let m = Q931::parse(SETUP).unwrap();
    assert_eq!(m.message_type, MessageType::Setup);
    assert_eq!(m.call_reference.len(), 2);
    assert_eq!(m.call_reference.value(), 0x1234);
    assert!(!m.call_reference.flag());
    assert_eq!(m.ies().len(), 5);
    let bc = m.bearer_capability().unwrap().unwrap();
    assert_eq!(bc.coding_standard, 0);
    assert_eq!(
        bc.info_transfer_capability,
        InfoTransferCapability::UnrestrictedDigital
    );
    assert_eq!(bc.raw, vec![0x88, 0x90, 0xa5]);
    assert_eq!(m.display().unwrap().as_deref(), Some("Alice"));
    let calling = m.calling_party_number().unwrap().unwrap();
    assert_eq!(calling.numbering_plan, NumberingPlan::E164);
    assert_eq!(calling.type_of_number, TypeOfNumber::Unknown);
    assert_eq!(
        calling.presentation,
        Some(Presentation {
            indicator: 0,
            screening: 0
        })
    );
    assert_eq!(calling.digits, "1001");
    let called = m.called_party_number().unwrap().unwrap();
    assert_eq!(called, PartyNumber::e164("2002"));
    let uu = m.user_user().unwrap().unwrap();
    assert_eq!(uu.protocol, UU_PROTOCOL_X208);
    assert_eq!(uu.data, vec![0x20, 0xa8, 0x06, 0x00, 0x08]);
    assert_eq!(m.cause(), Ok(None));
    assert_eq!(m.encode(), SETUP);
}

#[test]
fn h225_7_setup_built_with_builders_matches_vector() {
    let mut m = Q931::new(
        MessageType::Setup,
        CallReference::new(0x1234, false).unwrap(),
    );
    // Set out of order: the builders keep ascending identifier order (Q.931 4.5.1).
    m.set_user_user(&[0x20, 0xa8, 0x06, 0x00, 0x08]).unwrap();
    m.set_called_party_number(&PartyNumber::e164("2002"))
        .unwrap();
    m.set_display("Alice").unwrap();
    let mut calling = PartyNumber::e164("1001");
    calling.presentation = Some(Presentation {
        indicator: 0,
        screening: 0,
    });
    m.set_calling_party_number(&calling).unwrap();
    m.set_bearer_capability(vec![0x88, 0x90, 0xa5]).unwrap();
    assert_eq!(m.encode(), SETUP);
    assert_eq!(m.encoded_len(), SETUP.len());
}

#[test]
fn q850_release_complete_cause_16_normal_clearing() {
    let m = Q931::parse(RELEASE_COMPLETE).unwrap();
    assert_eq!(m.message_type, MessageType::ReleaseComplete);
    assert!(m.call_reference.flag());
    assert_eq!(m.call_reference.value(), 0x1234);
    let c = m.cause().unwrap().unwrap();
    assert_eq!(c.value, CauseValue::NORMAL_CALL_CLEARING);
    assert_eq!(c.location, 0);
    assert_eq!(c.coding_standard, 0);
    assert_eq!(c.recommendation, None);
    assert!(c.diagnostics.is_empty());

    let mut built = Q931::new(
        MessageType::ReleaseComplete,
        CallReference::new(0x1234, false).unwrap().reply(),
    );
    built.set_cause(CauseValue::NORMAL_CALL_CLEARING).unwrap();
    assert_eq!(built.encode(), RELEASE_COMPLETE);
}

#[test]
fn q931_4_5_12_cause_with_recommendation_and_diagnostics() {
    // Octet 3 ext 0 -> octet 3a (Q.931 recommendation 0), cause 17 busy, 2 diagnostic octets.
    let content = [0x02, 0x80, 0x91, 0xaa, 0xbb];
    let c = Cause::decode(&content).unwrap();
    assert_eq!(c.location, 2);
    assert_eq!(c.recommendation, Some(0));
    assert_eq!(c.value, CauseValue::USER_BUSY);
    assert_eq!(c.diagnostics, vec![0xaa, 0xbb]);
    assert_eq!(c.encode(), content);
    assert_eq!(
        Cause::decode(&[0x80]),
        Err(Q931Error::BadIe {
            id: IE_CAUSE,
            fault: IeFault::Truncated
        })
    );
    assert_eq!(
        Cause::decode(&[0x80, 0x10]),
        Err(Q931Error::BadIe {
            id: IE_CAUSE,
            fault: IeFault::BadValue
        })
    );
}

#[test]
fn q931_4_5_10_number_missing_octet_3a() {
    assert_eq!(
        PartyNumber::decode(IE_CALLING_PARTY_NUMBER, &[0x01]),
        Err(Q931Error::BadIe {
            id: IE_CALLING_PARTY_NUMBER,
            fault: IeFault::Truncated
        })
    );
    assert_eq!(
        PartyNumber::decode(IE_CALLED_PARTY_NUMBER, &[0x81, 0xb1]),
        Err(Q931Error::BadIe {
            id: IE_CALLED_PARTY_NUMBER,
            fault: IeFault::NotIa5
        })
    );
}

#[test]
fn bad_typed_ie_still_round_trips() {
    // A Display in UTF-8: the view refuses it, the message passes through unchanged.
    let msg = [0x08, 0x02, 0x00, 0x01, 0x05, 0x28, 0x02, 0xc3, 0xa9];
    let m = Q931::parse(&msg).unwrap();
    assert_eq!(
        m.display(),
        Err(Q931Error::BadIe {
            id: IE_DISPLAY,
            fault: IeFault::NotIa5
        })
    );
    assert_eq!(m.encode(), msg);
}

#[test]
fn q931_4_3_call_reference_lengths() {
    let dummy = Q931::parse(&[0x08, 0x00, 0x62]).unwrap();
    assert!(dummy.call_reference.is_empty());
    assert_eq!(dummy.message_type, MessageType::Facility);
    assert_eq!(dummy.encode(), [0x08, 0x00, 0x62]);
    let one = Q931::parse(&[0x08, 0x01, 0x85, 0x7d]).unwrap();
    assert_eq!(one.call_reference.len(), 1);
    assert!(one.call_reference.flag());
    assert_eq!(one.call_reference.value(), 5);
    assert_eq!(one.message_type, MessageType::Status);
    assert_eq!(one.encode(), [0x08, 0x01, 0x85, 0x7d]);
    assert_eq!(
        Q931::parse(&[0x08, 0x03, 0, 0, 0, 0x05]),
        Err(Q931Error::BadCallReferenceLength(3))
    );
    assert_eq!(
        Q931::parse(&[0x08, 0x12, 0, 0, 0x05]),
        Err(Q931Error::BadCallReferenceLength(0x12))
    );
    assert_eq!(
        CallReference::new(0x8000, false),
        Err(Q931Error::CallReferenceValue(0x8000))
    );
}

#[test]
fn q931_4_4_unknown_message_type_kept() {
    let m = Q931::parse(&[0x08, 0x02, 0x00, 0x01, 0x4d]).unwrap();
    assert_eq!(m.message_type, MessageType::Other(0x4d));
    assert_eq!(m.encode(), [0x08, 0x02, 0x00, 0x01, 0x4d]);
    for t in [1u8, 2, 3, 5, 7, 0x5a, 0x62, 0x6e, 0x75, 0x7b, 0x7d] {
        assert!(!matches!(MessageType::from_u8(t), MessageType::Other(_)));
        assert_eq!(MessageType::from_u8(t).to_u8(), t);
    }
}

#[test]
fn header_errors_name_the_field() {
    assert_eq!(
        Q931::parse(&[]),
        Err(Q931Error::Truncated("protocol discriminator"))
    );
    assert_eq!(
        Q931::parse(&[0x09, 0x02, 0, 1, 5]),
        Err(Q931Error::BadDiscriminator(0x09))
    );
    assert_eq!(
        Q931::parse(&[0x08]),
        Err(Q931Error::Truncated("call reference length"))
    );
    assert_eq!(
        Q931::parse(&[0x08, 0x02, 0x00]),
        Err(Q931Error::Truncated("call reference"))
    );
    assert_eq!(
        Q931::parse(&[0x08, 0x02, 0x00, 0x01]),
        Err(Q931Error::Truncated("message type"))
    );
}

#[test]
fn truncated_ie() {
    assert_eq!(
        Q931::parse(&[0x08, 0x02, 0, 1, 5, 0x28]),
        Err(Q931Error::TruncatedIe {
            id: 0x28,
            offset: 5
        })
    );
    assert_eq!(
        Q931::parse(&[0x08, 0x02, 0, 1, 5, 0x28, 0x05, b'A']),
        Err(Q931Error::IeOverrun {
            id: 0x28,
            offset: 5,
            len: 5,
            available: 1
        })
    );
    // Every strict prefix of the Setup that cuts an element is refused, never a panic.
    for n in 5..SETUP.len() {
        let cut = Q931::parse(&SETUP[..n]);
        let boundary = [5, 10, 17, 25, 32].contains(&n);
        assert_eq!(cut.is_ok(), boundary, "prefix {n}");
    }
}

#[test]
fn h225_7_2_2_17_user_user_length_beyond_message() {
    assert_eq!(
        Q931::parse(&[0x08, 0x02, 0, 1, 5, 0x7e, 0x01, 0x00, 0x05, 0x01]),
        Err(Q931Error::IeOverrun {
            id: 0x7e,
            offset: 5,
            len: 256,
            available: 2
        })
    );
    assert_eq!(
        Q931::parse(&[0x08, 0x02, 0, 1, 5, 0x7e, 0x00]),
        Err(Q931Error::TruncatedIe {
            id: 0x7e,
            offset: 5
        })
    );
    // A User-user longer than 255 octets (the reason for the 2-octet length).
    let mut m = Q931::new(MessageType::Setup, CallReference::new(1, false).unwrap());
    m.set_user_user(&[0x55; 1000]).unwrap();
    let wire = m.encode();
    assert_eq!(&wire[5..8], &[0x7e, 0x03, 0xe9]);
    assert_eq!(Q931::parse(&wire).unwrap(), m);
}

#[test]
fn q931_4_5_3_shifted_codeset_user_user_has_short_length() {
    // Locking shift to codeset 6, then an element 0x7e of codeset 6 (1-octet length), then a
    // non-locking shift to codeset 5 covering one element, and codeset 6 again.
    let msg = [
        0x08, 0x02, 0, 1, 0x05, // header
        0x7e, 0x00, 0x01, 0x05, // codeset 0 User-user, 2-octet length
        0x96, // locking shift to codeset 6
        0x7e, 0x01, 0xaa, // codeset 6 element 0x7e: 1-octet length
        0x9d, // non-locking shift to codeset 5
        0x7e, 0x00, // codeset 5 element 0x7e
        0x28, 0x00, // back in codeset 6
    ];
    let m = Q931::parse(&msg).unwrap();
    let sets: Vec<(u8, u8)> = m.ies().iter().map(|i| (i.codeset(), i.id())).collect();
    assert_eq!(
        sets,
        vec![
            (0, 0x7e),
            (0, 0x96),
            (6, 0x7e),
            (6, 0x9d),
            (5, 0x7e),
            (6, 0x28)
        ]
    );
    assert_eq!(m.encode(), msg);
    // Typed views look at codeset 0 only.
    assert_eq!(m.display(), Ok(None));
}

#[test]
fn limits_on_parse_and_build() {
    let mut msg = vec![0x08, 0x02, 0, 1, 0x05];
    msg.extend(std::iter::repeat_n(0xa1, MAX_IES));
    assert_eq!(Q931::parse(&msg).unwrap().ies().len(), MAX_IES);
    msg.push(0xa1);
    assert_eq!(Q931::parse(&msg), Err(Q931Error::TooManyIes));
    let big = vec![0u8; MAX_MESSAGE_LEN + 1];
    assert_eq!(
        Q931::parse(&big),
        Err(Q931Error::TooLong(MAX_MESSAGE_LEN + 1))
    );

    let mut m = Q931::new(MessageType::Setup, CallReference::dummy());
    for _ in 0..MAX_IES {
        m.push_ie(0xa1, Vec::new()).unwrap();
    }
    assert_eq!(m.push_ie(0xa1, Vec::new()), Err(Q931Error::TooManyIes));
    assert_eq!(m.set_display("x"), Err(Q931Error::TooManyIes));
    assert_eq!(
        Ie::new(0x28, vec![0; 256]),
        Err(Q931Error::IeContentTooLong {
            id: 0x28,
            len: 256,
            max: 255
        })
    );
    assert!(Ie::new(0xa1, vec![0]).is_err());
    let mut m = Q931::new(MessageType::Setup, CallReference::dummy());
    assert!(matches!(
        m.set_user_user(&[0; MAX_UU_CONTENT - 1]),
        Err(Q931Error::TooLong(_))
    ));
}

#[test]
fn set_replaces_and_remove() {
    let mut m = Q931::parse(SETUP).unwrap();
    m.set_display("Bob").unwrap();
    assert_eq!(m.display().unwrap().as_deref(), Some("Bob"));
    assert_eq!(m.ies().len(), 5);
    m.set_cause(CauseValue::CALL_REJECTED).unwrap();
    let ids: Vec<u8> = m.ies().iter().map(Ie::id).collect();
    assert_eq!(ids, vec![0x04, 0x08, 0x28, 0x6c, 0x70, 0x7e]);
    assert!(m.remove_ie(IE_DISPLAY));
    assert!(!m.remove_ie(IE_DISPLAY));
    assert_eq!(m.display(), Ok(None));
    assert!(m.set_display("é").is_err());
    assert!(m.set_ie(0x96, Vec::new()).is_err());
    assert!(m.set_bearer_capability(vec![]).is_err());
}

/// A reference encoder for generated messages, written apart from the one under test: it
/// tracks the codeset the same way a receiver must (Q.931 4.5.3).
fn reference_encode(cr: &[u8], mt: u8, ies: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0x08, cr.len() as u8];
    out.extend_from_slice(cr);
    out.push(mt);
    let mut locked = 0;
    let mut once = None;
    for (id, content) in ies {
        let codeset = once.take().unwrap_or(locked);
        out.push(*id);
        if id & 0x80 != 0 {
            if id & 0xf0 == 0x90 {
                if id & 0x08 == 0 {
                    locked = id & 7;
                } else {
                    once = Some(id & 7);
                }
            }
            continue;
        }
        if codeset == 0 && *id == 0x7e {
            out.extend_from_slice(&(content.len() as u16).to_be_bytes());
            out.extend_from_slice(content);
        } else {
            // An element with a 1-octet length carries at most 255 octets.
            let content = &content[..content.len().min(255)];
            out.push(content.len() as u8);
            out.extend_from_slice(content);
        }
    }
    out
}

fn arb_ie() -> impl Strategy<Value = (u8, Vec<u8>)> {
    prop_oneof![
        (0x80u8..=0xff).prop_map(|id| (id, Vec::new())),
        (0u8..0x80, proptest::collection::vec(any::<u8>(), 0..40)),
        Just(0x7e).prop_flat_map(|id| {
            proptest::collection::vec(any::<u8>(), 0..400).prop_map(move |c| (id, c))
        }),
        (
            prop::sample::select(vec![0x04u8, 0x08, 0x28, 0x6c, 0x70]),
            proptest::collection::vec(any::<u8>(), 0..30)
        ),
    ]
}

fn arb_message() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(any::<u8>(), 0..=2),
        any::<u8>(),
        proptest::collection::vec(arb_ie(), 0..MAX_IES),
    )
        .prop_map(|(cr, mt, ies)| reference_encode(&cr, mt, &ies))
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = Q931::parse(&bytes) {
            prop_assert_eq!(m.encode(), bytes);
            let _ = (m.bearer_capability(), m.display(), m.called_party_number(),
                     m.calling_party_number(), m.cause(), m.user_user());
        }
    }

    #[test]
    fn parse_never_panics_after_valid_header(
        tail in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = vec![0x08, 0x02, 0x00, 0x01, 0x05];
        bytes.extend_from_slice(&tail);
        if let Ok(m) = Q931::parse(&bytes) {
            prop_assert_eq!(m.encode(), bytes);
        }
    }

    #[test]
    fn encode_parse_is_identity(msg in arb_message()) {
        let m = Q931::parse(&msg).unwrap();
        prop_assert_eq!(m.encoded_len(), msg.len());
        prop_assert_eq!(m.encode(), msg);
    }

    #[test]
    fn typed_views_round_trip(
        digits in "[0-9*#]{0,20}",
        ton in 0u8..8, plan in 0u8..16,
        pres in proptest::option::of((0u8..4, 0u8..4)),
        cause in 0u8..128, loc in 0u8..16,
        diag in proptest::collection::vec(any::<u8>(), 0..8),
        uu in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let n = PartyNumber {
            type_of_number: match PartyNumber::decode(0x70, &[0x80 | (ton << 4)]) {
                Ok(p) => p.type_of_number,
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            },
            numbering_plan: match PartyNumber::decode(0x70, &[0x80 | plan]) {
                Ok(p) => p.numbering_plan,
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            },
            presentation: pres.map(|(indicator, screening)| Presentation { indicator, screening }),
            digits,
        };
        let c = Cause { coding_standard: 0, location: loc, recommendation: None,
                        value: CauseValue(cause), diagnostics: diag };
        let mut m = Q931::new(MessageType::Setup, CallReference::new(7, true).unwrap());
        m.set_calling_party_number(&n).unwrap();
        m.set_called_party_number(&n).unwrap();
        m.set_cause_ie(&c).unwrap();
        m.set_user_user(&uu).unwrap();
        let back = Q931::parse(&m.encode()).unwrap();
        prop_assert_eq!(back.calling_party_number().unwrap().unwrap(), n.clone());
        prop_assert_eq!(back.called_party_number().unwrap().unwrap(), n);
        prop_assert_eq!(back.cause().unwrap().unwrap(), c);
        prop_assert_eq!(back.user_user().unwrap().unwrap().data, uu);
        prop_assert_eq!(back, m);
    }
}
