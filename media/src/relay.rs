//! The media relay's tokio driver (Linux): binds the UDP sockets of the port pairs the
//! anchoring state machine set up in the shared relay table, moves datagrams in batches
//! (`recvmmsg` in, `sendmmsg` out, see `mmsg`), and ends idle sessions on a timer. The
//! signaling drivers hand it the anchoring's [`RelayCommand`]s through a [`RelayHandle`]
//! (`execute`, synchronous: the sockets exist, or the failure is known, when it returns) and
//! pass its [`RelayEvent`] answers back to the state machine.
//!
//! It decides nothing: which session exists, which packet goes where, latching, limits and
//! expiry are `session::Table`'s and `anchor`'s. It owns the sockets, one reader task per
//! socket, and the counters of what the kernel refused. It never parses a payload.
//!
//! Per packet it neither allocates nor copies: each worker thread has one `mmsg::Batch`, and
//! a batch is received, looked up (one table lock per batch) and sent before the task yields.
//!
//! Sockets are `AsyncFd`s registered for read readiness only, and sends go straight to the
//! kernel with `MSG_DONTWAIT`. A `tokio::net::UdpSocket` is always registered for write
//! readiness too, and on UDP that costs one reactor event per datagram sent (the kernel
//! signals free send-buffer space after each): measured under `bench/media.sh` at 50k pps,
//! about a tenth of the relay's CPU per packet. A send that would block drops the datagram
//! (counted): media that cannot leave now is late anyway.
//!
//! `relay_batch` stays one function, a little over the house's 80 lines, on purpose: it is the
//! per-batch hot path measured by `bench/media.sh`, and its three phases (receive, decide under
//! one table lock, one `sendmmsg` per outgoing socket) share the stack arrays `to_port` and
//! `to_addr`; a split would only pass them around, and would need that benchmark re-run.

mod mmsg;

use crate::anchor::{Relay, RelayCommand, RelayEvent};
use crate::session::keepalive::{self, KeepAlive};
use crate::session::{
    Framing, Local, SessionInfo, SharedTable, Table, TableConfig, TableStats, MUX_ID_LEN,
};
use mmsg::{Batch, BATCH};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

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

