//! TCP and TLS connections: listeners, outbound connects from the configured source-port range,
//! one task per connection (reader with the framer, writer fed by a bounded queue), reuse
//! through the connection table, RFC 5626 pong, idle close and limits.
//!
//! Connections are found by id or by (transport, peer address); what to send is decided above.

use super::framing::{Frame, Framer};
use super::{ConnEntry, ConnId, Received, Shared, Transmit, Transport, TransportEvent};
use bytes::{Bytes, BytesMut};
use causeway_guard::{Input, Report};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tracing::debug;

/// Messages queued per connection before new ones are refused (the peer is not reading).
const CONN_QUEUE: usize = 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection whose reading side ended stays writable.
const LINGER: Duration = Duration::from_millis(500);

pub(super) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

pub(super) async fn accept(
    shared: Arc<Shared>,
    kind: Transport,
    local: SocketAddr,
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mtls: bool,
) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    debug!(%local, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        // a blocked source's connection is closed at once, unanswered
        if !shared.admit(remote, Input::Connection) {
            continue;
        }
        {
            let t = shared.conns();
            let per_ip = t.per_ip.get(&remote.ip()).copied().unwrap_or(0);
            if t.by_id.len() >= shared.cfg.max_connections
                || per_ip >= shared.cfg.max_connections_per_ip
            {
                shared
                    .stats
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        let _ = tcp.set_nodelay(true);
        // an accepted handshake has the message timeout (slow handshakes hold a task each)
        let handshake = shared.cfg.message_timeout.min(HANDSHAKE_TIMEOUT);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let (id, rx) = register(&shared, kind, remote);
            match acceptor {
                None => {
                    run(
                        shared,
                        Origin::accepted(id, kind, local, remote, None),
                        tcp,
                        rx,
                    )
                    .await
                }
                Some(acc) => match tokio::time::timeout(handshake, acc.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let peer = if mtls {
                            tls.get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .map(|c| fingerprint(c.as_ref()))
                        } else {
                            None
                        };
                        run(
                            shared,
                            Origin::accepted(id, kind, local, remote, peer),
                            tls,
                            rx,
                        )
                        .await
                    }
                    Ok(Err(e)) => {
                        debug!(%remote, error = %e, mtls, "TLS handshake refused");
                        shared.report(remote, Report::Garbage);
                        shared.conns().remove(id);
                    }
                    Err(_) => {
                        shared.stats.slow_messages.fetch_add(1, Ordering::Relaxed);
                        shared.conns().remove(id);
                    }
                },
            }
        });
    }
}

fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

fn register(shared: &Shared, kind: Transport, remote: SocketAddr) -> (u64, mpsc::Receiver<Bytes>) {
    let (tx, rx) = mpsc::channel(CONN_QUEUE);
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    shared.conns().insert(
        id,
        ConnEntry {
            kind,
            remote,
            tx,
            aliases: Vec::new(),
        },
    );
    (id, rx)
}

pub(super) fn send(shared: &Arc<Shared>, out: Transmit) {
    let existing = {
        let t = shared.conns();
        out.conn
            .and_then(|c| {
                t.by_id
                    .get(&c.0)
                    .filter(|e| e.kind == out.kind)
                    .map(|e| e.tx.clone())
            })
            .or_else(|| {
                t.by_peer
                    .get(&(out.kind, out.dest))
                    .and_then(|id| t.by_id.get(id))
                    .map(|e| e.tx.clone())
            })
    };
    if existing.is_none() && out.reuse_only {
        return shared.fail(out.token, format!("no connection to {} is open", out.dest));
    }
    if let Some(tx) = existing {
        match tx.try_send(out.data) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => {
                return shared.fail(out.token, "connection queue full".into())
            }
            Err(mpsc::error::TrySendError::Closed(_)) if out.reuse_only => {
                return shared.fail(out.token, format!("the connection to {} closed", out.dest));
            }
            Err(mpsc::error::TrySendError::Closed(data)) => {
                // the connection just went away: open a new one below
                return connect_and_send(shared, Transmit { data, ..out });
            }
        }
    }
    connect_and_send(shared, out);
}

