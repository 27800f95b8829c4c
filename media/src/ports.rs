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
mod tests;
