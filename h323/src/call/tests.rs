//! Tests of the call-signaling relay: real Q.931 messages with PER UUIEs and H.245 PDUs built
//! from the generated ASN.1 types, driven through [`CallSignaling`] as `Input` sequences, with
//! the `Output`s decoded and checked. Owns nothing outside the tests.

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
use proptest::prelude::*;
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
    let mut ctrl = media;
    ctrl.set_port(media.port() + 1);
    let p = H2250LogicalChannelParameters::new(
        None,
        1,
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
        LogicalChannelNumber(1),
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

fn olc_ack_msg(media: SocketAddr) -> Vec<u8> {
    let mut ctrl = media;
    ctrl.set_port(media.port() + 1);
    let p = H2250LogicalChannelAckParameters::new(
        None,
        Some(1),
        Some(asn::h245_transport_address(media)),
        Some(asn::h245_transport_address(ctrl)),
        None,
        None,
        None,
    );
    let ack = OpenLogicalChannelAck::new(
        LogicalChannelNumber(1),
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

#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    call: CallId,
    from: Side,
    kind: MediaAddressKind,
    fast_start: bool,
    addr: Option<SocketAddr>,
}

/// Records what it sees; with `rewrite`, moves every IPv4 address to 203.0.113.9, port + 10000.
#[derive(Clone, Default)]
struct TestHook {
    seen: Arc<Mutex<Vec<Seen>>>,
    rewrite: bool,
}

impl MediaHook for TestHook {
    fn media_address(
        &mut self,
        call: CallId,
        from: Side,
        kind: MediaAddressKind,
        fast_start: bool,
        addr: &mut TransportAddress,
    ) {
        let a = asn::socket_addr(addr);
        self.seen.lock().unwrap().push(Seen {
            call,
            from,
            kind,
            fast_start,
            addr: a,
        });
        if let (true, Some(a)) = (self.rewrite, a) {
            *addr = asn::transport_address(SocketAddr::from(([203, 0, 113, 9], a.port() + 10000)));
        }
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
        H {
            cs: CallSignaling::new(cfg, Box::new(hook.clone())),
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
        });
        assert!(o.is_empty());
        conn
    }

    /// Caller connects and sends Setup; returns (caller conn, call id, outputs).
    fn setup(&mut self, o: SetupOpts) -> (ConnId, CallId, Vec<Output>) {
        let conn = self.accept();
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

// ---- tests ---------------------------------------------------------------------------------

#[test]
fn h323_8_2_1_full_call_with_h245_tunneling() {
    let mut h = H::new(CallConfig::default(), false);
    let fs = vec![olc_bytes(sa("198.51.100.7:7000"))];
    let (caller, call, out) = h.setup(SetupOpts {
        tunneling: Some(true),
        control: Some(vec![tcs_msg()]),
        fast_start: Some(fs.clone()),
        ..Default::default()
    });
    // Event Setup, CallProceeding to the caller, Route.
    assert_eq!(
        events(&out),
        vec![CallEvent::Setup {
            call,
            caller: sa(CALLER),
            called: "1001".into()
        }]
    );
    let cp = sends(&out, caller);
    assert_eq!(cp.len(), 1);
    let (m, uu) = decode(&cp[0]);
    assert_eq!(m.message_type, MessageType::CallProceeding);
    assert_eq!(m.call_reference, to_gk().reply());
    assert_eq!(uu.h323_uu_pdu.h245_tunnelling, Some(true));
    assert_eq!(uu.h323_uu_pdu.provisional_resp_to_h245_tunnelling, Some(()));
    let Body::callProceeding(b) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(b.call_identifier, Some(cid()));
    assert_eq!(b.protocol_identifier, asn::h225_protocol_identifier());
    let route = out
        .iter()
        .find(|o| matches!(o, Output::Route { .. }))
        .unwrap();
    assert_eq!(
        route,
        &Output::Route {
            call,
            called: vec![alias_address(AliasKind::E164, "1001").unwrap()],
            called_number: Some("1001".into()),
            caller: sa(CALLER),
            caller_aliases: vec![alias_address(AliasKind::H323Id, "alice").unwrap()],
        }
    );
    // The hook saw the fastStart OLC (media and control) as fast start from the caller.
    {
        let seen = h.hook.seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen
            .iter()
            .all(|s| s.fast_start && s.from == Side::Caller && s.call == call));
        assert_eq!(seen[0].kind, MediaAddressKind::OlcMedia);
        assert_eq!(seen[0].addr, Some(sa("198.51.100.7:7000")));
        assert_eq!(seen[1].kind, MediaAddressKind::OlcMediaControl);
    }
    assert_eq!(h.cs.calls()[0].state, CallState::Routing);

    // Routed, connected: the Setup goes to the callee, retargeted, fastStart untouched.
    let (callee, out) = h.route_and_connect(call);
    let s = sends(&out, callee);
    assert_eq!(s.len(), 1);
    let (m, uu) = decode(&s[0]);
    assert_eq!(m.message_type, MessageType::Setup);
    assert_eq!(m.call_reference, to_gk());
    assert_eq!(m.called_party_number().unwrap().unwrap().digits, "1001");
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(
        su.dest_call_signal_address,
        Some(asn::transport_address(sa(CALLEE)))
    );
    assert_eq!(su.call_identifier, Some(cid()));
    assert_eq!(
        su.conference_id,
        ConferenceIdentifier(asn::guid([0xcf; 16]))
    );
    assert_eq!(
        su.fast_start.as_ref().unwrap()[0].as_ref(),
        fs[0].as_slice()
    );
    assert_eq!(
        uu.h323_uu_pdu.h245_control.as_ref().unwrap()[0].as_ref(),
        tcs_msg().as_slice()
    );
    assert_eq!(h.cs.calls()[0].state, CallState::Proceeding);

    // The callee's plain CallProceeding is absorbed.
    assert!(h.data(callee, &call_proceeding(None)).is_empty());
    // Alerting is forwarded byte for byte.
    let a = alerting();
    let out = h.data(callee, &a);
    assert_eq!(sends(&out, caller), vec![a]);
    assert_eq!(events(&out), vec![CallEvent::Alerting { call }]);
    // Connect with tunneling TRUE: forwarded, Connected and H245{tunneled} once.
    let c = connect(None, Some(true), Some(vec![tcs_msg()]));
    let out = h.data(callee, &c);
    assert_eq!(sends(&out, caller), vec![c]);
    assert_eq!(
        events(&out),
        vec![
            CallEvent::Connected { call },
            CallEvent::H245 {
                call,
                tunneled: true
            }
        ]
    );
    assert_eq!(h.cs.calls()[0].h245, H245Mode::Tunneled);
    assert_eq!(h.cs.poll_timeout(), None);
    // Tunneled H.245 in an empty-bodied Facility, both ways, untouched.
    let f = facility_control(to_gk(), vec![olc_msg(sa("198.51.100.7:7002"))]);
    assert_eq!(sends(&h.data(caller, &f), callee), vec![f]);
    let f = facility_control(from_callee(), vec![olc_ack_msg(sa("10.1.1.5:9000"))]);
    assert_eq!(sends(&h.data(callee, &f), caller), vec![f]);
    assert!(h
        .hook
        .seen
        .lock()
        .unwrap()
        .iter()
        .any(|s| s.kind == MediaAddressKind::OlcAckMedia && s.from == Side::Callee));
    // endSessionCommand tunneled passes through.
    let f = facility_control(to_gk(), vec![end_session_msg()]);
    assert_eq!(sends(&h.data(caller, &f), callee), vec![f]);
    // Caller hangs up: ReleaseComplete forwarded, both closed, Released.
    let rc = release_complete(to_gk(), Some(16));
    let out = h.data(caller, &rc);
    assert_eq!(sends(&out, callee), vec![rc]);
    assert_eq!(closes(&out), vec![caller, callee]);
    assert_eq!(
        released(&out),
        Some((16, Some("undefinedReason".into()), Some(Side::Caller)))
    );
    assert!(h.cs.calls().is_empty());
    assert_eq!(h.cs.conn_count(), 0);
    // Late events for the closed connections are ignored.
    assert!(h.input(Input::Closed { conn: caller }).is_empty());
    assert!(h.data(callee, &alerting()).is_empty());
}

#[test]
fn h323_8_1_3_separate_h245_relayed_with_a_rewriting_hook() {
    let mut h = H::new(CallConfig::default(), true);
    let caller_h245 = sa("198.51.100.7:5000");
    let (caller, call, out) = h.setup(SetupOpts {
        h245: Some(caller_h245),
        fast_start: Some(vec![olc_bytes(sa("198.51.100.7:7000"))]),
        ..Default::default()
    });
    // The Setup is not sent before the callee leg is up: nothing to listen on yet.
    assert!(!out.iter().any(|o| matches!(o, Output::Listen { .. })));
    let (callee, out) = h.route_and_connect(call);
    // Listen on the address the callee's leg uses, Setup held until it is bound.
    let listener = match out.as_slice() {
        [Output::Listen { listener, ip }] => {
            assert_eq!(*ip, sa(GK_INSIDE).ip());
            *listener
        }
        o => panic!("{o:?}"),
    };
    let bound = sa("10.1.1.1:15500");
    let out = h.input(Input::Listening {
        listener,
        addr: bound,
    });
    let s = sends(&out, callee);
    assert_eq!(s.len(), 1);
    let (_, uu) = decode(&s[0]);
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(su.h245_address, Some(asn::transport_address(bound)));
    // The fastStart OLC was rewritten by the hook.
    assert_eq!(
        fast_start_media(&su.fast_start.as_ref().unwrap()[0]),
        Some(sa("203.0.113.9:17000"))
    );
    assert_eq!(h.cs.calls()[0].h245, H245Mode::Separate { up: false });

    // Another IP may not use the listener.
    let intruder = h.cs.next_conn_id();
    let out = h.input(Input::H245Accepted {
        listener,
        conn: intruder,
        peer: sa("10.9.9.9:3000"),
    });
    assert_eq!(out, vec![Output::Close { conn: intruder }]);
    // The callee connects to it: causeway connects to the caller's own address.
    let h_callee = h.cs.next_conn_id();
    let out = h.input(Input::H245Accepted {
        listener,
        conn: h_callee,
        peer: sa("10.1.1.5:33000"),
    });
    let h_caller = match out.as_slice() {
        [Output::CloseListener { listener: l }, Output::Connect { conn, to }] => {
            assert_eq!(*l, listener);
            assert_eq!(*to, caller_h245);
            *conn
        }
        o => panic!("{o:?}"),
    };
    // TCS from the callee before the caller leg is up: queued.
    let tcs = tcs_msg();
    assert!(h.data(h_callee, &tcs).is_empty());
    let out = h.input(Input::Connected {
        conn: h_caller,
        local: sa("192.0.2.1:16000"),
    });
    assert_eq!(
        events(&out),
        vec![CallEvent::H245 {
            call,
            tunneled: false
        }]
    );
    // Untouched bytes when the hook changes nothing (TCS has no address).
    assert_eq!(sends(&out, h_caller), vec![tcs.clone()]);
    assert_eq!(h.cs.calls()[0].h245, H245Mode::Separate { up: true });
    // OLC from the caller: the callee sees the rewritten media address.
    let out = h.data(h_caller, &olc_msg(sa("198.51.100.7:7002")));
    let s = sends(&out, h_callee);
    assert_eq!(media_of(&s[0]), Some(sa("203.0.113.9:17002")));
    // OLCAck from the callee: rewritten towards the caller.
    let out = h.data(h_callee, &olc_ack_msg(sa("10.1.1.5:9000")));
    let s = sends(&out, h_caller);
    assert_eq!(media_of(&s[0]), Some(sa("203.0.113.9:19000")));
    {
        let seen = h.hook.seen.lock().unwrap();
        assert!(seen.iter().any(|s| s.kind == MediaAddressKind::OlcAckMedia
            && s.from == Side::Callee
            && !s.fast_start
            && s.addr == Some(sa("10.1.1.5:9000"))));
    }
    // endSessionCommand passes through.
    let es = end_session_msg();
    assert_eq!(sends(&h.data(h_caller, &es), h_callee), vec![es]);
    // Garbage on H.245: forwarded untouched, counted.
    let out = h.data(h_callee, &[0xff, 0xff, 0xff]);
    assert_eq!(sends(&out, h_caller), vec![vec![0xff, 0xff, 0xff]]);
    assert!(matches!(
        events(&out).as_slice(),
        [CallEvent::Malformed { .. }]
    ));

    // The callee's Connect offers its own h245Address: stripped (one channel per call).
    let out = h.data(callee, &connect(Some(sa("10.1.1.5:6000")), None, None));
    let s = sends(&out, caller);
    let (_, uu) = decode(&s[0]);
    let Body::connect(c) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(c.h245_address, None);

    // The callee's signaling closes: ReleaseComplete cause 41 to the caller, all closed.
    let out = h.input(Input::Closed { conn: callee });
    let s = sends(&out, caller);
    let (cause, reason, crv) = rc_of(&s[0]);
    assert_eq!(cause, 41);
    assert_eq!(reason, Some(ReleaseCompleteReason::undefinedReason(())));
    assert_eq!(crv, to_gk().reply());
    let mut c = closes(&out);
    c.sort();
    let mut want = vec![caller, callee, h_callee, h_caller];
    want.sort();
    assert_eq!(c, want);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::CloseListener { .. })));
    assert_eq!(released(&out).map(|r| r.2), Some(Some(Side::Callee)));
    assert_eq!(h.cs.conn_count(), 0);
}

