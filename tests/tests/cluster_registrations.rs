//! Registrations shared in a cluster of real nodes on loopback (issue 12, failure test 6): a
//! UA registered on peer 1 is called through peers 2 and 3 (each peer publishes who is
//! registered on it over the cluster port; the call goes peer to peer over SIP TLS); every
//! peer's status lists who is registered where; peer 1 killed, its registrations disappear
//! from the others within the failure-detection time, a call for the UA is a clean 404, and
//! once the UA registers on peer 2 it is reachable through peer 3 again.

use causeway_tests::cluster::{peers, until};
use causeway_tests::{register, register_with, sipp_uac, sipp_uas, Node};
use std::process::Output;
use std::time::{Duration, Instant};

fn report(out: &Output, nodes: &[&Node]) -> String {
    format!(
        "stdout: {}\nstderr: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        nodes
            .iter()
            .map(|n| format!("--- {}\n{}", n.status_text(), n.log()))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// How many INVITEs the node's call history shows received, by transport.
fn invites_by_transport(node: &Node) -> Vec<(String, usize)> {
    let (_, body) = node.admin_get("/calls");
    let calls: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let mut counts = std::collections::BTreeMap::new();
    for c in calls["calls"].as_array().into_iter().flatten() {
        let id = c["id"].as_str().unwrap_or_default();
        let enc: String = id
            .bytes()
            .map(|b| match b.is_ascii_alphanumeric() {
                true => (b as char).to_string(),
                false => format!("%{b:02X}"),
            })
            .collect();
        let (_, body) = node.admin_get(&format!("/calls/{enc}"));
        let ladder: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        for m in ladder["ladder"].as_array().into_iter().flatten() {
            let invite = m["text"].as_str().is_some_and(|t| t.starts_with("INVITE "));
            if m["dir"] == "in" && invite {
                *counts
                    .entry(m["transport"].as_str().unwrap_or("?").to_string())
                    .or_insert(0) += 1;
            }
        }
    }
    counts.into_iter().collect()
}

/// `alias` is listed as registered on peer `on` in the node's status.
fn lists(status: &serde_json::Value, alias: &str, on: u64) -> bool {
    status["directory"]["registrations"]
        .as_array()
        .is_some_and(|r| {
            r.iter()
                .any(|r| r["alias"] == alias && r["node_id"].as_u64() == Some(on))
        })
}

fn peer_lists_nobody(status: &serde_json::Value, peer: u64) -> bool {
    status["directory"]["peers"]
        .as_array()
        .is_some_and(|p| !p.iter().any(|p| p["node_id"].as_u64() == Some(peer)))
}

#[test]
fn a_ua_registered_on_one_peer_is_called_through_the_others_and_moves_when_its_peer_dies() {
    let (mut nodes, _data) = peers(3, "");
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    register(&nodes[0], "bob", uas_port);
    for n in &nodes[1..] {
        until(n, "bob published by peer 1", Duration::from_secs(5), |s| {
            lists(s, "bob@example.com", 1)
        });
    }
    // totals include this peer's own registrations and the others'
    let s = nodes[2].status_json();
    assert_eq!(s["directory"]["total_registrations"], 1, "{s}");
    assert!(
        nodes[2].status_text().contains("on peer 1"),
        "{}",
        nodes[2].status_text()
    );

    // through peer 2 over UDP and through peer 3 over TCP: each call goes peer to peer
    let out = sipp_uac(&nodes[1], "uac_call.xml", "bob", "u1", 10, 20);
    let all: Vec<&Node> = nodes.iter().collect();
    assert_eq!(
        out.status.code(),
        Some(0),
        "via peer 2\n{}",
        report(&out, &all)
    );
    let out = sipp_uac(&nodes[2], "uac_call.xml", "bob", "t1", 10, 20);
    assert_eq!(
        out.status.code(),
        Some(0),
        "via peer 3\n{}",
        report(&out, &all)
    );
    // peer to peer over TLS (the port tables' SIP between peers): peer 1 took every INVITE
    // of the 20 calls over TLS, as its call history shows
    assert_eq!(invites_by_transport(&nodes[0]), [("TLS".to_string(), 20)]);

    // peer 1 dies: the others drop its registrations within the failure-detection time
    nodes[0].stop();
    let killed = Instant::now();
    for n in &nodes[1..] {
        until(
            n,
            "peer 1's registrations gone",
            Duration::from_secs(6),
            |s| !lists(s, "bob@example.com", 1) && peer_lists_nobody(s, 1),
        );
    }
    println!(
        "registrations: peer 1's gone from the others {:?} after its death",
        killed.elapsed()
    );
    let out = sipp_uac(&nodes[2], "uac_404.xml", "bob", "u1", 1, 1);
    let all: Vec<&Node> = nodes.iter().collect();
    assert_eq!(
        out.status.code(),
        Some(0),
        "a clean 404\n{}",
        report(&out, &all)
    );

    // the UA registers elsewhere (its second registrar) and is reachable again
    register_with(&nodes[1], "bob", &format!("127.0.0.1:{uas_port}"));
    until(
        &nodes[2],
        "bob published by peer 2",
        Duration::from_secs(5),
        |s| lists(s, "bob@example.com", 2),
    );
    let out = sipp_uac(&nodes[2], "uac_call.xml", "bob", "u1", 5, 10);
    assert_eq!(
        out.status.code(),
        Some(0),
        "via peer 3 to peer 2\n{}",
        report(&out, &all)
    );
}
