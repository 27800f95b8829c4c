//! Tests of the call-signaling relay: real Q.931 messages with PER UUIEs and H.245 PDUs built
//! from the generated ASN.1 types, driven through [`CallSignaling`] as `Input` sequences, with
//! the `Output`s decoded and checked. Owns nothing outside the tests.
//!
//! This file holds the message builders, the recording media hook and the harness; the tests
//! are split as `signaling` is (`setup`, `relay`, `h245_channel`, `clearing`), with
//! `release` (the H.225.0 reason/cause table), `robustness` (property tests) and `anchor` (what
//! the media anchor is shown: sessionIDs, legs, which calls, their end) beside them.

mod anchor;
mod clearing;
mod h245_channel;
mod h245_traversal;
mod relay;
mod release;
mod robustness;
mod setup;

use super::*;
use crate::asn::{self, alias_address, AliasKind};
use crate::q931::{CallReference, MessageType, PartyNumber, Q931};
use causeway_h323_asn1::h323_messages::{
    AlertingUUIE, CallIdentifier, CallProceedingUUIE, CallType, ConferenceIdentifier, ConnectUUIE,
    EndpointType, FacilityReason, FacilityUUIE, H323UUPDUH323MessageBody as Body,
    H323UserInformation, ReleaseCompleteReason, ReleaseCompleteUUIE, SetupUUIE,
    SetupUUIEConferenceGoal, TerminalInfo, H323UUPDU,
};
use causeway_h323_asn1::multimedia_system_control::{
    CommandMessage, DataType, EndSessionCommand, H2250LogicalChannelAckParameters,
    H2250LogicalChannelParameters, LogicalChannelNumber, MultimediaSystemControlMessage as Mscm,
    OpenLogicalChannel, OpenLogicalChannelAck,
    OpenLogicalChannelAckForwardMultiplexAckParameters as AckMux,
    OpenLogicalChannelForwardLogicalChannelParameters,
    OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters as FwdMux, RequestMessage,
    ResponseMessage, SequenceNumber, TerminalCapabilitySet,
};
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::types::OctetString;
use causeway_media::{Anchored, ChannelAddress, Component, Legs, MediaAnchor, MediaRefusal};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---- message builders ---------------------------------------------------------------------

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn cid() -> CallIdentifier {
    asn::call_identifier([0xc1; 16])
}

fn terminal() -> EndpointType {
    EndpointType::new(
        None,
        None,
        None,
        None,
        None,
        Some(TerminalInfo::new(None)),
        false,
        false,
        None,
        None,
    )
}

fn octets(v: Vec<u8>) -> OctetString {
    OctetString::from(v)
}

fn pdu(body: Body, tunneling: Option<bool>, control: Option<Vec<Vec<u8>>>) -> H323UUPDU {
    let mut p = H323UUPDU::new(
        body, None, None, None, None, None, None, None, None, None, None,
    );
    p.h245_tunnelling = tunneling;
    p.h245_control = control.map(|c| c.into_iter().map(octets).collect());
    p
}

fn q931(mt: MessageType, crv: CallReference, uu: &H323UserInformation) -> Vec<u8> {
    let mut m = Q931::new(mt, crv);
    m.set_user_user(&aper::encode(uu).unwrap()).unwrap();
    m.encode()
}

const CRV: u16 = 0x1234;

fn to_gk() -> CallReference {
    CallReference::new(CRV, false).unwrap()
}

fn from_callee() -> CallReference {
    CallReference::new(CRV, true).unwrap()
}

#[derive(Default, Clone)]
struct SetupOpts {
    h245: Option<SocketAddr>,
    tunneling: Option<bool>,
    control: Option<Vec<Vec<u8>>>,
    fast_start: Option<Vec<Vec<u8>>>,
}

