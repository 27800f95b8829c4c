//! Clusters of real nodes on loopback (issue 12): three peers replicate the cluster document
//! with Raft. A document applied through a follower is in effect on every peer; the leader
//! killed, a survivor elects a new one and takes the next document, and calls between UAs of a
//! survivor run through the death undisturbed; the killed peer, restarted,
//! catches up; every peer restarted, the document comes back from disk; two of three down, a
//! document is refused with a clear error and the survivor keeps its configuration and its
//! calls; a peer-local
//! table in a document is refused with its position; strangers on the cluster port are refused
//! and counted. Six peers elect a new leader within 3 s of the old one's death, take the next
//! document through a survivor and share a registration with every peer.
//!
//! How long replication takes is printed (`replication:` lines), not asserted: speed is
//! `bench/`'s. The bounds here are only the tests' patience.

use causeway_tests::cluster::{peers, until};
use causeway_tests::{env_bin, register, sipp_uac_port, sipp_uas, Node};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn cluster3() -> (Vec<Node>, tempfile::TempDir) {
    peers(3, "")
}

fn cluster_of(node: &Node) -> serde_json::Value {
    node.status_json()["cluster"].clone()
}

fn apply(node: &Node, file: &std::path::Path) -> Output {
    Command::new(env_bin())
        .args(["config", "apply", "--admin"])
        .arg(format!("127.0.0.1:{}", node.admin_port))
        .arg(file)
        .output()
        .expect("causeway config apply")
}

fn document(dir: &std::path::Path, name: &str, zone: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "[[zone]]\nname = \"{zone}\"\ntype = \"neighbor\"\npeer = \"127.0.0.1:5999\"\n\n\
             [[search_rule]]\nname = \"to {zone}\"\npattern_type = \"suffix\"\n\
             pattern = \"@{zone}.example\"\ntarget = \"{zone}\"\n"
        ),
    )
    .expect("write document");
    path
}

fn has_zone(status: &serde_json::Value, zone: &str) -> bool {
    status["zones"]
        .as_array()
        .is_some_and(|z| z.iter().any(|z| z["name"] == zone))
}

fn leader(nodes: &[&Node]) -> Option<u64> {
    nodes.iter().find_map(|n| cluster_of(n)["leader"].as_u64())
}

