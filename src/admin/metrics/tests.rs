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
