//! The proxy core's records: a server transaction and what it answers on, a client transaction
//! (one branch), the proxy context that joins them (RFC 3261 16: a request and its serial
//! targets), and the timers that wake them. Plain data and the clean-up that keeps the tables
//! consistent when one of them goes.
//!
//! Owns no decisions: which target comes next, what to send and when is the other modules'.

use super::hop::NextHop;
use super::io::Flow;
use super::Core;
use crate::dns::SipTarget;
use crate::message::{Bytes, Message};
use crate::transaction::{Client, Completed, Server, ServerState};
use causeway_media::Legs;
use std::collections::VecDeque;
use std::time::Instant;

pub(super) type TxId = u64;

/// An RFC 3261 17.2.3 server transaction key (branch, sent-by, method; or the RFC 2543 fields)
/// as 128 bits of SipHash-1-3 with a random key, instead of its text: 16 bytes in the index
/// and the record rather than a 56-byte allocation, 100,000s of times under a registration
/// load. Two different keys meet with a probability of 2^-128, and a sender cannot aim at a
/// collision without the node's random key. Two `u64`s, not a `u128`: 8-byte alignment keeps
/// an index slot at 24 bytes, not 32.
pub(super) type TxKey = (u64, u64);

/// The random key of `TxKey`s, drawn once per core. The two halves hash two different inputs
/// (the text behind a 0 and behind a 1) under the one key.
#[derive(Default)]
pub(super) struct TxKeys(std::hash::RandomState);

impl TxKeys {
    pub fn of(&self, key: &str) -> TxKey {
        use std::hash::BuildHasher;
        (self.0.hash_one((0u8, key)), self.check(key))
    }

    /// The key of the parts of a transaction key (hashed as they are, not written out as text
    /// first): equal parts, equal keys.
    pub fn of_parts<T: std::hash::Hash + ?Sized>(&self, parts: &T) -> TxKey {
        use std::hash::BuildHasher;
        (self.0.hash_one((2u8, parts)), self.0.hash_one((3u8, parts)))
    }

    /// One keyed 64-bit hash of `key` (`of`'s second half): what an accepted INVITE's record
    /// checks a response's branch against (`Core::accept`).
    pub fn check(&self, key: &str) -> u64 {
        use std::hash::BuildHasher;
        self.0.hash_one((1u8, key))
    }
}

/// A server transaction. Finished non-INVITE ones are kept 64*T1 (32 s) to answer
/// retransmissions, 100,000s of them under a registration load: after the final response the
/// record holds only the machine (with the response), the key and the flow.
pub(super) struct ServerTx {
    pub key: TxKey,
    pub machine: Server,
    /// the request, until a final response is sent (then only the machine's copy of the
    /// response is needed; dropping it keeps 32 s of finished transactions small)
    pub request: Option<Box<Message>>,
    /// where responses go (RFC 3261 18.2.2, RFC 3581) and our address it arrived on
    pub reply: Flow,
    pub ctx: Option<TxId>,
    /// the To tag of our own responses; emptied with `request` (no response is built after)
    pub to_tag: Box<str>,
}

/// In `Core::server_index`, an id with this bit names a record of `Core::done` (the rest is
/// its offset) rather than a server transaction (`Core::id` counts from 1 and never gets
/// near it). In `Core::client_index` it names the record of an accepted INVITE whose branch
/// has gone (`Core::accept`).
pub(super) const DONE: TxId = 1 << 63;

/// The offset in `Core::done` that an id of `server_index` or `client_index` names, if it
/// names one.
pub(super) fn done_offset(id: TxId) -> Option<u64> {
    (id & DONE != 0).then_some(id & !DONE)
}

/// The key of `Core::client_index`: a client transaction's branch, hashed (with a fixed seed:
/// the branches are ours, nobody else picks them), and whether it is a CANCEL's. A `u64` rather
/// than the branch's text keeps a lookup or removal from reading a second, cold, heap block;
/// a lookup checks the transaction's branch, and a removal removes only its own entry, so two
/// branches with one hash cannot be confused.
pub(super) fn client_key(branch: &str, is_cancel: bool) -> (u64, bool) {
    use std::hash::BuildHasher;
    const SEED: u64 = 0x5eed_ca11_b7a4_c4e5;
    let h = foldhash::fast::FixedState::with_seed(SEED).hash_one(branch);
    (h, is_cancel)
}

pub(super) struct ClientTx {
    pub branch: String,
    /// transport token of the first send (a failure report names it)
    pub token: u64,
    pub is_cancel: bool,
    pub machine: Client,
    /// the request as sent (INVITE only: CANCEL and ACK are built from it, parsed only then)
    pub sent: Option<Bytes>,
    pub hop: NextHop,
    pub ctx: Option<TxId>,
    pub provisional: bool,
    pub cancel_wanted: bool,
    pub cancel_sent: bool,
    pub timer_c_fired: bool,
}

