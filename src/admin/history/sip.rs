//! Which call a SIP message belongs to and what it does to it, for the call history: a call is
//! an INVITE dialog, named by its Call-ID (the same on every hop of a proxied call, so the
//! ladders of E and C name it alike). An initial INVITE (no To tag) starts one; any message
//! with the Call-ID of a kept call joins it; the rest (REGISTER, OPTIONS, messages of calls
//! no longer kept) is not a call's.
//!
//! What a proxy sends upstream (a response going out) is what the caller is told, so a final
//! failure going out ends an unanswered call; a 2xx to the INVITE answers it; a BYE ends it.
//! Must not keep state: the store does.

use super::store::{Dir, Effect};
use causeway_sip::message::Bytes;
use causeway_sip::message::{peek, Message, NameAddr};

/// Longest text kept for one message (a SIP message is at most 64 KiB on a stream).
const MAX_TEXT: usize = 32 * 1024;

/// One SIP message as the history sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    pub call_id: String,
    /// (From, To) when this message starts a call (an initial INVITE).
    pub start: Option<(String, String)>,
    pub summary: String,
    pub text: String,
    pub effect: Effect,
}

/// `None` for bytes that are not a SIP message with a Call-ID (they belong to no call). Most
/// messages are only glanced at (`peek`); an initial INVITE is parsed for its From and To.
pub fn classify(data: &Bytes, dir: Dir) -> Option<Seen> {
    let p = peek(data)?;
    let call_id = p.call_id?.to_string();
    let (summary, effect) = match (p.method(), p.status()) {
        (Some(m), _) => {
            let line = p.start_line;
            let summary = line.strip_suffix(" SIP/2.0").unwrap_or(line).to_string();
            let effect = if m == "BYE" {
                Effect::Ended("completed".into())
            } else {
                Effect::None
            };
            (summary, effect)
        }
        (None, Some((status, reason))) => {
            let m = p.cseq_method?;
            let effect = response_effect(m, status, reason, dir);
            (format!("{status} {reason} ({m})"), effect)
        }
        (None, None) => return None,
    };
    let start = if p.method() == Some("INVITE") && !p.to_tag {
        let msg = Message::parse(data.clone()).ok()?;
        let uri = |n: Option<&NameAddr>| n.map(|n| n.uri.to_string()).unwrap_or_default();
        Some((uri(msg.from()), uri(msg.to())))
    } else {
        None
    };
    Some(Seen {
        call_id,
        start,
        summary,
        text: text_of(data),
        effect,
    })
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
