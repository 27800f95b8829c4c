//! The media relay's driver (Linux): binds the UDP sockets of the port pairs the anchoring
//! state machine set up in the shared relay table, moves datagrams, and ends idle sessions on
//! a timer. The signaling drivers hand it the anchoring's [`RelayCommand`]s through a
//! [`RelayHandle`] (`execute`, synchronous: the sockets exist, or the failure is known, when it
//! returns) and pass its [`RelayEvent`] answers back to the state machine.
//!
//! It decides nothing: which session exists, which packet goes where, latching, limits and
//! expiry are `session::Table`'s and `anchor`'s. It owns the sockets and the counters of what
//! the kernel refused, and hands each socket to one of two I/O paths, which never parse a
//! payload: `uring` (one thread, one io_uring: a multishot receive armed on every socket, one
//! system call per wake-up for every send and the wait) or `epoll` (a tokio task per socket,
//! `recvmmsg`/`sendmmsg`). `[media] relay_io` picks one; `auto` takes io_uring when the kernel
//! offers what it needs (Linux 6.1) and lets it be used.

mod epoll;
mod mmsg;
mod uring;

use crate::anchor::{Relay, RelayCommand, RelayEvent};
use crate::session::keepalive::{self, KeepAlive};
use crate::session::{Local, SessionInfo, SharedTable, Table, TableConfig, TableStats};
pub use causeway_config::IoPath;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The address relay sockets are bound on (the one written into rewritten SDP).
    pub ip: IpAddr,
    pub table: TableConfig,
    /// A session with no accepted packet for this long ends (`[media] inactivity_timeout`).
    pub inactivity: Duration,
    /// How often idle sessions are looked for.
    pub sweep_every: Duration,
    /// SO_RCVBUF for each relay socket; the kernel default when `None`. The multiplexed
    /// socket carries every traversal call's media and overflows the default at some 50k
    /// packets/s. A size the kernel refuses is logged, and the socket keeps its default (the
    /// kernel silently caps a request at `net.core.rmem_max`).
    pub recv_buffer: Option<usize>,
    /// The RTP payload type of the keep-alives sent (`[media] keepalive_payload_type`).
    pub keepalive_payload_type: u8,
    /// Which I/O path moves the packets (`[media] relay_io`).
    pub io: IoPath,
}

impl RelayConfig {
    pub fn new(ip: IpAddr, table: TableConfig) -> RelayConfig {
        RelayConfig {
            ip,
            table,
            inactivity: Duration::from_secs(
                causeway_config::defaults::MEDIA_INACTIVITY_TIMEOUT_SECS,
            ),
            sweep_every: Duration::from_secs(1),
            recv_buffer: None,
            keepalive_payload_type: keepalive::PAYLOAD_TYPE,
            io: IoPath::Auto,
        }
    }
}

/// The table's counters and the driver's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    pub table: TableStats,
    /// Sessions set up (ports bound) since start.
    pub created: u64,
    /// Datagrams read from relay sockets.
    pub received: u64,
    /// Datagrams the kernel accepted for sending.
    pub sent: u64,
    /// Forwards the kernel refused (no buffer space, unreachable address family).
    pub send_failed: u64,
    /// Datagrams longer than the receive buffer, dropped.
    pub truncated: u64,
    /// Receive errors (ICMP errors reported on the socket, …).
    pub recv_errors: u64,
}

#[derive(Default)]
struct Counters {
    /// Sessions set up (ports bound) since start.
    created: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
    send_failed: AtomicU64,
    truncated: AtomicU64,
    recv_errors: AtomicU64,
    /// The RTP sequence number of the next keep-alive.
    keepalive_seq: AtomicU64,
}

/// The I/O path the sockets were handed to.
enum Io {
    Epoll(epoll::Readers),
    Uring(uring::Ring),
}

/// What the I/O paths share: the table (locked once per batch) and the sockets by port, so a
/// forward can be sent from the other leg's socket.
struct Shared {
    table: SharedTable,
    sockets: RwLock<Vec<Option<Arc<UdpSocket>>>>,
    counters: Arc<Counters>,
    io: Io,
    config: RelayConfig,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock()
    }

    fn socket(&self, port: u16) -> Option<Arc<UdpSocket>> {
        let s = self.sockets.read().unwrap_or_else(|p| p.into_inner());
        s.get(usize::from(port)).and_then(|s| s.clone())
    }

    fn set_socket(&self, port: u16, sock: Option<Arc<UdpSocket>>) {
        let mut s = self.sockets.write().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = s.get_mut(usize::from(port)) {
            *slot = sock;
        }
    }
}

