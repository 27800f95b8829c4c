//! Registrations shared in a cluster of real nodes on loopback (issue 12, failure test 6): a
//! UA registered on peer 1 is called through peers 2 and 3 (each peer publishes who is
//! registered on it over the cluster port; the call goes peer to peer over SIP TLS); every
//! peer's status lists who is registered where; peer 1 killed, its registrations disappear
//! from the others within the failure-detection time, a call for the UA is a clean 404, and
//! once the UA registers on peer 2 it is reachable through peer 3 again. An H.323 endpoint
//! registered on peer 1 is called from one on peer 2 (LRQ between the peers' gatekeepers),
//! each RCF names the other peer as alternate gatekeeper, and peer 1's alias cannot be
//! registered on peer 2. A remote cluster as a neighbor zone (`peers = [...]`): a dead peer is
//! passed over, the live one is probed with OPTIONS and answers with its load.

use causeway_tests::cluster::{peers, peers_each, until};
use causeway_tests::{
    crlf, free_port, header_values, record_routes, register, register_with, sipp_uac, sipp_uas,
    status, H323Endpoint, Node, NodeOptions, StreamClient, UdpClient, UA_HEADERS,
};
use std::process::Output;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

/// Every node's status and log.
fn logs(nodes: &[&Node]) -> String {
    nodes
        .iter()
        .map(|n| format!("--- {}\n{}", n.status_text(), n.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn report(out: &Output, nodes: &[&Node]) -> String {
    format!(
        "stdout: {}\nstderr: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        logs(nodes)
    )
}

/// alice registers on `node` over TLS and, on the same connection, calls bob (registered on
/// another peer): 200, ACK and BYE along the route the four Record-Route entries make.
fn tls_call(node: &Node, all: &[&Node]) {
    let mut c = StreamClient::tls(node.tls(), None).expect("TLS handshake");
    let local = c.local;
    let head = |method: &str, uri: &str, branch: &str, cseq: u32, to: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: {to}\r\n\
             Call-ID: cluster-tls-{method}\r\nCSeq: {cseq} {method}\r\n\
             Contact: <sip:alice@{local};transport=tls>\r\n"
        )
    };
    let reg = head(
        "REGISTER",
        "sip:example.com",
        "r1",
        1,
        "<sip:alice@example.com>",
    );
    let r = c.request(&format!("{reg}Expires: 600\r\nContent-Length: 0\r\n\r\n"));
    assert_eq!(r.as_deref().map(status), Some(200), "{r:?}\n{}", logs(all));
    let invite = head(
        "INVITE",
        "sip:bob@example.com",
        "i1",
        1,
        "<sip:bob@example.com>",
    )
    .replace("cluster-tls-INVITE", "cluster-tls-call");
    let ok = c
        .request(&format!("{invite}Content-Length: 0\r\n\r\n"))
        .expect("final response over TLS");
    assert_eq!(status(&ok), 200, "{ok}\n{}", logs(all));
    let rr = record_routes(&ok);
    assert!(rr.len() >= 3, "both peers record-route: {ok}");
    let route: String = rr.iter().rev().map(|r| format!("Route: {r}\r\n")).collect();
    let to = header_values(&ok, "To")[0].clone();
    let remote = header_values(&ok, "Contact")[0]
        .trim_matches(|ch| ch == '<' || ch == '>')
        .to_string();
    let ack = head("ACK", &remote, "a1", 1, &to).replace("cluster-tls-ACK", "cluster-tls-call");
    c.send(format!("{ack}{route}Content-Length: 0\r\n\r\n").as_bytes())
        .expect("ACK sent");
    let bye = head("BYE", &remote, "b1", 2, &to).replace("cluster-tls-BYE", "cluster-tls-call");
    let r = c.request(&format!("{bye}{route}Content-Length: 0\r\n\r\n"));
    assert_eq!(
        r.as_deref().map(status),
        Some(200),
        "BYE: {r:?}\n{}",
        logs(all)
    );
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
    let (_, metrics) = nodes[2].admin_get("/metrics");
    assert!(
        metrics.contains("causeway_cluster_peer_registrations{peer=\"1\"} 1"),
        "{metrics}"
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
    // a UA registered on peer 3 over TLS calls bob (on peer 1) over TLS
    tls_call(&nodes[2], &all);

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

/// A peer's H.323 side on free loopback ports: `[h323]` for `peers`' extra, and the RAS
/// address.
fn h323_extra(n: usize) -> (String, std::net::SocketAddr) {
    let (ras, q931) = (free_port(), free_port());
    let extra = format!(
        "[h323]\nenabled = true\nras_listen = \"127.0.0.1:{ras}\"\nq931_listen = \"127.0.0.1:{q931}\"\n\
         gatekeeper_id = \"gk{n}\"\n"
    );
    (extra, std::net::SocketAddr::from(([127, 0, 0, 1], ras)))
}

#[test]
fn an_h323_endpoint_on_one_peer_is_called_from_another_and_told_of_the_alternates() {
    let (extras, ras): (Vec<String>, Vec<std::net::SocketAddr>) = (1..=2).map(h323_extra).unzip();
    let (nodes, _data) = peers_each(&extras);
    let bob = H323Endpoint::start(
        "bob",
        &[
            "--gk",
            &ras[0].to_string(),
            "--alias",
            "e164:4001",
            "--ignore-stdin",
        ],
    );
    bob.wait_event("registered", T);
    until(&nodes[1], "4001 published by peer 1", T, |s| {
        lists(s, "4001", 1)
    });
    let mut alice = H323Endpoint::start(
        "alice",
        &[
            "--gk",
            &ras[1].to_string(),
            "--alias",
            "e164:1001",
            "--call",
            "e164:4001",
            "--hold-ms",
            "300",
        ],
    );
    // peer 1 was heard of before alice registered: her RCF names its gatekeeper, with its own
    // identifier, as the one alternate
    let registered = alice.wait_event("registered", T);
    let alternates = registered["alternates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(alternates.len(), 1, "{registered}");
    assert_eq!(alternates[0]["ras"], ras[0].to_string(), "{registered}");
    assert_eq!(alternates[0]["gatekeeper_id"], "gk1", "{registered}");
    assert_eq!(alternates[0]["need_to_register"], true, "{registered}");
    let outcome = alice.wait("connected or released", T, |v| {
        v["event"] == "connected" || v["event"] == "released" || v["event"] == "arj"
    });
    let all: Vec<&Node> = nodes.iter().collect();
    assert_eq!(outcome["event"], "connected", "{outcome}\n{}", logs(&all));
    bob.wait("setup for 4001", T, |v| v["event"] == "setup");
    alice.wait_event("released", T);
    alice.finish(T);

    // an alias peer 1's endpoint holds cannot be registered on peer 2
    let mut dup = H323Endpoint::start(
        "dup",
        &["--gk", &ras[1].to_string(), "--alias", "e164:4001"],
    );
    let rrj = dup.wait_event("rrj", T);
    assert!(
        rrj["reason"]
            .as_str()
            .is_some_and(|r| r.contains("duplicateAlias")),
        "{rrj}"
    );
    dup.kill();
}

#[test]
fn a_remote_cluster_as_a_neighbor_zone_is_probed_and_tried_peer_by_peer() {
    // the remote cluster: a dead peer (nothing listens on its port) and a live one with carol
    let live = Node::start(NodeOptions::default());
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "t1");
    register_with(
        &live,
        "carol",
        &format!("127.0.0.1:{uas_port};transport=tcp"),
    );
    let dead = free_port();
    let extra = format!(
        "[[zone]]\nname = \"B\"\ntype = \"neighbor\"\ntransport = \"tcp\"\n\
         peers = [\"127.0.0.1:{dead}\", \"127.0.0.1:{}\"]\n\n\
         [[search_rule]]\nname = \"to-b\"\npriority = 40\npattern_type = \"prefix\"\n\
         pattern = \"carol@\"\ntarget = \"B\"\n",
        live.port
    );
    let a = Node::start(NodeOptions {
        extra: &extra,
        ..Default::default()
    });
    // the dead peer refuses the connection: the call goes on to the live one
    let out = sipp_uac(&a, "uac_call.xml", "carol", "u1", 3, 3);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &[&a, &live]));
    // the live peer is probed (OPTIONS) and tells its load in its answer
    until(&live, "probed by the other node", T, |s| {
        s["sip"]["requests"]["OPTIONS"].as_u64().unwrap_or(0) >= 1
    });
    let probe = crlf(&format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKp1\n\
         Max-Forwards: 70\nFrom: <sip:ping@127.0.0.1>;tag=p1\nTo: <sip:127.0.0.1:{port}>\n\
         Call-ID: probe-e2e\nCSeq: 1 OPTIONS\n{UA_HEADERS}Content-Length: 0\n\n",
        port = live.port
    ));
    let c = UdpClient::new();
    let answer = c.request(
        live.udp(),
        &probe.replace("127.0.0.1:9", &c.local().to_string()),
    );
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(
        header_values(&answer, "X-Causeway-Load")
            .first()
            .is_some_and(|v| v.starts_with("calls=")),
        "{answer}"
    );
}
