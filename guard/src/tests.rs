//! The budgets with a fake clock: a busy honest source passes, floods are cut within a second,
//! blocks end, exempt sources are never counted, memory stays bounded.

use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn guard() -> Guard {
    Guard::new(&Protection::default())
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// Sends `rate` per second of `what` from `src` for `secs` seconds, evenly spaced; the instant
/// of the first drop, if any.
fn run(
    g: &mut Guard,
    t0: Instant,
    src: IpAddr,
    rate: u32,
    secs: u32,
    what: Input,
) -> Option<Duration> {
    let gap = Duration::from_secs(1) / rate;
    for i in 0..rate * secs {
        let at = t0 + gap * i;
        if g.handle(src, what, at) == Verdict::Drop {
            return Some(at - t0);
        }
    }
    None
}

#[test]
fn a_source_at_3000_requests_a_second_is_untouched() {
    let mut g = guard();
    let t0 = Instant::now();
    assert_eq!(run(&mut g, t0, ip(1), 3000, 5, Input::Message), None);
    // and one at 9,000 messages a second (1000 calls/s as caller and callee) too
    assert_eq!(
        run(
            &mut g,
            t0 + Duration::from_secs(10),
            ip(2),
            9000,
            3,
            Input::Message
        ),
        None
    );
    assert_eq!(g.stats().blocks_total(), 0);
}

#[test]
fn twenty_thousand_messages_a_second_are_cut_within_a_second() {
    let mut g = guard();
    let t0 = Instant::now();
    let cut = run(&mut g, t0, ip(1), 20_000, 2, Input::Message).expect("blocked");
    assert!(cut < Duration::from_secs(1), "{cut:?}");
    assert_eq!(g.stats().blocks_for(Reason::Messages), 1);
    assert!(g.is_blocked(ip(1), t0 + cut));
    // others are not affected
    assert_eq!(g.handle(ip(2), Input::Message, t0 + cut), Verdict::Pass);
}

#[test]
fn garbage_and_failed_authentications_block_within_milliseconds() {
    for report in [Report::Garbage, Report::AuthFailure] {
        let mut g = guard();
        let t0 = Instant::now();
        let gap = Duration::from_secs(1) / 20_000;
        let mut cut = None;
        for i in 0..20_000 {
            let at = t0 + gap * i;
            if g.handle(ip(7), Input::Message, at) == Verdict::Drop {
                cut = Some(at - t0);
                break;
            }
            g.handle(ip(7), Input::Report(report), at);
        }
        let cut = cut.expect("blocked");
        assert!(cut < Duration::from_millis(5), "{report:?} {cut:?}");
        let reason = match report {
            Report::Garbage => Reason::Garbage,
            _ => Reason::AuthFailures,
        };
        assert_eq!(g.blocked(t0 + cut, 10)[0].reason, reason);
    }
}

#[test]
fn a_few_failures_now_and_then_never_block() {
    let mut g = guard();
    let t0 = Instant::now();
    // a phone with a wrong password: one failure every two seconds, for an hour
    for i in 0..1800u32 {
        let at = t0 + Duration::from_secs(2) * i;
        assert_eq!(g.handle(ip(3), Input::Message, at), Verdict::Pass);
        g.handle(ip(3), Input::Report(Report::AuthFailure), at);
    }
    assert_eq!(g.stats().blocks_total(), 0);
    assert_eq!(g.stats().auth_failures, 1800);
}

#[test]
fn a_block_drops_everything_until_it_expires() {
    let p = Protection {
        block_seconds: 30,
        ..Protection::default()
    };
    let mut g = Guard::new(&p);
    let t0 = Instant::now();
    let cut = run(&mut g, t0, ip(1), 50_000, 1, Input::Message).expect("blocked");
    let blocked_at = t0 + cut;
    assert_eq!(g.poll_timeout(), Some(blocked_at + Duration::from_secs(30)));
    for s in [1, 10, 29] {
        let at = blocked_at + Duration::from_secs(s);
        assert_eq!(g.handle(ip(1), Input::Message, at), Verdict::Drop);
        assert_eq!(g.handle(ip(1), Input::Connection, at), Verdict::Drop);
    }
    let listed = g.blocked(blocked_at + Duration::from_secs(29), 10);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].dropped, 6);
    assert_eq!(listed[0].remaining, Duration::from_secs(1));
    let after = blocked_at + Duration::from_secs(30);
    g.handle_timeout(after);
    assert_eq!(g.blocked_count(), 0);
    assert_eq!(g.poll_timeout(), None);
    assert_eq!(g.handle(ip(1), Input::Message, after), Verdict::Pass);
    assert!(g.stats().dropped_messages >= 4);
    assert_eq!(g.stats().refused_connections, 3);
}

