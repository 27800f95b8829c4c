//! Traversal zones and clusters, on loopback (issue 12: "a remote cluster as a … traversal
//! peer: one zone with several peers"). C's traversal-client zone lists both peers of an E
//! cluster and links to each; calls from the inside go down one link, calls from the internet
//! come up through either E; when an E peer dies its link goes down and the calls go on
//! through the other. The other way round, one E holds a link from each peer of a C cluster
//! (each C names its RFC 5626 instance), the links stand side by side without pushing each
//! other out, and when a C peer dies the calls go on through the other.
//!
//! No namespaces or root: every node listens on free 127.0.0.1 ports (the firewall itself is
//! `traversal.rs`'s subject).

use causeway_tests::cluster::until;
use causeway_tests::{free_port, register, sipp_uac_port, sipp_uas, Background, Node, NodeOptions};
use std::process::Output;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// E: an edge node with traversal-server zone `from-control` on `zone_port`. Calls from the
/// internet for bob go down the zone's links; calls from C for @internet.test go to the UA on
/// `internet_ua`.
fn edge(zone_port: u16, internet_ua: u16) -> Node {
    let extra = format!(
        r#"[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = {zone_port}
transport = "tls"
username = "control-1"
listen_ip = "127.0.0.1"

[[zone]]
name = "internet-ua"
type = "neighbor"
peer = "127.0.0.1:{internet_ua}"

[[search_rule]]
name = "bob is inside"
priority = 10
pattern_type = "prefix"
pattern = "bob@"
target = "from-control"

[[search_rule]]
name = "C to the internet"
priority = 20
source = "from-control"
pattern_type = "suffix"
pattern = "@internet.test"
target = "internet-ua"

[media]
anchor = "none"

# short, so that a quiet link's keep-alives would be cut within the test if they counted as
# a message coming slowly
[protection]
message_timeout = 2
"#
    );
    Node::start(NodeOptions {
        extra: &extra,
        role: Some("edge"),
        ..Default::default()
    })
}

/// C: a control node whose traversal-client zone `to-edge` links to E at each of `peers`.
fn control(peers: &[String]) -> Node {
    let list: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    let extra = format!(
        r#"[[zone]]
name = "to-edge"
type = "traversal-client"
peers = [{}]
transport = "tls"
username = "control-1"
password = "secret"
keepalive_interval = 1
retry_first = 1
retry_max = 2

[[search_rule]]
name = "internet via E"
pattern_type = "suffix"
pattern = "@internet.test"
target = "to-edge"

[media]
anchor = "none"
"#,
        list.join(", ")
    );
    Node::start(NodeOptions {
        extra: &extra,
        ..Default::default()
    })
}

/// The links of `zone` in a status, by state.
fn links(status: &serde_json::Value, zone: &str, state: &str) -> usize {
    status["links"].as_array().map_or(0, |l| {
        l.iter()
            .filter(|l| l["zone"] == zone && l["state"] == state)
            .count()
    })
}

/// `calls` calls from sipp to the node on `port` for `user@domain`.
fn calls(port: u16, user: &str, domain: &str, calls: u32) -> Output {
    sipp_uac_port(
        port,
        ("uac_call_domain.xml", user, "u1"),
        calls,
        10,
        &["-key", "domain", domain],
    )
}

fn report(out: &Output, nodes: &[&Node]) -> String {
    let logs: Vec<String> = nodes
        .iter()
        .map(|n| format!("--- {}\n{}", n.status_text(), n.log()))
        .collect();
    format!(
        "stdout: {}\nstderr: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        logs.join("\n")
    )
}

/// How many calls a node's history holds.
fn history_len(node: &Node) -> usize {
    let (_, body) = node.admin_get("/calls");
    let calls: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    calls["calls"].as_array().map_or(0, Vec::len)
}

