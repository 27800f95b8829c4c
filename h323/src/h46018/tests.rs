//! The traversal flow with both ends in one test: C's [`ZoneClient`] and E's [`ZoneServer`]
//! exchange real signed PER datagrams through a fake firewall that rewrites C's source address,
//! on a fake clock.

use super::*;
use crate::h235;
use causeway_h323_asn1::h323_messages::{RasMessage, RegistrationRejectReason};

const E_ZONE: &str = "198.51.100.1:6001";
/// C's RAS flow as the firewall rewrote it (C itself writes 10.0.0.2:1719).
const C_FLOW: &str = "203.0.113.7:40001";
const UNIX: u64 = 1_800_000_000;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn client_cfg(password: &str) -> ClientConfig {
    ClientConfig {
        zone: "to-edge".into(),
        peer: sa(E_ZONE),
        username: "control-1".into(),
        password: password.into(),
        keepalive: Duration::from_secs(19),
        ras: sa("10.0.0.2:1719"),
        call_signal: sa("10.0.0.2:1720"),
        skew_window: 300,
    }
}

fn server(now: Instant, clock_offset: i64) -> ZoneServer {
    let unix = (UNIX as i64 + clock_offset) as u64;
    ZoneServer::new(
        "edge-gk".into(),
        1720,
        vec![ServerZoneConfig {
            zone: "from-control".into(),
            username: "control-1".into(),
            password: "secret".into(),
            keepalive: Duration::from_secs(19),
            signalling_port: None,
        }],
        WallClock::new(now, unix),
        300,
        7,
        now,
    )
}

struct Pair {
    c: ZoneClient,
    e: ZoneServer,
    events: Vec<ZoneEvent>,
    /// Datagrams C sent to E, as they left C.
    c_sent: Vec<Vec<u8>>,
}

impl Pair {
    fn new(password: &str, now: Instant) -> Pair {
        Pair {
            c: ZoneClient::new(client_cfg(password), WallClock::new(now, UNIX), 1000, now),
            e: server(now, 0),
            events: Vec::new(),
            c_sent: Vec::new(),
        }
    }

    /// Delivers outputs until both sides are quiet; returns how many datagrams crossed.
    fn pump(&mut self, mut out: Vec<Output>, now: Instant) -> usize {
        let mut crossed = 0;
        while !out.is_empty() {
            let mut next = Vec::new();
            for o in out {
                match o {
                    Output::Send {
                        from: Socket::Ras,
                        to,
                        bytes,
                    } => {
                        assert_eq!(to, sa(E_ZONE));
                        self.c_sent.push(bytes.clone());
                        self.e
                            .handle(0, sa(C_FLOW), sa(E_ZONE), &bytes, now, &mut next);
                        crossed += 1;
                    }
                    Output::Send {
                        from: Socket::Zone(0),
                        to,
                        bytes,
                    } => {
                        assert_eq!(to, sa(C_FLOW), "E answers the flow, not 10.0.0.2");
                        self.c.handle(&bytes, now, &mut next);
                        crossed += 1;
                    }
                    Output::Send { from, .. } => panic!("sent from {from:?}"),
                    Output::Event(e) => self.events.push(e),
                }
            }
            out = next;
        }
        crossed
    }

    fn tick(&mut self, now: Instant) -> usize {
        let mut out = Vec::new();
        self.c.handle_timeout(now, &mut out);
        self.e.handle_timeout(now, &mut out);
        self.pump(out, now)
    }

    fn take_events(&mut self) -> Vec<ZoneEvent> {
        std::mem::take(&mut self.events)
    }
}

fn ups(events: &[ZoneEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ZoneEvent::Up { .. }))
        .count()
}

