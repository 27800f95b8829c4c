//! The router's vocabulary: the question (`RouteRequest`) and the answer (`Route`, `Target`).
//!
//! Plain values only, shared with the SIP and H.323 cores. Must not hold routing logic (that is
//! `router` and `rule`).

use crate::alias::Alias;
use causeway_config::zones::ZoneType;
use std::fmt;

/// The signaling protocol of the request being routed (search rules may be limited to one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Sip,
    H323,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Sip => "SIP",
            Protocol::H323 => "H.323",
        })
    }
}

/// One request to route: what was dialled, and where the call came from.
#[derive(Clone, Copy, Debug)]
pub struct RouteRequest<'a> {
    pub alias: &'a Alias,
    pub protocol: Protocol,
    /// The zone the request arrived from; `LocalZone` for local endpoints.
    pub source_zone: &'a str,
    /// The caller is an endpoint registered here (search rules with `source = "registered"`).
    pub source_registered: bool,
}

/// The kind of zone a target lies in; tells the caller how to reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneKind {
    /// The local registrations: look the alias up in the registrar (SIP) or gatekeeper (H.323).
    Local,
    Neighbor,
    TraversalClient,
    TraversalServer,
    Dns,
}

impl ZoneKind {
    /// The name used in the configuration (`type = "traversal-client"`), `local` for LocalZone.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::Local => "local",
            ZoneKind::Neighbor => ZoneType::Neighbor.as_str(),
            ZoneKind::TraversalClient => ZoneType::TraversalClient.as_str(),
            ZoneKind::TraversalServer => ZoneType::TraversalServer.as_str(),
            ZoneKind::Dns => ZoneType::Dns.as_str(),
        }
    }
}

impl From<ZoneType> for ZoneKind {
    fn from(t: ZoneType) -> ZoneKind {
        match t {
            ZoneType::Neighbor => ZoneKind::Neighbor,
            ZoneType::TraversalClient => ZoneKind::TraversalClient,
            ZoneType::TraversalServer => ZoneKind::TraversalServer,
            ZoneType::Dns => ZoneKind::Dns,
        }
    }
}

impl fmt::Display for ZoneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a call may go next: the alias to ask for in one zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The zone's name (`LocalZone` for the local registrations).
    pub zone: String,
    pub kind: ZoneKind,
    /// The alias after transforms and the rule's pattern behaviour.
    pub alias: Alias,
    /// The search rule that produced this target.
    pub rule: String,
    /// That rule's priority: targets of equal priority were found together.
    pub priority: u16,
}

/// The router's answer: targets to try in order, and a line per transform and search rule
/// saying what it did or why it did not apply (for logs and `causeway check-route`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    pub targets: Vec<Target>,
    pub trace: Vec<String>,
}
