//! Wiring of one node: configuration -> TLS material -> transports -> SIP proxy core with its
//! traversal links -> driver; the media relay, the H.323 side and the admin listener beside
//! them. Nothing here decides protocol behaviour; it only builds the parts from the
//! configuration (`sip`, `media`, `h323`) and runs them until a shutdown signal, publishing the
//! status on the way (`publish`).

mod cluster;
mod directory;
mod guard;
mod h323;
mod h323_flows;
mod interwork;
mod media;
mod publish;
mod reload;
mod sip;
mod trim;

use crate::admin::history::{History, Tap};
use crate::admin::metrics::MetricsHandle;
use crate::admin::server::Endpoint;
use crate::admin::StatusHandle;
use anyhow::{bail, Context};
use causeway_config::Config;
use causeway_media::Relay;
use causeway_sip::driver::{self, Io};
use causeway_sip::proxy::WallClock;
use causeway_sip::transport;
use causeway_zones::{PeerAliases, SharedAliases};
use publish::Publisher;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tracing::info;

/// Runs the node on `config` (read from `path`, which a reload re-reads) until a signal.
pub async fn run(config: Config, path: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let (listeners, server_zones) = sip::listeners(&config);
    let tls = sip::tls_material(&config, &listeners)?;
    let admin_tls = admin_tls(&config, tls.as_ref())?;
    let cert_not_after = tls
        .as_ref()
        .and_then(|m| m.certs.first())
        .and_then(|c| crate::admin::alarms::not_after(c));
    let links = sip::link_configs(&config, tls.as_ref()).await?;
    let guard = guard::build(&config).await;
    let reload_tls = tls.clone();
    // a peer of a cluster: the replicated document's engine on the node's certificate
    // and the other peers' registrations, as they publish them
    let peer_aliases = config.cluster.as_ref().map(|_| PeerAliases::default());
    let sink = peer_aliases
        .clone()
        .map(|p| Arc::new(directory::Sink(p)) as Arc<dyn causeway_cluster::DirectorySink>);
    let cluster = cluster::start(&config, tls.as_ref(), sink).await?;
    let cluster_view = cluster::View::default();
    let zones = publish::Zones::default();
    let transport_config = sip::transport_config(&config, listeners, tls, guard.clone());
    // one guard for both protocols: a source over a budget on one is blocked on the other
    let (handle, events) = transport::start(transport_config)
        .await
        .context("cannot start SIP transports")?;
    let bound = handle.local_addrs();
    for (kind, addr, mtls) in &bound {
        let mtls = if *mtls { " (MTLS)" } else { "" };
        info!("listening on SIP {}{mtls} {addr}", kind.via_token());
    }
    if bound.is_empty() {
        bail!("no SIP listener could be started");
    }
    if config.sip.threads == 2 && !handle.udp_thread() {
        tracing::warn!(
            "[sip] threads = 2: the UDP listeners are not on io_uring here; SIP runs on one thread"
        );
    }
    let mut rng = StdRng::from_entropy();
    let now = Instant::now();
    let clock = WallClock::at(now, SystemTime::now());
    let client_zones = links.iter().map(|l| l.zone.clone()).collect();
    let history = history(&config, &bound);
    // one router for both protocols, showing its decisions to the search history
    let mut router = causeway_zones::Router::from_config(&config);
    let recorder = history
        .as_ref()
        .map(|(_, tap)| Arc::new(tap.clone()) as Arc<dyn causeway_zones::SearchRecorder>);
    if let Some(r) = &recorder {
        router = router.with_recorder(r.clone());
    }
    let mut core = sip::core(
        &config,
        &bound,
        server_zones.clone(),
        client_zones,
        clock,
        &mut rng,
        router.clone(),
    )?;
    core.set_amplification_limit(config.protection.amplification_limit);
    // this node's load, as the status publisher sees it: told in OPTIONS answers and, on a
    // cluster peer, published to the other peers
    let load = directory::Load::default();
    core.set_load(load.clone());
    // what the SIP probes find of a remote cluster's peers orders the gatekeeper's LRQs too
    let health = causeway_zones::PeerHealth::default();
    core.set_peer_health(health.clone());
    let relay = media::start(&config, !server_zones.is_empty())?;
    if let Some(relay) = &relay {
        core.set_media(Box::new(media::anchor(&config, relay)));
    }
    let (reload_asks, reload_rx) = tokio::sync::mpsc::channel(4);
    let status = StatusHandle::default();
    let metrics = MetricsHandle::default();
    if config.admin.enabled {
        let access = crate::admin::Access {
            listen: config.admin.listen,
            tls: admin_tls,
            users: config.admin.users.clone(),
        };
        let mut endpoints: Vec<Arc<dyn Endpoint>> = vec![Arc::new(metrics.clone())];
        if let Some((h, _)) = &history {
            endpoints.push(Arc::new(h.clone()));
        }
        crate::admin::serve(access, status.clone(), (endpoints, Some(reload_asks)))
            .await
            .with_context(|| format!("admin.listen {}", config.admin.listen))?;
    }
    // one alias table for the SIP registrar and the gatekeeper, which a cluster peer also
    // publishes to the other peers
    let shared = SharedAliases::default();
    if config.h323.enabled || peer_aliases.is_some() {
        core.set_shared_aliases(shared.clone());
    }
    core.set_cluster(
        peer_aliases
            .clone()
            .map(|aliases| causeway_sip::proxy::ClusterPeers {
                aliases,
                prefer: peer_transports(&bound),
            }),
    );
    let tap = history
        .as_ref()
        .map(|(_, t)| Arc::new(t.clone()) as Arc<dyn causeway_h323::driver::Tap>);
    let h323_parts = H323Parts {
        aliases: (shared.clone(), peer_aliases.clone(), health),
        router,
        tap,
        anchor: relay.as_ref().map(|r| media::channel_anchor(&config, r)),
        guard: guard.clone(),
        bound: &bound,
        endpoint_id_prefix: rng.gen(),
    };
    let h323_started = match config.h323.enabled {
        true => Some(start_h323(&config, &mut core, h323_parts).await?),
        false => None,
    };
    let h323_addrs = h323_started.as_ref().map(|s| s.addrs);
    let (h323, h323_status, gateway, h323_side) = match h323_started {
        Some(s) => (Some(s.task), Some(s.snapshot), s.gateway, Some(s.side)),
        None => (None, None, None, None),
    };
    let machine = sip::linked(&config, core, links, server_zones, clock, &mut rng, now)?;
    let io = Io {
        transport: handle.clone(),
        events,
        resolvers: driver::Resolvers::new(&dns_zones(&config)).context("DNS zone resolvers")?,
        relay: relay
            .clone()
            .map(|r| Arc::new(r) as Arc<dyn Relay + Send + Sync>),
    };
    let publishing = cluster.as_ref().map(|c| {
        let gatekeeper_id = h323::gatekeeper_id(&config);
        let h323 = h323_addrs.map(|(ras, q931)| (ras, q931, gatekeeper_id.as_str()));
        let fixed = directory::about(&bound, h323, &config);
        tokio::spawn(directory::publish_loop(
            c.publisher(),
            shared.clone(),
            fixed,
            load.clone(),
        ))
    });
    let sources = publish::Sources {
        relay,
        h323: h323_status,
        interworking: gateway.as_ref().map(|(_, s)| s.clone()),
        transport: handle.clone(),
        guard,
        cert_not_after,
        tap: history.map(|(_, t)| t),
        cluster: cluster_view.clone(),
        zones: zones.clone(),
        directory: peer_aliases,
        load,
    };
    let publisher = Publisher::new(&config, (status, metrics), clock, sources, now);
    // only now: every listener (SIP, admin, H.323 with its zone ports, the gateway) is bound, so
    // whoever waits for this line (an operator, the e2e tests) can reach all of them
    info!(
        system = %config.system.name,
        role = %config.system.role,
        domains = ?config.registrar_domains(),
        "causeway {} running",
        env!("CARGO_PKG_VERSION")
    );
    let (control, controls) = tokio::sync::mpsc::unbounded_channel();
    let reloader = reload::Reloader {
        path,
        started: config.clone(),
        current: config.clone(),
        tls: reload_tls,
        recorder,
        sip: control,
        h323: h323_side,
        rng: StdRng::from_rng(&mut rng).context("random generator")?,
        document: None,
        zones,
    };
    let reloads = tokio::spawn(reload::serve(reloader, reload_rx, (cluster, cluster_view)));
    let sip = driver::run(machine, io, (shutdown_signal(), controls), publisher).await;
    reloads.abort();
    if let Some(t) = publishing {
        t.abort();
    }
    handle.shutdown();
    if let Some(t) = h323 {
        t.abort();
    }
    if let Some((t, _)) = gateway {
        t.abort();
    }
    sip.map_err(anyhow::Error::msg)?;
    info!("stopped");
    Ok(())
}

