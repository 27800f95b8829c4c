//! H.460.18 traversal flows between C and E (sans-IO): C's side of a traversal zone
//! ([`ZoneClient`]: the RAS flow from C's 1719 to E's zone port 6001+, authenticated with
//! H.235.1, kept open by keep-alives) and E's side ([`ZoneServer`]: the zone ports, the client
//! each admits, and the ServiceControlIndication that announces an incoming call down the
//! flow). The call-back that follows an SCI (C opens TCP to E and sends Facility) belongs to
//! call signaling; this module only says where and for which call.
//!
//! The flow (ITU-T H.460.18 sections 6-8, with the neighbor-zone use of GNU Gatekeeper's
//! `H46018Client`/`H46018Server` and the reference port table "H.460.18/19"):
//! - C registers on E's zone port with a full RRQ announcing feature 18 in `featureSet`,
//!   its zone username as terminal alias and an H.235.1 token (`crate::h235`); E answers RCF
//!   with feature 18 and the keep-alive interval as time to live, or RRJ `securityDenial`.
//! - C refreshes with a lightweight RRQ (keepAlive, endpointIdentifier, a fresh token) every
//!   interval, from the same socket: the firewall's UDP pinhole towards E stays open, and E
//!   learns the flow's address as the firewall rewrote it. E forgets a client silent for
//!   [`SILENT_INTERVALS`] intervals; a client E forgot (E restarted) gets
//!   `fullRegistrationRequired` and registers again at once.
//! - E sends SCI with genericData 18 / parameter 1 = IncomingCallIndication (E's call
//!   signaling address, the callIdentifier) to the flow's address; C answers SCR `started` and
//!   the call-back is C's to make.
//!
//! Assent mode (`h323_mode = "assent"`) is this flow with E's call signaling on the assent
//! port (2776) instead of 1720: the RCF and the SCI name it, C's Setups and call-backs go
//! there, and H.245 travels tunneled inside that connection. Cisco's Assent is not publicly
//! specified; this is causeway's own wire format on the reference port layout, and it
//! interoperates with causeway.
//!
//! Tokens both ways: C signs with sendersID = its zone username (no generalID: C does not know
//! E's gatekeeper identifier before the first RCF); E signs with sendersID = its gatekeeper
//! identifier and generalID = the username. Each side verifies the other's (wrong password,
//! outside the clock-skew window, replayed: refused and counted). Note for interop: GNU
//! Gatekeeper and Expressway authenticate neighbor traversal with `cryptoGKPwdHash` (MD5);
//! causeway uses H.235.1 HMAC-SHA1-96 between its own C and E.
//!
//! Time: `now` (an `Instant`) for timers and a [`WallClock`] fixed at construction for token
//! timestamps. Randomness (the token `random` start) is injected.
//!
//! Must not touch: sockets, clocks, the gatekeeper's registration table (a zone client is a
//! zone, not an endpoint), Q.931.

mod announce;
mod client;
pub mod indication;
mod server;
#[cfg(test)]
mod tests;

pub use announce::Announcer;
pub use client::{ClientConfig, ZoneClient};
pub use server::{ServerZoneConfig, ZoneServer, MAX_FLOWS};

use crate::asn;
use causeway_h323_asn1::h323_messages::{
    AliasAddress, Content, FeatureDescriptor, FeatureSet, GenericData, GenericIdentifier,
    RasMessage,
};
use causeway_h323_asn1::h460::{IncomingCallIndication, LRQKeepAliveData};
use causeway_h323_asn1::rasn::{aper, types::Integer};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The H.460.18 feature identifier (standard 18).
pub const FEATURE_ID: u32 = 18;
/// genericData parameter 1 of feature 18: IncomingCallIndication.
const PARAM_INCOMING_CALL: u32 = 1;
/// genericData parameter 2 of feature 18: LRQKeepAliveData.
const PARAM_KEEP_ALIVE: u32 = 2;
/// E forgets a client after this many keep-alive intervals without a word from it.
pub const SILENT_INTERVALS: u32 = 3;
/// A request is sent again after this long without an answer (H.225.0 suggests seconds).
pub const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Sends of one request before the peer counts as silent.
pub const TRIES: u32 = 3;
/// SCIs waiting for their SCR at once (per zone server, per announcer).
pub const MAX_PENDING_SCI: usize = 1024;

