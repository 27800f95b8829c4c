//! The driver of a SIP state machine (the proxy core, or the traversal layer around it): the
//! only place where it meets real time and real sockets. It moves transport events in as
//! `Event`s, carries out every `Output` (sends, DNS lookups, connection aliases, media relay
//! commands, whose answers go straight back in), and sleeps until the machine's next deadline.
//! No protocol decisions are made here.
//!
//! Three loops, by the UDP path the transport chose: here, a task on the runtime fed by the
//! transport's event queue (epoll); in `ring`, a thread of its own around the UDP listeners'
//! io_uring; in `ring::split` (`[sip] threads = 2`), that ring on one thread and the machine on
//! another. All feed and carry out through the same functions below, and differ only in the
//! `Sink` messages go to.

mod ring;

use crate::dns::{Hop as DnsHop, SipResolver, SipTarget};
use crate::proxy::{DnsQuery, Event, Machine, NetEnv, Output, Received, Transmit};
use crate::transport::{TransportEvent, TransportHandle, UdpRing};
use causeway_config::{IoPath, Transport};
use causeway_media::Relay;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::{self, Receiver, UnboundedSender};

/// Events handled per wake-up before outputs are carried out; bounds latency under load.
const BATCH: usize = 64;
/// DNS lookups in flight at once; past this a lookup fails at once (a flood of requests for
/// names must not grow tasks without bound).
const MAX_DNS_IN_FLIGHT: usize = 1024;

/// The resolvers RFC 3263 lookups use: one per DNS zone (its nameservers), and the node's own
/// (the system's resolv.conf) for host names met outside DNS zones.
#[derive(Clone, Default)]
pub struct Resolvers {
    zones: HashMap<String, SipResolver>,
    default: Option<SipResolver>,
}

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

/// What the driver moves bytes and lookups with.
pub struct Io {
    pub transport: TransportHandle,
    pub events: Receiver<TransportEvent>,
    pub resolvers: Resolvers,
    /// The media relay that carries out the machine's relay commands; none: no anchoring.
    pub relay: Option<Arc<dyn Relay + Send + Sync>>,
}

type Answer = (u64, Result<Vec<DnsHop>, String>);

/// What watches the machine from outside (the node's status publisher): it sees the machine
/// after every turn, never changes it, and may ask for a turn of its own. Called where the
/// machine runs (the runtime's task, or the core's thread on io_uring): it must not block.
pub trait Observer<M> {
    fn observe(&mut self, machine: &M, now: Instant);
    /// When it wants to see the machine next, busy or not.
    fn poll_timeout(&self) -> Option<Instant>;
    /// What is shown every message in and out, asked once when the driver starts; none:
    /// nothing is.
    fn messages(&self) -> Option<Arc<dyn Messages>> {
        None
    }
}

/// What sees every message in and out (the node's call history), in the machine's order.
/// Called on the machine's thread, or with `[sip] threads = 2` on the UDP ring's own thread,
/// which the machine hands every message to; it must not block.
pub trait Messages: Send + Sync {
    /// A message the machine takes in (never one it drops for a blocked source); on the
    /// ring's own thread, shown once the machine has handled it.
    fn received(&self, message: &Received);
    /// A message handed to the transport.
    fn sent(&self, message: &Transmit);
}

/// Work the node hands the running machine between two inputs (a reload's new tables): called
/// with the machine, `now` and the outputs to carry out.
pub type Control<M> = Box<dyn FnOnce(&mut M, Instant, &mut Vec<Output>) + Send>;

/// Runs `machine` until `shutdown`, with what arrives on `control` applied between inputs:
/// on a thread of its own with the UDP listeners' ring when the transport put them on
/// io_uring, else on this task. An error when SIP stopped on its own (the node must stop too).
pub async fn run<M, O>(
    machine: M,
    io: Io,
    (shutdown, control): (
        impl Future<Output = ()>,
        mpsc::UnboundedReceiver<Control<M>>,
    ),
    mut observer: O,
) -> Result<(), String>
where
    M: Machine + Send + 'static,
    O: Observer<M> + Send + 'static,
{
    match io.transport.udp_io() {
        IoPath::IoUring => ring::run(machine, io, (shutdown, control), observer).await,
        _ => {
            run_here(machine, io, (shutdown, control), &mut observer).await;
            Ok(())
        }
    }
}