#[test]
fn a_connection_flood_is_refused() {
    let mut g = guard();
    let t0 = Instant::now();
    assert_eq!(run(&mut g, t0, ip(1), 20, 5, Input::Connection), None);
    let cut = run(
        &mut g,
        t0 + Duration::from_secs(10),
        ip(2),
        1000,
        1,
        Input::Connection,
    );
    assert!(cut.expect("blocked") < Duration::from_millis(100));
    assert_eq!(g.stats().blocks_for(Reason::Connections), 1);
}

#[test]
fn exempt_sources_are_never_counted() {
    let p = Protection {
        exempt: vec!["198.51.100.0/24".parse().unwrap_or_else(|e| panic!("{e}"))],
        ..Protection::default()
    };
    let mut g = Guard::new(&p);
    g.exempt(ip(9));
    let t0 = Instant::now();
    let peer = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 20));
    for src in [peer, ip(9)] {
        assert_eq!(run(&mut g, t0, src, 50_000, 1, Input::Message), None);
        for _ in 0..1000 {
            g.handle(src, Input::Report(Report::Garbage), t0);
        }
        assert_eq!(g.handle(src, Input::Message, t0), Verdict::Pass);
    }
    assert_eq!(g.tracked(), 0);
}

#[test]
fn ipv4_mapped_sources_are_their_ipv4_address() {
    let mut g = guard();
    g.exempt(ip(5));
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 5).to_ipv6_mapped());
    assert!(g.is_exempt(mapped));
    let t0 = Instant::now();
    let other = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 6).to_ipv6_mapped());
    run(&mut g, t0, other, 50_000, 1, Input::Message).expect("blocked");
    assert!(g.is_blocked(ip(6), t0 + Duration::from_millis(900)));
}

#[test]
fn disabled_lets_everything_through() {
    let p = Protection {
        enabled: false,
        ..Protection::default()
    };
    let mut g = Guard::new(&p);
    let t0 = Instant::now();
    assert_eq!(run(&mut g, t0, ip(1), 50_000, 1, Input::Message), None);
    assert_eq!(g.tracked(), 0);
}

#[test]
fn a_burst_straddling_two_windows_is_still_seen() {
    // 7,000 at the end of one window and 7,000 at the start of the next: 14,000 within
    // a fraction of a second, over the 10,000 budget though neither window holds that many
    let mut g = guard();
    let t0 = Instant::now();
    let _ = g.handle(ip(8), Input::Message, t0);
    let mut dropped = false;
    for i in 0..7000u32 {
        let at = t0 + Duration::from_millis(900) + Duration::from_micros(14) * i;
        dropped |= g.handle(ip(8), Input::Message, at) == Verdict::Drop;
    }
    for i in 0..7000u32 {
        let at = t0 + Duration::from_millis(1000) + Duration::from_micros(14) * i;
        dropped |= g.handle(ip(8), Input::Message, at) == Verdict::Drop;
    }
    assert!(dropped);
}

proptest! {
    /// However many sources a flood uses, what the guard holds stays within its bounds.
    #[test]
    fn memory_is_bounded(sources in proptest::collection::vec((any::<u128>(), 0u8..4, 0u16..2000), 1..3000)) {
        let p = Protection { max_sources: 64, garbage_per_second: 2, ..Protection::default() };
        let mut g = Guard::new(&p);
        let t0 = Instant::now();
        for (n, (addr, kind, ms)) in sources.into_iter().enumerate() {
            let src = IpAddr::V6(Ipv6Addr::from(addr % 512));
            let at = t0 + Duration::from_millis(u64::from(ms)) + Duration::from_micros(n as u64);
            let input = match kind {
                0 => Input::Message,
                1 => Input::Connection,
                2 => Input::Report(Report::Garbage),
                _ => Input::Report(Report::AuthFailure),
            };
            g.handle(src, input, at);
            prop_assert!(g.current.len() <= 64 && g.previous.len() <= 64);
            prop_assert!(g.blocked_count() <= 64);
            prop_assert!(g.expiries.len() <= 64 * 2 + 1);
        }
    }
}