#[test]
fn h323_8_1_3_h245_address_from_callee_gets_a_listener_on_the_caller_side() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, out) = h.route_and_connect(call);
    assert_eq!(sends(&out, callee).len(), 1);
    // Connect with an h245Address: Listen on the caller leg's local IP, Connect held.
    let callee_h245 = sa("10.1.1.5:6000");
    let out = h.data(callee, &connect(Some(callee_h245), Some(false), None));
    let listener = match out.as_slice() {
        [Output::Listen { listener, ip }, Output::Event(CallEvent::Connected { .. })] => {
            assert_eq!(*ip, sa(GK_OUTSIDE).ip());
            *listener
        }
        o => panic!("{o:?}"),
    };
    // A message after it waits behind it (order kept).
    let f = facility_undefined(from_callee());
    assert!(sends(&h.data(callee, &f), caller).is_empty());
    let bound = sa("192.0.2.1:15600");
    let out = h.input(Input::Listening {
        listener,
        addr: bound,
    });
    let s = sends(&out, caller);
    assert_eq!(s.len(), 2);
    let (m, uu) = decode(&s[0]);
    assert_eq!(m.message_type, MessageType::Connect);
    let Body::connect(c) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(c.h245_address, Some(asn::transport_address(bound)));
    assert_eq!(s[1], f);
    // The caller connects from its signaling IP; causeway connects to the callee.
    let hc = h.cs.next_conn_id();
    let out = h.input(Input::H245Accepted {
        listener,
        conn: hc,
        peer: sa("198.51.100.7:41000"),
    });
    let hk = match out.as_slice() {
        [Output::CloseListener { .. }, Output::Connect { conn, to }] => {
            assert_eq!(*to, callee_h245);
            *conn
        }
        o => panic!("{o:?}"),
    };
    // Caller's TCS waits for the callee leg, then goes out untouched.
    let tcs = tcs_msg();
    assert!(h.data(hc, &tcs).is_empty());
    let out = h.input(Input::Connected {
        conn: hk,
        local: sa(GK_INSIDE),
    });
    assert_eq!(sends(&out, hk), vec![tcs]);
    // Losing one H.245 leg closes the other; the call goes on.
    let out = h.input(Input::Closed { conn: hk });
    assert_eq!(out, vec![Output::Close { conn: hc }]);
    assert_eq!(h.cs.call_count(), 1);
}

