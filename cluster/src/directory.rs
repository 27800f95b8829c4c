//! The peers' soft state, sans-IO: each peer's registrations (`entries`: alias key -> value,
//! e.g. the SIP UAs and H.323 endpoints registered on it) and a few facts about itself
//! (`about`: its SIP addresses, its load). It changes often and never goes through the Raft
//! log. [`Outbox`] holds this peer's state and what each other peer acknowledged of it;
//! [`Inbox`] holds what the others published; `publish` (the tokio driver) moves
//! [`Publication`]s between them over the peer protocol.
//!
//! Why a full-mesh push and not gossip (chitchat and the like): a cluster has at most six
//! peers, so a full mesh is at most 30 streams; it reuses the mutually authenticated TLS
//! channel and the peer admission already on the peer port (4372) instead of a second,
//! unauthenticated UDP port that a gossip library would need; and a change handed to
//! [`Outbox::set`] reaches every peer in one round trip instead of log(n) gossip rounds.
//!
//! Protocol: every change of this peer's entries gets the next sequence number (`seq`) in a
//! bounded change log. A publication carries the changes after the `base` the receiver
//! acknowledged, or, when the receiver has nothing, lost track (`NeedFull`), or is further
//! behind than the log reaches, the full state: a first part with `reset`, then parts that
//! continue it, the last one marked `last`, each within [`PART_ENTRIES`] entries and about
//! [`PART_BYTES`] of JSON. Every part of a full state at change `at` carries `seq = base = at`;
//! the sender only counts the target as holding `at` once the last part is acknowledged. The
//! parts list the entries as they are when each part is made; the changes after `at` that
//! follow as deltas make the result exact whatever changed meanwhile. The `epoch` (random,
//! new on every process start) tells a restarted sender from the old one. A publication with
//! nothing new is the heartbeat: a sender publishes at least every [`PUBLISH_EVERY`], and a
//! peer unheard for [`DEAD_AFTER`] is forgotten.
//!
//! A full state is staged: the receiver gathers the parts apart and keeps serving what it
//! held of the sender until the last one is in, then tells the sink only the difference (one
//! update: the keys gone, the keys new or changed). Telling a reset at the first part would
//! leave the sender's aliases missing until the last (ten parts for 200k entries): calls to
//! them would fail for that long after a mere restart or gap. The sender marks the last part
//! (`last`) rather than the receiver waiting for what follows it, because what follows an
//! up-to-date target is the next heartbeat, up to [`PUBLISH_EVERY`] later. A sender from
//! before `last` leaves it out (`false` by default); its full state ends at the first
//! publication after the parts that is not one (a heartbeat or a delta from `at`), since a part
//! that is not the last always carries entries. `about` is small and sent whole each time: it
//! is taken at once, staging or not. The staging holds at most [`MAX_ENTRIES_PER_PEER`]
//! entries, beside at most as many held; a new `reset` replaces an unfinished staging, and a
//! forgotten or refused peer takes its staging with it, so a sender that never finishes costs
//! one bounded map.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A sender publishes to each peer at least this often (the heartbeat).
pub const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// A peer not heard from for this long is forgotten with all it published.
pub const DEAD_AFTER: Duration = Duration::from_secs(3);
/// Most entries held from one peer.
pub const MAX_ENTRIES_PER_PEER: usize = 200_000;
/// Longest entry or `about` key (bytes).
pub const MAX_KEY: usize = 256;
/// Longest entry or `about` value (bytes).
pub const MAX_VALUE: usize = 256;
/// Most `about` keys.
pub const MAX_ABOUT_KEYS: usize = 32;
/// Most changes in one publication.
pub const PART_ENTRIES: usize = 20_000;
/// Most JSON bytes of changes in one publication (estimated exactly enough: escapes
/// included), half of the peer protocol's 8 MiB frame so the rest of the frame always fits.
pub const PART_BYTES: usize = 4 * 1024 * 1024;
/// Changes kept for peers that are behind; one further behind gets the full state again.
pub const CHANGE_LOG: usize = 32_768;

