//! The SIP side of a node from its configuration: listeners (with E's traversal server zone
//! ports), TLS material, C's traversal link clients, the transport, and the proxy core with its
//! traversal links around it.

use anyhow::Context;
use causeway_config::zones::{Zone, ZoneType};
use causeway_config::{Config, DigestAlgorithm, Transport};
use causeway_guard::SharedGuard;
use causeway_sip::auth::Algorithm;
use causeway_sip::driver;
use causeway_sip::proxy::{AuthSettings, Core, Policy, ProxySettings, ServerZone, WallClock};
use causeway_sip::registrar::RegistrarPolicy;
use causeway_sip::transaction::TimerConfig;
use causeway_sip::transport::{self, ListenerSpec, TlsMaterial, TransportConfig};
use causeway_traversal::proxy::{CLIENT_TOKENS, CLIENT_TOKEN_SPAN};
use causeway_traversal::{Admission, LinkClient, LinkConfig, LinkedProxy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tracing::info;

/// The SIP listeners of `[sip]`, and E's traversal server zones with a listener each on 7001,
/// 7002, …
pub(super) fn listeners(config: &Config) -> (Vec<ListenerSpec>, Vec<ServerZone>) {
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
    let mut server_zones = Vec::new();
    for (i, z) in config.zones.iter().enumerate() {
        if z.kind != ZoneType::TraversalServer {
            continue;
        }
        let kind = z.transport();
        let port = causeway_config::traversal_server_port(config, i);
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
    (listeners, server_zones)
}

/// `[sip] certificate`, or a self-signed one when anything speaks TLS.
pub(super) fn tls_material(
    config: &Config,
    listeners: &[ListenerSpec],
) -> anyhow::Result<Option<TlsMaterial>> {
    let sip = &config.sip;
    let needs_tls = config.admin.tls
        || config.cluster.is_some()
        || listeners.iter().any(|l| l.kind == Transport::Tls)
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
    Ok(tls)
}

/// C's traversal client zones, with their own TLS verification: a link per peer (E's peers
/// of a zone that lists several, `zone~1`, `zone~2`, …).
pub(super) async fn link_configs(
    config: &Config,
    tls: Option<&TlsMaterial>,
) -> anyhow::Result<Vec<LinkConfig>> {
    let mut link_configs = Vec::new();
    for z in config
        .zones
        .iter()
        .filter(|z| z.kind == ZoneType::TraversalClient)
    {
        let peers = z.peer_list();
        for (i, host) in peers.iter().enumerate() {
            let key = (peers.len() > 1).then(|| (i + 1).to_string());
            link_configs.push(link_config(config, z, (host, key), tls).await?);
        }
    }
    Ok(link_configs)
}

async fn link_config(
    config: &Config,
    z: &Zone,
    (host, key): (&str, Option<String>),
    tls: Option<&TlsMaterial>,
) -> anyhow::Result<LinkConfig> {
    let sip = &config.sip;
    let (host, own_port) = Zone::split_peer(host);
    let host = host.to_string();
    let port = own_port
        .or(z.sip_port)
        .unwrap_or(causeway_config::defaults::TRAVERSAL_SIP_FIRST_PORT);
    // a name is looked up by the link before each attempt (`LinkConfig::resolve`): one that
    // does not resolve yet keeps that link down, not the node from starting
    let (peer, resolve) = match host.parse::<IpAddr>() {
        Ok(ip) => (SocketAddr::new(ip, port), None),
        Err(_) => (
            SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), port),
            Some(host.clone()),
        ),
    };
    let kind = z.transport();
    let client_tls = if kind == Transport::Tls {
        let enforce = z.tls_verify() == causeway_config::TlsVerify::Enforce;
        let ca = z.ca.clone().or_else(|| sip.trusted_ca.clone());
        Some(
            transport::client_config(
                if z.client_certificate { tls } else { None },
                enforce,
                ca.as_deref(),
            )
            .with_context(|| format!("zone `{}`: TLS client configuration", z.name))?,
        )
    } else {
        None
    };
    Ok(LinkConfig {
        zone: z.name.clone(),
        key,
        peer,
        resolve,
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
    })
}

