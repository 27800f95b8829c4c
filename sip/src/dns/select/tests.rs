//! Unit tests of `sip/src/dns/select.rs`.

use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn naptr(order: u16, preference: u16, flags: &str, service: &str, replacement: &str) -> Naptr {
    Naptr {
        order,
        preference,
        flags: flags.into(),
        service: service.into(),
        regexp: String::new(),
        replacement: replacement.into(),
    }
}

fn srv(priority: u16, weight: u16, target: &str) -> Srv {
    Srv {
        priority,
        weight,
        port: 5060,
        target: target.into(),
    }
}

/// Reference appendix 5, shuffled, plus records a SIP client must skip.
fn appendix5() -> Vec<Naptr> {
    vec![
        naptr(14, 100, "s", "SIP+D2U", "_sip._udp.example.com."),
        naptr(10, 100, "s", "http+I2R", "_http._tcp.example.com."),
        naptr(12, 100, "s", "SIP+D2T", "_sip._tcp.example.com."),
        naptr(10, 100, "u", "E2U+sip", "."),
        naptr(10, 100, "S", "SIPS+D2T", "_sips._tcp.example.com."),
        naptr(10, 50, "s", "SIP+D2S", "_sip._sctp.example.com."),
    ]
}

#[test]
fn rfc3263_4_1_naptr_order_picks_tls_then_tcp_then_udp() {
    assert_eq!(
        sip_naptr(appendix5(), false),
        vec![
            (Transport::Tls, "_sips._tcp.example.com.".to_string()),
            (Transport::Tcp, "_sip._tcp.example.com.".to_string()),
            (Transport::Udp, "_sip._udp.example.com.".to_string()),
        ]
    );
}

#[test]
fn rfc3263_4_1_sips_keeps_only_sips_d2t() {
    assert_eq!(
        sip_naptr(appendix5(), true),
        vec![(Transport::Tls, "_sips._tcp.example.com.".to_string())]
    );
}

#[test]
fn rfc3403_preference_breaks_order_ties() {
    let records = vec![
        naptr(10, 60, "s", "SIP+D2U", "_sip._udp.a."),
        naptr(10, 50, "s", "SIP+D2T", "_sip._tcp.a."),
    ];
    let got: Vec<_> = sip_naptr(records, false).into_iter().map(|r| r.0).collect();
    assert_eq!(got, vec![Transport::Tcp, Transport::Udp]);
}

#[test]
fn expressway_se_flag_still_means_srv_and_regexp_records_are_skipped() {
    let mut with_regexp = naptr(1, 1, "s", "SIP+D2T", "_sip._tcp.a.");
    with_regexp.regexp = "!^.*$!sip:x@a!".into();
    let records = vec![
        with_regexp,
        naptr(50, 50, "se", "SIPS+D2T", "_sips._tcp.a."),
        naptr(60, 50, "a", "SIP+D2U", "a."),
    ];
    assert_eq!(
        sip_naptr(records, false),
        vec![(Transport::Tls, "_sips._tcp.a.".to_string())]
    );
}

#[test]
fn rfc2782_priority_ascending_first() {
    let mut rng = StdRng::seed_from_u64(7);
    let got = order_srv(
        vec![
            srv(20, 5, "c."),
            srv(10, 0, "a."),
            srv(30, 9, "d."),
            srv(10, 0, "b."),
        ],
        &mut rng,
    );
    let prios: Vec<u16> = got.iter().map(|r| r.priority).collect();
    assert_eq!(prios, vec![10, 10, 20, 30]);
}

#[test]
fn rfc2782_running_sum_follows_the_draw() {
    let records = || vec![srv(1, 30, "b."), srv(1, 0, "z."), srv(1, 10, "c.")];
    let targets = |v: Vec<Srv>| v.into_iter().map(|r| r.target).collect::<Vec<_>>();
    // Weight 0 sits first with running sum 0, so only a draw of 0 picks it.
    assert_eq!(targets(order_srv_by(records(), |_| 0)), ["z.", "b.", "c."]);
    // Running sums z=0, b=30, c=40: a draw of 31 is first met by c; then of the rest
    // (z=0, b=30) a draw of 1 is met by b.
    let mut draws = vec![31, 1, 0].into_iter();
    let got = order_srv_by(records(), |_| draws.next().unwrap_or(0));
    assert_eq!(targets(got), ["c.", "b.", "z."]);
    // A draw of exactly 30 is still b's (">=").
    let mut draws = vec![30, 0, 0].into_iter();
    let got = order_srv_by(records(), |_| draws.next().unwrap_or(0));
    assert_eq!(targets(got)[0], "b.");
}

