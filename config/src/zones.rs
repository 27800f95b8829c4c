//! The routing tables of the configuration: `[[zone]]`, `[[transform]]`, `[[search_rule]]` and
//! `[routing]`. Shapes and defaults only; cross-field rules (unique names, targets that exist,
//! valid regexes) are in `validate`.

use crate::defaults as d;
use crate::types::Transport;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// One zone. The local zone (registrations) is implicit and named `LocalZone`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ZoneType,
    /// neighbor: `host[:port]`; traversal-client: E's host name or IP.
    pub peer: Option<String>,
    /// Instead of `peer`, the peers of a remote cluster (at most six), `host[:port]` each.
    /// neighbor: tried one after the other, a peer that just failed last. traversal-client:
    /// E's peers (the port defaults to `sip_port`), a link to each; calls go down the link of
    /// the peer with the most free media sessions, the next link only when no answer came.
    #[serde(default)]
    pub peers: Vec<String>,
    /// neighbor: udp (default), tcp or tls; traversal zones: tls (default) or tcp.
    pub transport: Option<Transport>,
    /// neighbor: the H.323 RAS port of the peer gatekeeper (LRQs go there); 1719 when absent.
    pub ras_port: Option<u16>,
    /// Traversal zones: the SIP port of E's traversal server zone (7001, 7002, …).
    pub sip_port: Option<u16>,
    /// traversal-client: the credentials presented to E; traversal-server: which credential
    /// (from `[[credential]]`) the client must present.
    pub username: Option<String>,
    pub password: Option<String>,
    /// traversal-client over TLS: `permissive` (default) or `enforce`.
    pub tls_verify: Option<crate::TlsVerify>,
    /// traversal-client, enforce: CA file E's certificate must chain to (else `sip.trusted_ca`).
    pub ca: Option<PathBuf>,
    /// traversal-client, enforce: the name E's certificate must carry (else `peer`).
    pub peer_name: Option<String>,
    /// traversal-client: present the node's certificate to E (MTLS).
    #[serde(default)]
    pub client_certificate: bool,
    /// traversal-client: RFC 5626 CRLF keep-alive interval, seconds.
    pub keepalive_interval: Option<u64>,
    /// traversal-client: registration lifetime asked of E, seconds (refreshed at half).
    pub registration_expires: Option<u32>,
    /// traversal-client: first reconnect delay and the largest delay between attempts, seconds.
    pub retry_first: Option<u64>,
    pub retry_max: Option<u64>,
    /// traversal-server: address the zone listens on (all interfaces when absent).
    pub listen_ip: Option<std::net::IpAddr>,
    /// traversal-server over TLS: require a client certificate that chains to
    /// `sip.trusted_ca` (MTLS) before the link's REGISTER is even read.
    #[serde(default)]
    pub mtls: bool,
    /// dns: nameservers to ask (system resolvers when empty).
    #[serde(default)]
    pub nameservers: Vec<SocketAddr>,
    /// Traversal zones: the zone carries H.323 as well as SIP (default: `[h323] enabled`).
    pub h323: Option<bool>,
    /// Traversal zones: UDP port of E's zone for the traversal RAS flow (server: 6001 for the
    /// first traversal-server zone, 6002, …; client: required when the zone carries H.323).
    pub h323_port: Option<u16>,
    /// Traversal zones: `h46018` (default) or `assent`.
    pub h323_mode: Option<H323Mode>,
    /// traversal-client: seconds between keep-alives of the RAS flow (5..=30, default 19).
    pub h323_keepalive_interval: Option<u64>,
}

/// How a traversal zone carries H.323 (reference tables "H.460.18/19" and "Assent").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum H323Mode {
    /// H.460.18 signaling traversal and H.460.19 media traversal: Q.931 to E's 1720, H.245 to
    /// E's 2777.
    #[default]
    H46018,
    /// causeway's own wire format on the reference layout: Q.931 and H.245 to E's 2776.
    Assent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneType {
    Neighbor,
    TraversalClient,
    TraversalServer,
    Dns,
}

impl ZoneType {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneType::Neighbor => "neighbor",
            ZoneType::TraversalClient => "traversal-client",
            ZoneType::TraversalServer => "traversal-server",
            ZoneType::Dns => "dns",
        }
    }
}

/// The most peers a neighbor zone lists (a cluster's size).
pub const MAX_ZONE_PEERS: usize = 6;

impl Zone {
    /// A peer entry `host[:port]` as host and port (`[v6]:port` and a bare IPv6 address too).
    pub fn split_peer(p: &str) -> (&str, Option<u16>) {
        if let Ok(sa) = p.parse::<std::net::SocketAddr>() {
            let host = p.rsplit_once(':').map(|(h, _)| h).unwrap_or(p);
            return (
                host.trim_start_matches('[').trim_end_matches(']'),
                Some(sa.port()),
            );
        }
        match p.rsplit_once(':') {
            Some((h, port)) if !h.contains(':') => (h, port.parse().ok()),
            _ => (p.trim_start_matches('[').trim_end_matches(']'), None),
        }
    }

