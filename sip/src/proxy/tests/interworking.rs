//! SIP -> H.323 interworking as the proxy routes it, sans-IO: a local alias only an H.323
//! endpoint registered (the alias table shared with the gatekeeper) goes to the node's
//! interworking gateway, after every SIP target; never with `[interworking] mode = "off"`,
//! never for a SIP-registered alias, never back to the gateway a request came from.

use super::*;
use crate::proxy::Interworking;
use causeway_config::{Config, InterworkingMode};
use causeway_zones::{Owner, Protocol, Router, SharedAliases};

/// The node's gateway (SIP UDP, loopback).
const GATEWAY: &str = "127.0.0.1:40000";

/// example.com's registrar, with a rule that strips `@example.com` from numbers (to reach an
/// H.323 endpoint's E.164 alias) and the implicit local-domain rule; a gateway in `mode`.
fn harness(mode: Option<InterworkingMode>) -> (Harness, SharedAliases) {
    let cfg = Config::parse(
        "t.toml",
        r#"
[system]
role = "control"
domain = "example.com"

[[search_rule]]
name = "numbers"
priority = 40
pattern_type = "regex"
pattern = '(\d+)@example\.com'
pattern_behavior = "replace"
replace = '\1'
on_match = "continue"
target = "LocalZone"
"#,
    )
    .expect("config");
    let now = Instant::now();
    let mut s = settings();
    s.router = Some(Router::from_config(&cfg));
    let mut h = Harness {
        core: core(s, vec![(Transport::Udp, addr(PROXY))], now),
        now,
        other: Vec::new(),
    };
    let shared = SharedAliases::default();
    h.core.set_shared_aliases(shared.clone());
    h.core.set_interworking(mode.map(|mode| Interworking {
        gateway: addr(GATEWAY),
        mode,
    }));
    (h, shared)
}

/// An H.323 endpoint `ep` registered `alias` at the gatekeeper.
fn h323_holds(shared: &SharedAliases, alias: &str, ep: &str, now: Instant) {
    let owner = Owner {
        protocol: Protocol::H323,
        id: ep.into(),
        until: None,
        address: None,
    };
    shared.claim(alias, owner, now).expect("claimed");
}

#[test]
fn an_alias_an_h323_endpoint_registered_goes_to_the_gateway_escaped() {
    let (mut h, shared) = harness(Some(InterworkingMode::Registered));
    h323_holds(&shared, "2002", "ep-1", h.now);
    h323_holds(&shared, "carol@example.com", "ep-2", h.now);
    // 2002@example.com: the number rule's LocalZone target `2002` is the H.323 endpoint's
    let out = h.send(UAC, &invite("z9hG4bKiw1", "2002"));
    assert_eq!(status_of(&out[0]), 100);
    let fwd = out.last().unwrap();
    assert_eq!(fwd.dest, addr(GATEWAY));
    let t = text(fwd);
    assert!(
        t.starts_with(&format!("INVITE sip:2002@{GATEWAY} SIP/2.0")),
        "{t}"
    );
    // a URL-ID: the whole alias is the gateway URI's user part
    let out = h.send(UAC, &invite("z9hG4bKiw2", "carol"));
    let fwd = out.last().unwrap();
    assert_eq!(fwd.dest, addr(GATEWAY));
    let t = text(fwd);
    assert!(
        t.starts_with(&format!("INVITE sip:carol%40example.com@{GATEWAY} SIP/2.0")),
        "{t}"
    );
}

#[test]
fn mode_off_refuses_with_404_naming_the_key() {
    let (mut h, shared) = harness(Some(InterworkingMode::Off));
    h323_holds(&shared, "carol@example.com", "ep-2", h.now);
    let out = h.send(UAC, &invite("z9hG4bKiwoff", "carol"));
    let last = out.last().unwrap();
    assert_eq!(status_of(last), 404);
    assert_ne!(last.dest, addr(GATEWAY));
    let t = text(last);
    assert!(
        t.contains("carol@example.com is registered by H.323 endpoint ep-2")
            && t.contains("interworking is off ([interworking] mode = \"off\")"),
        "{t}"
    );
    // no gateway at all (a node without H.323): as before
    let (mut h, shared) = harness(None);
    h323_holds(&shared, "carol@example.com", "ep-2", h.now);
    let out = h.send(UAC, &invite("z9hG4bKiwnone", "carol"));
    let t = text(out.last().unwrap());
    assert!(t.contains("SIP/H.323 interworking is not available"), "{t}");
}

