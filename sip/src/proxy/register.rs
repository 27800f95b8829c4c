//! REGISTER addressed to this node (RFC 3261 10.3, RFC 3327 Path, RFC 7616/8760 digest, RFC 5626
//! outbound): turns a parsed request into a registrar-store update and the response to send,
//! deciding for each contact how requests will reach it (its flow, or the Contact as written).
//!
//! Owns the mapping between the message and the sans-IO `registrar` and `auth` modules; it sends
//! nothing itself (the core wraps the outcome in a server transaction).

use super::cluster::ClusterPeers;
use super::core::AuthSettings;
use super::io::{ConnId, Flow};
use super::nat;
use crate::auth::{AuthError, AuthFailures, DigestServer};
use crate::message::{Contacts, Message, Uri};
use crate::registrar::{
    BindingSource, ContactInput, ContactsInput, OutboundId, Reach, RegisterError, RegisterInput,
    Registrar,
};
use causeway_config::Transport;
use causeway_zones::{Owner, Protocol, SharedAliases};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};
use tracing::{info, warn};

pub(super) struct RegisterOutcome {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(&'static str, String)>,
}

impl RegisterOutcome {
    fn new(status: u16, reason: impl Into<String>) -> Self {
        RegisterOutcome {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }
}

/// Where the REGISTER came from (its flow).
pub(super) struct Source {
    pub kind: Transport,
    pub remote: SocketAddr,
    pub local: SocketAddr,
    pub conn: Option<ConnId>,
}

impl Source {
    fn flow(&self) -> Flow {
        Flow {
            kind: self.kind,
            local: self.local,
            remote: self.remote,
            conn: self.conn,
        }
    }
}

/// RFC 5626 6: what the REGISTER asks of outbound.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outbound {
    /// Not asked (no `Supported: outbound`, or no contact with `reg-id`).
    No,
    /// We are the first hop: the flow it came on is the binding's.
    FirstHop,
    /// An edge proxy in front keeps the flow (its Path entry has `ob`).
    Behind,
}

/// Digest authentication of a REGISTER: the server (with its replay table), the credentials,
/// the count of failures per source, and the randomness of the next nonce.
pub(super) struct Auth<'a> {
    pub digest: &'a mut DigestServer,
    pub settings: &'a AuthSettings,
    pub failures: &'a mut AuthFailures,
    pub random: u64,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn handle(
    msg: &Message,
    source: Source,
    domains: &[String],
    registrar: &mut Registrar,
    auth: Option<Auth<'_>>,
    now: Instant,
    wall: SystemTime,
    (shared, peers): (Option<&SharedAliases>, Option<&ClusterPeers>),
) -> RegisterOutcome {
    let (user, aor) = match address_of_record(msg, domains) {
        Ok(a) => a,
        Err(refusal) => return refusal,
    };
    if let Some(auth) = auth {
        if let Err(refusal) = authenticate(msg, &user, &aor, &source, auth, wall) {
            return refusal;
        }
    }
    let (Some(call_id), Some((cseq, _))) = (msg.call_id(), msg.cseq()) else {
        return RegisterOutcome::new(400, "Bad Request (missing Call-ID or CSeq)");
    };
    // only a REGISTER that adds bindings is refused: removing or fetching them stays possible
    if let Some(refusal) = adds_bindings(msg)
        .then(|| held_by_h323(&aor, (shared, peers), now))
        .flatten()
    {
        return refusal;
    }
    let path: Vec<String> = msg
        .header_values("Path")
        .flat_map(split_commas)
        .map(str::to_string)
        .collect();
    let outbound = match outbound_of(msg, &path) {
        Ok(o) => o,
        Err(refusal) => return refusal,
    };
    let flow = source.flow();
    let input = RegisterInput {
        aor: aor.clone(),
        call_id: call_id.to_string(),
        cseq,
        contacts: contacts_of(msg, &flow, outbound),
        expires_header: msg.expires(),
        path: path.clone(),
        source: BindingSource {
            kind: source.kind,
            remote: source.remote,
            local: source.local,
            conn: source.conn.map(|c| c.0),
        },
    };
    let bindings = match registrar.register(input, now) {
        Ok(bindings) => bindings,
        Err(e) => return refused(e),
    };
    let mut out = RegisterOutcome::new(200, "OK");
    for b in &bindings {
        let ob = b.outbound.as_ref().map_or(String::new(), |o| {
            format!(";+sip.instance={};reg-id={}", o.instance, o.reg_id)
        });
        out.headers.push((
            "Contact",
            format!("<{}>;expires={}{ob}", b.contact, b.expires),
        ));
    }
    if outbound != Outbound::No {
        // RFC 5626 6: the registrar says it honoured reg-id; 4.4.1: how often to keep alive
        out.headers.push(("Require", "outbound".to_string()));
        if outbound == Outbound::FirstHop {
            let p = registrar.policy();
            let secs = if source.kind.is_reliable() {
                p.flow_timer_stream
            } else {
                p.flow_timer_udp
            };
            out.headers.push(("Flow-Timer", secs.to_string()));
        }
    }
    if !path.is_empty() {
        out.headers.push(("Path", path.join(", ")));
        out.headers.push(("Supported", "path".to_string()));
    }
    info!(aor = %aor, bindings = bindings.len(), source = %source.remote, "registered");
    if let Some(sh) = shared {
        claim(sh, registrar, &aor, now);
    }
    out
}

/// RFC 3261 10.3 steps 2-3: the To names the AOR, in one of our domains (RFC 4475 3.3.4: and
/// it must be a SIP or SIPS URI). The user part and the AOR.
fn address_of_record(
    msg: &Message,
    domains: &[String],
) -> Result<(String, String), RegisterOutcome> {
    let Some(to) = msg.to() else {
        return Err(RegisterOutcome::new(400, "Bad Request (missing To)"));
    };
    let Uri::Sip(to_uri) = &to.uri else {
        return Err(RegisterOutcome::new(
            400,
            format!("Bad Request (To is a {} URI, not SIP)", to.uri.scheme()),
        ));
    };
    let domain = match &to_uri.host {
        crate::message::Host::Domain(d) => d.to_ascii_lowercase().into(),
        other => other.to_string(),
    };
    if !domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
        return Err(RegisterOutcome::new(
            403,
            format!("Forbidden ({domain} is not a registrar domain here)"),
        ));
    }
    let user = to_uri.user.as_deref().unwrap_or("").to_string();
    let aor = format!("sip:{user}@{domain}");
    Ok((user, aor))
}

