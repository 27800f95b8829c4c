//! Unit tests of `src/check_route.rs`.

use super::alias_of;

#[test]
fn uris_are_reduced_to_user_and_host() {
    for (typed, alias) in [
        ("bob@example.com", "bob@example.com"),
        ("sip:bob@Example.com", "bob@example.com"),
        (
            "<sips:bob@example.com:5061;transport=tls>",
            "bob@example.com",
        ),
        ("SIP:bob@[2001:db8::1]:5060", "bob@[2001:db8::1]"),
        ("sip:bob@example.com?subject=x", "bob@example.com"),
        ("sip:example.com", "example.com"),
        ("tel:+4412345;phone-context=x", "+4412345"),
        ("h323:1234", "1234"),
        ("bob@host:5060", "bob@host:5060"),
    ] {
        assert_eq!(alias_of(typed).to_string(), alias, "{typed}");
    }
}
