//! [`CallSignaling`]: the connection table (which TCP connection is which call's caller,
//! callee or H.245 leg), the call table, and the handling of every [`Input`]: Setup and
//! routing, relaying Q.931 messages between the legs, the separate H.245 relay, release and
//! timeouts.
//!
//! Sans-IO: no sockets, no clock (every entry point takes `now`). Must not touch the
//! registration table or the router; it asks with [`Output::Route`].
//!
//! Decisions (references are to H.225.0 v7 and H.323 v7):
//! - One call per signaling connection (multipleCalls is not offered; a message with another
//!   call reference is answered with ReleaseComplete cause 81, Q.931 5.8.3.2).
//! - The caller gets a CallProceeding at once (H.323 8.1.3, gatekeeper-routed model); the
//!   callee's own CallProceeding is absorbed, or turned into a Facility when it carries
//!   something the caller needs (fastStart, h245Address, h245Control), see `uuie`.
//! - A message whose UUIE does not decode is forwarded untouched and counted (Malformed):
//!   dropping it would break calls with peers whose extensions rasn cannot read.
//! - A separate H.245 channel is terminated on both sides; only one per call. An h245Address
//!   from the other side after the first offer is removed (H.323 allows one H.245 channel
//!   per call; that side reaches the relay through the listener it was told). Only the
//!   expected side's IP may connect to the listener.
//! - Losing one H.245 connection closes the other; the endpoints then clear the call as H.323
//!   8.5 has them do when H.245 goes away.
//! - A Q.931 message that does not parse on a call's connection is dropped and counted (it
//!   cannot be relayed meaningfully); a Setup that does not parse is answered with
//!   ReleaseComplete cause 96 (no User-user) or 100 (bad UUIE) and its connection closed.
//! - A connection or listener that completes after its call was cleared is closed again
//!   (the driver may have started it before it saw the Close).
//! - Timeouts: no Alerting or Connect within `setup_timeout` after the Setup clears the call
//!   with cause 18 (no user responding); after Alerting, no Connect within
//!   `alerting_timeout` clears it with cause 19 (no answer, Q.931 T301).

use super::h245::{rewrite_list, rewrite_message, HookCtx, Rewrite};
use super::relay::{Call, CallState, H245Mode, H245Relay, HeldMsg, ListenState, Pending};
use super::release::{reason_cause, reason_name, route_failure_reason, Release};
use super::uuie::{self, UuError};
use super::{
    CallEvent, CallId, ConnId, Destination, Input, ListenerId, MediaHook, Output, RouteFailure,
    Side,
};
use crate::asn;
use crate::q931::{CallReference, MessageType, PartyNumber, Q931};
use causeway_h323_asn1::h323_messages::{
    AliasAddress, H323UUPDUH323MessageBody as Body, H323UserInformation, ProtocolIdentifier,
    ReleaseCompleteReason, TransportAddress,
};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
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
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            max_calls: 1000,
            setup_timeout: Duration::from_secs(180),
            alerting_timeout: Duration::from_secs(180),
            first_message_timeout: Duration::from_secs(30),
            max_queued_bytes: 64 * 1024,
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
    },
    /// A call's signaling leg to `side`.
    Signaling { call: CallId, side: Side },
    /// A call's H.245 connection to `side`.
    H245 { call: CallId, side: Side },
}

/// What a side is sent when a call is cleared.
enum ToSide {
    Nothing,
    Build(Release),
    Forward(Vec<u8>),
}

/// What to do with an h245Address a side offered.
enum Offer {
    Strip,
    Rewrite(SocketAddr),
    Hold,
}

/// The gatekeeper-routed call-signaling relay. See the module docs.
pub struct CallSignaling {
    cfg: CallConfig,
    hook: Box<dyn MediaHook + Send>,
    next_conn: u64,
    next_listener: u64,
    next_call: u64,
    conns: HashMap<ConnId, Role>,
    listeners: HashMap<ListenerId, CallId>,
    calls: BTreeMap<CallId, Call>,
}