    /// The zone's peers in order: `peers`, or the one `peer`.
    pub fn peer_list(&self) -> Vec<&str> {
        if self.peers.is_empty() {
            self.peer.as_deref().into_iter().collect()
        } else {
            self.peers.iter().map(String::as_str).collect()
        }
    }

    pub fn transport(&self) -> Transport {
        self.transport.unwrap_or(match self.kind {
            ZoneType::Neighbor | ZoneType::Dns => Transport::Udp,
            ZoneType::TraversalClient | ZoneType::TraversalServer => Transport::Tls,
        })
    }
    pub fn keepalive_interval(&self) -> u64 {
        self.keepalive_interval
            .unwrap_or(d::TRAVERSAL_KEEPALIVE_SECS)
    }
    pub fn registration_expires(&self) -> u32 {
        self.registration_expires
            .unwrap_or(d::TRAVERSAL_REGISTRATION_EXPIRES)
    }
    pub fn retry_first(&self) -> u64 {
        self.retry_first.unwrap_or(d::TRAVERSAL_RETRY_FIRST_SECS)
    }
    pub fn retry_max(&self) -> u64 {
        self.retry_max.unwrap_or(d::TRAVERSAL_RETRY_MAX_SECS)
    }
    /// Whether the zone carries H.323 (`h323`, else `[h323] enabled`).
    pub fn carries_h323(&self, h323_enabled: bool) -> bool {
        matches!(
            self.kind,
            ZoneType::TraversalClient | ZoneType::TraversalServer
        ) && self.h323.unwrap_or(h323_enabled)
    }
    pub fn h323_mode(&self) -> H323Mode {
        self.h323_mode.unwrap_or_default()
    }
    pub fn h323_keepalive_interval(&self) -> u64 {
        self.h323_keepalive_interval
            .unwrap_or(d::H46018_KEEPALIVE_SECS)
    }
    pub fn tls_verify(&self) -> crate::TlsVerify {
        self.tls_verify.unwrap_or(crate::TlsVerify::Permissive)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatternType {
    Exact,
    Prefix,
    Suffix,
    Regex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PatternBehavior {
    #[default]
    Leave,
    Strip,
    Replace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnMatch {
    #[default]
    Stop,
    Continue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolFilter {
    #[default]
    Any,
    Sip,
    H323,
}

/// A rewrite of the dialled alias, applied before the search rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    #[serde(default = "default_priority")]
    pub priority: u16,
    pub pattern_type: PatternType,
    pub pattern: String,
    /// exact/prefix/suffix: the text that replaces the matched part; regex: the replacement,
    /// with `\1`…`\9` for capture groups.
    #[serde(default)]
    pub replace: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRule {
    pub name: String,
    #[serde(default = "default_priority")]
    pub priority: u16,
    #[serde(default)]
    pub protocol: ProtocolFilter,
    /// "any", "registered" (only endpoints registered here), or a zone name.
    #[serde(default = "default_source")]
    pub source: String,
    pub pattern_type: PatternType,
    pub pattern: String,
    #[serde(default)]
    pub pattern_behavior: PatternBehavior,
    #[serde(default)]
    pub replace: String,
    #[serde(default)]
    pub on_match: OnMatch,
    /// A zone name, or `LocalZone`.
    pub target: String,
}

fn default_priority() -> u16 {
    d::SEARCH_RULE_PRIORITY
}

fn default_source() -> String {
    "any".to_string()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// Hops a request may take through zones (loop stop).
    pub hop_limit: u32,
    /// Add the implicit rule "registrar domains -> LocalZone" at priority 50 (on by default,
    /// so a standalone node routes its own domain without any rule).
    pub local_domain_rule: bool,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            hop_limit: d::HOP_LIMIT,
            local_domain_rule: true,
        }
    }
}

/// The status/admin listener: the status page and JSON, read by `causeway status`. Loopback
/// and plain HTTP by default; anywhere else only over TLS and with users (`validate`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    pub enabled: bool,
    pub listen: SocketAddr,
    /// HTTPS with the node's SIP certificate (configured or self-signed).
    pub tls: bool,
    /// Who may read it (HTTP Basic); none: anyone who reaches the listener.
    pub users: Vec<AdminUser>,
    /// Calls kept with their message ladder; 0: no call history.
    pub call_history: usize,
    /// The most bytes the kept calls may take (messages, their text and bookkeeping).
    pub call_history_bytes: usize,
    /// Routing decisions kept; 0: no search history.
    pub search_history: usize,
}

/// One `[[admin.users]]` entry: a name and an argon2 PHC string (`causeway hash-password`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUser {
    pub name: String,
    pub password_hash: String,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            enabled: true,
            listen: d::ADMIN_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 7080))),
            tls: false,
            users: Vec::new(),
            call_history: d::CALL_HISTORY,
            call_history_bytes: d::CALL_HISTORY_BYTES,
            search_history: d::SEARCH_HISTORY,
        }
    }
}