#[test]
fn listen_failure_strips_the_h245_address() {
    let mut h = H::new(CallConfig::default(), false);
    let (_, call, _) = h.setup(SetupOpts {
        h245: Some(sa("198.51.100.7:5000")),
        ..Default::default()
    });
    let (callee, out) = h.route_and_connect(call);
    let Some(Output::Listen { listener, .. }) = out.first().cloned() else {
        panic!("{out:?}")
    };
    let out = h.input(Input::ListenFailed {
        listener,
        reason: "no port".into(),
    });
    let s = sends(&out, callee);
    let (_, uu) = decode(&s[0]);
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(su.h245_address, None);
}

#[test]
fn h225_7_4_2_route_failures_get_the_table_reason_and_cause() {
    for (failure, cause, reason) in [
        (
            RouteFailure::NotRegistered,
            20,
            ReleaseCompleteReason::calledPartyNotRegistered(()),
        ),
        (
            RouteFailure::Unreachable,
            3,
            ReleaseCompleteReason::unreachableDestination(()),
        ),
        (
            RouteFailure::Refused,
            111,
            ReleaseCompleteReason::noPermission(()),
        ),
        (
            RouteFailure::CallerNotRegistered,
            31,
            ReleaseCompleteReason::callerNotRegistered(()),
        ),
    ] {
        let mut h = H::new(CallConfig::default(), false);
        let (caller, call, _) = h.setup(SetupOpts::default());
        let out = h.input(Input::Routed {
            call,
            result: Err(failure),
        });
        let s = sends(&out, caller);
        assert_eq!(s.len(), 1);
        let (c, r, crv) = rc_of(&s[0]);
        assert_eq!((c, r.as_ref()), (cause, Some(&reason)));
        assert_eq!(crv, to_gk().reply());
        assert_eq!(closes(&out), vec![caller]);
        assert_eq!(
            released(&out),
            Some((cause, Some(reason_name(&reason).to_string()), None))
        );
        // A late answer for the cleared call is ignored.
        assert!(h
            .input(Input::Routed {
                call,
                result: Err(RouteFailure::Unreachable)
            })
            .is_empty());
    }
}

