//! The gateway's H.323 leg on the wire: the Q.931 messages it sends as an endpoint (Setup,
//! CallProceeding, Alerting, Progress, Connect, Facility carrying tunneled H.245,
//! ReleaseComplete) and the reading of what the gatekeeper sends it, into [`Incoming`].
//!
//! Values only: which message to send when is the call flows' (`to_h323`, `to_sip`). The UUIE
//! builders are `causeway_h323::endpoint`'s; this file adds the Q.931 elements around them
//! (bearer capability, display, party numbers, cause) and the fastStart/H.245 fields.

use super::ConnId;
use causeway_h323::asn;
use causeway_h323::endpoint::{self as ep, CallIds};
use causeway_h323::q931::{CallReference, CauseValue, MessageType, PartyNumber, Q931};
use causeway_h323_asn1::h323_messages as h225;
use causeway_h323_asn1::rasn::types::OctetString;
use std::net::SocketAddr;

/// Bearer capability of a speech call: ITU-T coding, unrestricted digital information
/// (as H.225.0 7.2.2.1 asks of H.323 calls), circuit mode 64 kbit/s, H.221 layer 1.
pub const BEARER: [u8; 3] = [0x88, 0x90, 0xa5];

pub type Body = h225::H323UUPDUH323MessageBody;

/// The gateway's end of one H.323 call: its connection to the gatekeeper and identifiers.
#[derive(Debug)]
pub struct Leg {
    pub conn: ConnId,
    /// The call reference as we send it (flag set on the side that did not originate).
    pub cr: CallReference,
    pub ids: CallIds,
    /// H.245 tunneled in H.225 (H.323 8.2.1); cleared when the peer refuses it.
    pub tunneling: bool,
}

/// One message the gatekeeper sent on a call's connection.
#[derive(Debug)]
pub struct Incoming {
    pub mt: MessageType,
    pub cr: u16,
    pub body: Option<Body>,
    /// The fastStart element (encoded OpenLogicalChannels).
    pub fast_start: Vec<Vec<u8>>,
    /// Tunneled H.245 (encoded MultimediaSystemControlMessages).
    pub h245: Vec<Vec<u8>>,
    /// The sender's h245Tunnelling flag.
    pub tunneling: Option<bool>,
    pub cause: Option<u8>,
    pub display: Option<String>,
    pub calling_number: Option<String>,
    pub called_number: Option<String>,
}

/// Reads one Q.931 message. A message whose User-user element does not decode is an error
/// (the call it belongs to is cleared); elements other than those read are ignored.
pub fn read(pdu: &[u8]) -> Result<Incoming, String> {
    let q = Q931::parse(pdu).map_err(|e| format!("Q.931: {e}"))?;
    let uu = match q.user_user().map_err(|e| format!("Q.931: {e}"))? {
        Some(uu) => Some(ep::decode_uu(&uu.data)?.h323_uu_pdu),
        None => None,
    };
    let (body, tunneling, h245) = match uu {
        Some(p) => {
            let h245 = p
                .h245_control
                .map(|c| c.into_iter().map(|o| o.to_vec()).collect())
                .unwrap_or_default();
            (Some(p.h323_message_body), p.h245_tunnelling, h245)
        }
        None => (None, None, Vec::new()),
    };
    let fast_start = body.as_ref().map(fast_start_of).unwrap_or_default();
    Ok(Incoming {
        mt: q.message_type,
        cr: q.call_reference.value(),
        fast_start,
        h245,
        tunneling,
        cause: q.cause().ok().flatten().map(|c| c.value.0),
        display: q.display().ok().flatten(),
        calling_number: q.calling_party_number().ok().flatten().map(|n| n.digits),
        called_number: q.called_party_number().ok().flatten().map(|n| n.digits),
        body,
    })
}

