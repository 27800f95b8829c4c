//! End-to-end tests of the replicated configuration: real peers on 127.0.0.1 (free ports
//! from port 0), each with its own temporary data directory, talking TCP or TLS. Waits poll
//! with deadlines; nothing asserts on a fixed sleep.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use causeway_cluster::{document_hash, Applied, ApplyError, Cluster, ClusterSettings, Role, Tls};
use tokio::io::AsyncWriteExt;

const APPLY_TIMEOUT: Duration = Duration::from_secs(5);
const CONVERGE: Duration = Duration::from_secs(10);

/// `n` free loopback ports, below the kernel's ephemeral range and outside 25000-29999.
///
/// A stopped peer must get its port back on restart. A port from the ephemeral range (what
/// binding port 0 hands out) may meanwhile become the source port of some outgoing
/// connection, and the restart fails with "address in use"; a real peer's fixed port (4372)
/// is below that range too. Each port is checked free by binding it.
fn free_addrs(n: usize) -> Vec<SocketAddr> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok())
        })
        .unwrap_or(32768);
    let (low, high) = (30000u32, ephemeral_low.clamp(30001, 65535));
    let span = high - low;
    let seed = std::process::id() * 131;
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
    assert_eq!(held.len(), n, "no free ports in {low}..{high}");
    held.iter().map(|l| l.local_addr().unwrap()).collect()
}

struct Harness {
    peers: Vec<(u64, SocketAddr)>,
    dir: tempfile::TempDir,
    tls: Option<Tls>,
    nodes: Vec<Option<Cluster>>,
}

impl Harness {
    async fn new(n: usize, tls: Option<Tls>) -> Harness {
        let peers: Vec<_> = free_addrs(n)
            .into_iter()
            .zip(1u64..)
            .map(|(a, id)| (id, a))
            .collect();
        let mut h = Harness {
            peers,
            dir: tempfile::tempdir().unwrap(),
            tls,
            nodes: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            h.start(i).await;
        }
        h
    }

    async fn start(&mut self, i: usize) {
        let settings = ClusterSettings {
            name: "test-cluster".into(),
            node_id: self.peers[i].0,
            peers: self.peers.clone(),
            data_dir: self.dir.path().join(format!("node{}", i + 1)),
            tls: self.tls.clone(),
            directory: None,
        };
        self.nodes[i] = Some(Cluster::start(settings).await.unwrap());
    }

