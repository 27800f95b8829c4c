//! The call history and the search history: the last calls with every SIP and H.323 message
//! the node received and sent for each (the message ladder), and the last routing decisions.
//! `feed` takes the messages from the drivers and the decisions from the routers; `store`
//! bounds what is kept; this module serves it as JSON on the admin listener:
//!
//! - `GET /calls`: the kept calls, newest first, without their messages, and the history's
//!   own figures (bytes kept, budget, calls evicted, messages dropped);
//! - `GET /calls/<id>`: one call (its Call-ID or callIdentifier, percent-encoded) with its
//!   `ladder`;
//! - `GET /searches`: the kept routing decisions, newest first.
//!
//! Must not touch the drivers' state: it only sees copies of what crossed the wire.

mod feed;
mod h323;
mod sip;
mod store;

pub use feed::Tap;
pub use store::Limits;

use super::server::Endpoint;
use causeway_config::Transport;
use serde::Serialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use store::{CallRecord, Ladder, Store};

/// The reading end, served by the admin listener.
#[derive(Clone)]
pub struct History {
    store: Arc<Mutex<Store>>,
    dropped: Arc<AtomicU64>,
}

/// Starts the worker that fills the H.323 and search histories (the SIP history is filled by
/// the tap itself); `locals` are the node's SIP listeners (the
/// address a datagram left from when its transmit did not name one).
pub fn start(limits: Limits, locals: Vec<(Transport, SocketAddr)>) -> (History, Tap) {
    let store = Arc::new(Mutex::new(Store::new(limits)));
    let dropped = Arc::new(AtomicU64::new(0));
    let (tx, rx) = std::sync::mpsc::sync_channel(feed::QUEUE);
    let worker_store = store.clone();
    let spawned = std::thread::Builder::new()
        .name("call-history".into())
        .spawn(move || feed::run(rx, worker_store));
    if let Err(e) = spawned {
        tracing::warn!("no H.323 call history or search history: cannot start its thread: {e}");
    }
    let tap = Tap::new(tx, dropped.clone(), store.clone(), locals);
    (History { store, dropped }, tap)
}

#[derive(Serialize)]
struct CallView<'a> {
    #[serde(flatten)]
    call: &'a CallRecord,
    state: &'static str,
    messages: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    ladder: Option<Ladder<'a>>,
}

impl<'a> CallView<'a> {
    fn of(call: &'a CallRecord, ladder: bool) -> CallView<'a> {
        CallView {
            call,
            state: call.state(),
            messages: call.ladder.len(),
            ladder: ladder.then_some(Ladder(call)),
        }
    }
}

impl History {
    fn calls_json(&self) -> Option<String> {
        let st = self.store.lock().ok()?;
        if st.limits().calls == 0 {
            return None;
        }
        let calls: Vec<CallView> = st.calls().map(|c| CallView::of(c, false)).collect();
        let v = json!({
            "calls": calls,
            "kept": st.len(),
            "bytes": st.bytes(),
            "budget": st.limits().bytes,
            "limit": st.limits().calls,
            "evicted": st.evicted,
            "dropped": self.dropped.load(Relaxed),
        });
        serde_json::to_string(&v).ok()
    }

    fn call_json(&self, id: &str) -> Option<String> {
        let st = self.store.lock().ok()?;
        let call = st.get(id)?;
        serde_json::to_string(&CallView::of(call, true)).ok()
    }

    fn searches_json(&self) -> Option<String> {
        let st = self.store.lock().ok()?;
        if st.limits().searches == 0 {
            return None;
        }
        let list: Vec<_> = st.searches().collect();
        serde_json::to_string(&json!({ "searches": list })).ok()
    }
}

impl Endpoint for History {
    fn get(&self, path: &str) -> Option<(&'static str, String)> {
        const JSON: &str = "application/json";
        let body = match path {
            "/calls" => self.calls_json(),
            "/searches" => self.searches_json(),
            _ => {
                let id = path.strip_prefix("/calls/")?;
                let id = percent_encoding::percent_decode_str(id)
                    .decode_utf8()
                    .ok()?;
                self.call_json(&id)
            }
        };
        body.map(|b| (JSON, b))
    }
}

#[cfg(test)]
mod tests;
