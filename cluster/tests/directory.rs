//! End-to-end test of the directory (the peers' soft state): three real peers on 127.0.0.1
//! over plain TCP, each with a sink recording what it is told. Waits poll with deadlines;
//! nothing asserts on a fixed sleep.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causeway_cluster::directory::DEAD_AFTER;
use causeway_cluster::{Cluster, ClusterSettings, DirectorySink};

/// `n` free loopback ports below the ephemeral range and outside 25000-29999, so a stopped
/// peer gets its port back (see replication.rs).
fn free_addrs(n: usize) -> Vec<SocketAddr> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, span) = (30000u32, 2700u32);
    // Another offset than replication.rs, which may run at the same time.
    let seed = std::process::id() * 137 + 1300;
    let mut held = Vec::new();
    for _ in 0..span {
        if held.len() == n {
            break;
        }
        let port = low + (seed + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port as u16)) {
            held.push(l);
        }
    }
    assert_eq!(held.len(), n, "no free ports");
    held.iter().map(|l| l.local_addr().unwrap()).collect()
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Held {
    about: BTreeMap<String, String>,
    entries: BTreeMap<String, String>,
}

/// What one peer's application was told.
#[derive(Default)]
struct Seen {
    peers: Mutex<BTreeMap<u64, Held>>,
    /// Every key told removed, with the peer.
    removed: Mutex<Vec<(u64, String)>>,
    updates: AtomicUsize,
    forgets: AtomicUsize,
}

impl DirectorySink for Seen {
    fn update(
        &self,
        peer: u64,
        about: &BTreeMap<String, String>,
        changes: &[(String, Option<String>)],
    ) {
        self.updates.fetch_add(1, Ordering::SeqCst);
        let mut peers = self.peers.lock().unwrap();
        let held = peers.entry(peer).or_default();
        held.about = about.clone();
        for (k, v) in changes {
            match v {
                Some(v) => held.entries.insert(k.clone(), v.clone()),
                None => {
                    self.removed.lock().unwrap().push((peer, k.clone()));
                    held.entries.remove(k)
                }
            };
        }
    }

    fn forget(&self, peer: u64) {
        self.forgets.fetch_add(1, Ordering::SeqCst);
        self.peers.lock().unwrap().remove(&peer);
    }
}

impl Seen {
    fn of(&self, peer: u64) -> Option<Held> {
        self.peers.lock().unwrap().get(&peer).cloned()
    }
}

struct Harness {
    peers: Vec<(u64, SocketAddr)>,
    dir: tempfile::TempDir,
    sinks: Vec<Arc<Seen>>,
    nodes: Vec<Option<Cluster>>,
}

impl Harness {
    async fn new(n: usize) -> Harness {
        let peers = free_addrs(n).into_iter().zip(1u64..).map(|(a, id)| (id, a));
        let mut h = Harness {
            peers: peers.collect(),
            dir: tempfile::tempdir().unwrap(),
            sinks: (0..n).map(|_| Arc::new(Seen::default())).collect(),
            nodes: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            h.start(i).await;
        }
        h
    }

    async fn start(&mut self, i: usize) {
        let settings = ClusterSettings {
            name: "directory-test".into(),
            node_id: self.peers[i].0,
            peers: self.peers.clone(),
            data_dir: self.dir.path().join(format!("node{}", i + 1)),
            tls: None,
            directory: Some(self.sinks[i].clone()),
        };
        self.nodes[i] = Some(Cluster::start(settings).await.unwrap());
    }

    fn node(&self, i: usize) -> &Cluster {
        self.nodes[i].as_ref().expect("node running")
    }

