//! The relay table (sans-IO): which local port belongs to which leg of which session, where a
//! received packet goes next, and when an idle session ends.
//!
//! A session joins two legs, A (facing the caller) and B (facing the callee). Each leg has a local port pair (its own from the
//! allocator, or on E's link side the multiplexed pair shared by all calls) and a latch for
//! RTP and one for RTCP. A packet accepted on one leg is sent from the other leg's local port
//! of the same component to that leg's latch destination.
//!
//! It owns the sessions, their counters and the port allocator. It never touches a socket or a
//! clock: the relay driver passes every packet's local port, source, length and `now`, and
//! binds or closes sockets for the port pairs that `add`, `remove` and `expire` report.
//!
//! Memory is bounded: at most `max_sessions` sessions, one route slot per port number, one
//! multiplexed-source entry per multiplexed leg component. How multiplexed legs are keyed (and
//! re-keyed without losing their latch) is `mux`'s.
//!
//! E's end of a link on a pair of its own (`[media] multiplexed = false`, or C behind a NAT,
//! see `anchor`) latches only on a source whose IP is the one C advertised or the one its
//! signaling came from (`LegSpec::observed`): the first packet of anyone else would otherwise
//! take C's stream.
//!
//! `add` runs in steps, one function each (sources, ports, slot, session, routes). Split out of
//! one long `try_add`, an add + remove of an own/multiplexed session measured 213-229 ns
//! against 228-239 ns as one function (criterion, three runs each interleaved back to back,
//! 2 vCPU VM, 2026-12-04): no cost.

use crate::call::{LinkEnd, Side};
use crate::latch::{DropReason, Latch, LatchConfig, LatchRule, Verdict};
use crate::ports::{PortAllocator, PortPair, PortsExhausted};
use causeway_config::PortRange;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    Rtp,
    Rtcp,
}

impl Component {
    fn index(self) -> usize {
        match self {
            Component::Rtp => 0,
            Component::Rtcp => 1,
        }
    }
    /// The port of `pair` that carries this component.
    pub fn port(self, pair: PortPair) -> u16 {
        match self {
            Component::Rtp => pair.rtp(),
            Component::Rtcp => pair.rtcp(),
        }
    }
}

/// A session's handle. The generation makes an id of an ended session stale even after its
/// slot is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId {
    slot: u32,
    generation: u32,
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.slot, self.generation)
    }
}

/// Which local ports a leg uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalKind {
    /// A pair of its own from the media range.
    Own,
    /// E's multiplexed pair: packets are told apart by the source they come from, which must
    /// be the address C advertised in its SDP (exact IP and port; see `mux` for RTP when only
    /// RTCP was advertised).
    Multiplexed,
}

/// A leg as the signaling side describes it when the session is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegSpec {
    pub local: LocalKind,
    /// The peer's RTP and RTCP addresses from its SDP, if known yet (an offer's far leg is
    /// learnt from the answer, see `Table::set_expected`).
    pub rtp: Option<SocketAddr>,
    pub rtcp: Option<SocketAddr>,
    /// The leg is a traversal link (see `keepalive`): C's end sends keep-alives, E's end sends
    /// nothing before C's first packet.
    pub link: Option<LinkEnd>,
    /// E's end of a link: C's IP as its signaling connection was seen. A pair of its own
    /// latches on it as well as on the advertised IP (a NAT between C and E rewrites C's
    /// media to it).
    pub observed: Option<IpAddr>,
}

