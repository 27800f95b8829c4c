//! Tests of registration (`ras::registration`): full and lightweight RRQ, alias policy and
//! duplicates, URQ, the time to live with its IRQ probe, and the alias table shared with SIP.

use super::*;

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
        address: None,
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

/// An endpoint behind a NAT names its private rasAddress; the RRQ arrives from the NAT's
/// public address. The RCF must go where the RRQ came from (else the endpoint never sees it),
/// and the registration holds the public address for later requests to it and for calls.
#[test]
fn an_rrq_through_a_nat_is_answered_where_it_came_from() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let public = "203.0.113.5:40000";
    let (sent, _) = exchange(
        &mut gk,
        public,
        &rrq(5, "10.1.1.10:1719", vec![h323id("natted")]),
        now,
    );
    let (to, msg) = one(sent);
    assert_eq!(to, sa(public), "not the private 10.1.1.10:1719");
    assert!(matches!(msg, RasMessage::registrationConfirm(_)), "{msg:?}");
    let ep = gk.registrations().by_alias("natted").cloned().unwrap();
    assert!(ep.nat);
    assert_eq!(ep.ras, sa(public));
    assert_eq!(
        ep.call_signal,
        vec![sa("203.0.113.5:1720")],
        "the NAT's IP, the port given"
    );
    // the NAT rebinds the flow to another port: the lightweight RRQ moves the RAS address
    let light = rrq_full(
        6,
        sa("10.1.1.10:1719"),
        sa("10.1.1.10:1720"),
        vec![],
        Some(600),
        true,
        Some(asn::endpoint_id(&ep.id)),
    );
    let (sent, _) = exchange(&mut gk, "203.0.113.5:40007", &light, now);
    let (to, msg) = one(sent);
    assert_eq!(to, sa("203.0.113.5:40007"));
    assert!(matches!(msg, RasMessage::registrationConfirm(_)), "{msg:?}");
    assert_eq!(
        gk.registrations().get(&ep.id).map(|e| e.ras),
        Some(sa("203.0.113.5:40007"))
    );
    // another IP with the identifier does not move it (it is not the NAT rebinding)
    let (sent, _) = exchange(&mut gk, "198.51.100.9:5000", &light, now);
    assert_eq!(one(sent).0, sa("203.0.113.5:40007"));
    assert_eq!(
        gk.registrations().get(&ep.id).map(|e| e.ras),
        Some(sa("203.0.113.5:40007"))
    );
}

/// Same IP, another port: an endpoint that sends from a second socket; the rasAddress it
/// names is where it listens, and there the RCF goes (H.225.0 7.9).
#[test]
fn an_rrq_from_another_port_of_the_same_ip_is_answered_at_its_ras_address() {
    let mut gk = gatekeeper();
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:50000",
        &rrq(5, "192.0.2.10:1719", vec![h323id("two-sockets")]),
        Instant::now(),
    );
    assert_eq!(one(sent).0, sa("192.0.2.10:1719"));
    let ep = gk.registrations().by_alias("two-sockets").cloned().unwrap();
    assert!(!ep.nat);
    assert_eq!(ep.call_signal, vec![sa("192.0.2.10:1720")]);
}

/// H.460.18 (section 6): an endpoint that announces feature 18 gets it in the RCF with the
/// short time to live its keep-alives need, and a call to it is a call-back: SCI to its RAS
/// address (the NAT's), call-back to our call-signaling address; one that does not keep its
/// time to live and is called directly.
#[test]
fn an_h46018_endpoint_gets_a_short_ttl_and_is_called_back() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let mut rrq = rrq(5, "10.1.1.10:1719", vec![h323id("dora")]);
    if let RasMessage::registrationRequest(r) = &mut rrq {
        r.feature_set = Some(crate::h46018::feature_set());
    }
    let (sent, _) = exchange(&mut gk, "203.0.113.5:40000", &rrq, now);
    let (to, msg) = one(sent);
    assert_eq!(to, sa("203.0.113.5:40000"));
    let RasMessage::registrationConfirm(c) = msg else {
        panic!("{msg:?}")
    };
    assert!(crate::h46018::announces(c.feature_set.as_ref()));
    assert_eq!(
        c.time_to_live,
        Some(TimeToLive(19)),
        "300 configured, 19 for H.460.18"
    );
    let r = gk.resolve(
        1,
        &[h323id("dora")],
        None,
        sa("192.0.2.10:40000"),
        false,
        sa(GK_RAS),
        now,
        &mut Vec::new(),
    );
    assert_eq!(
        r,
        Resolve::CallBack {
            ras: sa("203.0.113.5:40000"),
            signalling: sa("192.0.2.1:1720"),
        }
    );
    // without the feature: the plain registration, called directly
    register(&mut gk, "192.0.2.11:1719", vec![h323id("plain")], now);
    let r = gk.resolve(
        2,
        &[h323id("plain")],
        None,
        sa("192.0.2.10:40000"),
        false,
        sa(GK_RAS),
        now,
        &mut Vec::new(),
    );
    assert!(matches!(r, Resolve::Found(_)), "{r:?}");
}