/// What the H.323 side needs from the rest of the node.
struct H323Parts<'a> {
    aliases: (
        SharedAliases,
        Option<PeerAliases>,
        causeway_zones::PeerHealth,
    ),
    router: causeway_zones::Router,
    tap: Option<Arc<dyn causeway_h323::driver::Tap>>,
    anchor: Option<causeway_media::ChannelAnchor>,
    guard: causeway_guard::SharedGuard,
    bound: &'a [(causeway_config::Transport, SocketAddr, bool)],
    endpoint_id_prefix: u32,
}

/// The H.323 side as started: its task and snapshot, the interworking gateway when it runs,
/// what a reload needs, and the RAS and call-signaling addresses.
struct H323Started {
    task: tokio::task::JoinHandle<()>,
    snapshot: causeway_h323::driver::StatusHandle,
    gateway: Option<(
        tokio::task::JoinHandle<()>,
        causeway_interwork::driver::StatusHandle,
    )>,
    side: reload::H323Side,
    addrs: (SocketAddr, SocketAddr),
}

/// The gatekeeper and H.323 call signaling (`[h323] enabled`), and the SIP <-> H.323 gateway
/// beside them when `[interworking]` runs one (the SIP core learns where it is).
async fn start_h323(
    config: &Config,
    core: &mut causeway_sip::proxy::Core,
    parts: H323Parts<'_>,
) -> anyhow::Result<H323Started> {
    let gw_sockets = interwork::bind(config).await?;
    let mode = config.interworking.mode;
    let gw_csa = match &gw_sockets {
        Some(s) => {
            core.set_interworking(Some(causeway_sip::proxy::Interworking {
                gateway: s.sip_addr()?,
                mode,
            }));
            Some((s.h225_addr()?, mode))
        }
        None => None,
    };
    let started = h323::start(
        config,
        parts.aliases,
        parts.endpoint_id_prefix,
        (parts.router, gw_csa),
        parts.tap,
        parts.anchor,
        parts.guard,
    )
    .await?;
    let gateway = match gw_sockets {
        Some(s) => Some(interwork::start(config, s, parts.bound, started.q931)?),
        None => None,
    };
    Ok(H323Started {
        task: started.task,
        snapshot: started.snapshot,
        gateway,
        side: reload::H323Side {
            control: started.control,
            q931: started.q931,
            endpoint_id_prefix: parts.endpoint_id_prefix,
        },
        addrs: (started.ras, started.q931),
    })
}

