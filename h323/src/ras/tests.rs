//! Gatekeeper tests: RAS messages in, datagrams out, with a fake clock (plain `Instant`s moved
//! by hand). Messages are built from the generated types and go through the PER codec both
//! ways, as they do on the wire.

use super::build;
use super::*;
use crate::endpoint;
use causeway_h323_asn1::rasn::types::OctetString;

const GK_RAS: &str = "192.0.2.1:1719";

fn config() -> GatekeeperConfig {
    GatekeeperConfig {
        gatekeeper_id: "cw-gk".into(),
        time_to_live: 300,
        probe_timeout: Duration::from_secs(5),
        max_registrations: 3,
        max_calls: 10,
        q931_port: 1720,
        q931_ip: None,
        allow: vec![],
        deny: vec![Regex::new("^blocked.*$").unwrap()],
        endpoint_id_prefix: "t".into(),
        locate_timeout: Duration::from_secs(2),
    }
}

fn gatekeeper() -> Gatekeeper {
    gatekeeper_with(Router::new(&["example.com".to_string()]), vec![])
}

fn gatekeeper_with(router: Router, neighbors: Vec<(String, SocketAddr)>) -> Gatekeeper {
    Gatekeeper::new(config(), router, neighbors)
}

fn terminal() -> EndpointType {
    EndpointType::new(
        None,
        None,
        None,
        None,
        None,
        Some(TerminalInfo::new(None)),
        false,
        false,
        None,
        None,
    )
}

fn e164(d: &str) -> AliasAddress {
    asn::alias_address(AliasKind::E164, d).unwrap()
}

