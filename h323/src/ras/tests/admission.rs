//! Tests of admission (`ras::admission`): ARQ confirmed or rejected with its reason.

use super::*;

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
    assert_eq!(
        gk.admitted_bandwidth(),
        2 * 1280,
        "each leg as its ARQ asked"
    );
    let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &drq(9, &alice), now);
    assert!(matches!(one(sent).1, RasMessage::disengageConfirm(_)));
    assert_eq!(gk.admitted_calls(), 1, "the answering leg stays");
    assert_eq!(gk.admitted_bandwidth(), 1280);
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
