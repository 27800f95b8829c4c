//! SDP (RFC 8866, which replaced RFC 4566) as it passes through a node that anchors a call's
//! media: a line index over the received bytes, a typed view of what the relay needs from each
//! m= section (port, transport, effective c= address, RFC 3605 `a=rtcp`, RFC 5761 `rtcp-mux`,
//! ICE, direction), and a rewriter that changes only the lines an anchor must change (c=, the
//! m= port, `a=rtcp`, optionally the ICE attributes) and copies every other byte as received.
//!
//! Why not webrtc-sdp (0.3.17, the parser Firefox uses): checked here on 2026-11-29 by parsing
//! offers with `parse_sdp(.., false)` and printing the session back. It re-serialises from its
//! model rather than from the input: attributes it does not know (`a=tool:`, `a=X-nat:`, BFCP's
//! `a=floorctrl:`) are dropped with a warning, a whole m= section with a transport it does not
//! know (`m=application 5000 TCP/BFCP *`) vanishes, which breaks RFC 3264's rule that an
//! answer keeps every m= line, `a=SendRecv` comes back as `a=sendrecv`, LF-only bodies come back
//! CRLF, and a valid `e=` line or a doubled space in m= fails the parse. A proxy must pass
//! through what it does not understand, so this is a line-based rewriter over the original
//! bytes instead; the grammar it needs (m=, c=, `a=rtcp`) is a few lines.
//!
//! Kept as received, on purpose:
//! - o=: the node is not the session owner (RFC 8866 5.2), so it does not bump the version. The
//!   relay must therefore answer the same offer with the same addresses and ports for the life
//!   of the dialog, or a far end that skips unchanged versions (RFC 3264 8) misses a change.
//! - multicast sections (a multicast c= address, or a c= with a TTL or address count such as
//!   `/127`): media is not relayed for them, so they are not rewritten at all.
//! - rejected sections (port 0): a `MediaRewrite` for them is ignored.
//! - unknown lines, line order, letter case and line ends (CRLF, or bare LF where the sender
//!   used it; inserted lines copy the line end of the line they follow).
//!
//! A c= address may be a domain name (RFC 8866 5.7); it then reads as `connection: None` and is
//! still rewritten. Attribute names are matched ignoring ASCII case, as most stacks do.
//!
//! Parsing is one pass over the lines: `Scan` keeps what they said so far, with one method per
//! line type that matters (m=, c=, a=). Moving the pass out of one long `parse_bytes` into it
//! cost nothing: a two-section offer parsed in 1.06-1.08 µs after against 1.12-1.18 µs before
//! (criterion, three runs each interleaved back to back, 2 vCPU VM, 2026-12-04).
//!
//! This module owns no ports, sockets or call state: which address and ports to write is the
//! relay's decision, handed in as a `Rewrite`. It must not decide policy (whether to anchor,
//! whether to strip ICE); those come from configuration through the caller.

use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// Largest SDP body accepted. An offer with a dozen streams and full ICE is a few KiB.
pub const MAX_BODY: usize = 64 * 1024;
/// Most m= sections accepted; each one costs the relay a port pair.
pub const MAX_MEDIA: usize = 64;

/// Why a body is not SDP this node can anchor. The text is short enough for a 488 reason
/// phrase; line numbers count from 1.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpError {
    #[error("SDP body of {0} bytes is over the size limit")]
    TooLarge(usize),
    #[error("not SDP: the first line is not v=")]
    NotSdp,
    #[error("SDP line {0} is not of the form x=value")]
    BadLine(usize),
    #[error("SDP line {line}: bad m= line ({reason})")]
    BadMedia { line: usize, reason: &'static str },
    #[error("SDP line {line}: bad c= line ({reason})")]
    BadConnection { line: usize, reason: &'static str },
    #[error("SDP line {line}: bad a=rtcp ({reason})")]
    BadRtcp { line: usize, reason: &'static str },
    #[error("SDP has more than {0} media sections")]
    TooManyMedia(usize),
}

/// One m= section as the relay sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSection {
    /// `audio`, `video`, `application`, ... as written.
    pub kind: String,
    /// 0 means the stream is rejected or disabled (RFC 3264 6).
    pub port: u16,
    /// The `/count` of `m=video 49170/2 ...` (layered encodings), when present.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `UDP/TLS/RTP/SAVPF`, ... as written.
    pub proto: String,
    /// The effective address: the section's own c= if it has one, else the session-level c=.
    /// `None` when there is neither, or the address is a domain name.
    pub connection: Option<IpAddr>,
    /// The first `a=rtcp:<port> [IN IP4|IP6 <addr>]` of the section (RFC 3605).
    pub rtcp: Option<(u16, Option<IpAddr>)>,
    /// `a=rtcp-mux` (RFC 5761): RTCP shares the RTP port.
    pub rtcp_mux: bool,
    /// Any ICE attribute (RFC 8839) in the section or at session level.
    pub has_ice: bool,
    /// `sendrecv`, `sendonly`, `recvonly` or `inactive`, lower case: the section's own, else
    /// the session-level one.
    pub direction: Option<String>,
    /// The effective c= is multicast (or carries a TTL or count): `rewrite` leaves it alone.
    pub multicast: bool,
}

/// What to write into an offer or answer. Missing or `None` entries leave a section alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// One entry per m= section, in order.
    pub media: Vec<Option<MediaRewrite>>,
    /// Remove the ICE attributes (session and media level): the far side must not try to
    /// reach the endpoint directly, past the relay.
    pub strip_ice: bool,
}

