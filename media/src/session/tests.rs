//! The relay table with a fake clock: relaying both ways, latching (RFC 4961 symmetric RTP as
//! the reference describes it: "waits until it receives media, then sends media to that source
//! port"), strangers after latching, inactivity expiry, E's multiplexed pair told apart by
//! source, limits and counters.

use super::*;
use crate::latch::{LatchRule, Relatch};
use proptest::prelude::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

const A_SDP: &str = "192.0.2.10:40000";
const B_SDP: &str = "10.1.1.20:50000";
const A_NAT: &str = "198.51.100.7:61234";
const EVIL: &str = "203.0.113.66:4444";
const C_MEDIA: &str = "10.0.0.5";

fn config(start: u16, end: u16, mux: Option<u16>) -> TableConfig {
    TableConfig {
        ports: PortRange { start, end },
        multiplexed: mux.and_then(PortPair::new),
        max_sessions: 100,
        latch: LatchConfig::default(),
    }
}

fn table() -> Table {
    Table::new(config(40000, 40099, None))
}

fn own(s: &str) -> LegSpec {
    LegSpec::own(Some(sa(s)))
}

fn pair(l: Local) -> PortPair {
    l.pair()
}

#[test]
fn relays_both_ways_from_the_other_legs_port() {
    let t0 = Instant::now();
    let mut t = table();
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    let (pa, pb) = (pair(s.a), pair(s.b));
    assert_ne!(pa, pb);
    // A sends to its relay port; it leaves from B's relay port towards B's SDP address
    assert_eq!(
        t.handle(pa.rtp(), sa(A_SDP), 172, t0),
        Some(Forward {
            from_port: pb.rtp(),
            to: sa(B_SDP)
        })
    );
    assert_eq!(
        t.handle(pb.rtp(), sa(B_SDP), 172, t0),
        Some(Forward {
            from_port: pa.rtp(),
            to: sa(A_SDP)
        })
    );
    // RTCP uses the odd ports and the RTP port + 1 of each side
    assert_eq!(
        t.handle(pa.rtcp(), sa("192.0.2.10:40001"), 80, t0),
        Some(Forward {
            from_port: pb.rtcp(),
            to: sa("10.1.1.20:50001")
        })
    );
}

#[test]
fn media_flows_to_the_sdp_address_before_the_far_side_sends() {
    let t0 = Instant::now();
    let mut t = table();
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    let f = t.handle(pair(s.a).rtp(), sa(A_NAT), 172, t0).unwrap();
    assert_eq!(f.to, sa(B_SDP));
    let sess = t.get(s.id).unwrap();
    assert_eq!(sess.leg(Side::Callee).latch(Component::Rtp).latched(), None);
}

#[test]
fn a_nated_peer_is_latched_and_answered_at_its_real_source() {
    let t0 = Instant::now();
    let mut t = table();
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    // A's SDP names a private-looking address; its packets come from the NAT's
    t.handle(pair(s.a).rtp(), sa(A_NAT), 172, t0).unwrap();
    let back = t.handle(pair(s.b).rtp(), sa(B_SDP), 172, t0).unwrap();
    assert_eq!(back.to, sa(A_NAT));
}

#[test]
fn a_stranger_is_ignored_after_latching() {
    let t0 = Instant::now();
    let mut t = table();
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    t.handle(pair(s.a).rtp(), sa(A_NAT), 172, t0).unwrap();
    assert_eq!(t.handle(pair(s.a).rtp(), sa(EVIL), 172, t0), None);
    // the SDP address itself is a stranger too once the real source latched
    assert_eq!(t.handle(pair(s.a).rtp(), sa(A_SDP), 172, t0), None);
    let back = t.handle(pair(s.b).rtp(), sa(B_SDP), 172, t0).unwrap();
    assert_eq!(back.to, sa(A_NAT));
    assert_eq!(t.stats().dropped_stranger, 2);
    assert_eq!(t.get(s.id).unwrap().leg(Side::Caller).dropped(), 2);
}