fn connect_and_send(shared: &Arc<Shared>, out: Transmit) {
    if shared.conns().by_id.len() >= shared.cfg.max_connections {
        return shared.fail(out.token, "connection limit reached".into());
    }
    let (id, rx) = register(shared, out.kind, out.dest);
    // queue the message before connecting, so later sends line up behind it
    {
        let t = shared.conns();
        if let Some(e) = t.by_id.get(&id) {
            let _ = e.tx.try_send(out.data.clone());
        }
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        match connect(&shared, out.dest).await {
            Ok((tcp, local)) => {
                if out.kind == Transport::Tls {
                    let Some(cfg) = out.client_tls.clone().or_else(|| shared.client_tls.clone())
                    else {
                        shared.conns().remove(id);
                        return shared.fail(out.token, "no TLS client configuration".into());
                    };
                    let name = out
                        .server_name
                        .clone()
                        .and_then(|n| rustls::pki_types::ServerName::try_from(n).ok())
                        .unwrap_or_else(|| {
                            rustls::pki_types::ServerName::IpAddress(out.dest.ip().into())
                        });
                    let connector = tokio_rustls::TlsConnector::from(cfg);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp))
                        .await
                    {
                        Ok(Ok(tls)) => {
                            run(
                                shared,
                                Origin::opened(id, out.kind, local, out.dest),
                                tls,
                                rx,
                            )
                            .await
                        }
                        Ok(Err(e)) => {
                            shared.conns().remove(id);
                            shared.fail(out.token, format!("TLS handshake with {}: {e}", out.dest));
                        }
                        Err(_) => {
                            shared.conns().remove(id);
                            shared.fail(
                                out.token,
                                format!("TLS handshake with {} timed out", out.dest),
                            );
                        }
                    }
                } else {
                    run(
                        shared,
                        Origin::opened(id, out.kind, local, out.dest),
                        tcp,
                        rx,
                    )
                    .await
                }
            }
            Err(e) => {
                shared.conns().remove(id);
                shared.fail(out.token, format!("connect to {}: {e}", out.dest));
            }
        }
    });
}

/// Connects from the next free source port of `outbound_ports` (reference table 001: outbound
/// TCP/TLS from 25000-29999).
async fn connect(shared: &Shared, dest: SocketAddr) -> std::io::Result<(TcpStream, SocketAddr)> {
    let range = &shared.cfg.outbound_ports;
    let (lo, hi) = (u64::from(*range.start()), u64::from(*range.end()));
    let span = hi - lo + 1;
    let unspecified: IpAddr = if dest.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let mut last_err = std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free source port");
    for _ in 0..span.min(512) {
        let n = shared.next_port.fetch_add(1, Ordering::Relaxed);
        let port = (lo + (n.wrapping_sub(lo)) % span) as u16;
        let sock = if dest.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        sock.set_reuseaddr(true)?;
        if let Err(e) = sock.bind(SocketAddr::new(unspecified, port)) {
            last_err = e;
            continue;
        }
        return match tokio::time::timeout(CONNECT_TIMEOUT, sock.connect(dest)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                let local = s.local_addr()?;
                Ok((s, local))
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
                last_err = e;
                continue;
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            )),
        };
    }
    Err(last_err)
}

/// Serves one established connection until it closes, errs, idles out or shutdown.
async fn run<S>(shared: Arc<Shared>, conn: Origin, stream: S, rx: mpsc::Receiver<Bytes>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (id, remote) = (conn.id, conn.remote);
    let (mut reader, writer) = tokio::io::split(stream);
    let activity = Activity {
        epoch: Instant::now(),
        last: Arc::new(AtomicU64::new(0)),
    };
    let writer_task = tokio::spawn(write_queued(shared.clone(), writer, rx, activity.clone()));
    let mut shutdown = shared.shutdown.subscribe();
    read_until_closed(&shared, &conn, &mut reader, &mut shutdown, &activity).await;
    // Answers to what was read may still be on their way from the core (a bad frame right
    // after a good request, RFC 4475 dblreq.dat over TCP): keep the connection writable a moment
    // before it goes, then let the writer drain its queue.
    if !*shutdown.borrow() {
        tokio::time::sleep(LINGER).await;
    }
    shared.conns().remove(id);
    if tokio::time::timeout(LINGER, writer_task).await.is_err() {
        debug!(%remote, "writer did not drain in time");
    }
    let _ = shared.events.try_send(TransportEvent::Closed {
        conn: ConnId(id),
        remote,
    });
}

/// When a connection last moved a message either way, as milliseconds since `epoch`: the
/// reader and the writer task both update it, and the idle timer reads it.
#[derive(Clone)]
struct Activity {
    epoch: Instant,
    last: Arc<AtomicU64>,
}

impl Activity {
    fn touch(&self) {
        self.last
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// When the connection counts as idle, unless something moves before then.
    fn idle_at(&self, idle: Duration) -> Instant {
        self.epoch + Duration::from_millis(self.last.load(Ordering::Relaxed)) + idle
    }
}

/// What every message read from one connection is stamped with.
struct Origin {
    id: u64,
    kind: Transport,
    local: SocketAddr,
    remote: SocketAddr,
    mtls_peer: Option<String>,
    /// Accepted from a listener (the peer must speak first, within the message timeout);
    /// otherwise opened by us.
    accepted: bool,
}

impl Origin {
    fn accepted(
        id: u64,
        kind: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        mtls_peer: Option<String>,
    ) -> Origin {
        Origin {
            id,
            kind,
            local,
            remote,
            mtls_peer,
            accepted: true,
        }
    }

