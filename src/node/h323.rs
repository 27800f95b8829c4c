//! The H.323 side of a node: the gatekeeper (RAS) and gatekeeper-routed call signaling of
//! `[h323]`, built from the configuration and run on their own task; call signaling anchors
//! H.245 media on the node's relay when there is one.

use super::h323_flows;
use anyhow::Context;
use causeway_config::zones::ZoneType;
use causeway_config::Config;
use causeway_h323::h46018::{ServerZoneConfig, WallClock, ZoneServer};
use causeway_h323::{call, driver, ras, service};
use causeway_zones::SharedAliases;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// The running H.323 side: its task, its status, its call-signaling address and where a
/// reload sends the gatekeeper's new policy.
pub(super) struct Started {
    pub task: tokio::task::JoinHandle<()>,
    pub snapshot: causeway_h323::driver::StatusHandle,
    pub q931: SocketAddr,
    pub ras: SocketAddr,
    pub control: tokio::sync::mpsc::UnboundedSender<driver::Control>,
}

/// The gatekeeper (RAS) and H.323 call signaling of `[h323]`, on their own task.
pub(super) async fn start(
    config: &Config,
    (shared, peers, health): (
        SharedAliases,
        Option<causeway_zones::PeerAliases>,
        causeway_zones::PeerHealth,
    ),
    endpoint_id_prefix: u32,
    (router, interworking): (
        causeway_zones::Router,
        Option<(SocketAddr, causeway_config::InterworkingMode)>,
    ),
    tap: Option<Arc<dyn driver::Tap>>,
    anchor: Option<causeway_media::ChannelAnchor>,
    guard: causeway_guard::SharedGuard,
) -> anyhow::Result<Started> {
    let h = &config.h323;
    let zones = server_zones(config);
    let dcfg = driver::DriverConfig {
        ras_listen: h.ras_listen,
        q931_listen: h.q931_listen,
        signaling_ports: h.signaling_ports,
        discovery_port: h.multicast_discovery.then_some(h.discovery_port),
        zone_ports: zones.iter().map(|(_, a, _)| *a).collect(),
        assent_listen: zones
            .iter()
            .any(|(z, _, _)| z.signalling_port.is_some())
            .then(|| SocketAddr::new(h.q931_listen.ip(), h.assent_port)),
        // C opens the separate H.245 channels of H.460.18 traversal calls here
        h46018_listen: zones
            .iter()
            .any(|(z, _, _)| z.signalling_port.is_none())
            .then(|| SocketAddr::new(h.q931_listen.ip(), h.h46018_port)),
        guard: guard.clone(),
    };
    let bound = driver::bind(&dcfg).await.with_context(|| {
        format!(
            "h323: cannot bind RAS {} / Q.931 {} / traversal zone ports {:?} / assent {:?} / \
             H.460.18 H.245 {:?}",
            h.ras_listen, h.q931_listen, dcfg.zone_ports, dcfg.assent_listen, dcfg.h46018_listen
        )
    })?;
    let ras_addr = bound.ras_addr()?;
    let q931_addr = bound.q931_addr()?;
    let neighbors = neighbors(config).await;
    let mut gk = ras::Gatekeeper::new(
        gatekeeper_config(config, q931_addr, endpoint_id_prefix)?,
        router,
        neighbors,
    );
    if let Some(peers) = peers {
        gk = gk.with_cluster_peers(peers);
    }
    gk = gk.with_peer_health(health);
    let gk = gk.with_shared_aliases(shared).with_traversal_zones(
        config
            .zones
            .iter()
            .filter(|z| z.carries_h323(h.enabled))
            .map(|z| z.name.clone())
            .collect(),
    );
    let calls = call::CallSignaling::new(
        call::CallConfig {
            max_calls: h.max_calls,
            setup_timeout: Duration::from_secs(h.setup_timeout),
            alerting_timeout: Duration::from_secs(h.setup_timeout),
            traversal_h245_port: h.h46018_port,
            assent_port: dcfg.assent_listen.map(|a| a.port()),
            keepalive_payload_type: config.media.keepalive_payload_type,
            ..call::CallConfig::default()
        },
        // the `[media] anchor` policy picks the calls (no relay: addresses pass as they are)
        anchor.map(|a| Box::new(a) as Box<dyn causeway_media::MediaAnchor + Send>),
    );
    let now = std::time::Instant::now();
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let clock = WallClock::new(now, unix);
    let (clients, unresolved) =
        h323_flows::zone_clients(config, ras_addr, q931_addr, (clock, now)).await;
    let gk_id = h
        .gatekeeper_id
        .clone()
        .unwrap_or_else(|| config.system.name.clone());
    let mut servers: Vec<ServerZoneConfig> = Vec::with_capacity(zones.len());
    for (z, a, _) in zones {
        info!(zone = %z.zone, "H.323 traversal zone port udp {a}");
        servers.push(z);
    }
    let skew = u32::try_from(h.token_skew).unwrap_or(u32::MAX);
    let server = ZoneServer::new(
        gk_id,
        q931_addr.port(),
        servers,
        clock,
        skew,
        rand::random(),
        now,
    );
    let mut svc = service::Service::new(gk, calls, ras_addr).with_traversal(clients, Some(server));
    svc.set_interworking(interworking);
    for u in &unresolved {
        u.show_waiting(&mut svc, now);
    }
    info!(
        "H.323 gatekeeper: RAS udp {ras_addr}, call signaling tcp {q931_addr}, ports {}",
        h.signaling_ports
    );
    let snapshot = driver::StatusHandle::default();
    let (control, controls) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(driver::run(
        bound,
        dcfg,
        (svc, controls),
        snapshot.clone(),
        tap,
    ));
    // peers whose name did not resolve yet: looked up again until it does, then added
    h323_flows::retry_unresolved(unresolved, (clock, guard), control.clone());
    Ok(Started {
        task,
        snapshot,
        q931: q931_addr,
        ras: ras_addr,
        control,
    })
}

