//! [`CallSignaling`]: the connection table (which TCP connection is which call's caller,
//! callee or H.245 leg), the call table, the dispatch of every [`Input`] to the part that
//! handles it, and the timers.
//!
//! Sans-IO: no sockets, no clock (every entry point takes `now`). Must not touch the
//! registration table or the router; it asks with [`Output::Route`].
//!
//! Layout (each file an `impl CallSignaling` block with its own decisions):
//! - `setup`: the first message of a connection, the caller's Setup, routing, and the Setup
//!   to the callee;
//! - `relay`: relaying Q.931 messages between the legs, the call state they move, the send
//!   queues, and what a message goes through on the way (h245Address relay, the media anchor);
//! - `h245_channel`: separate H.245 channels (offers, listeners, the two connections);
//!   `h245_traversal` what differs when one leg is a traversal link (nothing opened towards C);
//! - `clearing`: ReleaseComplete to each side, closing everything of a call.
//!
//! Decisions kept here, because they span those parts (references are to H.225.0 v7 and
//! H.323 v7; the others are in the file whose code makes them):
//! - One call per signaling connection (multipleCalls is not offered; a message with another
//!   call reference is answered with ReleaseComplete cause 81, Q.931 5.8.3.2).
//! - The media anchor is asked once per call, at the Setup, whether it wants the call
//!   (`MediaAnchor::wants`, the `[media] anchor` policy; the callee leg is not known then, and
//!   no H.323 leg is a traversal link yet). Only a wanted call's H.245 addresses are shown to
//!   it, and clearing the call, however it happens, ends it there (`MediaAnchor::end`).
//! - A connection or listener that completes after its call was cleared is closed again
//!   (the driver may have started it before it saw the Close).
//! - Timeouts: no Alerting or Connect within `setup_timeout` after the Setup clears the call
//!   with cause 18 (no user responding); after Alerting, no Connect within
//!   `alerting_timeout` clears it with cause 19 (no answer, Q.931 T301). An accepted
//!   connection that sends no Setup within `first_message_timeout` is closed.

mod callback;
mod clearing;
mod h245_channel;
mod h245_traversal;
mod h46019_link;
mod relay;
mod setup;

use super::release::Release;
use super::state::{Call, CallState, H245Mode};
use super::{CallEvent, CallId, ConnId, Input, LinkEnd, ListenerId, Output, Side};
use causeway_h323_asn1::h323_messages::ReleaseCompleteReason;
use causeway_media::MediaAnchor;
use clearing::ToSide;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Limits and timers of the call-signaling relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallConfig {
    /// Calls relayed at once; a Setup beyond it gets ReleaseComplete gatekeeperResources.
    pub max_calls: usize,
    /// Setup to Alerting or Connect (covers routing and opening the callee connection).
    pub setup_timeout: Duration,
    /// Alerting to Connect (Q.931 T301 is at least 3 minutes).
    pub alerting_timeout: Duration,
    /// An accepted connection that sends no Setup within this is closed.
    pub first_message_timeout: Duration,
    /// Bytes held for one connection while it is not up (or waits for the H.245 listener);
    /// beyond it the call is cleared.
    pub max_queued_bytes: usize,
    /// E: the port C opens traversal H.245 channels to (`[h323] h46018_port`, 2777).
    pub traversal_h245_port: u16,
    /// E with assent zones: `[h323] assent_port`; C's connections that came to it open their
    /// H.245 channels to it as well.
    pub assent_port: Option<u16>,
    /// The RTP payload type of media keep-alives E asks for in H.460.19 traversal parameters
    /// (`[media] keepalive_payload_type`).
    pub keepalive_payload_type: u8,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            max_calls: 1000,
            setup_timeout: Duration::from_secs(180),
            alerting_timeout: Duration::from_secs(180),
            first_message_timeout: Duration::from_secs(30),
            max_queued_bytes: 64 * 1024,
            traversal_h245_port: causeway_config::defaults::H46018_H245_PORT,
            assent_port: None,
            keepalive_payload_type: crate::h46019::KEEP_ALIVE_PAYLOAD_TYPE,
        }
    }
}

/// One active call, for status pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStatus {
    pub id: CallId,
    pub caller: SocketAddr,
    pub called: String,
    pub callee: Option<SocketAddr>,
    pub zone: Option<String>,
    pub state: CallState,
    pub h245: H245Mode,
}

