//! SIP on io_uring with two threads (`[sip] threads = 2`): the UDP listeners' ring on a thread
//! of its own ("causeway-sip-io"), the machine on the core's ("causeway-sip").
//!
//! The ring's thread receives and queues each datagram in the core's inbox, in one lock per
//! wake-up. The core's thread waits on its inbox's eventfd (`ppoll`, until the machine's next
//! deadline), then turns as the one-thread loop does, except that what it sends over UDP and
//! every message it shows the tap (the call history) go into the outbox, in the machine's
//! order: one lock and at most one wake-up per turn. The ring's thread shows them to the tap
//! and sends the datagrams. So the tap sees exactly the messages the machine took in (not a
//! blocked source's, not one dropped for room), in the one-thread loop's order, and its work
//! is done off the machine's thread.
//!
//! Why: on one thread, the ring's system calls and the call history take about 40 % of a
//! call's CPU under load. Here they run beside the machine, so the node carries more calls per
//! second than one core would. Every message crosses between the threads, which costs CPU per
//! call at low rates: one thread stays the default.
//!
//! The ring's thread waits at most `RING_TICK` (a lost eventfd completion cannot strand the
//! outbox). With a batch wait (`[sip] udp_batch_us`) it takes datagrams a batch at a time, as
//! on one thread; after a batch that gave the core datagrams its next wait ends on the first
//! completion, so when that is the core's hand-over the replies go out at once instead of at
//! the end of another batch (INVITE-to-200 through the proxy at 1000 calls/s: 4 ms against 6,
//! one thread 3; at 9000/s, where a new datagram often comes first, 7-8 against 9, one
//! thread 6; BENCHMARKS.md). The core's timers get the batch time as slack, as on one
//! thread. A panic on either thread stops the other: SIP stops, as when the ring fails.
//!
//! It owns the ring's thread, the outbox and the core thread's wait. The machine's turn is
//! `Core`'s, the sockets' the ring's.

