//! `GET /metrics` (issue 13): the exposition parses with the reference parser (Python
//! `prometheus_client`'s OpenMetrics parser, $CAUSEWAY_PYTHON or `python3`; `.ci/run` installs
//! it), and the counters move as sipp calls run through the node.

use causeway_tests::{register_with, sipp_uac, sipp_uas, Node, NodeOptions};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn scrape(node: &Node) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", node.admin_port)).expect("admin");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut r = String::new();
    s.read_to_string(&mut r).expect("read");
    let (head, body) = r.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    body.to_string()
}

/// Every sample of `text` as `name{k="v",...}` -> value, parsed by prometheus_client.
fn parse(text: &str) -> HashMap<String, f64> {
    let python = std::env::var("CAUSEWAY_PYTHON").unwrap_or_else(|_| "python3".into());
    let py = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        out["%s{%s}" % (s.name, labels)] = s.value
print(json.dumps(out))
"#;
    let mut child = Command::new(&python)
        .args(["-c", py])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let o = child.wait_with_output().expect("parser");
    assert!(
        o.status.success(),
        "the exposition does not parse (pip install prometheus_client): {}\n{text}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("parser output")
}

#[test]
fn metrics_parse_and_move_with_calls() {
    let node = Node::start(NodeOptions::default());
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    register_with(&node, "bob", &format!("127.0.0.1:{uas_port}"));
    std::thread::sleep(Duration::from_millis(1500));
    let before = parse(&scrape(&node));
    let out = sipp_uac(&node, "uac_call.xml", "bob", "u1", 10, 20);
    assert_eq!(out.status.code(), Some(0), "{}", node.log());
    // the snapshot behind the metrics is refreshed once a second
    std::thread::sleep(Duration::from_millis(1500));
    let text = scrape(&node);
    let after = parse(&text);
    let get = |m: &HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    let delta = |k: &str| get(&after, k) - get(&before, k);
    assert_eq!(
        delta("causeway_sip_requests_total{method=\"INVITE\"}"),
        10.0,
        "{text}"
    );
    assert_eq!(
        delta("causeway_sip_requests_total{method=\"BYE\"}"),
        10.0,
        "{text}"
    );
    assert!(
        delta("causeway_sip_responses_total{class=\"2xx\"}") >= 20.0,
        "{text}"
    );
    assert_eq!(
        delta("causeway_calls_total{outcome=\"answered\",protocol=\"sip\"}"),
        10.0,
        "{text}"
    );
    assert_eq!(
        get(&after, "causeway_registrations{protocol=\"sip\"}"),
        1.0,
        "{text}"
    );
    assert!(
        delta("causeway_sip_messages_total{direction=\"in\"}") >= 50.0,
        "{text}"
    );
    assert!(get(&after, "process_cpu_seconds_total{}") > 0.0, "{text}");
    assert!(
        get(&after, "process_resident_memory_bytes{}") > 1e6,
        "{text}"
    );
}
