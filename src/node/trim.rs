//! Giving the heap back after a load. glibc keeps the memory a burst of calls freed: measured
//! here, 282 MB of RSS 35 s after 60,000 calls at 2000/s with only tens of MB live, and 46 MB
//! after one `malloc_trim(0)` (BENCHMARKS.md). The node asks for it when the work it holds has
//! fallen to under half of what it held since the last time (transactions, the bulk of the
//! heap): once after a load, never during a steady one (where trimming would only make the
//! next allocations fault their pages in again).
//!
//! Decision only here, from counts and `now` (tested with a fake clock); the call itself is
//! `release`, glibc on Linux, nothing elsewhere.
//!
//! Since the node allocates with mimalloc (`main.rs`), the Rust heap is no longer glibc's and
//! `malloc_trim` only reaches what C code allocated: mimalloc gives freed pages back by itself
//! about a second after they are freed (measured with `bench/cps.sh history`: 24 MB more RSS
//! than at start 35 s after 100,000 calls at 2000/s, where it was 473 MB with glibc).
//! It stays for now (at most one call every 30 s, after a load); a candidate for removal.

use std::time::{Duration, Instant};

/// How often the decision is taken.
const EVERY: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(super) struct Trim {
    next: Instant,
    /// The most transactions seen since the last trim.
    peak: usize,
}

impl Trim {
    pub(super) fn new(now: Instant) -> Trim {
        Trim {
            next: now + EVERY,
            peak: 0,
        }
    }

    /// Whether to give memory back now, with `transactions` live.
    pub(super) fn due(&mut self, transactions: usize, now: Instant) -> bool {
        self.peak = self.peak.max(transactions);
        if now < self.next {
            return false;
        }
        self.next = now + EVERY;
        // a small table is not worth a trim: below this, the heap is a few MB
        let fell = self.peak >= 1000 && transactions * 2 < self.peak;
        if fell {
            self.peak = transactions;
        }
        fell
    }
}

/// `release` on a thread of its own: it took 26 ms after 60,000 calls, which the driver's task
/// (where the decision is taken) must not spend. Rare (at most every `EVERY`), so a thread each.
pub(super) fn release_in_background() {
    let spawned = std::thread::Builder::new()
        .name("heap-trim".into())
        .spawn(|| {
            let took = release();
            tracing::debug!(?took, "heap given back after a load (malloc_trim)");
        });
    if let Err(e) = spawned {
        tracing::debug!("no heap trim: {e}");
    }
}

/// Returns the allocator's free memory to the system; how long it took.
fn release() -> Duration {
    let start = Instant::now();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own arenas under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_a_load_and_never_during_a_steady_one() {
        let t0 = Instant::now();
        let mut t = Trim::new(t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        // steady load: 60,000 transactions for two minutes
        for s in 0..120 {
            assert!(!t.due(60_000, at(s)), "steady at {s} s");
        }
        // the load ends: transactions expire over 32 s; one trim at the next 30 s mark
        let mut trims = Vec::new();
        for s in 120..300 {
            let live = 60_000usize.saturating_sub((s as usize - 120) * 2000);
            if t.due(live, at(s)) {
                trims.push(s);
            }
        }
        assert_eq!(trims, [150]);
        // a node that never had a load never trims
        let mut idle = Trim::new(t0);
        assert!((0..300).all(|s| !idle.due(10, at(s))));
    }
}
