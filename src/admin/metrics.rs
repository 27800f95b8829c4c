//! `GET /metrics`: the node's counters in the OpenMetrics text format, for Prometheus. The
//! values are those of the latest status snapshot (refreshed once a second by the publisher)
//! plus the process's CPU and memory read at scrape time; the encoding is prometheus-client's
//! (a `Collector` that encodes the current values on each scrape: the node's counters live in
//! its state machines, so there is nothing to increment here, only to report).
//!
//! Reads the snapshot, never the running parts.

use super::server::Endpoint;
use super::snapshot::{PeerLoad, Status};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::fmt;
use std::sync::{Arc, Mutex};

/// The latest snapshot, shared by the publisher (writes) and the endpoint (reads).
#[derive(Clone, Default)]
pub struct MetricsHandle(Arc<Mutex<Option<Status>>>);

impl MetricsHandle {
    pub fn set(&self, s: &Status) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(s.clone());
        }
    }

    /// The exposition text of the latest snapshot.
    pub fn render(&self) -> String {
        let status = self
            .0
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_default();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Snapshot {
            status,
            process: Process::read(),
        }));
        let mut out = String::new();
        match prometheus_client::encoding::text::encode(&mut out, &registry) {
            Ok(()) => out,
            Err(_) => "# EOF\n".to_string(),
        }
    }
}

impl Endpoint for MetricsHandle {
    fn get(&self, path: &str) -> Option<(&'static str, String)> {
        (path == "/metrics").then(|| {
            (
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                self.render(),
            )
        })
    }
}

/// CPU seconds and resident bytes of this process (Linux `/proc`; absent elsewhere).
#[derive(Debug, Default)]
struct Process {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<i64>,
}

impl Process {
    fn read() -> Process {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // fields after the parenthesised command name: state is field 3, utime 14, stime 15
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        // SAFETY: sysconf reads a constant of the running system and has no preconditions
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let cpu_seconds = match (ticks(11), ticks(12)) {
            (Some(u), Some(s)) if hz > 0 => Some((u + s) as f64 / hz as f64),
            _ => None,
        };
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let resident_bytes = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<i64>().ok())
            .map(|kb| kb * 1024);
        Process {
            cpu_seconds,
            resident_bytes,
        }
    }
}

#[derive(Debug)]
struct Snapshot {
    status: Status,
    process: Process,
}

type Labels = Vec<(&'static str, String)>;

fn counters(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Labels, u64)],
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn gauges(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Labels, i64)],
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        ConstGauge::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    counters(enc, name, help, &[(Vec::new(), v)])
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> fmt::Result {
    gauges(enc, name, help, &[(Vec::new(), v)])
}

fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn int64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for Snapshot {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        self.encode_sip(&mut enc)?;
        self.encode_calls(&mut enc)?;
        self.encode_links(&mut enc)?;
        self.encode_h323(&mut enc)?;
        self.encode_interworking(&mut enc)?;
        self.encode_protection(&mut enc)?;
        self.encode_media(&mut enc)?;
        self.encode_cluster(&mut enc)?;
        self.encode_process(&mut enc)
    }
}

