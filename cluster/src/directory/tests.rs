//! The directory protocol with a fake clock: an `Instant` taken once and moved by hand.

use std::sync::Mutex;

use proptest::prelude::*;

use super::*;

const PEER: u64 = 2;
const FROM: u64 = 1;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn numbered(n: usize) -> BTreeMap<String, String> {
    (0..n)
        .map(|i| (format!("alias-{i:06}"), format!("v{i}")))
        .collect()
}

/// Send what the outbox has for PEER to the inbox and acknowledge it, until nothing is left
/// (at most `rounds` exchanges); every reply.
fn sync(out: &mut Outbox, inbox: &mut Inbox, now: Instant, rounds: usize) -> Vec<Reply> {
    let mut replies = Vec::new();
    for _ in 0..rounds {
        let p = out.publication_for(PEER);
        let (reply, _) = inbox.receive(FROM, p, now);
        match &reply {
            Reply::Ok { seq } => out.acknowledged(PEER, *seq),
            _ => out.failed(PEER),
        }
        replies.push(reply);
        if !out.behind(PEER) {
            break;
        }
    }
    replies
}

#[test]
fn set_diffs_into_consecutive_seqs() {
    let mut out = Outbox::new(7);
    let r = out.set(map(&[("os", "linux")]), map(&[("a", "1"), ("b", "2")]));
    assert_eq!(
        r,
        SetOutcome {
            changed: true,
            skipped: 0
        }
    );
    assert_eq!(out.head(), 2);
    // b changed, c added, a removed: three changes, in key order.
    out.set(map(&[("os", "linux")]), map(&[("b", "3"), ("c", "4")]));
    assert_eq!(out.head(), 5);
    let seqs: Vec<_> = out.log.iter().map(|c| (c.seq, c.key.as_str())).collect();
    assert_eq!(seqs, vec![(1, "a"), (2, "b"), (3, "a"), (4, "b"), (5, "c")]);
    assert_eq!(out.log[2].value, None);
    // The same state again changes nothing; only `about` still counts as a change.
    let same = out.set(map(&[("os", "linux")]), map(&[("b", "3"), ("c", "4")]));
    assert!(!same.changed);
    let about = out.set(map(&[("os", "bsd")]), map(&[("b", "3"), ("c", "4")]));
    assert!(about.changed);
    assert_eq!(out.head(), 5);
}

#[test]
fn first_publication_is_a_reset_then_deltas_after_ack() {
    let now = Instant::now();
    let mut out = Outbox::new(7);
    let mut inbox = Inbox::new();
    out.set(map(&[("load", "3")]), map(&[("a", "1"), ("b", "2")]));
    let p = out.publication_for(PEER);
    assert!(p.reset);
    assert_eq!((p.seq, p.base, p.epoch), (2, 2, 7));
    assert_eq!(p.changes.len(), 2);
    let (reply, tell) = inbox.receive(FROM, p, now);
    assert_eq!(reply, Reply::Ok { seq: 2 });
    assert!(matches!(tell[0], Tell::Reset { peer: FROM, .. }));
    assert!(matches!(&tell[1], Tell::Update { changes, .. } if changes.len() == 2));
    out.acknowledged(PEER, 2);
    assert!(!out.behind(PEER));

    // Nothing new: a heartbeat, which tells the sink nothing.
    let hb = out.publication_for(PEER);
    assert!(!hb.reset && hb.changes.is_empty());
    assert_eq!((hb.seq, hb.base), (2, 2));
    let (reply, tell) = inbox.receive(FROM, hb, now);
    assert_eq!(reply, Reply::Ok { seq: 2 });
    assert!(tell.is_empty());
    out.acknowledged(PEER, 2);

    out.set(map(&[("load", "4")]), map(&[("a", "1"), ("c", "3")]));
    assert!(out.behind(PEER));
    let d = out.publication_for(PEER);
    assert!(!d.reset);
    assert_eq!((d.seq, d.base), (4, 2));
    assert_eq!(
        d.changes,
        vec![
            ("b".to_string(), None),
            ("c".to_string(), Some("3".to_string()))
        ]
    );
    let (reply, tell) = inbox.receive(FROM, d, now);
    assert_eq!(reply, Reply::Ok { seq: 4 });
    assert!(
        matches!(&tell[..], [Tell::Update { about, changes, .. }] if about["load"] == "4" && changes.len() == 2)
    );
    out.acknowledged(PEER, 4);
    assert_eq!(inbox.entries(FROM), Some(out.entries()));
    assert_eq!(inbox.about(FROM), Some(out.about()));
}

