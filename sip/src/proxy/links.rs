//! Traversal links as the proxy core routes by them: which connections carry each traversal
//! zone, how a request is told to have come over a link (RFC 5626 flow tokens: the zone's port
//! on E, the link's connection on C), and the hop down a link.
//!
//! A zone may have several links: C's zone to an E cluster has one per E peer, and E's server
//! zone one per C peer linking to it (the Expressway cluster layout: every C peer to every E
//! peer). Each link has a name, unique on the node, that our Record-Route entry facing it
//! carries (`cw-link=`), so that a dialog stays on the link it was made over: the zone's name
//! for a zone's only link, `zone~key` for one of several ([`link_name`]).
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
    /// The traversal zone it belongs to.
    pub zone: String,
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
    /// By link name.
    up: HashMap<String, Link>,
}

/// The name of a link of `zone`: the zone's own name for its only link, `zone~key` for one of
/// several (`key`: C's index of the E peer, or E's short form of the C peer's instance).
pub fn link_name(zone: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("{zone}~{k}"),
        None => zone.to_string(),
    }
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
            .retain(|_, l| clients.contains(&l.zone) || servers.iter().any(|s| s.name == l.zone));
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
        self.up
            .values()
            .find(|l| l.conn == conn && self.clients.contains(&l.zone))
            .map(|l| l.zone.as_str())
    }

    /// Whether `conn` is an admitted link of server zone `zone`.
    pub fn is_link_conn(&self, zone: &str, conn: Option<ConnId>) -> bool {
        conn.is_some_and(|c| self.up.values().any(|l| l.conn == c && l.zone == zone))
    }

    /// The name of zone `zone`'s link on connection `conn`.
    pub fn name_on(&self, zone: &str, conn: Option<ConnId>) -> Option<&str> {
        let c = conn?;
        self.up
            .iter()
            .find(|(_, l)| l.conn == c && l.zone == zone)
            .map(|(n, _)| n.as_str())
    }

    /// The link named `name`.
    pub fn get(&self, name: &str) -> Option<&Link> {
        self.up.get(name)
    }

    /// Every live link, by name.
    pub fn all(&self) -> &HashMap<String, Link> {
        &self.up
    }

    /// The live links of traversal zone `zone`, in name order.
    pub fn of_zone(&self, zone: &str) -> Vec<(&str, &Link)> {
        let mut links: Vec<(&str, &Link)> = self
            .up
            .iter()
            .filter(|(_, l)| l.zone == zone)
            .map(|(n, l)| (n.as_str(), l))
            .collect();
        links.sort_unstable_by_key(|(n, _)| *n);
        links
    }

    /// The hop down the live link named `name`.
    pub fn hop(&self, name: &str) -> Option<NextHop> {
        let l = self.up.get(name)?;
        Some(NextHop {
            kind: l.kind,
            addr: l.remote,
            conn: Some(l.conn),
            server_name: None,
            link: Some(name.to_string()),
            flow: false,
            local: Some(l.local),
        })
    }

    /// The link named `name` is up (on this connection) or down (`None`).
    pub fn set(&mut self, name: &str, link: Option<Link>) {
        match link {
            Some(l) => {
                self.up.insert(name.to_string(), l);
            }
            None => {
                self.up.remove(name);
            }
        }
    }

    /// A connection closed: E's links on it are down (C's clients notice on their own).
    pub fn on_closed(&mut self, conn: ConnId) -> Vec<String> {
        let servers = &self.servers;
        let gone: Vec<String> = self
            .up
            .iter()
            .filter(|(_, l)| l.conn == conn && servers.iter().any(|z| z.name == l.zone))
            .map(|(n, _)| n.clone())
            .collect();
        for n in &gone {
            self.up.remove(n);
        }
        gone
    }
}

/// The link named by our own Route entry's link parameter, if it has one.
pub fn link_of_route(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(u) => u.params.get(LINK_PARAM).flatten().map(str::to_string),
        _ => None,
    }
}
