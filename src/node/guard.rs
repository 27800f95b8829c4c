//! The node's guard (`[protection]`): built from the configuration, with the peers of its
//! zones and of its cluster exempt. The transports ask it about everything that arrives; the SIP driver passes it
//! what the core reports; the status publisher reads it.

use causeway_config::Config;
use causeway_guard::{Guard, SharedGuard};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// How long a zone peer's name may take to resolve at start.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) async fn build(config: &Config) -> SharedGuard {
    let mut guard = Guard::new(&config.protection);
    for peer in config.zones.iter().flat_map(|z| z.peer_list()) {
        match peer_ips(peer).await {
            Ok(ips) => ips.into_iter().for_each(|ip| guard.exempt(ip)),
            // the peer is still exempt once it proves itself (a traversal link); a neighbor
            // whose name does not resolve now is limited like anyone
            Err(e) => warn!(peer, error = %e, "protection: zone peer not resolved; not exempt"),
        }
    }
    // the other peers of the cluster forward calls for their registrations here
    for (_, addr) in config.cluster.iter().flat_map(|c| c.peer_addrs()) {
        guard.exempt(addr.ip());
    }
    if config.protection.enabled {
        let p = &config.protection;
        info!(
            messages = p.messages_per_second,
            garbage = p.garbage_per_second,
            auth_failures = p.auth_failures_per_second,
            connections = p.connections_per_second,
            block_seconds = p.block_seconds,
            "protection on: per-source budgets per second"
        );
    }
    Arc::new(Mutex::new(guard))
}

/// The addresses of a zone's `peer` (`host[:port]`, an IPv6 address in brackets).
async fn peer_ips(peer: &str) -> std::io::Result<Vec<IpAddr>> {
    if let Ok(a) = peer.parse::<SocketAddr>() {
        return Ok(vec![a.ip()]);
    }
    let host = peer.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let host = match peer.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => peer,
    };
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "lookup timed out"))??;
    Ok(found.map(|a| a.ip()).collect())
}