/// Talks to a running relay from any task. The relay stops when the last handle is dropped.
#[derive(Clone)]
pub struct RelayHandle {
    /// Never sent on: its closing (the last handle dropped) stops the driver task.
    _alive: mpsc::Sender<()>,
    shared: Arc<Shared>,
}

impl RelayHandle {
    /// Carries out one command of the anchoring state machine; the answer to hand back to it
    /// (`Open` has one, `Close` none). Must run inside the relay's tokio runtime (it spawns
    /// the readers of new ports).
    pub fn execute(&self, command: RelayCommand) -> Option<RelayEvent> {
        Relay::execute(self, command)
    }

    /// The relay table this relay serves (the anchoring state machines set sessions up in it).
    pub fn table(&self) -> SharedTable {
        self.shared.table.clone()
    }

    pub fn stats(&self) -> RelayStats {
        let c = &self.shared.counters;
        RelayStats {
            table: self.shared.table().stats(),
            created: c.created.load(Relaxed),
            received: c.received.load(Relaxed),
            sent: c.sent.load(Relaxed),
            send_failed: c.send_failed.load(Relaxed),
            truncated: c.truncated.load(Relaxed),
            recv_errors: c.recv_errors.load(Relaxed),
        }
    }

    /// Pairs held by sessions (the multiplexed pair not counted).
    pub fn ports_in_use(&self) -> usize {
        self.shared.table().ports_in_use()
    }

    /// Pairs the range can hand out at once (reserved and multiplexed pairs not counted).
    pub fn port_capacity(&self) -> usize {
        self.shared.table().port_capacity()
    }

    /// The I/O path in use: `IoUring` or `Epoll` (never `Auto`).
    pub fn io(&self) -> IoPath {
        match self.shared.io {
            Io::Epoll(_) => IoPath::Epoll,
            Io::Uring(_) => IoPath::IoUring,
        }
    }
}

impl Relay for RelayHandle {
    fn execute(&self, command: RelayCommand) -> Option<RelayEvent> {
        match command {
            RelayCommand::Open(info) => Some(match self.shared.open_session(&info) {
                Ok(()) => {
                    self.shared.counters.created.fetch_add(1, Relaxed);
                    RelayEvent::Opened(info.id)
                }
                Err((port, error)) => {
                    self.shared.close_session(&info);
                    RelayEvent::OpenFailed {
                        session: info.id,
                        port,
                        error: error.to_string(),
                    }
                }
            }),
            RelayCommand::Close(info) => {
                self.shared.close_session(&info);
                None
            }
            RelayCommand::KeepAlive { session, side } => {
                let due = self
                    .shared
                    .table()
                    .keepalive_now(session, side, Instant::now());
                self.shared.send_keepalives(&due);
                None
            }
        }
    }
}

/// Starts the relay on the current tokio runtime: binds the multiplexed pair if there is one,
/// and spawns the driver task.
pub fn spawn(config: RelayConfig) -> io::Result<RelayHandle> {
    let table = SharedTable::new(config.table);
    let counters = Arc::new(Counters::default());
    let io = match config.io {
        IoPath::Epoll => Io::Epoll(epoll::Readers::default()),
        IoPath::IoUring => Io::Uring(uring::Ring::start(table.clone(), counters.clone())?),
        IoPath::Auto => match uring::Ring::start(table.clone(), counters.clone()) {
            Ok(ring) => Io::Uring(ring),
            Err(error) => {
                tracing::info!(%error, "media relay: io_uring not available, using epoll");
                Io::Epoll(epoll::Readers::default())
            }
        },
    };
    let shared = Arc::new(Shared {
        table,
        sockets: RwLock::new(vec![None; usize::from(u16::MAX) + 1]),
        counters,
        io,
        config,
    });
    let driver = Driver {
        shared: shared.clone(),
    };
    if let Some(m) = shared.config.table.multiplexed {
        shared.open(m.rtp())?;
        shared.open(m.rtcp())?;
    }
    let (alive, rx) = mpsc::channel(1);
    tokio::spawn(driver.run(rx));
    Ok(RelayHandle {
        _alive: alive,
        shared,
    })
}

struct Driver {
    shared: Arc<Shared>,
}

