//! Tests of relaying Q.931 messages (`signaling::relay`): a whole tunneled call, the callee's
//! CallProceeding turned into Facility, the bounded queues and the status view.

use super::*;

#[test]
fn h323_8_2_1_full_call_with_h245_tunneling() {
    let mut h = H::new(CallConfig::default(), false);
    let fs = vec![olc_bytes(sa("198.51.100.7:7000"))];
    let (caller, call, out) = h.setup(SetupOpts {
        tunneling: Some(true),
        control: Some(vec![tcs_msg()]),
        fast_start: Some(fs.clone()),
        ..Default::default()
    });
    // Event Setup, CallProceeding to the caller, Route.
    assert_eq!(
        events(&out),
        vec![CallEvent::Setup {
            call,
            caller: sa(CALLER),
            called: "1001".into()
        }]
    );
    let cp = sends(&out, caller);
    assert_eq!(cp.len(), 1);
    let (m, uu) = decode(&cp[0]);
    assert_eq!(m.message_type, MessageType::CallProceeding);
    assert_eq!(m.call_reference, to_gk().reply());
    assert_eq!(uu.h323_uu_pdu.h245_tunnelling, Some(true));
    assert_eq!(uu.h323_uu_pdu.provisional_resp_to_h245_tunnelling, Some(()));
    let Body::callProceeding(b) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(b.call_identifier, Some(cid()));
    assert_eq!(b.protocol_identifier, asn::h225_protocol_identifier());
    let route = out
        .iter()
        .find(|o| matches!(o, Output::Route { .. }))
        .unwrap();
    assert_eq!(
        route,
        &Output::Route {
            call,
            called: vec![alias_address(AliasKind::E164, "1001").unwrap()],
            called_number: Some("1001".into()),
            caller: sa(CALLER),
            caller_aliases: vec![alias_address(AliasKind::H323Id, "alice").unwrap()],
            from_interworking: false,
        }
    );
    // Nothing is shown to the hook before the route is known (the legs are not).
    assert!(h.hook.seen.lock().unwrap().is_empty());
    assert_eq!(h.cs.calls()[0].state, CallState::Routing);

    // Routed, connected: the Setup goes to the callee, retargeted, fastStart untouched.
    let (callee, out) = h.route_and_connect(call);
    // The hook saw the fastStart OLC (media and control) as fast start from the caller.
    {
        let seen = h.hook.seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen
            .iter()
            .all(|s| s.fast_start && s.from == Side::Caller && s.call == call));
        assert_eq!(seen[0].kind, Kind::OlcMedia);
        assert_eq!(seen[0].addr, Some(sa("198.51.100.7:7000")));
        assert_eq!(seen[1].kind, Kind::OlcMediaControl);
    }
    let s = sends(&out, callee);
    assert_eq!(s.len(), 1);
    let (m, uu) = decode(&s[0]);
    assert_eq!(m.message_type, MessageType::Setup);
    assert_eq!(m.call_reference, to_gk());
    assert_eq!(m.called_party_number().unwrap().unwrap().digits, "1001");
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(
        su.dest_call_signal_address,
        Some(asn::transport_address(sa(CALLEE)))
    );
    // the callee learns no address of the caller's side: the source is us
    assert_eq!(
        su.source_call_signal_address,
        Some(asn::transport_address(sa(GK_OUTSIDE)))
    );
    assert_eq!(su.call_identifier, Some(cid()));
    assert_eq!(
        su.conference_id,
        ConferenceIdentifier(asn::guid([0xcf; 16]))
    );
    assert_eq!(
        su.fast_start.as_ref().unwrap()[0].as_ref(),
        fs[0].as_slice()
    );
    assert_eq!(
        uu.h323_uu_pdu.h245_control.as_ref().unwrap()[0].as_ref(),
        tcs_msg().as_slice()
    );
    assert_eq!(h.cs.calls()[0].state, CallState::Proceeding);

    // The callee's plain CallProceeding is absorbed.
    assert!(h.data(callee, &call_proceeding(None)).is_empty());
    // Alerting is forwarded byte for byte.
    let a = alerting();
    let out = h.data(callee, &a);
    assert_eq!(sends(&out, caller), vec![a]);
    assert_eq!(events(&out), vec![CallEvent::Alerting { call }]);
    // Connect with tunneling TRUE: forwarded, Connected and H245{tunneled} once.
    let c = connect(None, Some(true), Some(vec![tcs_msg()]));
    let out = h.data(callee, &c);
    assert_eq!(sends(&out, caller), vec![c]);
    assert_eq!(
        events(&out),
        vec![
            CallEvent::Connected { call },
            CallEvent::H245 {
                call,
                tunneled: true
            }
        ]
    );
    assert_eq!(h.cs.calls()[0].h245, H245Mode::Tunneled);
    assert_eq!(h.cs.poll_timeout(), None);
    // Tunneled H.245 in an empty-bodied Facility, both ways, untouched.
    let f = facility_control(to_gk(), vec![olc_msg(sa("198.51.100.7:7002"))]);
    assert_eq!(sends(&h.data(caller, &f), callee), vec![f]);
    let f = facility_control(from_callee(), vec![olc_ack_msg(sa("10.1.1.5:9000"))]);
    assert_eq!(sends(&h.data(callee, &f), caller), vec![f]);
    assert!(h
        .hook
        .seen
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.kind == Kind::OlcAckMedia && s.from == Side::Callee));
    // endSessionCommand tunneled passes through.
    let f = facility_control(to_gk(), vec![end_session_msg()]);
    assert_eq!(sends(&h.data(caller, &f), callee), vec![f]);
    // Caller hangs up: ReleaseComplete forwarded, both closed, Released.
    let rc = release_complete(to_gk(), Some(16));
    let out = h.data(caller, &rc);
    assert_eq!(sends(&out, callee), vec![rc]);
    assert_eq!(closes(&out), vec![caller, callee]);
    assert_eq!(
        released(&out),
        Some((16, Some("undefinedReason".into()), Some(Side::Caller)))
    );
    assert!(h.cs.calls().is_empty());
    assert_eq!(h.cs.conn_count(), 0);
    // Late events for the closed connections are ignored.
    assert!(h.input(Input::Closed { conn: caller }).is_empty());
    assert!(h.data(callee, &alerting()).is_empty());
}

