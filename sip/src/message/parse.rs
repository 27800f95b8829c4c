//! `Message`: one parsed SIP request or response, zero-copy over the received `Bytes`: the start
//! line and every header field are byte ranges into the buffer, and the headers a proxy acts on
//! are parsed once into typed values.
//!
//! Faults that still allow an answer (a bad Request-URI, a malformed To, an over-large CSeq) are
//! kept as the message's `defect`; only a message that cannot be answered at all is an `Err`.
//! Editing is `rewrite`; semantic checks are `validate`.
//!
//! `parse_with` runs in steps, one function each: the walk over the lines that finds the end of
//! the header section (`find_lines`), the start line (`parse_status_line` or
//! `parse_request_line`), the field split (`split_fields`), the typed values (`typed::Typed::read`,
//! one `read_field` per known field), then Content-Length (`apply_content_length`). Splitting
//! them out of three long functions cost nothing measurable: the typical INVITE of
//! `benches/parse.rs` took 1.46-1.58 µs before and 1.43-1.57 µs after, medians 1.55 µs both
//! (criterion, seven runs each interleaved back to back, 2 vCPU VM, 2026-12-04).

use super::grammar::{blank_sip_uri, parse_uri_into, trim_end, trim_start};
use super::typed::Typed;
use super::types::{Contacts, Defect, Limits, Method, NameAddr, ParseError, Uri, Via};
use bytes::Bytes;
use compact_str::CompactString;
use memchr::memmem;
use std::ops::Range;
use std::sync::LazyLock;

// built once: building a searcher per message was 3 % of the parse. There is no searcher for
// CRLF CRLF: the parse and `peek` find the end of the header section on their walk over the
// lines (`find_lines`).
pub(super) static CRLF: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\r\n"));

/// Header names a proxy acts on; everything else is `Other` and passes through untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Known {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    ContentLength,
    ContentType,
    Route,
    RecordRoute,
    Contact,
    Expires,
    Other,
}

impl Known {
    /// Whether the value is read by a `grammar` rule (which takes unfolded text).
    pub(crate) fn is_grammar_rule(self) -> bool {
        matches!(
            self,
            Known::Via
                | Known::From
                | Known::To
                | Known::CSeq
                | Known::Route
                | Known::RecordRoute
                | Known::Contact
        )
    }
}

/// Compact forms (RFC 3261 7.3.3 and later RFCs) to full names.
pub(crate) fn full_name(name: &str) -> &str {
    if name.len() != 1 {
        return name;
    }
    match name.as_bytes()[0].to_ascii_lowercase() {
        b'i' => "Call-ID",
        b'm' => "Contact",
        b'e' => "Content-Encoding",
        b'l' => "Content-Length",
        b'c' => "Content-Type",
        b'f' => "From",
        b's' => "Subject",
        b'k' => "Supported",
        b't' => "To",
        b'v' => "Via",
        b'o' => "Event",
        b'r' => "Refer-To",
        b'b' => "Referred-By",
        b'u' => "Allow-Events",
        b'x' => "Session-Expires",
        b'y' => "Identity",
        b'a' => "Accept-Contact",
        b'j' => "Reject-Contact",
        b'd' => "Request-Disposition",
        _ => name,
    }
}

pub(super) fn known(name: &str) -> Known {
    known_bytes(name.as_bytes())
}

/// `known` of a name not yet checked as text (`peek`): every known name is ASCII, so bytes
/// that are not text are `Other`, as they would be as a `str`.
pub(super) fn known_bytes(b: &[u8]) -> Known {
    let Some(&first) = b.first() else {
        return Known::Other;
    };
    // one candidate per (length, first letter), compared a word at a time: a single
    // comparison per field instead of one per name of that length, and no loop per byte
    // (the byte-wise case-insensitive compare was 3 % of a parse's instructions)
    let is = |p: &NamePattern| p.matches(b);
    match (b.len(), first.to_ascii_lowercase()) {
        (1, lower) => compact_kind(lower),
        (2, b't') if is(&TO) => Known::To,
        (3, b'v') if is(&VIA) => Known::Via,
        (4, b'f') if is(&FROM) => Known::From,
        (4, b'c') if is(&CSEQ) => Known::CSeq,
        (5, b'r') if is(&ROUTE) => Known::Route,
        (7, b'c') if is(&CALL_ID) => Known::CallId,
        (7, b'c') if is(&CONTACT) => Known::Contact,
        (7, b'e') if is(&EXPIRES) => Known::Expires,
        (12, b'm') if is(&MAX_FORWARDS) => Known::MaxForwards,
        (12, b'r') if is(&RECORD_ROUTE) => Known::RecordRoute,
        (12, b'c') if is(&CONTENT_TYPE) => Known::ContentType,
        (14, b'c') if is(&CONTENT_LENGTH) => Known::ContentLength,
        _ => Known::Other,
    }
}

