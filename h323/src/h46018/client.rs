//! C's side of a traversal zone's H.323 flow: register on E's zone port, keep the flow open,
//! answer E's SCIs. One [`ZoneClient`] per traversal-client zone that carries H.323.
//!
//! Choices:
//! - The first RRQ goes out at the first `handle_timeout` (the driver calls it at start); a
//!   request unanswered for [`RETRY_AFTER`] is signed again (fresh token, same sequence number)
//!   and sent again, [`TRIES`] times in all; then the zone is down ("no answer") and a full
//!   RRQ is tried every keep-alive interval until E answers.
//! - Keep-alives are lightweight RRQs every interval: ours from `[[zone]]
//!   h323_keepalive_interval`, or the shorter one E's RCF grants as time to live.
//! - E's answers must carry a token made with the zone's password, except RRJ: an RRJ
//!   `securityDenial` is what E sends when our password is wrong, and it cannot sign it with a
//!   password we have. An RRJ is believed only from E's address with the sequence number of our
//!   outstanding request.
//! - An SCI whose token does not verify gets no answer. E signs each retransmission anew, so
//!   the same call may be announced twice: the last [`RECENT_CALLS`] call identifiers are
//!   remembered and announced to call signaling once.
//! - Our RRQs announce H.460.19 (feature 19, no parameters) next to 18; an RCF answering it
//!   with mediaTraversalServer makes [`ZoneClient::media_traversal_server`] true.
//!
//! Must not touch: sockets, the wall clock (a [`WallClock`] is given), call signaling.

use super::{
    announces, feature_set, incoming_call, keep_alive_interval, seq_of, Output, Socket, WallClock,
    ZoneEvent, ZoneView, RETRY_AFTER, TRIES,
};
use crate::asn::{self, AliasKind};
use crate::endpoint::{self, Me};
use crate::h235::{self, Credentials, Verifier};
use crate::h46019::feature as feature19;
use crate::ras::build;
use causeway_h323_asn1::h323_messages::{
    LocationRejectReason, RasMessage, RegistrationRejectReason, ServiceControlResponse,
    ServiceControlResponseResult,
};
use causeway_h323_asn1::rasn::aper;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Call identifiers of SCIs remembered against retransmissions.
const RECENT_CALLS: usize = 64;

/// One traversal-client zone's H.323 settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub zone: String,
    /// E's zone port (`peer`, `h323_port`).
    pub peer: SocketAddr,
    pub username: String,
    pub password: String,
    pub keepalive: Duration,
    /// Our rasAddress and callSignalAddress as written in the RRQ.
    pub ras: SocketAddr,
    pub call_signal: SocketAddr,
    /// Seconds a token's timestamp may be off our clock.
    pub skew_window: u32,
}

struct Pending {
    seq: u16,
    msg: RasMessage,
    tries: u32,
    resend_at: Instant,
}

pub struct ZoneClient {
    cfg: ClientConfig,
    clock: WallClock,
    verifier: Verifier,
    random: i32,
    seq: u16,
    up: bool,
    endpoint_id: Option<String>,
    /// E's call-signaling address, from its RCF.
    e_signalling: Option<SocketAddr>,
    /// E's last RCF announced H.460.19 as media traversal server.
    e_media_server: bool,
    interval: Duration,
    pending: Option<Pending>,
    /// When the next request starts (keep-alive when up, a new registration when down).
    next: Option<Instant>,
    since: Instant,
    last_keepalive: Option<Instant>,
    last_error: Option<String>,
    refused: u64,
    recent_calls: VecDeque<[u8; 16]>,
}

impl ZoneClient {
    /// `random`: where the tokens' `random` count starts (injected randomness).
    pub fn new(cfg: ClientConfig, clock: WallClock, random: i32, now: Instant) -> ZoneClient {
        let verifier = Verifier::new(cfg.username.clone()).with_window(cfg.skew_window);
        ZoneClient {
            interval: cfg.keepalive,
            cfg,
            clock,
            verifier,
            random,
            seq: (random as u16).max(1),
            up: false,
            endpoint_id: None,
            e_signalling: None,
            e_media_server: false,
            pending: None,
            next: Some(now),
            since: now,
            last_keepalive: None,
            last_error: None,
            refused: 0,
            recent_calls: VecDeque::new(),
        }
    }

    pub fn zone(&self) -> &str {
        &self.cfg.zone
    }