impl Snapshot {
    fn encode_sip(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let s = &self.status.sip;
        let by = |key: &'static str, m: &std::collections::BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| (vec![(key, k.clone())], *v))
                .collect::<Vec<_>>()
        };
        let help = "SIP requests received, by method";
        counters(
            enc,
            "causeway_sip_requests",
            help,
            &by("method", &s.requests),
        )?;
        let help = "SIP responses received, by status class";
        counters(
            enc,
            "causeway_sip_responses",
            help,
            &by("class", &s.responses),
        )?;
        let help = "SIP transactions (server and client) live";
        gauge(enc, "causeway_sip_transactions", help, int(s.transactions))?;
        let msgs = vec![
            (vec![("direction", "in".to_string())], s.messages_in),
            (vec![("direction", "out".to_string())], s.messages_out),
        ];
        let help = "SIP messages through the transports";
        counters(enc, "causeway_sip_messages", help, &msgs)?;
        let help = "SIP datagrams dropped (too large, or the core's queue full)";
        counter(
            enc,
            "causeway_sip_dropped_datagrams",
            help,
            s.dropped_datagrams,
        )?;
        let help = "STUN keep-alives answered on the SIP UDP ports";
        counter(enc, "causeway_sip_stun_answered", help, s.stun_answered)?;
        let help = "Failed REGISTER authentications";
        counter(enc, "causeway_sip_auth_failures", help, s.auth_failures)?;
        let help = "RFC 3263 DNS look-ups, and those that gave no usable address";
        counter(enc, "causeway_dns_lookups", help, s.dns_lookups)?;
        counter(enc, "causeway_dns_failures", help, s.dns_failures)?;
        let h = self.status.h323.as_ref();
        let malformed = vec![
            (
                vec![("protocol", "sip".into())],
                s.unparsable + s.bad_frames,
            ),
            (
                vec![("protocol", "ras".into())],
                h.map_or(0, |h| h.ras_malformed),
            ),
            (
                vec![("protocol", "h225".into())],
                h.map_or(0, |h| h.signaling_malformed),
            ),
        ];
        let help = "Messages that did not parse, by protocol (SIP: datagrams and stream frames)";
        counters(enc, "causeway_malformed", help, &malformed)?;
        let regs = vec![
            (vec![("protocol", "sip".into())], int(s.registered_aors)),
            (
                vec![("protocol", "h323".into())],
                int(h.map_or(0, |h| h.registrations.len())),
            ),
        ];
        let help = "Registrations: SIP addresses of record with a binding, H.323 endpoints";
        gauges(enc, "causeway_registrations", help, &regs)
    }

    fn encode_protection(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let p = &self.status.protection;
        let blocks: Vec<_> = p
            .blocks
            .iter()
            .map(|(r, n)| (vec![("reason", r.clone())], *n))
            .collect();
        let help = "Sources blocked by [protection], by the budget they exceeded";
        counters(enc, "causeway_protection_blocks", help, &blocks)?;
        let help = "Sources blocked now";
        gauge(
            enc,
            "causeway_protection_blocked_sources",
            help,
            int(p.blocked_now),
        )?;
        let dropped = vec![
            (vec![("what", "message".to_string())], p.dropped_messages),
            (
                vec![("what", "connection".to_string())],
                p.refused_connections,
            ),
            (vec![("what", "slow_message".to_string())], p.slow_messages),
            (vec![("what", "withheld".to_string())], p.withheld),
        ];
        let help = "What [protection] dropped unanswered: messages and connections of blocked sources, connections whose message came too slowly, messages not sent to blocked sources";
        counters(enc, "causeway_protection_dropped", help, &dropped)
    }

    fn encode_calls(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let s = &self.status.sip;
        let h = self.status.h323.as_ref();
        let row =
            |p: &str, o: &str, v: u64| (vec![("protocol", p.into()), ("outcome", o.into())], v);
        let total = vec![
            row("sip", "answered", s.calls_answered),
            row("sip", "cancelled", s.calls_cancelled),
            row("sip", "failed", s.calls_failed),
            row("h323", "setup", h.map_or(0, |h| h.calls_total)),
        ];
        let help = "Calls: SIP INVITEs by final answer, H.323 Setups received";
        counters(enc, "causeway_calls", help, &total)?;
        let active = vec![
            (vec![("protocol", "sip".into())], int(s.calls_anchored)),
            (
                vec![("protocol", "h323".into())],
                int(h.map_or(0, |h| h.calls.len())),
            ),
        ];
        let help = "Calls up now (SIP: the established calls the node anchors)";
        gauges(enc, "causeway_calls_active", help, &active)
    }

    fn encode_links(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let links = &self.status.links;
        let zone = |z: &str| vec![("zone", z.to_string())];
        let up: Vec<_> = links
            .iter()
            .map(|l| (zone(&l.zone), i64::from(l.state == "up")))
            .collect();
        let help = "Traversal link of each zone: 1 up, 0 not";
        gauges(enc, "causeway_traversal_link_up", help, &up)?;
        let ups: Vec<_> = links.iter().map(|l| (zone(&l.zone), l.ups)).collect();
        let help = "Times each traversal client link came up (reconnects are this minus one)";
        counters(enc, "causeway_traversal_link_ups", help, &ups)
    }

    fn encode_h323(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let Some(h) = &self.status.h323 else {
            return Ok(());
        };
        let ras: Vec<_> = h
            .ras_received
            .iter()
            .map(|(k, v)| (vec![("type", k.clone())], *v))
            .collect();
        let help = "RAS messages received, by type";
        counters(enc, "causeway_ras_messages", help, &ras)?;
        let help = "RAS requests rejected";
        counter(enc, "causeway_ras_rejected", help, h.ras_rejected)
    }

    fn encode_interworking(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let Some(i) = &self.status.interworking else {
            return Ok(());
        };
        let calls = vec![
            (vec![("origin", "sip".into())], i.calls_from_sip),
            (vec![("origin", "h323".into())], i.calls_from_h323),
        ];
        let help = "Interworked calls placed, by the protocol of the caller";
        counters(enc, "causeway_interworking_calls", help, &calls)?;
        let ends = vec![
            (vec![("outcome", "answered".into())], i.answered),
            (vec![("outcome", "failed".into())], i.failed),
            (vec![("outcome", "refused".into())], i.refused),
        ];
        let help = "Interworked calls by outcome (refused: over the call limit)";
        counters(enc, "causeway_interworking_outcomes", help, &ends)?;
        let help = "Malformed SIP, SDP, H.225 or H.245 messages the gateway dropped";
        counter(enc, "causeway_interworking_malformed", help, i.malformed)?;
        let help = "Interworked calls now";
        gauge(
            enc,
            "causeway_interworking_active",
            help,
            int(i.calls.len()),
        )
    }

    /// A cluster peer's view: its Raft state, and the registrations and load the peers
    /// publish (absent on a single node).
    fn encode_cluster(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let Some(c) = &self.status.cluster else {
            return Ok(());
        };
        let leader = i64::from(c.role == causeway_cluster::Role::Leader);
        gauge(
            enc,
            "causeway_cluster_leader",
            "Whether this peer is the leader (1) or not (0)",
            leader,
        )?;
        let help = "The Raft term this peer is in";
        gauge(enc, "causeway_cluster_term", help, int64(c.term))?;
        let help = "Index of the last log entry applied on this peer";
        let applied = int64(c.applied_index.unwrap_or(0));
        gauge(enc, "causeway_cluster_applied_index", help, applied)?;
        let help = "Connections to the cluster port closed unheard (non-peers, garbage)";
        counter(
            enc,
            "causeway_cluster_refused_connections",
            help,
            c.refused_connections,
        )?;
        let Some(d) = &self.status.directory else {
            return Ok(());
        };
        let per_peer = |f: &dyn Fn(&PeerLoad) -> u64| -> Vec<(Labels, i64)> {
            d.peers
                .iter()
                .map(|p| (vec![("peer", p.node_id.to_string())], int64(f(p))))
                .collect()
        };
        let help = "Aliases registered on each other live peer, as it publishes them";
        let regs = per_peer(&|p| p.registrations as u64);
        gauges(enc, "causeway_cluster_peer_registrations", help, &regs)?;
        let help = "Calls in progress on each other live peer, as it publishes them";
        let calls = per_peer(&|p| p.calls.unwrap_or(0));
        gauges(enc, "causeway_cluster_peer_calls", help, &calls)?;
        let totals = [
            ("registrations", int(d.total_registrations)),
            ("calls", int64(d.total_calls)),
            ("free_media", int64(d.total_free_media)),
            ("kbps", int64(d.total_kbps)),
        ];
        let rows: Vec<(Labels, i64)> = totals
            .iter()
            .map(|(k, v)| (vec![("of", (*k).to_string())], *v))
            .collect();
        let help = "Cluster totals over the live peers, this one included";
        gauges(enc, "causeway_cluster_totals", help, &rows)
    }

    fn encode_media(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let Some(m) = &self.status.media else {
            return Ok(());
        };
        gauge(
            enc,
            "causeway_media_sessions",
            "Relay sessions now",
            int(m.sessions),
        )?;
        let help = "Relay port pairs in use";
        gauge(
            enc,
            "causeway_media_ports_in_use",
            help,
            int(m.ports_in_use),
        )?;
        let help = "Relay sessions set up since start";
        counter(
            enc,
            "causeway_media_sessions_created",
            help,
            m.sessions_created,
        )?;
        let help = "Relay sessions ended for inactivity";
        counter(enc, "causeway_media_sessions_expired", help, m.expired)?;
        let packets = vec![
            (vec![("direction", "received".into())], m.packets_received),
            (vec![("direction", "sent".into())], m.packets_sent),
        ];
        counters(
            enc,
            "causeway_media_packets",
            "Relayed RTP/RTCP packets",
            &packets,
        )?;
        let drops = vec![
            (vec![("reason", "stranger".into())], m.dropped_stranger),
            (
                vec![("reason", "unknown_session".into())],
                m.dropped_unknown,
            ),
            (
                vec![("reason", "no_destination".into())],
                m.dropped_no_destination,
            ),
        ];
        let help = "Packets the relay dropped, by reason";
        counters(enc, "causeway_media_dropped", help, &drops)?;
        let help = "Traversal media keep-alives received (H.460.19; not forwarded)";
        counter(enc, "causeway_media_keepalives", help, m.keepalives)?;
        let help = "Packets on the multiplexed pair told apart by their H.460.19 multiplexID";
        counter(enc, "causeway_media_demuxed_by_id", help, m.demuxed_by_id)
    }

    fn encode_process(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        if let Some(cpu) = self.process.cpu_seconds {
            let m = enc.encode_descriptor(
                "process_cpu",
                "CPU time of the process (user and system)",
                Some(&Unit::Seconds),
                MetricType::Counter,
            )?;
            ConstCounter::new(cpu).encode(m)?;
        }
        if let Some(rss) = self.process.resident_bytes {
            let m = enc.encode_descriptor(
                "process_resident_memory",
                "Resident memory of the process",
                Some(&Unit::Bytes),
                MetricType::Gauge,
            )?;
            ConstGauge::new(rss).encode(m)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
