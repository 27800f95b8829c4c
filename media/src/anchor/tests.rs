//! `Anchor` with no relay and no sockets: the relay table it shares with the driver is a plain
//! one here, and the driver's answers are fed by hand (or by `settle`, a driver that binds
//! everything). Offers and answers are rewritten to the right leg's pair, E's link leg is on
//! the multiplexed pair, re-INVITEs come from either side, exhaustion is a 503 that holds
//! nothing, a port that cannot be bound is replaced, and the inactivity sweep runs on a fake
//! clock.

use super::{Anchor, AnchorConfig, Anchored, MediaAnchor, RelayCommand, RelayEvent, BIND_ATTEMPTS};
use crate::call::{Leg, Legs, LinkEnd, Side};
use crate::latch::LatchConfig;
use crate::ports::PortPair;
use crate::sdp::Sdp;
use crate::session::{Local, SharedTable, TableConfig};
use causeway_config::media::{Anchor as Policy, OnInactivity};
use causeway_config::PortRange;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn anchoring(start: u16, pairs: u16, mux: Option<u16>) -> (Anchor, SharedTable) {
    let table = SharedTable::new(TableConfig {
        ports: PortRange {
            start,
            end: start + 2 * pairs - 1,
        },
        multiplexed: mux.and_then(PortPair::new),
        max_sessions: 100,
        latch: LatchConfig::default(),
    });
    let config = AnchorConfig {
        policy: Policy::Traversal,
        address: None,
        strip_ice: true,
        on_inactivity: OnInactivity::Hangup,
        multiplexed: true,
    };
    (Anchor::new(table.clone(), config), table)
}

fn leg(link: Option<LinkEnd>, local: &str, remote: &str) -> Leg {
    Leg {
        link,
        local: local.parse().expect("addr"),
        remote: remote.parse().expect("addr"),
        cluster_peer: false,
    }
}

fn sdp(ip: &str, port: u16) -> Vec<u8> {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n\
         a=ice-ufrag:x\r\na=candidate:1 1 UDP 1 {ip} {port} typ host\r\na=sendrecv\r\n"
    )
    .into_bytes()
}

fn media_of(body: &[u8]) -> (IpAddr, u16, Option<u16>, bool) {
    let s = Sdp::parse(body).expect("rewritten SDP parses");
    let m = &s.media()[0];
    (
        m.connection.expect("c="),
        m.port,
        m.rtcp.map(|r| r.0),
        m.has_ice,
    )
}

/// The driver that binds everything: answers every `Open` with `Opened`; the calls settled.
fn settle(a: &mut Anchor, now: Instant) -> Vec<String> {
    let mut settled = Vec::new();
    while let Some(c) = a.poll_command() {
        if let RelayCommand::Open(info) = c {
            settled.extend(a.handle(RelayEvent::Opened(info.id), now));
        }
    }
    settled
}

/// An offer from the caller, bound at once: the rewritten body.
fn offer(a: &mut Anchor, call: &str, legs: &Legs, body: &[u8], now: Instant) -> Vec<u8> {
    let first = a
        .sdp(call, Side::Caller, legs, body, now)
        .expect("anchored");
    assert_eq!(
        first,
        Anchored::Pending,
        "a first offer waits for its ports"
    );
    assert_eq!(settle(a, now), vec![call.to_string()]);
    match a
        .sdp(call, Side::Caller, legs, body, now)
        .expect("anchored")
    {
        Anchored::Rewritten(b) => b.to_vec(),
        other => panic!("not rewritten: {other:?}"),
    }
}

fn answer(a: &mut Anchor, call: &str, legs: &Legs, body: &[u8], now: Instant) -> Vec<u8> {
    match a
        .sdp(call, Side::Callee, legs, body, now)
        .expect("anchored")
    {
        Anchored::Rewritten(b) => b.to_vec(),
        other => panic!("not rewritten: {other:?}"),
    }
}

