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
    assert!(p.reset && p.last);
    assert_eq!((p.seq, p.base, p.epoch), (2, 2, 7));
    assert_eq!(p.changes.len(), 2);
    let (reply, tell) = inbox.receive(FROM, p, now);
    assert_eq!(reply, Reply::Ok { seq: 2 });
    // One part: staged and complete at once; the difference from nothing is all of it.
    assert!(
        matches!(&tell[..], [Tell::Update { peer: FROM, about, changes }] if changes.len() == 2 && about["load"] == "3")
    );
    out.acknowledged(PEER, 2);
    assert!(!out.behind(PEER));

    // Nothing new: a heartbeat, which tells the sink nothing.
    let hb = out.publication_for(PEER);
    assert!(!hb.reset && !hb.last && hb.changes.is_empty());
    assert_eq!((hb.seq, hb.base), (2, 2));
    let (reply, tell) = inbox.receive(FROM, hb, now);
    assert_eq!(reply, Reply::Ok { seq: 2 });
    assert!(tell.is_empty());
    out.acknowledged(PEER, 2);

    out.set(map(&[("load", "4")]), map(&[("a", "1"), ("c", "3")]));
    assert!(out.behind(PEER));
    let d = out.publication_for(PEER);
    assert!(!d.reset && !d.last);
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
fn full_state_is_split_into_parts_the_first_resets_the_last_is_marked() {
    let now = Instant::now();
    let mut out = Outbox::new(1);
    let mut inbox = Inbox::new();
    out.set(BTreeMap::new(), numbered(45_000));
    let head = out.head();
    let mut parts = Vec::new();
    for _ in 0..3 {
        let p = out.publication_for(PEER);
        parts.push((p.reset, p.last, p.seq, p.base, p.changes.len()));
        let (reply, _) = inbox.receive(FROM, p, now);
        assert_eq!(reply, Reply::Ok { seq: head });
        out.acknowledged(PEER, head);
    }
    assert_eq!(
        parts,
        vec![
            (true, false, head, head, PART_ENTRIES),
            (false, false, head, head, PART_ENTRIES),
            (false, true, head, head, 5_000)
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
        last: false,
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
        last: false,
        about: BTreeMap::new(),
        changes: Vec::new(),
    };
    assert_eq!(inbox.receive(FROM, gap, now).0, Reply::NeedFull);
    assert_eq!(inbox.entries(FROM).map(|e| e.len()), Some(2));
    let p = new.publication_for(PEER);
    let (reply, tell) = inbox.receive(FROM, p, now);
    assert_eq!(reply, Reply::Ok { seq: 1 });
    // The old incarnation's entries are dropped as the new one's full state completes.
    let diff = vec![
        ("a".to_string(), None),
        ("b".to_string(), None),
        ("c".to_string(), Some("3".to_string())),
    ];
    assert!(matches!(&tell[..], [Tell::Update { changes, .. }] if *changes == diff));
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
        last: true,
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
    // Held entries, by a delta:
    assert!(matches!(
        inbox.receive(FROM, reset(half(0)), Instant::now()).0,
        Reply::Ok { .. }
    ));
    let mut more = reset(half(MAX_ENTRIES_PER_PEER));
    more.reset = false;
    more.last = false;
    more.seq = 2;
    more.base = 1;
    let tell = refused(&mut inbox, more);
    assert_eq!(tell, vec![Tell::Forget { peer: FROM }]);
}

/// `MAX_ENTRIES_PER_PEER / 2 + 1` entries from `from` on: two of them break the bound.
fn half(from: usize) -> Vec<(String, Option<String>)> {
    (from..from + MAX_ENTRIES_PER_PEER / 2 + 1)
        .map(|i| (i.to_string(), Some(String::new())))
        .collect()
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
    fn update(
        &self,
        peer: u64,
        about: &BTreeMap<String, String>,
        changes: &[(String, Option<String>)],
    ) {
        self.0
            .lock()
            .unwrap()
            .push(format!("update {peer} {about:?} {changes:?}"));
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
            r#"update 1 {"l": "1"} [("a", Some("1"))]"#.to_string(),
            "forget 1".to_string()
        ]
    );
}