fn fast_start_of(b: &Body) -> Vec<Vec<u8>> {
    let fs = match b {
        Body::setup(s) => s.fast_start.as_ref(),
        Body::callProceeding(s) => s.fast_start.as_ref(),
        Body::alerting(s) => s.fast_start.as_ref(),
        Body::progress(s) => s.fast_start.as_ref(),
        Body::connect(s) => s.fast_start.as_ref(),
        Body::facility(s) => s.fast_start.as_ref(),
        _ => None,
    };
    fs.map(|v| v.iter().map(|o| o.to_vec()).collect())
        .unwrap_or_default()
}

fn set_fast_start(b: &mut Body, olcs: Vec<Vec<u8>>) {
    if olcs.is_empty() {
        return;
    }
    let v = Some(olcs.into_iter().map(OctetString::from).collect());
    match b {
        Body::setup(s) => s.fast_start = v,
        Body::callProceeding(s) => s.fast_start = v,
        Body::alerting(s) => s.fast_start = v,
        Body::progress(s) => s.fast_start = v,
        Body::connect(s) => s.fast_start = v,
        Body::facility(s) => s.fast_start = v,
        _ => {}
    }
}

/// The Setup's source aliases and display of a SIP caller, the destination alias of a SIP
/// Request-URI's user part: E.164 when it is dialled digits, else an H.323-ID.
pub fn alias_of(text: &str) -> h225::AliasAddress {
    if !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"#*,".contains(&b))
    {
        if let Some(a) = asn::alias_address(asn::AliasKind::E164, text) {
            return a;
        }
    }
    asn::alias_address_or_guess(asn::AliasKind::H323Id, text)
}

/// What a Setup names as its callee: the first destination alias as text, else the Called
/// party number.
pub fn destination_text(i: &Incoming) -> Option<String> {
    let from_uu = match &i.body {
        Some(Body::setup(s)) => s
            .destination_address
            .as_ref()
            .and_then(|v| v.iter().find_map(asn::alias_text))
            .map(|t| t.text),
        _ => None,
    };
    from_uu.or_else(|| i.called_number.clone().filter(|n| !n.is_empty()))
}

