//! Every conversion between the ASN.1 values of `causeway-h323-asn1` and causeway's own values:
//! transport addresses (H.225.0 and H.245) <-> `SocketAddr`, aliases <-> text, `BMPString` <->
//! `str`, GUIDs and call identifiers <-> bytes, protocol identifiers, gatekeeper and endpoint
//! identifiers, and the names of CHOICE alternatives.
//!
//! Pure functions over values. Must not hold protocol state, policy (which address family an
//! endpoint may send, which alias kind a neighbor is asked for) or message building (the
//! gatekeeper's replies are built in [`crate::ras::build`], an endpoint's messages in
//! [`crate::endpoint`]).
//! Every caller in the crate, the test endpoint and the tests uses these; a second spelling of
//! one of them anywhere else is a bug.
//!
//! Layout: [`transport`] (addresses), [`alias`] (aliases and their two text forms); the
//! small scalar conversions are here.
//!
//! Choices (where the helpers this module replaced disagreed, what each caller relies on):
//! - `BMPString` is built from the UTF-16 code units of the text (`encode_utf16`), in one
//!   infallible [`bmp`]. Beware rasn's `BmpString::try_from(&str)`: it reads the UTF-8 bytes
//!   as UCS-2 pairs. The endpoint's former builder went through big-endian octets and so
//!   refused U+FFFE and U+FFFF while building; such a character is now refused by the PER
//!   encoder (the BMPString alphabet stops at U+FFFD) when the message is encoded.
//! - Reading BMP text: strict ([`bmp_text`], `None` for text that is not valid UTF-16) where
//!   the text is matched (gatekeeper and endpoint identifiers, aliases routed on); lossy
//!   ([`bmp_text_lossy`]) where it is only shown (the test endpoint's JSON events).
//! - Transport addresses: IPv4 and IPv6 both ways; an IPv4-mapped IPv6 address is written as
//!   IPv4 (what an IPv4-only endpoint can use); other kinds (IPX, NSAP, ...) read as `None`.
//!   The endpoint builders keep their own rule on top: they refuse to *send* an IPv6 address
//!   (`Err`, see [`crate::endpoint`]); reading, they take both families.
//! - Aliases have two text forms, see [`alias`]: the routing form ([`AliasText`], strict,
//!   `Option`) for the gatekeeper, the alias table and the router, and the typed form
//!   (`h323:alice`, `e164:1001`; `Result` with a message for a command line) for endpoints.
//! - A GUID is its 16 octets; a v1 endpoint's conferenceID stands in for a missing
//!   callIdentifier where the gatekeeper needs a call key (that choice is `ras`'s).

pub mod alias;
pub mod transport;

#[cfg(test)]
mod tests;

pub use alias::{
    alias_address, alias_address_or_guess, alias_text, typed_alias, typed_alias_text, AliasKind,
    AliasText, TypedAliasError,
};
pub use transport::{h245_socket_addr, h245_transport_address, socket_addr, transport_address};

use causeway_h323_asn1::h323_messages::{
    CallIdentifier, EndpointIdentifier, GatekeeperIdentifier, GloballyUniqueID, ProtocolIdentifier,
};
use causeway_h323_asn1::rasn::types::{BmpString, Ia5String, ObjectIdentifier};
use std::borrow::Cow;

/// H.225.0 version 7 (12/2009), `{itu-t(0) recommendation(0) h(8) 2250 0 7}`: the module the
/// types were generated from, and what causeway's own messages say.
const H225_PROTOCOL_ID: &[u32] = &[0, 0, 8, 2250, 0, 7];
/// H.245 version 15.
const H245_PROTOCOL_ID: &[u32] = &[0, 0, 8, 245, 0, 15];

/// The protocolIdentifier of H.225.0 messages causeway builds (RAS, UUIEs).
pub fn h225_protocol_identifier() -> ProtocolIdentifier {
    ProtocolIdentifier(ObjectIdentifier::new_unchecked(Cow::Borrowed(
        H225_PROTOCOL_ID,
    )))
}

/// The protocolIdentifier of H.245 messages causeway builds (TerminalCapabilitySet).
pub fn h245_protocol_identifier() -> ObjectIdentifier {
    ObjectIdentifier::new_unchecked(Cow::Borrowed(H245_PROTOCOL_ID))
}

/// A `BMPString` of a text, from its UTF-16 code units (see the module doc).
pub fn bmp(text: &str) -> BmpString {
    let mut b = BmpString::default();
    b.extend(text.encode_utf16());
    b
}

/// The text of a `BMPString`; `None` when it is not valid UTF-16 (an unpaired surrogate).
pub fn bmp_text(s: &BmpString) -> Option<String> {
    String::from_utf16(s).ok()
}

/// The text of a `BMPString` for display: invalid UTF-16 becomes U+FFFD.
pub fn bmp_text_lossy(s: &BmpString) -> String {
    String::from_utf16_lossy(s)
}

/// The text of an `IA5String` (7-bit: every octet is its character).
pub fn ia5_text(s: &Ia5String) -> String {
    s.iter().map(|&b| char::from(b)).collect()
}

pub fn gatekeeper_id(text: &str) -> GatekeeperIdentifier {
    GatekeeperIdentifier(bmp(text))
}

pub fn endpoint_id(text: &str) -> EndpointIdentifier {
    EndpointIdentifier(bmp(text))
}

pub fn guid(bytes: [u8; 16]) -> GloballyUniqueID {
    GloballyUniqueID(bytes.into())
}

pub fn guid_bytes(g: &GloballyUniqueID) -> [u8; 16] {
    *g.0
}

/// A callIdentifier (H.225.0 v2+) of a GUID's bytes.
pub fn call_identifier(bytes: [u8; 16]) -> CallIdentifier {
    CallIdentifier::new(guid(bytes))
}

/// The name of a CHOICE alternative, as the ASN.1 module spells it (reject reasons and
/// unexpected messages are printed this way).
pub fn choice_name<T: std::fmt::Debug>(v: &T) -> String {
    choice_path(&format!("{v:?}"), 1)
}

/// The names of the nested CHOICE alternatives at the head of a value's `Debug` text, at most
/// `depth` of them: `request(terminalCapabilitySet(…))` gives `request terminalCapabilitySet`.
pub fn choice_path(debug: &str, depth: usize) -> String {
    let mut names = Vec::new();
    for piece in debug.split('(').take(depth) {
        let name = piece
            .trim_start()
            .split(|c: char| c.is_whitespace() || matches!(c, '{' | ',' | ')'))
            .next()
            .unwrap_or("");
        if name.is_empty() {
            break;
        }
        names.push(name);
    }
    names.join(" ")
}
