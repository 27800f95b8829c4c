//! `[protection]`: the per-source budgets that keep a node answering while the internet leans
//! on it (pike-style rates, a block list with expiry, the deadline of a message on a stream).
//! Shape and defaults only; `validate` checks the ranges.

use crate::defaults as d;
use ipnet::IpNet;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protection {
    /// Off: every source is served, whatever it sends (a lab behind its own firewall).
    pub enabled: bool,
    /// SIP messages (UDP datagrams and messages on streams) one source may send per second.
    pub messages_per_second: u32,
    /// Messages that cannot be parsed (or framed) one source may send per second.
    pub garbage_per_second: u32,
    /// Failed authentications one source may cause per second.
    pub auth_failures_per_second: u32,
    /// New TCP and TLS connections one source may open per second.
    pub connections_per_second: u32,
    /// How long a source that went over a budget is ignored, seconds.
    pub block_seconds: u64,
    /// Seconds an accepted connection has to deliver its first complete message, and any message
    /// once its first byte arrived (slowloris).
    pub message_timeout: u64,
    /// Over UDP, an answer of the node's own (a challenge, an error, an OPTIONS answer) is never
    /// longer than the request it answers: first without optional headers and with one
    /// challenge, else not sent. Off for minimal clients whose requests are shorter than that.
    pub amplification_limit: bool,
    /// Sources never limited, besides the peers of configured zones and the node itself.
    pub exempt: Vec<IpNet>,
    /// Sources counted at once (per second) and blocked at once; memory stays bounded by it.
    pub max_sources: usize,
}

impl Default for Protection {
    fn default() -> Self {
        Protection {
            enabled: true,
            messages_per_second: d::PROTECTION_MESSAGES_PER_SECOND,
            garbage_per_second: d::PROTECTION_GARBAGE_PER_SECOND,
            auth_failures_per_second: d::PROTECTION_AUTH_FAILURES_PER_SECOND,
            connections_per_second: d::PROTECTION_CONNECTIONS_PER_SECOND,
            block_seconds: d::PROTECTION_BLOCK_SECS,
            message_timeout: d::PROTECTION_MESSAGE_TIMEOUT_SECS,
            amplification_limit: true,
            exempt: Vec::new(),
            max_sources: d::PROTECTION_MAX_SOURCES,
        }
    }
}