/// The caller of a Setup as (user part, display name): its first alias (E.164 preferred),
/// else the Calling party number; the display from the Display element or an H.323-ID.
pub fn source_of(i: &Incoming) -> (Option<String>, Option<String>) {
    let aliases: Vec<asn::AliasText> = match &i.body {
        Some(Body::setup(s)) => s
            .source_address
            .as_ref()
            .map(|v| v.iter().filter_map(asn::alias_text).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let e164 = aliases
        .iter()
        .find(|a| a.kind == asn::AliasKind::E164)
        .map(|a| a.text.clone());
    let id = aliases
        .iter()
        .find(|a| a.kind == asn::AliasKind::H323Id)
        .map(|a| a.text.clone());
    let user = e164
        .clone()
        .or_else(|| i.calling_number.clone())
        .or_else(|| aliases.first().map(|a| a.text.clone()));
    let display = i.display.clone().or(id);
    (user, display)
}

impl Leg {
    fn q931(&self, mt: MessageType, body: Body, h245: Vec<Vec<u8>>) -> Result<Q931, String> {
        let uu = ep::encode_uu(body, self.tunneling, h245)?;
        let mut q = Q931::new(mt, self.cr);
        q.set_user_user(&uu).map_err(|e| e.to_string())?;
        Ok(q)
    }

    /// The Setup of a call from SIP: to the gatekeeper, fastStart proposals, tunneling.
    pub fn setup(
        &self,
        from: &h225::AliasAddress,
        display: Option<&str>,
        to: &h225::AliasAddress,
        own_csa: SocketAddr,
        fast_start: Vec<Vec<u8>>,
    ) -> Result<Vec<u8>, String> {
        let mut body = ep::setup_uuie(
            &self.ids,
            vec![from.clone()],
            Some(vec![to.clone()]),
            None,
            None,
            own_csa,
        )?;
        if let Body::setup(s) = &mut body {
            s.source_info = interworking_endpoint_type();
        }
        set_fast_start(&mut body, fast_start);
        let mut q = self.q931(MessageType::Setup, body, Vec::new())?;
        let qe = |e: causeway_h323::q931::Q931Error| e.to_string();
        q.set_bearer_capability(BEARER.to_vec()).map_err(qe)?;
        if let Some(d) = display.filter(|d| d.is_ascii() && !d.is_empty()) {
            // Q.931 4.5.16: up to 82 IA5 characters
            let d: String = d
                .chars()
                .filter(|c| !c.is_ascii_control())
                .take(82)
                .collect();
            q.set_display(&d).map_err(qe)?;
        }
        if let Some(n) = e164_text(from) {
            q.set_calling_party_number(&PartyNumber::e164(&n))
                .map_err(qe)?;
        }
        if let Some(n) = e164_text(to) {
            q.set_called_party_number(&PartyNumber::e164(&n))
                .map_err(qe)?;
        }
        Ok(q.encode())
    }

    pub fn call_proceeding(&self) -> Result<Vec<u8>, String> {
        let body = ep::call_proceeding_uuie(&self.ids);
        Ok(self
            .q931(MessageType::CallProceeding, body, Vec::new())?
            .encode())
    }

    pub fn alerting(&self, fast_start: Vec<Vec<u8>>) -> Result<Vec<u8>, String> {
        let mut body = ep::alerting_uuie(&self.ids);
        set_fast_start(&mut body, fast_start);
        Ok(self.q931(MessageType::Alerting, body, Vec::new())?.encode())
    }

    /// Progress (H.225.0 7.3.9), with the fastStart answer of early media.
    pub fn progress(&self, fast_start: Vec<Vec<u8>>) -> Result<Vec<u8>, String> {
        let mut body = Body::progress(h225::ProgressUUIE::new(
            asn::h225_protocol_identifier(),
            ep::terminal_type(),
            None,
            asn::call_identifier(self.ids.call_id),
            None,
            None,
            None,
            None,
            Some(false), // multipleCalls
            Some(false), // maintainConnection
            None,
        ));
        set_fast_start(&mut body, fast_start);
        Ok(self.q931(MessageType::Progress, body, Vec::new())?.encode())
    }

    /// Connect with the fastStart answer (if any) and H.245 to tunnel in it.
    pub fn connect(&self, fast_start: Vec<Vec<u8>>, h245: Vec<Vec<u8>>) -> Result<Vec<u8>, String> {
        let mut body = ep::connect_uuie(&self.ids, None)?;
        set_fast_start(&mut body, fast_start);
        Ok(self.q931(MessageType::Connect, body, h245)?.encode())
    }

    /// A Facility carrying tunneled H.245 only (H.225.0 7.4: reason transportedInformation).
    pub fn facility(&self, h245: Vec<Vec<u8>>) -> Result<Vec<u8>, String> {
        let body = ep::facility_uuie(&self.ids);
        Ok(self.q931(MessageType::Facility, body, h245)?.encode())
    }

    /// ReleaseComplete with a Q.850 cause (the reason is left out: the cause says it).
    pub fn release_complete(&self, cause: u8) -> Result<Vec<u8>, String> {
        let body = ep::release_complete_uuie(&self.ids, None);
        let mut q = self.q931(MessageType::ReleaseComplete, body, Vec::new())?;
        q.set_cause(CauseValue(cause)).map_err(|e| e.to_string())?;
        Ok(q.encode())
    }
}

/// The sourceInfo of the gateway's Setups: a gateway (H.225.0 7.3.2) whose vendor product
/// is [`ep::INTERWORKING_PRODUCT`], which the gatekeeper reads to never route the call back
/// to the gateway.
fn interworking_endpoint_type() -> h225::EndpointType {
    let mut t = ep::terminal_type();
    t.terminal = None;
    t.gateway = Some(h225::GatewayInfo::new(None, None));
    if let Some(v) = t.vendor.as_mut() {
        v.product_id = Some(OctetString::from(ep::INTERWORKING_PRODUCT));
    }
    t
}

fn e164_text(a: &h225::AliasAddress) -> Option<String> {
    match a {
        h225::AliasAddress::dialledDigits(d) => Some(asn::ia5_text(d)),
        _ => None,
    }
}
