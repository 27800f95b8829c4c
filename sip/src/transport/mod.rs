//! SIP transports (RFC 3261 18): UDP, TCP, TLS and MTLS listeners on IPv4 and IPv6, outbound
//! TCP/TLS connections from the configured source-port range, connection reuse in both
//! directions (and RFC 5923 aliases), idle close, limits. This is the only I/O layer: it moves
//! whole messages (datagrams, or Content-Length frames on streams) between sockets and an event
//! channel, and never looks inside a message beyond framing.
//!
//! What goes where is decided above (`proxy`); this module only delivers. The shapes it moves
//! (`Received`, `Transmit`, `ConnId`) are the sans-IO core's (`proxy::io`).

mod framing;
mod ring;
mod stream;
pub mod stun;
mod tls;
mod udp;

pub use framing::{Frame, FrameError, Framer};
pub use ring::{probe as probe_io_uring, UdpRing};
pub use tls::{client_config, roots_from, server_config, TlsError, TlsMaterial};

use crate::proxy::{ConnId, Received, Transmit};
use bytes::Bytes;
use causeway_config::{IoPath, Transport};
use causeway_guard::{Guard, Input, Report, SharedGuard, Verdict};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSpec {
    pub kind: Transport,
    pub addr: SocketAddr,
    /// TLS that requires a client certificate chaining to `trusted_ca`.
    pub mtls: bool,
}

#[derive(Clone, Debug)]
pub struct TransportConfig {
    pub listeners: Vec<ListenerSpec>,
    pub outbound_ports: RangeInclusive<u16>,
    pub idle_timeout: Duration,
    pub max_message_size: usize,
    pub max_headers: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub tls: Option<TlsMaterial>,
    pub trusted_ca: Option<PathBuf>,
    /// Verify outbound TLS servers (`enforce`) or accept any certificate (`permissive`).
    pub verify_outbound: bool,
    /// The per-source budgets every datagram, connection and framed message passes first.
    pub guard: SharedGuard,
    /// How long an accepted connection has for its first message, and any message from its
    /// first byte (slowloris).
    pub message_timeout: Duration,
    /// What receives on the UDP listeners: a task per socket (`Epoll`), or a `UdpRing` the
    /// driver runs (`IoUring`; `Auto`: where the kernel allows it).
    pub udp_io: IoPath,
    /// On the ring: how long a wake-up may wait for more datagrams after the first.
    pub udp_batch: Duration,
    /// On the ring: the ring on a thread of its own, apart from the core's (`[sip] threads =
    /// 2`); ignored on epoll.
    pub udp_thread: bool,
}

#[derive(Clone, Debug)]
pub enum TransportEvent {
    Message(Received),
    Closed {
        conn: ConnId,
        remote: SocketAddr,
    },
    SendFailed {
        token: u64,
        error: String,
    },
    BadFrame {
        conn: ConnId,
        remote: SocketAddr,
        error: FrameError,
    },
}

#[derive(thiserror::Error, Debug)]
pub enum TransportError {
    #[error("cannot bind SIP {kind} on {addr}: {error}")]
    Bind {
        kind: &'static str,
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("a TLS listener needs a certificate")]
    NoCertificate,
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("[sip] udp_io = \"io_uring\": this kernel refuses it ({0})")]
    IoUring(std::io::Error),
}

/// Counters, readable at any time.
#[derive(Debug, Default)]
pub struct TransportStats {
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub dropped_datagrams: AtomicU64,
    pub bad_frames: AtomicU64,
    pub send_failures: AtomicU64,
    pub refused_connections: AtomicU64,
    /// STUN Binding requests answered on the UDP ports (RFC 5626 keep-alives).
    pub stun_answered: AtomicU64,
    /// Connections closed because a message took longer than `message_timeout`.
    pub slow_messages: AtomicU64,
    /// Messages not sent because their destination is blocked (`[protection]`): what a
    /// transaction opened before the block would still send it (retransmitted answers).
    pub withheld: AtomicU64,
}

/// Events waiting for the core; UDP drops (and counts) rather than grow it further.
const EVENT_QUEUE: usize = 16_384;

