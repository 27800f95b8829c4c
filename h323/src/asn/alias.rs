//! Aliases (`AliasAddress`) and their two text forms.
//!
//! - The routing form, [`AliasText`]: a kind and the text the alias table and the zones router
//!   match on (a URL's scheme stripped, BMP text strict); `Option` both ways, and an alias
//!   that does not fit its kind's ASN.1 type is not made ([`alias_address`]). Used by the
//!   gatekeeper and the call-signaling relay; its `Display` (`h323-id:alice`) is what events
//!   and the status page show.
//! - The typed form, `kind:value` (`h323:alice`, `e164:1001`, `url:..`, `email:..`): how an
//!   endpoint is told its aliases on a command line and how it prints them, lossless both ways
//!   ([`typed_alias`], [`typed_alias_text`]). Parsing returns a [`TypedAliasError`] naming the
//!   fault; sizes are not checked here (the PER encoder refuses an alias that is too long or
//!   empty when the message is encoded), as the endpoint has always done.
//!
//! Must not hold routing decisions (which kind a neighbor is asked for is the gatekeeper's;
//! [`alias_address_or_guess`] only spells its fallback).

use super::{bmp, bmp_text, bmp_text_lossy, ia5_text};
use causeway_h323_asn1::h323_messages::AliasAddress;
use causeway_h323_asn1::rasn::types::Ia5String;

/// The kinds of alias causeway registers and routes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AliasKind {
    /// `dialedDigits` (E.164), also `partyNumber` with an E.164 number.
    E164,
    /// `h323-ID` (BMP text).
    H323Id,
    /// `url-ID` (scheme stripped for matching: `h323:alice@example.com` -> `alice@example.com`).
    Url,
    /// `email-ID`.
    Email,
}

impl AliasKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AliasKind::E164 => "e164",
            AliasKind::H323Id => "h323-id",
            AliasKind::Url => "url",
            AliasKind::Email => "email",
        }
    }
}

/// An alias in the form the alias table and the zones router use: its kind and its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasText {
    pub kind: AliasKind,
    pub text: String,
}

impl std::fmt::Display for AliasText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.text)
    }
}

/// The text of an alias; `None` for kinds causeway does not route on (transportID, mobileUIM,
/// ISUP numbers, private party numbers) or BMP text that is not valid UTF-16.
pub fn alias_text(alias: &AliasAddress) -> Option<AliasText> {
    let (kind, text) = match alias {
        AliasAddress::dialledDigits(d) => (AliasKind::E164, ia5_text(d)),
        AliasAddress::h323_ID(b) => (AliasKind::H323Id, bmp_text(b)?),
        AliasAddress::url_ID(u) => {
            let u = ia5_text(u);
            let bare = strip_scheme(&u).to_string();
            (AliasKind::Url, bare)
        }
        AliasAddress::email_ID(e) => (AliasKind::Email, ia5_text(e)),
        _ => return None,
    };
    if text.is_empty() {
        return None;
    }
    Some(AliasText { kind, text })
}

/// `h323:`, `sip:`, `sips:`, `tel:` and `mailto:` prefixes are not part of the routed alias.
fn strip_scheme(url: &str) -> &str {
    for scheme in ["h323:", "sips:", "sip:", "tel:", "mailto:"] {
        if url.len() >= scheme.len() && url[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return &url[scheme.len()..];
        }
    }
    url
}

/// E.164 dialedDigits: `0-9 # * ,`.
fn is_e164_digits(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || b"#*,".contains(&b))
}

/// The alias of a text and kind; `None` when the text does not fit the kind's ASN.1 type
/// (E.164 digits `0-9#*,`, 1..=128; H.323-ID 1..=256 BMP characters; URL/email IA5 1..=512).
pub fn alias_address(kind: AliasKind, text: &str) -> Option<AliasAddress> {
    let ascii = text.is_ascii();
    match kind {
        AliasKind::E164 => {
            let ok = (1..=128).contains(&text.len()) && is_e164_digits(text);
            ok.then(|| Ia5String::try_from(text).ok())
                .flatten()
                .map(AliasAddress::dialledDigits)
        }
        AliasKind::H323Id => {
            let units = text.encode_utf16().count();
            if units == 0 || units > 256 {
                return None;
            }
            Some(AliasAddress::h323_ID(bmp(text)))
        }
        AliasKind::Url if ascii && (1..=512).contains(&text.len()) => {
            Ia5String::try_from(text).ok().map(AliasAddress::url_ID)
        }
        AliasKind::Email if ascii && (1..=512).contains(&text.len()) => {
            Ia5String::try_from(text).ok().map(AliasAddress::email_ID)
        }
        _ => None,
    }
}

/// An alias for a text that may no longer fit the kind it was dialled as (a transform or a
/// search rule rewrote it): `hint` when the text still fits it, else E.164 for digits, URL
/// for `user@domain`, H.323-ID otherwise; an H.323-ID `invalid` for a text no kind can carry.
pub fn alias_address_or_guess(hint: AliasKind, text: &str) -> AliasAddress {
    if let Some(a) = alias_address(hint, text) {
        return a;
    }
    let kind = if text.bytes().all(|b| b.is_ascii_digit()) {
        AliasKind::E164
    } else if text.contains('@') {
        AliasKind::Url
    } else {
        AliasKind::H323Id
    };
    alias_address(kind, text).unwrap_or_else(|| AliasAddress::h323_ID(bmp("invalid")))
}

/// Why a typed alias (`kind:value`) was refused; the text names the alias as given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TypedAliasError {
    #[error("alias `{0}`: expected h323:NAME or e164:DIGITS")]
    NoKind(String),
    #[error("alias `{0}`: E.164 digits are 0-9 # * ,")]
    BadDigits(String),
    #[error("alias `{alias}`: unknown kind `{kind}`")]
    UnknownKind { alias: String, kind: String },
    #[error("alias `{alias}`: {error}")]
    NotIa5 { alias: String, error: String },
}

/// An alias in the typed form: `h323:alice`, `e164:1001`, `url:..`, `email:..`.
pub fn typed_alias(text: &str) -> Result<AliasAddress, TypedAliasError> {
    let (kind, value) = text
        .split_once(':')
        .ok_or_else(|| TypedAliasError::NoKind(text.to_string()))?;
    let ia5 = |v: &str| {
        Ia5String::try_from(v).map_err(|e| TypedAliasError::NotIa5 {
            alias: text.to_string(),
            error: e.to_string(),
        })
    };
    Ok(match kind {
        "h323" => AliasAddress::h323_ID(bmp(value)),
        "e164" => {
            if value.is_empty() || !is_e164_digits(value) {
                return Err(TypedAliasError::BadDigits(text.to_string()));
            }
            AliasAddress::dialledDigits(ia5(value)?)
        }
        "url" => AliasAddress::url_ID(ia5(value)?),
        "email" => AliasAddress::email_ID(ia5(value)?),
        _ => {
            return Err(TypedAliasError::UnknownKind {
                alias: text.to_string(),
                kind: kind.to_string(),
            })
        }
    })
}

/// The typed form of an alias (`h323:alice`); kinds without one are shown as their value.
pub fn typed_alias_text(a: &AliasAddress) -> String {
    match a {
        AliasAddress::h323_ID(s) => format!("h323:{}", bmp_text_lossy(s)),
        AliasAddress::dialledDigits(s) => format!("e164:{}", ia5_text(s)),
        AliasAddress::url_ID(s) => format!("url:{}", ia5_text(s)),
        AliasAddress::email_ID(s) => format!("email:{}", ia5_text(s)),
        other => format!("{other:?}"),
    }
}
