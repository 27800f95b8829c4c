//! A stale leader cut off from its cluster (issue 12, failure test 4): three peers on
//! 127.0.0.1-3 inside a network namespace this test makes; nftables there drops the leader's
//! cluster traffic (port 4372) both ways. The cut-off leader cannot commit (a clear error), the
//! other two elect a leader of their own and commit; the majority forgets what the cut-off
//! peer published (its soft state); once the partition heals, every peer has one history (the same applied
//! document, hash and index).
//!
//! Needs root (network namespaces) and nftables: `.ci/run` installs them.

use causeway_tests::env_bin;
use causeway_tests::netns::NsNode;
use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A namespace with only loopback, removed when dropped.
struct Ns(String);

impl Ns {
    fn new() -> Ns {
        let name = format!("cwpart{}", std::process::id() % 100_000);
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip netns add (root needed)");
        run(&name, &["ip", "link", "set", "lo", "up"]);
        Ns(name)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(ns: &str, args: &[&str]) -> Output {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip netns exec");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn config(id: u64, data: &std::path::Path) -> String {
    format!(
        r#"[system]
name = "peer{id}"
role = "control"
domain = "example.com"

[sip]
udp = {{ enabled = true, listen = "127.0.0.{id}:5060" }}
tcp = {{ enabled = true, listen = "127.0.0.{id}:5060" }}
tls = {{ enabled = true, listen = "127.0.0.{id}:5061" }}

[admin]
listen = "127.0.0.{id}:7080"

[media]
anchor = "none"

[cluster]
name = "expc.example.com"
node_id = {id}
peers = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
data_dir = "{}"
"#,
        data.join(format!("peer{id}")).display()
    )
}

fn status(ns: &str, id: u64) -> Value {
    let o = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env_bin())
        .args(["status", "--json", "--admin", &format!("127.0.0.{id}:7080")])
        .output()
        .expect("causeway status");
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

fn apply(ns: &str, id: u64, file: &std::path::Path) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env_bin())
        .args(["config", "apply", "--admin", &format!("127.0.0.{id}:7080")])
        .arg(file)
        .output()
        .expect("causeway config apply")
}

fn until(ns: &str, id: u64, what: &str, limit: Duration, cond: impl Fn(&Value) -> bool) {
    let end = Instant::now() + limit;
    loop {
        let s = status(ns, id);
        if cond(&s) {
            return;
        }
        assert!(
            Instant::now() < end,
            "peer {id}: {what} not within {limit:?}: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn document(dir: &std::path::Path, zone: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{zone}.toml"));
    let text = format!("[[zone]]\nname = \"{zone}\"\ntype = \"neighbor\"\npeer = \"127.0.0.9\"\n");
    std::fs::write(&path, text).expect("document");
    path
}

/// Drops peer `x`'s cluster traffic (TCP port 4372, either end) to and from the others.
fn partition(ns: &str, x: u64) {
    let me = format!("127.0.0.{x}");
    run(ns, &["nft", "add", "table", "inet", "part"]);
    run(
        ns,
        &[
            "nft",
            "add",
            "chain",
            "inet",
            "part",
            "out",
            "{ type filter hook output priority 0; }",
        ],
    );
    for port in ["dport", "sport"] {
        for (a, b) in [("saddr", "daddr"), ("daddr", "saddr")] {
            let rule = format!("ip {a} {me} ip {b} != {me} tcp {port} 4372 drop");
            let mut args = vec!["nft", "add", "rule", "inet", "part", "out"];
            args.extend(rule.split(' '));
            run(ns, &args);
        }
    }
}

fn heal(ns: &str) {
    run(ns, &["nft", "delete", "table", "inet", "part"]);
}

#[test]
fn a_partitioned_leader_cannot_commit_and_after_healing_there_is_one_history() {
    let ns = Ns::new();
    let data = tempfile::tempdir().expect("tempdir");
    let peers: Vec<NsNode> = (1..=3)
        .map(|id| NsNode::start(&ns.0, &config(id, data.path())))
        .collect();
    until(&ns.0, 1, "a leader", Duration::from_secs(10), |s| {
        s["cluster"]["leader"].is_u64()
    });
    let leader = status(&ns.0, 1)["cluster"]["leader"].as_u64().unwrap_or(1);
    let others: Vec<u64> = (1..=3).filter(|&i| i != leader).collect();
    // every peer knows the others' soft state before the cut
    until(
        &ns.0,
        others[0],
        "the other peers published",
        Duration::from_secs(5),
        |s| {
            s["directory"]["peers"]
                .as_array()
                .is_some_and(|p| p.len() == 2)
        },
    );

    partition(&ns.0, leader);
    let cut = Instant::now();
    let docs = tempfile::tempdir().expect("tempdir");
    let stale = document(docs.path(), "stale");
    let name = ns.0.clone();
    let refusing = std::thread::spawn(move || apply(&name, leader, &stale));

    // meanwhile the majority side elects its own leader and commits
    until(
        &ns.0,
        others[0],
        "a new leader on the majority side",
        Duration::from_secs(5),
        |s| s["cluster"]["leader"].as_u64().is_some_and(|l| l != leader),
    );
    println!("partition: a new leader {:?} after the cut", cut.elapsed());
    let out = apply(&ns.0, others[1], &document(docs.path(), "majority"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let hash = said
        .split("hash ")
        .nth(1)
        .and_then(|h| h.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    assert!(!hash.is_empty(), "{said}");

    let refused = refusing.join().expect("the stale apply");
    assert_ne!(
        refused.status.code(),
        Some(0),
        "the cut-off leader committed: {}",
        String::from_utf8_lossy(&refused.stdout)
    );
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("not committed"), "a clear error: {why}");

    // the majority side forgets the cut-off peer's soft state
    until(
        &ns.0,
        others[0],
        "the cut-off peer forgotten",
        Duration::from_secs(6),
        |s| {
            s["directory"]["peers"]
                .as_array()
                .is_some_and(|p| !p.iter().any(|p| p["node_id"].as_u64() == Some(leader)))
        },
    );

    heal(&ns.0);
    for id in 1..=3 {
        until(
            &ns.0,
            id,
            "one history after healing",
            Duration::from_secs(10),
            |s| {
                let c = &s["cluster"];
                c["document_hash"] == hash.as_str()
                    && s["zones"].as_array().is_some_and(|z| {
                        z.iter().any(|z| z["name"] == "majority")
                            && !z.iter().any(|z| z["name"] == "stale")
                    })
            },
        );
    }
    let applied: Vec<Value> = (1..=3)
        .map(|id| status(&ns.0, id)["cluster"]["document_index"].clone())
        .collect();
    assert!(applied.iter().all(|a| *a == applied[0]), "{applied:?}");
    for p in peers {
        p.stop();
    }
}
