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

/// T1, T2 and T4 as a transaction machine keeps them: whole milliseconds in 12 bytes, not a
/// `TimerConfig`'s 64. Finished transactions are kept 32 s, 100,000s of them under load.
/// RFC 3261 timers are whole milliseconds; one longer than 49 days saturates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timers {
    t1: u32,
    t2: u32,
    t4: u32,
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Whole milliseconds as a duration.
pub(crate) fn ms(m: u32) -> Duration {
    Duration::from_millis(m.into())
}

impl Timers {
    pub fn of(c: &TimerConfig) -> Timers {
        Timers {
            t1: millis(c.t1),
            t2: millis(c.t2),
            t4: millis(c.t4),
        }
    }

    pub fn t1_ms(&self) -> u32 {
        self.t1
    }

    pub fn t2_ms(&self) -> u32 {
        self.t2
    }

    pub fn t1(&self) -> Duration {
        ms(self.t1)
    }

    pub fn t4(&self) -> Duration {
        ms(self.t4)
    }

    /// 64*T1: timers B, F, H, J, L, M.
    pub fn t1x64(&self) -> Duration {
        self.t1() * 64
    }
}
