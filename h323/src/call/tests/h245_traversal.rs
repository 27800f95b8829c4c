//! Separate H.245 channels of traversal calls (`signaling::h245_traversal`): on E nothing is
//! ever connected towards C (C is asked with a Facility startH245, and its channel to the
//! shared port is tied to the call by the H.460.18 indication); on C, E's startH245 is taken
//! by causeway, which opens the channel towards E and names the call first.

use super::*;
use crate::call::{CallBackTarget, LinkEnd};
use crate::h46018::indication::{self, ChannelOpen};

const C_H245: &str = "198.51.100.7:5000";

fn facility_start_h245(crv: CallReference, addr: SocketAddr) -> Vec<u8> {
    let f = FacilityUUIE::new(
        asn::h225_protocol_identifier(),
        None,
        None,
        None,
        FacilityReason::startH245(()),
        Some(cid()),
        None,
        None,
        None,
        None,
        None,
        Some(asn::transport_address(addr)),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let uu = H323UserInformation::new(pdu(Body::facility(f), None, None), None);
    q931(MessageType::Facility, crv, &uu)
}

fn indication_for(answer: bool) -> Vec<u8> {
    indication::encode(ChannelOpen {
        call_id: asn::guid_bytes(&cid().guid),
        answer,
    })
    .unwrap()
}

fn connects(out: &[Output]) -> Vec<SocketAddr> {
    out.iter()
        .filter_map(|o| match o {
            Output::Connect { to, .. } => Some(*to),
            _ => None,
        })
        .collect()
}

#[test]
fn e_asks_c_to_open_the_channel_c_offered_and_never_connects_to_c() {
    let mut h = H::new(CallConfig::default(), false);
    // C's Setup, on a connection the service marked as C's (the zone's client)
    let (c, call, _) = h.setup_linked(
        Some(LinkEnd::Server),
        SetupOpts {
            h245: Some(sa(C_H245)),
            ..Default::default()
        },
    );
    let routed = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "LocalZone".into(),
            link: None,
            alternates: Vec::new(),
        }),
    });
    let callee = connects_conn(&routed);
    let out = h.input(Input::Connected {
        conn: callee,
        local: sa(GK_INSIDE),
    });
    // C is told E's shared H.245 port, where C reached E (at once: C's leg is up)
    let to_c = sends(&routed, c);
    let starth245 = to_c
        .iter()
        .map(|p| decode(p))
        .find(|(m, _)| m.message_type == MessageType::Facility)
        .expect("Facility to C");
    let Body::facility(f) = &starth245.1.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(f.reason, FacilityReason::startH245(()));
    assert_eq!(
        f.h245_address,
        Some(asn::transport_address(sa("192.0.2.1:2777")))
    );
    assert_eq!(f.call_identifier, Some(cid()));
    let listener = out
        .iter()
        .find_map(|o| match o {
            Output::Listen { listener, .. } => Some(*listener),
            _ => None,
        })
        .expect("a listener for the callee");
    h.input(Input::Listening {
        listener,
        addr: sa("10.1.1.1:15500"),
    });
    // the callee connects: no connection towards C's own address
    let hc = h.cs.next_conn_id();
    let out = h.input(Input::H245Accepted {
        listener,
        conn: hc,
        peer: sa("10.1.1.5:33000"),
    });
    assert!(connects(&out).is_empty(), "{out:?}");
    // what the callee says waits for C's channel
    assert!(sends(&h.data(hc, &tcs_msg()), hc).is_empty());
    // an indication from another host is refused
    let stranger = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: stranger,
        peer: sa("203.0.113.50:40000"),
        local: sa("192.0.2.1:2777"),
        link: None,
    });
    let out = h.data(stranger, &indication_for(false));
    assert!(closes(&out).contains(&stranger), "{out:?}");
    // C's channel names the call: it is the call's H.245 towards C, the queue goes out
    let ch = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: ch,
        peer: sa("198.51.100.7:41000"),
        local: sa("192.0.2.1:2777"),
        link: Some(LinkEnd::Server),
    });
    let out = h.data(ch, &indication_for(false));
    assert_eq!(sends(&out, ch), vec![tcs_msg()]);
    assert!(events(&out).contains(&CallEvent::H245 {
        call,
        tunneled: false
    }));
    // and relays both ways
    assert_eq!(sends(&h.data(ch, &tcs_msg()), hc), vec![tcs_msg()]);
    // a second channel for the same call is refused
    let again = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: again,
        peer: sa("198.51.100.7:41001"),
        local: sa("192.0.2.1:2777"),
        link: Some(LinkEnd::Server),
    });
    assert!(closes(&h.data(again, &indication_for(false))).contains(&again));
}

