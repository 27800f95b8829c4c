//! What the guard tells the operator: counters since the start and the sources blocked now.

use crate::Reason;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// Messages dropped because their source was blocked (or went over a budget with them).
    pub dropped_messages: u64,
    /// Connections refused for the same reason.
    pub refused_connections: u64,
    /// Blocks started, by the budget that was exceeded (`Reason` order).
    pub blocks: [u64; 4],
    /// Unparsable messages and failed authentications reported, exempt sources included.
    pub garbage: u64,
    pub auth_failures: u64,
    /// Messages or connections served uncounted because the window held `max_sources` already.
    pub untracked: u64,
    /// Blocks not started because the block list was full.
    pub block_list_full: u64,
}

impl GuardStats {
    pub fn blocks_for(&self, reason: Reason) -> u64 {
        self.blocks[reason as usize]
    }

    pub fn blocks_total(&self) -> u64 {
        self.blocks.iter().sum()
    }
}

/// A source blocked now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub source: IpAddr,
    pub reason: Reason,
    pub remaining: Duration,
    /// What it sent since the block began, dropped.
    pub dropped: u64,
}
