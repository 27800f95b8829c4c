//! `ChannelAnchor` with a fake relay (it records commands and fails to bind the ports it is
//! told to) and a plain relay table: addresses are rewritten per side and component, both
//! directions of an H.245 session share one relay session, a re-opened channel reuses it, the
//! end of a call frees everything, a failed bind moves to other ports, and a refusal (table
//! full, nothing bindable) leaves the session's addresses alone for the rest of the call.

use super::{ChannelAnchor, MAX_SESSIONS_PER_CALL};
use crate::anchor::{
    AnchorConfig, ChannelAddress, MediaAnchor, Relay, RelayCommand, RelayEvent, BIND_ATTEMPTS,
};
use crate::call::{Leg, Legs, LinkEnd, Side};
use crate::latch::LatchConfig;
use crate::session::{Component, Local, SharedTable, TableConfig};
use causeway_config::media::{Anchor as Policy, OnInactivity};
use causeway_config::PortRange;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A relay that binds every port but those in `fail`, and records what it was told.
#[derive(Default)]
struct FakeRelay {
    fail: Mutex<HashSet<u16>>,
    commands: Mutex<Vec<RelayCommand>>,
}

impl FakeRelay {
    fn commands(&self) -> Vec<RelayCommand> {
        self.commands.lock().expect("lock").clone()
    }
    fn opened(&self) -> usize {
        let c = self.commands();
        c.iter()
            .filter(|c| matches!(c, RelayCommand::Open(_)))
            .count()
    }
    fn closed(&self) -> usize {
        let c = self.commands();
        c.iter()
            .filter(|c| matches!(c, RelayCommand::Close(_)))
            .count()
    }
}

impl Relay for FakeRelay {
    fn execute(&self, command: RelayCommand) -> Option<RelayEvent> {
        self.commands.lock().expect("lock").push(command);
        let RelayCommand::Open(info) = command else {
            return None;
        };
        let fail = self.fail.lock().expect("lock");
        for l in [info.a, info.b] {
            let p = l.pair();
            for port in [p.rtp(), p.rtcp()] {
                if fail.contains(&port) {
                    return Some(RelayEvent::OpenFailed {
                        session: info.id,
                        port,
                        error: "Address in use".into(),
                    });
                }
            }
        }
        Some(RelayEvent::Opened(info.id))
    }
}

struct T {
    anchor: ChannelAnchor,
    table: SharedTable,
    relay: Arc<FakeRelay>,
    legs: Legs,
    now: Instant,
}

fn setup(pairs: u16, max_sessions: usize, address: Option<&str>) -> T {
    let table = SharedTable::new(TableConfig {
        ports: PortRange {
            start: 48000,
            end: 48000 + 2 * pairs - 1,
        },
        multiplexed: None,
        max_sessions,
        latch: LatchConfig::default(),
    });
    let relay = Arc::new(FakeRelay::default());
    let config = AnchorConfig {
        policy: Policy::All,
        address: address.map(|a| a.parse().expect("ip")),
        strip_ice: false,
        on_inactivity: OnInactivity::Report,
        multiplexed: true,
    };
    let anchor = ChannelAnchor::new(table.clone(), relay.clone(), config);
    T {
        anchor,
        table,
        relay,
        legs: Legs {
            caller: leg("192.0.2.1:1720", "198.51.100.7:40000"),
            callee: leg("10.1.1.1:15000", "10.1.1.5:1720"),
        },
        now: Instant::now(),
    }
}

