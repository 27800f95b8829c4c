//! The endpoint side of the protocol: builders and readers of the ASN.1 messages an H.323
//! endpoint sends and receives — RAS requests (H.225.0 section 7), the H.225.0 UUIEs carried in
//! Q.931 User-user, and the handful of H.245 messages of a basic audio call. Values follow what
//! an H.225.0 version 4+ endpoint must send (mandatory extension additions present). Used by
//! the `h323-endpoint` test tool and by the gatekeeper's own tests; the gatekeeper's replies
//! are built in [`crate::ras::build`].
//!
//! Values only: no sockets, no state.
//!
//! The generated types are `#[non_exhaustive]`, so every value is made through its positional
//! `new`; the comments name the extension additions that are mandatory for version 4+.

use causeway_h323_asn1::h323_messages as h225;
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn;
use causeway_h323_asn1::rasn::types::{BmpString, Ia5String, ObjectIdentifier, OctetString, SetOf};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// H.225.0 version 7 (`itu-t recommendation h 2250 version 7`).
const H225_OID: &[u32] = &[0, 0, 8, 2250, 0, 7];
/// H.245 version 15.
const H245_OID: &[u32] = &[0, 0, 8, 245, 0, 15];
/// H.245 terminalType of a terminal (H.323 table 1: 50).
pub const TERMINAL_TYPE: u8 = 50;

pub type Result<T> = std::result::Result<T, String>;

pub fn h225_proto() -> h225::ProtocolIdentifier {
    h225::ProtocolIdentifier(ObjectIdentifier::new_unchecked(H225_OID.into()))
}

fn h245_proto() -> ObjectIdentifier {
    ObjectIdentifier::new_unchecked(H245_OID.into())
}

/// An alias given on the command line: `h323:alice`, `e164:1001`, `url:..`, `email:..`.
pub fn alias(text: &str) -> Result<h225::AliasAddress> {
    let (kind, value) = text
        .split_once(':')
        .ok_or_else(|| format!("alias `{text}`: expected h323:NAME or e164:DIGITS"))?;
    let ia5 = |v: &str| Ia5String::try_from(v).map_err(|e| format!("alias `{text}`: {e}"));
    Ok(match kind {
        "h323" => h225::AliasAddress::h323_ID(bmp(value)?),
        "e164" => {
            if value.is_empty() || !value.bytes().all(|b| b"0123456789#*,".contains(&b)) {
                return Err(format!("alias `{text}`: E.164 digits are 0-9 # * ,"));
            }
            h225::AliasAddress::dialledDigits(ia5(value)?)
        }
        "url" => h225::AliasAddress::url_ID(ia5(value)?),
        "email" => h225::AliasAddress::email_ID(ia5(value)?),
        _ => return Err(format!("alias `{text}`: unknown kind `{kind}`")),
    })
}

/// The alias as `kind:value`, the way the command line takes it.
pub fn alias_text(a: &h225::AliasAddress) -> String {
    match a {
        h225::AliasAddress::h323_ID(s) => {
            format!("h323:{}", String::from_utf16_lossy(&s.clone().into_vec()))
        }
        h225::AliasAddress::dialledDigits(s) => format!("e164:{}", String::from(s.clone())),
        h225::AliasAddress::url_ID(s) => format!("url:{}", String::from(s.clone())),
        h225::AliasAddress::email_ID(s) => format!("email:{}", String::from(s.clone())),
        other => format!("{other:?}"),
    }
}

pub fn bmp_text(s: &BmpString) -> String {
    String::from_utf16_lossy(&s.clone().into_vec())
}

/// rasn reads a BMPString from its big-endian UTF-16 octets.
pub fn bmp(s: &str) -> Result<BmpString> {
    let octets: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
    BmpString::try_from(octets).map_err(|e| format!("`{s}`: {e}"))
}

/// The name of a CHOICE alternative (reasons are printed this way).
pub fn choice_name<T: std::fmt::Debug>(v: &T) -> String {
    let s = format!("{v:?}");
    s.split(['(', ' ', '{']).next().unwrap_or("").to_owned()
}

fn v4(addr: SocketAddr) -> Result<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(a) => Err(format!("{a}: only IPv4 transport addresses are supported")),
    }
}

pub fn transport(addr: SocketAddr) -> Result<h225::TransportAddress> {
    let a = v4(addr)?;
    Ok(h225::TransportAddress::ipAddress(
        h225::TransportAddressIpAddress::new(OctetString::from(a.ip().octets().to_vec()), a.port()),
    ))
}

