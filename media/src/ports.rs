//! Relay port pairs: RTP on an even port, RTCP on the next odd one, handed out from the
//! configured media range (default 36000-59999, reference table "Assent RTP/RTCP").
//!
//! It owns only the bookkeeping of which pairs are in use. It never binds a socket (the relay
//! driver does) and never decides when a pair is freed (the session table does).
//!
//! Freed pairs go to the back of a FIFO free list, so a pair just released is the last one to
//! be handed out again: late packets of an ended call then reach a closed port rather than a
//! new call. Both operations are O(1); memory is fixed at construction (one entry per pair).

use causeway_config::PortRange;
use std::collections::VecDeque;
use std::fmt;

/// An RTP/RTCP port pair: `rtp` is even, RTCP is `rtp + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortPair {
    rtp: u16,
}

impl PortPair {
    /// The pair starting at `rtp`; `None` unless `rtp` is even and not 0 (port 0 means "any" to
    /// the kernel, so it can never be a relay port).
    pub const fn new(rtp: u16) -> Option<PortPair> {
        if rtp == 0 || rtp & 1 != 0 {
            None
        } else {
            Some(PortPair { rtp })
        }
    }

    /// The pair a two-port configuration range names (`multiplexed_ports = "36000-36001"`).
    pub fn from_range(range: PortRange) -> Option<PortPair> {
        if range.len() == 2 {
            PortPair::new(range.start)
        } else {
            None
        }
    }

    pub const fn rtp(self) -> u16 {
        self.rtp
    }

    /// Even `rtp` is at most 65534, so this never overflows.
    pub const fn rtcp(self) -> u16 {
        self.rtp + 1
    }

    /// Whether `port` is this pair's RTP or RTCP port.
    pub const fn contains(self, port: u16) -> bool {
        port == self.rtp || port == self.rtp + 1
    }
}

impl fmt::Display for PortPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.rtp, self.rtcp())
    }
}

/// Every pair of the range is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortsExhausted {
    pub capacity: usize,
}

impl fmt::Display for PortsExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all {} media port pairs are in use", self.capacity)
    }
}

impl std::error::Error for PortsExhausted {}

/// Hands out the pairs of one port range.
#[derive(Clone, Debug)]
pub struct PortAllocator {
    /// RTP port of pair index 0 (the first even port of the range).
    first: u16,
    /// Per pair index: handed out and not yet released. Reserved pairs are never in `free`
    /// and never marked here, so they can be neither allocated nor released.
    in_use: Vec<bool>,
    free: VecDeque<u16>,
    capacity: usize,
    used: usize,
}

impl PortAllocator {
    /// The pairs that lie wholly inside `range` (an odd start or a lone last even port is
    /// skipped), less `reserved` (E's multiplexed pair, which the relay binds for itself).
    pub fn new(range: PortRange, reserved: &[PortPair]) -> PortAllocator {
        // First even port at or after start; u32 so that 65535 + 1 cannot wrap.
        let first = u32::from(range.start) + u32::from(range.start & 1);
        let end = u32::from(range.end);
        let count = if first < end {
            // RTP ports first, first + 2, … up to end - 1 (its RTCP port must fit)
            ((end - 1 - first) / 2 + 1) as usize
        } else {
            0
        };
        // A range that starts on 65535 has no pair; `first` is then unused.
        let first = u16::try_from(first).unwrap_or(u16::MAX - 1);
        let mut a = PortAllocator {
            first,
            in_use: vec![false; count],
            free: VecDeque::with_capacity(count),
            capacity: 0,
            used: 0,
        };
        let skip: Vec<usize> = reserved.iter().filter_map(|r| a.index(*r)).collect();
        for i in 0..count {
            if !skip.contains(&i) {
                // i < count <= 32768, so it fits a u16
                a.free.push_back(i as u16);
            }
        }
        a.capacity = a.free.len();
        a
    }

    fn index(&self, pair: PortPair) -> Option<usize> {
        let off = pair.rtp.checked_sub(self.first)?;
        let i = usize::from(off / 2);
        (i < self.in_use.len()).then_some(i)
    }

    /// The least recently released (or never used) pair.
    pub fn allocate(&mut self) -> Result<PortPair, PortsExhausted> {
        let i = self.free.pop_front().ok_or(PortsExhausted {
            capacity: self.capacity(),
        })?;
        self.in_use[usize::from(i)] = true;
        self.used += 1;
        Ok(PortPair {
            rtp: self.first + 2 * i,
        })
    }

    /// Gives a pair back. Releasing a pair twice, a reserved pair or one outside the range does
    /// nothing; returns whether the pair was in use.
    pub fn release(&mut self, pair: PortPair) -> bool {
        let Some(i) = self.index(pair) else {
            return false;
        };
        if !self.in_use[i] {
            return false;
        }
        self.in_use[i] = false;
        self.used -= 1;
        // i < in_use.len() <= 32768
        self.free.push_back(i as u16);
        true
    }

    pub fn is_in_use(&self, pair: PortPair) -> bool {
        self.index(pair).is_some_and(|i| self.in_use[i])
    }

    pub fn in_use(&self) -> usize {
        self.used
    }

    /// Pairs that can be handed out at once (reserved pairs excluded).
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_config::defaults::MEDIA_PORTS;
    use proptest::prelude::*;

    fn range(start: u16, end: u16) -> PortRange {
        PortRange { start, end }
    }

    #[test]
    fn default_range_has_12000_pairs_less_the_multiplexed_one() {
        let mux = PortPair::new(36000).unwrap();
        let a = PortAllocator::new(MEDIA_PORTS, &[mux]);
        assert_eq!(a.capacity(), 11_999);
        let b = PortAllocator::new(MEDIA_PORTS, &[]);
        assert_eq!(b.capacity(), 12_000);
    }