fn setup(o: SetupOpts) -> Vec<u8> {
    let s = SetupUUIE::new(
        asn::h225_protocol_identifier(),
        o.h245.map(asn::transport_address),
        Some(vec![alias_address(AliasKind::H323Id, "alice").unwrap()]),
        terminal(),
        Some(vec![alias_address(AliasKind::E164, "1001").unwrap()]),
        None,
        None,
        None,
        false,
        ConferenceIdentifier(asn::guid([0xcf; 16])),
        SetupUUIEConferenceGoal::create(()),
        None,
        CallType::pointToPoint(()),
        None,
        None,
        Some(cid()),
        None,
        None,
        None,
        o.fast_start.map(|f| f.into_iter().map(octets).collect()),
        Some(false),
        Some(false),
        None,
        Some(false),
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let uu = H323UserInformation::new(pdu(Body::setup(s), o.tunneling, o.control), None);
    let mut m = Q931::new(MessageType::Setup, to_gk());
    m.set_bearer_capability(vec![0x88, 0x90, 0xa5]).unwrap();
    m.set_called_party_number(&PartyNumber::e164("1001"))
        .unwrap();
    m.set_user_user(&aper::encode(&uu).unwrap()).unwrap();
    m.encode()
}

fn call_proceeding(fast_start: Option<Vec<Vec<u8>>>) -> Vec<u8> {
    let b = CallProceedingUUIE::new(
        asn::h225_protocol_identifier(),
        terminal(),
        None,
        Some(cid()),
        None,
        None,
        None,
        fast_start.map(|f| f.into_iter().map(octets).collect()),
        Some(false),
        Some(false),
        None,
        None,
    );
    let uu = H323UserInformation::new(pdu(Body::callProceeding(b), None, None), None);
    q931(MessageType::CallProceeding, from_callee(), &uu)
}

fn alerting() -> Vec<u8> {
    let b = AlertingUUIE::new(
        asn::h225_protocol_identifier(),
        terminal(),
        None,
        Some(cid()),
        None,
        None,
        None,
        None,
        Some(false),
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let uu = H323UserInformation::new(pdu(Body::alerting(b), Some(true), None), None);
    q931(MessageType::Alerting, from_callee(), &uu)
}

fn connect(
    h245: Option<SocketAddr>,
    tunneling: Option<bool>,
    control: Option<Vec<Vec<u8>>>,
) -> Vec<u8> {
    let b = ConnectUUIE::new(
        asn::h225_protocol_identifier(),
        h245.map(asn::transport_address),
        terminal(),
        ConferenceIdentifier(asn::guid([0xcf; 16])),
        Some(cid()),
        None,
        None,
        None,
        None,
        Some(false),
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let uu = H323UserInformation::new(pdu(Body::connect(b), tunneling, control), None);
    q931(MessageType::Connect, from_callee(), &uu)
}

fn facility_control(crv: CallReference, control: Vec<Vec<u8>>) -> Vec<u8> {
    let uu = H323UserInformation::new(pdu(Body::empty(()), Some(true), Some(control)), None);
    q931(MessageType::Facility, crv, &uu)
}

fn facility_undefined(crv: CallReference) -> Vec<u8> {
    let f = FacilityUUIE::new(
        asn::h225_protocol_identifier(),
        None,
        None,
        None,
        FacilityReason::undefinedReason(()),
        Some(cid()),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(false),
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let uu = H323UserInformation::new(pdu(Body::facility(f), None, None), None);
    q931(MessageType::Facility, crv, &uu)
}

fn release_complete(crv: CallReference, cause: Option<u8>) -> Vec<u8> {
    let b = ReleaseCompleteUUIE::new(
        asn::h225_protocol_identifier(),
        Some(ReleaseCompleteReason::undefinedReason(())),
        Some(cid()),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let uu = H323UserInformation::new(pdu(Body::releaseComplete(b), None, None), None);
    let mut m = Q931::new(MessageType::ReleaseComplete, crv);
    if let Some(c) = cause {
        m.set_cause(crate::q931::CauseValue(c)).unwrap();
    }
    m.set_user_user(&aper::encode(&uu).unwrap()).unwrap();
    m.encode()
}

fn olc_value(media: SocketAddr) -> OpenLogicalChannel {
    olc_with(media, 1, 1)
}

/// An OpenLogicalChannel of channel `lcn` in H.245 session `session`.
fn olc_with(media: SocketAddr, lcn: u16, session: u8) -> OpenLogicalChannel {
    let mut ctrl = media;
    ctrl.set_port(media.port() + 1);
    let p = H2250LogicalChannelParameters::new(
        None,
        session,
        None,
        Some(asn::h245_transport_address(media)),
        None,
        Some(asn::h245_transport_address(ctrl)),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    OpenLogicalChannel::new(
        LogicalChannelNumber(lcn),
        OpenLogicalChannelForwardLogicalChannelParameters::new(
            None,
            DataType::nullData(()),
            FwdMux::h2250LogicalChannelParameters(p),
            None,
            None,
        ),
        None,
        None,
        None,
        None,
    )
}

fn olc_bytes(media: SocketAddr) -> Vec<u8> {
    aper::encode(&olc_value(media)).unwrap()
}

fn olc_msg(media: SocketAddr) -> Vec<u8> {
    aper::encode(&Mscm::request(RequestMessage::openLogicalChannel(
        olc_value(media),
    )))
    .unwrap()
}

fn olc_msg_with(media: SocketAddr, lcn: u16, session: u8) -> Vec<u8> {
    aper::encode(&Mscm::request(RequestMessage::openLogicalChannel(
        olc_with(media, lcn, session),
    )))
    .unwrap()
}

fn olc_ack_msg(media: SocketAddr) -> Vec<u8> {
    olc_ack_with(media, 1, Some(1))
}

/// An OpenLogicalChannelAck of channel `lcn`, with or without a sessionID of its own.
fn olc_ack_with(media: SocketAddr, lcn: u16, session: Option<u8>) -> Vec<u8> {
    let mut ctrl = media;
    ctrl.set_port(media.port() + 1);
    let p = H2250LogicalChannelAckParameters::new(
        None,
        session,
        Some(asn::h245_transport_address(media)),
        Some(asn::h245_transport_address(ctrl)),
        None,
        None,
        None,
    );
    let ack = OpenLogicalChannelAck::new(
        LogicalChannelNumber(lcn),
        None,
        None,
        Some(AckMux::h2250LogicalChannelAckParameters(p)),
        None,
        None,
    );
    aper::encode(&Mscm::response(ResponseMessage::openLogicalChannelAck(ack))).unwrap()
}

fn tcs_msg() -> Vec<u8> {
    let tcs = TerminalCapabilitySet::new(
        SequenceNumber(1),
        asn::h245_protocol_identifier(),
        None,
        None,
        None,
        None,
    );
    aper::encode(&Mscm::request(RequestMessage::terminalCapabilitySet(tcs))).unwrap()
}

fn end_session_msg() -> Vec<u8> {
    aper::encode(&Mscm::command(CommandMessage::endSessionCommand(
        EndSessionCommand::disconnect(()),
    )))
    .unwrap()
}

/// The media address of an encoded OLC / OLCAck MultimediaSystemControlMessage.
fn media_of(bytes: &[u8]) -> Option<SocketAddr> {
    let m: Mscm = aper::decode(bytes).ok()?;
    let a = match m {
        Mscm::request(RequestMessage::openLogicalChannel(olc)) => {
            match olc.forward_logical_channel_parameters.multiplex_parameters {
                FwdMux::h2250LogicalChannelParameters(p) => p.media_channel,
                _ => None,
            }
        }
        Mscm::response(ResponseMessage::openLogicalChannelAck(ack)) => {
            match ack.forward_multiplex_ack_parameters {
                Some(AckMux::h2250LogicalChannelAckParameters(p)) => p.media_channel,
                _ => None,
            }
        }
        _ => None,
    }?;
    asn::h245_socket_addr(&a)
}

fn fast_start_media(bytes: &[u8]) -> Option<SocketAddr> {
    let olc: OpenLogicalChannel = aper::decode(bytes).ok()?;
    let m = Mscm::request(RequestMessage::openLogicalChannel(olc));
    media_of(&aper::encode(&m).ok()?)
}

fn decode(payload: &[u8]) -> (Q931, H323UserInformation) {
    let m = Q931::parse(payload).unwrap();
    let uu = super::uuie::decode(&m).unwrap();
    (m, uu)
}

// ---- hooks ---------------------------------------------------------------------------------

/// Which address of an H.245 message the anchor was shown, in H.245's words.
// H.245's own names: every one of them starts with its message, OpenLogicalChannel.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// OpenLogicalChannel (H2250LogicalChannelParameters) mediaChannel.
    OlcMedia,
    /// OpenLogicalChannel mediaControlChannel (RTCP).
    OlcMediaControl,
    /// OpenLogicalChannelAck mediaChannel.
    OlcAckMedia,
    /// OpenLogicalChannelAck mediaControlChannel.
    OlcAckMediaControl,
}

impl Kind {
    fn of(what: ChannelAddress) -> Kind {
        match (what.answer, what.component) {
            (false, Component::Rtp) => Kind::OlcMedia,
            (false, Component::Rtcp) => Kind::OlcMediaControl,
            (true, Component::Rtp) => Kind::OlcAckMedia,
            (true, Component::Rtcp) => Kind::OlcAckMediaControl,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    call: CallId,
    from: Side,
    kind: Kind,
    fast_start: bool,
    addr: Option<SocketAddr>,
    /// The H.245 sessionID it was shown with.
    session: u8,
    legs: Legs,
}

/// A `set_multiplex_id` call: (call, side, H.245 session, multiplexID).
type MuxTold = (String, Side, u8, u32);

/// A `link_peer` call: (call, side, observed IP, how many addresses were seen before it).
type LinkPeerSeen = (String, Side, std::net::IpAddr, usize);

/// A media anchor that records the channel addresses it is shown and the calls ended; with
/// `rewrite`, moves every address to 203.0.113.9, port + 10000; with `refuse`, wants no call.
#[derive(Clone, Default)]
struct TestHook {
    seen: Arc<Mutex<Vec<Seen>>>,
    ended: Arc<Mutex<Vec<String>>>,
    /// `link_peer` calls: (call, side, observed IP, how many addresses were seen before).
    link_peers: Arc<Mutex<Vec<LinkPeerSeen>>>,
    /// E: the multiplexID it reports for every stream; C: the IDs it was told.
    mux_id: Option<u32>,
    mux_told: Arc<Mutex<Vec<MuxTold>>>,
    /// C: the keep-alive payload types it was told.
    pt_told: Arc<Mutex<Vec<u8>>>,
    rewrite: bool,
    refuse: bool,
}

impl MediaAnchor for TestHook {
    fn wants(&self, _legs: &Legs) -> bool {
        !self.refuse
    }

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
        _now: Instant,
    ) -> Option<SocketAddr> {
        self.seen.lock().unwrap().push(Seen {
            call: call_id.parse().unwrap(),
            from,
            kind: Kind::of(what),
            fast_start: what.early,
            addr: Some(addr),
            session: what.session,
            legs: legs.clone(),
        });
        self.rewrite
            .then(|| SocketAddr::from(([203, 0, 113, 9], addr.port() + 10000)))
    }

    fn end(&mut self, call_id: &str) {
        self.ended.lock().unwrap().push(call_id.to_string());
    }

    fn multiplex_id(&self, _call_id: &str, _side: Side, _session: u8) -> Option<u32> {
        self.mux_id
    }

    fn set_keepalive_payload_type(&mut self, _call_id: &str, _side: Side, _session: u8, pt: u8) {
        self.pt_told.lock().unwrap().push(pt);
    }

    fn set_multiplex_id(&mut self, call_id: &str, side: Side, session: u8, id: u32) {
        let told = (call_id.to_string(), side, session, id);
        self.mux_told.lock().unwrap().push(told);
    }

    fn link_peer(&mut self, call_id: &str, side: Side, observed: std::net::IpAddr) {
        let before = self.seen.lock().unwrap().len();
        let entry = (call_id.to_string(), side, observed, before);
        self.link_peers.lock().unwrap().push(entry);
    }
}

// ---- harness -------------------------------------------------------------------------------

const CALLER: &str = "198.51.100.7:40000";
const GK_OUTSIDE: &str = "192.0.2.1:1720";
const CALLEE: &str = "10.1.1.5:1720";
const GK_INSIDE: &str = "10.1.1.1:15000";

struct H {
    cs: CallSignaling,
    now: Instant,
    hook: TestHook,
}

impl H {
    fn new(cfg: CallConfig, rewrite: bool) -> H {
        let hook = TestHook {
            rewrite,
            ..Default::default()
        };
        H::with_hook(cfg, hook)
    }

    fn with_hook(cfg: CallConfig, hook: TestHook) -> H {
        H {
            cs: CallSignaling::new(cfg, Some(Box::new(hook.clone()))),
            now: Instant::now(),
            hook,
        }
    }

    fn input(&mut self, i: Input<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        self.cs.handle(i, self.now, &mut out);
        out
    }

    fn data(&mut self, conn: ConnId, payload: &[u8]) -> Vec<Output> {
        self.input(Input::Data { conn, payload })
    }

    fn accept(&mut self) -> ConnId {
        let conn = self.cs.next_conn_id();
        let o = self.input(Input::Accepted {
            conn,
            peer: sa(CALLER),
            local: sa(GK_OUTSIDE),
            link: None,
        });
        assert!(o.is_empty());
        conn
    }

    /// Caller connects and sends Setup; returns (caller conn, call id, outputs).
    fn setup(&mut self, o: SetupOpts) -> (ConnId, CallId, Vec<Output>) {
        self.setup_linked(None, o)
    }

    /// `setup` on a connection the service marked (`link`: E's end of C's link).
    fn setup_linked(
        &mut self,
        link: Option<crate::call::LinkEnd>,
        o: SetupOpts,
    ) -> (ConnId, CallId, Vec<Output>) {
        let conn = self.cs.next_conn_id();
        let accepted = self.input(Input::Accepted {
            conn,
            peer: sa(CALLER),
            local: sa(GK_OUTSIDE),
            link,
        });
        assert!(accepted.is_empty());
        let out = self.data(conn, &setup(o));
        let call = out
            .iter()
            .find_map(|o| match o {
                Output::Route { call, .. } => Some(*call),
                _ => None,
            })
            .expect("Route");
        (conn, call, out)
    }

    /// Routes the call and brings the callee connection up; returns (callee conn, outputs of
    /// Connected).
    fn route_and_connect(&mut self, call: CallId) -> (ConnId, Vec<Output>) {
        let out = self.input(Input::Routed {
            call,
            result: Ok(Destination {
                addr: sa(CALLEE),
                alias: None,
                zone: "LocalZone".into(),
                link: None,
                alternates: Vec::new(),
            }),
        });
        let conn = match out.as_slice() {
            [Output::Connect { conn, to }, Output::Event(CallEvent::Routed { .. })] => {
                assert_eq!(*to, sa(CALLEE));
                *conn
            }
            o => panic!("{o:?}"),
        };
        let out = self.input(Input::Connected {
            conn,
            local: sa(GK_INSIDE),
        });
        (conn, out)
    }
}

fn sends(out: &[Output], to: ConnId) -> Vec<Vec<u8>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { conn, payload } if *conn == to => Some(payload.clone()),
            _ => None,
        })
        .collect()
}

fn events(out: &[Output]) -> Vec<CallEvent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn closes(out: &[Output]) -> Vec<ConnId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Close { conn } => Some(*conn),
            _ => None,
        })
        .collect()
}