#[derive(Debug, Clone)]
enum Step {
    /// Set a state built from these (key index, value) pairs, and the stable keys.
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
    /// The sender restarts (a new epoch) with the same state: a full resend.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        proptest::collection::vec((0u8..40, 0u8..4), 0..30).prop_map(Step::Set),
        Just(Step::Deliver),
        Just(Step::Deliver),
        Just(Step::Deliver),
        Just(Step::Drop),
        Just(Step::LoseAnswer),
        Just(Step::Forget),
        Just(Step::Restart),
    ]
}

/// Keys every `Set` holds, spread among the others in key order (so across parts): the
/// sender never drops them.
const STABLE: [&str; 4] = ["k1", "k2", "k25", "k33"];

/// What the receiver's application sees of the sender, built only from what it is told;
/// after each publication: it must match the inbox, and no key may vanish unless the sender
/// dropped it at some point (`dropped`), nor the sender be forgotten.
struct Watch {
    seen: Option<BTreeMap<String, String>>,
    dropped: std::collections::BTreeSet<String>,
}

impl Watch {
    fn receive(
        &mut self,
        inbox: &mut Inbox,
        p: Publication,
        now: Instant,
    ) -> Result<Reply, TestCaseError> {
        let before = self.seen.clone().unwrap_or_default();
        let (reply, tell) = inbox.receive(FROM, p, now);
        for t in tell {
            match t {
                Tell::Update { changes, .. } => {
                    apply(self.seen.get_or_insert_with(BTreeMap::new), changes);
                }
                Tell::Forget { .. } => prop_assert!(false, "forgotten: {reply:?}"),
            }
        }
        prop_assert_eq!(self.seen.as_ref(), inbox.entries(FROM), "told = held");
        let after = self.seen.clone().unwrap_or_default();
        for k in before.keys().filter(|k| !after.contains_key(*k)) {
            prop_assert!(
                self.dropped.contains(k),
                "{k} vanished though never dropped"
            );
        }
        Ok(reply)
    }
}

