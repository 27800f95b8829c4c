//! RFC 3261 10.3 rules of the binding store, with a fake clock.

use super::*;
use proptest::prelude::*;

fn policy() -> RegistrarPolicy {
    RegistrarPolicy {
        min_expires: 60,
        max_expires: 3600,
        default_expires: 3600,
        max_bindings_per_aor: 3,
        max_aors: 2,
        stream_flow_max_expires: u32::MAX,
        flow_timer_udp: 29,
        flow_timer_stream: 120,
    }
}

fn src() -> BindingSource {
    BindingSource {
        kind: Transport::Udp,
        remote: "127.0.0.1:5062".parse().unwrap(),
        local: "127.0.0.1:5060".parse().unwrap(),
        conn: None,
    }
}

fn contact(uri: &str, expires: Option<u32>, q: Option<f32>) -> ContactInput {
    ContactInput {
        uri: uri.into(),
        expires_param: expires,
        q,
        reach: Reach::Contact,
        outbound: None,
    }
}

fn reg(
    aor: &str,
    call_id: &str,
    cseq: u32,
    contacts: Option<ContactsInput>,
    expires: Option<u32>,
) -> RegisterInput {
    RegisterInput {
        aor: aor.into(),
        call_id: call_id.into(),
        cseq,
        contacts,
        expires_header: expires,
        path: vec![],
        source: src(),
    }
}

fn list(c: Vec<ContactInput>) -> Option<ContactsInput> {
    Some(ContactsInput::List(c))
}

#[test]
fn rfc3261_10_3_step7_interval_too_brief_is_423_with_min() {
    let mut r = Registrar::new(policy());
    let now = Instant::now();
    let e = r.register(
        reg(
            "sip:a@x",
            "c",
            1,
            list(vec![contact("sip:a@1", Some(30), None)]),
            None,
        ),
        now,
    );
    assert_eq!(e, Err(RegisterError::IntervalTooBrief { min_expires: 60 }));
    assert!(r.is_empty());
}

#[test]
fn rfc3261_10_3_expiry_sources_and_clamp() {
    let mut r = Registrar::new(policy());
    let now = Instant::now();
    let v = r
        .register(
            reg(
                "sip:a@x",
                "c",
                1,
                list(vec![
                    contact("sip:a@1", Some(120), None),
                    contact("sip:a@2", None, None),
                    contact("sip:a@3", Some(99999), None),
                ]),
                Some(600),
            ),
            now,
        )
        .unwrap();
    let mut e: Vec<(String, u32)> = v.into_iter().map(|b| (b.contact, b.expires)).collect();
    e.sort();
    assert_eq!(
        e,
        vec![
            ("sip:a@1".into(), 120),
            ("sip:a@2".into(), 600),
            ("sip:a@3".into(), 3600)
        ]
    );
}

#[test]
fn rfc3261_10_3_expires_zero_removes_and_star_removes_all() {
    let mut r = Registrar::new(policy());
    let now = Instant::now();
    r.register(
        reg(
            "sip:a@x",
            "c",
            1,
            list(vec![
                contact("sip:a@1", None, None),
                contact("sip:a@2", None, None),
            ]),
            None,
        ),
        now,
    )
    .unwrap();
    r.register(
        reg(
            "sip:a@x",
            "c",
            2,
            list(vec![contact("sip:a@1", Some(0), None)]),
            None,
        ),
        now,
    )
    .unwrap();
    assert_eq!(r.lookup("sip:a@x", now).len(), 1);
    assert_eq!(
        r.register(
            reg("sip:a@x", "c", 3, Some(ContactsInput::Star), Some(60)),
            now
        ),
        Err(RegisterError::StarNeedsExpiresZero)
    );
    r.register(
        reg("sip:a@x", "c", 4, Some(ContactsInput::Star), Some(0)),
        now,
    )
    .unwrap();
    assert!(r.lookup("sip:a@x", now).is_empty());
    assert!(r.is_empty());
}

#[test]
fn rfc3261_10_3_step7_same_call_id_needs_higher_cseq() {
    let mut r = Registrar::new(policy());
    let now = Instant::now();
    r.register(
        reg(
            "sip:a@x",
            "c",
            5,
            list(vec![contact("sip:a@1", None, None)]),
            None,
        ),
        now,
    )
    .unwrap();
    assert_eq!(
        r.register(
            reg(
                "sip:a@x",
                "c",
                5,
                list(vec![contact("sip:a@1", Some(0), None)]),
                None
            ),
            now
        ),
        Err(RegisterError::OutOfOrder { cseq: 5, stored: 5 })
    );
    // another Call-ID may replace it
    r.register(
        reg(
            "sip:a@x",
            "d",
            1,
            list(vec![contact("sip:a@1", Some(0), None)]),
            None,
        ),
        now,
    )
    .unwrap();
    assert!(r.lookup("sip:a@x", now).is_empty());
}

