//! The typed values of the SIP headers a proxy uses: methods, hosts, URIs, name-addrs, Vias,
//! parameters, and the error types of parsing.
//!
//! Only data shapes and their canonical serialisation live here; reading them from bytes is
//! `grammar`, and whole messages are `parse`.

use compact_str::CompactString;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Parse limits applied to every message.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 256,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    Other(CompactString),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }

    /// Methods are case-sensitive (RFC 3261 7.1): `invite` is an unknown method.
    pub fn from_token(s: &str) -> Method {
        match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.into()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Domain(CompactString),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => super::addr_text::write_ipv4(f, *a),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

impl Host {
    /// RFC 3261 19.1.4: hosts compare case-insensitively; IPs by value.
    pub fn equivalent(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

/// Ordered `;name[=value]` parameters; names compare case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(CompactString, Option<CompactString>)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.0 {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    /// As on the wire, escapes kept.
    pub user: Option<CompactString>,
    pub password: Option<CompactString>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// `?`-headers, as on the wire (without the `?`).
    pub headers: Option<CompactString>,
}

impl SipUri {
    pub fn transport(&self) -> Option<&str> {
        self.params.get("transport").flatten()
    }
    pub fn lr(&self) -> bool {
        self.params.has("lr")
    }
    pub fn maddr(&self) -> Option<&str> {
        self.params.get("maddr").flatten()
    }
    /// The user part with `%HH` escapes decoded (RFC 3261 19.1.4 compares unescaped).
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(unescape)
    }

    /// RFC 3261 19.1.4 URI comparison: scheme, user (unescaped, case-sensitive), password, host
    /// (case-insensitive), port; `user`, `ttl`, `method`, `maddr`, `transport` parameters must
    /// match when either side has them; other parameters must match when both have them.
    pub fn equivalent(&self, other: &SipUri) -> bool {
        if self.secure != other.secure
            || self.user_unescaped() != other.user_unescaped()
            || self.password.as_deref().map(unescape) != other.password.as_deref().map(unescape)
            || !self.host.equivalent(&other.host)
            || self.port != other.port
        {
            return false;
        }
        for special in ["user", "ttl", "method", "maddr", "transport"] {
            let a = self.params.get(special);
            let b = other.params.get(special);
            let eq = match (a, b) {
                (None, None) => true,
                (Some(x), Some(y)) => {
                    x.map(str::to_ascii_lowercase) == y.map(str::to_ascii_lowercase)
                }
                _ => false,
            };
            if !eq {
                return false;
            }
        }
        for (n, v) in self.params.iter() {
            if let Some(w) = other.params.get(n) {
                let eq = match (v, w) {
                    (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
                    (None, None) => true,
                    _ => false,
                };
                if !eq {
                    return false;
                }
            }
        }
        self.headers.as_deref().map(unescape) == other.headers.as_deref().map(unescape)
    }
}

/// `%HH` decoding; malformed escapes are kept literally.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    /// Any other scheme (`tel:`, `soap.beep:`, `isbn:`): kept opaque.
    Absolute {
        scheme: CompactString,
        rest: CompactString,
    },
}

impl Uri {
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Absolute { .. } => None,
        }
    }
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Absolute { scheme, .. } => scheme,
        }
    }
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        crate::message::grammar::parse_uri(s)
            .map_err(|e| ParseError::BadUri(format!("`{}`: {e}", truncate(s))))
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => write!(f, "{u}"),
            Uri::Absolute { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// As on the wire, quotes included.
    pub display: Option<CompactString>,
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `q`, …).
    pub params: Params,
}

impl NameAddr {
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{d} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// Upper-cased transport token: UDP, TCP, TLS, SCTP, WS, or anything else.
    pub transport: CompactString,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }
    pub fn received(&self) -> Option<&str> {
        self.params.get("received").flatten()
    }
    /// `Some(None)` for a bare `;rport` (RFC 3581 request), `Some(Some(p))` once filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.trim().parse().ok()))
    }
    pub fn sent_by(&self) -> (Host, Option<u16>) {
        (self.host.clone(), self.port)
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contacts {
    Star,
    List(Vec<NameAddr>),
}

/// A fault in a message that still parsed far enough to be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defect {
    /// 400 or 505.
    pub status: u16,
    /// The whole reason phrase, e.g. `Bad Request (malformed To header: unterminated quoted string)`.
    pub reason: String,
}

impl Defect {
    pub(crate) fn bad(what: impl fmt::Display) -> Defect {
        Defect {
            status: 400,
            reason: format!("Bad Request ({what})"),
        }
    }
}

/// A message that cannot be answered at all: it is dropped and counted.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("message of {0} bytes is over the size limit")]
    TooLarge(usize),
    #[error("no empty line ends the header section")]
    NoHeaderEnd,
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    #[error("header line {0} has no colon")]
    HeaderWithoutColon(usize),
    #[error("header line {0} has a bad field name")]
    BadHeaderName(usize),
    #[error("the start line is neither a request nor a status line")]
    BadStartLine,
    #[error("bad status code `{0}`")]
    BadStatusCode(String),
    #[error("message is not UTF-8 in its header section")]
    NotText,
    #[error("bad URI {0}")]
    BadUri(String),
}

pub(crate) fn truncate(s: &str) -> &str {
    let mut end = s.len().min(60);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
