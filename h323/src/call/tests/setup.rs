//! Tests of Setup and routing (`signaling::setup`): route failures and their H.225.0 table
//! causes, a transformed alias in the forwarded Setup, malformed Setups, unknown call
//! references and the call limit.

use super::*;

#[test]
fn h225_7_4_2_route_failures_get_the_table_reason_and_cause() {
    for (failure, cause, reason) in [
        (
            RouteFailure::NotRegistered,
            20,
            ReleaseCompleteReason::calledPartyNotRegistered(()),
        ),
        (
            RouteFailure::Unreachable,
            3,
            ReleaseCompleteReason::unreachableDestination(()),
        ),
        (
            RouteFailure::Refused,
            111,
            ReleaseCompleteReason::noPermission(()),
        ),
        (
            RouteFailure::CallerNotRegistered,
            31,
            ReleaseCompleteReason::callerNotRegistered(()),
        ),
    ] {
        let mut h = H::new(CallConfig::default(), false);
        let (caller, call, _) = h.setup(SetupOpts::default());
        let out = h.input(Input::Routed {
            call,
            result: Err(failure),
        });
        let s = sends(&out, caller);
        assert_eq!(s.len(), 1);
        let (c, r, crv) = rc_of(&s[0]);
        assert_eq!((c, r.as_ref()), (cause, Some(&reason)));
        assert_eq!(crv, to_gk().reply());
        assert_eq!(closes(&out), vec![caller]);
        assert_eq!(
            released(&out),
            Some((cause, Some(reason_name(&reason).to_string()), None))
        );
        // A late answer for the cleared call is ignored.
        assert!(h
            .input(Input::Routed {
                call,
                result: Err(RouteFailure::Unreachable)
            })
            .is_empty());
    }
}

#[test]
fn routed_alias_replaces_destination_and_called_number() {
    let mut h = H::new(CallConfig::default(), false);
    let (_, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: alias_address(AliasKind::E164, "5551001"),
            zone: "LocalZone".into(),
            link: None,
            alternates: Vec::new(),
        }),
    });
    let Some(Output::Connect { conn, .. }) = out.first().cloned() else {
        panic!()
    };
    let out = h.input(Input::Connected {
        conn,
        local: sa(GK_INSIDE),
    });
    let (m, uu) = decode(&sends(&out, conn)[0]);
    assert_eq!(m.called_party_number().unwrap().unwrap().digits, "5551001");
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(
        su.destination_address,
        Some(vec![alias_address(AliasKind::E164, "5551001").unwrap()])
    );
    let st = &h.cs.calls()[0];
    assert_eq!(st.callee, Some(sa(CALLEE)));
    assert_eq!(st.zone.as_deref(), Some("LocalZone"));
}

#[test]
fn malformed_setup_is_rejected() {
    let mut h = H::new(CallConfig::default(), false);
    // No User-user: cause 96.
    let conn = h.accept();
    let m = Q931::new(MessageType::Setup, to_gk()).encode();
    let out = h.data(conn, &m);
    assert_eq!(rc_of(&sends(&out, conn)[0]).0, 96);
    assert_eq!(closes(&out), vec![conn]);
    assert!(events(&out)
        .iter()
        .any(|e| matches!(e, CallEvent::Rejected { cause: 96, .. })));
    // Undecodable PER: cause 100.
    let conn = h.accept();
    let mut m = Q931::new(MessageType::Setup, to_gk());
    m.set_user_user(&[0xff; 7]).unwrap();
    let out = h.data(conn, &m.encode());
    assert_eq!(rc_of(&sends(&out, conn)[0]).0, 100);
    assert_eq!(closes(&out), vec![conn]);
    // Not Q.931 at all: counted, nothing sent.
    let conn = h.accept();
    let out = h.data(conn, b"GET / HTTP/1.1");
    assert!(matches!(
        events(&out).as_slice(),
        [CallEvent::Malformed { .. }]
    ));
    assert!(sends(&out, conn).is_empty());
    assert_eq!(h.cs.call_count(), 0);
}

#[test]
fn q931_5_8_3_2_unknown_call_reference_gets_cause_81() {
    let mut h = H::new(CallConfig::default(), false);
    let conn = h.accept();
    let out = h.data(conn, &alerting());
    let (cause, _, crv) = rc_of(&sends(&out, conn)[0]);
    assert_eq!(cause, 81);
    assert_eq!(crv, from_callee().reply());
    // ReleaseComplete for an unknown call: ignored.
    assert!(h.data(conn, &release_complete(to_gk(), None)).is_empty());
    // Another call reference on a call's connection.
    let (caller, _, _) = h.setup(SetupOpts::default());
    let other = CallReference::new(7, false).unwrap();
    let out = h.data(caller, &facility_undefined(other));
    assert_eq!(rc_of(&sends(&out, caller)[0]).0, 81);
    assert_eq!(h.cs.call_count(), 1);
}

#[test]
fn call_limit() {
    let cfg = CallConfig {
        max_calls: 1,
        ..CallConfig::default()
    };
    let mut h = H::new(cfg, false);
    h.setup(SetupOpts::default());
    let conn = h.accept();
    let out = h.data(conn, &setup(SetupOpts::default()));
    let (cause, reason, _) = rc_of(&sends(&out, conn)[0]);
    assert_eq!(cause, 47);
    assert_eq!(reason, Some(ReleaseCompleteReason::gatekeeperResources(())));
    assert_eq!(closes(&out), vec![conn]);
    assert!(!out.iter().any(|o| matches!(o, Output::Route { .. })));
    assert_eq!(h.cs.call_count(), 1);
}