use super::{eventfd, wake, Core, Inbox, Input, INBOX};
use crate::driver::{next_deadline, Handed, Messages, Observer, Sink};
use crate::proxy::Machine;
use crate::transport::{TransportEvent, TransportHandle, UdpRing};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Inbox entries kept for the rest of the node (stream messages, DNS answers, reloads, the
/// stop): datagrams fill the inbox only up to `INBOX - RESERVE`.
const RESERVE: usize = 1024;
/// Inputs the core handles per turn at most before it sends and fires what is due (a full
/// inbox is worked off over several turns).
const TURN: usize = 1024;
/// Items the outbox holds at most; past them the core's sends are refused (as a full socket's).
const OUTBOX: usize = 65_536;
/// The longest the ring's thread waits without looking at the outbox.
const RING_TICK: Duration = Duration::from_secs(1);

/// What the core hands the ring's thread: in order, and whether to stop after them.
#[derive(Default)]
struct Handoff {
    items: Vec<Handed>,
    stop: bool,
}

/// The queue into the ring's thread and the eventfd its ring has a read armed on.
struct Outbox {
    queue: Mutex<Handoff>,
    wake: OwnedFd,
}

impl Outbox {
    fn new() -> std::io::Result<Outbox> {
        Ok(Outbox {
            queue: Mutex::new(Handoff::default()),
            wake: eventfd()?,
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Handoff> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands over `items` (emptied) and the stop; wakes the ring's thread when it had nothing
    /// pending (else the wake-up for the earlier hand-off is still to be taken). Gives back
    /// what did not fit.
    fn hand(&self, items: &mut Vec<Handed>, stop: bool) -> Vec<Handed> {
        if items.is_empty() && !stop {
            return Vec::new();
        }
        let mut q = self.queue();
        let was_empty = q.items.is_empty() && !q.stop;
        let room = OUTBOX.saturating_sub(q.items.len());
        let over = items.split_off(room.min(items.len()));
        q.items.append(items);
        q.stop |= stop;
        drop(q);
        if was_empty {
            wake(&self.wake);
        }
        over
    }

    /// What was handed over, into `into` (empty); true when the ring's thread is to stop.
    fn take(&self, into: &mut Vec<Handed>) -> bool {
        let mut q = self.queue();
        std::mem::swap(&mut q.items, into);
        q.stop
    }
}

impl<M> Inbox<M> {
    /// The ring thread's datagrams, queued at once; past `INBOX - RESERVE` they are dropped
    /// and counted, as a full socket drops them.
    fn push_datagrams(&self, events: &mut Vec<TransportEvent>, dropped_datagrams: &AtomicU64) {
        let mut q = self.queue();
        let was_empty = q.is_empty();
        let room = (INBOX - RESERVE).saturating_sub(q.len());
        let dropped = events.len().saturating_sub(room);
        q.extend(events.drain(..).take(room).map(Input::Transport));
        let wake = was_empty && !q.is_empty();
        drop(q);
        if wake {
            self.wake();
        }
        if dropped > 0 {
            dropped_datagrams.fetch_add(dropped as u64, Relaxed);
        }
    }

    /// Tells the core's thread that the ring's has stopped.
    fn ring_failed(&self) {
        self.queue().push_back(Input::RingFailed);
        self.wake();
    }

    /// Waits until something is queued or `deadline` passes (a spurious return is harmless:
    /// the caller takes what there is and waits again).
    fn wait(&self, deadline: Option<Instant>) -> std::io::Result<()> {
        if !self.queue().is_empty() {
            return Ok(());
        }
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            libc::timespec {
                tv_sec: left.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                // under 10^9: fits every c_long
                tv_nsec: left.subsec_nanos() as libc::c_long,
            }
        });
        let mut fd = libc::pollfd {
            fd: self.wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        // SAFETY: one live pollfd, a timespec that outlives the call or null, no signal mask.
        let n = unsafe { libc::ppoll(&mut fd, 1, ts, std::ptr::null()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.kind() {
                std::io::ErrorKind::Interrupted => Ok(()),
                _ => Err(e),
            };
        }
        if n > 0 {
            let mut count = [0u8; 8];
            // SAFETY: reads 8 bytes into a live array from our own eventfd, which ppoll found
            // readable and only this thread reads: it does not block.
            unsafe { libc::read(fd.fd, count.as_mut_ptr().cast(), count.len()) };
        }
        Ok(())
    }
}

/// Hands the ring's thread the stop when dropped: at the end of the core's loop, and when the
/// core's thread panics (the ring's would otherwise run on alone).
struct StopRing<'a>(&'a Outbox);

impl Drop for StopRing<'_> {
    fn drop(&mut self) {
        self.0.hand(&mut Vec::new(), true);
    }
}

/// Tells the core's thread the ring's has stopped when dropped, unless the core asked for it
/// (`stopped`): the ring failed, or its thread panicked.
struct Failed<'a, M> {
    inbox: &'a Inbox<M>,
    stopped: bool,
}

impl<M> Drop for Failed<'_, M> {
    fn drop(&mut self) {
        if !self.stopped {
            self.inbox.ring_failed();
        }
    }
}

/// The core's loop with the ring on a thread of its own: until `Stop` (true), or until either
/// thread fails (false, logged).
pub(super) fn run<M: Machine + 'static, O: Observer<M>>(mut core: Core<M, O>) -> bool {
    let outbox = match Outbox::new() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            tracing::error!(error = %e, "SIP UDP: no eventfd for the ring's thread; SIP stops");
            return false;
        }
    };
    let ring = {
        let (transport, inbox, outbox) =
            (core.transport.clone(), core.inbox.clone(), outbox.clone());
        let tap = core.tap.clone();
        std::thread::Builder::new()
            .name("causeway-sip-io".into())
            .spawn(move || ring_thread(&transport, &inbox, &outbox, tap.as_deref()))
    };
    let ring = match ring {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "SIP UDP: cannot start the ring's thread; SIP stops");
            return false;
        }
    };
    let stopped = {
        let _stop = StopRing(&outbox);
        core_turns(&mut core, &outbox)
    };
    // the ring's thread sends what it was handed, then stops (or has stopped already)
    let joined = ring.join().is_ok();
    stopped && joined
}