#[test]
fn routed_alias_replaces_destination_and_called_number() {
    let mut h = H::new(CallConfig::default(), false);
    let (_, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: alias_address(AliasKind::E164, "5551001"),
            zone: "LocalZone".into(),
        }),
    });
    let Some(Output::Connect { conn, .. }) = out.first().cloned() else {
        panic!()
    };
    let out = h.input(Input::Connected {
        conn,
        local: sa(GK_INSIDE),
    });
    let (m, uu) = decode(&sends(&out, conn)[0]);
    assert_eq!(m.called_party_number().unwrap().unwrap().digits, "5551001");
    let Body::setup(su) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(
        su.destination_address,
        Some(vec![alias_address(AliasKind::E164, "5551001").unwrap()])
    );
    let st = &h.cs.calls()[0];
    assert_eq!(st.callee, Some(sa(CALLEE)));
    assert_eq!(st.zone.as_deref(), Some("LocalZone"));
}

#[test]
fn connect_failure_releases_the_caller() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "z".into(),
        }),
    });
    let Some(Output::Connect { conn, .. }) = out.first().cloned() else {
        panic!()
    };
    let out = h.input(Input::ConnectFailed {
        conn,
        reason: "refused".into(),
    });
    let (cause, reason, _) = rc_of(&sends(&out, caller)[0]);
    assert_eq!(cause, 27);
    assert_eq!(
        reason,
        Some(ReleaseCompleteReason::unreachableDestination(()))
    );
    assert!(sends(&out, conn).is_empty());
    assert_eq!(closes(&out), vec![caller, conn]);
    assert_eq!(released(&out).map(|r| r.0), Some(27));
}

