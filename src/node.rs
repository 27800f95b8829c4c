//! Wiring of one node: configuration -> TLS material -> transports -> SIP proxy core with its
//! traversal links -> driver; the media relay, the H.323 side and the admin listener beside
//! them. Nothing here decides protocol behaviour; it only builds the parts from the
//! configuration and runs them until a shutdown signal.

use crate::admin::{Status, StatusHandle, ZoneStatus};
use anyhow::{bail, Context};
use causeway_config::media::Anchor as Policy;
use causeway_config::zones::ZoneType;
use causeway_config::{Config, DigestAlgorithm, Transport};
use causeway_media::latch::{LatchConfig, Relatch};
use causeway_media::ports::PortPair;
use causeway_media::relay::{self, RelayConfig, RelayHandle};
use causeway_media::session::TableConfig;
use causeway_media::{Anchor, AnchorConfig};
use causeway_sip::auth::Algorithm;
use causeway_sip::driver::{self, Io};
use causeway_sip::proxy::{AuthSettings, Core, ProxySettings, ServerZone, WallClock};
use causeway_sip::registrar::RegistrarPolicy;
use causeway_sip::transaction::TimerConfig;
use causeway_sip::transport::{self, ListenerSpec, TlsMaterial, TransportConfig};
use causeway_traversal::proxy::{CLIENT_TOKENS, CLIENT_TOKEN_SPAN};
use causeway_traversal::{Admission, LinkClient, LinkConfig, LinkedProxy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tracing::info;

/// How often the status snapshot is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(1);

pub async fn run(config: Config) -> anyhow::Result<()> {
    let role = config.system.role;
    let sip = &config.sip;
    let mut listeners = Vec::new();
    for l in sip.listeners(role) {
        if l.enabled {
            listeners.extend(l.listen.iter().map(|addr| ListenerSpec {
                kind: l.transport,
                addr: *addr,
                mtls: l.mtls,
            }));
        }
    }
    // traversal server zones (E): a listener each on 7001, 7002, …
    let mut server_zones = Vec::new();
    for (i, z) in config.zones.iter().enumerate() {
        if z.kind != ZoneType::TraversalServer {
            continue;
        }
        let kind = z.transport();
        let port = causeway_config::traversal_server_port(&config, i);
        let ip = z.listen_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        listeners.push(ListenerSpec {
            kind,
            addr: SocketAddr::new(ip, port),
            mtls: z.mtls,
        });
        server_zones.push(ServerZone {
            name: z.name.clone(),
            kind,
            port,
            username: z.username.clone().unwrap_or_default(),
        });
    }
    let needs_tls = listeners.iter().any(|l| l.kind == Transport::Tls)
        || config
            .zones
            .iter()
            .any(|z| z.kind == ZoneType::TraversalClient && z.transport() == Transport::Tls);
    let tls = match (&sip.certificate, &sip.private_key) {
        (Some(cert), Some(key)) => Some(
            TlsMaterial::from_pem_files(cert, key)
                .with_context(|| format!("sip.certificate `{}`", cert.display()))?,
        ),
        _ if needs_tls => {
            let mut names = vec![
                config.system.name.clone(),
                config.system.domain.clone(),
                "localhost".to_string(),
            ];
            names.extend(
                listeners
                    .iter()
                    .filter(|l| !l.addr.ip().is_unspecified())
                    .map(|l| l.addr.ip().to_string()),
            );
            names.sort();
            names.dedup();
            info!(names = ?names, "no certificate configured: generated a self-signed one");
            Some(TlsMaterial::self_signed(&names).context("self-signed certificate")?)
        }
        _ => None,
    };
    // C's traversal client zones, with their own TLS verification
    let mut link_configs = Vec::new();
    for z in config
        .zones
        .iter()
        .filter(|z| z.kind == ZoneType::TraversalClient)
    {
        let host = z.peer.clone().unwrap_or_default();
        let port = z
            .sip_port
            .unwrap_or(causeway_config::defaults::TRAVERSAL_SIP_FIRST_PORT);
        let peer = match host.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .with_context(|| format!("zone `{}`: cannot resolve peer `{host}`", z.name))?
                .next()
                .with_context(|| format!("zone `{}`: peer `{host}` has no address", z.name))?,
        };
        let kind = z.transport();
        let client_tls = if kind == Transport::Tls {
            let enforce = z.tls_verify() == causeway_config::TlsVerify::Enforce;
            let ca = z.ca.clone().or_else(|| sip.trusted_ca.clone());
            Some(
                transport::client_config(
                    if z.client_certificate {
                        tls.as_ref()
                    } else {
                        None
                    },
                    enforce,
                    ca.as_deref(),
                )
                .with_context(|| format!("zone `{}`: TLS client configuration", z.name))?,
            )
        } else {
            None
        };
        link_configs.push(LinkConfig {
            zone: z.name.clone(),
            peer,
            peer_host: z.peer_name.clone().unwrap_or(host),
            kind,
            username: z.username.clone().unwrap_or_default(),
            password: z.password.clone().unwrap_or_default(),
            expires: z.registration_expires(),
            keepalive: Duration::from_secs(z.keepalive_interval()),
            retry_first: Duration::from_secs(z.retry_first()),
            retry_max: Duration::from_secs(z.retry_max()),
            tls: client_tls,
            system_name: config.system.name.clone(),
        });
    }
    let tcfg = TransportConfig {
        listeners,
        outbound_ports: sip.outbound_ports.as_range(),
        idle_timeout: Duration::from_secs(sip.idle_timeout),
        max_message_size: sip.max_message_size,
        max_headers: sip.max_headers,
        max_connections: sip.max_connections,
        max_connections_per_ip: sip.max_connections_per_ip,
        tls,
        trusted_ca: sip.trusted_ca.clone(),
        verify_outbound: sip.tls_verify == causeway_config::TlsVerify::Enforce,
    };
    let (handle, events) = transport::start(tcfg)
        .await
        .context("cannot start SIP transports")?;
    let bound = handle.local_addrs();
    for (kind, addr, mtls) in &bound {
        info!(
            "listening on SIP {}{} {addr}",
            kind.via_token(),
            if *mtls { " (MTLS)" } else { "" }
        );
    }
    if bound.is_empty() {
        bail!("no SIP listener could be started");
    }

    let mut rng = StdRng::from_entropy();
    let now = Instant::now();
    let clock = WallClock::at(now, SystemTime::now());
    // one credential store: the registrar's digest and E's traversal links both check it
    let credentials: HashMap<String, String> = config
        .credentials
        .iter()
        .map(|c| (c.username.clone(), c.password.clone()))
        .collect();
    let client_zones = link_configs.iter().map(|l| l.zone.clone()).collect();
    let settings = proxy_settings(
        &config,
        credentials.clone(),
        &mut rng,
        server_zones.clone(),
        client_zones,
    );
    let listeners = bound.iter().map(|(k, a, _)| (*k, *a)).collect();
    let rng_core = StdRng::from_rng(&mut rng).context("random generator")?;
    let mut core = Core::new(
        settings,
        listeners,
        Box::new(driver::OsNetEnv),
        clock,
        rng_core,
    );
    let relay = start_media(&config, !server_zones.is_empty())?;
    if let Some(relay) = &relay {
        let m = &config.media;
        let anchor = AnchorConfig {
            policy: m.anchor,
            address: m.address,
            strip_ice: m.strip_ice,
            on_inactivity: m.on_inactivity,
        };
        core.set_media(Box::new(Anchor::new(relay.table(), anchor)));
    }
    info!(
        system = %config.system.name,
        role = %role,
        domains = ?config.registrar_domains(),
        "causeway {} running",
        env!("CARGO_PKG_VERSION")
    );
    let status = StatusHandle::default();
    if config.admin.enabled {
        crate::admin::serve(config.admin.listen, status.clone())
            .await
            .with_context(|| format!("admin.listen {}", config.admin.listen))?;
    }
    let mut clients = Vec::new();
    for (i, c) in link_configs.into_iter().enumerate() {
        let tokens = CLIENT_TOKENS + (i as u64) * CLIENT_TOKEN_SPAN;
        let rng = StdRng::from_rng(&mut rng).context("random generator")?;
        clients.push(LinkClient::new(c, now, clock, rng, tokens));
    }
    let admission = Admission::new(
        server_zones,
        credentials,
        &config.system.domain,
        rng.gen(),
        clock,
    );
    let (h323, h323_status) = if config.h323.enabled {
        // one alias table for the SIP registrar and the gatekeeper
        let shared = causeway_zones::SharedAliases::default();
        core.set_shared_aliases(shared.clone());
        let (task, snapshot) = start_h323(&config, shared).await?;
        (Some(task), Some(snapshot))
    } else {
        (None, None)
    };
    let machine = LinkedProxy::new(core, clients, admission, clock);
    let dns_zones: Vec<(String, Vec<SocketAddr>)> = config
        .zones
        .iter()
        .filter(|z| z.kind == ZoneType::Dns)
        .map(|z| (z.name.clone(), z.nameservers.clone()))
        .collect();
    let io = Io {
        transport: handle.clone(),
        events,
        resolvers: driver::Resolvers::new(&dns_zones).context("DNS zone resolvers")?,
        relay: relay
            .clone()
            .map(|r| Arc::new(r) as Arc<dyn causeway_media::Relay + Send + Sync>),
    };
    let mut publisher = Publisher {
        handle: status,
        template: Status {
            system: config.system.name.clone(),
            role: role.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            zones: zone_status(&config),
            ..Status::default()
        },
        clock,
        relay,
        h323: h323_status,
        at: now,
    };
    driver::run(machine, io, shutdown_signal(), &mut publisher).await;
    handle.shutdown();
    if let Some(t) = h323 {
        t.abort();
    }
    info!("stopped");
    Ok(())
}