    #[test]
    fn rtp_even_rtcp_next_odd() {
        let mut a = PortAllocator::new(range(36000, 36009), &[]);
        let p = a.allocate().unwrap();
        assert_eq!((p.rtp(), p.rtcp()), (36000, 36001));
        assert_eq!(p.to_string(), "36000/36001");
        assert_eq!(PortPair::new(36001), None);
        assert_eq!(PortPair::new(0), None);
        assert_eq!(PortPair::new(65534).map(|p| p.rtcp()), Some(65535));
    }

    #[test]
    fn reserved_multiplexed_pair_is_never_handed_out() {
        let mux = PortPair::new(36000).unwrap();
        let mut a = PortAllocator::new(range(36000, 36005), &[mux]);
        let got: Vec<u16> = std::iter::from_fn(|| a.allocate().ok().map(|p| p.rtp())).collect();
        assert_eq!(got, vec![36002, 36004]);
        // and releasing it does not smuggle it into the free list
        assert!(!a.release(mux));
        assert!(a.allocate().is_err());
    }

    #[test]
    fn odd_start_and_lone_last_port_are_skipped() {
        let mut a = PortAllocator::new(range(36001, 36006), &[]);
        assert_eq!(a.capacity(), 2); // 36002/3, 36004/5; 36006 has no RTCP port
        assert_eq!(a.allocate().unwrap().rtp(), 36002);
        assert_eq!(a.allocate().unwrap().rtp(), 36004);
        assert_eq!(a.allocate(), Err(PortsExhausted { capacity: 2 }));
        // the top of the port space
        let mut top = PortAllocator::new(range(65534, 65535), &[]);
        assert_eq!(top.allocate().unwrap().rtcp(), 65535);
        assert_eq!(PortAllocator::new(range(65535, 65535), &[]).capacity(), 0);
        assert_eq!(PortAllocator::new(range(5000, 5000), &[]).capacity(), 0);
    }

    #[test]
    fn exhaustion_is_an_error_and_release_makes_room() {
        let mut a = PortAllocator::new(range(40000, 40003), &[]);
        let p1 = a.allocate().unwrap();
        let _p2 = a.allocate().unwrap();
        let err = a.allocate().unwrap_err();
        assert_eq!(err.to_string(), "all 2 media port pairs are in use");
        assert!(a.release(p1));
        assert_eq!(a.allocate(), Ok(p1));
    }

    #[test]
    fn a_released_pair_goes_to_the_back_of_the_queue() {
        let mut a = PortAllocator::new(range(40000, 40007), &[]);
        let p1 = a.allocate().unwrap();
        a.release(p1);
        let next: Vec<u16> = (0..4).map(|_| a.allocate().unwrap().rtp()).collect();
        assert_eq!(next, vec![40002, 40004, 40006, 40000]);
    }

    #[test]
    fn double_and_foreign_release_are_harmless() {
        let mut a = PortAllocator::new(range(40000, 40007), &[]);
        let p = a.allocate().unwrap();
        assert!(a.release(p));
        assert!(!a.release(p));
        assert!(!a.release(PortPair::new(50000).unwrap()));
        assert!(!a.release(PortPair::new(30000).unwrap()));
        assert_eq!(a.in_use(), 0);
        // the pair is in the free list exactly once: four allocations, then exhaustion
        for _ in 0..4 {
            a.allocate().unwrap();
        }
        assert!(a.allocate().is_err());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Allocate,
        /// Release the n-th pair in use (modulo their number).
        ReleaseHeld(usize),
        /// Release any even port: in use, free, reserved or outside the range.
        ReleaseAny(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => Just(Op::Allocate),
            1 => any::<usize>().prop_map(Op::ReleaseHeld),
            1 => (14999..15030u16).prop_map(|p| Op::ReleaseAny(p * 2)),
        ]
    }

    proptest! {
        /// Allocate/release sequences (with double and foreign releases) against a model set:
        /// a pair is never handed out twice while in use, the counts agree, and every pair is
        /// even/odd inside the range and not the reserved one.
        #[test]
        fn pairs_stay_unique_and_counts_consistent(
            start in 30000..30010u16,
            len in 0..40u16,
            reserve in any::<bool>(),
            ops in prop::collection::vec(op(), 1..300),
        ) {
            let r = range(start, start + len);
            let reserved: Vec<PortPair> =
                PortPair::new((start + 1) & !1).filter(|_| reserve).into_iter().collect();
            let mut a = PortAllocator::new(r, &reserved);
            let mut model: Vec<PortPair> = Vec::new();
            for op in ops {
                match op {
                    Op::Allocate => match a.allocate() {
                        Ok(p) => {
                            prop_assert!(r.contains(p.rtp()) && r.contains(p.rtcp()));
                            prop_assert_eq!(p.rtp() % 2, 0);
                            prop_assert!(!reserved.contains(&p));
                            prop_assert!(!model.contains(&p), "{} handed out twice", p);
                            model.push(p);
                        }
                        Err(e) => prop_assert_eq!(model.len(), e.capacity),
                    },
                    Op::ReleaseHeld(n) => {
                        if !model.is_empty() {
                            let p = model.swap_remove(n % model.len());
                            prop_assert!(a.release(p));
                        }
                    }
                    Op::ReleaseAny(port) => {
                        let p = PortPair::new(port).unwrap();
                        let held = model.iter().position(|m| *m == p);
                        prop_assert_eq!(a.release(p), held.is_some());
                        if let Some(i) = held {
                            model.swap_remove(i);
                        }
                    }
                }
                prop_assert_eq!(a.in_use(), model.len());
                prop_assert!(a.in_use() <= a.capacity());
            }
        }
    }
}
