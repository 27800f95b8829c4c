//! Tests of interworking in routing (`ras::interworking`, `location`): a call to an alias a SIP
//! UA registered goes to the node's gateway with the SIP AOR as a url-ID, after every H.323
//! target; `[interworking] mode = "off"` (or no gateway) keeps the refusal; a Setup from the
//! gateway is never sent back to it; "on" also takes aliases the search sends only to zones
//! that carry SIP alone.

use super::*;
use causeway_config::InterworkingMode;
use causeway_zones::{Owner, SharedAliases};

const GATEWAY: &str = "127.0.0.1:41720";
const CALLER: &str = "192.0.2.10:40000";

fn url(t: &str) -> AliasAddress {
    asn::alias_address(AliasKind::Url, t).unwrap()
}

/// A SIP UA registered `aor` (the SIP registrar's claim in the shared table).
fn sip_holds(shared: &SharedAliases, aor: &str, now: Instant) {
    let owner = Owner {
        protocol: Protocol::Sip,
        id: aor.into(),
        until: Some(now + Duration::from_secs(600)),
        address: None,
    };
    shared.claim(aor, owner, now).unwrap();
}

fn with_gateway(router: Router, mode: Option<InterworkingMode>) -> (Gatekeeper, SharedAliases) {
    let shared = SharedAliases::default();
    let mut gk = gatekeeper_with(router, vec![("Branch".into(), sa("198.51.100.7:1719"))])
        .with_shared_aliases(shared.clone());
    gk.set_interworking(mode.map(|m| (sa(GATEWAY), m)));
    (gk, shared)
}

fn resolve(gk: &mut Gatekeeper, called: &[AliasAddress], from_gateway: bool) -> Resolve {
    let mut out = Vec::new();
    gk.resolve(
        1,
        called,
        None,
        sa(CALLER),
        from_gateway,
        sa(GK_RAS),
        Instant::now(),
        &mut out,
    )
}

fn to_gateway(uri: &str) -> Resolve {
    Resolve::Found(Destination {
        addr: sa(GATEWAY),
        alias: Some(url(uri)),
        zone: "Interworking".into(),
        link: None,
        alternates: Vec::new(),
    })
}

fn local_router() -> Router {
    Router::new(&["example.com".to_string()])
}

#[test]
fn a_setup_for_a_sip_registered_alias_goes_to_the_gateway_as_a_url_id() {
    let (mut gk, shared) = with_gateway(local_router(), Some(InterworkingMode::Registered));
    let now = Instant::now();
    // the SIP registrar's AOR has its scheme; one without gets `sip:`
    sip_holds(&shared, "sip:carol@example.com", now);
    sip_holds(&shared, "dave@example.com", now);
    assert_eq!(
        resolve(&mut gk, &[url("carol@example.com")], false),
        to_gateway("sip:carol@example.com")
    );
    assert_eq!(
        resolve(&mut gk, &[url("dave@example.com")], false),
        to_gateway("sip:dave@example.com")
    );
    // the ARQ before it is admitted
    let id = register(&mut gk, "192.0.2.11:1719", vec![h323id("erin")], now);
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.11:1719",
        &arq(2, &id, vec![url("carol@example.com")], false),
        now,
    );
    assert!(
        matches!(one(sent).1, RasMessage::admissionConfirm(_)),
        "ACF"
    );
}

#[test]
fn mode_off_or_no_gateway_keeps_the_refusal() {
    for mode in [Some(InterworkingMode::Off), None] {
        let (mut gk, shared) = with_gateway(local_router(), mode);
        let now = Instant::now();
        sip_holds(&shared, "sip:carol@example.com", now);
        assert_eq!(
            resolve(&mut gk, &[url("carol@example.com")], false),
            Resolve::Failed(RouteFailure::Unreachable),
            "{mode:?}"
        );
        let id = register(&mut gk, "192.0.2.11:1719", vec![h323id("erin")], now);
        let (sent, _) = exchange(
            &mut gk,
            "192.0.2.11:1719",
            &arq(2, &id, vec![url("carol@example.com")], false),
            now,
        );
        let RasMessage::admissionReject(r) = one(sent).1 else {
            panic!("{mode:?}: not an ARJ")
        };
        assert_eq!(
            r.reject_reason,
            AdmissionRejectReason::noRouteToDestination(())
        );
    }
}

