//! causeway-cluster: one cluster-wide configuration document (the TOML text of
//! `[registrar]`, `[[credential]]`, `[[zone]]`, … shared by every peer) replicated between up
//! to six peers with Raft (openraft 0.9), kept on disk, with peer traffic over TCP or TLS.
//!
//! The crate owns consensus, storage and the peer protocol; it does not parse or validate the
//! document (the caller passes it through causeway-config first) and does not reconfigure
//! the node (the node watches [`Cluster::watch`]).
//!
//! Besides, each peer publishes soft state to the others (its registrations and a few facts
//! about itself, see [`directory`]), pushed over the same peer connections and never through
//! the Raft log: [`Cluster::publish`] sets this peer's, [`ClusterSettings::directory`] hears
//! the others'.
//!
//! Map: `types` (what a log entry is), `store/` (log, vote, applied state on disk), `wire`
//! (frames and messages), `net` (outgoing connections, openraft's network), `server`
//! (incoming connections), `apply` (writing a document from any peer), `status`,
//! `directory` (the soft state's protocol, sans-IO), `publish` (its tasks).
//!
//! Choices:
//! - Membership is the configured peer list. On an empty store the peer with the lowest id
//!   initialises the cluster with all peers as voters; the others wait to be contacted.
//!   Changing the peer list of a running cluster is not handled here yet.
//! - Timers: heartbeat 100 ms, election timeout 300–600 ms, so a dead leader is replaced
//!   in well under a second on a quiet network.
//! - Peers are admitted by source address (each peer dials from its own configured address)
//!   and by the `Hello` frame's cluster name and node id; TLS, when configured, authenticates
//!   further according to the rustls configs the caller builds.

mod apply;
pub mod directory;
mod net;
mod publish;
mod server;
mod status;
mod store;
mod types;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use directory::{DirectorySink, SetOutcome};
pub use status::{ClusterStatus, PeerStatus, Role};
pub use types::document_hash;

/// Largest configuration document accepted (bytes). Real ones are tens of kilobytes; the
/// bound keeps every log entry within one peer-protocol frame (see `wire::MAX_FRAME`).
pub const MAX_DOCUMENT: usize = 1024 * 1024;

/// The highest node id, and so the largest cluster.
pub const MAX_PEERS: u64 = 6;

/// TLS for peer traffic: this peer serves with `server` and dials with `client`. The
/// client verifies the far peer's certificate against its IP address.
#[derive(Clone)]
pub struct Tls {
    pub server: Arc<rustls::ServerConfig>,
    pub client: Arc<rustls::ClientConfig>,
}

/// How to run this peer.
#[derive(Clone)]
pub struct ClusterSettings {
    /// The cluster's name; peers of another cluster are refused.
    pub name: String,
    /// This peer's id, 1..=6.
    pub node_id: u64,
    /// Every peer, this one included, with the address it listens on and dials from.
    pub peers: Vec<(u64, SocketAddr)>,
    /// Where the log, vote and applied state are kept.
    pub data_dir: PathBuf,
    /// TLS for peer traffic; `None` for plain TCP.
    pub tls: Option<Tls>,
    /// Told what the other peers publish ([`Cluster::publish`]). With `None` their
    /// publications are still received, answered and kept (the status shows them); nobody
    /// else is told.
    pub directory: Option<Arc<dyn directory::DirectorySink>>,
}

/// The result of a committed write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Log index of the entry carrying the document.
    pub index: u64,
    /// SHA-256 (hex) of the document.
    pub hash: String,
}

/// The document in force on this peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedDocument {
    pub index: u64,
    pub hash: String,
    pub text: Arc<str>,
}

/// Why [`Cluster::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cluster settings: {0}")]
    Settings(String),
    #[error("cluster store in {dir}: {source}")]
    Store {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cluster peer port {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cluster engine: {0}")]
    Engine(String),
}

/// Why a document was not applied. Crosses the wire in a forwarded write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApplyError {
    #[error("no leader known after {waited_ms} ms (are a majority of peers up and reachable?)")]
    NoLeader { waited_ms: u64 },
    #[error("leader {leader} could not confirm a majority of peers (gave up after {waited_ms} ms); nothing was proposed")]
    NoQuorum { leader: u64, waited_ms: u64 },
    #[error("proposed by leader {leader} but not committed within {waited_ms} ms; it takes effect if a majority acknowledges it later")]
    NotCommitted { leader: u64, waited_ms: u64 },
    #[error("the asked peer is not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    #[error("leader {peer} unreachable: {reason}")]
    Unreachable { peer: u64, reason: String },
    #[error("document of {len} bytes is above the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("consensus engine: {0}")]
    Engine(String),
    #[error("the cluster node is shut down")]
    Shutdown,
}

