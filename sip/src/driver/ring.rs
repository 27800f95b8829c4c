//! The driver loop for a transport whose UDP listeners are on io_uring: the machine runs on a
//! thread of its own ("causeway-sip") that owns the listeners' ring (`UdpRing`), and blocks in
//! one `io_uring_enter` per wake-up, which submits the turn's sends and waits for datagrams,
//! the next deadline, or a wake-up through the inbox.
//!
//! What does not arrive on the ring (stream messages and the transport's other events, DNS
//! answers, reloads, shutdown) is forwarded by a task on the runtime into the inbox: a bounded
//! queue and an eventfd the ring has a read armed on. The forwarder waits for room when the
//! queue is full, so back-pressure reaches the transport's event queue as on the epoll path.
//!
//! With `[sip] threads = 2` the ring gets a thread of its own and the core's thread waits on
//! the inbox instead (`split`).
//!
//! It owns the thread and the inbox; feeding the machine and carrying out its outputs are the
//! driver's shared functions (`feed`, `carry_out`), so the loops behave alike.

mod split;

use super::{
    carry_out, feed, next_deadline, Answer, Control, Io, Lookups, Messages, Observer, Outlets,
    Resolvers, Sink,
};
use crate::proxy::{Event, Machine, Output};
use crate::transport::{TransportEvent, TransportHandle, UdpRing};
use causeway_media::Relay;
use std::collections::VecDeque;
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, Notify};

/// Inputs waiting in the inbox at most; the forwarder waits beyond.
const INBOX: usize = 16_384;

enum Input<M> {
    Transport(TransportEvent),
    Dns(Answer),
    Control(Control<M>),
    Stop,
    /// The ring's own thread has stopped: SIP stops.
    RingFailed,
}

/// A fresh eventfd, blocking on purpose: kernels before 6.x complete an io_uring read of an
/// O_NONBLOCK file with EAGAIN at once instead of waiting, which would spin the ring.
fn eventfd() -> std::io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers; a descriptor it returns is ours to own.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Adds one to an eventfd's counter (wakes its reader).
fn wake(fd: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: writes 8 bytes from a live array to our own eventfd. It fails only if the
    // counter were to overflow, when a wake-up is pending anyway.
    unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
}

/// The queue into the core's thread and what wakes it.
struct Inbox<M> {
    queue: Mutex<VecDeque<Input<M>>>,
    /// Read by the ring (one thread), or waited on by the core's thread (`split`).
    wake: OwnedFd,
    /// Told when the core has taken the queue (room again).
    room: Notify,
}

