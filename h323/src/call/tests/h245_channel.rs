//! Tests of separate H.245 channels (`signaling::h245_channel`): the relayed channel with a
//! rewriting media hook, the listener on either side, a listener that cannot be bound, and
//! several PDUs in one payload.

use super::*;

#[test]
fn h323_8_1_3_separate_h245_relayed_with_a_rewriting_hook() {
    let mut h = H::new(CallConfig::default(), true);
    let caller_h245 = sa("198.51.100.7:5000");
    let (caller, call, out) = h.setup(SetupOpts {
        h245: Some(caller_h245),
        fast_start: Some(vec![olc_bytes(sa("198.51.100.7:7000"))]),
        ..Default::default()
    });
    // The Setup is not sent before the callee leg is up: nothing to listen on yet.
    assert!(!out.iter().any(|o| matches!(o, Output::Listen { .. })));
    let (callee, out) = h.route_and_connect(call);
    // Listen on the address the callee's leg uses, Setup held until it is bound.
    let listener = match out.as_slice() {
        [Output::Listen { listener, ip }, Output::Event(CallEvent::CalleeReached { .. })] => {
            assert_eq!(*ip, sa(GK_INSIDE).ip());
            *listener
        }
        o => panic!("{o:?}"),
    };
    let bound = sa("10.1.1.1:15500");
    let out = h.input(Input::Listening {
        listener,
        addr: bound,
    });
    let s = sends(&out, callee);
    assert_eq!(s.len(), 1);
    let (_, uu) = decode(&s[0]);
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(su.h245_address, Some(asn::transport_address(bound)));
    // The fastStart OLC was rewritten by the hook.
    assert_eq!(
        fast_start_media(&su.fast_start.as_ref().unwrap()[0]),
        Some(sa("203.0.113.9:17000"))
    );
    assert_eq!(h.cs.calls()[0].h245, H245Mode::Separate { up: false });

    // Another IP may not use the listener.
    let intruder = h.cs.next_conn_id();
    let out = h.input(Input::H245Accepted {
        listener,
        conn: intruder,
        peer: sa("10.9.9.9:3000"),
    });
    assert_eq!(out, vec![Output::Close { conn: intruder }]);
    // The callee connects to it: causeway connects to the caller's own address.
    let h_callee = h.cs.next_conn_id();
    let out = h.input(Input::H245Accepted {
        listener,
        conn: h_callee,
        peer: sa("10.1.1.5:33000"),
    });
    let h_caller = match out.as_slice() {
        [Output::CloseListener { listener: l }, Output::Connect { conn, to }] => {
            assert_eq!(*l, listener);
            assert_eq!(*to, caller_h245);
            *conn
        }
        o => panic!("{o:?}"),
    };
    // TCS from the callee before the caller leg is up: queued.
    let tcs = tcs_msg();
    assert!(h.data(h_callee, &tcs).is_empty());
    let out = h.input(Input::Connected {
        conn: h_caller,
        local: sa("192.0.2.1:16000"),
    });
    assert_eq!(
        events(&out),
        vec![CallEvent::H245 {
            call,
            tunneled: false
        }]
    );
    // Untouched bytes when the hook changes nothing (TCS has no address).
    assert_eq!(sends(&out, h_caller), vec![tcs.clone()]);
    assert_eq!(h.cs.calls()[0].h245, H245Mode::Separate { up: true });
    // OLC from the caller: the callee sees the rewritten media address.
    let out = h.data(h_caller, &olc_msg(sa("198.51.100.7:7002")));
    let s = sends(&out, h_callee);
    assert_eq!(media_of(&s[0]), Some(sa("203.0.113.9:17002")));
    // OLCAck from the callee: rewritten towards the caller.
    let out = h.data(h_callee, &olc_ack_msg(sa("10.1.1.5:9000")));
    let s = sends(&out, h_caller);
    assert_eq!(media_of(&s[0]), Some(sa("203.0.113.9:19000")));
    {
        let seen = h.hook.seen.lock().unwrap();
        assert!(seen.iter().any(|s| s.kind == Kind::OlcAckMedia
            && s.from == Side::Callee
            && !s.fast_start
            && s.addr == Some(sa("10.1.1.5:9000"))));
    }
    // endSessionCommand passes through.
    let es = end_session_msg();
    assert_eq!(sends(&h.data(h_caller, &es), h_callee), vec![es]);
    // Garbage on H.245: forwarded untouched, counted.
    let out = h.data(h_callee, &[0xff, 0xff, 0xff]);
    assert_eq!(sends(&out, h_caller), vec![vec![0xff, 0xff, 0xff]]);
    assert!(matches!(
        events(&out).as_slice(),
        [CallEvent::Malformed { .. }]
    ));

    // The callee's Connect offers its own h245Address: stripped (one channel per call).
    let out = h.data(callee, &connect(Some(sa("10.1.1.5:6000")), None, None));
    let s = sends(&out, caller);
    let (_, uu) = decode(&s[0]);
    let Body::connect(c) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(c.h245_address, None);

    // The callee's signaling closes: ReleaseComplete cause 41 to the caller, all closed.
    let out = h.input(Input::Closed { conn: callee });
    let s = sends(&out, caller);
    let (cause, reason, crv) = rc_of(&s[0]);
    assert_eq!(cause, 41);
    assert_eq!(reason, Some(ReleaseCompleteReason::undefinedReason(())));
    assert_eq!(crv, to_gk().reply());
    let mut c = closes(&out);
    c.sort();
    let mut want = vec![caller, callee, h_callee, h_caller];
    want.sort();
    assert_eq!(c, want);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::CloseListener { .. })));
    assert_eq!(released(&out).map(|r| r.2), Some(Some(Side::Callee)));
    assert_eq!(h.cs.conn_count(), 0);
}

