//! Tests of clearing (`signaling::clearing` and the timers): lost legs, forwarded
//! ReleaseComplete, setup and alerting timeouts, silent connections, late completions.

use super::*;

#[test]
fn connect_failure_releases_the_caller() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "z".into(),
            link: None,
            alternates: Vec::new(),
        }),
    });
    let Some(Output::Connect { conn, .. }) = out.first().cloned() else {
        panic!()
    };
    let out = h.input(Input::ConnectFailed {
        conn,
        reason: "refused".into(),
    });
    let (cause, reason, _) = rc_of(&sends(&out, caller)[0]);
    assert_eq!(cause, 27);
    assert_eq!(
        reason,
        Some(ReleaseCompleteReason::unreachableDestination(()))
    );
    assert!(sends(&out, conn).is_empty());
    assert_eq!(closes(&out), vec![caller, conn]);
    assert_eq!(released(&out).map(|r| r.0), Some(27));
}

/// C routes to E across a traversal zone with two more E's of its cluster: connections that
/// cannot be opened move the Setup on to the next E (nothing reached the first), aimed at it,
/// with what the caller sent meanwhile behind it.
#[test]
fn connect_failure_moves_on_to_the_next_address() {
    const E2: &str = "192.0.2.22:1720";
    const E3: &str = "192.0.2.23:1720";
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "to-edge".into(),
            link: Some(LinkEnd::Client),
            alternates: vec![sa(E2), sa(E3)],
        }),
    });
    let Some(Output::Connect { conn: first, .. }) = out.first().cloned() else {
        panic!()
    };
    // the caller's Facility while the connection is being opened: queued behind the Setup
    let facility = facility_undefined(to_gk());
    assert!(sends(&h.data(caller, &facility), caller).is_empty());
    let queued = h.cs.queued_bytes();
    let mut conn = first;
    for next in [E2, E3] {
        let out = h.input(Input::ConnectFailed {
            conn,
            reason: "refused".into(),
        });
        assert!(sends(&out, caller).is_empty(), "the caller hears nothing");
        assert!(closes(&out).is_empty(), "{out:?}");
        let Some(Output::Connect { conn: c, to }) = out.first().cloned() else {
            panic!("no new connection: {out:?}")
        };
        assert_eq!(to, sa(next));
        assert_ne!(c, conn);
        assert!(events(&out)
            .iter()
            .any(|e| matches!(e, CallEvent::Routed { to, .. } if *to == sa(next))));
        conn = c;
        assert_eq!(h.cs.queued_bytes(), queued, "the Setup replaced, not added");
    }
    // a late answer about the first connection changes nothing
    assert!(h
        .input(Input::ConnectFailed {
            conn: first,
            reason: "refused".into()
        })
        .is_empty());
    let out = h.input(Input::Connected {
        conn,
        local: sa(GK_INSIDE),
    });
    let sent = sends(&out, conn);
    assert_eq!(sent.len(), 2, "the Setup, then the Facility");
    assert_eq!(sent[1], facility);
    let (_, uu) = decode(&sent[0]);
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!("not the Setup")
    };
    assert_eq!(
        su.dest_call_signal_address,
        Some(crate::asn::transport_address(sa(E3)))
    );
    assert_eq!(h.cs.calls()[0].callee, Some(sa(E3)));
}

#[test]
fn connect_failure_of_the_last_address_releases_the_caller() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "to-edge".into(),
            link: Some(LinkEnd::Client),
            alternates: vec![sa("192.0.2.22:1720")],
        }),
    });
    let Some(Output::Connect { conn, .. }) = out.first().cloned() else {
        panic!()
    };
    let out = h.input(Input::ConnectFailed {
        conn,
        reason: "refused".into(),
    });
    let Some(Output::Connect { conn, .. }) = out.first().cloned() else {
        panic!("no second attempt: {out:?}")
    };
    let out = h.input(Input::ConnectFailed {
        conn,
        reason: "refused".into(),
    });
    assert_eq!(rc_of(&sends(&out, caller)[0]).0, 27);
    assert_eq!(closes(&out), vec![caller, conn]);
}