#[test]
fn h225_7_4_callee_call_proceeding_with_fast_start_becomes_facility() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, _) = h.route_and_connect(call);
    let fs = olc_bytes(sa("10.1.1.5:9000"));
    let out = h.data(callee, &call_proceeding(Some(vec![fs.clone()])));
    let s = sends(&out, caller);
    assert_eq!(s.len(), 1);
    let (m, uu) = decode(&s[0]);
    assert_eq!(m.message_type, MessageType::Facility);
    assert_eq!(m.call_reference, from_callee());
    let Body::facility(f) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(f.fast_start.as_ref().unwrap()[0].as_ref(), fs.as_slice());
    assert_eq!(f.call_identifier, Some(cid()));
}

#[test]
fn queue_is_bounded() {
    let cfg = CallConfig {
        max_queued_bytes: 1000,
        ..CallConfig::default()
    };
    let mut h = H::new(cfg, false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    // Routed but the callee leg never comes up: the caller's messages queue.
    h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "z".into(),
            link: None,
            alternates: Vec::new(),
        }),
    });
    let f = facility_undefined(to_gk());
    let mut cleared = None;
    for i in 0..100 {
        let out = h.data(caller, &f);
        assert!(h.cs.queued_bytes() <= 1000);
        if let Some(r) = released(&out) {
            cleared = Some((i, r, out));
            break;
        }
    }
    let (_, (cause, reason, _), out) = cleared.expect("cleared by the queue limit");
    assert_eq!(cause, 47);
    assert_eq!(reason.as_deref(), Some("queue limit"));
    assert_eq!(rc_of(&sends(&out, caller)[0]).0, 47);
    assert_eq!(h.cs.queued_bytes(), 0);
}

#[test]
fn status_view() {
    let mut h = H::new(CallConfig::default(), false);
    let (_, call, _) = h.setup(SetupOpts {
        h245: Some(sa("198.51.100.7:5000")),
        ..Default::default()
    });
    let st = h.cs.calls();
    assert_eq!(
        st,
        vec![CallStatus {
            id: call,
            caller: sa(CALLER),
            called: "1001".into(),
            callee: None,
            zone: None,
            state: CallState::Routing,
            // the Setup's h245Address is taken up once the call is routed
            h245: H245Mode::None,
        }]
    );
}

/// What the caller sends while its call is being routed (on E up to 6 s while C is asked
/// with LRQ) goes to the callee after the Setup, not ahead of it.
#[test]
fn caller_messages_sent_while_routing_follow_the_setup() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let early = facility_control(to_gk(), vec![tcs_msg()]);
    assert!(h.data(caller, &early).is_empty());
    let (callee, out) = h.route_and_connect(call);
    let types: Vec<_> = sends(&out, callee)
        .iter()
        .map(|p| decode(p).0.message_type)
        .collect();
    assert_eq!(types, vec![MessageType::Setup, MessageType::Facility]);
}
