//! A call as the signaling side describes it to the media relay: its two sides, the leg of each
//! (the node's signaling address facing it, the peer, and whether it is a traversal link).
//!
//! Plain values; owns nothing and does nothing.

use std::net::SocketAddr;

/// The two sides of a call: the caller sent the dialog-creating request (SIP INVITE, H.225.0
/// Setup), the callee receives it. A relay session's leg A faces the caller, leg B the callee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Caller,
    Callee,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        }
    }

    /// 0 for the caller, 1 for the callee: the index of per-side arrays.
    pub fn index(self) -> usize {
        match self {
            Side::Caller => 0,
            Side::Callee => 1,
        }
    }
}

/// Whether a leg of a call runs over a traversal link, and from which end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEnd {
    /// We are E: this leg is the link C holds to our traversal server zone.
    Server,
    /// We are C: this leg is our link to E.
    Client,
}

/// One side of a call as the node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leg {
    pub link: Option<LinkEnd>,
    /// Our signaling address facing this side (its IP is what we advertise in SDP there).
    pub local: SocketAddr,
    /// The signaling peer on this side.
    pub remote: SocketAddr,
    /// This side is another peer of the node's cluster, which anchors the call itself when
    /// it anchors every call (so the call is anchored once, on the peer that holds the
    /// registration).
    pub cluster_peer: bool,
}

/// The two legs of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Legs {
    pub caller: Leg,
    pub callee: Leg,
}

impl Legs {
    pub fn leg(&self, side: Side) -> &Leg {
        match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }
}