#[test]
fn callee_release_complete_is_forwarded() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, _) = h.route_and_connect(call);
    let rc = release_complete(from_callee(), Some(17));
    let out = h.data(callee, &rc);
    assert_eq!(sends(&out, caller), vec![rc]);
    assert!(sends(&out, callee).is_empty());
    assert_eq!(closes(&out), vec![caller, callee]);
    assert_eq!(
        released(&out),
        Some((17, Some("undefinedReason".into()), Some(Side::Callee)))
    );
}

#[test]
fn caller_close_releases_the_callee() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, _) = h.route_and_connect(call);
    let out = h.input(Input::Closed { conn: caller });
    let (cause, _, crv) = rc_of(&sends(&out, callee)[0]);
    assert_eq!(cause, 41);
    assert_eq!(crv, to_gk());
    assert_eq!(released(&out).map(|r| r.2), Some(Some(Side::Caller)));
    // Caller close while routing: nothing to send, call gone.
    let (caller, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Closed { conn: caller });
    assert!(sends(&out, caller).is_empty());
    assert!(released(&out).is_some());
    assert!(h
        .input(Input::Routed {
            call,
            result: Err(RouteFailure::Unreachable)
        })
        .is_empty());
}

#[test]
fn q931_t301_setup_and_alerting_timeouts() {
    let mut h = H::new(CallConfig::default(), false);
    let start = h.now;
    let (caller, call, _) = h.setup(SetupOpts::default());
    assert_eq!(h.cs.poll_timeout(), Some(start + Duration::from_secs(180)));
    let mut out = Vec::new();
    h.cs.handle_timeout(start + Duration::from_secs(179), &mut out);
    assert!(out.is_empty());
    let (callee, _) = h.route_and_connect(call);
    h.cs.handle_timeout(start + Duration::from_secs(180), &mut out);
    let (cause, _, _) = rc_of(&sends(&out, caller)[0]);
    assert_eq!(cause, 18);
    let (cause, _, _) = rc_of(&sends(&out, callee)[0]);
    assert_eq!(cause, 18);
    assert_eq!(released(&out).map(|r| r.0), Some(18));
    assert_eq!(h.cs.poll_timeout(), None);

    // After Alerting the alerting timer runs: cause 19.
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, _) = h.route_and_connect(call);
    h.now = start + Duration::from_secs(100);
    h.data(callee, &alerting());
    assert_eq!(h.cs.poll_timeout(), Some(h.now + Duration::from_secs(180)));
    let mut out = Vec::new();
    h.cs.handle_timeout(start + Duration::from_secs(281), &mut out);
    assert_eq!(rc_of(&sends(&out, caller)[0]).0, 19);
}

#[test]
fn silent_connection_is_closed() {
    let mut h = H::new(CallConfig::default(), false);
    let conn = h.accept();
    let t = h.cs.poll_timeout().unwrap();
    assert_eq!(t, h.now + Duration::from_secs(30));
    let mut out = Vec::new();
    h.cs.handle_timeout(t, &mut out);
    assert_eq!(out, vec![Output::Close { conn }]);
    assert_eq!(h.cs.conn_count(), 0);
}

#[test]
fn late_connect_and_bind_after_release_are_closed() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts {
        h245: Some(sa("198.51.100.7:5000")),
        ..Default::default()
    });
    let (callee, out) = h.route_and_connect(call);
    let Some(Output::Listen { listener, .. }) = out.first().cloned() else {
        panic!("{out:?}")
    };
    // Cleared while the listener is being bound: CloseListener at release ...
    let out = h.data(caller, &release_complete(to_gk(), Some(16)));
    assert!(out.contains(&Output::CloseListener { listener }));
    assert!(closes(&out).contains(&callee));
    // ... and again if the bind completes afterwards.
    let out = h.input(Input::Listening {
        listener,
        addr: sa("10.1.1.1:15500"),
    });
    assert_eq!(out, vec![Output::CloseListener { listener }]);
    // A connection that completes after its call was cleared is closed.
    let (_, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "z".into(),
            link: None,
            alternates: Vec::new(),
        }),
    });
    let Some(Output::Connect { conn, .. }) = out.first().cloned() else {
        panic!()
    };
    let mut out = Vec::new();
    h.cs.handle_timeout(h.now + Duration::from_secs(180), &mut out);
    assert!(closes(&out).contains(&conn));
    let out = h.input(Input::Connected {
        conn,
        local: sa(GK_INSIDE),
    });
    assert_eq!(out, vec![Output::Close { conn }]);
}
