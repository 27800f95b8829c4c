//! Ordering of DNS answers for SIP: NAPTR filtering and order/preference (RFC 3263 4.1,
//! RFC 3403), SRV priority and weighted selection (RFC 2782).
//!
//! Pure functions over plain values: no DNS types, no I/O, and the randomness of RFC 2782 comes
//! from an injected `rand::Rng` so tests can fix it. Owns nothing else: which queries to make
//! lives in `plan`, making them in `resolve`.

use rand::Rng;

use super::Transport;

/// One NAPTR record, as text (RFC 3403 4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: String,
    pub service: String,
    pub regexp: String,
    /// The replacement domain (for SIP, an SRV name such as `_sips._tcp.example.com.`).
    pub replacement: String,
}

/// One SRV record (RFC 2782). A `target` of `"."` means "service decidedly not available".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

impl Srv {
    /// RFC 2782: the target "." says that there is no such service at this domain.
    pub fn is_unavailable(&self) -> bool {
        self.target == "."
    }
}

/// NAPTR records by `order` ascending, then `preference` ascending (RFC 3403 4.1). Stable, so
/// ties keep the order DNS gave them.
pub fn order_naptr(mut records: Vec<Naptr>) -> Vec<Naptr> {
    records.sort_by_key(|r| (r.order, r.preference));
    records
}

/// The SIP transport a NAPTR service field names (RFC 3263 4.1), if it is one we speak.
/// `SIP+D2S` (SCTP) and non-SIP services are not.
pub fn naptr_transport(service: &str) -> Option<Transport> {
    if service.eq_ignore_ascii_case("SIPS+D2T") {
        Some(Transport::Tls)
    } else if service.eq_ignore_ascii_case("SIP+D2T") {
        Some(Transport::Tcp)
    } else if service.eq_ignore_ascii_case("SIP+D2U") {
        Some(Transport::Udp)
    } else {
        None
    }
}

/// RFC 3263 4.1: the NAPTR records a SIP client may follow, best first, as (transport, SRV
/// name). Keeps records whose service is one of ours (only `SIPS+D2T` for a `sips` URI), whose
/// flags say "the next lookup is SRV", whose regexp is empty and whose replacement is a name.
pub fn sip_naptr(records: Vec<Naptr>, secure: bool) -> Vec<(Transport, String)> {
    order_naptr(records)
        .into_iter()
        .filter(|r| srv_flag(&r.flags) && r.regexp.is_empty() && r.replacement != ".")
        .filter_map(|r| {
            let transport = naptr_transport(&r.service)?;
            (!secure || transport == Transport::Tls).then_some((transport, r.replacement))
        })
        .collect()
}

/// RFC 3403 4.1: flag "S" (any case) means the next lookup is for SRV records. "A", "U" and
/// "P" are the other terminal flags and exclude it. Other letters are annotations we do not
/// interpret: Expressway publishes "se" to mark an external record (reference appendix 5), and
/// that still points at SRV.
fn srv_flag(flags: &str) -> bool {
    let has = |c: char| flags.chars().any(|f| f.eq_ignore_ascii_case(&c));
    has('s') && !has('a') && !has('u') && !has('p')
}

/// RFC 2782 order: priority ascending; within one priority, a weighted random order where a
/// record's chance to come next is proportional to its weight, and weight-0 records have a
/// small chance (they are placed first, so they are picked only when the draw is exactly 0).
/// Returns a permutation of `records`; unavailable (".") targets are kept for the caller to
/// judge.
pub fn order_srv<R: Rng + ?Sized>(records: Vec<Srv>, rng: &mut R) -> Vec<Srv> {
    order_srv_by(records, |total| rng.gen_range(0..=total))
}

/// `order_srv` with the draw made explicit: `draw(sum)` returns a number in `0..=sum`.
fn order_srv_by(mut records: Vec<Srv>, mut draw: impl FnMut(u64) -> u64) -> Vec<Srv> {
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = first.priority;
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|r| r.priority == priority) {
            group.push(next);
        }
        weighted_order(group, &mut draw, &mut out);
    }
    out
}

/// RFC 2782's running-sum selection over one priority group, appended to `out`.
fn weighted_order(mut group: Vec<Srv>, draw: &mut impl FnMut(u64) -> u64, out: &mut Vec<Srv>) {
    // "arrange all SRV RRs (that have not been ordered yet) in any order, except that all those
    // with weight 0 are placed at the beginning of the list". Stable: the rest keep DNS order.
    group.sort_by_key(|r| r.weight != 0);
    while !group.is_empty() {
        // u64: a sum of u16 weights cannot overflow it whatever the answer size.
        let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
        // "choose a uniform random number between 0 and the sum computed (inclusive), and
        // select the RR whose running sum value is the first in the selected order which is
        // greater than or equal to the random number selected".
        let drawn = draw(total);
        let mut running = 0u64;
        let picked = group
            .iter()
            .position(|r| {
                running += u64::from(r.weight);
                running >= drawn
            })
            // Only a draw above `total` finds nothing; take the last record, as the running
            // sum would if it kept counting.
            .unwrap_or(group.len() - 1);
        out.push(group.remove(picked));
    }
}

#[cfg(test)]
mod tests {
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
}