#[test]
fn rtp_and_rtcp_latch_separately() {
    let t0 = Instant::now();
    let mut t = table();
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    t.handle(pair(s.a).rtp(), sa(A_NAT), 172, t0).unwrap();
    t.handle(pair(s.a).rtcp(), sa("198.51.100.7:61235"), 80, t0)
        .unwrap();
    let rtcp_back = t.handle(pair(s.b).rtcp(), sa("10.1.1.20:50001"), 80, t0);
    assert_eq!(rtcp_back.unwrap().to, sa("198.51.100.7:61235"));
}

#[test]
fn expected_ip_only_refuses_other_ips_before_latching() {
    let t0 = Instant::now();
    let mut cfg = config(40000, 40099, None);
    cfg.latch = LatchConfig {
        rule: LatchRule::ExpectedIpOnly,
        relatch: Relatch::Never,
    };
    let mut t = Table::new(cfg);
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    assert_eq!(t.handle(pair(s.a).rtp(), sa(EVIL), 172, t0), None);
    assert_eq!(t.stats().dropped_not_expected_ip, 1);
    assert!(t
        .handle(pair(s.a).rtp(), sa("192.0.2.10:41000"), 172, t0)
        .is_some());
}

#[test]
fn relatch_after_silence_is_counted() {
    let t0 = Instant::now();
    let mut cfg = config(40000, 40099, None);
    cfg.latch.relatch = Relatch::AfterSilence(Duration::from_secs(2));
    let mut t = Table::new(cfg);
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    t.handle(pair(s.a).rtp(), sa(A_NAT), 172, t0).unwrap();
    let t1 = t0 + Duration::from_secs(3);
    t.handle(pair(s.a).rtp(), sa(EVIL), 172, t1).unwrap();
    assert_eq!(t.stats().relatched, 1);
    let back = t.handle(pair(s.b).rtp(), sa(B_SDP), 172, t1).unwrap();
    assert_eq!(back.to, sa(EVIL));
}

#[test]
fn counters_per_direction_and_table_wide() {
    let t0 = Instant::now();
    let mut t = table();
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    for _ in 0..3 {
        t.handle(pair(s.a).rtp(), sa(A_SDP), 172, t0).unwrap();
    }
    t.handle(pair(s.b).rtp(), sa(B_SDP), 100, t0).unwrap();
    let sess = t.get(s.id).unwrap();
    assert_eq!(
        sess.leg(Side::Caller).forwarded(),
        Flow {
            packets: 3,
            bytes: 516
        }
    );
    assert_eq!(
        sess.leg(Side::Callee).forwarded(),
        Flow {
            packets: 1,
            bytes: 100
        }
    );
    assert_eq!(
        t.stats().forwarded,
        Flow {
            packets: 4,
            bytes: 616
        }
    );
    assert_eq!(t.stats().sessions, 1);
}

#[test]
fn inactivity_expiry_ends_idle_sessions_and_frees_their_ports() {
    let t0 = Instant::now();
    let timeout = Duration::from_secs(60);
    let mut t = table();
    let idle = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    let busy = t
        .add(own("192.0.2.11:40000"), own("10.1.1.21:50000"), t0)
        .unwrap();
    assert_eq!(t.ports_in_use(), 4);
    let t1 = t0 + Duration::from_secs(30);
    t.handle(pair(busy.a).rtp(), sa("192.0.2.11:40000"), 172, t1)
        .unwrap();
    // 59.999 s: nothing ends
    assert!(t
        .expire(t0 + timeout - Duration::from_millis(1), timeout)
        .is_empty());
    let ended = t.expire(t0 + timeout, timeout);
    assert_eq!(ended, vec![idle]);
    assert_eq!(t.ports_in_use(), 2);
    assert_eq!(t.stats().expired, 1);
    assert_eq!(t.stats().sessions, 1);
    // a late packet to the ended session's port is dropped as unknown
    assert_eq!(
        t.handle(pair(idle.a).rtp(), sa(A_SDP), 172, t0 + timeout),
        None
    );
    assert_eq!(t.stats().dropped_unknown_port, 1);
    assert!(t.get(idle.id).is_none());
    // the busy one ends 60 s after its last packet
    assert_eq!(t.expire(t1 + timeout, timeout), vec![busy]);
    assert_eq!(t.ports_in_use(), 0);
}