/// What reader tasks share: the table (locked once per batch) and the sockets by port, so a
/// forward can be sent from the other leg's socket.
struct Shared {
    table: SharedTable,
    sockets: RwLock<Vec<Option<Arc<RelaySocket>>>>,
    counters: Counters,
    /// The reader task of each bound port.
    readers: Mutex<HashMap<u16, AbortHandle>>,
    config: RelayConfig,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock()
    }

    fn socket(&self, port: u16) -> Option<Arc<RelaySocket>> {
        let s = self.sockets.read().unwrap_or_else(|p| p.into_inner());
        s.get(usize::from(port)).and_then(|s| s.clone())
    }

    fn set_socket(&self, port: u16, sock: Option<Arc<RelaySocket>>) {
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
    let shared = Arc::new(Shared {
        table: SharedTable::new(config.table),
        sockets: RwLock::new(vec![None; usize::from(u16::MAX) + 1]),
        counters: Counters::default(),
        readers: Mutex::new(HashMap::new()),
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
        let mut sweep = tokio::time::interval(self.shared.config.sweep_every);
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
        let readers: Vec<(u16, AbortHandle)> = self.shared.readers().drain().collect();
        for (port, task) in readers {
            task.abort();
            self.shared.set_socket(port, None);
        }
    }
}

/// Socket set-up and tear-down of sessions, for `RelayHandle::execute` and the sweep.
impl Shared {
    fn readers(&self) -> MutexGuard<'_, HashMap<u16, AbortHandle>> {
        self.readers.lock().unwrap_or_else(|p| p.into_inner())
    }

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
        for local in [s.a, s.b] {
            if let Local::Own(p) = local {
                for port in [p.rtp(), p.rtcp()] {
                    if let Some(task) = self.readers().remove(&port) {
                        task.abort();
                    }
                    self.set_socket(port, None);
                }
            }
        }
    }

    /// Sends keep-alives from their ports (counted as sent or failed like relayed packets).
    fn send_keepalives(&self, due: &[KeepAlive]) {
        let pt = self.config.keepalive_payload_type;
        for k in due {
            let seq = self.counters.keepalive_seq.fetch_add(1, Relaxed) as u16;
            let ok = self.socket(k.from_port).is_some_and(|s| {
                let packet = k.packet(k.payload_type.unwrap_or(pt), seq);
                s.get_ref().send_to(&packet, k.to).is_ok()
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
        let std_sock = std::net::UdpSocket::from(s);
        // SAFETY: the std socket owns its descriptor, and the AsyncFd owns the socket until it
        // is dropped; nothing else closes or replaces it.
        let sock = unsafe { AsyncFd::register_with_interest(std_sock, Interest::READABLE) }
            .map_err(io::Error::from)?;
        let sock = Arc::new(sock);
        self.set_socket(port, Some(sock.clone()));
        let task = tokio::spawn(reader(self.clone(), sock, port));
        if let Some(old) = self.readers().insert(port, task.abort_handle()) {
            old.abort();
        }
        Ok(())
    }
}

thread_local! {
    /// One batch per worker thread: a batch is used from receive to send without yielding,
    /// so tasks on the same thread never share it in the middle of a use.
    static BATCH_BUF: RefCell<Batch> = RefCell::new(Batch::new());
}

/// A relay socket, registered for read readiness only: registering for write readiness too
/// (as `tokio::net::UdpSocket` does) would wake the reactor once for every datagram sent,
/// when the kernel frees its send buffer space.
type RelaySocket = AsyncFd<std::net::UdpSocket>;

/// Reads one socket until its task is aborted.
async fn reader(shared: Arc<Shared>, sock: Arc<RelaySocket>, port: u16) {
    loop {
        let Ok(mut guard) = sock.readable().await else {
            return;
        };
        let outcome = BATCH_BUF.with(|b| match b.try_borrow_mut() {
            Ok(mut b) => relay_batch(&shared, sock.get_ref(), port, &mut b),
            // Unreachable (no await inside a use), but never worth a panic.
            Err(_) => Outcome::Again,
        });
        match outcome {
            Outcome::Again => {}
            // A short batch means the socket was empty when the kernel returned; clearing
            // now saves the syscall that would only report WouldBlock. No datagram is
            // missed: tokio clears only readiness seen before this guard was made, and a
            // datagram landing in the emptied queue raises a new edge.
            Outcome::Drained => guard.clear_ready(),
            Outcome::Broken(e) => {
                tracing::warn!(port, error = %e, "media relay socket failed; its reader stops");
                return;
            }
        }
    }
}

enum Outcome {
    /// A full batch: there may be more.
    Again,
    /// The socket is empty.
    Drained,
    Broken(io::Error),
}

/// One `recvmmsg`, the table's decisions for what arrived, and the sends.
fn relay_batch(shared: &Shared, sock: &std::net::UdpSocket, port: u16, b: &mut Batch) -> Outcome {
    let (got, outcome) = match b.recv(sock.as_raw_fd()) {
        Ok(n) if n < BATCH => (n, Outcome::Drained),
        Ok(n) => (n, Outcome::Again),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => (0, Outcome::Drained),
        Err(e) if is_transient(&e) => {
            shared.counters.recv_errors.fetch_add(1, Relaxed);
            (0, Outcome::Again)
        }
        Err(e) => return Outcome::Broken(e),
    };
    if got == 0 {
        return outcome;
    }
    shared.counters.received.fetch_add(got as u64, Relaxed);

    // Decisions for the whole batch under one lock. `to_port[i]` is the local port packet
    // `i` leaves from, 0 for a dropped one (port 0 is never a relay port).
    let mut to_port = [0u16; BATCH];
    let mut to_addr = [None::<SocketAddr>; BATCH];
    let mut framing = [Framing::default(); BATCH];
    let mut truncated = 0;
    {
        let now = Instant::now();
        let mut table = shared.table();
        for i in 0..got {
            let Some(rx) = b.received(i) else { continue };
            let Some(src) = rx.src else { continue };
            if rx.truncated {
                truncated += 1;
                continue;
            }
            if let Some((f, how)) = table.handle_framed(port, src, b.data(i), now) {
                to_port[i] = f.from_port;
                to_addr[i] = Some(f.to);
                framing[i] = how;
            }
        }
    }
    if truncated > 0 {
        shared.counters.truncated.fetch_add(truncated, Relaxed);
    }

    // One sendmmsg per outgoing socket; a batch from one port nearly always has one.
    let mut sent = 0u64;
    let mut failed = 0u64;
    for i in 0..got {
        let from = to_port[i];
        if from == 0 {
            continue;
        }
        b.clear_send();
        for j in i..got {
            if to_port[j] == from {
                if let Some(to) = to_addr[j] {
                    let skip = if framing[j].strip { MUX_ID_LEN } else { 0 };
                    b.push_framed(j, to, skip, framing[j].prefix);
                }
                to_port[j] = 0;
            }
        }
        let queued = b.queued() as u64;
        let Some(out) = shared.socket(from) else {
            failed += queued;
            continue;
        };
        // Straight to the kernel (non-blocking): a full send buffer drops the datagram,
        // which is what late media deserves anyway.
        match b.send(out.get_ref().as_raw_fd()) {
            Ok(res) => {
                sent += res.sent as u64;
                failed += res.failed as u64;
            }
            Err(_) => failed += queued,
        }
    }
    b.clear_send();
    if sent > 0 {
        shared.counters.sent.fetch_add(sent, Relaxed);
    }
    if failed > 0 {
        shared.counters.send_failed.fetch_add(failed, Relaxed);
    }
    outcome
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