fn released(out: &[Output]) -> Option<(u8, Option<String>, Option<Side>)> {
    events(out).into_iter().find_map(|e| match e {
        CallEvent::Released {
            cause, reason, by, ..
        } => Some((cause, reason, by)),
        _ => None,
    })
}

/// (cause IE value, reason) of a ReleaseComplete payload.
fn rc_of(payload: &[u8]) -> (u8, Option<ReleaseCompleteReason>, CallReference) {
    let (m, uu) = decode(payload);
    assert_eq!(m.message_type, MessageType::ReleaseComplete);
    let Body::releaseComplete(rc) = uu.h323_uu_pdu.h323_message_body else {
        panic!("not a ReleaseComplete-UUIE")
    };
    (
        m.cause().unwrap().unwrap().value.0,
        rc.reason,
        m.call_reference,
    )
}

/// Brings up a call with every kind of connection: (pending, caller, callee, h245 x2).
fn all_kinds(h: &mut H) -> [ConnId; 5] {
    let pending = h.accept();
    let (caller, call, _) = h.setup(SetupOpts {
        h245: Some(sa("198.51.100.7:5000")),
        ..Default::default()
    });
    let (callee, out) = h.route_and_connect(call);
    let Some(Output::Listen { listener, .. }) = out.first().cloned() else {
        panic!("{out:?}")
    };
    h.input(Input::Listening {
        listener,
        addr: sa("10.1.1.1:15500"),
    });
    let hk = h.cs.next_conn_id();
    let out = h.input(Input::H245Accepted {
        listener,
        conn: hk,
        peer: sa("10.1.1.5:33000"),
    });
    let Some(Output::Connect { conn: hc, .. }) = out.get(1).cloned() else {
        panic!("{out:?}")
    };
    h.input(Input::Connected {
        conn: hc,
        local: sa(GK_OUTSIDE),
    });
    [pending, caller, callee, hk, hc]
}
