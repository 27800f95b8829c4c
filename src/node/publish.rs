//! The node's status snapshot, refreshed about once a second from the running parts: the SIP
//! proxy with its links (seen after the SIP driver's turns), the H.323 side's snapshot, the
//! relay's counters and the admin listener's, then the alarms of it all. Reads them, never
//! changes them. It also gives the SIP driver the call history's tap (which the driver shows
//! every SIP message in and out), and gives the heap back after a load (`trim`).

use crate::admin::alarms::Alarms;
use crate::admin::history::Tap;
use crate::admin::metrics::MetricsHandle;
use crate::admin::{Status, StatusHandle, ZoneStatus};
use causeway_config::zones::ZoneType;
use causeway_config::Config;
use causeway_guard::SharedGuard;
use causeway_media::relay::RelayHandle;
use causeway_sip::driver::{Messages, Observer};
use causeway_sip::proxy::WallClock;
use causeway_sip::transport::TransportHandle;
use causeway_traversal::LinkedProxy;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the status snapshot is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// The running parts the publisher reads, besides the SIP proxy it observes.
pub(super) struct Sources {
    pub relay: Option<RelayHandle>,
    pub h323: Option<causeway_h323::driver::StatusHandle>,
    /// The SIP <-> H.323 interworking gateway.
    pub interworking: Option<causeway_interwork::driver::StatusHandle>,
    pub transport: TransportHandle,
    pub guard: SharedGuard,
    /// When the node's certificate expires (Unix seconds), for its alarm.
    pub cert_not_after: Option<u64>,
    /// The call history's feed, shown every SIP message in and out.
    pub tap: Option<Tap>,
    /// The cluster peer's view (empty on a single node).
    pub cluster: super::cluster::View,
    /// The zones as configured now (a reload changes them).
    pub zones: Zones,
    /// The other cluster peers' registrations, when the node is a peer.
    pub directory: Option<causeway_zones::PeerAliases>,
    /// Where this node's load goes (its OPTIONS answers, what a cluster peer publishes).
    pub load: super::directory::Load,
}

/// The zones of the running configuration, as the status lists them.
pub(super) type Zones = std::sync::Arc<std::sync::Mutex<Vec<ZoneStatus>>>;

/// Refreshes the status snapshot about once a second from the running parts.
pub(super) struct Publisher {
    handle: StatusHandle,
    template: Status,
    clock: WallClock,
    relay: Option<RelayHandle>,
    h323: Option<causeway_h323::driver::StatusHandle>,
    interworking: Option<causeway_interwork::driver::StatusHandle>,
    metrics: MetricsHandle,
    transport: TransportHandle,
    guard: SharedGuard,
    alarms: Alarms,
    tap: Option<Tap>,
    cluster: super::cluster::View,
    zones: Zones,
    directory: Option<causeway_zones::PeerAliases>,
    load: super::directory::Load,
    trim: super::trim::Trim,
    /// When the next snapshot is due.
    at: Instant,
}

impl Observer<LinkedProxy> for Publisher {
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.at)
    }

    fn messages(&self) -> Option<Arc<dyn Messages>> {
        self.tap.clone().map(|t| Arc::new(t) as Arc<dyn Messages>)
    }

    fn observe(&mut self, sip: &LinkedProxy, now: Instant) {
        if now < self.at {
            return;
        }
        self.at = now + STATUS_EVERY;
        let mut s = self.template.clone();
        if let Ok(z) = self.zones.lock() {
            s.zones = z.clone();
        }
        if let Ok(c) = self.cluster.lock() {
            s.cluster = c.clone();
        }
        s.fill(sip, &self.clock, now);
        if let Some(h) = &self.h323 {
            if let Ok(snap) = h.lock() {
                s.fill_h323(&snap);
            }
        }
        if let Some(i) = &self.interworking {
            if let Ok(snap) = i.lock() {
                s.fill_interworking(&snap);
            }
        }
        if let Some(r) = &self.relay {
            s.fill_media(r);
        }
        if let Some(peers) = &self.directory {
            s.fill_directory(peers);
        }
        *self.load.lock().unwrap_or_else(|p| p.into_inner()) = Some(s.load());
        s.fill_transport(self.transport.stats());
        s.sip.udp_io = self.transport.udp_io().name();
        s.sip.threads = if self.transport.udp_thread() { 2 } else { 1 };
        {
            let mut g = self.guard.lock().unwrap_or_else(|e| e.into_inner());
            g.handle_timeout(now);
            s.fill_protection(&g, self.transport.stats(), now);
        }
        s.admin = self.handle.admin_status();
        s.alarms = self.alarms.evaluate(&s);
        if self.trim.due(s.sip.transactions, now) {
            super::trim::release_in_background();
        }
        self.metrics.set(&s);
        self.handle.set(s);
    }
}

impl Publisher {
    pub(super) fn new(
        config: &Config,
        outputs: (StatusHandle, MetricsHandle),
        clock: WallClock,
        sources: Sources,
        now: Instant,
    ) -> Publisher {
        let (handle, metrics) = outputs;
        if let Ok(mut z) = sources.zones.lock() {
            *z = zone_status(config);
        }
        Publisher {
            handle,
            template: Status {
                system: config.system.name.clone(),
                role: config.system.role.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Status::default()
            },
            clock,
            relay: sources.relay,
            h323: sources.h323,
            interworking: sources.interworking,
            metrics,
            transport: sources.transport,
            guard: sources.guard,
            alarms: Alarms::new(sources.cert_not_after),
            tap: sources.tap,
            cluster: sources.cluster,
            zones: sources.zones,
            directory: sources.directory,
            load: sources.load,
            trim: super::trim::Trim::new(now),
            at: now,
        }
    }
}

pub(super) fn zone_status(config: &Config) -> Vec<ZoneStatus> {
    let mut v = vec![ZoneStatus {
        name: causeway_config::LOCAL_ZONE.to_string(),
        kind: "local".into(),
        detail: format!("domains {}", config.registrar_domains().join(", ")),
    }];
    for (i, z) in config.zones.iter().enumerate() {
        let detail = match z.kind {
            ZoneType::Neighbor => match z.peer_list().as_slice() {
                [one] => format!("peer {one}"),
                many => format!("peers {}", many.join(", ")),
            },
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
