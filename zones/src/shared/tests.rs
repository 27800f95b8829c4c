//! Unit tests of `zones/src/shared.rs`.

use super::*;
use std::time::Duration;

fn sip(aor: &str, until: Instant) -> Owner {
    Owner {
        protocol: Protocol::Sip,
        id: aor.into(),
        until: Some(until),
        address: None,
    }
}

fn h323(id: &str) -> Owner {
    Owner {
        protocol: Protocol::H323,
        id: id.into(),
        until: None,
        address: None,
    }
}

#[test]
fn one_protocol_cannot_claim_what_the_other_holds_until_it_lapses_or_is_released() {
    let t = SharedAliases::default();
    let now = Instant::now();
    let later = now + Duration::from_secs(60);
    t.claim(
        "sip:Alice@Example.com",
        sip("sip:alice@example.com", later),
        now,
    )
    .unwrap();
    let err = t.claim("alice@example.com", h323("ep-1"), now).unwrap_err();
    assert_eq!(err.protocol, Protocol::Sip);
    // the SIP claim lapses with its bindings
    assert!(t.claim("alice@example.com", h323("ep-1"), later).is_ok());
    assert_eq!(t.owner("ALICE@example.com", later).unwrap().id, "ep-1");
    assert!(t
        .claim("h323:alice@example.com", h323("ep-2"), later)
        .is_err());
    t.release("alice@example.com", "ep-2");
    assert!(
        t.owner("alice@example.com", later).is_some(),
        "not ep-2's to release"
    );
    t.release("alice@example.com", "ep-1");
    assert!(t.owner("alice@example.com", later).is_none());
}

#[test]
fn keys_drop_the_scheme_and_case() {
    assert_eq!(key("sip:Bob@EXAMPLE.com"), "bob@example.com");
    assert_eq!(key("tel:1001"), "1001");
    assert_eq!(key("H323:room"), "room");
    assert_eq!(key("plain"), "plain");
}

#[test]
fn changes_count_what_a_peer_publishes_not_refreshes() {
    let t = SharedAliases::default();
    let now = Instant::now();
    let later = now + std::time::Duration::from_secs(60);
    assert_eq!(t.changes(), 0);
    t.claim("bob@example.com", sip("sip:bob@example.com", later), now)
        .unwrap();
    assert_eq!(t.changes(), 1, "a new alias");
    t.claim("bob@example.com", sip("sip:bob@example.com", later), now)
        .unwrap();
    assert_eq!(t.changes(), 1, "a refresh");
    assert!(t.claim("bob@example.com", h323("ep-1"), now).is_err());
    assert_eq!(t.changes(), 1, "a refused claim");
    t.claim("bob@example.com", h323("ep-1"), later).unwrap();
    assert_eq!(t.changes(), 2, "the lapsed claim taken by another owner");
    t.release("bob@example.com", "someone else");
    assert_eq!(t.changes(), 2);
    t.release("bob@example.com", "ep-1");
    assert_eq!(t.changes(), 3);
}
