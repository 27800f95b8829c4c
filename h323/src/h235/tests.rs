//! H.235.1 procedure I: signing and verifying RAS tokens, named after the check they make.

use super::*;
use crate::asn::{self, AliasKind};
use crate::endpoint::{self, CallIds, Me};
use crate::ras::build;
use causeway_h323_asn1::h323_messages as h225;
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::types::{BitString, ObjectIdentifier};
use proptest::prelude::*;
use std::net::SocketAddr;

// Known-answer vector from testdata/make_vector.py: asn1tools 0.169.0 encoded the RRQ of
// h323-asn1/tests/golden/make_vectors.py (RRQ_FULL) with this token, Python's hmac/hashlib
// computed the HMAC-SHA1-96 over it with the hash zeroed. None of it comes from our code.
const KAT_PASSWORD: &str = "zone secret";
const KAT_SENDER: &str = "traversal-c";
const KAT_GENERAL: &str = "GK1";
const KAT_TIMESTAMP: u32 = 1700000000;
const KAT_RANDOM: i32 = 7;
const KAT_HASH_AT: usize = 198;
const KAT_HASH: &str = "51069383f44e15847e8e3957";
const KAT_SIGNED: &str = "0ec00001060008914a0006800100c000020a06b80100c000020a06b722c0b500534c\
156361757365776179207465737420656e64706f696e7402312e30000240040061006c00690063006501804334040047\
004b003160b500534c156361757365776179207465737420656e64706f696e7402312e3034ab0002000340012b520174\
070008816b000201c500070008816b000205c06553f0ff0107040047004b00310680171400740072006100760065007\
200730061006c002d0063070008816b000206006051069383f44e15847e8e39570100010001000100";

const NOW: u32 = 1_750_000_000;
const GK: &str = "causeway-e";
const C: &str = "traversal-c";
const PASSWORD: &str = "s3cret";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn creds() -> Credentials {
    Credentials {
        senders_id: C.into(),
        general_id: Some(GK.into()),
        password: PASSWORD.into(),
    }
}

fn me() -> Me {
    let ip = |port| SocketAddr::from(([192, 0, 2, 10], port));
    Me {
        ras: ip(1719),
        csa: ip(1720),
        aliases: vec![asn::alias_address(AliasKind::H323Id, "alice").expect("alias")],
    }
}

fn rrq(seq: u16) -> h225::RasMessage {
    endpoint::rrq(seq, &me(), 300, Some(asn::gatekeeper_id(GK)), None, true).expect("rrq")
}

fn passwords(sender: &str) -> Option<&'static str> {
    (sender == C).then_some(PASSWORD)
}

fn verifier() -> Verifier {
    Verifier::new(GK)
}

fn signed_rrq(seq: u16, now: u32, random: i32) -> Vec<u8> {
    sign(rrq(seq), &creds(), now, random).expect("sign")
}

fn verify(v: &mut Verifier, bytes: &[u8], now: u32) -> Result<Verified, TokenError> {
    v.verify_datagram(bytes, passwords, now).map(|(_, ok)| ok)
}

#[test]
fn sign_then_verify_round_trip() {
    let bytes = signed_rrq(1, NOW, 1);
    let (msg, ok) = verifier()
        .verify_datagram(&bytes, passwords, NOW)
        .expect("verifies");
    assert!(matches!(msg, h225::RasMessage::registrationRequest(_)));
    assert_eq!(
        ok,
        Verified {
            sender: C.into(),
            general_id: Some(GK.into()),
            timestamp: NOW,
            random: 1,
        }
    );
}

#[test]
fn token_layout_matches_h323plus() {
    let msg = endpoint::decode_ras(&signed_rrq(1, NOW, 9)).expect("decode");
    let tokens = crypto_tokens(&msg).expect("cryptoTokens");
    assert_eq!(tokens.len(), 1);
    let h = procedure_one(&tokens[0]).expect("procedure I token");
    assert_eq!(&h.token_oid[..], &[0, 0, 8, 235, 0, 2, 1]);
    assert_eq!(&h.hashed_vals.token_oid[..], &[0, 0, 8, 235, 0, 2, 5]);
    assert_eq!(&h.token.algorithm_oid[..], &[0, 0, 8, 235, 0, 2, 6]);
    assert_eq!(h.token.hash.len(), 96);
    assert_eq!(h.hashed_vals.time_stamp.as_ref().map(|t| t.0), Some(NOW));
    let sender = h.hashed_vals.senders_id.as_ref().expect("sendersID");
    assert_eq!(asn::bmp_text(&sender.0).as_deref(), Some(C));
    let general = h.hashed_vals.general_id.as_ref().expect("generalID");
    assert_eq!(asn::bmp_text(&general.0).as_deref(), Some(GK));
}

