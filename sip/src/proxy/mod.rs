//! The RFC 3261 section 16 stateful proxy core, with the registrar and the health-probe answers
//! built in: sans-IO, in the quinn-proto mould. [`Core`] is fed [`Event`]s with the current
//! time (`Machine::handle`), runs its timers when asked (`Machine::handle_timeout`, at
//! `Machine::poll_timeout`) and appends what to do to a `Vec<Output>`: messages to send, DNS
//! lookups, connection aliases, link messages for the traversal layer, commands for the media
//! relay. The tokio driver (`crate::driver`) owns the sockets and the clock.
//!
//! Rooms, by RFC 3261 section 16 step:
//! - `io`: the shapes that cross the boundary (`Event`, `Output`, `Transmit`, `Received`);
//! - `core`: the tables and the dispatch of inputs;
//! - `plan` (16.3-16.5, pure: a request and the tables in, a `RoutePlan` out) and `targets`
//!   (16.5 for what the zones router answers), with `interworking` (local aliases of H.323
//!   endpoints to the node's SIP <-> H.323 gateway) and `cluster` (aliases registered on
//!   the other peers of the node's cluster, to those peers);
//! - `forward` (16.6, 16.10, 16.11: branches, CANCEL, stateless ACK);
//! - `response` (16.7: responses, the best one, the final answer);
//! - `local` (answers the node gives itself) and `register` (REGISTER to the registrar);
//! - `timers` (transaction timers, timer C, the registrar's purge) and `deadlines` (which of
//!   them is due next: a FIFO lane per interval);
//! - `anchoring` (the relay's view of INVITEs and answers; hanging up dead calls, `teardown`);
//! - `reconfigure` (a reload's new dial plan, registrar policy and credentials);
//! - `links` (the traversal links as routing sees them), `flows` (RFC 5626 flow tokens of UAs'
//!   flows) and `nat` (what a request says about a NAT in front of its sender), `hop`,
//!   `identity`, `select`, `tables`, `probe` (OPTIONS to a remote cluster's peers, and the
//!   load they answer with); hops that just failed are tried last (`causeway_zones`'
//!   `Unreachable`);
//! - `done`: what is left of finished transactions for the 32 s they answer retransmissions
//!   (non-INVITE ones until timer J, INVITEs answered 2xx until timer L), as compact records
//!   in a log instead of transactions.
//!
//! Must not do I/O, read a clock or the global RNG, parse bytes itself (that is `message`) or
//! run transaction timers by hand (that is `transaction`).

mod anchoring;
mod cluster;
mod core;
mod counters;
mod deadlines;
mod done;
mod flows;
mod forward;
mod hop;
mod identity;
mod interworking;
mod io;
mod links;
mod local;
mod nat;
mod plan;
mod probe;
mod reconfigure;
mod register;
mod response;
mod select;
mod tables;
mod targets;
mod teardown;
mod timers;

#[cfg(test)]
mod tests;

pub use self::core::{AuthSettings, Core, ProxySettings, ProxyStats};
pub use cluster::ClusterPeers;
pub use counters::{Counters, METHODS};
pub use flows::{FlowTokens, FLOW_PARAM};
pub use hop::{hop_for_uri, HopError, NextHop};
pub use identity::{NetEnv, BRANCH_PREFIX};
pub use interworking::Interworking;
pub use io::{
    ConnId, DnsQuery, Event, Flow, LinkEvent, LinkOutput, Machine, Output, Received, Report,
    Transmit, WallClock,
};
pub use links::{link_name, Link, LinkResponse, ServerZone, LINK_BRANCH_PREFIX, LINK_PARAM};
pub use probe::{Load, LoadHandle, LOAD_HEADER};
pub use reconfigure::Policy;
