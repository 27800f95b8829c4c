//! The node's protection against abusive sources, sans-IO: per-source budgets for messages,
//! unparsable messages, failed authentications and new connections (the "pike" of Kamailio,
//! the "automated protection" of the reference system), and a block list with expiry. A source
//! over any budget is blocked: everything it sends is dropped unanswered until the block ends.
//!
//! Counting is by one-second windows with a sliding estimate (the last window's count weighted
//! by how much of it still overlaps the last second, plus the current one), in two generations
//! of maps: memory is bounded by `max_sources` whatever a flood does (a source met when the
//! current window is full is served uncounted and counted as such). Exempt sources (zone
//! peers, the node itself, `[protection] exempt`) are never counted.
//!
//! This crate owns the decisions only: the transports ask it before they hand anything to a
//! state machine, and the SIP core reports what it found abusive. It touches no socket and no
//! clock (every call takes `now`).

use causeway_config::Protection;
use ipnet::IpNet;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

mod stats;
#[cfg(test)]
mod tests;

pub use stats::{Blocked, GuardStats};

/// The counting window.
const WINDOW: Duration = Duration::from_secs(1);

/// What the guard is told about a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A message arrived from it: a UDP datagram, or one framed from a stream.
    Message,
    /// It opened a TCP or TLS connection.
    Connection,
    /// A state machine learnt something from what it sent.
    Report(Report),
}

/// What a source asks to have handled (the inputs that get a verdict of their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inbound {
    Message,
    Connection,
}

/// What a state machine learnt about a source from what it sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// Not a message of the protocol (unparsable, unframable, or invalid beyond an answer).
    Garbage,
    /// Credentials that did not verify.
    AuthFailure,
    /// A peer of a configured zone proved itself (a traversal link's credentials verified):
    /// it is never limited from now on.
    Peer,
}