fn h323id(t: &str) -> AliasAddress {
    asn::alias_address(AliasKind::H323Id, t).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Requests come from the crate's endpoint-side builders (`crate::endpoint`), as the test
/// endpoint sends them.
fn me(ras: SocketAddr, signal: SocketAddr, aliases: Vec<AliasAddress>) -> endpoint::Me {
    endpoint::Me {
        ras,
        csa: signal,
        aliases,
    }
}

fn ids() -> endpoint::CallIds {
    endpoint::CallIds {
        crv: 1,
        call_id: [9; 16],
        conf_id: [7; 16],
    }
}

/// A full RRQ, or a lightweight one (`keep_alive`, with the endpoint identifier).
fn rrq_full(
    n: u16,
    ras: SocketAddr,
    signal: SocketAddr,
    aliases: Vec<AliasAddress>,
    ttl: Option<u32>,
    keep_alive: bool,
    endpoint: Option<EndpointIdentifier>,
) -> RasMessage {
    assert_eq!(
        keep_alive,
        endpoint.is_some(),
        "lightweight iff an identifier"
    );
    let me = me(ras, signal, aliases);
    endpoint::rrq(n, &me, ttl.unwrap_or(600), None, endpoint, false).unwrap()
}

fn rrq(n: u16, ras: &str, aliases: Vec<AliasAddress>) -> RasMessage {
    let ras = sa(ras);
    let signal = SocketAddr::new(ras.ip(), ras.port() + 1);
    rrq_full(n, ras, signal, aliases, Some(600), false, None)
}

/// The caller side of endpoint `ep` (its addresses do not matter to admission).
fn caller() -> endpoint::Me {
    me(sa("192.0.2.99:1719"), sa("192.0.2.99:1720"), vec![])
}

fn arq(n: u16, ep: &str, dest: Vec<AliasAddress>, answer: bool) -> RasMessage {
    let id = asn::endpoint_id(ep);
    endpoint::arq(n, &caller(), id, None, &ids(), Some(dest), vec![], answer).unwrap()
}

fn urq(n: u16, ep: &str) -> RasMessage {
    endpoint::urq(n, &caller(), None, Some(asn::endpoint_id(ep))).unwrap()
}

fn drq(n: u16, ep: &str) -> RasMessage {
    endpoint::drq(n, asn::endpoint_id(ep), None, &ids(), false)
}

fn irr(n: u16, ep: &str, ras: SocketAddr) -> RasMessage {
    let me = me(ras, SocketAddr::new(ras.ip(), ras.port() + 1), vec![]);
    endpoint::irr(n, &me, asn::endpoint_id(ep)).unwrap()
}

fn lrq(n: u16, dest: Vec<AliasAddress>, reply: SocketAddr) -> RasMessage {
    RasMessage::locationRequest(LocationRequest::new(
        RequestSeqNum(n),
        None,
        dest,
        None,
        asn::transport_address(reply),
        None,
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(false),
        None,
    ))
}

fn grq(n: u16, ras: SocketAddr, gk: Option<&str>) -> RasMessage {
    RasMessage::gatekeeperRequest(GatekeeperRequest::new(
        RequestSeqNum(n),
        asn::h225_protocol_identifier(),
        None,
        asn::transport_address(ras),
        terminal(),
        gk.map(asn::gatekeeper_id),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

/// Sends `msg` from `from` and returns the decoded replies with their destinations, and the
/// other outputs.
fn exchange(
    gk: &mut Gatekeeper,
    from: &str,
    msg: &RasMessage,
    now: Instant,
) -> (Vec<(SocketAddr, RasMessage)>, Vec<Output>) {
    let bytes = aper::encode(msg).unwrap();
    let mut out = Vec::new();
    gk.handle(
        Datagram {
            from: sa(from),
            local: sa(GK_RAS),
            bytes: &bytes,
            multicast: false,
        },
        now,
        &mut out,
    );
    split(out)
}

fn split(out: Vec<Output>) -> (Vec<(SocketAddr, RasMessage)>, Vec<Output>) {
    let mut sent = Vec::new();
    let mut rest = Vec::new();
    for o in out {
        match o {
            Output::Send { to, bytes } => sent.push((to, aper::decode(&bytes).unwrap())),
            other => rest.push(other),
        }
    }
    (sent, rest)
}

fn one(sent: Vec<(SocketAddr, RasMessage)>) -> (SocketAddr, RasMessage) {
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent.into_iter().next().unwrap()
}

/// Registers and returns the endpoint identifier.
fn register(gk: &mut Gatekeeper, ras: &str, aliases: Vec<AliasAddress>, now: Instant) -> String {
    let (sent, _) = exchange(gk, ras, &rrq(1, ras, aliases), now);
    match one(sent).1 {
        RasMessage::registrationConfirm(c) => asn::bmp_text(&c.endpoint_identifier.0).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rrq_gets_rcf_with_the_ttl_capped_and_the_aliases() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let (sent, events) = exchange(
        &mut gk,
        "192.0.2.10:1719",
        &rrq(5, "192.0.2.10:1719", vec![h323id("alice"), e164("1001")]),
        now,
    );
    let (to, msg) = one(sent);
    assert_eq!(to, sa("192.0.2.10:1719"));
    let RasMessage::registrationConfirm(c) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(c.request_seq_num.0, 5);
    assert_eq!(
        c.time_to_live,
        Some(TimeToLive(300)),
        "600 asked, 300 configured"
    );
    assert_eq!(c.will_respond_to_irr, Some(false));
    assert_eq!(c.terminal_alias.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        asn::bmp_text(&c.gatekeeper_identifier.unwrap().0).unwrap(),
        "cw-gk"
    );
    assert!(matches!(
        &events[0],
        Output::Event(RasEvent::Registered {
            lightweight: false,
            ttl: 300,
            ..
        })
    ));
    assert_eq!(
        gk.registrations().by_alias("ALICE").map(|e| e.ras),
        Some(sa("192.0.2.10:1719"))
    );
    assert_eq!(
        gk.registrations()
            .by_alias("1001")
            .map(|e| e.call_signal.clone()),
        Some(vec![sa("192.0.2.10:1720")])
    );
}

#[test]
fn lightweight_rrq_refreshes_and_an_unknown_identifier_needs_a_full_registration() {
    let mut gk = gatekeeper();
    let t0 = Instant::now();
    let id = register(&mut gk, "192.0.2.10:1719", vec![h323id("alice")], t0);
    let t1 = t0 + Duration::from_secs(200);
    let light = rrq_full(
        2,
        sa("192.0.2.10:1719"),
        sa("192.0.2.10:1720"),
        vec![],
        Some(300),
        true,
        Some(asn::endpoint_id(&id)),
    );
    let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &light, t1);
    assert!(matches!(one(sent).1, RasMessage::registrationConfirm(_)));
    assert_eq!(gk.registration_views(t1)[0].seconds_left, 300);
    // past the first TTL nothing happens: the refresh moved it
    let mut out = Vec::new();
    gk.handle_timeout(t0 + Duration::from_secs(301), &mut out);
    assert!(out.is_empty(), "{out:?}");

    let stale = rrq_full(
        3,
        sa("192.0.2.10:1719"),
        sa("192.0.2.10:1720"),
        vec![],
        None,
        true,
        Some(asn::endpoint_id("t-99")),
    );
    let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &stale, t1);
    let RasMessage::registrationReject(r) = one(sent).1 else {
        panic!()
    };
    assert_eq!(
        r.reject_reason,
        RegistrationRejectReason::fullRegistrationRequired(())
    );
}

#[test]
fn an_alias_held_by_another_endpoint_is_a_duplicate_and_the_same_endpoint_may_reregister() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let id = register(&mut gk, "192.0.2.10:1719", vec![h323id("alice")], now);
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.11:1719",
        &rrq(1, "192.0.2.11:1719", vec![h323id("Alice"), e164("2000")]),
        now,
    );
    let RasMessage::registrationReject(r) = one(sent).1 else {
        panic!()
    };
    assert_eq!(
        r.reject_reason,
        RegistrationRejectReason::duplicateAlias(vec![h323id("Alice")])
    );
    assert!(
        gk.registrations().by_alias("2000").is_none(),
        "nothing of a refused RRQ is kept"
    );
    // a full RRQ from the same RAS address (an endpoint that restarted) keeps its identifier
    assert_eq!(
        register(
            &mut gk,
            "192.0.2.10:1719",
            vec![h323id("alice"), e164("1001")],
            now
        ),
        id
    );
    assert_eq!(gk.registrations().len(), 1);
}

#[test]
fn denied_aliases_are_listed_in_the_reject_and_the_table_is_bounded() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:1719",
        &rrq(
            1,
            "192.0.2.10:1719",
            vec![h323id("ok"), h323id("blocked-1")],
        ),
        now,
    );
    let RasMessage::registrationReject(r) = one(sent).1 else {
        panic!()
    };
    let RegistrationRejectReason::invalidTerminalAliases(list) = r.reject_reason else {
        panic!()
    };
    assert_eq!(list.terminal_alias, Some(vec![h323id("blocked-1")]));
    for i in 0..3 {
        register(
            &mut gk,
            &format!("192.0.2.{}:1719", 20 + i),
            vec![e164(&format!("{}", 100 + i))],
            now,
        );
    }
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.30:1719",
        &rrq(1, "192.0.2.30:1719", vec![e164("999")]),
        now,
    );
    let RasMessage::registrationReject(r) = one(sent).1 else {
        panic!()
    };
    assert_eq!(
        r.reject_reason,
        RegistrationRejectReason::resourceUnavailable(())
    );
}