#[test]
fn h46018_c_registers_on_e_and_keeps_the_flow_alive_every_interval() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    assert_eq!(
        p.c.poll_timeout(),
        Some(t0),
        "the first RRQ goes out at once"
    );
    assert_eq!(p.tick(t0), 2, "RRQ and RCF");
    assert_eq!(ups(&p.take_events()), 2, "both sides up");
    assert!(p.c.is_up());
    assert_eq!(p.e.flow(0), Some(sa(C_FLOW)));
    // E's RCF named its call-signaling address: where C sends its Setups
    assert_eq!(p.c.signalling(), Some(sa("198.51.100.1:1720")));
    // the RRQ announced feature 18 and carried an H.235.1 token from the zone username
    let rrq: RasMessage = aper::decode(&p.c_sent[0]).unwrap();
    let RasMessage::registrationRequest(r) = &rrq else {
        panic!()
    };
    assert!(announces(r.feature_set.as_ref()));
    assert!(h235::crypto_tokens(&rrq).is_some_and(|t| !t.is_empty()));
    // nothing until the interval; then one lightweight RRQ, answered
    let t1 = t0 + Duration::from_secs(18);
    assert_eq!(p.tick(t1), 0);
    assert_eq!(p.c.poll_timeout(), Some(t0 + Duration::from_secs(19)));
    let t2 = t0 + Duration::from_secs(19);
    assert_eq!(p.tick(t2), 2);
    let light: RasMessage = aper::decode(p.c_sent.last().unwrap()).unwrap();
    let RasMessage::registrationRequest(r) = &light else {
        panic!()
    };
    assert_eq!(r.keep_alive, Some(true));
    assert!(r.endpoint_identifier.is_some());
    assert!(p.take_events().is_empty(), "a refresh changes no state");
    // ten more intervals: the flow stays up on both sides
    for i in 2..12 {
        p.tick(t0 + Duration::from_secs(19 * i));
    }
    let t = t0 + Duration::from_secs(19 * 11);
    assert!(p.c.is_up());
    assert_eq!(p.e.views(t)[0].last_keepalive_secs, Some(0));
    assert!(p.take_events().is_empty());
}

/// C's RRQs (full and lightweight) announce H.460.19 next to 18 without parameters (C is the
/// media traversal client); E's RCF answers with feature 19 mediaTraversalServer, which C
/// records.
#[test]
fn c_announces_h46019_and_e_answers_as_media_traversal_server() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    assert!(!p.c.media_traversal_server(), "not before E answered");
    assert_eq!(p.tick(t0), 2);
    let rrq: RasMessage = aper::decode(&p.c_sent[0]).unwrap();
    let RasMessage::registrationRequest(r) = &rrq else {
        panic!()
    };
    assert!(announces(r.feature_set.as_ref()), "18 still there");
    assert_eq!(
        crate::h46019::feature::find(r.feature_set.as_ref()),
        Some(crate::h46019::feature::CLIENT)
    );
    assert!(p.c.media_traversal_server());
    p.tick(t0 + Duration::from_secs(19));
    let light: RasMessage = aper::decode(p.c_sent.last().unwrap()).unwrap();
    let RasMessage::registrationRequest(r) = &light else {
        panic!()
    };
    assert_eq!(r.keep_alive, Some(true));
    assert!(crate::h46019::feature::announces(r.feature_set.as_ref()));
    assert!(
        p.c.media_traversal_server(),
        "the lightweight RCF says it again"
    );
}

#[test]
fn wrong_credentials_get_security_denial_and_the_zone_shows_why() {
    let t0 = Instant::now();
    let mut p = Pair::new("not-the-secret", t0);
    p.tick(t0);
    assert!(!p.c.is_up());
    assert_eq!(p.e.flow(0), None);
    let v = p.c.view(t0);
    assert!(
        v.last_error
            .as_deref()
            .is_some_and(|e| e.contains("securityDenial")),
        "{v:?}"
    );
    let ve = &p.e.views(t0)[0];
    assert!(!ve.up && ve.refused == 1, "{ve:?}");
    assert!(
        ve.last_error.as_deref().is_some_and(|e| e.contains("hash")),
        "{ve:?}"
    );
    // it tries again each interval, not in a loop
    assert_eq!(p.c.poll_timeout(), Some(t0 + Duration::from_secs(19)));
}

