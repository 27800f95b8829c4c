//! Ending an anchored call from the middle: what the node remembers of a call from its INVITE
//! and 2xx (the Record-Route set, both Contacts, From/To with tags, CSeq) so that, when the
//! relay reports the call's media dead, it can send each side the BYE the other side would
//! have sent (RFC 3261 15.1.1, 12.2.1.1: Request-URI = remote target, Route = the part of the
//! route set between us and that side).
//!
//! Pure: builds request text and says where it goes first; sending is the core's.

use super::flows::FLOW_PARAM;
use super::links::link_of_route;
use crate::message::{Contacts, Message, NameAddr, Uri};

/// One BYE, towards one side of the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bye {
    pub ruri: String,
    /// Route values, in the order they go into the request.
    pub routes: Vec<String>,
    pub from: String,
    pub to: String,
    pub cseq: u32,
    /// The traversal zone our own Record-Route entry facing this side names: the BYE goes
    /// down that link.
    pub link: Option<String>,
    /// The flow token our own entry facing this side carries: the BYE goes down that flow
    /// (a UA behind a NAT, RFC 5626 5.3).
    pub flow: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Teardown {
    pub call_id: String,
    /// [towards the caller, towards the callee]
    pub sides: [Bye; 2],
}

/// CSeq for the BYE to the caller: the callee's CSeq space is unknown to us; RFC 3261 12.2.1.1
/// only asks for more than what it used, and a fresh callee rarely gets far.
const CALLEE_CSEQ: u32 = 1 << 30;

fn contact_uri(m: &Message) -> Option<String> {
    match m.contacts()? {
        Contacts::List(l) => l.first().map(|c| c.uri.to_string()),
        Contacts::Star => None,
    }
}

fn flow_param(u: &Uri) -> Option<String> {
    match u {
        Uri::Sip(s) => s.params.get(FLOW_PARAM).flatten().map(str::to_string),
        _ => None,
    }
}

fn value(n: &NameAddr) -> String {
    n.to_string()
}

/// What to remember of a call from its INVITE and the 2xx that established it; `ours` tells
/// our own Record-Route entries. `None` when we are not on the route set (no teardown then).
pub fn capture(
    invite: &Message,
    ok: &Message,
    mut ours: impl FnMut(&Uri) -> bool,
) -> Option<Teardown> {
    let call_id = invite.call_id()?.to_string();
    let rr = ok.record_routes();
    let own: Vec<bool> = rr.iter().map(|r| ours(&r.uri)).collect();
    let first = own.iter().position(|o| *o)?;
    let last = own.iter().rposition(|o| *o)?;
    let caller_from = invite.header("From")?.to_string();
    let callee_to = ok.header("To")?.to_string();
    let (invite_cseq, _) = invite.cseq()?;
    let to_caller = Bye {
        ruri: contact_uri(invite)?,
        routes: rr[last + 1..].iter().map(value).collect(),
        from: callee_to.clone(),
        to: caller_from.clone(),
        cseq: CALLEE_CSEQ,
        link: link_of_route(&rr[last].uri),
        flow: flow_param(&rr[last].uri),
    };
    let to_callee = Bye {
        ruri: contact_uri(ok)?,
        routes: rr[..first].iter().rev().map(value).collect(),
        from: caller_from,
        to: callee_to,
        cseq: invite_cseq.saturating_add(1),
        link: link_of_route(&rr[first].uri),
        flow: flow_param(&rr[first].uri),
    };
    Some(Teardown {
        call_id,
        sides: [to_caller, to_callee],
    })
}

impl Bye {
    /// The request text with our Via on top.
    pub fn render(&self, call_id: &str, via: &str, reason: &str) -> String {
        let mut m = format!(
            "BYE {} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n",
            self.ruri
        );
        for r in &self.routes {
            m.push_str(&format!("Route: {r}\r\n"));
        }
        m.push_str(&format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {call_id}\r\nCSeq: {} BYE\r\n\
             Reason: SIP;text=\"{reason}\"\r\nContent-Length: 0\r\n\r\n",
            self.from, self.to, self.cseq
        ));
        m
    }

    /// Where the request goes first when not down a link: the first Route, else the target.
    pub fn next_hop_uri(&self) -> Option<Uri> {
        let first = match self.routes.first() {
            Some(r) => r.trim().trim_start_matches('<'),
            None => self.ruri.as_str(),
        };
        let end = first.find('>').unwrap_or(first.len());
        Uri::parse(&first[..end]).ok()
    }
}

#[cfg(test)]
mod tests;
