//! The state of one gatekeeper-routed call: its two signaling legs, what the Setup said, the
//! bounded send queues towards each side, and the separate H.245 relay if one is set up.
//!
//! Plain data with small helpers; the input handling that moves a call between states is in
//! `signaling` (its `setup`, `relay`, `h245_channel` and `clearing` parts). Must not touch the
//! connection table or emit outputs itself.

use super::h245::Channels;
use super::{CallId, ConnId, LinkEnd, ListenerId, Side};
use crate::q931::{CallReference, Q931};
use causeway_h323_asn1::h323_messages::{CallIdentifier, H323UserInformation, ProtocolIdentifier};
use causeway_media::{Leg, Legs};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

/// Where a call stands (H.225.0 7.3 message sequence, seen from the gatekeeper).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// Setup received, CallProceeding sent, waiting for the route.
    Routing,
    /// Routed; the connection to the callee is being opened.
    Connecting,
    /// Setup forwarded to the callee.
    Proceeding,
    /// The callee sent Alerting.
    Alerting,
    /// The callee sent Connect.
    Connected,
}

/// How the call's H.245 is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum H245Mode {
    /// Nothing yet (or fastStart only).
    None,
    /// Tunneled in H.225.0 messages (both Setup and Connect said h245Tunneling TRUE).
    Tunneled,
    /// A separate H.245 connection terminated on both sides; `up` once both are connected.
    Separate { up: bool },
}

/// One message waiting to be sent to a side.
#[derive(Debug)]
pub(crate) enum Pending {
    /// Ready to go.
    Bytes(Vec<u8>),
    /// A message whose h245Address must point at causeway's H.245 listener, which is not
    /// bound yet (H.323 8.1.3 relay of the H.245 address).
    Held(Box<HeldMsg>),
}

#[derive(Clone, Debug)]
pub(crate) struct HeldMsg {
    pub msg: Q931,
    pub uu: H323UserInformation,
    /// Bytes it is accounted as in the queue.
    pub len: usize,
}

impl Pending {
    fn len(&self) -> usize {
        match self {
            Pending::Bytes(b) => b.len(),
            Pending::Held(h) => h.len,
        }
    }
}

/// A send queue with a byte limit: what a side is sent while its connection is not up yet (or
/// while a message ahead waits for the H.245 listener).
#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    items: VecDeque<Pending>,
    bytes: usize,
}

/// A queue refused a message: the per-connection limit would be exceeded.
#[derive(Debug)]
pub(crate) struct QueueFull;

impl OutQueue {
    pub fn push(&mut self, p: Pending, max: usize) -> Result<(), QueueFull> {
        let n = p.len();
        if self.bytes.saturating_add(n) > max {
            return Err(QueueFull);
        }
        self.bytes += n;
        self.items.push_back(p);
        Ok(())
    }

    pub fn front(&self) -> Option<&Pending> {
        self.items.front()
    }

    /// Puts `p` in place of the first item (the Setup, when the callee leg starts over).
    pub fn replace_front(&mut self, p: Pending) {
        if let Some(old) = self.items.pop_front() {
            self.bytes = self.bytes.saturating_sub(old.len());
        }
        self.bytes = self.bytes.saturating_add(p.len());
        self.items.push_front(p);
    }

