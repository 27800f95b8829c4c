//! What the media anchor is shown (`call::h245` through `signaling`): every address with its
//! H.245 sessionID (an Ack without one takes its channel's), the call's legs as they become
//! known, only the calls the anchor wants, and the end of each call it was shown.

use super::*;

/// A tunneled call up to Connect: (caller conn, callee conn, call).
fn tunneled_call(h: &mut H, fast_start: Option<Vec<Vec<u8>>>) -> (ConnId, ConnId, CallId) {
    let (caller, call, _) = h.setup(SetupOpts {
        tunneling: Some(true),
        fast_start,
        ..Default::default()
    });
    let (callee, _) = h.route_and_connect(call);
    h.data(callee, &connect(None, Some(true), None));
    (caller, callee, call)
}

fn seen(h: &H) -> Vec<Seen> {
    h.hook.seen.lock().unwrap().clone()
}

#[test]
fn every_address_reaches_the_anchor_with_its_session_id() {
    let mut h = H::new(CallConfig::default(), false);
    let fs = vec![aper::encode(&olc_with(sa("198.51.100.7:7000"), 1, 1)).unwrap()];
    let (caller, callee, call) = tunneled_call(&mut h, Some(fs));
    // fastStart in the Setup: session 1, shown before routing, so the callee leg is not known
    // yet (its local address is the caller's)
    let s = seen(&h);
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|s| s.session == 1 && s.fast_start));
    assert_eq!(s[0].legs.caller.remote, sa(CALLER));
    assert_eq!(s[0].legs.caller.local, sa(GK_OUTSIDE));
    assert_eq!(s[0].legs.callee.local, sa(GK_OUTSIDE));
    assert!(s[0].legs.caller.link.is_none() && s[0].legs.callee.link.is_none());

    // video from the caller on channel 2; the callee's Ack without a sessionID is channel 2's
    let f = facility_control(to_gk(), vec![olc_msg_with(sa("198.51.100.7:7010"), 2, 2)]);
    h.data(caller, &f);
    let f = facility_control(
        from_callee(),
        vec![olc_ack_with(sa("10.1.1.5:9010"), 2, None)],
    );
    h.data(callee, &f);
    let s = seen(&h);
    let ack: Vec<&Seen> = s.iter().filter(|s| s.kind == Kind::OlcAckMedia).collect();
    assert_eq!(ack.len(), 1);
    assert_eq!((ack[0].session, ack[0].from), (2, Side::Callee));
    // now the legs are whole: the callee leg is the connection we opened to it
    assert_eq!(ack[0].legs.callee.local, sa(GK_INSIDE));
    assert_eq!(ack[0].legs.callee.remote, sa(CALLEE));
    let olc = s
        .iter()
        .find(|s| s.kind == Kind::OlcMediaControl && !s.fast_start)
        .unwrap();
    assert_eq!((olc.session, olc.from), (2, Side::Caller));

    // an Ack's own sessionID wins (the master assigns a session the slave opened with 0)
    h.data(
        caller,
        &facility_control(to_gk(), vec![olc_msg_with(sa("198.51.100.7:7020"), 3, 0)]),
    );
    let f = facility_control(
        from_callee(),
        vec![olc_ack_with(sa("10.1.1.5:9020"), 3, Some(3))],
    );
    h.data(callee, &f);
    // an Ack of a channel never seen, without a sessionID: session 0
    let f = facility_control(
        from_callee(),
        vec![olc_ack_with(sa("10.1.1.5:9030"), 9, None)],
    );
    h.data(callee, &f);
    // the callee opens its own channel 2 (another direction, another opener): its own session
    h.data(
        callee,
        &facility_control(from_callee(), vec![olc_msg_with(sa("10.1.1.5:9040"), 2, 1)]),
    );
    let f = facility_control(
        to_gk(),
        vec![olc_ack_with(sa("198.51.100.7:7040"), 2, None)],
    );
    h.data(caller, &f);
    let acks: Vec<(u8, Side)> = seen(&h)
        .iter()
        .filter(|s| s.kind == Kind::OlcAckMedia)
        .map(|s| (s.session, s.from))
        .collect();
    assert_eq!(
        acks,
        vec![
            (2, Side::Callee),
            (3, Side::Callee),
            (0, Side::Callee),
            (1, Side::Caller)
        ]
    );
    assert!(h.hook.ended.lock().unwrap().is_empty());
    h.data(caller, &release_complete(to_gk(), Some(16)));
    assert_eq!(*h.hook.ended.lock().unwrap(), vec![call.to_string()]);
}