    async fn stop(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.shutdown().await;
        }
    }

    fn node(&self, i: usize) -> &Cluster {
        self.nodes[i].as_ref().expect("node running")
    }

    fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    /// Wait until every running node names the same running leader; its index.
    async fn leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let running = self.running();
            let leaders: Vec<_> = running
                .iter()
                .map(|&i| self.node(i).status().leader)
                .collect();
            if let Some(Some(id)) = leaders.first() {
                let idx = (*id - 1) as usize;
                if leaders.iter().all(|l| *l == Some(*id))
                    && running.contains(&idx)
                    && self.node(idx).status().role == Role::Leader
                {
                    return idx;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no agreed leader within {within:?}: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Wait until every running node has applied `applied` as its document.
    async fn converged(&self, applied: &Applied, within: Duration) {
        for i in self.running() {
            let mut rx = self.node(i).watch();
            let seen = tokio::time::timeout(
                within,
                rx.wait_for(|d| d.as_ref().is_some_and(|d| d.index >= applied.index)),
            )
            .await
            .is_ok();
            assert!(
                seen,
                "node {} did not apply index {} in time",
                i + 1,
                applied.index
            );
            let doc = rx.borrow().clone().unwrap();
            assert_eq!(
                doc.index,
                applied.index,
                "node {} went past the expected index",
                i + 1
            );
            assert_eq!(
                doc.hash,
                applied.hash,
                "node {} applied another document",
                i + 1
            );
            assert_eq!(document_hash(&doc.text), doc.hash);
        }
    }

    /// Wait until every running node has applied the same log index (blank and membership
    /// entries included) and holds the same document.
    async fn same_state(&self, within: Duration) -> (u64, Option<String>) {
        let deadline = Instant::now() + within;
        loop {
            let states: Vec<_> = self
                .running()
                .iter()
                .map(|&i| {
                    let s = self.node(i).status();
                    (s.applied_index, s.last_log_index, s.document_hash)
                })
                .collect();
            let first = &states[0];
            if first.0.is_some() && first.0 == first.1 && states.iter().all(|s| s == first) {
                return (first.0.unwrap_or(0), first.2.clone());
            }
            assert!(
                Instant::now() < deadline,
                "peers did not converge: {states:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn shutdown_all(mut self) {
        for i in 0..self.nodes.len() {
            self.stop(i).await;
        }
    }
}

fn doc(n: u32) -> String {
    format!("[registrar]\nrealm = \"example.com\"\n\n[[zone]]\nname = \"zone-{n}\"\n")
}

fn follower_of(leader: usize, n: usize) -> usize {
    (leader + 1) % n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_elect_and_apply_from_a_follower() {
    let h = Harness::new(3, None).await;
    let leader = h.leader(Duration::from_secs(5)).await;
    let f = follower_of(leader, 3);
    let applied = h.node(f).apply(doc(1), APPLY_TIMEOUT).await.unwrap();
    assert_eq!(applied.hash, document_hash(&doc(1)));
    h.converged(&applied, CONVERGE).await;
    let status = h.node(leader).status();
    assert_eq!(status.role, Role::Leader);
    assert!(status
        .peers
        .iter()
        .all(|p| p.matched_index.is_some_and(|m| m >= applied.index)));
    assert!(status
        .peers
        .iter()
        .filter(|p| !p.is_self)
        .all(|p| p.last_contact.is_some()));
    h.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_dies_new_leader_within_3s_and_survivor_applies() {
    let mut h = Harness::new(3, None).await;
    let old = h.leader(Duration::from_secs(5)).await;
    let first = h.node(old).apply(doc(1), APPLY_TIMEOUT).await.unwrap();
    h.converged(&first, CONVERGE).await;

    let killed_at = Instant::now();
    h.stop(old).await;
    let new = h.leader(Duration::from_secs(3)).await;
    let took = killed_at.elapsed();
    println!("new leader after {took:?}");
    assert_ne!(new, old);
    assert!(took < Duration::from_secs(3));

    let survivor = h.running().into_iter().find(|&i| i != new).unwrap();
    let applied = h.node(survivor).apply(doc(2), APPLY_TIMEOUT).await.unwrap();
    h.converged(&applied, CONVERGE).await;
    h.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_down_during_apply_catches_up_after_restart() {
    let mut h = Harness::new(3, None).await;
    let leader = h.leader(Duration::from_secs(5)).await;
    let down = follower_of(leader, 3);
    h.stop(down).await;
    let mut last = None;
    for n in 1..=3 {
        last = Some(h.node(leader).apply(doc(n), APPLY_TIMEOUT).await.unwrap());
    }
    let last = last.unwrap();
    h.converged(&last, CONVERGE).await;

    h.start(down).await;
    h.converged(&last, CONVERGE).await;
    let (index, hash) = h.same_state(CONVERGE).await;
    assert!(index >= last.index);
    assert_eq!(hash, Some(last.hash.clone()));
    h.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_far_behind_is_restored_from_a_snapshot() {
    let mut h = Harness::new(3, None).await;
    let leader = h.leader(Duration::from_secs(5)).await;
    let down = follower_of(leader, 3);
    let first = h.node(leader).apply(doc(0), APPLY_TIMEOUT).await.unwrap();
    h.converged(&first, CONVERGE).await;
    h.stop(down).await;
    // Past the snapshot policy (every 64 entries, 64 kept): the leader compacts its log
    // beyond what the stopped peer has, so only a snapshot can bring it back.
    let mut last = first.clone();
    for n in 1..=140 {
        last = h.node(leader).apply(doc(n), APPLY_TIMEOUT).await.unwrap();
    }
    // Snapshot and purge run in the background after the applies.
    let deadline = Instant::now() + CONVERGE;
    loop {
        let purged = h.node(leader).status().purged_index;
        if purged.is_some_and(|p| p > first.index) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "leader did not compact: {purged:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    h.start(down).await;
    h.converged(&last, CONVERGE).await;
    h.same_state(CONVERGE).await;
    let restored = h.node(down).status();
    assert!(
        restored.snapshot_index.is_some_and(|s| s > first.index),
        "{restored:?}"
    );
    h.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn majority_down_apply_fails_in_time_and_nothing_diverges() {
    let mut h = Harness::new(3, None).await;
    let leader = h.leader(Duration::from_secs(5)).await;
    let before = h.node(leader).apply(doc(1), APPLY_TIMEOUT).await.unwrap();
    h.converged(&before, CONVERGE).await;

    // Keep the leader and stop both followers: the leader cannot confirm a majority.
    let others: Vec<_> = (0..3).filter(|&i| i != leader).collect();
    for &i in &others {
        h.stop(i).await;
    }
    let timeout = Duration::from_millis(1500);
    let started = Instant::now();
    let err = h.node(leader).apply(doc(2), timeout).await.unwrap_err();
    let took = started.elapsed();
    println!("apply with the majority down: {err} after {took:?}");
    assert!(
        matches!(
            err,
            ApplyError::NoQuorum { .. } | ApplyError::NoLeader { .. }
        ),
        "{err:?}"
    );
    assert!(
        took >= timeout && took < timeout + Duration::from_millis(500),
        "{took:?}"
    );

    // Now the lone peer is a follower-to-be: stop the leader too, start one follower.
    h.stop(leader).await;
    h.start(others[0]).await;
    let started = Instant::now();
    let err = h.node(others[0]).apply(doc(3), timeout).await.unwrap_err();
    let took = started.elapsed();
    println!("apply on a lone follower: {err} after {took:?}");
    assert!(
        matches!(
            err,
            ApplyError::NoLeader { .. }
                | ApplyError::Unreachable { .. }
                | ApplyError::NoQuorum { .. }
        ),
        "{err:?}"
    );
    assert!(took < timeout + Duration::from_millis(500), "{took:?}");

    for i in [leader, others[1]] {
        h.start(i).await;
    }
    h.leader(Duration::from_secs(5)).await;
    let (_, hash) = h.same_state(CONVERGE).await;
    assert_eq!(
        hash,
        Some(before.hash.clone()),
        "a refused document was applied"
    );
    let after = h
        .node(others[1])
        .apply(doc(4), APPLY_TIMEOUT)
        .await
        .unwrap();
    h.converged(&after, CONVERGE).await;
    h.same_state(CONVERGE).await;
    h.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_survives_a_full_restart() {
    let mut h = Harness::new(3, None).await;
    let leader = h.leader(Duration::from_secs(5)).await;
    let applied = h.node(leader).apply(doc(7), APPLY_TIMEOUT).await.unwrap();
    h.converged(&applied, CONVERGE).await;
    for i in 0..3 {
        h.stop(i).await;
    }
    for i in 0..3 {
        h.start(i).await;
    }
    // Known from disk at once, before any election.
    for i in 0..3 {
        let d = h
            .node(i)
            .watch()
            .borrow()
            .clone()
            .expect("document from disk");
        assert_eq!(
            (d.index, d.hash.as_str()),
            (applied.index, applied.hash.as_str())
        );
        assert_eq!(&*d.text, doc(7));
    }
    let leader = h.leader(Duration::from_secs(5)).await;
    let next = h
        .node(follower_of(leader, 3))
        .apply(doc(8), APPLY_TIMEOUT)
        .await
        .unwrap();
    assert!(next.index > applied.index);
    h.converged(&next, CONVERGE).await;
    h.shutdown_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_peers_converge_and_latency() {
    let h = Harness::new(6, None).await;
    h.leader(Duration::from_secs(5)).await;
    let watches: Vec<_> = (0..6).map(|i| h.node(i).watch()).collect();
    let mut latencies = Vec::new();
    for n in 0..50u32 {
        let started = Instant::now();
        let applied = h
            .node(n as usize % 6)
            .apply(doc(n), APPLY_TIMEOUT)
            .await
            .unwrap();
        for rx in &watches {
            let mut rx = rx.clone();
            let seen = tokio::time::timeout(
                CONVERGE,
                rx.wait_for(|d| d.as_ref().is_some_and(|d| d.index >= applied.index)),
            )
            .await
            .is_ok();
            assert!(seen, "apply {n} not everywhere in time");
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "6 peers, 50 applies from rotating peers, apply -> applied on all 6: p50 {:?} p99 {:?} max {:?}",
        pct(50),
        pct(99),
        latencies[latencies.len() - 1]
    );
    let (_, hash) = h.same_state(CONVERGE).await;
    assert_eq!(hash, Some(document_hash(&doc(49))));
    h.shutdown_all().await;
}

async fn refused_at_least(h: &Harness, i: usize, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.node(i).status().refused_connections < n {
        assert!(
            Instant::now() < deadline,
            "refusal not counted: {:?}",
            h.node(i).status()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_garbage_are_refused_and_counted() {
    let h = Harness::new(3, None).await;
    let leader = h.leader(Duration::from_secs(5)).await;
    let target = h.peers[0].1;
    assert_eq!(h.node(0).status().refused_connections, 0);

    // From a non-peer address.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut stranger = socket.connect(target).await.unwrap();
    refused_at_least(&h, 0, 1).await;
    let mut buf = [0u8; 1];
    let read = tokio::io::AsyncReadExt::read(&mut stranger, &mut buf).await;
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "stranger's connection left open"
    );

    // Garbage from a peer address, then an absurd frame length.
    let mut garbage = tokio::net::TcpStream::connect(target).await.unwrap();
    garbage.write_all(b"\x00\x00\x00\x05hello").await.unwrap();
    refused_at_least(&h, 0, 2).await;
    let mut huge = tokio::net::TcpStream::connect(target).await.unwrap();
    huge.write_all(&[0xff, 0xff, 0xff, 0xff, 0]).await.unwrap();
    refused_at_least(&h, 0, 3).await;
    // A well-formed hello claiming a foreign cluster.
    let mut foreign = tokio::net::TcpStream::connect(target).await.unwrap();
    let hello = br#"{"Hello":{"cluster":"other","from":2}}"#;
    foreign
        .write_all(&(hello.len() as u32).to_be_bytes())
        .await
        .unwrap();
    foreign.write_all(hello).await.unwrap();
    refused_at_least(&h, 0, 4).await;

    let applied = h
        .node(follower_of(leader, 3))
        .apply(doc(1), APPLY_TIMEOUT)
        .await
        .unwrap();
    h.converged(&applied, CONVERGE).await;
    h.shutdown_all().await;
}

/// The peers' TLS (one certificate for all, from one CA) and the CA as roots.
fn tls_pair() -> (Tls, Arc<rustls::RootCertStore>) {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let der = || PrivateKeyDer::try_from(key.serialize_der()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let roots = Arc::new(roots);
    let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain.clone(), der())
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(chain, der())
        .unwrap();
    let tls = Tls {
        server: Arc::new(server),
        client: Arc::new(client),
    };
    (tls, roots)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_over_mutual_tls() {
    let (tls, roots) = tls_pair();
    let h = Harness::new(3, Some(tls)).await;
    let leader = h.leader(Duration::from_secs(5)).await;
    let applied = h
        .node(follower_of(leader, 3))
        .apply(doc(1), APPLY_TIMEOUT)
        .await
        .unwrap();
    h.converged(&applied, CONVERGE).await;

    // A plain-TCP client speaking the protocol is refused by the TLS port.
    let target = h.peers[0].1;
    let mut plain = tokio::net::TcpStream::connect(target).await.unwrap();
    let hello = br#"{"Hello":{"cluster":"test-cluster","from":2}}"#;
    plain
        .write_all(&(hello.len() as u32).to_be_bytes())
        .await
        .unwrap();
    plain.write_all(hello).await.unwrap();
    refused_at_least(&h, 0, 1).await;

    // A TLS client that trusts the peers' CA but has no certificate of its own: refused.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let anonymous = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(anonymous));
    let tcp = tokio::net::TcpStream::connect(target).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(target.ip().into());
    // TLS 1.3: the client may finish its side before the server refuses; either way the
    // hello goes nowhere
    if let Ok(mut tls) = connector.connect(name, tcp).await {
        let _ = tls.write_all(&(hello.len() as u32).to_be_bytes()).await;
        let _ = tls.write_all(hello).await;
        let _ = tls.flush().await;
    }
    refused_at_least(&h, 0, 2).await;

    // and the cluster is unaffected
    let applied = h
        .node(follower_of(leader, 3))
        .apply(doc(2), APPLY_TIMEOUT)
        .await
        .unwrap();
    h.converged(&applied, CONVERGE).await;
    h.shutdown_all().await;
}