const TO: NamePattern = NamePattern::new("To");
const VIA: NamePattern = NamePattern::new("Via");
const FROM: NamePattern = NamePattern::new("From");
const CSEQ: NamePattern = NamePattern::new("CSeq");
const ROUTE: NamePattern = NamePattern::new("Route");
const CALL_ID: NamePattern = NamePattern::new("Call-ID");
const CONTACT: NamePattern = NamePattern::new("Contact");
const EXPIRES: NamePattern = NamePattern::new("Expires");
const MAX_FORWARDS: NamePattern = NamePattern::new("Max-Forwards");
const RECORD_ROUTE: NamePattern = NamePattern::new("Record-Route");
const CONTENT_TYPE: NamePattern = NamePattern::new("Content-Type");
const CONTENT_LENGTH: NamePattern = NamePattern::new("Content-Length");

/// A header name for an ASCII case-insensitive comparison two words at a time: the first and
/// the last `width` bytes (overlapping when the name is shorter than two words), each as the
/// lower-case word and the mask of its letters. `(word | mask) == lower` holds exactly when
/// every letter matches in either case and every other byte matches as it is.
struct NamePattern {
    len: usize,
    width: usize,
    head: (u64, u64),
    tail: (u64, u64),
}

impl NamePattern {
    const fn new(name: &str) -> NamePattern {
        let b = name.as_bytes();
        let len = b.len();
        let width = if len >= 8 {
            8
        } else if len >= 4 {
            4
        } else if len >= 2 {
            2
        } else {
            1
        };
        NamePattern {
            len,
            width,
            head: Self::window(b, 0, width),
            tail: Self::window(b, len - width, width),
        }
    }

    /// The lower-case bytes `from..from + width` of `b` as a little-endian word, and the
    /// mask with 0x20 in each letter's byte.
    const fn window(b: &[u8], from: usize, width: usize) -> (u64, u64) {
        let (mut lower, mut mask) = (0u64, 0u64);
        let mut i = 0;
        while i < width {
            let c = b[from + i].to_ascii_lowercase();
            lower |= (c as u64) << (8 * i);
            if c.is_ascii_lowercase() {
                mask |= 0x20 << (8 * i);
            }
            i += 1;
        }
        (lower, mask)
    }

    #[inline]
    fn matches(&self, b: &[u8]) -> bool {
        let word = |at: usize| -> Option<u64> {
            let w = b.get(at..at + self.width)?;
            Some(match *w {
                [w0, w1, w2, w3, w4, w5, w6, w7] => {
                    u64::from_le_bytes([w0, w1, w2, w3, w4, w5, w6, w7])
                }
                [w0, w1, w2, w3] => u64::from(u32::from_le_bytes([w0, w1, w2, w3])),
                [w0, w1] => u64::from(u16::from_le_bytes([w0, w1])),
                [w0] => u64::from(w0),
                _ => return None,
            })
        };
        let fits = |w: Option<u64>, (lower, mask): (u64, u64)| w.is_some_and(|w| w | mask == lower);
        b.len() == self.len
            && fits(word(0), self.head)
            && fits(word(self.len - self.width), self.tail)
    }
}

