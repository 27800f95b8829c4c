//! RFC 3261 8.2 and 16.3 request validation, and the response sanity check of 16.7: which
//! messages a proxy must refuse, with which status, and why. The answers for the RFC 4475
//! torture cases (400, 505, 416, 420, drop) come from here.
//!
//! Reads `Message` only; building the rejection response is the caller's job.

use super::parse::Message;
use super::types::Defect;

/// Why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// Whole reason phrase, naming the fault.
    pub reason: String,
    /// Option tags for an `Unsupported` header (420).
    pub unsupported: Vec<String>,
}

impl Rejection {
    fn bad(why: impl std::fmt::Display) -> Rejection {
        Rejection {
            status: 400,
            reason: format!("Bad Request ({why})"),
            unsupported: Vec::new(),
        }
    }
}

const SINGLETONS: &[&str] = &[
    "Call-ID",
    "To",
    "From",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
];

pub fn check_request(
    msg: &Message,
    supported_schemes: &[&str],
    supported_extensions: &[&str],
) -> Result<(), Rejection> {
    if let Some(d) = msg.defect() {
        return Err(Rejection {
            status: d.status,
            reason: d.reason.clone(),
            unsupported: Vec::new(),
        });
    }
    for (name, present) in [
        ("Via", !msg.vias().is_empty()),
        ("To", msg.to().is_some()),
        ("From", msg.from().is_some()),
        ("Call-ID", msg.call_id().is_some()),
        ("CSeq", msg.cseq().is_some()),
    ] {
        if !present {
            return Err(Rejection::bad(format!("missing {name} header")));
        }
    }
    for name in SINGLETONS {
        if msg.header_count(name) > 1 {
            let mut values = msg.header_values(name).map(str::trim);
            let first = values.next();
            if values.any(|v| Some(v) != first) {
                return Err(Rejection::bad(format!("multiple {name} headers")));
            }
        }
    }
    if let (Some(m), Some((_, cm))) = (msg.method(), msg.cseq()) {
        if m != cm {
            return Err(Rejection::bad(format!(
                "CSeq method {cm} does not match the request method {m}"
            )));
        }
    }
    if let Some(uri) = msg.request_uri() {
        let scheme = uri.scheme();
        if !supported_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme))
        {
            return Err(Rejection {
                status: 416,
                reason: format!("Unsupported URI Scheme ({scheme})"),
                unsupported: Vec::new(),
            });
        }
    }
    let unsupported: Vec<String> = msg
        .tokens("Proxy-Require")
        .into_iter()
        .filter(|t| {
            !supported_extensions
                .iter()
                .any(|s| s.eq_ignore_ascii_case(t))
        })
        .map(str::to_string)
        .collect();
    if !unsupported.is_empty() {
        return Err(Rejection {
            status: 420,
            reason: "Bad Extension".to_string(),
            unsupported,
        });
    }
    Ok(())
}

/// A response a proxy may process; otherwise it is dropped (RFC 4475 3.1.2.5, 3.1.2.19).
pub fn check_response(msg: &Message) -> Result<(), Defect> {
    if let Some(d) = msg.defect() {
        return Err(d.clone());
    }
    if msg.vias().is_empty()
        || msg.cseq().is_none()
        || msg.call_id().is_none()
        || msg.from().is_none()
        || msg.to().is_none()
    {
        return Err(Defect::bad("response lacks Via, CSeq, Call-ID, From or To"));
    }
    for name in SINGLETONS {
        if msg.header_count(name) > 1 {
            return Err(Defect::bad(format!("multiple {name} headers")));
        }
    }
    Ok(())
}
