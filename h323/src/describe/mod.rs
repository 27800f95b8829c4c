//! H.323 messages as an operator reads them in a call's message ladder: a one-line summary
//! (the Q.931 message type, the RAS message, the H.245 choice), the decoded PER as text, and
//! the identifiers that tie a message to its call (callIdentifier, RAS sequence number).
//!
//! Pure functions over bytes that already crossed the wire; they never fail (what does not
//! decode is described as such, with its hex). Must not touch call or registration state.
//!
//! The text is the ASN.1 values' `Debug` form, pretty-printed: every field name of the
//! recommendation is there, which is what a decoded capture shows, without a second printer to
//! keep in step with the generated types.

use crate::asn::{choice_path, guid_bytes, typed_alias_text};
use crate::endpoint::seq_of;
use crate::q931::ie::UU_PROTOCOL_X208;
use crate::q931::{MessageType, PartyNumber, Q931};
use causeway_h323_asn1::h323_messages::{
    AliasAddress, CallIdentifier, H323UUPDUH323MessageBody as Body, H323UserInformation, RasMessage,
};
use causeway_h323_asn1::multimedia_system_control::MultimediaSystemControlMessage;
use causeway_h323_asn1::rasn::aper;
use std::fmt::Write;

/// Most H.245 PDUs described from one payload or h245Control element.
const MAX_PDUS: usize = 16;
/// Longest text kept for one message; a decoded Setup with fastStart is a few KiB.
pub const MAX_TEXT: usize = 32 * 1024;

/// One message described.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Described {
    /// One line: `Setup`, `ARQ seq 7`, `H.245 request terminalCapabilitySet`.
    pub summary: String,
    /// The decoded message, several lines.
    pub text: String,
    /// The call's callIdentifier GUID (32 hex digits), when the message carries one.
    pub call: Option<String>,
    /// The RAS requestSeqNum (a confirm or reject names its request's).
    pub seq: Option<u16>,
    /// A RAS confirm or reject (answers the request with the same `seq` from its peer).
    pub answer: bool,
    /// A Q.931 message that ends a call (ReleaseComplete), with its cause when present.
    pub release: Option<Option<u8>>,
    /// A Q.931 Connect.
    pub connect: bool,
    /// Who calls whom, from a Setup or an ARQ: its aliases (`h323:alice`, `e164:2001`), else
    /// its party numbers.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A Q.931 payload of a call-signaling connection, with its H323-UserInformation and the
/// H.245 messages tunneled in it.
pub fn q931(payload: &[u8]) -> Described {
    q931_with(payload, true)
}

/// What ties a Q.931 payload to its call (`call`, `from`/`to`, `release`, `connect`) and its
/// message type as `summary`, without `text`: the pretty-printed `Debug` form is most of the
/// cost of describing a message, and most kept messages are never read (the call history
/// describes them in full when a ladder is asked for).
pub fn q931_ids(payload: &[u8]) -> Described {
    q931_with(payload, false)
}

