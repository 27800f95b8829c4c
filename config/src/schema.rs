//! The TOML schema: one struct per table, every key documented in the README, every default
//! taken from `defaults`. Unknown keys are errors (a typo must not silently fall back to a
//! default).
//!
//! This module only describes shapes and defaults; cross-field rules are in `validate`, and
//! file reading and error positions in `load`.

use crate::defaults as d;
use crate::types::{ListenAddrs, PortRange, Role, Transport};
use crate::IoPath;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// A whole node configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub system: System,
    #[serde(default)]
    pub sip: Sip,
    #[serde(default)]
    pub registrar: Registrar,
    #[serde(default, rename = "credential")]
    pub credentials: Vec<Credential>,
    #[serde(default)]
    pub log: Log,
    #[serde(default, rename = "zone")]
    pub zones: Vec<crate::zones::Zone>,
    #[serde(default, rename = "transform")]
    pub transforms: Vec<crate::zones::Transform>,
    #[serde(default, rename = "search_rule")]
    pub search_rules: Vec<crate::zones::SearchRule>,
    #[serde(default)]
    pub routing: crate::zones::Routing,
    #[serde(default)]
    pub admin: crate::zones::Admin,
    #[serde(default)]
    pub media: crate::media::Media,
    #[serde(default)]
    pub h323: crate::h323::H323,
    #[serde(default)]
    pub interworking: crate::interworking::Interworking,
    #[serde(default)]
    pub protection: crate::protection::Protection,
    /// Absent: a single node (nothing of the cluster listens).
    #[serde(default)]
    pub cluster: Option<crate::cluster::Cluster>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// System name: appears in logs, Server/User-Agent headers and the self-signed certificate.
    #[serde(default = "default_name")]
    pub name: String,
    pub role: Role,
    /// The SIP domain this node serves; also the default registrar domain.
    pub domain: String,
}

fn default_name() -> String {
    "causeway".to_string()
}

/// One SIP listener as written in the file; `enabled` and `listen` default by transport and role.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerToml {
    pub enabled: Option<bool>,
    pub listen: Option<ListenAddrs>,
}

/// One SIP listener table (`[sip] udp`, `tcp`, `tls` or `mtls`) with its defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The TOML key: `udp`, `tcp`, `tls` or `mtls`.
    pub key: &'static str,
    pub transport: Transport,
    /// A TLS listener that requires a client certificate chaining to `trusted_ca`.
    pub mtls: bool,
    pub enabled: bool,
    pub listen: Vec<SocketAddr>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sip {
    pub udp: ListenerToml,
    pub tcp: ListenerToml,
    pub tls: ListenerToml,
    pub mtls: ListenerToml,
    pub outbound_ports: PortRange,
    pub certificate: Option<PathBuf>,
    pub private_key: Option<PathBuf>,
    pub trusted_ca: Option<PathBuf>,
    /// Seconds an idle TCP/TLS connection is kept.
    pub idle_timeout: u64,
    pub max_message_size: usize,
    pub max_headers: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_transactions: usize,
    /// RFC 3261 T1/T2/T4 in milliseconds and timer C in seconds.
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
    pub timer_c: u64,
    /// Verify the certificates of TLS servers we connect to against `trusted_ca` and the
    /// public roots ("enforce"), or accept any ("permissive").
    pub tls_verify: TlsVerify,
    /// How the UDP listeners move messages: on io_uring with the core on a thread of its own,
    /// or by readiness (epoll) on the runtime's thread.
    pub udp_io: IoPath,
    /// On io_uring: microseconds a wake-up may wait for more datagrams once one is in (fewer
    /// wake-ups under load, at most this much latency added per message; 0: none).
    pub udp_batch_us: u32,
    /// Threads for SIP on io_uring: 1, the core's thread owns the UDP listeners' ring; 2, the
    /// ring has a thread of its own that receives, sends and feeds the call history.
    pub threads: u8,
}