#[test]
fn arq_is_confirmed_for_a_registered_alias_with_our_call_signaling_address() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let alice = register(
        &mut gk,
        "192.0.2.10:1719",
        vec![h323id("alice"), e164("1001")],
        now,
    );
    register(
        &mut gk,
        "192.0.2.11:1719",
        vec![h323id("bob"), e164("1002")],
        now,
    );
    for dest in [e164("1002"), h323id("bob")] {
        let (sent, events) = exchange(
            &mut gk,
            "192.0.2.10:1719",
            &arq(7, &alice, vec![dest], false),
            now,
        );
        let (to, msg) = one(sent);
        assert_eq!(to, sa("192.0.2.10:1719"));
        let RasMessage::admissionConfirm(c) = msg else {
            panic!("{msg:?}")
        };
        assert_eq!(c.call_model, CallModel::gatekeeperRouted(()));
        assert_eq!(
            asn::socket_addr(&c.dest_call_signal_address),
            Some(sa("192.0.2.1:1720"))
        );
        assert_eq!(c.band_width.0, 1280);
        assert!(
            c.uuies_requested.is_some() && c.will_respond_to_irr.is_some(),
            "mandatory additions"
        );
        assert!(matches!(
            &events[0],
            Output::Event(RasEvent::Admitted { answer: false, .. })
        ));
    }
    // the callee's ARQ (answerCall) is confirmed too, then both DRQs
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:1719",
        &arq(8, &alice, vec![], true),
        now,
    );
    assert!(matches!(one(sent).1, RasMessage::admissionConfirm(_)));
    assert_eq!(gk.admitted_calls(), 2);
    let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &drq(9, &alice), now);
    assert!(matches!(one(sent).1, RasMessage::disengageConfirm(_)));
    assert_eq!(gk.admitted_calls(), 1, "the answering leg stays");
}

