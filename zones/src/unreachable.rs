//! Next hops that just failed (no answer in time, or the transport could not deliver): a
//! zone with several peers (a remote cluster, or the E's of a traversal zone) tries such a
//! peer last for a while, so calls do not wait out a timeout on a dead peer each time. Any
//! answer from the address clears it.
//!
//! Owns only that memory, bounded. The SIP core (routing reads it, the transaction layer feeds
//! it) and the H.323 service (a callee connection that could not be opened) each keep one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a failed hop is tried last.
const HOLD: Duration = Duration::from_secs(30);

/// Addresses remembered at most (failures past it, with none expired, are not remembered).
const MAX: usize = 1024;

#[derive(Debug, Default)]
pub struct Unreachable {
    since: HashMap<SocketAddr, Instant>,
}

impl Unreachable {
    /// `addr` did not answer, or no connection to it opened: tried last for `HOLD` (not
    /// remembered when `MAX` addresses are, none of them expired).
    pub fn failed(&mut self, addr: SocketAddr, now: Instant) {
        if self.since.len() >= MAX && !self.since.contains_key(&addr) {
            self.since
                .retain(|_, t| now.saturating_duration_since(*t) < HOLD);
            if self.since.len() >= MAX {
                return;
            }
        }
        self.since.insert(addr, now);
    }

    /// `addr` answered (or a connection to it opened): no longer tried last.
    pub fn answered(&mut self, addr: SocketAddr) {
        if !self.since.is_empty() {
            self.since.remove(&addr);
        }
    }

    /// Whether `addr` failed less than `HOLD` ago without answering since.
    pub fn is_down(&self, addr: SocketAddr, now: Instant) -> bool {
        self.since
            .get(&addr)
            .is_some_and(|t| now.saturating_duration_since(*t) < HOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_hop_is_down_until_it_answers_or_the_hold_ends() {
        let mut u = Unreachable::default();
        let a: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let t0 = Instant::now();
        assert!(!u.is_down(a, t0));
        u.failed(a, t0);
        assert!(u.is_down(a, t0 + Duration::from_secs(29)));
        assert!(!u.is_down(a, t0 + HOLD));
        u.failed(a, t0);
        u.answered(a);
        assert!(!u.is_down(a, t0));
    }

    #[test]
    fn it_stays_bounded() {
        let mut u = Unreachable::default();
        let t0 = Instant::now();
        for i in 0..(MAX as u32 + 10) {
            u.failed(SocketAddr::from((i.to_be_bytes(), 5060)), t0);
        }
        assert_eq!(u.since.len(), MAX);
        // once the old ones expired, new failures are remembered again
        let later = t0 + HOLD;
        let fresh: SocketAddr = "198.51.100.9:5060".parse().unwrap();
        u.failed(fresh, later);
        assert!(u.is_down(fresh, later));
        assert_eq!(u.since.len(), 1);
    }
}