/// The core's turns: true at `Stop`, false when the ring's thread failed or the wait did.
fn core_turns<M: Machine, O: Observer<M>>(core: &mut Core<M, O>, outbox: &Outbox) -> bool {
    let mut out = Vec::new();
    let mut inputs = VecDeque::new();
    let mut handed = Vec::new();
    let tapped = core.tap.is_some();
    // the timers' slack, as on one thread (where the ring's batch wait holds them): a wake-up
    // exactly at each deadline would cost more wake-ups under load than the batch saves
    let slack = core.transport.udp_batch();
    loop {
        // what is left of a long queue is handled next turn, without waiting
        if inputs.is_empty() {
            let deadline = next_deadline(&core.machine, &core.observer).map(|d| d + slack);
            if let Err(e) = core.inbox.wait(deadline) {
                tracing::error!(error = %e, "SIP: the core's wait failed; SIP stops");
                return false;
            }
            core.inbox.take(&mut inputs);
        }
        let now = Instant::now();
        let mut stop = false;
        let n = inputs.len().min(TURN);
        for input in inputs.drain(..n) {
            // the ring's thread is gone: nothing handed to it would go out
            if matches!(input, Input::RingFailed) {
                return false;
            }
            stop |= core.input(input, now, &mut out, &mut Sink::Handed(&mut handed, tapped));
        }
        core.finish_turn(now, &mut out, Sink::Handed(&mut handed, tapped));
        // past the outbox's room the sends are refused, as a full socket's would be
        for item in outbox.hand(&mut handed, false) {
            if let Handed::Send(t) = item {
                core.transport.refuse(&t, "the SIP UDP thread is behind");
            }
        }
        if stop {
            return true;
        }
    }
}

