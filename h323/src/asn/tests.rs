//! Tests of the ASN.1 conversions: round trips through the causeway values, and the cases
//! where the forms this module replaced differed.

use super::*;
use causeway_h323_asn1::h323_messages::{AliasAddress, TransportAddress};
use causeway_h323_asn1::rasn::aper;
use std::net::SocketAddr;

#[test]
fn socket_addresses_round_trip() {
    for s in ["192.0.2.1:1720", "[2001:db8::1]:1719"] {
        let a: SocketAddr = s.parse().unwrap();
        assert_eq!(socket_addr(&transport_address(a)), Some(a));
    }
    let mapped: SocketAddr = "[::ffff:192.0.2.7]:15000".parse().unwrap();
    assert_eq!(
        socket_addr(&transport_address(mapped)),
        Some("192.0.2.7:15000".parse().unwrap())
    );
}

#[test]
fn h245_addresses_round_trip() {
    for s in ["192.0.2.1:40000", "[2001:db8::1]:40001"] {
        let a: SocketAddr = s.parse().unwrap();
        let h245 = h245_transport_address(a);
        assert_eq!(h245_socket_addr(&h245), Some(a));
        assert_eq!(socket_addr(&transport_address(a)), Some(a));
    }
    let mapped: SocketAddr = "[::ffff:192.0.2.7]:40002".parse().unwrap();
    assert_eq!(
        h245_socket_addr(&h245_transport_address(mapped)),
        Some("192.0.2.7:40002".parse().unwrap())
    );
    // an address of the wrong length has no H.245 form (it would not encode)
    let short = TransportAddress::ipAddress(
        causeway_h323_asn1::h323_messages::TransportAddressIpAddress::new(
            vec![192, 0, 2].into(),
            1,
        ),
    );
    assert_eq!(socket_addr(&short), None);
}

#[test]
fn aliases_round_trip_through_text() {
    for (kind, text) in [
        (AliasKind::E164, "1001"),
        (AliasKind::H323Id, "alice"),
        (AliasKind::H323Id, "Zoë"),
        (AliasKind::Url, "bob@example.com"),
        (AliasKind::Email, "carol@example.com"),
    ] {
        let a = alias_address(kind, text).unwrap();
        assert_eq!(
            alias_text(&a),
            Some(AliasText {
                kind,
                text: text.to_string()
            })
        );
    }
    assert!(alias_address(AliasKind::E164, "12a").is_none());
    assert!(alias_address(AliasKind::E164, "").is_none());
    let url = alias_address(AliasKind::Url, "h323:Dave@example.com").unwrap();
    assert_eq!(alias_text(&url).unwrap().text, "Dave@example.com");
}

#[test]
fn a_rewritten_alias_keeps_its_kind_when_it_fits_or_is_guessed() {
    let fits = alias_address_or_guess(AliasKind::H323Id, "alice");
    assert_eq!(fits, alias_address(AliasKind::H323Id, "alice").unwrap());
    let digits = alias_address_or_guess(AliasKind::Url, "1001");
    // "1001" fits a URL-ID, so the hint wins
    assert_eq!(digits, alias_address(AliasKind::Url, "1001").unwrap());
    let e164 = alias_address_or_guess(AliasKind::E164, "alice@example.com");
    assert_eq!(
        e164,
        alias_address(AliasKind::Url, "alice@example.com").unwrap()
    );
    let zoe = alias_address_or_guess(AliasKind::E164, "Zoë");
    assert_eq!(zoe, alias_address(AliasKind::H323Id, "Zoë").unwrap());
    let nothing = alias_address_or_guess(AliasKind::E164, "");
    assert_eq!(nothing, AliasAddress::h323_ID(bmp("invalid")));
}

#[test]
fn typed_aliases_round_trip_and_name_their_fault() {
    for text in [
        "h323:alice",
        "h323:Zoë",
        "e164:1001#",
        "url:h323:bob@example.com",
        "email:carol@example.com",
    ] {
        assert_eq!(typed_alias_text(&typed_alias(text).unwrap()), text);
    }
    let err = |t: &str| typed_alias(t).unwrap_err().to_string();
    assert_eq!(
        err("alice"),
        "alias `alice`: expected h323:NAME or e164:DIGITS"
    );
    assert_eq!(
        err("e164:12a"),
        "alias `e164:12a`: E.164 digits are 0-9 # * ,"
    );
    assert_eq!(err("e164:"), "alias `e164:`: E.164 digits are 0-9 # * ,");
    assert_eq!(err("tel:1001"), "alias `tel:1001`: unknown kind `tel`");
    assert!(err("url:zoë@example.com").starts_with("alias `url:zoë@example.com`: "));
}

#[test]
fn bmp_strings_are_utf16_code_units() {
    // not the UTF-8 bytes read as UCS-2 (what `BmpString::try_from(&str)` would do)
    let b = bmp("Zoë");
    assert_eq!(&b[..], &[0x5a, 0x6f, 0xeb]);
    assert_eq!(bmp_text(&b).as_deref(), Some("Zoë"));
    assert_eq!(bmp_text_lossy(&b), "Zoë");
    let mut broken = bmp("a");
    broken.push(0xd800);
    assert_eq!(bmp_text(&broken), None);
    assert_eq!(bmp_text_lossy(&broken), "a\u{fffd}");
    // outside the BMPString alphabet: built, but refused by the encoder
    assert!(aper::encode(&gatekeeper_id("gk\u{ffff}")).is_err());
    assert!(aper::encode(&gatekeeper_id("gk")).is_ok());
}

#[test]
fn identifiers_and_guids() {
    assert_eq!(bmp_text(&endpoint_id("ep-1").0).as_deref(), Some("ep-1"));
    assert_eq!(bmp_text(&gatekeeper_id("gk").0).as_deref(), Some("gk"));
    let bytes = [7u8; 16];
    assert_eq!(guid_bytes(&guid(bytes)), bytes);
    assert_eq!(guid_bytes(&call_identifier(bytes).guid), bytes);
    assert_eq!(&h225_protocol_identifier().0[..], &[0, 0, 8, 2250, 0, 7]);
    assert_eq!(&h245_protocol_identifier()[..], &[0, 0, 8, 245, 0, 15]);
    assert_eq!(
        choice_name(&AliasAddress::h323_ID(bmp("x"))),
        "h323_ID".to_string()
    );
}
