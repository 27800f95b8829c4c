//! The relay's io_uring path (Linux 6.1 and later): one thread owns a ring with a multishot
//! `recvmsg` armed on every relay socket, receiving into a ring of buffers provided to the
//! kernel, and forwards each packet with a `sendmsg` straight from the buffer it arrived in.
//!
//! Why: the readiness path (`epoll`) makes two system calls per packet, a receive and a send
//! (`bench/media.sh` with `SYSCALLS=1`: each socket carries one 50 packet/s stream, so a
//! `recvmmsg` finds one packet). Here one `io_uring_enter` per wake-up submits every send the
//! wake-up decided and waits for the next packets, whatever the number of sockets they arrive
//! on. Sends carry `MSG_DONTWAIT`, so the kernel finishes each of them (the datagram copied
//! out, or refused as the readiness path's drops are) while submitting it, never later: once
//! the submission queue is empty, every buffer sent from is free again. A send that went posts
//! no completion (`IOSQE_CQE_SKIP_SUCCESS`), so the wait is woken by packets, commands and
//! failures only.
//!
//! It owns the ring, the provided buffers, the send headers and, per port, the socket its
//! receive is armed on (the thread holds its own reference, so a descriptor it submits on is
//! never closed under it). It decides nothing: `Table::handle_framed` does, as for the
//! readiness path. Other threads talk to it through `Ring`: a command queue and an eventfd the
//! ring always has a read armed on.