#[test]
fn full_state_is_split_into_parts_and_only_the_first_resets() {
    let now = Instant::now();
    let mut out = Outbox::new(1);
    let mut inbox = Inbox::new();
    out.set(BTreeMap::new(), numbered(45_000));
    let head = out.head();
    let mut parts = Vec::new();
    for _ in 0..3 {
        let p = out.publication_for(PEER);
        parts.push((p.reset, p.seq, p.base, p.changes.len()));
        let (reply, _) = inbox.receive(FROM, p, now);
        assert_eq!(reply, Reply::Ok { seq: head });
        out.acknowledged(PEER, head);
    }
    assert_eq!(
        parts,
        vec![
            (true, head, head, PART_ENTRIES),
            (false, head, head, PART_ENTRIES),
            (false, head, head, 5_000)
        ]
    );
    assert!(!out.behind(PEER));
    assert_eq!(inbox.entries(FROM).map(|e| e.len()), Some(45_000));
    assert_eq!(inbox.entries(FROM), Some(out.entries()));
}

#[test]
fn changes_during_a_full_transfer_end_exact() {
    let now = Instant::now();
    let mut out = Outbox::with_limits(1, 3, 100);
    let mut inbox = Inbox::new();
    out.set(BTreeMap::new(), numbered(10));
    let p = out.publication_for(PEER);
    let (reply, _) = inbox.receive(FROM, p, now);
    assert_eq!(reply, Reply::Ok { seq: 10 });
    out.acknowledged(PEER, 10);
    // Mid-transfer: one sent key removed, one unsent key changed, one key added.
    let mut next = numbered(10);
    next.remove("alias-000000");
    next.insert("alias-000008".into(), "changed".into());
    next.insert("zz".into(), "new".into());
    out.set(BTreeMap::new(), next);
    let replies = sync(&mut out, &mut inbox, now, 20);
    assert!(replies.iter().all(|r| matches!(r, Reply::Ok { .. })));
    assert_eq!(inbox.entries(FROM), Some(out.entries()));
}

#[test]
fn restarted_sender_gets_need_full_then_resets() {
    let now = Instant::now();
    let mut inbox = Inbox::new();
    let mut old = Outbox::new(1);
    old.set(BTreeMap::new(), map(&[("a", "1"), ("b", "2")]));
    sync(&mut old, &mut inbox, now, 5);
    // The new process starts at seq 0 with another epoch. A delta it might send (its target
    // state believed in sync, e.g. by a bug) is not applied over the old incarnation's state.
    let mut new = Outbox::new(2);
    new.set(BTreeMap::new(), map(&[("c", "3")]));
    let forged = Publication {
        epoch: 2,
        seq: 1,
        base: 0,
        reset: false,
        about: BTreeMap::new(),
        changes: vec![("c".into(), Some("3".into()))],
    };
    assert_eq!(inbox.receive(FROM, forged, now).0, Reply::NeedFull);
    // Same epoch, wrong base: NeedFull as well.
    let gap = Publication {
        epoch: 1,
        seq: 9,
        base: 5,
        reset: false,
        about: BTreeMap::new(),
        changes: Vec::new(),
    };
    assert_eq!(inbox.receive(FROM, gap, now).0, Reply::NeedFull);
    assert_eq!(inbox.entries(FROM).map(|e| e.len()), Some(2));
    let replies = sync(&mut new, &mut inbox, now, 5);
    assert_eq!(replies, vec![Reply::Ok { seq: 1 }]);
    assert_eq!(inbox.entries(FROM), Some(&map(&[("c", "3")])));
}

