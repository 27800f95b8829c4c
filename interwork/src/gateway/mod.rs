//! The interworking gateway as one sans-IO machine: a back-to-back UA with a SIP user agent
//! on one side ([`sip_ua`], UDP to the node's proxy) and an H.323 endpoint on the other
//! ([`h225`], TCP to the node's gatekeeper; H.245 tunneled, [`control`]). A call from SIP
//! ([`to_h323`]) becomes a Setup with fastStart proposals made from the SDP offer; a call
//! from H.323 ([`to_sip`]) becomes an INVITE whose offer is made from the Setup's fastStart
//! proposals. Progress, answer and clearing are mapped both ways (RFC 3398/4497 causes).
//!
//! Verbs as every machine of the workspace: [`Gateway::handle`] for an input,
//! [`Gateway::handle_timeout`] for what is due, [`Gateway::poll_timeout`] for the next
//! deadline. Must not touch sockets or clocks (the binary's driver does), nor decide routing
//! (the proxy and the gatekeeper route each leg).

mod control;
mod h225;
mod hold;
mod media_path;
mod sip_ua;
mod to_h323;
mod to_sip;

#[cfg(test)]
mod tests;

pub use media_path::{TapAddrs, TapCmd, TapPorts};

use crate::media::{Format, Media};
use bytes::Bytes;
use causeway_sip::message::{Message, Method};
use causeway_sip::transaction::TimerConfig;
use rand::RngCore;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A TCP connection of the H.323 side. Ids the gateway opens have the top bit clear; the
/// driver numbers accepted connections with it set ([`ConnId::ACCEPTED`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    pub const ACCEPTED: u64 = 1 << 63;
}

/// Where the gateway's two sides are and who they talk to.
#[derive(Clone, Debug)]
pub struct Config {
    /// The gateway's own SIP (UDP) address: Via, Contact.
    pub sip_local: SocketAddr,
    /// The node's SIP proxy: every SIP request goes there.
    pub proxy: SocketAddr,
    /// The node's gatekeeper call-signaling address: every Setup goes there.
    pub gatekeeper: SocketAddr,
    /// The gateway's call-signaling address (sent in Setup as sourceCallSignalAddress).
    pub h225_local: SocketAddr,
    /// The SIP domain of Request-URIs made for H.323 aliases without one.
    pub domain: String,
    /// Calls at once; more are refused (503 / cause 47).
    pub max_calls: usize,
    /// No answer from the far side in this time ends the call (408 / cause 102).
    pub answer_timeout: Duration,
    pub timers: TimerConfig,
}

#[derive(Debug)]
pub enum Input {
    /// A SIP datagram from the proxy.
    Sip { from: SocketAddr, data: Bytes },
    /// The gatekeeper connected to the gateway's call-signaling port.
    Accepted { conn: ConnId, peer: SocketAddr },
    /// A connection the gateway asked for is up.
    Connected { conn: ConnId },
    /// One Q.931 message (a TPKT payload) on a connection.
    H225 { conn: ConnId, data: Vec<u8> },
    /// A connection closed (or could not be opened).
    Closed { conn: ConnId },
    /// A digit the SIP side sent in call `call`'s media (RFC 4733, seen by its tap).
    Digit {
        call: u64,
        digit: char,
        duration_ms: u16,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    Sip {
        to: SocketAddr,
        data: Bytes,
    },
    /// Open a TCP connection to `to`; the answer is `Connected` or `Closed`.
    Connect {
        conn: ConnId,
        to: SocketAddr,
    },
    /// Send one Q.931 message (the driver adds TPKT).
    H225 {
        conn: ConnId,
        data: Vec<u8>,
    },
    Close {
        conn: ConnId,
    },
    /// A command for call `call`'s media tap.
    Tap {
        call: u64,
        cmd: TapCmd,
    },
}

/// Which protocol placed the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Sip,
    H323,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Offered to the far side, nothing heard.
    Calling,
    /// Ringing or in progress.
    Early,
    Answered,
    /// Cleared; kept until the SIP transactions end.
    Ended,
}

/// Counters for status and metrics.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub calls_from_sip: u64,
    pub calls_from_h323: u64,
    pub answered: u64,
    pub failed: u64,
    /// Malformed SIP, SDP, Q.931, H.225 or H.245 from either side.
    pub malformed: u64,
    /// Refused for `max_calls`.
    pub refused: u64,
}

/// One interworked call as `causeway status` lists it.
#[derive(Clone, Debug)]
pub struct CallView {
    pub origin: Origin,
    pub phase: Phase,
    pub sip_call_id: String,
    pub h323_call_id: [u8; 16],
    pub caller: String,
    pub callee: String,
    pub age: Duration,
}