#[test]
fn a_call_the_anchor_does_not_want_is_never_shown_nor_ended() {
    let hook = TestHook {
        rewrite: true,
        refuse: true,
        ..Default::default()
    };
    let mut h = H::with_hook(CallConfig::default(), hook);
    let fs = vec![olc_bytes(sa("198.51.100.7:7000"))];
    let (caller, callee, _) = tunneled_call(&mut h, Some(fs));
    let f = facility_control(to_gk(), vec![olc_msg(sa("198.51.100.7:7002"))]);
    assert_eq!(sends(&h.data(caller, &f), callee), vec![f], "untouched");
    h.data(caller, &release_complete(to_gk(), Some(16)));
    assert!(seen(&h).is_empty());
    assert!(h.hook.ended.lock().unwrap().is_empty());
}

#[test]
fn a_call_cleared_by_causeway_is_ended_at_the_anchor_too() {
    let mut h = H::new(CallConfig::default(), true);
    let (_, call, _) = h.setup(SetupOpts {
        tunneling: Some(true),
        fast_start: Some(vec![olc_bytes(sa("198.51.100.7:7000"))]),
        ..Default::default()
    });
    // routed (the anchor sees the fastStart), then the callee cannot be reached: the call is
    // cleared before it reached the callee
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "LocalZone".into(),
            link: None,
            alternates: Vec::new(),
        }),
    });
    let Some(Output::Connect { conn, .. }) = out.first() else {
        panic!("{out:?}")
    };
    h.input(Input::ConnectFailed {
        conn: *conn,
        reason: "refused".into(),
    });
    assert_eq!(*h.hook.ended.lock().unwrap(), vec![call.to_string()]);
}

/// E: a call from a traversal client that the service says is behind a NAT tells the anchor
/// which leg and which observed IP before any of the call's addresses; one from a client not
/// behind a NAT tells nothing.
#[test]
fn a_link_leg_to_a_c_behind_a_nat_is_told_to_the_anchor_first() {
    for behind_nat in [true, false] {
        let mut h = H::new(CallConfig::default(), false);
        let c_ip = sa(CALLER).ip();
        h.input(Input::LinkNat {
            ip: c_ip,
            behind_nat,
        });
        let c = h.cs.next_conn_id();
        h.input(Input::Accepted {
            conn: c,
            peer: sa(CALLER),
            local: sa(GK_OUTSIDE),
            link: Some(crate::call::LinkEnd::Server),
        });
        let fs = vec![aper::encode(&olc_with(sa("10.9.9.9:7000"), 1, 1)).unwrap()];
        let out = h.data(
            c,
            &setup(SetupOpts {
                fast_start: Some(fs),
                ..Default::default()
            }),
        );
        let Some(Output::Route { call, .. }) =
            out.iter().find(|o| matches!(o, Output::Route { .. }))
        else {
            panic!("{out:?}")
        };
        h.route_and_connect(*call);
        let told = h.hook.link_peers.lock().unwrap().clone();
        if behind_nat {
            assert_eq!(told, vec![(call.to_string(), Side::Caller, c_ip, 0)]);
            assert!(!seen(&h).is_empty(), "the fastStart was shown after");
        } else {
            assert!(told.is_empty(), "{told:?}");
        }
    }
}