#[test]
fn h323_8_1_3_h245_address_from_callee_gets_a_listener_on_the_caller_side() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, out) = h.route_and_connect(call);
    assert_eq!(sends(&out, callee).len(), 1);
    // Connect with an h245Address: Listen on the caller leg's local IP, Connect held.
    let callee_h245 = sa("10.1.1.5:6000");
    let out = h.data(callee, &connect(Some(callee_h245), Some(false), None));
    let listener = match out.as_slice() {
        [Output::Listen { listener, ip }, Output::Event(CallEvent::Connected { .. })] => {
            assert_eq!(*ip, sa(GK_OUTSIDE).ip());
            *listener
        }
        o => panic!("{o:?}"),
    };
    // A message after it waits behind it (order kept).
    let f = facility_undefined(from_callee());
    assert!(sends(&h.data(callee, &f), caller).is_empty());
    let bound = sa("192.0.2.1:15600");
    let out = h.input(Input::Listening {
        listener,
        addr: bound,
    });
    let s = sends(&out, caller);
    assert_eq!(s.len(), 2);
    let (m, uu) = decode(&s[0]);
    assert_eq!(m.message_type, MessageType::Connect);
    let Body::connect(c) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(c.h245_address, Some(asn::transport_address(bound)));
    assert_eq!(s[1], f);
    // The caller connects from its signaling IP; causeway connects to the callee.
    let hc = h.cs.next_conn_id();
    let out = h.input(Input::H245Accepted {
        listener,
        conn: hc,
        peer: sa("198.51.100.7:41000"),
    });
    let hk = match out.as_slice() {
        [Output::CloseListener { .. }, Output::Connect { conn, to }] => {
            assert_eq!(*to, callee_h245);
            *conn
        }
        o => panic!("{o:?}"),
    };
    // Caller's TCS waits for the callee leg, then goes out untouched.
    let tcs = tcs_msg();
    assert!(h.data(hc, &tcs).is_empty());
    let out = h.input(Input::Connected {
        conn: hk,
        local: sa(GK_INSIDE),
    });
    assert_eq!(sends(&out, hk), vec![tcs]);
    // Losing one H.245 leg closes the other; the call goes on.
    let out = h.input(Input::Closed { conn: hk });
    assert_eq!(out, vec![Output::Close { conn: hc }]);
    assert_eq!(h.cs.call_count(), 1);
}

#[test]
fn listen_failure_strips_the_h245_address() {
    let mut h = H::new(CallConfig::default(), false);
    let (_, call, _) = h.setup(SetupOpts {
        h245: Some(sa("198.51.100.7:5000")),
        ..Default::default()
    });
    let (callee, out) = h.route_and_connect(call);
    let Some(Output::Listen { listener, .. }) = out.first().cloned() else {
        panic!("{out:?}")
    };
    let out = h.input(Input::ListenFailed {
        listener,
        reason: "no port".into(),
    });
    let s = sends(&out, callee);
    let (_, uu) = decode(&s[0]);
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(su.h245_address, None);
}

#[test]
fn several_h245_pdus_in_one_payload_are_all_kept() {
    let mut h = H::new(CallConfig::default(), true);
    let [_, _, _, hk, hc] = all_kinds(&mut h);
    // TCS + OLC back to back: the OLC is rewritten, the TCS kept, nothing lost.
    let mut payload = tcs_msg();
    payload.extend_from_slice(&olc_msg(sa("10.1.1.5:9000")));
    let out = h.data(hk, &payload);
    let s = sends(&out, hc);
    assert_eq!(s.len(), 1);
    let (first, rest): (Mscm, &[u8]) = aper::decode_with_remainder(&s[0]).unwrap();
    assert_eq!(aper::encode(&first).unwrap(), tcs_msg());
    assert_eq!(media_of(rest), Some(sa("203.0.113.9:19000")));
}