/// Where one section's media goes instead: the relay's address and ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaRewrite {
    pub addr: IpAddr,
    /// The RTP port written into m=.
    pub port: u16,
    /// When `Some`, every `a=rtcp` of the section is rewritten to this port (with `addr` if it
    /// named an address), or one is added when the section had none and no `rtcp-mux`.
    pub rtcp_port: Option<u16>,
}

/// A parsed SDP body: the received bytes, where each line is, and the per-section view.
#[derive(Clone, Debug)]
pub struct Sdp {
    body: Bytes,
    lines: Vec<Line>,
    session: Scope,
    sections: Vec<Section>,
    media: Vec<MediaSection>,
    /// Lines `strip_ice` removes.
    ice_lines: Vec<usize>,
}

/// A line is `body[start..end]`; its line end (CRLF, LF or nothing at the end) is
/// `body[end..next]`.
#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
}

/// What the session level or one m= section says about connection, ICE and direction.
#[derive(Clone, Debug, Default)]
struct Scope {
    c_lines: Vec<usize>,
    connection: Option<IpAddr>,
    multicast: bool,
    has_ice: bool,
    direction: Option<&'static str>,
}

/// The lines of one m= section that a rewrite may touch.
#[derive(Clone, Debug)]
struct Section {
    scope: Scope,
    m_line: usize,
    /// Bytes of the port digits in the body (without any `/count`).
    port: Range<usize>,
    /// A media-level c= goes after this line: the m= line or the i= lines right after it.
    c_after: usize,
    /// The section's last line, after which an added `a=rtcp` goes.
    last_line: usize,
    /// Each `a=rtcp` line and whether it names an address.
    rtcp_lines: Vec<(usize, bool)>,
}

/// What the lines read so far say: `parse_bytes` feeds them in order, one `line` call each.
#[derive(Default)]
struct Scan {
    session: Scope,
    sections: Vec<Section>,
    media: Vec<MediaSection>,
    ice_lines: Vec<usize>,
}

impl Scan {
    /// Line `i` (0-based), starting at byte `start` of the body.
    fn line(&mut self, i: usize, start: usize, text: &[u8]) -> Result<(), SdpError> {
        let n = i + 1;
        // A NUL or a bare CR inside a line would let a receiver split lines where we do not.
        if text.len() < 2
            || !text[0].is_ascii_alphabetic()
            || text[1] != b'='
            || text.iter().any(|&b| b == 0 || b == b'\r')
        {
            return Err(SdpError::BadLine(n));
        }
        let value = &text[2..];
        match text[0] {
            b'm' => self.media_line(i, start + 2, value)?,
            b'i' => {
                if let Some(s) = self.sections.last_mut() {
                    if s.c_after + 1 == i {
                        s.c_after = i;
                    }
                }
            }
            b'c' => self.connection_line(i, value)?,
            b'a' => self.attribute_line(i, value)?,
            _ => {}
        }
        if let Some(s) = self.sections.last_mut() {
            s.last_line = i;
        }
        Ok(())
    }

