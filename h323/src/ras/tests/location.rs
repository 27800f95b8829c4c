//! Tests of location (`ras::location`): `resolve` against registrations and neighbors (LRQ,
//! LCF, LRJ, timeouts) and LRQs from neighbors and strangers.

use super::*;

fn neighbor_router() -> Router {
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
    let cfg = causeway_config::Config::parse("test.toml", toml).unwrap();
    Router::from_config(&cfg)
}

#[test]
fn resolve_finds_a_registration_or_asks_the_neighbor_with_lrq() {
    let mut gk = gatekeeper_with(
        neighbor_router(),
        vec![("Branch".into(), sa("198.51.100.7:1719"))],
    );
    let now = Instant::now();
    register(&mut gk, "192.0.2.11:1719", vec![h323id("bob")], now);
    let mut out = Vec::new();
    let r = gk.resolve(
        1,
        &[h323id("bob")],
        None,
        sa("192.0.2.10:40000"),
        false,
        sa("192.0.2.1:1719"),
        now,
        &mut out,
    );
    assert_eq!(
        r,
        Resolve::Found(Destination {
            addr: sa("192.0.2.11:1720"),
            alias: None,
            zone: "LocalZone".into(),
            link: None,
            alternates: Vec::new()
        })
    );
    let r = gk.resolve(
        2,
        &[h323id("nobody")],
        None,
        sa("192.0.2.10:40000"),
        false,
        sa("192.0.2.1:1719"),
        now,
        &mut out,
    );
    assert_eq!(r, Resolve::Failed(RouteFailure::NotRegistered));
    // 4420 matches the neighbor rule: LRQ, then LCF -> resolved
    let r = gk.resolve(
        3,
        &[],
        Some("4420"),
        sa("192.0.2.10:40000"),
        false,
        sa("192.0.2.1:1719"),
        now,
        &mut out,
    );
    assert_eq!(r, Resolve::Pending);
    let (sent, _) = split(std::mem::take(&mut out));
    let (to, msg) = one(sent);
    assert_eq!(to, sa("198.51.100.7:1719"));
    let RasMessage::locationRequest(q) = msg else {
        panic!()
    };
    assert_eq!(q.destination_info, vec![e164("4420")]);
    assert_eq!(q.hop_count, Some(15));
    let lcf = build::lcf(
        q.request_seq_num.0,
        asn::transport_address(sa("198.51.100.7:1720")),
        asn::transport_address(sa("198.51.100.7:1719")),
    );
    let (_, rest) = exchange(&mut gk, "198.51.100.7:1719", &lcf, now);
    assert_eq!(
        rest,
        vec![Output::Resolved {
            call: 3,
            result: Ok(Destination {
                addr: sa("198.51.100.7:1720"),
                alias: None,
                zone: "Branch".into(),
                link: None,
                alternates: Vec::new()
            })
        }]
    );
    // an unanswered LRQ times out into a failure
    let r = gk.resolve(
        4,
        &[],
        Some("4499"),
        sa("192.0.2.10:40000"),
        false,
        sa("192.0.2.1:1719"),
        now,
        &mut out,
    );
    assert_eq!(r, Resolve::Pending);
    out.clear();
    gk.handle_timeout(now + Duration::from_secs(2), &mut out);
    assert_eq!(
        out,
        vec![Output::Resolved {
            call: 4,
            result: Err(RouteFailure::Unreachable)
        }]
    );
}

#[test]
fn lrq_is_answered_for_neighbors_only() {
    let mut gk = gatekeeper_with(
        neighbor_router(),
        vec![("Branch".into(), sa("198.51.100.7:1719"))],
    );
    let now = Instant::now();
    register(&mut gk, "192.0.2.11:1719", vec![e164("1002")], now);
    let (sent, _) = exchange(
        &mut gk,
        "198.51.100.7:1719",
        &lrq(1, vec![e164("1002")], sa("198.51.100.7:1719")),
        now,
    );
    let (to, msg) = one(sent);
    assert_eq!(to, sa("198.51.100.7:1719"));
    let RasMessage::locationConfirm(c) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(
        asn::socket_addr(&c.call_signal_address),
        Some(sa("192.0.2.1:1720")),
        "gatekeeper-routed"
    );
    let (sent, _) = exchange(
        &mut gk,
        "198.51.100.7:1719",
        &lrq(2, vec![e164("7777")], sa("198.51.100.7:1719")),
        now,
    );
    let RasMessage::locationReject(r) = one(sent).1 else {
        panic!()
    };
    assert_eq!(r.reject_reason, LocationRejectReason::notRegistered(()));
    let (sent, _) = exchange(
        &mut gk,
        "203.0.113.9:1719",
        &lrq(3, vec![e164("1002")], sa("203.0.113.9:1719")),
        now,
    );
    let RasMessage::locationReject(r) = one(sent).1 else {
        panic!()
    };
    assert_eq!(r.reject_reason, LocationRejectReason::requestDenied(()));
}

