//! C routing H.323 calls to a traversal zone with two E's (an E cluster), each flow brought up
//! by a real `ZoneServer`: the Setup goes to the first E; when no connection to it opens, to
//! the second; and later calls try the E that failed last until its hold (30 s) ends. Also
//! C's flow to a peer whose name has not resolved yet, as status shows it.

use super::*;

const E1_ZONE: &str = "192.0.2.1:6001";
const E2_ZONE: &str = "192.0.2.2:6001";
/// Where each E's RCF tells C to send its call signaling (the zone port's IP, port 1720).
const E1_SIGNAL: &str = "192.0.2.1:1720";
const E2_SIGNAL: &str = "192.0.2.2:1720";
const C_RAS: &str = "10.0.0.1:1719";
const PHONE: &str = "10.0.0.50:40000";

fn control_router() -> Router {
    let toml = r#"
[system]
role = "control"
domain = "control.example.com"
[[zone]]
name = "to-edge"
type = "traversal-client"
peers = ["192.0.2.1", "192.0.2.2"]
h323_port = 6001
username = "control-1"
password = "secret"
[[search_rule]]
name = "9xxx to E"
pattern_type = "prefix"
pattern = "9"
target = "to-edge"
"#;
    let cfg = causeway_config::Config::parse("c.toml", toml).unwrap();
    Router::from_config(&cfg)
}

/// C's flow to the E at `zone_port`, registered with that E (RRQ/RCF through a real server).
fn flow_up(zone_port: &str, now: Instant) -> ZoneClient {
    let mut e = edge_server(now);
    let mut c = ZoneClient::new(
        ClientConfig {
            zone: "to-edge".into(),
            peer: sa(zone_port),
            username: "control-1".into(),
            password: "secret".into(),
            keepalive: Duration::from_secs(19),
            ras: sa(C_RAS),
            call_signal: sa("10.0.0.1:1720"),
            skew_window: 300,
        },
        WallClock::new(now, UNIX),
        1000,
        now,
    );
    let mut to_e = Vec::new();
    c.handle_timeout(now, &mut to_e);
    for _ in 0..4 {
        let mut to_c = Vec::new();
        for o in to_e.drain(..) {
            if let h46018::Output::Send { bytes, .. } = o {
                e.handle(0, sa(C_RAS), sa(zone_port), &bytes, now, &mut to_c);
            }
        }
        for o in to_c {
            if let h46018::Output::Send { bytes, .. } = o {
                c.handle(&bytes, now, &mut to_e);
            }
        }
    }
    assert!(c.is_up(), "the flow to {zone_port} is up");
    c
}

/// C's service with no flows yet.
fn control_alone() -> Service {
    let gk = Gatekeeper::new(gk_config("control-gk", "c", None), control_router(), vec![])
        .with_traversal_zones(vec!["to-edge".into()]);
    let calls = CallSignaling::new(call::CallConfig::default(), None);
    Service::new(gk, calls, sa(C_RAS))
}

/// C's service with its flows to both E's up.
fn control(now: Instant) -> Service {
    let flows = vec![flow_up(E1_ZONE, now), flow_up(E2_ZONE, now)];
    control_alone().with_traversal(flows, None)
}

/// A phone's Setup for 9001 on connection `conn`; where C connects the callee leg, if it does.
fn place(s: &mut Service, conn: u64, now: Instant) -> Option<(u64, SocketAddr)> {
    let mut out = Vec::new();
    let accepted = call::Input::Accepted {
        conn,
        peer: sa(PHONE),
        local: sa("10.0.0.1:1720"),
        link: None,
    };
    s.handle(Input::Call(accepted), now, &mut out);
    let ids = CallIds {
        crv: conn as u16,
        call_id: [conn as u8; 16],
        conf_id: [conn as u8; 16],
    };
    let dest = crate::asn::typed_alias("e164:9001").unwrap();
    let setup = ep::setup_uuie(&ids, vec![], Some(vec![dest]), None, None, sa(PHONE)).unwrap();
    let mut q = Q931::new(
        MessageType::Setup,
        CallReference::new(conn as u16, false).unwrap(),
    );
    q.set_user_user(&ep::encode_uu(setup, true, vec![]).unwrap())
        .unwrap();
    let data = call::Input::Data {
        conn,
        payload: &q.encode(),
    };
    s.handle(Input::Call(data), now, &mut out);
    connect_of(&out)
}

fn connect_of(out: &[Output]) -> Option<(u64, SocketAddr)> {
    out.iter().find_map(|o| match o {
        Output::Call(call::Output::Connect { conn, to }) => Some((*conn, *to)),
        _ => None,
    })
}

fn refused(s: &mut Service, conn: u64, now: Instant) -> Vec<Output> {
    let mut out = Vec::new();
    let failed = call::Input::ConnectFailed {
        conn,
        reason: "connection refused".into(),
    };
    s.handle(Input::Call(failed), now, &mut out);
    out
}