#[test]
fn a_setup_from_the_gateway_is_not_interworked() {
    let (mut gk, shared) = with_gateway(local_router(), Some(InterworkingMode::On));
    sip_holds(&shared, "sip:carol@example.com", Instant::now());
    assert_eq!(
        resolve(&mut gk, &[url("carol@example.com")], true),
        Resolve::Failed(RouteFailure::Unreachable)
    );
    // an H.323 registration is still reached from the gateway
    register(
        &mut gk,
        "192.0.2.11:1719",
        vec![h323id("bob")],
        Instant::now(),
    );
    assert!(matches!(
        resolve(&mut gk, &[h323id("bob")], true),
        Resolve::Found(Destination { zone, .. }) if zone == "LocalZone"
    ));
}

#[test]
fn h323_targets_come_first_and_the_gateway_after_failed_neighbors() {
    let router = {
        let toml = r#"
[system]
role = "control"
domain = "example.com"
[[zone]]
name = "Branch"
type = "neighbor"
peer = "198.51.100.7"
[[search_rule]]
name = "to-branch"
priority = 60
pattern_type = "prefix"
pattern = "44"
target = "Branch"
"#;
        Router::from_config(&causeway_config::Config::parse("t.toml", toml).unwrap())
    };
    let (mut gk, shared) = with_gateway(router, Some(InterworkingMode::Registered));
    let now = Instant::now();
    sip_holds(&shared, "sip:carol@example.com", now);
    register(&mut gk, "192.0.2.11:1719", vec![h323id("bob")], now);
    // the SIP UA's alias dialled first, an H.323 registration second: the registration
    let r = resolve(&mut gk, &[url("carol@example.com"), h323id("bob")], false);
    assert!(
        matches!(&r, Resolve::Found(d) if d.addr == sa("192.0.2.11:1720")),
        "{r:?}"
    );
    // a neighbor target is asked first; its LRJ leaves the gateway
    let mut out = Vec::new();
    let r = gk.resolve(
        7,
        &[url("carol@example.com"), e164("4420")],
        None,
        sa(CALLER),
        false,
        sa(GK_RAS),
        now,
        &mut out,
    );
    assert_eq!(r, Resolve::Pending);
    let (sent, _) = split(out);
    let RasMessage::locationRequest(q) = one(sent).1 else {
        panic!("not an LRQ")
    };
    let lrj = build::lrj(q.request_seq_num.0, LocationRejectReason::notRegistered(()));
    let (_, rest) = exchange(&mut gk, "198.51.100.7:1719", &lrj, now);
    let Resolve::Found(gw) = to_gateway("sip:carol@example.com") else {
        unreachable!()
    };
    assert_eq!(
        rest,
        vec![Output::Resolved {
            call: 7,
            result: Ok(gw)
        }]
    );
}

#[test]
fn mode_on_also_takes_aliases_only_sip_zones_reach() {
    let toml = r#"
[system]
role = "control"
domain = "example.com"
[[zone]]
name = "internet"
type = "dns"
[[search_rule]]
name = "elsewhere"
pattern_type = "suffix"
pattern = "@elsewhere.org"
target = "internet"
"#;
    let cfg = causeway_config::Config::parse("t.toml", toml).unwrap();
    let called = [url("bob@elsewhere.org")];
    let (mut gk, _) = with_gateway(Router::from_config(&cfg), Some(InterworkingMode::On));
    assert_eq!(
        resolve(&mut gk, &called, false),
        to_gateway("sip:bob@elsewhere.org")
    );
    assert_eq!(
        resolve(&mut gk, &called, true),
        Resolve::Failed(RouteFailure::Unreachable),
        "not from the gateway"
    );
    let (mut gk, _) = with_gateway(
        Router::from_config(&cfg),
        Some(InterworkingMode::Registered),
    );
    assert_eq!(
        resolve(&mut gk, &called, false),
        Resolve::Failed(RouteFailure::Unreachable),
        "registered: only SIP registrations are interworked"
    );
}