/// Refreshes the status snapshot about once a second from the running parts.
struct Publisher {
    handle: StatusHandle,
    template: Status,
    clock: WallClock,
    relay: Option<RelayHandle>,
    h323: Option<causeway_h323::driver::StatusHandle>,
    /// When the next snapshot is due.
    at: Instant,
}

impl driver::Observer<LinkedProxy> for Publisher {
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.at)
    }

    fn observe(&mut self, sip: &LinkedProxy, now: Instant) {
        if now < self.at {
            return;
        }
        self.at = now + STATUS_EVERY;
        let mut s = self.template.clone();
        s.fill(sip, &self.clock, now);
        if let Some(h) = &self.h323 {
            if let Ok(snap) = h.lock() {
                s.fill_h323(&snap);
            }
        }
        if let Some(r) = &self.relay {
            s.fill_media(&r.stats(), r.ports_in_use());
        }
        self.handle.set(s);
    }
}

/// The proxy core's settings from the configuration.
fn proxy_settings(
    config: &Config,
    credentials: HashMap<String, String>,
    rng: &mut StdRng,
    server_zones: Vec<ServerZone>,
    client_zones: Vec<String>,
) -> ProxySettings {
    let sip = &config.sip;
    let r = &config.registrar;
    let auth = r.authenticate.then(|| AuthSettings {
        realm: r
            .realm
            .clone()
            .unwrap_or_else(|| config.system.domain.clone()),
        algorithms: r
            .algorithms
            .iter()
            .map(|a| match a {
                DigestAlgorithm::Sha256 => Algorithm::Sha256,
                DigestAlgorithm::Md5 => Algorithm::Md5,
            })
            .collect(),
        credentials,
        nonce_lifetime: Duration::from_secs(r.nonce_lifetime),
        secret: rng.gen(),
    });
    ProxySettings {
        system_name: config.system.name.clone(),
        domains: config.registrar_domains(),
        timers: TimerConfig {
            t1: Duration::from_millis(sip.t1_ms),
            t2: Duration::from_millis(sip.t2_ms),
            t4: Duration::from_millis(sip.t4_ms),
            timer_c: Duration::from_secs(sip.timer_c),
        },
        max_transactions: sip.max_transactions,
        max_message_size: sip.max_message_size,
        max_headers: sip.max_headers,
        registrar: RegistrarPolicy {
            min_expires: r.min_expires,
            max_expires: r.max_expires,
            default_expires: r.default_expires,
            max_bindings_per_aor: r.max_bindings_per_aor,
            max_aors: r.max_registrations,
        },
        auth,
        router: Some(causeway_zones::Router::from_config(config)),
        server_zones,
        client_zones,
    }
}