/// One publication from a peer to another (`Request::Publish` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// The sender's process incarnation.
    pub epoch: u64,
    /// Sequence number of the last change included (for the parts of a full state: the
    /// change the full state is at).
    pub seq: u64,
    /// The sequence number the receiver must hold to apply this (ignored with `reset`).
    pub base: u64,
    /// This starts a full state (what the receiver gathered of an earlier one is dropped;
    /// what it holds is served until the full state is complete).
    pub reset: bool,
    /// This part completes a full state (with `reset` too when one part holds it all).
    /// Absent from a sender that predates it; see the module doc.
    #[serde(default)]
    pub last: bool,
    /// The sender's `about`, whole.
    pub about: BTreeMap<String, String>,
    /// Entry changes in order; `None`: removed.
    pub changes: Vec<(String, Option<String>)>,
}

/// The receiver's answer (`Response::Published` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Applied; the receiver now holds the sender's state up to `seq`.
    Ok { seq: u64 },
    /// The receiver cannot apply a delta (unknown sender, other epoch, other base): send the
    /// full state.
    NeedFull,
    /// Out of bounds (too many entries, too long a key, …): everything held of the sender
    /// was dropped.
    Refused(String),
}

/// Where the application learns the other peers' state. Called in order for each peer.
pub trait DirectorySink: Send + Sync {
    /// Changes of `peer`'s entries (None = removed), and its current `about`. The first call
    /// for a peer (heard first, or again after `forget`) may carry no changes: it is known,
    /// its entries are still on the way.
    fn update(
        &self,
        peer: u64,
        about: &BTreeMap<String, String>,
        changes: &[(String, Option<String>)],
    );
    /// `peer` is gone (not heard for DEAD_AFTER, or its state was refused): drop all of it.
    fn forget(&self, peer: u64);
}

/// What to tell the sink after an [`Inbox`] call, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tell {
    Update {
        peer: u64,
        about: BTreeMap<String, String>,
        changes: Vec<(String, Option<String>)>,
    },
    Forget {
        peer: u64,
    },
}

impl Tell {
    pub fn deliver(&self, sink: &dyn DirectorySink) {
        match self {
            Tell::Update {
                peer,
                about,
                changes,
            } => sink.update(*peer, about, changes),
            Tell::Forget { peer } => sink.forget(*peer),
        }
    }
}

/// What [`Outbox::set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetOutcome {
    /// Entries or `about` differ from the previous state.
    pub changed: bool,
    /// Entries and `about` keys left out for breaking the bounds the receivers enforce.
    pub skipped: usize,
}

/// JSON length of a string (quotes and escapes included), so parts can be sized without
/// encoding them.
fn json_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Counts what goes into one part.
struct Budget {
    entries: usize,
    bytes: usize,
    max_entries: usize,
}

impl Budget {
    fn new(max_entries: usize) -> Budget {
        Budget {
            entries: 0,
            bytes: 0,
            max_entries: max_entries.max(1),
        }
    }

    /// Room for this change? The first one always fits (a bounded entry is a few KB).
    fn take(&mut self, key: &str, value: Option<&str>) -> bool {
        let cost = json_len(key) + value.map_or(4, json_len) + 4;
        if self.entries > 0 && (self.entries >= self.max_entries || self.bytes + cost > PART_BYTES)
        {
            return false;
        }
        self.entries += 1;
        self.bytes += cost;
        true
    }
}

fn fits(key: &str, value: &str) -> bool {
    key.len() <= MAX_KEY && value.len() <= MAX_VALUE
}

/// Keep what receivers accept: short keys and values, at most `max` of them (the first by
/// key order). Returns how many were left out.
fn bound(map: &mut BTreeMap<String, String>, max: usize) -> usize {
    let before = map.len();
    map.retain(|k, v| fits(k, v));
    if let Some(cut) = map.keys().nth(max).cloned() {
        map.split_off(&cut);
    }
    before - map.len()
}