#[test]
fn callee_release_complete_is_forwarded() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, _) = h.route_and_connect(call);
    let rc = release_complete(from_callee(), Some(17));
    let out = h.data(callee, &rc);
    assert_eq!(sends(&out, caller), vec![rc]);
    assert!(sends(&out, callee).is_empty());
    assert_eq!(closes(&out), vec![caller, callee]);
    assert_eq!(
        released(&out),
        Some((17, Some("undefinedReason".into()), Some(Side::Callee)))
    );
}

#[test]
fn caller_close_releases_the_callee() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, _) = h.route_and_connect(call);
    let out = h.input(Input::Closed { conn: caller });
    let (cause, _, crv) = rc_of(&sends(&out, callee)[0]);
    assert_eq!(cause, 41);
    assert_eq!(crv, to_gk());
    assert_eq!(released(&out).map(|r| r.2), Some(Some(Side::Caller)));
    // Caller close while routing: nothing to send, call gone.
    let (caller, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Closed { conn: caller });
    assert!(sends(&out, caller).is_empty());
    assert!(released(&out).is_some());
    assert!(h
        .input(Input::Routed {
            call,
            result: Err(RouteFailure::Unreachable)
        })
        .is_empty());
}

#[test]
fn q931_t301_setup_and_alerting_timeouts() {
    let mut h = H::new(CallConfig::default(), false);
    let start = h.now;
    let (caller, call, _) = h.setup(SetupOpts::default());
    assert_eq!(h.cs.poll_timeout(), Some(start + Duration::from_secs(180)));
    let mut out = Vec::new();
    h.cs.handle_timeout(start + Duration::from_secs(179), &mut out);
    assert!(out.is_empty());
    let (callee, _) = h.route_and_connect(call);
    h.cs.handle_timeout(start + Duration::from_secs(180), &mut out);
    let (cause, _, _) = rc_of(&sends(&out, caller)[0]);
    assert_eq!(cause, 18);
    let (cause, _, _) = rc_of(&sends(&out, callee)[0]);
    assert_eq!(cause, 18);
    assert_eq!(released(&out).map(|r| r.0), Some(18));
    assert_eq!(h.cs.poll_timeout(), None);

    // After Alerting the alerting timer runs: cause 19.
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, _) = h.route_and_connect(call);
    h.now = start + Duration::from_secs(100);
    h.data(callee, &alerting());
    assert_eq!(h.cs.poll_timeout(), Some(h.now + Duration::from_secs(180)));
    let mut out = Vec::new();
    h.cs.handle_timeout(start + Duration::from_secs(281), &mut out);
    assert_eq!(rc_of(&sends(&out, caller)[0]).0, 19);
}