    /// An m= line opens a section; `base` is where its value starts in the body.
    fn media_line(&mut self, i: usize, base: usize, value: &[u8]) -> Result<(), SdpError> {
        if self.sections.len() == MAX_MEDIA {
            return Err(SdpError::TooManyMedia(MAX_MEDIA));
        }
        let m = parse_m(value, base).map_err(|reason| SdpError::BadMedia {
            line: i + 1,
            reason,
        })?;
        self.sections.push(Section {
            scope: Scope::default(),
            m_line: i,
            port: m.port_span,
            c_after: i,
            last_line: i,
            rtcp_lines: Vec::new(),
        });
        self.media.push(MediaSection {
            kind: m.kind,
            port: m.port,
            port_count: m.count,
            proto: m.proto,
            connection: None,
            rtcp: None,
            rtcp_mux: false,
            has_ice: false,
            direction: None,
            multicast: false,
        });
        Ok(())
    }

    /// A c= line, for the current section or, before the first m=, the session.
    fn connection_line(&mut self, i: usize, value: &[u8]) -> Result<(), SdpError> {
        let c = parse_c(value).map_err(|reason| SdpError::BadConnection {
            line: i + 1,
            reason,
        })?;
        let scope = self
            .sections
            .last_mut()
            .map_or(&mut self.session, |s| &mut s.scope);
        if scope.c_lines.is_empty() {
            scope.connection = c.addr;
        }
        scope.c_lines.push(i);
        scope.multicast |= c.multicast;
        Ok(())
    }

    /// An a= line: ICE and direction at either level, `rtcp` and `rtcp-mux` in a section.
    fn attribute_line(&mut self, i: usize, value: &[u8]) -> Result<(), SdpError> {
        let (name, arg) = split_attribute(value);
        let scope = self
            .sections
            .last_mut()
            .map_or(&mut self.session, |s| &mut s.scope);
        if is_ice(name) {
            self.ice_lines.push(i);
            scope.has_ice = true;
        } else if let Some(d) = direction(name) {
            scope.direction.get_or_insert(d);
        } else if let (Some(s), Some(view)) = (self.sections.last_mut(), self.media.last_mut()) {
            // rtcp and rtcp-mux are defined for media level only (RFC 3605, RFC 5761).
            if name.eq_ignore_ascii_case(b"rtcp-mux") {
                view.rtcp_mux = true;
            } else if name.eq_ignore_ascii_case(b"rtcp") {
                let (port, addr, named) = parse_rtcp(arg).map_err(|reason| SdpError::BadRtcp {
                    line: i + 1,
                    reason,
                })?;
                view.rtcp.get_or_insert((port, addr));
                s.rtcp_lines.push((i, named));
            }
        }
        Ok(())
    }

    /// Each section's view takes the session level's connection and direction where it has
    /// none of its own.
    fn resolve(&mut self) {
        let session = &self.session;
        for (s, view) in self.sections.iter().zip(self.media.iter_mut()) {
            let effective = if s.scope.c_lines.is_empty() {
                session
            } else {
                &s.scope
            };
            view.connection = effective.connection;
            view.multicast = effective.multicast;
            view.has_ice = s.scope.has_ice || session.has_ice;
            view.direction = s.scope.direction.or(session.direction).map(String::from);
        }
    }
}