#[test]
fn a_stranger_does_not_keep_a_session_alive() {
    let t0 = Instant::now();
    let timeout = Duration::from_secs(60);
    let mut t = table();
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    t.handle(pair(s.a).rtp(), sa(A_SDP), 172, t0).unwrap();
    t.handle(pair(s.a).rtp(), sa(EVIL), 172, t0 + Duration::from_secs(59));
    assert_eq!(t.expire(t0 + timeout, timeout).len(), 1);
}

#[test]
fn remove_frees_ports_and_a_stale_id_is_refused() {
    let t0 = Instant::now();
    let mut t = table();
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    assert_eq!(t.remove(s.id), Some(s));
    assert_eq!(t.remove(s.id), None);
    assert_eq!(t.ports_in_use(), 0);
    // the slot is reused under a new generation: the old id stays dead
    let s2 = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    assert_ne!(s2.id, s.id);
    assert!(t.get(s.id).is_none());
    assert_eq!(t.remove(s.id), None);
    assert!(t.get(s2.id).is_some());
    // and freed pairs are not handed straight back
    assert_ne!(pair(s2.a), pair(s.a));
}

#[test]
fn the_answer_fills_in_the_far_leg() {
    let t0 = Instant::now();
    let mut t = table();
    // at offer time only A's address is known
    let s = t.add(own(A_SDP), LegSpec::own(None), t0).unwrap();
    assert_eq!(t.handle(pair(s.a).rtp(), sa(A_SDP), 172, t0), None);
    assert_eq!(t.stats().dropped_no_destination, 1);
    t.set_expected(s.id, Side::Callee, Some(sa(B_SDP)), rtcp_of(sa(B_SDP)))
        .unwrap();
    assert_eq!(
        t.handle(pair(s.a).rtp(), sa(A_SDP), 172, t0).unwrap().to,
        sa(B_SDP)
    );
    t.remove(s.id);
    assert_eq!(
        t.set_expected(s.id, Side::Callee, None, None),
        Err(UpdateError::UnknownSession)
    );
}

fn c(port: u16) -> SocketAddr {
    SocketAddr::new(C_MEDIA.parse().unwrap(), port)
}

/// E's link side: every call from C arrives on 36000/36001, told apart by the port C
/// advertised for that call.
#[test]
fn multiplexed_pair_is_demultiplexed_by_c_source_port() {
    let t0 = Instant::now();
    let mut t = Table::new(config(36000, 36099, Some(36000)));
    let one = t
        .add(LegSpec::multiplexed(Some(c(50000))), own(A_SDP), t0)
        .unwrap();
    let two = t
        .add(
            LegSpec::multiplexed(Some(c(50002))),
            own("192.0.2.11:40000"),
            t0,
        )
        .unwrap();
    let mux = PortPair::new(36000).unwrap();
    assert_eq!(one.a, Local::Multiplexed(mux));
    assert_eq!(two.a, Local::Multiplexed(mux));
    // the multiplexed pair is never allocated to an own leg
    assert!(pair(one.b).rtp() > 36001 && pair(two.b).rtp() > 36001);
    assert_eq!(t.ports_in_use(), 2);

    let f1 = t.handle(36000, c(50000), 172, t0).unwrap();
    assert_eq!(
        f1,
        Forward {
            from_port: pair(one.b).rtp(),
            to: sa(A_SDP)
        }
    );
    let f2 = t.handle(36000, c(50002), 172, t0).unwrap();
    assert_eq!(f2.to, sa("192.0.2.11:40000"));
    // RTCP from C's RTP port + 1 on the odd multiplexed port
    let r1 = t.handle(36001, c(50001), 80, t0).unwrap();
    assert_eq!(r1.from_port, pair(one.b).rtcp());
    // towards C: from the multiplexed port to C's advertised source
    let back = t.handle(pair(two.b).rtp(), sa("192.0.2.11:40000"), 172, t0);
    assert_eq!(
        back,
        Some(Forward {
            from_port: 36000,
            to: c(50002)
        })
    );
    // unknown sources on the multiplexed pair are dropped and counted
    assert_eq!(t.handle(36000, c(50004), 172, t0), None);
    assert_eq!(t.handle(36000, sa(EVIL), 172, t0), None);
    assert_eq!(t.handle(36001, c(50000), 172, t0), None); // RTP source on the RTCP port
    assert_eq!(t.stats().dropped_unknown_source, 3);

    // once one call ends its source is unknown again; the other is untouched
    t.remove(one.id);
    assert_eq!(t.handle(36000, c(50000), 172, t0), None);
    assert_eq!(t.stats().dropped_unknown_source, 4);
    assert!(t.handle(36000, c(50002), 172, t0).is_some());
}

