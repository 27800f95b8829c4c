//! From the wire to the store: the [`Tap`] the SIP driver, the H.323 driver and the routers
//! call (it stamps the time, copies what it must and queues; it never blocks them: when the
//! queue is full the message is counted as dropped), and the worker thread that decodes each
//! queued message, finds its call (`sip`, `h323`) and stores it.
//!
//! The decoding runs on the worker, not on the drivers' tasks: the cost of the history on the
//! SIP path is a clock read, a reference-counted clone and a queue push per message.

use super::h323::Links;
use super::sip;
use super::store::{Dir, Effect, Msg, Protocol, Search, Store};
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
    Sip {
        t: f64,
        dir: Dir,
        kind: Transport,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        data: Bytes,
    },
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
}

impl Tap {
    pub(super) fn new(
        tx: SyncSender<Wire>,
        dropped: Arc<AtomicU64>,
        calls: bool,
        searches: bool,
    ) -> Tap {
        Tap {
            tx,
            dropped,
            calls,
            searches,
        }
    }

    fn queue(&self, w: Wire) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(w) {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    pub fn sip_received(&self, r: &Received) {
        if self.calls {
            self.queue(Wire::Sip {
                t: now(),
                dir: Dir::In,
                kind: r.kind,
                local: Some(r.local),
                remote: r.remote,
                data: r.data.clone(),
            });
        }
    }

    pub fn sip_sent(&self, t: &Transmit) {
        if self.calls {
            self.queue(Wire::Sip {
                t: now(),
                dir: Dir::Out,
                kind: t.kind,
                local: t.local,
                remote: t.dest,
                data: t.data.clone(),
            });
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
            0 => "no route".to_string(),
            1 => "1 target".to_string(),
            n => format!("{n} targets"),
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
        msg: Msg,
        effect: Effect,
    },
    Search(Search),
}

/// The worker: stores what the taps queue, a batch at a time, until every tap is gone.
pub fn run(rx: Receiver<Wire>, store: Arc<Mutex<Store>>, locals: Vec<(Transport, SocketAddr)>) {
    let mut links = Links::default();
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.extend(item(first, &locals, &mut links));
        while let Ok(w) = rx.try_recv() {
            batch.extend(item(w, &locals, &mut links));
        }
        if let Ok(mut st) = store.lock() {
            for i in batch.drain(..) {
                keep(&mut st, i);
            }
        }
        batch.clear();
        std::thread::sleep(PAUSE);
    }
}

/// Decodes one queued thing and finds its call (outside the store's lock).
fn item(w: Wire, locals: &[(Transport, SocketAddr)], links: &mut Links) -> Option<Item> {
    match w {
        Wire::Sip {
            t,
            dir,
            kind,
            local,
            remote,
            data,
        } => {
            let seen = sip::classify(&data, dir)?;
            let local = local.unwrap_or_else(|| listener(locals, kind, remote));
            let msg = Msg {
                t,
                dir,
                transport: kind.via_token(),
                local,
                remote,
                summary: seen.summary.into(),
                text: seen.text.into(),
            };
            Some(Item::Message {
                key: seen.call_id,
                start: seen.start.map(|(f, to)| (Protocol::Sip, f, to)),
                msg,
                effect: seen.effect,
            })
        }
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
            let msg = Msg {
                t,
                dir,
                transport: if channel == Channel::Ras {
                    "UDP"
                } else {
                    "TCP"
                },
                local,
                remote,
                summary: seen.summary.into(),
                text: seen.text.into(),
            };
            Some(Item::Message {
                key: seen.key,
                start: seen.start.map(|(f, to)| (Protocol::H323, f, to)),
                msg,
                effect: seen.effect,
            })
        }
        Wire::Search(s) => Some(Item::Search(s)),
    }
}

/// Starts the call when the message starts one, then adds the message to it if it is kept.
fn keep(st: &mut Store, item: Item) {
    match item {
        Item::Message {
            key,
            start,
            msg,
            effect,
        } => {
            if let Some((protocol, from, to)) = start {
                if !st.contains(&key) {
                    st.start(&key, protocol, &from, &to, msg.t);
                }
            }
            st.push(&key, msg, effect);
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
