//! What a peer knows of the cluster, for `causeway status` and the metrics page: built from
//! openraft's metrics (role, term, leader, matched index per peer when leader) and from the
//! network layer's own observations (last contact, refused connections), and from the
//! directory (entries and `about` held from each peer).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use openraft::{BasicNode, RaftMetrics, ServerState};
use serde::Serialize;

use crate::net::Shared;
use crate::publish::Exchange;
use crate::AppliedDocument;

/// This peer's role in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    Learner,
    Shutdown,
}

/// One peer as seen from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    pub node_id: u64,
    pub addr: SocketAddr,
    pub is_self: bool,
    /// Highest log index known replicated to it; only the leader knows this.
    pub matched_index: Option<u64>,
    /// Time since it was last heard from (an answer, or a request from it).
    pub last_contact: Option<Duration>,
    /// Directory entries held from it (for this peer: its own); `None` while nothing is
    /// held (never heard, or forgotten).
    pub published_entries: Option<usize>,
    /// The facts it published about itself (SIP addresses, load); empty while none held.
    pub about: BTreeMap<String, String>,
}

/// This peer's view of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    pub name: String,
    pub node_id: u64,
    pub role: Role,
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    /// Index of the last log entry applied here (any kind of entry).
    pub applied_index: Option<u64>,
    /// Last entry covered by this peer's snapshot, and last entry compacted out of its log.
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    /// The document in force here: the index of its entry and its SHA-256.
    pub document_index: Option<u64>,
    pub document_hash: Option<String>,
    pub peers: Vec<PeerStatus>,
    /// Connections closed unheard (non-peer address, bad handshake, garbage).
    pub refused_connections: u64,
    /// On the leader: time since a majority last acknowledged it.
    pub since_quorum_ack: Option<Duration>,
}

pub fn build(
    shared: &Shared,
    exchange: &Exchange,
    metrics: &RaftMetrics<u64, BasicNode>,
    document: Option<&AppliedDocument>,
) -> ClusterStatus {
    let role = match metrics.state {
        ServerState::Leader => Role::Leader,
        ServerState::Follower => Role::Follower,
        ServerState::Candidate => Role::Candidate,
        ServerState::Learner => Role::Learner,
        ServerState::Shutdown => Role::Shutdown,
    };
    let peers = shared
        .peers
        .iter()
        .map(|(&id, &addr)| {
            let is_self = id == shared.node_id;
            let matched_index = match (&metrics.replication, is_self) {
                (Some(_), true) => metrics.last_log_index,
                (Some(repl), false) => repl.get(&id).and_then(|m| m.map(|l| l.index)),
                (None, _) => None,
            };
            let held = if is_self {
                Some(exchange.own())
            } else {
                exchange.held(id)
            };
            PeerStatus {
                node_id: id,
                addr,
                is_self,
                matched_index,
                last_contact: if is_self {
                    None
                } else {
                    shared.last_contact(id).map(|t| t.elapsed())
                },
                published_entries: held.as_ref().map(|h| h.0),
                about: held.map(|h| h.1).unwrap_or_default(),
            }
        })
        .collect();
    ClusterStatus {
        name: shared.name.clone(),
        node_id: shared.node_id,
        role,
        leader: metrics.current_leader,
        term: metrics.current_term,
        last_log_index: metrics.last_log_index,
        applied_index: metrics.last_applied.map(|l| l.index),
        snapshot_index: metrics.snapshot.map(|l| l.index),
        purged_index: metrics.purged.map(|l| l.index),
        document_index: document.map(|d| d.index),
        document_hash: document.map(|d| d.hash.clone()),
        peers,
        refused_connections: shared.refused.load(Ordering::Relaxed),
        since_quorum_ack: metrics.millis_since_quorum_ack.map(Duration::from_millis),
    }
}