fn every_kind() -> Vec<(&'static str, h225::RasMessage)> {
    let me = me();
    let eid = asn::endpoint_id("ep-1");
    let gkid = Some(asn::gatekeeper_id(GK));
    let ids = CallIds {
        crv: 5,
        call_id: [1; 16],
        conf_id: [2; 16],
    };
    let ta = asn::transport_address(SocketAddr::from(([198, 51, 100, 1], 1720)));
    let alias = vec![asn::alias_address(AliasKind::H323Id, "bob").expect("alias")];
    let rcf = build::Rcf {
        seq: 2,
        gatekeeper: GK,
        endpoint: "ep-1",
        call_signal: vec![ta.clone()],
        aliases: None,
        ttl: 300,
    };
    let sci = h225::ServiceControlIndication::new(
        h225::RequestSeqNum(9),
        None,
        vec![],
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let scr = h225::ServiceControlResponse::new(
        h225::RequestSeqNum(9),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    vec![
        ("GRQ", endpoint::grq(1, &me).expect("grq")),
        ("RRQ", rrq(2)),
        ("RCF", build::rcf(rcf)),
        (
            "RRJ",
            build::rrj(2, GK, h225::RegistrationRejectReason::discoveryRequired(())),
        ),
        (
            "URQ",
            endpoint::urq(3, &me, gkid.clone(), Some(eid.clone())).expect("urq"),
        ),
        ("UCF", endpoint::ucf(3)),
        (
            "ARQ",
            endpoint::arq(
                4,
                &me,
                eid.clone(),
                gkid.clone(),
                &ids,
                Some(alias.clone()),
                alias.clone(),
                false,
            )
            .expect("arq"),
        ),
        ("ACF", build::acf(4, 1280, ta.clone(), None)),
        ("LRQ", build::lrq(5, GK, alias, ta.clone(), 3)),
        ("LCF", build::lcf(5, ta.clone(), ta)),
        (
            "LRJ",
            build::lrj(5, h225::LocationRejectReason::requestDenied(())),
        ),
        ("SCI", h225::RasMessage::serviceControlIndication(sci)),
        ("SCR", h225::RasMessage::serviceControlResponse(scr)),
        ("DRQ", endpoint::drq(6, eid.clone(), gkid, &ids, false)),
        ("DCF", build::dcf(6)),
        ("IRR", endpoint::irr(7, &me, eid).expect("irr")),
    ]
}

#[test]
fn every_kind_with_crypto_tokens_signs_and_verifies() {
    let mut v = verifier();
    for (random, (kind, msg)) in (1..).zip(every_kind()) {
        let bytes = sign(msg, &creds(), NOW, random).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let ok = verify(&mut v, &bytes, NOW).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(ok.random, i64::from(random), "{kind}");
    }
}

#[test]
fn admission_confirm_sequence_has_no_token_field() {
    let msg = h225::RasMessage::admissionConfirmSequence(vec![]);
    assert!(matches!(
        sign(msg, &creds(), NOW, 1),
        Err(SignError::NoTokenField)
    ));
}

#[test]
fn wrong_password_is_bad_hash() {
    let bytes = signed_rrq(1, NOW, 1);
    let got = verifier().verify_datagram(&bytes, |_| Some("not it"), NOW);
    assert_eq!(got.err(), Some(TokenError::BadHash { sender: C.into() }));
}

#[test]
fn unknown_sender_has_no_password() {
    let bytes = signed_rrq(1, NOW, 1);
    let got = verifier().verify_datagram(&bytes, |_| None::<&str>, NOW);
    assert_eq!(
        got.err(),
        Some(TokenError::UnknownSender { sender: C.into() })
    );
}

#[test]
fn wrong_general_id_refused() {
    let bytes = signed_rrq(1, NOW, 1);
    let got = verify(&mut Verifier::new("someone-else"), &bytes, NOW);
    assert_eq!(
        got,
        Err(TokenError::WrongGeneralId {
            expected: "someone-else".into(),
            got: Some(GK.into()),
        })
    );
}

#[test]
fn missing_general_id_refused_unless_allowed() {
    let mut c = creds();
    c.general_id = None;
    let bytes = sign(rrq(1), &c, NOW, 1).expect("sign");
    assert_eq!(
        verify(&mut verifier(), &bytes, NOW),
        Err(TokenError::WrongGeneralId {
            expected: GK.into(),
            got: None,
        })
    );
    let mut lenient = verifier().require_general_id(false);
    assert_eq!(
        verify(&mut lenient, &bytes, NOW).map(|v| v.general_id),
        Ok(None)
    );
}

#[test]
fn skew_window_edges_both_directions() {
    let mut v = verifier();
    assert_eq!(v.window(), 300);
    for (random, token_time) in [(1, NOW - 300), (2, NOW + 300)] {
        let bytes = signed_rrq(1, token_time, random);
        assert!(verify(&mut v, &bytes, NOW).is_ok(), "{token_time}");
    }
    for (random, token_time, skew) in [(3, NOW - 301, -301), (4, NOW + 301, 301)] {
        let bytes = signed_rrq(1, token_time, random);
        assert_eq!(
            verify(&mut v, &bytes, NOW),
            Err(TokenError::Stale { skew, window: 300 })
        );
    }
}

#[test]
fn configured_window_applies() {
    let mut v = verifier().with_window(10);
    assert!(verify(&mut v, &signed_rrq(1, NOW - 10, 1), NOW).is_ok());
    assert_eq!(
        verify(&mut v, &signed_rrq(1, NOW - 11, 2), NOW),
        Err(TokenError::Stale {
            skew: -11,
            window: 10
        })
    );
}

#[test]
fn replay_of_same_bytes_refused() {
    let mut v = verifier();
    let bytes = signed_rrq(1, NOW, 1);
    assert!(verify(&mut v, &bytes, NOW).is_ok());
    assert_eq!(
        verify(&mut v, &bytes, NOW + 5),
        Err(TokenError::Replayed {
            sender: C.into(),
            timestamp: NOW,
            random: 1,
        })
    );
}

#[test]
fn later_token_from_same_sender_accepted() {
    let mut v = verifier();
    assert!(verify(&mut v, &signed_rrq(1, NOW, 1), NOW).is_ok());
    // Same second, next random (H323Plus counts its tokens).
    assert!(verify(&mut v, &signed_rrq(2, NOW, 2), NOW).is_ok());
    // A later second.
    assert!(verify(&mut v, &signed_rrq(3, NOW + 1, 3), NOW + 1).is_ok());
    assert_eq!(v.senders_remembered(), 1);
}

#[test]
fn memory_stays_bounded_with_many_senders() {
    let max = 16;
    let mut v = verifier().with_memory(max, 4);
    let first = sign(
        rrq(1),
        &Credentials {
            senders_id: "sender-0".into(),
            ..creds()
        },
        NOW,
        1,
    )
    .expect("sign");
    for i in 0..200u32 {
        let c = Credentials {
            senders_id: format!("sender-{i}"),
            ..creds()
        };
        let bytes = sign(rrq(1), &c, NOW + i, 1).expect("sign");
        let got = v.verify_datagram(&bytes, |_| Some(PASSWORD), NOW + i);
        assert!(got.is_ok(), "sender {i}");
        assert!(v.senders_remembered() <= max);
    }
    assert_eq!(v.senders_remembered(), max);
    // sender-0 was forgotten long ago; its token is still refused (within the window).
    assert!(matches!(
        v.verify_datagram(&first, |_| Some(PASSWORD), NOW + 199),
        Err(TokenError::Replayed { .. })
    ));
}

#[test]
fn per_sender_memory_bounded_and_forgotten_tokens_still_refused() {
    let mut v = verifier().with_memory(4, 4);
    let tokens: Vec<Vec<u8>> = (1..=20).map(|r| signed_rrq(1, NOW, r)).collect();
    for t in &tokens {
        assert!(verify(&mut v, t, NOW).is_ok());
    }
    assert!(v.tokens_remembered() <= 4);
    for t in &tokens {
        assert!(matches!(
            verify(&mut v, t, NOW),
            Err(TokenError::Replayed { .. })
        ));
    }
}

#[test]
fn stale_tokens_leave_memory() {
    let mut v = verifier().with_memory(4, 8);
    assert!(verify(&mut v, &signed_rrq(1, NOW, 1), NOW).is_ok());
    assert!(verify(&mut v, &signed_rrq(1, NOW + 1000, 2), NOW + 1000).is_ok());
    assert_eq!(v.tokens_remembered(), 1);
}

#[test]
fn token_less_message_is_no_token() {
    let bytes = endpoint::encode_ras(&rrq(1)).expect("encode");
    assert_eq!(
        verify(&mut verifier(), &bytes, NOW),
        Err(TokenError::NoToken)
    );
}

#[test]
fn corrupted_hash_is_bad_hash() {
    let mut bytes = signed_rrq(1, NOW, 1);
    let msg = endpoint::decode_ras(&bytes).expect("decode");
    let h = procedure_one(&crypto_tokens(&msg).expect("tokens")[0]).expect("token");
    let hash = h.token.hash.as_raw_slice().to_vec();
    let at = bytes
        .windows(HASH_LEN)
        .position(|w| w == hash)
        .expect("hash in bytes");
    bytes[at + 3] ^= 0x10;
    assert_eq!(
        verify(&mut verifier(), &bytes, NOW),
        Err(TokenError::BadHash { sender: C.into() })
    );
}

#[test]
fn changed_message_is_bad_hash() {
    // The alias "alice" in BMP: change one letter, the token no longer covers the message.
    let mut bytes = signed_rrq(1, NOW, 1);
    let at = bytes
        .windows(4)
        .position(|w| w == [0, b'a', 0, b'l'])
        .expect("alias");
    bytes[at + 1] = b'm';
    assert_eq!(
        verify(&mut verifier(), &bytes, NOW),
        Err(TokenError::BadHash { sender: C.into() })
    );
}

#[test]
fn truncated_and_garbage_bytes_are_errors() {
    let bytes = signed_rrq(1, NOW, 1);
    let mut v = verifier();
    for len in 0..bytes.len() {
        assert!(verify(&mut v, &bytes[..len], NOW).is_err(), "prefix {len}");
    }
    for garbage in [&[0xffu8; 64][..], &[0u8; 3][..], b"tWelVe~byteS"] {
        assert!(verify(&mut v, garbage, NOW).is_err());
    }
}

#[test]
fn message_not_from_datagram_is_hash_not_found() {
    let bytes = signed_rrq(1, NOW, 1);
    let msg = endpoint::decode_ras(&bytes).expect("decode");
    let other = signed_rrq(2, NOW, 2);
    assert_eq!(
        verifier().verify(&other, &msg, passwords, NOW),
        Err(TokenError::Malformed(Malformed::HashNotInDatagram))
    );
}

#[test]
fn resigning_replaces_the_token() {
    let once = endpoint::decode_ras(&signed_rrq(1, NOW, 1)).expect("decode");
    let twice = sign(once, &creds(), NOW + 1, 2).expect("sign");
    let msg = endpoint::decode_ras(&twice).expect("decode");
    assert_eq!(crypto_tokens(&msg).map(<[_]>::len), Some(1));
    assert_eq!(
        verify(&mut verifier(), &twice, NOW + 1).map(|v| v.random),
        Ok(2)
    );
}

#[test]
fn sign_refuses_what_the_token_cannot_carry() {
    assert!(matches!(
        sign(rrq(1), &creds(), 0, 1),
        Err(SignError::ZeroTimestamp)
    ));
    let empty = Credentials {
        password: String::new(),
        ..creds()
    };
    assert!(matches!(
        sign(rrq(1), &empty, NOW, 1),
        Err(SignError::EmptyPassword)
    ));
    for (id, units) in [(String::new(), 0), ("x".repeat(129), 129)] {
        let c = Credentials {
            senders_id: id,
            ..creds()
        };
        assert!(matches!(
            sign(rrq(1), &c, NOW, 1),
            Err(SignError::Identifier { field: "sendersID", units: u }) if u == units
        ));
    }
    let c = Credentials {
        general_id: Some(String::new()),
        ..creds()
    };
    assert!(matches!(
        sign(rrq(1), &c, NOW, 1),
        Err(SignError::Identifier {
            field: "generalID",
            ..
        })
    ));
}

#[test]
fn message_containing_the_marker_still_signs() {
    let mut m = me();
    m.aliases =
        vec![asn::alias_address(AliasKind::Url, "h323:tWelVe~byteS@example.com").expect("alias")];
    let msg = endpoint::rrq(1, &m, 300, None, None, true).expect("rrq");
    let bytes = sign(msg, &creds(), NOW, 1).expect("sign");
    assert!(verify(&mut verifier(), &bytes, NOW).is_ok());
}

#[test]
fn version_one_oids_verify() {
    // An H.235 version 1 peer: 0.0.8.235.0.1.x. Build its token by hand, hash it ourselves.
    let mut msg = endpoint::decode_ras(&signed_rrq(1, NOW, 1)).expect("decode");
    let h235v1 = |arcs: &[u32]| {
        let mut a = arcs.to_vec();
        a[5] = 1;
        ObjectIdentifier::new(a).expect("oid")
    };
    if let Some(Some(tokens)) = crypto_tokens_field(&mut msg) {
        if let CryptoH323Token::nestedcryptoToken(CryptoToken::cryptoHashedToken(h)) =
            &mut tokens[0]
        {
            h.token_oid = h235v1(&OID_A);
            h.hashed_vals.token_oid = h235v1(&OID_T);
            h.token.algorithm_oid = h235v1(&OID_U);
            h.token.hash = BitString::from_slice(&[0; HASH_LEN]);
        }
    }
    let mut bytes = aper::encode(&msg).expect("encode");
    let mac = sign::hmac_sha1_96(&sign::password_key(PASSWORD.as_bytes()), &bytes);
    let at = bytes
        .windows(HASH_LEN)
        .rposition(|w| w == [0; HASH_LEN])
        .expect("zeros");
    bytes[at..at + HASH_LEN].copy_from_slice(&mac);
    assert!(verify(&mut verifier(), &bytes, NOW).is_ok());
}

#[test]
fn kat_hmac_sha1_96_of_asn1tools_rrq() {
    let mut zeroed = hex(KAT_SIGNED);
    assert_eq!(
        &zeroed[KAT_HASH_AT..KAT_HASH_AT + HASH_LEN],
        &hex(KAT_HASH)[..]
    );
    zeroed[KAT_HASH_AT..KAT_HASH_AT + HASH_LEN].fill(0);
    let key = sign::password_key(KAT_PASSWORD.as_bytes());
    assert_eq!(sign::hmac_sha1_96(&key, &zeroed).to_vec(), hex(KAT_HASH));
}

#[test]
fn kat_asn1tools_rrq_verifies() {
    let mut v = Verifier::new(KAT_GENERAL);
    let got = v.verify_datagram(
        &hex(KAT_SIGNED),
        |s| (s == KAT_SENDER).then_some(KAT_PASSWORD),
        KAT_TIMESTAMP,
    );
    let (_, ok) = got.expect("verifies");
    assert_eq!((ok.sender.as_str(), ok.random), (KAT_SENDER, 7));
}

#[test]
fn kat_our_signature_is_asn1tools_bytes() {
    // Take the token out of the vector's RRQ and sign it again: the same octets.
    let mut msg = endpoint::decode_ras(&hex(KAT_SIGNED)).expect("decode");
    if let Some(field) = crypto_tokens_field(&mut msg) {
        *field = None;
    }
    let c = Credentials {
        senders_id: KAT_SENDER.into(),
        general_id: Some(KAT_GENERAL.into()),
        password: KAT_PASSWORD.into(),
    };
    let ours = sign(msg, &c, KAT_TIMESTAMP, KAT_RANDOM).expect("sign");
    assert_eq!(ours, hex(KAT_SIGNED));
}

#[test]
fn credentials_debug_hides_password() {
    assert!(!format!("{:?}", creds()).contains(PASSWORD));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_sign_verify_round_trip(
        password in "\\PC{1,40}",
        sender in "[a-zA-Z0-9@._-]{1,64}",
        general in "\\PC{1,30}",
        now in 1u32..,
        random in any::<i32>(),
    ) {
        let c = Credentials { senders_id: sender.clone(), general_id: Some(general.clone()), password: password.clone() };
        let bytes = sign(rrq(1), &c, now, random).expect("sign");
        let mut v = Verifier::new(general);
        let ok = v.verify_datagram(&bytes, |s| (s == sender).then_some(password.as_str()), now);
        prop_assert_eq!(ok.map(|(_, v)| (v.sender, v.random)), Ok((sender.clone(), i64::from(random))));
    }

    #[test]
    fn prop_any_changed_octet_is_refused(at in any::<prop::sample::Index>(), xor in 1u8..) {
        let mut bytes = signed_rrq(1, NOW, 1);
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        prop_assert!(verify(&mut verifier(), &bytes, NOW).is_err());
    }

    /// What the fuzz target asserts: any message that decodes (here, RAS messages of every
    /// kind with one octet changed) and can be signed verifies.
    #[test]
    fn prop_whatever_decodes_signs_and_verifies(
        kind in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..,
    ) {
        let kinds = every_kind();
        let (_, msg) = &kinds[kind.index(kinds.len())];
        let mut bytes = aper::encode(msg).expect("encode");
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        if let Ok(msg) = aper::decode::<h225::RasMessage>(&bytes) {
            if let Ok(signed) = sign(msg, &creds(), NOW, 1) {
                prop_assert!(verify(&mut verifier(), &signed, NOW).is_ok());
            }
        }
    }

    #[test]
    fn prop_verify_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = verify(&mut verifier(), &bytes, NOW);
    }
}