/// RFC 3261 22 / RFC 7616: the credentials must verify and be the AOR's own user. Failures
/// are counted per source, and their answers name no user (the log line does).
fn authenticate(
    msg: &Message,
    user: &str,
    aor: &str,
    source: &Source,
    auth: Auth<'_>,
    wall: SystemTime,
) -> Result<(), RegisterOutcome> {
    let mut last_err: Option<AuthError> = None;
    let mut who = None;
    for value in msg.header_values("Authorization") {
        let credentials = &auth.settings.credentials;
        match auth
            .digest
            .verify(value, "REGISTER", |u| credentials.get(u).cloned(), wall)
        {
            Ok(ok) => {
                who = Some(ok.username);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let failed = |auth: Auth<'_>, why: &dyn std::fmt::Display| {
        let n = auth.failures.record(source.remote.ip());
        warn!(aor = %aor, source = %source.remote, failures = n, "REGISTER: {why}");
    };
    match (who, last_err) {
        (Some(u), _) if u == user || unescape_eq(user, &u) => Ok(()),
        (Some(u), _) => {
            failed(
                auth,
                &format_args!("credentials of `{u}` used for another user"),
            );
            Err(RegisterOutcome::new(
                403,
                "Forbidden (authentication failed)",
            ))
        }
        (None, Some(AuthError::StaleNonce)) => Err(challenge(auth.digest, wall, true, auth.random)),
        (None, Some(AuthError::Replayed)) => {
            // RFC 7616 3.4: a replayed count gets a new nonce, not an answer
            let reply = challenge(auth.digest, wall, false, auth.random);
            failed(auth, &"nonce count replayed");
            Err(reply)
        }
        (None, Some(e @ (AuthError::WrongResponse { .. } | AuthError::UnknownUser(_)))) => {
            let who = match &e {
                AuthError::WrongResponse { username } | AuthError::UnknownUser(username) => {
                    username.clone()
                }
                _ => String::new(),
            };
            failed(auth, &format_args!("authentication failed for `{who}`"));
            Err(RegisterOutcome::new(
                403,
                "Forbidden (authentication failed)",
            ))
        }
        (None, Some(AuthError::Malformed(m))) => {
            failed(auth, &format_args!("malformed credentials: {m}"));
            Err(RegisterOutcome::new(
                400,
                format!("Bad Request (Authorization: {m})"),
            ))
        }
        // no credentials, an unknown scheme (RFC 4475 3.3.7), or a nonce we did not issue
        (None, _) => Err(challenge(auth.digest, wall, false, auth.random)),
    }
}

/// RFC 5626 6: outbound is asked for when the UA supports it and a contact has `reg-id`; a
/// registrar that is not the first hop needs the first hop's Path entry to carry `ob`, or
/// the request is refused with 439.
fn outbound_of(msg: &Message, path: &[String]) -> Result<Outbound, RegisterOutcome> {
    let supported = msg
        .header_values("Supported")
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("outbound"));
    let reg_id = match msg.contacts() {
        Some(Contacts::List(list)) => list.iter().any(|c| c.params.has("reg-id")),
        _ => false,
    };
    if !supported || !reg_id {
        return Ok(Outbound::No);
    }
    if msg.vias().len() <= 1 {
        return Ok(Outbound::FirstHop);
    }
    // the edge proxy in front put its Path entry last-added, first in the list
    let ob = path.first().is_some_and(|p| {
        let inner = p
            .split_once('<')
            .and_then(|(_, r)| r.split_once('>'))
            .map_or(p.as_str(), |(u, _)| u);
        matches!(Uri::parse(inner), Ok(Uri::Sip(u)) if u.params.has("ob"))
    });
    if ob {
        Ok(Outbound::Behind)
    } else {
        Err(RegisterOutcome::new(
            439,
            "First Hop Lacks Outbound Support",
        ))
    }
}

/// The Contact header as the registrar takes it, each contact with how it will be reached:
/// its flow for outbound at the first hop or when a NAT shows (RFC 5626 5, RFC 3581), else as
/// written.
/// Whether the REGISTER would add or refresh a binding (RFC 3261 10.2: a Contact other than
/// `*` whose expiry, from its parameter or the Expires header, is not zero).
fn adds_bindings(msg: &Message) -> bool {
    let header_zero = msg.expires() == Some(0);
    match msg.contacts() {
        Some(Contacts::List(list)) => {
            list.iter()
                .any(|c| match c.params.get("expires").flatten().map(str::trim) {
                    Some(v) => v != "0",
                    None => !header_zero,
                })
        }
        _ => false,
    }
}

/// The refusal of an AOR an H.323 endpoint holds, here or on another cluster peer.
fn held_by_h323(
    aor: &str,
    (shared, peers): (Option<&SharedAliases>, Option<&ClusterPeers>),
    now: Instant,
) -> Option<RegisterOutcome> {
    if let Some(o) = shared
        .and_then(|sh| sh.owner(aor, now))
        .filter(|o| o.protocol == Protocol::H323)
    {
        let why = format!("Forbidden ({aor} is registered by H.323 endpoint {})", o.id);
        return Some(RegisterOutcome::new(403, why));
    }
    let peer = peers.and_then(|p| p.h323_holder(aor))?;
    let why =
        format!("Forbidden ({aor} is registered by an H.323 endpoint on cluster peer {peer})");
    Some(RegisterOutcome::new(403, why))
}

fn contacts_of(msg: &Message, flow: &Flow, outbound: Outbound) -> Option<ContactsInput> {
    let nat = outbound == Outbound::No && msg.vias().len() <= 1 && nat::via_differs(msg, flow);
    match msg.contacts()? {
        Contacts::Star => Some(ContactsInput::Star),
        Contacts::List(list) => Some(ContactsInput::List(
            list.iter()
                .map(|c| {
                    let param = |n: &str| c.params.get(n).flatten().map(str::trim);
                    let ob_id = match (outbound, param("+sip.instance"), param("reg-id")) {
                        (Outbound::No, ..) => None,
                        (_, Some(instance), Some(r)) => r.parse().ok().map(|reg_id| OutboundId {
                            instance: instance.to_string(),
                            reg_id,
                        }),
                        _ => None,
                    };
                    let reach = match (&ob_id, outbound) {
                        (Some(_), Outbound::FirstHop) => Reach::Outbound,
                        (Some(_), _) => Reach::Contact,
                        (None, _) if msg.vias().len() > 1 => Reach::Contact,
                        (None, _) if nat || nat::contact_unreachable(&c.uri, flow) => Reach::Flow,
                        (None, _) => Reach::Contact,
                    };
                    ContactInput {
                        uri: c.uri.to_string(),
                        expires_param: param("expires").and_then(|v| v.parse().ok()),
                        q: param("q").and_then(|v| v.parse().ok()),
                        reach,
                        outbound: ob_id,
                    }
                })
                .collect(),
        )),
    }
}

/// The AOR is claimed in the shared alias table while any binding lives (the claim lapses
/// with the last).
pub(super) fn claim(sh: &SharedAliases, registrar: &Registrar, aor: &str, now: Instant) {
    let until = registrar
        .lookup(aor, now)
        .iter()
        .map(|b| b.expires_at)
        .max();
    match until {
        Some(until) => {
            let owner = Owner {
                protocol: Protocol::Sip,
                id: aor.to_string(),
                until: Some(until),
                address: None,
            };
            // checked before; an H.323 claim racing in between keeps the alias
            let _ = sh.claim(aor, owner, now);
        }
        None => sh.release(aor, aor),
    }
}

/// The answer to a registration the registrar refused.
fn refused(e: RegisterError) -> RegisterOutcome {
    if let RegisterError::IntervalTooBrief { min_expires } = e {
        let mut out = RegisterOutcome::new(423, "Interval Too Brief");
        out.headers.push(("Min-Expires", min_expires.to_string()));
        return out;
    }
    let (status, reason) = match e {
        RegisterError::OutOfOrder { .. } => (500, "Server Internal Error"),
        RegisterError::TooManyBindings { .. } => (403, "Forbidden"),
        RegisterError::TooManyAors { .. } => (503, "Service Unavailable"),
        _ => (400, "Bad Request"),
    };
    RegisterOutcome::new(status, format!("{reason} ({e})"))
}

fn challenge(digest: &DigestServer, wall: SystemTime, stale: bool, random: u64) -> RegisterOutcome {
    let mut out = RegisterOutcome::new(401, "Unauthorized");
    for c in digest.challenge(wall, stale, random) {
        out.headers.push(("WWW-Authenticate", c));
    }
    out
}

/// User parts compare after %HH unescaping (RFC 3261 19.1.4).
fn unescape_eq(a: &str, b: &str) -> bool {
    fn unescape(s: &str) -> Vec<u8> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let Some(v) = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        out
    }
    unescape(a) == unescape(b)
}

/// Splits a header value at commas that are outside quotes and angle brackets.
fn split_commas(v: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => depth += 1,
            b'>' if !quoted => depth -= 1,
            b',' if !quoted && depth <= 0 => {
                parts.push(v[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(v.get(start..).unwrap_or("").trim());
    parts.into_iter().filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests;