/// What a connection is.
#[derive(Clone, Copy, Debug)]
enum Role {
    /// Accepted on the Q.931 listener, no Setup yet.
    Pending {
        peer: SocketAddr,
        local: SocketAddr,
        deadline: Instant,
        /// The connection is a traversal link's (E: from C; C: its call-back to E).
        link: Option<LinkEnd>,
    },
    /// A call's signaling leg to `side`.
    Signaling { call: CallId, side: Side },
    /// A call's H.245 connection to `side`.
    H245 { call: CallId, side: Side },
    /// C: a call-back connection to E being opened, for E's call `call_id`.
    CallBack {
        peer: SocketAddr,
        call_id: [u8; 16],
        deadline: Instant,
    },
}

/// The gatekeeper-routed call-signaling relay. See the module docs.
pub struct CallSignaling {
    cfg: CallConfig,
    /// The media relay's anchoring, shown every logical-channel address; none: not anchored.
    anchor: Option<Box<dyn MediaAnchor + Send>>,
    next_conn: u64,
    next_listener: u64,
    next_call: u64,
    conns: HashMap<ConnId, Role>,
    listeners: HashMap<ListenerId, CallId>,
    calls: BTreeMap<CallId, Call>,
    /// E: traversal clients behind a NAT (`Input::LinkNat`).
    nat_links: HashSet<IpAddr>,
}

/// Most traversal clients remembered as behind a NAT: one per traversal-server zone, so a
/// few; past this the rest are taken as not (the multiplexed layout, as before).
const MAX_NAT_LINKS: usize = 256;

impl CallSignaling {
    pub fn new(cfg: CallConfig, anchor: Option<Box<dyn MediaAnchor + Send>>) -> Self {
        CallSignaling {
            cfg,
            anchor,
            next_conn: 0,
            next_listener: 0,
            next_call: 0,
            conns: HashMap::new(),
            listeners: HashMap::new(),
            calls: BTreeMap::new(),
            nat_links: HashSet::new(),
        }
    }

    /// A fresh connection id, for the driver's accepted connections and this module's own.
    pub fn next_conn_id(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
    }

    /// The call a connection belongs to, and whether it is that call's H.245 connection
    /// (`false`: its call signaling); `None` for a connection with no call yet.
    pub fn conn_call(&self, conn: ConnId) -> Option<(CallId, bool)> {
        match self.conns.get(&conn)? {
            Role::Pending { .. } | Role::CallBack { .. } => None,
            Role::Signaling { call, .. } => Some((*call, false)),
            Role::H245 { call, .. } => Some((*call, true)),
        }
    }