#[test]
fn a_silent_client_is_forgotten_and_comes_back_with_a_full_registration() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    p.tick(t0);
    p.take_events();
    // C's datagrams stop reaching E (say the firewall dropped them) for 3 intervals
    let mut out = Vec::new();
    p.e.handle_timeout(t0 + Duration::from_secs(56), &mut out);
    assert!(out.is_empty());
    p.e.handle_timeout(t0 + Duration::from_secs(57), &mut out);
    assert!(
        matches!(&out[..], [Output::Event(ZoneEvent::Down { reason, .. })] if reason.contains("silent")),
        "{out:?}"
    );
    assert_eq!(p.e.flow(0), None);
    // C's next keep-alive: fullRegistrationRequired, and C registers again at once
    let t = t0 + Duration::from_secs(57);
    assert_eq!(p.tick(t), 4, "lightweight RRQ, RRJ, full RRQ, RCF");
    assert_eq!(p.e.flow(0), Some(sa(C_FLOW)));
    assert!(p.c.is_up());
}

#[test]
fn e_restarted_c_comes_back_up_on_its_next_keepalive() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    p.tick(t0);
    let t = t0 + Duration::from_secs(19);
    p.e = server(t, 19); // a new E: no client, same credentials
    assert_eq!(p.tick(t), 4);
    assert!(p.c.is_up() && p.e.flow(0).is_some());
}

#[test]
fn no_answer_from_e_marks_the_zone_down_after_three_tries() {
    let t0 = Instant::now();
    let mut c = ZoneClient::new(client_cfg("secret"), WallClock::new(t0, UNIX), 1, t0);
    let mut out = Vec::new();
    c.handle_timeout(t0, &mut out);
    c.handle_timeout(t0 + RETRY_AFTER, &mut out);
    c.handle_timeout(t0 + RETRY_AFTER * 2, &mut out);
    let sends: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 3);
    assert_ne!(
        sends[0], sends[1],
        "each try is signed anew (E would refuse a replay)"
    );
    let seqs: Vec<_> = sends
        .iter()
        .map(|b| seq_of(&aper::decode(b).unwrap()).unwrap())
        .collect();
    assert!(
        seqs.iter().all(|s| *s == seqs[0]),
        "one request, sent again"
    );
    out.clear();
    c.handle_timeout(t0 + RETRY_AFTER * 3, &mut out);
    assert!(
        matches!(&out[..], [Output::Event(ZoneEvent::Down { reason, .. })] if reason.contains("no answer")),
        "{out:?}"
    );
    assert_eq!(
        c.poll_timeout(),
        Some(t0 + RETRY_AFTER * 3 + Duration::from_secs(19))
    );
}

#[test]
fn h235_clock_skew_window_is_300_seconds_each_way() {
    for (offset, accepted) in [(300, true), (-300, true), (301, false), (-301, false)] {
        let t0 = Instant::now();
        let mut p = Pair::new("secret", t0);
        p.e = server(t0, offset);
        p.tick(t0);
        // E's RCF is stamped with E's clock: C checks it with the same window
        assert_eq!(p.e.flow(0).is_some(), accepted, "offset {offset}");
        assert_eq!(p.c.is_up(), accepted, "offset {offset}");
    }
}

#[test]
fn a_replayed_rrq_gets_no_answer_and_a_token_less_one_security_denial() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    p.tick(t0);
    let first = p.c_sent[0].clone();
    let mut out = Vec::new();
    p.e.handle(0, sa("192.0.2.66:5000"), sa(E_ZONE), &first, t0, &mut out);
    assert!(
        matches!(&out[..], [Output::Event(ZoneEvent::Refused { reason, .. })] if reason.contains("seen before")),
        "{out:?}"
    );
    assert_eq!(p.e.flow(0), Some(sa(C_FLOW)), "the flow was not taken over");
    // the same RRQ without its token
    let mut rrq: RasMessage = aper::decode(&first).unwrap();
    if let RasMessage::registrationRequest(r) = &mut rrq {
        r.crypto_tokens = None;
    }
    let bare = aper::encode(&rrq).unwrap();
    out.clear();
    p.e.handle(0, sa("192.0.2.66:5000"), sa(E_ZONE), &bare, t0, &mut out);
    let rrj = out.iter().find_map(|o| match o {
        Output::Send { to, bytes, .. } => {
            Some((*to, bytes.len(), aper::decode::<RasMessage>(bytes).unwrap()))
        }
        _ => None,
    });
    let (to, len, rrj) = rrj.expect("an RRJ");
    assert_eq!(to, sa("192.0.2.66:5000"));
    assert!(len < bare.len(), "never more bytes out than in");
    assert!(
        matches!(&rrj, RasMessage::registrationReject(r)
            if matches!(r.reject_reason, RegistrationRejectReason::securityDenial(_))),
        "{rrj:?}"
    );
    assert_eq!(p.e.flow(0), Some(sa(C_FLOW)));
}