/// Unix time at an `Instant`: the wall clock read once by the driver, moved with `now`.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    at: Instant,
    unix: u64,
}

impl WallClock {
    pub fn new(at: Instant, unix: u64) -> WallClock {
        WallClock { at, unix }
    }

    /// Unix seconds at `now` (saturating to the range a token carries).
    pub fn unix(&self, now: Instant) -> u32 {
        let secs = self.unix + now.saturating_duration_since(self.at).as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }
}

/// Which socket a datagram leaves from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    /// The gatekeeper's RAS socket (C's flows start there, so E sees C's 1719).
    Ras,
    /// Server zone `n`'s port (E's 6001, 6002, …).
    Zone(usize),
}

/// What a flow wants done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Send {
        from: Socket,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    Event(ZoneEvent),
}

/// What an operator and call signaling hear of a zone's H.323 side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneEvent {
    Up {
        zone: String,
        peer: SocketAddr,
    },
    Down {
        zone: String,
        reason: String,
    },
    /// A request refused or dropped (bad token, unknown call, garbage), counted.
    Refused {
        zone: String,
        from: SocketAddr,
        reason: String,
    },
    /// C: E announced a call; open the call-back to `signalling` for `call_id`.
    IncomingCall {
        zone: String,
        signalling: SocketAddr,
        call_id: [u8; 16],
    },
    /// C: E asks (LRQ down the flow) whether these aliases are reached here; answer with
    /// [`ZoneClient::answer_locate`].
    Locate {
        zone: String,
        /// The E peer that asks (a zone to an E cluster has a flow to each).
        peer: SocketAddr,
        seq: u16,
        aliases: Vec<AliasAddress>,
    },
    /// E: C's answer to [`ZoneServer::locate`] for `tag`: found (LCF), not found (LRJ), or no
    /// answer after every try (`None`).
    Located {
        tag: u64,
        found: Option<bool>,
    },
}

/// One zone's H.323 side, for status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneView {
    pub zone: String,
    /// `client` (C's side) or `server` (E's).
    pub role: &'static str,
    pub up: bool,
    /// Seconds since the state last changed.
    pub since_secs: u64,
    /// The peer's address: E's zone port, or the client's flow as it reached E.
    pub peer: Option<SocketAddr>,
    /// C: the peer's name as configured, while it does not resolve (`peer` is `None` then).
    pub peer_name: Option<String>,
    /// Seconds since the last keep-alive (sent by C, received by E).
    pub last_keepalive_secs: Option<u64>,
    pub last_error: Option<String>,
    pub refused: u64,
}

/// A feature set announcing H.460.18 as supported.
pub fn feature_set() -> FeatureSet {
    FeatureSet::new(
        false,
        None,
        None,
        Some(vec![FeatureDescriptor(feature(None))]),
    )
}

fn feature(
    parameters: Option<Vec<causeway_h323_asn1::h323_messages::EnumeratedParameter>>,
) -> GenericData {
    GenericData::new(
        GenericIdentifier::standard(Integer::from(FEATURE_ID)),
        parameters,
    )
}

fn is_18(id: &GenericIdentifier) -> bool {
    matches!(id, GenericIdentifier::standard(n) if *n == Integer::from(FEATURE_ID))
}

/// Whether a feature set lists H.460.18 (needed, desired or supported).
pub fn announces(fs: Option<&FeatureSet>) -> bool {
    fs.is_some_and(|fs| {
        [
            &fs.needed_features,
            &fs.desired_features,
            &fs.supported_features,
        ]
        .into_iter()
        .flatten()
        .flatten()
        .any(|f| is_18(&f.0.id))
    })
}

