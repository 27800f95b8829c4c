//! The RFC 3261 section 25 grammar pieces a proxy needs (with RFC 5118 IPv6 references): URIs,
//! name-addr / addr-spec, Via, parameters, quoted strings, CSeq and numbers.
//!
//! Hand-written recursive descent over an unfolded `&str`, one `Cur`sor: the grammar is small and
//! LWS-laden (RFC 4475 wsinv.dat puts whitespace around every separator), and a plain cursor keeps
//! each rule a few lines with an error message that names what was wrong. Errors are strings that
//! become the reason phrase of a 400; nothing here panics on any input.

use super::types::{Host, Method, NameAddr, Params, SipUri, Uri, Via};
use compact_str::CompactString;
use slot::{push_param, put, put_some};
use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

pub type Res<T> = Result<T, String>;

/// RFC 3261 25.1 `token` characters, as a table: this test runs on every byte of every header.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

#[inline]
pub fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// First `c` in `b` (memchr's argument order). A plain loop: the values searched here are a few dozen bytes, where
/// memchr's dispatch and setup cost more than the scan (perf: 18 % of a parse was in memchr).
#[inline]
pub fn find(c: u8, b: &[u8]) -> Option<usize> {
    b.iter().position(|&x| x == c)
}

/// Replaces each line fold (CRLF followed by SP/HT) with a space, so the rules below see one
/// line; borrows when there is nothing to unfold. The rules below take unfolded text: the
/// caller unfolds (`parse` knows which fields hold a line feed, so most never get here).
pub fn unfold(v: &str) -> Cow<'_, str> {
    // a whole value: memchr's vector scan pays here
    if memchr::memchr(b'\n', v.as_bytes()).is_none() {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find("\r\n") {
        out.push_str(&rest[..i]);
        out.push(' ');
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

pub struct Cur<'a> {
    pub s: &'a str,
    pub i: usize,
}

impl<'a> Cur<'a> {
    pub fn new(s: &'a str) -> Self {
        Cur { s, i: 0 }
    }
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }
    pub fn ws(&mut self) {
        while matches!(self.bytes().get(self.i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }
    pub fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }
    pub fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    /// Skips whitespace, then `c` if it is next.
    pub fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub fn token(&mut self) -> Option<&'a str> {
        self.ws();
        let start = self.i;
        while self.peek().is_some_and(is_token) {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }
    /// A quoted string, returned with its quotes; backslash escapes are kept as written.
    pub fn quoted(&mut self) -> Res<&'a str> {
        self.ws();
        let start = self.i;
        if self.peek() != Some(b'"') {
            return Err("expected a quoted string".into());
        }
        self.i += 1;
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".into()),
                Some(b'\\') => self.i += 2,
                Some(b'"') => {
                    self.i += 1;
                    return Ok(&self.s[start..self.i]);
                }
                Some(_) => self.i += 1,
            }
        }
    }
    fn take_until(&mut self, stop: impl Fn(u8) -> bool) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(|b| !stop(b)) {
            self.i += 1;
        }
        &self.s[start..self.i.min(self.s.len())]
    }
}

// ------------------------------------------------------------------ URIs

/// Empty typed values that the `_into` readers below fill in place. Why in place: a `NameAddr`
/// is 176 bytes, and building it bottom-up moved it through every `Result` on the way (a SIP
/// URI into a `Uri`, into a `NameAddr`, into its slot), each move reading back what was just
/// written: perf put about a fifth of a parse into those moves and their store-forwarding stalls.
pub fn blank_sip_uri() -> SipUri {
    SipUri {
        secure: false,
        user: None,
        password: None,
        host: Host::V4(Ipv4Addr::UNSPECIFIED),
        port: None,
        params: Params::default(),
        headers: None,
    }
}

pub fn blank_name_addr() -> NameAddr {
    NameAddr {
        display: None,
        uri: Uri::Sip(blank_sip_uri()),
        params: Params::default(),
    }
}

fn blank_via() -> Via {
    Via {
        transport: CompactString::const_new(""),
        host: Host::V4(Ipv4Addr::UNSPECIFIED),
        port: None,
        params: Params::default(),
    }
}

/// A URI as it appears in a Request-URI or inside `<>`: SIP/SIPS parsed, any other scheme opaque.
pub fn parse_uri(s: &str) -> Res<Uri> {
    let mut u = Uri::Sip(blank_sip_uri());
    parse_uri_into(s, &mut u)?;
    Ok(u)
}

