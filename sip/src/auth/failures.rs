//! Failed authentication attempts counted per source address, for whoever rate-limits on them
//! (the protection against scanners and guessing): a recent window, bounded in memory.
//!
//! Two generations of counts: new failures go to the current one, and when it holds half the
//! capacity of addresses it becomes the previous one and a fresh one starts. An address's count
//! is the sum of both, so it covers the last one to two generations of failures; memory never
//! exceeds the capacity, however many addresses a flood uses. Pure: no clock, no I/O.

use std::collections::HashMap;
use std::net::IpAddr;

pub struct AuthFailures {
    current: HashMap<IpAddr, u32>,
    previous: HashMap<IpAddr, u32>,
    cap: usize,
    total: u64,
}

impl AuthFailures {
    /// At most `cap` addresses remembered (at least 2).
    pub fn new(cap: usize) -> AuthFailures {
        AuthFailures {
            current: HashMap::new(),
            previous: HashMap::new(),
            cap: cap.max(2),
            total: 0,
        }
    }

    /// One more failure from `ip`; its count in the window.
    pub fn record(&mut self, ip: IpAddr) -> u32 {
        self.total += 1;
        if !self.current.contains_key(&ip) && self.current.len() >= self.cap / 2 {
            self.previous = std::mem::take(&mut self.current);
        }
        let n = self.current.entry(ip).or_insert(0);
        *n = n.saturating_add(1);
        self.count(ip)
    }

    /// Failures from `ip` in the window.
    pub fn count(&self, ip: IpAddr) -> u32 {
        let get = |m: &HashMap<IpAddr, u32>| m.get(&ip).copied().unwrap_or(0);
        get(&self.current).saturating_add(get(&self.previous))
    }

    /// Failures from everyone since the start.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Addresses remembered now.
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