/// The gatekeeper (RAS) and H.323 call signaling of `[h323]`, on their own task.
async fn start_h323(
    config: &Config,
    shared: causeway_zones::SharedAliases,
) -> anyhow::Result<(
    tokio::task::JoinHandle<()>,
    causeway_h323::driver::StatusHandle,
)> {
    use causeway_h323::{call, driver, ras, service};
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
    let regexes = |list: &[String]| -> anyhow::Result<Vec<regex::Regex>> {
        list.iter()
            .map(|p| regex::Regex::new(p).with_context(|| format!("h323 pattern `{p}`")))
            .collect()
    };
    // neighbor zones with an IP peer: where LRQs go and whose LRQs are answered
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
            endpoint_id_prefix: format!("{:08x}", rand::random::<u32>()),
            locate_timeout: Duration::from_secs(h.locate_timeout),
        },
        causeway_zones::Router::from_config(config),
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
        // H.323 media is not relayed yet: the channels' addresses pass as they are
        None,
    );
    let svc = service::Service::new(gk, calls, ras_addr);
    info!(
        "H.323 gatekeeper: RAS udp {ras_addr}, call signaling tcp {q931_addr}, ports {}",
        h.signaling_ports
    );
    let snapshot = driver::StatusHandle::default();
    let task = tokio::spawn(driver::run(bound, dcfg, svc, snapshot.clone()));
    Ok((task, snapshot))
}