impl LegSpec {
    /// A leg with its own pair; RTCP expected on the RTP port + 1 (RFC 3550 section 11).
    pub fn own(rtp: Option<SocketAddr>) -> LegSpec {
        LegSpec {
            local: LocalKind::Own,
            rtp,
            rtcp: rtp.and_then(rtcp_of),
            link: None,
            observed: None,
        }
    }
    /// E's leg towards C over the multiplexed pair, keyed by C's advertised RTP address (and
    /// RTP port + 1 for RTCP).
    pub fn multiplexed(rtp: Option<SocketAddr>) -> LegSpec {
        LegSpec {
            local: LocalKind::Multiplexed,
            rtp,
            rtcp: rtp.and_then(rtcp_of),
            link: None,
            observed: None,
        }
    }
    /// The same leg, marked as a traversal link's end (or not).
    pub fn on_link(mut self, link: Option<LinkEnd>) -> LegSpec {
        self.link = link;
        self
    }
    /// The same leg, with the link peer's IP as signaling saw it (or not).
    pub fn observed_at(mut self, ip: Option<IpAddr>) -> LegSpec {
        self.observed = ip;
        self
    }
    /// How this leg's latches admit a first source: E's end of a link on a pair of its own
    /// only from C's IPs (advertised or observed), every other leg as the table says.
    fn latch_config(&self, table: LatchConfig) -> LatchConfig {
        match (self.local, self.link) {
            (LocalKind::Own, Some(LinkEnd::Server)) => LatchConfig {
                rule: LatchRule::ExpectedIpOnly,
                ..table
            },
            _ => table,
        }
    }
}

/// The RTCP address that goes with an RTP address when the SDP has no `a=rtcp`.
pub fn rtcp_of(rtp: SocketAddr) -> Option<SocketAddr> {
    let port = rtp.port().checked_add(1)?;
    Some(SocketAddr::new(rtp.ip(), port))
}

/// A leg's local pair as set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    Own(PortPair),
    Multiplexed(PortPair),
}

impl Local {
    pub fn pair(self) -> PortPair {
        match self {
            Local::Own(p) | Local::Multiplexed(p) => p,
        }
    }
    pub fn port(self, c: Component) -> u16 {
        c.port(self.pair())
    }
}

/// What the driver needs to know of a session: its id and the local pairs of its legs (the
/// driver binds sockets for `Local::Own` pairs; the multiplexed pair is bound once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub a: Local,
    pub b: Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    TooManySessions {
        max: usize,
    },
    Ports(PortsExhausted),
    /// A multiplexed leg, but this node has no multiplexed pair (only E has one).
    NoMultiplexedPair,
    /// Another multiplexed leg already expects this source, so packets from it could not be
    /// told apart.
    MultiplexedSourceTaken(SocketAddr),
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::TooManySessions { max } => write!(f, "{max} relay sessions already"),
            AddError::Ports(e) => e.fmt(f),
            AddError::NoMultiplexedPair => write!(f, "no multiplexed media pair on this node"),
            AddError::MultiplexedSourceTaken(a) => {
                write!(f, "multiplexed source {a} already belongs to another call")
            }
        }
    }
}

impl std::error::Error for AddError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateError {
    UnknownSession,
    MultiplexedSourceTaken(SocketAddr),
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::UnknownSession => write!(f, "no such relay session"),
            UpdateError::MultiplexedSourceTaken(a) => {
                write!(f, "multiplexed source {a} already belongs to another call")
            }
        }
    }
}

impl std::error::Error for UpdateError {}

/// Packets and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub packets: u64,
    pub bytes: u64,
}

impl Flow {
    fn add(&mut self, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
    }
}

/// Where to send an accepted packet: from our local port `from_port` to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    pub from_port: u16,
    pub to: SocketAddr,
}

/// One leg of a session.
#[derive(Clone, Debug)]
pub struct Leg {
    local: Local,
    latches: [Latch; 2],
    /// Accepted from this leg's peer and forwarded to the other leg.
    forwarded: Flow,
    /// Arrived on this leg's ports and dropped (stranger, refused IP, nowhere to send).
    dropped: u64,
    link: Option<LinkEnd>,
    /// C's end of a link only (the keep-alives' clock): when a packet of each component last
    /// left towards this leg's peer (relayed or a keep-alive).
    last_out: [Option<Instant>; 2],
    /// A multiplexed leg's keys in `Table::mux_sources`, per component (see `mux`).
    keys: [Option<SocketAddr>; 2],
    /// C's end of a link: the multiplexID E gave for this leg's stream; every packet towards
    /// E's multiplexed pair starts with it (H.460.19, see `mux_id`).
    send_mux_id: Option<u32>,
    /// C's end of a link: the keep-alive payload type E asked for in its traversal
    /// parameters (`None`: the configured one).
    keepalive_pt: Option<u8>,
}

