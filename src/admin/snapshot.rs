//! The node status served to `causeway status`: its JSON shape, and how a snapshot is filled
//! from the parts of a running node (the SIP proxy with its traversal links, the H.323
//! gatekeeper's snapshot, the media relay's counters).
//!
//! Reads those parts, never changes them.

mod directory;

use causeway_media::relay::RelayHandle;
use causeway_sip::proxy::{WallClock, METHODS};
use causeway_sip::transport::TransportStats;
use causeway_traversal::{LinkStatus, LinkedProxy};
pub use directory::{ClusterDirectory, PeerLoad};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

#[derive(Clone, Debug, Default, Serialize)]
pub struct ZoneStatus {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// What the zone points at: a peer, a port, nameservers.
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Registration {
    pub aor: String,
    pub contact: String,
    pub expires_in: u64,
    /// The flow requests take instead of the Contact (a UA behind NAT, RFC 5626 outbound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    pub system: String,
    pub role: String,
    pub version: String,
    /// Unix seconds of this snapshot.
    pub time: u64,
    pub zones: Vec<ZoneStatus>,
    pub links: Vec<LinkStatus>,
    pub registrations: Vec<Registration>,
    /// The media relay, when the node anchors calls.
    pub media: Option<MediaStatus>,
    /// The gatekeeper and H.323 call signaling, when `[h323] enabled`.
    pub h323: Option<H323Status>,
    /// The SIP <-> H.323 interworking gateway, when it runs.
    pub interworking: Option<InterworkingStatus>,
    /// What the SIP side counted (the metrics endpoint renders these).
    pub sip: SipCounters,
    /// What needs an operator now (`alarms`), most severe first.
    pub alarms: Vec<Alarm>,
    /// The admin listener's own counters.
    pub admin: AdminStatus,
    /// `[protection]`: who is blocked now and what was dropped.
    pub protection: ProtectionStatus,
    /// This peer's view of its cluster, when `[cluster]` is configured.
    pub cluster: Option<causeway_cluster::ClusterStatus>,
    /// Who is registered on the other peers of the cluster, and the cluster totals.
    pub directory: Option<ClusterDirectory>,
}

/// The guard's view: its counters since start and the sources blocked now.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProtectionStatus {
    pub enabled: bool,
    /// Blocks started since start, by the budget exceeded (messages, garbage, auth_failures,
    /// connections).
    pub blocks: BTreeMap<String, u64>,
    pub blocked_now: usize,
    /// Messages dropped unanswered from blocked sources, connections refused, connections
    /// closed because a message came too slowly.
    pub dropped_messages: u64,
    pub refused_connections: u64,
    pub slow_messages: u64,
    /// Messages not sent because their destination is blocked (answers its transactions from
    /// before the block would still have sent).
    pub withheld: u64,
    /// Unparsable messages and failed authentications the guard was told of.
    pub garbage: u64,
    pub auth_failures: u64,
    /// Sources counted in the current and last second.
    pub tracked_sources: usize,
    /// Served uncounted because `max_sources` were counted already.
    pub untracked: u64,
    /// The sources blocked now, longest remaining first (at most 100).
    pub blocked: Vec<BlockedSource>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BlockedSource {
    pub source: String,
    pub reason: String,
    pub remaining_s: u64,
    pub dropped: u64,
}

/// The SIP proxy's and transport's counters since start, and its gauges now.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SipCounters {
    /// Requests received, by method (`other` for the rest).
    pub requests: BTreeMap<String, u64>,
    /// Responses received, by class (`1xx` … `6xx`).
    pub responses: BTreeMap<String, u64>,
    pub calls_answered: u64,
    pub calls_cancelled: u64,
    pub calls_failed: u64,
    /// Established calls whose media the node anchors.
    pub calls_anchored: usize,
    pub transactions: usize,
    /// Addresses of record with at least one binding.
    pub registered_aors: usize,
    pub dns_lookups: u64,
    pub dns_failures: u64,
    /// Datagrams or frames that did not parse as SIP (dropped) and requests refused as
    /// malformed (answered 4xx).
    pub unparsable: u64,
    pub bad_frames: u64,
    pub rejected: u64,
    pub auth_failures: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub dropped_datagrams: u64,
    pub stun_answered: u64,
    /// How the UDP listeners move messages: "io_uring" or "epoll" (`[sip] udp_io`).
    pub udp_io: &'static str,
    /// SIP's threads: 2 when the UDP ring runs on a thread of its own (`[sip] threads`).
    pub threads: u8,
}

/// One condition that needs an operator: a link down, the media ports running out, the
/// certificate about to expire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alarm {
    pub severity: Severity,
    pub text: String,
    /// Unix seconds since when the condition holds (0 when unknown).
    pub since: u64,
}

