//! Traversal links as the proxy core sees them: which connection carries each traversal zone,
//! how a link is told apart from other traffic, and how E admits one (a digest-authenticated
//! REGISTER on the zone's port, RFC 5626 style: the registration pins the flow).
//!
//! On E (`traversal-server` zones) the table is filled here, from REGISTERs that arrive on a
//! zone's port. On C (`traversal-client` zones) it is filled by the traversal client above the
//! core (crate `traversal`), through `Core::set_link`. This module never opens connections and
//! holds no timers of its own beyond the expiry of E's side of a link.

use crate::auth::{AuthError, DigestServer};
use crate::message::{Message, Uri};
use crate::transport::ConnId;
use causeway_config::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// URI parameter on our own Record-Route entry that faces a link: a request that comes back
/// to that entry is sent down the link, whatever address the next Route names (RFC 5626 5.3
/// flow token; C's own address is unreachable from E through C's firewall).
pub const LINK_PARAM: &str = "cw-link";
/// Branch prefix of the REGISTERs a traversal client sends; their responses go to it, not to
/// a proxy transaction.
pub const LINK_BRANCH_PREFIX: &str = "z9hG4bKcwlink";

/// A traversal server zone (on E): the port C's link arrives on and the credential it must use.
#[derive(Clone, Debug)]
pub struct ServerZone {
    pub name: String,
    pub kind: Transport,
    pub port: u16,
    pub username: String,
}

/// A live link: the connection that carries the zone's requests both ways.
#[derive(Clone, Debug)]
pub struct Link {
    pub kind: Transport,
    pub remote: SocketAddr,
    /// Our end of the connection.
    pub local: SocketAddr,
    pub conn: ConnId,
    pub since: SystemTime,
    pub refreshed: SystemTime,
    /// E's side: the registration lifetime; C's side: None (the client refreshes it).
    pub expires: Option<Instant>,
}

#[derive(Default)]
pub struct Links {
    servers: Vec<ServerZone>,
    clients: Vec<String>,
    up: HashMap<String, Link>,
    responses: Vec<LinkResponse>,
}

/// A response to a traversal client's REGISTER, with the connection it came on.
#[derive(Clone, Debug)]
pub struct LinkResponse {
    pub msg: Message,
    pub conn: Option<ConnId>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// What E answers to a link REGISTER.
pub enum Admission {
    Up { zone: String, expires: u32 },
    Removed { zone: String },
    Challenge { stale: bool },
    Refused { reason: String },
}

impl Links {
    pub fn new(servers: Vec<ServerZone>, clients: Vec<String>) -> Links {
        Links {
            servers,
            clients,
            ..Links::default()
        }
    }

    /// The traversal server zone whose port a message arrived on.
    pub fn server_zone_at(&self, kind: Transport, local_port: u16) -> Option<&ServerZone> {
        self.servers
            .iter()
            .find(|z| z.kind == kind && z.port == local_port)
    }

    /// The traversal zone a request came from: a server zone by port, a client zone by the
    /// connection its link runs on.
    pub fn source_zone(
        &self,
        kind: Transport,
        local_port: u16,
        conn: Option<ConnId>,
    ) -> Option<&str> {
        if let Some(z) = self.server_zone_at(kind, local_port) {
            return Some(&z.name);
        }
        let conn = conn?;
        self.clients
            .iter()
            .find(|n| self.up.get(*n).is_some_and(|l| l.conn == conn))
            .map(String::as_str)
    }

    /// Whether `conn` is the admitted link of server zone `zone`.
    pub fn is_link_conn(&self, zone: &str, conn: Option<ConnId>) -> bool {
        conn.is_some_and(|c| self.up.get(zone).is_some_and(|l| l.conn == c))
    }

    pub fn get(&self, zone: &str) -> Option<&Link> {
        self.up.get(zone)
    }

    pub fn all(&self) -> &HashMap<String, Link> {
        &self.up
    }