/// A sipp UAS registered on each of `nodes` as bob.
fn bob_on(nodes: &[&Node]) -> Background {
    let (uas, port) = sipp_uas("uas_call.xml", "u1");
    for n in nodes {
        register(n, "bob", port);
    }
    uas
}

#[test]
fn c_links_to_every_peer_of_an_e_cluster_and_calls_go_on_when_one_dies() {
    let (_internet, ua) = sipp_uas("uas_call.xml", "u1");
    let (z1, z2) = (free_port(), free_port());
    let mut e1 = edge(z1, ua);
    let e2 = edge(z2, ua);
    let c = control(&[format!("127.0.0.1:{z1}"), format!("127.0.0.1:{z2}")]);
    until(&c, "both links up", T, |s| links(s, "to-edge", "up") == 2);
    for e in [&e1, &e2] {
        until(e, "C's link up", T, |s| links(s, "from-control", "up") == 1);
    }
    let _bob = bob_on(&[&c]);
    let all = [&c, &e1, &e2];

    // from the inside: down one link (the first, as long as the probes find both alike)
    let out = calls(c.port, "carol", "internet.test", 10);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &all));
    // from the internet through either E: each has its own link to C
    for e in [&e1, &e2] {
        let out = calls(e.port, "bob", "example.com", 3);
        assert_eq!(out.status.code(), Some(0), "{}", report(&out, &all));
    }

    // E1 dies: C's link to it goes down, the calls go on through E2
    let before = history_len(&e2);
    e1.stop();
    let all = [&c, &e1, &e2];
    let out = calls(c.port, "carol", "internet.test", 10);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &all));
    assert!(
        history_len(&e2) >= before + 10,
        "E2 carried the calls after E1's death"
    );
    until(&c, "one link up, one down", T, |s| {
        links(s, "to-edge", "up") == 1 && links(s, "to-edge", "down") == 1
    });
    let out = calls(e2.port, "bob", "example.com", 3);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &all));
}

#[test]
fn e_holds_a_link_from_each_peer_of_a_c_cluster_and_calls_go_on_when_one_dies() {
    let (_internet, ua) = sipp_uas("uas_call.xml", "u1");
    let zone = free_port();
    let e = edge(zone, ua);
    let peer = [format!("127.0.0.1:{zone}")];
    let mut c1 = control(&peer);
    let c2 = control(&peer);
    until(&e, "a link from each C", T, |s| {
        links(s, "from-control", "up") == 2
    });
    // side by side: neither link pushes the other out over several refreshes and keep-alives
    let since = |s: &serde_json::Value| -> Vec<u64> {
        let mut v: Vec<u64> = s["links"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["zone"] == "from-control")
            .filter_map(|l| l["since"].as_u64())
            .collect();
        v.sort_unstable();
        v
    };
    let first = since(&e.status_json());
    // three message timeouts of keep-alives only (pings each second, pongs back)
    std::thread::sleep(Duration::from_secs(6));
    let s = e.status_json();
    assert_eq!(links(&s, "from-control", "up"), 2, "{s}");
    assert_eq!(since(&s), first, "the links stayed as they were: {s}");

    // bob is registered on both C peers (a C cluster shares its registrations)
    let _bob = bob_on(&[&c1, &c2]);
    let all = [&e, &c1, &c2];
    let out = calls(e.port, "bob", "example.com", 5);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &all));
    // each C reaches the internet through its own link
    for c in [&c1, &c2] {
        let out = calls(c.port, "carol", "internet.test", 2);
        assert_eq!(out.status.code(), Some(0), "{}", report(&out, &all));
    }

    // C1 dies: E's link from it goes with its connection; bob is reached through C2
    c1.stop();
    let all = [&e, &c1, &c2];
    until(&e, "one link left", T, |s| {
        links(s, "from-control", "up") == 1
    });
    let before = history_len(&c2);
    let out = calls(e.port, "bob", "example.com", 5);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &all));
    assert!(history_len(&c2) >= before + 5, "C2 carried the calls");
}