/// Which budget a source went over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Messages,
    Garbage,
    AuthFailures,
    Connections,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Reason::Messages,
        Reason::Garbage,
        Reason::AuthFailures,
        Reason::Connections,
    ];

    /// The label in status and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Messages => "messages",
            Reason::Garbage => "garbage",
            Reason::AuthFailures => "auth_failures",
            Reason::Connections => "connections",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The answer to `admit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Drop it unanswered (and close the connection it came on).
    Drop,
}

/// One source's counts in one window.
#[derive(Clone, Copy, Debug, Default)]
struct Counts([u32; 4]);

struct Block {
    until: Instant,
    reason: Reason,
    dropped: u64,
}

/// The guard as the drivers share it (every transport task, the SIP driver, the status).
pub type SharedGuard = std::sync::Arc<std::sync::Mutex<Guard>>;

pub struct Guard {
    enabled: bool,
    limits: [u32; 4],
    block_for: Duration,
    max_sources: usize,
    exempt_nets: Vec<IpNet>,
    exempt_ips: HashSet<IpAddr>,
    window_start: Option<Instant>,
    current: HashMap<IpAddr, Counts>,
    previous: HashMap<IpAddr, Counts>,
    blocked: HashMap<IpAddr, Block>,
    expiries: BinaryHeap<Reverse<(Instant, IpAddr)>>,
    stats: GuardStats,
}

impl Guard {
    pub fn new(p: &Protection) -> Guard {
        let mut limits = [0; 4];
        limits[Reason::Messages.index()] = p.messages_per_second;
        limits[Reason::Garbage.index()] = p.garbage_per_second;
        limits[Reason::AuthFailures.index()] = p.auth_failures_per_second;
        limits[Reason::Connections.index()] = p.connections_per_second;
        Guard {
            enabled: p.enabled,
            limits,
            block_for: Duration::from_secs(p.block_seconds),
            max_sources: p.max_sources.max(1),
            exempt_nets: p.exempt.clone(),
            exempt_ips: HashSet::new(),
            window_start: None,
            current: HashMap::new(),
            previous: HashMap::new(),
            blocked: HashMap::new(),
            expiries: BinaryHeap::new(),
            stats: GuardStats::default(),
        }
    }

    /// Whether any source is limited at all (`[protection] enabled`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// A source never limited: a peer of a configured zone, or an address of the node.
    pub fn exempt(&mut self, ip: IpAddr) {
        self.exempt_ips.insert(canonical(ip));
    }

    pub fn is_exempt(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.exempt_ips.contains(&ip) || self.exempt_nets.iter().any(|n| n.contains(&ip))
    }

    /// The one input verb: a message or a connection gets its verdict (counted; a source this
    /// takes over its budget is blocked, and this one dropped too); a report is counted against
    /// the source's budget (or makes a peer exempt) and passes.
    pub fn handle(&mut self, ip: IpAddr, input: Input, now: Instant) -> Verdict {
        match input {
            Input::Message => self.admit(ip, Inbound::Message, now),
            Input::Connection => self.admit(ip, Inbound::Connection, now),
            Input::Report(r) => {
                self.report(ip, r, now);
                Verdict::Pass
            }
        }
    }

    fn admit(&mut self, ip: IpAddr, what: Inbound, now: Instant) -> Verdict {
        if !self.enabled {
            return Verdict::Pass;
        }
        if self.poll_timeout().is_some_and(|t| t <= now) {
            self.handle_timeout(now);
        }
        let ip = canonical(ip);
        if self.drop_blocked(ip, what, now) {
            return Verdict::Drop;
        }
        if self.is_exempt(ip) {
            return Verdict::Pass;
        }
        let reason = match what {
            Inbound::Message => Reason::Messages,
            Inbound::Connection => Reason::Connections,
        };
        if self.count(ip, reason, now) {
            self.count_drop(what);
            return Verdict::Drop;
        }
        Verdict::Pass
    }

    /// What a state machine learnt about `ip`: abuse counts against the source's budget; a
    /// peer becomes exempt (at most `max_sources` learnt so; configured ones come first).
    fn report(&mut self, ip: IpAddr, report: Report, now: Instant) {
        let ip = canonical(ip);
        let reason = match report {
            Report::Garbage => {
                self.stats.garbage += 1;
                Reason::Garbage
            }
            Report::AuthFailure => {
                self.stats.auth_failures += 1;
                Reason::AuthFailures
            }
            Report::Peer => {
                if self.exempt_ips.len() < self.max_sources {
                    self.exempt_ips.insert(ip);
                }
                self.blocked.remove(&ip);
                return;
            }
        };
        if !self.enabled || self.blocked.contains_key(&ip) || self.is_exempt(ip) {
            return;
        }
        self.count(ip, reason, now);
    }

    /// Whether `ip` is blocked now (a connection of its may be closed).
    pub fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.blocked
            .get(&canonical(ip))
            .is_some_and(|b| b.until > now)
    }

    /// Ends the blocks that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, ip))) = self.expiries.peek().copied() {
            if at > now {
                break;
            }
            self.expiries.pop();
            if self.blocked.get(&ip).is_some_and(|b| b.until <= now) {
                self.blocked.remove(&ip);
            }
        }
    }

    /// When the next block ends.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiries.peek().map(|Reverse((at, _))| *at)
    }

    /// Counters since the start, and the sources blocked now (at most `limit`, longest first).
    pub fn stats(&self) -> &GuardStats {
        &self.stats
    }

    pub fn blocked(&self, now: Instant, limit: usize) -> Vec<Blocked> {
        let mut v: Vec<Blocked> = self
            .blocked
            .iter()
            .filter(|(_, b)| b.until > now)
            .map(|(ip, b)| Blocked {
                source: *ip,
                reason: b.reason,
                remaining: b.until - now,
                dropped: b.dropped,
            })
            .collect();
        v.sort_by(|a, b| b.remaining.cmp(&a.remaining).then(a.source.cmp(&b.source)));
        v.truncate(limit);
        v
    }

    /// Sources blocked now.
    pub fn blocked_count(&self) -> usize {
        self.blocked.len()
    }

    /// Sources counted in the two windows (bounded by twice `max_sources`).
    pub fn tracked(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// `true` (and counted) when `ip` is blocked; ends its block when it is over.
    fn drop_blocked(&mut self, ip: IpAddr, what: Inbound, now: Instant) -> bool {
        let Some(b) = self.blocked.get_mut(&ip) else {
            return false;
        };
        if b.until <= now {
            self.blocked.remove(&ip);
            return false;
        }
        b.dropped += 1;
        self.count_drop(what);
        true
    }

    fn count_drop(&mut self, what: Inbound) {
        match what {
            Inbound::Message => self.stats.dropped_messages += 1,
            Inbound::Connection => self.stats.refused_connections += 1,
        }
    }

    /// One more of `reason` from `ip`; `true` when that blocked it.
    fn count(&mut self, ip: IpAddr, reason: Reason, now: Instant) -> bool {
        let into_window = self.rotate(now);
        let i = reason.index();
        let full = self.current.len() >= self.max_sources;
        let cur = match self.current.get_mut(&ip) {
            Some(c) => c,
            None if full => {
                self.stats.untracked += 1;
                return false;
            }
            None => self.current.entry(ip).or_default(),
        };
        cur.0[i] = cur.0[i].saturating_add(1);
        let cur = cur.0[i];
        let prev = self.previous.get(&ip).map_or(0, |c| c.0[i]);
        // the part of the last window that still lies within the last second
        let overlap = 1.0 - into_window.as_secs_f64() / WINDOW.as_secs_f64();
        let estimate = f64::from(cur) + f64::from(prev) * overlap.max(0.0);
        if estimate <= f64::from(self.limits[i]) {
            return false;
        }
        self.block(ip, reason, now);
        true
    }

    /// Starts a new window when the current one is over; how far `now` is into the window.
    fn rotate(&mut self, now: Instant) -> Duration {
        let start = *self.window_start.get_or_insert(now);
        let Some(into) = now.checked_duration_since(start) else {
            return Duration::ZERO;
        };
        if into < WINDOW {
            return into;
        }
        if into < 2 * WINDOW {
            self.previous = std::mem::take(&mut self.current);
        } else {
            // a quiet second or more: nothing counted is recent any more
            self.previous.clear();
            self.current.clear();
        }
        let start = now - Duration::from_nanos((into.as_nanos() % WINDOW.as_nanos()) as u64);
        self.window_start = Some(start);
        now - start
    }

    fn block(&mut self, ip: IpAddr, reason: Reason, now: Instant) {
        if self.blocked.len() >= self.max_sources {
            self.handle_timeout(now);
            if self.blocked.len() >= self.max_sources {
                self.stats.block_list_full += 1;
                return;
            }
        }
        let until = now + self.block_for;
        self.blocked.insert(
            ip,
            Block {
                until,
                reason,
                dropped: 0,
            },
        );
        self.expiries.push(Reverse((until, ip)));
        self.stats.blocks[reason.index()] += 1;
        self.current.remove(&ip);
        self.previous.remove(&ip);
        tracing::warn!(source = %ip, reason = reason.as_str(), seconds = self.block_for.as_secs(), "source blocked");
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("enabled", &self.enabled)
            .field("limits", &self.limits)
            .field("blocked", &self.blocked.len())
            .field("tracked", &self.tracked())
            .finish_non_exhaustive()
    }
}

/// An IPv4 address seen through an IPv6 socket is the IPv4 source it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
