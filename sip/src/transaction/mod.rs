//! RFC 3261 section 17 transactions, with the RFC 6026 corrections for 2xx, as sans-IO state
//! machines: each takes an input and `now`, and answers with what to transmit; `poll_timeout`
//! says when it next needs `handle_timeout`. No sockets, no clock, no parsing: requests and
//! responses are opaque `Bytes` plus the status code, so the machines are tested with a fake
//! clock.
//!
//! Matching messages to transactions (17.1.3, 17.2.3) is the caller's job, since it needs the
//! parser.

mod client;
mod server;

pub use client::{Client, ClientState, ClientTimeout};
pub use server::{Completed, Server, ServerState};

use std::time::Duration;

/// RFC 3261 timer values (17.1.1.1, table 4) and the proxy's timer C (16.6 item 11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
    pub timer_c: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_c: Duration::from_secs(180),
        }
    }
}

impl TimerConfig {
    /// 64*T1: timers B, F, H, J, L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}