#[test]
fn need_full_after_a_lost_answer() {
    let now = Instant::now();
    let mut out = Outbox::new(1);
    let mut inbox = Inbox::new();
    out.set(BTreeMap::new(), map(&[("a", "1")]));
    sync(&mut out, &mut inbox, now, 5);
    // The receiver applies a delta but its answer is lost: the sender fails the target.
    out.set(BTreeMap::new(), map(&[("a", "2")]));
    let p = out.publication_for(PEER);
    assert_eq!(inbox.receive(FROM, p, now).0, Reply::Ok { seq: 2 });
    out.failed(PEER);
    let p = out.publication_for(PEER);
    assert!(p.reset, "after a failure the sender starts over");
    assert_eq!(inbox.receive(FROM, p, now).0, Reply::Ok { seq: 2 });
    out.acknowledged(PEER, 2);
    assert!(!out.behind(PEER));
    // An acknowledgement of something never sent also starts over.
    out.acknowledged(PEER, 99);
    assert!(out.publication_for(PEER).reset);
}

#[test]
fn change_log_overflow_means_a_full_resend() {
    let now = Instant::now();
    let mut out = Outbox::with_limits(1, PART_ENTRIES, 4);
    let mut inbox = Inbox::new();
    out.set(BTreeMap::new(), map(&[("a", "1")]));
    sync(&mut out, &mut inbox, now, 5);
    // Three changes (2..=4) fit the log: a delta.
    out.set(BTreeMap::new(), map(&[("b", "1"), ("c", "1")]));
    let p = out.publication_for(PEER);
    assert!(!p.reset);
    // Before that is answered, seven more (5..=11): the log (8..=11) no longer reaches the
    // acknowledged seq 1.
    out.set(BTreeMap::new(), numbered(5));
    assert_eq!(out.head(), 11);
    let p = out.publication_for(PEER);
    assert!(p.reset);
    assert_eq!(p.changes.len(), 5);
    let (reply, _) = inbox.receive(FROM, p, now);
    out.acknowledged(PEER, 11);
    assert_eq!(reply, Reply::Ok { seq: 11 });
    assert_eq!(inbox.entries(FROM), Some(out.entries()));
}

#[test]
fn silent_peers_expire_after_dead_after() {
    let t0 = Instant::now();
    let mut inbox = Inbox::new();
    let mut out = Outbox::new(1);
    out.set(BTreeMap::new(), map(&[("a", "1")]));
    sync(&mut out, &mut inbox, t0, 5);
    assert!(inbox
        .expire(t0 + DEAD_AFTER - Duration::from_millis(1))
        .is_empty());
    // A heartbeat keeps it.
    let hb = out.publication_for(PEER);
    inbox.receive(FROM, hb, t0 + Duration::from_secs(2));
    assert!(inbox.expire(t0 + DEAD_AFTER).is_empty());
    assert_eq!(
        inbox.expire(t0 + Duration::from_secs(2) + DEAD_AFTER),
        vec![FROM]
    );
    assert_eq!(inbox.entries(FROM), None);
    // Whatever it sends next that is not a reset is answered NeedFull.
    out.acknowledged(PEER, 1);
    let p = out.publication_for(PEER);
    assert_eq!(
        inbox.receive(FROM, p, t0 + Duration::from_secs(6)).0,
        Reply::NeedFull
    );
}

fn refused(inbox: &mut Inbox, p: Publication) -> Vec<Tell> {
    let (reply, tell) = inbox.receive(FROM, p, Instant::now());
    assert!(matches!(reply, Reply::Refused(_)), "{reply:?}");
    assert_eq!(inbox.entries(FROM), None);
    tell
}

#[test]
fn out_of_bounds_publications_are_refused_and_drop_the_peer() {
    let reset = |changes: Vec<(String, Option<String>)>| Publication {
        epoch: 1,
        seq: 1,
        base: 0,
        reset: true,
        about: BTreeMap::new(),
        changes,
    };
    let mut inbox = Inbox::new();
    let ok = reset(vec![("a".into(), Some("1".into()))]);
    assert_eq!(
        inbox.receive(FROM, ok, Instant::now()).0,
        Reply::Ok { seq: 1 }
    );
    let long = "x".repeat(MAX_KEY + 1);
    let tell = refused(&mut inbox, reset(vec![(long.clone(), Some("1".into()))]));
    assert_eq!(tell, vec![Tell::Forget { peer: FROM }]);
    refused(&mut inbox, reset(vec![("a".into(), Some(long.clone()))]));
    let mut p = reset(Vec::new());
    p.about = (0..=MAX_ABOUT_KEYS)
        .map(|i| (i.to_string(), String::new()))
        .collect();
    refused(&mut inbox, p);
    let mut p = reset(Vec::new());
    p.about.insert("sip".into(), long);
    refused(&mut inbox, p);
    // Over the entry bound across publications: the last one is refused, all is dropped.
    let half = |from: usize| -> Vec<(String, Option<String>)> {
        (from..from + MAX_ENTRIES_PER_PEER / 2 + 1)
            .map(|i| (i.to_string(), Some(String::new())))
            .collect()
    };
    assert!(matches!(
        inbox.receive(FROM, reset(half(0)), Instant::now()).0,
        Reply::Ok { .. }
    ));
    let mut more = reset(half(MAX_ENTRIES_PER_PEER));
    more.reset = false;
    more.base = 1;
    let tell = refused(&mut inbox, more);
    assert_eq!(tell, vec![Tell::Forget { peer: FROM }]);
}

