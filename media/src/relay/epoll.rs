//! The relay's readiness path: a tokio task per socket, woken by epoll when the socket is
//! readable, that receives a batch with `recvmmsg`, has the table decide (one lock per batch)
//! and sends with one `sendmmsg` per outgoing socket. It is the path on kernels without
//! io_uring (or where it is forbidden), and the one `[media] relay_io = "epoll"` asks for.
//!
//! It owns the reader tasks and the per-thread batch arrays; the sockets, the table and the
//! counters are `Shared`'s. It decides nothing about packets and never parses a payload.
//!
//! Per packet it neither allocates nor copies: each worker thread has one `mmsg::Batch`, and
//! a batch is received, looked up and sent before the task yields.
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

use super::mmsg::{Batch, BATCH};
use super::{is_transient, Shared};
use crate::session::{Framing, MUX_ID_LEN};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::task::AbortHandle;

/// The reader task of each bound port.
#[derive(Default)]
pub(super) struct Readers(Mutex<HashMap<u16, AbortHandle>>);

impl Readers {
    fn lock(&self) -> MutexGuard<'_, HashMap<u16, AbortHandle>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts reading `sock` (bound on `port`). Must run inside the relay's tokio runtime.
    pub(super) fn add(
        &self,
        shared: &Arc<Shared>,
        port: u16,
        sock: Arc<UdpSocket>,
    ) -> io::Result<()> {
        // SAFETY: the registration holds a reference to the socket, so its descriptor stays
        // open (and is not replaced) until the registration is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }
            .map_err(io::Error::from)?;
        let task = tokio::spawn(reader(shared.clone(), fd, port));
        if let Some(old) = self.lock().insert(port, task.abort_handle()) {
            old.abort();
        }
        Ok(())
    }

    /// Stops reading `port` (the task drops its registration when it is dropped).
    pub(super) fn remove(&self, port: u16) {
        if let Some(task) = self.lock().remove(&port) {
            task.abort();
        }
    }

    /// Stops every reader; the ports they read.
    pub(super) fn stop(&self) -> Vec<u16> {
        self.lock()
            .drain()
            .map(|(port, task)| {
                task.abort();
                port
            })
            .collect()
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
type RelaySocket = AsyncFd<Arc<UdpSocket>>;

/// Reads one socket until its task is aborted.
async fn reader(shared: Arc<Shared>, sock: RelaySocket, port: u16) {
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
fn relay_batch(shared: &Shared, sock: &UdpSocket, port: u16, b: &mut Batch) -> Outcome {
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
        match b.send(out.as_raw_fd()) {
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
