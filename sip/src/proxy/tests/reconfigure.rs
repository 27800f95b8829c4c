//! A reload's new policy on a running core, sans-IO: the next request meets the new dial plan,
//! registrar policy and credentials; a transaction in flight and the registrations made before
//! are untouched; a UA between its challenge and its retry is not failed by a credential change
//! elsewhere.

use super::digest::register;
use super::*;
use crate::auth::{respond, Algorithm};
use crate::proxy::core::AuthSettings;
use crate::proxy::Policy;
use causeway_config::Config;
use causeway_zones::Router;

/// A neighbor the new dial plan sends carol@example.com to.
const NEIGHBOR: &str = "127.0.0.1:6009";

fn policy(toml: &str, auth: Option<AuthSettings>) -> Policy {
    let cfg = Config::parse("reload.toml", toml).expect("config");
    Policy {
        domains: cfg.registrar_domains(),
        registrar: settings().registrar,
        auth,
        router: Router::from_config(&cfg),
        amplification_limit: false,
    }
}

const BASE: &str = r#"
[system]
role = "control"
domain = "example.com"
"#;

fn with_neighbor() -> String {
    format!(
        r#"{BASE}
[[zone]]
name = "partner"
type = "neighbor"
peer = "127.0.0.1:6009"

[[search_rule]]
name = "carol is the partner's"
priority = 10
pattern_type = "exact"
pattern = "carol@example.com"
target = "partner"
"#
    )
}

#[test]
fn the_next_call_meets_the_new_dial_plan_and_the_call_in_flight_completes() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1");
    // a call to bob in flight across the reload
    let out = h.send(UAC, &invite("z9hG4bKrl1", "bob"));
    let to_bob = out.last().unwrap().clone();
    assert_eq!(to_bob.dest, addr(UAS));
    // carol is nobody's yet
    let out = h.send(UAC, &invite("z9hG4bKrl2", "carol"));
    assert_eq!(status_of(out.last().unwrap()), 404);

    h.core.reconfigure(policy(&with_neighbor(), None));

    // bob's 200 still reaches the caller through the transaction made before
    let out = h.send(UAS, &answer(&to_bob, 200, "OK", Some("b1")));
    assert_eq!(out.len(), 1);
    assert_eq!(status_of(&out[0]), 200);
    assert_eq!(out[0].dest, addr(UAC));
    // carol now goes to the neighbor; bob's registration survived
    let out = h.send(UAC, &invite("z9hG4bKrl3", "carol"));
    assert_eq!(
        out.last().unwrap().dest,
        addr(NEIGHBOR),
        "{}",
        text(out.last().unwrap())
    );
    let out = h.send(UAC, &invite("z9hG4bKrl4", "bob"));
    assert_eq!(out.last().unwrap().dest, addr(UAS));
}

#[test]
fn a_new_registrar_domain_is_ours_from_the_next_register() {
    let mut h = Harness::new();
    let reg = |branch: &str| {
        format!(
            "REGISTER sip:example.org SIP/2.0
Via: SIP/2.0/UDP {UAS};branch={branch}
Max-Forwards: 70
From: <sip:dave@example.org>;tag=r1
To: <sip:dave@example.org>
Call-ID: reg-dave-{branch}
CSeq: 1 REGISTER
Contact: <sip:dave@{UAS}>
Expires: 600
Content-Length: 0

"
        )
    };
    let before = h.send(UAS, &reg("z9hG4bKd1"));
    assert_ne!(status_of(before.last().unwrap()), 200);
    let toml = format!("{BASE}\n[registrar]\ndomains = [\"example.com\", \"example.org\"]\n");
    h.core.reconfigure(policy(&toml, None));
    let after = h.send(UAS, &reg("z9hG4bKd2"));
    assert_eq!(status_of(after.last().unwrap()), 200, "{}", text(&after[0]));
}

fn auth(password: &str, realm: &str) -> AuthSettings {
    AuthSettings {
        realm: realm.into(),
        algorithms: vec![Algorithm::Sha256],
        credentials: [("bob".to_string(), password.to_string())].into(),
        nonce_lifetime: Duration::from_secs(300),
        secret: [9; 32],
    }
}

#[test]
fn a_changed_password_applies_and_a_pending_challenge_stays_valid() {
    let mut h = Harness::new();
    h.core
        .reconfigure(policy(BASE, Some(auth("old-secret", "example.com"))));
    let out = h.send(UAS, &register(1, None));
    assert_eq!(
        status_of(&out[0]),
        401,
        "authentication turned on by the reload"
    );
    let challenge = header(&text(&out[0]), "WWW-Authenticate")[0].to_string();
    // the password changes between the challenge and the retry
    h.core
        .reconfigure(policy(BASE, Some(auth("new-secret", "example.com"))));
    let old = respond(
        &challenge,
        "REGISTER",
        "sip:example.com",
        "bob",
        "old-secret",
        "c",
        1,
    )
    .unwrap();
    let out = h.send(UAS, &register(2, Some(&old)));
    assert_eq!(status_of(&out[0]), 403, "the old password no longer works");
    let new = respond(
        &challenge,
        "REGISTER",
        "sip:example.com",
        "bob",
        "new-secret",
        "c",
        2,
    )
    .unwrap();
    let out = h.send(UAS, &register(3, Some(&new)));
    assert_eq!(status_of(&out[0]), 200, "the same nonce, the new password");
}

#[test]
fn turning_authentication_off_lets_the_next_register_in() {
    let mut h = Harness::new();
    h.core
        .reconfigure(policy(BASE, Some(auth("secret", "example.com"))));
    assert_eq!(status_of(&h.send(UAS, &register(1, None))[0]), 401);
    h.core.reconfigure(policy(BASE, None));
    assert_eq!(status_of(&h.send(UAS, &register(2, None))[0]), 200);
}