impl Sdp {
    /// Parse a body (RFC 8866 5: `v=` first, one `x=value` per line). Lines end in CRLF; bare
    /// LF is accepted and kept. Blank lines are accepted only at the very end.
    pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
        // Checked before the copy, so an oversized body costs nothing.
        if body.len() > MAX_BODY {
            return Err(SdpError::TooLarge(body.len()));
        }
        Sdp::parse_bytes(Bytes::copy_from_slice(body))
    }

    /// `parse` without copying a body that is already `Bytes` (a SIP message's body).
    pub fn parse_bytes(body: Bytes) -> Result<Sdp, SdpError> {
        if body.len() > MAX_BODY {
            return Err(SdpError::TooLarge(body.len()));
        }
        let lines = split_lines(&body);
        match lines.first() {
            Some(l) if body[l.start..l.end].starts_with(b"v=") => {}
            _ => return Err(SdpError::NotSdp),
        }
        // Trailing blank lines are common enough (a stray CRLF after the last line) to keep;
        // anywhere else a blank line is malformed.
        let content = lines
            .iter()
            .rposition(|l| l.end > l.start)
            .map_or(0, |i| i + 1);
        let mut scan = Scan::default();
        for (i, l) in lines.iter().enumerate().take(content) {
            scan.line(i, l.start, &body[l.start..l.end])?;
        }
        scan.resolve();
        Ok(Sdp {
            body,
            lines,
            session: scan.session,
            sections: scan.sections,
            media: scan.media,
            ice_lines: scan.ice_lines,
        })
    }

    /// The m= sections in order.
    pub fn media(&self) -> &[MediaSection] {
        &self.media
    }

    /// The session-level c= address, if there is one and it is an IP address.
    pub fn session_connection(&self) -> Option<IpAddr> {
        self.session.connection
    }

    /// The body as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body with `plan` applied; every line the plan does not name is copied byte for byte.
    /// A plan that changes nothing returns the received `Bytes` without copying.
    ///
    /// For each rewritten section: the m= port is replaced (a `/count` stays); the c= that
    /// applies to it becomes `c=IN IP4|IP6 <addr>`: its own c= if it has one, else the session
    /// c= when every live section relying on it is rewritten to the same address, else a new
    /// media-level c= after m= (and any i= right after it, RFC 8866 5 order); `a=rtcp` as
    /// `MediaRewrite::rtcp_port` says.
    pub fn rewrite(&self, plan: &Rewrite) -> Bytes {
        let mut edits: Vec<(usize, Edit)> = Vec::new();
        if plan.strip_ice {
            edits.extend(self.ice_lines.iter().map(|&l| (l, Edit::Drop)));
        }
        let planned: Vec<Option<&MediaRewrite>> = (0..self.sections.len())
            .map(|i| {
                let r = plan.media.get(i)?.as_ref()?;
                let view = &self.media[i];
                (view.port != 0 && !view.multicast).then_some(r)
            })
            .collect();
        let session_addr = self.shared_session_addr(&planned);
        if let Some(addr) = session_addr {
            for &l in &self.session.c_lines {
                edits.push((l, Edit::Replace(c_line(addr))));
            }
        }
        for ((s, view), r) in self.sections.iter().zip(&self.media).zip(&planned) {
            let Some(r) = r else { continue };
            edits.push((s.m_line, Edit::Replace(self.m_line_with_port(s, r.port))));
            if !s.scope.c_lines.is_empty() {
                for &l in &s.scope.c_lines {
                    edits.push((l, Edit::Replace(c_line(r.addr))));
                }
            } else if session_addr != Some(r.addr) {
                edits.push((s.c_after, Edit::InsertAfter(c_line(r.addr))));
            }
            if let Some(rtcp) = r.rtcp_port {
                for &(l, named) in &s.rtcp_lines {
                    let line = rtcp_line(rtcp, named.then_some(r.addr));
                    edits.push((l, Edit::Replace(line)));
                }
                if s.rtcp_lines.is_empty() && !view.rtcp_mux {
                    let line = rtcp_line(rtcp, Some(r.addr));
                    edits.push((s.last_line, Edit::InsertAfter(line)));
                }
            }
        }
        if edits.is_empty() {
            return self.body.clone();
        }
        // Stable: two insertions after one line keep the order they were planned in.
        edits.sort_by_key(|e| e.0);
        self.apply(&edits)
    }

    /// The address the session-level c= can take: `Some` only when there is a unicast session
    /// c= and every section that relies on it (no c= of its own, not rejected) is rewritten,
    /// all to one address. Rewriting it in any other case would move a section the plan leaves
    /// alone.
    fn shared_session_addr(&self, planned: &[Option<&MediaRewrite>]) -> Option<IpAddr> {
        if self.session.c_lines.is_empty() || self.session.multicast {
            return None;
        }
        let mut shared = None;
        for ((s, view), r) in self.sections.iter().zip(&self.media).zip(planned) {
            if !s.scope.c_lines.is_empty() || view.port == 0 {
                continue;
            }
            let addr = r.as_ref()?.addr;
            match shared {
                None => shared = Some(addr),
                Some(a) if a == addr => {}
                Some(_) => return None,
            }
        }
        shared
    }

    fn m_line_with_port(&self, s: &Section, port: u16) -> Vec<u8> {
        let l = self.lines[s.m_line];
        let mut out = Vec::with_capacity(l.end - l.start + 5);
        out.extend_from_slice(&self.body[l.start..s.port.start]);
        out.extend_from_slice(port.to_string().as_bytes());
        out.extend_from_slice(&self.body[s.port.end..l.end]);
        out
    }

    /// Copy the body line by line with `edits` (sorted by line) applied.
    fn apply(&self, edits: &[(usize, Edit)]) -> Bytes {
        let default_eol = self
            .lines
            .first()
            .map(|l| &self.body[l.end..l.next])
            .filter(|e| !e.is_empty())
            .unwrap_or(b"\r\n");
        let mut out = Vec::with_capacity(self.body.len() + 64 * edits.len());
        let mut e = 0;
        for (i, l) in self.lines.iter().enumerate() {
            let first = e;
            while e < edits.len() && edits[e].0 == i {
                e += 1;
            }
            let mine = &edits[first..e];
            if !mine.iter().any(|(_, ed)| matches!(ed, Edit::Drop)) {
                let text = mine
                    .iter()
                    .find_map(|(_, ed)| match ed {
                        Edit::Replace(t) => Some(t.as_slice()),
                        _ => None,
                    })
                    .unwrap_or(&self.body[l.start..l.end]);
                out.extend_from_slice(text);
                out.extend_from_slice(&self.body[l.end..l.next]);
            }
            let eol = Some(&self.body[l.end..l.next])
                .filter(|e| !e.is_empty())
                .unwrap_or(default_eol);
            for (_, ed) in mine {
                if let Edit::InsertAfter(t) = ed {
                    // The line before had no line end (the body's last line).
                    if !out.is_empty() && !out.ends_with(b"\n") {
                        out.extend_from_slice(eol);
                    }
                    out.extend_from_slice(t);
                    out.extend_from_slice(eol);
                }
            }
        }
        Bytes::from(out)
    }
}

