//! Unit tests of `zones/src/alias.rs`.

use super::*;

#[test]
fn parse_splits_at_the_last_at_sign() {
    assert_eq!(
        Alias::parse("a@b@Example.COM"),
        Alias::new(Some("a@b"), Some("example.com"))
    );
    assert_eq!(
        Alias::parse("bob@example.com").to_string(),
        "bob@example.com"
    );
}

#[test]
fn parse_without_at_sign_is_a_domain_only_with_a_dot() {
    assert_eq!(
        Alias::parse("Example.com"),
        Alias::new(None, Some("example.com"))
    );
    assert_eq!(Alias::parse("1234"), Alias::new(Some("1234"), None));
    assert_eq!(Alias::parse(""), Alias::new(None, None));
}

#[test]
fn empty_parts_survive_a_round_trip() {
    assert_eq!(Alias::parse("@example.com").to_string(), "@example.com");
    assert_eq!(Alias::parse("bob@").to_string(), "bob@");
}

proptest::proptest! {
    #[test]
    fn parse_of_display_is_stable(s in "\\PC*") {
        let a = Alias::parse(&s);
        proptest::prop_assert_eq!(Alias::parse(&a.to_string()), a);
    }
}