/// The known fields among the compact forms of `full_name`.
fn compact_kind(lower: u8) -> Known {
    match lower {
        b'i' => Known::CallId,
        b'm' => Known::Contact,
        b'l' => Known::ContentLength,
        b'c' => Known::ContentType,
        b'f' => Known::From,
        b't' => Known::To,
        b'v' => Known::Via,
        _ => Known::Other,
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub name: Range<usize>,
    pub value: Range<usize>,
    pub kind: Known,
    /// The field holds a line feed before its end (a fold): the value is unfolded before a
    /// grammar rule reads it; the others (nearly all) skip that search.
    pub folded: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Start {
    /// The Request-URI's parsed value is `Typed::request_uri` (boxed with the other typed
    /// values, see `Message::typed`).
    Request {
        method: Method,
        uri: Range<usize>,
    },
    Response {
        status: u16,
        reason: Range<usize>,
    },
}

#[derive(Clone, Debug)]
pub struct Message {
    pub(crate) buf: Bytes,
    /// Bytes of `buf` that belong to this message (header section and body).
    pub(crate) len: usize,
    pub(crate) offset: usize,
    pub(crate) start: Start,
    pub(crate) version: Range<usize>,
    pub(crate) fields: Vec<Field>,
    pub(crate) body: Range<usize>,
    /// Boxed (the Request-URI with them), one allocation per parse, so that a `Message` is 184
    /// bytes rather than 840: every move of it (into the parse's Result, into the proxy's
    /// events) copies the whole value right after it was written, and the loads of such a copy
    /// wait for the stores. With this box criterion's parse went from 0.98-1.04 to 0.89-0.93 us
    /// (with the two changes before it; BENCHMARKS.md, "SIP parse under 1 us"); the core's
    /// calls were no slower.
    typed: Box<Typed>,
    defect: Option<Defect>,
}

impl Message {
    pub fn parse(buf: Bytes) -> Result<Message, ParseError> {
        Message::parse_with(buf, &Limits::default())
    }

    /// Parses one message with datagram semantics (RFC 3261 18.3): a Content-Length beyond the
    /// available bytes is a defect, octets after the body are ignored, and without a
    /// Content-Length the body runs to the end.
    pub fn parse_with(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        if buf.len() > limits.max_message_size {
            return Err(ParseError::TooLarge(buf.len()));
        }
        // RFC 3261 7.5: CRLFs before the start line are ignored
        let offset = buf
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .ok_or(ParseError::Empty)?;
        let (head_end, mut fields) = find_lines(&buf[offset..], limits)?;
        let head_end = offset + head_end;
        // simdutf8, not `std::str::from_utf8`: std checks ASCII a word pair at a time and the
        // ends byte by byte; a header section of 400 bytes took 1-5 % of a parse that way
        let head =
            simdutf8::basic::from_utf8(&buf[offset..head_end]).map_err(|_| ParseError::NotText)?;
        let line_end = CRLF.find(head.as_bytes()).unwrap_or(head.len());
        let start_line = &head[..line_end];
        let body_start = head_end + 4;
        // built in place, the buffer last: the typed values and the start line's Request-URI
        // are written where they stay rather than moved in (memmove was 7 % of a parse). The
        // message is still copied into the returned Result, and by whoever moves it next: that
        // is why the typed values (over 600 bytes) are boxed (see `Message::typed`).
        let mut msg = Message {
            len: buf.len(),
            offset,
            start: Start::Response {
                status: 0,
                reason: 0..0,
            },
            version: 0..0,
            fields: Vec::new(),
            body: body_start..buf.len(),
            typed: Box::default(),
            defect: None,
            buf: Bytes::new(),
        };
        msg.version = parse_start_line(
            start_line,
            offset,
            &mut msg.start,
            &mut msg.typed.request_uri,
            &mut msg.defect,
        )?;
        split_fields(head, &mut fields, offset, limits)?;
        msg.fields = fields;
        msg.typed.read(&msg.fields, head, offset, &mut msg.defect);
        msg.buf = buf;
        msg.apply_content_length(body_start);
        Ok(msg)
    }

    /// RFC 3261 18.3, datagram semantics: the body is Content-Length bytes from `body_start`
    /// and anything after it is ignored; a Content-Length beyond what arrived is a defect.
    /// Without a Content-Length the body already runs to the end.
    fn apply_content_length(&mut self, body_start: usize) {
        if let Some(cl) = self.typed.content_length {
            let available = self.buf.len() - body_start;
            if cl > available {
                self.set_defect(Defect::bad(format!(
                    "Content-Length {cl} is larger than the {available} bytes received"
                )));
            } else {
                self.body = body_start..body_start + cl;
                self.len = body_start + cl;
            }
        }
    }

    fn set_defect(&mut self, d: Defect) {
        if self.defect.is_none() {
            self.defect = Some(d);
        }
    }

    pub(crate) fn text(&self, r: Range<usize>) -> &str {
        // header ranges were checked to be UTF-8 at parse time
        std::str::from_utf8(&self.buf[r]).unwrap_or("")
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            Start::Request { method, .. } => Some(method),
            Start::Response { .. } => None,
        }
    }
    pub fn request_uri(&self) -> Option<&Uri> {
        match &self.start {
            Start::Request { .. } => self.typed.request_uri.as_ref(),
            Start::Response { .. } => None,
        }
    }
    pub fn request_uri_str(&self) -> Option<&str> {
        match &self.start {
            Start::Request { uri, .. } => Some(self.text(uri.clone())),
            Start::Response { .. } => None,
        }
    }
    pub fn version(&self) -> &str {
        self.text(self.version.clone())
    }
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            Start::Response { status, .. } => Some(*status),
            Start::Request { .. } => None,
        }
    }
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            Start::Response { reason, .. } => Some(self.text(reason.clone())),
            Start::Request { .. } => None,
        }
    }
    pub fn defect(&self) -> Option<&Defect> {
        self.defect.as_ref()
    }
    pub fn call_id(&self) -> Option<&str> {
        self.typed.call_id.clone().map(|r| self.text(r).trim())
    }
    pub fn from(&self) -> Option<&NameAddr> {
        self.typed.from.as_ref()
    }
    pub fn to(&self) -> Option<&NameAddr> {
        self.typed.to.as_ref()
    }
    pub fn cseq(&self) -> Option<(u32, &Method)> {
        self.typed.cseq.as_ref().map(|(n, m)| (*n, m))
    }
    pub fn vias(&self) -> &[Via] {
        &self.typed.vias
    }
    pub fn max_forwards(&self) -> Option<u32> {
        self.typed.max_forwards
    }
    pub fn routes(&self) -> &[NameAddr] {
        &self.typed.routes
    }
    pub fn record_routes(&self) -> &[NameAddr] {
        &self.typed.record_routes
    }
    pub fn contacts(&self) -> Option<&Contacts> {
        self.typed.contacts.as_ref()
    }
    pub fn expires(&self) -> Option<u32> {
        self.typed.expires
    }
    pub fn content_length(&self) -> Option<usize> {
        self.typed.content_length
    }

    fn matching<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Field> + 'a {
        // names compare as bytes: no UTF-8 check per field on this hot path
        let kind = known(name);
        // a copy only for names the parser does not know (it outlives `name`), inline when it
        // is short (`CompactString`, up to 24 bytes): Proxy-Require and Proxy-Authorization are
        // looked up for every request forwarded (the loop hash), a heap copy each was two
        // allocations a request
        let want = match kind {
            Known::Other => CompactString::new(full_name(name)),
            _ => CompactString::default(),
        };
        self.fields.iter().filter(move |f| {
            if kind != Known::Other {
                return f.kind == kind;
            }
            let n = &self.buf[f.name.clone()];
            let n = if n.len() == 1 {
                std::str::from_utf8(n)
                    .map(full_name)
                    .unwrap_or("")
                    .as_bytes()
            } else {
                n
            };
            n.eq_ignore_ascii_case(want.as_bytes())
        })
    }

    /// Raw values (folding kept) of every field called `name` (compact forms match), in order.
    pub fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.matching(name).map(|f| self.text(f.value.clone()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }
    pub fn header_count(&self, name: &str) -> usize {
        self.matching(name).count()
    }
    /// Comma-separated tokens across all fields of `name` (Require, Proxy-Require, Supported).
    pub fn tokens(&self, name: &str) -> Vec<&str> {
        self.header_values(name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect()
    }
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }
    /// Exactly this message's bytes (from the start line to the end of the body).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.offset..self.len]
    }
}