#[test]
fn a_multiplexed_source_belongs_to_one_call() {
    let t0 = Instant::now();
    let mut t = Table::new(config(36000, 36099, Some(36000)));
    t.add(LegSpec::multiplexed(Some(c(50000))), own(A_SDP), t0)
        .unwrap();
    assert_eq!(
        t.add(LegSpec::multiplexed(Some(c(50000))), own(B_SDP), t0),
        Err(AddError::MultiplexedSourceTaken(c(50000)))
    );
    assert_eq!(t.ports_in_use(), 1);
    assert_eq!(t.stats().refused, 1);
}

#[test]
fn a_multiplexed_leg_is_rekeyed_by_the_answer() {
    let t0 = Instant::now();
    let mut t = Table::new(config(36000, 36099, Some(36000)));
    // an inbound call: C's port is known only from C's answer
    let s = t.add(own(A_SDP), LegSpec::multiplexed(None), t0).unwrap();
    assert_eq!(t.handle(36000, c(50000), 172, t0), None);
    t.set_expected(s.id, Side::Callee, Some(c(50000)), rtcp_of(c(50000)))
        .unwrap();
    assert_eq!(t.handle(36000, c(50000), 172, t0).unwrap().to, sa(A_SDP));
    let other = t
        .add(own(B_SDP), LegSpec::multiplexed(Some(c(50010))), t0)
        .unwrap();
    assert_eq!(
        t.set_expected(other.id, Side::Callee, Some(c(50000)), None),
        Err(UpdateError::MultiplexedSourceTaken(c(50000)))
    );
    // a re-INVITE moves C's port: the old source is forgotten
    t.set_expected(s.id, Side::Callee, Some(c(50020)), rtcp_of(c(50020)))
        .unwrap();
    assert_eq!(t.handle(36000, c(50000), 172, t0), None);
    assert!(t.handle(36000, c(50020), 172, t0).is_some());
}

#[test]
fn c_has_no_multiplexed_pair() {
    let mut t = table();
    assert_eq!(
        t.add(
            LegSpec::multiplexed(Some(c(50000))),
            own(A_SDP),
            Instant::now()
        ),
        Err(AddError::NoMultiplexedPair)
    );
}

#[test]
fn max_sessions_is_an_error() {
    let t0 = Instant::now();
    let mut cfg = config(40000, 40099, None);
    cfg.max_sessions = 2;
    let mut t = Table::new(cfg);
    let s = t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    let e = t.add(own(A_SDP), own(B_SDP), t0).unwrap_err();
    assert_eq!(e, AddError::TooManySessions { max: 2 });
    assert_eq!(e.to_string(), "2 relay sessions already");
    assert_eq!(t.ports_in_use(), 4);
    t.remove(s.id);
    assert!(t.add(own(A_SDP), own(B_SDP), t0).is_ok());
}