#[test]
fn silent_connection_is_closed() {
    let mut h = H::new(CallConfig::default(), false);
    let conn = h.accept();
    let t = h.cs.poll_timeout().unwrap();
    assert_eq!(t, h.now + Duration::from_secs(30));
    let mut out = Vec::new();
    h.cs.handle_timeout(t, &mut out);
    assert_eq!(out, vec![Output::Close { conn }]);
    assert_eq!(h.cs.conn_count(), 0);
}

#[test]
fn malformed_setup_is_rejected() {
    let mut h = H::new(CallConfig::default(), false);
    // No User-user: cause 96.
    let conn = h.accept();
    let m = Q931::new(MessageType::Setup, to_gk()).encode();
    let out = h.data(conn, &m);
    assert_eq!(rc_of(&sends(&out, conn)[0]).0, 96);
    assert_eq!(closes(&out), vec![conn]);
    assert!(events(&out)
        .iter()
        .any(|e| matches!(e, CallEvent::Rejected { cause: 96, .. })));
    // Undecodable PER: cause 100.
    let conn = h.accept();
    let mut m = Q931::new(MessageType::Setup, to_gk());
    m.set_user_user(&[0xff; 7]).unwrap();
    let out = h.data(conn, &m.encode());
    assert_eq!(rc_of(&sends(&out, conn)[0]).0, 100);
    assert_eq!(closes(&out), vec![conn]);
    // Not Q.931 at all: counted, nothing sent.
    let conn = h.accept();
    let out = h.data(conn, b"GET / HTTP/1.1");
    assert!(matches!(
        events(&out).as_slice(),
        [CallEvent::Malformed { .. }]
    ));
    assert!(sends(&out, conn).is_empty());
    assert_eq!(h.cs.call_count(), 0);
}

#[test]
fn q931_5_8_3_2_unknown_call_reference_gets_cause_81() {
    let mut h = H::new(CallConfig::default(), false);
    let conn = h.accept();
    let out = h.data(conn, &alerting());
    let (cause, _, crv) = rc_of(&sends(&out, conn)[0]);
    assert_eq!(cause, 81);
    assert_eq!(crv, from_callee().reply());
    // ReleaseComplete for an unknown call: ignored.
    assert!(h.data(conn, &release_complete(to_gk(), None)).is_empty());
    // Another call reference on a call's connection.
    let (caller, _, _) = h.setup(SetupOpts::default());
    let other = CallReference::new(7, false).unwrap();
    let out = h.data(caller, &facility_undefined(other));
    assert_eq!(rc_of(&sends(&out, caller)[0]).0, 81);
    assert_eq!(h.cs.call_count(), 1);
}

#[test]
fn h225_7_4_callee_call_proceeding_with_fast_start_becomes_facility() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    let (callee, _) = h.route_and_connect(call);
    let fs = olc_bytes(sa("10.1.1.5:9000"));
    let out = h.data(callee, &call_proceeding(Some(vec![fs.clone()])));
    let s = sends(&out, caller);
    assert_eq!(s.len(), 1);
    let (m, uu) = decode(&s[0]);
    assert_eq!(m.message_type, MessageType::Facility);
    assert_eq!(m.call_reference, from_callee());
    let Body::facility(f) = &uu.h323_uu_pdu.h323_message_body else {
        panic!()
    };
    assert_eq!(f.fast_start.as_ref().unwrap()[0].as_ref(), fs.as_slice());
    assert_eq!(f.call_identifier, Some(cid()));
}