impl ApplyError {
    /// Worth another try within the same deadline (the leader may have moved, a peer may be
    /// back).
    fn is_retriable(&self) -> bool {
        matches!(
            self,
            ApplyError::NoLeader { .. }
                | ApplyError::NoQuorum { .. }
                | ApplyError::NotLeader { .. }
                | ApplyError::Unreachable { .. }
        )
    }
}

/// Entry points for the fuzz targets (`fuzz/fuzz_targets/cluster_frame.rs`); not an API.
#[doc(hidden)]
pub mod fuzzing {
    use std::time::Instant;

    use crate::directory::Inbox;
    use crate::wire::{self, Request};

    /// Read `data` as peer frames (`u32 BE length | JSON`), one after the other, and decode
    /// each as a [`Request`]; hand every `Publish` to `inbox` as from peer 2, so a sequence
    /// of them reaches the delta paths too. Must never panic.
    pub fn peer_frames(inbox: &mut Inbox, mut data: &[u8], now: Instant) {
        while let Some((len, rest)) = data.split_first_chunk::<4>() {
            let len = u32::from_be_bytes(*len) as usize;
            if len > wire::MAX_FRAME {
                return;
            }
            let Some(body) = rest.get(..len) else {
                return;
            };
            data = &rest[len..];
            if let Ok(Request::Publish(p)) = wire::decode::<Request>(body) {
                let _ = inbox.receive(2, p, now);
            }
        }
        let _ = inbox.expire(now);
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::directory::Publication;

        #[test]
        fn a_publish_frame_reaches_the_inbox() {
            let p = Publication {
                epoch: 1,
                seq: 1,
                base: 0,
                reset: true,
                last: true,
                about: Default::default(),
                changes: vec![("a".into(), Some("1".into()))],
            };
            let frame = wire::encode(&Request::Publish(p)).unwrap();
            let mut inbox = Inbox::new();
            let now = Instant::now();
            peer_frames(&mut inbox, &frame[..frame.len() - 1], now);
            assert_eq!(inbox.entries(2), None, "a cut frame is nothing");
            peer_frames(&mut inbox, &frame, now);
            assert_eq!(inbox.entries(2).map(|e| e.len()), Some(1));
        }
    }
}

/// Publishes this peer's soft state (see [`Cluster::publish`]); cheap to clone.
#[derive(Clone)]
pub struct Publisher(Arc<publish::Exchange>);

impl Publisher {
    /// As [`Cluster::publish`].
    pub fn publish(
        &self,
        about: BTreeMap<String, String>,
        entries: BTreeMap<String, String>,
    ) -> SetOutcome {
        self.0.publish(about, entries)
    }

    /// Only this peer's `about` changed (its load, say): no pass over the entries.
    pub fn publish_about(&self, about: BTreeMap<String, String>) -> SetOutcome {
        self.0.publish_about(about)
    }
}

/// A running cluster peer.
pub struct Cluster {
    raft: Raft<types::TypeConfig>,
    shared: Arc<net::Shared>,
    document: watch::Receiver<Option<AppliedDocument>>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    exchange: Arc<publish::Exchange>,
    publishers: Vec<JoinHandle<()>>,
}

fn check_settings(settings: &ClusterSettings) -> Result<BTreeMap<u64, SocketAddr>, StartError> {
    let bad = |s: String| Err(StartError::Settings(s));
    let ids = 1..=MAX_PEERS;
    if !ids.contains(&settings.node_id) {
        return bad(format!(
            "node_id {} is not within 1..={MAX_PEERS}",
            settings.node_id
        ));
    }
    let mut peers = BTreeMap::new();
    for &(id, addr) in &settings.peers {
        if !ids.contains(&id) {
            return bad(format!("peer id {id} is not within 1..={MAX_PEERS}"));
        }
        if peers.insert(id, addr).is_some() {
            return bad(format!("peer id {id} is listed twice"));
        }
    }
    if !peers.contains_key(&settings.node_id) {
        return bad(format!(
            "node_id {} is not in the peer list",
            settings.node_id
        ));
    }
    Ok(peers)
}