fn rrq_with(n: u16, alias: &str, fs: Option<FeatureSet>) -> RasMessage {
    let mut m = rrq(n, "10.1.1.10:1719", vec![h323id(alias)]);
    if let RasMessage::registrationRequest(r) = &mut m {
        r.feature_set = fs;
    }
    m
}

/// H.460.19 in RAS: an endpoint announcing 18 and 19 gets both in the RCF, 19 with
/// mediaTraversalServer, and its registration says it speaks H.460.19. 19 without 18 (no
/// signalling traversal) and 18 without 19 are not H.460.19 registrations. The feature sets
/// are asn1tools' bytes (FeatureSet in H323-MESSAGES, make_vectors.edited_modules()).
#[test]
fn an_h46019_endpoint_is_answered_as_by_a_media_traversal_server() {
    use crate::h46019::feature::{self, CLIENT, SERVER};
    use causeway_h323_asn1::rasn::aper;
    // supportedFeatures [{standard 18}, {standard 19, parameters [{standard 2}]}]
    const SERVER_SET: &str = "10020000124000130000000002";
    // supportedFeatures [{standard 18}, {standard 19}]
    const CLIENT_SET: &str = "1002000012000013";
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let both = feature::with_feature(crate::h46018::feature_set(), CLIENT);
    assert_eq!(hex(&aper::encode(&both).unwrap()), CLIENT_SET);

    let mut gk = gatekeeper();
    let now = Instant::now();
    let (sent, _) = exchange(
        &mut gk,
        "203.0.113.5:40000",
        &rrq_with(5, "erin", Some(both)),
        now,
    );
    let RasMessage::registrationConfirm(c) = one(sent).1 else {
        panic!("not an RCF")
    };
    let fs = c.feature_set.expect("RCF feature set");
    assert!(crate::h46018::announces(Some(&fs)));
    assert_eq!(feature::find(Some(&fs)), Some(SERVER));
    assert_eq!(hex(&aper::encode(&fs).unwrap()), SERVER_SET);
    let ep = gk.registrations().by_alias("erin").cloned().unwrap();
    assert!(ep.h46018 && ep.h46019);

    // 18 only: no 19 in the answer, not an H.460.19 registration
    let only18 = Some(crate::h46018::feature_set());
    let (sent, _) = exchange(
        &mut gk,
        "203.0.113.6:40000",
        &rrq_with(6, "fay", only18),
        now,
    );
    let RasMessage::registrationConfirm(c) = one(sent).1 else {
        panic!("not an RCF")
    };
    assert!(!feature::announces(c.feature_set.as_ref()));
    let ep = gk.registrations().by_alias("fay").cloned().unwrap();
    assert!(ep.h46018 && !ep.h46019);

    // 19 only: nothing of either
    let only19 = Some(FeatureSet::new(
        false,
        None,
        None,
        Some(vec![feature::descriptor(CLIENT)]),
    ));
    let (sent, _) = exchange(
        &mut gk,
        "203.0.113.7:40000",
        &rrq_with(7, "gil", only19),
        now,
    );
    let RasMessage::registrationConfirm(c) = one(sent).1 else {
        panic!("not an RCF")
    };
    assert_eq!(c.feature_set, None);
    let ep = gk.registrations().by_alias("gil").cloned().unwrap();
    assert!(!ep.h46018 && !ep.h46019);
}