#[test]
fn garbage_on_a_zone_port_is_counted_and_never_answered() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    p.tick(t0);
    let mut out = Vec::new();
    for i in 0..1000u32 {
        let junk: Vec<u8> = (0..(i % 200)).map(|b| (b * 7 + i) as u8).collect();
        p.e.handle(0, sa("192.0.2.66:5000"), sa(E_ZONE), &junk, t0, &mut out);
    }
    assert!(
        out.iter().all(|o| !matches!(o, Output::Send { .. })),
        "no answer to garbage"
    );
    assert_eq!(p.e.views(t0)[0].refused, 1000);
    assert!(p.e.views(t0)[0].up, "the zone stays up");
}

#[test]
fn sci_announces_an_incoming_call_once_and_its_scr_stops_the_retries() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    p.tick(t0);
    p.take_events();
    let call = [0x5a; 16];
    let mut out = Vec::new();
    assert!(p.e.incoming_call(0, call, t0, &mut out));
    // the SCI goes down the flow; hold C's SCR back once so E sends the SCI again
    let Output::Send { bytes: sci, to, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(*to, sa(C_FLOW));
    let mut c_out = Vec::new();
    p.c.handle(sci, t0, &mut c_out);
    let incoming: Vec<_> = c_out
        .iter()
        .filter(|o| matches!(o, Output::Event(ZoneEvent::IncomingCall { .. })))
        .collect();
    assert_eq!(
        incoming,
        [&Output::Event(ZoneEvent::IncomingCall {
            zone: "to-edge".into(),
            signalling: sa("198.51.100.1:1720"),
            call_id: call,
        })]
    );
    let t1 = t0 + RETRY_AFTER;
    let mut again = Vec::new();
    p.e.handle_timeout(t1, &mut again);
    assert_eq!(again.len(), 1, "the SCI again");
    p.pump(again, t1);
    assert!(
        p.take_events()
            .iter()
            .all(|e| !matches!(e, ZoneEvent::IncomingCall { .. })),
        "announced once"
    );
    // that SCR reached E: no more retries
    let mut later = Vec::new();
    p.e.handle_timeout(t1 + RETRY_AFTER * 3, &mut later);
    assert!(
        later.iter().all(|o| !matches!(o, Output::Send { .. })),
        "{later:?}"
    );
    // a zone without a client cannot be told
    let mut e = server(t0, 0);
    assert!(!e.incoming_call(0, call, t0, &mut Vec::new()));
}

