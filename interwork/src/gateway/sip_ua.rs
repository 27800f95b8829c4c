//! The gateway's SIP leg as a user agent (RFC 3261 12, 13, 15): the dialog it keeps with the
//! far UA (through the node's proxy), the requests it builds in and out of that dialog, and
//! its transactions (`causeway_sip::transaction`, UDP to the proxy on loopback).
//!
//! Every request goes to the proxy's address (the outbound proxy of RFC 3261 8.1.2), with
//! the dialog's route set as Route headers; the proxy routes on from there. Values and
//! transaction bookkeeping only; which request to send when is the call flows'.

use bytes::Bytes;
use causeway_sip::message::{Contacts, Message, Uri};
use causeway_sip::transaction::{Client, Server, TimerConfig};
use rand::RngCore;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A random token for tags, branches and Call-IDs.
pub fn token(rng: &mut dyn RngCore) -> String {
    format!("{:016x}", rng.next_u64())
}

/// One SIP dialog of the gateway (the UAS or the UAC end).
#[derive(Debug)]
pub struct Dialog {
    pub call_id: String,
    /// Our From (UAC) or To (UAS) header value, tag included.
    pub local: String,
    /// The far end's header value, tag included once known.
    pub remote: String,
    pub remote_target: String,
    /// Route headers of in-dialog requests, in the order they are sent.
    pub route_set: Vec<String>,
    pub cseq: u32,
}

impl Dialog {
    /// The UAS end, from the INVITE received (RFC 3261 12.1.1).
    pub fn uas(invite: &Message, tag: &str) -> Option<Dialog> {
        let to = invite.header("To")?;
        Some(Dialog {
            call_id: invite.call_id()?.to_string(),
            local: format!("{to};tag={tag}"),
            remote: invite.header("From")?.to_string(),
            remote_target: contact_uri(invite)
                .or_else(|| invite.request_uri_str().map(str::to_string))?,
            route_set: invite
                .header_values("Record-Route")
                .flat_map(split_list)
                .collect(),
            cseq: 1,
        })
    }

    /// The UAC end once a 2xx (or a 1xx with a tag) came (RFC 3261 12.1.2): the far tag,
    /// target and the reversed Record-Route.
    pub fn confirm(&mut self, resp: &Message) {
        if let Some(to) = resp.header("To") {
            self.remote = to.to_string();
        }
        if let Some(c) = contact_uri(resp) {
            self.remote_target = c;
        }
        let mut rr: Vec<String> = resp
            .header_values("Record-Route")
            .flat_map(split_list)
            .collect();
        rr.reverse();
        self.route_set = rr;
    }

    /// An in-dialog request (BYE, re-INVITE, INFO; ACK with the INVITE's CSeq number).
    pub fn request(
        &mut self,
        method: &str,
        me: SocketAddr,
        branch: &str,
        body: Option<(&str, &[u8])>,
    ) -> Bytes {
        let cseq = if method == "ACK" {
            self.cseq
        } else {
            self.cseq += 1;
            self.cseq
        };
        self.build(method, cseq, me, branch, body)
    }

    pub fn build(
        &self,
        method: &str,
        cseq: u32,
        me: SocketAddr,
        branch: &str,
        body: Option<(&str, &[u8])>,
    ) -> Bytes {
        let mut s = format!(
            "{method} {} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\n",
            self.remote_target
        );
        for r in &self.route_set {
            s.push_str(&format!("Route: {r}\r\n"));
        }
        s.push_str(&format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\nContact: <sip:gw@{me}>\r\nUser-Agent: causeway interworking\r\n",
            self.local, self.remote, self.call_id
        ));
        finish(s, body)
    }
}

fn finish(mut s: String, body: Option<(&str, &[u8])>) -> Bytes {
    match body {
        Some((ct, b)) => {
            s.push_str(&format!(
                "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                b.len()
            ));
            let mut v = s.into_bytes();
            v.extend_from_slice(b);
            Bytes::from(v)
        }
        None => {
            s.push_str("Content-Length: 0\r\n\r\n");
            Bytes::from(s)
        }
    }
}

/// The first Contact's URI (in angle brackets in what we send on).
fn contact_uri(m: &Message) -> Option<String> {
    match m.contacts()? {
        Contacts::List(v) => v.first().map(|c| c.uri.to_string()),
        Contacts::Star => None,
    }
}

/// The Record-Route values of a request, in order.
pub fn record_routes(m: &Message) -> Vec<String> {
    m.header_values("Record-Route")
        .map(str::to_string)
        .collect()
}

/// A header value list split at top-level commas (Record-Route may carry several).
fn split_list(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(v[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[start..].trim().to_string());
    out.retain(|s| !s.is_empty());
    out
}

/// The initial INVITE of a call from H.323 (the UAC end): returns the request and the dialog
/// it starts.
pub struct NewInvite<'a> {
    pub ruri: &'a str,
    pub from_user: &'a str,
    pub display: Option<&'a str>,
    pub me: SocketAddr,
    pub sdp: Option<&'a [u8]>,
}

