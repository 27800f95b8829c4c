//! Editing a parsed message the way a proxy must (RFC 3261 16.6: Request-URI, Max-Forwards,
//! Via, Record-Route, Route; Content-Length and body), and building the few messages a proxy
//! makes itself (responses, ACK for a non-2xx, CANCEL). Every header field that is not edited is
//! copied byte-for-byte, folding and odd spacing included.
//!
//! Works on `Message` ranges only; it does not parse (it asks `Message` for typed values).

use super::parse::{full_name, Known, Message, Start};
use super::types::{Host, Via};
use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

#[derive(Clone, Debug)]
enum Out {
    /// the original field at this index, untouched
    Raw(usize),
    /// a field we wrote (or rewrote); the name is one of ours (`'static`) unless it was the
    /// received field's own spelling: a forwarded request edits several fields, and each
    /// allocation is one more cold block of the allocator's (the node's profile: BENCHMARKS.md)
    New(Cow<'static, str>, String),
}

/// Edits of one message; `finish` serialises.
pub struct Rewrite<'a> {
    msg: &'a Message,
    request_line: Option<String>,
    fields: Vec<Out>,
    body: Option<Bytes>,
}

impl Message {
    pub fn rewrite(&self) -> Rewrite<'_> {
        Rewrite {
            msg: self,
            request_line: None,
            fields: (0..self.fields.len()).map(Out::Raw).collect(),
            body: None,
        }
    }

    /// A response to this request: every Via, From, To, Call-ID and CSeq copied byte-for-byte
    /// (so it works even when To or From are malformed), `Content-Length: 0`.
    pub fn response(&self, status: u16, reason: &str) -> ResponseBuilder<'_> {
        ResponseBuilder {
            msg: self,
            status,
            reason: reason.replace(['\r', '\n'], " "),
            to_tag: None,
            headers: Vec::new(),
            body: None,
            source: None,
        }
    }

    fn raw_field(&self, i: usize) -> &[u8] {
        let f = &self.fields[i];
        &self.buf[f.name.start..f.value.end]
    }

    fn is(&self, out: &Out, kind: Known, name: &str) -> bool {
        match out {
            Out::Raw(i) => self.fields[*i].kind == kind,
            Out::New(n, _) => full_name(n).eq_ignore_ascii_case(name),
        }
    }
}

