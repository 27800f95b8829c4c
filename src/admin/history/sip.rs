//! Which call a SIP message belongs to and what it does to it, for the call history: a call is
//! an INVITE dialog, named by its Call-ID (the same on every hop of a proxied call, so the
//! ladders of E and C name it alike). An initial INVITE (no To tag) starts one; any message
//! with the Call-ID of a kept call joins it; the rest (REGISTER, OPTIONS, messages of calls
//! no longer kept) is not a call's.
//!
//! What a proxy sends upstream (a response going out) is what the caller is told, so a final
//! failure going out ends an unanswered call; a 2xx to the INVITE answers it; a BYE ends it.
//! Must not keep state: the store does. What the ladder shows of a message (`describe`) is
//! worked out when it is read.

use super::store::{Dir, Effect};
use causeway_sip::message::{peek, written_uri};

/// Longest text kept for one message (a SIP message is at most 64 KiB on a stream).
pub const MAX_TEXT: usize = 32 * 1024;

/// One SIP message as the history sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen<'a> {
    /// Borrowed: most messages join a call already kept, and need no copy of it.
    pub call_id: &'a str,
    /// (From, To) when this message starts a call (an initial INVITE).
    pub start: Option<(String, String)>,
    pub effect: Effect,
}

/// `None` for bytes that are not a SIP message with a Call-ID (they belong to no call). A
/// glance (`peek`), no parse: this runs for every message the node sends or receives.
pub fn classify(data: &[u8], dir: Dir) -> Option<Seen<'_>> {
    let p = peek(data)?;
    let call_id = p.call_id?;
    let effect = match (p.method(), p.status()) {
        (Some("BYE"), _) => Effect::Ended("completed".into()),
        (Some(_), _) => Effect::None,
        (None, Some((status, reason))) => response_effect(p.cseq_method?, status, reason, dir),
        (None, None) => return None,
    };
    let start = (p.method() == Some("INVITE") && !p.to_tag).then(|| {
        let uri = |v: Option<&str>| v.map(|v| written_uri(v).to_string()).unwrap_or_default();
        (uri(p.from), uri(p.to))
    });
    Some(Seen {
        call_id,
        start,
        effect,
    })
}

/// A kept message as the ladder shows it: its summary (the request line without the version,
/// or the status with the CSeq method) and its text, cut at `MAX_TEXT`.
pub fn describe(data: &[u8]) -> (String, String) {
    let summary = match peek(data) {
        Some(p) => match (p.method(), p.status(), p.cseq_method) {
            (Some(_), _, _) => {
                let line = p.start_line;
                line.strip_suffix(" SIP/2.0").unwrap_or(line).to_string()
            }
            (None, Some((status, reason)), Some(m)) => format!("{status} {reason} ({m})"),
            _ => p.start_line.to_string(),
        },
        None => "(not SIP)".to_string(),
    };
    (summary, text_of(data))
}

/// A response's effect on its call: 2xx to INVITE answers; a final failure to INVITE that
/// goes out (towards the caller) ends it unanswered.
fn response_effect(method: &str, status: u16, reason: &str, dir: Dir) -> Effect {
    if method != "INVITE" {
        return Effect::None;
    }
    match status {
        200..=299 => Effect::Answered,
        300..=699 if dir == Dir::Out => Effect::Ended(if status == 487 {
            "cancelled".into()
        } else {
            format!("{status} {reason}")
        }),
        _ => Effect::None,
    }
}

/// The message as text, cut at `MAX_TEXT` (a binary body shows as replacement characters).
fn text_of(data: &[u8]) -> String {
    let end = data.len().min(MAX_TEXT);
    let mut text = String::from_utf8_lossy(&data[..end]).into_owned();
    if data.len() > end {
        text.push_str("\n… (cut)");
    }
    text
}