    /// E's zone port: datagrams from there are this client's.
    pub fn peer(&self) -> SocketAddr {
        self.cfg.peer
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Where calls to E go (E's call-signaling address from its RCF), while the flow is up.
    pub fn signalling(&self) -> Option<SocketAddr> {
        self.e_signalling.filter(|_| self.up)
    }

    /// E answered our H.460.19 as media traversal server (its OLCs towards us may carry
    /// traversal parameters).
    pub fn media_traversal_server(&self) -> bool {
        self.up && self.e_media_server
    }

    pub fn view(&self, now: Instant) -> ZoneView {
        ZoneView {
            zone: self.cfg.zone.clone(),
            role: "client",
            up: self.up,
            since_secs: now.saturating_duration_since(self.since).as_secs(),
            peer: Some(self.cfg.peer),
            peer_name: None,
            last_keepalive_secs: self
                .last_keepalive
                .map(|t| now.saturating_duration_since(t).as_secs()),
            last_error: self.last_error.clone(),
            refused: self.refused,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match (&self.pending, self.next) {
            (Some(p), _) => Some(p.resend_at),
            (None, next) => next,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        if let Some(p) = &mut self.pending {
            if p.resend_at > now {
                return;
            }
            if p.tries < TRIES {
                p.tries += 1;
                p.resend_at = now + RETRY_AFTER;
                let msg = p.msg.clone();
                self.send(msg, now, out);
                return;
            }
            self.pending = None;
            let why = format!("no answer from E at {}", self.cfg.peer);
            self.set_down(why, now, out);
            self.endpoint_id = None;
            self.next = Some(now + self.cfg.keepalive);
            return;
        }
        if self.next.is_some_and(|t| t <= now) {
            self.next = None;
            let lightweight = self.up && self.endpoint_id.is_some();
            self.request(lightweight, now, out);
        }
    }

    /// A datagram from E's zone port.
    pub fn handle(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<Output>) {
        let msg: RasMessage = match aper::decode(bytes) {
            Ok(m) => m,
            Err(e) => return self.refuse(format!("undecodable RAS: {e}"), out),
        };
        match &msg {
            RasMessage::registrationReject(r) => {
                self.on_rrj(r.request_seq_num.0, &r.reject_reason, now, out)
            }
            RasMessage::registrationConfirm(_)
            | RasMessage::serviceControlIndication(_)
            | RasMessage::locationRequest(_) => {
                let password = self.cfg.password.clone();
                let unix = self.clock.unix(now);
                if let Err(e) = self.verifier.verify(bytes, &msg, |_| Some(password), unix) {
                    return self.refuse(format!("{} from E: {e}", crate::ras::name(&msg)), out);
                }
                match msg {
                    RasMessage::registrationConfirm(c) => self.on_rcf(&c, now, out),
                    RasMessage::serviceControlIndication(s) => self.on_sci(&s, now, out),
                    RasMessage::locationRequest(l) => out.push(Output::Event(ZoneEvent::Locate {
                        zone: self.cfg.zone.clone(),
                        peer: self.cfg.peer,
                        seq: l.request_seq_num.0,
                        aliases: l.destination_info,
                    })),
                    _ => {}
                }
            }
            other => self.refuse(
                format!("unexpected {} from E", crate::ras::name(other)),
                out,
            ),
        }
    }

    fn on_rcf(
        &mut self,
        c: &causeway_h323_asn1::h323_messages::RegistrationConfirm,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        if self.pending.as_ref().map(|p| p.seq) != Some(c.request_seq_num.0) {
            return; // an answer to a request we gave up on, or sent again
        }
        self.pending = None;
        if !announces(c.feature_set.as_ref()) {
            let why = "E's RCF does not announce H.460.18".to_string();
            self.set_down(why, now, out);
            self.next = Some(now + self.cfg.keepalive);
            return;
        }
        self.endpoint_id = asn::bmp_text(&c.endpoint_identifier.0);
        self.e_signalling = c.call_signal_address.iter().find_map(asn::socket_addr);
        self.e_media_server =
            feature19::find(c.feature_set.as_ref()).is_some_and(|f| f.traversal_server);
        let granted = c
            .time_to_live
            .as_ref()
            .map(|t| t.0)
            .or_else(|| keep_alive_interval(c.generic_data.as_deref()));
        self.interval = granted
            .map(|s| Duration::from_secs(u64::from(s.max(1))).min(self.cfg.keepalive))
            .unwrap_or(self.cfg.keepalive);
        self.next = Some(now + self.interval);
        self.last_error = None;
        if !self.up {
            self.up = true;
            self.since = now;
            out.push(Output::Event(ZoneEvent::Up {
                zone: self.cfg.zone.clone(),
                peer: self.cfg.peer,
            }));
        }
    }

    fn on_rrj(
        &mut self,
        seq: u16,
        reason: &RegistrationRejectReason,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        if self.pending.as_ref().map(|p| p.seq) != Some(seq) {
            return self.refuse(format!("RRJ for no request of ours (seq {seq})"), out);
        }
        self.pending = None;
        self.endpoint_id = None;
        if matches!(
            reason,
            RegistrationRejectReason::fullRegistrationRequired(_)
        ) {
            // E forgot us (restarted, or we were silent too long): register again now
            self.request(false, now, out);
            return;
        }
        let why = match reason {
            RegistrationRejectReason::securityDenial(_) => {
                "E refused the zone's credentials (securityDenial)".to_string()
            }
            other => format!("E rejected the registration: {}", reject_name(other)),
        };
        self.set_down(why, now, out);
        self.next = Some(now + self.cfg.keepalive);
    }

    fn on_sci(
        &mut self,
        s: &causeway_h323_asn1::h323_messages::ServiceControlIndication,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let scr = RasMessage::serviceControlResponse(ServiceControlResponse::new(
            s.request_seq_num.clone(),
            Some(ServiceControlResponseResult::started(())),
            None,
            None,
            None,
            None,
            Some(feature_set()),
            None,
        ));
        self.send(scr, now, out);
        if let Some((signalling, call_id)) = incoming_call(s.generic_data.as_deref()) {
            if self.recent_calls.contains(&call_id) {
                return;
            }
            if self.recent_calls.len() == RECENT_CALLS {
                self.recent_calls.pop_front();
            }
            self.recent_calls.push_back(call_id);
            out.push(Output::Event(ZoneEvent::IncomingCall {
                zone: self.cfg.zone.clone(),
                signalling,
                call_id,
            }));
        }
    }

    /// Answers E's LRQ `seq` ([`ZoneEvent::Locate`]): LCF naming our call-signaling and RAS
    /// addresses when the aliases are reached here, LRJ `notRegistered` otherwise; signed,
    /// from the RAS socket like everything on the flow.
    pub fn answer_locate(&mut self, seq: u16, found: bool, now: Instant, out: &mut Vec<Output>) {
        let msg = if found {
            build::lcf(
                seq,
                asn::transport_address(self.cfg.call_signal),
                asn::transport_address(self.cfg.ras),
            )
        } else {
            build::lrj(seq, LocationRejectReason::notRegistered(()))
        };
        self.send(msg, now, out);
    }

    /// A full or lightweight RRQ, outstanding until answered.
    fn request(&mut self, lightweight: bool, now: Instant, out: &mut Vec<Output>) {
        let me = Me {
            ras: self.cfg.ras,
            csa: self.cfg.call_signal,
            aliases: asn::alias_address(AliasKind::H323Id, &self.cfg.username)
                .into_iter()
                .collect(),
        };
        let eid = if lightweight {
            self.endpoint_id.as_deref().map(asn::endpoint_id)
        } else {
            None
        };
        let ttl = u32::try_from(self.cfg.keepalive.as_secs()).unwrap_or(u32::MAX);
        let mut msg = match endpoint::rrq(self.next_seq(), &me, ttl, None, eid, false) {
            Ok(m) => m,
            Err(e) => {
                let why = format!("cannot build the RRQ: {e}");
                self.set_down(why, now, out);
                self.next = Some(now + self.cfg.keepalive);
                return;
            }
        };
        if let RasMessage::registrationRequest(r) = &mut msg {
            // H.460.19 next to 18: C is E's media traversal client
            r.feature_set = Some(feature19::with_feature(feature_set(), feature19::CLIENT));
        }
        let Some(seq) = seq_of(&msg) else { return };
        if lightweight {
            self.last_keepalive = Some(now);
        }
        self.pending = Some(Pending {
            seq,
            msg: msg.clone(),
            tries: 1,
            resend_at: now + RETRY_AFTER,
        });
        self.send(msg, now, out);
    }

    /// Signs `msg` (a fresh token each time) and sends it to E from the RAS socket.
    fn send(&mut self, msg: RasMessage, now: Instant, out: &mut Vec<Output>) {
        self.random = self.random.wrapping_add(1);
        let creds = Credentials {
            senders_id: self.cfg.username.clone(),
            general_id: None,
            password: self.cfg.password.clone(),
        };
        match h235::sign(msg, &creds, self.clock.unix(now), self.random) {
            Ok(bytes) => out.push(Output::Send {
                from: Socket::Ras,
                to: self.cfg.peer,
                bytes,
            }),
            Err(e) => tracing::error!(zone = %self.cfg.zone, "cannot sign RAS: {e}"),
        }
    }

    fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn set_down(&mut self, reason: String, now: Instant, out: &mut Vec<Output>) {
        let changed = self.up || self.last_error.as_deref() != Some(reason.as_str());
        if self.up {
            self.since = now;
        }
        self.up = false;
        self.last_error = Some(reason.clone());
        if changed {
            out.push(Output::Event(ZoneEvent::Down {
                zone: self.cfg.zone.clone(),
                reason,
            }));
        }
    }

    fn refuse(&mut self, reason: String, out: &mut Vec<Output>) {
        self.refused += 1;
        out.push(Output::Event(ZoneEvent::Refused {
            zone: self.cfg.zone.clone(),
            from: self.cfg.peer,
            reason,
        }));
    }
}

/// The name of an RRJ reason for the zone's last error.
fn reject_name(r: &RegistrationRejectReason) -> String {
    let text = format!("{r:?}");
    text.split('(')
        .next()
        .unwrap_or("undefinedReason")
        .to_string()
}
