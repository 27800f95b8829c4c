//! `[h323]`: the gatekeeper (RAS) and gatekeeper-routed call signaling (Q.931, H.245). Shapes
//! and defaults only; checks are in `validate`.

use crate::defaults as d;
use crate::types::PortRange;
use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddr};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct H323 {
    /// Off unless asked for: a node that binds 1719/1720 without being told would surprise a
    /// SIP-only deployment (the embedded default configuration turns it on).
    pub enabled: bool,
    /// RAS (UDP). Replies go to the rasAddress the endpoint gave.
    pub ras_listen: SocketAddr,
    /// Call signaling (TCP).
    pub q931_listen: SocketAddr,
    /// Source ports of outbound Q.931/H.245 connections, and the ports of H.245 listeners.
    pub signaling_ports: PortRange,
    /// Largest registration time to live granted, seconds.
    pub time_to_live: u32,
    /// The gatekeeper identifier; `[system] name` when absent.
    pub gatekeeper_id: Option<String>,
    /// Seconds an endpoint whose time to live ran out has to answer the IRQ probe.
    pub probe_timeout: u64,
    pub max_registrations: usize,
    /// Admitted calls (ARQ) and relayed calls at once.
    pub max_calls: usize,
    /// Regexes an alias must match (whole alias) to register; empty: every alias.
    pub registration_allow: Vec<String>,
    /// Regexes of aliases that may not register (checked before the allow list).
    pub registration_deny: Vec<String>,
    /// Seconds a neighbor zone has to answer an LRQ.
    pub locate_timeout: u64,
    /// Seconds a relayed call may take from Setup to Connect.
    pub setup_timeout: u64,
    /// Answer GRQs multicast to 224.0.1.41 (H.225.0 gatekeeper discovery).
    pub multicast_discovery: bool,
    /// The UDP port of multicast discovery.
    pub discovery_port: u16,
    /// E: where traversal clients and H.460.18 endpoints open their H.245 connections.
    pub h46018_port: u16,
    /// E: where assent-mode traversal clients carry Q.931 and H.245.
    pub assent_port: u16,
    /// Seconds an H.235.1 timestamp may differ from our clock (both sides need NTP).
    pub token_skew: u64,
}

impl Default for H323 {
    fn default() -> Self {
        H323 {
            enabled: false,
            ras_listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, d::H323_RAS_PORT)),
            q931_listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, d::H323_Q931_PORT)),
            signaling_ports: d::H323_SIGNALING_PORTS,
            time_to_live: d::H323_TIME_TO_LIVE_SECS,
            gatekeeper_id: None,
            probe_timeout: d::H323_PROBE_TIMEOUT_SECS,
            max_registrations: d::REGISTRAR_MAX_AORS,
            max_calls: d::H323_MAX_CALLS,
            registration_allow: Vec::new(),
            registration_deny: Vec::new(),
            locate_timeout: d::H323_LOCATE_TIMEOUT_SECS,
            setup_timeout: d::H323_SETUP_TIMEOUT_SECS,
            multicast_discovery: false,
            discovery_port: d::H323_DISCOVERY_PORT,
            h46018_port: d::H46018_H245_PORT,
            assent_port: d::ASSENT_SIGNALING_PORT,
            token_skew: d::H235_CLOCK_SKEW_SECS,
        }
    }
}
