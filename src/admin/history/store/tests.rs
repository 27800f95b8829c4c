//! The store's bounds: calls, bytes, one call's share, searches; and the states a call goes
//! through.

use super::*;

fn head(t: f64) -> Head {
    Head {
        t,
        dir: Dir::In,
        transport: "UDP",
        local: "127.0.0.1:5060".parse().expect("addr"),
        remote: "127.0.0.1:5062".parse().expect("addr"),
    }
}

/// Pushes a SIP message of `len` bytes.
fn push(s: &mut Store, id: &str, t: f64, len: usize, effect: Effect) -> bool {
    let text = format!(
        "INVITE sip:b@x SIP/2.0\r\nCall-ID: {id}\r\n{}",
        "x".repeat(len)
    );
    s.push(id, head(t), Content::Sip(text.as_bytes()), effect)
}

fn limits(calls: usize, bytes: usize) -> Limits {
    Limits {
        calls,
        bytes,
        searches: 3,
    }
}

#[test]
fn a_call_goes_from_setup_to_active_to_ended() {
    let mut s = Store::new(limits(10, 1 << 20));
    s.start("c1", Protocol::Sip, "sip:a@x", "sip:b@x", 1.0);
    assert_eq!(s.get("c1").map(CallRecord::state), Some("setup"));
    assert!(push(&mut s, "c1", 2.0, 10, Effect::Answered));
    assert_eq!(s.get("c1").map(CallRecord::state), Some("active"));
    assert!(push(
        &mut s,
        "c1",
        3.0,
        10,
        Effect::Ended("completed".into())
    ));
    let c = s.get("c1").expect("kept");
    assert_eq!(
        (c.state(), c.answered, c.ended),
        ("ended", Some(2.0), Some(3.0))
    );
    assert_eq!(c.outcome.as_deref(), Some("completed"));
    assert!(!push(&mut s, "nobody", 4.0, 10, Effect::None));
    // an unanswered call keeps the outcome it ended with
    s.start("c2", Protocol::Sip, "a", "b", 5.0);
    push(&mut s, "c2", 5.0, 10, Effect::Ended("486 Busy Here".into()));
    assert_eq!(
        s.get("c2").and_then(|c| c.outcome.clone()).as_deref(),
        Some("486 Busy Here")
    );
}

#[test]
fn the_oldest_call_goes_when_the_count_is_passed() {
    let mut s = Store::new(limits(3, 1 << 20));
    for i in 0..5 {
        s.start(&format!("c{i}"), Protocol::Sip, "a", "b", f64::from(i));
    }
    let ids: Vec<&str> = s.calls().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c4", "c3", "c2"]);
    assert_eq!(s.evicted, 2);
    assert!(!s.contains("c0") && s.get("c1").is_none());
    assert!(
        push(&mut s, "c2", 9.0, 1, Effect::None),
        "lookups after eviction"
    );
}

#[test]
fn bytes_stay_within_the_budget_with_100000_calls() {
    let budget = 4 << 20;
    let mut s = Store::new(limits(100_000, budget));
    for i in 0..100_000u32 {
        let id = format!("{i:08x}-call@192.0.2.1");
        s.start(
            &id,
            Protocol::Sip,
            "sip:alice@example.com",
            "sip:bob@example.com",
            0.0,
        );
        for m in 0..13 {
            push(&mut s, &id, f64::from(m), 600, Effect::None);
        }
        assert!(
            s.bytes() <= budget,
            "{} over {budget} at call {i}",
            s.bytes()
        );
    }
    // the newest calls are the ones kept, whole
    let newest = s.calls().next().expect("a call");
    assert_eq!(newest.id, format!("{:08x}-call@192.0.2.1", 99_999));
    assert_eq!(newest.ladder.len(), 13);
    assert!(s.len() > 100 && s.len() < 1000, "{} calls kept", s.len());
    assert_eq!(s.evicted as usize + s.len(), 100_000);
    // what is counted is what is held: recount from the records
    let held: usize = s.calls().map(CallRecord::held).sum();
    assert_eq!(held, s.bytes());
}

#[test]
fn one_call_takes_at_most_its_share_and_counts_the_rest() {
    let budget = 1 << 20;
    let mut s = Store::new(limits(10, budget));
    s.start("long", Protocol::Sip, "a", "b", 0.0);
    for i in 0..1000 {
        push(&mut s, "long", f64::from(i), 1000, Effect::None);
    }
    let c = s.get("long").expect("kept");
    assert!(c.bytes <= budget / 8, "{}", c.bytes);
    assert_eq!(c.bytes, c.held());
    assert!(c.cut > 800, "{}", c.cut);
    assert_eq!(c.ladder.len() as u64 + c.cut, 1000);
    // its state still follows the messages it did not keep
    push(
        &mut s,
        "long",
        2000.0,
        1000,
        Effect::Ended("completed".into()),
    );
    assert_eq!(s.get("long").map(CallRecord::state), Some("ended"));
}

#[test]
fn searches_keep_the_newest_and_off_keeps_nothing() {
    let mut s = Store::new(limits(10, 1 << 20));
    for i in 0..5 {
        s.add_search(Search {
            t: f64::from(i),
            alias: format!("a{i}"),
            source_zone: "LocalZone".into(),
            protocol: "sip",
            trace: Default::default(),
            targets: vec![],
            outcome: "no route".into(),
        });
    }
    let kept: Vec<&str> = s.searches().map(|x| x.alias.as_str()).collect();
    assert_eq!(kept, ["a4", "a3", "a2"]);
    let mut off = Store::new(Limits {
        calls: 0,
        bytes: 1 << 20,
        searches: 0,
    });
    off.start("c", Protocol::Sip, "a", "b", 0.0);
    assert_eq!(off.len(), 0);
}