impl CallSignaling {
    pub fn new(cfg: CallConfig, hook: Box<dyn MediaHook + Send>) -> Self {
        CallSignaling {
            cfg,
            hook,
            next_conn: 0,
            next_listener: 0,
            next_call: 0,
            conns: HashMap::new(),
            listeners: HashMap::new(),
            calls: BTreeMap::new(),
        }
    }

    /// A fresh connection id, for the driver's accepted connections and this module's own.
    pub fn next_conn_id(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
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
            Role::Pending { deadline, .. } => Some(*deadline),
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
                Role::Pending { deadline, .. } if *deadline <= now => Some(c),
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
            Input::Accepted { conn, peer, local } => {
                let deadline = now + self.cfg.first_message_timeout;
                self.conns.insert(
                    conn,
                    Role::Pending {
                        peer,
                        local,
                        deadline,
                    },
                );
            }
            Input::Data { conn, payload } => match self.conns.get(&conn).copied() {
                Some(Role::Pending { peer, local, .. }) => {
                    self.first_message(conn, peer, local, payload, now, out)
                }
                Some(Role::Signaling { call, side }) => {
                    self.signaling_data(call, side, conn, payload, now, out)
                }
                Some(Role::H245 { call, side }) => self.h245_data(call, side, conn, payload, out),
                None => {}
            },
            Input::Connected { conn, local } => match self.conns.get(&conn).copied() {
                Some(Role::Signaling {
                    call,
                    side: Side::Callee,
                }) => self.callee_connected(call, local, out),
                Some(Role::H245 { call, side }) => self.h245_connected(call, side, out),
                Some(_) => {}
                // The call was cleared while the connection was being opened: the Close sent
                // then may have raced the connect, so close it again rather than leak it.
                None => out.push(Output::Close { conn }),
            },
            Input::ConnectFailed { conn, reason } => match self.conns.get(&conn).copied() {
                Some(Role::Signaling { call, .. }) => {
                    // Q.850 27 "destination out of order": the Setup could not be delivered.
                    let rel =
                        Release::with_cause(ReleaseCompleteReason::unreachableDestination(()), 27);
                    self.clear(
                        call,
                        None,
                        [ToSide::Build(rel), ToSide::Nothing],
                        27,
                        Some(format!("connect failed: {reason}")),
                        out,
                    );
                }
                Some(Role::H245 { call, side }) => self.h245_lost(call, side, conn, out),
                _ => {}
            },
            Input::Closed { conn } => match self.conns.get(&conn).copied() {
                Some(Role::Pending { .. }) => {
                    self.conns.remove(&conn);
                }
                Some(Role::Signaling { call, side }) => {
                    // Q.850 41 "temporary failure": the leg went away without ReleaseComplete.
                    let rel = Release::with_cause(ReleaseCompleteReason::undefinedReason(()), 41);
                    let mut to = [ToSide::Nothing, ToSide::Nothing];
                    to[side.other().idx()] = ToSide::Build(rel);
                    self.clear(
                        call,
                        Some(side),
                        to,
                        41,
                        Some("connection closed".into()),
                        out,
                    );
                }
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
            Input::Routed { call, result } => self.routed(call, result, out),
        }
    }

    // ---- Setup ----------------------------------------------------------------------------

