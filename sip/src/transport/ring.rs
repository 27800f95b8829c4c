//! The UDP listeners on io_uring (Linux 6.1 and later): one ring, owned by the thread that
//! runs it (`driver::ring`: the core's thread, or with `[sip] threads = 2` a thread of its
//! own), with a multishot `recvmsg` armed on every UDP listener into provided buffers, a
//! `sendmsg` per message the core sends, and a read armed on the eventfd through which that
//! thread is woken (by the rest of the node: streams, DNS answers, reloads; or by the core's
//! thread handing it messages to send).
//!
//! Why: on the readiness path every message costs a wake-up of the runtime (`epoll_wait`), a
//! receive, the receive that finds the socket empty, a hop through the event queue to the
//! core's task, and a `sendto` per message sent: about 20 system calls per proxied call
//! (`SYSCALLS=1 bash bench/cps.sh`). Here one `io_uring_enter` per wake-up submits every send
//! of the turn and waits for what comes next. Sends carry `MSG_DONTWAIT`, so the kernel
//! finishes each while it is submitted (copied into the socket, or refused): a send that went
//! posts nothing (`IOSQE_CQE_SKIP_SUCCESS`), a refused one posts its error before the wait
//! returns, and its message is kept until then. A full socket buffer (`EAGAIN`) sends the
//! message again without `MSG_DONTWAIT`: the kernel waits for room and completes it then.
//!
//! With `TransportConfig::udp_batch` (`[sip] udp_batch_us`) a wait uses the kernel's minimum
//! wait: datagrams that come within the batch time of the wait's start are taken together at
//! its end, one wake-up instead of one per burst (the thread's sleep and wake-up cost more than
//! the system call: 1.97 context switches per call without, 0.36 with 3 ms, BENCHMARKS.md).
//!
//! The sockets are never registered with the runtime's reactor: it would wake its thread for
//! every datagram the ring receives (measured: 4 `epoll_wait` per call, and more CPU per call
//! than the epoll path).
//!
//! It owns the ring, the provided buffers, the receive header and the messages whose send is
//! in flight. It decides nothing: a datagram passes `udp::datagram` (budgets, size, keep-alives,
//! STUN) as on the readiness path, and the socket a message leaves from is `udp::socket_for`'s
//! choice. The sockets stay the transport's (`Shared::ring_udp`), which outlives the ring.

use super::udp::{self, Datagram};
use super::{Shared, TransportEvent, TransportHandle};
use crate::proxy::Transmit;
use causeway_uring::addr::source;
use causeway_uring::{Buffers, SendHeader, NAME_LEN};
use io_uring::types::{Fd, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring};
use std::io;
use std::mem::MaybeUninit;
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

const SQ_ENTRIES: u32 = 512;
/// A wake-up can bring a completion per buffer, per failed send and the eventfd's.
const CQ_ENTRIES: u32 = 4096;
/// Provided buffers: a datagram is copied out of its buffer in the wake-up it arrives in, so
/// these only have to hold one wake-up's arrivals; past them a receive ends with `ENOBUFS`
/// (the datagrams wait in the socket's 4 MiB) and is armed again.
const BUFS: u16 = 512;
const GROUP: u16 = 0;
/// The largest UDP payload (65,535 less the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_507;

/// What a completion is for: the kind in the top byte, then the listener's index for a
/// receive, the slot for a send.
const RECV: u64 = 1 << 56;
const SEND: u64 = 2 << 56;
const WAKE: u64 = 3 << 56;
/// A send made again without `MSG_DONTWAIT`: it completes (and reports) when it went.
const RESEND: u64 = 4 << 56;
const KIND: u64 = 0xff << 56;
/// Sends waiting for room in a full socket buffer at most; past them a refused send fails.
const MAX_RESENDS: usize = 1024;
/// Receive errors in a row after which a listener is given up (a persistent error would
/// otherwise re-arm and fail on every wake-up).
const MAX_RECV_ERRORS: u32 = 64;
/// With a batch wait (`TransportConfig::udp_batch`): completions that end a wait at once.
const BATCH: usize = 64;
/// A batch wait with no deadline: its general timeout (any completion after the minimum wait
/// ends it).
const IDLE_WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

fn builder() -> io_uring::Builder {
    let mut b = IoUring::builder();
    b.setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(CQ_ENTRIES);
    b
}

/// Whether the kernel gives the ring this path needs (io_uring not disabled, a single issuer
/// with deferred completions, provided buffer rings): an error says why not.
pub fn probe() -> io::Result<()> {
    let ring = builder().build(8)?;
    let bufs = Buffers::new(8, 64)?;
    // SAFETY: `ring` is dropped before `bufs` below.
    let registered = unsafe { bufs.register(&ring.submitter(), GROUP) };
    drop(ring);
    drop(bufs);
    registered
}