/// The gatekeeper's settings from `[h323]`, with this run's call-signaling address and endpoint
/// identifier prefix (a reload keeps the running ones).
pub(super) fn gatekeeper_config(
    config: &Config,
    q931_addr: SocketAddr,
    endpoint_id_prefix: u32,
) -> anyhow::Result<ras::GatekeeperConfig> {
    let h = &config.h323;
    Ok(ras::GatekeeperConfig {
        gatekeeper_id: gatekeeper_id(config),
        time_to_live: h.time_to_live,
        probe_timeout: Duration::from_secs(h.probe_timeout),
        max_registrations: h.max_registrations,
        max_calls: h.max_calls,
        q931_port: q931_addr.port(),
        q931_ip: (!h.q931_listen.ip().is_unspecified()).then(|| h.q931_listen.ip()),
        allow: regexes(&h.registration_allow)?,
        deny: regexes(&h.registration_deny)?,
        endpoint_id_prefix: format!("{endpoint_id_prefix:08x}"),
        locate_timeout: Duration::from_secs(h.locate_timeout),
        // endpoints behind a NAT keep their mapping open with their refreshes
        h46018_ttl: Some(
            u32::try_from(causeway_config::defaults::H46018_KEEPALIVE_SECS).unwrap_or(19),
        ),
    })
}

fn regexes(list: &[String]) -> anyhow::Result<Vec<regex::Regex>> {
    list.iter()
        .map(|p| regex::Regex::new(p).with_context(|| format!("h323 pattern `{p}`")))
        .collect()
}

/// Neighbor zones with an IP peer (a host name is resolved once, here): where LRQs go and
/// The gatekeeper identifier: `[h323] gatekeeper_id`, by default the system name.
pub(super) fn gatekeeper_id(config: &Config) -> String {
    config
        .h323
        .gatekeeper_id
        .clone()
        .unwrap_or_else(|| config.system.name.clone())
}

/// whose LRQs are answered.
pub(super) async fn neighbors(config: &Config) -> Vec<(String, SocketAddr)> {
    let mut neighbors = Vec::new();
    // owned, so that no borrow of the configuration is held across the lookups
    let peers: Vec<(String, Option<u16>, String)> = config
        .zones
        .iter()
        .filter(|z| z.kind == ZoneType::Neighbor)
        .flat_map(|z| {
            z.peer_list()
                .into_iter()
                .map(|p| (z.name.clone(), z.ras_port, p.to_string()))
        })
        .collect();
    for (name, ras_port, host) in peers {
        let host = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = ras_port.unwrap_or(causeway_config::defaults::H323_RAS_PORT);
        match host.parse::<IpAddr>() {
            Ok(ip) => neighbors.push((name, SocketAddr::new(ip, port))),
            Err(_) => match tokio::net::lookup_host((host, port)).await {
                Ok(mut a) => match a.next() {
                    Some(a) => neighbors.push((name, a)),
                    None => tracing::warn!("zone `{name}`: `{host}` has no address; no H.323"),
                },
                Err(e) => tracing::warn!("zone `{name}`: `{host}`: {e}; no H.323"),
            },
        }
    }
    neighbors
}

/// E's traversal-server zones that carry H.323: their settings, port and index among the
/// zones (the credential the zone names gives the password; `check-config` made sure it
/// exists).
fn server_zones(config: &Config) -> Vec<(ServerZoneConfig, SocketAddr, usize)> {
    let h = &config.h323;
    config
        .zones
        .iter()
        .enumerate()
        .filter(|(_, z)| z.kind == ZoneType::TraversalServer && z.carries_h323(h.enabled))
        .map(|(i, z)| {
            let username = z.username.clone().unwrap_or_default();
            let password = config
                .credentials
                .iter()
                .find(|c| c.username == username)
                .map(|c| c.password.clone())
                .unwrap_or_default();
            let ip = z.listen_ip.unwrap_or(h.ras_listen.ip());
            let port = causeway_config::traversal_server_h323_port(config, i);
            let assent = z.h323_mode() == causeway_config::zones::H323Mode::Assent;
            let cfg = ServerZoneConfig {
                zone: z.name.clone(),
                username,
                password,
                keepalive: Duration::from_secs(causeway_config::defaults::H46018_KEEPALIVE_SECS),
                signalling_port: assent.then_some(h.assent_port),
            };
            (cfg, SocketAddr::new(ip, port), i)
        })
        .collect()
}