/// The part of a header value after its first top-level comma (the other values of a combined
/// field), or `None` when it holds one value.
fn after_first_value(v: &str) -> Option<&str> {
    let (mut depth, mut quoted) = (0i32, false);
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => depth += 1,
            b'>' if !quoted => depth -= 1,
            b',' if !quoted && depth <= 0 => return Some(v[i + 1..].trim_start()),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The first value of a possibly combined header value.
pub(crate) fn first_value(v: &str) -> &str {
    match after_first_value(v) {
        Some(rest) => {
            let cut = v.len() - rest.len();
            v[..cut].trim_end().trim_end_matches(',').trim_end()
        }
        None => v,
    }
}

/// RFC 3261 18.2.1 and RFC 3581 4 for a request from `source` whose top Via is `via`: the
/// `received` value to set (the source IP when it differs from the sent-by host, and always
/// when `rport` was asked for) and the `rport` value (the source port, when asked for).
pub fn stamp_params(via: &Via, source: SocketAddr) -> (Option<String>, Option<u16>) {
    let ip = source.ip();
    let same_host = match &via.host {
        Host::V4(a) => IpAddr::V4(*a) == ip,
        Host::V6(a) => IpAddr::V6(*a) == ip,
        Host::Domain(_) => false,
    };
    let rport = via.rport().map(|_| source.port());
    let received = (!same_host || rport.is_some()).then(|| ip.to_string());
    (received, rport)
}

/// The value of Via field `field` (the message's first Via field) with its first value stamped
/// for `source`; `None` when nothing changes.
fn stamped_via_value(msg: &Message, field: usize, source: SocketAddr) -> Option<String> {
    let via = msg.vias().first()?;
    let (received, rport) = stamp_params(via, source);
    if received.is_none() && rport.is_none() {
        return None;
    }
    let mut v = via.clone();
    v.params.0.retain(|(n, _)| {
        !(n.eq_ignore_ascii_case("received") && received.is_some()
            || n.eq_ignore_ascii_case("rport") && rport.is_some())
    });
    if let Some(r) = received {
        v.params
            .0
            .push(("received".into(), Some(compact_str::format_compact!("{r}"))));
    }
    if let Some(p) = rport {
        v.params
            .0
            .push(("rport".into(), Some(compact_str::format_compact!("{p}"))));
    }
    let old = msg.text(msg.fields[field].value.clone());
    Some(match after_first_value(old) {
        Some(rest) if !rest.is_empty() => format!("{v}, {rest}"),
        _ => v.to_string(),
    })
}

impl<'a> Rewrite<'a> {
    fn value_of<'s>(&'s self, out: &'s Out) -> &'s str {
        match out {
            Out::Raw(i) => self.msg.text(self.msg.fields[*i].value.clone()),
            Out::New(_, v) => v,
        }
    }

    fn position(&self, kind: Known, name: &str) -> Option<usize> {
        self.fields.iter().position(|o| self.msg.is(o, kind, name))
    }

    pub fn set_request_uri(&mut self, uri: &str) -> &mut Self {
        if let Some(m) = self.msg.method() {
            self.request_line = Some(format!("{m} {uri} SIP/2.0"));
        }
        self
    }

    pub fn set_max_forwards(&mut self, n: u32) -> &mut Self {
        let new = Out::New(Cow::Borrowed("Max-Forwards"), n.to_string());
        match self.position(Known::MaxForwards, "Max-Forwards") {
            Some(i) => self.fields[i] = new,
            None => self.fields.push(new),
        }
        self
    }

    pub fn push_via(&mut self, value: &str) -> &mut Self {
        self.fields
            .insert(0, Out::New(Cow::Borrowed("Via"), value.to_string()));
        self
    }

    fn pop_first(&mut self, kind: Known, name: &'static str) {
        if let Some(i) = self.position(kind, name) {
            let rest = after_first_value(self.value_of(&self.fields[i])).map(str::to_string);
            match rest {
                Some(rest) if !rest.is_empty() => {
                    self.fields[i] = Out::New(Cow::Borrowed(name), rest)
                }
                _ => {
                    self.fields.remove(i);
                }
            }
        }
    }

    /// Removes the topmost Via value (other values of a combined field stay).
    pub fn pop_via(&mut self) -> &mut Self {
        self.pop_first(Known::Via, "Via");
        self
    }

    /// Sets `received` and `rport` (RFC 3261 18.2.1, RFC 3581 4) on the received topmost Via,
    /// for a request that came from `source` (see [`stamp_params`]).
    pub fn stamp_top_via(&mut self, source: SocketAddr) -> &mut Self {
        let Some(i) = self
            .fields
            .iter()
            .position(|o| matches!(o, Out::Raw(j) if self.msg.fields[*j].kind == Known::Via))
        else {
            return self;
        };
        let Out::Raw(j) = self.fields[i] else {
            return self;
        };
        if let Some(value) = stamped_via_value(self.msg, j, source) {
            let name = self.msg.text(self.msg.fields[j].name.clone()).to_string();
            self.fields[i] = Out::New(Cow::Owned(name), value);
        }
        self
    }

    fn push_top(&mut self, kind: Known, name: &'static str, value: &str) {
        let new = Out::New(Cow::Borrowed(name), value.to_string());
        match self.position(kind, name) {
            Some(i) => self.fields.insert(i, new),
            None => self.fields.push(new),
        }
    }

    pub fn push_record_route(&mut self, value: &str) -> &mut Self {
        self.push_top(Known::RecordRoute, "Record-Route", value);
        self
    }

    pub fn push_route(&mut self, value: &str) -> &mut Self {
        self.push_top(Known::Route, "Route", value);
        self
    }

    pub fn pop_route(&mut self) -> &mut Self {
        self.pop_first(Known::Route, "Route");
        self
    }

    pub fn remove(&mut self, name: &str) -> &mut Self {
        let want = full_name(name).to_string();
        let msg = self.msg;
        self.fields.retain(|o| match o {
            Out::Raw(i) => {
                !full_name(msg.text(msg.fields[*i].name.clone())).eq_ignore_ascii_case(&want)
            }
            Out::New(n, _) => !full_name(n).eq_ignore_ascii_case(&want),
        });
        self
    }

    pub fn append(&mut self, name: &str, value: &str) -> &mut Self {
        self.fields
            .push(Out::New(Cow::Owned(name.to_string()), value.to_string()));
        self
    }

    pub fn set_body(&mut self, body: Bytes, content_type: Option<&str>) -> &mut Self {
        if let Some(ct) = content_type {
            self.remove("Content-Type");
            self.fields
                .push(Out::New(Cow::Borrowed("Content-Type"), ct.to_string()));
        }
        self.body = Some(body);
        self
    }

    /// Serialises; Content-Length is rewritten when the body changed or the received one was
    /// missing or wrong (streams need it, RFC 3261 18.3).
    pub fn finish(&self) -> Bytes {
        let msg = self.msg;
        let body: &[u8] = self.body.as_deref().unwrap_or(msg.body());
        let mut out = BytesMut::with_capacity(msg.as_bytes().len() + 256);
        match (&self.request_line, &msg.start) {
            (Some(l), _) => out.put_slice(l.as_bytes()),
            (None, Start::Request { .. } | Start::Response { .. }) => {
                let first = memchr::memmem::find(msg.as_bytes(), b"\r\n").unwrap_or(0);
                out.put_slice(&msg.as_bytes()[..first]);
            }
        }
        out.put_slice(b"\r\n");
        let cl_ok = self.body.is_none()
            && msg.content_length() == Some(body.len())
            && msg.header_count("Content-Length") == 1;
        for o in &self.fields {
            match o {
                Out::Raw(i) => {
                    if msg.fields[*i].kind == Known::ContentLength && !cl_ok {
                        continue;
                    }
                    out.put_slice(msg.raw_field(*i));
                }
                Out::New(n, v) => {
                    if full_name(n).eq_ignore_ascii_case("Content-Length") && !cl_ok {
                        continue;
                    }
                    out.put_slice(n.as_bytes());
                    out.put_slice(b": ");
                    out.put_slice(v.as_bytes());
                }
            }
            out.put_slice(b"\r\n");
        }
        if !cl_ok {
            // writing into a BytesMut cannot fail (it grows)
            let _ = write!(out, "Content-Length: {}\r\n", body.len());
        }
        out.put_slice(b"\r\n");
        out.put_slice(body);
        out.freeze()
    }
}

/// A response made from a request (`Message::response`).
pub struct ResponseBuilder<'a> {
    msg: &'a Message,
    status: u16,
    reason: String,
    to_tag: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    /// Where the request came from: its top Via gets `received`/`rport` (RFC 3581 4).
    source: Option<SocketAddr>,
}