/// One call through the gateway.
#[derive(Debug)]
struct Call {
    origin: Origin,
    phase: Phase,
    started: Instant,
    caller: String,
    callee: String,
    dialog: sip_ua::Dialog,
    /// The INVITE server transaction (calls from SIP).
    uas: Option<sip_ua::Uas>,
    /// Client transactions (our INVITE for calls from H.323, BYE, CANCEL).
    uac: Vec<sip_ua::Uac>,
    leg: h225::Leg,
    /// The Setup waiting for its connection (calls from SIP).
    pending_setup: Option<Vec<u8>>,
    /// The offer towards the far side: calls from SIP, the SIP offer as the H.323 side is
    /// told it (through the tap); calls from H.323, the Setup's fastStart offer (`None`: a
    /// Setup without fastStart, a delayed-offer INVITE).
    offer: Option<Media>,
    /// The H.323 side's media (where it receives): what the SIP side is told, through the tap.
    h323_media: Option<Media>,
    /// The telephone-event the SIP side uses (the tap makes and takes its events).
    sip_te: Option<Format>,
    /// The call's media tap.
    tap: Option<TapAddrs>,
    /// A call from SIP whose INVITE had no SDP: the 2xx carries our offer, the ACK the answer.
    delayed: bool,
    /// The SIP side holds the call (its last offer was sendonly or inactive).
    sip_held: bool,
    /// The H.323 side paused it (an empty TCS).
    h323_held: bool,
    /// A call from H.323 whose fastStart answer went out with early media (180/183 SDP).
    fast_answered: bool,
    /// Our ACK of the SIP side's 2xx, sent again for each retransmitted 2xx.
    ack: Option<Bytes>,
    /// The Setup's fastStart proposals (calls from H.323).
    proposals: Vec<Vec<u8>>,
    /// H.245 when fastStart did not settle the media.
    control: Option<control::Control>,
    deadline: Option<Instant>,
    /// SDP o= version of what we send.
    sdp_version: u64,
    sdp_session: u64,
    /// When an ended call is dropped (its SIP transactions have run out).
    linger: Option<Instant>,
    /// Our endSessionCommand went out.
    h245_ended: bool,
    /// The earliest entry of this call in the gateway's timer heap.
    scheduled: Option<Instant>,
}

impl Call {
    /// A call just placed, with nothing of its media or H.245 known yet.
    fn new(
        origin: Origin,
        (caller, callee): (String, String),
        dialog: sip_ua::Dialog,
        (leg, tap): (h225::Leg, TapAddrs),
        deadline: Instant,
        sdp_session: u64,
        now: Instant,
    ) -> Call {
        Call {
            origin,
            phase: Phase::Calling,
            started: now,
            caller,
            callee,
            dialog,
            uas: None,
            uac: Vec::new(),
            leg,
            pending_setup: None,
            offer: None,
            h323_media: None,
            sip_te: None,
            tap: Some(tap),
            delayed: false,
            sip_held: false,
            h323_held: false,
            fast_answered: false,
            ack: None,
            proposals: Vec::new(),
            control: None,
            deadline: Some(deadline),
            sdp_version: 1,
            sdp_session,
            linger: None,
            h245_ended: false,
            scheduled: None,
        }
    }
}

pub struct Gateway {
    cfg: Config,
    rng: Box<dyn RngCore + Send>,
    ports: Box<dyn TapPorts>,
    calls: HashMap<u64, Call>,
    /// (deadline, call): every call's next deadline, and stale ones (see `schedule`), so
    /// that neither `poll_timeout` nor `handle_timeout` walks every call.
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    by_call_id: HashMap<String, u64>,
    by_conn: HashMap<ConnId, u64>,
    /// Accepted connections with no Setup yet.
    fresh: HashMap<ConnId, Instant>,
    next_call: u64,
    next_conn: u64,
    pub counters: Counters,
}

/// How long an ended call's SIP side is kept to absorb retransmissions (timer J/K, 64*T1).
fn linger(t: &TimerConfig) -> Duration {
    t.t1x64()
}