    fn opened(id: u64, kind: Transport, local: SocketAddr, remote: SocketAddr) -> Origin {
        Origin {
            id,
            kind,
            local,
            remote,
            mtls_peer: None,
            accepted: false,
        }
    }
}

/// The writer half: sends queued messages in order until the queue closes or a write fails,
/// then shuts the stream's write side.
async fn write_queued<W>(
    shared: Arc<Shared>,
    mut writer: W,
    mut rx: mpsc::Receiver<Bytes>,
    activity: Activity,
) where
    W: AsyncWrite + Unpin,
{
    while let Some(data) = rx.recv().await {
        if writer.write_all(&data).await.is_err() {
            break;
        }
        shared.stats.messages_out.fetch_add(1, Ordering::Relaxed);
        activity.touch();
    }
    let _ = writer.shutdown().await;
}

/// The reader half: reads and frames until the peer closes, a read fails, the connection
/// idles out, a frame is bad, the core is gone, or shutdown.
async fn read_until_closed<R>(
    shared: &Shared,
    conn: &Origin,
    reader: &mut R,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    activity: &Activity,
) where
    R: AsyncRead + Unpin,
{
    let mut framer = Framer::new(shared.cfg.max_message_size, shared.cfg.max_headers);
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let idle = shared.cfg.idle_timeout;
    // slowloris: a message must be whole `message_timeout` after its first byte, and an
    // accepted connection must bring its first message as soon
    let mut message_due = conn
        .accepted
        .then(|| Instant::now() + shared.cfg.message_timeout);
    let mut got_message = !conn.accepted;
    loop {
        let deadline = match message_due {
            Some(due) => due.min(activity.idle_at(idle)),
            None => activity.idle_at(idle),
        };
        buf.clear();
        let n = tokio::select! {
            r = reader.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                let now = Instant::now();
                if message_due.is_some_and(|due| due <= now) {
                    shared.stats.slow_messages.fetch_add(1, Ordering::Relaxed);
                    debug!(remote = %conn.remote, "message not complete in time: connection closed");
                    break;
                }
                if activity.idle_at(idle) <= now {
                    debug!(remote = %conn.remote, "idle connection closed");
                    break;
                }
                continue;
            }
            _ = shutdown.changed() => break,
        };
        activity.touch();
        framer.push(&buf[..n]);
        let delivered = match deliver_frames(shared, conn, &mut framer).await {
            Delivered::Close => break,
            Delivered::Some => true,
            Delivered::None => false,
        };
        got_message |= delivered;
        message_due = if framer.message_pending() {
            // a message under way: it keeps its deadline, a new one starts its own
            match message_due {
                Some(due) if !delivered => Some(due),
                _ => Some(Instant::now() + shared.cfg.message_timeout),
            }
        } else if got_message {
            None
        } else {
            message_due
        };
    }
}

/// What one turn of `deliver_frames` did.
enum Delivered {
    /// The connection must end: the core is gone, the bytes cannot be framed, or the source
    /// is blocked.
    Close,
    /// At least one message went to the core.
    Some,
    None,
}

/// Hands every complete frame to the core (and answers RFC 5626 pings), each past the guard.
async fn deliver_frames(shared: &Shared, conn: &Origin, framer: &mut Framer) -> Delivered {
    let mut delivered = Delivered::None;
    loop {
        match framer.next_frame() {
            Ok(None) => return delivered,
            Ok(Some(Frame::Ping)) => {
                let tx = shared.conns().by_id.get(&conn.id).map(|e| e.tx.clone());
                if let Some(tx) = tx {
                    let _ = tx.try_send(Bytes::from_static(b"\r\n"));
                }
            }
            Ok(Some(Frame::Message(data))) => {
                if !shared.admit(conn.remote, Input::Message) {
                    debug!(remote = %conn.remote, "source blocked: connection closed");
                    return Delivered::Close;
                }
                shared.stats.messages_in.fetch_add(1, Ordering::Relaxed);
                let ev = TransportEvent::Message(Received {
                    data,
                    kind: conn.kind,
                    local: conn.local,
                    remote: conn.remote,
                    conn: Some(ConnId(conn.id)),
                    mtls_peer: conn.mtls_peer.clone(),
                });
                if shared.events.send(ev).await.is_err() {
                    return Delivered::Close;
                }
                delivered = Delivered::Some;
            }
            Err(error) => {
                shared.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                shared.report(conn.remote, Report::Garbage);
                let _ = shared.events.try_send(TransportEvent::BadFrame {
                    conn: ConnId(conn.id),
                    remote: conn.remote,
                    error,
                });
                return Delivered::Close;
            }
        }
    }
}