impl ResponseBuilder<'_> {
    /// The request came from `source`: stamp its top Via in the response (RFC 3261 18.2.1,
    /// RFC 3581 4), as the transport layer would have on receipt.
    pub fn source(&mut self, source: SocketAddr) -> &mut Self {
        self.source = Some(source);
        self
    }

    /// Adds `;tag=` to To unless it already has a tag (RFC 3261 8.2.6.2).
    pub fn to_tag(&mut self, tag: &str) -> &mut Self {
        self.to_tag = Some(tag.to_string());
        self
    }
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        self.headers
            .push((name.to_string(), value.replace(['\r', '\n'], " ")));
        self
    }
    pub fn body(&mut self, content_type: &str, body: &[u8]) -> &mut Self {
        self.body = Some((content_type.to_string(), body.to_vec()));
        self
    }
    pub fn finish(&self) -> Bytes {
        let msg = self.msg;
        let mut out = BytesMut::with_capacity(512);
        // writing into a BytesMut cannot fail (it grows)
        let _ = write!(out, "SIP/2.0 {} {}\r\n", self.status, self.reason);
        let first_via = msg.fields.iter().position(|f| f.kind == Known::Via);
        let stamped = match (self.source, first_via) {
            (Some(src), Some(i)) => stamped_via_value(msg, i, src).map(|v| (i, v)),
            _ => None,
        };
        for (i, f) in msg.fields.iter().enumerate() {
            match f.kind {
                Known::Via if stamped.as_ref().is_some_and(|(j, _)| *j == i) => {
                    if let Some((_, v)) = &stamped {
                        out.put_slice(msg.text(f.name.clone()).as_bytes());
                        out.put_slice(b": ");
                        out.put_slice(v.as_bytes());
                        out.put_slice(b"\r\n");
                    }
                }
                Known::Via | Known::From | Known::CallId | Known::CSeq => {
                    out.put_slice(msg.raw_field(i));
                    out.put_slice(b"\r\n");
                }
                Known::To => {
                    out.put_slice(msg.raw_field(i));
                    let untagged = msg.to().is_some_and(|t| t.tag().is_none());
                    if let (Some(tag), true) = (&self.to_tag, untagged) {
                        out.put_slice(b";tag=");
                        out.put_slice(tag.as_bytes());
                    }
                    out.put_slice(b"\r\n");
                }
                _ => {}
            }
        }
        for (n, v) in &self.headers {
            let _ = write!(out, "{n}: {v}\r\n");
        }
        match &self.body {
            Some((ct, b)) => {
                let _ = write!(
                    out,
                    "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                );
                out.put_slice(b);
            }
            None => out.put_slice(b"Content-Length: 0\r\n\r\n"),
        }
        // exactly its length: a final response is kept 32 s by its server transaction (timer
        // J), and the 512 bytes of working capacity were a third of the heap of 100,000
        // registrations (BENCHMARKS.md)
        Bytes::copy_from_slice(&out)
    }
}