#[test]
fn lookup_orders_by_q_and_expiry_is_honoured() {
    let mut r = Registrar::new(policy());
    let now = Instant::now();
    r.register(
        reg(
            "sip:a@x",
            "c",
            1,
            list(vec![
                contact("sip:a@low", Some(60), Some(0.1)),
                contact("sip:a@high", Some(120), Some(0.9)),
            ]),
            None,
        ),
        now,
    )
    .unwrap();
    let l: Vec<&str> = r
        .lookup("sip:a@x", now)
        .iter()
        .map(|b| b.contact())
        .collect();
    assert_eq!(l, vec!["sip:a@high", "sip:a@low"]);
    assert_eq!(r.next_expiry(), Some(now + Duration::from_secs(60)));
    let later = now + Duration::from_secs(61);
    assert_eq!(r.lookup("sip:a@x", later).len(), 1);
    assert_eq!(r.purge_expired(later), 1);
    assert_eq!(r.purge_expired(now + Duration::from_secs(200)), 1);
    assert!(r.is_empty());
}

#[test]
fn limits_are_enforced() {
    let mut r = Registrar::new(policy());
    let now = Instant::now();
    let four = (0..4)
        .map(|i| contact(&format!("sip:a@{i}"), None, None))
        .collect();
    assert_eq!(
        r.register(reg("sip:a@x", "c", 1, list(four), None), now),
        Err(RegisterError::TooManyBindings { max: 3 })
    );
    r.register(
        reg(
            "sip:a@x",
            "c",
            1,
            list(vec![contact("sip:a@1", None, None)]),
            None,
        ),
        now,
    )
    .unwrap();
    r.register(
        reg(
            "sip:b@x",
            "c",
            1,
            list(vec![contact("sip:b@1", None, None)]),
            None,
        ),
        now,
    )
    .unwrap();
    assert_eq!(
        r.register(
            reg(
                "sip:c@x",
                "c",
                1,
                list(vec![contact("sip:c@1", None, None)]),
                None
            ),
            now
        ),
        Err(RegisterError::TooManyAors { max: 2 })
    );
}

proptest! {
    #[test]
    fn random_registrations_respect_limits_and_expiry(
        ops in proptest::collection::vec((0u8..4, 0u8..5, 0u32..5000, 1u32..50, 0u64..3000), 1..60)
    ) {
        let mut r = Registrar::new(policy());
        let start = Instant::now();
        let mut now = start;
        for (aor, c, expires, cseq, dt) in ops {
            now += Duration::from_secs(dt);
            let _ = r.register(
                reg(&format!("sip:{aor}@x"), "cid", cseq, list(vec![contact(&format!("sip:{c}@h"), Some(expires), None)]), None),
                now,
            );
            prop_assert!(r.len() <= 2);
            for (_, b) in r.aors() {
                prop_assert!(b.len() <= 3);
            }
            for a in 0..4 {
                for b in r.lookup(&format!("sip:{a}@x"), now) {
                    prop_assert!(b.expires_at > now);
                }
            }
        }
    }
}

#[test]
fn a_purge_frees_at_most_its_budget_of_aors_and_says_there_is_more() {
    let mut r = Registrar::new(RegistrarPolicy {
        max_aors: 1000,
        ..policy()
    });
    let now = Instant::now();
    for i in 0..250 {
        let c = list(vec![contact(&format!("sip:u{i}@h"), None, None)]);
        r.register(reg(&format!("sip:u{i}@x"), "c", 1, c, Some(60)), now)
            .expect("registered");
    }
    let later = now + Duration::from_secs(61);
    let p = r.purge_some(later, 100);
    assert_eq!((p.removed, p.more), (100, true));
    assert!(p.next.is_some_and(|t| t <= later), "{p:?}");
    assert_eq!(r.len(), 150);
    assert_eq!(r.purge_some(later, 100).removed, 100);
    let p = r.purge_some(later, 100);
    assert_eq!((p.removed, p.more, p.next), (50, false, None));
    assert!(r.is_empty());
}