    fn first_message(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let msg = match Q931::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                // Q.931 5.8.1: not a message we can answer; the connection times out if
                // nothing sensible follows.
                out.push(malformed(conn, format!("Q.931: {e}")));
                return;
            }
        };
        if msg.call_reference.is_empty() {
            out.push(malformed(conn, "dummy call reference".into()));
            return;
        }
        match msg.message_type {
            MessageType::Setup => self.setup(conn, peer, local, msg, now, out),
            // Q.931 5.8.3.2: ReleaseComplete for an unknown call is ignored, anything else
            // is answered with ReleaseComplete cause 81 "invalid call reference value".
            MessageType::ReleaseComplete => {}
            _ => {
                let rel = Release::with_cause(ReleaseCompleteReason::undefinedReason(()), 81);
                send_release(
                    conn,
                    msg.call_reference.reply(),
                    &asn::h225_protocol_identifier(),
                    &rel,
                    out,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reject(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        crv: CallReference,
        protocol: &ProtocolIdentifier,
        rel: Release,
        what: String,
        out: &mut Vec<Output>,
    ) {
        send_release(conn, crv.reply(), protocol, &rel, out);
        out.push(Output::Close { conn });
        out.push(Output::Event(CallEvent::Rejected {
            conn,
            peer,
            cause: rel.cause,
            what,
        }));
        self.conns.remove(&conn);
    }

    fn setup(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
        msg: Q931,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let crv = msg.call_reference;
        let undefined = ReleaseCompleteReason::undefinedReason(());
        let mut uu = match uuie::decode(&msg) {
            Ok(u) => u,
            Err(e) => {
                // Q.850 96 "mandatory information element is missing", 100 "invalid
                // information element contents".
                let cause = if e == UuError::Missing { 96 } else { 100 };
                out.push(malformed(conn, format!("Setup: {e}")));
                let rel = Release::with_cause(undefined, cause);
                let what = format!("malformed Setup: {e}");
                self.reject(
                    conn,
                    peer,
                    crv,
                    &asn::h225_protocol_identifier(),
                    rel,
                    what,
                    out,
                );
                return;
            }
        };
        let Body::setup(s) = &uu.h323_uu_pdu.h323_message_body else {
            out.push(malformed(conn, "Setup without Setup-UUIE".into()));
            let rel = Release::with_cause(undefined, 100);
            let what = "Setup without Setup-UUIE".into();
            self.reject(
                conn,
                peer,
                crv,
                &asn::h225_protocol_identifier(),
                rel,
                what,
                out,
            );
            return;
        };
        let protocol = s.protocol_identifier.clone();
        if self.calls.len() >= self.cfg.max_calls {
            let rel = Release::reason(ReleaseCompleteReason::gatekeeperResources(()));
            self.reject(conn, peer, crv, &protocol, rel, "call limit".into(), out);
            return;
        }
        let called_aliases: Vec<AliasAddress> = s.destination_address.clone().unwrap_or_default();
        let caller_aliases: Vec<AliasAddress> = s.source_address.clone().unwrap_or_default();
        let called_number = msg.called_party_number().ok().flatten().map(|n| n.digits);
        let called = called_aliases
            .iter()
            .find_map(asn::alias_text)
            .map(|a| a.text)
            .or_else(|| called_number.clone())
            .unwrap_or_default();
        let call_identifier = s.call_identifier.clone();
        let tunneling = uu.h323_uu_pdu.h245_tunnelling;

        self.next_call += 1;
        let id = self.next_call;
        self.conns.insert(
            conn,
            Role::Signaling {
                call: id,
                side: Side::Caller,
            },
        );
        self.calls.insert(
            id,
            Call {
                id,
                state: CallState::Routing,
                caller_conn: conn,
                caller_addr: peer,
                caller_local: local,
                callee_conn: None,
                callee_addr: None,
                callee_local: None,
                callee_connected: false,
                crv,
                protocol: protocol.clone(),
                call_identifier: call_identifier.clone(),
                setup: None,
                setup_held: false,
                called: called.clone(),
                zone: None,
                deadline: Some(now + self.cfg.setup_timeout),
                setup_tunneling: tunneling == Some(true),
                tunnel_reported: false,
                h245: None,
                queues: Default::default(),
            },
        );
        out.push(Output::Event(CallEvent::Setup {
            call: id,
            caller: peer,
            called,
        }));
        match uuie::call_proceeding(crv.reply(), &protocol, call_identifier.as_ref(), tunneling) {
            Ok(p) => out.push(Output::Send { conn, payload: p }),
            Err(e) => out.push(malformed(conn, format!("building CallProceeding: {e}"))),
        }
        let (_, held) = self.inspect(id, Side::Caller, conn, &mut uu, out);
        if let Some(call) = self.calls.get_mut(&id) {
            call.setup = Some(Box::new(HeldMsg { msg, uu, len: 0 }));
            call.setup_held = held;
        }
        out.push(Output::Route {
            call: id,
            called: called_aliases,
            called_number,
            caller: peer,
            caller_aliases,
        });
    }

    fn routed(
        &mut self,
        id: CallId,
        result: Result<Destination, RouteFailure>,
        out: &mut Vec<Output>,
    ) {
        if !self
            .calls
            .get(&id)
            .is_some_and(|c| c.state == CallState::Routing)
        {
            return;
        }
        let dest = match result {
            Ok(d) => d,
            Err(f) => {
                let reason = route_failure_reason(&f);
                let name = reason_name(&reason).to_string();
                let rel = Release::reason(reason);
                let cause = rel.cause;
                self.clear(
                    id,
                    None,
                    [ToSide::Build(rel), ToSide::Nothing],
                    cause,
                    Some(name),
                    out,
                );
                return;
            }
        };
        let conn = self.next_conn_id();
        self.conns.insert(
            conn,
            Role::Signaling {
                call: id,
                side: Side::Callee,
            },
        );
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.callee_conn = Some(conn);
        call.callee_addr = Some(dest.addr);
        call.zone = Some(dest.zone.clone());
        call.state = CallState::Connecting;
        out.push(Output::Connect {
            conn,
            to: dest.addr,
        });
        out.push(Output::Event(CallEvent::Routed {
            call: id,
            to: dest.addr,
            zone: dest.zone.clone(),
        }));
        let Some(mut h) = call.setup.take() else {
            return;
        };
        retarget_setup(&mut h, &dest);
        let pending = if call.setup_held {
            h.len = h.msg.encoded_len();
            Pending::Held(h)
        } else {
            let HeldMsg { mut msg, uu, .. } = *h;
            match uuie::encode(&mut msg, &uu) {
                Ok(b) => Pending::Bytes(b),
                Err(e) => {
                    out.push(malformed(conn, format!("encoding Setup: {e}")));
                    let rel = Release::reason(ReleaseCompleteReason::undefinedReason(()));
                    let cause = rel.cause;
                    let to = [ToSide::Build(rel), ToSide::Nothing];
                    self.clear(id, None, to, cause, Some("Setup encoding".into()), out);
                    return;
                }
            }
        };
        self.enqueue(id, Side::Callee, pending, out);
    }

    // ---- relaying Q.931 -------------------------------------------------------------------

    fn signaling_data(
        &mut self,
        id: CallId,
        from: Side,
        conn: ConnId,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let msg = match Q931::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                out.push(malformed(conn, format!("Q.931: {e}")));
                return;
            }
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let cr = msg.call_reference;
        if cr.is_empty() || cr.value() != call.crv.value() {
            if !cr.is_empty() && msg.message_type != MessageType::ReleaseComplete {
                let rel = Release::with_cause(ReleaseCompleteReason::undefinedReason(()), 81);
                send_release(conn, cr.reply(), &call.protocol, &rel, out);
            }
            return;
        }
        match msg.message_type {
            MessageType::ReleaseComplete => {
                let reason = match uuie::decode(&msg) {
                    Ok(uu) => match uu.h323_uu_pdu.h323_message_body {
                        Body::releaseComplete(rc) => rc.reason,
                        _ => None,
                    },
                    Err(_) => None,
                };
                let cause = msg
                    .cause()
                    .ok()
                    .flatten()
                    .map(|c| c.value.0)
                    .or(reason.as_ref().map(reason_cause))
                    .unwrap_or(16);
                let mut to = [ToSide::Nothing, ToSide::Nothing];
                to[from.other().idx()] = ToSide::Forward(payload.to_vec());
                let name = reason.as_ref().map(|r| reason_name(r).to_string());
                self.clear(id, Some(from), to, cause, name, out);
            }
            MessageType::Setup => {
                out.push(malformed(conn, "second Setup on a call".into()));
            }
            _ => self.relay(id, from, conn, msg, payload, now, out),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn relay(
        &mut self,
        id: CallId,
        from: Side,
        conn: ConnId,
        mut msg: Q931,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let mt = msg.message_type;
        let mut uu = match uuie::decode(&msg) {
            Ok(uu) => uu,
            Err(e) => {
                if let UuError::Bad(_) = e {
                    out.push(malformed(conn, format!("{mt:?}: {e}")));
                }
                // Forwarded untouched (module docs); Status, Notify, ... may have no UUIE.
                self.progress(id, from, mt, None, now, out);
                if from == Side::Callee && mt == MessageType::CallProceeding {
                    return;
                }
                self.enqueue(id, from.other(), Pending::Bytes(payload.to_vec()), out);
                return;
            }
        };
        let (mut changed, held) = self.inspect(id, from, conn, &mut uu, out);
        self.progress(id, from, mt, Some(&uu), now, out);
        if !self.calls.contains_key(&id) {
            return;
        }
        if from == Side::Callee && mt == MessageType::CallProceeding {
            let pdu = &mut uu.h323_uu_pdu;
            let (fast, h245) = match &pdu.h323_message_body {
                Body::callProceeding(cp) => (
                    cp.fast_start.as_ref().is_some_and(|f| !f.is_empty()),
                    cp.h245_address.is_some(),
                ),
                _ => (false, false),
            };
            let control = pdu.h245_control.as_ref().is_some_and(|c| !c.is_empty());
            if fast || h245 {
                uuie::proceeding_as_facility(&mut uu);
            } else if control {
                uuie::empty_body(&mut uu);
            } else {
                // Nothing the caller needs: it already had causeway's CallProceeding.
                return;
            }
            msg.message_type = MessageType::Facility;
            changed = true;
        }
        let pending = if held {
            let len = payload.len();
            Pending::Held(Box::new(HeldMsg { msg, uu, len }))
        } else if changed {
            match uuie::encode(&mut msg, &uu) {
                Ok(b) => Pending::Bytes(b),
                Err(e) => {
                    out.push(malformed(conn, format!("re-encoding {mt:?}: {e}")));
                    Pending::Bytes(payload.to_vec())
                }
            }
        } else {
            Pending::Bytes(payload.to_vec())
        };
        self.enqueue(id, from.other(), pending, out);
    }

    /// Call state changes from the callee's answers.
    fn progress(
        &mut self,
        id: CallId,
        from: Side,
        mt: MessageType,
        uu: Option<&H323UserInformation>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if from != Side::Callee {
            return;
        }
        match mt {
            MessageType::Alerting
                if matches!(call.state, CallState::Proceeding | CallState::Connecting) =>
            {
                call.state = CallState::Alerting;
                call.deadline = Some(now + self.cfg.alerting_timeout);
                out.push(Output::Event(CallEvent::Alerting { call: id }));
            }
            MessageType::Connect if call.state != CallState::Connected => {
                call.state = CallState::Connected;
                call.deadline = None;
                out.push(Output::Event(CallEvent::Connected { call: id }));
                let tunnels = uu.is_some_and(|u| u.h323_uu_pdu.h245_tunnelling == Some(true));
                if call.setup_tunneling && tunnels && !call.tunnel_reported {
                    call.tunnel_reported = true;
                    out.push(Output::Event(CallEvent::H245 {
                        call: id,
                        tunneled: true,
                    }));
                }
            }
            _ => {}
        }
    }

    /// Runs a decoded message from `from` through the H.245 address relay and the media hook.
    /// Returns (changed, held): held means it must wait for the H.245 listener.
    fn inspect(
        &mut self,
        id: CallId,
        from: Side,
        conn: ConnId,
        uu: &mut H323UserInformation,
        out: &mut Vec<Output>,
    ) -> (bool, bool) {
        let mut changed = false;
        let mut held = false;
        let body = &mut uu.h323_uu_pdu.h323_message_body;
        if let Some(slot) = uuie::h245_address_mut(body) {
            if let Some(addr) = slot.as_ref() {
                match self.offer(id, from, addr, out) {
                    Offer::Strip => {
                        *slot = None;
                        changed = true;
                    }
                    Offer::Rewrite(a) => {
                        *slot = Some(asn::transport_address(a));
                        changed = true;
                    }
                    Offer::Hold => held = true,
                }
            }
        }
        let mut bad = Vec::new();
        let hook: &mut dyn MediaHook = &mut *self.hook;
        let mut ctx = HookCtx {
            hook,
            call: id,
            from,
            fast_start: true,
        };
        if let Some(Some(list)) = uuie::fast_start_mut(body) {
            changed |= rewrite_list(&mut ctx, list, &mut bad);
        }
        ctx.fast_start = false;
        if let Body::setup(s) = body {
            if let Some(list) = &mut s.parallel_h245_control {
                changed |= rewrite_list(&mut ctx, list, &mut bad);
            }
        }
        if let Some(list) = &mut uu.h323_uu_pdu.h245_control {
            changed |= rewrite_list(&mut ctx, list, &mut bad);
        }
        for e in bad {
            out.push(malformed(conn, format!("H.245 in H.225.0 message: {e}")));
        }
        (changed, held)
    }

    fn offer(
        &mut self,
        id: CallId,
        from: Side,
        addr: &TransportAddress,
        out: &mut Vec<Output>,
    ) -> Offer {
        let Some(target) = asn::socket_addr(addr) else {
            return Offer::Strip;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return Offer::Strip;
        };
        match &mut call.h245 {
            None => {
                self.next_listener += 1;
                let l = self.next_listener;
                self.listeners.insert(l, id);
                call.h245 = Some(H245Relay::new(from, target, l));
            }
            Some(r) if r.offered_by == from => {
                // A repeated offer before causeway connected to it: the latest one counts.
                if r.conns[from.idx()].is_none() {
                    r.target = target;
                }
            }
            Some(_) => return Offer::Strip,
        }
        self.maybe_listen(id, out);
        let Some(r) = self.calls.get(&id).and_then(|c| c.h245.as_ref()) else {
            return Offer::Strip;
        };
        match r.resolution() {
            Some(Some(a)) => Offer::Rewrite(a),
            Some(None) => Offer::Strip,
            None => Offer::Hold,
        }
    }

    /// Asks for the H.245 listener once the side that will connect to it has a local address
    /// (the listener is bound on the address that side's signaling reached us on).
    fn maybe_listen(&mut self, id: CallId, out: &mut Vec<Output>) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(r) = call.h245.as_ref() else {
            return;
        };
        if r.listen != ListenState::Waiting {
            return;
        }
        let Some(local) = call.local(r.offered_by.other()) else {
            return;
        };
        let listener = r.listener;
        if let Some(r) = call.h245.as_mut() {
            r.listen = ListenState::Requested;
            r.listener_open = true;
        }
        out.push(Output::Listen {
            listener,
            ip: local.ip(),
        });
    }

    fn callee_connected(&mut self, id: CallId, local: SocketAddr, out: &mut Vec<Output>) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.callee_connected = true;
        call.callee_local = Some(local);
        if call.state == CallState::Connecting {
            call.state = CallState::Proceeding;
        }
        self.maybe_listen(id, out);
        self.flush(id, Side::Callee, out);
    }

    fn enqueue(&mut self, id: CallId, to: Side, p: Pending, out: &mut Vec<Output>) {
        let max = self.cfg.max_queued_bytes;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.queues[to.idx()].push(p, max).is_err() {
            self.overflow(id, out);
            return;
        }
        self.flush(id, to, out);
    }

    fn overflow(&mut self, id: CallId, out: &mut Vec<Output>) {
        let rel = Release::reason(ReleaseCompleteReason::gatekeeperResources(()));
        let cause = rel.cause;
        let to = [ToSide::Build(rel.clone()), ToSide::Build(rel)];
        self.clear(id, None, to, cause, Some("queue limit".into()), out);
    }

    /// Sends what can be sent of a side's queue.
    fn flush(&mut self, id: CallId, to: Side, out: &mut Vec<Output>) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(conn) = call.ready_conn(to) else {
            return;
        };
        // With no relay, a held message cannot exist; strip to be safe.
        let resolution = call.h245.as_ref().map_or(Some(None), |r| r.resolution());
        let q = &mut call.queues[to.idx()];
        loop {
            match q.front() {
                None => break,
                Some(Pending::Held(_)) if resolution.is_none() => break,
                Some(_) => {}
            }
            match q.pop() {
                Some(Pending::Bytes(payload)) => out.push(Output::Send { conn, payload }),
                Some(Pending::Held(h)) => {
                    let HeldMsg {
                        mut msg, mut uu, ..
                    } = *h;
                    let addr = resolution.flatten();
                    if let Some(slot) =
                        uuie::h245_address_mut(&mut uu.h323_uu_pdu.h323_message_body)
                    {
                        *slot = addr.map(asn::transport_address);
                    }
                    match uuie::encode(&mut msg, &uu) {
                        Ok(payload) => out.push(Output::Send { conn, payload }),
                        Err(e) => out.push(malformed(conn, format!("re-encoding: {e}"))),
                    }
                }
                None => break,
            }
        }
    }

    // ---- separate H.245 -------------------------------------------------------------------

    fn listening(&mut self, listener: ListenerId, addr: Option<SocketAddr>, out: &mut Vec<Output>) {
        let Some(&id) = self.listeners.get(&listener) else {
            // Bound after its call was cleared (CloseListener raced the bind): close it.
            if addr.is_some() {
                out.push(Output::CloseListener { listener });
            }
            return;
        };
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        if r.listen != ListenState::Requested {
            return;
        }
        match addr {
            Some(a) => r.listen = ListenState::Bound(a),
            None => {
                r.listen = ListenState::Failed;
                r.listener_open = false;
                self.listeners.remove(&listener);
            }
        }
        let y = r.offered_by.other();
        self.flush(id, y, out);
    }

    fn h245_accepted(
        &mut self,
        listener: ListenerId,
        conn: ConnId,
        peer: SocketAddr,
        out: &mut Vec<Output>,
    ) {
        let Some(&id) = self.listeners.get(&listener) else {
            out.push(Output::Close { conn });
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            out.push(Output::Close { conn });
            return;
        };
        let Some(r) = call.h245.as_ref() else {
            out.push(Output::Close { conn });
            return;
        };
        let y = r.offered_by.other();
        let expected = match y {
            Side::Caller => Some(call.caller_addr),
            Side::Callee => call.callee_addr,
        };
        // Only the endpoint that was told this listener may use it.
        if r.conns[y.idx()].is_some() || expected.map(|a| a.ip()) != Some(peer.ip()) {
            out.push(Output::Close { conn });
            return;
        }
        self.next_conn += 1;
        let outbound = self.next_conn;
        let Some(r) = call.h245.as_mut() else {
            return;
        };
        let x = r.offered_by;
        r.conns[y.idx()] = Some(conn);
        r.connected[y.idx()] = true;
        r.conns[x.idx()] = Some(outbound);
        r.listener_open = false;
        out.push(Output::CloseListener { listener });
        out.push(Output::Connect {
            conn: outbound,
            to: r.target,
        });
        self.listeners.remove(&listener);
        self.conns.insert(conn, Role::H245 { call: id, side: y });
        self.conns
            .insert(outbound, Role::H245 { call: id, side: x });
    }

    fn h245_connected(&mut self, id: CallId, side: Side, out: &mut Vec<Output>) {
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        r.connected[side.idx()] = true;
        if r.connected[0] && r.connected[1] && !r.up_reported {
            r.up_reported = true;
            out.push(Output::Event(CallEvent::H245 {
                call: id,
                tunneled: false,
            }));
        }
        self.flush_h245(id, side, out);
    }

    fn h245_data(
        &mut self,
        id: CallId,
        from: Side,
        conn: ConnId,
        payload: &[u8],
        out: &mut Vec<Output>,
    ) {
        let hook: &mut dyn MediaHook = &mut *self.hook;
        let mut ctx = HookCtx {
            hook,
            call: id,
            from,
            fast_start: false,
        };
        let bytes = match rewrite_message(&mut ctx, payload) {
            Rewrite::Unchanged => payload.to_vec(),
            Rewrite::Changed(v) => v,
            Rewrite::Undecodable(e) => {
                // Forwarded untouched: the endpoints' H.245 may know more than we do, but the
                // driver counts it.
                out.push(malformed(conn, format!("H.245: {e}")));
                payload.to_vec()
            }
        };
        let max = self.cfg.max_queued_bytes;
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        let to = from.other();
        if r.conns[to.idx()].is_none() {
            return;
        }
        if r.queues[to.idx()].push(Pending::Bytes(bytes), max).is_err() {
            self.overflow(id, out);
            return;
        }
        self.flush_h245(id, to, out);
    }

    fn flush_h245(&mut self, id: CallId, to: Side, out: &mut Vec<Output>) {
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        let (Some(conn), true) = (r.conns[to.idx()], r.connected[to.idx()]) else {
            return;
        };
        while let Some(p) = r.queues[to.idx()].pop() {
            if let Pending::Bytes(payload) = p {
                out.push(Output::Send { conn, payload });
            }
        }
    }

    fn h245_lost(&mut self, id: CallId, side: Side, conn: ConnId, out: &mut Vec<Output>) {
        self.conns.remove(&conn);
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return;
        };
        r.conns[side.idx()] = None;
        r.connected[side.idx()] = false;
        if let Some(other) = r.conns[side.other().idx()].take() {
            r.connected[side.other().idx()] = false;
            self.conns.remove(&other);
            out.push(Output::Close { conn: other });
        }
    }

    // ---- release --------------------------------------------------------------------------

    fn clear(
        &mut self,
        id: CallId,
        by: Option<Side>,
        to: [ToSide; 2],
        cause: u8,
        reason: Option<String>,
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        for side in [Side::Caller, Side::Callee] {
            let Some(conn) = call.conn(side) else {
                continue;
            };
            if call.ready_conn(side).is_some() {
                match &to[side.idx()] {
                    ToSide::Nothing => {}
                    ToSide::Forward(b) => out.push(Output::Send {
                        conn,
                        payload: b.clone(),
                    }),
                    ToSide::Build(rel) => {
                        let crv = call.crv_to(side);
                        match uuie::release_complete(
                            crv,
                            &call.protocol,
                            call.call_identifier.as_ref(),
                            rel,
                        ) {
                            Ok(payload) => out.push(Output::Send { conn, payload }),
                            Err(e) => out.push(malformed(conn, format!("ReleaseComplete: {e}"))),
                        }
                    }
                }
            }
            out.push(Output::Close { conn });
            self.conns.remove(&conn);
        }
        if let Some(r) = call.h245 {
            for &conn in r.conns.iter().flatten() {
                out.push(Output::Close { conn });
                self.conns.remove(&conn);
            }
            if r.listener_open {
                out.push(Output::CloseListener {
                    listener: r.listener,
                });
            }
            self.listeners.remove(&r.listener);
        }
        out.push(Output::Event(CallEvent::Released {
            call: id,
            cause,
            reason,
            by,
        }));
    }
}