/// Fields shared by ACK and CANCEL (RFC 3261 17.1.1.3 and 9.1): the Request-URI, the top Via
/// only, Route, From, Call-ID, CSeq number with the new method.
fn hop_request(invite: &Message, method: &str, to_raw: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(512);
    let ruri = invite.request_uri_str().unwrap_or("");
    // writing into a BytesMut cannot fail (it grows)
    let _ = write!(out, "{method} {ruri} SIP/2.0\r\n");
    if let Some(v) = invite.header_values("Via").next() {
        let _ = write!(out, "Via: {}\r\n", first_value(v));
    }
    for (i, f) in invite.fields.iter().enumerate() {
        if matches!(f.kind, Known::Route | Known::From | Known::CallId) {
            out.put_slice(invite.raw_field(i));
            out.put_slice(b"\r\n");
        }
    }
    out.put_slice(b"To: ");
    out.put_slice(to_raw);
    out.put_slice(b"\r\n");
    let n = invite.cseq().map(|(n, _)| n).unwrap_or(1);
    let _ = write!(
        out,
        "CSeq: {n} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    out.freeze()
}

/// RFC 3261 17.1.1.3: the ACK for a non-2xx final `response` to `invite` (To from the response).
pub fn build_ack(invite: &Message, response: &Message) -> Bytes {
    let to = response.header("To").or(invite.header("To")).unwrap_or("");
    hop_request(invite, "ACK", to.as_bytes())
}

/// RFC 3261 9.1: the CANCEL of `invite`.
pub fn build_cancel(invite: &Message) -> Bytes {
    let to = invite.header("To").unwrap_or("");
    hop_request(invite, "CANCEL", to.as_bytes())
}
