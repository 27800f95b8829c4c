//! Multiplexed keys with a fake clock: a re-key naming the same addresses keeps E's latch (and
//! so E's media towards C), a changed key starts its component afresh, a leg told only C's
//! RTCP is keyed for RTP on the port below until the RTP address comes, and a guess never
//! refuses a session.

use super::super::{LegSpec, Table, TableConfig, TableStats};
use super::*;
use crate::call::LinkEnd;
use crate::latch::LatchConfig;
use crate::ports::PortPair;
use crate::session::keepalive::RTP_LEN;
use causeway_config::PortRange;
use std::time::Instant;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

const MUX: u16 = 36000;
const C_RTP: &str = "10.1.1.2:40010";
const C_RTCP: &str = "10.1.1.2:40011";
const OUTSIDE: &str = "198.51.100.7:4000";

fn table() -> Table {
    Table::new(TableConfig {
        ports: PortRange {
            start: 40000,
            end: 40099,
        },
        multiplexed: PortPair::new(MUX),
        max_sessions: 10,
        latch: LatchConfig::default(),
    })
}

/// E: the outside caller on a pair of its own, C's link on the multiplexed pair, told `rtp`
/// and `rtcp`.
fn e_session(
    t: &mut Table,
    rtp: Option<&str>,
    rtcp: Option<&str>,
    now: Instant,
) -> crate::session::SessionInfo {
    let mut c = LegSpec::multiplexed(None).on_link(Some(LinkEnd::Server));
    c.rtp = rtp.map(sa);
    c.rtcp = rtcp.map(sa);
    t.add(LegSpec::own(Some(sa(OUTSIDE))), c, now).unwrap()
}

fn stats(t: &Table) -> TableStats {
    t.stats()
}

#[test]
fn the_same_addresses_again_keep_es_media_towards_c_flowing() {
    let t0 = Instant::now();
    let mut t = table();
    let s = e_session(&mut t, Some(C_RTP), Some(C_RTCP), t0);
    let a = s.a.pair();
    // C's keep-alives latch both components (the empty RTCP report is relayed)
    assert_eq!(t.handle(MUX, sa(C_RTP), RTP_LEN, t0), None);
    assert!(t.handle(MUX + 1, sa(C_RTCP), 8, t0).is_some());
    assert!(t.handle(a.rtp(), sa(OUTSIDE), 172, t0).is_some());
    // a second OpenLogicalChannel(Ack) names the same addresses
    t.set_expected(s.id, Side::Callee, Some(sa(C_RTP)), Some(sa(C_RTCP)))
        .unwrap();
    let f = t.handle(a.rtp(), sa(OUTSIDE), 172, t0);
    assert_eq!(f.map(|f| f.to), Some(sa(C_RTP)), "E -> C stopped");
    let f = t.handle(a.rtcp(), sa(OUTSIDE), 60, t0);
    assert_eq!(f.map(|f| f.to), Some(sa(C_RTCP)));
}

#[test]
fn a_changed_key_starts_only_its_component_afresh() {
    let t0 = Instant::now();
    let mut t = table();
    let s = e_session(&mut t, Some(C_RTP), Some(C_RTCP), t0);
    let a = s.a.pair();
    t.handle(MUX, sa(C_RTP), RTP_LEN, t0);
    t.handle(MUX + 1, sa(C_RTCP), 8, t0);
    // C moved its RTP (a re-opened channel); RTCP stays
    let moved = "10.1.1.2:40020";
    t.set_expected(s.id, Side::Callee, Some(sa(moved)), Some(sa(C_RTCP)))
        .unwrap();
    // RTP waits for C's first packet from the new address; RTCP goes on
    assert_eq!(t.handle(a.rtp(), sa(OUTSIDE), 172, t0), None);
    assert!(t.handle(a.rtcp(), sa(OUTSIDE), 60, t0).is_some());
    // the old RTP source is no longer a key
    let unknown = stats(&t).dropped_unknown_source;
    assert_eq!(t.handle(MUX, sa(C_RTP), 172, t0), None);
    assert_eq!(stats(&t).dropped_unknown_source, unknown + 1);
    assert_eq!(t.handle(MUX, sa(moved), RTP_LEN, t0), None);
    let f = t.handle(a.rtp(), sa(OUTSIDE), 172, t0);
    assert_eq!(f.map(|f| f.to), Some(sa(moved)));
}

