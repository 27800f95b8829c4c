//! E's side of traversal zones' H.323 flows: the zone ports (6001, 6002, …), the clients each
//! admits (C, or each peer of a C cluster: at most [`MAX_FLOWS`]), and the SCIs that announce
//! incoming calls down a flow.
//!
//! Choices:
//! - Only RRQ (full or lightweight), SCR, LCF and LRJ are served on a zone port; anything else, and
//!   anything undecodable, is dropped without an answer and counted (a zone port faces the
//!   internet: no answer to garbage).
//! - An RRQ whose token does not verify (none, wrong password, unknown sender, outside the
//!   clock-skew window) gets RRJ `securityDenial`, smaller than the RRQ, so never an
//!   amplifier; a replayed token gets nothing (a replay is an attack or a stale duplicate).
//! - A full RRQ must announce H.460.18 (RRJ `neededFeatureNotSupported` otherwise). From the
//!   address of a flow the zone has, it replaces that flow (that C restarted); from another,
//!   it adds a flow (another peer of a C cluster), up to [`MAX_FLOWS`] (then RRJ
//!   `resourceUnavailable`). A flow's address is where its RRQ came from, as the firewall
//!   rewrote it: SCIs and LRQs go there, never to the rasAddress inside. Calls are announced
//!   down the zone's oldest flow (the C peers share their registrations, so any can call
//!   back); when it goes silent, down the next.
//! - The RCF names our call-signaling address (the IP the client reached, the Q.931 port), as
//!   a routing gatekeeper's RCF does: C sends the Setups of calls to E there.
//! - The RCF grants the zone's keep-alive interval as time to live and carries feature 18 with
//!   LRQKeepAliveData. A client silent for [`SILENT_INTERVALS`] intervals is forgotten and the
//!   zone shown down; its next lightweight RRQ gets `fullRegistrationRequired`. When the RRQ
//!   announces H.460.19 the RCF carries feature 19 with mediaTraversalServer too.
//! - An SCI is sent again (new token, same sequence number) every [`RETRY_AFTER`] until its
//!   SCR, [`TRIES`] times in all; at most [`MAX_PENDING_SCI`] wait at once. So is an LRQ
//!   (E asks C whether it reaches a dialled alias before announcing the call), until C's LCF
//!   or LRJ; with no answer after every try, the answer is "unknown" and the call-back is
//!   tried anyway (it fails cleanly when C is gone).
//!
//! Must not touch: sockets, the wall clock, the gatekeeper's registrations, call signaling.

use super::{
    announces, feature_set, incoming_call_sci, keep_alive_data, Output, Socket, WallClock,
    ZoneEvent, ZoneView, MAX_PENDING_SCI, RETRY_AFTER, SILENT_INTERVALS, TRIES,
};
use crate::asn;
use crate::h235::{self, Credentials, TokenError, Verifier};
use crate::h46019::feature as feature19;
use crate::ras::build;
use causeway_h323_asn1::h323_messages::{
    AliasAddress, RasMessage, RegistrationRejectReason, RegistrationRequest,
};
use causeway_h323_asn1::rasn::aper;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Client flows one zone holds at most: one per peer of a C cluster (at most six).
pub const MAX_FLOWS: usize = 6;

/// One traversal-server zone's H.323 settings.
#[derive(Clone, Debug)]
pub struct ServerZoneConfig {
    pub zone: String,
    /// The credential the client must present (`username` of the zone, its `[[credential]]`).
    pub username: String,
    pub password: String,
    /// Time to live granted, the client's keep-alive interval.
    pub keepalive: Duration,
    /// Where the client's call signaling goes on our side: `None` for our Q.931 port (1720,
    /// H.460.18 mode), `Some(2776)` for the assent port (assent mode).
    pub signalling_port: Option<u16>,
}

