//! Unit tests of `sip/src/auth/params.rs`.

use super::*;
use proptest::prelude::*;

#[test]
fn any_order_quoted_and_tokens() {
    let v =
        parse_auth_value("Digest  username = \"Mu\\\"fasa\",realm=\"r\" , nc=00000001,qop=auth")
            .unwrap();
    assert_eq!(v.scheme, "Digest");
    assert_eq!(v.get("username"), Some("Mu\"fasa"));
    assert_eq!(v.get("nc"), Some("00000001"));
    assert_eq!(v.get("qop"), Some("auth"));
}

#[test]
fn duplicates_and_junk_are_malformed() {
    assert!(parse_auth_value("Digest realm=\"a\", realm=\"b\"").is_err());
    assert!(parse_auth_value("Digest realm=\"a").is_err());
    assert!(parse_auth_value("Digest realm").is_err());
}

proptest! {
    #[test]
    fn never_panics(s in ".{0,200}") {
        let _ = parse_auth_value(&s);
    }
}