#[test]
fn arq_rejections_name_the_reason() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let alice = register(&mut gk, "192.0.2.10:1719", vec![h323id("alice")], now);
    let cases = [
        (
            arq(1, &alice, vec![e164("5555")], false),
            AdmissionRejectReason::calledPartyNotRegistered(()),
        ),
        (
            arq(2, "t-404", vec![h323id("alice")], false),
            AdmissionRejectReason::callerNotRegistered(()),
        ),
        (
            arq(3, &alice, vec![], false),
            AdmissionRejectReason::incompleteAddress(()),
        ),
        (
            arq(
                4,
                &alice,
                vec![asn::alias_address(AliasKind::Url, "x@elsewhere.example").unwrap()],
                false,
            ),
            AdmissionRejectReason::noRouteToDestination(()),
        ),
    ];
    for (msg, want) in cases {
        let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &msg, now);
        let RasMessage::admissionReject(r) = one(sent).1 else {
            panic!()
        };
        assert_eq!(r.reject_reason, want);
    }
    assert_eq!(gk.counters().rejected, 4);
    assert_eq!(gk.counters().received.get("ARQ"), Some(&4));
}

#[test]
fn urq_removes_the_registration_and_an_unknown_one_is_refused() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let alice = register(&mut gk, "192.0.2.10:1719", vec![h323id("alice")], now);
    let (sent, events) = exchange(&mut gk, "192.0.2.10:1719", &urq(4, &alice), now);
    assert!(matches!(one(sent).1, RasMessage::unregistrationConfirm(_)));
    assert!(matches!(
        &events[0],
        Output::Event(RasEvent::Unregistered {
            by: By::Endpoint,
            ..
        })
    ));
    assert!(gk.registrations().is_empty());
    let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &urq(5, &alice), now);
    let RasMessage::unregistrationReject(r) = one(sent).1 else {
        panic!()
    };
    assert_eq!(
        r.reject_reason,
        UnregRejectReason::notCurrentlyRegistered(())
    );
}

#[test]
fn an_expired_registration_is_probed_with_irq_and_kept_if_it_answers() {
    let mut gk = gatekeeper();
    let t0 = Instant::now();
    let alice = register(&mut gk, "192.0.2.10:1719", vec![h323id("alice")], t0);
    assert_eq!(gk.poll_timeout(), Some(t0 + Duration::from_secs(300)));
    let mut out = Vec::new();
    gk.handle_timeout(t0 + Duration::from_secs(299), &mut out);
    assert!(out.is_empty());
    let t1 = t0 + Duration::from_secs(300);
    gk.handle_timeout(t1, &mut out);
    let (sent, _) = split(std::mem::take(&mut out));
    let (to, msg) = one(sent);
    assert_eq!(to, sa("192.0.2.10:1719"));
    let RasMessage::infoRequest(q) = msg else {
        panic!()
    };
    assert_eq!(q.call_reference_value.0, 0);
    assert!(q.call_identifier.is_some());
    assert!(gk.registration_views(t1)[0].probing);
    // the endpoint answers: registered for another TTL
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:1719",
        &irr(q.request_seq_num.0, &alice, sa("192.0.2.10:1719")),
        t1 + Duration::from_secs(1),
    );
    assert!(sent.is_empty(), "needResponse absent: no IACK");
    gk.handle_timeout(t1 + Duration::from_secs(10), &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert!(!gk.registration_views(t1)[0].probing);
}