#[test]
fn queue_is_bounded() {
    let cfg = CallConfig {
        max_queued_bytes: 1000,
        ..CallConfig::default()
    };
    let mut h = H::new(cfg, false);
    let (caller, call, _) = h.setup(SetupOpts::default());
    // Routed but the callee leg never comes up: the caller's messages queue.
    h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "z".into(),
        }),
    });
    let f = facility_undefined(to_gk());
    let mut cleared = None;
    for i in 0..100 {
        let out = h.data(caller, &f);
        assert!(h.cs.queued_bytes() <= 1000);
        if let Some(r) = released(&out) {
            cleared = Some((i, r, out));
            break;
        }
    }
    let (_, (cause, reason, _), out) = cleared.expect("cleared by the queue limit");
    assert_eq!(cause, 47);
    assert_eq!(reason.as_deref(), Some("queue limit"));
    assert_eq!(rc_of(&sends(&out, caller)[0]).0, 47);
    assert_eq!(h.cs.queued_bytes(), 0);
}

#[test]
fn call_limit() {
    let cfg = CallConfig {
        max_calls: 1,
        ..CallConfig::default()
    };
    let mut h = H::new(cfg, false);
    h.setup(SetupOpts::default());
    let conn = h.accept();
    let out = h.data(conn, &setup(SetupOpts::default()));
    let (cause, reason, _) = rc_of(&sends(&out, conn)[0]);
    assert_eq!(cause, 47);
    assert_eq!(reason, Some(ReleaseCompleteReason::gatekeeperResources(())));
    assert_eq!(closes(&out), vec![conn]);
    assert!(!out.iter().any(|o| matches!(o, Output::Route { .. })));
    assert_eq!(h.cs.call_count(), 1);
}

#[test]
fn late_connect_and_bind_after_release_are_closed() {
    let mut h = H::new(CallConfig::default(), false);
    let (caller, call, _) = h.setup(SetupOpts {
        h245: Some(sa("198.51.100.7:5000")),
        ..Default::default()
    });
    let (callee, out) = h.route_and_connect(call);
    let Some(Output::Listen { listener, .. }) = out.first().cloned() else {
        panic!("{out:?}")
    };
    // Cleared while the listener is being bound: CloseListener at release ...
    let out = h.data(caller, &release_complete(to_gk(), Some(16)));
    assert!(out.contains(&Output::CloseListener { listener }));
    assert!(closes(&out).contains(&callee));
    // ... and again if the bind completes afterwards.
    let out = h.input(Input::Listening {
        listener,
        addr: sa("10.1.1.1:15500"),
    });
    assert_eq!(out, vec![Output::CloseListener { listener }]);
    // A connection that completes after its call was cleared is closed.
    let (_, call, _) = h.setup(SetupOpts::default());
    let out = h.input(Input::Routed {
        call,
        result: Ok(Destination {
            addr: sa(CALLEE),
            alias: None,
            zone: "z".into(),
        }),
    });
    let Some(Output::Connect { conn, .. }) = out.first().cloned() else {
        panic!()
    };
    let mut out = Vec::new();
    h.cs.handle_timeout(h.now + Duration::from_secs(180), &mut out);
    assert!(closes(&out).contains(&conn));
    let out = h.input(Input::Connected {
        conn,
        local: sa(GK_INSIDE),
    });
    assert_eq!(out, vec![Output::Close { conn }]);
}

#[test]
fn status_view() {
    let mut h = H::new(CallConfig::default(), false);
    let (_, call, _) = h.setup(SetupOpts {
        h245: Some(sa("198.51.100.7:5000")),
        ..Default::default()
    });
    let st = h.cs.calls();
    assert_eq!(
        st,
        vec![CallStatus {
            id: call,
            caller: sa(CALLER),
            called: "1001".into(),
            callee: None,
            zone: None,
            state: CallState::Routing,
            h245: H245Mode::Separate { up: false },
        }]
    );
}

#[test]
fn several_h245_pdus_in_one_payload_are_all_kept() {
    let mut h = H::new(CallConfig::default(), true);
    let [_, _, _, hk, hc] = all_kinds(&mut h);
    // TCS + OLC back to back: the OLC is rewritten, the TCS kept, nothing lost.
    let mut payload = tcs_msg();
    payload.extend_from_slice(&olc_msg(sa("10.1.1.5:9000")));
    let out = h.data(hk, &payload);
    let s = sends(&out, hc);
    assert_eq!(s.len(), 1);
    let (first, rest): (Mscm, &[u8]) = aper::decode_with_remainder(&s[0]).unwrap();
    assert_eq!(aper::encode(&first).unwrap(), tcs_msg());
    assert_eq!(media_of(rest), Some(sa("203.0.113.9:19000")));
}