struct Flow {
    endpoint_id: String,
    at: SocketAddr,
    /// Our zone port as the client reached it (its IP is where C calls back).
    local: SocketAddr,
    last_seen: Instant,
    /// The full RRQ came from an IP none of its rasAddresses names: a NAT between C and E
    /// (the media anchor then gives C's legs pairs of their own, see `causeway_media`).
    behind_nat: bool,
}

struct Zone {
    cfg: ServerZoneConfig,
    verifier: Verifier,
    /// Oldest first.
    flows: Vec<Flow>,
    since: Instant,
    last_error: Option<String>,
    refused: u64,
    registrations: u64,
}

/// An SCI waiting for its SCR, or an LRQ (`locate`: its tag) for its LCF or LRJ.
struct PendingSci {
    zone: usize,
    seq: u16,
    msg: RasMessage,
    tries: u32,
    resend_at: Instant,
    locate: Option<u64>,
}

pub struct ZoneServer {
    gatekeeper_id: String,
    /// Our call-signaling port (1720): written, with the IP the client reached, in the RCF
    /// and the SCI.
    q931_port: u16,
    zones: Vec<Zone>,
    clock: WallClock,
    random: i32,
    seq: u16,
    scis: Vec<PendingSci>,
}

impl ZoneServer {
    /// `skew_window`: seconds a token's timestamp may be off our clock; `random`: where the
    /// tokens' `random` count starts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gatekeeper_id: String,
        q931_port: u16,
        zones: Vec<ServerZoneConfig>,
        clock: WallClock,
        skew_window: u32,
        random: i32,
        now: Instant,
    ) -> ZoneServer {
        let zones = zones
            .into_iter()
            .map(|cfg| Zone {
                verifier: Verifier::new(gatekeeper_id.clone())
                    .with_window(skew_window)
                    .require_general_id(false),
                cfg,
                flows: Vec::new(),
                since: now,
                last_error: None,
                refused: 0,
                registrations: 0,
            })
            .collect();
        ZoneServer {
            gatekeeper_id,
            q931_port,
            zones,
            clock,
            random,
            seq: (random as u16).max(1),
            scis: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The index of the zone named `name`.
    pub fn zone_index(&self, name: &str) -> Option<usize> {
        self.zones.iter().position(|z| z.cfg.zone == name)
    }

    /// A zone's client is at `ip` (its flow's source) and its RRQ showed a NAT between it and
    /// us.
    pub fn behind_nat(&self, ip: std::net::IpAddr) -> bool {
        self.zones
            .iter()
            .flat_map(|z| &z.flows)
            .any(|f| f.at.ip() == ip && f.behind_nat)
    }

    /// Whether a client flow of some zone comes from `ip`.
    pub fn is_client_ip(&self, ip: std::net::IpAddr) -> bool {
        self.zones
            .iter()
            .flat_map(|z| &z.flows)
            .any(|f| f.at.ip() == ip)
    }

    /// Where zone `zone`'s calls are announced (its oldest client flow), while one is up.
    pub fn flow(&self, zone: usize) -> Option<SocketAddr> {
        self.zones.get(zone)?.flows.first().map(|f| f.at)
    }

    /// Each zone's flows, a zone without one as one line "down".
    pub fn views(&self, now: Instant) -> Vec<ZoneView> {
        let mut v = Vec::new();
        for z in &self.zones {
            let view = |f: Option<&Flow>| ZoneView {
                zone: z.cfg.zone.clone(),
                role: "server",
                up: f.is_some(),
                since_secs: now.saturating_duration_since(z.since).as_secs(),
                peer: f.map(|f| f.at),
                peer_name: None,
                last_keepalive_secs: f
                    .map(|f| now.saturating_duration_since(f.last_seen).as_secs()),
                last_error: z.last_error.clone(),
                refused: z.refused,
            };
            if z.flows.is_empty() {
                v.push(view(None));
            }
            v.extend(z.flows.iter().map(|f| view(Some(f))));
        }
        v
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let silent = self
            .zones
            .iter()
            .flat_map(|z| z.flows.iter().map(|f| f.last_seen + silence(&z.cfg)));
        let resend = self.scis.iter().map(|s| s.resend_at);
        silent.chain(resend).min()
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        for z in &mut self.zones {
            let before = z.flows.len();
            let silence = silence(&z.cfg);
            z.flows.retain(|f| f.last_seen + silence > now);
            if z.flows.len() < before && z.flows.is_empty() {
                z.since = now;
                let reason = "the client went silent".to_string();
                z.last_error = Some(reason.clone());
                out.push(Output::Event(ZoneEvent::Down {
                    zone: z.cfg.zone.clone(),
                    reason,
                }));
            }
        }
        let mut resend = Vec::new();
        self.scis.retain_mut(|s| {
            if s.resend_at > now {
                return true;
            }
            if s.tries >= TRIES {
                if let Some(tag) = s.locate {
                    out.push(Output::Event(ZoneEvent::Located { tag, found: None }));
                }
                return false;
            }
            s.tries += 1;
            s.resend_at = now + RETRY_AFTER;
            resend.push((s.zone, s.msg.clone()));
            true
        });
        for (zone, msg) in resend {
            self.send(zone, msg, now, out);
        }
    }

    /// Our call-signaling address as zone `zone`'s client reaches it.
    pub fn signalling(&self, zone: usize) -> Option<SocketAddr> {
        let z = self.zones.get(zone)?;
        let f = z.flows.first()?;
        let port = z.cfg.signalling_port.unwrap_or(self.q931_port);
        Some(SocketAddr::new(f.local.ip(), port))
    }

    /// Announces a call to zone `zone`'s client: SCI with IncomingCallIndication (our
    /// call-signaling address, `call_id`) down the flow. False when the zone has no client
    /// now, or too many SCIs wait.
    pub fn incoming_call(
        &mut self,
        zone: usize,
        call_id: [u8; 16],
        now: Instant,
        out: &mut Vec<Output>,
    ) -> bool {
        let Some(signalling) = self.signalling(zone) else {
            return false;
        };
        if self.scis.len() >= MAX_PENDING_SCI {
            return false;
        }
        let seq = self.next_seq();
        let Some(msg) = incoming_call_sci(seq, signalling, call_id) else {
            return false;
        };
        self.scis.push(PendingSci {
            zone,
            seq,
            msg: msg.clone(),
            tries: 1,
            resend_at: now + RETRY_AFTER,
            locate: None,
        });
        self.send(zone, msg, now, out);
        true
    }

    /// Asks zone `zone`'s client whether it reaches `alias` (LRQ down the flow, replies to
    /// the zone port); the answer comes as [`ZoneEvent::Located`] with `tag`. False when the
    /// zone has no client now, or too many requests wait.
    pub fn locate(
        &mut self,
        zone: usize,
        tag: u64,
        alias: AliasAddress,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> bool {
        let Some(local) = self
            .zones
            .get(zone)
            .and_then(|z| z.flows.first())
            .map(|f| f.local)
        else {
            return false;
        };
        if self.scis.len() >= MAX_PENDING_SCI {
            return false;
        }
        let seq = self.next_seq();
        // one hop: C answers from its own registrations
        let msg = build::lrq(
            seq,
            &self.gatekeeper_id,
            vec![alias],
            asn::transport_address(local),
            1,
        );
        self.scis.push(PendingSci {
            zone,
            seq,
            msg: msg.clone(),
            tries: 1,
            resend_at: now + RETRY_AFTER,
            locate: Some(tag),
        });
        self.send(zone, msg, now, out);
        true
    }

    /// C answered request `seq` of zone `zone` (SCR, LCF or LRJ): it waits no more.
    fn answered(&mut self, zone: usize, seq: u16, found: Option<bool>, out: &mut Vec<Output>) {
        let Some(i) = self
            .scis
            .iter()
            .position(|s| s.zone == zone && s.seq == seq)
        else {
            return;
        };
        let s = self.scis.swap_remove(i);
        if let Some(tag) = s.locate {
            out.push(Output::Event(ZoneEvent::Located { tag, found }));
        }
    }

    /// A datagram on zone `zone`'s port (`local`: that port as the sender reached it).
    #[allow(clippy::too_many_arguments)]
    pub fn handle(
        &mut self,
        zone: usize,
        from: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        if zone >= self.zones.len() {
            return;
        }
        let msg: RasMessage = match aper::decode(bytes) {
            Ok(m) => m,
            Err(e) => return self.refuse(zone, from, format!("undecodable RAS: {e}"), out),
        };
        let unix = self.clock.unix(now);
        let z = &mut self.zones[zone];
        let (user, password) = (z.cfg.username.clone(), z.cfg.password.clone());
        let checked = z.verifier.verify(
            bytes,
            &msg,
            |sender| (sender == user).then_some(password),
            unix,
        );
        match (msg, checked) {
            (RasMessage::registrationRequest(r), Ok(_)) => {
                self.on_rrq(zone, &r, (from, local), now, out)
            }
            (RasMessage::registrationRequest(r), Err(e)) => {
                let replayed = matches!(e, TokenError::Replayed { .. });
                self.refuse(zone, from, format!("RRQ: {e}"), out);
                if !replayed {
                    let reason = RegistrationRejectReason::securityDenial(());
                    self.reject(zone, r.request_seq_num.0, reason, from, now, out);
                }
            }
            (RasMessage::serviceControlResponse(r), Ok(_)) => {
                self.answered(zone, r.request_seq_num.0, None, out)
            }
            (RasMessage::locationConfirm(c), Ok(_)) => {
                self.answered(zone, c.request_seq_num.0, Some(true), out)
            }
            (RasMessage::locationReject(r), Ok(_)) => {
                self.answered(zone, r.request_seq_num.0, Some(false), out)
            }
            (m, Err(e)) => self.refuse(zone, from, format!("{}: {e}", crate::ras::name(&m)), out),
            (m, Ok(_)) => {
                let why = format!("{} is not served on a zone port", crate::ras::name(&m));
                self.refuse(zone, from, why, out);
            }
        }
    }

    /// `(from, local)`: where the RRQ came from, and our port as it reached it.
    fn on_rrq(
        &mut self,
        zone: usize,
        r: &RegistrationRequest,
        (from, local): (SocketAddr, SocketAddr),
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let n = r.request_seq_num.0;
        let z = &mut self.zones[zone];
        if r.keep_alive == Some(true) {
            let eid = r
                .endpoint_identifier
                .as_ref()
                .and_then(|e| asn::bmp_text(&e.0));
            let Some(flow) = z
                .flows
                .iter_mut()
                .find(|f| Some(&f.endpoint_id) == eid.as_ref())
            else {
                let reason = RegistrationRejectReason::fullRegistrationRequired(());
                return self.reject(zone, n, reason, from, now, out);
            };
            flow.at = from;
            flow.local = local;
            flow.last_seen = now;
            let id = flow.endpoint_id.clone();
            let h46019 = feature19::announces(r.feature_set.as_ref());
            return self.confirm(zone, n, (&id, h46019), from, now, out);
        }
        if !announces(r.feature_set.as_ref()) {
            self.refuse(zone, from, "RRQ without the H.460.18 feature".into(), out);
            let reason = RegistrationRejectReason::neededFeatureNotSupported(());
            return self.reject(zone, n, reason, from, now, out);
        }
        let same = z.flows.iter().position(|f| f.at == from);
        if same.is_none() && z.flows.len() >= MAX_FLOWS {
            let why = format!("RRQ: the zone holds {MAX_FLOWS} client flows");
            self.refuse(zone, from, why, out);
            let reason = RegistrationRejectReason::resourceUnavailable(());
            return self.reject(zone, n, reason, from, now, out);
        }
        let z = &mut self.zones[zone];
        z.registrations += 1;
        let id = format!("{}-{}", z.cfg.zone, z.registrations);
        let was_up = !z.flows.is_empty();
        let behind_nat = !r
            .ras_address
            .iter()
            .filter_map(asn::socket_addr)
            .any(|a| a.ip() == from.ip());
        let flow = Flow {
            endpoint_id: id.clone(),
            at: from,
            local,
            last_seen: now,
            behind_nat,
        };
        match same {
            // that C restarted: its flow, renewed, keeps its place
            Some(i) => z.flows[i] = flow,
            None => z.flows.push(flow),
        }
        z.last_error = None;
        if !was_up {
            z.since = now;
            out.push(Output::Event(ZoneEvent::Up {
                zone: z.cfg.zone.clone(),
                peer: from,
            }));
        }
        let h46019 = feature19::announces(r.feature_set.as_ref());
        self.confirm(zone, n, (&id, h46019), from, now, out);
    }

    fn confirm(
        &mut self,
        zone: usize,
        n: u16,
        (id, h46019): (&str, bool),
        to: SocketAddr,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let ttl = u32::try_from(self.zones[zone].cfg.keepalive.as_secs()).unwrap_or(u32::MAX);
        // a routing gatekeeper's RCF names its own call-signaling address: where C sends the
        // Setups of calls to E
        let call_signal = self.signalling(zone).map(asn::transport_address);
        let mut msg = build::rcf(build::Rcf {
            seq: n,
            gatekeeper: &self.gatekeeper_id,
            endpoint: id,
            call_signal: call_signal.into_iter().collect(),
            aliases: None,
            ttl,
        });
        if let RasMessage::registrationConfirm(c) = &mut msg {
            // a client that speaks H.460.19 is answered as by its media traversal server
            c.feature_set = Some(if h46019 {
                feature19::with_feature(feature_set(), feature19::SERVER)
            } else {
                feature_set()
            });
            c.generic_data = keep_alive_data(ttl).map(|d| vec![d]);
        }
        self.send_to(zone, msg, to, now, out);
    }

    fn reject(
        &mut self,
        zone: usize,
        n: u16,
        reason: RegistrationRejectReason,
        to: SocketAddr,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let msg = build::rrj(n, &self.gatekeeper_id, reason);
        self.send_to(zone, msg, to, now, out);
    }

    /// Sends to the zone's client flow.
    fn send(&mut self, zone: usize, msg: RasMessage, now: Instant, out: &mut Vec<Output>) {
        if let Some(to) = self.flow(zone) {
            self.send_to(zone, msg, to, now, out);
        }
    }

    /// Signs `msg` for zone `zone`'s client and sends it from the zone's port.
    fn send_to(
        &mut self,
        zone: usize,
        msg: RasMessage,
        to: SocketAddr,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        self.random = self.random.wrapping_add(1);
        let z = &self.zones[zone];
        let creds = Credentials {
            senders_id: self.gatekeeper_id.clone(),
            general_id: Some(z.cfg.username.clone()),
            password: z.cfg.password.clone(),
        };
        match h235::sign(msg, &creds, self.clock.unix(now), self.random) {
            Ok(bytes) => out.push(Output::Send {
                from: Socket::Zone(zone),
                to,
                bytes,
            }),
            Err(e) => tracing::error!(zone = %z.cfg.zone, "cannot sign RAS: {e}"),
        }
    }

    fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn refuse(&mut self, zone: usize, from: SocketAddr, reason: String, out: &mut Vec<Output>) {
        let z = &mut self.zones[zone];
        z.refused += 1;
        z.last_error = Some(reason.clone());
        out.push(Output::Event(ZoneEvent::Refused {
            zone: z.cfg.zone.clone(),
            from,
            reason,
        }));
    }
}

/// How long a client may stay silent before it is forgotten.
fn silence(cfg: &ServerZoneConfig) -> Duration {
    cfg.keepalive * SILENT_INTERVALS
}