fn q931_with(payload: &[u8], detail: bool) -> Described {
    let msg = match Q931::parse(payload) {
        Ok(m) => m,
        Err(e) => return undecodable("Q.931", &e.to_string(), payload),
    };
    let kind = msg.message_type;
    let mut d = Described {
        summary: type_name(kind),
        connect: kind == MessageType::Connect,
        ..Described::default()
    };
    let cause = msg.cause().ok().flatten().map(|c| c.value.0);
    if kind == MessageType::ReleaseComplete {
        d.release = Some(cause);
    }
    if !detail {
        if let Some(Ok(uu)) = user_information(&msg) {
            let body = &uu.h323_uu_pdu.h323_message_body;
            d.call = call_identifier(body).map(guid_hex);
            if let Body::setup(s) = body {
                let mut scratch = String::new();
                d.from = aliases("sourceAddress", s.source_address.as_deref(), &mut scratch)
                    .or_else(|| number(msg.calling_party_number().ok().flatten()));
                d.to = aliases(
                    "destinationAddress",
                    s.destination_address.as_deref(),
                    &mut scratch,
                )
                .or_else(|| number(msg.called_party_number().ok().flatten()));
            }
        }
        return d;
    }
    let _ = writeln!(
        d.text,
        "Q.931 {} call reference {}{}",
        d.summary,
        msg.call_reference.value(),
        if msg.call_reference.flag() {
            " (to originator)"
        } else {
            ""
        }
    );
    if let Some(c) = cause {
        let _ = write!(d.summary, " cause {c}");
        let _ = writeln!(d.text, "Cause: {c}");
    }
    readable_ies(&msg, &mut d.text);
    for ie in msg.ies() {
        let _ = writeln!(d.text, "IE 0x{:02x}: {}", ie.id(), hex(ie.content(), 48));
    }
    match user_information(&msg) {
        Some(Ok(uu)) => {
            let body = &uu.h323_uu_pdu.h323_message_body;
            d.call = call_identifier(body).map(guid_hex);
            if let Body::setup(s) = body {
                d.from = aliases("sourceAddress", s.source_address.as_deref(), &mut d.text);
                d.to = aliases(
                    "destinationAddress",
                    s.destination_address.as_deref(),
                    &mut d.text,
                );
                d.from = d
                    .from
                    .take()
                    .or(number(msg.calling_party_number().ok().flatten()));
                d.to =
                    d.to.take()
                        .or(number(msg.called_party_number().ok().flatten()));
            }
            let tunneled = uu.h323_uu_pdu.h245_control.clone().unwrap_or_default();
            let _ = writeln!(d.text, "H323-UserInformation {uu:#?}");
            for (i, pdu) in tunneled.iter().enumerate().take(MAX_PDUS) {
                let h = h245(pdu);
                let _ = write!(d.summary, " [{}]", h.summary);
                let _ = writeln!(d.text, "h245Control[{i}]: {}", h.text);
            }
        }
        Some(Err(e)) => {
            let _ = write!(d.summary, " (bad H323-UserInformation)");
            let _ = writeln!(d.text, "H323-UserInformation does not decode: {e}");
        }
        None => {}
    }
    cap(&mut d.text);
    d
}

/// One H.245 payload (a separate H.245 connection's TPKT payload, or an h245Control element):
/// every PDU in it.
pub fn h245(payload: &[u8]) -> Described {
    let mut d = Described::default();
    let mut rest = payload;
    let mut names = Vec::new();
    for _ in 0..MAX_PDUS {
        if rest.is_empty() {
            break;
        }
        match aper::decode_with_remainder::<MultimediaSystemControlMessage>(rest) {
            Ok((m, after)) if after.len() < rest.len() => {
                let text = format!("{m:#?}");
                names.push(choice_path(&text, 2));
                let _ = writeln!(d.text, "{text}");
                rest = after;
            }
            Ok(_) => break,
            Err(e) if names.is_empty() => return undecodable("H.245", &e.to_string(), payload),
            Err(_) => {
                let _ = writeln!(d.text, "trailing {} bytes: {}", rest.len(), hex(rest, 64));
                break;
            }
        }
    }
    d.summary = format!("H.245 {}", names.join(", "));
    cap(&mut d.text);
    d
}

fn number(n: Option<PartyNumber>) -> Option<String> {
    n.map(|n| n.digits)
}

/// One RAS datagram.
pub fn ras(bytes: &[u8]) -> Described {
    ras_with(bytes, true)
}

/// A RAS datagram's `seq`, `call`, `answer`, `from`/`to` and summary, without `text` (see
/// [`q931_ids`]).
pub fn ras_ids_of(bytes: &[u8]) -> Described {
    ras_with(bytes, false)
}

fn ras_with(bytes: &[u8], detail: bool) -> Described {
    let m = match aper::decode::<RasMessage>(bytes) {
        Ok(m) => m,
        Err(e) => return undecodable("RAS", &e.to_string(), bytes),
    };
    let (seq, call, answer) = ras_ids(&m);
    let mut d = Described {
        summary: crate::ras::name(&m).to_string(),
        call: call.map(guid_hex),
        seq: Some(seq),
        answer,
        ..Described::default()
    };
    if let RasMessage::admissionRequest(r) = &m {
        d.from = aliases("srcInfo", Some(&r.src_info), &mut d.text);
        d.to = aliases(
            "destinationInfo",
            r.destination_info.as_deref(),
            &mut d.text,
        );
    }
    if detail {
        let _ = write!(d.text, "{m:#?}");
    } else {
        d.text.clear();
    }
    let _ = write!(d.summary, " seq {seq}");
    cap(&mut d.text);
    d
}

