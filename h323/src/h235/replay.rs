//! The bounded memory of accepted tokens: per sender, the (timeStamp, random) pairs accepted
//! within the time window, so that the same token is not accepted twice.
//!
//! Bounds: at most `max_senders` senders and `per_sender` pairs each. Only tokens whose hash
//! verified are recorded, so only holders of a password can fill it. Forgetting must not
//! reopen the door, hence the floors:
//! - a sender's pairs past `per_sender` drop the smallest, and the sender's floor rises to it:
//!   pairs at or below the floor are refused (a burst of more than `per_sender` tokens in the
//!   same second would refuse a late one with a smaller random value; RAS is not that busy);
//! - pairs gone stale are dropped the same way (raising the floor keeps them refused even if
//!   the caller's clock steps back);
//! - a sender evicted to make room (first those with nothing fresh, then the one whose newest
//!   token is oldest) raises the global floor to its newest timestamp: a sender not in memory
//!   must present a timestamp above it. An evicted sender replaying its old tokens is refused;
//!   a new sender whose clock lags behind that timestamp waits for its clock to pass it.
//!
//! Must not touch: hashing, time checks (`verify` decides staleness before asking here).

use std::collections::{BTreeSet, HashMap};

/// (timeStamp, random) of an accepted token, ordered by time then random.
pub(super) type Stamp = (u32, i64);

#[derive(Debug)]
struct SenderLog {
    seen: BTreeSet<Stamp>,
    /// Every pair at or below was accepted and forgotten.
    floor: Option<Stamp>,
}

impl SenderLog {
    fn newest(&self) -> Option<u32> {
        self.seen.last().or(self.floor.as_ref()).map(|s| s.0)
    }

    fn raise_floor(&mut self, to: Stamp) {
        if self.floor.is_none_or(|f| f < to) {
            self.floor = Some(to);
        }
    }

    /// Drops the pairs older than `oldest_fresh` and those past `per_sender`.
    fn forget(&mut self, oldest_fresh: u32, per_sender: usize) {
        while let Some(&first) = self.seen.first() {
            if first.0 >= oldest_fresh && self.seen.len() <= per_sender {
                break;
            }
            self.seen.pop_first();
            self.raise_floor(first);
        }
    }
}

#[derive(Debug)]
pub(super) struct ReplayCache {
    senders: HashMap<String, SenderLog>,
    max_senders: usize,
    per_sender: usize,
    /// Senders not in memory must present a timestamp above this.
    evicted_floor: Option<u32>,
}

impl ReplayCache {
    pub(super) fn new(max_senders: usize, per_sender: usize) -> Self {
        ReplayCache {
            senders: HashMap::new(),
            max_senders: max_senders.max(1),
            per_sender: per_sender.max(1),
            evicted_floor: None,
        }
    }

    pub(super) fn senders(&self) -> usize {
        self.senders.len()
    }

    pub(super) fn pairs(&self) -> usize {
        self.senders.values().map(|l| l.seen.len()).sum()
    }

    /// Records `stamp` for `sender` if it was not accepted before; false for a replay.
    /// `oldest_fresh` is the oldest timestamp still inside the window.
    pub(super) fn admit(&mut self, sender: &str, stamp: Stamp, oldest_fresh: u32) -> bool {
        if let Some(log) = self.senders.get_mut(sender) {
            if log.floor.is_some_and(|f| stamp <= f) || !log.seen.insert(stamp) {
                return false;
            }
            log.forget(oldest_fresh, self.per_sender);
            return true;
        }
        if self.evicted_floor.is_some_and(|f| stamp.0 <= f) {
            return false;
        }
        if self.senders.len() >= self.max_senders {
            self.make_room(oldest_fresh);
        }
        let mut seen = BTreeSet::new();
        seen.insert(stamp);
        self.senders
            .insert(sender.to_owned(), SenderLog { seen, floor: None });
        true
    }

    /// Evicts the senders with nothing fresh; if none, the one whose newest is oldest.
    fn make_room(&mut self, oldest_fresh: u32) {
        let mut floor = self.evicted_floor;
        self.senders.retain(|_, log| {
            let newest = log.newest();
            let stale = newest.is_none_or(|n| n < oldest_fresh);
            if stale {
                floor = floor.max(newest);
            }
            !stale
        });
        if self.senders.len() >= self.max_senders {
            let oldest = self
                .senders
                .iter()
                .min_by_key(|(_, log)| log.newest())
                .map(|(name, log)| (name.clone(), log.newest()));
            if let Some((name, newest)) = oldest {
                self.senders.remove(&name);
                floor = floor.max(newest);
            }
        }
        self.evicted_floor = floor;
    }
}