#[test]
fn a_reload_brings_a_new_neighbor_rule_and_keeps_registrations_and_the_call_address() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    register(&mut gk, "192.0.2.11:1719", vec![h323id("bob")], now);
    let mut out = Vec::new();
    let from = sa("192.0.2.10:40000");
    let local = sa("192.0.2.1:1719");
    let r = gk.resolve(1, &[], Some("4420"), from, false, local, now, &mut out);
    assert!(matches!(r, Resolve::Failed(_)), "no rule for 44 yet: {r:?}");
    // the reload: the neighbor rule, a new limit, another call-signaling port (which is this
    // run's and stays)
    let mut cfg = config();
    cfg.max_registrations = 1;
    cfg.q931_port = 9999;
    gk.reconfigure(
        cfg,
        neighbor_router(),
        vec![("Branch".into(), sa("198.51.100.7:1719"))],
    );
    let r = gk.resolve(2, &[], Some("4420"), from, false, local, now, &mut out);
    assert_eq!(r, Resolve::Pending, "44 now goes to the neighbor");
    let (sent, _) = split(std::mem::take(&mut out));
    assert_eq!(one(sent).0, sa("198.51.100.7:1719"));
    let r = gk.resolve(3, &[h323id("bob")], None, from, false, local, now, &mut out);
    assert_eq!(
        r,
        Resolve::Found(Destination {
            addr: sa("192.0.2.11:1720"),
            alias: None,
            zone: "LocalZone".into(),
            link: None,
            alternates: Vec::new()
        }),
        "bob's registration stayed"
    );
    assert_eq!(
        gk.cfg.q931_port, 1720,
        "the running call-signaling port stays"
    );
    assert_eq!(gk.cfg.max_registrations, 1, "the new limit applies");
}

#[test]
fn a_neighbor_cluster_is_asked_peer_by_peer() {
    // zone Branch with two peers: LRQ to the first; its LRJ sends the LRQ to the second
    let mut gk = gatekeeper_with(
        neighbor_router(),
        vec![
            ("Branch".into(), sa("198.51.100.7:1719")),
            ("Branch".into(), sa("198.51.100.8:1719")),
        ],
    );
    let now = Instant::now();
    let (to, msg) = first_lrq(&mut gk, "4420", now);
    assert_eq!(to, sa("198.51.100.7:1719"));
    let RasMessage::locationRequest(q) = msg else {
        panic!()
    };
    let lrj = build::lrj(q.request_seq_num.0, LocationRejectReason::notRegistered(()));
    let (sent, _) = exchange(&mut gk, "198.51.100.7:1719", &lrj, now);
    let (to, _) = one(sent);
    assert_eq!(to, sa("198.51.100.8:1719"), "the second peer is asked");
}

#[test]
fn a_neighbor_clusters_peers_are_asked_in_the_order_the_probes_found() {
    // the second peer is live and emptier: asked first; the first failed lately: last
    let health = causeway_zones::PeerHealth::default();
    let (p1, p2) = (sa("198.51.100.7:1719"), sa("198.51.100.8:1719"));
    let h = |down, free| causeway_zones::Health {
        down,
        free_media: Some(free),
    };
    health.replace(std::collections::HashMap::from([
        (p1.ip(), h(true, 900)),
        (p2.ip(), h(false, 100)),
    ]));
    let mut gk = gatekeeper_with(
        neighbor_router(),
        vec![("Branch".into(), p1), ("Branch".into(), p2)],
    )
    .with_peer_health(health);
    let (to, _) = first_lrq(&mut gk, "4420", Instant::now());
    assert_eq!(to, p2, "the live peer first");
}

/// A call to `number` waits for a neighbor: the one LRQ it sent, and where to.
fn first_lrq(gk: &mut Gatekeeper, number: &str, now: Instant) -> (SocketAddr, RasMessage) {
    let mut out = Vec::new();
    let caller = sa("192.0.2.10:40000");
    let r = gk.resolve(
        1,
        &[],
        Some(number),
        caller,
        false,
        sa(GK_RAS),
        now,
        &mut out,
    );
    assert_eq!(r, Resolve::Pending);
    one(split(out).0)
}