fn connects_conn(out: &[Output]) -> ConnId {
    out.iter()
        .find_map(|o| match o {
            Output::Connect { conn, .. } => Some(*conn),
            _ => None,
        })
        .expect("a Connect")
}

#[test]
fn c_takes_es_start_h245_and_opens_the_channel_itself() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts {
        h245: Some(sa(C_H245)),
        ..Default::default()
    });
    // routed to E across the traversal-client zone
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "to-edge".into(),
            link: Some(LinkEnd::Client),
            alternates: Vec::new(),
        }),
    });
    let Some(Output::Connect { conn: e, .. }) = out.first() else {
        panic!("{out:?}")
    };
    let e = *e;
    let out = h.input(Input::Connected {
        conn: e,
        local: sa(GK_INSIDE),
    });
    let Some(Output::Listen { listener, .. }) = out.first() else {
        panic!("{out:?}")
    };
    h.input(Input::Listening {
        listener: *listener,
        addr: sa("10.1.1.1:15500"),
    });
    // E asks for the channel: C opens it to E and to the caller, and the caller sees nothing
    let e_shared = sa("10.1.1.5:2777");
    let out = h.data(e, &facility_start_h245(from_callee(), e_shared));
    assert!(sends(&out, caller).is_empty(), "{out:?}");
    assert_eq!(connects(&out), vec![e_shared, sa(C_H245)]);
    let to_e = out
        .iter()
        .find_map(|o| match o {
            Output::Connect { conn, to } if *to == e_shared => Some(*conn),
            _ => None,
        })
        .unwrap();
    let out = h.input(Input::Connected {
        conn: to_e,
        local: sa("10.1.1.1:16000"),
    });
    // the first message on it names the call (C called: not the answering side)
    let first = sends(&out, to_e);
    assert_eq!(
        first.first().and_then(|p| indication::decode(p)),
        Some(ChannelOpen {
            call_id: asn::guid_bytes(&cid().guid),
            answer: false
        })
    );
}

/// C: the inside caller offered H.245 after its Setup and the outside callee's offer reached E
/// first, so E's Connect names E's shared port. C opens the channel to it but relays the
/// Connect (only a bare startH245 Facility is for C itself).
#[test]
fn c_relays_a_connect_from_e_that_names_the_shared_port() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "to-edge".into(),
            link: Some(LinkEnd::Client),
            alternates: Vec::new(),
        }),
    });
    let e = connects_conn(&out);
    h.input(Input::Connected {
        conn: e,
        local: sa(GK_INSIDE),
    });
    // the inside caller offers its H.245 in a Facility
    let inside = sa("10.1.1.20:5000");
    let out = h.data(caller, &facility_start_h245(to_gk(), inside));
    if let Some(listener) = out.iter().find_map(|o| match o {
        Output::Listen { listener, .. } => Some(*listener),
        _ => None,
    }) {
        h.input(Input::Listening {
            listener,
            addr: sa("10.1.1.1:15500"),
        });
    }
    let e_shared = sa("10.1.1.5:2777");
    let out = h.data(e, &connect(Some(e_shared), None, None));
    assert!(
        events(&out).contains(&CallEvent::Connected { call }),
        "{out:?}"
    );
    let to_caller = sends(&out, caller);
    let (m, uu) = decode(to_caller.first().expect("the Connect goes on"));
    assert_eq!(m.message_type, MessageType::Connect);
    let Body::connect(c) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(
        c.h245_address, None,
        "E's address does not reach the inside"
    );
    assert_eq!(connects(&out), vec![e_shared, inside]);
}

