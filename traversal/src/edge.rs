//! E's end of the traversal link protocol (sans-IO): admitting the links C opens. A REGISTER on
//! a traversal server zone's port (the proxy core hands it over as `LinkOutput::Register`) is
//! challenged with SIP digest (RFC 7616/8760) and admitted when it carries the zone's
//! credential; the registration pins the connection it came on (RFC 5626 style), refreshes
//! keep it, `Expires: 0` removes it, and a registration that is not refreshed within its
//! lifetime (plus a grace of 10 s, as registrars allow for clock skew) takes the link down.
//!
//! A zone holds one link per C instance (the Contact's RFC 5626 `+sip.instance`): the peers
//! of a C cluster each link to every E peer, and each of their links is named apart
//! (`zone~key`, [`link_name`]) so that dialogs stay on theirs. A C that names no instance has
//! the zone's one unnamed link. At most [`MAX_LINKS`] per zone: one more is refused (503)
//! until a link expires or closes.
//!
//! Inputs: `handle` (a link REGISTER, a closed connection) and `handle_timeout` (expiry), each
//! with `now`; outputs: `LinkEvent`s for the proxy core (the answer to send, the link up or
//! down). Owns the admitted links' lifetimes and the digest secret; it never sends a message
//! itself and never routes.

use causeway_sip::auth::{AuthError, DigestServer};
use causeway_sip::message::{Contacts, Message};
use causeway_sip::proxy::{link_name, ConnId, Flow, Link, LinkEvent, ServerZone, WallClock};
use rand::rngs::StdRng;
use rand::RngCore;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

/// Registration lifetime when C asks for none (the client's default).
const DEFAULT_EXPIRES: u32 = 120;
/// The lifetimes E grants: C's request clamped to this.
const MIN_EXPIRES: u32 = 10;
const MAX_EXPIRES: u32 = 3600;
/// Past the granted lifetime before the link counts as gone (clock skew, a late refresh).
const GRACE: Duration = Duration::from_secs(10);
/// Lifetime of the link digest's nonces.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Links one server zone holds at most: one per peer of a C cluster (at most six).
pub const MAX_LINKS: usize = 6;

/// What reaches E's admission.
#[derive(Debug)]
pub enum Input<'a> {
    /// A REGISTER on the port of server zone `zone`, on server transaction `tx`.
    Register {
        tx: u64,
        zone: &'a str,
        request: &'a Message,
        flow: Flow,
    },
    /// A connection closed: a link on it is gone.
    Closed { conn: ConnId },
}

#[derive(Clone, Debug)]
struct Admitted {
    zone: String,
    conn: ConnId,
    since: SystemTime,
    expires: Instant,
}

pub struct Admission {
    zones: Vec<ServerZone>,
    /// `[[credential]]`: what traversal clients authenticate with.
    credentials: HashMap<String, String>,
    digest: DigestServer,
    /// By link name.
    admitted: HashMap<String, Admitted>,
    clock: WallClock,
    /// Makes each challenge's nonce unique.
    rng: StdRng,
}

/// What E answers to a link REGISTER.
enum Verdict {
    Up {
        expires: u32,
    },
    Removed,
    Challenge {
        stale: bool,
    },
    Refused {
        reason: String,
    },
    /// The zone holds its most links.
    Full,
}

impl Admission {
    /// `realm`: of the digest challenge; `secret`: keys its nonces; `rng`: makes them unique.
    /// A reload's `[[credential]]`: the next link REGISTER is checked against them; links
    /// admitted before stay until they fail to refresh.
    pub fn set_credentials(&mut self, credentials: HashMap<String, String>) {
        self.credentials = credentials;
    }

    pub fn new(
        zones: Vec<ServerZone>,
        credentials: HashMap<String, String>,
        realm: &str,
        secret: [u8; 32],
        clock: WallClock,
        rng: StdRng,
    ) -> Admission {
        Admission {
            zones,
            credentials,
            digest: DigestServer::new(
                realm,
                &[
                    causeway_sip::auth::Algorithm::Sha256,
                    causeway_sip::auth::Algorithm::Md5,
                ],
                secret,
                NONCE_LIFETIME,
            ),
            admitted: HashMap::new(),
            clock,
            rng,
        }
    }

    pub fn handle(&mut self, input: Input<'_>, now: Instant, out: &mut Vec<LinkEvent>) {
        match input {
            Input::Register {
                tx,
                zone,
                request,
                flow,
            } => self.register(tx, zone, request, flow, now, out),
            Input::Closed { conn } => self.admitted.retain(|_, a| a.conn != conn),
        }
    }

    /// Links whose registration ran out without a refresh go down.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<LinkEvent>) {
        let gone: Vec<String> = self
            .admitted
            .iter()
            .filter(|(_, a)| a.expires <= now)
            .map(|(z, _)| z.clone())
            .collect();
        for name in gone {
            self.admitted.remove(&name);
            tracing::warn!(link = %name, "traversal link down: registration expired");
            out.push(LinkEvent::Set { name, link: None });
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.admitted.values().map(|a| a.expires).min()
    }