fn leg(local: &str, remote: &str) -> Leg {
    Leg {
        link: None,
        local: sa(local),
        remote: sa(remote),
        cluster_peer: false,
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

fn what(session: u8, component: Component, answer: bool) -> ChannelAddress {
    ChannelAddress {
        session,
        component,
        answer,
        early: false,
    }
}

impl T {
    /// `from` announces `addr` for (session, component): what the other side is told.
    fn show(
        &mut self,
        call: &str,
        from: Side,
        w: ChannelAddress,
        addr: &str,
    ) -> Option<SocketAddr> {
        self.anchor
            .channel_address(call, from, &self.legs, w, sa(addr), self.now)
    }

    fn sessions(&self) -> usize {
        self.table.lock().stats().sessions
    }
}

#[test]
fn addresses_are_rewritten_per_side_and_component_and_media_flows_through_the_relay() {
    let mut t = setup(10, 100, None);
    // caller's OLC (audio): its RTCP address; the callee is told leg B's RTCP port, on the
    // address the callee's signaling reached us on
    let rtcp_b = t
        .show(
            "1",
            Side::Caller,
            what(1, Component::Rtcp, false),
            "198.51.100.7:5001",
        )
        .expect("anchored");
    // callee's OLCAck: its RTP and RTCP; the caller is told leg A's ports, on its side's address
    let rtp_a = t
        .show(
            "1",
            Side::Callee,
            what(1, Component::Rtp, true),
            "10.1.1.5:6000",
        )
        .expect("anchored");
    let rtcp_a = t
        .show(
            "1",
            Side::Callee,
            what(1, Component::Rtcp, true),
            "10.1.1.5:6001",
        )
        .expect("anchored");
    let info = t.anchor.session_of("1", 1).expect("a relay session");
    let (Local::Own(a), Local::Own(b)) = (info.a, info.b) else {
        panic!("own pairs: {info:?}");
    };
    assert_eq!(rtcp_b, SocketAddr::new(sa("10.1.1.1:0").ip(), b.rtcp()));
    assert_eq!(rtp_a, SocketAddr::new(sa("192.0.2.1:0").ip(), a.rtp()));
    assert_eq!(rtcp_a, SocketAddr::new(sa("192.0.2.1:0").ip(), a.rtcp()));
    assert_ne!(a, b, "a pair per leg");
    assert_eq!(t.sessions(), 1);
    assert_eq!(t.relay.opened(), 1, "bound at once");

    // RTP from the caller (behind a NAT: another source than any it announced) to leg A goes
    // from leg B to the callee's announced RTP address; the callee's RTCP to leg B goes to the
    // caller's RTCP address from leg A
    let mut table = t.table.lock();
    let f = table
        .handle(a.rtp(), sa("203.0.113.50:31000"), 172, t.now)
        .expect("forwarded");
    assert_eq!((f.from_port, f.to), (b.rtp(), sa("10.1.1.5:6000")));
    let f = table
        .handle(b.rtcp(), sa("10.1.1.5:6001"), 80, t.now)
        .expect("forwarded");
    assert_eq!((f.from_port, f.to), (a.rtcp(), sa("198.51.100.7:5001")));
}

#[test]
fn both_directions_of_a_session_share_one_relay_session_and_a_reopened_channel_reuses_it() {
    let mut t = setup(10, 100, None);
    let to_callee = t.show(
        "1",
        Side::Caller,
        what(1, Component::Rtcp, false),
        "198.51.100.7:5001",
    );
    // the callee opens its own audio channel (same sessionID): the caller gets leg A's RTCP
    let to_caller = t.show(
        "1",
        Side::Callee,
        what(1, Component::Rtcp, false),
        "10.1.1.5:6001",
    );
    // the caller acks it with its RTP address
    let rtp = t.show(
        "1",
        Side::Caller,
        what(1, Component::Rtp, true),
        "198.51.100.7:5000",
    );
    assert_eq!(
        t.sessions(),
        1,
        "one relay session for both directions of audio"
    );
    let info = t.anchor.session_of("1", 1).expect("session");
    assert_eq!(to_callee.map(|a| a.port()), Some(info.b.pair().rtcp()));
    assert_eq!(to_caller.map(|a| a.port()), Some(info.a.pair().rtcp()));
    assert_eq!(rtp.map(|a| a.port()), Some(info.b.pair().rtp()));
    {
        let table = t.table.lock();
        let s = table.get(info.id).expect("session");
        let a = s.leg(Side::Caller);
        assert_eq!(
            a.latch(Component::Rtp).expected(),
            Some(sa("198.51.100.7:5000"))
        );
        assert_eq!(
            a.latch(Component::Rtcp).expected(),
            Some(sa("198.51.100.7:5001"))
        );
    }

    // the channel is closed and opened again (another codec) with a new address: same session
    let again = t.show(
        "1",
        Side::Caller,
        what(1, Component::Rtcp, false),
        "198.51.100.7:5003",
    );
    assert_eq!(again, to_callee, "the same relay port");
    assert_eq!(t.anchor.session_of("1", 1), Some(info));
    let table = t.table.lock();
    let a = table
        .get(info.id)
        .expect("session")
        .leg(Side::Caller)
        .latch(Component::Rtcp)
        .expected();
    assert_eq!(
        a,
        Some(sa("198.51.100.7:5003")),
        "the new address is where RTCP goes"
    );
    drop(table);

    // video is a session of its own
    t.show(
        "1",
        Side::Caller,
        what(2, Component::Rtcp, false),
        "198.51.100.7:5011",
    );
    assert_eq!(t.sessions(), 2);
    assert_ne!(t.anchor.session_of("1", 2), Some(info));
    assert_eq!(t.relay.opened(), 2);
}

#[test]
fn end_frees_every_port_and_closes_the_sockets() {
    let mut t = setup(10, 100, None);
    t.show(
        "1",
        Side::Caller,
        what(1, Component::Rtcp, false),
        "198.51.100.7:5001",
    );
    t.show(
        "1",
        Side::Caller,
        what(2, Component::Rtcp, false),
        "198.51.100.7:5011",
    );
    t.show(
        "2",
        Side::Caller,
        what(1, Component::Rtcp, false),
        "198.51.100.8:5001",
    );
    assert_eq!(t.table.lock().ports_in_use(), 6);
    t.anchor.end("1");
    assert_eq!(t.table.lock().ports_in_use(), 2, "only call 2's pairs");
    assert_eq!(t.relay.closed(), 2);
    assert_eq!(t.anchor.calls(), 1);
    t.anchor.end("2");
    t.anchor.end("2");
    t.anchor.end("never seen");
    assert_eq!(t.table.lock().ports_in_use(), 0);
    assert_eq!(t.sessions(), 0);
    assert_eq!(t.relay.closed(), 3);
    assert_eq!(t.anchor.calls(), 0);
}

#[test]
fn a_port_that_cannot_be_bound_is_replaced_by_another_pair() {
    let mut t = setup(10, 100, None);
    // the first pairs the allocator hands out are held by another program
    t.relay.fail.lock().expect("lock").extend([48000, 48001]);
    let to_callee = t
        .show(
            "1",
            Side::Caller,
            what(1, Component::Rtcp, false),
            "198.51.100.7:5001",
        )
        .expect("anchored on other ports");
    let info = t.anchor.session_of("1", 1).expect("session");
    for l in [info.a, info.b] {
        assert_ne!(l.pair().rtp(), 48000, "{info:?}");
    }
    assert_eq!(to_callee.port(), info.b.pair().rtcp());
    assert_eq!(t.relay.opened(), 2, "one failed bind, one that worked");
    assert_eq!(t.sessions(), 1);
    assert_eq!(
        t.table.lock().ports_in_use(),
        2,
        "the failed attempt holds nothing"
    );
}

#[test]
fn a_session_that_cannot_be_bound_at_all_is_left_end_to_end() {
    let mut t = setup(10, 100, None);
    t.relay
        .fail
        .lock()
        .expect("lock")
        .extend((48000..48020).collect::<Vec<_>>());
    let r = t.show(
        "1",
        Side::Caller,
        what(1, Component::Rtcp, false),
        "198.51.100.7:5001",
    );
    assert_eq!(r, None, "left alone");
    assert_eq!(t.relay.opened(), BIND_ATTEMPTS);
    assert_eq!(t.sessions(), 0);
    assert_eq!(t.table.lock().ports_in_use(), 0);
    // the other side's answer for that session stays end to end too (no new attempt), even
    // once ports could be bound again
    t.relay.fail.lock().expect("lock").clear();
    let r = t.show(
        "1",
        Side::Callee,
        what(1, Component::Rtp, true),
        "10.1.1.5:6000",
    );
    assert_eq!(r, None);
    assert_eq!(t.relay.opened(), BIND_ATTEMPTS);
}

#[test]
fn at_max_sessions_a_session_is_refused_for_the_rest_of_the_call() {
    let mut t = setup(10, 1, None);
    assert!(t
        .show(
            "1",
            Side::Caller,
            what(1, Component::Rtcp, false),
            "198.51.100.7:5001"
        )
        .is_some());
    // call 2's audio, and call 1's video, do not fit
    let r = t.show(
        "2",
        Side::Caller,
        what(1, Component::Rtcp, false),
        "198.51.100.8:5001",
    );
    assert_eq!(r, None, "media of call 2 goes end to end");
    let r = t.show(
        "1",
        Side::Caller,
        what(2, Component::Rtcp, false),
        "198.51.100.7:5011",
    );
    assert_eq!(r, None);
    assert_eq!(t.sessions(), 1);
    // call 1 ends; call 2's audio stays refused (its caller was told its own address), a new
    // call is anchored again
    t.anchor.end("1");
    let r = t.show(
        "2",
        Side::Callee,
        what(1, Component::Rtp, true),
        "10.1.1.6:6000",
    );
    assert_eq!(
        r, None,
        "one side anchored and the other not would be worse"
    );
    assert!(t
        .show(
            "3",
            Side::Caller,
            what(1, Component::Rtcp, false),
            "198.51.100.9:5001"
        )
        .is_some());
    t.anchor.end("2");
    t.anchor.end("3");
    assert_eq!(t.sessions(), 0);
}

#[test]
fn one_call_holds_a_bounded_number_of_sessions() {
    let mut t = setup(40, 100, None);
    for s in 0..MAX_SESSIONS_PER_CALL {
        let s = u8::try_from(s).expect("small") + 1;
        assert!(t
            .show(
                "1",
                Side::Caller,
                what(s, Component::Rtcp, false),
                "198.51.100.7:5001"
            )
            .is_some());
    }
    let r = t.show(
        "1",
        Side::Caller,
        what(200, Component::Rtcp, false),
        "198.51.100.7:5001",
    );
    assert_eq!(r, None);
    assert_eq!(t.sessions(), MAX_SESSIONS_PER_CALL);
    t.anchor.end("1");
    assert_eq!(t.sessions(), 0);
}

#[test]
fn the_configured_media_address_is_announced_and_odd_addresses_are_left_alone() {
    let mut t = setup(10, 100, Some("203.0.113.1"));
    let r = t
        .show(
            "1",
            Side::Caller,
            what(1, Component::Rtcp, false),
            "198.51.100.7:5001",
        )
        .expect("anchored");
    assert_eq!(r.ip(), sa("203.0.113.1:0").ip());
    for odd in ["0.0.0.0:5000", "198.51.100.7:0", "239.1.1.1:5000"] {
        assert_eq!(
            t.show("1", Side::Caller, what(1, Component::Rtp, false), odd),
            None,
            "{odd}"
        );
    }
    t.anchor.end("1");
}

#[test]
fn a_session_the_relay_expired_is_set_up_again() {
    let mut t = setup(10, 100, None);
    t.show(
        "1",
        Side::Caller,
        what(1, Component::Rtcp, false),
        "198.51.100.7:5001",
    );
    let first = t.anchor.session_of("1", 1).expect("session");
    let later = t.now + Duration::from_secs(120);
    let ended = t.table.lock().expire(later, Duration::from_secs(60));
    assert_eq!(ended.len(), 1);
    t.now = later;
    let r = t.show(
        "1",
        Side::Caller,
        what(1, Component::Rtcp, false),
        "198.51.100.7:5001",
    );
    let second = t.anchor.session_of("1", 1).expect("session");
    assert_ne!(first.id, second.id);
    assert_eq!(r.map(|a| a.port()), Some(second.b.pair().rtcp()));
    t.anchor.end("1");
    assert_eq!(t.table.lock().ports_in_use(), 0);
}

#[test]
fn the_policy_decides_which_calls_are_anchored() {
    let t = setup(10, 100, None);
    assert!(t.anchor.wants(&t.legs), "anchor = all");
    let mut config = t.anchor.config;
    config.policy = Policy::Traversal;
    let a = ChannelAnchor::new(t.table.clone(), t.relay.clone(), config);
    assert!(!a.wants(&t.legs), "no traversal leg");
    let mut legs = t.legs.clone();
    legs.callee.link = Some(LinkEnd::Client);
    assert!(a.wants(&legs));
}

/// E: the outside caller, and C (the callee) over E's traversal server zone, whose signaling
/// comes from 192.0.2.254; the multiplexed pair is 36000/36001 when `multiplexed`.
fn setup_e(multiplexed: bool) -> T {
    let table = SharedTable::new(TableConfig {
        ports: PortRange {
            start: 48000,
            end: 48099,
        },
        multiplexed: crate::ports::PortPair::new(36000),
        max_sessions: 10,
        latch: LatchConfig::default(),
    });
    let relay = Arc::new(FakeRelay::default());
    let config = AnchorConfig {
        policy: Policy::All,
        address: None,
        strip_ice: false,
        on_inactivity: OnInactivity::Report,
        multiplexed,
    };
    let mut callee = leg("192.0.2.1:1720", "192.0.2.254:41000");
    callee.link = Some(LinkEnd::Server);
    T {
        anchor: ChannelAnchor::new(table.clone(), relay.clone(), config),
        table,
        relay,
        legs: Legs {
            caller: leg("192.0.2.1:1720", "198.51.100.7:40000"),
            callee,
        },
        now: Instant::now(),
    }
}

const C_RTP: &str = "10.1.1.2:40010";
const C_RTCP: &str = "10.1.1.2:40011";
const OUT_RTP: &str = "198.51.100.7:5000";

#[test]
fn a_one_way_stream_from_c_on_es_multiplexed_pair_is_keyed_by_its_rtcp() {
    let mut t = setup_e(true);
    // C's OLC of a stream C sends (an H.239 presentation): its mediaControlChannel only
    t.show("1", Side::Callee, what(32, Component::Rtcp, false), C_RTCP)
        .expect("anchored");
    // the outside receiver's OLCAck: where it receives
    t.show("1", Side::Caller, what(32, Component::Rtp, true), OUT_RTP)
        .expect("anchored");
    let info = t.anchor.session_of("1", 32).expect("a relay session");
    assert!(matches!(info.b, Local::Multiplexed(_)), "{info:?}");
    let now = t.now;
    let mut table = t.table.lock();
    // C's keep-alive and media, from its RTP port, reach the outside
    assert_eq!(table.handle(36000, sa(C_RTP), 12, now), None);
    assert_eq!(table.stats().keepalives, 1);
    let f = table.handle(36000, sa(C_RTP), 1200, now).expect("relayed");
    assert_eq!(
        (f.from_port, f.to),
        (info.a.port(Component::Rtp), sa(OUT_RTP))
    );
    assert_eq!(table.stats().dropped_unknown_source, 0);
}

#[test]
fn a_nat_between_c_and_e_puts_es_leg_on_a_pair_of_its_own() {
    let mut t = setup_e(true);
    // C's signaling came through its firewall, which rewrites its media's source too
    t.anchor
        .link_peer("1", Side::Callee, "192.0.2.200".parse().unwrap());
    let told_out = t
        .show("1", Side::Callee, what(1, Component::Rtp, false), C_RTP)
        .expect("anchored");
    let told_c = t
        .show("1", Side::Caller, what(1, Component::Rtp, true), OUT_RTP)
        .expect("anchored");
    let info = t.anchor.session_of("1", 1).expect("a relay session");
    let Local::Own(b) = info.b else {
        panic!("E's link leg on a pair of its own: {info:?}");
    };
    assert_eq!(told_c.port(), b.rtp(), "C sends to that pair");
    assert_eq!(told_out.port(), info.a.port(Component::Rtp));
    let now = t.now;
    let mut table = t.table.lock();
    let natted = sa("192.0.2.200:61000");
    // a stranger cannot take C's stream; C's keep-alive from the NAT's address latches
    assert_eq!(
        table.handle(b.rtp(), sa("203.0.113.66:4444"), 12, now),
        None
    );
    assert_eq!(table.stats().dropped_not_expected_ip, 1);
    assert_eq!(table.handle(b.rtp(), natted, 12, now), None);
    // media both ways
    let f = table
        .handle(info.a.port(Component::Rtp), sa(OUT_RTP), 172, now)
        .expect("outside -> C");
    assert_eq!((f.from_port, f.to), (b.rtp(), natted));
    let f = table
        .handle(b.rtp(), natted, 172, now)
        .expect("C -> outside");
    assert_eq!(f.to, sa(OUT_RTP));
}

#[test]
fn with_no_nat_shown_es_leg_stays_on_the_multiplexed_pair() {
    let mut t = setup_e(true);
    // reported, and the same IP C advertises: no NAT
    t.anchor
        .link_peer("1", Side::Callee, "10.1.1.2".parse().unwrap());
    t.show("1", Side::Callee, what(1, Component::Rtp, false), C_RTP)
        .expect("anchored");
    let info = t.anchor.session_of("1", 1).expect("a relay session");
    assert!(matches!(info.b, Local::Multiplexed(_)), "{info:?}");
    // not reported at all: the multiplexed pair, whoever speaks first
    t.show("2", Side::Caller, what(1, Component::Rtp, false), OUT_RTP)
        .expect("anchored");
    let info = t.anchor.session_of("2", 1).expect("a relay session");
    assert!(matches!(info.b, Local::Multiplexed(_)), "{info:?}");
}

#[test]
fn a_reported_peer_whose_media_address_is_not_known_yet_gets_a_pair_of_its_own() {
    let mut t = setup_e(true);
    t.anchor
        .link_peer("1", Side::Callee, "10.1.1.2".parse().unwrap());
    // the outside speaks first: C's address is unknown, and what C is told cannot change later
    t.show("1", Side::Caller, what(1, Component::Rtp, false), OUT_RTP)
        .expect("anchored");
    let info = t.anchor.session_of("1", 1).expect("a relay session");
    assert!(matches!(info.b, Local::Own(_)), "{info:?}");
    // the report goes with the call
    t.anchor.end("1");
    t.show("1", Side::Caller, what(1, Component::Rtp, false), OUT_RTP)
        .expect("anchored");
    let info = t.anchor.session_of("1", 1).expect("a relay session");
    assert!(matches!(info.b, Local::Multiplexed(_)), "{info:?}");
}

#[test]
fn es_own_pair_latches_only_on_cs_advertised_or_signaling_ip() {
    // `[media] multiplexed = false`, no peer reported: C's signaling peer stands in for it
    let mut t = setup_e(false);
    t.show("1", Side::Callee, what(1, Component::Rtp, false), C_RTP)
        .expect("anchored");
    t.show("1", Side::Callee, what(1, Component::Rtcp, false), C_RTCP)
        .expect("anchored");
    let info = t.anchor.session_of("1", 1).expect("a relay session");
    let Local::Own(b) = info.b else {
        panic!("{info:?}");
    };
    let now = t.now;
    let mut table = t.table.lock();
    assert_eq!(
        table.handle(b.rtp(), sa("203.0.113.66:4444"), 12, now),
        None
    );
    assert_eq!(
        table.handle(b.rtcp(), sa("203.0.113.66:4445"), 8, now),
        None
    );
    assert_eq!(table.stats().dropped_not_expected_ip, 2);
    // C's signaling address (a NAT's) latches RTP; its advertised IP (another port) RTCP
    assert_eq!(
        table.handle(b.rtp(), sa("192.0.2.254:61000"), 12, now),
        None
    );
    assert_eq!(table.handle(b.rtcp(), sa("10.1.1.2:7001"), 8, now), None);
    assert_eq!(table.stats().keepalives, 1);
    assert_eq!(table.stats().dropped_not_expected_ip, 2);
}

/// H.460.19 multiplexIDs through the anchor: on E, C's multiplexed leg of a session has one
/// (the outside's own pair none); told E's ID, a leg's packets carry it and a keep-alive goes
/// at once.
#[test]
fn multiplex_ids_are_reported_on_e_and_taken_on_c() {
    let mut t = setup_e(true);
    t.show("1", Side::Callee, what(1, Component::Rtp, false), C_RTP)
        .expect("anchored");
    let id = t.anchor.multiplex_id("1", Side::Callee, 1).expect("an ID");
    assert_eq!(t.anchor.multiplex_id("1", Side::Caller, 1), None);
    assert_eq!(
        t.anchor.multiplex_id("1", Side::Callee, 2),
        None,
        "no such session"
    );

    // the same anchor used as C would (its caller leg faces E): told E's ID
    t.show("1", Side::Caller, what(1, Component::Rtp, true), OUT_RTP)
        .expect("anchored");
    let before = t.relay.commands().len();
    t.anchor.set_multiplex_id("1", Side::Caller, 1, 0x0042_4242);
    assert!(matches!(
        t.relay.commands()[before..],
        [RelayCommand::KeepAlive {
            side: Side::Caller,
            ..
        }]
    ));
    let info = t.anchor.session_of("1", 1).expect("a session");
    let mut media = id.to_be_bytes().to_vec();
    media.extend_from_slice(&[0x80; 160]);
    let (_, framing) = t
        .table
        .lock()
        .handle_framed(36000, sa(C_RTP), &media, t.now)
        .expect("relayed towards the caller leg");
    assert_eq!(
        framing,
        crate::session::Framing {
            strip: true,
            prefix: Some(0x0042_4242)
        }
    );
    assert!(matches!(info.b, Local::Multiplexed(_)));
}
