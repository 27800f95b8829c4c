//! Anchoring (sans-IO): the media descriptions of a call in, relay sessions and rewritten
//! descriptions out. One relay session per relayed stream (SDP m= section); leg A of each
//! faces the caller, leg B the callee.
//!
//! [`MediaAnchor`] is what a signaling stack sees of it; [`Anchor`] is the state machine behind
//! it. It sets sessions up in the node's relay table ([`SharedTable`]: port pairs, latches,
//! expected sources, all bookkeeping, no sockets) and tells the relay driver what to do with
//! sockets through [`RelayCommand`]s (`poll_command`); the driver answers with
//! [`RelayEvent`]s (`handle`). A first offer therefore answers [`Anchored::Pending`]: the
//! signaling layer holds the message until `handle` reports the call settled, then asks again
//! and gets the rewritten body (or the refusal). Binding is the only step that can fail late; a
//! pair that cannot be bound (some other program holds a port of the range) goes to the back
//! of the allocator's queue and the stream is set up again on other ports, up to
//! [`BIND_ATTEMPTS`] times.
//!
//! What each node writes (the traversal media plan, reference tables 001/004):
//! - a leg that is C's link as seen from E uses E's multiplexed pair (36000/36001): E
//!   advertises it to C and tells C's calls apart by the source port C advertised;
//! - every other leg gets a pair of its own from the media range; on C the link-facing pair is
//!   where C sends to E's multiplexed pair from (so C's firewall sees only outbound flows);
//! - unless a NAT between C and E shows (`MediaAnchor::link_peer`): then E's link leg gets a
//!   pair of its own too, see `peers`.
//!
//! H.323's H.245 logical-channel addresses are anchored by [`ChannelAnchor`] (`channels`), in
//! the same relay table, one session per H.245 session of a call; see its module docs for why
//! it binds synchronously.
//!
//! Time is what the caller passes; nothing here reads a clock, opens a socket or spawns.
//! Owns the call -> sessions map and the inactivity sweep; the packets are the driver's.

mod channels;
mod peers;
mod streams;
#[cfg(test)]
mod tests;

pub use channels::ChannelAnchor;

use crate::call::{Leg, Legs, LinkEnd, Side};
use crate::sdp::Sdp;
use crate::session::{
    AddError, Component, LegSpec, SessionId, SessionInfo, SharedTable, UpdateError,
};
use bytes::Bytes;
use causeway_config::media::{Anchor as Policy, OnInactivity};
use peers::{leg_spec, Peers};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use streams::{relayable, Stream};

/// Calls anchored at once; past this an offer is refused (each holds sessions anyway, which
/// the relay table bounds too).
const MAX_CALLS: usize = 100_000;
/// Times a stream is set up on new ports when binding fails, before the offer is refused.
pub const BIND_ATTEMPTS: usize = 4;
/// How often calls are checked for sessions the relay ended by inactivity.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Why an offer or answer cannot be anchored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRefusal {
    /// 488 (the SDP is unusable) or 503 (no relay ports left).
    pub status: u16,
    pub reason: String,
}

/// What becomes of a media description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchored {
    /// Forward it as it is (the call is not anchored, or it is an answer to an offer not seen).
    Unchanged,
    /// Forward this instead.
    Rewritten(Bytes),
    /// Relay ports are being bound: hold the message and ask again once `handle` reports the
    /// call settled.
    Pending,
}

/// What the relay driver must do with sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayCommand {
    /// Bind the session's own port pairs and relay what arrives on them; answer with
    /// `RelayEvent::Opened` or `RelayEvent::OpenFailed` (having closed what it did bind).
    Open(SessionInfo),
    /// The session has left the table: close its own pairs' sockets.
    Close(SessionInfo),
    /// Send the keep-alives of leg `side` now (C's end of a traversal link just learnt where
    /// E receives it; see `session::keepalive`).
    KeepAlive { session: SessionId, side: Side },
}

/// What the relay driver answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayEvent {
    Opened(SessionId),
    OpenFailed {
        session: SessionId,
        port: u16,
        error: String,
    },
}