/// Entry changes in order; `None`: removed.
type Changes = Vec<(String, Option<String>)>;

/// What turns `old` into `new`, in key order: the keys gone (`None`), the keys new or changed.
fn diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Changes {
    use std::cmp::Ordering;
    let mut out = Vec::new();
    let (mut old, mut new) = (old.iter().peekable(), new.iter().peekable());
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        match order {
            Ordering::Less => out.extend(old.next().map(|(k, _)| (k.clone(), None))),
            Ordering::Greater => out.extend(new.next().map(|(k, v)| (k.clone(), Some(v.clone())))),
            Ordering::Equal => {
                if let (Some((k, a)), Some((_, b))) = (old.next(), new.next()) {
                    if a != b {
                        out.push((k.clone(), Some(b.clone())));
                    }
                }
            }
        }
    }
    out
}

struct Change {
    seq: u64,
    key: String,
    value: Option<String>,
}

/// A full state being sent: at change `at`, the reset part acknowledged or not, the last
/// key acknowledged.
struct Transfer {
    at: u64,
    reset_done: bool,
    after: Option<String>,
}

/// The last publication handed out for a target, until its answer.
enum Pending {
    Part {
        seq: u64,
        last_key: Option<String>,
        last: bool,
    },
    Delta {
        seq: u64,
    },
}

#[derive(Default)]
struct Target {
    /// The target holds our whole state up to this change.
    acked: Option<u64>,
    transfer: Option<Transfer>,
    pending: Option<Pending>,
}

/// This peer's state and what each other peer holds of it.
pub struct Outbox {
    epoch: u64,
    about: BTreeMap<String, String>,
    entries: BTreeMap<String, String>,
    /// Sequence number of the last change (0: none yet).
    head: u64,
    /// The last changes, consecutive, ending at `head`.
    log: VecDeque<Change>,
    log_max: usize,
    part_entries: usize,
    targets: BTreeMap<u64, Target>,
}

impl Outbox {
    /// `epoch`: random, new on every process start.
    pub fn new(epoch: u64) -> Outbox {
        Outbox::with_limits(epoch, PART_ENTRIES, CHANGE_LOG)
    }