/// The media relay, unless `[media] anchor = "none"`. E (a node with traversal server zones)
/// also binds the multiplexed pair its links' media arrives on.
fn start_media(config: &Config, has_server_zones: bool) -> anyhow::Result<Option<RelayHandle>> {
    let m = &config.media;
    if m.anchor == Policy::None {
        return Ok(None);
    }
    let multiplexed = if has_server_zones {
        Some(
            PortPair::from_range(m.multiplexed_ports)
                .context("media.multiplexed_ports is not one even/odd pair")?,
        )
    } else {
        None
    };
    let table = TableConfig {
        ports: m.ports,
        multiplexed,
        max_sessions: m.max_sessions,
        latch: LatchConfig {
            relatch: if m.relatch_after == 0 {
                Relatch::Never
            } else {
                Relatch::AfterSilence(Duration::from_secs(m.relatch_after))
            },
            ..LatchConfig::default()
        },
    };
    let ip = m.address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let mut rc = RelayConfig::new(ip, table);
    rc.inactivity = Duration::from_secs(m.inactivity_timeout);
    let relay = relay::spawn(rc).with_context(|| {
        format!(
            "media relay on {ip} (multiplexed pair {})",
            m.multiplexed_ports
        )
    })?;
    info!(
        "media relay: ports {}, anchor {:?}{}",
        m.ports,
        m.anchor,
        match multiplexed {
            Some(p) => format!(", traversal media on {p}"),
            None => String::new(),
        }
    );
    Ok(Some(relay))
}

fn zone_status(config: &Config) -> Vec<ZoneStatus> {
    let mut v = vec![ZoneStatus {
        name: causeway_config::LOCAL_ZONE.to_string(),
        kind: "local".into(),
        detail: format!("domains {}", config.registrar_domains().join(", ")),
    }];
    for (i, z) in config.zones.iter().enumerate() {
        let detail = match z.kind {
            ZoneType::Neighbor => format!("peer {}", z.peer.as_deref().unwrap_or("")),
            ZoneType::TraversalClient => format!(
                "peer {}:{}",
                z.peer.as_deref().unwrap_or(""),
                z.sip_port
                    .unwrap_or(causeway_config::defaults::TRAVERSAL_SIP_FIRST_PORT)
            ),
            ZoneType::TraversalServer => {
                format!("port {}", causeway_config::traversal_server_port(config, i))
            }
            ZoneType::Dns if z.nameservers.is_empty() => "system resolvers".into(),
            ZoneType::Dns => format!(
                "nameservers {}",
                z.nameservers
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        v.push(ZoneStatus {
            name: z.name.clone(),
            kind: z.kind.as_str().to_string(),
            detail,
        });
    }
    v
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