/// E: an OLC tunneled towards C (our end of C's leg is the traversal server) gets H.460.19
/// traversal parameters: keepAliveChannel the relay address the OLC names, the configured
/// keep-alive payload type, interval 19; the same OLC towards an endpoint that is no link
/// gets none.
#[test]
fn a_tunneled_olc_towards_c_carries_h46019_traversal_parameters() {
    for link in [Some(crate::call::LinkEnd::Server), None] {
        let cfg = CallConfig {
            keepalive_payload_type: 120,
            ..CallConfig::default()
        };
        let mut h = H::new(cfg, true);
        let c = h.cs.next_conn_id();
        h.input(Input::Accepted {
            conn: c,
            peer: sa(CALLER),
            local: sa(GK_OUTSIDE),
            link,
        });
        let out = h.data(
            c,
            &setup(SetupOpts {
                tunneling: Some(true),
                ..Default::default()
            }),
        );
        let Some(Output::Route { call, .. }) =
            out.iter().find(|o| matches!(o, Output::Route { .. }))
        else {
            panic!("{out:?}")
        };
        let (callee, _) = h.route_and_connect(*call);
        h.data(callee, &connect(None, Some(true), None));
        let olc = olc_msg_with(sa("10.1.1.5:9000"), 1, 1);
        let out = h.data(callee, &facility_control(from_callee(), vec![olc]));
        let to_c = sends(&out, c);
        let (_, uu) = decode(to_c.last().expect("relayed to C"));
        let pdu = &uu.h323_uu_pdu.h245_control.expect("tunneled")[0];
        let Mscm::request(RequestMessage::openLogicalChannel(o)) =
            aper::decode::<Mscm>(pdu).unwrap()
        else {
            panic!()
        };
        let params = crate::h46019::olc_params(&o);
        if link.is_none() {
            assert_eq!(params, None);
            continue;
        }
        let p = params.expect("traversal parameters");
        // the test anchor moved the address to 203.0.113.9, port + 10000
        assert_eq!(p.keep_alive_channel, Some(sa("203.0.113.9:19000")));
        assert_eq!(p.keep_alive_payload_type, Some(120));
        assert_eq!(p.keep_alive_interval, Some(19));
    }
}

/// C: the OLCAck the inside endpoint sends towards E (our end of E's leg is the traversal
/// client) names C's keep-alive payload type; E's parameters in its OLC do not reach inside.
#[test]
fn c_names_its_keep_alive_payload_type_in_acks_towards_e() {
    let cfg = CallConfig {
        keepalive_payload_type: 121,
        ..CallConfig::default()
    };
    let mut h = H::new(cfg, true);
    let (caller, call, _) = h.setup(SetupOpts {
        tunneling: Some(true),
        ..Default::default()
    });
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "to-edge".into(),
            link: Some(crate::call::LinkEnd::Client),
            alternates: Vec::new(),
        }),
    });
    let Some(Output::Connect { conn: e, .. }) = out.first() else {
        panic!("{out:?}")
    };
    let e = *e;
    h.input(Input::Connected {
        conn: e,
        local: sa(GK_INSIDE),
    });
    h.data(e, &connect(None, Some(true), None));
    // E's OLC with its parameters: the inside caller gets it without them
    let mut olc = olc_with(sa("10.1.1.5:36000"), 1, 1);
    let p = crate::h46019::TraversalParams {
        keep_alive_channel: Some(sa("10.1.1.5:36000")),
        keep_alive_payload_type: Some(116),
        ..Default::default()
    };
    crate::h46019::set_olc_params(&mut olc, Some(&p));
    let msg = aper::encode(&Mscm::request(RequestMessage::openLogicalChannel(olc))).unwrap();
    let out = h.data(e, &facility_control(from_callee(), vec![msg]));
    let (_, uu) = decode(sends(&out, caller).last().expect("relayed inside"));
    let pdu = &uu.h323_uu_pdu.h245_control.expect("tunneled")[0];
    let Mscm::request(RequestMessage::openLogicalChannel(o)) = aper::decode::<Mscm>(pdu).unwrap()
    else {
        panic!()
    };
    assert_eq!(crate::h46019::olc_params(&o), None);
    // the caller's Ack goes to E with C's payload type
    let ack = olc_ack_with(sa("10.1.1.20:6000"), 1, Some(1));
    let out = h.data(caller, &facility_control(to_gk(), vec![ack]));
    let (_, uu) = decode(sends(&out, e).last().expect("relayed to E"));
    let pdu = &uu.h323_uu_pdu.h245_control.expect("tunneled")[0];
    let Mscm::response(ResponseMessage::openLogicalChannelAck(a)) =
        aper::decode::<Mscm>(pdu).unwrap()
    else {
        panic!()
    };
    let p = crate::h46019::ack_params(&a).expect("parameters");
    assert_eq!(p.keep_alive_payload_type, Some(121));
}