    async fn stop(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.shutdown().await;
        }
    }

    /// Wait until `ok` holds for the sinks of nodes `at` (indexes); the time it took.
    async fn until(&self, at: &[usize], within: Duration, ok: impl Fn(&Seen) -> bool) -> Duration {
        let start = Instant::now();
        loop {
            if at.iter().all(|&i| ok(&self.sinks[i])) {
                return start.elapsed();
            }
            assert!(start.elapsed() < within, "not within {within:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_reach_every_peer_and_go_with_it() {
    let mut h = Harness::new(3).await;
    let within = Duration::from_secs(2);
    let about = map(&[("sip", "udp:127.0.0.1:5060")]);
    let first = map(&[("sip:alice@example.com", "1"), ("h323:1001", "1")]);
    h.node(0).publish(about.clone(), first.clone());
    let took = h
        .until(&[1, 2], within, |s| {
            s.of(1)
                .is_some_and(|p| p.entries == first && p.about == about)
        })
        .await;
    println!("published to both peers in {took:?}");

    // A change: one removed, one added, one changed.
    let second = map(&[("sip:alice@example.com", "2"), ("sip:bob@example.com", "1")]);
    h.node(0).publish(about.clone(), second.clone());
    let took = h
        .until(&[1, 2], within, |s| {
            s.of(1).is_some_and(|p| p.entries == second)
        })
        .await;
    println!("a change in {took:?}");

    // The status shows what is held of each peer, and our own counts.
    let status = h.node(1).status();
    let one = status.peers.iter().find(|p| p.node_id == 1).unwrap();
    assert_eq!(one.published_entries, Some(2));
    assert_eq!(one.about, about);
    let own = h.node(0).status();
    let me = own.peers.iter().find(|p| p.is_self).unwrap();
    assert_eq!((me.published_entries, &me.about), (Some(2), &about));

    // Peer 1 goes: the others forget it within DEAD_AFTER (+ the expiry period).
    let stopped = Instant::now();
    h.stop(0).await;
    h.until(&[1, 2], DEAD_AFTER + Duration::from_secs(1), |s| {
        s.of(1).is_none() && s.forgets.load(Ordering::SeqCst) >= 1
    })
    .await;
    let gone = stopped.elapsed();
    println!("forgotten {gone:?} after the stop");
    // Not before its last heartbeat (at most PUBLISH_EVERY before the stop) aged DEAD_AFTER.
    assert!(gone >= DEAD_AFTER - Duration::from_millis(1500), "{gone:?}");
    // Peers 2 and 3 still hold each other (empty states, but heard).
    assert!(h.sinks[1].of(3).is_some() && h.sinks[2].of(2).is_some());

    // Back with a new epoch: the others, which forgot it, get its state afresh.
    h.start(0).await;
    let third = map(&[("h323:2002", "9")]);
    h.node(0).publish(about.clone(), third.clone());
    h.until(&[1, 2], within, |s| {
        s.of(1).is_some_and(|p| p.entries == third)
    })
    .await;
    // And the restarted peer hears the others again.
    h.until(&[0], within, |s| s.of(2).is_some() && s.of(3).is_some())
        .await;
    for i in 0..3 {
        h.stop(i).await;
    }
}

/// A full state in several parts (here after the change log overran: more changes at once
/// than it keeps) replaces what the others hold without ever hiding an alias the peer kept:
/// they are told the difference once, at the last part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_resend_never_hides_a_kept_alias_from_the_others() {
    let mut h = Harness::new(2).await;
    let within = Duration::from_secs(20);
    let kept = |v: &str| -> BTreeMap<String, String> {
        (0..50_000)
            .map(|i| (format!("sip:kept{i:05}@example.com"), v.to_string()))
            .collect()
    };
    let first = kept("1");
    h.node(0).publish(BTreeMap::new(), first.clone());
    h.until(&[1], within, |s| {
        s.of(1).is_some_and(|p| p.entries == first)
    })
    .await;
    let updates = h.sinks[1].updates.load(Ordering::SeqCst);
    // 50k changed and 40k added: beyond the change log (32768), so a full state of 90k in
    // five parts.
    let mut second = kept("2");
    second.extend((0..40_000).map(|i| (format!("h323:{i:05}"), "h323".to_string())));
    h.node(0).publish(BTreeMap::new(), second.clone());
    let took = h
        .until(&[1], within, |s| {
            s.of(1).is_some_and(|p| p.entries == second)
        })
        .await;
    println!("a full state of 90k entries in {took:?}");
    assert!(h.sinks[1].removed.lock().unwrap().is_empty());
    assert_eq!(h.sinks[1].forgets.load(Ordering::SeqCst), 0);
    let told = h.sinks[1].updates.load(Ordering::SeqCst) - updates;
    // one update for the full state (a heartbeat or two may carry nothing to tell)
    assert_eq!(told, 1, "{told} updates");
    for i in 0..2 {
        h.stop(i).await;
    }
}
