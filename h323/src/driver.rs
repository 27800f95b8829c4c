//! The tokio driver of the H.323 side: the RAS socket (UDP), the Q.931 listener (TCP), the
//! connections and H.245 listeners the relay asks for, and the timers, all around one
//! [`Service`] owned by one task.
//!
//! Thin on purpose: every decision is in the sans-IO [`Service`]. This module owns sockets,
//! TPKT framing, the source-port range of outbound connections and listeners, and the status
//! snapshot. One task owns the service (no locks on the hot path); each TCP connection has a
//! reader task that frames TPKT and a writer task that drains a bounded queue.

mod guard;
mod ports;
mod zones;

pub use ports::route_source;
use ports::{connect_from_range, listen_in_range};

use crate::call::{self, CallEvent, ConnId, ListenerId};
use crate::ras;
use crate::service::{self, Service};
use crate::tpkt::{self, TpktFramer, TPKT_MAX_PAYLOAD};
use bytes::Bytes;
use causeway_config::PortRange;
use causeway_guard::Input;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Payloads waiting for one connection's writer; a peer that does not read is cut off.
const WRITE_QUEUE: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Events from connection, accept and connect tasks waiting for the service task; a full
/// queue makes readers wait, which pushes back on the peers through TCP flow control.
const EVENT_QUEUE: usize = 4096;
/// How often the status snapshot is refreshed.
const STATUS_EVERY: Duration = Duration::from_millis(500);

/// Where the driver listens and which ports it may use.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    pub ras_listen: SocketAddr,
    pub q931_listen: SocketAddr,
    pub signaling_ports: PortRange,
    /// Join the discovery group (224.0.1.41) on this UDP port and answer GRQs sent there.
    pub discovery_port: Option<u16>,
    /// E's traversal zone ports (H.460.18 RAS flows), in the order of the service's zones.
    pub zone_ports: Vec<SocketAddr>,
    /// E with assent-mode zones: a second call-signaling listener (2776).
    pub assent_listen: Option<SocketAddr>,
    /// E with H.460.18-mode zones: where C opens the separate H.245 channels of traversal
    /// calls (2777); each names its call first, so it is handled as a call-signaling listener.
    pub h46018_listen: Option<SocketAddr>,
    /// The node's per-source budgets (`[protection]`), shared with the SIP transports.
    pub guard: causeway_guard::SharedGuard,
}

/// What `causeway status` shows of the H.323 side.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub registrations: Vec<ras::RegistrationView>,
    pub calls: Vec<call::CallStatus>,
    pub admitted_calls: usize,
    /// Their bandwidth, in units of 100 bit/s.
    pub admitted_bandwidth: u64,
    pub ras_received: Vec<(&'static str, u64)>,
    pub ras_malformed: u64,
    pub ras_rejected: u64,
    pub q931_malformed: u64,
    pub calls_total: u64,
    /// Each traversal zone's H.323 side.
    pub zones: Vec<crate::h46018::ZoneView>,
}

pub type StatusHandle = Arc<Mutex<Snapshot>>;

/// Which of the H.323 channels a tapped message used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Ras,
    Q931,
    H245,
}

/// One message as it crossed the node's sockets (a TPKT payload or a RAS datagram), for a
/// watcher outside the service. Borrowed: the watcher copies what it keeps.
#[derive(Clone, Copy, Debug)]
pub struct Tapped<'a> {
    pub channel: Channel,
    /// The relayed call the connection belongs to, when the service has tied it to one.
    pub call: Option<call::CallId>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub bytes: &'a [u8],
}

