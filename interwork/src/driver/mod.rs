//! The tokio driver of the [`Gateway`]: one UDP socket for its SIP side and one TCP listener
//! for its H.323 side, both on loopback, plus the TCP connections it opens to the
//! gatekeeper, and each call's media tap (`taps`). Thin: every datagram and TPKT frame goes to the machine, every output to a
//! socket; time comes from `Instant::now()` here only.
//!
//! Must not decide anything about calls.

mod taps;

use crate::gateway::{CallView, Config, ConnId, Counters, Gateway, Input, Output};
use bytes::Bytes;
use causeway_h323::tpkt::{self, TpktFramer};
use rand::RngCore;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// How often the status snapshot is refreshed.
const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Frames queued towards one connection before it is taken as stuck and closed.
const WRITE_QUEUE: usize = 256;

/// The gateway's sockets, bound before the stacks are told where it is.
pub struct Sockets {
    pub udp: UdpSocket,
    pub listener: TcpListener,
}

impl Sockets {
    /// Binds both sides on `ip` (a loopback address), ports chosen by the system.
    pub async fn bind(ip: IpAddr) -> std::io::Result<Sockets> {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
        Ok(Sockets { udp, listener })
    }

    pub fn sip_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    pub fn h225_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// What `causeway status` reads of the gateway.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub counters: Counters,
    pub calls: Vec<CallView>,
}

pub type StatusHandle = Arc<Mutex<Snapshot>>;

enum Event {
    Connected(ConnId, OwnedWriteHalf, OwnedReadHalf),
    Frame(ConnId, Bytes),
    Closed(ConnId),
    /// A digit a call's tap saw from the SIP side.
    Digit(u64, char, u16),
}

struct Driver {
    gw: Gateway,
    udp: UdpSocket,
    writers: HashMap<ConnId, mpsc::Sender<Bytes>>,
    readers: HashMap<ConnId, tokio::task::AbortHandle>,
    events: mpsc::Sender<Event>,
    taps: taps::Registry,
    accepted: u64,
}

/// Runs the gateway until the task is aborted; the calls' media taps bind on `media_ip`.
pub fn spawn(
    cfg: Config,
    rng: Box<dyn RngCore + Send>,
    s: Sockets,
    media_ip: IpAddr,
    status: StatusHandle,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (tx, mut rx) = mpsc::channel(1024);
        let registry = taps::Registry::default();
        let ports = taps::DriverTaps {
            ip: media_ip,
            registry: registry.clone(),
            events: tx.clone(),
        };
        let mut d = Driver {
            gw: Gateway::new(cfg, rng, Box::new(ports)),
            udp: s.udp,
            writers: HashMap::new(),
            readers: HashMap::new(),
            events: tx,
            taps: registry,
            accepted: 0,
        };
        let mut buf = vec![0u8; 65_535];
        let mut next_publish = Instant::now();
        // something changed since the last snapshot
        let mut dirty = false;
        let mut out = Vec::new();
        loop {
            let publish_at = dirty.then_some(next_publish);
            let deadline = [d.gw.poll_timeout(), publish_at]
                .into_iter()
                .flatten()
                .min();
            let sleep = async {
                match deadline {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = d.udp.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        let data = Bytes::copy_from_slice(&buf[..n]);
                        d.gw.handle(Input::Sip { from, data }, Instant::now(), &mut out);
                    }
                }
                r = s.listener.accept() => {
                    if let Ok((stream, peer)) = r {
                        d.accepted += 1;
                        let conn = ConnId(ConnId::ACCEPTED | d.accepted);
                        let (rd, wr) = stream.into_split();
                        d.attach(conn, wr, rd);
                        d.gw.handle(Input::Accepted { conn, peer }, Instant::now(), &mut out);
                    }
                }
                Some(ev) = rx.recv() => d.on_event(ev, &mut out),
                _ = sleep => d.gw.handle_timeout(Instant::now(), &mut out),
            }
            d.flush(&mut out).await;
            // the node's status is read about once a second: no need to copy every call's
            // view after every message
            let now = Instant::now();
            dirty = true;
            if now >= next_publish {
                publish(&d.gw, &status);
                next_publish = now + PUBLISH_EVERY;
                dirty = false;
            }
        }
    })
}