/// E: the fastStart proposals of an outside caller's Setup reach C (by call-back) with H.460.19
/// traversal parameters naming the relay address of each; the proposals' media addresses are
/// the relay's as always.
#[test]
fn fast_start_proposals_towards_c_carry_h46019_traversal_parameters() {
    let mut h = H::new(CallConfig::default(), true);
    let fs = vec![aper::encode(&olc_with(sa("198.51.100.7:7000"), 1, 1)).unwrap()];
    let (_, call, _) = h.setup(SetupOpts {
        tunneling: Some(true),
        fast_start: Some(fs),
        ..Default::default()
    });
    h.input(Input::RoutedCallBack {
        call,
        target: crate::call::CallBackTarget::Zone(0),
        zone_name: "to-c".into(),
        flow: sa("203.0.113.9:1719"),
    });
    let c = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: c,
        peer: sa("203.0.113.9:40000"),
        local: sa(GK_OUTSIDE),
        link: Some(crate::call::LinkEnd::Server),
    });
    let fac = crate::endpoint::call_back_facility(asn::guid_bytes(&cid().guid), false).unwrap();
    let out = h.data(c, &fac);
    let (_, uu) = sends(&out, c)
        .iter()
        .map(|p| decode(p))
        .find(|(m, _)| m.message_type == MessageType::Setup)
        .expect("the Setup goes to C");
    let Body::setup(s) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    let proposal: causeway_h323_asn1::multimedia_system_control::OpenLogicalChannel =
        aper::decode(&s.fast_start.as_ref().expect("fastStart")[0]).unwrap();
    let p = crate::h46019::olc_params(&proposal).expect("parameters");
    // the test anchor moved 7000 to 203.0.113.9:17000
    assert_eq!(p.keep_alive_channel, Some(sa("203.0.113.9:17000")));
    assert_eq!(p.keep_alive_interval, Some(19));
}

