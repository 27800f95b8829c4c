//! The tokio driver of the proxy core: the only place where the core meets real time and real
//! sockets. It moves transport events into `proxy::Core`, the core's outputs into the transport,
//! and sleeps until the core's next deadline. No protocol decisions are made here.

use crate::dns::{Hop as DnsHop, SipResolver};
use crate::proxy::{Core, DnsQuery, NetEnv};
use crate::transport::{ConnId, Outbound, TransportEvent, TransportHandle};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc::Receiver;

/// Events handled per wake-up before outputs are flushed; bounds latency under load.
const BATCH: usize = 64;

/// What runs beside the proxy core on the same thread and clock: the traversal clients of C
/// (crate `traversal`) and the status publisher. Sans-IO like the core: it is handed the core,
/// the time and an output queue.
pub trait Extension {
    /// When `on_tick` must run next, at the latest.
    fn next_timeout(&self) -> Option<Instant>;
    /// Called after every batch of events and when `next_timeout` is due.
    fn on_tick(&mut self, core: &mut Core, now: Instant, wall: SystemTime, out: &mut Vec<Outbound>);
    /// A stream connection to `remote` closed.
    fn on_closed(&mut self, _conn: ConnId, _remote: SocketAddr, _core: &mut Core, _now: Instant) {}
    /// A send with `token` failed; true when the token was the extension's.
    fn on_send_failed(
        &mut self,
        _token: u64,
        _error: &str,
        _core: &mut Core,
        _now: Instant,
    ) -> bool {
        false
    }
}

/// The resolvers RFC 3263 lookups use: one per DNS zone (its nameservers), and the node's own
/// (the system's resolv.conf) for host names met outside DNS zones.
#[derive(Clone, Default)]
pub struct Resolvers {
    zones: HashMap<String, SipResolver>,
    default: Option<SipResolver>,
}

/// DNS lookups in flight at once; past this a lookup fails at once (a flood of requests for
/// names must not grow tasks without bound).
const MAX_DNS_IN_FLIGHT: usize = 1024;

impl Resolvers {
    /// `zones`: (DNS zone name, its nameservers; empty for the system's).
    pub fn new(zones: &[(String, Vec<SocketAddr>)]) -> std::io::Result<Resolvers> {
        let mut r = Resolvers {
            default: SipResolver::new(&[]).ok(),
            ..Resolvers::default()
        };
        for (name, ns) in zones {
            r.zones.insert(name.clone(), SipResolver::new(ns)?);
        }
        Ok(r)
    }

    fn for_query(&self, q: &DnsQuery) -> Option<SipResolver> {
        match &q.zone {
            Some(z) => self.zones.get(z).cloned(),
            None => None,
        }
        .or_else(|| self.default.clone())
    }
}

/// No extension: a plain proxy.
pub struct NoExtension;

impl Extension for NoExtension {
    fn next_timeout(&self) -> Option<Instant> {
        None
    }
    fn on_tick(&mut self, _: &mut Core, _: Instant, _: SystemTime, _: &mut Vec<Outbound>) {}
}

pub async fn run(
    core: Core,
    handle: TransportHandle,
    events: Receiver<TransportEvent>,
    shutdown: impl Future<Output = ()>,
) {
    let resolvers = Resolvers::new(&[]).unwrap_or_default();
    run_with(core, handle, events, shutdown, NoExtension, resolvers).await
}

