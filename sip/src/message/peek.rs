//! A glance at a message without parsing it: its start line and the fields that name its
//! dialog and transaction (Call-ID, the CSeq method, whether To has a tag), for a watcher that
//! sees every message and acts on few (the node's call history, on its own thread). About a
//! tenth of a full parse: no typed values, no allocation.
//!
//! Shares the field splitting with `parse` (`field_end`, compact names through `known_bytes`),
//! so a field is found where the parser finds it. Tolerant by design: what it cannot read is
//! absent, never an error; whoever needs the typed values parses the message.

use super::parse::{field_end, known_bytes, Known, CRLF};

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

/// The start line and dialog fields of the message at the start of `buf`; `None` when it has no
/// start line, or when what is read is not text.
///
/// Walks the lines as the parser's `find_lines` does, and stops at the end of the header
/// section or once the four fields are read. Finding the section's end first (a search for
/// CRLF CRLF, where every line end is a candidate) and checking all of it as UTF-8 cost more
/// than the walk (callgrind, the node at cps.sh's call), for fields that sit near the top of
/// most messages. So the names are matched as bytes, and the text is checked once, up to the
/// end of the last field read: the start line and the fields above it.
pub fn peek(buf: &[u8]) -> Option<Peek<'_>> {
    // RFC 3261 7.5: CRLFs before the start line are ignored, as `Message::parse_with` does
    let offset = buf.iter().position(|b| *b != b'\r' && *b != b'\n')?;
    let hb = &buf[offset..];
    let first = CRLF.find(hb).unwrap_or(hb.len());
    // the values' ranges in `hb`; the CSeq's method is read at once (a CSeq without one does
    // not count: the next CSeq is read)
    let (mut call_id, mut from, mut to) = (None, None, None);
    let mut cseq_method = None;
    let mut read_to = first;
    let mut end = first;
    // each turn: `end` is a line's end (its CRLF); a CRLF right after it ends the section
    while end < hb.len() && hb.get(end + 2..end + 4) != Some(b"\r\n") {
        let pos = end + 2;
        end = field_end(hb, pos);
        let line = &hb[pos.min(end)..end];
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let value = pos + colon + 1..end;
        match known_bytes(trim_blank_end(&line[..colon])) {
            Known::CallId if call_id.is_none() => call_id = Some(value),
            Known::From if from.is_none() => from = Some(value),
            Known::To if to.is_none() => to = Some(value),
            Known::CSeq if cseq_method.is_none() => {
                let text = std::str::from_utf8(&hb[value]).ok()?;
                cseq_method = text.split_whitespace().nth(1);
            }
            _ => continue,
        }
        read_to = end;
        // only the first of each field counts: once all four are read, the rest of the head
        // (Contact, Content-Type, ... after them in most messages) cannot change the answer
        if call_id.is_some() && cseq_method.is_some() && to.is_some() && from.is_some() {
            break;
        }
    }
    // simdutf8 as in `Message::parse_with`
    let head = simdutf8::basic::from_utf8(&hb[..read_to]).ok()?;
    let field = |r: &Option<std::ops::Range<usize>>| r.clone().and_then(|r| head.get(r));
    let to = field(&to);
    let p = Peek {
        start_line: head.get(..first)?,
        call_id: field(&call_id).map(str::trim),
        cseq_method,
        to_tag: to.is_some_and(has_tag),
        from: field(&from).map(str::trim),
        to: to.map(str::trim),
    };
    (!p.start_line.is_empty()).then_some(p)
}

/// What separates words in a field as `peek` sees it: blanks, and the CR and LF of a line fold
/// (RFC 3261 25.1, LWS), which `peek` leaves in place where the parser unfolds them.
const BLANKS: [char; 4] = [' ', '\t', '\r', '\n'];

fn is_blank(c: u8) -> bool {
    BLANKS.contains(&char::from(c))
}

/// `b` without the blanks (and folds) at its end (a name before its colon).
fn trim_blank_end(b: &[u8]) -> &[u8] {
    let n = b.iter().rposition(|c| !is_blank(*c)).map_or(0, |i| i + 1);
    &b[..n]
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
                let rest = value.get(i + 1..).unwrap_or("").trim_start_matches(BLANKS);
                let name_len = rest
                    .find(|c| c == '=' || c == ';' || BLANKS.contains(&c))
                    .unwrap_or(rest.len());
                if rest[..name_len].eq_ignore_ascii_case("tag") {
                    return rest[name_len..].trim_start_matches(BLANKS).starts_with('=');
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
    before.iter().rev().find(|c| !is_blank(**c)) == Some(&b'=')
}

/// Where the URI of a From/To value is and where its header parameters begin, as the parser
/// reads them: inside the `<>` of a name-addr (a quoted display name skipped), or an addr-spec
/// up to its first `;`, `,`, blank or `?`.
fn split_name_addr(b: &[u8]) -> Option<(std::ops::Range<usize>, usize)> {
    let lead = b.iter().position(|c| !is_blank(*c))?;
    let mut i = lead;
    if b[i] == b'"' {
        i += 1;
        while *b.get(i)? != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
    } else if !super::grammar::lt_before_comma(&b[i..]) {
        let end = b[i..]
            .iter()
            .position(|c| matches!(c, b';' | b',' | b'?') || is_blank(*c));
        let end = end.map_or(b.len(), |e| i + e);
        return Some((lead..end, end));
    }
    let lt = i + memchr::memchr(b'<', &b[i..])?;
    let gt = lt + memchr::memchr(b'>', &b[lt..])?;
    Some((lt + 1..gt, gt + 1))
}

#[cfg(test)]
mod tests;