/// What watches the messages from outside (the node's call history); it must not block the
/// driver's task.
pub trait Tap: Send + Sync {
    fn received(&self, m: Tapped<'_>);
    fn sent(&self, m: Tapped<'_>);
}

/// Sockets bound by [`bind`]: binding happens before the node reports it is running, so a port
/// in use is an error at start.
pub struct Bound {
    ras: UdpSocket,
    q931: TcpListener,
    discovery: Option<UdpSocket>,
    zones: Vec<UdpSocket>,
    assent: Option<TcpListener>,
    h46018: Option<TcpListener>,
}

pub async fn bind(cfg: &DriverConfig) -> std::io::Result<Bound> {
    let ras = UdpSocket::bind(cfg.ras_listen).await?;
    let q931 = TcpListener::bind(cfg.q931_listen).await?;
    let discovery = match cfg.discovery_port {
        Some(port) => Some(discovery_socket(port)?),
        None => None,
    };
    let zones = zones::bind(&cfg.zone_ports).await?;
    let assent = match cfg.assent_listen {
        Some(a) => Some(TcpListener::bind(a).await?),
        None => None,
    };
    let h46018 = match cfg.h46018_listen {
        Some(a) => Some(TcpListener::bind(a).await?),
        None => None,
    };
    Ok(Bound {
        ras,
        q931,
        discovery,
        zones,
        assent,
        h46018,
    })
}

/// A UDP socket on `port` that joined 224.0.1.41 (the interface the kernel routes the group
/// to). Address reuse: several gatekeepers on one host may all listen for discovery.
fn discovery_socket(port: u16) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
    s.join_multicast_v4(
        &causeway_config::defaults::H323_DISCOVERY_GROUP,
        &Ipv4Addr::UNSPECIFIED,
    )?;
    UdpSocket::from_std(s.into())
}

impl Bound {
    pub fn ras_addr(&self) -> std::io::Result<SocketAddr> {
        self.ras.local_addr()
    }
    pub fn q931_addr(&self) -> std::io::Result<SocketAddr> {
        self.q931.local_addr()
    }
}

enum Event {
    Stream {
        stream: TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
        /// `None`: the Q.931 listener; `Some`: an H.245 listener.
        listener: Option<ListenerId>,
    },
    Connected {
        conn: ConnId,
        stream: TcpStream,
        local: SocketAddr,
    },
    ConnectFailed {
        conn: ConnId,
        reason: String,
    },
    Data {
        conn: ConnId,
        payload: Bytes,
    },
    Closed {
        conn: ConnId,
    },
    Malformed {
        conn: ConnId,
        what: String,
    },
    /// A datagram on a traversal zone port.
    Zone {
        zone: usize,
        from: SocketAddr,
        payload: Bytes,
    },
}

struct Conn {
    tx: mpsc::Sender<Bytes>,
    reader: tokio::task::AbortHandle,
    local: SocketAddr,
    peer: SocketAddr,
    /// The call (and whether this is its H.245 connection), once the service names it; kept
    /// here because the service forgets it when the call is released.
    call: Option<(call::CallId, bool)>,
}

struct Driver {
    service: Service,
    cfg: DriverConfig,
    ras_port: u16,
    events_tx: mpsc::Sender<Event>,
    /// Closes the service task decided itself (a peer that does not read), handled on the
    /// next turn of the loop; at most one per connection.
    closed_tx: mpsc::UnboundedSender<Event>,
    conns: HashMap<ConnId, Conn>,
    listeners: HashMap<ListenerId, tokio::task::AbortHandle>,
    next_port: Arc<AtomicU64>,
    /// Our IP as seen from a peer IP (when RAS is bound to a wildcard address).
    local_ips: HashMap<IpAddr, IpAddr>,
    status: StatusHandle,
    q931_malformed: u64,
    calls_total: u64,
    tap: Option<Arc<dyn Tap>>,
    /// E's zone ports, for sending.
    zone_socks: Vec<zones::ZoneSock>,
}

/// Work the node hands the running service between two inputs (a reload's new policy).
pub type Control = Box<dyn FnOnce(&mut Service, Instant) + Send>;

/// Runs the H.323 side until the task is dropped; `tap` sees every message in and out.
pub async fn run(
    bound: Bound,
    cfg: DriverConfig,
    (service, mut control): (Service, mpsc::UnboundedReceiver<Control>),
    status: StatusHandle,
    tap: Option<Arc<dyn Tap>>,
) {
    let (events_tx, mut events) = mpsc::channel(EVENT_QUEUE);
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    let ras_port = bound.ras.local_addr().map(|a| a.port()).unwrap_or(0);
    tokio::spawn(accept_loop(bound.q931, None, events_tx.clone()));
    // the assent port is call signaling too: what arrives there is handled as on 1720
    if let Some(a) = bound.assent {
        tokio::spawn(accept_loop(a, None, events_tx.clone()));
    }
    // so is the H.460.18 H.245 port: the call signaling ties each connection to its call
    if let Some(a) = bound.h46018 {
        tokio::spawn(accept_loop(a, None, events_tx.clone()));
    }
    let zone_socks = zones::start(bound.zones, &events_tx);
    let seed = u64::from(std::process::id()) ^ (Instant::now().elapsed().as_nanos() as u64);
    let mut d = Driver {
        service,
        cfg,
        ras_port,
        events_tx,
        closed_tx,
        conns: HashMap::new(),
        listeners: HashMap::new(),
        next_port: Arc::new(AtomicU64::new(seed.wrapping_mul(2654435761))),
        local_ips: HashMap::new(),
        status,
        q931_malformed: 0,
        calls_total: 0,
        tap,
        zone_socks,
    };
    let ras = bound.ras;
    let discovery = bound.discovery;
    let mut mbuf = vec![0u8; 65_536];
    let mut buf = vec![0u8; 65_536];
    let mut actions = Vec::new();
    let mut status_tick = tokio::time::interval(STATUS_EVERY);
    loop {
        let deadline = d.service.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = ras.recv_from(&mut buf) => match r {
                Ok((n, from)) if d.admit(from, Input::Message) => {
                    let local = d.local_for(from);
                    d.tap_ras(true, local, from, &buf[..n]);
                    let dg = ras::Datagram { from, local, bytes: &buf[..n], multicast: false };
                    d.service.handle(service::Input::Ras(dg), Instant::now(), &mut actions);
                }
                // a blocked source: dropped unanswered
                Ok(_) => {}
                // ICMP errors of earlier sends surface here on some systems; not fatal
                Err(e) => debug!("RAS receive: {e}"),
            },
            r = recv_opt(discovery.as_ref(), &mut mbuf) => match r {
                Ok((n, from)) if d.admit(from, Input::Message) => {
                    let local = d.local_for(from);
                    d.tap_ras(true, local, from, &mbuf[..n]);
                    let dg = ras::Datagram { from, local, bytes: &mbuf[..n], multicast: true };
                    d.service.handle(service::Input::Ras(dg), Instant::now(), &mut actions);
                }
                Ok(_) => {}
                Err(e) => debug!("discovery receive: {e}"),
            },
            Some(ev) = events.recv() => d.event(ev, &mut actions),
            Some(ev) = closed.recv() => d.event(ev, &mut actions),
            _ = sleep => d.service.handle_timeout(Instant::now(), &mut actions),
            _ = status_tick.tick() => d.refresh_status(),
            Some(f) = control.recv() => f(&mut d.service, Instant::now()),
        }
        for a in actions.drain(..) {
            d.act(a, &ras).await;
        }
    }
}

