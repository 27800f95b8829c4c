//! From the wire to the store: the [`Tap`] the SIP driver, the H.323 driver and the routers
//! call, and the worker thread behind it.
//!
//! SIP messages are stored by the SIP driver as they pass, on the machine's thread (or, with
//! `[sip] threads = 2`, on the UDP ring's thread, which the machine hands them to in order): a
//! glance (`sip::classify`, no parse), a copy of the bytes and a push under the store's lock
//! (which readers hold only to copy out what they serve). Measured (`bench/cps.sh history`): queueing each message to
//! the worker instead cost the node 40-100 µs per call (thread wake-ups, cross-thread frees of
//! the transport's buffers, a shared-buffer promotion per clone), several times this.
//!
//! H.323 messages and routing decisions are queued to the worker: decoding PER for the ladder
//! costs tens of µs, and the gatekeeper's RAS flow must not pay it. A full queue drops and
//! counts (`dropped`), never blocks a driver.

use super::h323::Links;
use super::sip;
use super::store::{Content, Dir, Effect, Head, Protocol, Search, Store};
use causeway_config::Transport;
use causeway_h323::driver::{Channel, Tapped};
use causeway_sip::message::Bytes;
use causeway_sip::proxy::{Received, Transmit};
use causeway_zones::{Route, RouteRequest, SearchRecorder};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Messages waiting for the worker; a burst beyond it is dropped (and counted), never queued
/// without bound.
pub const QUEUE: usize = 16 * 1024;

/// One thing the worker stores.
pub enum Wire {
    H323 {
        t: f64,
        dir: Dir,
        channel: Channel,
        call: Option<u64>,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    },
    Search(Search),
}

/// The feeding end, cloned into every part that sees messages or routes.
#[derive(Clone)]
pub struct Tap {
    tx: SyncSender<Wire>,
    dropped: Arc<AtomicU64>,
    calls: bool,
    searches: bool,
    store: Arc<Mutex<Store>>,
    /// The node's SIP listeners (the address a datagram left from when its transmit did not
    /// name one).
    locals: Arc<[(Transport, SocketAddr)]>,
}

/// The SIP driver shows the tap every message, from the thread that moves it.
impl causeway_sip::driver::Messages for Tap {
    fn received(&self, m: &Received) {
        self.sip_received(m);
    }

    fn sent(&self, m: &Transmit) {
        self.sip_sent(m);
    }
}

impl Tap {
    pub(super) fn new(
        tx: SyncSender<Wire>,
        dropped: Arc<AtomicU64>,
        store: Arc<Mutex<Store>>,
        locals: Vec<(Transport, SocketAddr)>,
    ) -> Tap {
        let limits = store.lock().map(|s| s.limits()).ok();
        Tap {
            tx,
            dropped,
            calls: limits.is_some_and(|l| l.calls > 0),
            searches: limits.is_some_and(|l| l.searches > 0),
            store,
            locals: locals.into(),
        }
    }

