//! causeway zones: the protocol-neutral router that turns a destination alias into an ordered
//! list of targets, by transforms, search rules and zones from the configuration.
//!
//! The router sees aliases (a SIP URI's `user@host`, later H.323 IDs and E.164 numbers) and
//! answers with zones to try; it never parses SIP or H.323 and never does I/O (RFC 3263 server
//! location of DNS zones is SIP's: `causeway_sip::dns`). The evaluation
//! order (transforms, then search rules by priority group, with the implicit "registrar domains
//! -> LocalZone" rule at priority 50) is described in `router`.
//!
//! Modules: `alias` (the dialled alias and its text), `pattern` (exact/prefix/suffix/regex
//! matching and rewriting), `rule` (one transform or search rule deciding on one request),
//! `route` (request and answer types), `router` (ordering, grouping, stop/continue), `shared`
//! (the alias table the SIP registrar and the H.323 gatekeeper share), `peers` (the aliases
//! registered on the other peers of the node's cluster, and how to reach those peers), `health`
//! (what probes of a remote cluster's peers found), `unreachable` (next hops that failed
//! lately, tried last).

mod alias;
pub mod health;
mod pattern;
pub mod peers;
mod route;
mod router;
mod rule;
pub mod shared;
mod unreachable;

pub use alias::Alias;
pub use causeway_config::LOCAL_ZONE;
pub use health::{Health, PeerHealth};
pub use peers::{Held, Holder, PeerAliases, PeerInfo};
pub use route::{Protocol, Route, RouteRequest, Target, Trace, ZoneKind};
pub use router::{Router, SearchRecorder};
pub use rule::{LOCAL_DOMAIN_PRIORITY, LOCAL_DOMAIN_RULE};
pub use shared::{Owner, SharedAliases};
pub use unreachable::Unreachable;
