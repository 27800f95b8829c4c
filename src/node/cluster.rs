//! The node as a cluster peer (`[cluster]`): the replicated cluster document (crate `cluster`,
//! Raft) started on the node's certificate, and what the reload task does with it: apply each
//! committed document here as a reload applies the file, submit `causeway config apply`'s, and
//! publish the peer's view for `causeway status`.
//!
//! Owns the translation from `[cluster]` to the crate's settings and the peer TLS; must not
//! reconfigure anything itself (that is `reload`'s).

use anyhow::Context;
use causeway_cluster::{Cluster, ClusterSettings, ClusterStatus, DirectorySink, Tls};
use causeway_config::{Config, TlsVerify};
use causeway_sip::transport::{self, TlsMaterial};
use std::sync::{Arc, Mutex};
use tracing::info;

/// How long `causeway config apply` waits for a majority to commit.
pub(super) const APPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The peer's latest view of the cluster, for the status publisher.
pub(super) type View = Arc<Mutex<Option<ClusterStatus>>>;

/// Starts this peer when `[cluster]` is configured. Peer traffic is TLS on the node's
/// certificate: with `tls_verify = "enforce"` both ends must chain to `[sip] trusted_ca`;
/// permissive encrypts and admits peers by their configured address and the cluster name.
pub(super) async fn start(
    config: &Config,
    tls: Option<&TlsMaterial>,
    directory: Option<Arc<dyn DirectorySink>>,
) -> anyhow::Result<Option<Cluster>> {
    let Some(c) = &config.cluster else {
        return Ok(None);
    };
    let material = tls.context("[cluster]: peer traffic is TLS and the node has no certificate")?;
    let enforce = c.tls_verify == TlsVerify::Enforce;
    let ca = config.sip.trusted_ca.as_deref();
    let roots = if enforce {
        Some(transport::roots_from(ca).context("[cluster] tls_verify: [sip] trusted_ca")?)
    } else {
        None
    };
    let server = transport::server_config(material, roots).context("[cluster] TLS")?;
    let client = transport::client_config(Some(material), enforce, ca).context("[cluster] TLS")?;
    let settings = ClusterSettings {
        name: c.name.clone(),
        node_id: c.node_id,
        peers: c.peer_addrs(),
        data_dir: c.data_dir.clone(),
        tls: Some(Tls { server, client }),
        directory,
    };
    let cluster = Cluster::start(settings).await.context("[cluster]")?;
    info!(
        cluster = %c.name,
        node_id = c.node_id,
        peers = c.peers.len(),
        "cluster peer on {}",
        c.own_addr().map(|a| a.to_string()).unwrap_or_default()
    );
    Ok(Some(cluster))
}