// ---- robustness ----------------------------------------------------------------------------

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic_or_grow(
        inputs in proptest::collection::vec(
            (0usize..5, proptest::collection::vec(any::<u8>(), 0..200)),
            0..40,
        ),
        prefix in proptest::sample::select(vec![
            vec![],
            vec![0x08, 0x02, 0x12, 0x34],
            vec![0x08, 0x02, 0x92, 0x34],
        ]),
    ) {
        let cfg = CallConfig { max_queued_bytes: 2000, ..CallConfig::default() };
        let mut h = H::new(cfg, true);
        let conns = all_kinds(&mut h);
        for (k, bytes) in inputs {
            let mut payload = prefix.clone();
            payload.extend_from_slice(&bytes);
            let out = h.data(conns[k], &payload);
            // A payload yields at most a message, its events and a release's outputs.
            prop_assert!(out.len() <= 16, "{} outputs", out.len());
            prop_assert!(h.cs.queued_bytes() <= 2 * 2000);
            prop_assert!(h.cs.conn_count() <= 5);
        }
    }
}

/// One random input, by kind, against random (mostly plausible) ids.
#[derive(Debug, Clone)]
enum Rand {
    Data(u64, Vec<u8>),
    Accepted(u64),
    Connected(u64),
    ConnectFailed(u64),
    Closed(u64),
    Listening(u64),
    ListenFailed(u64),
    H245Accepted(u64, u64),
    Routed(u64, bool),
    Poll(u64),
}

fn rand_input() -> impl Strategy<Value = Rand> {
    let id = 0u64..12;
    prop_oneof![
        (id.clone(), proptest::collection::vec(any::<u8>(), 0..120))
            .prop_map(|(c, b)| Rand::Data(c, b)),
        (id.clone(), any::<bool>()).prop_map(|(c, _)| Rand::Data(
            c,
            setup(SetupOpts {
                h245: Some(sa("198.51.100.7:5000")),
                ..Default::default()
            })
        )),
        id.clone().prop_map(Rand::Accepted),
        id.clone().prop_map(Rand::Connected),
        id.clone().prop_map(Rand::ConnectFailed),
        id.clone().prop_map(Rand::Closed),
        id.clone().prop_map(Rand::Listening),
        id.clone().prop_map(Rand::ListenFailed),
        (id.clone(), id.clone()).prop_map(|(l, c)| Rand::H245Accepted(l, c)),
        (id.clone(), any::<bool>()).prop_map(|(c, ok)| Rand::Routed(c, ok)),
        (0u64..400).prop_map(Rand::Poll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_input_sequences_never_panic(seq in proptest::collection::vec(rand_input(), 0..60)) {
        let cfg = CallConfig { max_queued_bytes: 2000, max_calls: 4, ..CallConfig::default() };
        let mut h = H::new(cfg, true);
        let start = h.now;
        for r in seq {
            let out = match r {
                Rand::Data(conn, b) => h.data(conn, &b),
                Rand::Accepted(conn) => h.input(Input::Accepted {
                    conn,
                    peer: sa(CALLER),
                    local: sa(GK_OUTSIDE),
                }),
                Rand::Connected(conn) => h.input(Input::Connected { conn, local: sa(GK_INSIDE) }),
                Rand::ConnectFailed(conn) => {
                    h.input(Input::ConnectFailed { conn, reason: String::new() })
                }
                Rand::Closed(conn) => h.input(Input::Closed { conn }),
                Rand::Listening(listener) => h.input(Input::Listening {
                    listener,
                    addr: sa("10.1.1.1:15500"),
                }),
                Rand::ListenFailed(listener) => {
                    h.input(Input::ListenFailed { listener, reason: String::new() })
                }
                Rand::H245Accepted(listener, conn) => h.input(Input::H245Accepted {
                    listener,
                    conn,
                    peer: sa("10.1.1.5:33000"),
                }),
                Rand::Routed(call, ok) => h.input(Input::Routed {
                    call,
                    result: if ok {
                        Ok(Destination { addr: sa(CALLEE), alias: None, zone: "z".into() })
                    } else {
                        Err(RouteFailure::Unreachable)
                    },
                }),
                Rand::Poll(s) => {
                    let mut out = Vec::new();
                    h.cs.handle_timeout(start + Duration::from_secs(s), &mut out);
                    out
                }
            };
            prop_assert!(out.len() <= 64, "{} outputs", out.len());
            prop_assert!(h.cs.call_count() <= 4);
            prop_assert!(h.cs.queued_bytes() <= 4 * 2 * 2 * 2000);
        }
    }
}