/// `parse_uri` into `out`, which must be a blank from `blank_sip_uri` (every caller passes one:
/// the parts a URI does not have are not cleared). On an error `out` is left part-filled: the
/// caller discards it.
pub fn parse_uri_into(s: &str, out: &mut Uri) -> Res<()> {
    if s.is_empty() {
        return Err("empty URI".into());
    }
    let m = Marks::scan(s.as_bytes()).ok_or("whitespace inside the URI")?;
    let Some(colon) = m.colon else {
        return Err("URI has no scheme".into());
    };
    let scheme = &s[..colon];
    let rest = &s[colon + 1..];
    let first_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic());
    if !first_ok
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err(format!("bad URI scheme `{scheme}`"));
    }
    let sip = scheme.eq_ignore_ascii_case("sip");
    if sip || scheme.eq_ignore_ascii_case("sips") {
        if !matches!(out, Uri::Sip(_)) {
            *out = Uri::Sip(blank_sip_uri());
        }
        let Uri::Sip(u) = out else {
            return Err("URI slot is not a SIP URI".into());
        };
        u.secure = !sip;
        parse_sip_uri(rest, m.after(colon + 1), u)
    } else {
        if rest.is_empty() || rest.bytes().any(|b| matches!(b, b'<' | b'>' | b'"')) {
            return Err(format!("bad `{scheme}:` URI"));
        }
        *out = Uri::Absolute {
            scheme: scheme.into(),
            rest: rest.into(),
        };
        Ok(())
    }
}

/// The separators of a URI, found in one scan (each its own pass was a quarter of a parse):
/// the first `:` (ends the scheme), the last `@` (ends the userinfo: params and headers escape
/// theirs), and after that `@` the first `?` (starts the headers) and the first `;` before
/// it (starts the parameters).
#[derive(Clone, Copy)]
struct Marks {
    colon: Option<usize>,
    at: Option<usize>,
    query: Option<usize>,
    semi: Option<usize>,
}

impl Marks {
    /// `None` when `b` holds whitespace.
    fn scan(b: &[u8]) -> Option<Marks> {
        let mut m = Marks {
            colon: None,
            at: None,
            query: None,
            semi: None,
        };
        for (i, &x) in b.iter().enumerate() {
            match x {
                b' ' | b'\t' | b'\r' | b'\n' => return None,
                b':' if m.colon.is_none() => m.colon = Some(i),
                b'@' => {
                    m.at = Some(i);
                    m.query = None;
                    m.semi = None;
                }
                b'?' if m.query.is_none() => m.query = Some(i),
                b';' if m.query.is_none() && m.semi.is_none() => m.semi = Some(i),
                _ => {}
            }
        }
        Some(m)
    }

    /// The marks past `from`, relative to it (the colon is no longer needed).
    fn after(self, from: usize) -> Marks {
        let rel = |p: Option<usize>| p.and_then(|p| p.checked_sub(from));
        Marks {
            colon: None,
            at: rel(self.at),
            query: rel(self.query),
            semi: rel(self.semi),
        }
    }
}

/// The part of a SIP or SIPS URI after the scheme, with its separators `m` already found, into
/// `out` (blank but for `secure`).
fn parse_sip_uri(rest: &str, m: Marks, out: &mut SipUri) -> Res<()> {
    // '@' may only appear as the end of userinfo (params and headers escape it), so the last
    // one splits; the user part itself may hold ';' and '?' (RFC 4475 semiuri.dat).
    let host_start = m.at.map_or(0, |i| i + 1);
    if let Some(i) = m.at {
        let ui = &rest[..i];
        let (u, p) = match find(b':', ui.as_bytes()) {
            Some(i) => (&ui[..i], Some(&ui[i + 1..])),
            None => (ui, None),
        };
        if u.is_empty() {
            return Err("empty user part".into());
        }
        let mut escaped = false;
        for b in u.bytes() {
            match b {
                b'<' | b'>' | b'"' | b'@' => return Err("bad character in the user part".into()),
                b'%' => escaped = true,
                _ => {}
            }
        }
        if escaped && !escapes_ok(u) {
            return Err("bad character in the user part".into());
        }
        put_some(&mut out.user, u);
        if let Some(p) = p {
            put_some(&mut out.password, p);
        }
    }
    let before_headers = match m.query {
        Some(i) => {
            put_some(&mut out.headers, &rest[i + 1..]);
            &rest[host_start..i]
        }
        None => &rest[host_start..],
    };
    let (hostport, params) = match m.semi {
        Some(i) => (
            &rest[host_start..i],
            &rest[i..before_headers.len() + host_start],
        ),
        None => (before_headers, ""),
    };
    hostport_into(hostport, &mut out.host, &mut out.port)?;
    out.params = parse_uri_params(params)?;
    Ok(())
}

fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn parse_uri_params(s: &str) -> Res<Params> {
    // `s` is empty or starts with its first ';'
    let Some(mut rest) = s.strip_prefix(';') else {
        return Ok(Params::default());
    };
    let mut out = Vec::with_capacity(2);
    loop {
        let (p, next) = match find(b';', rest.as_bytes()) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (n, v) = match find(b'=', p.as_bytes()) {
            Some(i) => (&p[..i], Some(&p[i + 1..])),
            None => (p, None),
        };
        if n.is_empty() || n.bytes().any(|b| matches!(b, b'<' | b'>' | b'"' | b',')) {
            return Err(format!("bad URI parameter `{p}`"));
        }
        let slot = push_param(&mut out, n);
        if let Some(v) = v {
            put_some(slot, v);
        }
        match next {
            Some(n) => rest = n,
            None => return Ok(Params(out)),
        }
    }
}

/// `host[:port]` with IPv6 references in brackets (RFC 5118 4.3/4.4: `[2001:db8::10:5070]` is an
/// address without a port), into the slots of a URI or Via (see `put`); on an error they are
/// left part-filled.
fn hostport_into(s: &str, host: &mut Host, port: &mut Option<u16>) -> Res<()> {
    if let Some(inner) = s.strip_prefix('[') {
        let Some(close) = find(b']', inner.as_bytes()) else {
            return Err("unterminated IPv6 reference".into());
        };
        let addr: Ipv6Addr = inner[..close]
            .parse()
            .map_err(|_| format!("bad IPv6 address `{}`", &inner[..close]))?;
        let after = &inner[close + 1..];
        *port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err(format!("junk after IPv6 reference: `{after}`")),
        };
        *host = Host::V6(addr);
        return Ok(());
    }
    let h = match find(b':', s.as_bytes()) {
        Some(i) => {
            *port = Some(parse_port(&s[i + 1..])?);
            &s[..i]
        }
        None => {
            *port = None;
            s
        }
    };
    host_into(h, host)
}

/// A dotted quad as `Ipv4Addr::from_str` reads it (four parts of one to three digits, no
/// leading zero, each at most 255). By hand: the std parser was 4 % of a parse.
fn ipv4(h: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = h.split(|&b| b == b'.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p[0] == b'0') {
            return None;
        }
        let mut n: u16 = 0;
        for &d in p {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u16::from(d - b'0');
        }
        *o = u8::try_from(n).ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

fn parse_port(p: &str) -> Res<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "bad port `{p}` (an IPv6 address must be in brackets)"
        ));
    }
    p.parse().map_err(|_| format!("port `{p}` out of range"))
}

/// A host (domain, IPv4 or bracketed IPv6) into `out` (see `put`); on an error `out` is left
/// as it was.
fn host_into(h: &str, out: &mut Host) -> Res<()> {
    if h.is_empty() {
        return Err("empty host".into());
    }
    if let Some(a) = ipv4(h.as_bytes()) {
        *out = Host::V4(a);
        return Ok(());
    }
    if let Some(inner) = h.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        *out = inner
            .parse::<Ipv6Addr>()
            .map(Host::V6)
            .map_err(|_| format!("bad IPv6 address `{inner}`"))?;
        return Ok(());
    }
    if !h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(format!("bad host `{}`", super::types::truncate(h)));
    }
    if !matches!(out, Host::Domain(_)) {
        *out = Host::Domain(CompactString::default());
    }
    if let Host::Domain(d) = out {
        put(d, h);
    }
    Ok(())
}

// ------------------------------------------------------------------ params

/// `*( SEMI generic-param )` with LWS around every separator.
pub fn parse_params(c: &mut Cur<'_>) -> Res<Params> {
    let mut out = Vec::new();
    while c.eat(b';') {
        if out.capacity() == 0 {
            // most lists hold one or two: `push` onto an empty Vec takes the amortised growth
            // path (a quarter of the instructions of a one-parameter list) and four slots.
            // A new Vec, not `reserve_exact`: that goes through the generic growth function
            // (`finish_grow`, 3.6 % of a parse), where this is one allocation
            out = Vec::with_capacity(2);
        }
        let Some(name) = c.token() else {
            return Err("empty parameter (extra ';')".into());
        };
        let slot = push_param(&mut out, name);
        if c.eat(b'=') {
            c.ws();
            match c.peek() {
                Some(b'"') => put_some(slot, c.quoted()?),
                Some(b'[') => {
                    // the reference with its brackets, as written
                    let start = c.i;
                    c.take_until(|b| b == b']');
                    if c.peek() != Some(b']') {
                        return Err("unterminated IPv6 reference in parameter".into());
                    }
                    c.i += 1;
                    put_some(slot, &c.s[start..c.i]);
                }
                _ => {
                    let v = c.take_until(|b| {
                        matches!(
                            b,
                            b';' | b',' | b' ' | b'\t' | b'\r' | b'\n' | b'?' | b'<' | b'>' | b'"'
                        )
                    });
                    if v.is_empty() {
                        return Err(format!("parameter `{name}` has an empty value"));
                    }
                    put_some(slot, v);
                }
            }
        }
    }
    Ok(Params(out))
}