/// Index of the CRLF that ends the header field starting at `from` (a CRLF followed by SP or HT
/// is a line fold and continues the field), or the end of the header section.
pub(super) fn field_end(hb: &[u8], from: usize) -> usize {
    field_end_folded(hb, from).0
}

/// The first `\n` of `hb` at or after `from`, eight bytes at a time. Why not memchr: a field
/// is a few dozen bytes, where its dispatch and set-up were half of its cost (callgrind: 95
/// instructions a field).
#[inline]
pub(super) fn next_lf(hb: &[u8], from: usize) -> Option<usize> {
    const LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let rest = hb.get(from..)?;
    let mut words = rest.chunks_exact(8);
    for (k, w) in words.by_ref().enumerate() {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ LF;
        // the top bit of each byte of x that is zero, exactly (no borrow between bytes)
        let zero = !((x & LOW7).wrapping_add(LOW7) | x | LOW7);
        if zero != 0 {
            return Some(from + 8 * k + (zero.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    let done = rest.len() - tail.len();
    tail.iter()
        .position(|&b| b == b'\n')
        .map(|i| from + done + i)
}

/// `field_end`, and whether a line feed comes before that end.
fn field_end_folded(hb: &[u8], mut from: usize) -> (usize, bool) {
    let mut folded = false;
    loop {
        let Some(nl) = next_lf(hb, from) else {
            return (hb.len(), folded);
        };
        if nl == 0 || hb[nl - 1] != b'\r' {
            folded = true;
            from = nl + 1;
            continue;
        }
        match hb.get(nl + 1) {
            Some(b' ') | Some(b'\t') => {
                folded = true;
                from = nl + 1;
            }
            _ => return (nl - 1, folded),
        }
    }
}

/// The end of the header section of `b` (the first CRLF CRLF, where the start line is `b`'s
/// first line) and its field lines, found by one walk over the line feeds: each field's line
/// as the `name` range (relative to `b`, folds inside), its `folded` flag, the rest blank
/// until `split_fields`. At most `max_headers + 1` lines are kept (enough for
/// `split_fields` to report the excess); the walk goes on to the end of the section.
///
/// Why a walk, not a search for CRLF CRLF first: the split visits every line end anyway, and
/// the search was 7 % of a parse's instructions (every line end is a candidate for it).
/// Every CRLF CRLF is a field end followed by an empty line, so the first one is found here.
fn find_lines(b: &[u8], limits: &Limits) -> Result<(usize, Vec<Field>), ParseError> {
    let mut lines = Vec::with_capacity(16);
    let mut end = CRLF.find(b).ok_or(ParseError::NoHeaderEnd)?;
    loop {
        if b.get(end + 2..end + 4) == Some(b"\r\n") {
            return Ok((end, lines));
        }
        let pos = end + 2;
        let (field_end, folded) = field_end_folded(b, pos);
        if field_end >= b.len() {
            return Err(ParseError::NoHeaderEnd);
        }
        if lines.len() <= limits.max_headers {
            lines.push(Field {
                name: pos..field_end,
                value: 0..0,
                kind: Known::Other,
                folded,
            });
        }
        end = field_end;
    }
}

/// The header fields from the lines `find_lines` left in `fields` (ranges relative to the
/// header section `head`, which starts at `offset` of the buffer): names checked, values
/// trimmed, ranges made absolute. Errors name the line as the old one-pass split did.
fn split_fields(
    head: &str,
    fields: &mut [Field],
    offset: usize,
    limits: &Limits,
) -> Result<(), ParseError> {
    for (i, f) in fields.iter_mut().enumerate() {
        let line_no = i + 2;
        let pos = f.name.start;
        let line = head.get(f.name.clone()).ok_or(ParseError::NotText)?;
        let end = line.len();
        let (name_len, colon) = match name_and_colon(line.as_bytes()) {
            Some(nc) => nc,
            None => slow_name_and_colon(line, line_no)?,
        };
        let vstart = end - trim_start(&line[colon + 1..]).len();
        let vend = trim_end(line).len().max(vstart);
        if i >= limits.max_headers {
            return Err(ParseError::TooManyHeaders(limits.max_headers));
        }
        f.name = offset + pos..offset + pos + name_len;
        f.value = offset + pos + vstart..offset + pos + vend;
        f.kind = known(&line[..name_len]);
    }
    Ok(())
}

/// The usual field start, `token *(SP / HTAB) ":"`, read in one pass (the name's length, the
/// colon's index); `None` for anything else, which `slow_name_and_colon` then sorts out.
#[inline]
fn name_and_colon(line: &[u8]) -> Option<(usize, usize)> {
    let name_len = line
        .iter()
        .position(|&b| !super::grammar::is_token(b))
        .filter(|&n| n > 0)?;
    let colon = name_len
        + line[name_len..]
            .iter()
            .position(|&b| b != b' ' && b != b'\t')?;
    (line[colon] == b':').then_some((name_len, colon))
}

/// The start of field `line` when it is not the usual `token ":"`: the first colon of the
/// field decides, and the name before it (blanks trimmed) must be a token.
fn slow_name_and_colon(line: &str, line_no: usize) -> Result<(usize, usize), ParseError> {
    let colon =
        memchr::memchr(b':', line.as_bytes()).ok_or(ParseError::HeaderWithoutColon(line_no))?;
    let name = line[..colon].trim_end_matches([' ', '\t']);
    if name.is_empty() || !name.bytes().all(super::grammar::is_token) {
        return Err(ParseError::BadHeaderName(line_no));
    }
    Ok((name.len(), colon))
}

/// The start line into `start` (and a request's parsed Request-URI into `request_uri`);
/// returns the range of the SIP-Version.
fn parse_start_line(
    line: &str,
    offset: usize,
    start: &mut Start,
    request_uri: &mut Option<Uri>,
    defect: &mut Option<Defect>,
) -> Result<Range<usize>, ParseError> {
    if line.starts_with("SIP/") {
        parse_status_line(line, offset, start, defect)
    } else {
        parse_request_line(line, offset, start, request_uri, defect)
    }
}

/// `SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 7.2). A bad status code cannot be
/// answered (responses are never answered); another SIP version is a 505 defect.
fn parse_status_line(
    line: &str,
    offset: usize,
    start: &mut Start,
    defect: &mut Option<Defect>,
) -> Result<Range<usize>, ParseError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().ok_or(ParseError::BadStartLine)?;
    let reason_start = version.len() + 1 + code.len() + 1;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadStatusCode(
            super::types::truncate(code).to_string(),
        ));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| ParseError::BadStatusCode(code.to_string()))?;
    if !(100..=699).contains(&status) {
        return Err(ParseError::BadStatusCode(code.to_string()));
    }
    if version != "SIP/2.0" {
        *defect = Some(Defect {
            status: 505,
            reason: format!("Version Not Supported ({version})"),
        });
    }
    let reason = (offset + reason_start.min(line.len()))..(offset + line.len());
    *start = Start::Response { status, reason };
    Ok(offset..offset + version.len())
}

/// `Method SP Request-URI SP SIP-Version` (RFC 3261 7.1). Only a missing or non-token method
/// is an `Err`; spacing, version and URI faults are defects, so the request can be answered.
/// The Request-URI is read in place, into `parsed` (see `grammar::blank_sip_uri`), which is
/// `None` when it is malformed.
fn parse_request_line(
    line: &str,
    offset: usize,
    start: &mut Start,
    parsed: &mut Option<Uri>,
    defect: &mut Option<Defect>,
) -> Result<Range<usize>, ParseError> {
    let Some(sp1) = memchr::memchr(b' ', line.as_bytes()) else {
        return Err(ParseError::BadStartLine);
    };
    let method = &line[..sp1];
    if method.is_empty() || !method.bytes().all(super::grammar::is_token) {
        return Err(ParseError::BadStartLine);
    }
    let rest = &line[sp1 + 1..];
    let (uri, version) = match memchr::memrchr(b' ', rest.as_bytes()) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let uri_start = offset + sp1 + 1;
    let version_start = uri_start + uri.len() + 1;
    let method = Method::from_token(method);
    let mut set = |d: Defect| {
        if defect.is_none() {
            *defect = Some(d)
        }
    };
    // RFC 3261 25.1: exactly one SP between the elements (RFC 4475 lwsstart, trws, lwsruri)
    if uri.is_empty() || uri.contains(' ') || version.is_empty() {
        set(Defect::bad(
            "malformed Request-Line: elements must be separated by single spaces",
        ));
    }
    if version != "SIP/2.0" {
        if version.starts_with("SIP/") && !version.contains(' ') && version.len() > 4 {
            set(Defect {
                status: 505,
                reason: format!("Version Not Supported ({version})"),
            });
        } else {
            set(Defect::bad("malformed Request-Line: bad SIP-Version"));
        }
    }
    *start = Start::Request {
        method,
        uri: uri_start..uri_start + uri.len(),
    };
    let u = parsed.insert(Uri::Sip(blank_sip_uri()));
    match parse_uri_into(uri, u) {
        Ok(()) if matches!(u, Uri::Sip(s) if s.headers.is_some()) => {
            set(Defect::bad("Request-URI must not carry headers"));
            *parsed = None;
        }
        Ok(()) => {}
        Err(e) => {
            set(Defect::bad(format!("malformed Request-URI: {e}")));
            *parsed = None;
        }
    }
    Ok(version_start.min(offset + line.len())..offset + line.len())
}