/// The readiness loop: the machine on this task, fed by the transport's event queue.
async fn run_here<M: Machine>(
    mut machine: M,
    mut io: Io,
    (shutdown, mut control): (
        impl Future<Output = ()>,
        mpsc::UnboundedReceiver<Control<M>>,
    ),
    observer: &mut impl Observer<M>,
) {
    let tap = observer.messages();
    let (dns_tx, mut dns_rx) = mpsc::unbounded_channel::<Answer>();
    let mut dns = Lookups {
        tx: dns_tx,
        in_flight: 0,
    };
    tokio::pin!(shutdown);
    let mut out = Vec::with_capacity(BATCH * 2);
    // one timer, re-armed only when the machine's next deadline moves
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let deadline = next_deadline(&machine, observer);
        if deadline != armed {
            armed = deadline;
            sleep.as_mut().reset(
                deadline
                    .map(tokio::time::Instant::from_std)
                    .unwrap_or_else(far),
            );
        }
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            ev = io.events.recv() => {
                let Some(ev) = ev else { break };
                let now = Instant::now();
                let sink = &mut Sink::Transport(tap.as_deref());
                feed(&mut machine, (ev, &io.transport), now, &mut out, sink);
                // drain what is already queued, so one wake-up serves a burst
                for _ in 1..BATCH {
                    match io.events.try_recv() {
                        Ok(ev) => feed(&mut machine, (ev, &io.transport), now, &mut out, sink),
                        Err(_) => break,
                    }
                }
            }
            Some((ctx, answer)) = dns_rx.recv() => {
                dns.in_flight = dns.in_flight.saturating_sub(1);
                machine.handle(Event::Dns { ctx, answer }, Instant::now(), &mut out);
            }
            Some(f) = control.recv() => f(&mut machine, Instant::now(), &mut out),
            _ = &mut sleep => armed = None,
        }
        let now = Instant::now();
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now, &mut out);
        }
        let mut outlets = Outlets {
            transport: &io.transport,
            resolvers: &io.resolvers,
            relay: io.relay.as_ref(),
            sink: Sink::Transport(tap.as_deref()),
        };
        carry_out(&mut machine, &mut outlets, &mut dns, &mut out);
        observer.observe(&machine, now);
    }
}

/// Where outputs are carried out: the transport (and the `sink` for UDP and the tap), the
/// resolvers, the relay.
struct Outlets<'a> {
    transport: &'a TransportHandle,
    resolvers: &'a Resolvers,
    relay: Option<&'a Arc<dyn Relay + Send + Sync>>,
    sink: Sink<'a>,
}

/// Where UDP messages are sent and every message is shown to the tap.
enum Sink<'a> {
    /// The transport's sockets (the readiness path), the tap here.
    Transport(Option<&'a dyn Messages>),
    /// The ring this thread owns, the tap here.
    Ring(&'a mut UdpRing, Option<&'a dyn Messages>),
    /// In order, for the ring's own thread (`ring::split`): the UDP sends, and (when there is
    /// a tap, `true`) every message to show, which that thread shows before it sends.
    Handed(&'a mut Vec<Handed>, bool),
}

/// What the machine's thread hands the ring's own thread, in the machine's order.
pub(crate) enum Handed {
    /// A message the machine took in, to show.
    Received(Received),
    /// A message sent on a stream, to show.
    Sent(Transmit),
    /// A datagram to show and send.
    Send(Transmit),
}

impl Sink<'_> {
    /// A message the machine is about to take in.
    fn received(&mut self, r: &Received) {
        match self {
            Sink::Transport(Some(tap)) | Sink::Ring(_, Some(tap)) => tap.received(r),
            Sink::Handed(list, true) => list.push(Handed::Received(r.clone())),
            _ => {}
        }
    }

    /// Sends `t`: UDP into the ring or the list, anything else through the transport.
    fn send(&mut self, t: Transmit, transport: &TransportHandle) {
        let udp = t.kind == Transport::Udp;
        match self {
            Sink::Handed(list, _) if udp => return list.push(Handed::Send(t)),
            Sink::Handed(list, true) => list.push(Handed::Sent(t.clone())),
            Sink::Transport(Some(tap)) | Sink::Ring(_, Some(tap)) => tap.sent(&t),
            _ => {}
        }
        match self {
            Sink::Ring(ring, _) if udp => ring.send(t),
            _ => transport.send(t),
        }
    }
}