impl Leg {
    pub fn local(&self) -> Local {
        self.local
    }
    pub fn latch(&self, c: Component) -> &Latch {
        &self.latches[c.index()]
    }
    pub fn forwarded(&self) -> Flow {
        self.forwarded
    }
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
    pub fn link(&self) -> Option<LinkEnd> {
        self.link
    }
    /// Where this leg's media of `c` goes. E's end of a traversal link sends nothing until C's
    /// first packet arrived (H.460.19: the client opens the pinhole; a datagram towards C
    /// before that is one C's firewall drops); every other leg sends to the SDP's address
    /// until then.
    fn destination(&self, c: Component) -> Option<SocketAddr> {
        let latch = &self.latches[c.index()];
        match self.link {
            Some(LinkEnd::Server) => latch.latched(),
            _ => latch.destination(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Session {
    id: SessionId,
    legs: [Leg; 2],
    last_activity: Instant,
}

impl Session {
    pub fn id(&self) -> SessionId {
        self.id
    }
    pub fn leg(&self, side: Side) -> &Leg {
        &self.legs[side.index()]
    }
    /// The last packet accepted in either direction (the set-up time before that).
    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }
    fn info(&self) -> SessionInfo {
        SessionInfo {
            id: self.id,
            a: self.legs[0].local,
            b: self.legs[1].local,
        }
    }
}

/// Table-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    pub sessions: usize,
    pub forwarded: Flow,
    /// To a port no session holds (a late packet of an ended call, a scan).
    pub dropped_unknown_port: u64,
    /// To the multiplexed pair from a source no leg expects.
    pub dropped_unknown_source: u64,
    /// From a source other than the latched one.
    pub dropped_stranger: u64,
    /// Refused by `LatchRule::ExpectedIpOnly` before latching.
    pub dropped_not_expected_ip: u64,
    /// From the peer, but the other leg has no address yet (no SDP, nothing received).
    pub dropped_no_destination: u64,
    pub relatched: u64,
    pub expired: u64,
    pub refused: u64,
    /// RTP keep-alives (a bare 12-byte header, H.460.19) received: they latch, and go no
    /// further.
    pub keepalives: u64,
    /// Packets on the multiplexed pair told apart by their multiplexID rather than their
    /// source (H.460.19 multiplexed media, `mux_id`).
    pub demuxed_by_id: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct TableConfig {
    pub ports: PortRange,
    /// E's multiplexed pair (36000/36001 by default); `None` on C.
    pub multiplexed: Option<PortPair>,
    pub max_sessions: usize,
    pub latch: LatchConfig,
}

#[derive(Clone, Copy, Debug)]
enum Route {
    Free,
    Leg {
        slot: u32,
        side: Side,
        component: Component,
    },
    Multiplexed(Component),
}

#[derive(Clone, Debug)]
struct Slot {
    generation: u32,
    session: Option<Session>,
}

/// The relay table of one node.
#[derive(Debug)]
pub struct Table {
    config: TableConfig,
    ports: PortAllocator,
    /// Indexed by local port number: a packet's first lookup is one array read.
    routes: Vec<Route>,
    /// Multiplexed legs by the source they expect.
    mux_sources: HashMap<(Component, SocketAddr), (u32, Side)>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    stats: TableStats,
}

impl Table {
    pub fn new(config: TableConfig) -> Table {
        let reserved: Vec<PortPair> = config.multiplexed.into_iter().collect();
        let mut routes = vec![Route::Free; usize::from(u16::MAX) + 1];
        if let Some(m) = config.multiplexed {
            routes[usize::from(m.rtp())] = Route::Multiplexed(Component::Rtp);
            routes[usize::from(m.rtcp())] = Route::Multiplexed(Component::Rtcp);
        }
        Table {
            ports: PortAllocator::new(config.ports, &reserved),
            config,
            routes,
            mux_sources: HashMap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            stats: TableStats::default(),
        }
    }

    pub fn config(&self) -> &TableConfig {
        &self.config
    }

    /// Sets up a session: allocates the pairs of `Own` legs and keys `Multiplexed` legs by
    /// their expected sources. On error nothing is held.
    pub fn add(&mut self, a: LegSpec, b: LegSpec, now: Instant) -> Result<SessionInfo, AddError> {
        let r = self.try_add(a, b, now);
        if r.is_err() {
            self.stats.refused += 1;
        }
        r
    }

    fn try_add(&mut self, a: LegSpec, b: LegSpec, now: Instant) -> Result<SessionInfo, AddError> {
        if self.stats.sessions >= self.config.max_sessions {
            return Err(AddError::TooManySessions {
                max: self.config.max_sessions,
            });
        }
        let specs = [a, b];
        let keys = self.plan_mux_keys(&specs)?;
        let locals = self.allocate_locals(&specs)?;
        let slot = self.take_slot(&locals)?;
        let id = self.place_session(slot, &specs, &locals, keys, now);
        self.route_legs(slot, &locals, &keys);
        self.stats.sessions += 1;
        Ok(SessionInfo {
            id,
            a: locals[0],
            b: locals[1],
        })
    }

    /// Both legs' local pairs, or none: a failure for B gives A's pair back.
    fn allocate_locals(&mut self, specs: &[LegSpec; 2]) -> Result<[Local; 2], AddError> {
        let la = self.local_for(&specs[0]).map_err(AddError::Ports)?;
        let lb = match self.local_for(&specs[1]) {
            Ok(l) => l,
            Err(e) => {
                self.release_locals(&[la]);
                return Err(AddError::Ports(e));
            }
        };
        Ok([la, lb])
    }

    /// A free slot, or a new one; on failure `locals` are given back.
    fn take_slot(&mut self, locals: &[Local; 2]) -> Result<u32, AddError> {
        if let Some(s) = self.free_slots.pop() {
            return Ok(s);
        }
        // A table never needs more than u32 slots; refuse rather than wrap.
        let Ok(s) = u32::try_from(self.slots.len()) else {
            self.release_locals(locals);
            return Err(AddError::TooManySessions {
                max: self.config.max_sessions,
            });
        };
        self.slots.push(Slot {
            generation: 0,
            session: None,
        });
        Ok(s)
    }

    /// Puts the new session into `slot`, its latches set to what the specs already know.
    fn place_session(
        &mut self,
        slot: u32,
        specs: &[LegSpec; 2],
        locals: &[Local; 2],
        keys: [[Option<SocketAddr>; 2]; 2],
        now: Instant,
    ) -> SessionId {
        let table = self.config.latch;
        let entry = &mut self.slots[slot as usize];
        let id = SessionId {
            slot,
            generation: entry.generation,
        };
        let leg = |i: usize| {
            let spec = &specs[i];
            let latch = spec.latch_config(table);
            let new = |a| Latch::new(a, latch).admitting(spec.observed);
            Leg {
                local: locals[i],
                latches: [new(spec.rtp), new(spec.rtcp)],
                forwarded: Flow::default(),
                dropped: 0,
                link: spec.link,
                last_out: [None; 2],
                keys: keys[i],
                send_mux_id: None,
                keepalive_pt: None,
            }
        };
        entry.session = Some(Session {
            id,
            legs: [leg(0), leg(1)],
            last_activity: now,
        });
        id
    }

    /// Makes packets find the session: an own pair by its port numbers, a multiplexed leg by
    /// its keys (the sources it expects).
    fn route_legs(&mut self, slot: u32, locals: &[Local; 2], keys: &[[Option<SocketAddr>; 2]; 2]) {
        for (i, side) in [Side::Caller, Side::Callee].into_iter().enumerate() {
            match locals[i] {
                Local::Own(p) => {
                    for component in [Component::Rtp, Component::Rtcp] {
                        self.routes[usize::from(component.port(p))] = Route::Leg {
                            slot,
                            side,
                            component,
                        };
                    }
                }
                Local::Multiplexed(_) => self.insert_mux_keys(keys[i], (slot, side)),
            }
        }
    }

    /// The local pair for a leg: the multiplexed one (checked to exist by the caller) or a new
    /// pair of its own.
    fn local_for(&mut self, spec: &LegSpec) -> Result<Local, PortsExhausted> {
        match (spec.local, self.config.multiplexed) {
            (LocalKind::Multiplexed, Some(m)) => Ok(Local::Multiplexed(m)),
            _ => self.ports.allocate().map(Local::Own),
        }
    }

    fn release_locals(&mut self, locals: &[Local]) {
        for l in locals {
            if let Local::Own(p) = l {
                self.ports.release(*p);
            }
        }
    }

    /// The far side's SDP (an answer, a re-INVITE) named these addresses for leg `side`. An
    /// established latch stays where it is; a multiplexed leg is re-keyed (see `mux`).
    pub fn set_expected(
        &mut self,
        id: SessionId,
        side: Side,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    ) -> Result<(), UpdateError> {
        let leg = self.get(id).ok_or(UpdateError::UnknownSession)?.leg(side);
        if let Local::Multiplexed(_) = leg.local {
            return self.rekey_mux(id, side, rtp, rtcp);
        }
        let session = self.get_mut(id).ok_or(UpdateError::UnknownSession)?;
        let leg = &mut session.legs[side.index()];
        leg.latches[0].set_expected(rtp);
        leg.latches[1].set_expected(rtcp);
        Ok(())
    }

    /// A packet of `len` bytes from `src` arrived on local port `local_port`: where to send
    /// it, or `None` to drop it (counted). The relay driver calls `handle_framed` (`mux_id`),
    /// which also reads multiplexID-prefixed packets.
    pub fn handle(
        &mut self,
        local_port: u16,
        src: SocketAddr,
        len: usize,
        now: Instant,
    ) -> Option<Forward> {
        let (slot, side, component) = self.resolve(local_port, src)?;
        self.relay_from((slot, side, component), src, len, false, now)
            .map(|(f, _)| f)
    }

    /// The leg a packet from `src` on `local_port` belongs to, by port or (the multiplexed
    /// pair) by source; `None` counted.
    fn resolve(&mut self, local_port: u16, src: SocketAddr) -> Option<(u32, Side, Component)> {
        match self.routes[usize::from(local_port)] {
            Route::Free => {
                self.stats.dropped_unknown_port += 1;
                None
            }
            Route::Leg {
                slot,
                side,
                component,
            } => Some((slot, side, component)),
            Route::Multiplexed(component) => match self.mux_sources.get(&(component, src)) {
                Some(&(slot, side)) => Some((slot, side, component)),
                None => {
                    self.stats.dropped_unknown_source += 1;
                    None
                }
            },
        }
    }

    /// A packet of leg (`slot`, `side`)'s `component` from `src`: latched (`by_id`: taken
    /// whatever its source, the multiplexID named the leg), counted, and where it goes with
    /// the multiplexID the destination leg's packets carry, if any.
    fn relay_from(
        &mut self,
        (slot, side, component): (u32, Side, Component),
        src: SocketAddr,
        len: usize,
        by_id: bool,
        now: Instant,
    ) -> Option<(Forward, Option<u32>)> {
        let Some(session) = self
            .slots
            .get_mut(slot as usize)
            .and_then(|s| s.session.as_mut())
        else {
            self.stats.dropped_unknown_port += 1;
            return None;
        };
        let leg = &mut session.legs[side.index()];
        let latch = &mut leg.latches[component.index()];
        let verdict = if by_id {
            latch.take(src, now)
        } else {
            latch.handle(src, now)
        };
        match verdict {
            Verdict::Accept | Verdict::Latched => {}
            Verdict::Relatched { .. } => self.stats.relatched += 1,
            Verdict::Drop(why) => {
                leg.dropped += 1;
                match why {
                    DropReason::Stranger => self.stats.dropped_stranger += 1,
                    DropReason::NotExpectedIp => self.stats.dropped_not_expected_ip += 1,
                }
                return None;
            }
        }
        session.last_activity = session.last_activity.max(now);
        if component == Component::Rtp && len == keepalive::RTP_LEN {
            // an RTP header and nothing else carries no media: a keep-alive
            self.stats.keepalives += 1;
            return None;
        }
        let other = &mut session.legs[side.other().index()];
        let Some(to) = other.destination(component) else {
            session.legs[side.index()].dropped += 1;
            self.stats.dropped_no_destination += 1;
            return None;
        };
        if other.link == Some(LinkEnd::Client) {
            // only C's end of a link reads it (keep-alives): off the path of every other packet
            other.last_out[component.index()] = Some(now);
        }
        let from_port = other.local.port(component);
        let prefix = other.send_mux_id;
        session.legs[side.index()].forwarded.add(len);
        self.stats.forwarded.add(len);
        Some((Forward { from_port, to }, prefix))
    }

    /// Ends the session; its pairs go back to the allocator. `None` for an unknown or stale id.
    pub fn remove(&mut self, id: SessionId) -> Option<SessionInfo> {
        let entry = self.slots.get_mut(id.slot as usize)?;
        if entry.generation != id.generation {
            return None;
        }
        let session = entry.session.take()?;
        entry.generation = entry.generation.wrapping_add(1);
        self.free_slots.push(id.slot);
        for (i, side) in [Side::Caller, Side::Callee].into_iter().enumerate() {
            let leg = &session.legs[i];
            match leg.local {
                Local::Own(p) => {
                    self.routes[usize::from(p.rtp())] = Route::Free;
                    self.routes[usize::from(p.rtcp())] = Route::Free;
                    self.ports.release(p);
                }
                Local::Multiplexed(_) => self.remove_mux_keys(leg.keys, (id.slot, side)),
            }
        }
        self.stats.sessions -= 1;
        Some(session.info())
    }

    /// Ends every session with no accepted packet for `timeout` and reports them, so the
    /// driver can close their sockets.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<SessionInfo> {
        let idle: Vec<SessionId> = self
            .slots
            .iter()
            .filter_map(|s| s.session.as_ref())
            .filter(|s| now.saturating_duration_since(s.last_activity) >= timeout)
            .map(|s| s.id)
            .collect();
        let ended: Vec<SessionInfo> = idle.into_iter().filter_map(|id| self.remove(id)).collect();
        self.stats.expired += ended.len() as u64;
        ended
    }

    pub fn get(&self, id: SessionId) -> Option<&Session> {
        let s = self.slots.get(id.slot as usize)?;
        (s.generation == id.generation)
            .then_some(s.session.as_ref())
            .flatten()
    }

    fn get_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        let s = self.slots.get_mut(id.slot as usize)?;
        if s.generation != id.generation {
            return None;
        }
        s.session.as_mut()
    }

    pub fn stats(&self) -> TableStats {
        self.stats
    }

    pub fn ports_in_use(&self) -> usize {
        self.ports.in_use()
    }

    pub fn port_capacity(&self) -> usize {
        self.ports.capacity()
    }
}

pub mod keepalive;
mod mux;
mod mux_id;
mod shared;
pub use keepalive::KeepAlive;
pub use mux_id::{Framing, MUX_ID_LEN};
pub use shared::SharedTable;

#[cfg(test)]
mod tests;