    fn register(
        &mut self,
        tx: u64,
        zone: &str,
        request: &Message,
        flow: Flow,
        now: Instant,
        out: &mut Vec<LinkEvent>,
    ) {
        let Some(z) = self.zones.iter().find(|z| z.name == zone).cloned() else {
            return;
        };
        let wall = self.clock.wall(now);
        let answer = |status: u16, reason: String, headers| LinkEvent::Answer {
            tx,
            status,
            reason,
            headers,
        };
        let name = link_name(&z.name, instance_key(request).as_deref());
        match self.verdict(&z, &name, request, flow, now, wall) {
            Verdict::Up { expires } => {
                tracing::info!(zone = %z.name, link = %name, peer = %flow.remote, "traversal link up");
                let mut h = vec![("Expires", expires.to_string())];
                if let Some(contact) = request.header("Contact").filter(|c| !c.is_empty()) {
                    h.push(("Contact", format!("{contact};expires={expires}")));
                }
                out.push(self.link_event(&name, flow, wall));
                out.push(answer(200, "OK".into(), h));
            }
            Verdict::Removed => {
                tracing::info!(zone = %z.name, link = %name, peer = %flow.remote, "traversal link unregistered");
                out.push(LinkEvent::Set { name, link: None });
                out.push(answer(200, "OK".into(), Vec::new()));
            }
            Verdict::Full => {
                tracing::warn!(zone = %z.name, peer = %flow.remote, "traversal link refused: the zone holds {MAX_LINKS} links");
                let reason = format!(
                    "Service Unavailable (zone `{}` holds {MAX_LINKS} links)",
                    z.name
                );
                out.push(answer(503, reason, vec![("Retry-After", "30".into())]));
            }
            Verdict::Challenge { stale } => {
                let random = self.rng.next_u64();
                let h = self
                    .digest
                    .challenge(wall, stale, random)
                    .into_iter()
                    .map(|c| ("WWW-Authenticate", c))
                    .collect();
                out.push(answer(401, "Unauthorized".into(), h));
            }
            Verdict::Refused { reason } => {
                tracing::warn!(zone = %z.name, peer = %flow.remote, %reason, "traversal link refused");
                out.push(answer(403, format!("Forbidden ({reason})"), Vec::new()));
            }
        }
    }

    /// The core's view of an admitted link.
    fn link_event(&self, name: &str, flow: Flow, wall: SystemTime) -> LinkEvent {
        let a = self.admitted.get(name);
        LinkEvent::Set {
            name: name.to_string(),
            link: a.map(|a| Link {
                zone: a.zone.clone(),
                kind: flow.kind,
                remote: flow.remote,
                local: flow.local,
                conn: a.conn,
                since: a.since,
                refreshed: wall,
            }),
        }
    }

    /// The digest username must be the zone's; the link is the connection the REGISTER came on.
    fn verdict(
        &mut self,
        zone: &ServerZone,
        name: &str,
        msg: &Message,
        flow: Flow,
        now: Instant,
        wall: SystemTime,
    ) -> Verdict {
        let Some(conn) = flow.conn else {
            return Verdict::Refused {
                reason: "a traversal link must be a TCP or TLS connection".into(),
            };
        };
        let Some(auth) = msg.header("Authorization") else {
            return Verdict::Challenge { stale: false };
        };
        let credentials = &self.credentials;
        match self
            .digest
            .verify(auth, "REGISTER", |u| credentials.get(u).cloned(), wall)
        {
            Ok(ok) if ok.username == zone.username => {}
            Ok(ok) => {
                return Verdict::Refused {
                    reason: format!(
                        "user `{}` is not the credential of zone `{}`",
                        ok.username, zone.name
                    ),
                }
            }
            Err(AuthError::StaleNonce) => return Verdict::Challenge { stale: true },
            Err(AuthError::Replayed) => return Verdict::Challenge { stale: false },
            Err(e) => {
                return Verdict::Refused {
                    reason: e.to_string(),
                }
            }
        }
        let asked = msg
            .expires()
            .or_else(|| match msg.contacts() {
                Some(Contacts::List(l)) => l
                    .first()
                    .and_then(|c| c.params.get("expires").flatten())
                    .and_then(|e| e.parse().ok()),
                _ => None,
            })
            .unwrap_or(DEFAULT_EXPIRES);
        if asked == 0 {
            self.admitted.remove(name);
            return Verdict::Removed;
        }
        let held = self
            .admitted
            .values()
            .filter(|a| a.zone == zone.name)
            .count();
        if !self.admitted.contains_key(name) && held >= MAX_LINKS {
            return Verdict::Full;
        }
        let expires = asked.clamp(MIN_EXPIRES, MAX_EXPIRES);
        let since = match self.admitted.get(name) {
            Some(a) if a.conn == conn => a.since,
            _ => wall,
        };
        self.admitted.insert(
            name.to_string(),
            Admitted {
                zone: zone.name.clone(),
                conn,
                since,
                expires: now + Duration::from_secs(u64::from(expires)) + GRACE,
            },
        );
        Verdict::Up { expires }
    }
}

/// The key of the link a REGISTER asks for: a short, stable form of its Contact's RFC 5626
/// `+sip.instance` (32 bits of its hash, in hex), or none when it names no instance.
fn instance_key(msg: &Message) -> Option<String> {
    use std::hash::{Hash, Hasher};
    let Some(Contacts::List(l)) = msg.contacts() else {
        return None;
    };
    let instance = l.first()?.params.get("+sip.instance").flatten()?;
    // fixed keys: the same instance gets the same name for the life of the process
    let mut h = std::collections::hash_map::DefaultHasher::new();
    instance.trim_matches('"').hash(&mut h);
    Some(format!("{:08x}", h.finish() as u32))
}

#[cfg(test)]
mod tests;
