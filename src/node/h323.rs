//! The H.323 side of a node: the gatekeeper (RAS) and gatekeeper-routed call signaling of
//! `[h323]`, built from the configuration and run on their own task; call signaling anchors
//! H.245 media on the node's relay when there is one.

use anyhow::Context;
use causeway_config::zones::ZoneType;
use causeway_config::Config;
use causeway_h323::{call, driver, ras, service};
use causeway_zones::SharedAliases;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// The gatekeeper (RAS) and H.323 call signaling of `[h323]`, on their own task.
pub(super) async fn start(
    config: &Config,
    shared: SharedAliases,
    endpoint_id_prefix: u32,
    router: causeway_zones::Router,
    tap: Option<Arc<dyn driver::Tap>>,
    anchor: Option<causeway_media::ChannelAnchor>,
) -> anyhow::Result<(
    tokio::task::JoinHandle<()>,
    causeway_h323::driver::StatusHandle,
)> {
    let h = &config.h323;
    let dcfg = driver::DriverConfig {
        ras_listen: h.ras_listen,
        q931_listen: h.q931_listen,
        signaling_ports: h.signaling_ports,
        discovery_port: h.multicast_discovery.then_some(h.discovery_port),
    };
    let bound = driver::bind(&dcfg).await.with_context(|| {
        format!(
            "h323: cannot bind RAS {} / Q.931 {}",
            h.ras_listen, h.q931_listen
        )
    })?;
    let ras_addr = bound.ras_addr()?;
    let q931_addr = bound.q931_addr()?;
    let neighbors = neighbors(config).await;
    let gk = ras::Gatekeeper::new(
        ras::GatekeeperConfig {
            gatekeeper_id: h
                .gatekeeper_id
                .clone()
                .unwrap_or_else(|| config.system.name.clone()),
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
        },
        router,
        neighbors,
    )
    .with_shared_aliases(shared);
    let calls = call::CallSignaling::new(
        call::CallConfig {
            max_calls: h.max_calls,
            setup_timeout: Duration::from_secs(h.setup_timeout),
            alerting_timeout: Duration::from_secs(h.setup_timeout),
            ..call::CallConfig::default()
        },
        // the `[media] anchor` policy picks the calls (no relay: addresses pass as they are)
        anchor.map(|a| Box::new(a) as Box<dyn causeway_media::MediaAnchor + Send>),
    );
    let svc = service::Service::new(gk, calls, ras_addr);
    info!(
        "H.323 gatekeeper: RAS udp {ras_addr}, call signaling tcp {q931_addr}, ports {}",
        h.signaling_ports
    );
    let snapshot = driver::StatusHandle::default();
    let task = tokio::spawn(driver::run(bound, dcfg, svc, snapshot.clone(), tap));
    Ok((task, snapshot))
}

fn regexes(list: &[String]) -> anyhow::Result<Vec<regex::Regex>> {
    list.iter()
        .map(|p| regex::Regex::new(p).with_context(|| format!("h323 pattern `{p}`")))
        .collect()
}

/// Neighbor zones with an IP peer (a host name is resolved once, here): where LRQs go and
/// whose LRQs are answered.
async fn neighbors(config: &Config) -> Vec<(String, SocketAddr)> {
    let mut neighbors = Vec::new();
    for z in config.zones.iter().filter(|z| z.kind == ZoneType::Neighbor) {
        let host = z.peer.clone().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = z
            .ras_port
            .unwrap_or(causeway_config::defaults::H323_RAS_PORT);
        match host.parse::<IpAddr>() {
            Ok(ip) => neighbors.push((z.name.clone(), SocketAddr::new(ip, port))),
            Err(_) => match tokio::net::lookup_host((host, port)).await {
                Ok(mut a) => match a.next() {
                    Some(a) => neighbors.push((z.name.clone(), a)),
                    None => tracing::warn!("zone `{}`: `{host}` has no address; no H.323", z.name),
                },
                Err(e) => tracing::warn!("zone `{}`: `{host}`: {e}; no H.323", z.name),
            },
        }
    }
    neighbors
}