fn committed_hash(out: &Output) -> String {
    let said = String::from_utf8_lossy(&out.stdout);
    said.split("hash ")
        .nth(1)
        .and_then(|h| h.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

fn ok(out: &Output, nodes: &[&Node]) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        nodes
            .iter()
            .map(|n| n.log())
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
}

#[test]
fn a_document_reaches_every_peer_through_leader_loss_and_restarts() {
    let (mut nodes, _data) = cluster3();
    let docs = tempfile::tempdir().expect("tempdir");
    let all: Vec<&Node> = nodes.iter().collect();
    for n in &all {
        until(n, "a leader", Duration::from_secs(10), |s| {
            s["cluster"]["leader"].as_u64().is_some()
        });
    }
    let first = leader(&all).expect("a leader");
    let follower = all
        .iter()
        .position(|n| cluster_of(n)["node_id"].as_u64() != Some(first))
        .expect("a follower");

    // through a follower; in effect on every peer
    let t0 = Instant::now();
    let out = apply(all[follower], &document(docs.path(), "one.toml", "partner"));
    ok(&out, &all);
    let committed = t0.elapsed();
    let hash = committed_hash(&out);
    assert_eq!(hash.len(), 64, "{}", String::from_utf8_lossy(&out.stdout));
    for n in &all {
        until(n, "the document in effect", Duration::from_secs(5), |s| {
            s["cluster"]["document_hash"] == hash.as_str() && has_zone(s, "partner")
        });
    }
    println!(
        "replication: committed and applied on the asked follower in {committed:?}, \
         in effect on all 3 (as status shows, refreshed every second) within {:?}",
        t0.elapsed()
    );

    // the leader goes; a survivor takes the next document
    let li = all
        .iter()
        .position(|n| cluster_of(n)["node_id"].as_u64() == Some(first))
        .expect("the leader");
    drop(all);
    // calls between UAs of a survivor run across the leader's death, undisturbed
    let survivor = (li + 1) % 3;
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    register(&nodes[survivor], "bob", uas_port);
    let port = nodes[survivor].port;
    let calls =
        std::thread::spawn(move || sipp_uac_port(port, ("uac_call.xml", "bob", "u1"), 60, 20, &[]));
    std::thread::sleep(Duration::from_millis(500));
    nodes[li].stop();
    let killed = Instant::now();
    let out = apply(
        &nodes[survivor],
        &document(docs.path(), "two.toml", "partner2"),
    );
    ok(&out, &[&nodes[survivor]]);
    println!(
        "replication: committed on a survivor {:?} after the leader was killed",
        killed.elapsed()
    );
    let hash2 = committed_hash(&out);
    for (i, n) in nodes.iter().enumerate().filter(|(i, _)| *i != li) {
        until(
            n,
            "a new leader and the second document",
            Duration::from_secs(5),
            |s| {
                s["cluster"]["leader"].as_u64().is_some_and(|l| l != first)
                    && s["cluster"]["document_hash"] == hash2.as_str()
                    && has_zone(s, "partner2")
                    && !has_zone(s, "partner")
            },
        );
        let _ = i;
    }
    let calls = calls.join().expect("sipp");
    assert_eq!(
        calls.status.code(),
        Some(0),
        "calls on a survivor across the leader's death\n{}{}",
        String::from_utf8_lossy(&calls.stdout),
        nodes[survivor].log()
    );
    assert!(
        nodes[survivor].status_json()["registrations"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["aor"] == "sip:bob@example.com")),
        "bob's registration stays"
    );

    // the killed peer comes back and catches up
    nodes[li].restart();
    until(
        &nodes[li],
        "the restarted peer catching up",
        Duration::from_secs(10),
        |s| s["cluster"]["document_hash"] == hash2.as_str() && has_zone(s, "partner2"),
    );

    // every peer restarted: the document comes back from disk
    for n in nodes.iter_mut() {
        n.stop();
    }
    for n in nodes.iter_mut() {
        n.restart();
    }
    for n in &nodes {
        until(n, "the document from disk", Duration::from_secs(10), |s| {
            s["cluster"]["document_hash"] == hash2.as_str() && has_zone(s, "partner2")
        });
    }
}