#[test]
fn e_asks_c_with_lrq_down_the_flow_and_hears_lcf_lrj_or_nothing() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    p.tick(t0);
    p.take_events();
    let alias = asn::alias_address(asn::AliasKind::E164, "2001").unwrap();
    let mut out = Vec::new();
    assert!(p.e.locate(0, 7, alias.clone(), t0, &mut out));
    let Output::Send { bytes: lrq, to, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(*to, sa(C_FLOW), "down the flow");
    // C verifies E's token and asks its gatekeeper
    let mut c_out = Vec::new();
    p.c.handle(lrq, t0, &mut c_out);
    let Some(Output::Event(ZoneEvent::Locate { seq, aliases, .. })) = c_out.first() else {
        panic!("{c_out:?}")
    };
    assert_eq!(aliases, &vec![alias.clone()]);
    // found: LCF; E reports it
    let mut answer = Vec::new();
    p.c.answer_locate(*seq, true, t0, &mut answer);
    p.pump(answer, t0);
    assert_eq!(
        p.take_events(),
        vec![ZoneEvent::Located {
            tag: 7,
            found: Some(true)
        }]
    );
    // not found: LRJ
    let mut out = Vec::new();
    assert!(p.e.locate(0, 8, alias.clone(), t0, &mut out));
    let mut c_out = Vec::new();
    if let Output::Send { bytes, .. } = &out[0] {
        p.c.handle(bytes, t0, &mut c_out);
    }
    let Some(Output::Event(ZoneEvent::Locate { seq, .. })) = c_out.first() else {
        panic!("{c_out:?}")
    };
    let mut answer = Vec::new();
    p.c.answer_locate(*seq, false, t0, &mut answer);
    p.pump(answer, t0);
    assert_eq!(
        p.take_events(),
        vec![ZoneEvent::Located {
            tag: 8,
            found: Some(false)
        }]
    );
    // no answer: sent again, then "unknown" after every try
    let mut out = Vec::new();
    assert!(p.e.locate(0, 9, alias, t0, &mut out));
    let mut t = t0;
    let mut sends = 1;
    let mut located = Vec::new();
    for _ in 0..TRIES + 1 {
        t += RETRY_AFTER;
        let mut o = Vec::new();
        p.e.handle_timeout(t, &mut o);
        for x in o {
            match x {
                Output::Send { .. } => sends += 1,
                Output::Event(e @ ZoneEvent::Located { .. }) => located.push(e),
                _ => {}
            }
        }
    }
    assert_eq!(sends, TRIES);
    assert_eq!(
        located,
        vec![ZoneEvent::Located {
            tag: 9,
            found: None
        }]
    );
    // a forged LRQ (no valid token) gets nothing from C
    let forged = aper::encode(&crate::ras::build::lrq(
        99,
        "gk",
        vec![],
        asn::transport_address(sa(E_ZONE)),
        1,
    ))
    .unwrap();
    let mut c_out = Vec::new();
    p.c.handle(&forged, t, &mut c_out);
    assert!(c_out
        .iter()
        .all(|o| matches!(o, Output::Event(ZoneEvent::Refused { .. }))));
}

#[test]
fn an_sci_whose_token_does_not_verify_is_not_answered() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    p.tick(t0);
    // someone without the password announces a call to C from E's address
    let data = incoming_call_data(sa("192.0.2.66:1720"), [1; 16]).unwrap();
    let sci = RasMessage::serviceControlIndication(
        causeway_h323_asn1::h323_messages::ServiceControlIndication::new(
            causeway_h323_asn1::h323_messages::RequestSeqNum(9),
            None,
            vec![],
            None,
            None,
            None,
            None,
            None,
            Some(feature_set()),
            Some(vec![data]),
        ),
    );
    let creds = h235::Credentials {
        senders_id: "edge-gk".into(),
        general_id: Some("control-1".into()),
        password: "guess".into(),
    };
    let bytes = h235::sign(sci, &creds, UNIX as u32, 3).unwrap();
    let mut out = Vec::new();
    p.c.handle(&bytes, t0, &mut out);
    assert!(
        matches!(&out[..], [Output::Event(ZoneEvent::Refused { .. })]),
        "no SCR, no call: {out:?}"
    );
    assert_eq!(p.c.view(t0).refused, 1);
}

#[test]
fn incoming_call_indication_and_keep_alive_data_round_trip() {
    let d = incoming_call_data(sa("198.51.100.1:1720"), [3; 16]).unwrap();
    assert_eq!(
        incoming_call(Some(std::slice::from_ref(&d))),
        Some((sa("198.51.100.1:1720"), [3; 16]))
    );
    assert_eq!(keep_alive_interval(Some(&[d])), None);
    let k = keep_alive_data(19).unwrap();
    assert_eq!(
        keep_alive_interval(Some(std::slice::from_ref(&k))),
        Some(19)
    );
    assert_eq!(incoming_call(Some(&[k])), None);
    assert!(announces(Some(&feature_set())));
    assert!(!announces(None));
}