impl Gateway {
    pub fn new(cfg: Config, rng: Box<dyn RngCore + Send>, ports: Box<dyn TapPorts>) -> Gateway {
        Gateway {
            cfg,
            rng,
            ports,
            calls: HashMap::new(),
            timers: BinaryHeap::new(),
            by_call_id: HashMap::new(),
            by_conn: HashMap::new(),
            fresh: HashMap::new(),
            next_call: 1,
            next_conn: 1,
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Calls not yet ended.
    pub fn active(&self) -> usize {
        self.calls
            .values()
            .filter(|c| c.phase != Phase::Ended)
            .count()
    }

    pub fn calls(&self, now: Instant) -> Vec<CallView> {
        self.calls
            .values()
            .filter(|c| c.phase != Phase::Ended)
            .map(|c| CallView {
                origin: c.origin,
                phase: c.phase,
                sip_call_id: c.dialog.call_id.clone(),
                h323_call_id: c.leg.ids.call_id,
                caller: c.caller.clone(),
                callee: c.callee.clone(),
                age: now.saturating_duration_since(c.started),
            })
            .collect()
    }

    pub fn handle(&mut self, input: Input, now: Instant, out: &mut Vec<Output>) {
        // the one call an input concerns has its timers looked at again afterwards
        let id = self.dispatch(input, now, out);
        if let Some(id) = id {
            self.schedule(id);
        }
    }

    fn dispatch(&mut self, input: Input, now: Instant, out: &mut Vec<Output>) -> Option<u64> {
        match input {
            Input::Sip { from, data } => self.on_sip(from, data, now, out),
            Input::Accepted { conn, .. } => {
                // bounded: a connection that sends no Setup is closed at its deadline
                if self.fresh.len() >= self.cfg.max_calls.max(1) * 2 {
                    out.push(Output::Close { conn });
                } else {
                    self.fresh.insert(conn, now + self.cfg.answer_timeout);
                }
                None
            }
            Input::Connected { conn } => {
                let id = *self.by_conn.get(&conn)?;
                if let Some(setup) = self.calls.get_mut(&id).and_then(|c| c.pending_setup.take()) {
                    out.push(Output::H225 { conn, data: setup });
                }
                Some(id)
            }
            Input::H225 { conn, data } => {
                let before = self.by_conn.get(&conn).copied();
                self.on_h225(conn, &data, now, out);
                before.or_else(|| self.by_conn.get(&conn).copied())
            }
            Input::Digit {
                call,
                digit,
                duration_ms,
            } => {
                self.digit_from_sip(call, digit, duration_ms, out);
                Some(call)
            }
            Input::Closed { conn } => {
                self.fresh.remove(&conn);
                let id = self.by_conn.remove(&conn)?;
                self.h323_gone(id, now, out);
                Some(id)
            }
        }
    }

    /// Puts call `id`'s next deadline in the timer heap, unless an earlier entry for it is
    /// there already (that one looks again when it comes due).
    fn schedule(&mut self, id: u64) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(d) = call_deadline(c) else {
            return;
        };
        if c.scheduled.is_none_or(|s| d < s) {
            c.scheduled = Some(d);
            self.timers.push(Reverse((d, id)));
        }
    }

    /// A SIP message; the call it concerns (after: a new call is found too).
    fn on_sip(
        &mut self,
        from: SocketAddr,
        data: Bytes,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Option<u64> {
        let msg = match Message::parse(data) {
            Ok(m) if m.defect().is_none() => m,
            _ => {
                self.counters.malformed += 1;
                tracing::debug!(%from, "interworking: unreadable SIP message dropped");
                return None;
            }
        };
        let call_id = msg.call_id().map(str::to_string);
        self.on_sip_message(msg, now, out);
        call_id.and_then(|c| self.by_call_id.get(&c).copied())
    }

    fn on_sip_message(&mut self, msg: Message, now: Instant, out: &mut Vec<Output>) {
        let id = msg.call_id().and_then(|c| self.by_call_id.get(c)).copied();
        if !msg.is_request() {
            if let Some(id) = id {
                self.on_sip_response(id, &msg, now, out);
            }
            return;
        }
        let method = msg.method().cloned();
        match (method, id) {
            (Some(Method::Invite), None) => self.sip_invite(msg, now, out),
            (Some(Method::Invite), Some(id)) => self.sip_reinvite(id, msg, now, out),
            (Some(Method::Ack), Some(id)) => self.sip_ack(id, &msg, now, out),
            (Some(Method::Ack), None) => {}
            (Some(Method::Bye), Some(id)) => self.sip_bye(id, &msg, now, out),
            (Some(Method::Cancel), Some(id)) => self.sip_cancel(id, &msg, now, out),
            (Some(Method::Options), _) => self.reply(&msg, 200, "OK", out),
            (Some(Method::Bye | Method::Cancel), None) => {
                self.reply(&msg, 481, "Call/Transaction Does Not Exist", out)
            }
            _ => self.reply(&msg, 405, "Method Not Allowed", out),
        }
    }

    /// A stateless answer to a request (no dialog state follows from it).
    fn reply(&mut self, req: &Message, status: u16, reason: &str, out: &mut Vec<Output>) {
        let mut b = req.response(status, reason);
        if status == 405 {
            b.header("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS");
        }
        out.push(Output::Sip {
            to: self.cfg.proxy,
            data: b.finish(),
        });
    }

    fn on_h225(&mut self, conn: ConnId, data: &[u8], now: Instant, out: &mut Vec<Output>) {
        let msg = match h225::read(data) {
            Ok(m) => m,
            Err(e) => {
                self.counters.malformed += 1;
                tracing::info!("interworking: H.225 message dropped: {e}");
                if let Some(id) = self.by_conn.get(&conn).copied() {
                    self.clear_h323_broken(id, now, out);
                }
                return;
            }
        };
        match self.by_conn.get(&conn).copied() {
            Some(id) => self.on_h225_call(id, msg, now, out),
            None if self.fresh.remove(&conn).is_some() => self.h323_setup(conn, msg, now, out),
            None => {}
        }
    }

    /// The H.323 side sent something unreadable: the call is cleared on both sides.
    pub(super) fn clear_h323_broken(&mut self, id: u64, now: Instant, out: &mut Vec<Output>) {
        self.end_sip(
            id,
            500,
            "Server Internal Error (malformed H.323 message)",
            now,
            out,
        );
        self.release_h323(id, 100, out); // Q.850 100: invalid information element contents
        self.finish(id, now, out);
    }

    fn h323_gone(&mut self, id: u64, now: Instant, out: &mut Vec<Output>) {
        let answered = self
            .calls
            .get(&id)
            .is_some_and(|c| c.phase == Phase::Answered);
        if answered {
            self.end_sip(id, 0, "", now, out);
        } else {
            self.end_sip(id, 503, "Service Unavailable (H.323 side closed)", now, out);
        }
        self.finish(id, now, out);
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.fresh.retain(|conn, at| {
            let keep = *at > now;
            if !keep {
                out.push(Output::Close { conn: *conn });
            }
            keep
        });
        let mut due = Vec::new();
        while let Some(&Reverse((t, id))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            // an entry that is not the call's earliest is stale: its call looks again then
            if let Some(c) = self.calls.get_mut(&id).filter(|c| c.scheduled == Some(t)) {
                c.scheduled = None;
                due.push(id);
            }
        }
        for id in due {
            let ripe = self
                .calls
                .get(&id)
                .and_then(call_deadline)
                .is_some_and(|t| t <= now);
            if ripe {
                self.call_timeout(id, now, out);
            }
            self.schedule(id);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        // the heap's first entry may be early (stale): a wake-up then only reschedules
        let calls = self.timers.peek().map(|Reverse((t, _))| *t);
        [calls, self.fresh.values().min().copied()]
            .into_iter()
            .flatten()
            .min()
    }

    fn call_timeout(&mut self, id: u64, now: Instant, out: &mut Vec<Output>) {
        let t = self.cfg.timers.clone();
        let proxy = self.cfg.proxy;
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.linger.is_some_and(|l| l <= now) {
            self.drop_call(id);
            return;
        }
        let mut unacked = false;
        if let Some(u) = c.uas.as_mut() {
            let (resend, gave_up) = u.handle_timeout(now, &t);
            if let Some(b) = resend {
                out.push(Output::Sip { to: proxy, data: b });
            }
            unacked = gave_up;
        }
        let mut invite_timed_out = false;
        for u in &mut c.uac {
            use causeway_sip::transaction::ClientTimeout as T;
            match u.tx.handle_timeout(now) {
                T::Retransmit(b) => out.push(Output::Sip { to: proxy, data: b }),
                T::TimedOut => invite_timed_out |= u.method == "INVITE",
                T::Nothing => {}
            }
        }
        c.uac.retain(|u| !u.tx.is_terminated());
        let expired = c.deadline.is_some_and(|d| d <= now);
        if expired {
            c.deadline = None;
        }
        if unacked {
            // RFC 3261 13.3.1.4: no ACK for the 2xx; the dialog ends with a BYE
            self.end_sip(id, 0, "", now, out);
            self.release_h323(id, 41, out);
            self.finish(id, now, out);
        } else if invite_timed_out {
            self.sip_failed(id, 408, now, out);
        } else if expired {
            self.answer_timed_out(id, now, out);
        }
    }

    fn answer_timed_out(&mut self, id: u64, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.phase == Phase::Answered || c.phase == Phase::Ended {
            return;
        }
        tracing::info!(call = %c.dialog.call_id, "interworking: no answer in time");
        self.counters.failed += 1;
        self.end_sip(
            id,
            408,
            "Request Timeout (no answer from the H.323 side)",
            now,
            out,
        );
        self.release_h323(id, 102, out); // recovery on timer expiry
        self.finish(id, now, out);
    }

    fn new_call_id(&mut self) -> u64 {
        let id = self.next_call;
        self.next_call += 1;
        id
    }

    fn new_conn(&mut self) -> ConnId {
        let c = ConnId(self.next_conn & !ConnId::ACCEPTED);
        self.next_conn += 1;
        c
    }

    fn insert(&mut self, id: u64, c: Call) {
        self.by_call_id.insert(c.dialog.call_id.clone(), id);
        self.by_conn.insert(c.leg.conn, id);
        self.calls.insert(id, c);
    }

    /// The call is over: its H.323 connection and its tap go, its SIP side lingers for
    /// retransmissions.
    fn finish(&mut self, id: u64, now: Instant, out: &mut Vec<Output>) {
        let l = linger(&self.cfg.timers);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        c.phase = Phase::Ended;
        c.deadline = None;
        c.linger = Some(now + l);
        self.by_conn.remove(&c.leg.conn);
        if c.tap.take().is_some() {
            out.push(Output::Tap {
                call: id,
                cmd: TapCmd::Close,
            });
        }
    }

    fn drop_call(&mut self, id: u64) {
        if let Some(c) = self.calls.remove(&id) {
            self.by_call_id.remove(&c.dialog.call_id);
            self.by_conn.remove(&c.leg.conn);
        }
    }

    /// Ends the SIP side: a final `status` to a pending INVITE from SIP, a CANCEL of our
    /// pending INVITE, or a BYE once answered (`status` 0: no final response is owed).
    fn end_sip(&mut self, id: u64, status: u16, reason: &str, now: Instant, out: &mut Vec<Output>) {
        let me = self.cfg.sip_local;
        let proxy = self.cfg.proxy;
        let t = self.cfg.timers.clone();
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        let answered = c.phase == Phase::Answered;
        match (c.origin, answered) {
            (Origin::Sip, false) => {
                if let Some(u) = c.uas.as_mut() {
                    let status = if status >= 300 { status } else { 500 };
                    if let Some(b) = u.respond(status, reason, None, me, now, &t) {
                        out.push(Output::Sip { to: proxy, data: b });
                    }
                }
            }
            (Origin::H323, false) => {
                let invite = c.uac.iter().find(|u| u.method == "INVITE");
                if let Some(inv) = invite
                    .filter(|u| u.tx.state() == causeway_sip::transaction::ClientState::Proceeding)
                {
                    let cancel = causeway_sip::message::build_cancel(&inv.request);
                    let branch = inv.branch.clone();
                    out.push(Output::Sip {
                        to: proxy,
                        data: cancel.clone(),
                    });
                    if let Some(u) = sip_ua::Uac::new("CANCEL", branch, cancel, now, &t) {
                        c.uac.push(u);
                    }
                }
            }
            (_, true) => {
                let branch = sip_ua::token(&mut *self.rng);
                let bye = c.dialog.request("BYE", me, &branch, None);
                out.push(Output::Sip {
                    to: proxy,
                    data: bye.clone(),
                });
                if let Some(u) = sip_ua::Uac::new("BYE", branch, bye, now, &t) {
                    c.uac.push(u);
                }
            }
        }
    }

    /// Sends ReleaseComplete with `cause` and closes the connection.
    fn release_h323(&mut self, id: u64, cause: u8, out: &mut Vec<Output>) {
        self.end_h245(id, out);
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.phase == Phase::Ended {
            return;
        }
        if c.pending_setup.is_none() {
            match c.leg.release_complete(cause) {
                Ok(b) => out.push(Output::H225 {
                    conn: c.leg.conn,
                    data: b,
                }),
                Err(e) => tracing::warn!("interworking: ReleaseComplete not built: {e}"),
            }
        }
        out.push(Output::Close { conn: c.leg.conn });
    }
}

fn call_deadline(c: &Call) -> Option<Instant> {
    let uas = c.uas.as_ref().and_then(|u| u.poll_timeout());
    let uac = c.uac.iter().filter_map(|u| u.tx.poll_timeout()).min();
    [uas, uac, c.deadline, c.linger].into_iter().flatten().min()
}
