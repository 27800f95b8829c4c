//! Traversal links as the proxy core routes by them: which connection carries each traversal
//! zone, how a request is told to have come over a link (RFC 5626 flow tokens: the zone's port
//! on E, the link's connection on C), and the hop down a link.
//!
//! The table is filled from above, by the traversal layer (crate `traversal`: C's link clients
//! and E's admission of the links C opens), through `LinkEvent::Set`. This module admits
//! nothing, opens no connection and keeps no timer; what it must not lose is the flow each link
//! runs on.

use super::hop::NextHop;
use super::io::ConnId;
use crate::message::{Message, Uri};
use causeway_config::Transport;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub kind: Transport,
    pub remote: SocketAddr,
    /// Our end of the connection.
    pub local: SocketAddr,
    pub conn: ConnId,
    pub since: SystemTime,
    pub refreshed: SystemTime,
}

/// A response to a traversal client's REGISTER, with the connection it came on.
#[derive(Clone, Debug)]
pub struct LinkResponse {
    pub msg: Message,
    pub conn: Option<ConnId>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

#[derive(Default)]
pub struct Links {
    servers: Vec<ServerZone>,
    clients: Vec<String>,
    up: HashMap<String, Link>,
}

impl Links {
    pub fn new(servers: Vec<ServerZone>, clients: Vec<String>) -> Links {
        Links {
            servers,
            clients,
            up: HashMap::new(),
        }
    }

    /// The traversal server zone whose port a message arrived on.
    pub fn server_zone_at(&self, kind: Transport, local_port: u16) -> Option<&ServerZone> {
        self.servers
            .iter()
            .find(|z| z.kind == kind && z.port == local_port)
    }

    /// A reload's traversal client zones (C); a link of a zone no longer among them is down.
    pub fn set_clients(&mut self, clients: Vec<String>) {
        let servers = &self.servers;
        self.up
            .retain(|zone, _| clients.contains(zone) || servers.iter().any(|s| &s.name == zone));
        self.clients = clients;
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

    /// The hop down the live link of traversal zone `zone`.
    pub fn hop(&self, zone: &str) -> Option<NextHop> {
        let l = self.up.get(zone)?;
        Some(NextHop {
            kind: l.kind,
            addr: l.remote,
            conn: Some(l.conn),
            server_name: None,
            link: Some(zone.to_string()),
            flow: false,
            local: Some(l.local),
        })
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

    /// A connection closed: E's links on it are down (C's clients notice on their own).
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
}

/// The zone named by our own Route entry's link parameter, if it has one.
pub fn link_of_route(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(u) => u.params.get(LINK_PARAM).flatten().map(str::to_string),
        _ => None,
    }
}