#[test]
fn an_endpoint_sci_is_sent_again_until_its_scr() {
    let t0 = Instant::now();
    let mut a = Announcer::new(9);
    let mut out = Vec::new();
    let ep = sa("203.0.113.5:40000");
    assert!(a.announce(ep, sa("198.51.100.1:1720"), [7; 16], t0, &mut out));
    let Output::Send {
        from: Socket::Ras,
        to,
        bytes,
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(*to, ep);
    let sci: RasMessage = aper::decode(bytes).unwrap();
    let RasMessage::serviceControlIndication(s) = &sci else {
        panic!()
    };
    assert_eq!(
        incoming_call(s.generic_data.as_deref()),
        Some((sa("198.51.100.1:1720"), [7; 16]))
    );
    let seq = s.request_seq_num.0;
    out.clear();
    a.handle_timeout(t0 + RETRY_AFTER, &mut out);
    assert_eq!(out.len(), 1, "sent again");
    // an SCR from elsewhere does not count; the endpoint's does
    a.answered(seq, sa("192.0.2.66:1719"));
    assert_eq!(a.waiting(), 1);
    a.answered(seq, sa("203.0.113.5:40000"));
    assert_eq!(a.waiting(), 0);
    out.clear();
    a.handle_timeout(t0 + RETRY_AFTER * 5, &mut out);
    assert!(out.is_empty());
    // unanswered: three sends in all, then given up
    assert!(a.announce(ep, sa("198.51.100.1:1720"), [8; 16], t0, &mut out));
    for i in 1..6 {
        a.handle_timeout(t0 + RETRY_AFTER * i, &mut out);
    }
    assert_eq!(out.len(), 3);
    assert_eq!(a.waiting(), 0);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// An IncomingCallIndication built for any IPv4 address and call id reads back the
        /// same.
        #[test]
        fn incoming_call_indication_round_trips(ip in any::<[u8; 4]>(), port in 1u16.., id in any::<[u8; 16]>()) {
            let addr = SocketAddr::from((ip, port));
            let d = incoming_call_data(addr, id).unwrap();
            prop_assert_eq!(incoming_call(Some(&[d])), Some((addr, id)));
        }

        /// Any bytes on a zone port and from E: no panic; garbage gets no answer.
        #[test]
        fn any_datagram_is_survived(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let t0 = Instant::now();
            let mut p = Pair::new("secret", t0);
            p.tick(t0);
            let mut out = Vec::new();
            p.e.handle(0, sa("192.0.2.66:5000"), sa(E_ZONE), &bytes, t0, &mut out);
            if aper::decode::<RasMessage>(&bytes).is_err() {
                let answered = out.iter().any(|o| matches!(o, Output::Send { .. }));
                prop_assert!(!answered, "garbage answered");
            }
            p.c.handle(&bytes, t0, &mut out);
            prop_assert!(p.e.flow(0).is_some(), "the flow survives");
        }
    }
}

/// E notes whether a client's RRQ came from an address its rasAddress does not name (a NAT
/// between C and E, as the firewall's source rewriting shows): the call signaling then keeps
/// C's media off the multiplexed pair.
#[test]
fn e_notes_a_client_behind_a_nat_from_its_rrq() {
    let t0 = Instant::now();
    let mut p = Pair::new("secret", t0);
    p.tick(t0);
    assert!(p.e.behind_nat(sa(C_FLOW).ip()), "10.0.0.2 came as {C_FLOW}");
    let mut cfg = client_cfg("secret");
    cfg.ras = sa(C_FLOW);
    p.c = ZoneClient::new(cfg, WallClock::new(t0, UNIX), 2000, t0);
    p.tick(t0);
    assert!(!p.e.behind_nat(sa(C_FLOW).ip()), "the same address: no NAT");
}

