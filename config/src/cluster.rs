//! `[cluster]`: this node as one of up to 6 peers (the cluster FQDN, this peer's id, every
//! peer's address in id order, the TLS port of peer traffic, how peer certificates are checked,
//! where the replicated log lives). Peer-local: every peer's file has its own. Shape, defaults
//! and the checks of this table only; the cluster itself is the `cluster` crate's.

use crate::defaults as d;
use crate::load::{FieldError, PathPart::*};
use crate::schema::TlsVerify;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The most peers a cluster has (the reference clustering guide's limit).
pub const MAX_PEERS: usize = 6;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// The cluster's FQDN (certificates, DNS SRV).
    pub name: String,
    /// This peer: 1 for the first address of `peers`, 2 for the second, …
    pub node_id: u64,
    /// Every peer, this one included, in node-id order: `"10.0.0.1"` (on `port`) or
    /// `"10.0.0.1:4372"` (peers sharing one host in a lab).
    pub peers: Vec<String>,
    #[serde(default = "default_port")]
    pub port: u16,
    /// `enforce`: peer certificates must chain to `[sip] trusted_ca`.
    #[serde(default = "default_verify")]
    pub tls_verify: TlsVerify,
    /// The replicated log, its snapshots and the vote.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
}

fn default_port() -> u16 {
    d::CLUSTER_TLS_PORT
}

fn default_verify() -> TlsVerify {
    TlsVerify::Permissive
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/causeway")
}

impl Cluster {
    /// Every peer's address with its id (1-based, `peers` order); `check` made sure each parses.
    pub fn peer_addrs(&self) -> Vec<(u64, SocketAddr)> {
        self.peers
            .iter()
            .zip(1u64..)
            .filter_map(|(p, id)| Some((id, parse_peer(p, self.port)?)))
            .collect()
    }

    /// This peer's own address.
    pub fn own_addr(&self) -> Option<SocketAddr> {
        self.peer_addrs()
            .into_iter()
            .find(|(id, _)| *id == self.node_id)
            .map(|(_, a)| a)
    }
}

fn parse_peer(p: &str, port: u16) -> Option<SocketAddr> {
    p.parse::<SocketAddr>()
        .ok()
        .or_else(|| p.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, port)))
}

pub(crate) fn check(c: &Cluster) -> Result<(), FieldError> {
    let key = |k| [Key("cluster"), Key(k)];
    if c.name.trim().is_empty() {
        return Err(FieldError::new(&key("name"), "must not be empty"));
    }
    if c.peers.is_empty() || c.peers.len() > MAX_PEERS {
        return Err(FieldError::new(
            &key("peers"),
            format!(
                "a cluster has 1 to {MAX_PEERS} peers, not {}",
                c.peers.len()
            ),
        ));
    }
    let mut seen = Vec::new();
    for (i, p) in c.peers.iter().enumerate() {
        let at = [Key("cluster"), Key("peers"), Index(i)];
        let Some(addr) = parse_peer(p, c.port) else {
            return Err(FieldError::new(
                &at,
                format!("`{p}` is not an IP address (or IP:port)"),
            ));
        };
        if seen.contains(&addr) {
            return Err(FieldError::new(&at, format!("{addr} is listed twice")));
        }
        seen.push(addr);
    }
    if c.node_id == 0 || c.node_id > c.peers.len() as u64 {
        return Err(FieldError::new(
            &key("node_id"),
            format!(
                "must name one of the {} peers (1 to {})",
                c.peers.len(),
                c.peers.len()
            ),
        ));
    }
    if c.port == 0 {
        return Err(FieldError::new(&key("port"), "must not be 0"));
    }
    Ok(())
}
