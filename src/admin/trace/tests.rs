//! The diagram: columns (first peer, node, the others), arrows towards the receiver, a row
//! per message with its time since the first.

use super::*;
use serde_json::json;

#[test]
fn arrows_point_at_the_receiver() {
    // peer left of the node
    assert_eq!(
        arrow(2, 0, 1, true).trim(),
        format!("|{}>|", "-".repeat(COL - 2))
    );
    assert_eq!(
        arrow(2, 0, 1, false).trim(),
        format!("|<{}|", "-".repeat(COL - 2))
    );
    // peer right of the node
    assert_eq!(
        arrow(3, 2, 1, true).trim(),
        format!("|{}|<{}|", " ".repeat(COL - 1), "-".repeat(COL - 2))
    );
    assert_eq!(
        arrow(3, 2, 1, false).trim(),
        format!("|{}|{}>|", " ".repeat(COL - 1), "-".repeat(COL - 2))
    );
}

#[test]
fn a_ladder_has_a_header_and_a_row_per_message() {
    let m = |t: f64, dir: &str, remote: &str, summary: &str| {
        json!({"t": t, "dir": dir, "transport": "UDP", "local": "192.0.2.1:5060",
               "remote": remote, "summary": summary, "text": format!("{summary}\r\nCall-ID: c1\r\n")})
    };
    let call = json!({
        "id": "c1", "protocol": "sip", "from": "sip:a@x", "to": "sip:b@x", "state": "ended",
        "outcome": "486 Busy Here", "cut": 2,
        "ladder": [
            m(10.0, "in", "192.0.2.10:5060", "INVITE sip:b@x"),
            m(10.25, "out", "192.0.2.20:5060", "INVITE sip:b@192.0.2.20"),
            m(10.5, "in", "192.0.2.20:5060", "486 Busy Here (INVITE)"),
            m(10.75, "out", "192.0.2.10:5060", "486 Busy Here (INVITE)"),
        ]
    });
    let text = ladder(&call, false);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "call c1  SIP  sip:a@x -> sip:b@x  ended (486 Busy Here)  4 messages"
    );
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(header, ["192.0.2.10:5060", "causeway", "192.0.2.20:5060"]);
    assert!(
        lines[2].starts_with("   +0.000")
            && lines[2].contains("->|")
            && lines[2].ends_with("INVITE sip:b@x UDP"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("   +0.250") && lines[3].contains("->|"),
        "{text}"
    );
    assert!(
        lines[4].contains("|<-") && lines[5].contains("|<-"),
        "{text}"
    );
    assert!(lines[6].starts_with("(2 more messages"), "{text}");
    let full = ladder(&call, true);
    assert!(full.contains("          | Call-ID: c1"), "{full}");
}