    pub fn pop(&mut self) -> Option<Pending> {
        let p = self.items.pop_front()?;
        self.bytes = self.bytes.saturating_sub(p.len());
        Some(p)
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The state of the H.245 listener of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListenState {
    /// The side that will connect to it has no local address yet (its connection is not up).
    Waiting,
    /// `Output::Listen` sent.
    Requested,
    Bound(SocketAddr),
    /// Could not be bound: offered addresses are stripped.
    Failed,
}

/// A separate H.245 channel that causeway terminates on both sides (H.323 8.1.3: in the
/// gatekeeper-routed model the gatekeeper may route the H.245 control channel). Side X
/// (`offered_by`) gave an h245Address; side Y is told causeway's listener instead, connects to
/// it, and causeway then connects to X.
#[derive(Debug)]
pub(crate) struct H245Relay {
    pub offered_by: Side,
    /// X's own h245Address.
    pub target: SocketAddr,
    pub listener: ListenerId,
    pub listen: ListenState,
    /// The listener is still open (closed after the first accepted connection).
    pub listener_open: bool,
    /// The H.245 connection to each side's endpoint.
    pub conns: [Option<ConnId>; 2],
    pub connected: [bool; 2],
    pub queues: [OutQueue; 2],
    pub up_reported: bool,
    /// E, X is C (a traversal link): X's connection is not opened to `target` (nothing is
    /// opened towards C) but arrives from C on the shared H.245 port, after a Facility
    /// startH245 told C where (`h245_traversal`).
    pub reverse: bool,
    /// E, Y is C: the address Y is told is E's shared H.245 port, not a listener of the call.
    pub shared: bool,
}

impl H245Relay {
    pub fn new(offered_by: Side, target: SocketAddr, listener: ListenerId) -> Self {
        H245Relay {
            offered_by,
            target,
            listener,
            listen: ListenState::Waiting,
            listener_open: false,
            conns: [None, None],
            connected: [false, false],
            queues: Default::default(),
            up_reported: false,
            reverse: false,
            shared: false,
        }
    }

    /// What a held message's h245Address becomes: `Some(Some(addr))` the listener,
    /// `Some(None)` removed, `None` not known yet.
    pub fn resolution(&self) -> Option<Option<SocketAddr>> {
        match self.listen {
            ListenState::Bound(a) => Some(Some(a)),
            ListenState::Failed => Some(None),
            ListenState::Waiting | ListenState::Requested => None,
        }
    }
}

/// One call.
#[derive(Debug)]
pub(crate) struct Call {
    pub id: CallId,
    pub state: CallState,
    pub caller_conn: ConnId,
    pub caller_addr: SocketAddr,
    pub caller_local: SocketAddr,
    pub callee_conn: Option<ConnId>,
    pub callee_addr: Option<SocketAddr>,
    pub callee_local: Option<SocketAddr>,
    pub callee_connected: bool,
    /// The caller's call reference (flag 0); the callee leg uses the same value (H.225.0 7.3:
    /// a gatekeeper-routed relay keeps it), so payloads are forwarded as they are.
    pub crv: CallReference,
    pub protocol: ProtocolIdentifier,
    pub call_identifier: Option<CallIdentifier>,
    /// The Setup until it is forwarded (H.225.0 Setup, already through the hook).
    pub setup: Option<Box<HeldMsg>>,
    pub setup_held: bool,
    pub called: String,
    pub zone: Option<String>,
    /// When the call is cleared unless it gets further (setup / alerting timeout).
    pub deadline: Option<Instant>,
    pub setup_tunneling: bool,
    pub tunnel_reported: bool,
    pub h245: Option<H245Relay>,
    /// Messages to each side (index [`Side::index`]).
    pub queues: [OutQueue; 2],
    /// E: routed to a traversal-server zone, waiting for C's call-back connection.
    pub awaiting_callback: bool,
    /// Our end of each leg that is a traversal link (index [`Side::index`]): on E a call
    /// from one C to another has two.
    pub link: [Option<LinkEnd>; 2],
    /// The caller's messages that came while the call was being routed (before the Setup
    /// was forwarded): replayed after it, once the legs are known (`forward_setup_to`).
    pub early: OutQueue,
    /// While no connection to the callee opened: the Setup as forwarded before it was aimed
    /// at the callee, and the destination with the addresses left to try (another E).
    pub retry: Option<(Box<HeldMsg>, super::Destination)>,
    /// The media anchor wanted this call (decided once routed, when both legs are known) and
    /// is shown its channels.
    pub anchored: bool,
    /// The sessionID of each logical channel opened (for Acks that do not repeat it).
    pub channels: Channels,
}

impl Call {
    /// The signaling connection to a side, if it exists.
    pub fn conn(&self, side: Side) -> Option<ConnId> {
        match side {
            Side::Caller => Some(self.caller_conn),
            Side::Callee => self.callee_conn,
        }
    }

    /// The signaling connection to a side, if it is up.
    pub fn ready_conn(&self, side: Side) -> Option<ConnId> {
        match side {
            Side::Caller => Some(self.caller_conn),
            Side::Callee => self.callee_conn.filter(|_| self.callee_connected),
        }
    }

    /// The signaling peer of a side (the callee's once routed).
    pub fn peer(&self, side: Side) -> Option<SocketAddr> {
        match side {
            Side::Caller => Some(self.caller_addr),
            Side::Callee => self.callee_addr,
        }
    }

    /// The address a side's signaling connection reached causeway on.
    pub fn local(&self, side: Side) -> Option<SocketAddr> {
        match side {
            Side::Caller => Some(self.caller_local),
            Side::Callee => self.callee_local,
        }
    }

    /// The call's legs as the media anchor sees them. Before the callee connection is up (the
    /// Setup's fastStart is shown to the anchor when the call is routed, before the callee's
    /// connection is up) the callee leg's local address is the caller's (the same on a node
    /// with one address; with several, set `[media] address`) and its peer the unspecified
    /// address.
    pub fn legs(&self) -> Legs {
        let unknown = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        let link = |side: Side| self.link_end(side);
        Legs {
            caller: Leg {
                link: link(Side::Caller),
                local: self.caller_local,
                remote: self.caller_addr,
                cluster_peer: false,
            },
            callee: Leg {
                link: link(Side::Callee),
                local: self.callee_local.unwrap_or(self.caller_local),
                remote: self.callee_addr.unwrap_or(unknown),
                cluster_peer: self.zone.as_deref() == Some(crate::ras::CLUSTER_ZONE),
            },
        }
    }

    /// Our end of a side's leg, when it is a traversal link.
    pub fn link_end(&self, side: Side) -> Option<LinkEnd> {
        self.link[side.index()]
    }

    /// The call reference of messages sent to a side: the caller allocated it, so towards
    /// the caller the flag is set (Q.931 4.3).
    pub fn crv_to(&self, side: Side) -> CallReference {
        match side {
            Side::Caller => self.crv.reply(),
            Side::Callee => self.crv,
        }
    }

    pub fn h245_mode(&self) -> H245Mode {
        match &self.h245 {
            Some(r) if !matches!(r.listen, ListenState::Failed) => H245Mode::Separate {
                up: r.connected[0] && r.connected[1],
            },
            _ if self.tunnel_reported => H245Mode::Tunneled,
            _ => H245Mode::None,
        }
    }
}