proptest! {
    /// Whatever is set, lost, half-delivered or resent on the way, one more round of
    /// successful exchanges leaves the receiver with exactly the sender's state; and at
    /// every step what the receiver's application sees matches the inbox and loses no key
    /// the sender kept (a full resend, a restart included, serves the old entries until
    /// the new ones are in).
    #[test]
    fn inbox_converges_to_outbox(steps in proptest::collection::vec(step(), 0..60)) {
        // Small parts and a small log, so full transfers, splits and overflows all happen.
        let mut epoch = 9;
        let mut out = Outbox::with_limits(epoch, 4, 12);
        let mut inbox = Inbox::new();
        let mut watch = Watch { seen: None, dropped: Default::default() };
        let now = Instant::now();
        for s in steps {
            match s {
                Step::Set(pairs) => {
                    let mut entries: BTreeMap<String, String> = pairs
                        .into_iter()
                        .map(|(k, v)| (format!("k{k}"), format!("v{v}")))
                        .collect();
                    for k in STABLE {
                        entries.insert(k.to_string(), "stable".to_string());
                    }
                    let gone = out.entries().keys().filter(|k| !entries.contains_key(*k));
                    watch.dropped.extend(gone.cloned());
                    out.set(BTreeMap::new(), entries);
                }
                Step::Deliver => {
                    let p = out.publication_for(PEER);
                    match watch.receive(&mut inbox, p, now)? {
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
                    watch.receive(&mut inbox, p, now)?;
                    out.failed(PEER);
                }
                Step::Forget => {
                    inbox.expire(now + DEAD_AFTER);
                    watch.seen = None;
                }
                Step::Restart => {
                    epoch += 1;
                    let mut next = Outbox::with_limits(epoch, 4, 12);
                    next.set(out.about().clone(), out.entries().clone());
                    out = next;
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
        !tells.iter().any(|t| matches!(t, Tell::Forget { .. })),
        "{tells:?}"
    );
    assert_eq!(
        inbox.entries(FROM),
        Some(&map(&[("a", "1"), ("b", "2"), ("c", "3")]))
    );
}

/// Hand the next publication for PEER to the inbox and acknowledge it: what was sent, the
/// answer and what the sink is told.
fn deliver(out: &mut Outbox, inbox: &mut Inbox, now: Instant) -> (Publication, Reply, Vec<Tell>) {
    let p = out.publication_for(PEER);
    let (reply, tell) = inbox.receive(FROM, p.clone(), now);
    match &reply {
        Reply::Ok { seq } => out.acknowledged(PEER, *seq),
        _ => out.failed(PEER),
    }
    (p, reply, tell)
}

fn changes(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect()
}

#[test]
fn a_full_resend_serves_the_old_entries_until_its_last_part_then_tells_the_difference() {
    let now = Instant::now();
    let mut out = Outbox::with_limits(1, 3, 100);
    let mut inbox = Inbox::new();
    out.set(map(&[("load", "1")]), numbered(10));
    sync(&mut out, &mut inbox, now, 10);
    let before = numbered(10);
    // The receiver lost track (NeedFull, say) while the state changed: a full state, in parts
    // of three, of one removed, one changed and one added key.
    let mut next = numbered(10);
    next.remove("alias-000002");
    next.insert("alias-000005".into(), "changed".into());
    next.insert("zz".into(), "new".into());
    out.set(map(&[("load", "1")]), next.clone());
    out.failed(PEER);
    for part in 0..3 {
        let (p, reply, tell) = deliver(&mut out, &mut inbox, now);
        assert_eq!((p.reset, p.last, p.changes.len()), (part == 0, false, 3));
        assert_eq!(reply, Reply::Ok { seq: out.head() });
        assert!(tell.is_empty(), "part {part}: {tell:?}");
        assert_eq!(inbox.entries(FROM), Some(&before), "part {part}");
    }
    let (p, _, tell) = deliver(&mut out, &mut inbox, now);
    assert!(p.last && p.changes.len() == 1);
    let diff = changes(&[
        ("alias-000002", None),
        ("alias-000005", Some("changed")),
        ("zz", Some("new")),
    ]);
    assert_eq!(
        tell,
        vec![Tell::Update {
            peer: FROM,
            about: map(&[("load", "1")]),
            changes: diff
        }]
    );
    assert_eq!(inbox.entries(FROM), Some(&next));
    assert!(!out.behind(PEER));
}

#[test]
fn keys_removed_while_a_full_state_runs_go_by_its_end() {
    let now = Instant::now();
    let mut inbox = Inbox::new();
    let mut old = Outbox::with_limits(1, 3, 100);
    old.set(BTreeMap::new(), numbered(10));
    sync(&mut old, &mut inbox, now, 10);
    // The sender restarts with the same aliases: a new epoch, a full state in parts of three.
    let mut new = Outbox::with_limits(2, 3, 100);
    new.set(BTreeMap::new(), numbered(10));
    let (p, _, tell) = deliver(&mut new, &mut inbox, now);
    assert!(p.reset && tell.is_empty());
    // Then two keys go: one already sent (0), one not yet (8).
    let mut less = numbered(10);
    less.remove("alias-000000");
    less.remove("alias-000008");
    new.set(BTreeMap::new(), less.clone());
    let told = loop {
        let (p, reply, tell) = deliver(&mut new, &mut inbox, now);
        assert!(matches!(reply, Reply::Ok { .. }));
        if p.last {
            break tell;
        }
        assert!(tell.is_empty());
        assert_eq!(inbox.entries(FROM), Some(&numbered(10)));
    };
    // The one not sent is missing from the staged state: removed as it completes.
    assert_eq!(
        told,
        vec![Tell::Update {
            peer: FROM,
            about: BTreeMap::new(),
            changes: changes(&[("alias-000008", None)])
        }]
    );
    // The one sent before it went is removed by the delta that follows (the changes after
    // the full state's `at`, both removals; the second finds nothing to remove).
    let (p, _, tell) = deliver(&mut new, &mut inbox, now);
    assert_eq!(
        p.changes,
        changes(&[("alias-000000", None), ("alias-000008", None)])
    );
    assert_eq!(tell.len(), 1);
    assert_eq!(inbox.entries(FROM), Some(&less));
    assert!(!new.behind(PEER));
}

#[test]
fn a_sender_restarting_mid_transfer_discards_the_old_staging() {
    let now = Instant::now();
    let mut inbox = Inbox::new();
    let held = map(&[("held", "1")]);
    let mut first = Outbox::with_limits(1, 2, 100);
    first.set(BTreeMap::new(), held.clone());
    sync(&mut first, &mut inbox, now, 5);
    // A second incarnation sends one part of its full state and dies.
    let mut second = Outbox::with_limits(2, 2, 100);
    second.set(BTreeMap::new(), map(&[("a", "2"), ("b", "2"), ("c", "2")]));
    let (p, _, _) = deliver(&mut second, &mut inbox, now);
    assert!(p.reset && !p.last);
    let stale = second.publication_for(PEER);
    // A third one sends its own: the second's part is not part of it.
    let mut third = Outbox::with_limits(3, 2, 100);
    let state = map(&[("c", "3"), ("d", "3"), ("e", "3")]);
    third.set(BTreeMap::new(), state.clone());
    let (p, _, tell) = deliver(&mut third, &mut inbox, now);
    assert!(p.reset && !p.last && tell.is_empty());
    assert_eq!(inbox.entries(FROM), Some(&held), "still served");
    let staged = inbox.peers[&FROM].staging.as_ref().map(|s| s.entries.len());
    assert_eq!(staged, Some(2), "only the third's part");
    // The second's next part, arriving late, is not taken into the third's staging.
    assert_eq!(inbox.receive(FROM, stale, now).0, Reply::NeedFull);
    let (p, _, tell) = deliver(&mut third, &mut inbox, now);
    assert!(p.last);
    let diff = changes(&[
        ("c", Some("3")),
        ("d", Some("3")),
        ("e", Some("3")),
        ("held", None),
    ]);
    assert!(matches!(&tell[..], [Tell::Update { changes, .. }] if *changes == diff));
    assert_eq!(inbox.entries(FROM), Some(&state));
}

#[test]
fn a_new_reset_replaces_an_unfinished_staging() {
    let now = Instant::now();
    let mut inbox = Inbox::new();
    let part = |reset: bool, from: usize, n: usize| Publication {
        epoch: 1,
        seq: 5,
        base: 5,
        reset,
        last: false,
        about: BTreeMap::new(),
        changes: (from..from + n)
            .map(|i| (i.to_string(), Some(String::new())))
            .collect(),
    };
    // A sender that starts full states over and over and never finishes holds one staging.
    for round in 0..5 {
        let (reply, _) = inbox.receive(FROM, part(true, round * 100, 50), now);
        assert_eq!(reply, Reply::Ok { seq: 5 });
        inbox.receive(FROM, part(false, round * 100 + 50, 50), now);
        let staged = &inbox.peers[&FROM].staging.as_ref().unwrap().entries;
        assert_eq!(staged.len(), 100);
        assert!(staged.contains_key(&(round * 100).to_string()));
    }
    assert_eq!(inbox.entries(FROM).map(|e| e.len()), Some(0));
}

#[test]
fn a_staging_is_bounded_apart_from_the_held_entries() {
    let now = Instant::now();
    let mut inbox = Inbox::new();
    let p = |reset: bool, last: bool, changes| Publication {
        epoch: 1,
        seq: 1,
        base: 1,
        reset,
        last,
        about: BTreeMap::new(),
        changes,
    };
    let full: Vec<_> = (0..MAX_ENTRIES_PER_PEER)
        .map(|i| (i.to_string(), Some(String::new())))
        .collect();
    // The bound held, and the bound staged beside it (a restart of a full peer).
    let ok = inbox.receive(FROM, p(true, true, full.clone()), now).0;
    assert_eq!(ok, Reply::Ok { seq: 1 });
    let ok = inbox.receive(FROM, p(true, false, full), now).0;
    assert_eq!(ok, Reply::Ok { seq: 1 });
    assert_eq!(
        inbox.entries(FROM).map(|e| e.len()),
        Some(MAX_ENTRIES_PER_PEER)
    );
    // One more staged is refused, and everything held goes with it.
    let one = vec![("x".to_string(), Some(String::new()))];
    let tell = refused(&mut inbox, p(false, false, one));
    assert_eq!(tell, vec![Tell::Forget { peer: FROM }]);
    // Across parts of a first full state too.
    inbox.receive(FROM, p(true, false, half(0)), now);
    let tell = refused(&mut inbox, p(false, true, half(MAX_ENTRIES_PER_PEER)));
    assert_eq!(tell, vec![Tell::Forget { peer: FROM }]);
}

#[test]
fn an_unfinished_staging_goes_with_a_silent_peer() {
    let t0 = Instant::now();
    let mut inbox = Inbox::new();
    let mut out = Outbox::with_limits(1, 2, 100);
    out.set(BTreeMap::new(), numbered(5));
    let (p, _, _) = deliver(&mut out, &mut inbox, t0);
    assert!(p.reset && !p.last);
    assert!(inbox.peers[&FROM].staging.is_some());
    assert_eq!(inbox.expire(t0 + DEAD_AFTER), vec![FROM]);
    assert!(inbox.peers.is_empty());
    // Its next part finds nothing to continue.
    let p = out.publication_for(PEER);
    assert!(!p.reset);
    assert_eq!(inbox.receive(FROM, p, t0 + DEAD_AFTER).0, Reply::NeedFull);
}

#[test]
fn a_sender_that_does_not_mark_the_last_part_completes_by_what_follows_it() {
    // A peer from before `last` (rolling upgrade): its full state ends at its next heartbeat,
    // or at its next delta, applied with it.
    for delta in [false, true] {
        let now = Instant::now();
        let mut inbox = Inbox::new();
        let mut old = Outbox::with_limits(1, 3, 100);
        old.set(BTreeMap::new(), map(&[("gone", "1"), ("kept", "1")]));
        sync(&mut old, &mut inbox, now, 5);
        let mut out = Outbox::with_limits(2, 3, 100);
        out.set(
            BTreeMap::new(),
            numbered(6)
                .into_iter()
                .chain(map(&[("kept", "1")]))
                .collect(),
        );
        while out.behind(PEER) {
            let mut p = out.publication_for(PEER);
            p.last = false;
            let (reply, tell) = inbox.receive(FROM, p, now);
            out.acknowledged(PEER, out.head());
            assert_eq!(reply, Reply::Ok { seq: out.head() });
            assert!(tell.is_empty());
            assert!(inbox.entries(FROM).is_some_and(|e| e.contains_key("gone")));
        }
        if delta {
            let mut next = out.entries().clone();
            next.insert("late".into(), "1".into());
            out.set(BTreeMap::new(), next);
        }
        let p = out.publication_for(PEER);
        assert_eq!(p.changes.len(), usize::from(delta));
        let (reply, tell) = inbox.receive(FROM, p, now);
        assert_eq!(reply, Reply::Ok { seq: out.head() });
        let Some(Tell::Update { changes, .. }) = tell.first() else {
            panic!("{tell:?}")
        };
        assert_eq!(changes.len(), 7 + usize::from(delta), "{changes:?}");
        assert_eq!(inbox.entries(FROM), Some(out.entries()));
    }
}