/// One target of a proxied request: the Request-URI to use, the hop, and Route values to add.
#[derive(Clone, Debug)]
pub(super) struct Target {
    pub ruri: Option<String>,
    pub hop: NextHop,
    pub path: Vec<String>,
    /// `[routing] hop_limit`: Max-Forwards of a request sent into a zone is capped at this,
    /// so a loop between zones ends after that many hops
    pub hop_cap: Option<u32>,
    /// RFC 3263: the hop is not known yet; resolve this first (the DNS zone of `resolve.1`, or
    /// the node's resolver) and try what it answers, in order
    pub resolve: Option<(SipTarget, Option<String>)>,
    /// Another way to the target before it (another peer of the same remote cluster or
    /// traversal zone): tried only when no answer came through the one before
    /// (`Ctx::retry_alternate`).
    pub alternate: bool,
}

impl Target {
    /// A target whose hop is known, with nothing to add.
    pub fn to(ruri: Option<String>, hop: NextHop) -> Target {
        Target {
            ruri,
            hop,
            path: Vec::new(),
            hop_cap: None,
            resolve: None,
            alternate: false,
        }
    }
}

/// How the Route set and Request-URI of a request are edited before it is forwarded (RFC 3261
/// 16.4 and 16.6 item 6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct RouteEdit {
    /// our own Route values to pop from the top
    pub pop: usize,
    /// when set, all Route fields are replaced by these values (strict-routing repair)
    pub replace: Option<Vec<String>>,
    /// the Request-URI to use instead of the received one (strict-routing repair)
    pub ruri: Option<String>,
}

/// A call whose media this node anchors: its Call-ID and legs, and whether this is the initial
/// INVITE (only its failure ends the call's relay; a failed re-INVITE does not).
#[derive(Clone, Debug)]
pub(super) struct Anchored {
    pub call_id: String,
    pub legs: Legs,
    pub initial: bool,
}

/// RFC 3261 16: the state of one proxied request across its branches (tried serially).
pub(super) struct Ctx {
    pub server: TxId,
    pub invite: bool,
    pub targets: VecDeque<Target>,
    /// Route values to put back after removing ours and fixing strict routing
    pub routes: RouteEdit,
    pub record_route: bool,
    pub local_zone: bool,
    pub active: Option<TxId>,
    pub best: Option<(u16, Bytes)>,
    pub cancelled: bool,
    pub finished: bool,
    pub anchored: Option<Box<Anchored>>,
    /// A target held until the relay has bound the ports its offer names. Boxed, as
    /// `anchored`: most contexts never hold one, and an anchored INVITE's context is kept for
    /// the 32 s after its 2xx.
    pub parked: Option<Box<Target>>,
    /// The last branch ended without an answer from beyond the hop (a timeout, a transport
    /// failure, a 503 from the hop itself): an `alternate` target is worth trying. Any other
    /// final answer came from the destination, which another peer would reach as well.
    pub retry_alternate: bool,
}

impl Ctx {
    /// The next target, if any. The queue's buffer goes with the last one: a context may be
    /// kept as long as its branch (32 s for an anchored INVITE answered 2xx), and the buffer,
    /// room for four targets, was nearly a third of what a call held that long (BENCHMARKS.md,
    /// 2026-12-07).
    pub fn next_target(&mut self) -> Option<Target> {
        let t = self.targets.pop_front();
        if self.targets.is_empty() {
            self.drop_targets();
        }
        t
    }

    /// No target is tried any more (a 2xx, a 6xx, a CANCEL): the queue and its buffer go.
    pub fn drop_targets(&mut self) {
        self.targets = VecDeque::new();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    Server(TxId),
    Client(TxId),
    TimerC(TxId),
    Purge,
    Probe,
}

/// A table that has emptied to a quarter of its capacity gives half of that back: after
/// 100,000 registrations' transactions are gone, their tables are megabytes of empty slots.
fn shrink<K: Eq + std::hash::Hash, V>(m: &mut super::core::Map<K, V>) {
    if m.capacity() > 4 * m.len() + 1024 {
        m.shrink_to(2 * m.len());
    }
}

impl Core {
    /// Cheap unless a table has shrunk a lot (then a rehash of what is left, rarely).
    pub(super) fn shrink_tables(&mut self) {
        shrink(&mut self.servers);
        shrink(&mut self.server_index);
        shrink(&mut self.clients);
        shrink(&mut self.client_index);
        shrink(&mut self.ctxs);
        shrink(&mut self.tokens);
        self.done.shrink();
        self.timers.shrink();
    }