pub(crate) struct ConnEntry {
    kind: Transport,
    remote: SocketAddr,
    tx: mpsc::Sender<Bytes>,
    aliases: Vec<SocketAddr>,
}

#[derive(Default)]
pub(crate) struct ConnTable {
    by_id: HashMap<u64, ConnEntry>,
    by_peer: HashMap<(Transport, SocketAddr), u64>,
    per_ip: HashMap<IpAddr, usize>,
}

impl ConnTable {
    fn insert(&mut self, id: u64, entry: ConnEntry) {
        self.by_peer.insert((entry.kind, entry.remote), id);
        *self.per_ip.entry(entry.remote.ip()).or_default() += 1;
        self.by_id.insert(id, entry);
    }

    fn remove(&mut self, id: u64) {
        if let Some(e) = self.by_id.remove(&id) {
            for a in std::iter::once(e.remote).chain(e.aliases) {
                if self.by_peer.get(&(e.kind, a)) == Some(&id) {
                    self.by_peer.remove(&(e.kind, a));
                }
            }
            if let Some(n) = self.per_ip.get_mut(&e.remote.ip()) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&e.remote.ip());
                }
            }
        }
    }
}

pub(crate) struct Shared {
    cfg: TransportConfig,
    events: mpsc::Sender<TransportEvent>,
    /// The UDP listeners of the epoll path (none on the io_uring path).
    udp: UdpListeners<tokio::net::UdpSocket>,
    /// The UDP listeners of the io_uring path, never registered with the runtime's reactor
    /// (which would wake for every datagram the ring receives).
    ring_udp: UdpListeners<std::net::UdpSocket>,
    conns: Mutex<ConnTable>,
    next_conn: AtomicU64,
    next_port: AtomicU64,
    client_tls: Option<Arc<rustls::ClientConfig>>,
    bound: Vec<(Transport, SocketAddr, bool)>,
    stats: TransportStats,
    shutdown: watch::Sender<bool>,
    /// The UDP listeners are served by a `UdpRing` (the driver's), not by receive tasks.
    udp_ring: bool,
}

impl Shared {
    fn conns(&self) -> std::sync::MutexGuard<'_, ConnTable> {
        // a poisoned lock only means another task panicked mid-update; the table stays usable
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, Guard> {
        self.cfg.guard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the guard lets what `remote` sends through now.
    fn admit(&self, remote: SocketAddr, what: Input) -> bool {
        self.guard()
            .handle(remote.ip(), what, std::time::Instant::now())
            == Verdict::Pass
    }

    fn report(&self, remote: SocketAddr, report: Report) {
        self.guard().handle(
            remote.ip(),
            Input::Report(report),
            std::time::Instant::now(),
        );
    }

    /// Whether `out` goes to a blocked address, and so is not sent (told to the core). A
    /// blocked source gets nothing at all until its block expires, not even what its
    /// transactions from before the block would retransmit (RFC 3261 timer G).
    fn withhold(&self, out: &Transmit) -> bool {
        if !self
            .guard()
            .is_blocked(out.dest.ip(), std::time::Instant::now())
        {
            return false;
        }
        self.stats.withheld.fetch_add(1, Ordering::Relaxed);
        self.tell_failed(
            out.token,
            format!("{} is blocked ([protection])", out.dest.ip()),
        );
        true
    }

    fn fail(&self, token: u64, error: String) {
        self.stats.send_failures.fetch_add(1, Ordering::Relaxed);
        self.tell_failed(token, error);
    }

    /// Tells the core that the send of `token` failed (a sender that cares gave one).
    fn tell_failed(&self, token: u64, error: String) {
        if token != 0 {
            let _ = self
                .events
                .try_send(TransportEvent::SendFailed { token, error });
        }
    }
}

#[derive(Clone)]
pub struct TransportHandle {
    shared: Arc<Shared>,
}

impl TransportHandle {
    /// A send refused before it reached a socket (the driver's hand-off to the ring's thread
    /// was full): counted, and its sender told as of any failed send.
    pub(crate) fn refuse(&self, out: &Transmit, error: &str) {
        self.shared.fail(out.token, error.to_string());
    }