#[test]
fn a_sip_registered_alias_is_not_interworked() {
    let (mut h, shared) = harness(Some(InterworkingMode::On));
    h323_holds(&shared, "2002", "ep-1", h.now);
    h.register("bob", UAS, "1.0");
    let out = h.send(UAC, &invite("z9hG4bKiwsip", "bob"));
    let fwd = out.last().unwrap();
    assert_eq!(fwd.dest, addr(UAS));
    assert!(text(fwd).starts_with(&format!("INVITE sip:bob@{UAS} ")));
}

#[test]
fn sip_targets_come_before_the_interworked_one() {
    let (mut h, shared) = harness(Some(InterworkingMode::Registered));
    // 2002@example.com registered by a SIP UA, 2002 by an H.323 endpoint: both local targets
    h.register("2002", UAS, "1.0");
    h323_holds(&shared, "2002", "ep-1", h.now);
    let out = h.send(UAC, &invite("z9hG4bKiword", "2002"));
    let fwd = out.last().unwrap();
    assert_eq!(fwd.dest, addr(UAS), "the SIP registration first");
    // it fails: the gateway is tried next
    let out = h.send(UAS, &answer(fwd, 486, "Busy Here", Some("u1")));
    let next = out
        .iter()
        .find(|t| t.dest == addr(GATEWAY))
        .expect("the gateway next");
    assert!(text(next).starts_with(&format!("INVITE sip:2002@{GATEWAY} ")));
}

#[test]
fn a_request_from_the_gateway_is_not_sent_back_to_it() {
    let (mut h, shared) = harness(Some(InterworkingMode::On));
    h323_holds(&shared, "carol@example.com", "ep-2", h.now);
    let from_gw = invite("z9hG4bKiwloop", "carol").replace(UAC, GATEWAY);
    let out = h.send(GATEWAY, &from_gw);
    assert!(out.iter().all(|t| t.dest == addr(GATEWAY)), "only answers");
    let last = out.last().unwrap();
    assert_eq!(status_of(last), 404);
    assert!(
        text(last).contains("not sent back to the SIP/H.323 interworking gateway"),
        "{}",
        text(last)
    );
    assert!(!out.iter().any(|t| text(t).starts_with("INVITE")));
}

#[test]
fn a_register_adding_a_binding_for_an_h323_alias_is_refused_but_removing_or_fetching_is_not() {
    let (mut h, shared) = harness(Some(InterworkingMode::Registered));
    h323_holds(&shared, "dave@example.com", "ep-3", h.now);
    let register = |branch: &str, contact: &str, expires: &str| {
        format!(
            "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {UAS};branch={branch}
Max-Forwards: 70
From: <sip:dave@example.com>;tag=r1
To: <sip:dave@example.com>
Call-ID: reg-dave
CSeq: {} REGISTER
{contact}Expires: {expires}
Content-Length: 0

",
            branch.len()
        )
    };
    let contact = format!("Contact: <sip:dave@{UAS}>\n");
    let out = h.send(UAS, &register("z9hG4bKd1", &contact, "600"));
    assert_eq!(status_of(&out[0]), 403, "{}", text(&out[0]));
    // removing (Expires: 0, or `*`) and fetching (no Contact) are answered
    let out = h.send(UAS, &register("z9hG4bKd22", &contact, "0"));
    assert_eq!(status_of(&out[0]), 200, "{}", text(&out[0]));
    let out = h.send(UAS, &register("z9hG4bKd333", "Contact: *\n", "0"));
    assert_eq!(status_of(&out[0]), 200, "{}", text(&out[0]));
    let out = h.send(UAS, &register("z9hG4bKd4444", "", "600"));
    assert_eq!(status_of(&out[0]), 200, "{}", text(&out[0]));
    // a contact parameter overrides the header: this one adds a binding
    let adds = format!("Contact: <sip:dave@{UAS}>;expires=60\n");
    let out = h.send(UAS, &register("z9hG4bKd55555", &adds, "0"));
    assert_eq!(status_of(&out[0]), 403, "{}", text(&out[0]));
}
