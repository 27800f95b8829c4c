//! The RFC 3261 section 16 stateful proxy core, with the registrar and the health-probe answers
//! built in: sans-IO. `Core::on_message` takes one received message and the current time and
//! appends what to send to `out`; `on_timeout` does the same for due timers. The tokio driver
//! (`crate::driver`) owns the sockets and the clock.
//!
//! This module owns the proxy's tables (server and client transactions, proxy contexts, timers)
//! and the decisions of sections 16.3-16.11; it must not do I/O, parse bytes itself (that is
//! `message`) or run transaction timers by hand (that is `transaction`).

mod core;
mod hop;
mod identity;
mod links;
mod register;
mod select;
mod teardown;

#[cfg(test)]
mod tests;

pub use self::core::{AuthSettings, Core, DnsQuery, ProxySettings, ProxyStats};
pub use hop::{hop_for_uri, HopError, NextHop};
pub use identity::{NetEnv, BRANCH_PREFIX};
pub use links::{Link, LinkResponse, ServerZone, LINK_BRANCH_PREFIX, LINK_PARAM};