fn raft_config(name: &str) -> Result<openraft::Config, StartError> {
    let config = openraft::Config {
        cluster_name: name.to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 300,
        election_timeout_max: 600,
        // Documents are few and small: snapshot (and compact the log behind it) every 64
        // entries, keeping 64 for peers that lag a little.
        snapshot_policy: SnapshotPolicy::LogsSinceLast(64),
        max_in_snapshot_log_to_keep: 64,
        // One chunk is JSON bytes (up to 4 characters per byte): within `wire::MAX_FRAME`.
        snapshot_max_chunk_size: 1024 * 1024,
        max_payload_entries: 64,
        ..Default::default()
    };
    config
        .validate()
        .map_err(|e| StartError::Engine(e.to_string()))
}

impl Cluster {
    /// Open the store, start the engine, listen on this peer's address.
    pub async fn start(settings: ClusterSettings) -> Result<Cluster, StartError> {
        let peers = check_settings(&settings)?;
        let dir = settings.data_dir.clone();
        let store_err = |source| StartError::Store {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(store_err)?;
        let log = store::log::LogStore::open(&dir).map_err(store_err)?;
        let (state, document) = store::state::StateMachine::open(&dir).map_err(store_err)?;

        let own = peers[&settings.node_id];
        let listener = TcpListener::bind(own)
            .await
            .map_err(|source| StartError::Listen { addr: own, source })?;

        let shared = Arc::new(net::Shared::new(
            settings.name.clone(),
            settings.node_id,
            peers.clone(),
            settings.tls.clone(),
        ));
        let network = net::NetworkFactory {
            shared: shared.clone(),
        };
        let config = Arc::new(raft_config(&settings.name)?);
        let raft = Raft::new(settings.node_id, config, network, log, state)
            .await
            .map_err(|e| StartError::Engine(e.to_string()))?;

        let lowest = peers.keys().next().copied();
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Engine(e.to_string()))?;
        if lowest == Some(settings.node_id) && !initialized {
            let members: BTreeMap<u64, BasicNode> = peers
                .iter()
                .map(|(&id, addr)| {
                    (
                        id,
                        BasicNode {
                            addr: addr.to_string(),
                        },
                    )
                })
                .collect();
            raft.initialize(members)
                .await
                .map_err(|e| StartError::Engine(e.to_string()))?;
        }

        let exchange = Arc::new(publish::Exchange::new(
            publish::random_epoch(),
            settings.directory.clone(),
        ));
        let (stop, stopped) = watch::channel(false);
        let publishers = publish::spawn(&exchange, &shared, &stopped);
        let server = tokio::spawn(server::serve(
            listener,
            shared.clone(),
            raft.clone(),
            exchange.clone(),
            stopped,
        ));
        Ok(Cluster {
            raft,
            shared,
            document,
            stop,
            server,
            exchange,
            publishers,
        })
    }

    /// Replicate `document` as the new cluster-wide configuration, from this peer whatever
    /// its role; returns once a majority has committed it (and the leader applied it).
    pub async fn apply(&self, document: String, timeout: Duration) -> Result<Applied, ApplyError> {
        apply::apply_anywhere(&self.raft, &self.shared, document, timeout).await
    }

    /// The document in force on this peer, updated as entries are applied here.
    pub fn watch(&self) -> watch::Receiver<Option<AppliedDocument>> {
        self.document.clone()
    }

    /// Set this peer's directory state: `about` (a few facts: SIP addresses, load) and
    /// `entries` (its registrations: alias key -> value), each time whole. A pass over the
    /// entries (tens of milliseconds at 100,000): call it when they changed, and
    /// [`Publisher::publish_about`] otherwise. The differences are queued and the publishers
    /// woken; every other peer has them within a round trip of this call. Keys and values over 256 bytes, `about` keys past 32 and entries past
    /// 200 000 are left out (counted in the outcome), as the receivers would refuse them.
    pub fn publish(
        &self,
        about: BTreeMap<String, String>,
        entries: BTreeMap<String, String>,
    ) -> SetOutcome {
        self.exchange.publish(about, entries)
    }

    /// A handle that publishes as [`Cluster::publish`] does, for a task that does not own the
    /// cluster; it does nothing once the cluster is shut down.
    pub fn publisher(&self) -> Publisher {
        Publisher(self.exchange.clone())
    }

    /// This peer's view of the cluster.
    pub fn status(&self) -> ClusterStatus {
        let metrics = self.raft.metrics().borrow().clone();
        let document = self.document.borrow().clone();
        status::build(&self.shared, &self.exchange, &metrics, document.as_ref())
    }

    /// Stop the engine and the publishers, close the peer port and every peer connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.publishers {
            task.abort();
            let _ = task.await;
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "cluster: engine did not stop cleanly");
        }
        let _ = self.server.await;
    }
}