/// E: internet caller (own pair) -> C's link (multiplexed pair).
fn edge_legs() -> Legs {
    Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.2:5060"),
        callee: leg(Some(LinkEnd::Server), "127.0.0.1:7001", "127.0.0.3:40000"),
    }
}

#[test]
fn edge_offers_the_multiplexed_pair_to_c_and_its_own_pair_to_the_caller() {
    let (mut a, table) = anchoring(47000, 10, Some(47100));
    let legs = edge_legs();
    assert!(a.wants(&legs), "a traversal call is anchored");
    let now = Instant::now();
    let offer = offer(&mut a, "c1", &legs, &sdp("127.0.0.2", 30000), now);
    let (ip, port, rtcp, ice) = media_of(&offer);
    assert_eq!((ip, port, rtcp, ice), (LO, 47100, Some(47101), false));
    // C answers with its own pair: the caller is told about E's pair for this call
    let answer1 = answer(&mut a, "c1", &legs, &sdp("127.0.0.3", 26000), now);
    let (ip, port, _, _) = media_of(&answer1);
    assert_eq!(ip, LO);
    assert!((47000..47020).contains(&port) && port % 2 == 0, "{port}");
    // a repeated answer (a retransmitted 200) gives the same body
    let again = answer(&mut a, "c1", &legs, &sdp("127.0.0.3", 26000), now);
    assert_eq!(again, answer1);
    assert_eq!(table.lock().ports_in_use(), 1);
    a.end("c1");
    assert_eq!(table.lock().ports_in_use(), 0);
    // the driver is told to close the sockets of what ended
    assert!(matches!(a.poll_command(), Some(RelayCommand::Close(_))));
}

#[test]
fn a_re_invite_from_the_callee_side_is_rewritten_towards_the_caller() {
    let (mut a, table) = anchoring(47200, 10, None);
    // C: inside caller -> link to E (own pairs both sides)
    let legs = Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.4:5060"),
        callee: leg(Some(LinkEnd::Client), "127.0.0.1:25001", "127.0.0.5:7001"),
    };
    let now = Instant::now();
    let toward_callee = media_of(&offer(&mut a, "c2", &legs, &sdp("127.0.0.4", 30000), now)).1;
    let toward_caller = media_of(&answer(&mut a, "c2", &legs, &sdp("127.0.0.5", 36000), now)).1;
    assert_ne!(toward_callee, toward_caller, "one pair per leg");
    // the callee re-INVITEs: its request's "caller" is the original callee
    let reverse = Legs {
        caller: legs.callee.clone(),
        callee: legs.caller.clone(),
    };
    let reoffer = match a
        .sdp("c2", Side::Caller, &reverse, &sdp("127.0.0.5", 36000), now)
        .expect("ok")
    {
        Anchored::Rewritten(b) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        media_of(&reoffer).1,
        toward_caller,
        "the original caller keeps talking to the same pair"
    );
    a.end("c2");
    assert_eq!(table.lock().ports_in_use(), 0);
}

#[test]
fn exhaustion_is_a_clean_503_that_holds_nothing() {
    // one pair: the first call's two legs cannot both be served
    let (mut a, table) = anchoring(47400, 1, None);
    let legs = Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.4:5060"),
        callee: leg(Some(LinkEnd::Client), "127.0.0.1:25001", "127.0.0.5:7001"),
    };
    let r = a.sdp(
        "c3",
        Side::Caller,
        &legs,
        &sdp("127.0.0.4", 30000),
        Instant::now(),
    );
    let e = r.expect_err("no ports for two legs");
    assert_eq!(e.status, 503, "{e:?}");
    assert_eq!(table.lock().ports_in_use(), 0);
    assert_eq!(a.calls(), 0);
    assert_eq!(a.poll_command(), None, "nothing to bind");
}

