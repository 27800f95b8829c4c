//! The kept calls and searches, bounded: at most `calls` calls whose messages, texts and
//! bookkeeping take at most `bytes` (the oldest call goes first when either bound is passed),
//! one call at most an eighth of the budget (its later messages are counted, not kept), and
//! at most `searches` routing decisions. Plain values; the feeding (`feed`) and the serving
//! (`mod`) are elsewhere.
//!
//! The byte count is what the values hold on the heap plus their own size, so it tracks what
//! the allocator is asked for; the allocator's own overhead comes on top (BENCHMARKS.md has
//! the process RSS with 100,000 calls through a node).

use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// Bookkeeping of one call beside its texts: the record, its index entry, the map's slot.
const CALL_OVERHEAD: usize = std::mem::size_of::<CallRecord>() + 64;
/// The smallest share of the budget one call may take.
const MIN_PER_CALL: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub calls: usize,
    pub bytes: usize,
    pub searches: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    In,
    Out,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Sip,
    H323,
}

/// One message of a call's ladder.
#[derive(Clone, Debug, Serialize)]
pub struct Msg {
    /// Unix seconds.
    pub t: f64,
    pub dir: Dir,
    pub transport: &'static str,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub summary: Box<str>,
    pub text: Box<str>,
}

impl Msg {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Msg>() + self.summary.len() + self.text.len()
    }
}

/// What a message does to its call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// The call is answered (a 2xx to the INVITE, Connect).
    Answered,
    /// The call ends, with this outcome unless it had been answered (then "completed").
    Ended(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct CallRecord {
    pub id: String,
    pub protocol: Protocol,
    pub from: String,
    pub to: String,
    pub started: f64,
    pub answered: Option<f64>,
    pub ended: Option<f64>,
    pub outcome: Option<String>,
    #[serde(skip)]
    pub ladder: Vec<Msg>,
    /// Messages seen but not kept (the call passed its share of the budget).
    pub cut: u64,
    #[serde(skip)]
    bytes: usize,
}

impl CallRecord {
    pub fn state(&self) -> &'static str {
        match (self.answered, self.ended) {
            (_, Some(_)) => "ended",
            (Some(_), None) => "active",
            (None, None) => "setup",
        }
    }
}

/// One routing decision, as `check-route` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Search {
    pub t: f64,
    pub alias: String,
    pub source_zone: String,
    pub protocol: &'static str,
    pub trace: Vec<String>,
    pub targets: Vec<String>,
    pub outcome: String,
}

#[derive(Debug)]
pub struct Store {
    limits: Limits,
    /// Oldest first; `calls[i]` has sequence number `first + i`.
    calls: VecDeque<CallRecord>,
    first: u64,
    index: HashMap<String, u64>,
    bytes: usize,
    /// Calls dropped to stay within the bounds, since start.
    pub evicted: u64,
    searches: VecDeque<Search>,
}

impl Store {
    pub fn new(limits: Limits) -> Store {
        Store {
            limits,
            calls: VecDeque::new(),
            first: 0,
            index: HashMap::new(),
            bytes: 0,
            evicted: 0,
            searches: VecDeque::new(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes the kept calls take.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Starts keeping a call (nothing when it is kept already or the history is off).
    pub fn start(&mut self, id: &str, protocol: Protocol, from: &str, to: &str, t: f64) {
        if self.limits.calls == 0 || self.index.contains_key(id) {
            return;
        }
        let rec = CallRecord {
            id: id.to_string(),
            protocol,
            from: from.to_string(),
            to: to.to_string(),
            started: t,
            answered: None,
            ended: None,
            outcome: None,
            ladder: Vec::new(),
            cut: 0,
            bytes: CALL_OVERHEAD + 2 * id.len() + from.len() + to.len(),
        };
        self.bytes += rec.bytes;
        self.index
            .insert(rec.id.clone(), self.first + self.calls.len() as u64);
        self.calls.push_back(rec);
        self.evict();
    }

    /// Adds a message to a kept call and applies its effect; false when the call is not kept.
    pub fn push(&mut self, id: &str, msg: Msg, effect: Effect) -> bool {
        let per_call = (self.limits.bytes / 8).max(MIN_PER_CALL);
        let Some(rec) = self.get_mut(id) else {
            return false;
        };
        let t = msg.t;
        let size = msg.bytes();
        let added = if rec.bytes + size <= per_call {
            rec.bytes += size;
            rec.ladder.push(msg);
            size
        } else {
            rec.cut += 1;
            0
        };
        match effect {
            Effect::None => {}
            Effect::Answered => {
                if rec.answered.is_none() && rec.ended.is_none() {
                    rec.answered = Some(t);
                    rec.outcome = Some("answered".into());
                }
            }
            Effect::Ended(outcome) => {
                if rec.ended.is_none() {
                    rec.ended = Some(t);
                    rec.outcome = Some(if rec.answered.is_some() {
                        "completed".into()
                    } else {
                        outcome
                    });
                }
            }
        }
        self.bytes += added;
        self.evict();
        true
    }

    /// The kept call `id`.
    pub fn get(&self, id: &str) -> Option<&CallRecord> {
        let seq = self.index.get(id)?;
        self.calls.get(usize::try_from(seq - self.first).ok()?)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut CallRecord> {
        let seq = self.index.get(id)?;
        self.calls.get_mut(usize::try_from(seq - self.first).ok()?)
    }

    /// Kept calls, newest first.
    pub fn calls(&self) -> impl Iterator<Item = &CallRecord> {
        self.calls.iter().rev()
    }

    /// Drops the oldest calls until both bounds hold.
    fn evict(&mut self) {
        while self.calls.len() > self.limits.calls || self.bytes > self.limits.bytes {
            let Some(old) = self.calls.pop_front() else {
                break;
            };
            self.first += 1;
            self.index.remove(&old.id);
            self.bytes = self.bytes.saturating_sub(old.bytes);
            self.evicted += 1;
        }
    }

    pub fn add_search(&mut self, s: Search) {
        if self.limits.searches == 0 {
            return;
        }
        if self.searches.len() >= self.limits.searches {
            self.searches.pop_front();
        }
        self.searches.push_back(s);
    }

    /// Kept searches, newest first.
    pub fn searches(&self) -> impl Iterator<Item = &Search> {
        self.searches.iter().rev()
    }
}

#[cfg(test)]
mod tests;