impl<M> Inbox<M> {
    fn new() -> std::io::Result<Inbox<M>> {
        Ok(Inbox {
            queue: Mutex::new(VecDeque::new()),
            wake: eventfd()?,
            room: Notify::new(),
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Input<M>>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `input` once there is room; wakes the core when the queue was empty (else the
    /// wake-up for the earlier input is still to be taken, and takes this one too).
    async fn push(&self, input: Input<M>) {
        loop {
            let room = self.room.notified();
            {
                let mut q = self.queue();
                if q.len() < INBOX {
                    let was_empty = q.is_empty();
                    q.push_back(input);
                    drop(q);
                    if was_empty {
                        self.wake();
                    }
                    return;
                }
            }
            room.await;
        }
    }

    fn wake(&self) {
        wake(&self.wake);
    }

    /// Everything queued, into `into`.
    fn take(&self, into: &mut VecDeque<Input<M>>) {
        std::mem::swap(&mut *self.queue(), into);
        self.room.notify_one();
    }
}

/// Starts the core's thread and forwards into its inbox until `shutdown`, then waits for the
/// thread to stop. An error when the thread could not start or stopped on its own (its ring
/// failed): SIP has stopped, so must the node.
pub(super) async fn run<M, O>(
    machine: M,
    io: Io,
    (shutdown, mut control): (
        impl Future<Output = ()>,
        mpsc::UnboundedReceiver<Control<M>>,
    ),
    observer: O,
) -> Result<(), String>
where
    M: Machine + Send + 'static,
    O: Observer<M> + Send + 'static,
{
    let inbox =
        Arc::new(Inbox::new().map_err(|e| format!("SIP: no eventfd for the core's thread: {e}"))?);
    let tap = observer.messages();
    let Io {
        transport,
        mut events,
        resolvers,
        relay,
    } = io;
    let (dns_tx, mut dns_rx) = mpsc::unbounded_channel::<Answer>();
    let core = Core {
        machine,
        observer,
        transport,
        resolvers,
        relay,
        dns: Lookups {
            tx: dns_tx,
            in_flight: 0,
        },
        inbox: inbox.clone(),
        tap,
    };
    let runtime = tokio::runtime::Handle::current();
    let split = core.transport.udp_thread();
    let (done_tx, mut done) = oneshot::channel::<bool>();
    let spawned = std::thread::Builder::new()
        .name("causeway-sip".into())
        .spawn(move || {
            // lookups and waits for socket room are tasks of the runtime
            let _runtime = runtime.enter();
            let _ = done_tx.send(if split { split::run(core) } else { core.run() });
        });
    if let Err(e) = spawned {
        return Err(format!("SIP: cannot start the core's thread: {e}"));
    }
    let failed = || Err("SIP: the core's thread stopped (see the log above)".to_string());
    tokio::pin!(shutdown);
    loop {
        let input = tokio::select! {
            biased;
            _ = &mut done => return failed(),
            _ = &mut shutdown => Input::Stop,
            Some(ev) = events.recv() => Input::Transport(ev),
            Some(answer) = dns_rx.recv() => Input::Dns(answer),
            Some(f) = control.recv() => Input::Control(f),
        };
        let stop = matches!(input, Input::Stop);
        tokio::select! {
            _ = inbox.push(input) => {}
            // gone while its inbox was full: nobody makes room any more
            _ = &mut done => return failed(),
        }
        if stop {
            break;
        }
    }
    match done.await {
        Ok(true) => Ok(()),
        _ => failed(),
    }
}

/// What the core's thread owns.
struct Core<M, O> {
    machine: M,
    observer: O,
    transport: TransportHandle,
    resolvers: Resolvers,
    relay: Option<Arc<dyn Relay + Send + Sync>>,
    dns: Lookups,
    inbox: Arc<Inbox<M>>,
    /// What is shown every message in and out.
    tap: Option<Arc<dyn Messages>>,
}

impl<M: Machine, O: Observer<M>> Core<M, O> {
    /// Until `Stop` (true), or until the ring fails (false, logged).
    fn run(mut self) -> bool {
        let mut ring = match UdpRing::new(&self.transport, self.inbox.wake.as_raw_fd()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "SIP UDP: cannot set up io_uring; SIP stops");
                return false;
            }
        };
        tracing::info!("SIP UDP on io_uring, the core on its own thread");
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut inputs = VecDeque::new();
        // its own handle: `self.input` borrows all of `self` while the sink holds the tap
        let tap = self.tap.clone();
        loop {
            let deadline = next_deadline(&self.machine, &self.observer);
            if let Err(e) = ring.wait(deadline) {
                tracing::error!(error = %e, "SIP UDP: io_uring failed; SIP stops");
                return false;
            }
            let now = Instant::now();
            let woken = ring.drain(&mut events);
            let sink = &mut Sink::Ring(&mut ring, tap.as_deref());
            for ev in events.drain(..) {
                feed(
                    &mut self.machine,
                    (ev, &self.transport),
                    now,
                    &mut out,
                    sink,
                );
            }
            let mut stop = false;
            // not only when woken: were the eventfd's completion ever lost, the queue would
            // still be taken
            if woken || !self.inbox.queue().is_empty() {
                self.inbox.take(&mut inputs);
                for input in inputs.drain(..) {
                    stop |= self.input(input, now, &mut out, sink);
                }
            }
            self.finish_turn(now, &mut out, Sink::Ring(&mut ring, tap.as_deref()));
            if stop {
                // the last turn's sends go out before the ring is dropped
                let _ = ring.wait(Some(now));
                return true;
            }
        }
    }

    /// The end of a turn: what is due, the outputs carried out (into `sink`), the observer's
    /// look.
    fn finish_turn(&mut self, now: Instant, out: &mut Vec<Output>, sink: Sink<'_>) {
        if self.machine.poll_timeout().is_some_and(|t| t <= now) {
            self.machine.handle_timeout(now, out);
        }
        let mut outlets = Outlets {
            transport: &self.transport,
            resolvers: &self.resolvers,
            relay: self.relay.as_ref(),
            sink,
        };
        carry_out(&mut self.machine, &mut outlets, &mut self.dns, out);
        self.observer.observe(&self.machine, now);
    }

    /// One input from the inbox (a message shown into `sink`); true for `Stop` (and
    /// `RingFailed`, which the split loop stops at before it gets here).
    fn input(
        &mut self,
        input: Input<M>,
        now: Instant,
        out: &mut Vec<Output>,
        sink: &mut Sink<'_>,
    ) -> bool {
        match input {
            Input::Transport(ev) => feed(&mut self.machine, (ev, &self.transport), now, out, sink),
            Input::Dns((ctx, answer)) => {
                self.dns.in_flight = self.dns.in_flight.saturating_sub(1);
                self.machine.handle(Event::Dns { ctx, answer }, now, out);
            }
            Input::Control(f) => f(&mut self.machine, now, out),
            Input::Stop | Input::RingFailed => return true,
        }
        false
    }
}