/// E: a call from one C (C1, caller) to another (C2, by call-back): nothing is connected
/// towards either; C1 is asked with startH245, C2 is told the shared port, and each join is
/// tied to its side by the indication's answer flag.
#[test]
fn e_call_between_two_cs_opens_nothing_towards_either() {
    let mut h = H::new(CallConfig::default(), false);
    let (c1, call, _) = h.setup_linked(
        Some(LinkEnd::Server),
        SetupOpts {
            h245: Some(sa(C_H245)),
            ..Default::default()
        },
    );
    let c2_host = "203.0.113.9";
    let out = h.input(Input::RoutedCallBack {
        call,
        target: CallBackTarget::Zone(1),
        zone_name: "site2".into(),
        flow: sa(&format!("{c2_host}:1719")),
    });
    let start = sends(&out, c1)
        .iter()
        .map(|p| decode(p))
        .any(|(m, _)| m.message_type == MessageType::Facility);
    assert!(start, "C1 is asked for its channel: {out:?}");
    let c2 = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: c2,
        peer: sa(&format!("{c2_host}:40000")),
        local: sa(GK_OUTSIDE),
        link: Some(LinkEnd::Server),
    });
    let fac = crate::endpoint::call_back_facility(asn::guid_bytes(&cid().guid), false).unwrap();
    let out = h.data(c2, &fac);
    assert!(connects(&out).is_empty(), "{out:?}");
    // C2's channel (it answers)
    let ch2 = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: ch2,
        peer: sa(&format!("{c2_host}:40001")),
        local: sa("192.0.2.1:2777"),
        link: Some(LinkEnd::Server),
    });
    let out = h.data(ch2, &indication_for(true));
    assert!(
        connects(&out).is_empty() && !closes(&out).contains(&ch2),
        "{out:?}"
    );
    // C1's channel (it called)
    let ch1 = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: ch1,
        peer: sa("198.51.100.7:41000"),
        local: sa("192.0.2.1:2777"),
        link: Some(LinkEnd::Server),
    });
    let out = h.data(ch1, &indication_for(false));
    assert!(!closes(&out).contains(&ch1), "{out:?}");
    assert!(events(&out).contains(&CallEvent::H245 {
        call,
        tunneled: false
    }));
    assert_eq!(sends(&h.data(ch1, &tcs_msg()), ch2), vec![tcs_msg()]);
    assert_eq!(sends(&h.data(ch2, &tcs_msg()), ch1), vec![tcs_msg()]);
}

/// E: the channel C opens is tied to the call waiting for it even when another call carries
/// the same callIdentifier; an indication on a port other than the shared one is refused.
#[test]
fn e_join_finds_the_waiting_call_among_equal_call_identifiers() {
    let mut h = H::new(CallConfig::default(), false);
    // an unrelated call, older, with the same callIdentifier
    h.setup(SetupOpts::default());
    let (_, call, _) = h.setup_linked(
        Some(LinkEnd::Server),
        SetupOpts {
            h245: Some(sa(C_H245)),
            ..Default::default()
        },
    );
    let routed = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "LocalZone".into(),
            link: None,
            alternates: Vec::new(),
        }),
    });
    h.input(Input::Connected {
        conn: connects_conn(&routed),
        local: sa(GK_INSIDE),
    });
    let wrong_port = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: wrong_port,
        peer: sa("198.51.100.7:41001"),
        local: sa(GK_OUTSIDE),
        link: Some(LinkEnd::Server),
    });
    let out = h.data(wrong_port, &indication_for(false));
    assert!(closes(&out).contains(&wrong_port), "{out:?}");
    let ch = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: ch,
        peer: sa("198.51.100.7:41000"),
        local: sa("192.0.2.1:2777"),
        link: Some(LinkEnd::Server),
    });
    let out = h.data(ch, &indication_for(false));
    assert!(!closes(&out).contains(&ch), "{out:?}");
}

/// E, case E2: the outside caller offered H.245 in its Setup and the call goes to C by
/// call-back. C is told E's shared port (not a listener of the call) in the Setup it gets;
/// C's channel there, naming the call as the answering side, is joined to the call and only
/// then does E connect to the outside caller's address.
#[test]
fn e_tells_c_the_shared_port_and_connects_to_the_outside_once_c_joined() {
    let mut h = H::new(CallConfig::default(), false);
    let outside_h245 = sa("198.51.100.20:5000");
    let (_, call, _) = h.setup(SetupOpts {
        h245: Some(outside_h245),
        ..Default::default()
    });
    let c_host = "203.0.113.9";
    let out = h.input(Input::RoutedCallBack {
        call,
        target: CallBackTarget::Zone(0),
        zone_name: "to-c".into(),
        flow: sa(&format!("{c_host}:1719")),
    });
    assert!(connects(&out).is_empty(), "{out:?}");
    let c = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: c,
        peer: sa(&format!("{c_host}:40000")),
        local: sa(GK_OUTSIDE),
        link: Some(LinkEnd::Server),
    });
    let fac = crate::endpoint::call_back_facility(asn::guid_bytes(&cid().guid), false).unwrap();
    let out = h.data(c, &fac);
    let setup_to_c = sends(&out, c)
        .iter()
        .map(|p| decode(p))
        .find(|(m, _)| m.message_type == MessageType::Setup)
        .expect("the Setup goes down C's call-back connection");
    let Body::setup(s) = &setup_to_c.1.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(
        s.h245_address,
        Some(asn::transport_address(sa("192.0.2.1:2777")))
    );
    assert!(connects(&out).is_empty(), "nothing towards C: {out:?}");
    let ch = h.cs.next_conn_id();
    h.input(Input::Accepted {
        conn: ch,
        peer: sa(&format!("{c_host}:40001")),
        local: sa("192.0.2.1:2777"),
        link: Some(LinkEnd::Server),
    });
    let out = h.data(ch, &indication_for(true));
    assert_eq!(connects(&out), vec![outside_h245]);
}