impl Default for Sip {
    fn default() -> Self {
        Sip {
            udp: ListenerToml::default(),
            tcp: ListenerToml::default(),
            tls: ListenerToml::default(),
            mtls: ListenerToml::default(),
            outbound_ports: d::SIP_OUTBOUND_PORTS,
            certificate: None,
            private_key: None,
            trusted_ca: None,
            idle_timeout: d::IDLE_TIMEOUT_SECS,
            max_message_size: d::MAX_MESSAGE_SIZE,
            max_headers: d::MAX_HEADERS,
            max_connections: d::MAX_CONNECTIONS,
            max_connections_per_ip: d::MAX_CONNECTIONS_PER_IP,
            max_transactions: d::MAX_TRANSACTIONS,
            t1_ms: d::SIP_T1_MS,
            t2_ms: d::SIP_T2_MS,
            t4_ms: d::SIP_T4_MS,
            timer_c: d::SIP_TIMER_C_SECS,
            tls_verify: TlsVerify::Permissive,
            udp_io: IoPath::Auto,
            udp_batch_us: d::SIP_UDP_BATCH_US,
            threads: d::SIP_THREADS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsVerify {
    Permissive,
    Enforce,
}

impl Sip {
    /// The four listener tables (udp, tcp, tls, mtls, in the order listeners are reported) with
    /// defaults applied: all interfaces (IPv4 and IPv6) on the port-table port; UDP and TCP are
    /// off by default on an edge node (reference table 001: "SIP UDP disabled by default", "SIP
    /// TCP disabled by default (X8.9.2 and later)"), MTLS is off by default everywhere.
    pub fn listeners(&self, role: Role) -> [Listener; 4] {
        let control = role == Role::Control;
        [
            (
                "udp",
                &self.udp,
                Transport::Udp,
                false,
                d::SIP_UDP_PORT,
                control,
            ),
            (
                "tcp",
                &self.tcp,
                Transport::Tcp,
                false,
                d::SIP_TCP_PORT,
                control,
            ),
            (
                "tls",
                &self.tls,
                Transport::Tls,
                false,
                d::SIP_TLS_PORT,
                true,
            ),
            (
                "mtls",
                &self.mtls,
                Transport::Tls,
                true,
                d::SIP_MTLS_PORT,
                false,
            ),
        ]
        .map(|(key, toml, transport, mtls, port, enabled)| Listener {
            key,
            transport,
            mtls,
            enabled: toml.enabled.unwrap_or(enabled),
            listen: toml
                .listen
                .as_ref()
                .map(|l| l.0.clone())
                .unwrap_or_else(|| all_interfaces(port)),
        })
    }

    /// The listener table named `key` (`udp`, `tcp`, `tls`, `mtls`).
    pub fn listener(&self, key: &str, role: Role) -> Option<Listener> {
        self.listeners(role).into_iter().find(|l| l.key == key)
    }
}

fn all_interfaces(port: u16) -> Vec<SocketAddr> {
    vec![
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
    ]
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Registrar {
    /// Domains this node is registrar for; empty means `[system.domain]`.
    pub domains: Vec<String>,
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_bindings_per_aor: usize,
    pub max_registrations: usize,
    /// Challenge REGISTER with digest authentication (RFC 7616/8760) against `[[credential]]`.
    pub authenticate: bool,
    /// Digest realm; `[system.domain]` when absent.
    pub realm: Option<String>,
    /// Digest algorithms offered, in order of preference.
    pub algorithms: Vec<DigestAlgorithm>,
    pub nonce_lifetime: u64,
    /// RFC 5626 `Flow-Timer` for outbound registrations over UDP, seconds.
    pub flow_timer_udp: u32,
    /// RFC 5626 `Flow-Timer` for outbound registrations over TCP/TLS, seconds.
    pub flow_timer_stream: u32,
}

impl Default for Registrar {
    fn default() -> Self {
        Registrar {
            domains: Vec::new(),
            min_expires: d::REGISTRAR_MIN_EXPIRES,
            max_expires: d::REGISTRAR_MAX_EXPIRES,
            default_expires: d::REGISTRAR_DEFAULT_EXPIRES,
            max_bindings_per_aor: d::REGISTRAR_MAX_BINDINGS_PER_AOR,
            max_registrations: d::REGISTRAR_MAX_AORS,
            authenticate: false,
            realm: None,
            algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            nonce_lifetime: d::DIGEST_NONCE_LIFETIME_SECS,
            flow_timer_udp: d::FLOW_TIMER_UDP_SECS,
            flow_timer_stream: d::FLOW_TIMER_STREAM_SECS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum DigestAlgorithm {
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "MD5")]
    Md5,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// tracing filter, e.g. "info" or "causeway_sip=debug,info"; RUST_LOG overrides it.
    pub level: String,
    /// Human-readable lines, or one JSON object per line for log collectors.
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}