#[test]
fn without_a_majority_a_document_is_refused_and_nothing_diverges() {
    let (mut nodes, _data) = cluster3();
    let docs = tempfile::tempdir().expect("tempdir");
    let out = apply(&nodes[0], &document(docs.path(), "one.toml", "partner"));
    ok(&out, &[&nodes[0]]);
    let hash = committed_hash(&out);
    nodes[1].stop();
    nodes[2].stop();
    let t0 = Instant::now();
    let out = apply(&nodes[0], &document(docs.path(), "two.toml", "partner2"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("not committed"), "a clear error: {why}");
    println!("refused after {:?}: {}", t0.elapsed(), why.trim());
    let s = nodes[0].status_json();
    assert!(
        has_zone(&s, "partner") && !has_zone(&s, "partner2"),
        "{}",
        nodes[0].status_text()
    );
    // calls keep working on the survivor, with the configuration it has
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    register(&nodes[0], "bob", uas_port);
    let calls = sipp_uac_port(nodes[0].port, ("uac_call.xml", "bob", "u1"), 10, 10, &[]);
    assert_eq!(
        calls.status.code(),
        Some(0),
        "calls on the survivor alone\n{}",
        nodes[0].log()
    );
    // back together: one document everywhere
    nodes[1].restart();
    nodes[2].restart();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let hashes: Vec<String> = nodes
            .iter()
            .map(|n| {
                cluster_of(n)["document_hash"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        if hashes.iter().all(|h| !h.is_empty() && *h == hashes[0]) {
            assert!(hashes[0] == hash || !hashes[0].is_empty());
            break;
        }
        assert!(Instant::now() < end, "diverged: {hashes:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn peer_local_tables_and_strangers_are_refused() {
    let (nodes, _data) = cluster3();
    let docs = tempfile::tempdir().expect("tempdir");
    let bad = docs.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[zone]]\nname = \"p\"\ntype = \"neighbor\"\npeer = \"127.0.0.1\"\n\n[sip]\nt1_ms = 400\n",
    )
    .expect("write");
    let out = apply(&nodes[1], &bad);
    assert_eq!(out.status.code(), Some(1));
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(
        why.contains(&format!("{}:6:", bad.display())) && why.contains("peer-local"),
        "the file, its position and why: {why}"
    );

    // garbage from a stranger's address on peer 1's cluster port
    until(
        &nodes[0],
        "the cluster in the status",
        Duration::from_secs(5),
        |s| s["cluster"]["peers"].is_array(),
    );
    let status = cluster_of(&nodes[0]);
    let port: SocketAddr = status["peers"][0]["addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .expect("peer 1's address");
    let stranger =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    stranger
        .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
        .expect("bind 127.0.0.2");
    if stranger.connect(&port.into()).is_ok() {
        let mut s: TcpStream = stranger.into();
        let _ = s.write_all(b"\x16\x03\x01 garbage from nowhere");
    }
    until(
        &nodes[0],
        "the stranger counted",
        Duration::from_secs(5),
        |s| s["cluster"]["refused_connections"].as_u64() >= Some(1),
    );
    // the cluster is unaffected
    let out = apply(&nodes[2], &document(docs.path(), "one.toml", "partner"));
    ok(&out, &[&nodes[2]]);
}

#[test]
fn six_peers_elect_a_new_leader_take_documents_and_share_registrations() {
    let (mut nodes, _data) = peers(6, "");
    let docs = tempfile::tempdir().expect("tempdir");
    for n in &nodes {
        until(n, "a leader", Duration::from_secs(15), |s| {
            s["cluster"]["leader"].as_u64().is_some()
        });
    }
    let all: Vec<&Node> = nodes.iter().collect();
    let first = leader(&all).expect("a leader");
    drop(all);
    let li = nodes
        .iter()
        .position(|n| cluster_of(n)["node_id"].as_u64() == Some(first))
        .expect("the leader");
    // a UA registered on one follower is known on every other peer
    let home = (li + 1) % 6;
    causeway_tests::register(&nodes[home], "bob", causeway_tests::free_port());
    let home_id = cluster_of(&nodes[home])["node_id"].as_u64();
    for (_, n) in nodes.iter().enumerate().filter(|(i, _)| *i != home) {
        until(n, "bob published", Duration::from_secs(5), |s| {
            s["directory"]["registrations"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|r| r["alias"] == "bob@example.com" && r["node_id"].as_u64() == home_id)
            })
        });
    }

    // the leader killed: a new one within 3 s (as the survivors' status shows it), and a
    // document committed through any survivor reaches the other four
    nodes[li].stop();
    let killed = Instant::now();
    let survivor = (li + 2) % 6;
    until(
        &nodes[survivor],
        "a new leader",
        Duration::from_secs(3),
        |s| s["cluster"]["leader"].as_u64().is_some_and(|l| l != first),
    );
    println!(
        "six peers: a new leader seen {:?} after the kill",
        killed.elapsed()
    );
    let out = apply(&nodes[survivor], &document(docs.path(), "six.toml", "six"));
    ok(&out, &[&nodes[survivor]]);
    let hash = committed_hash(&out);
    for (_, n) in nodes.iter().enumerate().filter(|(i, _)| *i != li) {
        until(
            n,
            "the document on every survivor",
            Duration::from_secs(5),
            |s| s["cluster"]["document_hash"] == hash.as_str() && has_zone(s, "six"),
        );
    }
}