/// What carries out relay commands: the relay driver (`relay::RelayHandle`), or a test's fake.
pub trait Relay {
    /// Carries out one command; the answer for the anchoring state machine, if it has one.
    fn execute(&self, command: RelayCommand) -> Option<RelayEvent>;
}

/// One media transport address a channel-based description announces: H.245's
/// OpenLogicalChannel (the opening of a channel), its Ack (the answer) and fastStart proposals
/// (openings sent before the call is up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelAddress {
    /// The stream it belongs to: H.245's sessionID (1 audio, 2 video, 3 data; both directions
    /// of one medium share it). One relay session is set up per session of a call.
    pub session: u8,
    /// RTP (H.245 mediaChannel) or RTCP (mediaControlChannel).
    pub component: Component,
    /// The answer to an opened channel (OpenLogicalChannelAck), not the opening itself.
    pub answer: bool,
    /// Proposed before the call is up (H.323 fastStart).
    pub early: bool,
}

/// What a signaling stack asks of the media relay: SIP anchors its SDP bodies through `sdp`,
/// H.323 call signaling shows it every logical-channel address (`channel_address`).
pub trait MediaAnchor {
    /// Whether calls between these legs are anchored (the `[media] anchor` policy).
    fn wants(&self, legs: &Legs) -> bool;
    /// An SDP body of call `call_id` from `from`, about to be forwarded to the other side.
    /// `Err`: the offer cannot be anchored (the attempt ends with that status).
    fn sdp(
        &mut self,
        call_id: &str,
        from: Side,
        legs: &Legs,
        body: &[u8],
        now: Instant,
    ) -> Result<Anchored, MediaRefusal>;
    /// One address of a logical channel of call `call_id` between `legs`, announced by `from`
    /// (where `from` receives that component of that stream): the address to announce to the
    /// other side instead, or `None` to leave it. [`ChannelAnchor`] anchors them; [`Anchor`]
    /// (SDP) leaves every address alone (the default).
    fn channel_address(
        &mut self,
        _call_id: &str,
        _from: Side,
        _legs: &Legs,
        _what: ChannelAddress,
        _addr: SocketAddr,
        _now: Instant,
    ) -> Option<SocketAddr> {
        None
    }
    /// The call ended (BYE, CANCEL, a failure answer): free what it holds.
    fn end(&mut self, call_id: &str);
    /// Side `side` of call `call_id` is E's end of a traversal link, and C's signaling
    /// connection came from `observed` (its source IP as seen here). Tell it before the call's
    /// first media description: a NAT between C and E (`observed` not the IP C advertises for
    /// its media) puts that leg on a pair of its own instead of the multiplexed one (see
    /// `peers`). Not telling it keeps the multiplexed layout. Freed by `end`.
    fn link_peer(&mut self, _call_id: &str, _side: Side, _observed: IpAddr) {}
    /// E: the H.460.19 multiplexID of leg `side`'s stream of H.245 session `session` (when
    /// that leg is on the multiplexed pair), for C's traversal parameters.
    fn multiplex_id(&self, _call_id: &str, _side: Side, _session: u8) -> Option<u32> {
        None
    }
    /// C: E's multiplexID for leg `side`'s stream of H.245 session `session`: what C's relay
    /// sends towards E on that leg starts with it.
    fn set_multiplex_id(&mut self, _call_id: &str, _side: Side, _session: u8, _id: u32) {}
    /// C: the keep-alive payload type E's traversal parameters asked for on leg `side`'s
    /// stream of H.245 session `session`.
    fn set_keepalive_payload_type(&mut self, _call_id: &str, _side: Side, _session: u8, _pt: u8) {}
    /// The relay driver's answer to a command; the call whose set-up it settled, if any (ask
    /// `sdp` again for it).
    fn handle(&mut self, _event: RelayEvent, _now: Instant) -> Option<String> {
        None
    }
    /// The next command for the relay driver.
    fn poll_command(&mut self) -> Option<RelayCommand> {
        None
    }
    /// Runs the inactivity sweep when due: the calls whose media went dead and that the node
    /// should end itself (the `on_inactivity` policy).
    fn handle_timeout(&mut self, _now: Instant) -> Vec<String> {
        Vec::new()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// `[media]` settings the anchoring decides with.
#[derive(Clone, Copy, Debug)]
pub struct AnchorConfig {
    pub policy: Policy,
    /// `[media] address`: advertised instead of the signaling address facing each leg.
    pub address: Option<IpAddr>,
    pub strip_ice: bool,
    pub on_inactivity: OnInactivity,
    /// `[media] multiplexed`: E's end of a link uses the multiplexed pair (else a pair of its
    /// own per stream, latched on C's first packet).
    pub multiplexed: bool,
}

/// One relayed stream of a call.
#[derive(Clone, Copy, Debug)]
struct Relayed {
    info: SessionInfo,
    /// The legs as first set up (a failed bind sets them up again on new ports).
    specs: (LegSpec, LegSpec),
    attempts: usize,
}

#[derive(Clone, Debug)]
enum State {
    /// Sessions whose ports the driver has not bound yet.
    Opening(usize),
    Open,
    Failed(MediaRefusal),
}

struct Call {
    /// The legs of the first offer: leg A faces `caller`, leg B `callee`.
    legs: Legs,
    /// One entry per m= section of the first offer (`None`: not relayed).
    streams: Vec<Option<Relayed>>,
    state: State,
}

pub struct Anchor {
    table: SharedTable,
    config: AnchorConfig,
    calls: HashMap<String, Call>,
    /// What signaling saw of the calls' link peers.
    peers: Peers,
    /// Sessions the driver is binding: (call, stream index).
    opening: HashMap<SessionId, (String, usize)>,
    commands: VecDeque<RelayCommand>,
    sweep_at: Option<Instant>,
}

impl Anchor {
    pub fn new(table: SharedTable, config: AnchorConfig) -> Anchor {
        Anchor {
            table,
            config,
            calls: HashMap::new(),
            peers: Peers::default(),
            opening: HashMap::new(),
            commands: VecDeque::new(),
            sweep_at: None,
        }
    }

    /// The calls anchored now.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Session ids of a call (tests, status).
    pub fn sessions_of(&self, call_id: &str) -> Vec<SessionId> {
        self.calls
            .get(call_id)
            .map(|c| c.streams.iter().flatten().map(|r| r.info.id).collect())
            .unwrap_or_default()
    }

    fn advertised(&self, leg: &Leg) -> IpAddr {
        self.config.address.unwrap_or_else(|| leg.local.ip())
    }

    /// The relay's view of side `side` of call `call_id`: E's link leg is multiplexed (unless
    /// `[media] multiplexed` is off or C is behind a NAT), every other one has its own pair.
    fn spec(&self, call_id: &str, side: Side, leg: &Leg, expected: Option<Stream>) -> LegSpec {
        let observed = self.peers.get(call_id, side);
        let media = expected.map(|s| s.rtp.ip());
        let mut spec = leg_spec(leg, self.config.multiplexed, observed, media);
        if let Some(s) = expected {
            spec.rtp = Some(s.rtp);
            spec.rtcp = s.rtcp;
        }
        spec
    }

    /// A first offer from the caller: a session per relayable section, each to be bound.
    fn open(
        &mut self,
        call_id: &str,
        legs: &Legs,
        sdp: &Sdp,
        now: Instant,
    ) -> Result<Anchored, MediaRefusal> {
        if self.calls.len() >= MAX_CALLS {
            return Err(refuse(503, "Service Unavailable (media relay full)"));
        }
        let mut streams: Vec<Option<Relayed>> = Vec::new();
        {
            let mut table = self.table.lock();
            for m in sdp.media() {
                let Some(expected) = relayable(m) else {
                    streams.push(None);
                    continue;
                };
                let specs = (
                    self.spec(call_id, Side::Caller, &legs.caller, Some(expected)),
                    self.spec(call_id, Side::Callee, &legs.callee, None),
                );
                match table.add(specs.0, specs.1, now) {
                    Ok(info) => streams.push(Some(Relayed {
                        info,
                        specs,
                        attempts: 1,
                    })),
                    Err(e) => {
                        for r in streams.iter().flatten() {
                            table.remove(r.info.id);
                        }
                        return Err(add_refusal(e));
                    }
                }
            }
        }
        let pending = streams.iter().flatten().count();
        for (i, r) in streams.iter().enumerate() {
            if let Some(r) = r {
                self.opening.insert(r.info.id, (call_id.to_string(), i));
                self.commands.push_back(RelayCommand::Open(r.info));
            }
        }
        self.sweep_at.get_or_insert(now + SWEEP_EVERY);
        let state = if pending == 0 {
            State::Open
        } else {
            State::Opening(pending)
        };
        self.calls.insert(
            call_id.to_string(),
            Call {
                legs: legs.clone(),
                streams,
                state,
            },
        );
        if pending == 0 {
            // nothing to bind: the body goes on at once
            return self.update(call_id, Side::Caller, sdp);
        }
        Ok(Anchored::Pending)
    }

    /// `sdp` came from side `from` of a known call: its addresses are what that leg expects;
    /// the body goes on rewritten for the other leg.
    fn update(&mut self, call_id: &str, from: Side, sdp: &Sdp) -> Result<Anchored, MediaRefusal> {
        let Some(call) = self.calls.get(call_id) else {
            return Ok(Anchored::Unchanged);
        };
        let sessions: Vec<Option<SessionInfo>> =
            call.streams.iter().map(|r| r.map(|r| r.info)).collect();
        let to_leg = call.legs.leg(from.other()).clone();
        {
            let mut table = self.table.lock();
            for (m, info) in sdp.media().iter().zip(&sessions) {
                let (Some(info), Some(s)) = (info, relayable(m)) else {
                    continue;
                };
                if let Err(e) = table.set_expected(info.id, from, Some(s.rtp), s.rtcp) {
                    return Err(update_refusal(e));
                }
            }
        }
        if call.legs.leg(from).link == Some(LinkEnd::Client) {
            // C just learnt where E receives: open the pinhole before E's media comes
            for info in sessions.iter().flatten() {
                self.commands.push_back(RelayCommand::KeepAlive {
                    session: info.id,
                    side: from,
                });
            }
        }
        let addr = self.advertised(&to_leg);
        Ok(Anchored::Rewritten(streams::rewrite(
            sdp,
            &sessions,
            from.other(),
            addr,
            self.config.strip_ice,
        )))
    }

    /// A bind failed: the session gives its ports back (to the end of the allocator's queue)
    /// and is set up again on others, or the call's offer fails.
    fn rebind(
        &mut self,
        call_id: &str,
        index: usize,
        port: u16,
        error: &str,
        now: Instant,
    ) -> bool {
        let Some(call) = self.calls.get_mut(call_id) else {
            return false;
        };
        let Some(Some(r)) = call.streams.get_mut(index) else {
            return false;
        };
        let mut table = self.table.lock();
        table.remove(r.info.id);
        let outcome = if r.attempts >= BIND_ATTEMPTS {
            Err(refuse(
                488,
                format!(
                    "Not Acceptable Here (media relay: cannot bind media port {port}: {error})"
                ),
            ))
        } else {
            table.add(r.specs.0, r.specs.1, now).map_err(add_refusal)
        };
        drop(table);
        match outcome {
            Ok(info) => {
                r.info = info;
                r.attempts += 1;
                self.opening.insert(info.id, (call_id.to_string(), index));
                self.commands.push_back(RelayCommand::Open(info));
                false
            }
            Err(refusal) => {
                call.streams[index] = None;
                call.state = State::Failed(refusal);
                true
            }
        }
    }
}

fn refuse(status: u16, reason: impl Into<String>) -> MediaRefusal {
    MediaRefusal {
        status,
        reason: reason.into(),
    }
}

fn add_refusal(e: AddError) -> MediaRefusal {
    refuse(503, format!("Service Unavailable (media relay: {e})"))
}

fn update_refusal(e: UpdateError) -> MediaRefusal {
    refuse(488, format!("Not Acceptable Here (media relay: {e})"))
}

/// The `[media] anchor` policy: whether a call between `legs` is anchored (SIP and H.323
/// alike).
fn wanted(policy: Policy, legs: &Legs) -> bool {
    match policy {
        // the peer the call goes to anchors it (it anchors every call too)
        Policy::All => !legs.callee.cluster_peer,
        Policy::None => false,
        Policy::Traversal => legs.caller.link.is_some() || legs.callee.link.is_some(),
    }
}

impl MediaAnchor for Anchor {
    fn wants(&self, legs: &Legs) -> bool {
        wanted(self.config.policy, legs)
    }

    fn sdp(
        &mut self,
        call_id: &str,
        from: Side,
        legs: &Legs,
        body: &[u8],
        now: Instant,
    ) -> Result<Anchored, MediaRefusal> {
        let sdp =
            Sdp::parse(body).map_err(|e| refuse(488, format!("Not Acceptable Here ({e})")))?;
        let Some(call) = self.calls.get(call_id) else {
            return match from {
                Side::Caller => self.open(call_id, legs, &sdp, now),
                // an answer for a call we did not see the offer of: leave it alone
                Side::Callee => Ok(Anchored::Unchanged),
            };
        };
        match &call.state {
            State::Opening(_) => Ok(Anchored::Pending),
            State::Failed(r) => Err(r.clone()),
            State::Open => {
                // which leg sent it: compare with the legs of the first offer (a re-INVITE
                // may come from the callee's side)
                let side = if legs.leg(from).remote == call.legs.caller.remote {
                    Side::Caller
                } else {
                    Side::Callee
                };
                self.update(call_id, side, &sdp)
            }
        }
    }

    fn end(&mut self, call_id: &str) {
        self.peers.remove(call_id);
        let Some(call) = self.calls.remove(call_id) else {
            return;
        };
        let mut table = self.table.lock();
        for r in call.streams.into_iter().flatten() {
            self.opening.remove(&r.info.id);
            if let Some(info) = table.remove(r.info.id) {
                self.commands.push_back(RelayCommand::Close(info));
            }
        }
    }

    fn link_peer(&mut self, call_id: &str, side: Side, observed: IpAddr) {
        self.peers.set(call_id, side, observed);
    }

    fn handle(&mut self, event: RelayEvent, now: Instant) -> Option<String> {
        match event {
            RelayEvent::Opened(id) => {
                let (call_id, _) = self.opening.remove(&id)?;
                let call = self.calls.get_mut(&call_id)?;
                if let State::Opening(n) = &mut call.state {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        call.state = State::Open;
                        return Some(call_id);
                    }
                }
                None
            }
            RelayEvent::OpenFailed {
                session,
                port,
                error,
            } => {
                let (call_id, index) = self.opening.remove(&session)?;
                tracing::warn!(call = %call_id, port, %error, "media port could not be bound");
                self.rebind(&call_id, index, port, &error, now)
                    .then_some(call_id)
            }
        }
    }

    fn poll_command(&mut self) -> Option<RelayCommand> {
        self.commands.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Vec<String> {
        if self.sweep_at.is_none_or(|t| t > now) {
            return Vec::new();
        }
        self.sweep_at = (!self.calls.is_empty()).then_some(now + SWEEP_EVERY);
        // a call whose every session the relay ended (no BYE came: those remove the call)
        let dead: Vec<String> = {
            let table = self.table.lock();
            self.calls
                .iter()
                .filter(|(_, c)| matches!(c.state, State::Open))
                .filter(|(_, c)| {
                    let mut s = c.streams.iter().flatten().peekable();
                    s.peek().is_some() && s.all(|r| table.get(r.info.id).is_none())
                })
                .map(|(id, _)| id.clone())
                .collect()
        };
        for id in &dead {
            self.calls.remove(id);
            if self.config.on_inactivity == OnInactivity::Report {
                tracing::warn!(call = %id, "media of the call stopped; the call is left up");
            }
        }
        match self.config.on_inactivity {
            OnInactivity::Hangup => dead,
            OnInactivity::Report => Vec::new(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.sweep_at
    }
}

impl fmt::Debug for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anchor")
            .field("calls", &self.calls.len())
            .field("opening", &self.opening.len())
            .finish()
    }
}