/// One change to one line. A dropped line can still have lines inserted after it.
#[derive(Debug)]
enum Edit {
    Drop,
    Replace(Vec<u8>),
    InsertAfter(Vec<u8>),
}

fn c_line(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => format!("c=IN IP4 {a}"),
        IpAddr::V6(a) => format!("c=IN IP6 {a}"),
    }
    .into_bytes()
}

fn rtcp_line(port: u16, addr: Option<IpAddr>) -> Vec<u8> {
    match addr {
        None => format!("a=rtcp:{port}"),
        Some(IpAddr::V4(a)) => format!("a=rtcp:{port} IN IP4 {a}"),
        Some(IpAddr::V6(a)) => format!("a=rtcp:{port} IN IP6 {a}"),
    }
    .into_bytes()
}

/// Lines end at LF, with the CR before it (if any) counted as part of the line end. A last
/// line without LF is a line with an empty line end.
fn split_lines(body: &[u8]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < body.len() {
        let line = match body[start..].iter().position(|&b| b == b'\n') {
            Some(k) => {
                let lf = start + k;
                let end = if k > 0 && body[lf - 1] == b'\r' {
                    lf - 1
                } else {
                    lf
                };
                Line {
                    start,
                    end,
                    next: lf + 1,
                }
            }
            None => Line {
                start,
                end: body.len(),
                next: body.len(),
            },
        };
        start = line.next;
        lines.push(line);
    }
    lines
}

/// Space-separated fields with their offsets into `v`; runs of spaces count as one, because
/// some stacks write them and nothing is gained by refusing the call.
fn fields(v: &[u8]) -> impl Iterator<Item = (usize, &[u8])> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while v.get(at) == Some(&b' ') {
            at += 1;
        }
        if at >= v.len() {
            return None;
        }
        let start = at;
        while at < v.len() && v[at] != b' ' {
            at += 1;
        }
        Some((start, &v[start..at]))
    })
}

/// RFC 8866 9 `token-char`.
fn is_token_char(b: u8) -> bool {
    matches!(b, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'^'..=b'~')
}

/// A port or count: 1 to 5 digits, at most 65535.
fn number(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    u16::try_from(n).ok()
}

fn ascii(token: &[u8]) -> String {
    // Only ever called on token characters, which are ASCII.
    String::from_utf8_lossy(token).into_owned()
}

struct MLine {
    kind: String,
    port: u16,
    count: Option<u16>,
    proto: String,
    port_span: Range<usize>,
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 8866 5.14); `base` is where
/// `value` starts in the body. The format list is not examined: nothing here depends on it.
fn parse_m(value: &[u8], base: usize) -> Result<MLine, &'static str> {
    let mut f = fields(value);
    let (_, kind) = f.next().ok_or("no media type")?;
    if !kind.iter().all(|&b| is_token_char(b)) {
        return Err("bad media type");
    }
    let (at, port_field) = f.next().ok_or("no port")?;
    let (digits, count) = match port_field.iter().position(|&b| b == b'/') {
        Some(k) => (&port_field[..k], Some(&port_field[k + 1..])),
        None => (port_field, None),
    };
    let port = number(digits).ok_or("bad port")?;
    let count = match count {
        None => None,
        Some(c) => Some(number(c).filter(|&n| n > 0).ok_or("bad port count")?),
    };
    let (_, proto) = f.next().ok_or("no transport")?;
    if !proto.iter().all(|&b| is_token_char(b) || b == b'/') {
        return Err("bad transport");
    }
    Ok(MLine {
        kind: ascii(kind),
        port,
        count,
        proto: ascii(proto),
        port_span: base + at..base + at + digits.len(),
    })
}

