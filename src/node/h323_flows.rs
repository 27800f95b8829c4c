//! C's H.323 flows to E (H.460.18 over the traversal-client zones that carry H.323): one
//! `ZoneClient` from our RAS socket to the zone port of each of E's peers. A peer given by name
//! is resolved with the system's resolver; one that does not resolve at start is looked up
//! again with the zone's back-off (`retry_first`, doubling to `retry_max`) until it does, and
//! its flow then joins the running H.323 side (a DNS outage at boot costs the flow the outage,
//! not the node's life). Owns the building of the flows and that retry; what a flow does is
//! the h323 crate's.

use causeway_config::zones::{Zone, ZoneType};
use causeway_config::Config;
use causeway_guard::SharedGuard;
use causeway_h323::driver::{self, Control};
use causeway_h323::h46018::{ClientConfig, WallClock, ZoneClient};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

/// One peer's flow, all but E's address.
#[derive(Clone, Debug)]
pub(super) struct FlowSpec {
    zone: String,
    username: String,
    password: String,
    keepalive: Duration,
    skew_window: u32,
    /// Our RAS and call-signaling listeners (an unspecified address: the route's source).
    ras: SocketAddr,
    q931: SocketAddr,
}

/// A peer whose name did not resolve at start.
#[derive(Debug)]
pub(super) struct Unresolved {
    spec: FlowSpec,
    host: String,
    port: u16,
    retry_first: Duration,
    retry_max: Duration,
    /// Why the lookup at start failed (status shows it until the name resolves).
    error: String,
}

impl Unresolved {
    /// Shows the flow in `svc`'s status, down with the lookup's error, until it resolves.
    pub(super) fn show_waiting(&self, svc: &mut causeway_h323::service::Service, now: Instant) {
        svc.flow_waiting(&self.spec.zone, &self.host, self.error.clone(), now);
    }
}

impl FlowSpec {
    fn client_config(&self, peer: SocketAddr) -> ClientConfig {
        // our addresses as E's side sees them (before any NAT)
        let ip = if self.ras.ip().is_unspecified() {
            driver::route_source(peer.ip())
        } else {
            self.ras.ip()
        };
        ClientConfig {
            zone: self.zone.clone(),
            peer,
            username: self.username.clone(),
            password: self.password.clone(),
            keepalive: self.keepalive,
            ras: SocketAddr::new(ip, self.ras.port()),
            call_signal: SocketAddr::new(ip, self.q931.port()),
            skew_window: self.skew_window,
        }
    }

    fn client(&self, peer: SocketAddr, (clock, now): (WallClock, Instant)) -> ZoneClient {
        info!(zone = %self.zone, "H.323 traversal flow to {peer}");
        ZoneClient::new(self.client_config(peer), clock, rand::random(), now)
    }
}

/// The flows of `config`'s zones: those whose peer is known now, and the peers to look up
/// again ([`retry_unresolved`]).
pub(super) async fn zone_clients(
    config: &Config,
    ras: SocketAddr,
    q931: SocketAddr,
    at: (WallClock, Instant),
) -> (Vec<ZoneClient>, Vec<Unresolved>) {
    let h = &config.h323;
    let mut clients = Vec::new();
    let mut unresolved = Vec::new();
    for z in config
        .zones
        .iter()
        .filter(|z| z.kind == ZoneType::TraversalClient && z.carries_h323(h.enabled))
    {
        let port = z
            .h323_port
            .unwrap_or(causeway_config::defaults::TRAVERSAL_RAS_FIRST_PORT);
        let spec = spec(
            z,
            u32::try_from(h.token_skew).unwrap_or(u32::MAX),
            ras,
            q931,
        );
        for entry in z.peer_list() {
            // the entry's own port is SIP's; H.323 goes to the zone's RAS port
            let (host, _) = Zone::split_peer(entry);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            // two entries for one E (SIP ports apart, or a name and its address): one flow,
            // since RAS datagrams from that address reach the first flow only
            let waiting = |u: &Unresolved| u.spec.zone == z.name && u.host == host;
            if unresolved.iter().any(waiting) {
                continue;
            }
            match lookup(host, port).await {
                Ok(peer)
                    if clients
                        .iter()
                        .any(|c: &ZoneClient| c.zone() == z.name && c.peer() == peer) =>
                {
                    warn!(zone = %z.name, "`{entry}` is {peer} again: one H.323 flow to it");
                }
                Ok(peer) => clients.push(spec.client(peer, at)),
                Err(e) => {
                    warn!(zone = %z.name, "H.323 traversal flow: {e}; looked up again");
                    unresolved.push(Unresolved {
                        spec: spec.clone(),
                        host: host.to_string(),
                        port,
                        retry_first: Duration::from_secs(z.retry_first()),
                        retry_max: Duration::from_secs(z.retry_max()),
                        error: e,
                    });
                }
            }
        }
    }
    (clients, unresolved)
}

fn spec(z: &Zone, skew_window: u32, ras: SocketAddr, q931: SocketAddr) -> FlowSpec {
    FlowSpec {
        zone: z.name.clone(),
        username: z.username.clone().unwrap_or_default(),
        password: z.password.clone().unwrap_or_default(),
        keepalive: Duration::from_secs(z.h323_keepalive_interval()),
        skew_window,
        ras,
        q931,
    }
}

/// How long one lookup may take (a resolver that does not answer must not hold up the node's
/// start; the retry asks again).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// `host` (an IP address, or a name resolved now) at `port`.
async fn lookup(host: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(mut a)) => a.next().ok_or_else(|| format!("`{host}` has no address")),
        Ok(Err(e)) => Err(format!("`{host}` does not resolve: {e}")),
        Err(_) => Err(format!(
            "`{host}` does not resolve: no answer in {LOOKUP_TIMEOUT:?}"
        )),
    }
}

/// One task per peer of `unresolved`: its name is looked up with the zone's back-off until it
/// resolves, then the address is exempt from `guard` and its flow is handed to the running
/// H.323 side through `control`. A task ends with the H.323 side (`control` closed).
pub(super) fn retry_unresolved(
    unresolved: Vec<Unresolved>,
    (clock, guard): (WallClock, SharedGuard),
    control: UnboundedSender<Control>,
) {
    for u in unresolved {
        let control = control.clone();
        let guard = guard.clone();
        tokio::spawn(async move {
            let mut wait = u.retry_first;
            loop {
                tokio::time::sleep(wait).await;
                if control.is_closed() {
                    return;
                }
                match lookup(&u.host, u.port).await {
                    Ok(peer) => {
                        // a zone's peer is exempt from `[protection]`, as those resolved at
                        // start are
                        guard
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .exempt(peer.ip());
                        let (spec, name) = (u.spec, u.host);
                        let add: Control = Box::new(move |svc, now| {
                            let zone = spec.zone.clone();
                            if !svc.add_zone_client(spec.client(peer, (clock, now)), &name) {
                                warn!(%zone, "`{name}` is {peer}, an E the zone has a flow to");
                            }
                        });
                        let _ = control.send(add);
                        return;
                    }
                    Err(e) => {
                        wait = (wait * 2).min(u.retry_max).max(Duration::from_secs(1));
                        warn!(zone = %u.spec.zone, retry_in = ?wait, "H.323 traversal flow: {e}");
                        let (zone, name) = (u.spec.zone.clone(), u.host.clone());
                        let tell: Control = Box::new(move |svc, now| {
                            svc.flow_waiting(&zone, &name, e, now);
                        });
                        let _ = control.send(tell);
                    }
                }
            }
        });
    }
}
