//! `Anchoring` against a real relay on loopback: offers and answers rewritten to the right
//! leg's pair, E's link leg on the multiplexed pair, re-INVITEs from either side, exhaustion
//! answered 503 without leaking, and `end` freeing everything.

use super::Anchoring;
use crate::latch::LatchConfig;
use crate::legs::{From, Leg, Legs, LinkEnd, MediaAnchor};
use crate::ports::PortPair;
use crate::relay::{spawn, RelayConfig};
use crate::sdp::Sdp;
use crate::session::TableConfig;
use causeway_config::media::{Anchor, OnInactivity};
use causeway_config::PortRange;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn anchoring(start: u16, pairs: u16, mux: Option<u16>) -> Anchoring {
    let relay = spawn(RelayConfig::new(
        LO,
        TableConfig {
            ports: PortRange {
                start,
                end: start + 2 * pairs - 1,
            },
            multiplexed: mux.and_then(PortPair::new),
            max_sessions: 100,
            latch: LatchConfig::default(),
        },
    ))
    .expect("relay");
    Anchoring::new(relay, Anchor::Traversal, None, true, OnInactivity::Hangup)
}

fn leg(link: Option<LinkEnd>, local: &str, remote: &str) -> Leg {
    Leg {
        link,
        local: local.parse().expect("addr"),
        remote: remote.parse().expect("addr"),
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

/// E: internet caller (own pair) -> C's link (multiplexed pair).
fn edge_legs() -> Legs {
    Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.2:5060"),
        callee: leg(Some(LinkEnd::Server), "127.0.0.1:7001", "127.0.0.3:40000"),
    }
}

#[tokio::test]
async fn edge_offers_the_multiplexed_pair_to_c_and_its_own_pair_to_the_caller() {
    let mut a = anchoring(47000, 10, Some(47100));
    let legs = edge_legs();
    assert!(a.wants(&legs), "a traversal call is anchored");
    let now = Instant::now();
    let offer = a
        .sdp("c1", From::Caller, &legs, &sdp("127.0.0.2", 30000), now)
        .expect("anchored")
        .expect("rewritten");
    let (ip, port, rtcp, ice) = media_of(&offer);
    assert_eq!((ip, port, rtcp, ice), (LO, 47100, Some(47101), false));
    // C answers with its own pair: the caller is told about E's pair for this call
    let answer = a
        .sdp("c1", From::Callee, &legs, &sdp("127.0.0.3", 26000), now)
        .expect("anchored")
        .expect("rewritten");
    let (ip, port, _, _) = media_of(&answer);
    assert_eq!(ip, LO);
    assert!((47000..47020).contains(&port) && port % 2 == 0, "{port}");
    // a repeated answer (a retransmitted 200) gives the same body
    let again = a
        .sdp("c1", From::Callee, &legs, &sdp("127.0.0.3", 26000), now)
        .expect("anchored")
        .expect("rewritten");
    assert_eq!(again, answer);
    assert_eq!(a.relay().ports_in_use(), 1);
    a.end("c1");
    assert_eq!(a.relay().ports_in_use(), 0);
}

#[tokio::test]
async fn a_re_invite_from_the_callee_side_is_rewritten_towards_the_caller() {
    let mut a = anchoring(47200, 10, None);
    // C: inside caller -> link to E (own pairs both sides)
    let legs = Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.4:5060"),
        callee: leg(Some(LinkEnd::Client), "127.0.0.1:25001", "127.0.0.5:7001"),
    };
    let now = Instant::now();
    let offer = a
        .sdp("c2", From::Caller, &legs, &sdp("127.0.0.4", 30000), now)
        .expect("ok")
        .expect("rewritten");
    let toward_callee = media_of(&offer).1;
    let answer = a
        .sdp("c2", From::Callee, &legs, &sdp("127.0.0.5", 36000), now)
        .expect("ok")
        .expect("rewritten");
    let toward_caller = media_of(&answer).1;
    assert_ne!(toward_callee, toward_caller, "one pair per leg");
    // the callee re-INVITEs: its request's "caller" is the original callee
    let reverse = Legs {
        caller: legs.callee.clone(),
        callee: legs.caller.clone(),
    };
    let reoffer = a
        .sdp("c2", From::Caller, &reverse, &sdp("127.0.0.5", 36000), now)
        .expect("ok")
        .expect("rewritten");
    assert_eq!(
        media_of(&reoffer).1,
        toward_caller,
        "the original caller keeps talking to the same pair"
    );
    a.end("c2");
    assert_eq!(a.relay().ports_in_use(), 0);
}

#[tokio::test]
async fn exhaustion_is_a_clean_503_that_holds_nothing() {
    // one pair: the first call's two legs cannot both be served
    let mut a = anchoring(47400, 1, None);
    let legs = Legs {
        caller: leg(None, "127.0.0.1:5060", "127.0.0.4:5060"),
        callee: leg(Some(LinkEnd::Client), "127.0.0.1:25001", "127.0.0.5:7001"),
    };
    let r = a.sdp(
        "c3",
        From::Caller,
        &legs,
        &sdp("127.0.0.4", 30000),
        Instant::now(),
    );
    let e = r.expect_err("no ports for two legs");
    assert_eq!(e.status, 503, "{e:?}");
    assert_eq!(a.relay().ports_in_use(), 0);
    assert_eq!(a.calls(), 0);
}

#[tokio::test]
async fn bad_sdp_is_a_488_and_unanchored_calls_are_left_alone() {
    let mut a = anchoring(47600, 4, None);
    let legs = edge_legs();
    let e = a
        .sdp(
            "c4",
            From::Caller,
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
}