struct Connection {
    addr: Option<IpAddr>,
    multicast: bool,
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 5.7).
fn parse_c(value: &[u8]) -> Result<Connection, &'static str> {
    let mut f = fields(value).map(|(_, x)| x);
    match (f.next(), f.next(), f.next(), f.next()) {
        (Some(net), Some(kind), Some(addr), None) => parse_address(net, kind, addr),
        _ => Err("want IN IP4|IP6 address"),
    }
}

/// The address part shared by c= and `a=rtcp`: an IP literal of the named family or a domain
/// name, then an optional `/ttl` and `/count` that only multicast may carry.
fn parse_address(net: &[u8], kind: &[u8], addr: &[u8]) -> Result<Connection, &'static str> {
    if !net.eq_ignore_ascii_case(b"IN") {
        return Err("network type is not IN");
    }
    let v6 = if kind.eq_ignore_ascii_case(b"IP4") {
        false
    } else if kind.eq_ignore_ascii_case(b"IP6") {
        true
    } else {
        return Err("address type is not IP4 or IP6");
    };
    let mut parts = addr.split(|&b| b == b'/');
    let host = parts.next().unwrap_or_default();
    let mut suffixes = 0;
    for p in parts {
        suffixes += 1;
        if suffixes > 2 || !(1..=10).contains(&p.len()) || !p.iter().all(u8::is_ascii_digit) {
            return Err("bad TTL or address count");
        }
    }
    let text = std::str::from_utf8(host).map_err(|_| "bad address")?;
    let ip = if v6 {
        text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    };
    let addr = match ip {
        Some(ip) => Some(ip),
        None if is_domain_name(host) => None,
        None => return Err("bad address"),
    };
    Ok(Connection {
        multicast: suffixes > 0 || addr.is_some_and(|a| a.is_multicast()),
        addr,
    })
}

/// Letters, digits, `-` and `.`, with at least one letter so that a malformed IPv4 literal
/// (`300.1.1.1`) is refused rather than taken for a name.
fn is_domain_name(h: &[u8]) -> bool {
    h.iter().any(u8::is_ascii_alphabetic)
        && h.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 2.1): the port, the
/// address if it is an IP literal, and whether an address was written at all.
fn parse_rtcp(arg: Option<&[u8]>) -> Result<(u16, Option<IpAddr>, bool), &'static str> {
    let mut f = fields(arg.ok_or("no port")?).map(|(_, x)| x);
    let port = f.next().and_then(number).ok_or("bad port")?;
    match (f.next(), f.next(), f.next(), f.next()) {
        (None, ..) => Ok((port, None, false)),
        (Some(net), Some(kind), Some(addr), None) => {
            Ok((port, parse_address(net, kind, addr)?.addr, true))
        }
        _ => Err("want port [IN IP4|IP6 address]"),
    }
}

/// `name[:value]` of an a= line; the name without trailing spaces.
fn split_attribute(value: &[u8]) -> (&[u8], Option<&[u8]>) {
    match value.iter().position(|&b| b == b':') {
        Some(k) => (&value[..k], Some(&value[k + 1..])),
        None => (value.trim_ascii_end(), None),
    }
}

/// The attributes of RFC 8839 (ICE) and RFC 8840 (`end-of-candidates`, trickle ICE). Besides
/// candidates and credentials this takes `ice-lite`, `ice-mismatch` and `ice-pacing`: left
/// behind without credentials they would tell the far end to run an ICE that cannot work.
fn is_ice(name: &[u8]) -> bool {
    const ICE: [&[u8]; 9] = [
        b"candidate",
        b"remote-candidates",
        b"end-of-candidates",
        b"ice-ufrag",
        b"ice-pwd",
        b"ice-options",
        b"ice-lite",
        b"ice-mismatch",
        b"ice-pacing",
    ];
    ICE.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// RFC 8866 6.7 direction attributes.
fn direction(name: &[u8]) -> Option<&'static str> {
    ["sendrecv", "sendonly", "recvonly", "inactive"]
        .into_iter()
        .find(|d| name.eq_ignore_ascii_case(d.as_bytes()))
}

#[cfg(test)]
mod tests;