fn malformed(conn: ConnId, what: String) -> Output {
    Output::Event(CallEvent::Malformed { conn, what })
}

fn send_release(
    conn: ConnId,
    crv: CallReference,
    protocol: &ProtocolIdentifier,
    rel: &Release,
    out: &mut Vec<Output>,
) {
    match uuie::release_complete(crv, protocol, None, rel) {
        Ok(payload) => out.push(Output::Send { conn, payload }),
        Err(e) => out.push(malformed(conn, format!("ReleaseComplete: {e}"))),
    }
}

/// The Setup as the callee gets it: destCallSignalAddress is the callee (H.225.0 7.3.1 says it
/// is the address the Setup is sent to), and a transformed alias replaces destinationAddress
/// and, when E.164, the Called party number digits (keeping the element's type and plan).
fn retarget_setup(h: &mut HeldMsg, dest: &Destination) {
    if let Body::setup(s) = &mut h.uu.h323_uu_pdu.h323_message_body {
        s.dest_call_signal_address = Some(asn::transport_address(dest.addr));
        if let Some(alias) = &dest.alias {
            s.destination_address = Some(vec![alias.clone()]);
        }
    }
    if let Some(AliasAddress::dialledDigits(d)) = &dest.alias {
        let digits = asn::ia5_text(d);
        let number = match h.msg.called_party_number() {
            Ok(Some(mut n)) => {
                n.digits = digits;
                n
            }
            _ => PartyNumber::e164(&digits),
        };
        // Digits of an Ia5String alias are ASCII, and a number this short fits.
        let _ = h.msg.set_called_party_number(&number);
    }
}
