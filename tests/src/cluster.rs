//! Clusters of real nodes on loopback for the end-to-end tests: `n` peers of one cluster (each
//! a [`Node`] with its own ports and data directory), and a wait on a node's status.

use crate::{stable_port, Node, NodeOptions};
use std::time::{Duration, Instant};

/// `n` peers of cluster `expc.example.com` (node ids 1..=n) on 127.0.0.1, each with `extra`
/// appended to its file, and the directory that holds their data directories (kept while the
/// peers run). Media anchoring is off unless `extra` has a `[media]` table: tests run side by
/// side and would all want the multiplexed pair 36000/36001.
pub fn peers(n: u64, extra: &str) -> (Vec<Node>, tempfile::TempDir) {
    let extras: Vec<String> = (0..n).map(|_| extra.to_string()).collect();
    peers_each(&extras)
}

/// As [`peers`], one peer per element of `extras`, each with its own extra tables (its own
/// H.323 ports, say).
pub fn peers_each(extras: &[String]) -> (Vec<Node>, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("tempdir");
    let ports: Vec<u16> = extras.iter().map(|_| stable_port()).collect();
    let list: Vec<String> = ports.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
    let nodes = (1..)
        .zip(extras)
        .map(|(id, extra)| {
            let media = if extra.contains("[media]") {
                ""
            } else {
                "[media]\nanchor = \"none\"\n"
            };
            let extra = format!(
                "[cluster]\nname = \"expc.example.com\"\nnode_id = {id}\npeers = [{}]\n\
                 data_dir = \"{}\"\n\n{media}\n{extra}",
                list.join(", "),
                data.path().join(format!("peer{id}")).display()
            );
            Node::start(NodeOptions {
                extra: &extra,
                ..Default::default()
            })
        })
        .collect::<Vec<_>>();
    (nodes, data)
}

/// Waits until `cond` holds for the node's status, or panics with `what`, the status and the
/// log.
pub fn until(node: &Node, what: &str, limit: Duration, cond: impl Fn(&serde_json::Value) -> bool) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond(&node.status_json()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what}: not within {limit:?}\n{}\n{}",
        node.status_text(),
        node.log()
    );
}