#[test]
fn an_e_no_connection_opened_to_is_tried_last_for_thirty_seconds() {
    let t0 = Instant::now();
    let mut s = control(t0);
    // first call: the first E, then on to the second when the first refuses
    let (leg, to) = place(&mut s, 1, t0).expect("callee leg");
    assert_eq!(to, sa(E1_SIGNAL));
    let out = refused(&mut s, leg, t0);
    assert!(out.iter().any(|o| matches!(o,
        Output::Call(call::Output::Event(call::CallEvent::CalleeUnreachable { to, .. }))
            if *to == sa(E1_SIGNAL))));
    assert_eq!(connect_of(&out).map(|(_, to)| to), Some(sa(E2_SIGNAL)));

    // the next call, 29 s later, goes to the second E first
    let t1 = t0 + Duration::from_secs(29);
    let (_, to) = place(&mut s, 2, t1).expect("callee leg");
    assert_eq!(to, sa(E2_SIGNAL), "the failed E goes last");

    // past the hold, the configured order again
    let t2 = t0 + Duration::from_secs(30);
    let (_, to) = place(&mut s, 3, t2).expect("callee leg");
    assert_eq!(to, sa(E1_SIGNAL), "the hold ended");
}

#[test]
fn a_callee_that_is_not_an_e_is_not_remembered() {
    let t0 = Instant::now();
    let mut s = control(t0);
    // a refused connection to some other address leaves the E order as it was
    s.callee_unreachable(sa("10.0.0.99:1720"), t0);
    assert!(!s.failed.is_down(sa("10.0.0.99:1720"), t0));
    let (leg, to) = place(&mut s, 1, t0).expect("callee leg");
    assert_eq!(to, sa(E1_SIGNAL));
    // both E's refuse: the caller is released with cause 27, and both go last, E1 first again
    let out = refused(&mut s, leg, t0);
    let (leg2, to2) = connect_of(&out).expect("moved on");
    assert_eq!(to2, sa(E2_SIGNAL));
    let out = refused(&mut s, leg2, t0);
    assert_eq!(release_cause(&out, 1), Some(27));
    assert!(s.failed.is_down(sa(E1_SIGNAL), t0) && s.failed.is_down(sa(E2_SIGNAL), t0));
    let (_, to) = place(&mut s, 4, t0 + Duration::from_secs(1)).expect("callee leg");
    assert_eq!(to, sa(E1_SIGNAL), "both failed: configured order");
}

#[test]
fn an_e_that_takes_a_connection_again_is_no_longer_tried_last() {
    let t0 = Instant::now();
    let mut s = control(t0);
    let (leg, _) = place(&mut s, 1, t0).expect("callee leg");
    let out = refused(&mut s, leg, t0);
    let (leg2, to) = connect_of(&out).expect("moved on");
    assert_eq!(to, sa(E2_SIGNAL));
    // E2 refuses too, so the next call goes to E1 first (both failed: configured order)
    refused(&mut s, leg2, t0);
    let (leg3, to) = place(&mut s, 3, t0).expect("callee leg");
    assert_eq!(to, sa(E1_SIGNAL));
    // ... which refuses; E2 takes this one
    let out = refused(&mut s, leg3, t0);
    let (leg4, to) = connect_of(&out).expect("moved on");
    assert_eq!(to, sa(E2_SIGNAL));
    let mut out = Vec::new();
    let connected = call::Input::Connected {
        conn: leg4,
        local: sa("10.0.0.1:50000"),
    };
    s.handle(Input::Call(connected), t0, &mut out);
    assert!(!s.failed.is_down(sa(E2_SIGNAL), t0), "E2 answered");
    // E2 is back: first, E1 (still failed) after it
    let (_, to) = place(&mut s, 5, t0).expect("callee leg");
    assert_eq!(to, sa(E2_SIGNAL));
}

#[test]
fn a_flow_waiting_for_its_name_shows_down_until_it_joins() {
    let t0 = Instant::now();
    let mut s = control_alone();
    s.flow_waiting(
        "to-edge",
        "e1.example",
        "`e1.example` does not resolve".into(),
        t0,
    );
    let t1 = t0 + Duration::from_secs(7);
    // the retry's next failure updates the reason, not the time it went down
    s.flow_waiting("to-edge", "e1.example", "no answer".into(), t1);
    let views = s.zone_views(t1);
    assert_eq!(views.len(), 1, "{views:?}");
    let v = &views[0];
    assert_eq!(
        (v.zone.as_str(), v.role, v.up, v.since_secs, v.peer),
        ("to-edge", "client", false, 7, None)
    );
    assert_eq!(v.peer_name.as_deref(), Some("e1.example"));
    assert_eq!(v.last_error.as_deref(), Some("no answer"));
    // the name resolves: the flow takes the entry's place
    assert!(s.add_zone_client(flow_up(E1_ZONE, t1), "e1.example"));
    let views = s.zone_views(t1);
    assert_eq!(views.len(), 1, "{views:?}");
    assert!(views[0].up && views[0].peer == Some(sa(E1_ZONE)));
    // another name of the same E adds no second flow (its datagrams would reach the first)
    s.flow_waiting("to-edge", "edge-alias.example", "not yet".into(), t1);
    assert!(!s.add_zone_client(flow_up(E1_ZONE, t1), "edge-alias.example"));
    assert_eq!(s.zone_views(t1).len(), 1);
}