#[test]
fn rfc2782_same_seed_same_order() {
    let records = vec![srv(1, 60, "a."), srv(1, 30, "b."), srv(1, 10, "c.")];
    let a = order_srv(records.clone(), &mut StdRng::seed_from_u64(42));
    let b = order_srv(records, &mut StdRng::seed_from_u64(42));
    assert_eq!(a, b);
}

#[test]
fn rfc2782_weights_60_30_10_give_those_first_pick_shares() {
    let records = vec![srv(1, 10, "c."), srv(1, 60, "a."), srv(1, 30, "b.")];
    let mut rng = StdRng::seed_from_u64(2782);
    let draws = 10_000;
    let mut first = [0u32; 3];
    for _ in 0..draws {
        let got = order_srv(records.clone(), &mut rng);
        match got[0].target.as_str() {
            "a." => first[0] += 1,
            "b." => first[1] += 1,
            _ => first[2] += 1,
        }
    }
    // Exact shares are w/(sum+1) = 60/101, 30/101, 10/101 (the +1 is the draw of 0 that
    // no weight-0 record claims, landing on the first record); allow 2 points either way.
    let share = |n: u32| f64::from(n) / f64::from(draws);
    assert!((share(first[0]) - 0.60).abs() < 0.02, "{first:?}");
    assert!((share(first[1]) - 0.30).abs() < 0.02, "{first:?}");
    assert!((share(first[2]) - 0.10).abs() < 0.02, "{first:?}");
}

#[test]
fn rfc2782_weight_zero_has_a_small_chance() {
    let records = vec![srv(1, 0, "zero."), srv(1, 100, "heavy.")];
    let mut rng = StdRng::seed_from_u64(1);
    let zero_first = (0..10_000)
        .filter(|_| order_srv(records.clone(), &mut rng)[0].target == "zero.")
        .count();
    // 1 in 101.
    assert!((40..200).contains(&zero_first), "{zero_first}");
}

fn arb_naptr() -> impl Strategy<Value = Naptr> {
    (
        any::<u16>(),
        any::<u16>(),
        "[sSaAuUpPe]{0,3}",
        prop::sample::select(vec![
            "SIP+D2U", "SIP+D2T", "SIPS+D2T", "sips+d2t", "E2U+sip", "",
        ]),
        "(|!x!y!)",
        "(\\.|_sip\\._tcp\\.a\\.)",
    )
        .prop_map(
            |(order, preference, flags, service, regexp, replacement)| Naptr {
                order,
                preference,
                flags,
                service: service.to_string(),
                regexp,
                replacement,
            },
        )
}

fn arb_srv() -> impl Strategy<Value = Srv> {
    (
        0u16..4,
        prop_oneof![Just(0u16), Just(u16::MAX), any::<u16>()],
        any::<u16>(),
        "(\\.|[a-c]\\.)",
    )
        .prop_map(|(priority, weight, port, target)| Srv {
            priority,
            weight,
            port,
            target,
        })
}

fn sorted_debug<T: std::fmt::Debug>(v: &[T]) -> Vec<String> {
    let mut s: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
    s.sort();
    s
}

proptest! {
    #[test]
    fn order_srv_is_a_priority_sorted_permutation(records in prop::collection::vec(arb_srv(), 0..40), seed in any::<u64>()) {
        let got = order_srv(records.clone(), &mut StdRng::seed_from_u64(seed));
        prop_assert_eq!(sorted_debug(&got), sorted_debug(&records));
        prop_assert!(got.windows(2).all(|w| w[0].priority <= w[1].priority));
    }

    #[test]
    fn order_naptr_is_a_sorted_permutation(records in prop::collection::vec(arb_naptr(), 0..40)) {
        let got = order_naptr(records.clone());
        prop_assert_eq!(sorted_debug(&got), sorted_debug(&records));
        prop_assert!(got.windows(2).all(|w| (w[0].order, w[0].preference) <= (w[1].order, w[1].preference)));
    }

    #[test]
    fn sip_naptr_keeps_a_sorted_subset(records in prop::collection::vec(arb_naptr(), 0..40), secure in any::<bool>()) {
        let got = sip_naptr(records.clone(), secure);
        prop_assert!(got.len() <= records.len());
        for (transport, replacement) in &got {
            prop_assert!(replacement != ".");
            prop_assert!(!secure || *transport == Transport::Tls);
        }
    }
}