/// The transports a request to another cluster peer may take, best first: TLS when this node
/// listens on it (the port tables' peer-to-peer SIP), then TCP, then UDP.
fn peer_transports(
    bound: &[(causeway_config::Transport, SocketAddr, bool)],
) -> Vec<causeway_config::Transport> {
    use causeway_config::Transport::{Tcp, Tls, Udp};
    [Tls, Tcp, Udp]
        .into_iter()
        .filter(|k| bound.iter().any(|(b, _, mtls)| b == k && !mtls))
        .collect()
}

/// The call and search histories of `[admin]`, when either is on: the reading end the admin
/// listener serves and the tap the drivers and the router feed.
fn history(
    config: &Config,
    bound: &[(causeway_config::Transport, SocketAddr, bool)],
) -> Option<(History, Tap)> {
    let a = &config.admin;
    if !a.enabled || (a.call_history == 0 && a.search_history == 0) {
        return None;
    }
    let limits = crate::admin::history::Limits {
        calls: a.call_history,
        bytes: a.call_history_bytes,
        searches: a.search_history,
    };
    let locals = bound.iter().map(|(k, a, _)| (*k, *a)).collect();
    Some(crate::admin::history::start(limits, locals))
}

/// The admin listener's TLS configuration when `[admin] tls`: the node's SIP certificate
/// (`tls_material` makes one when none is configured).
fn admin_tls(
    config: &Config,
    tls: Option<&causeway_sip::transport::TlsMaterial>,
) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    if !config.admin.tls {
        return Ok(None);
    }
    let material = tls.context("[admin] tls: the node has no certificate")?;
    let server = transport::server_config(material, None).context("[admin] tls")?;
    Ok(Some(server))
}

/// DNS zones and the nameservers each asks.
fn dns_zones(config: &Config) -> Vec<(String, Vec<SocketAddr>)> {
    config
        .zones
        .iter()
        .filter(|z| z.kind == causeway_config::zones::ZoneType::Dns)
        .map(|z| (z.name.clone(), z.nameservers.clone()))
        .collect()
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
