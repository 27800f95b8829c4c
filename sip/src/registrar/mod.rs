//! The registrar's binding store (RFC 3261 10.3), sans-IO: REGISTER processing on plain inputs
//! (the AOR, Call-ID, CSeq, contacts and expiry already read from the message), lookups, and
//! expiry against a `now` passed in. Bounded: bindings per AOR and AORs in all.
//!
//! Knows nothing of messages or sockets; `proxy::register` maps a request onto it.

use causeway_config::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrarPolicy {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_bindings_per_aor: usize,
    pub max_aors: usize,
    /// Longest expiry granted to a binding reachable only over a TCP/TLS connection without
    /// RFC 5626 keep-alives (`Reach::Flow` on a stream): it must re-register before the
    /// connection idles out. `u32::MAX`: no cap.
    pub stream_flow_max_expires: u32,
    /// RFC 5626 `Flow-Timer` asked of outbound UAs over UDP and over streams, seconds.
    pub flow_timer_udp: u32,
    pub flow_timer_stream: u32,
}

/// Where a binding's REGISTER came from: the flow requests can reuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingSource {
    pub kind: Transport,
    pub remote: SocketAddr,
    /// Our end: the socket (UDP) or connection's local address it arrived on.
    pub local: SocketAddr,
    pub conn: Option<u64>,
}

/// How requests reach a binding's contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// At its Contact as written (over the registration's connection while it lasts).
    Contact,
    /// Only over the flow it registered on: the Contact is not reachable as written (a NAT
    /// was detected). A stream binding goes when its connection closes.
    Flow,
    /// RFC 5626 outbound: only over its flow; a failed flow is 430 and the binding goes.
    Outbound,
}

/// RFC 5626 instance and registration identity of an outbound binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundId {
    /// The `+sip.instance` value as sent (quotes included).
    pub instance: String,
    pub reg_id: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContactInput {
    /// Canonical contact URI text (the registrar compares contacts by it).
    pub uri: String,
    pub expires_param: Option<u32>,
    pub q: Option<f32>,
    pub reach: Reach,
    /// Set with `Reach::Outbound`: the binding is keyed by it instead of the URI.
    pub outbound: Option<OutboundId>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ContactsInput {
    Star,
    List(Vec<ContactInput>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RegisterInput {
    pub aor: String,
    pub call_id: String,
    pub cseq: u32,
    /// `None`: a query for the current bindings.
    pub contacts: Option<ContactsInput>,
    pub expires_header: Option<u32>,
    pub path: Vec<String>,
    pub source: BindingSource,
}

/// One contact of an AOR. There are 100,000s of them, so the contact and the Call-ID share one
/// allocation of their exact size (`contact()`, `call_id()`), and the rare parts (Path, RFC 5626
/// identity) cost a pointer when absent.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// the contact URI, then the Call-ID from byte `split`
    text: Box<str>,
    split: u32,
    pub expires_at: Instant,
    pub q: f32,
    pub cseq: u32,
    pub path: Box<[String]>,
    pub source: BindingSource,
    /// when this binding was last refreshed (ties in q go to the most recent)
    pub updated: Instant,
    pub reach: Reach,
    pub outbound: Option<Box<OutboundId>>,
}

impl Binding {
    /// The contact URI (canonical text).
    pub fn contact(&self) -> &str {
        self.text.get(..self.split as usize).unwrap_or("")
    }

    /// The Call-ID of the REGISTER that made or last refreshed it.
    pub fn call_id(&self) -> &str {
        self.text.get(self.split as usize..).unwrap_or("")
    }

    /// Whether `c` names this binding: the same instance and reg-id for outbound contacts
    /// (RFC 5626 6: a new Contact URI from the same flow replaces the old), else the same URI.
    fn is(&self, c: &ContactInput) -> bool {
        match (&self.outbound, &c.outbound) {
            (Some(a), Some(b)) => **a == *b,
            _ => self.contact() == c.uri,
        }
    }
}

/// A live binding as the status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub aor: String,
    pub contact: String,
    pub expires_in: u64,
    /// The flow requests take when not the Contact (`nat udp 203.0.113.5:40000`).
    pub flow: Option<String>,
}

/// A binding as listed in the 200 OK.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingView {
    pub contact: String,
    /// seconds left
    pub expires: u32,
    pub outbound: Option<OutboundId>,
}

#[derive(thiserror::Error, Clone, Debug, PartialEq, Eq)]
pub enum RegisterError {
    #[error("expiry below the minimum of {min_expires} s")]
    IntervalTooBrief { min_expires: u32 },
    #[error("`Contact: *` must be the only contact")]
    StarWithOtherContacts,
    #[error("`Contact: *` needs `Expires: 0`")]
    StarNeedsExpiresZero,
    #[error("CSeq {cseq} is not newer than {stored} for this Call-ID")]
    OutOfOrder { cseq: u32, stored: u32 },
    #[error("more than {max} contacts for one address of record")]
    TooManyBindings { max: usize },
    #[error("registration table full ({max} addresses of record)")]
    TooManyAors { max: usize },
}

