//! `[media]`: the media relay of anchored calls (ports, the multiplexed pair on E, inactivity,
//! which calls are anchored). Shapes and defaults only; checks are in `validate`.

use crate::defaults as d;
use crate::types::PortRange;
use serde::Deserialize;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Anchor {
    /// Anchor calls that cross a traversal zone (Expressway's behaviour).
    #[default]
    Traversal,
    /// Anchor every call the node proxies.
    All,
    /// Never anchor (signaling only).
    None,
}

/// What a node does with a call whose media stopped (`inactivity_timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnInactivity {
    /// End the call: a BYE to each side.
    #[default]
    Hangup,
    /// Log it and leave the call up (its relay ports are freed either way).
    Report,
}

/// Which I/O path moves datagrams: the relay's packets (`[media] relay_io`), SIP over UDP
/// (`[sip] udp_io`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
pub enum IoPath {
    /// io_uring where the kernel offers it (Linux 6.1 and later, not forbidden), else epoll.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// io_uring, or the node does not start.
    #[serde(rename = "io_uring")]
    IoUring,
    /// Readiness (epoll) with `recvmmsg`/`sendmmsg`.
    #[serde(rename = "epoll")]
    Epoll,
}

impl IoPath {
    /// The name as written in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            IoPath::Auto => "auto",
            IoPath::IoUring => "io_uring",
            IoPath::Epoll => "epoll",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Media {
    /// RTP on even, RTCP on the next odd port.
    pub ports: PortRange,
    /// On E: where traversal media from C arrives, told apart by C's source port.
    pub multiplexed_ports: PortRange,
    /// On E: traversal media from C arrives on `multiplexed_ports` (true) or on a pair of its
    /// own per stream (false: H.460.19's non-multiplexed mode).
    pub multiplexed: bool,
    /// Seconds without a packet before a relay session ends.
    pub inactivity_timeout: u64,
    pub anchor: Anchor,
    /// The address written into SDP and bound for relaying; the address of the listener that
    /// faces each leg when absent.
    pub address: Option<IpAddr>,
    /// Remove ICE attributes from SDP of anchored calls (the relay is the only candidate).
    pub strip_ice: bool,
    pub max_sessions: usize,
    /// Seconds a latched source must be silent before another source may take its place
    /// (a UA whose NAT mapping changed); 0: never re-latch.
    pub relatch_after: u64,
    /// What happens to a call whose relay session ended for inactivity.
    pub on_inactivity: OnInactivity,
    /// On C: the RTP payload type of traversal media keep-alives (96-127; must not be one the
    /// endpoints use).
    pub keepalive_payload_type: u8,
    /// The relay's I/O path.
    pub relay_io: IoPath,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            ports: d::MEDIA_PORTS,
            multiplexed_ports: d::MEDIA_MULTIPLEXED_PORTS,
            multiplexed: true,
            inactivity_timeout: d::MEDIA_INACTIVITY_TIMEOUT_SECS,
            anchor: Anchor::Traversal,
            address: None,
            strip_ice: true,
            max_sessions: d::MEDIA_MAX_SESSIONS,
            relatch_after: 0,
            on_inactivity: OnInactivity::Hangup,
            keepalive_payload_type: d::MEDIA_KEEPALIVE_PAYLOAD_TYPE,
            relay_io: IoPath::Auto,
        }
    }
}