#[test]
fn bad_sdp_is_a_488_and_unanchored_calls_are_left_alone() {
    let (mut a, _) = anchoring(47600, 4, None);
    let legs = edge_legs();
    let e = a
        .sdp(
            "c4",
            Side::Caller,
            &legs,
            b"this is not SDP",
            Instant::now(),
        )
        .expect_err("refused");
    assert_eq!(e.status, 488);
    let plain = Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.2:5060"),
        callee: leg(None, "127.0.0.1:5060", "127.0.0.6:5060"),
    };
    assert!(
        !a.wants(&plain),
        "no traversal leg: not anchored by the default policy"
    );
    // an answer of a call whose offer was not seen goes through as it is
    let r = a.sdp(
        "c5",
        Side::Callee,
        &legs,
        &sdp("127.0.0.3", 26000),
        Instant::now(),
    );
    assert_eq!(r, Ok(Anchored::Unchanged));
}

#[test]
fn a_port_that_cannot_be_bound_is_replaced_and_the_offer_names_the_new_one() {
    let (mut a, table) = anchoring(47800, 10, Some(47900));
    let legs = edge_legs();
    let now = Instant::now();
    let body = sdp("127.0.0.2", 30000);
    assert_eq!(
        a.sdp("c6", Side::Caller, &legs, &body, now),
        Ok(Anchored::Pending)
    );
    let Some(RelayCommand::Open(first)) = a.poll_command() else {
        panic!("an Open command");
    };
    let Local::Own(taken) = first.a else {
        panic!("the caller's leg has a pair of its own");
    };
    // some other program holds that port
    let failed = RelayEvent::OpenFailed {
        session: first.id,
        port: taken.rtp(),
        error: "Address in use".into(),
    };
    assert_eq!(a.handle(failed, now), None, "not settled: tried again");
    assert_eq!(
        a.sdp("c6", Side::Caller, &legs, &body, now),
        Ok(Anchored::Pending)
    );
    assert_eq!(settle(&mut a, now), vec!["c6".to_string()]);
    let Ok(Anchored::Rewritten(offer)) = a.sdp("c6", Side::Caller, &legs, &body, now) else {
        panic!("rewritten after the second bind");
    };
    // the callee (C's link) is told E's multiplexed pair, and the caller's new pair is not the
    // one that failed
    assert_eq!(media_of(&offer).1, 47900);
    let Ok(Anchored::Rewritten(ans)) = a.sdp("c6", Side::Callee, &legs, &body, now) else {
        panic!("answer rewritten");
    };
    assert_ne!(media_of(&ans).1, taken.rtp());
    assert_eq!(
        table.lock().ports_in_use(),
        1,
        "the failed pair is free again"
    );
}

#[test]
fn binding_that_keeps_failing_refuses_the_offer_with_488_and_frees_everything() {
    let (mut a, table) = anchoring(48000, 10, None);
    let legs = Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.4:5060"),
        callee: leg(Some(LinkEnd::Client), "127.0.0.1:25001", "127.0.0.5:7001"),
    };
    let now = Instant::now();
    let body = sdp("127.0.0.4", 30000);
    assert_eq!(
        a.sdp("c7", Side::Caller, &legs, &body, now),
        Ok(Anchored::Pending)
    );
    let mut settled = Vec::new();
    for _ in 0..BIND_ATTEMPTS {
        let Some(RelayCommand::Open(info)) = a.poll_command() else {
            panic!("an Open command per attempt");
        };
        let ev = RelayEvent::OpenFailed {
            session: info.id,
            port: info.a.pair().rtp(),
            error: "Address in use".into(),
        };
        settled.extend(a.handle(ev, now));
    }
    assert_eq!(settled, vec!["c7".to_string()]);
    let e = a
        .sdp("c7", Side::Caller, &legs, &body, now)
        .expect_err("refused");
    assert_eq!(e.status, 488, "{e:?}");
    assert!(e.reason.contains("cannot bind media port"), "{}", e.reason);
    a.end("c7");
    assert_eq!(table.lock().ports_in_use(), 0);
    assert_eq!(a.calls(), 0);
}

