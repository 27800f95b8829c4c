//! The exposition of a snapshot: names, labels, `_total` suffixes, base units.

use super::*;
use crate::admin::snapshot::{H323Status, MediaStatus};

#[test]
fn a_snapshot_renders_as_openmetrics() {
    let mut s = Status::default();
    s.sip.requests.insert("INVITE".into(), 3);
    s.sip.responses.insert("2xx".into(), 5);
    s.sip.calls_answered = 2;
    s.sip.registered_aors = 1;
    s.media = Some(MediaStatus {
        packets_sent: 100,
        dropped_stranger: 7,
        ..MediaStatus::default()
    });
    s.h323 = Some(H323Status {
        ras_received: [("RRQ".to_string(), 4)].into(),
        ..H323Status::default()
    });
    let h = MetricsHandle::default();
    h.set(&s);
    let text = h.render();
    for line in [
        "causeway_sip_requests_total{method=\"INVITE\"} 3",
        "causeway_sip_responses_total{class=\"2xx\"} 5",
        "causeway_calls_total{protocol=\"sip\",outcome=\"answered\"} 2",
        "causeway_registrations{protocol=\"sip\"} 1",
        "causeway_media_packets_total{direction=\"sent\"} 100",
        "causeway_media_dropped_total{reason=\"stranger\"} 7",
        "causeway_ras_messages_total{type=\"RRQ\"} 4",
        "# TYPE causeway_sip_transactions gauge",
        "# TYPE process_cpu_seconds counter",
        "# TYPE process_resident_memory_bytes gauge",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(
        MetricsHandle::default().get("/status"),
        None,
        "only /metrics is ours"
    );
}

#[test]
fn a_cluster_peer_renders_its_raft_state_and_the_published_load() {
    use crate::admin::snapshot::{ClusterDirectory, PeerLoad};
    let mut s = Status::default();
    let plain = {
        let h = MetricsHandle::default();
        h.set(&s);
        h.render()
    };
    assert!(
        !plain.contains("causeway_cluster"),
        "nothing on a single node"
    );
    s.cluster = Some(causeway_cluster::ClusterStatus {
        name: "c".into(),
        node_id: 1,
        role: causeway_cluster::Role::Leader,
        leader: Some(1),
        term: 4,
        last_log_index: Some(9),
        applied_index: Some(9),
        snapshot_index: None,
        purged_index: None,
        document_index: Some(7),
        document_hash: None,
        peers: Vec::new(),
        refused_connections: 2,
        since_quorum_ack: None,
    });
    s.directory = Some(ClusterDirectory {
        peers: vec![PeerLoad {
            node_id: 2,
            registrations: 5,
            calls: Some(3),
            free_media: Some(10),
            kbps: Some(768),
            sip: Vec::new(),
        }],
        registrations: Vec::new(),
        total_registrations: 6,
        total_calls: 3,
        total_free_media: 20,
        total_kbps: 768,
    });
    let h = MetricsHandle::default();
    h.set(&s);
    let text = h.render();
    for line in [
        "causeway_cluster_leader{} 1",
        "causeway_cluster_term{} 4",
        "causeway_cluster_applied_index{} 9",
        "causeway_cluster_refused_connections_total{} 2",
        "causeway_cluster_peer_registrations{peer=\"2\"} 5",
        "causeway_cluster_peer_calls{peer=\"2\"} 3",
        "causeway_cluster_totals{of=\"registrations\"} 6",
        "causeway_cluster_totals{of=\"kbps\"} 768",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
}
