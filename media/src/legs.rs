//! The shapes signaling and the relay agree on: the two legs of a call as the signaling side
//! sees them, which leg a media description came from, the hook signaling anchors calls through,
//! and why an offer cannot be anchored.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::Instant;

/// Whether a leg of a call runs over a traversal link, and from which end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEnd {
    /// We are E: this leg is the link C holds to our traversal server zone.
    Server,
    /// We are C: this leg is our link to E.
    Client,
}

/// One side of a proxied call as the node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leg {
    pub link: Option<LinkEnd>,
    /// Our signaling address facing this side (its IP is what we advertise in SDP there).
    pub local: SocketAddr,
    /// The signaling peer on this side.
    pub remote: SocketAddr,
}

/// The two legs of a call: `caller` sent the dialog-creating request, `callee` receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Legs {
    pub caller: Leg,
    pub callee: Leg,
}

/// Which leg an SDP body came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    Caller,
    Callee,
}

/// What the relay does for the proxy core. `Err` is a reason phrase for a 488 (or 503) that
/// ends the attempt.
pub trait MediaAnchor {
    /// Whether calls between these legs are anchored (the `[media] anchor` policy).
    fn wants(&self, legs: &Legs) -> bool;
    /// An SDP body of call `call_id` about to be forwarded; the rewritten body, or `None` to
    /// forward it as it is.
    fn sdp(
        &mut self,
        call_id: &str,
        from: From,
        legs: &Legs,
        body: &[u8],
        now: Instant,
    ) -> Result<Option<Bytes>, MediaRefusal>;
    /// The call ended (BYE, CANCEL, a failure answer): free what it holds.
    fn end(&mut self, call_id: &str);
    /// Calls whose media went dead and that the node should end itself (the relay's
    /// `on_inactivity` policy); asked about once a second.
    fn take_hangups(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Why an offer or answer cannot be anchored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRefusal {
    /// 488 (the SDP is unusable) or 503 (no relay ports left).
    pub status: u16,
    pub reason: String,
}