/// A message whose send is in flight: the header the kernel reads and what it points into.
struct SendSlot {
    header: SendHeader,
    out: Transmit,
    sock: Arc<UdpSocket>,
}

pub struct UdpRing {
    /// Dropped first (declared first): the kernel lets go of the buffers and the headers
    /// before they are freed.
    ring: IoUring,
    shared: Arc<Shared>,
    bufs: Buffers,
    /// The header every multishot receive was armed with (the kernel reads its name and
    /// control lengths).
    recv_msg: Box<libc::msghdr>,
    /// Per listener (`Shared::udp` order): a receive is in flight; the socket failed.
    armed: Vec<bool>,
    broken: Vec<bool>,
    /// Per listener: receive errors since its last datagram.
    recv_errors: Vec<u32>,
    /// Sends made again without `MSG_DONTWAIT`, not yet completed.
    resending: usize,
    wake_fd: RawFd,
    wake_buf: Box<u64>,
    wake_armed: bool,
    /// Microseconds a wait goes on for up to `BATCH` completions once it has one (0: none,
    /// or a kernel without IORING_FEAT_MIN_TIMEOUT).
    batch_us: u32,
    slots: Vec<Option<Box<SendSlot>>>,
    free: Vec<u32>,
    /// Slots whose send is queued: free once the submission queue has been taken and the
    /// completions that followed were seen (a refused send's error names its slot).
    queued: Vec<u32>,
}

impl UdpRing {
    /// The ring for `transport`'s UDP listeners, woken also by `wake_fd` (a blocking eventfd
    /// that must outlive the ring). Must be called on the thread that will use it: the ring
    /// takes its submissions from that thread only.
    pub fn new(transport: &TransportHandle, wake_fd: RawFd) -> io::Result<UdpRing> {
        let shared = transport.shared.clone();
        let ring = builder().build(SQ_ENTRIES)?;
        let payload = shared.cfg.max_message_size.min(MAX_DATAGRAM);
        let bufs = Buffers::new(BUFS, payload)?;
        // SAFETY: the buffers live in `self` until after the ring is dropped (field order),
        // or are leaked.
        unsafe { bufs.register(&ring.submitter(), GROUP)? };
        // SAFETY: msghdr is a C struct of integers and pointers; zero is valid.
        let mut recv_msg: Box<libc::msghdr> =
            Box::new(unsafe { MaybeUninit::zeroed().assume_init() });
        recv_msg.msg_namelen = NAME_LEN as libc::socklen_t;
        let listeners = shared.ring_udp.len();
        let batch_us = match shared.cfg.udp_batch.as_micros() {
            0 => 0,
            _ if !ring.params().is_feature_min_timeout() => {
                tracing::info!(
                    "[sip] udp_batch_us: this kernel has no io_uring minimum wait (6.12 and \
                     later); every datagram is taken as it comes"
                );
                0
            }
            us => u32::try_from(us).unwrap_or(u32::MAX),
        };
        let mut r = UdpRing {
            ring,
            shared,
            bufs,
            recv_msg,
            armed: vec![false; listeners],
            broken: vec![false; listeners],
            recv_errors: vec![0; listeners],
            resending: 0,
            wake_fd,
            wake_buf: Box::new(0),
            wake_armed: false,
            batch_us,
            slots: Vec::new(),
            free: Vec::new(),
            queued: Vec::new(),
        };
        for bid in 0..BUFS {
            r.bufs.recycle(bid);
        }
        r.bufs.publish();
        r.arm();
        r.ring.submit()?;
        Ok(r)
    }

    /// Queues `out` (a UDP message) for the next submission; a blocked destination gets
    /// nothing, as on every path.
    pub fn send(&mut self, out: Transmit) {
        if self.shared.withhold(&out) {
            return;
        }
        let Some(sock) = udp::socket_for(&self.shared.ring_udp, &out).cloned() else {
            let dest = out.dest;
            self.shared
                .fail(out.token, format!("no UDP socket for {dest}"));
            return;
        };
        let fd = sock.as_raw_fd();
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let mut slot = Box::new(SendSlot {
            header: SendHeader::zeroed(),
            out,
            sock,
        });
        let (data, len) = (slot.out.data.as_ptr(), slot.out.data.len());
        slot.header.set(slot.out.dest, data, len);
        let entry = slot.header.send_now(fd, SEND | u64::from(index));
        // the slot's box does not move when the box does: the entry's pointers stay good
        self.slots[index as usize] = Some(slot);
        if self.push(&entry) {
            self.queued.push(index);
            self.shared.stats.messages_out.fetch_add(1, Relaxed);
        } else {
            // the queue is full and cannot be submitted: lost, as a datagram may be
            if let Some(slot) = self.slots[index as usize].take() {
                self.shared.fail(
                    slot.out.token,
                    "the io_uring submission queue is full".into(),
                );
            }
            self.free.push(index);
        }
    }

