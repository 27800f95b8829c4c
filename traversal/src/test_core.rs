//! A proxy core for the sans-IO tests of this crate: a configuration's dial plan, fixed
//! registrar limits, a fake network, a fixed clock epoch and a seeded generator.

use crate::client::{LinkClient, LinkConfig};
use crate::edge::Admission;
use crate::proxy::{LinkedProxy, CLIENT_TOKENS, CLIENT_TOKEN_SPAN};
use causeway_config::{Config, Transport};
use causeway_sip::proxy::{Core, NetEnv, ProxySettings, ServerZone, WallClock};
use causeway_sip::registrar::RegistrarPolicy;
use causeway_sip::transaction::TimerConfig;
use causeway_zones::Router;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

struct FakeEnv;

impl NetEnv for FakeEnv {
    fn source_ip_for(&self, _dest: IpAddr) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
    fn is_local_ip(&self, ip: IpAddr) -> bool {
        ip.is_loopback()
    }
}

pub fn registrar_policy() -> RegistrarPolicy {
    RegistrarPolicy {
        min_expires: 60,
        max_expires: 3600,
        default_expires: 3600,
        max_bindings_per_aor: 8,
        max_aors: 100,
        stream_flow_max_expires: u32::MAX,
        flow_timer_udp: 29,
        flow_timer_stream: 120,
    }
}

pub fn clock(now: Instant) -> WallClock {
    WallClock::at(
        now,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    )
}

/// The core of `cfg` on `listeners`, with E's `server_zones` and C's `client_zones`.
pub fn core(
    cfg: &Config,
    listeners: Vec<(Transport, SocketAddr)>,
    (server_zones, client_zones): (Vec<ServerZone>, Vec<String>),
    now: Instant,
) -> Core {
    let settings = ProxySettings {
        system_name: cfg.system.name.clone(),
        domains: cfg.registrar_domains(),
        timers: TimerConfig::default(),
        max_transactions: 1000,
        max_message_size: 65535,
        max_headers: 256,
        registrar: registrar_policy(),
        auth: None,
        router: Some(Router::from_config(cfg)),
        server_zones,
        client_zones,
    };
    let mut core = Core::new(
        settings,
        listeners,
        Box::new(FakeEnv),
        clock(now),
        StdRng::seed_from_u64(5626),
    );
    // minimal requests here, shorter than most answers: the amplification limit has its own
    // tests (sip/src/proxy/tests/amplification.rs)
    core.set_amplification_limit(false);
    core
}

/// A control node's file with nothing but its system table.
pub const CONTROL: &str = r#"
[system]
name = "control"
role = "control"
domain = "example.com"
"#;

/// A link of zone `zone` to `peer` over TCP, with the crate tests' credentials and timers.
pub fn link(zone: &str, peer: &str) -> LinkConfig {
    LinkConfig {
        key: None,
        zone: zone.into(),
        peer: peer.parse().expect("test address"),
        resolve: None,
        peer_host: "127.0.0.1".into(),
        kind: Transport::Tcp,
        username: "control-1".into(),
        password: "secret".into(),
        expires: 120,
        keepalive: Duration::from_secs(25),
        retry_first: Duration::from_secs(1),
        retry_max: Duration::from_secs(30),
        tls: None,
        system_name: "control".into(),
    }
}

pub fn node(links: Vec<LinkConfig>, now: Instant) -> LinkedProxy {
    let cfg = causeway_config::Config::parse("t.toml", CONTROL).expect("test config");
    let zones = links.iter().map(|l| l.zone.clone()).collect();
    let core = core(
        &cfg,
        vec![(Transport::Tcp, SocketAddr::from(([127, 0, 0, 1], 5060)))],
        (Vec::new(), zones),
        now,
    );
    let clock = clock(now);
    let clients = links
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let tokens = CLIENT_TOKENS + i as u64 * CLIENT_TOKEN_SPAN;
            LinkClient::new(l, now, clock, StdRng::seed_from_u64(i as u64), tokens)
        })
        .collect();
    let admission = Admission::new(
        Vec::new(),
        HashMap::new(),
        "example.com",
        [1; 32],
        clock,
        StdRng::seed_from_u64(9),
    );
    LinkedProxy::new(core, clients, admission, clock)
}
