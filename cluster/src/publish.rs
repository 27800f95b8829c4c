//! Drives the directory (see `directory` for the protocol and why a full-mesh push): the
//! shared [`Exchange`] (this peer's [`Outbox`], the others' [`Inbox`], the application's
//! sink), one publisher task per other peer, each on its own connection, and one task that
//! forgets the peers gone silent.
//!
//! A publisher sends as soon as the outbox changes, and at least every `PUBLISH_EVERY`
//! (the heartbeat). After a failure the target gets the full state; an unreachable or
//! refusing peer is retried after a backoff of 250 ms doubling to 1 s, so a dead peer costs
//! one dial a second at most.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::directory::{
    DirectorySink, Inbox, Outbox, Publication, Reply, SetOutcome, Tell, PUBLISH_EVERY,
};
use crate::net::{CallError, PeerClient, Shared};
use crate::wire::{self, Request, Response};

/// One publication's whole exchange, dialling included.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How often silent peers are looked for; a dead one is forgotten within `DEAD_AFTER` plus
/// this.
const EXPIRE_EVERY: Duration = Duration::from_millis(500);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A new process incarnation's epoch: the standard library's per-process random hash keys
/// over the time and the process id (no extra dependency for one number).
pub fn random_epoch() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

/// What the publishers, the server and the status share.
pub struct Exchange {
    outbox: Mutex<Outbox>,
    inbox: Mutex<Inbox>,
    /// Held while the sink is told something (the inbox itself is not), so that a
    /// connection and the expiry cannot tell one peer's news out of order, and a sink that
    /// asks for the status does not deadlock.
    telling: Mutex<()>,
    sink: Option<Arc<dyn DirectorySink>>,
    wake: watch::Sender<()>,
}

impl Exchange {
    pub fn new(epoch: u64, sink: Option<Arc<dyn DirectorySink>>) -> Exchange {
        Exchange {
            outbox: Mutex::new(Outbox::new(epoch)),
            inbox: Mutex::new(Inbox::new()),
            telling: Mutex::new(()),
            sink,
            wake: watch::Sender::new(()),
        }
    }

    /// Set this peer's state; wakes the publishers when it changed.
    pub fn publish(
        &self,
        about: BTreeMap<String, String>,
        entries: BTreeMap<String, String>,
    ) -> SetOutcome {
        let outcome = lock(&self.outbox).set(about, entries);
        if outcome.changed {
            self.wake.send_replace(());
        }
        outcome
    }

    /// Set only this peer's `about`; the next publication (a heartbeat at the latest) carries
    /// it, so nobody is woken.
    pub fn publish_about(&self, about: BTreeMap<String, String>) -> SetOutcome {
        lock(&self.outbox).set_about(about)
    }

    fn tell(&self, tells: &[Tell]) {
        if let Some(sink) = &self.sink {
            for t in tells {
                t.deliver(sink.as_ref());
            }
        }
    }

    /// A publication from `from` (the connection's authenticated peer id).
    pub fn receive(&self, from: u64, publication: Publication) -> Reply {
        let _telling = lock(&self.telling);
        let (reply, tells) = lock(&self.inbox).receive(from, publication, Instant::now());
        if let Reply::Refused(reason) = &reply {
            tracing::warn!(peer = from, %reason, "cluster: directory publication refused");
        }
        self.tell(&tells);
        reply
    }

    fn expire(&self, now: Instant) {
        let _telling = lock(&self.telling);
        let dead = lock(&self.inbox).expire(now);
        for peer in dead {
            tracing::info!(peer, "cluster: peer silent, its directory entries dropped");
            self.tell(&[Tell::Forget { peer }]);
        }
    }

    /// This peer's own entry count and `about`.
    pub fn own(&self) -> (usize, BTreeMap<String, String>) {
        let out = lock(&self.outbox);
        (out.entries().len(), out.about().clone())
    }

