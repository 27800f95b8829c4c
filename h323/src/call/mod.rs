//! Gatekeeper-routed call signaling (H.225.0 section 7, H.323 8.1.3): the relay between a
//! caller's Q.931 connection to our port 1720 and the connection we open to the callee, and
//! the H.245 control channels of those calls (tunneled in H.225.0 messages, or separate TCP
//! channels that causeway terminates on both sides).
//!
//! Sans-IO: [`CallSignaling::handle`] takes one [`Input`] (connection events, TPKT payloads,
//! route answers) and the current time and pushes [`Output`]s (payloads to send, connections
//! to open or close, H.245 listeners to bind, routes to look up);
//! [`CallSignaling::handle_timeout`] runs the timers that are due and
//! [`CallSignaling::poll_timeout`] says when the next one is. The driver owns sockets, TPKT
//! framing and the port range of outbound connections; it answers every [`Output::Route`]
//! with an [`Input::Routed`] (the gatekeeper and the zones router decide, not this module).
//!
//! Must not touch: sockets, clocks, the registration table, the zones router.
//!
//! Layout: [`signaling`] owns the connection and call tables and dispatches inputs (its
//! parts: `setup`, `relay` of Q.931 messages, `h245_channel` for separate H.245 channels,
//! `clearing`); `state` holds one call's state and send queues; `uuie` decodes, rewrites and
//! builds `H323-UserInformation`; `h245` shows H.245 media addresses to the media anchor (`causeway_media::MediaAnchor`)
//! (called from `signaling::relay::inspect` for tunneled H.245 and fastStart, and from
//! `signaling::h245_channel::h245_data` for separate channels); `release` maps
//! ReleaseComplete reasons to Q.931 causes.

use causeway_h323_asn1::h323_messages::AliasAddress;
use std::net::{IpAddr, SocketAddr};

mod h245;
mod release;
pub mod signaling;
mod state;
#[cfg(test)]
mod tests;
mod uuie;

pub use release::{reason_cause, reason_name};
pub use signaling::{CallConfig, CallSignaling, CallStatus};
pub use state::{CallState, H245Mode};

/// A TCP connection (Q.931 or H.245), named by the driver or by this module (see
/// [`CallSignaling::next_conn_id`]).
pub type ConnId = u64;
/// An H.245 listener this module asked the driver to bind.
pub type ListenerId = u64;
/// One gatekeeper-routed call.
pub type CallId = u64;

/// The two legs of a call: the endpoint that sent Setup to causeway (caller) and the one
/// causeway sent Setup to (callee). The media relay's vocabulary, shared by SIP and H.323.
pub use causeway_media::{LinkEnd, Side};

/// Where a routed call goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// The callee's call-signaling address.
    pub addr: SocketAddr,
    /// The called alias after transforms, when it differs from what the caller dialled (the
    /// forwarded Setup then carries it as destinationAddress, and as Called party number when
    /// it is E.164).
    pub alias: Option<AliasAddress>,
    /// The zone the destination lies in (`LocalZone` for registered endpoints), for logs.
    pub zone: String,
    /// C: the destination is E, across a traversal-client zone (the callee leg is a link).
    pub link: Option<LinkEnd>,
    /// Other call-signaling addresses of the same callee (the other E's of the zone's
    /// cluster), tried in order when no connection to `addr` could be opened.
    pub alternates: Vec<SocketAddr>,
}

/// Who is asked to call back for a call (H.460.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallBackTarget {
    /// The client of a traversal-server zone (the service's index of the zone).
    Zone(usize),
    /// A registered H.460.18 endpoint: SCI to its RAS address, call-back to `signalling`.
    Endpoint {
        ras: SocketAddr,
        signalling: SocketAddr,
    },
}

/// Why a call could not be routed; mapped to a ReleaseComplete reason and Q.931 cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteFailure {
    /// The alias is in the local zone but no endpoint registered it (calledPartyNotRegistered).
    NotRegistered,
    /// No search rule found a zone for it, or every zone failed (unreachableDestination).
    Unreachable,
    /// A policy refused it (noPermission).
    Refused,
    /// The caller is not registered here and the node only admits registered callers
    /// (callerNotRegistered).
    CallerNotRegistered,
}