    /// Submits what is queued and waits for a completion, or until `deadline` (with a batch
    /// wait: up to the batch time past it).
    pub fn wait(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        self.wait_batched(deadline, self.batch_us)
    }

    /// As `wait`, but without the batch wait: returns on the first completion, whichever it
    /// is (with two threads, right after the ring's thread handed the core datagrams, it
    /// hopes for the core's eventfd with the replies).
    pub fn wait_first(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        self.wait_batched(deadline, 0)
    }

    /// The batch time `wait` actually uses: zero without one configured, or on a kernel
    /// without the minimum wait (whatever `[sip] udp_batch_us` says).
    pub fn batch(&self) -> std::time::Duration {
        std::time::Duration::from_micros(u64::from(self.batch_us))
    }

    fn wait_batched(&mut self, deadline: Option<Instant>, batch_us: u32) -> io::Result<()> {
        self.bufs.publish();
        self.arm();
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let waited = match left {
            // a deadline already due waits for nothing, with no batch either; GETEVENTS even
            // then: deferred task work (receives, the eventfd) runs only then
            Some(d) if d.is_zero() || batch_us == 0 => {
                let ts = Timespec::from(d);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None if batch_us == 0 => self.ring.submit_and_wait(1),
            // the kernel holds the thread until `BATCH` completions (in practice: until
            // `batch_us` has passed since the wait began, as deferred receives are counted
            // one per armed socket), then returns on the first. It reads the general timeout
            // only then: a deadline sooner than that is met up to `batch_us` late, the
            // timers' slack (cutting the batch to the deadline measured 0.66 context switches
            // per call against 0.48, timers being due every few hundred microseconds under
            // load). A wait without a general timeout would end at `batch_us` with nothing
            // (ETIME), so an idle node gets one of an hour instead.
            left => {
                let ts = Timespec::from(left.unwrap_or(IDLE_WAIT));
                let args = SubmitArgs::new().min_wait_usec(batch_us).timespec(&ts);
                self.ring.submitter().submit_with_args(BATCH, &args)
            }
        };
        match waited {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN) => Ok(()),
                // the completion queue overflowed and the kernel dropped some: receives that
                // ended show up again (re-armed), sends lost are datagrams lost
                Some(libc::EBADR) => {
                    tracing::warn!("SIP UDP: io_uring completions were dropped");
                    Ok(())
                }
                _ => Err(e),
            },
        }
    }

    /// Takes every completion: messages go to `events` (in arrival order), failed sends are
    /// told to the core. Returns whether the eventfd was written to.
    pub fn drain(&mut self, events: &mut Vec<TransportEvent>) -> bool {
        // whether every queued send was issued, judged before this drain queues resends
        let issued = self.ring.submission().is_empty();
        let mut woken = false;
        let mut completions: Vec<(u64, i32, u32)> = Vec::new();
        loop {
            completions.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            // completions past the queue wait in the kernel: take them before freeing slots
            if !self.ring.submission().cq_overflow() || self.ring.submit().is_err() {
                break;
            }
        }
        for (data, res, flags) in completions {
            match data & KIND {
                RECV => self.received((data & 0xffff) as usize, res, flags, events),
                SEND => self.send_failed((data & 0xffff_ffff) as u32, res),
                RESEND => {
                    self.resending = self.resending.saturating_sub(1);
                    self.resent((data & 0xffff_ffff) as u32, res)
                }
                WAKE => {
                    self.wake_armed = false;
                    woken = true;
                }
                _ => {}
            }
        }
        if issued {
            for index in self.queued.drain(..) {
                self.slots[index as usize] = None;
                self.free.push(index);
            }
        }
        woken
    }

    fn received(&mut self, i: usize, res: i32, flags: u32, events: &mut Vec<TransportEvent>) {
        if let Some(bid) = cqueue::buffer_select(flags) {
            if res >= 0 {
                if let Some(ev) = self.datagram(i, bid, res as usize) {
                    events.push(ev);
                }
            }
            self.bufs.recycle(bid);
        }
        if res >= 0 {
            if let Some(n) = self.recv_errors.get_mut(i) {
                *n = 0;
            }
        } else if !matches!(-res, libc::ENOBUFS | libc::ECANCELED) {
            self.receive_failed(i, res);
        }
        if !cqueue::more(flags) {
            if let Some(a) = self.armed.get_mut(i) {
                *a = false;
            }
        }
    }

    /// A receive that ended with an error: armed again at the next wait (the readiness path
    /// carries on after errors too), unless the listener fails every time.
    fn receive_failed(&mut self, i: usize, res: i32) {
        let e = io::Error::from_raw_os_error(-res);
        let listener = self.shared.ring_udp.get(i).map(|(a, _)| *a);
        let Some(n) = self.recv_errors.get_mut(i) else {
            return;
        };
        *n += 1;
        if *n < MAX_RECV_ERRORS {
            tracing::warn!(?listener, error = %e, "SIP UDP receive error");
            return;
        }
        tracing::error!(?listener, error = %e, "SIP UDP listener failed {MAX_RECV_ERRORS} times in a row; it receives no more");
        if let Some(b) = self.broken.get_mut(i) {
            *b = true;
        }
    }

    /// The event a received datagram makes, if any (a STUN keep-alive is answered here).
    fn datagram(&self, i: usize, bid: u16, len: usize) -> Option<TransportEvent> {
        let (local, sock) = self.shared.ring_udp.get(i)?;
        let buf = self.bufs.get(bid, len);
        let out = RecvMsgOut::parse(buf, &self.recv_msg).ok()?;
        if out.is_payload_truncated() {
            self.shared.stats.dropped_datagrams.fetch_add(1, Relaxed);
            return None;
        }
        let remote = source(out.name_data())?;
        match udp::datagram(&self.shared, *local, remote, out.payload_data()) {
            Datagram::Message(r) => Some(TransportEvent::Message(r)),
            Datagram::Stun(reply) => {
                udp::answer_stun(&self.shared, &**sock, &reply, remote);
                None
            }
            Datagram::Ignored => None,
        }
    }

    /// A send the kernel refused while it was submitted: a full socket buffer has it sent
    /// again, waiting for room; other errors are told to the core.
    fn send_failed(&mut self, index: u32, res: i32) {
        if res >= 0 || self.slots.get(index as usize).is_none_or(Option::is_none) {
            return;
        }
        self.queued.retain(|&q| q != index);
        if -res == libc::EAGAIN && self.resending < MAX_RESENDS {
            if let Some(slot) = &self.slots[index as usize] {
                let entry = slot
                    .header
                    .send_waiting(slot.sock.as_raw_fd(), RESEND | u64::from(index));
                if self.push(&entry) {
                    self.resending += 1;
                    return;
                }
            }
        }
        self.resent(index, res);
    }

    /// The end of a send made again (or one that cannot be): its slot is free.
    fn resent(&mut self, index: u32, res: i32) {
        let Some(slot) = self.slots.get_mut(index as usize).and_then(Option::take) else {
            return;
        };
        self.free.push(index);
        if res < 0 {
            self.shared.stats.messages_out.fetch_sub(1, Relaxed);
            let e = io::Error::from_raw_os_error(-res);
            self.shared.fail(slot.out.token, e.to_string());
        }
    }

    /// Arms what is not armed: a receive on each working listener, the eventfd's read.
    fn arm(&mut self) {
        for i in 0..self.armed.len() {
            if self.armed[i] || self.broken[i] {
                continue;
            }
            let Some((_, sock)) = self.shared.ring_udp.get(i) else {
                continue;
            };
            let entry = opcode::RecvMsgMulti::new(Fd(sock.as_raw_fd()), &*self.recv_msg, GROUP)
                .build()
                .user_data(RECV | i as u64);
            self.armed[i] = self.push(&entry);
        }
        if !self.wake_armed {
            let entry = opcode::Read::new(
                Fd(self.wake_fd),
                (&mut *self.wake_buf as *mut u64).cast(),
                8,
            )
            .build()
            .user_data(WAKE);
            self.wake_armed = self.push(&entry);
        }
    }

    /// Puts `entry` on the submission queue, submitting what is queued when it is full.
    fn push(&mut self, entry: &squeue::Entry) -> bool {
        // SAFETY: every entry points into memory `self` keeps until its completion (the
        // receive header, the buffers, the slots) or until the ring is dropped.
        if unsafe { self.ring.submission().push(entry) }.is_ok() {
            return true;
        }
        if self.ring.submit().is_err() {
            return false;
        }
        // SAFETY: as above.
        unsafe { self.ring.submission().push(entry) }.is_ok()
    }
}

impl Drop for UdpRing {
    /// Ends every request so the memory the kernel was given can be freed; if the kernel
    /// does not confirm, that memory is leaked rather than freed under it.
    fn drop(&mut self) {
        let Err(e) = causeway_uring::cancel_all(&mut self.ring) else {
            return;
        };
        tracing::warn!(error = %e, "SIP UDP: io_uring requests not cancelled; their memory is kept");
        self.bufs.leak();
        std::mem::forget(std::mem::take(&mut self.slots));
        std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
        // SAFETY: as in `new`.
        let blank = Box::new(unsafe { MaybeUninit::zeroed().assume_init() });
        std::mem::forget(std::mem::replace(&mut self.recv_msg, blank));
    }
}

#[cfg(test)]
mod tests;