pub(super) fn transport_config(
    config: &Config,
    listeners: Vec<ListenerSpec>,
    tls: Option<TlsMaterial>,
    guard: SharedGuard,
) -> TransportConfig {
    let sip = &config.sip;
    TransportConfig {
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
        guard,
        message_timeout: Duration::from_secs(config.protection.message_timeout),
        udp_io: sip.udp_io,
        udp_batch: Duration::from_micros(sip.udp_batch_us.into()),
        udp_thread: sip.threads == 2,
    }
}

/// `[[credential]]`: one store for the registrar's digest and E's traversal links.
pub(super) fn credentials(config: &Config) -> HashMap<String, String> {
    config
        .credentials
        .iter()
        .map(|c| (c.username.clone(), c.password.clone()))
        .collect()
}

/// The proxy core on the bound listeners.
pub(super) fn core(
    config: &Config,
    bound: &[(Transport, SocketAddr, bool)],
    server_zones: Vec<ServerZone>,
    client_zones: Vec<String>,
    clock: WallClock,
    rng: &mut StdRng,
    router: causeway_zones::Router,
) -> anyhow::Result<Core> {
    let settings = proxy_settings(
        config,
        credentials(config),
        rng,
        (server_zones, client_zones),
        router,
    );
    let listeners = bound.iter().map(|(k, a, _)| (*k, *a)).collect();
    Ok(Core::new(
        settings,
        listeners,
        Box::new(driver::OsNetEnv),
        clock,
        StdRng::from_rng(rng).context("random generator")?,
    ))
}

/// The core with both ends of the traversal link protocol around it.
pub(super) fn linked(
    config: &Config,
    core: Core,
    links: Vec<LinkConfig>,
    server_zones: Vec<ServerZone>,
    clock: WallClock,
    rng: &mut StdRng,
    now: Instant,
) -> anyhow::Result<LinkedProxy> {
    let mut clients = Vec::new();
    for (i, c) in links.into_iter().enumerate() {
        let tokens = CLIENT_TOKENS + (i as u64) * CLIENT_TOKEN_SPAN;
        let rng = StdRng::from_rng(&mut *rng).context("random generator")?;
        clients.push(LinkClient::new(c, now, clock, rng, tokens));
    }
    let admission = Admission::new(
        server_zones,
        credentials(config),
        &config.system.domain,
        rng.gen(),
        clock,
        StdRng::from_rng(&mut *rng).context("random generator")?,
    );
    Ok(LinkedProxy::new(core, clients, admission, clock))
}

/// The proxy core's settings from the configuration, with the node's router.
fn proxy_settings(
    config: &Config,
    credentials: HashMap<String, String>,
    rng: &mut StdRng,
    (server_zones, client_zones): (Vec<ServerZone>, Vec<String>),
    router: causeway_zones::Router,
) -> ProxySettings {
    let sip = &config.sip;
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
        registrar: registrar_policy(config),
        auth: auth_settings(config, credentials, rng),
        router: Some(router),
        server_zones,
        client_zones,
    }
}

/// What a reload changes in the running core: the same values `proxy_settings` starts it with.
pub(super) fn policy(config: &Config, rng: &mut StdRng, router: causeway_zones::Router) -> Policy {
    Policy {
        domains: config.registrar_domains(),
        registrar: registrar_policy(config),
        auth: auth_settings(config, credentials(config), rng),
        router,
        amplification_limit: config.protection.amplification_limit,
    }
}

/// `[registrar] authenticate`: digest settings with `[[credential]]`.
fn auth_settings(
    config: &Config,
    credentials: HashMap<String, String>,
    rng: &mut StdRng,
) -> Option<AuthSettings> {
    let r = &config.registrar;
    r.authenticate.then(|| AuthSettings {
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
    })
}

fn registrar_policy(config: &Config) -> RegistrarPolicy {
    let r = &config.registrar;
    RegistrarPolicy {
        min_expires: r.min_expires,
        max_expires: r.max_expires,
        default_expires: r.default_expires,
        max_bindings_per_aor: r.max_bindings_per_aor,
        max_aors: r.max_registrations,
        // a binding only reachable over its connection re-registers before it idles out
        stream_flow_max_expires: u32::try_from(config.sip.idle_timeout.saturating_mul(9) / 10)
            .unwrap_or(u32::MAX),
        flow_timer_udp: r.flow_timer_udp,
        flow_timer_stream: r.flow_timer_stream,
    }
}