pub fn from_transport(t: &h225::TransportAddress) -> Option<SocketAddr> {
    match t {
        h225::TransportAddress::ipAddress(a) => {
            let ip: [u8; 4] = a.ip.as_ref().try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(ip),
                a.port,
            )))
        }
        _ => None,
    }
}

pub fn h245_transport(addr: SocketAddr) -> Result<h245::H245TransportAddress> {
    let a = v4(addr)?;
    Ok(h245::H245TransportAddress::unicastAddress(
        h245::UnicastAddress::iPAddress(h245::UnicastAddressIPAddress::new(
            OctetString::from(a.ip().octets().to_vec()),
            a.port(),
        )),
    ))
}

pub fn from_h245_transport(t: &h245::H245TransportAddress) -> Option<SocketAddr> {
    match t {
        h245::H245TransportAddress::unicastAddress(h245::UnicastAddress::iPAddress(a)) => {
            let ip: [u8; 4] = a.network.as_ref().try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(ip),
                a.tsap_identifier,
            )))
        }
        _ => None,
    }
}

pub fn guid(bytes: [u8; 16]) -> h225::GloballyUniqueID {
    h225::GloballyUniqueID(bytes.into())
}

pub fn call_identifier(bytes: [u8; 16]) -> h225::CallIdentifier {
    h225::CallIdentifier::new(guid(bytes))
}

pub fn guid_bytes(g: &h225::GloballyUniqueID) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(g.0.as_ref());
    out
}

fn vendor() -> h225::VendorIdentifier {
    h225::VendorIdentifier::new(
        // T.35 country 181 (USA) and a manufacturer code of no real vendor.
        h225::H221NonStandard::new(181, 0, 21324),
        Some(OctetString::from(&b"causeway h323-endpoint"[..])),
        Some(OctetString::from(&b"0.1"[..])),
        None,
    )
}

/// `EndpointType` of a terminal.
pub fn terminal_type() -> h225::EndpointType {
    h225::EndpointType::new(
        None,
        Some(vendor()),
        None,
        None,
        None,
        Some(h225::TerminalInfo::new(None)),
        false,
        false,
        None,
        None,
    )
}

pub fn encode_ras(m: &h225::RasMessage) -> Result<Vec<u8>> {
    rasn::aper::encode(m).map_err(|e| format!("RAS encode: {e}"))
}

pub fn decode_ras(b: &[u8]) -> Result<h225::RasMessage> {
    rasn::aper::decode(b).map_err(|e| format!("RAS decode: {e}"))
}

/// The requestSeqNum of any RAS message that has one.
pub fn seq_of(m: &h225::RasMessage) -> Option<u16> {
    use h225::RasMessage as R;
    Some(match m {
        R::gatekeeperRequest(x) => x.request_seq_num.0,
        R::gatekeeperConfirm(x) => x.request_seq_num.0,
        R::gatekeeperReject(x) => x.request_seq_num.0,
        R::registrationRequest(x) => x.request_seq_num.0,
        R::registrationConfirm(x) => x.request_seq_num.0,
        R::registrationReject(x) => x.request_seq_num.0,
        R::unregistrationRequest(x) => x.request_seq_num.0,
        R::unregistrationConfirm(x) => x.request_seq_num.0,
        R::unregistrationReject(x) => x.request_seq_num.0,
        R::admissionRequest(x) => x.request_seq_num.0,
        R::admissionConfirm(x) => x.request_seq_num.0,
        R::admissionReject(x) => x.request_seq_num.0,
        R::disengageRequest(x) => x.request_seq_num.0,
        R::disengageConfirm(x) => x.request_seq_num.0,
        R::disengageReject(x) => x.request_seq_num.0,
        R::infoRequest(x) => x.request_seq_num.0,
        R::requestInProgress(x) => x.request_seq_num.0,
        R::unknownMessageResponse(x) => x.request_seq_num.0,
        _ => return None,
    })
}

/// What an endpoint says about itself in RAS.
#[derive(Clone, Debug)]
pub struct Me {
    pub ras: SocketAddr,
    pub csa: SocketAddr,
    pub aliases: Vec<h225::AliasAddress>,
}

pub fn grq(seq: u16, me: &Me) -> Result<h225::RasMessage> {
    Ok(h225::RasMessage::gatekeeperRequest(
        h225::GatekeeperRequest::new(
            h225::RequestSeqNum(seq),
            h225_proto(),
            None,
            transport(me.ras)?,
            terminal_type(),
            None,
            None,
            Some(me.aliases.clone()),
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
            Some(false), // supportsAssignedGK (mandatory since v6)
            None,
        ),
    ))
}