// ------------------------------------------------------------------ name-addr

/// `( name-addr / addr-spec ) *( SEMI param )` (From, To, Contact, Route, Record-Route).
/// Read into `out`, a blank from `blank_name_addr`; on an error it is left part-filled.
pub fn parse_name_addr(c: &mut Cur<'_>, out: &mut NameAddr) -> Res<()> {
    c.ws();
    let rest = &c.s[c.i..];
    let bracketed = c.peek() == Some(b'"') || lt_before_comma(rest.as_bytes());
    if bracketed {
        if c.peek() == Some(b'"') {
            put_some(&mut out.display, c.quoted()?);
            c.ws();
        } else {
            let start = c.i;
            while c
                .peek()
                .is_some_and(|b| is_token(b) || b == b' ' || b == b'\t')
            {
                c.i += 1;
            }
            let d = c.s[start..c.i].trim();
            if c.peek() != Some(b'<') {
                return Err("display name must be tokens or a quoted string".into());
            }
            if !d.is_empty() {
                put_some(&mut out.display, d);
            }
        }
        if !c.eat(b'<') {
            return Err("expected '<' after the display name".into());
        }
        let inner = c.take_until(|b| b == b'>');
        if c.peek() != Some(b'>') {
            return Err("missing '>'".into());
        }
        c.i += 1;
        if inner.starts_with([' ', '\t']) || inner.ends_with([' ', '\t']) {
            return Err("whitespace inside <> around the URI".into());
        }
        parse_uri_into(inner, &mut out.uri)?;
    } else {
        let spec = c.take_until(|b| matches!(b, b';' | b',' | b' ' | b'\t' | b'?'));
        if c.peek() == Some(b'?') {
            return Err("a URI with headers must be enclosed in <>".into());
        }
        parse_uri_into(spec, &mut out.uri)?;
    }
    out.params = parse_params(c)?;
    Ok(())
}

/// Whether an unquoted `<` comes before any unquoted `,`: the value is a name-addr then, not an
/// addr-spec. One scan that stops at the first of them. `peek` decides the same way with it.
pub(super) fn lt_before_comma(b: &[u8]) -> bool {
    let mut quoted = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => return true,
            b',' if !quoted => return false,
            _ => {}
        }
        i += 1;
    }
    false
}

/// A comma-separated list of name-addrs (Route, Record-Route, Contact), appended to `out`
/// (no list of its own to allocate and move); on an error `out` is left as it was.
pub fn parse_name_addr_list(v: &str, out: &mut Vec<NameAddr>) -> Res<()> {
    let before = out.len();
    let r = name_addrs_into(v, out);
    if r.is_err() {
        out.truncate(before);
    }
    r
}

fn name_addrs_into(v: &str, out: &mut Vec<NameAddr>) -> Res<()> {
    let mut c = Cur::new(v);
    if out.capacity() == 0 {
        // one Contact or Route is usual: room for four is 700 bytes (see `parse_params`)
        *out = Vec::with_capacity(1);
    }
    loop {
        c.ws();
        if c.at_end() || c.peek() == Some(b',') {
            return Err("empty element in a comma-separated list".into());
        }
        out.push(blank_name_addr());
        if let Some(slot) = out.last_mut() {
            parse_name_addr(&mut c, slot)?;
        }
        c.ws();
        if c.at_end() {
            return Ok(());
        }
        if !c.eat(b',') {
            return Err(format!(
                "unexpected `{}`",
                super::types::truncate(&c.s[c.i..])
            ));
        }
    }
}

/// One From or To value.
#[cfg(test)]
pub fn parse_single_name_addr(v: &str) -> Res<NameAddr> {
    let mut na = blank_name_addr();
    single_name_addr_into(&unfold(v), &mut na)?;
    Ok(na)
}

