//! A glance at a message without parsing it: its start line and the fields that name its
//! dialog and transaction (Call-ID, the CSeq method, whether To has a tag), for a watcher that
//! sees every message and acts on few (the node's call history, on its own thread). About a
//! tenth of a full parse: no typed values, no allocation.
//!
//! Shares the field splitting with `parse` (`field_end`, compact names through `known`), so a
//! field is found where the parser finds it. Tolerant by design: what it cannot read is absent,
//! never an error; whoever needs the typed values parses the message.

use super::parse::{field_end, known, Known, CRLF, HEAD_END};

/// What [`peek`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peek<'a> {
    /// The start line without its CRLF.
    pub start_line: &'a str,
    pub call_id: Option<&'a str>,
    /// The CSeq's method token.
    pub cseq_method: Option<&'a str>,
    /// To carries a `tag` parameter (the request is within a dialog; a response from a UAS).
    pub to_tag: bool,
    /// The From and To values as written (display name, URI, parameters).
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

impl Peek<'_> {
    /// The request's method token; `None` for a response.
    pub fn method(&self) -> Option<&str> {
        if self.start_line.starts_with("SIP/") {
            None
        } else {
            self.start_line.split(' ').next()
        }
    }

    /// A response's status code and reason phrase.
    pub fn status(&self) -> Option<(u16, &str)> {
        let rest = self.start_line.strip_prefix("SIP/")?;
        let mut parts = rest.splitn(3, ' ');
        let _version = parts.next()?;
        let code = parts.next()?.parse().ok()?;
        Some((code, parts.next().unwrap_or("")))
    }
}

/// The start line and dialog fields of the message at the start of `buf`; `None` when its
/// header section is not text or has no start line.
pub fn peek(buf: &[u8]) -> Option<Peek<'_>> {
    // RFC 3261 7.5: CRLFs before the start line are ignored, as `Message::parse_with` does
    let offset = buf.iter().position(|b| *b != b'\r' && *b != b'\n')?;
    let buf = &buf[offset..];
    let end = HEAD_END.find(buf).unwrap_or(buf.len());
    // simdutf8 as in `Message::parse_with`
    let head = simdutf8::basic::from_utf8(&buf[..end]).ok()?;
    let hb = head.as_bytes();
    let first = CRLF.find(hb).unwrap_or(head.len());
    let mut p = Peek {
        start_line: head.get(..first)?,
        call_id: None,
        cseq_method: None,
        to_tag: false,
        from: None,
        to: None,
    };
    if p.start_line.is_empty() {
        return None;
    }
    let mut pos = first + 2;
    while pos < head.len() {
        let end = field_end(hb, pos);
        let line = head.get(pos..end).unwrap_or("");
        pos = end + 2;
        let Some(colon) = memchr::memchr(b':', line.as_bytes()) else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        match known(name.trim_end_matches([' ', '\t'])) {
            Known::CallId if p.call_id.is_none() => p.call_id = Some(value.trim()),
            Known::CSeq if p.cseq_method.is_none() => {
                p.cseq_method = value.split_whitespace().nth(1);
            }
            Known::To if p.to.is_none() => {
                p.to = Some(value.trim());
                p.to_tag = has_tag(value);
            }
            Known::From if p.from.is_none() => p.from = Some(value.trim()),
            _ => {}
        }
        // only the first of each field counts: once all four are read, the rest of the head
        // (Contact, Content-Type, ... after them in most messages) cannot change the answer
        if p.call_id.is_some() && p.cseq_method.is_some() && p.to.is_some() && p.from.is_some() {
            break;
        }
    }
    Some(p)
}

/// The URI of a From/To value as written: inside `<>`, else up to the header parameters.
pub fn written_uri(value: &str) -> &str {
    match split_name_addr(value.as_bytes()).and_then(|(uri, _)| value.get(uri)) {
        Some(uri) => uri,
        None => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// Whether the first `tag` header parameter of a From/To value has a value, as the parser's
/// `NameAddr::tag` reads it: the parameters after the `>` of a name-addr, or after the URI of
/// an addr-spec (whose own parameters are then header parameters, RFC 3261 20.10). A bare
/// `;tag` is no tag (tag-param is `"tag" EQUAL token`), and a `;` or `>` inside a quoted or
/// bracketed parameter value separates nothing.
fn has_tag(value: &str) -> bool {
    let b = value.as_bytes();
    let Some((_, mut i)) = split_name_addr(b) else {
        return false;
    };
    let (mut quoted, mut bracketed) = (false, false);
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' if !bracketed => quoted = !quoted,
            // the parser reads `[..]` only as a whole value (an IPv6 reference): a `[` inside
            // a token value is a plain byte
            b'[' if !quoted && value_starts(&b[..i]) => bracketed = true,
            b']' if !quoted => bracketed = false,
            b';' if !quoted && !bracketed => {
                let rest = value
                    .get(i + 1..)
                    .unwrap_or("")
                    .trim_start_matches([' ', '\t']);
                let name_len = rest.find(['=', ';', ' ', '\t']).unwrap_or(rest.len());
                if rest[..name_len].eq_ignore_ascii_case("tag") {
                    return rest[name_len..]
                        .trim_start_matches([' ', '\t'])
                        .starts_with('=');
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Whether a parameter value starts after `before`: its last non-blank byte is `=`.
fn value_starts(before: &[u8]) -> bool {
    before.iter().rev().find(|c| !matches!(c, b' ' | b'\t')) == Some(&b'=')
}

/// Where the URI of a From/To value is and where its header parameters begin, as the parser
/// reads them: inside the `<>` of a name-addr (a quoted display name skipped), or an addr-spec
/// up to its first `;`, `,`, blank or `?`.
fn split_name_addr(b: &[u8]) -> Option<(std::ops::Range<usize>, usize)> {
    let lead = b.iter().position(|c| !matches!(c, b' ' | b'\t'))?;
    let mut i = lead;
    if b[i] == b'"' {
        i += 1;
        while *b.get(i)? != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
    } else if !super::grammar::lt_before_comma(&b[i..]) {
        let end = b[i..]
            .iter()
            .position(|c| matches!(c, b';' | b',' | b' ' | b'\t' | b'?'));
        let end = end.map_or(b.len(), |e| i + e);
        return Some((lead..end, end));
    }
    let lt = i + memchr::memchr(b'<', &b[i..])?;
    let gt = lt + memchr::memchr(b'>', &b[lt..])?;
    Some((lt + 1..gt, gt + 1))
}

#[cfg(test)]
mod tests;