/// What one `purge_some` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purged {
    pub removed: usize,
    /// The earliest expiry left (in the past when `more`).
    pub next: Option<Instant>,
    /// The budget ran out with expired bindings left.
    pub more: bool,
}

pub struct Registrar {
    policy: RegistrarPolicy,
    aors: HashMap<Box<str>, Vec<Binding>, foldhash::fast::RandomState>,
}

impl Registrar {
    pub fn new(policy: RegistrarPolicy) -> Self {
        Registrar {
            policy,
            aors: HashMap::default(),
        }
    }

    /// A reload's policy: it applies to the next REGISTER; bindings made under the old one
    /// keep their expiry.
    pub fn set_policy(&mut self, policy: RegistrarPolicy) {
        self.policy = policy;
    }

    pub fn policy(&self) -> &RegistrarPolicy {
        &self.policy
    }

    /// RFC 3261 10.3 steps 6-8. Either all contact changes of the request apply or none does.
    pub fn register(
        &mut self,
        input: RegisterInput,
        now: Instant,
    ) -> Result<Vec<BindingView>, RegisterError> {
        let p = self.policy.clone();
        let existing = self
            .aors
            .get(input.aor.as_str())
            .cloned()
            .unwrap_or_default();
        let mut bindings: Vec<Binding> = existing
            .into_iter()
            .filter(|b| b.expires_at > now)
            .collect();
        match &input.contacts {
            None => {}
            Some(ContactsInput::Star) => remove_all(&input, &mut bindings)?,
            Some(ContactsInput::List(list)) => {
                apply_contacts(&p, &input, list, &mut bindings, now)?
            }
        }
        if !self.aors.contains_key(input.aor.as_str())
            && !bindings.is_empty()
            && self.aors.len() >= p.max_aors
        {
            self.purge_expired(now);
            if self.aors.len() >= p.max_aors {
                return Err(RegisterError::TooManyAors { max: p.max_aors });
            }
        }
        sort(&mut bindings);
        let views = bindings
            .iter()
            .map(|b| BindingView {
                contact: b.contact().to_string(),
                expires: remaining(b, now),
                outbound: b.outbound.as_deref().cloned(),
            })
            .collect();
        if bindings.is_empty() {
            self.aors.remove(input.aor.as_str());
        } else {
            self.aors.insert(input.aor.into_boxed_str(), bindings);
        }
        Ok(views)
    }

    /// Live bindings of `aor`, best first (q descending, then most recently refreshed).
    pub fn lookup(&self, aor: &str, now: Instant) -> Vec<&Binding> {
        self.aors
            .get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at > now).collect())
            .unwrap_or_default()
    }

    /// Every live binding, sorted, at most `limit` (status).
    pub fn snapshot(&self, now: Instant, limit: usize) -> Vec<Registered> {
        let mut v: Vec<Registered> = self
            .aors
            .iter()
            .flat_map(|(aor, bs)| {
                bs.iter()
                    .filter(|b| b.expires_at > now)
                    .map(move |b| Registered {
                        aor: aor.to_string(),
                        contact: b.contact().to_string(),
                        expires_in: b.expires_at.saturating_duration_since(now).as_secs(),
                        flow: flow_text(b),
                    })
            })
            .take(limit)
            .collect();
        v.sort_by(|a, b| (&a.aor, &a.contact).cmp(&(&b.aor, &b.contact)));
        v
    }

    /// Stream connection `conn` closed: bindings that can only be reached over it (`Reach::Flow`)
    /// go now; outbound ones stay until a request finds the flow failed (430) or the UA
    /// registers again. The AORs that lost a binding.
    pub fn flow_closed(&mut self, conn: u64) -> Vec<String> {
        self.remove_where(|b| b.source.conn == Some(conn) && b.reach == Reach::Flow)
    }

    /// A request found the flow of connection `conn` failed (RFC 5626 5.3): its flow-bound
    /// bindings go. The AORs that lost a binding.
    pub fn flow_failed(&mut self, conn: u64) -> Vec<String> {
        self.remove_where(|b| b.source.conn == Some(conn) && b.reach != Reach::Contact)
    }

    fn remove_where(&mut self, gone: impl Fn(&Binding) -> bool) -> Vec<String> {
        let mut aors = Vec::new();
        self.aors.retain(|aor, v| {
            let before = v.len();
            v.retain(|b| !gone(b));
            if v.len() != before {
                aors.push(aor.to_string());
            }
            !v.is_empty()
        });
        aors
    }

    /// Drops expired bindings; returns how many.
    pub fn purge_expired(&mut self, now: Instant) -> usize {
        self.purge_some(now, usize::MAX).removed
    }

    /// Drops expired bindings of at most `budget` AORs, so that 100,000 bindings running out
    /// at once are freed over several calls with other work between them. Says how many went
    /// and when to call again. One pass over the table either way; when it has shrunk to a
    /// quarter of its capacity, the capacity goes too.
    pub fn purge_some(&mut self, now: Instant, budget: usize) -> Purged {
        let (mut removed, mut touched) = (0, 0);
        let mut next: Option<Instant> = None;
        self.aors.retain(|_, v| {
            if touched < budget && v.iter().any(|b| b.expires_at <= now) {
                touched += 1;
                let before = v.len();
                v.retain(|b| b.expires_at > now);
                removed += before - v.len();
                if v.is_empty() {
                    return false;
                }
                v.shrink_to_fit();
            }
            if let Some(t) = v.iter().map(|b| b.expires_at).min() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            true
        });
        if self.aors.capacity() > 4 * self.aors.len() + 64 {
            self.aors.shrink_to(2 * self.aors.len());
        }
        Purged {
            removed,
            next,
            more: touched >= budget && next.is_some_and(|t| t <= now),
        }
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.aors.values().flatten().map(|b| b.expires_at).min()
    }

    /// Number of addresses of record with bindings.
    pub fn len(&self) -> usize {
        self.aors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.aors.is_empty()
    }

    pub fn aors(&self) -> impl Iterator<Item = (&str, &[Binding])> {
        self.aors.iter().map(|(k, v)| (&**k, v.as_slice()))
    }
}