/// `parse_single_name_addr` into `out`, a blank from `blank_name_addr`; on an error it is left
/// part-filled.
pub fn single_name_addr_into(v: &str, out: &mut NameAddr) -> Res<()> {
    let mut c = Cur::new(v);
    parse_name_addr(&mut c, out)?;
    c.ws();
    if !c.at_end() {
        return Err(format!(
            "unexpected `{}`",
            super::types::truncate(&c.s[c.i..])
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------ Via

/// `Via: via-parm *(COMMA via-parm)`.
pub fn parse_vias(v: &str, out: &mut Vec<Via>) -> Res<()> {
    let mut c = Cur::new(v);
    if out.capacity() == 0 {
        // the first Via field; a proxy adds its own when forwarding (see `parse_params`)
        *out = Vec::with_capacity(2);
    }
    loop {
        out.push(blank_via());
        if let Some(slot) = out.last_mut() {
            if let Err(e) = parse_via(&mut c, slot) {
                // the Vias before the bad one stay, as they were read
                out.pop();
                return Err(e);
            }
        }
        c.ws();
        if c.at_end() {
            return Ok(());
        }
        if !c.eat(b',') {
            return Err(format!(
                "unexpected `{}`",
                super::types::truncate(&c.s[c.i..])
            ));
        }
    }
}

/// One via-parm into `out`, a blank from `blank_via`.
fn parse_via(c: &mut Cur<'_>, out: &mut Via) -> Res<()> {
    let proto = c.token().ok_or("missing protocol name")?;
    if !proto.eq_ignore_ascii_case("SIP") {
        return Err(format!("protocol `{proto}` is not SIP"));
    }
    if !c.eat(b'/') {
        return Err("expected '/' after SIP".into());
    }
    let version = c.token().ok_or("missing protocol version")?;
    if version != "2.0" {
        return Err(format!("version `{version}` is not 2.0"));
    }
    if !c.eat(b'/') {
        return Err("expected '/' before the transport".into());
    }
    let t = c.token().ok_or("missing transport")?;
    put(&mut out.transport, t);
    // a token is ASCII: upper-casing in place changes nothing when it is written upper-case
    out.transport.make_ascii_uppercase();
    c.ws();
    let hp = c.take_until(|b| matches!(b, b';' | b',' | b' ' | b'\t' | b'\r' | b'\n'));
    hostport_into(hp, &mut out.host, &mut out.port)?;
    out.params = parse_params(c)?;
    Ok(())
}

// ------------------------------------------------------------------ scalars

/// `CSeq: 1*DIGIT LWS Method`; RFC 3261 8.1.1.5: the number is below 2**31.
pub fn parse_cseq(v: &str) -> Res<(u32, Method)> {
    let mut it = v.split_ascii_whitespace();
    let (Some(n), Some(m), None) = (it.next(), it.next(), it.next()) else {
        return Err("CSeq must be a number and a method".into());
    };
    let n = parse_u32(n, (1 << 31) - 1).map_err(|e| format!("CSeq number {e}"))?;
    if !m.bytes().all(is_token) {
        return Err(format!("bad CSeq method `{m}`"));
    }
    Ok((n, Method::from_token(m)))
}

/// A decimal number no larger than `max`; leading zeros allowed (wsinv.dat `0068`).
pub fn parse_u32(s: &str, max: u64) -> Res<u32> {
    let s = trim(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{}` is not a number", super::types::truncate(s)));
    }
    let digits = &s[s.bytes().take_while(|&b| b == b'0').count()..];
    if digits.len() > 10 {
        return Err("is too large".into());
    }
    // at most ten digits: no overflow of a u64 (`str::parse` was a third of this function)
    let n = digits
        .bytes()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    if n > max {
        return Err(format!("{n} is larger than {max}"));
    }
    Ok(n as u32)
}

/// `str::trim`, answered from the first and last bytes alone when neither is a blank (the
/// usual value): the Unicode-aware trim walks characters.
#[inline]
pub fn trim(s: &str) -> &str {
    trim_end(trim_start(s))
}

/// `str::trim_start`, with the usual blanks (SP, HT) skipped byte by byte first and the rest
/// answered from the next byte alone when it is no blank.
#[inline]
pub fn trim_start(s: &str) -> &str {
    let blanks = s
        .bytes()
        .position(|b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let s = &s[blanks..];
    match s.as_bytes().first() {
        Some(&b) if b > b' ' && b < 0x80 => s,
        _ => s.trim_start(),
    }
}

/// `str::trim_end`, answered from the last byte alone when it is no blank.
#[inline]
pub fn trim_end(s: &str) -> &str {
    match s.as_bytes().last() {
        Some(&b) if b > b' ' && b < 0x80 => s,
        _ => s.trim_end(),
    }
}

mod slot;
#[cfg(test)]
mod tests;