    /// With other part and change log sizes (tests use small ones).
    pub fn with_limits(epoch: u64, part_entries: usize, change_log: usize) -> Outbox {
        Outbox {
            epoch,
            about: BTreeMap::new(),
            entries: BTreeMap::new(),
            head: 0,
            log: VecDeque::new(),
            log_max: change_log.max(1),
            part_entries: part_entries.max(1),
            targets: BTreeMap::new(),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn head(&self) -> u64 {
        self.head
    }

    pub fn about(&self) -> &BTreeMap<String, String> {
        &self.about
    }

    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    /// Replace this peer's state with `about` and `entries` (the whole current state); the
    /// differences go to the change log.
    pub fn set(
        &mut self,
        mut about: BTreeMap<String, String>,
        mut entries: BTreeMap<String, String>,
    ) -> SetOutcome {
        let skipped = bound(&mut about, MAX_ABOUT_KEYS) + bound(&mut entries, MAX_ENTRIES_PER_PEER);
        let head = self.head;
        for (key, value) in diff(&self.entries, &entries) {
            self.push(key, value);
        }
        self.entries = entries;
        let about_changed = about != self.about;
        self.about = about;
        SetOutcome {
            changed: about_changed || self.head != head,
            skipped,
        }
    }

    /// Replace only this peer's `about` (sent whole in every publication, heartbeats
    /// included, so it reaches the others within `PUBLISH_EVERY` without a change of its own).
    pub fn set_about(&mut self, mut about: BTreeMap<String, String>) -> SetOutcome {
        let skipped = bound(&mut about, MAX_ABOUT_KEYS);
        let changed = about != self.about;
        self.about = about;
        SetOutcome { changed, skipped }
    }

    fn push(&mut self, key: String, value: Option<String>) {
        self.head += 1;
        self.log.push_back(Change {
            seq: self.head,
            key,
            value,
        });
        while self.log.len() > self.log_max {
            self.log.pop_front();
        }
    }

    /// Sequence number of the oldest change still in the log.
    fn first_seq(&self) -> u64 {
        self.log.front().map_or(self.head + 1, |c| c.seq)
    }

    /// What to send `target` now. Its answer goes to [`Outbox::acknowledged`] or
    /// [`Outbox::failed`]; a later call replaces this one's pending answer.
    pub fn publication_for(&mut self, target: u64) -> Publication {
        let first = self.first_seq();
        let head = self.head;
        let t = self.targets.entry(target).or_default();
        t.pending = None;
        let delta_ok = t.acked.is_some_and(|a| a + 1 >= first && a <= head);
        let restart = match &t.transfer {
            None => !delta_ok,
            // The log no longer reaches back to where the transfer started.
            Some(tr) => tr.at + 1 < first,
        };
        if restart {
            t.acked = None;
            t.transfer = Some(Transfer {
                at: head,
                reset_done: false,
                after: None,
            });
        }
        let mut budget = Budget::new(self.part_entries);
        let mut changes = Vec::new();
        let (seq, base, reset, last) = if let Some(tr) = &t.transfer {
            let lower = match &tr.after {
                None => Bound::Unbounded,
                Some(k) => Bound::Excluded(k.as_str()),
            };
            let mut last = true;
            for (k, v) in self.entries.range::<str, _>((lower, Bound::Unbounded)) {
                if !budget.take(k, Some(v)) {
                    last = false;
                    break;
                }
                changes.push((k.clone(), Some(v.clone())));
            }
            t.pending = Some(Pending::Part {
                seq: tr.at,
                last_key: changes.last().map(|(k, _)| k.clone()),
                last,
            });
            (tr.at, tr.at, !tr.reset_done, last)
        } else {
            let acked = t.acked.unwrap_or(0);
            let skip = usize::try_from(acked + 1 - first).unwrap_or(usize::MAX);
            let mut seq = acked;
            for c in self.log.iter().skip(skip) {
                if !budget.take(&c.key, c.value.as_deref()) {
                    break;
                }
                changes.push((c.key.clone(), c.value.clone()));
                seq = c.seq;
            }
            t.pending = Some(Pending::Delta { seq });
            (seq, acked, false, false)
        };
        Publication {
            epoch: self.epoch,
            seq,
            base,
            reset,
            last,
            about: self.about.clone(),
            changes,
        }
    }

    /// `target` answered `Ok { seq }` to the last publication made for it.
    pub fn acknowledged(&mut self, target: u64, seq: u64) {
        let Some(t) = self.targets.get_mut(&target) else {
            return;
        };
        match t.pending.take() {
            Some(Pending::Part {
                seq: s,
                last_key,
                last,
            }) if s == seq => {
                if let Some(tr) = &mut t.transfer {
                    tr.reset_done = true;
                    if last_key.is_some() {
                        tr.after = last_key;
                    }
                    if last {
                        t.acked = Some(tr.at);
                        t.transfer = None;
                    }
                }
            }
            Some(Pending::Delta { seq: s }) if s == seq => t.acked = Some(s),
            // An answer to nothing we sent, or to something else: start over.
            _ => self.failed(target),
        }
    }

    /// The exchange with `target` failed (connection error, timeout, `NeedFull`, refused):
    /// it gets the full state next.
    pub fn failed(&mut self, target: u64) {
        let t = self.targets.entry(target).or_default();
        *t = Target::default();
    }

    /// Has `target` something to get beyond a heartbeat?
    pub fn behind(&self, target: u64) -> bool {
        self.targets
            .get(&target)
            .is_none_or(|t| t.transfer.is_some() || t.acked != Some(self.head))
    }
}

/// A full state arriving from a peer, gathered apart from what the sink was told.
struct Staging {
    epoch: u64,
    /// The change the full state is at (`seq` and `base` of its parts).
    at: u64,
    entries: BTreeMap<String, String>,
}

/// What this peer holds of one other peer.
struct Remote {
    /// The incarnation and change `entries` are at. Not read while `staging` is set (it is
    /// looked at first, and sets them when complete), so a peer first heard by a full state
    /// needs no "nothing yet" value here.
    epoch: u64,
    seq: u64,
    /// What the sink was told, served until a staged full state is complete.
    entries: BTreeMap<String, String>,
    about: BTreeMap<String, String>,
    last_heard: Instant,
    staging: Option<Staging>,
}

fn apply(
    entries: &mut BTreeMap<String, String>,
    changes: impl IntoIterator<Item = (String, Option<String>)>,
) {
    for (k, v) in changes {
        match v {
            Some(v) => entries.insert(k, v),
            None => entries.remove(&k),
        };
    }
}

/// Where a publication goes.
enum Route {
    /// Into the staging (a new one with `start`); `finish`: the full state is complete.
    Stage {
        start: bool,
        finish: bool,
    },
    /// Over the held entries.
    Delta,
    NeedFull,
}

fn route(r: Option<&Remote>, p: &Publication) -> Route {
    // A part that is not the last always carries entries (the sender stops a part only
    // before an entry that does not fit), so a heartbeat or a delta from `at` after the parts
    // ends a full state whose sender does not mark the last part.
    let finish = p.last || p.changes.is_empty() || p.seq != p.base;
    if p.reset {
        return Route::Stage {
            start: true,
            finish,
        };
    }
    let Some(r) = r else {
        return Route::NeedFull;
    };
    match &r.staging {
        Some(s) if s.epoch == p.epoch && s.at == p.base => Route::Stage {
            start: false,
            finish,
        },
        Some(_) => Route::NeedFull,
        // changes from `base` on, in order, applied again from a later point give the same
        // state: a publication whose answer was lost is taken again
        None if r.epoch == p.epoch && p.base <= r.seq && r.seq <= p.seq => Route::Delta,
        None => Route::NeedFull,
    }
}

impl Remote {
    fn new(now: Instant) -> Remote {
        Remote {
            epoch: 0,
            seq: 0,
            entries: BTreeMap::new(),
            about: BTreeMap::new(),
            last_heard: now,
            staging: None,
        }
    }

    /// Apply a delta; the changes to tell the sink, or why it is refused.
    fn delta(&mut self, p: &mut Publication) -> Result<Changes, String> {
        apply(&mut self.entries, p.changes.iter().cloned());
        if self.entries.len() > MAX_ENTRIES_PER_PEER {
            return Err(format!("more than {MAX_ENTRIES_PER_PEER} entries"));
        }
        self.seq = p.seq;
        Ok(std::mem::take(&mut p.changes))
    }

    /// Gather a part of a full state (the first with `start`, replacing an unfinished one);
    /// with `finish`, the staged state becomes the held one. The changes to tell the sink
    /// (none before the end), or why it is refused.
    fn stage(&mut self, start: bool, finish: bool, p: &mut Publication) -> Result<Changes, String> {
        if start || self.staging.is_none() {
            self.staging = Some(Staging {
                epoch: p.epoch,
                at: p.seq,
                entries: BTreeMap::new(),
            });
        }
        let Some(staging) = &mut self.staging else {
            return Ok(Vec::new());
        };
        apply(&mut staging.entries, std::mem::take(&mut p.changes));
        if staging.entries.len() > MAX_ENTRIES_PER_PEER {
            return Err(format!(
                "more than {MAX_ENTRIES_PER_PEER} entries in a full state"
            ));
        }
        if !finish {
            return Ok(Vec::new());
        }
        let Some(staged) = self.staging.take() else {
            return Ok(Vec::new());
        };
        let told = diff(&self.entries, &staged.entries);
        self.entries = staged.entries;
        self.epoch = staged.epoch;
        self.seq = p.seq;
        Ok(told)
    }
}

/// The other peers' state as received. `from` in every call is an authenticated peer id
/// (the connection's `Hello`), so there are at most `MAX_PEERS - 1` of them.
#[derive(Default)]
pub struct Inbox {
    peers: BTreeMap<u64, Remote>,
}

/// Why a publication is refused, before anything of it is applied.
fn check(p: &Publication) -> Result<(), String> {
    if p.about.len() > MAX_ABOUT_KEYS {
        return Err(format!(
            "{} about keys, above {MAX_ABOUT_KEYS}",
            p.about.len()
        ));
    }
    if p.about.iter().any(|(k, v)| !fits(k, v)) {
        return Err(format!(
            "an about key or value is above {MAX_KEY}/{MAX_VALUE} bytes"
        ));
    }
    if p.changes.len() > MAX_ENTRIES_PER_PEER {
        return Err(format!("{} changes in one publication", p.changes.len()));
    }
    let too_long = |(k, v): &(String, Option<String>)| !fits(k, v.as_deref().unwrap_or(""));
    if p.changes.iter().any(too_long) {
        return Err(format!(
            "an entry key or value is above {MAX_KEY}/{MAX_VALUE} bytes"
        ));
    }
    if !p.reset && p.seq < p.base {
        return Err(format!("seq {} before base {}", p.seq, p.base));
    }
    Ok(())
}

impl Inbox {
    pub fn new() -> Inbox {
        Inbox::default()
    }

    /// Apply a publication from `from`; the answer, and what to tell the sink.
    pub fn receive(&mut self, from: u64, mut p: Publication, now: Instant) -> (Reply, Vec<Tell>) {
        if let Err(reason) = check(&p) {
            return self.refuse(from, reason);
        }
        let route = route(self.peers.get(&from), &p);
        if matches!(route, Route::NeedFull) {
            return (Reply::NeedFull, Vec::new());
        }
        let fresh = !self.peers.contains_key(&from);
        let r = self.peers.entry(from).or_insert_with(|| Remote::new(now));
        let taken = match route {
            Route::Stage { start, finish } => r.stage(start, finish, &mut p),
            _ => r.delta(&mut p),
        };
        let changes = match taken {
            Ok(changes) => changes,
            Err(reason) => return self.refuse(from, reason),
        };
        // A peer heard first is told at once, entries or not, so the sink knows its `about`.
        let about_changed = fresh || r.about != p.about;
        r.about = p.about;
        r.last_heard = now;
        let mut tell = Vec::new();
        if !changes.is_empty() || about_changed {
            tell.push(Tell::Update {
                peer: from,
                about: r.about.clone(),
                changes,
            });
        }
        (Reply::Ok { seq: p.seq }, tell)
    }

    fn refuse(&mut self, from: u64, reason: String) -> (Reply, Vec<Tell>) {
        let tell = match self.peers.remove(&from) {
            Some(_) => vec![Tell::Forget { peer: from }],
            None => Vec::new(),
        };
        (Reply::Refused(reason), tell)
    }

    /// Drop the peers not heard from for [`DEAD_AFTER`]; their ids.
    pub fn expire(&mut self, now: Instant) -> Vec<u64> {
        let dead: Vec<u64> = self
            .peers
            .iter()
            .filter(|(_, r)| now.saturating_duration_since(r.last_heard) >= DEAD_AFTER)
            .map(|(&id, _)| id)
            .collect();
        for id in &dead {
            self.peers.remove(id);
        }
        dead
    }

    /// The entries held from `peer`.
    pub fn entries(&self, peer: u64) -> Option<&BTreeMap<String, String>> {
        self.peers.get(&peer).map(|r| &r.entries)
    }

    /// The `about` held from `peer`.
    pub fn about(&self, peer: u64) -> Option<&BTreeMap<String, String>> {
        self.peers.get(&peer).map(|r| &r.about)
    }

    /// The peers something is held from.
    pub fn peers(&self) -> impl Iterator<Item = u64> + '_ {
        self.peers.keys().copied()
    }
}

#[cfg(test)]
mod tests;