/// Ordered: the most severe sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct AdminStatus {
    /// Requests with a wrong user name or password.
    pub auth_failures: u64,
    /// Requests refused (429) after too many wrong passwords from their address.
    pub rate_limited: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct H323Registration {
    pub endpoint_id: String,
    pub aliases: Vec<String>,
    pub ras: String,
    pub call_signal: Vec<String>,
    pub expires_in: u64,
    pub probing: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct H323Call {
    pub id: u64,
    pub caller: String,
    pub called: String,
    pub callee: Option<String>,
    pub state: String,
    pub h245: String,
}

/// The interworking gateway's counters since start and its calls now, each with both legs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InterworkingStatus {
    pub calls_from_sip: u64,
    pub calls_from_h323: u64,
    pub answered: u64,
    pub failed: u64,
    pub malformed: u64,
    pub refused: u64,
    pub calls: Vec<InterworkedCall>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct InterworkedCall {
    /// `sip` or `h323`: the protocol that placed the call.
    pub origin: String,
    pub state: String,
    /// The SIP leg's Call-ID.
    pub sip_call_id: String,
    /// The H.323 leg's callIdentifier (hex).
    pub h323_call_id: String,
    pub caller: String,
    pub callee: String,
    pub seconds: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct H323Status {
    pub registrations: Vec<H323Registration>,
    pub calls: Vec<H323Call>,
    /// Calls admitted by ARQ and not yet disengaged.
    pub admitted_calls: usize,
    /// Their bandwidth (what the ARQs and BRQs asked), kbit/s.
    pub admitted_kbps: u64,
    /// Setups received since start.
    pub calls_total: u64,
    /// RAS messages received, by type (GRQ, RRQ, ARQ, ...).
    pub ras_received: std::collections::BTreeMap<String, u64>,
    pub ras_malformed: u64,
    pub ras_rejected: u64,
    /// Q.931/H.245 messages or streams that could not be parsed.
    pub signaling_malformed: u64,
    /// Each traversal zone's H.323 side (H.460.18 flow).
    pub zones: Vec<H323Zone>,
}

/// A traversal zone's H.323 flow: C's registration on E's zone port, or E's view of its
/// client.
#[derive(Clone, Debug, Default, Serialize)]
pub struct H323Zone {
    pub zone: String,
    /// `client` (C) or `server` (E).
    pub role: String,
    /// `up` or `down`.
    pub state: String,
    /// Unix seconds since the state holds.
    pub since: u64,
    /// E's zone port (client), the client's flow as it reached E (server).
    pub peer: Option<String>,
    /// Seconds since the last keep-alive.
    pub last_keepalive: Option<u64>,
    pub last_error: Option<String>,
    /// Datagrams refused or dropped (bad token, garbage, unexpected).
    pub refused: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MediaStatus {
    pub sessions: usize,
    pub sessions_created: u64,
    /// Port pairs held by sessions (E's multiplexed pair not counted).
    pub ports_in_use: usize,
    /// Port pairs the range can hand out at once.
    pub ports_capacity: usize,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub dropped_stranger: u64,
    pub dropped_unknown: u64,
    /// For a leg with nowhere to send yet (on E: C's end of a link before C's first packet).
    pub dropped_no_destination: u64,
    /// Traversal keep-alives received (a bare RTP header: latched, not forwarded).
    pub keepalives: u64,
    /// Packets on E's multiplexed pair told apart by their H.460.19 multiplexID.
    pub demuxed_by_id: u64,
    pub expired: u64,
    /// The relay's I/O path: `io_uring` or `epoll`.
    pub io: &'static str,
}

impl Status {
    fn fill_sip_counters(&mut self, core: &causeway_sip::proxy::Core) {
        let st = core.stats();
        let c = &st.counters;
        let s = &mut self.sip;
        s.requests = METHODS
            .iter()
            .zip(c.requests)
            .map(|(m, n)| (m.to_string(), n))
            .collect();
        s.responses = (1..=6)
            .zip(c.responses)
            .map(|(k, n)| (format!("{k}xx"), n))
            .collect();
        s.calls_answered = c.calls_answered;
        s.calls_cancelled = c.calls_cancelled;
        s.calls_failed = c.calls_failed;
        s.calls_anchored = core.anchored_calls();
        s.transactions = core.transaction_count();
        s.registered_aors = core.registrar().len();
        s.dns_lookups = c.dns_lookups;
        s.dns_failures = c.dns_failures;
        s.unparsable = st.dropped_unparsable;
        s.rejected = st.rejected;
        s.auth_failures = core.auth_failures().total();
    }

    /// The guard's counters and block list.
    pub fn fill_protection(
        &mut self,
        g: &causeway_guard::Guard,
        transport: &TransportStats,
        now: Instant,
    ) {
        let st = g.stats();
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        self.protection = ProtectionStatus {
            enabled: g.enabled(),
            blocks: causeway_guard::Reason::ALL
                .iter()
                .map(|r| (r.as_str().to_string(), st.blocks_for(*r)))
                .collect(),
            blocked_now: g.blocked_count(),
            dropped_messages: st.dropped_messages,
            refused_connections: st.refused_connections,
            slow_messages: get(&transport.slow_messages),
            withheld: get(&transport.withheld),
            garbage: st.garbage,
            auth_failures: st.auth_failures,
            tracked_sources: g.tracked(),
            untracked: st.untracked,
            blocked: g
                .blocked(now, 100)
                .into_iter()
                .map(|b| BlockedSource {
                    source: b.source.to_string(),
                    reason: b.reason.as_str().to_string(),
                    remaining_s: b.remaining.as_secs(),
                    dropped: b.dropped,
                })
                .collect(),
        };
    }

    /// The transport's counters (messages, drops, bad frames, STUN answers).
    pub fn fill_transport(&mut self, t: &TransportStats) {
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let s = &mut self.sip;
        s.messages_in = get(&t.messages_in);
        s.messages_out = get(&t.messages_out);
        s.dropped_datagrams = get(&t.dropped_datagrams);
        s.bad_frames = get(&t.bad_frames);
        s.stun_answered = get(&t.stun_answered);
    }

    /// Fills the SIP side from the proxy and its traversal links.
    pub fn fill(&mut self, sip: &LinkedProxy, clock: &WallClock, now: Instant) {
        self.time = clock.unix(now);
        let server_zones: Vec<String> = self
            .zones
            .iter()
            .filter(|z| z.kind == "traversal-server")
            .map(|z| z.name.clone())
            .collect();
        self.links = sip.link_status(&server_zones);
        self.fill_sip_counters(sip.core());
        self.registrations = sip
            .core()
            .registrations(now)
            .into_iter()
            .map(|r| Registration {
                aor: r.aor,
                contact: r.contact,
                expires_in: r.expires_in,
                flow: r.flow,
            })
            .collect();
    }
}

impl Status {
    pub fn fill_media(&mut self, relay: &RelayHandle) {
        let r = relay.stats();
        let (ports_in_use, ports_capacity) = (relay.ports_in_use(), relay.port_capacity());
        self.media = Some(MediaStatus {
            io: relay.io().name(),
            sessions: r.table.sessions,
            sessions_created: r.created,
            ports_in_use,
            ports_capacity,
            packets_received: r.received,
            packets_sent: r.sent,
            dropped_stranger: r.table.dropped_stranger,
            dropped_unknown: r.table.dropped_unknown_port + r.table.dropped_unknown_source,
            dropped_no_destination: r.table.dropped_no_destination,
            keepalives: r.table.keepalives,
            demuxed_by_id: r.table.demuxed_by_id,
            expired: r.table.expired,
        });
    }
}

impl Status {
    pub fn fill_interworking(&mut self, i: &causeway_interwork::driver::Snapshot) {
        use causeway_interwork::gateway::Origin;
        let c = &i.counters;
        self.interworking = Some(InterworkingStatus {
            calls_from_sip: c.calls_from_sip,
            calls_from_h323: c.calls_from_h323,
            answered: c.answered,
            failed: c.failed,
            malformed: c.malformed,
            refused: c.refused,
            calls: i
                .calls
                .iter()
                .map(|v| InterworkedCall {
                    origin: match v.origin {
                        Origin::Sip => "sip",
                        Origin::H323 => "h323",
                    }
                    .to_string(),
                    state: format!("{:?}", v.phase).to_lowercase(),
                    sip_call_id: v.sip_call_id.clone(),
                    h323_call_id: v.h323_call_id.iter().map(|b| format!("{b:02x}")).collect(),
                    caller: v.caller.clone(),
                    callee: v.callee.clone(),
                    seconds: v.age.as_secs(),
                })
                .collect(),
        });
    }

    pub fn fill_h323(&mut self, h: &causeway_h323::driver::Snapshot) {
        self.h323 = Some(H323Status {
            registrations: h
                .registrations
                .iter()
                .map(|r| H323Registration {
                    endpoint_id: r.id.clone(),
                    aliases: r.aliases.clone(),
                    ras: r.ras.to_string(),
                    call_signal: r.call_signal.iter().map(ToString::to_string).collect(),
                    expires_in: r.seconds_left,
                    probing: r.probing,
                })
                .collect(),
            calls: h
                .calls
                .iter()
                .map(|c| H323Call {
                    id: c.id,
                    caller: c.caller.to_string(),
                    called: c.called.clone(),
                    callee: c.callee.map(|a| a.to_string()),
                    state: format!("{:?}", c.state),
                    h245: format!("{:?}", c.h245),
                })
                .collect(),
            admitted_calls: h.admitted_calls,
            admitted_kbps: h.admitted_bandwidth / 10,
            calls_total: h.calls_total,
            ras_received: h
                .ras_received
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            ras_malformed: h.ras_malformed,
            ras_rejected: h.ras_rejected,
            signaling_malformed: h.q931_malformed,
            zones: h
                .zones
                .iter()
                .map(|z| H323Zone {
                    zone: z.zone.clone(),
                    role: z.role.to_string(),
                    state: if z.up { "up" } else { "down" }.to_string(),
                    since: self.time.saturating_sub(z.since_secs),
                    // a peer whose name has not resolved yet shows by its name
                    peer: z
                        .peer
                        .map(|p| p.to_string())
                        .or_else(|| z.peer_name.clone()),
                    last_keepalive: z.last_keepalive_secs,
                    last_error: z.last_error.clone(),
                    refused: z.refused,
                })
                .collect(),
        });
    }
}