pub async fn run_with(
    mut core: Core,
    handle: TransportHandle,
    mut events: Receiver<TransportEvent>,
    shutdown: impl Future<Output = ()>,
    mut ext: impl Extension,
    resolvers: Resolvers,
) {
    type Answer = (u64, Result<Vec<DnsHop>, String>);
    let (dns_tx, mut dns_rx) = tokio::sync::mpsc::unbounded_channel::<Answer>();
    let mut in_flight = 0usize;
    tokio::pin!(shutdown);
    let mut out = Vec::with_capacity(BATCH * 2);
    // one timer, re-armed only when the core's next deadline moves
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let deadline = match (core.next_timeout(), ext.next_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if deadline != armed {
            armed = deadline;
            sleep.as_mut().reset(
                deadline
                    .map(tokio::time::Instant::from_std)
                    .unwrap_or_else(far),
            );
        }
        let mut fired = false;
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                let now = Instant::now();
                let wall = SystemTime::now();
                dispatch(&mut core, &mut ext, ev, now, wall, &mut out);
                // drain what is already queued, so one wake-up serves a burst
                for _ in 1..BATCH {
                    match events.try_recv() {
                        Ok(ev) => dispatch(&mut core, &mut ext, ev, now, wall, &mut out),
                        Err(_) => break,
                    }
                }
            }
            Some((ctx, answer)) = dns_rx.recv() => {
                in_flight = in_flight.saturating_sub(1);
                core.on_dns_answer(ctx, answer, Instant::now(), &mut out);
            }
            _ = &mut sleep => fired = true,
        }
        if fired || core.next_timeout().is_some_and(|t| t <= Instant::now()) {
            core.on_timeout(Instant::now(), &mut out);
            armed = None;
        }
        ext.on_tick(&mut core, Instant::now(), SystemTime::now(), &mut out);
        // answering a lookup at once may ask for the next one: loop until none is left
        let mut queries = core.take_dns_queries();
        while !queries.is_empty() {
            for q in queries {
                let resolver = resolvers.for_query(&q);
                match resolver {
                    Some(r) if in_flight < MAX_DNS_IN_FLIGHT => {
                        in_flight += 1;
                        let tx = dns_tx.clone();
                        tokio::spawn(async move {
                            let answer = r.resolve(&q.target).await.map_err(|e| e.to_string());
                            let _ = tx.send((q.ctx, answer));
                        });
                    }
                    Some(_) => core.on_dns_answer(
                        q.ctx,
                        Err("too many DNS lookups in progress".into()),
                        Instant::now(),
                        &mut out,
                    ),
                    None => core.on_dns_answer(
                        q.ctx,
                        Err("no DNS resolver".into()),
                        Instant::now(),
                        &mut out,
                    ),
                }
            }
            queries = core.take_dns_queries();
        }
        for (conn, addr) in core.take_aliases() {
            handle.alias(conn, addr);
        }
        for o in out.drain(..) {
            handle.send(o);
        }
    }
}

fn dispatch(
    core: &mut Core,
    ext: &mut impl Extension,
    ev: TransportEvent,
    now: Instant,
    wall: SystemTime,
    out: &mut Vec<crate::transport::Outbound>,
) {
    match ev {
        TransportEvent::Message(inbound) => core.on_message(inbound, now, wall, out),
        TransportEvent::SendFailed { token, error } => {
            if !ext.on_send_failed(token, &error, core, now) {
                core.on_send_failed(token, &error, now, out)
            }
        }
        TransportEvent::Closed { conn, remote } => {
            core.on_connection_closed(conn);
            ext.on_closed(conn, remote, core, now);
        }
        TransportEvent::BadFrame { remote, error, .. } => {
            tracing::debug!(%remote, %error, "bad stream frame: connection closed");
        }
    }
}

/// `NetEnv` answered by the operating system.
pub struct OsNetEnv;

impl NetEnv for OsNetEnv {
    fn source_ip_for(&self, dest: IpAddr) -> Option<IpAddr> {
        // A connected UDP socket sends nothing; it only asks the routing table.
        let bind: SocketAddr = match dest {
            IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let s = UdpSocket::bind(bind).ok()?;
        s.connect((dest, 9)).ok()?;
        s.local_addr().ok().map(|a| a.ip())
    }

    fn is_local_ip(&self, ip: IpAddr) -> bool {
        UdpSocket::bind((ip, 0)).is_ok()
    }
}