#[test]
fn port_exhaustion_holds_nothing_back() {
    let t0 = Instant::now();
    // three pairs: one session takes two, the next gets one and must give it back
    let mut t = Table::new(config(40000, 40005, None));
    t.add(own(A_SDP), own(B_SDP), t0).unwrap();
    assert!(matches!(
        t.add(own(A_SDP), own(B_SDP), t0),
        Err(AddError::Ports(_))
    ));
    assert_eq!(t.ports_in_use(), 2);
    assert_eq!(t.stats().sessions, 1);
}

#[test]
fn packets_to_ports_of_no_session_are_counted() {
    let mut t = table();
    assert_eq!(t.handle(40000, sa(EVIL), 172, Instant::now()), None);
    assert_eq!(t.handle(5060, sa(EVIL), 172, Instant::now()), None);
    assert_eq!(t.stats().dropped_unknown_port, 2);
}

#[derive(Clone, Debug)]
enum Op {
    Add {
        mux: bool,
        c_port: u16,
    },
    Remove(usize),
    Packet {
        which: usize,
        port_sel: u8,
        src_port: u16,
    },
    Advance(u8),
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<bool>(), 0..8u16).prop_map(|(mux, c_port)| Op::Add { mux, c_port }),
        (0..16usize).prop_map(Op::Remove),
        (0..16usize, 0..4u8, 0..4u16).prop_map(|(which, port_sel, src_port)| Op::Packet {
            which,
            port_sel,
            src_port
        }),
        (0..40u8).prop_map(Op::Advance),
        Just(Op::Expire),
    ]
}

proptest! {
    /// Any sequence of set-ups, removals, packets, clock steps and expiries keeps the table
    /// consistent: live sessions and held pairs agree with a model, a forward always leaves from
    /// a port of the same session, and nothing panics.
    #[test]
    fn random_operations_keep_the_table_consistent(ops in prop::collection::vec(op(), 1..200)) {
        let mut now = Instant::now();
        let timeout = Duration::from_secs(60);
        let mut cfg = config(36000, 36019, Some(36000));
        cfg.max_sessions = 6;
        let mut t = Table::new(cfg);
        let mut live: Vec<SessionInfo> = Vec::new();
        for op in ops {
            match op {
                Op::Add { mux, c_port } => {
                    let a = if mux {
                        LegSpec::multiplexed(Some(c(50000 + 2 * c_port)))
                    } else {
                        own(A_SDP)
                    };
                    if let Ok(s) = t.add(a, own(B_SDP), now) {
                        live.push(s);
                    }
                }
                Op::Remove(i) => {
                    if let Some(s) = live.get(i).copied() {
                        prop_assert_eq!(t.remove(s.id), Some(s));
                        live.remove(i);
                    }
                }
                Op::Packet { which, port_sel, src_port } => {
                    let port = match live.get(which) {
                        Some(s) => match port_sel {
                            0 => s.a.port(Component::Rtp),
                            1 => s.a.port(Component::Rtcp),
                            2 => s.b.port(Component::Rtp),
                            _ => s.b.port(Component::Rtcp),
                        },
                        None => 36000 + u16::from(port_sel),
                    };
                    let src = c(50000 + src_port);
                    if let Some(f) = t.handle(port, src, 172, now) {
                        let owner = live.iter().find(|s| {
                            s.a.pair().contains(f.from_port) || s.b.pair().contains(f.from_port)
                        });
                        prop_assert!(owner.is_some(), "forward from {} of no session", f.from_port);
                    }
                }
                Op::Advance(s) => now += Duration::from_secs(u64::from(s)),
                Op::Expire => {
                    for e in t.expire(now, timeout) {
                        prop_assert!(live.contains(&e));
                        live.retain(|s| *s != e);
                    }
                }
            }
            let own_pairs = live
                .iter()
                .flat_map(|s| [s.a, s.b])
                .filter(|l| matches!(l, Local::Own(_)))
                .count();
            prop_assert_eq!(t.ports_in_use(), own_pairs);
            prop_assert_eq!(t.stats().sessions, live.len());
            prop_assert!(live.len() <= 6);
        }
    }
}