#[test]
fn a_stream_from_c_named_only_by_its_rtcp_is_keyed_for_rtp_on_the_port_below() {
    let t0 = Instant::now();
    let mut t = table();
    // C's OpenLogicalChannel of a stream C sends: its mediaControlChannel only
    let s = e_session(&mut t, None, Some(C_RTCP), t0);
    let f = t.handle(MUX, sa(C_RTP), 172, t0).expect("C's RTP relayed");
    assert_eq!((f.from_port, f.to), (s.a.pair().rtp(), sa(OUTSIDE)));
    assert_eq!(stats(&t).dropped_unknown_source, 0);
    // the real RTP address, the same: nothing changes (the latch stays)
    t.set_expected(s.id, Side::Callee, Some(sa(C_RTP)), Some(sa(C_RTCP)))
        .unwrap();
    let back = t.handle(s.a.pair().rtp(), sa(OUTSIDE), 172, t0);
    assert_eq!(back.map(|f| f.to), Some(sa(C_RTP)));
    // another one replaces the guess
    let real = "10.1.1.2:50000";
    t.set_expected(s.id, Side::Callee, Some(sa(real)), Some(sa(C_RTCP)))
        .unwrap();
    assert_eq!(t.handle(MUX, sa(C_RTP), 172, t0), None);
    assert_eq!(stats(&t).dropped_unknown_source, 1);
    assert!(t.handle(MUX, sa(real), 172, t0).is_some());
    // and its key goes with the session
    t.remove(s.id).unwrap();
    assert_eq!(t.handle(MUX, sa(real), 172, t0), None);
    assert_eq!(stats(&t).dropped_unknown_source, 2);
}

#[test]
fn an_rtcp_only_leg_keyed_later_gets_the_guess_too() {
    let t0 = Instant::now();
    let mut t = table();
    let s = e_session(&mut t, None, None, t0);
    t.set_expected(s.id, Side::Callee, None, Some(sa(C_RTCP)))
        .unwrap();
    assert!(t.handle(MUX, sa(C_RTP), 172, t0).is_some());
}

#[test]
fn a_guess_yields_to_a_key_another_call_really_expects() {
    let t0 = Instant::now();
    let mut t = table();
    let one = e_session(&mut t, Some(C_RTP), None, t0);
    // a second call's RTCP-only leg would guess call one's RTP key: no guess, no refusal
    let two = e_session(&mut t, None, Some(C_RTCP), t0);
    let f = t.handle(MUX, sa(C_RTP), 172, t0).expect("call one's");
    assert_eq!(f.from_port, one.a.pair().rtp());
    // an RTCP port that is even has no RTP port below by the convention
    let three = e_session(&mut t, None, Some("10.1.1.2:40030"), t0);
    assert_eq!(t.handle(MUX, sa("10.1.1.2:40029"), 172, t0), None);
    // a told address another leg holds still refuses
    assert_eq!(
        t.set_expected(two.id, Side::Callee, Some(sa(C_RTP)), Some(sa(C_RTCP))),
        Err(UpdateError::MultiplexedSourceTaken(sa(C_RTP)))
    );
    let _ = three;
}

#[test]
fn rtp_of_follows_the_even_odd_convention() {
    assert_eq!(rtp_of(sa("10.0.0.1:5001")), Some(sa("10.0.0.1:5000")));
    assert_eq!(rtp_of(sa("10.0.0.1:5000")), None);
    assert_eq!(rtp_of(sa("10.0.0.1:1")), Some(sa("10.0.0.1:0")));
}