#[test]
fn the_outbox_keeps_within_the_receivers_bounds() {
    let mut out = Outbox::new(1);
    let mut entries = numbered(3);
    entries.insert("k".repeat(MAX_KEY + 1), "v".into());
    entries.insert("k".into(), "v".repeat(MAX_VALUE + 1));
    let about: BTreeMap<_, _> = (0..40).map(|i| (format!("{i:02}"), "x".into())).collect();
    let r = out.set(about, entries);
    assert_eq!(r.skipped, 2 + 8);
    assert_eq!(out.entries().len(), 3);
    assert_eq!(out.about().len(), MAX_ABOUT_KEYS);
}

#[test]
fn parts_stay_within_the_byte_bound() {
    // Long values full of control characters: six JSON bytes each.
    let mut out = Outbox::new(1);
    let value = "\u{1}".repeat(MAX_VALUE);
    let entries = (0..10_000)
        .map(|i| (format!("{i:05}"), value.clone()))
        .collect();
    out.set(BTreeMap::new(), entries);
    let p = out.publication_for(PEER);
    let len = serde_json::to_vec(&p).unwrap().len();
    assert!(p.changes.len() < 10_000);
    assert!(len <= PART_BYTES + 4096, "{len}");
    assert!(
        len >= PART_BYTES - 4096,
        "parts are not needlessly small: {len}"
    );
}

/// A sink that records calls, to check `Tell::deliver`.
#[derive(Default)]
struct Record(Mutex<Vec<String>>);

impl DirectorySink for Record {
    fn reset(&self, peer: u64, about: &BTreeMap<String, String>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("reset {peer} {about:?}"));
    }
    fn update(
        &self,
        peer: u64,
        _about: &BTreeMap<String, String>,
        changes: &[(String, Option<String>)],
    ) {
        self.0
            .lock()
            .unwrap()
            .push(format!("update {peer} {changes:?}"));
    }
    fn forget(&self, peer: u64) {
        self.0.lock().unwrap().push(format!("forget {peer}"));
    }
}

#[test]
fn tells_reach_the_sink_in_order() {
    let mut out = Outbox::new(1);
    let mut inbox = Inbox::new();
    let sink = Record::default();
    out.set(map(&[("l", "1")]), map(&[("a", "1")]));
    let p = out.publication_for(PEER);
    let t0 = Instant::now();
    for t in inbox.receive(FROM, p, t0).1 {
        t.deliver(&sink);
    }
    for peer in inbox.expire(t0 + DEAD_AFTER) {
        Tell::Forget { peer }.deliver(&sink);
    }
    assert_eq!(
        *sink.0.lock().unwrap(),
        vec![
            r#"reset 1 {"l": "1"}"#.to_string(),
            r#"update 1 [("a", Some("1"))]"#.to_string(),
            "forget 1".to_string()
        ]
    );
}

#[derive(Debug, Clone)]
enum Step {
    /// Set a state built from these (key index, value) pairs.
    Set(Vec<(u8, u8)>),
    /// Deliver the next publication and acknowledge it.
    Deliver,
    /// The publication is lost.
    Drop,
    /// The publication arrives but its answer is lost.
    LoseAnswer,
    /// The receiver forgets the sender (as after a silence): its next delta is answered
    /// NeedFull.
    Forget,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        proptest::collection::vec((0u8..40, 0u8..4), 0..30).prop_map(Step::Set),
        Just(Step::Deliver),
        Just(Step::Deliver),
        Just(Step::Drop),
        Just(Step::LoseAnswer),
        Just(Step::Forget),
    ]
}