    /// Queues `out` for sending; never blocks. Failures come back as `SendFailed`.
    pub fn send(&self, out: Transmit) {
        let s = &self.shared;
        if s.withhold(&out) {
            return;
        }
        match out.kind {
            Transport::Udp => udp::send(s, out),
            Transport::Tcp | Transport::Tls => stream::send(s, out),
        }
    }

    /// RFC 5923: requests for `alias` may use connection `conn`.
    pub fn alias(&self, conn: ConnId, alias: SocketAddr) {
        let mut t = self.shared.conns();
        if let Some(e) = t.by_id.get_mut(&conn.0) {
            if e.aliases.len() < 8 {
                e.aliases.push(alias);
                let kind = e.kind;
                t.by_peer.insert((kind, alias), conn.0);
            }
        }
    }

    /// Bound listener addresses (port 0 resolved): (transport, address, mtls).
    pub fn local_addrs(&self) -> Vec<(Transport, SocketAddr, bool)> {
        self.shared.bound.clone()
    }

    pub fn connection_count(&self) -> usize {
        self.shared.conns().by_id.len()
    }

    pub fn stats(&self) -> &TransportStats {
        &self.shared.stats
    }

    /// Whether the guard blocks `source` now (what it sent is dropped unhandled).
    pub fn is_blocked(&self, source: IpAddr, now: std::time::Instant) -> bool {
        self.shared.guard().is_blocked(source, now)
    }

    /// What a state machine learnt about `source`, for the guard.
    pub fn report(&self, source: IpAddr, report: Report) {
        self.shared
            .guard()
            .handle(source, Input::Report(report), std::time::Instant::now());
    }

    pub fn shutdown(&self) {
        let _ = self.shared.shutdown.send(true);
    }

    /// The path the UDP listeners were given: `IoUring` (the driver must run a `UdpRing` on
    /// them) or `Epoll` (receive tasks).
    pub fn udp_io(&self) -> IoPath {
        if self.shared.udp_ring {
            IoPath::IoUring
        } else {
            IoPath::Epoll
        }
    }

    /// Whether the driver runs the UDP ring on a thread of its own (asked for, and on the ring).
    pub fn udp_thread(&self) -> bool {
        self.shared.udp_ring && self.shared.cfg.udp_thread
    }

