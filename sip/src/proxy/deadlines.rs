//! The proxy core's queue of deadlines: which timer is due next, among hundreds of thousands.
//!
//! Why not a plain binary heap (what this replaced): at 1000 calls/s the core holds about half
//! a million deadlines (every transaction's next timer for 32 s, timer C for 180 s, and the
//! stale entries of timers re-armed earlier), and a heap's `pop` walks from the root to a leaf
//! through cold memory: perf put 12 % of the core's CPU in `BinaryHeap::pop`. But nearly every
//! deadline is `now` plus one of a handful of fixed intervals (T1 doubling up to T2, T4,
//! 64*T1, timer C), and deadlines armed with the same interval come in the order they fall
//! due. So each interval gets a FIFO lane: arming is a push at the back, the next deadline is
//! the smallest of the lanes' fronts, and expiry pops a front. Deadlines that fit no lane (a
//! lane's back is later, or all `LANES` lanes are taken by other intervals) go to a heap, so
//! the order is exact for any input; ties fall to the earlier armed (`seq`), as before.
//!
//! Must not know what a timer means: the core's `timers` module does.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

/// Lanes kept (distinct intervals seen: T1, 2*T1, ... T2, T4, 64*T1, timer C and a few more).
const LANES: usize = 16;

#[derive(Debug)]
struct Lane<T> {
    interval: Duration,
    queue: VecDeque<(Instant, u64, T)>,
}

#[derive(Debug)]
pub struct Deadlines<T> {
    lanes: Vec<Lane<T>>,
    others: BinaryHeap<Reverse<(Instant, u64, T)>>,
    seq: u64,
}

impl<T: Ord + Copy> Default for Deadlines<T> {
    fn default() -> Self {
        Deadlines {
            lanes: Vec::new(),
            others: BinaryHeap::new(),
            seq: 0,
        }
    }
}

/// Where the earliest deadline is.
#[derive(Clone, Copy)]
enum Slot {
    Lane(usize),
    Other,
}

impl<T: Ord + Copy> Deadlines<T> {
    /// `item` falls due at `at`; `now` is when it was armed (its interval picks the lane).
    pub fn arm(&mut self, now: Instant, at: Instant, item: T) {
        self.seq += 1;
        let entry = (at, self.seq, item);
        let interval = at.saturating_duration_since(now);
        let lane = match self.lanes.iter().position(|l| l.interval == interval) {
            Some(i) => Some(i),
            None if self.lanes.len() < LANES => {
                self.lanes.push(Lane {
                    interval,
                    queue: VecDeque::new(),
                });
                Some(self.lanes.len() - 1)
            }
            // a one-off interval (a re-armed deadline, a purge) held its lane only while it
            // had entries: an empty lane takes the new interval
            None => self
                .lanes
                .iter()
                .position(|l| l.queue.is_empty())
                .inspect(|&i| {
                    self.lanes[i].interval = interval;
                }),
        };
        match lane.map(|i| &mut self.lanes[i].queue) {
            Some(q) if q.back().is_none_or(|b| b.0 <= at) => q.push_back(entry),
            _ => self.others.push(Reverse(entry)),
        }
    }

    /// The earliest deadline and its item.
    pub fn peek(&self) -> Option<(Instant, T)> {
        self.earliest().map(|(at, _, item, _)| (at, item))
    }

