//! SIP on io_uring with two threads (`[sip] threads = 2`): the UDP listeners' ring on a thread
//! of its own ("causeway-sip-io"), the machine on the core's ("causeway-sip").
//!
//! The ring's thread receives, shows each datagram to the tap (the call history) and queues it
//! in the core's inbox, in one lock per wake-up. It takes what the core hands it in the
//! outbox, shows it to the tap and sends it. The core's thread waits on its inbox's eventfd
//! (`ppoll`, until the machine's next deadline), then turns as the one-thread loop does, except
//! that its UDP sends go to the outbox: one lock and at most one wake-up per turn.
//!
//! Why: on one thread, the ring's system calls and the call history take about half of a
//! call's CPU. Here they run beside the machine, so the node carries more calls per second than
//! one core would. Every message crosses between the threads once, which costs CPU per call:
//! one thread stays the default.
//!
//! It owns the ring's thread, the outbox and the core thread's wait. The machine's turn is
//! `Core`'s, the sockets' the ring's.

use super::{eventfd, wake, Core, Inbox, Input, INBOX};
use crate::driver::{next_deadline, Messages, Observer, Udp};
use crate::proxy::{Machine, Transmit};
use crate::transport::{TransportEvent, TransportHandle, UdpRing};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the core hands the ring's thread: messages to send, and whether to stop after them.
#[derive(Default)]
struct Handoff {
    sends: Vec<Transmit>,
    stop: bool,
}

/// The queue into the ring's thread and the eventfd its ring has a read armed on.
struct Outbox {
    queue: Mutex<Handoff>,
    wake: OwnedFd,
}

impl Outbox {
    fn queue(&self) -> std::sync::MutexGuard<'_, Handoff> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands over `sends` (emptied), and the stop; wakes the ring's thread when it had nothing
    /// pending (else the wake-up for the earlier hand-off is still to be taken).
    fn hand(&self, sends: &mut Vec<Transmit>, stop: bool) {
        if sends.is_empty() && !stop {
            return;
        }
        let mut q = self.queue();
        let was_empty = q.sends.is_empty() && !q.stop;
        q.sends.append(sends);
        q.stop |= stop;
        drop(q);
        if was_empty {
            wake(&self.wake);
        }
    }

    /// What was handed over, into `into` (empty); true when the ring's thread is to stop.
    fn take(&self, into: &mut Vec<Transmit>) -> bool {
        let mut q = self.queue();
        std::mem::swap(&mut q.sends, into);
        q.stop
    }
}

