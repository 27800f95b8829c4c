//! Anchoring of channel-based media descriptions (H.323: the addresses of H.245 logical
//! channels, tunneled, on a separate H.245 connection, or in fastStart): each address in,
//! the relay's address to announce instead out.
//!
//! One relay session per (call, H.245 sessionID): both directions of one medium share it, as
//! both directions of an SDP m= section do. Leg A faces the caller, leg B the callee, exactly
//! as [`Anchor`](super::Anchor) sets SDP streams up, in the same relay table. An address side X
//! announces for component c (where X receives RTP or RTCP) becomes the expected destination
//! of X's leg for c; the other side is told the relay's own port for c on its leg, so each
//! side sends to the relay, which forwards to the address the far side announced. Latching is
//! the table's, as for SIP: the first packet a leg receives fixes where that leg's media is
//! sent back to, so a NATed endpoint's real source wins over what it announced.
//!
//! Binding is synchronous, unlike SIP's (`Anchored::Pending`, then the relay driver's
//! `RelayEvent`): an H.245 message is rewritten in place while it is relayed, and holding it
//! back would reorder it against the H.245 and Q.931 messages behind it. So this anchor owns a
//! [`Relay`] and carries out `Open` at once (the node's is `RelayHandle::execute`, which binds
//! inside the tokio runtime the call signaling already runs on); a pair that cannot be bound
//! goes back to the allocator (to the end of its queue) and the session is set up again on
//! other ports, up to [`BIND_ATTEMPTS`] times, so an address it answers is always bound. The
//! state machine stays free of I/O of its own: the relay is the one seam, and tests pass a
//! fake.
//!
//! A call across a traversal zone has a link leg (`Leg::link`): E's end of it goes on the
//! multiplexed pair (unless `[media] multiplexed` is off, or a NAT between C and E shows: see
//! `peers`; the address that sets the session up is the one C's advertised IP is judged by,
//! when C announced it), and on C, as soon as E's address for
//! a stream is known, the relay sends that leg's keep-alives at once (`RelayCommand::KeepAlive`,
//! see `session::keepalive`), so C's firewall holds a pinhole before E's media comes.
//!
//! When no session can be had (`[media] max_sessions`, the port range exhausted, every bind
//! attempt failed, the per-call bound), the addresses of that H.245 session are left as they
//! are for the rest of the call and a warning is logged: the media goes end to end, as in an
//! unanchored call. SIP answers 503 in that case because an offer can be refused; an H.245
//! address sits in a message whose call is already up or being set up, and clearing the call
//! would turn a relay limit into dropped calls (on a traversal call that stream then cannot
//! cross the firewall). The refusal is remembered per
//! session so both sides stay consistent (never one side anchored and the other not).
//!
//! Owns the call -> H.245 sessions map. Must not touch sockets or clocks (time is what the
//! caller passes), nor the SDP side's calls.

#[cfg(test)]
mod tests;

use super::peers::{leg_spec, Peers};
use super::{wanted, AnchorConfig, Anchored, ChannelAddress, MediaAnchor, MediaRefusal};
use super::{Relay, RelayCommand, RelayEvent, BIND_ATTEMPTS, MAX_CALLS};
use crate::call::{Leg, Legs, LinkEnd, Side};
use crate::session::{Component, LegSpec, SessionInfo, SharedTable};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// H.245 sessions relayed per call: audio, video, data, a presentation (H.239) and spares. A
/// bound on what one call's endpoints can take from the relay table.
pub const MAX_SESSIONS_PER_CALL: usize = 8;

/// One H.245 session of a call.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Relayed(SessionInfo),
    /// No relay session could be had: its addresses are left alone for the rest of the call.
    Refused,
}

/// The anchoring of H.245 logical-channel addresses. See the module docs.
pub struct ChannelAnchor {
    table: SharedTable,
    relay: Arc<dyn Relay + Send + Sync>,
    config: AnchorConfig,
    /// Call -> H.245 sessionID -> its relay session.
    calls: HashMap<String, HashMap<u8, Slot>>,
    /// What signaling saw of the calls' link peers.
    peers: Peers,
}

