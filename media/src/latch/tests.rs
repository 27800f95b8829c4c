//! Unit tests of `media/src/latch.rs`.

use super::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
const SDP: &str = "192.0.2.10:40000";
const NAT: &str = "198.51.100.7:61234";
const EVIL: &str = "203.0.113.66:40000";

fn latch(rule: LatchRule, relatch: Relatch) -> Latch {
    Latch::new(Some(sa(SDP)), LatchConfig { rule, relatch })
}

#[test]
fn destination_is_the_sdp_address_until_media_arrives() {
    let l = latch(LatchRule::AnySource, Relatch::Never);
    assert_eq!(l.destination(), Some(sa(SDP)));
    assert_eq!(
        l.state(),
        State::Unlatched {
            expected: Some(sa(SDP))
        }
    );
    assert_eq!(Latch::new(None, LatchConfig::default()).destination(), None);
}

#[test]
fn first_packet_latches_any_source_by_default() {
    let t0 = Instant::now();
    let mut l = latch(LatchRule::AnySource, Relatch::Never);
    assert_eq!(l.handle(sa(NAT), t0), Verdict::Latched);
    assert_eq!(l.destination(), Some(sa(NAT)));
    assert_eq!(l.handle(sa(NAT), t0), Verdict::Accept);
    assert_eq!(
        l.state(),
        State::Latched {
            source: sa(NAT),
            last_seen: t0
        }
    );
}

#[test]
fn a_stranger_never_hijacks_a_latched_flow() {
    let t0 = Instant::now();
    let mut l = latch(LatchRule::AnySource, Relatch::Never);
    l.handle(sa(NAT), t0);
    for s in [EVIL, SDP, "198.51.100.7:61235"] {
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(l.handle(sa(s), later), Verdict::Drop(DropReason::Stranger));
    }
    assert_eq!(l.destination(), Some(sa(NAT)));
}

#[test]
fn expected_ip_only_takes_any_port_of_the_sdp_ip() {
    let t0 = Instant::now();
    let mut l = latch(LatchRule::ExpectedIpOnly, Relatch::Never);
    assert_eq!(
        l.handle(sa(EVIL), t0),
        Verdict::Drop(DropReason::NotExpectedIp)
    );
    assert_eq!(l.destination(), Some(sa(SDP)));
    assert_eq!(l.handle(sa("192.0.2.10:40100"), t0), Verdict::Latched);
    assert_eq!(l.destination(), Some(sa("192.0.2.10:40100")));
    let mut blind = Latch::new(
        None,
        LatchConfig {
            rule: LatchRule::ExpectedIpOnly,
            relatch: Relatch::Never,
        },
    );
    assert_eq!(
        blind.handle(sa(NAT), t0),
        Verdict::Drop(DropReason::NotExpectedIp)
    );
}

#[test]
fn relatch_after_silence_only_once_the_source_has_been_quiet() {
    let t0 = Instant::now();
    let quiet = Duration::from_secs(5);
    let mut l = latch(LatchRule::AnySource, Relatch::AfterSilence(quiet));
    l.handle(sa(NAT), t0);
    l.handle(sa(NAT), t0 + Duration::from_secs(2));
    // 4.999 s after the last packet: still the latched source's flow
    let almost = t0 + Duration::from_secs(2) + quiet - Duration::from_millis(1);
    assert_eq!(
        l.handle(sa(EVIL), almost),
        Verdict::Drop(DropReason::Stranger)
    );
    // the stranger's packet did not refresh the silence clock
    let t1 = t0 + Duration::from_secs(2) + quiet;
    assert_eq!(l.handle(sa(EVIL), t1), Verdict::Relatched { from: sa(NAT) });
    assert_eq!(l.destination(), Some(sa(EVIL)));
    // and now the old source is the stranger
    assert_eq!(
        l.handle(sa(NAT), t1 + Duration::from_millis(20)),
        Verdict::Drop(DropReason::Stranger)
    );
}

#[test]
fn relatch_still_obeys_the_latch_rule() {
    let t0 = Instant::now();
    let mut l = latch(
        LatchRule::ExpectedIpOnly,
        Relatch::AfterSilence(Duration::from_secs(1)),
    );
    l.handle(sa("192.0.2.10:40000"), t0);
    let t1 = t0 + Duration::from_secs(10);
    assert_eq!(
        l.handle(sa(EVIL), t1),
        Verdict::Drop(DropReason::NotExpectedIp)
    );
    assert_eq!(
        l.handle(sa("192.0.2.10:40002"), t1),
        Verdict::Relatched {
            from: sa("192.0.2.10:40000")
        }
    );
}

#[test]
fn a_clock_that_steps_back_does_not_open_a_relatch() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(10);
    let mut l = latch(
        LatchRule::AnySource,
        Relatch::AfterSilence(Duration::from_secs(5)),
    );
    l.handle(sa(NAT), t1);
    l.handle(sa(NAT), t0); // older timestamp: last_seen stays t1
    assert_eq!(
        l.handle(sa(EVIL), t1 + Duration::from_secs(4)),
        Verdict::Drop(DropReason::Stranger)
    );
}

#[test]
fn a_new_sdp_address_moves_an_unlatched_destination_only() {
    let t0 = Instant::now();
    let mut l = latch(LatchRule::AnySource, Relatch::Never);
    l.set_expected(Some(sa("192.0.2.20:40010")));
    assert_eq!(l.destination(), Some(sa("192.0.2.20:40010")));
    l.handle(sa(NAT), t0);
    l.set_expected(Some(sa(SDP)));
    assert_eq!(l.destination(), Some(sa(NAT)));
    assert_eq!(l.expected(), Some(sa(SDP)));
    assert_eq!(l.latched(), Some(sa(NAT)));
}

#[test]
fn expected_ip_only_admits_the_peer_ip_signaling_saw_too() {
    let t0 = Instant::now();
    let config = LatchConfig {
        rule: LatchRule::ExpectedIpOnly,
        relatch: Relatch::Never,
    };
    let natted: IpAddr = "198.51.100.7".parse().unwrap();
    // the SDP names a private address; the NAT's public one is what the peer's media comes from
    let mut l = Latch::new(Some(sa("10.1.1.2:40010")), config).admitting(Some(natted));
    assert_eq!(
        l.handle(sa(EVIL), t0),
        Verdict::Drop(DropReason::NotExpectedIp)
    );
    assert_eq!(l.handle(sa(NAT), t0), Verdict::Latched);
    // no SDP address yet: the signaling peer's IP alone admits
    let mut l = Latch::new(None, config).admitting(Some(natted));
    assert_eq!(
        l.handle(sa(EVIL), t0),
        Verdict::Drop(DropReason::NotExpectedIp)
    );
    assert_eq!(l.handle(sa(NAT), t0), Verdict::Latched);
    // without it, the SDP's IP only
    let mut l = Latch::new(Some(sa("10.1.1.2:40010")), config).admitting(None);
    assert_eq!(
        l.handle(sa(NAT), t0),
        Verdict::Drop(DropReason::NotExpectedIp)
    );
    assert_eq!(l.handle(sa("10.1.1.2:5000"), t0), Verdict::Latched);
}
