//! The kept calls and searches, bounded: at most `calls` calls whose messages, texts and
//! bookkeeping take at most `bytes` (the oldest call goes first when either bound is passed),
//! one call at most an eighth of the budget (its later messages are counted, not kept), and
//! at most `searches` routing decisions. Plain values; the feeding (`feed`) and the serving
//! (`mod`) are elsewhere.
//!
//! The byte count is what the values hold on the heap plus their own size, so it tracks what
//! the allocator is asked for; the allocator's own overhead comes on top (BENCHMARKS.md has
//! the process RSS with 100,000 calls through a node).

use causeway_h323::driver::Channel;
use causeway_zones::Trace;
use serde::Serialize;
use std::borrow::Cow;
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

/// One message of a call's ladder; its content is a range of its call's buffer.
#[derive(Clone, Debug)]
pub struct Msg {
    /// Unix seconds.
    pub t: f64,
    pub dir: Dir,
    pub transport: &'static str,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    kind: Kind,
    start: u32,
    end: u32,
}

/// How a message's content is kept: as its bytes, described when read (most kept messages
/// are never read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sip,
    H323(Channel),
}

/// A message's content as handed to the store.
pub enum Content<'a> {
    Sip(&'a [u8]),
    /// A RAS datagram or a TPKT payload of the channel.
    H323(Channel, &'a [u8]),
}

impl Content<'_> {
    fn len(&self) -> usize {
        match self {
            Content::Sip(b) | Content::H323(_, b) => b.len(),
        }
    }
}

/// Where and when a message went, the rest of what the store keeps of it.
pub struct Head {
    pub t: f64,
    pub dir: Dir,
    pub transport: &'static str,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// The ladder of a call as JSON: each message with its summary and text.
pub struct Ladder<'a>(pub &'a CallRecord);

impl Serialize for Ladder<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let rec = self.0;
        let mut seq = s.serialize_seq(Some(rec.ladder.len()))?;
        for m in &rec.ladder {
            let bytes = rec.buf.get(m.start as usize..m.end as usize).unwrap_or(&[]);
            let (summary, text) = match m.kind {
                Kind::Sip => super::sip::describe(bytes),
                Kind::H323(channel) => super::h323::describe(channel, bytes),
            };
            #[derive(Serialize)]
            struct View<'a> {
                t: f64,
                dir: Dir,
                transport: &'a str,
                local: SocketAddr,
                remote: SocketAddr,
                summary: String,
                text: String,
            }
            seq.serialize_element(&View {
                t: m.t,
                dir: m.dir,
                transport: m.transport,
                local: m.local,
                remote: m.remote,
                summary,
                text,
            })?;
        }
        seq.end()
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
    /// The contents of the ladder's messages, back to back: one allocation that grows a few
    /// times per call instead of one per message (per-message allocations made the history
    /// cost a third more CPU per call than it does).
    #[serde(skip)]
    buf: Vec<u8>,
    /// Messages seen but not kept (the call passed its share of the budget).
    pub cut: u64,
    #[serde(skip)]
    bytes: usize,
}

impl CallRecord {
    /// What the record holds: itself, its strings, its buffers' capacities.
    fn held(&self) -> usize {
        CALL_OVERHEAD
            + 2 * self.id.len()
            + self.from.len()
            + self.to.len()
            + self.buf.capacity()
            + self.ladder.capacity() * std::mem::size_of::<Msg>()
    }

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
    /// The router's trace, kept as it came (one buffer) and split into lines only when shown.
    #[serde(serialize_with = "trace_lines")]
    pub trace: Trace,
    pub targets: Vec<String>,
    pub outcome: Cow<'static, str>,
}

fn trace_lines<S: serde::Serializer>(t: &Trace, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(t.lines())
}

/// Appends a message to a call within `per_call` bytes of buffers; false when it does not fit.
fn add(rec: &mut CallRecord, head: Head, content: &Content<'_>, per_call: usize) -> bool {
    let len = content.len();
    let need = rec.buf.len() + len;
    let msg_size = std::mem::size_of::<Msg>();
    let ladder_cap = if rec.ladder.len() < rec.ladder.capacity() {
        rec.ladder.capacity()
    } else {
        (rec.ladder.capacity() * 2).max(16)
    };
    let fixed = rec.held() - rec.buf.capacity() - rec.ladder.capacity() * msg_size;
    let room = per_call.saturating_sub(fixed + ladder_cap * msg_size);
    // the buffer as it is, or as it would grow, must fit beside the ladder as it would grow
    if need > room || rec.buf.capacity() > room || u32::try_from(need).is_err() {
        return false;
    }
    if need > rec.buf.capacity() {
        // grow by doubling from 8 KiB (a routed call's 13-14 messages are 8-12 KiB: one
        // reallocation), but never past the call's share
        let cap = (rec.buf.capacity() * 2).max(8192).max(need).min(room);
        rec.buf.reserve_exact(cap - rec.buf.len());
    }
    let start = rec.buf.len() as u32;
    let (kind, bytes) = match content {
        Content::Sip(b) => (Kind::Sip, b),
        Content::H323(channel, b) => (Kind::H323(*channel), b),
    };
    rec.buf.extend_from_slice(bytes);
    if rec.ladder.len() == rec.ladder.capacity() {
        rec.ladder.reserve_exact(ladder_cap - rec.ladder.len());
    }
    rec.ladder.push(Msg {
        t: head.t,
        dir: head.dir,
        transport: head.transport,
        local: head.local,
        remote: head.remote,
        kind,
        start,
        end: rec.buf.len() as u32,
    });
    true
}

#[derive(Debug)]
pub struct Store {
    limits: Limits,
    /// Oldest first; `calls[i]` has sequence number `first + i`.
    calls: VecDeque<CallRecord>,
    first: u64,
    /// foldhash (randomly seeded, as the proxy core's maps): SipHash was visible per message.
    index: HashMap<String, u64, foldhash::fast::RandomState>,
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
            index: HashMap::default(),
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
            buf: Vec::new(),
            cut: 0,
            bytes: 0,
        };
        let mut rec = rec;
        rec.bytes = rec.held();
        self.bytes += rec.bytes;
        self.index
            .insert(rec.id.clone(), self.first + self.calls.len() as u64);
        self.calls.push_back(rec);
        self.evict();
    }

    /// Adds a message to a kept call and applies its effect; false when the call is not kept.
    pub fn push(&mut self, id: &str, head: Head, content: Content<'_>, effect: Effect) -> bool {
        let per_call = (self.limits.bytes / 8).max(MIN_PER_CALL);
        let Some(rec) = self.get_mut(id) else {
            return false;
        };
        let t = head.t;
        let before = rec.bytes;
        if !add(rec, head, &content, per_call) {
            rec.cut += 1;
        }
        rec.bytes = rec.held();
        let after = rec.bytes;
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
        self.bytes = self.bytes + after - before;
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