impl Driver {
    /// Our RAS address as the peer reached it.
    fn local_for(&mut self, peer: SocketAddr) -> SocketAddr {
        let bound = self.cfg.ras_listen.ip();
        if !bound.is_unspecified() {
            return SocketAddr::new(bound, self.ras_port);
        }
        if self.local_ips.len() > 4096 {
            self.local_ips.clear();
        }
        let ip = *self
            .local_ips
            .entry(peer.ip())
            .or_insert_with(|| route_source(peer.ip()));
        SocketAddr::new(ip, self.ras_port)
    }

    fn event(&mut self, ev: Event, actions: &mut Vec<service::Output>) {
        let now = Instant::now();
        match ev {
            Event::Stream {
                stream,
                peer,
                local,
                listener,
            } => {
                if !self.admit(peer, Input::Connection) {
                    // a blocked source's connection is closed unanswered
                    return;
                }
                let conn = self.service.calls.next_conn_id();
                self.start_conn(conn, stream);
                let input = match listener {
                    None => call::Input::Accepted {
                        conn,
                        peer,
                        local,
                        // the service knows its zones: it says whether this is C
                        link: None,
                    },
                    Some(listener) => call::Input::H245Accepted {
                        listener,
                        conn,
                        peer,
                    },
                };
                self.service
                    .handle(service::Input::Call(input), now, actions);
            }
            Event::Connected {
                conn,
                stream,
                local,
            } => {
                self.start_conn(conn, stream);
                let input = call::Input::Connected { conn, local };
                self.service
                    .handle(service::Input::Call(input), now, actions);
            }
            Event::ConnectFailed { conn, reason } => {
                let input = call::Input::ConnectFailed { conn, reason };
                self.service
                    .handle(service::Input::Call(input), now, actions);
            }
            Event::Data { conn, payload } => {
                if self.conns.contains_key(&conn) && self.admit_data(conn) {
                    let input = call::Input::Data {
                        conn,
                        payload: &payload,
                    };
                    self.service
                        .handle(service::Input::Call(input), now, actions);
                    // after the service: a Setup has made its call by now
                    self.tap_stream(true, conn, &payload);
                }
            }
            Event::Malformed { conn, what } => {
                self.q931_malformed += 1;
                self.malformed_on(conn);
                warn!(conn, "H.323 stream: {what}");
            }
            Event::Zone {
                zone,
                from,
                payload,
            } => {
                let Some(bound) = self.zone_socks.get(zone).map(|z| z.bound) else {
                    return;
                };
                // a zone port on a wildcard address: the IP the sender reached, as for RAS
                let local = if bound.ip().is_unspecified() {
                    SocketAddr::new(self.local_for(from).ip(), bound.port())
                } else {
                    bound
                };
                if self.tap.is_some() {
                    self.tap_ras(true, local, from, &payload);
                }
                let input = service::Input::Zone {
                    zone,
                    from,
                    local,
                    bytes: &payload,
                };
                self.service.handle(input, now, actions);
            }
            Event::Closed { conn } => {
                if self.conns.remove(&conn).is_some() {
                    let input = call::Input::Closed { conn };
                    self.service
                        .handle(service::Input::Call(input), now, actions);
                }
            }
        }
    }