    /// Calls in progress.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Connections this module knows (pending, signaling and H.245).
    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }

    /// Bytes queued over all calls (for tests and metrics).
    pub fn queued_bytes(&self) -> usize {
        self.calls
            .values()
            .map(|c| {
                let h = c
                    .h245
                    .as_ref()
                    .map_or(0, |r| r.queues[0].bytes() + r.queues[1].bytes());
                c.queues[0].bytes() + c.queues[1].bytes() + h
            })
            .sum()
    }

    /// A status line per active call, in call order.
    pub fn calls(&self) -> Vec<CallStatus> {
        self.calls
            .values()
            .map(|c| CallStatus {
                id: c.id,
                caller: c.caller_addr,
                called: c.called.clone(),
                callee: c.callee_addr,
                zone: c.zone.clone(),
                state: c.state,
                h245: c.h245_mode(),
            })
            .collect()
    }

    /// The next deadline: the earliest time [`handle_timeout`](Self::handle_timeout) has
    /// something to do. A scan over calls and pending connections (bounded by `max_calls` and
    /// the driver's connection limit); cheap next to the per-message PER work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().filter_map(|c| c.deadline);
        let pending = self.conns.values().filter_map(|r| match r {
            Role::Pending { deadline, .. } | Role::CallBack { deadline, .. } => Some(*deadline),
            _ => None,
        });
        calls.chain(pending).min()
    }

    /// Runs what is due at `now`: silent connections, setup and alerting timeouts.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        let stale: Vec<ConnId> = self
            .conns
            .iter()
            .filter_map(|(&c, r)| match r {
                Role::Pending { deadline, .. } | Role::CallBack { deadline, .. }
                    if *deadline <= now =>
                {
                    Some(c)
                }
                _ => None,
            })
            .collect();
        for conn in stale {
            self.conns.remove(&conn);
            out.push(Output::Close { conn });
        }
        let due: Vec<(CallId, bool)> = self
            .calls
            .values()
            .filter(|c| c.deadline.is_some_and(|d| d <= now))
            .map(|c| (c.id, c.state == CallState::Alerting))
            .collect();
        for (id, alerted) in due {
            let cause = if alerted { 19 } else { 18 };
            let rel = Release::with_cause(ReleaseCompleteReason::undefinedReason(()), cause);
            self.clear(
                id,
                None,
                [ToSide::Build(rel.clone()), ToSide::Build(rel)],
                cause,
                Some("setup timeout".into()),
                out,
            );
        }
    }

    /// Handles one input.
    pub fn handle(&mut self, input: Input<'_>, now: Instant, out: &mut Vec<Output>) {
        match input {
            Input::Accepted {
                conn,
                peer,
                local,
                link,
            } => {
                let deadline = now + self.cfg.first_message_timeout;
                self.conns.insert(
                    conn,
                    Role::Pending {
                        peer,
                        local,
                        deadline,
                        link,
                    },
                );
            }
            Input::Data { conn, payload } => match self.conns.get(&conn).copied() {
                Some(Role::Pending {
                    peer, local, link, ..
                }) => self.first_message(conn, (peer, local, link), payload, now, out),
                Some(Role::Signaling { call, side }) => {
                    self.signaling_data(call, side, conn, payload, now, out)
                }
                Some(Role::H245 { call, side }) => {
                    self.h245_data(call, side, conn, payload, now, out)
                }
                Some(Role::CallBack { .. }) | None => {}
            },
            Input::Connected { conn, local } => match self.conns.get(&conn).copied() {
                Some(Role::Signaling {
                    call,
                    side: Side::Callee,
                }) => self.callee_connected(call, local, out),
                Some(Role::H245 { call, side }) => self.h245_connected(call, side, out),
                Some(Role::CallBack {
                    peer,
                    call_id,
                    deadline,
                }) => self.call_back_connected(conn, peer, call_id, local, deadline, out),
                Some(_) => {}
                // The call was cleared while the connection was being opened: the Close sent
                // then may have raced the connect, so close it again rather than leak it.
                None => out.push(Output::Close { conn }),
            },
            Input::ConnectFailed { conn, reason } => match self.conns.get(&conn).copied() {
                Some(Role::Signaling { call, .. }) => {
                    // the address that failed, before the call moves on from it
                    let to = self.calls.get(&call).and_then(|c| c.callee_addr);
                    self.callee_unreachable(call, reason.clone(), out);
                    if let Some(to) = to {
                        let e = CallEvent::CalleeUnreachable { call, to, reason };
                        out.push(Output::Event(e));
                    }
                }
                Some(Role::H245 { call, side }) => self.h245_lost(call, side, conn, out),
                Some(Role::CallBack { peer, .. }) => {
                    self.conns.remove(&conn);
                    out.push(Output::Event(CallEvent::Rejected {
                        conn,
                        peer,
                        cause: 27,
                        what: format!("call-back connection to E failed: {reason}"),
                    }));
                }
                _ => {}
            },
            Input::Closed { conn } => match self.conns.get(&conn).copied() {
                Some(Role::Pending { .. } | Role::CallBack { .. }) => {
                    self.conns.remove(&conn);
                }
                Some(Role::Signaling { call, side }) => self.leg_closed(call, side, out),
                Some(Role::H245 { call, side }) => self.h245_lost(call, side, conn, out),
                None => {}
            },
            Input::Listening { listener, addr } => self.listening(listener, Some(addr), out),
            Input::ListenFailed { listener, .. } => self.listening(listener, None, out),
            Input::H245Accepted {
                listener,
                conn,
                peer,
            } => self.h245_accepted(listener, conn, peer, out),
            Input::Routed { call, result } => self.routed(call, result, now, out),
            Input::RoutedCallBack {
                call,
                target,
                zone_name,
                flow,
            } => self.routed_callback(call, target, (zone_name, flow), now, out),
            Input::CallBackFailed { call } => self.callback_failed(call, out),
            Input::CallBack {
                signalling,
                call_id,
            } => self.call_back(signalling, call_id, now, out),
            Input::LinkNat { ip, behind_nat } => {
                if !behind_nat {
                    self.nat_links.remove(&ip);
                } else if self.nat_links.len() < MAX_NAT_LINKS {
                    self.nat_links.insert(ip);
                }
            }
        }
    }
}

pub(super) fn malformed(conn: ConnId, what: String) -> Output {
    Output::Event(CallEvent::Malformed { conn, what })
}