    pub(super) fn remove_client(&mut self, id: TxId) {
        if let Some(c) = self.clients.remove(&id) {
            self.tokens.remove(&c.token);
            // one probe of the index when the entry is ours (always, but for a collision)
            let key = client_key(&c.branch, c.is_cancel);
            if let Some(other) = self.client_index.remove(&key) {
                if other != id {
                    self.client_index.insert(key, other);
                }
            }
            if let Some(ctx_id) = c.ctx {
                if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
                    if ctx.active == Some(id) {
                        ctx.active = None;
                    }
                }
                self.reap_ctx(ctx_id);
            }
        }
    }

    pub(super) fn reap_client(&mut self, id: TxId) {
        if self
            .clients
            .get(&id)
            .is_some_and(|c| c.machine.is_terminated())
        {
            self.remove_client(id);
        }
    }

    pub(super) fn reap_server(&mut self, id: TxId) {
        if self
            .servers
            .get(&id)
            .is_some_and(|s| s.machine.is_terminated())
        {
            if let Some(s) = self.servers.remove(&id) {
                self.server_index.remove(&s.key);
                if let Some(ctx) = s.ctx {
                    self.reap_ctx(ctx);
                }
            }
        }
    }

    /// A server transaction that only has retransmissions left to answer becomes a record of
    /// `done` until its timer J (true).
    pub(super) fn retire_server(&mut self, id: TxId) -> bool {
        let finished = self.servers.get(&id).is_some_and(|s| {
            !s.machine.is_invite()
                && s.ctx.is_none()
                && s.request.is_none()
                && s.machine.state() == ServerState::Completed
        });
        if !finished {
            return false;
        }
        let Some(s) = self.servers.remove(&id) else {
            return false;
        };
        let ServerTx {
            key,
            machine,
            request,
            reply,
            ctx,
            to_tag,
        } = *s;
        match machine.into_completed() {
            Ok(Completed { response, end }) => {
                match self.done.push(end, key, &reply, &response) {
                    Some(at) => self.server_index.insert(key, DONE | at),
                    // a response of 4 GiB is not kept (none is: the transports refuse them)
                    None => self.server_index.remove(&key),
                };
                true
            }
            Err(machine) => {
                let s = ServerTx {
                    key,
                    machine,
                    request,
                    reply,
                    ctx,
                    to_tag,
                };
                self.servers.insert(id, Box::new(s));
                false
            }
        }
    }

    /// Timer J (or L) of the `done` records due: they go, with their index entries. Ends are
    /// 64*T1 after the record's final response, in push order but for a forwarded request's
    /// record retired when its context went: that one is held back behind the records pushed
    /// before it (answering retransmissions a little longer), never ended early.
    pub(super) fn end_done(&mut self, now: Instant) {
        while let Some((key, at, branch)) = self.done.pop_due(now) {
            if self.server_index.get(&key) == Some(&(DONE | at)) {
                self.server_index.remove(&key);
            }
            let branch = branch.map(|(b, _)| (b, false));
            if let Some(b) = branch.filter(|b| self.client_index.get(b) == Some(&(DONE | at))) {
                self.client_index.remove(&b);
            }
        }
    }

    /// A context goes once it has answered upstream and its branch has nothing more to pass
    /// up (gone, or waiting out timer D or K), or its server transaction is gone. Then its
    /// server transaction, when all it has left is answering retransmissions, becomes a
    /// record of `done`: a forwarded BYE's is kept 32 s, its branch 5 s.
    pub(super) fn reap_ctx(&mut self, ctx_id: TxId) {
        let Some(ctx) = self.ctxs.get(&ctx_id) else {
            return;
        };
        let server_gone = !self.servers.contains_key(&ctx.server);
        let branch_done = ctx.active.is_none_or(|c| {
            self.clients
                .get(&c)
                .is_none_or(|c| !c.machine.passes_up_more())
        });
        if (ctx.finished && branch_done) || server_gone {
            if let Some(ctx) = self.ctxs.remove(&ctx_id) {
                if let Some(c) = ctx.active.and_then(|c| self.clients.get_mut(&c)) {
                    c.ctx = None;
                }
                if let Some(a) = ctx.anchored.filter(|_| ctx.parked.is_some()) {
                    self.parked.remove(&a.call_id);
                }
                if let Some(s) = self.servers.get_mut(&ctx.server) {
                    s.ctx = None;
                    self.retire_server(ctx.server);
                }
            }
        }
    }
}