pub fn invite(n: &NewInvite<'_>, rng: &mut dyn RngCore) -> (Bytes, Dialog, String) {
    let branch = token(rng);
    let tag = token(rng);
    let call_id = format!("{}@{}", token(rng), n.me.ip());
    let display = n
        .display
        .map(|d| d.replace(['"', '\\', '\r', '\n'], ""))
        .filter(|d| !d.is_empty())
        .map(|d| format!("\"{d}\" "))
        .unwrap_or_default();
    let user = escape_user(n.from_user);
    let d = Dialog {
        call_id,
        local: format!("{display}<sip:{user}@{}>;tag={tag}", n.me.ip()),
        remote: format!("<{}>", n.ruri),
        remote_target: n.ruri.to_string(),
        route_set: Vec::new(),
        cseq: 1,
    };
    let body = n.sdp.map(|b| ("application/sdp", b));
    let bytes = d.build("INVITE", 1, n.me, &branch, body);
    (bytes, d, branch)
}

/// A SIP user part (RFC 3261 25.1 `user`): unreserved and user-unreserved characters kept,
/// every other byte %-escaped.
pub fn escape_user(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("anonymous");
    }
    out
}

/// The user part of a Request-URI, unescaped (what the SIP caller dialled).
pub fn ruri_user(m: &Message) -> Option<String> {
    match m.request_uri()? {
        Uri::Sip(u) => u
            .user_unescaped()
            .and_then(|v| String::from_utf8(v).ok())
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// The caller of an INVITE: From's user part and display name (quotes removed).
pub fn caller_of(m: &Message) -> (Option<String>, Option<String>) {
    let Some(f) = m.from() else {
        return (None, None);
    };
    let user = match &f.uri {
        Uri::Sip(u) => u.user_unescaped().and_then(|v| String::from_utf8(v).ok()),
        _ => None,
    };
    let display = f
        .display
        .as_ref()
        .map(|d| d.trim().trim_matches('"').to_string())
        .filter(|d| !d.is_empty());
    (user, display)
}

/// The INVITE server transaction of a call from SIP, with the RFC 3261 13.3.1.4
/// retransmission of its 2xx until the ACK comes.
#[derive(Debug)]
pub struct Uas {
    pub invite: Message,
    pub tx: Server,
    pub tag: String,
    ok: Option<(Bytes, Instant, Duration, Instant)>,
}

impl Uas {
    pub fn new(invite: Message, tag: String, now: Instant, t: &TimerConfig) -> Uas {
        Uas {
            invite,
            tx: Server::new(true, false, now, t),
            tag,
            ok: None,
        }
    }

    /// A response to the INVITE; a 2xx is kept for retransmission until [`Uas::acked`].
    pub fn respond(
        &mut self,
        status: u16,
        reason: &str,
        sdp: Option<&[u8]>,
        me: SocketAddr,
        now: Instant,
        t: &TimerConfig,
    ) -> Option<Bytes> {
        let mut b = self.invite.response(status, reason);
        if status > 100 {
            b.to_tag(&self.tag);
        }
        if (101..300).contains(&status) {
            b.header("Contact", &format!("<sip:gw@{me}>"));
            // RFC 3261 12.1.1: the UAS copies Record-Route into its dialog-making responses,
            // or the caller's ACK and BYE go to our loopback Contact from wherever it is
            for r in record_routes(&self.invite) {
                b.header("Record-Route", &r);
            }
        }
        if let Some(sdp) = sdp {
            b.body("application/sdp", sdp);
        }
        let bytes = b.finish();
        if (200..300).contains(&status) {
            self.ok = Some((bytes.clone(), now + t.t1, t.t1, now + t.t1x64()));
        }
        self.tx.respond(status, bytes, now)
    }

    pub fn acked(&mut self) {
        self.ok = None;
    }

    /// Our 2xx is out and not acknowledged yet.
    pub fn awaiting_ack(&self) -> bool {
        self.ok.is_some()
    }

    /// Whether the 2xx went unacknowledged for 64*T1 (the call is then ended with a BYE).
    pub fn handle_timeout(&mut self, now: Instant, t: &TimerConfig) -> (Option<Bytes>, bool) {
        let _ = self.tx.handle_timeout(now);
        let Some((bytes, at, interval, give_up)) = self.ok.as_mut() else {
            return (None, false);
        };
        if now >= *give_up {
            self.ok = None;
            return (None, true);
        }
        if now >= *at {
            *interval = (*interval * 2).min(t.t2);
            *at = now + *interval;
            return (Some(bytes.clone()), false);
        }
        (None, false)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let ok = self
            .ok
            .as_ref()
            .map(|(_, at, _, give_up)| (*at).min(*give_up));
        [ok, self.tx.poll_timeout()].into_iter().flatten().min()
    }
}

/// A client transaction of the gateway (its INVITE, or a BYE/CANCEL), keyed by branch.
#[derive(Debug)]
pub struct Uac {
    pub branch: String,
    pub method: &'static str,
    /// An INVITE inside the dialog (hold, resume), not the call's first.
    pub reinvite: bool,
    pub request: Message,
    pub tx: Client,
}

impl Uac {
    /// `bytes` has just been sent.
    pub fn new(
        method: &'static str,
        branch: String,
        bytes: Bytes,
        now: Instant,
        t: &TimerConfig,
    ) -> Option<Uac> {
        let request = Message::parse(bytes.clone()).ok()?;
        Some(Uac {
            branch,
            method,
            reinvite: false,
            request,
            tx: Client::new(method == "INVITE", bytes, false, now, t),
        })
    }
}

/// The branch of a response's top Via, without the magic cookie.
pub fn branch_of(m: &Message) -> Option<&str> {
    m.vias().first()?.branch()?.strip_prefix("z9hG4bK")
}
