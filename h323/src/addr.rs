//! Conversions between the H.225.0 ASN.1 address types and the values the rest of causeway
//! uses: `TransportAddress` <-> `SocketAddr`, `AliasAddress` <-> alias text, GUIDs.
//!
//! Pure functions over values; no protocol state. Shared by the gatekeeper (`ras`) and the
//! call-signaling relay (`call`).

use causeway_h323_asn1::h323_messages::{
    AliasAddress, TransportAddress, TransportAddressIp6Address, TransportAddressIpAddress,
};
use causeway_h323_asn1::rasn::types::{BmpString, Ia5String, OctetString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The socket address of an IPv4 or IPv6 transport address; `None` for the other kinds
/// (IPX, NetBIOS, NSAP, source routes, non-standard), which causeway cannot reach.
pub fn to_socket(addr: &TransportAddress) -> Option<SocketAddr> {
    match addr {
        TransportAddress::ipAddress(a) => {
            let ip: [u8; 4] = a.ip.as_ref().try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), a.port))
        }
        TransportAddress::ip6Address(a) => {
            let ip: [u8; 16] = a.ip.as_ref().try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), a.port))
        }
        _ => None,
    }
}

/// The transport address of a socket address (IPv4-mapped IPv6 addresses are written as IPv4,
/// which is what an IPv4-only endpoint can use).
pub fn from_socket(addr: SocketAddr) -> TransportAddress {
    let ip = match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => TransportAddress::ipAddress(TransportAddressIpAddress::new(
            OctetString::from(v4.octets().to_vec()),
            addr.port(),
        )),
        IpAddr::V6(v6) => TransportAddress::ip6Address(TransportAddressIp6Address::new(
            OctetString::from(v6.octets().to_vec()),
            addr.port(),
        )),
    }
}

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
        AliasAddress::dialledDigits(d) => (AliasKind::E164, ia5(d)),
        AliasAddress::h323_ID(b) => (AliasKind::H323Id, bmp(b)?),
        AliasAddress::url_ID(u) => {
            let u = ia5(u);
            let bare = strip_scheme(&u).to_string();
            (AliasKind::Url, bare)
        }
        AliasAddress::email_ID(e) => (AliasKind::Email, ia5(e)),
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

fn ia5(s: &Ia5String) -> String {
    s.iter().map(|&b| char::from(b)).collect()
}

fn bmp(s: &BmpString) -> Option<String> {
    String::from_utf16(s).ok()
}

/// The alias of a text and kind; `None` when the text does not fit the kind's ASN.1 type
/// (E.164 digits `0-9#*,`, 1..=128; H.323-ID 1..=256 BMP characters; URL/email IA5 1..=512).
pub fn alias_address(kind: AliasKind, text: &str) -> Option<AliasAddress> {
    let ascii = text.is_ascii();
    match kind {
        AliasKind::E164 => {
            let ok = (1..=128).contains(&text.len())
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"#*,".contains(&b));
            ok.then(|| Ia5String::try_from(text).ok())
                .flatten()
                .map(AliasAddress::dialledDigits)
        }
        AliasKind::H323Id => {
            let units: Vec<u16> = text.encode_utf16().collect();
            if units.is_empty() || units.len() > 256 {
                return None;
            }
            let mut b = BmpString::default();
            b.extend(units);
            Some(AliasAddress::h323_ID(b))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_round_trip() {
        for s in ["192.0.2.1:1720", "[2001:db8::1]:1719"] {
            let a: SocketAddr = s.parse().unwrap();
            assert_eq!(to_socket(&from_socket(a)), Some(a));
        }
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:15000".parse().unwrap();
        assert_eq!(
            to_socket(&from_socket(mapped)),
            Some("192.0.2.7:15000".parse().unwrap())
        );
    }

    #[test]
    fn aliases_round_trip_through_text() {
        for (kind, text) in [
            (AliasKind::E164, "1001"),
            (AliasKind::H323Id, "alice"),
            (AliasKind::H323Id, "Zoë"),
            (AliasKind::Url, "bob@example.com"),
            (AliasKind::Email, "carol@example.com"),
        ] {
            let a = alias_address(kind, text).unwrap();
            assert_eq!(
                alias_text(&a),
                Some(AliasText {
                    kind,
                    text: text.to_string()
                })
            );
        }
        assert!(alias_address(AliasKind::E164, "12a").is_none());
        assert!(alias_address(AliasKind::E164, "").is_none());
        let url = alias_address(AliasKind::Url, "h323:Dave@example.com").unwrap();
        assert_eq!(alias_text(&url).unwrap().text, "Dave@example.com");
    }
}
