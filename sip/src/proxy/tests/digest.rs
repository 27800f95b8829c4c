//! REGISTER with digest through the core (RFC 7616): a replayed Authorization gets a fresh
//! challenge, refusals name no user, and failures are counted per source.

use super::*;
use crate::auth::{respond, Algorithm};
use crate::proxy::core::AuthSettings;

fn harness() -> Harness {
    let mut s = settings();
    s.auth = Some(AuthSettings {
        realm: "example.com".into(),
        algorithms: vec![Algorithm::Sha256],
        credentials: [("bob".to_string(), "secret".to_string())].into(),
        nonce_lifetime: Duration::from_secs(300),
        secret: [5; 32],
    });
    let now = Instant::now();
    Harness {
        core: core(s, vec![(Transport::Udp, addr(PROXY))], now),
        now,
        other: Vec::new(),
    }
}

pub(super) fn register(cseq: u32, authorization: Option<&str>) -> String {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\n"));
    format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {UAS};branch=z9hG4bKdig{cseq}
Max-Forwards: 70
From: <sip:bob@example.com>;tag=r1
To: <sip:bob@example.com>
Call-ID: digest-bob
CSeq: {cseq} REGISTER
Contact: <sip:bob@{UAS}>
{auth}Expires: 600
Content-Length: 0

"
    )
}

fn challenge_of(h: &mut Harness, cseq: u32) -> String {
    let out = h.send(UAS, &register(cseq, None));
    let r = text(&out[0]);
    assert_eq!(status_of(&out[0]), 401, "{r}");
    header(&r, "WWW-Authenticate")[0].to_string()
}

#[test]
fn rfc7616_a_replayed_authorization_is_challenged_again() {
    let mut h = harness();
    let ch = challenge_of(&mut h, 1);
    let a = respond(&ch, "REGISTER", "sip:example.com", "bob", "secret", "c1", 1).unwrap();
    let out = h.send(UAS, &register(2, Some(&a)));
    assert_eq!(status_of(&out[0]), 200, "{}", text(&out[0]));
    // the same credentials again with a new CSeq: a replay
    let out = h.send(UAS, &register(3, Some(&a)));
    let r = text(&out[0]);
    assert_eq!(status_of(&out[0]), 401, "{r}");
    let fresh = header(&r, "WWW-Authenticate")[0];
    assert_ne!(fresh, ch, "a new nonce");
    assert!(!fresh.contains("stale=true"), "{fresh}");
    assert_eq!(h.core.auth_failures().count(addr(UAS).ip()), 1);
    // counting on from the first is fine
    let a2 = respond(&ch, "REGISTER", "sip:example.com", "bob", "secret", "c1", 2).unwrap();
    let out = h.send(UAS, &register(4, Some(&a2)));
    assert_eq!(status_of(&out[0]), 200, "{}", text(&out[0]));
}

#[test]
fn two_challenges_at_once_carry_different_nonces() {
    let mut h = harness();
    assert_ne!(challenge_of(&mut h, 1), challenge_of(&mut h, 2));
}

#[test]
fn refusals_name_no_user_and_are_counted() {
    let mut h = harness();
    for (n, user) in [(1, "bob"), (2, "mallory")] {
        let ch = challenge_of(&mut h, 10 * n);
        let a = respond(&ch, "REGISTER", "sip:example.com", user, "guess", "c", 1).unwrap();
        let out = h.send(UAS, &register(10 * n + 1, Some(&a)));
        let status_line = text(&out[0]).lines().next().unwrap_or("").to_string();
        assert_eq!(status_line, "SIP/2.0 403 Forbidden (authentication failed)");
    }
    assert_eq!(h.core.auth_failures().count(addr(UAS).ip()), 2);
    assert_eq!(h.core.auth_failures().total(), 2);
}