#[test]
fn a_call_whose_media_the_relay_ended_is_hung_up_by_the_next_sweep() {
    let (mut a, table) = anchoring(48200, 10, None);
    let legs = Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.4:5060"),
        callee: leg(Some(LinkEnd::Client), "127.0.0.1:25001", "127.0.0.5:7001"),
    };
    let t0 = Instant::now();
    offer(&mut a, "c8", &legs, &sdp("127.0.0.4", 30000), t0);
    let first = a
        .poll_timeout()
        .expect("a sweep is due while calls are anchored");
    assert!(first <= t0 + Duration::from_secs(1));
    assert!(a.handle_timeout(first).is_empty(), "the media is alive");
    // the relay driver ends the idle session (its inactivity timeout)
    let ended = table
        .lock()
        .expire(t0 + Duration::from_secs(60), Duration::from_secs(30));
    assert_eq!(ended.len(), 1);
    let next = a.poll_timeout().expect("still sweeping");
    assert!(
        a.handle_timeout(next - Duration::from_millis(1)).is_empty(),
        "not due yet"
    );
    assert_eq!(a.handle_timeout(next), vec!["c8".to_string()]);
    assert_eq!(a.calls(), 0);
    // no call left: no more sweeps
    let after = a.poll_timeout().expect("one more look");
    assert!(a.handle_timeout(after).is_empty());
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn c_behind_a_nat_offering_through_e_gets_a_pair_of_its_own() {
    let (mut a, table) = anchoring(47400, 10, Some(47500));
    let t0 = Instant::now();
    // E: C is the caller over the link; its SDP names its private address, its signaling came
    // from the NAT's
    let legs = Legs {
        caller: leg(Some(LinkEnd::Server), "127.0.0.1:7001", "127.0.0.3:40000"),
        callee: leg(None, "127.0.0.1:5060", "127.0.0.2:5060"),
    };
    a.link_peer("nat", Side::Caller, "127.0.0.3".parse().expect("ip"));
    offer(&mut a, "nat", &legs, &sdp("10.1.1.2", 40010), t0);
    let ids = a.sessions_of("nat");
    let info = table
        .lock()
        .get(ids[0])
        .expect("session")
        .leg(Side::Caller)
        .local();
    assert!(matches!(info, Local::Own(_)), "{info:?}");
    // the same, with its SDP naming the address its signaling came from: multiplexed
    a.link_peer("plain", Side::Caller, "127.0.0.3".parse().expect("ip"));
    offer(&mut a, "plain", &legs, &sdp("127.0.0.3", 40010), t0);
    let ids = a.sessions_of("plain");
    let info = table
        .lock()
        .get(ids[0])
        .expect("session")
        .leg(Side::Caller)
        .local();
    assert!(matches!(info, Local::Multiplexed(_)), "{info:?}");
}

#[test]
fn a_call_to_another_cluster_peer_is_left_for_that_peer_to_anchor() {
    let plain = |caller_peer: bool, callee_peer: bool| Legs {
        caller: Leg {
            cluster_peer: caller_peer,
            ..leg(None, "127.0.0.1:5060", "127.0.0.2:5060")
        },
        callee: Leg {
            cluster_peer: callee_peer,
            ..leg(None, "127.0.0.1:5060", "127.0.0.6:5060")
        },
    };
    // anchoring every call: the peer that holds the registration anchors, not the one that
    // forwards to it
    assert!(super::wanted(Policy::All, &plain(false, false)));
    assert!(!super::wanted(Policy::All, &plain(false, true)));
    assert!(super::wanted(Policy::All, &plain(true, false)));
    // anchoring traversal calls: the peer the link reaches anchors, the other has no link leg
    let from_link = Legs {
        caller: leg(Some(LinkEnd::Server), "127.0.0.1:5060", "127.0.0.2:5060"),
        callee: Leg {
            cluster_peer: true,
            ..leg(None, "127.0.0.1:5060", "127.0.0.6:5060")
        },
    };
    assert!(super::wanted(Policy::Traversal, &from_link));
    assert!(!super::wanted(Policy::Traversal, &plain(true, false)));
}
