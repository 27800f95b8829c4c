//! Structured logs: with `[log] format = "json"` every line the node writes is one JSON object,
//! and the lines about a call carry its Call-ID (the span the SIP core opens per message).

use causeway_tests::{crlf, status, Node, NodeOptions, UdpClient};

#[test]
fn json_lines_name_the_call_they_belong_to() {
    let node = Node::start(NodeOptions {
        extra: "[log]\nformat = \"json\"\n",
        ..NodeOptions::default()
    });
    let ua = UdpClient::new();
    let call_id = "json-log-call-7@example.org";
    let invite = crlf(&format!(
        "INVITE sip:nobody@example.com SIP/2.0
Via: SIP/2.0/UDP {local};branch=z9hG4bKjsonlog;rport
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:nobody@example.com>
Call-ID: {call_id}
CSeq: 1 INVITE
Contact: <sip:alice@{local}>
{headers}Content-Length: 0

",
        local = ua.local(),
        headers = causeway_tests::UA_HEADERS,
    ));
    let resp = ua.request(node.udp(), &invite);
    assert_eq!(status(&resp), 404, "{resp}");
    let log = node.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|v| v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("running"))),
        "{log}"
    );
    let of_call: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v["span"]["call_id"] == call_id)
        .collect();
    assert!(
        of_call.iter().any(|v| v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not registered"))),
        "the refusal's log line names the call: {log}"
    );
}