    fn queue(&self, w: Wire) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(w) {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    pub fn sip_received(&self, r: &Received) {
        self.sip(Dir::In, r.kind, Some(r.local), r.remote, &r.data);
    }

    pub fn sip_sent(&self, t: &Transmit) {
        self.sip(Dir::Out, t.kind, t.local, t.dest, &t.data);
    }

    /// Stores a SIP message of a call, here and now (see the module doc).
    fn sip(
        &self,
        dir: Dir,
        kind: Transport,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        data: &[u8],
    ) {
        if !self.calls {
            return;
        }
        let Some(seen) = sip::classify(data, dir) else {
            return;
        };
        let head = Head {
            t: now(),
            dir,
            transport: kind.via_token(),
            local: local.unwrap_or_else(|| listener(&self.locals, kind, remote)),
            remote,
        };
        let content = Content::Sip(&data[..data.len().min(sip::MAX_TEXT + 1)]);
        let start = seen.start.map(|(f, to)| (Protocol::Sip, f, to));
        if let Ok(mut st) = self.store.lock() {
            keep(&mut st, seen.call_id, start, head, content, seen.effect);
        }
    }

    fn h323(&self, dir: Dir, m: Tapped<'_>) {
        if self.calls {
            self.queue(Wire::H323 {
                t: now(),
                dir,
                channel: m.channel,
                call: m.call,
                local: m.local,
                remote: m.remote,
                data: Bytes::copy_from_slice(m.bytes),
            });
        }
    }
}

impl causeway_h323::driver::Tap for Tap {
    fn received(&self, m: Tapped<'_>) {
        self.h323(Dir::In, m);
    }
    fn sent(&self, m: Tapped<'_>) {
        self.h323(Dir::Out, m);
    }
}

impl SearchRecorder for Tap {
    fn record(&self, rq: &RouteRequest<'_>, route: &Route) {
        if !self.searches {
            return;
        }
        let targets: Vec<String> = route
            .targets
            .iter()
            .map(|t| format!("{} {} (rule \"{}\")", t.zone, t.alias, t.rule))
            .collect();
        let outcome = match targets.len() {
            0 => "no route".into(),
            1 => "1 target".into(),
            n => format!("{n} targets").into(),
        };
        self.queue(Wire::Search(Search {
            t: now(),
            alias: rq.alias.to_string(),
            source_zone: rq.source_zone.to_string(),
            protocol: match rq.protocol {
                causeway_zones::Protocol::Sip => "sip",
                causeway_zones::Protocol::H323 => "h323",
            },
            trace: route.trace.clone(),
            targets,
            outcome,
        }));
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How long the worker rests between batches. While it rests, a tap's push wakes no thread:
/// one wake-up per message (the first version) doubled the node's CPU per call. At 5000
/// calls/s of 14 messages a pause queues 1400 messages, well within `QUEUE`.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// What one queued thing becomes in the store.
enum Item {
    Message {
        key: String,
        start: Option<(Protocol, String, String)>,
        head: Head,
        channel: Channel,
        data: Bytes,
        effect: Effect,
    },
    Search(Search),
}

/// The worker: stores what the taps queue, a batch at a time, until every tap is gone.
pub fn run(rx: Receiver<Wire>, store: Arc<Mutex<Store>>) {
    let mut links = Links::default();
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.extend(item(first, &mut links));
        while let Ok(w) = rx.try_recv() {
            batch.extend(item(w, &mut links));
        }
        if let Ok(mut st) = store.lock() {
            for i in batch.drain(..) {
                keep_item(&mut st, i);
            }
        }
        batch.clear();
        std::thread::sleep(PAUSE);
    }
}

/// Decodes one queued thing and finds its call (outside the store's lock).
fn item(w: Wire, links: &mut Links) -> Option<Item> {
    match w {
        Wire::H323 {
            t,
            dir,
            channel,
            call,
            local,
            remote,
            data,
        } => {
            let seen = links.classify(channel, call, remote, &data)?;
            let head = Head {
                t,
                dir,
                transport: if channel == Channel::Ras {
                    "UDP"
                } else {
                    "TCP"
                },
                local,
                remote,
            };
            Some(Item::Message {
                key: seen.key,
                start: seen.start.map(|(f, to)| (Protocol::H323, f, to)),
                head,
                channel,
                data,
                effect: seen.effect,
            })
        }
        Wire::Search(s) => Some(Item::Search(s)),
    }
}

/// Starts the call when the message starts one, then adds the message to it if it is kept.
fn keep(
    st: &mut Store,
    key: &str,
    start: Option<(Protocol, String, String)>,
    head: Head,
    content: Content<'_>,
    effect: Effect,
) {
    if let Some((protocol, from, to)) = start {
        if !st.contains(key) {
            st.start(key, protocol, &from, &to, head.t);
        }
    }
    st.push(key, head, content, effect);
}

fn keep_item(st: &mut Store, item: Item) {
    match item {
        Item::Message {
            key,
            start,
            head,
            channel,
            data,
            effect,
        } => {
            let content = Content::H323(channel, &data);
            keep(st, &key, start, head, content, effect);
        }
        Item::Search(s) => st.add_search(s),
    }
}

/// The listener a datagram left from when the transmit did not say (the first socket of its
/// transport and address family).
fn listener(locals: &[(Transport, SocketAddr)], kind: Transport, remote: SocketAddr) -> SocketAddr {
    locals
        .iter()
        .find(|(k, a)| *k == kind && a.is_ipv4() == remote.is_ipv4())
        .map(|(_, a)| *a)
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
}