impl<M> Inbox<M> {
    /// The ring thread's datagrams, queued at once. Messages past the inbox's room are dropped
    /// and counted, as a full socket drops them; other events (a failed send) always go in.
    fn push_datagrams(&self, events: &mut Vec<TransportEvent>, dropped_datagrams: &AtomicU64) {
        let mut q = self.queue();
        let was_empty = q.is_empty();
        let mut dropped = 0u64;
        for ev in events.drain(..) {
            if q.len() >= INBOX && matches!(ev, TransportEvent::Message(_)) {
                dropped += 1;
            } else {
                q.push_back(Input::Udp(ev));
            }
        }
        let wake = was_empty && !q.is_empty();
        drop(q);
        if wake {
            self.wake();
        }
        if dropped > 0 {
            dropped_datagrams.fetch_add(dropped, Relaxed);
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
                tv_nsec: left.subsec_nanos().into(),
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

/// The core's loop with the ring on a thread of its own: until `Stop` (true), or until either
/// thread fails (false, logged).
pub(super) fn run<M: Machine + 'static, O: Observer<M>>(mut core: Core<M, O>) -> bool {
    let outbox = match eventfd() {
        Ok(wake) => Arc::new(Outbox {
            queue: Mutex::new(Handoff::default()),
            wake,
        }),
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
    tracing::info!("SIP UDP on io_uring, on a thread of its own beside the core's");
    let stopped = core_turns(&mut core, &outbox);
    // the ring's thread sends what it was handed, then stops (or has stopped already)
    outbox.hand(&mut Vec::new(), true);
    let _ = ring.join();
    stopped
}

/// The core's turns: true at `Stop`, false when the ring's thread failed or the wait did.
fn core_turns<M: Machine, O: Observer<M>>(core: &mut Core<M, O>, outbox: &Outbox) -> bool {
    let mut out = Vec::new();
    let mut inputs = VecDeque::new();
    let mut sends = Vec::new();
    loop {
        let deadline = next_deadline(&core.machine, &core.observer);
        if let Err(e) = core.inbox.wait(deadline) {
            tracing::error!(error = %e, "SIP: the core's wait failed; SIP stops");
            return false;
        }
        let now = Instant::now();
        core.inbox.take(&mut inputs);
        if inputs.iter().any(|i| matches!(i, Input::RingFailed)) {
            return false;
        }
        let mut stop = false;
        for input in inputs.drain(..) {
            stop |= core.input(input, now, &mut out);
        }
        core.finish_turn(now, &mut out, Udp::Queue(&mut sends));
        outbox.hand(&mut sends, false);
        if stop {
            return true;
        }
    }
}

/// The ring's thread: receives and sends until the core hands it the stop (or the ring fails,
/// which it tells the core).
fn ring_thread<M>(
    transport: &TransportHandle,
    inbox: &Inbox<M>,
    outbox: &Outbox,
    tap: Option<&dyn Messages>,
) {
    let mut ring = match UdpRing::new(transport, outbox.wake.as_raw_fd()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "SIP UDP: cannot set up io_uring; SIP stops");
            inbox.ring_failed();
            return;
        }
    };
    let mut events = Vec::new();
    let mut sends = Vec::new();
    loop {
        if let Err(e) = ring.wait(None) {
            tracing::error!(error = %e, "SIP UDP: io_uring failed; SIP stops");
            inbox.ring_failed();
            return;
        }
        ring.drain(&mut events);
        if !events.is_empty() {
            if let Some(tap) = tap {
                show(tap, &events, transport);
            }
            inbox.push_datagrams(&mut events, &transport.stats().dropped_datagrams);
        }
        // every wake-up, not only the eventfd's: a lost completion would otherwise strand
        // the core's sends
        let stop = outbox.take(&mut sends);
        for t in sends.drain(..) {
            if let Some(tap) = tap {
                tap.sent(&t);
            }
            ring.send(t);
        }
        if stop {
            // the last sends go out before the ring is dropped
            let _ = ring.wait(Some(Instant::now()));
            return;
        }
    }
}

/// Shows the tap the datagrams the core will see (a blocked source's are not: the core drops
/// them too).
fn show(tap: &dyn Messages, events: &[TransportEvent], transport: &TransportHandle) {
    let now = Instant::now();
    for ev in events {
        if let TransportEvent::Message(r) = ev {
            if !transport.is_blocked(r.remote.ip(), now) {
                tap.received(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::Received;
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
    fn datagrams_past_the_inbox_room_are_dropped_and_counted_other_events_never() {
        let inbox = Inbox::<()>::new().unwrap();
        let dropped = AtomicU64::new(0);
        let mut events = vec![datagram()];
        inbox.push_datagrams(&mut events, &dropped);
        assert!(events.is_empty());
        assert!(woken(&inbox.wake), "into an empty inbox: the core is woken");
        let mut events = (1..INBOX).map(|_| datagram()).collect();
        inbox.push_datagrams(&mut events, &dropped);
        assert!(
            !woken(&inbox.wake),
            "into a queue not yet taken: no second wake-up"
        );
        assert_eq!(inbox.queue().len(), INBOX);
        let failed = TransportEvent::SendFailed {
            token: 7,
            error: "refused".into(),
        };
        let mut events = vec![datagram(), failed, datagram()];
        inbox.push_datagrams(&mut events, &dropped);
        assert_eq!(dropped.load(Relaxed), 2);
        assert_eq!(inbox.queue().len(), INBOX + 1);
        assert!(matches!(
            inbox.queue().back(),
            Some(Input::Udp(TransportEvent::SendFailed { token: 7, .. }))
        ));
    }

    #[test]
    fn the_core_does_not_wait_while_its_inbox_holds_something() {
        let inbox = Inbox::<()>::new().unwrap();
        inbox.ring_failed();
        // no deadline: a wait that blocked here would never end
        inbox.wait(None).unwrap();
        let mut taken = VecDeque::new();
        inbox.take(&mut taken);
        assert!(matches!(taken.front(), Some(Input::RingFailed)));
        // empty now, the failure's wake-up still pending: the wait takes it and returns
        inbox.wait(None).unwrap();
        assert!(!woken(&inbox.wake), "the wait took the wake-up");
    }

    #[test]
    fn the_outbox_wakes_the_ring_once_per_batch_and_carries_the_stop() {
        let outbox = Outbox {
            queue: Mutex::new(Handoff::default()),
            wake: eventfd().unwrap(),
        };
        outbox.hand(&mut Vec::new(), false);
        assert!(!woken(&outbox.wake), "nothing to hand, no wake-up");
        let mut sends = vec![transmit(1)];
        outbox.hand(&mut sends, false);
        assert!(sends.is_empty());
        outbox.hand(&mut vec![transmit(2)], false);
        assert!(woken(&outbox.wake));
        assert!(!woken(&outbox.wake), "one wake-up for both hand-offs");
        let mut taken = Vec::new();
        assert!(!outbox.take(&mut taken));
        let bytes: Vec<u8> = taken.iter().map(|t| t.data[0]).collect();
        assert_eq!(bytes, [1, 2], "in the order handed");
        outbox.hand(&mut Vec::new(), true);
        assert!(woken(&outbox.wake), "the stop wakes the ring");
        assert!(outbox.take(&mut Vec::new()));
    }
}