impl ChannelAnchor {
    /// Anchors in `table` (the node's relay table, shared with SIP's anchoring), binding
    /// through `relay`.
    pub fn new(
        table: SharedTable,
        relay: Arc<dyn Relay + Send + Sync>,
        config: AnchorConfig,
    ) -> ChannelAnchor {
        ChannelAnchor {
            table,
            relay,
            config,
            calls: HashMap::new(),
            peers: Peers::default(),
        }
    }

    /// The calls with at least one address shown.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// The relay session of H.245 session `session` of a call (tests, status).
    pub fn session_of(&self, call_id: &str, session: u8) -> Option<SessionInfo> {
        match self.calls.get(call_id)?.get(&session)? {
            Slot::Relayed(info) => Some(*info),
            Slot::Refused => None,
        }
    }

    fn advertised(&self, leg: &Leg) -> IpAddr {
        self.config.address.unwrap_or_else(|| leg.local.ip())
    }

    /// The relay session of a call's H.245 session: the one it has (set up again if the relay
    /// ended it for inactivity), a new one, or `None` when it is refused. `first`: the side
    /// that announced the address at hand, and its IP.
    fn session(
        &mut self,
        call_id: &str,
        session: u8,
        legs: &Legs,
        first: (Side, IpAddr),
        now: Instant,
    ) -> Option<SessionInfo> {
        let calls = self.calls.len();
        let sessions = match self.calls.get_mut(call_id) {
            Some(s) => s,
            None if calls >= MAX_CALLS => {
                tracing::warn!(call = %call_id, "media relay: too many H.323 calls anchored");
                return None;
            }
            None => self.calls.entry(call_id.to_string()).or_default(),
        };
        match sessions.get(&session) {
            Some(Slot::Refused) => return None,
            Some(Slot::Relayed(info)) if self.table.lock().get(info.id).is_some() => {
                return Some(*info)
            }
            // expired by the relay (no media for the inactivity timeout): a new one
            Some(Slot::Relayed(_)) => {}
            None if sessions.len() >= MAX_SESSIONS_PER_CALL => {
                tracing::warn!(call = %call_id, session, "media relay: too many H.245 sessions");
                return None;
            }
            None => {}
        }
        let spec = |side: Side| {
            let media = (first.0 == side).then_some(first.1);
            let observed = self.peers.get(call_id, side);
            leg_spec(legs.leg(side), self.config.multiplexed, observed, media)
        };
        let specs = (spec(Side::Caller), spec(Side::Callee));
        let slot = match open(&self.table, self.relay.as_ref(), specs, now) {
            Ok(info) => Slot::Relayed(info),
            Err(why) => {
                tracing::warn!(
                    call = %call_id,
                    session,
                    %why,
                    "H.245 session not anchored: its media goes end to end"
                );
                Slot::Refused
            }
        };
        sessions.insert(session, slot);
        match slot {
            Slot::Relayed(info) => Some(info),
            Slot::Refused => None,
        }
    }
}

/// Sets a session up with the legs `specs` (E's end of a traversal link on the multiplexed
/// pair, the others on pairs of their own) and has `relay` bind it, on new ports after a
/// failed bind.
fn open(
    table: &SharedTable,
    relay: &dyn Relay,
    specs: (LegSpec, LegSpec),
    now: Instant,
) -> Result<SessionInfo, String> {
    let mut last = String::new();
    for _ in 0..BIND_ATTEMPTS {
        let info = table
            .lock()
            .add(specs.0, specs.1, now)
            .map_err(|e| e.to_string())?;
        // the table lock is not held here: the relay's readers take it for every batch
        match relay.execute(RelayCommand::Open(info)) {
            Some(RelayEvent::OpenFailed { port, error, .. }) => {
                tracing::warn!(port, %error, "media port could not be bound");
                table.lock().remove(info.id);
                last = format!("cannot bind media port {port}: {error}");
            }
            Some(RelayEvent::Opened(_)) | None => return Ok(info),
        }
    }
    Err(last)
}