/// Inputs from the driver. A payload is one TPKT payload (the driver strips and adds TPKT).
// Inputs are built and consumed one at a time, never stored in bulk: the size of the Routed
// variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Input<'a> {
    /// A connection to the Q.931 listener was accepted (`conn` from `next_conn_id`); `link`
    /// on E when it comes from the client of a traversal-server zone (C).
    Accepted {
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
        link: Option<LinkEnd>,
    },
    /// One TPKT payload arrived: Q.931 on a call-signaling connection, H.245 on an H.245 one.
    Data { conn: ConnId, payload: &'a [u8] },
    /// An outbound connection asked for by [`Output::Connect`] is up.
    Connected { conn: ConnId, local: SocketAddr },
    /// An outbound connection could not be opened.
    ConnectFailed { conn: ConnId, reason: String },
    /// The peer closed the connection, or it failed.
    Closed { conn: ConnId },
    /// An H.245 listener asked for by [`Output::Listen`] is bound.
    Listening {
        listener: ListenerId,
        addr: SocketAddr,
    },
    /// An H.245 listener could not be bound (no free port in the range).
    ListenFailed {
        listener: ListenerId,
        reason: String,
    },
    /// A connection arrived on an H.245 listener (`conn` from `next_conn_id`).
    H245Accepted {
        listener: ListenerId,
        conn: ConnId,
        peer: SocketAddr,
    },
    /// The answer to [`Output::Route`].
    Routed {
        call: CallId,
        result: Result<Destination, RouteFailure>,
    },
    /// The answer to [`Output::Route`] is a call-back (H.460.18): through traversal zone
    /// `zone_name`, or to a registered H.460.18 endpoint; `flow` is where its RAS flow is.
    /// The call waits for the callee's connection.
    RoutedCallBack {
        call: CallId,
        target: CallBackTarget,
        zone_name: String,
        flow: SocketAddr,
    },
    /// E: the SCI of [`Output::CallBack`] could not be sent.
    CallBackFailed { call: CallId },
    /// C: E announced call `call_id` (H.460.18 SCI): open a connection to `signalling`.
    CallBack {
        signalling: SocketAddr,
        call_id: [u8; 16],
    },
    /// E: whether the traversal client at `ip` sits behind a NAT (its RRQ named other
    /// addresses than the one it came from). Told before a call with a link leg to it is
    /// routed, so that the media anchor gives that leg pairs of its own (the multiplexed pair
    /// tells calls apart by the addresses C advertises, which a NAT rewrites).
    LinkNat { ip: IpAddr, behind_nat: bool },
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send one payload (the driver wraps it in TPKT).
    Send {
        conn: ConnId,
        payload: Vec<u8>,
    },
    /// Open a TCP connection to `to` from a port of the signaling range; answer with
    /// `Connected` or `ConnectFailed`.
    Connect {
        conn: ConnId,
        to: SocketAddr,
    },
    /// Close a connection (after the payloads queued before it are sent).
    Close {
        conn: ConnId,
    },
    /// Bind an H.245 listener on `ip`, on a port of the signaling range; answer with
    /// `Listening` or `ListenFailed`.
    Listen {
        listener: ListenerId,
        ip: IpAddr,
    },
    CloseListener {
        listener: ListenerId,
    },
    /// Announce call `call` by its callIdentifier to the callee `target` (SCI); answer with
    /// `CallBackFailed` when that cannot be done.
    CallBack {
        call: CallId,
        target: CallBackTarget,
        call_id: [u8; 16],
    },
    /// Find where the call goes; answer with `Routed`.
    Route {
        call: CallId,
        /// destinationAddress of the Setup-UUIE, in order.
        called: Vec<AliasAddress>,
        /// The digits of the Called party number element, if any.
        called_number: Option<String>,
        /// The caller's signaling address and its sourceAddress aliases.
        caller: SocketAddr,
        caller_aliases: Vec<AliasAddress>,
        /// The Setup's sourceInfo names the node's interworking gateway
        /// ([`crate::endpoint::INTERWORKING_PRODUCT`]): never route it back there.
        from_interworking: bool,
    },
    Event(CallEvent),
}

/// What happened to a call, for logs, status and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEvent {
    Setup {
        call: CallId,
        caller: SocketAddr,
        called: String,
    },
    Routed {
        call: CallId,
        to: SocketAddr,
        zone: String,
    },
    /// No connection to the callee's call-signaling address `to` could be opened (the call
    /// moves on to the destination's next address, or is cleared). The service tries that E
    /// last for a while.
    CalleeUnreachable {
        call: CallId,
        to: SocketAddr,
        reason: String,
    },
    /// The connection to the callee at `to` opened: an E tried last for a failure is back.
    CalleeReached {
        call: CallId,
        to: SocketAddr,
    },
    Alerting {
        call: CallId,
    },
    Connected {
        call: CallId,
    },
    /// An H.245 channel (separate) is relayed, or tunneling is in use.
    H245 {
        call: CallId,
        tunneled: bool,
    },
    Released {
        call: CallId,
        /// Q.931 cause value.
        cause: u8,
        /// The ReleaseCompleteReason name, if the message carried one.
        reason: Option<String>,
        by: Option<Side>,
    },
    /// A Setup that did not become a call (malformed, or over the call limit): answered with
    /// ReleaseComplete and the connection closed.
    Rejected {
        conn: ConnId,
        peer: SocketAddr,
        /// Q.931 cause value sent.
        cause: u8,
        what: String,
    },
    /// A message that could not be parsed; counted, the call goes on if it can.
    Malformed {
        conn: ConnId,
        what: String,
    },
}