#[test]
fn an_expired_registration_that_does_not_answer_is_removed_with_urq() {
    let mut gk = gatekeeper();
    let t0 = Instant::now();
    register(&mut gk, "192.0.2.10:1719", vec![h323id("alice")], t0);
    let mut out = Vec::new();
    gk.handle_timeout(t0 + Duration::from_secs(300), &mut out);
    out.clear();
    gk.handle_timeout(t0 + Duration::from_secs(304), &mut out);
    assert!(out.is_empty(), "probe timeout not reached yet");
    gk.handle_timeout(t0 + Duration::from_secs(305), &mut out);
    let (sent, events) = split(out);
    let RasMessage::unregistrationRequest(u) = one(sent).1 else {
        panic!()
    };
    assert_eq!(u.reason, Some(UnregRequestReason::ttlExpired(())));
    assert!(matches!(
        &events[0],
        Output::Event(RasEvent::Expired { .. })
    ));
    assert!(gk.registrations().is_empty());
    assert_eq!(gk.poll_timeout(), None);
}

#[test]
fn grq_is_confirmed_unless_it_names_another_gatekeeper() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:5000",
        &grq(1, sa("192.0.2.10:1719"), None),
        now,
    );
    let (to, msg) = one(sent);
    assert_eq!(
        to,
        sa("192.0.2.10:1719"),
        "replies go to the rasAddress given"
    );
    let RasMessage::gatekeeperConfirm(c) = msg else {
        panic!()
    };
    assert_eq!(asn::socket_addr(&c.ras_address), Some(sa(GK_RAS)));
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:5000",
        &grq(2, sa("192.0.2.10:1719"), Some("other")),
        now,
    );
    assert!(matches!(one(sent).1, RasMessage::gatekeeperReject(_)));
    // multicast (224.0.1.41): ours is answered unicast to the rasAddress, another's ignored
    for (gk_id, answered) in [(None, true), (Some("cw-gk"), true), (Some("other"), false)] {
        let bytes = aper::encode(&grq(3, sa("192.0.2.10:1719"), gk_id)).unwrap();
        let mut out = Vec::new();
        let d = Datagram {
            from: sa("192.0.2.10:5000"),
            local: sa(GK_RAS),
            bytes: &bytes,
            multicast: true,
        };
        gk.handle(d, now, &mut out);
        let (sent, _) = split(out);
        assert_eq!(sent.len(), usize::from(answered), "{gk_id:?}: {sent:?}");
        if answered {
            assert_eq!(sent[0].0, sa("192.0.2.10:1719"));
            assert!(matches!(sent[0].1, RasMessage::gatekeeperConfirm(_)));
        }
    }
}