/// Whether the relay can carry media to `addr`.
fn relayable(addr: SocketAddr) -> bool {
    addr.port() != 0 && !addr.ip().is_unspecified() && !addr.ip().is_multicast()
}

impl MediaAnchor for ChannelAnchor {
    fn wants(&self, legs: &Legs) -> bool {
        wanted(self.config.policy, legs)
    }

    /// SIP anchors through [`Anchor`](super::Anchor); a body shown here is left alone.
    fn sdp(
        &mut self,
        _call_id: &str,
        _from: Side,
        _legs: &Legs,
        _body: &[u8],
        _now: Instant,
    ) -> Result<Anchored, MediaRefusal> {
        Ok(Anchored::Unchanged)
    }

    fn channel_address(
        &mut self,
        call_id: &str,
        from: Side,
        legs: &Legs,
        what: ChannelAddress,
        addr: SocketAddr,
        now: Instant,
    ) -> Option<SocketAddr> {
        if !relayable(addr) {
            return None;
        }
        let info = self.session(call_id, what.session, legs, (from, addr.ip()), now)?;
        {
            let mut table = self.table.lock();
            let leg = table.get(info.id)?.leg(from);
            // one component at a time: the other keeps what it was told before
            let (rtp, rtcp) = match what.component {
                Component::Rtp => (Some(addr), leg.latch(Component::Rtcp).expected()),
                Component::Rtcp => (leg.latch(Component::Rtp).expected(), Some(addr)),
            };
            table.set_expected(info.id, from, rtp, rtcp).ok()?;
        }
        if legs.leg(from).link == Some(LinkEnd::Client) {
            // C just learnt where E receives this: open the pinhole before E's media comes
            self.relay.execute(RelayCommand::KeepAlive {
                session: info.id,
                side: from,
            });
        }
        let towards = from.other();
        let local = match towards {
            Side::Caller => info.a,
            Side::Callee => info.b,
        };
        let ip = self.advertised(legs.leg(towards));
        Some(SocketAddr::new(ip, local.port(what.component)))
    }

    fn link_peer(&mut self, call_id: &str, side: Side, observed: IpAddr) {
        self.peers.set(call_id, side, observed);
    }

    fn multiplex_id(&self, call_id: &str, side: Side, session: u8) -> Option<u32> {
        let info = self.session_of(call_id, session)?;
        self.table.lock().multiplex_id(info.id, side)
    }

    fn set_keepalive_payload_type(&mut self, call_id: &str, side: Side, session: u8, pt: u8) {
        if let Some(info) = self.session_of(call_id, session) {
            let _ = self.table.lock().set_keepalive_pt(info.id, side, Some(pt));
        }
    }

    fn set_multiplex_id(&mut self, call_id: &str, side: Side, session: u8, id: u32) {
        let Some(info) = self.session_of(call_id, session) else {
            return;
        };
        if self
            .table
            .lock()
            .set_send_mux_id(info.id, side, Some(id))
            .is_ok()
        {
            // a keep-alive carrying the ID at once: E latches C's leg by it, NAT or not
            self.relay.execute(RelayCommand::KeepAlive {
                session: info.id,
                side,
            });
        }
    }

    fn end(&mut self, call_id: &str) {
        self.peers.remove(call_id);
        let Some(sessions) = self.calls.remove(call_id) else {
            return;
        };
        for slot in sessions.into_values() {
            if let Slot::Relayed(info) = slot {
                let removed = self.table.lock().remove(info.id);
                if let Some(info) = removed {
                    self.relay.execute(RelayCommand::Close(info));
                }
            }
        }
    }
}

impl fmt::Debug for ChannelAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelAnchor")
            .field("calls", &self.calls.len())
            .finish()
    }
}