impl Driver {
    async fn run(self, mut alive: mpsc::Receiver<()>) {
        // the first sweep one period after start, not at once: nothing can be idle yet
        let every = self.shared.config.sweep_every;
        let mut sweep = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // nothing is ever sent: this ends when the last handle is dropped
                None = alive.recv() => break,
                _ = sweep.tick() => {
                    let due = self.shared.table().keepalives(Instant::now(), keepalive::EVERY);
                    self.shared.send_keepalives(&due);
                    let ended = self
                        .shared
                        .table()
                        .expire(Instant::now(), self.shared.config.inactivity);
                    for s in ended {
                        // reported, not torn down: the proxy is no B2BUA and holds no dialog
                        // state to send BYEs with; the call's ports are free again
                        tracing::warn!(
                            session = %s.id,
                            timeout = ?self.shared.config.inactivity,
                            "media session ended: no packet in either direction"
                        );
                        self.shared.close_session(&s);
                    }
                }
            }
        }
        let ports = match &self.shared.io {
            Io::Epoll(readers) => readers.stop(),
            Io::Uring(ring) => ring.stop(),
        };
        for port in ports {
            self.shared.set_socket(port, None);
        }
    }
}

/// Socket set-up and tear-down of sessions, for `RelayHandle::execute` and the sweep.
impl Shared {
    /// Binds the session's own pairs; the port that failed (the caller closes the others).
    fn open_session(self: &Arc<Self>, s: &SessionInfo) -> Result<(), (u16, io::Error)> {
        for local in [s.a, s.b] {
            if let Local::Own(p) = local {
                for port in [p.rtp(), p.rtcp()] {
                    self.open(port).map_err(|error| (port, error))?;
                }
            }
        }
        Ok(())
    }

    fn close_session(&self, s: &SessionInfo) {
        let ports: Vec<u16> = [s.a, s.b]
            .into_iter()
            .filter_map(|local| match local {
                Local::Own(p) => Some([p.rtp(), p.rtcp()]),
                _ => None,
            })
            .flatten()
            .collect();
        match &self.io {
            Io::Epoll(readers) => ports.iter().for_each(|&port| readers.remove(port)),
            // waits (once for all of them) until the ring let go of the sockets, so that the
            // ports can be bound again as soon as this returns
            Io::Uring(ring) => ring.remove(&ports),
        }
        for port in ports {
            self.set_socket(port, None);
        }
    }

    /// Sends keep-alives from their ports (counted as sent or failed like relayed packets).
    fn send_keepalives(&self, due: &[KeepAlive]) {
        let pt = self.config.keepalive_payload_type;
        for k in due {
            let seq = self.counters.keepalive_seq.fetch_add(1, Relaxed) as u16;
            let ok = self.socket(k.from_port).is_some_and(|s| {
                let packet = k.packet(k.payload_type.unwrap_or(pt), seq);
                s.send_to(&packet, k.to).is_ok()
            });
            let counter = if ok {
                &self.counters.sent
            } else {
                &self.counters.send_failed
            };
            counter.fetch_add(1, Relaxed);
        }
    }

    /// Binds `port` on the relay address and starts its reader.
    fn open(self: &Arc<Self>, port: u16) -> io::Result<()> {
        let addr = SocketAddr::new(self.config.ip, port);
        let s = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        s.set_nonblocking(true)?;
        if let Some(size) = self.config.recv_buffer {
            // a smaller buffer only costs packets under load: never a reason to refuse a call
            if let Err(error) = s.set_recv_buffer_size(size) {
                tracing::warn!(port, size, %error, "media relay socket: SO_RCVBUF not set");
            }
        }
        s.bind(&addr.into())?;
        let sock = Arc::new(UdpSocket::from(s));
        match &self.io {
            Io::Epoll(readers) => readers.add(self, port, sock.clone())?,
            Io::Uring(ring) => ring.add(port, sock.clone())?,
        }
        self.set_socket(port, Some(sock));
        Ok(())
    }
}

/// Errors a UDP socket reports for an earlier datagram (ICMP unreachable and the like) and
/// that consume themselves: the next read goes on.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNREFUSED
                | libc::ECONNRESET
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::ENETDOWN
                | libc::EINTR
                | libc::ENOMEM
                | libc::ENOBUFS
        )
    ) || e.kind() == io::ErrorKind::Interrupted
}

#[cfg(test)]
mod tests;