/// Delivers between E and the C peers `cs` (each behind its own flow address) until quiet.
fn pump_many(e: &mut ZoneServer, cs: &mut [(ZoneClient, SocketAddr)], now: Instant) -> Vec<Output> {
    let mut from_e = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..16 {
        for (c, flow) in cs.iter_mut() {
            let mut c_out = Vec::new();
            c.handle_timeout(now, &mut c_out);
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut from_e)
                .into_iter()
                .partition(|(to, _): &(SocketAddr, Vec<u8>)| to == flow);
            from_e = rest;
            for (_, bytes) in mine {
                c.handle(&bytes, now, &mut c_out);
            }
            for o in c_out {
                match o {
                    Output::Send { bytes, .. } => {
                        let mut e_out = Vec::new();
                        e.handle(0, *flow, sa(E_ZONE), &bytes, now, &mut e_out);
                        for o in e_out {
                            match o {
                                Output::Send { to, bytes, .. } => from_e.push((to, bytes)),
                                other => seen.push(other),
                            }
                        }
                    }
                    other => seen.push(other),
                }
            }
        }
        if from_e.is_empty() {
            break;
        }
    }
    seen
}

/// Peer `i` of a C cluster: its zone client and its flow's address as E sees it.
fn c_peer(i: u8, t0: Instant) -> (ZoneClient, SocketAddr) {
    let clock = WallClock::new(t0, UNIX);
    let c = ZoneClient::new(client_cfg("secret"), clock, 1000 * i32::from(i), t0);
    (c, sa(&format!("203.0.113.{i}:40001")))
}

#[test]
fn each_peer_of_a_c_cluster_keeps_its_own_flow_and_calls_go_down_the_oldest() {
    let t0 = Instant::now();
    let mut e = server(t0, 0);
    let mut cs = vec![c_peer(1, t0), c_peer(2, t0)];
    pump_many(&mut e, &mut cs, t0);
    assert!(cs.iter().all(|(c, _)| c.is_up()));
    let views = e.views(t0);
    assert_eq!(views.iter().filter(|v| v.up).count(), 2, "{views:?}");
    // both keep alive for ten intervals: neither pushes the other out
    for i in 1..=10 {
        let t = t0 + Duration::from_secs(19 * i);
        let seen = pump_many(&mut e, &mut cs, t);
        assert!(
            !seen
                .iter()
                .any(|o| matches!(o, Output::Event(ZoneEvent::Down { .. }))),
            "{seen:?}"
        );
    }
    let t = t0 + Duration::from_secs(190);
    assert_eq!(e.views(t).iter().filter(|v| v.up).count(), 2);
    assert_eq!(e.flow(0), Some(cs[0].1), "calls go down the oldest flow");
    assert!(e.is_client_ip(cs[1].1.ip()));

    // the first peer dies: after its silence the call goes down the second's flow
    let mut survivor = vec![cs.remove(1)];
    let mut t = t;
    for _ in 0..4 {
        t += Duration::from_secs(19);
        pump_many(&mut e, &mut survivor, t);
        e.handle_timeout(t, &mut Vec::new());
    }
    assert_eq!(e.flow(0), Some(survivor[0].1));
    let mut out = Vec::new();
    assert!(e.incoming_call(0, [7; 16], t, &mut out));
    assert!(
        matches!(&out[0], Output::Send { to, .. } if *to == survivor[0].1),
        "{out:?}"
    );
}

#[test]
fn a_zone_holds_at_most_six_client_flows() {
    let t0 = Instant::now();
    let mut e = server(t0, 0);
    let mut cs: Vec<(ZoneClient, SocketAddr)> = (1..=7u8).map(|i| c_peer(i, t0)).collect();
    pump_many(&mut e, &mut cs, t0);
    assert_eq!(cs.iter().filter(|(c, _)| c.is_up()).count(), 6);
    assert!(!cs[6].0.is_up(), "the seventh is refused");
    assert_eq!(e.views(t0).iter().filter(|v| v.up).count(), MAX_FLOWS);
}