proptest! {
    /// Whatever is set, lost or half-delivered on the way, one more round of successful
    /// exchanges leaves the receiver with exactly the sender's state.
    #[test]
    fn inbox_converges_to_outbox(steps in proptest::collection::vec(step(), 0..60)) {
        // Small parts and a small log, so full transfers, splits and overflows all happen.
        let mut out = Outbox::with_limits(9, 4, 12);
        let mut inbox = Inbox::new();
        let now = Instant::now();
        for s in steps {
            match s {
                Step::Set(pairs) => {
                    let entries = pairs
                        .into_iter()
                        .map(|(k, v)| (format!("k{k}"), format!("v{v}")))
                        .collect();
                    out.set(BTreeMap::new(), entries);
                }
                Step::Deliver => {
                    let p = out.publication_for(PEER);
                    match inbox.receive(FROM, p, now).0 {
                        Reply::Ok { seq } => out.acknowledged(PEER, seq),
                        Reply::NeedFull => out.failed(PEER),
                        Reply::Refused(r) => prop_assert!(false, "refused: {r}"),
                    }
                }
                Step::Drop => {
                    let _ = out.publication_for(PEER);
                    out.failed(PEER);
                }
                Step::LoseAnswer => {
                    let p = out.publication_for(PEER);
                    let _ = inbox.receive(FROM, p, now);
                    out.failed(PEER);
                }
                Step::Forget => {
                    inbox.expire(now + DEAD_AFTER);
                }
            }
        }
        let replies = sync(&mut out, &mut inbox, now, 40);
        prop_assert!(!out.behind(PEER), "{replies:?}");
        prop_assert_eq!(inbox.entries(FROM), Some(out.entries()));
    }
}

#[test]
fn about_alone_changes_no_entry_and_rides_the_next_heartbeat() {
    let now = Instant::now();
    let mut out = Outbox::new(7);
    let mut inbox = Inbox::new();
    out.set(map(&[("load", "1")]), map(&[("a", "1")]));
    sync(&mut out, &mut inbox, now, 4);
    let r = out.set_about(map(&[("load", "2")]));
    assert!(r.changed);
    assert_eq!(out.head(), 1, "no entry changed");
    assert!(!out.set_about(map(&[("load", "2")])).changed);
    // the next publication (a heartbeat: no changes) carries it
    let p = out.publication_for(PEER);
    assert!(p.changes.is_empty());
    inbox.receive(FROM, p, now);
    assert_eq!(inbox.about(FROM), Some(&map(&[("load", "2")])));
    assert_eq!(inbox.entries(FROM), Some(&map(&[("a", "1")])));
}

#[test]
fn a_publication_whose_answer_was_lost_is_taken_again_without_a_reset() {
    let now = Instant::now();
    let mut out = Outbox::new(7);
    let mut inbox = Inbox::new();
    out.set(map(&[]), map(&[("a", "1")]));
    sync(&mut out, &mut inbox, now, 4);
    out.set(map(&[]), map(&[("a", "1"), ("b", "2")]));
    // delivered and applied, but the answer never came back (a timeout, a dropped connection)
    let lost = out.publication_for(PEER);
    let (reply, _) = inbox.receive(FROM, lost, now);
    assert_eq!(reply, Reply::Ok { seq: 2 });
    out.set(map(&[]), map(&[("a", "1"), ("b", "2"), ("c", "3")]));
    // the next one starts from what was acknowledged: taken again, no reset, no forgetting
    let again = out.publication_for(PEER);
    assert!(!again.reset);
    assert_eq!(again.base, 1);
    let (reply, tells) = inbox.receive(FROM, again, now);
    assert_eq!(reply, Reply::Ok { seq: 3 });
    assert!(
        !tells
            .iter()
            .any(|t| matches!(t, Tell::Reset { .. } | Tell::Forget { .. })),
        "{tells:?}"
    );
    assert_eq!(
        inbox.entries(FROM),
        Some(&map(&[("a", "1"), ("b", "2"), ("c", "3")]))
    );
}