    fn start_conn(&mut self, conn: ConnId, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let unknown = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        let local = stream.local_addr().unwrap_or(unknown);
        let peer = stream.peer_addr().unwrap_or(unknown);
        let (mut rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    return;
                }
            }
            let _ = wr.shutdown().await;
        });
        let events = self.events_tx.clone();
        let reader = tokio::spawn(async move {
            let mut framer = TpktFramer::new(TPKT_MAX_PAYLOAD);
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if let Err(e) = framer.push(&buf[..n]) {
                    let _ = events
                        .send(Event::Malformed {
                            conn,
                            what: e.to_string(),
                        })
                        .await;
                    break;
                }
                loop {
                    match framer.next_frame() {
                        Ok(Some(payload)) => {
                            if events.send(Event::Data { conn, payload }).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = events
                                .send(Event::Malformed {
                                    conn,
                                    what: e.to_string(),
                                })
                                .await;
                            let _ = events.send(Event::Closed { conn }).await;
                            return;
                        }
                    }
                }
            }
            let _ = events.send(Event::Closed { conn }).await;
        })
        .abort_handle();
        self.conns.insert(
            conn,
            Conn {
                tx,
                reader,
                local,
                peer,
                call: None,
            },
        );
    }

    async fn act(&mut self, a: service::Output, ras: &UdpSocket) {
        match a {
            service::Output::Ras(ras::Output::Send { to, bytes }) => {
                if self.tap.is_some() {
                    let local = self.local_for(to);
                    self.tap_ras(false, local, to, &bytes);
                }
                if let Err(e) = ras.send_to(&bytes, to).await {
                    debug!("RAS send to {to}: {e}");
                }
            }
            service::Output::Ras(ras::Output::Event(e)) => self.ras_event(&e),
            // answered inside the service
            service::Output::Ras(ras::Output::Resolved { .. }) => {}
            service::Output::Call(o) => self.call_output(o),
            service::Output::Zone(o) => self.zone_output(o, ras).await,
        }
    }

    fn call_output(&mut self, o: call::Output) {
        match o {
            call::Output::Send { conn, payload } => {
                self.tap_stream(false, conn, &payload);
                let Some(c) = self.conns.get(&conn) else {
                    return;
                };
                match tpkt::encode(&payload) {
                    Ok(frame) => {
                        if c.tx.try_send(frame).is_err() {
                            // the peer does not read: cut it off rather than queue forever
                            warn!(conn, "H.323 connection write queue full; closing");
                            self.close(conn);
                            let _ = self.closed_tx.send(Event::Closed { conn });
                        }
                    }
                    Err(e) => warn!(conn, "H.323 payload not sent: {e}"),
                }
            }
            call::Output::Connect { conn, to } => self.connect(conn, to),
            call::Output::Close { conn } => self.close(conn),
            call::Output::Listen { listener, ip } => self.listen(listener, ip),
            call::Output::CloseListener { listener } => {
                if let Some(h) = self.listeners.remove(&listener) {
                    h.abort();
                }
            }
            // answered inside the service
            call::Output::Route { .. } | call::Output::CallBack { .. } => {}
            call::Output::Event(e) => {
                if matches!(e, CallEvent::Setup { .. }) {
                    self.calls_total += 1;
                }
                if let CallEvent::Malformed { conn, .. } = &e {
                    self.q931_malformed += 1;
                    self.malformed_on(*conn);
                }
                // one per call that reached its callee: not worth an info line each
                if matches!(e, CallEvent::CalleeReached { .. }) {
                    tracing::debug!("h323 call: {e:?}");
                } else {
                    info!("h323 call: {e:?}");
                }
            }
        }
    }

    fn tap_ras(&self, received: bool, local: SocketAddr, remote: SocketAddr, bytes: &[u8]) {
        if let Some(tap) = &self.tap {
            let m = Tapped {
                channel: Channel::Ras,
                call: None,
                local,
                remote,
                bytes,
            };
            if received {
                tap.received(m)
            } else {
                tap.sent(m)
            }
        }
    }

    /// Shows the tap one payload of a connection, with the call the service tied it to.
    fn tap_stream(&mut self, received: bool, conn: ConnId, bytes: &[u8]) {
        let Some(tap) = &self.tap else { return };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.call.is_none() {
            c.call = self.service.calls.conn_call(conn);
        }
        let m = Tapped {
            channel: match c.call {
                Some((_, true)) => Channel::H245,
                _ => Channel::Q931,
            },
            call: c.call.map(|(id, _)| id),
            local: c.local,
            remote: c.peer,
            bytes,
        };
        if received {
            tap.received(m)
        } else {
            tap.sent(m)
        }
    }

    /// Opens a connection from the signaling port range in its own task; the answer comes back
    /// as an event.
    fn connect(&self, conn: ConnId, to: SocketAddr) {
        let events = self.events_tx.clone();
        let ports = self.cfg.signaling_ports;
        let next = self.next_port.clone();
        tokio::spawn(async move {
            match connect_from_range(to, ports, &next).await {
                Ok((stream, local)) => {
                    let _ = events
                        .send(Event::Connected {
                            conn,
                            stream,
                            local,
                        })
                        .await;
                }
                Err(e) => {
                    let _ = events
                        .send(Event::ConnectFailed {
                            conn,
                            reason: format!("connect to {to}: {e}"),
                        })
                        .await;
                }
            }
        });
    }

    /// Binds an H.245 listener and hands the service its answer at once.
    fn listen(&mut self, listener: ListenerId, ip: IpAddr) {
        // bound here, synchronously, so the answer is in the very next input
        let input = match listen_in_range(ip, self.cfg.signaling_ports, &self.next_port) {
            Ok(l) => match l.local_addr() {
                Ok(addr) => {
                    let h = tokio::spawn(accept_loop(l, Some(listener), self.events_tx.clone()));
                    self.listeners.insert(listener, h.abort_handle());
                    call::Input::Listening { listener, addr }
                }
                Err(e) => call::Input::ListenFailed {
                    listener,
                    reason: e.to_string(),
                },
            },
            Err(e) => call::Input::ListenFailed {
                listener,
                reason: e.to_string(),
            },
        };
        if let call::Input::ListenFailed { reason, .. } = &input {
            // the offered h245Address is removed: the call goes on without separate H.245
            warn!(%ip, %reason, "H.245 listener not bound");
        }
        let mut more = Vec::new();
        self.service
            .handle(service::Input::Call(input), Instant::now(), &mut more);
        for a in more {
            match a {
                service::Output::Call(o) => self.call_output(o),
                service::Output::Ras(ras::Output::Event(e)) => self.ras_event(&e),
                // a Listening answer never produces RAS datagrams
                service::Output::Ras(_) | service::Output::Zone(_) => {}
            }
        }
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            // the writer flushes what is queued, then shuts the stream down
            drop(c.tx);
            c.reader.abort();
        }
    }

    fn refresh_status(&mut self) {
        let now = Instant::now();
        let gk = &self.service.gatekeeper;
        let snap = Snapshot {
            registrations: gk.registration_views(now),
            calls: self.service.calls.calls(),
            admitted_calls: gk.admitted_calls(),
            admitted_bandwidth: gk.admitted_bandwidth(),
            ras_received: gk
                .counters()
                .received
                .iter()
                .map(|(k, v)| (*k, *v))
                .collect(),
            ras_malformed: gk.counters().malformed,
            ras_rejected: gk.counters().rejected,
            q931_malformed: self.q931_malformed,
            calls_total: self.calls_total,
            zones: self.service.zone_views(now),
        };
        if let Ok(mut s) = self.status.lock() {
            *s = snap;
        }
    }
}

/// Receives on the discovery socket, or never when there is none.
async fn recv_opt(s: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match s {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn accept_loop(l: TcpListener, listener: Option<ListenerId>, events: mpsc::Sender<Event>) {
    loop {
        match l.accept().await {
            Ok((stream, peer)) => {
                let local = stream.local_addr().unwrap_or(peer);
                if events
                    .send(Event::Stream {
                        stream,
                        peer,
                        local,
                        listener,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                // out of descriptors and the like: back off instead of spinning
                warn!("H.323 accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