/// `Contact: *` with `Expires: 0` (RFC 3261 10.3 step 6): every binding of the AOR goes, unless
/// the request is older than one of them (same Call-ID, CSeq not higher).
fn remove_all(input: &RegisterInput, bindings: &mut Vec<Binding>) -> Result<(), RegisterError> {
    if input.expires_header != Some(0) {
        return Err(RegisterError::StarNeedsExpiresZero);
    }
    // step 6: a `*` removal obeys the Call-ID/CSeq ordering too
    for b in bindings.iter() {
        if b.call_id() == input.call_id && input.cseq <= b.cseq {
            return Err(RegisterError::OutOfOrder {
                cseq: input.cseq,
                stored: b.cseq,
            });
        }
    }
    bindings.clear();
    Ok(())
}

/// RFC 3261 10.3 steps 7-8 for a list of contacts: every contact is checked (expiry, ordering)
/// before any binding changes, then each is added, refreshed or removed (expiry 0); the
/// per-AOR limit applies to the result.
fn apply_contacts(
    p: &RegistrarPolicy,
    input: &RegisterInput,
    list: &[ContactInput],
    bindings: &mut Vec<Binding>,
    now: Instant,
) -> Result<(), RegisterError> {
    // first pass: validate everything before changing anything
    let mut changes = Vec::with_capacity(list.len());
    for c in list {
        let expires = c
            .expires_param
            .or(input.expires_header)
            .unwrap_or(p.default_expires);
        if expires != 0 && expires < p.min_expires {
            return Err(RegisterError::IntervalTooBrief {
                min_expires: p.min_expires,
            });
        }
        if let Some(b) = bindings.iter().find(|b| b.is(c)) {
            if b.call_id() == input.call_id && input.cseq <= b.cseq {
                return Err(RegisterError::OutOfOrder {
                    cseq: input.cseq,
                    stored: b.cseq,
                });
            }
        }
        let cap = if c.reach == Reach::Flow && input.source.kind.is_reliable() {
            p.stream_flow_max_expires.max(p.min_expires)
        } else {
            u32::MAX
        };
        changes.push((c, expires.min(p.max_expires).min(cap)));
    }
    for (c, expires) in changes {
        bindings.retain(|b| !b.is(c));
        if expires == 0 {
            continue;
        }
        // one more slot, not Vec's first growth to four: nearly every AOR has one contact,
        // and four Bindings of capacity were half the heap of 100,000 registrations
        // (heaptrack, BENCHMARKS.md)
        bindings.reserve_exact(1);
        bindings.push(Binding {
            text: [c.uri.as_str(), &input.call_id].concat().into(),
            // a contact over 4 GB was refused long before (message size limits)
            split: u32::try_from(c.uri.len()).unwrap_or(u32::MAX),
            expires_at: now + Duration::from_secs(u64::from(expires)),
            q: c.q.unwrap_or(1.0).clamp(0.0, 1.0),
            cseq: input.cseq,
            path: input.path.iter().map(|p| p.as_str().into()).collect(),
            source: input.source.clone(),
            updated: now,
            reach: c.reach,
            outbound: c.outbound.clone().map(Box::new),
        });
    }
    if bindings.len() > p.max_bindings_per_aor {
        return Err(RegisterError::TooManyBindings {
            max: p.max_bindings_per_aor,
        });
    }
    Ok(())
}

/// How an operator sees a binding reached over its flow: `outbound tcp 203.0.113.5:40000`.
fn flow_text(b: &Binding) -> Option<String> {
    let what = match b.reach {
        Reach::Contact => return None,
        Reach::Flow => "nat",
        Reach::Outbound => "outbound",
    };
    Some(format!(
        "{what} {} {}",
        b.source.kind.param(),
        b.source.remote
    ))
}

fn sort(b: &mut [Binding]) {
    b.sort_by(|x, y| {
        y.q.partial_cmp(&x.q)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(y.updated.cmp(&x.updated))
    });
}

fn remaining(b: &Binding, now: Instant) -> u32 {
    let secs = b.expires_at.saturating_duration_since(now).as_secs();
    u32::try_from(secs).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