    /// How long a wait on the ring may let datagrams gather (`[sip] udp_batch_us`): the slack
    /// the core's timers have.
    pub fn udp_batch(&self) -> std::time::Duration {
        self.shared.cfg.udp_batch
    }
}

/// Whether the UDP listeners go on io_uring: `Auto` asks the kernel.
fn udp_on_ring(wanted: IoPath) -> Result<bool, TransportError> {
    match wanted {
        IoPath::Epoll => Ok(false),
        IoPath::IoUring => ring::probe()
            .map(|()| true)
            .map_err(TransportError::IoUring),
        IoPath::Auto => match ring::probe() {
            Ok(()) => Ok(true),
            Err(e) => {
                tracing::info!(error = %e, "SIP UDP: io_uring unavailable, using epoll");
                Ok(false)
            }
        },
    }
}

/// Binds every listener and starts the receive tasks (UDP ones only on the epoll path).
pub async fn start(
    cfg: TransportConfig,
) -> Result<(TransportHandle, mpsc::Receiver<TransportEvent>), TransportError> {
    let (events, rx) = mpsc::channel(EVENT_QUEUE);
    let (shutdown, _) = watch::channel(false);
    let needs_tls = cfg.listeners.iter().any(|l| l.kind == Transport::Tls);
    if needs_tls && cfg.tls.is_none() {
        return Err(TransportError::NoCertificate);
    }
    let Listeners {
        udp: udp_sockets,
        streams,
        bound,
    } = bind_listeners(&cfg)?;
    let client_tls = Some(tls::client_config(
        cfg.tls.as_ref(),
        cfg.verify_outbound,
        cfg.trusted_ca.as_deref(),
    )?);
    let start_port = u64::from(*cfg.outbound_ports.start());
    let udp_ring = udp_on_ring(cfg.udp_io)?;
    let (udp, ring_udp) = udp_paths(udp_sockets, udp_ring)?;
    let shared = Arc::new(Shared {
        cfg,
        events,
        udp: udp.clone(),
        ring_udp,
        conns: Mutex::new(ConnTable::default()),
        next_conn: AtomicU64::new(1),
        next_port: AtomicU64::new(start_port + u64::from(rand::random::<u16>() % 1000)),
        client_tls,
        bound,
        stats: TransportStats::default(),
        shutdown,
        udp_ring,
    });
    for (local, sock) in udp {
        tokio::spawn(udp::receive(shared.clone(), local, sock));
    }
    for l in streams {
        tokio::spawn(stream::accept(
            shared.clone(),
            l.kind,
            l.local,
            l.listener,
            l.acceptor,
            l.mtls,
        ));
    }
    Ok((TransportHandle { shared }, rx))
}

type UdpListeners<S> = Vec<(SocketAddr, Arc<S>)>;

/// The bound UDP sockets given to their path: registered with the runtime (epoll), or kept
/// plain for the ring.
fn udp_paths(
    udp_sockets: Vec<(SocketAddr, std::net::UdpSocket)>,
    udp_ring: bool,
) -> Result<
    (
        UdpListeners<tokio::net::UdpSocket>,
        UdpListeners<std::net::UdpSocket>,
    ),
    TransportError,
> {
    if udp_ring {
        let ring_udp = udp_sockets.into_iter().map(|(a, s)| (a, Arc::new(s)));
        return Ok((Vec::new(), ring_udp.collect()));
    }
    let mut udp = Vec::new();
    for (local, sock) in udp_sockets {
        let sock = tokio::net::UdpSocket::from_std(sock).map_err(|error| TransportError::Bind {
            kind: "UDP",
            addr: local,
            error,
        })?;
        udp.push((local, Arc::new(sock)));
    }
    Ok((udp, Vec::new()))
}

/// Every configured listener, bound (port 0 resolved) but not yet served.
struct Listeners {
    udp: Vec<(SocketAddr, std::net::UdpSocket)>,
    streams: Vec<StreamListener>,
    /// (transport, address, mtls) of each, in configuration order.
    bound: Vec<(Transport, SocketAddr, bool)>,
}

/// A bound TCP or TLS listener, with its TLS acceptor when it is TLS.
struct StreamListener {
    kind: Transport,
    local: SocketAddr,
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mtls: bool,
}

/// Binds the listeners in configuration order; the first that fails is the error.
fn bind_listeners(cfg: &TransportConfig) -> Result<Listeners, TransportError> {
    let mut out = Listeners {
        udp: Vec::new(),
        streams: Vec::new(),
        bound: Vec::new(),
    };
    for l in &cfg.listeners {
        match l.kind {
            Transport::Udp => {
                let sock = udp::bind(l.addr).map_err(|error| TransportError::Bind {
                    kind: "UDP",
                    addr: l.addr,
                    error,
                })?;
                let local = sock.local_addr().unwrap_or(l.addr);
                out.bound.push((l.kind, local, false));
                out.udp.push((local, sock));
            }
            Transport::Tcp | Transport::Tls => {
                let s = bind_stream(cfg, l)?;
                out.bound.push((s.kind, s.local, s.mtls));
                out.streams.push(s);
            }
        }
    }
    Ok(out)
}

/// A TCP or TLS listener; TLS gets the node's certificate, and MTLS the trusted CAs that
/// client certificates must chain to.
fn bind_stream(cfg: &TransportConfig, l: &ListenerSpec) -> Result<StreamListener, TransportError> {
    let listener = stream::bind(l.addr).map_err(|error| TransportError::Bind {
        kind: if l.kind == Transport::Tcp {
            "TCP"
        } else {
            "TLS"
        },
        addr: l.addr,
        error,
    })?;
    let local = listener.local_addr().unwrap_or(l.addr);
    let acceptor = match (l.kind, &cfg.tls) {
        (Transport::Tls, Some(m)) => {
            let roots = if l.mtls {
                Some(tls::roots_from(cfg.trusted_ca.as_deref())?)
            } else {
                None
            };
            Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
                m, roots,
            )?))
        }
        _ => None,
    };
    Ok(StreamListener {
        kind: l.kind,
        local,
        listener,
        acceptor,
        mtls: l.mtls,
    })
}

#[cfg(test)]
mod tests;