/// The request sequence number, the callIdentifier and whether the message answers a request,
/// for the messages of a call's admission and disengage (the rest only by their number).
fn ras_ids(m: &RasMessage) -> (u16, Option<&CallIdentifier>, bool) {
    use RasMessage as R;
    match m {
        R::admissionRequest(r) => (r.request_seq_num.0, r.call_identifier.as_ref(), false),
        R::admissionConfirm(r) => (r.request_seq_num.0, None, true),
        R::admissionReject(r) => (r.request_seq_num.0, None, true),
        R::disengageRequest(r) => (r.request_seq_num.0, r.call_identifier.as_ref(), false),
        R::disengageConfirm(r) => (r.request_seq_num.0, None, true),
        R::disengageReject(r) => (r.request_seq_num.0, None, true),
        R::bandwidthRequest(r) => (r.request_seq_num.0, r.call_identifier.as_ref(), false),
        R::bandwidthConfirm(r) => (r.request_seq_num.0, None, true),
        R::bandwidthReject(r) => (r.request_seq_num.0, None, true),
        R::locationRequest(r) => (r.request_seq_num.0, r.call_identifier.as_ref(), false),
        R::locationConfirm(r) => (r.request_seq_num.0, None, true),
        R::locationReject(r) => (r.request_seq_num.0, None, true),
        other => (seq_of(other).unwrap_or(0), None, false),
    }
}

/// The elements an operator reads first, as text: display, numbers.
fn readable_ies(msg: &Q931, text: &mut String) {
    if let Ok(Some(d)) = msg.display() {
        let _ = writeln!(text, "Display: {d}");
    }
    if let Ok(Some(n)) = msg.calling_party_number() {
        let _ = writeln!(text, "Calling party number: {}", n.digits);
    }
    if let Ok(Some(n)) = msg.called_party_number() {
        let _ = writeln!(text, "Called party number: {}", n.digits);
    }
}

/// An alias list as `type:text` (the BMP strings of the `Debug` form are code points), written
/// as a line of `text` and returned; `None` when there is none.
fn aliases(name: &str, list: Option<&[AliasAddress]>, text: &mut String) -> Option<String> {
    let all: Vec<String> = list?.iter().map(typed_alias_text).collect();
    if all.is_empty() {
        return None;
    }
    let all = all.join(", ");
    let _ = writeln!(text, "{name}: {all}");
    Some(all)
}

fn user_information(msg: &Q931) -> Option<Result<H323UserInformation, String>> {
    let uu = match msg.user_user() {
        Ok(Some(uu)) if uu.protocol == UU_PROTOCOL_X208 => uu,
        Ok(_) => return None,
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(aper::decode::<H323UserInformation>(&uu.data).map_err(|e| e.to_string()))
}

fn call_identifier(body: &Body) -> Option<&CallIdentifier> {
    match body {
        Body::setup(b) => b.call_identifier.as_ref(),
        Body::callProceeding(b) => b.call_identifier.as_ref(),
        Body::connect(b) => b.call_identifier.as_ref(),
        Body::alerting(b) => b.call_identifier.as_ref(),
        Body::information(b) => b.call_identifier.as_ref(),
        Body::releaseComplete(b) => b.call_identifier.as_ref(),
        Body::facility(b) => b.call_identifier.as_ref(),
        Body::progress(b) => Some(&b.call_identifier),
        Body::status(b) => Some(&b.call_identifier),
        Body::statusInquiry(b) => Some(&b.call_identifier),
        Body::setupAcknowledge(b) => Some(&b.call_identifier),
        Body::notify(b) => Some(&b.call_identifier),
        _ => None,
    }
}

fn guid_hex(c: &CallIdentifier) -> String {
    guid_bytes(&c.guid)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The Q.931 message type as H.225.0 names it.
fn type_name(t: MessageType) -> String {
    match t {
        MessageType::Other(o) => format!("Q.931 message 0x{o:02x}"),
        known => format!("{known:?}"),
    }
}

fn undecodable(what: &str, error: &str, bytes: &[u8]) -> Described {
    Described {
        summary: format!("{what} (undecodable)"),
        text: format!(
            "{what} does not decode: {error}\n{} bytes: {}",
            bytes.len(),
            hex(bytes, 256)
        ),
        ..Described::default()
    }
}

/// Hex of the first `max` octets, space-separated, `…` when cut.
fn hex(b: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(b.len().min(max) * 3 + 4);
    for (i, x) in b.iter().take(max).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x:02x}");
    }
    if b.len() > max {
        s.push_str(" …");
    }
    s
}

/// Cuts a text at `MAX_TEXT` on a character boundary.
fn cap(text: &mut String) {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n… (cut)");
    }
}

#[cfg(test)]
mod tests;