fn publish(gw: &Gateway, status: &StatusHandle) {
    if let Ok(mut s) = status.lock() {
        s.counters = gw.counters.clone();
        s.calls = gw.calls(Instant::now());
    }
}

impl Driver {
    fn on_event(&mut self, ev: Event, out: &mut Vec<Output>) {
        let now = Instant::now();
        match ev {
            Event::Connected(conn, wr, rd) => {
                self.attach(conn, wr, rd);
                self.gw.handle(Input::Connected { conn }, now, out);
            }
            Event::Frame(conn, data) => {
                let data = data.to_vec();
                self.gw.handle(Input::H225 { conn, data }, now, out);
            }
            Event::Closed(conn) => {
                self.drop_conn(conn);
                self.gw.handle(Input::Closed { conn }, now, out);
            }
            Event::Digit(call, digit, duration_ms) => {
                let input = Input::Digit {
                    call,
                    digit,
                    duration_ms,
                };
                self.gw.handle(input, now, out);
            }
        }
    }

    fn attach(&mut self, conn: ConnId, wr: OwnedWriteHalf, rd: OwnedReadHalf) {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(write_loop(wr, rx));
        let events = self.events.clone();
        let reader = tokio::spawn(read_loop(conn, rd, events));
        self.writers.insert(conn, tx);
        self.readers.insert(conn, reader.abort_handle());
    }

    fn drop_conn(&mut self, conn: ConnId) {
        self.writers.remove(&conn);
        if let Some(r) = self.readers.remove(&conn) {
            r.abort();
        }
    }

    async fn flush(&mut self, out: &mut Vec<Output>) {
        for o in out.drain(..) {
            match o {
                Output::Sip { to, data } => {
                    if let Err(e) = self.udp.send_to(&data, to).await {
                        tracing::debug!(%to, "interworking: SIP send failed: {e}");
                    }
                }
                Output::Connect { conn, to } => {
                    let events = self.events.clone();
                    tokio::spawn(async move {
                        let ev = match TcpStream::connect(to).await {
                            Ok(s) => {
                                let _ = s.set_nodelay(true);
                                let (rd, wr) = s.into_split();
                                Event::Connected(conn, wr, rd)
                            }
                            Err(e) => {
                                tracing::info!(%to, "interworking: cannot reach the gatekeeper: {e}");
                                Event::Closed(conn)
                            }
                        };
                        let _ = events.send(ev).await;
                    });
                }
                Output::H225 { conn, data } => {
                    let framed = match tpkt::encode(&data) {
                        Ok(f) => f,
                        Err(e) => {
                            tracing::warn!("interworking: frame not sent: {e}");
                            continue;
                        }
                    };
                    let stuck = self
                        .writers
                        .get(&conn)
                        .is_some_and(|w| w.try_send(framed).is_err());
                    if stuck {
                        self.drop_conn(conn);
                    }
                }
                // dropping the writer's sender ends its task, which shuts the stream down
                Output::Close { conn } => self.drop_conn(conn),
                Output::Tap { call, cmd } => taps::command(&self.taps, call, cmd),
            }
        }
    }
}

async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(frame) = rx.recv().await {
        if wr.write_all(&frame).await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}

async fn read_loop(conn: ConnId, mut rd: OwnedReadHalf, events: mpsc::Sender<Event>) {
    let mut framer = TpktFramer::new(tpkt::TPKT_MAX_PAYLOAD);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if framer.push(&buf[..n]).is_err() {
            break;
        }
        loop {
            match framer.next_frame() {
                Ok(Some(f)) => {
                    if events.send(Event::Frame(conn, f)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    let _ = events.send(Event::Closed(conn)).await;
                    return;
                }
            }
        }
    }
    let _ = events.send(Event::Closed(conn)).await;
}