    pub fn set(&mut self, zone: &str, link: Option<Link>) {
        match link {
            Some(l) => {
                self.up.insert(zone.to_string(), l);
            }
            None => {
                self.up.remove(zone);
            }
        }
    }

    /// A connection closed: E's links on it are down (C's client notices on its own).
    pub fn on_closed(&mut self, conn: ConnId) -> Vec<String> {
        let servers = &self.servers;
        let gone: Vec<String> = self
            .up
            .iter()
            .filter(|(n, l)| l.conn == conn && servers.iter().any(|z| &z.name == *n))
            .map(|(n, _)| n.clone())
            .collect();
        for n in &gone {
            self.up.remove(n);
        }
        gone
    }

    /// E's links whose registration ran out without a refresh.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let gone: Vec<String> = self
            .up
            .iter()
            .filter(|(_, l)| l.expires.is_some_and(|e| e <= now))
            .map(|(n, _)| n.clone())
            .collect();
        for n in &gone {
            self.up.remove(n);
        }
        gone
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.up.values().filter_map(|l| l.expires).min()
    }

    pub fn push_response(
        &mut self,
        msg: Message,
        conn: Option<ConnId>,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        // bounded: the client drains this every turn of the driver; a peer flooding
        // responses with our link branch cannot grow it past this
        if self.responses.len() < 256 {
            self.responses.push(LinkResponse {
                msg,
                conn,
                local,
                remote,
            });
        }
    }

    pub fn take_responses(&mut self) -> Vec<LinkResponse> {
        std::mem::take(&mut self.responses)
    }

    /// E: a REGISTER on server zone `zone`'s port. The digest username must be the zone's;
    /// the link is the connection the REGISTER came on.
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        zone: &ServerZone,
        msg: &Message,
        digest: &DigestServer,
        credentials: &HashMap<String, String>,
        link: (Transport, SocketAddr, SocketAddr, Option<ConnId>),
        now: Instant,
        wall: SystemTime,
    ) -> Admission {
        let Some(conn) = link.3 else {
            return Admission::Refused {
                reason: "a traversal link must be a TCP or TLS connection".into(),
            };
        };
        let Some(auth) = msg.header("Authorization") else {
            return Admission::Challenge { stale: false };
        };
        let ok = digest.verify(auth, "REGISTER", |u| credentials.get(u).cloned(), wall);
        match ok {
            Ok(ok) if ok.username == zone.username => {}
            Ok(ok) => {
                return Admission::Refused {
                    reason: format!(
                        "user `{}` is not the credential of zone `{}`",
                        ok.username, zone.name
                    ),
                }
            }
            Err(AuthError::StaleNonce) => return Admission::Challenge { stale: true },
            Err(e) => {
                return Admission::Refused {
                    reason: e.to_string(),
                }
            }
        }
        let asked = msg
            .expires()
            .or_else(|| match msg.contacts() {
                Some(crate::message::Contacts::List(l)) => l
                    .first()
                    .and_then(|c| c.params.get("expires").flatten())
                    .and_then(|e| e.parse().ok()),
                _ => None,
            })
            .unwrap_or(120);
        if asked == 0 {
            self.up.remove(&zone.name);
            return Admission::Removed {
                zone: zone.name.clone(),
            };
        }
        let expires = asked.clamp(10, 3600);
        let since = match self.up.get(&zone.name) {
            Some(l) if l.conn == conn => l.since,
            _ => wall,
        };
        self.up.insert(
            zone.name.clone(),
            Link {
                kind: link.0,
                remote: link.1,
                local: link.2,
                conn,
                since,
                refreshed: wall,
                // a little grace past the lifetime, as registrars do for clock skew
                expires: Some(now + Duration::from_secs(u64::from(expires) + 10)),
            },
        );
        Admission::Up {
            zone: zone.name.clone(),
            expires,
        }
    }
}

/// The zone named by our own Route entry's link parameter, if it has one.
pub fn link_of_route(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(u) => u.params.get(LINK_PARAM).flatten().map(str::to_string),
        _ => None,
    }
}