/// The ring's thread: receives and sends until the core hands it the stop (or the ring fails,
/// or this thread panics, which `Failed` tells the core).
fn ring_thread<M>(
    transport: &TransportHandle,
    inbox: &Inbox<M>,
    outbox: &Outbox,
    tap: Option<&dyn Messages>,
) {
    let mut failed = Failed {
        inbox,
        stopped: false,
    };
    let mut ring = match UdpRing::new(transport, outbox.wake.as_raw_fd()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "SIP UDP: cannot set up io_uring; SIP stops");
            return;
        }
    };
    tracing::info!("SIP UDP on io_uring, on a thread of its own beside the core's");
    let mut events = Vec::new();
    let mut handed = Vec::new();
    // the core has datagrams from the last batch wait: the replies are coming
    let mut replies_due = false;
    let batch = ring.batch();
    loop {
        // after a batch wait that handed the core datagrams, one wait that ends on the first
        // completion, hoping for the core's eventfd: a batch wait here held the replies until
        // it ended. It may end on a new datagram instead (under load it often does), or at
        // the batch time if the core is slower; then the replies wait for the next batch wait
        // as before (up to about twice the batch time). Never twice in a row, so the ring's
        // thread wakes at most twice per batch.
        let waited = if replies_due {
            ring.wait_first(Some(Instant::now() + batch))
        } else {
            ring.wait(Some(Instant::now() + RING_TICK))
        };
        if let Err(e) = waited {
            tracing::error!(error = %e, "SIP UDP: io_uring failed; SIP stops");
            return;
        }
        ring.drain(&mut events);
        // (without a batch wait every wait ends on the first completion already)
        replies_due = !replies_due && !events.is_empty() && !batch.is_zero();
        if !events.is_empty() {
            inbox.push_datagrams(&mut events, &transport.stats().dropped_datagrams);
        }
        // every wake-up, not only the eventfd's: a lost completion would otherwise strand
        // the core's sends until the next tick
        let stop = outbox.take(&mut handed);
        for item in handed.drain(..) {
            match (item, tap) {
                (Handed::Received(r), Some(tap)) => tap.received(&r),
                (Handed::Sent(t), Some(tap)) => tap.sent(&t),
                (Handed::Send(t), tap) => {
                    if let Some(tap) = tap {
                        tap.sent(&t);
                    }
                    ring.send(t);
                }
                _ => {}
            }
        }
        if stop {
            failed.stopped = true;
            // the last sends go out before the ring is dropped
            let _ = ring.wait(Some(Instant::now()));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::{Received, Transmit};
    use bytes::Bytes;
    use causeway_config::Transport;

    fn datagram() -> TransportEvent {
        let a = "127.0.0.1:5060".parse().unwrap();
        TransportEvent::Message(Received {
            data: Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\n\r\n"),
            kind: Transport::Udp,
            local: a,
            remote: a,
            conn: None,
            mtls_peer: None,
        })
    }

    fn transmit(n: u8) -> Transmit {
        Transmit {
            kind: Transport::Udp,
            dest: "127.0.0.1:5062".parse().unwrap(),
            data: Bytes::from(vec![n]),
            conn: None,
            server_name: None,
            token: 0,
            reuse_only: false,
            client_tls: None,
            local: None,
        }
    }

    /// Whether the eventfd has a wake-up pending (taken if so), without waiting.
    fn woken(fd: &OwnedFd) -> bool {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd, no wait.
        if unsafe { libc::poll(&mut p, 1, 0) } != 1 {
            return false;
        }
        let mut n = [0u8; 8];
        // SAFETY: readable, our own eventfd, 8 bytes into a live array.
        unsafe { libc::read(p.fd, n.as_mut_ptr().cast(), 8) };
        true
    }

    #[test]
    fn datagrams_fill_the_inbox_only_up_to_the_reserve_the_rest_dropped_and_counted() {
        let inbox = Inbox::<()>::new().unwrap();
        let dropped = AtomicU64::new(0);
        let mut events = vec![datagram()];
        inbox.push_datagrams(&mut events, &dropped);
        assert!(events.is_empty());
        assert!(woken(&inbox.wake), "into an empty inbox: the core is woken");
        let mut events = (0..INBOX).map(|_| datagram()).collect();
        inbox.push_datagrams(&mut events, &dropped);
        assert!(events.is_empty());
        assert!(
            !woken(&inbox.wake),
            "into a queue not yet taken: no second wake-up"
        );
        assert_eq!(inbox.queue().len(), INBOX - RESERVE);
        assert_eq!(dropped.load(Relaxed), (RESERVE + 1) as u64);
    }

    #[test]
    fn the_core_does_not_wait_while_its_inbox_holds_something() {
        let inbox = Inbox::<()>::new().unwrap();
        // queued without a wake-up: only the look at the queue ends this wait at once
        inbox.queue().push_back(Input::Stop);
        let start = Instant::now();
        inbox.wait(Some(start + Duration::from_secs(5))).unwrap();
        assert!(start.elapsed() < Duration::from_secs(2));
        let mut taken = VecDeque::new();
        inbox.take(&mut taken);
        assert!(matches!(taken.drain(..).next(), Some(Input::Stop)));
        inbox.ring_failed();
        inbox.wait(None).unwrap();
        inbox.take(&mut taken);
        assert!(matches!(taken.front(), Some(Input::RingFailed)));
        // empty now, the failure's wake-up still pending: the wait takes it and returns
        inbox.wait(None).unwrap();
        assert!(!woken(&inbox.wake), "the wait took the wake-up");
    }

    #[test]
    fn the_outbox_wakes_the_ring_once_per_batch_keeps_the_order_and_carries_the_stop() {
        let outbox = Outbox::new().unwrap();
        assert!(outbox.hand(&mut Vec::new(), false).is_empty());
        assert!(!woken(&outbox.wake), "nothing to hand, no wake-up");
        let r = match datagram() {
            TransportEvent::Message(r) => r,
            _ => unreachable!(),
        };
        let mut items = vec![Handed::Received(r), Handed::Send(transmit(1))];
        assert!(outbox.hand(&mut items, false).is_empty());
        assert!(items.is_empty());
        outbox.hand(&mut vec![Handed::Sent(transmit(2))], false);
        assert!(woken(&outbox.wake));
        assert!(!woken(&outbox.wake), "one wake-up for both hand-offs");
        let mut taken = Vec::new();
        assert!(!outbox.take(&mut taken));
        let order: Vec<u8> = taken
            .iter()
            .map(|h| match h {
                Handed::Received(_) => 0,
                Handed::Send(t) | Handed::Sent(t) => t.data[0],
            })
            .collect();
        assert_eq!(order, [0, 1, 2], "in the order handed");
        outbox.hand(&mut Vec::new(), true);
        assert!(woken(&outbox.wake), "the stop wakes the ring");
        assert!(outbox.take(&mut Vec::new()));
    }

    #[test]
    fn the_outbox_gives_back_what_does_not_fit() {
        let outbox = Outbox::new().unwrap();
        let mut items: Vec<Handed> = (0..OUTBOX - 1).map(|_| Handed::Send(transmit(0))).collect();
        assert!(outbox.hand(&mut items, false).is_empty());
        let mut more = vec![Handed::Send(transmit(1)), Handed::Send(transmit(2))];
        let over = outbox.hand(&mut more, false);
        assert!(
            matches!(&over[..], [Handed::Send(t)] if t.data[0] == 2),
            "the last one"
        );
        let mut taken = Vec::new();
        outbox.take(&mut taken);
        assert_eq!(taken.len(), OUTBOX);
    }
}