/// H.460.19 multiplexed media: E tells C the multiplexID of each stream on C's leg, with E's
/// multiplexed channels, in its OLCs and in its Acks of C's channels; C hands the IDs it gets
/// to its relay (`set_multiplex_id`) and the inside endpoint sees none of it.
#[test]
fn multiplex_ids_go_from_e_to_cs_relay() {
    // E: C called (caller leg is the link)
    let hook = TestHook {
        rewrite: true,
        mux_id: Some(0x0012_3456),
        ..Default::default()
    };
    let mut h = H::with_hook(CallConfig::default(), hook);
    let (c, call, _) = h.setup_linked(
        Some(crate::call::LinkEnd::Server),
        SetupOpts {
            tunneling: Some(true),
            ..Default::default()
        },
    );
    let (callee, _) = h.route_and_connect(call);
    h.data(callee, &connect(None, Some(true), None));
    // the outside's OLC towards C
    let olc = olc_msg_with(sa("10.1.1.5:9000"), 1, 1);
    let out = h.data(callee, &facility_control(from_callee(), vec![olc]));
    let (_, uu) = decode(sends(&out, c).last().expect("relayed to C"));
    let pdu = &uu.h323_uu_pdu.h245_control.expect("tunneled")[0];
    let Mscm::request(RequestMessage::openLogicalChannel(o)) = aper::decode::<Mscm>(pdu).unwrap()
    else {
        panic!()
    };
    let p = crate::h46019::olc_params(&o).expect("parameters");
    assert_eq!(p.multiplex_id, Some(0x0012_3456));
    assert_eq!(p.multiplexed_media, Some(sa("203.0.113.9:19000")));
    assert_eq!(p.multiplexed_control, Some(sa("203.0.113.9:19001")));
    // C's own channel: the outside's Ack towards C names E's pair and the ID
    let c_olc = olc_msg_with(sa("10.9.9.9:7000"), 2, 1);
    h.data(c, &facility_control(to_gk(), vec![c_olc]));
    let ack = olc_ack_with(sa("10.1.1.5:9100"), 2, None);
    let out = h.data(callee, &facility_control(from_callee(), vec![ack]));
    let (_, uu) = decode(sends(&out, c).last().expect("relayed to C"));
    let pdu = &uu.h323_uu_pdu.h245_control.expect("tunneled")[0];
    let Mscm::response(ResponseMessage::openLogicalChannelAck(a)) =
        aper::decode::<Mscm>(pdu).unwrap()
    else {
        panic!()
    };
    let p = crate::h46019::ack_params(&a).expect("parameters");
    assert_eq!(p.multiplex_id, Some(0x0012_3456));
    assert_eq!(p.multiplexed_media, Some(sa("203.0.113.9:19100")));

    // C: routed to E; E's OLC carries an ID
    let mut h = H::new(CallConfig::default(), true);
    let (caller, call, _) = h.setup(SetupOpts {
        tunneling: Some(true),
        ..Default::default()
    });
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "to-edge".into(),
            link: Some(crate::call::LinkEnd::Client),
            alternates: Vec::new(),
        }),
    });
    let Some(Output::Connect { conn: e, .. }) = out.first() else {
        panic!("{out:?}")
    };
    let e = *e;
    h.input(Input::Connected {
        conn: e,
        local: sa(GK_INSIDE),
    });
    h.data(e, &connect(None, Some(true), None));
    let mut olc = olc_with(sa("10.1.1.5:36000"), 1, 1);
    let p = crate::h46019::TraversalParams {
        multiplex_id: Some(77),
        multiplexed_media: Some(sa("10.1.1.5:36000")),
        keep_alive_payload_type: Some(118),
        ..Default::default()
    };
    crate::h46019::set_olc_params(&mut olc, Some(&p));
    let msg = aper::encode(&Mscm::request(RequestMessage::openLogicalChannel(olc))).unwrap();
    let out = h.data(e, &facility_control(from_callee(), vec![msg]));
    assert!(!sends(&out, caller).is_empty());
    let told = h.hook.mux_told.lock().unwrap().clone();
    assert_eq!(told, vec![(call.to_string(), Side::Callee, 1, 77)]);
    assert_eq!(*h.hook.pt_told.lock().unwrap(), vec![118]);
}

/// A call routed into the cluster's zone (an endpoint on another peer, or a SIP UA there
/// reached through this node's gateway) shows the anchor a callee leg that is a cluster
/// peer's: with `anchor = "all"` that peer anchors, this one does not.
#[test]
fn a_call_into_the_cluster_zone_shows_a_cluster_peer_callee_leg() {
    for (zone, peer) in [(crate::ras::CLUSTER_ZONE, true), ("LocalZone", false)] {
        let mut h = H::new(CallConfig::default(), false);
        let (_, call, _) = h.setup(SetupOpts {
            tunneling: Some(true),
            fast_start: Some(vec![olc_bytes(sa("198.51.100.7:7000"))]),
            ..Default::default()
        });
        h.input(Input::Routed {
            call,
            result: Ok(Destination {
                addr: sa(CALLEE),
                alias: None,
                zone: zone.into(),
                link: None,
                alternates: Vec::new(),
            }),
        });
        let legs: Vec<bool> = seen(&h)
            .iter()
            .map(|s| s.legs.callee.cluster_peer)
            .collect();
        assert!(!legs.is_empty(), "the fastStart was shown");
        assert!(legs.iter().all(|&p| p == peer), "{zone}: {legs:?}");
        assert!(!seen(&h)[0].legs.caller.cluster_peer);
    }
}