/// A full RRQ (`eid` None, aliases) or a lightweight refresh (keepAlive TRUE, `eid` Some, no
/// aliases: H.225.0 7.9.1).
pub fn rrq(
    seq: u16,
    me: &Me,
    ttl: u32,
    gkid: Option<h225::GatekeeperIdentifier>,
    eid: Option<h225::EndpointIdentifier>,
    discovery_complete: bool,
) -> Result<h225::RasMessage> {
    let keep_alive = eid.is_some();
    Ok(h225::RasMessage::registrationRequest(
        h225::RegistrationRequest::new(
            h225::RequestSeqNum(seq),
            h225_proto(),
            None,
            discovery_complete,
            vec![transport(me.csa)?],
            vec![transport(me.ras)?],
            terminal_type(),
            (!keep_alive).then(|| me.aliases.clone()),
            gkid,
            vendor(),
            None,
            Some(h225::TimeToLive(ttl.max(1))),
            None,
            None,
            None,
            Some(keep_alive), // keepAlive (v2+)
            eid,
            Some(false), // willSupplyUUIEs (v3+)
            Some(false), // maintainConnection (v4+)
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
            Some(false), // supportsAssignedGK (v6+)
            None,
            None,
            None,
        ),
    ))
}

pub fn urq(
    seq: u16,
    me: &Me,
    gkid: Option<h225::GatekeeperIdentifier>,
    eid: Option<h225::EndpointIdentifier>,
) -> Result<h225::RasMessage> {
    Ok(h225::RasMessage::unregistrationRequest(
        h225::UnregistrationRequest::new(
            h225::RequestSeqNum(seq),
            vec![transport(me.csa)?],
            Some(me.aliases.clone()),
            None,
            eid,
            None,
            gkid,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    ))
}

pub fn ucf(seq: u16) -> h225::RasMessage {
    h225::RasMessage::unregistrationConfirm(h225::UnregistrationConfirm::new(
        h225::RequestSeqNum(seq),
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

/// Per-call values shared by ARQ, DRQ and the UUIEs.
#[derive(Clone, Debug)]
pub struct CallIds {
    pub crv: u16,
    pub call_id: [u8; 16],
    pub conf_id: [u8; 16],
}

#[allow(clippy::too_many_arguments)]
pub fn arq(
    seq: u16,
    me: &Me,
    eid: h225::EndpointIdentifier,
    gkid: Option<h225::GatekeeperIdentifier>,
    ids: &CallIds,
    dest: Option<Vec<h225::AliasAddress>>,
    src: Vec<h225::AliasAddress>,
    answer: bool,
) -> Result<h225::RasMessage> {
    Ok(h225::RasMessage::admissionRequest(
        h225::AdmissionRequest::new(
            h225::RequestSeqNum(seq),
            h225::CallType::pointToPoint(()),
            Some(h225::CallModel::gatekeeperRouted(())),
            eid,
            dest,
            answer.then(|| transport(me.csa)).transpose()?,
            None,
            src,
            (!answer).then(|| transport(me.csa)).transpose()?,
            h225::BandWidth(1280),
            h225::CallReferenceValue(ids.crv),
            None,
            None,
            h225::ConferenceIdentifier(guid(ids.conf_id)),
            false,
            answer,
            Some(true), // canMapAlias (v2+)
            Some(call_identifier(ids.call_id)),
            None,
            None,
            gkid,
            None,
            None,
            None,
            None,
            Some(false), // willSupplyUUIEs (v3+)
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some(false), // canMapSrcAlias (v6+)
        ),
    ))
}

pub fn drq(
    seq: u16,
    eid: h225::EndpointIdentifier,
    gkid: Option<h225::GatekeeperIdentifier>,
    ids: &CallIds,
    answered: bool,
) -> h225::RasMessage {
    h225::RasMessage::disengageRequest(h225::DisengageRequest::new(
        h225::RequestSeqNum(seq),
        eid,
        h225::ConferenceIdentifier(guid(ids.conf_id)),
        h225::CallReferenceValue(ids.crv),
        h225::DisengageReason::normalDrop(()),
        None,
        Some(call_identifier(ids.call_id)), // callIdentifier (v2+)
        gkid,
        None,
        None,
        None,
        Some(answered), // answeredCall (v3+)
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

pub fn irr(seq: u16, me: &Me, eid: h225::EndpointIdentifier) -> Result<h225::RasMessage> {
    Ok(h225::RasMessage::infoRequestResponse(
        h225::InfoRequestResponse::new(
            None,
            h225::RequestSeqNum(seq),
            terminal_type(),
            eid,
            transport(me.ras)?,
            vec![transport(me.csa)?],
            Some(me.aliases.clone()),
            None,
            None,
            None,
            None,
            Some(false), // needResponse (v4+)
            None,
            Some(h225::InfoRequestResponseStatus::complete(())),
            Some(false), // unsolicited (v4+)
            None,
        ),
    ))
}

// ------------------------------------------------------------------ H.225.0 call signaling

pub fn encode_uu(
    body: h225::H323UUPDUH323MessageBody,
    tunneling: bool,
    h245: Vec<Vec<u8>>,
) -> Result<Vec<u8>> {
    let control = (!h245.is_empty()).then(|| h245.into_iter().map(OctetString::from).collect());
    let pdu = h225::H323UUPDU::new(
        body,
        None,
        None,
        Some(tunneling),
        control,
        None,
        None,
        None,
        None,
        None,
        None,
    );
    rasn::aper::encode(&h225::H323UserInformation::new(pdu, None))
        .map_err(|e| format!("UUIE encode: {e}"))
}

pub fn decode_uu(b: &[u8]) -> Result<h225::H323UserInformation> {
    rasn::aper::decode(b).map_err(|e| format!("H323-UserInformation decode: {e}"))
}

pub fn setup_uuie(
    ids: &CallIds,
    src: Vec<h225::AliasAddress>,
    dest: Option<Vec<h225::AliasAddress>>,
    dest_csa: Option<SocketAddr>,
    h245_addr: Option<SocketAddr>,
    own_csa: SocketAddr,
) -> Result<h225::H323UUPDUH323MessageBody> {
    Ok(h225::H323UUPDUH323MessageBody::setup(h225::SetupUUIE::new(
        h225_proto(),
        h245_addr.map(transport).transpose()?,
        Some(src),
        terminal_type(),
        dest,
        dest_csa.map(transport).transpose()?,
        None,
        None,
        false,
        h225::ConferenceIdentifier(guid(ids.conf_id)),
        h225::SetupUUIEConferenceGoal::create(()),
        None,
        h225::CallType::pointToPoint(()),
        Some(transport(own_csa)?),
        None,
        Some(call_identifier(ids.call_id)), // callIdentifier (v2+)
        None,
        None,
        None,
        None,
        Some(false), // mediaWaitForConnect (v3+)
        Some(false), // canOverlapSend (v3+)
        None,
        Some(false), // multipleCalls (v4+)
        Some(false), // maintainConnection (v4+)
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
    )))
}

pub fn call_proceeding_uuie(ids: &CallIds) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::callProceeding(h225::CallProceedingUUIE::new(
        h225_proto(),
        terminal_type(),
        None,
        Some(call_identifier(ids.call_id)),
        None,
        None,
        None,
        None,
        Some(false),
        Some(false),
        None,
        None,
    ))
}

pub fn alerting_uuie(ids: &CallIds) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::alerting(h225::AlertingUUIE::new(
        h225_proto(),
        terminal_type(),
        None,
        Some(call_identifier(ids.call_id)),
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
    ))
}

pub fn connect_uuie(
    ids: &CallIds,
    h245_addr: Option<SocketAddr>,
) -> Result<h225::H323UUPDUH323MessageBody> {
    Ok(h225::H323UUPDUH323MessageBody::connect(
        h225::ConnectUUIE::new(
            h225_proto(),
            h245_addr.map(transport).transpose()?,
            terminal_type(),
            h225::ConferenceIdentifier(guid(ids.conf_id)),
            Some(call_identifier(ids.call_id)),
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
        ),
    ))
}

/// Facility carrying only tunneled H.245 (reason transportedInformation, H.225.0 v4+).
pub fn facility_uuie(ids: &CallIds) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::facility(h225::FacilityUUIE::new(
        h225_proto(),
        None,
        None,
        Some(h225::ConferenceIdentifier(guid(ids.conf_id))),
        h225::FacilityReason::transportedInformation(()),
        Some(call_identifier(ids.call_id)),
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
    ))
}

pub fn status_uuie(ids: &CallIds) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::status(h225::StatusUUIE::new(
        h225_proto(),
        call_identifier(ids.call_id),
        None,
        None,
    ))
}

pub fn release_complete_uuie(
    ids: &CallIds,
    reason: Option<h225::ReleaseCompleteReason>,
) -> h225::H323UUPDUH323MessageBody {
    h225::H323UUPDUH323MessageBody::releaseComplete(h225::ReleaseCompleteUUIE::new(
        h225_proto(),
        reason,
        Some(call_identifier(ids.call_id)),
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
    ))
}

// ------------------------------------------------------------------ H.245

pub type H245Msg = h245::MultimediaSystemControlMessage;

pub fn encode_h245(m: &H245Msg) -> Result<Vec<u8>> {
    rasn::aper::encode(m).map_err(|e| format!("H.245 encode: {e}"))
}

pub fn decode_h245(b: &[u8]) -> Result<H245Msg> {
    rasn::aper::decode(b).map_err(|e| format!("H.245 decode: {e}"))
}

fn g711u() -> h245::AudioCapability {
    // 20 ms frames per packet.
    h245::AudioCapability::g711Ulaw64k(20)
}

pub fn tcs(seq: u8) -> H245Msg {
    let entry = h245::CapabilityTableEntry::new(
        h245::CapabilityTableEntryNumber(1),
        Some(h245::Capability::receiveAudioCapability(g711u())),
    );
    let descriptor = h245::CapabilityDescriptor::new(
        h245::CapabilityDescriptorNumber(0),
        Some(SetOf::from(vec![h245::AlternativeCapabilitySet(vec![
            h245::CapabilityTableEntryNumber(1),
        ])])),
    );
    H245Msg::request(h245::RequestMessage::terminalCapabilitySet(
        h245::TerminalCapabilitySet::new(
            h245::SequenceNumber(seq),
            h245_proto(),
            None,
            Some(SetOf::from(vec![entry])),
            Some(SetOf::from(vec![descriptor])),
            None,
        ),
    ))
}

pub fn tcs_ack(seq: u8) -> H245Msg {
    H245Msg::response(h245::ResponseMessage::terminalCapabilitySetAck(
        h245::TerminalCapabilitySetAck::new(h245::SequenceNumber(seq), None),
    ))
}

pub fn msd(sdn: u32) -> H245Msg {
    H245Msg::request(h245::RequestMessage::masterSlaveDetermination(
        h245::MasterSlaveDetermination::new(TERMINAL_TYPE, sdn & 0x00ff_ffff),
    ))
}

/// MSD Ack; `remote_is_master` is the decision as the receiver reads it (H.245 C.2).
pub fn msd_ack(remote_is_master: bool) -> H245Msg {
    let decision = if remote_is_master {
        h245::MasterSlaveDeterminationAckDecision::master(())
    } else {
        h245::MasterSlaveDeterminationAckDecision::slave(())
    };
    H245Msg::response(h245::ResponseMessage::masterSlaveDeterminationAck(
        h245::MasterSlaveDeterminationAck::new(decision),
    ))
}

/// OLC for one G.711 audio channel; `rtcp` is where the opener receives RTCP.
pub fn olc(lcn: u16, rtcp: SocketAddr) -> Result<H245Msg> {
    let params = h245::H2250LogicalChannelParameters::new(
        None,
        1,
        None,
        None,
        None,
        Some(h245_transport(rtcp)?),
        None,
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let forward = h245::OpenLogicalChannelForwardLogicalChannelParameters::new(
        None,
        h245::DataType::audioData(g711u()),
        h245::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters::h2250LogicalChannelParameters(params),
        None,
        None,
    );
    Ok(H245Msg::request(h245::RequestMessage::openLogicalChannel(
        h245::OpenLogicalChannel::new(
            h245::LogicalChannelNumber(lcn),
            forward,
            None,
            None,
            None,
            None,
        ),
    )))
}

pub fn olc_ack(lcn: u16, rtp: SocketAddr, rtcp: SocketAddr) -> Result<H245Msg> {
    let params = h245::H2250LogicalChannelAckParameters::new(
        None,
        Some(1),
        Some(h245_transport(rtp)?),
        Some(h245_transport(rtcp)?),
        None,
        None,
        None,
    );
    Ok(H245Msg::response(h245::ResponseMessage::openLogicalChannelAck(
        h245::OpenLogicalChannelAck::new(
            h245::LogicalChannelNumber(lcn),
            None,
            None,
            Some(h245::OpenLogicalChannelAckForwardMultiplexAckParameters::h2250LogicalChannelAckParameters(params)),
            None,
            None,
        ),
    )))
}

pub fn end_session() -> H245Msg {
    H245Msg::command(h245::CommandMessage::endSessionCommand(
        h245::EndSessionCommand::disconnect(()),
    ))
}