use super::mmsg::BUF;
use super::{is_transient, Counters};
use crate::session::{SharedTable, Table, MUX_ID_LEN};
use causeway_uring::addr::source;
use causeway_uring::{Buffers, SendHeader, NAME_LEN, PAYLOAD_AT};
use io_uring::types::{Fd, RecvMsgOut};
use io_uring::{cqueue, opcode, squeue, IoUring};
use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Submission queue entries; the completion queue has `CQ_ENTRIES` (a wake-up can bring a
/// completion for every buffer and every send).
const SQ_ENTRIES: u32 = 1024;
const CQ_ENTRIES: u32 = 8192;
const BUF_GROUP: u16 = 0;
/// Provided buffers. A buffer is held from its packet's arrival to its send's submission,
/// within one wake-up: 1024 outlast any burst the socket buffers hold. When they run out a
/// socket's receive ends with `ENOBUFS` (the packets wait in the socket) and is armed again
/// once buffers are back.
const BUFS: u16 = 1024;
/// How long `remove` waits for the ring to let go of a socket.
const REMOVE_WAIT: Duration = Duration::from_secs(2);

/// What a completion is for: the kind in the top byte, then a generation and the port for a
/// receive, the buffer id for a send.
const RECV: u64 = 1 << 56;
const SEND: u64 = 2 << 56;
const WAKE: u64 = 3 << 56;
const CANCEL: u64 = 4 << 56;
const KIND: u64 = 0xff << 56;

fn recv_data(generation: u32, port: u16) -> u64 {
    RECV | u64::from(generation) << 16 | u64::from(port)
}

enum Command {
    Add {
        port: u16,
        sock: Arc<UdpSocket>,
    },
    Remove {
        port: u16,
        done: mpsc::SyncSender<()>,
    },
    Stop {
        done: mpsc::SyncSender<Vec<u16>>,
    },
}

/// The handle other threads hold: commands in, the eventfd that wakes the ring thread.
pub(super) struct Ring {
    commands: mpsc::Sender<Command>,
    wake: OwnedFd,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Ring {
    /// Starts the ring thread; an error when the kernel refuses the ring or the buffers (no
    /// io_uring, an older kernel, io_uring forbidden by `kernel.io_uring_disabled` or seccomp).
    pub(super) fn start(table: SharedTable, counters: Arc<Counters>) -> io::Result<Ring> {
        // Blocking on purpose: kernels before 6.x complete an io_uring read of an O_NONBLOCK
        // file with EAGAIN at once instead of waiting, which would spin the ring. A write to
        // it blocks only if the counter were to overflow 2^64 - 2.
        // SAFETY: eventfd takes no pointers; a descriptor it returns is ours to own.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let wake = unsafe { OwnedFd::from_raw_fd(raw) };
        let wake_fd = wake.as_raw_fd();
        let (commands, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("causeway-relay".into())
            .spawn(move || match Worker::new(table, counters, rx, wake_fd) {
                Ok(mut w) => {
                    let _ = ready_tx.send(Ok(()));
                    w.run();
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })?;
        let started = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the relay thread ended at start")));
        if let Err(e) = started {
            let _ = thread.join();
            return Err(e);
        }
        Ok(Ring {
            commands,
            wake,
            thread: Mutex::new(Some(thread)),
        })
    }

    fn send(&self, command: Command) -> io::Result<()> {
        self.commands
            .send(command)
            .map_err(|_| io::Error::other("the relay thread has stopped"))?;
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live array to our own eventfd.
        let n = unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Arms a receive on `sock` (bound on `port`); packets that arrive first wait in it.
    pub(super) fn add(&self, port: u16, sock: Arc<UdpSocket>) -> io::Result<()> {
        self.send(Command::Add { port, sock })
    }

    /// Cancels the receives of `ports` and returns once the ring holds their sockets no more
    /// (all asked at once, so the wait is one round trip, not one per port).
    pub(super) fn remove(&self, ports: &[u16]) {
        let mut waits = Vec::with_capacity(ports.len());
        for &port in ports {
            let (done, wait) = mpsc::sync_channel(1);
            if self.send(Command::Remove { port, done }).is_ok() {
                waits.push((port, wait));
            }
        }
        let deadline = Instant::now() + REMOVE_WAIT;
        for (port, wait) in waits {
            let left = deadline.saturating_duration_since(Instant::now());
            if wait.recv_timeout(left).is_err() {
                tracing::warn!(
                    port,
                    "media relay: the ring did not let go of a socket in time"
                );
            }
        }
    }

    /// Stops the thread; the ports it was receiving on.
    pub(super) fn stop(&self) -> Vec<u16> {
        let (done, wait) = mpsc::sync_channel(1);
        let ports = match self.send(Command::Stop { done }) {
            Ok(()) => wait.recv_timeout(REMOVE_WAIT).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
        ports
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let running = self
            .thread
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if running {
            self.stop();
        }
    }
}

/// A socket the ring receives on.
struct Port {
    sock: Arc<UdpSocket>,
    generation: u32,
    /// A receive is in flight (it ends on an error, `ENOBUFS` or a cancellation).
    armed: bool,
    /// It failed in a way another receive would repeat: not armed again.
    broken: bool,
    /// `remove` waits for this, sent once the receive has ended.
    closing: Option<mpsc::SyncSender<()>>,
}

/// A packet received, waiting for the table's decision.
struct Got {
    port: u16,
    bid: u16,
    len: usize,
}

/// A packet the table says to forward: buffer `bid`'s octets `start..end`, from port
/// `from`'s socket to `to`, with `prefix` written just before `start` first.
#[derive(Clone, Copy)]
struct Forward {
    bid: u16,
    from: u16,
    to: SocketAddr,
    start: usize,
    end: usize,
    prefix: Option<u32>,
}

enum Decision {
    Forward(Forward),
    Truncated,
    Drop,
}

/// The ring thread's state.
struct Worker {
    /// Dropped first (declared first): the kernel lets go of the buffers and the headers
    /// before they are freed.
    ring: IoUring,
    table: SharedTable,
    counters: Arc<Counters>,
    commands: mpsc::Receiver<Command>,
    wake_fd: i32,
    wake_buf: Box<u64>,
    /// The buffers provided to the kernel.
    bufs: Buffers,
    /// The receive header every multishot receive was armed with (the kernel reads its name
    /// and control lengths).
    recv_msg: Box<libc::msghdr>,
    slots: Box<[SendHeader]>,
    /// By port number: one pointer each (512 KiB), the lookup of every send.
    ports: Vec<Option<Box<Port>>>,
    generation: u32,
    got: Vec<Got>,
    completions: Vec<(u64, i32, u32)>,
    decided: Vec<Forward>,
    /// Ports whose receive is to be armed (new, or ended without being closed), and whose
    /// receive is to be cancelled: kept until the entry is queued (a full queue that cannot
    /// be submitted refuses it).
    to_arm: Vec<u16>,
    to_cancel: Vec<u64>,
    /// Whether the read of the command eventfd is queued.
    wake_armed: bool,
    /// Sockets removed while entries naming their descriptor may still wait in the submission
    /// queue: closed once it is empty, so a send never goes out on a reused descriptor.
    retired: Vec<Arc<UdpSocket>>,
    /// Buffers whose send is queued: free once the submission queue has been taken.
    pending: Vec<u16>,
    stopping: Option<mpsc::SyncSender<Vec<u16>>>,
}

impl Worker {
    fn new(
        table: SharedTable,
        counters: Arc<Counters>,
        commands: mpsc::Receiver<Command>,
        wake_fd: i32,
    ) -> io::Result<Worker> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(CQ_ENTRIES)
            .build(SQ_ENTRIES)?;
        let bufs = Buffers::new(BUFS, BUF)?;
        // SAFETY: the ring memory lives in `self` until after the ring is dropped (field
        // order), or is leaked.
        unsafe { bufs.register(&ring.submitter(), BUF_GROUP)? };
        // SAFETY: msghdr is a C struct of integers and pointers; zero is valid.
        let mut recv_msg: Box<libc::msghdr> =
            Box::new(unsafe { MaybeUninit::zeroed().assume_init() });
        recv_msg.msg_namelen = NAME_LEN as libc::socklen_t;
        let slots = (0..BUFS).map(|_| SendHeader::zeroed()).collect();
        let mut w = Worker {
            ring,
            table,
            counters,
            commands,
            wake_fd,
            wake_buf: Box::new(0),
            bufs,
            recv_msg,
            slots,
            ports: (0..=u16::MAX).map(|_| None).collect(),
            generation: 0,
            got: Vec::new(),
            completions: Vec::new(),
            decided: Vec::new(),
            to_arm: Vec::new(),
            to_cancel: Vec::new(),
            wake_armed: false,
            retired: Vec::new(),
            pending: Vec::new(),
            stopping: None,
        };
        for bid in 0..BUFS {
            w.bufs.recycle(bid);
        }
        w.bufs.publish();
        w.arm_wake()?;
        w.ring.submit()?;
        Ok(w)
    }

    fn run(&mut self) {
        loop {
            self.requeue();
            self.bufs.publish();
            let waited = self.ring.submit_and_wait(1);
            self.submitted();
            if let Err(e) = waited {
                match e.raw_os_error() {
                    // EBADR: the completion queue overflowed and the kernel dropped some; what
                    // they were for shows up as receives that ended (re-armed) or sends lost
                    Some(libc::EINTR | libc::EBUSY | libc::EAGAIN | libc::ETIME) => {}
                    Some(libc::EBADR) => {
                        tracing::warn!("media relay: io_uring completions were dropped");
                    }
                    _ => {
                        tracing::error!(error = %e, "media relay: io_uring failed; relaying stops");
                        break;
                    }
                }
            }
            self.drain();
            if self.stopping.is_some() {
                break;
            }
            self.forward();
            self.arm_receives();
        }
        self.shut_down();
    }

    /// Takes every completion off the queue and handles all but received packets, which
    /// wait in `got` for one table lock.
    fn drain(&mut self) {
        let mut completions = std::mem::take(&mut self.completions);
        completions.extend(
            self.ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        for &(data, res, flags) in &completions {
            match data & KIND {
                RECV => self.received(data, res, flags),
                // only a failed send reports (its buffer went back when it was submitted, and
                // `send` counted it as sent)
                SEND if res < 0 => {
                    self.counters.sent.fetch_sub(1, Relaxed);
                    self.counters.send_failed.fetch_add(1, Relaxed);
                }
                WAKE => {
                    self.wake_armed = false;
                    self.commands();
                }
                _ => {} // CANCEL: the receive it ended reports itself
            }
        }
        completions.clear();
        self.completions = completions;
    }

    /// A receive's completion: a packet (kept for `forward`), or the end of the receive.
    fn received(&mut self, data: u64, res: i32, flags: u32) {
        let port = (data & 0xffff) as u16;
        let generation = ((data >> 16) & 0xffff_ffff) as u32;
        let bid = cqueue::buffer_select(flags);
        let current =
            matches!(&self.ports[usize::from(port)], Some(p) if p.generation == generation);
        match bid {
            Some(bid) if res >= 0 && current => self.got.push(Got {
                port,
                bid,
                len: res as usize,
            }),
            Some(bid) => self.bufs.recycle(bid),
            None => {}
        }
        if res < 0 && current {
            let e = io::Error::from_raw_os_error(-res);
            match -res {
                libc::ENOBUFS | libc::ECANCELED => {}
                _ if is_transient(&e) => {
                    self.counters.recv_errors.fetch_add(1, Relaxed);
                }
                _ => {
                    tracing::warn!(port, error = %e, "media relay socket failed; its receive stops");
                    if let Some(p) = self.ports[usize::from(port)].as_mut() {
                        p.broken = true;
                    }
                }
            }
        }
        if !cqueue::more(flags) && current {
            let slot = &mut self.ports[usize::from(port)];
            if let Some(p) = slot.as_mut() {
                p.armed = false;
                if let Some(done) = p.closing.take() {
                    if let Some(p) = slot.take() {
                        self.retire(p.sock);
                    }
                    let _ = done.send(());
                } else if !p.broken {
                    self.to_arm.push(port);
                }
            }
        }
    }

    fn commands(&mut self) {
        // the eventfd's count only says "look": reset it by the read that completed
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Add { port, sock } => {
                    self.cancel(port);
                    if let Some(old) = self.ports[usize::from(port)].take() {
                        self.retire(old.sock);
                    }
                    self.generation = self.generation.wrapping_add(1);
                    self.ports[usize::from(port)] = Some(Box::new(Port {
                        sock,
                        generation: self.generation,
                        armed: false,
                        broken: false,
                        closing: None,
                    }));
                    self.to_arm.push(port);
                }
                Command::Remove { port, done } => {
                    let slot = &mut self.ports[usize::from(port)];
                    match slot {
                        Some(p) if p.armed => {
                            p.closing = Some(done);
                            self.cancel(port);
                        }
                        _ => {
                            if let Some(p) = slot.take() {
                                self.retire(p.sock);
                            }
                            let _ = done.send(());
                        }
                    }
                }
                Command::Stop { done } => self.stopping = Some(done),
            }
        }
    }

    /// Asks the kernel to end `port`'s receive (its last completion follows).
    fn cancel(&mut self, port: u16) {
        let Some(p) = &self.ports[usize::from(port)] else {
            return;
        };
        if !p.armed {
            return;
        }
        let target = recv_data(p.generation, port);
        if !self.push_cancel(target) {
            self.to_cancel.push(target);
        }
    }

    fn push_cancel(&mut self, target: u64) -> bool {
        let entry = opcode::AsyncCancel::new(target)
            .build()
            .user_data(CANCEL | (target & 0xffff));
        self.push(&entry)
    }

    /// Queues again what a full submission queue refused: the command wake-up's read and
    /// cancellations (receives to arm wait in `to_arm` for `arm_receives`).
    fn requeue(&mut self) {
        if !self.wake_armed && self.stopping.is_none() {
            if let Err(e) = self.arm_wake() {
                tracing::warn!(error = %e, "media relay: the command wake-up waits to be armed");
            }
        }
        let to_cancel = std::mem::take(&mut self.to_cancel);
        for target in to_cancel {
            if !self.push_cancel(target) {
                self.to_cancel.push(target);
            }
        }
    }

    /// Lets go of a removed socket: at once, or once no queued entry can name its descriptor.
    fn retire(&mut self, sock: Arc<UdpSocket>) {
        if !self.ring.submission().is_empty() {
            self.retired.push(sock);
        }
    }

    /// Decides every packet of the wake-up under one table lock, then queues the sends.
    fn forward(&mut self) {
        if self.got.is_empty() {
            return;
        }
        let got = std::mem::take(&mut self.got);
        let mut decided = std::mem::take(&mut self.decided);
        let mut truncated = 0;
        self.counters.received.fetch_add(got.len() as u64, Relaxed);
        {
            let now = Instant::now();
            let mut table = self.table.lock();
            for g in &got {
                match self.decide(&mut table, g, now) {
                    Decision::Forward(f) => decided.push(f),
                    Decision::Truncated => truncated += 1,
                    Decision::Drop => {}
                }
            }
        }
        if truncated > 0 {
            self.counters.truncated.fetch_add(truncated, Relaxed);
        }
        // a buffer not forwarded goes back now, a forwarded one when its send completes;
        // `decided` follows `got`'s order, so one pass pairs them
        let mut next = decided.iter().peekable();
        for g in &got {
            if next.peek().is_some_and(|f| f.bid == g.bid) {
                next.next();
            } else {
                self.bufs.recycle(g.bid);
            }
        }
        for f in &decided {
            if !self.send(f) {
                self.counters.send_failed.fetch_add(1, Relaxed);
                self.bufs.recycle(f.bid);
            }
        }
        self.got = got;
        self.got.clear();
        decided.clear();
        self.decided = decided;
    }

    /// The table's decision for one received packet.
    fn decide(&self, table: &mut Table, g: &Got, now: Instant) -> Decision {
        let buf = self.bufs.get(g.bid, g.len);
        let Ok(out) = RecvMsgOut::parse(buf, &self.recv_msg) else {
            return Decision::Drop;
        };
        // the readiness path's limit too (`mmsg::BUF`), though the buffer has a little more
        if out.is_payload_truncated() || out.payload_data().len() > BUF {
            return Decision::Truncated;
        }
        let Some(src) = source(out.name_data()) else {
            return Decision::Drop;
        };
        let payload = out.payload_data();
        let len = payload.len();
        let Some((f, how)) = table.handle_framed(g.port, src, payload, now) else {
            return Decision::Drop;
        };
        let skip = if how.strip { MUX_ID_LEN } else { 0 };
        if skip > len {
            return Decision::Drop;
        }
        let start = PAYLOAD_AT + skip - if how.prefix.is_some() { 4 } else { 0 };
        Decision::Forward(Forward {
            bid: g.bid,
            from: f.from_port,
            to: f.to,
            start,
            end: PAYLOAD_AT + len,
            prefix: how.prefix,
        })
    }

    /// Queues a forward's send (its multiplexID written first).
    fn send(&mut self, f: &Forward) -> bool {
        let Forward {
            bid,
            from,
            to,
            start,
            end,
            prefix,
        } = *f;
        let Some(p) = &self.ports[usize::from(from)] else {
            return false;
        };
        let fd = p.sock.as_raw_fd();
        if let Some(id) = prefix {
            self.bufs.write(bid, start, &id.to_be_bytes());
        }
        let base = self.bufs.ptr(bid);
        let slot = &mut self.slots[usize::from(bid)];
        // SAFETY: start <= end <= the stride: inside buffer `bid`.
        slot.set(to, unsafe { base.add(start) }, end - start);
        let entry = slot.send_now(fd, SEND | u64::from(bid));
        if self.push(&entry) {
            self.pending.push(bid);
            self.counters.sent.fetch_add(1, Relaxed);
            true
        } else {
            false
        }
    }

    /// After a submission: when the kernel took every queued entry, the sends among them are
    /// done (`MSG_DONTWAIT`: sent or failed while submitted), and their buffers free.
    /// Sockets retired meanwhile are closed then too.
    fn submitted(&mut self) {
        if !self.ring.submission().is_empty() {
            return;
        }
        self.retired.clear();
        let mut pending = std::mem::take(&mut self.pending);
        for &bid in &pending {
            self.bufs.recycle(bid);
        }
        pending.clear();
        self.pending = pending;
    }

    /// Arms a multishot receive on the ports waiting for one.
    fn arm_receives(&mut self) {
        let mut to_arm = std::mem::take(&mut self.to_arm);
        for &port in &to_arm {
            let Some(p) = &self.ports[usize::from(port)] else {
                continue;
            };
            if p.armed || p.broken || p.closing.is_some() {
                continue;
            }
            let entry =
                opcode::RecvMsgMulti::new(Fd(p.sock.as_raw_fd()), &*self.recv_msg, BUF_GROUP)
                    .build()
                    .user_data(recv_data(p.generation, port));
            if self.push(&entry) {
                if let Some(p) = self.ports[usize::from(port)].as_mut() {
                    p.armed = true;
                }
            } else {
                self.to_arm.push(port);
            }
        }
        to_arm.clear();
        // refused ones are back in `self.to_arm`; keep the larger allocation
        if to_arm.capacity() > self.to_arm.capacity() {
            to_arm.append(&mut self.to_arm);
            self.to_arm = to_arm;
        }
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        let entry = opcode::Read::new(
            Fd(self.wake_fd),
            (&mut *self.wake_buf as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(WAKE);
        if self.push(&entry) {
            self.wake_armed = true;
            Ok(())
        } else {
            Err(io::Error::other("the submission queue is full"))
        }
    }

    /// Puts `entry` on the submission queue, submitting what is queued when it is full.
    fn push(&mut self, entry: &squeue::Entry) -> bool {
        // SAFETY: every entry points into memory `self` keeps until its completion (headers,
        // buffers, slots) or until the ring is dropped.
        if unsafe { self.ring.submission().push(entry) }.is_ok() {
            return true;
        }
        let submitted = self.ring.submit();
        self.submitted();
        if submitted.is_err() {
            return false;
        }
        // SAFETY: as above.
        unsafe { self.ring.submission().push(entry) }.is_ok()
    }

    /// Ends every request and answers `Stop`, so that the memory the kernel was given can be
    /// freed.
    fn shut_down(&mut self) {
        let cancelled = causeway_uring::cancel_all(&mut self.ring);
        let ports: Vec<u16> = (0..=u16::MAX)
            .filter(|&p| self.ports[usize::from(p)].take().is_some())
            .collect();
        if let Err(e) = cancelled {
            // the kernel may still write into the buffers: never free them
            tracing::warn!(error = %e, "media relay: io_uring requests not cancelled; their memory is kept");
            self.bufs.leak();
        }
        if let Some(done) = self.stopping.take() {
            let _ = done.send(ports);
        }
    }
}