    /// What is held from `peer`: entry count and `about`.
    pub fn held(&self, peer: u64) -> Option<(usize, BTreeMap<String, String>)> {
        let inbox = lock(&self.inbox);
        let entries = inbox.entries(peer)?.len();
        Some((entries, inbox.about(peer).cloned().unwrap_or_default()))
    }
}

/// Start one publisher per other peer and the expiry; they end when `stop` changes.
pub fn spawn(
    exchange: &Arc<Exchange>,
    shared: &Arc<Shared>,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut tasks: Vec<JoinHandle<()>> = shared
        .peers
        .iter()
        .filter(|(&id, _)| id != shared.node_id)
        .map(|(&id, &addr)| {
            let client = PeerClient::new(shared.clone(), id, addr);
            tokio::spawn(publisher(exchange.clone(), client, id, stop.clone()))
        })
        .collect();
    tasks.push(tokio::spawn(expiry(exchange.clone(), stop.clone())));
    tasks
}

/// What one exchange came to.
enum Outcome {
    /// More to send right away (a further part, changes made meanwhile, a full state asked).
    Again,
    /// Up to date: wait for a change or the heartbeat.
    Idle,
    /// Failed: wait the backoff.
    Backoff,
}

async fn publish_once(ex: &Exchange, client: &mut PeerClient, target: u64) -> Outcome {
    let publication = lock(&ex.outbox).publication_for(target);
    let reset = publication.reset;
    let frame = match wire::encode(&Request::Publish(publication)) {
        Ok(frame) => frame,
        Err(e) => {
            tracing::warn!(peer = target, error = %e, "cluster: directory publication not sendable");
            lock(&ex.outbox).failed(target);
            return Outcome::Backoff;
        }
    };
    let reply = client.call(&frame, CALL_TIMEOUT).await;
    let mut out = lock(&ex.outbox);
    match reply {
        Ok(Response::Published(Reply::Ok { seq })) => {
            out.acknowledged(target, seq);
            if out.behind(target) {
                Outcome::Again
            } else {
                Outcome::Idle
            }
        }
        // A reset is always applicable; NeedFull to one would loop.
        Ok(Response::Published(Reply::NeedFull)) if !reset => {
            out.failed(target);
            Outcome::Again
        }
        Ok(Response::Published(Reply::Refused(reason))) => {
            tracing::warn!(peer = target, %reason, "cluster: peer refused our directory state");
            out.failed(target);
            Outcome::Backoff
        }
        Ok(_) => {
            tracing::warn!(
                peer = target,
                "cluster: unexpected answer to a directory publication"
            );
            out.failed(target);
            Outcome::Backoff
        }
        Err(e) => {
            if !matches!(e, CallError::Unreachable(..)) {
                tracing::debug!(peer = target, error = %e, "cluster: directory publication failed");
            }
            // No answer says nothing of what the peer holds: the next publication starts
            // from what it acknowledged last (the peer takes it again if it had applied this
            // one, and asks for everything if it lost our state).
            Outcome::Backoff
        }
    }
}

async fn publisher(
    ex: Arc<Exchange>,
    mut client: PeerClient,
    target: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut wake = ex.wake.subscribe();
    let mut backoff = BACKOFF_MIN;
    loop {
        // Changes made from here on wake the wait below.
        wake.borrow_and_update();
        let outcome = tokio::select! {
            _ = stop.changed() => return,
            outcome = publish_once(&ex, &mut client, target) => outcome,
        };
        let pause = match outcome {
            Outcome::Again => {
                backoff = BACKOFF_MIN;
                continue;
            }
            Outcome::Idle => {
                backoff = BACKOFF_MIN;
                PUBLISH_EVERY
            }
            Outcome::Backoff => {
                let pause = backoff;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                pause
            }
        };
        let woken = async {
            // After a failure, a change does not cut the backoff short.
            if matches!(outcome, Outcome::Backoff) || wake.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            _ = woken => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

async fn expiry(ex: Arc<Exchange>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EXPIRE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => ex.expire(Instant::now()),
        }
    }
}