#[test]
fn malformed_datagrams_are_counted_and_unserved_requests_get_xrs() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let mut out = Vec::new();
    gk.handle(
        Datagram {
            from: sa("192.0.2.10:1719"),
            local: sa(GK_RAS),
            bytes: &[0xff, 0x00, 0x13],
            multicast: false,
        },
        now,
        &mut out,
    );
    assert!(matches!(&out[0], Output::Event(RasEvent::Malformed { .. })));
    assert_eq!(gk.counters().malformed, 1);
    let irq = build::irq(77, None);
    let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &irq, now);
    let RasMessage::unknownMessageResponse(x) = one(sent).1 else {
        panic!()
    };
    assert_eq!(x.request_seq_num.0, 77);
    assert!(x.message_not_understood.is_some());
}

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
        sa("192.0.2.1:1719"),
        now,
        &mut out,
    );
    assert_eq!(
        r,
        Resolve::Found(Destination {
            addr: sa("192.0.2.11:1720"),
            alias: None,
            zone: "LocalZone".into()
        })
    );
    let r = gk.resolve(
        2,
        &[h323id("nobody")],
        None,
        sa("192.0.2.10:40000"),
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
                zone: "neighbor".into()
            })
        }]
    );
    // an unanswered LRQ times out into a failure
    let r = gk.resolve(
        4,
        &[],
        Some("4499"),
        sa("192.0.2.10:40000"),
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
fn xrs_builder_carries_the_bytes() {
    let RasMessage::unknownMessageResponse(x) = build::xrs(1, &[1, 2]) else {
        panic!()
    };
    assert_eq!(
        x.message_not_understood,
        Some(OctetString::from(vec![1, 2]))
    );
}

#[test]
fn several_endpoints_may_share_a_ras_address_when_signal_address_and_aliases_differ() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let ras = sa("192.0.2.10:1719");
    let a = rrq_full(
        1,
        ras,
        sa("192.0.2.10:20001"),
        vec![e164("1")],
        None,
        false,
        None,
    );
    let b = rrq_full(
        2,
        ras,
        sa("192.0.2.10:20002"),
        vec![e164("2")],
        None,
        false,
        None,
    );
    for m in [&a, &b] {
        let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", m, now);
        assert!(matches!(one(sent).1, RasMessage::registrationConfirm(_)));
    }
    assert_eq!(gk.registrations().len(), 2);
    // the first one again with a new call-signaling port (restarted): replaced, not added
    let a2 = rrq_full(
        3,
        ras,
        sa("192.0.2.10:20003"),
        vec![e164("1")],
        None,
        false,
        None,
    );
    let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &a2, now);
    assert!(matches!(one(sent).1, RasMessage::registrationConfirm(_)));
    assert_eq!(gk.registrations().len(), 2);
    assert_eq!(
        gk.registrations()
            .by_alias("1")
            .map(|e| e.call_signal.clone()),
        Some(vec![sa("192.0.2.10:20003")])
    );
}

#[test]
fn the_alias_table_is_shared_with_sip_both_ways() {
    let shared = causeway_zones::SharedAliases::default();
    let mut gk = gatekeeper().with_shared_aliases(shared.clone());
    let now = Instant::now();
    let sip = causeway_zones::Owner {
        protocol: Protocol::Sip,
        id: "sip:carol@example.com".into(),
        until: Some(now + Duration::from_secs(600)),
    };
    shared.claim("sip:carol@example.com", sip, now).unwrap();
    // a SIP UA holds carol@example.com: the H.323 URL alias is a duplicate
    let url = asn::alias_address(AliasKind::Url, "carol@example.com").unwrap();
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:1719",
        &rrq(1, "192.0.2.10:1719", vec![url.clone()]),
        now,
    );
    let RasMessage::registrationReject(r) = one(sent).1 else {
        panic!()
    };
    assert_eq!(
        r.reject_reason,
        RegistrationRejectReason::duplicateAlias(vec![url])
    );
    // an H.323 registration claims its aliases for the SIP side, and gives them back on URQ
    let id = register(
        &mut gk,
        "192.0.2.11:1719",
        vec![h323id("dave"), e164("1004")],
        now,
    );
    let owner = shared.owner("1004", now).unwrap();
    assert_eq!(
        (owner.protocol, owner.id.as_str()),
        (Protocol::H323, id.as_str())
    );
    // a call from H.323 to the SIP user is found but cannot be relayed (no interworking)
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.11:1719",
        &arq(
            2,
            &id,
            vec![asn::alias_address(AliasKind::Url, "carol@example.com").unwrap()],
            false,
        ),
        now,
    );
    let RasMessage::admissionReject(r) = one(sent).1 else {
        panic!()
    };
    assert_eq!(
        r.reject_reason,
        AdmissionRejectReason::noRouteToDestination(())
    );
    exchange(&mut gk, "192.0.2.11:1719", &urq(3, &id), now);
    assert!(shared.owner("1004", now).is_none());
    assert!(shared.owner("dave", now).is_none());
}