    /// The earliest item if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        let (at, _, item, slot) = self.earliest()?;
        if at > now {
            return None;
        }
        match slot {
            Slot::Lane(i) => {
                self.lanes[i].queue.pop_front();
            }
            Slot::Other => {
                self.others.pop();
            }
        }
        Some(item)
    }

    /// Entries in the heap (not in a lane).
    #[cfg(test)]
    fn in_heap(&self) -> usize {
        self.others.len()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.others.len() + self.lanes.iter().map(|l| l.queue.len()).sum::<usize>()
    }

    /// Gives back memory after a peak (lanes and heap above four times what they hold).
    pub fn shrink(&mut self) {
        for q in self.lanes.iter_mut().map(|l| &mut l.queue) {
            if q.capacity() > 4 * q.len() + 1024 {
                q.shrink_to(2 * q.len());
            }
        }
        if self.others.capacity() > 4 * self.others.len() + 1024 {
            self.others.shrink_to(2 * self.others.len());
        }
    }

    fn earliest(&self) -> Option<(Instant, u64, T, Slot)> {
        let fronts = self.lanes.iter().enumerate();
        let lanes =
            fronts.filter_map(|(i, l)| l.queue.front().map(|&(a, s, t)| (a, s, t, Slot::Lane(i))));
        let other = self
            .others
            .peek()
            .map(|&Reverse((a, s, t))| (a, s, t, Slot::Other));
        lanes.chain(other).min_by_key(|&(a, s, _, _)| (a, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every item comes out once, in (deadline, arming order) order, whatever the intervals
    /// and however many: the same order a plain heap gives.
    fn drain_in_order(arms: Vec<(i64, i64)>) {
        // far from the clock's origin, so that steps back and deadlines before `now` exist
        let t0 = Instant::now() + Duration::from_secs(100_000);
        let at_ms = |base: Instant, ms: i64| match ms {
            0.. => base + Duration::from_millis(ms.unsigned_abs()),
            _ => base - Duration::from_millis(ms.unsigned_abs()),
        };
        let mut d = Deadlines::default();
        let mut heap = BinaryHeap::new();
        let mut now = t0;
        for (i, &(step, interval)) in arms.iter().enumerate() {
            now = at_ms(now, step);
            let at = at_ms(now, interval);
            d.arm(now, at, i);
            heap.push(Reverse((at, i)));
        }
        assert_eq!(d.len(), arms.len());
        let mut got = Vec::new();
        let end = now + Duration::from_secs(1_000_000);
        while let Some(i) = d.pop_due(end) {
            got.push(i);
        }
        let want: Vec<usize> = std::iter::from_fn(|| heap.pop().map(|Reverse((_, i))| i)).collect();
        assert_eq!(got, want);
        assert_eq!(d.len(), 0);
    }

    proptest! {
        #[test]
        fn same_order_as_a_heap(arms in proptest::collection::vec((0i64..50, 0i64..40), 0..400)) {
            drain_in_order(arms);
        }

        #[test]
        fn same_order_with_few_intervals(arms in proptest::collection::vec((0i64..3, prop_oneof![Just(500i64), Just(4000), Just(32000), Just(1000)]), 0..400)) {
            drain_in_order(arms);
        }

        /// A clock that steps back and deadlines already past when armed (the heap serves
        /// what a lane cannot keep in order).
        #[test]
        fn same_order_with_steps_back_and_past_deadlines(arms in proptest::collection::vec((-20i64..20, -30i64..40), 0..400)) {
            drain_in_order(arms);
        }
    }

    #[test]
    fn one_off_intervals_do_not_keep_their_lanes() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        for i in 0..LANES as u64 {
            d.arm(t0, t0 + Duration::from_millis(1 + i), i);
        }
        while d.pop_due(t0 + Duration::from_secs(1)).is_some() {}
        // every lane is empty and named for an interval not seen again: new intervals reuse
        // them instead of all going to the heap
        for i in 0..100 {
            let now = t0 + Duration::from_millis(i);
            d.arm(now, now + Duration::from_secs(32), i);
            d.arm(now, now + Duration::from_secs(180), i);
        }
        assert_eq!(d.in_heap(), 0);
        assert_eq!(d.len(), 200);
    }

    #[test]
    fn nothing_before_its_time() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        d.arm(t0, t0 + Duration::from_millis(500), 1);
        d.arm(t0, t0 + Duration::from_millis(100), 2);
        assert_eq!(d.peek(), Some((t0 + Duration::from_millis(100), 2)));
        assert_eq!(d.pop_due(t0 + Duration::from_millis(99)), None);
        assert_eq!(d.pop_due(t0 + Duration::from_millis(100)), Some(2));
        assert_eq!(d.pop_due(t0 + Duration::from_millis(499)), None);
        assert_eq!(d.pop_due(t0 + Duration::from_millis(500)), Some(1));
        assert_eq!(d.peek(), None);
    }

    #[test]
    fn a_clock_going_back_still_gives_the_order() {
        // a lane's order relies on `now` moving forward; when it does not, the heap serves
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut d = Deadlines::default();
        d.arm(t0, t0 + Duration::from_secs(1), 1);
        d.arm(t0 - Duration::from_secs(5), t0 - Duration::from_secs(4), 2);
        assert_eq!(d.pop_due(t0 + Duration::from_secs(2)), Some(2));
        assert_eq!(d.pop_due(t0 + Duration::from_secs(2)), Some(1));
    }
}