/// When the loop must turn next: the machine's deadline or the observer's, the earlier.
fn next_deadline<M: Machine>(machine: &M, observer: &impl Observer<M>) -> Option<Instant> {
    match (machine.poll_timeout(), observer.poll_timeout()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A transport event as the machine's input.
fn feed<M: Machine>(
    machine: &mut M,
    (ev, transport): (TransportEvent, &TransportHandle),
    now: Instant,
    out: &mut Vec<Output>,
    sink: &mut Sink<'_>,
) {
    let ev = match ev {
        TransportEvent::Message(r) => {
            // blocked while its messages waited in the queue: none of them is handled (a
            // source over its budget gets no answer at all)
            if transport.is_blocked(r.remote.ip(), now) {
                return;
            }
            sink.received(&r);
            Event::Received(r)
        }
        TransportEvent::SendFailed { token, error } => Event::SendFailed { token, error },
        TransportEvent::Closed { conn, remote } => Event::Closed { conn, remote },
        TransportEvent::BadFrame { remote, error, .. } => {
            tracing::debug!(%remote, %error, "bad stream frame: connection closed");
            return;
        }
    };
    let start = out.len();
    machine.handle(ev, now, out);
    // what the machine reports about a source counts before the next message of the batch:
    // a source blocked by this one has the rest of its queued messages dropped
    let mut i = start;
    while i < out.len() {
        if let Output::Report { source, report } = out[i] {
            transport.report(source, report);
            out.remove(i);
        } else {
            i += 1;
        }
    }
}

struct Lookups {
    tx: UnboundedSender<Answer>,
    in_flight: usize,
}

/// Carries out the outputs in order; answers that come at once (relay commands, refused
/// lookups) go back into the machine and what they produce is carried out too.
fn carry_out<M: Machine>(
    machine: &mut M,
    io: &mut Outlets<'_>,
    dns: &mut Lookups,
    out: &mut Vec<Output>,
) {
    let mut answers: Vec<Event> = Vec::new();
    loop {
        for o in out.drain(..) {
            match o {
                Output::Transmit(t) => io.sink.send(t, io.transport),
                Output::Alias { conn, addr } => io.transport.alias(conn, addr),
                Output::Dns(q) => answers.extend(lookup(q, io.resolvers, dns)),
                Output::Media(c) => match io.relay {
                    Some(relay) => answers.extend(relay.execute(c).map(Event::Media)),
                    None => tracing::debug!(command = ?c, "relay command without a relay"),
                },
                Output::Report { source, report } => io.transport.report(source, report),
                Output::Link(l) => {
                    tracing::debug!(output = ?l, "link output without a traversal layer")
                }
            }
        }
        if answers.is_empty() {
            return;
        }
        let now = Instant::now();
        for ev in answers.drain(..) {
            machine.handle(ev, now, out);
        }
    }
}

/// Starts a lookup, or answers at once when it cannot be made.
fn lookup(q: DnsQuery, resolvers: &Resolvers, dns: &mut Lookups) -> Option<Event> {
    let refuse = |why: &str| Event::Dns {
        ctx: q.ctx,
        answer: Err(why.into()),
    };
    if q.system {
        if dns.in_flight >= MAX_DNS_IN_FLIGHT {
            return Some(refuse("too many DNS lookups in progress"));
        }
        dns.in_flight += 1;
        let tx = dns.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send((q.ctx, system_lookup(&q.target).await));
        });
        return None;
    }
    match resolvers.for_query(&q) {
        Some(r) if dns.in_flight < MAX_DNS_IN_FLIGHT => {
            dns.in_flight += 1;
            let tx = dns.tx.clone();
            tokio::spawn(async move {
                let answer = r.resolve(&q.target).await.map_err(|e| e.to_string());
                let _ = tx.send((q.ctx, answer));
            });
            None
        }
        Some(_) => Some(refuse("too many DNS lookups in progress")),
        None => Some(refuse("no DNS resolver")),
    }
}

/// A host's addresses from the operating system (`DnsQuery::system`), as hops at the target's
/// port (5060, or 5061 for TLS, when it has none).
async fn system_lookup(t: &SipTarget) -> Result<Vec<DnsHop>, String> {
    let transport = t.transport.unwrap_or(Transport::Udp);
    let port = t.port.unwrap_or(if transport == Transport::Tls {
        5061
    } else {
        5060
    });
    let found = tokio::net::lookup_host((t.host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?;
    Ok(found
        .map(|addr| DnsHop {
            transport,
            addr,
            server_name: t.host.clone(),
        })
        .collect())
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