/// The raw content of parameter `param` of feature 18 in `data`.
fn raw_param(data: Option<&[GenericData]>, param: u32) -> Option<&[u8]> {
    data?
        .iter()
        .filter(|g| is_18(&g.id))
        .flat_map(|g| g.parameters.iter().flatten())
        .find(|p| matches!(&p.id, GenericIdentifier::standard(n) if *n == Integer::from(param)))
        .and_then(|p| match &p.content {
            Some(Content::raw(bytes)) => Some(bytes.as_ref()),
            _ => None,
        })
}

fn raw_feature(param: u32, bytes: Vec<u8>) -> GenericData {
    feature(Some(vec![
        causeway_h323_asn1::h323_messages::EnumeratedParameter::new(
            GenericIdentifier::standard(Integer::from(param)),
            Some(Content::raw(bytes.into())),
        ),
    ]))
}

/// genericData carrying an IncomingCallIndication (SCI from E).
pub fn incoming_call_data(signalling: SocketAddr, call_id: [u8; 16]) -> Option<GenericData> {
    let ici = IncomingCallIndication::new(
        asn::transport_address(signalling),
        asn::call_identifier(call_id),
    );
    aper::encode(&ici)
        .ok()
        .map(|b| raw_feature(PARAM_INCOMING_CALL, b))
}

/// The IncomingCallIndication in an SCI's genericData: where to call back, for which call.
pub fn incoming_call(data: Option<&[GenericData]>) -> Option<(SocketAddr, [u8; 16])> {
    let raw = raw_param(data, PARAM_INCOMING_CALL)?;
    let ici: IncomingCallIndication = aper::decode(raw).ok()?;
    let addr = asn::socket_addr(&ici.call_signalling_address)?;
    Some((addr, asn::guid_bytes(&ici.call_id.guid)))
}

/// The SCI that announces call `call_id` (call back to `signalling`): feature 18 and the
/// IncomingCallIndication, as E sends it down a zone's flow and to an H.460.18 endpoint.
pub fn incoming_call_sci(
    seq: u16,
    signalling: SocketAddr,
    call_id: [u8; 16],
) -> Option<RasMessage> {
    let data = incoming_call_data(signalling, call_id)?;
    Some(RasMessage::serviceControlIndication(
        causeway_h323_asn1::h323_messages::ServiceControlIndication::new(
            causeway_h323_asn1::h323_messages::RequestSeqNum(seq),
            None,
            Vec::new(),
            None,
            None,
            None,
            None,
            None,
            Some(feature_set()),
            Some(vec![data]),
        ),
    ))
}

/// genericData carrying the keep-alive interval (RCF/SCR from E).
pub fn keep_alive_data(seconds: u32) -> Option<GenericData> {
    let data = LRQKeepAliveData::new(causeway_h323_asn1::h323_messages::TimeToLive(
        seconds.max(1),
    ));
    aper::encode(&data)
        .ok()
        .map(|b| raw_feature(PARAM_KEEP_ALIVE, b))
}

/// The keep-alive interval E asked for, seconds.
pub fn keep_alive_interval(data: Option<&[GenericData]>) -> Option<u32> {
    let raw = raw_param(data, PARAM_KEEP_ALIVE)?;
    let d: LRQKeepAliveData = aper::decode(raw).ok()?;
    Some(d.lrq_keep_alive_interval.0)
}

/// The sequence number of a RAS message, for matching answers.
fn seq_of(m: &RasMessage) -> Option<u16> {
    Some(match m {
        RasMessage::registrationConfirm(m) => m.request_seq_num.0,
        RasMessage::registrationReject(m) => m.request_seq_num.0,
        RasMessage::serviceControlResponse(m) => m.request_seq_num.0,
        RasMessage::serviceControlIndication(m) => m.request_seq_num.0,
        RasMessage::registrationRequest(m) => m.request_seq_num.0,
        _ => return None,
    })
}
