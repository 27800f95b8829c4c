//! The `[[zone]]` checks: each zone's name, the keys its type may carry, what its type
//! requires, and the ports traversal-server zones take (SIP 7001+, H.323 RAS 6001+).
//!
//! Only checks and the port numbering rule; the shapes and defaults are in `crate::zones`.

use super::{is_hostname, split_host, LOCAL_ZONE};
use crate::defaults as d;
use crate::load::{FieldError, PathPart, PathPart::*};
use crate::schema::Config;
use crate::types::Transport;
use crate::zones::{Zone, ZoneType};

/// The traversal-server zones' SIP ports: the configured one, or 7001 for the first zone,
/// 7002 for the second, … (reference table 001).
pub fn traversal_server_port(c: &Config, zone_index: usize) -> u16 {
    nth_server_port(c, zone_index, |z| z.sip_port, d::TRAVERSAL_SIP_FIRST_PORT)
}

/// The traversal-server zones' H.323 RAS ports: the configured `h323_port`, or 6001 for the
/// first traversal-server zone, 6002 for the second, … (counted as the SIP ports are, over
/// every traversal-server zone, so zone n has 700n and 600n).
pub fn traversal_server_h323_port(c: &Config, zone_index: usize) -> u16 {
    nth_server_port(c, zone_index, |z| z.h323_port, d::TRAVERSAL_RAS_FIRST_PORT)
}

fn nth_server_port(
    c: &Config,
    zone_index: usize,
    set: impl Fn(&Zone) -> Option<u16>,
    first: u16,
) -> u16 {
    if let Some(p) = set(&c.zones[zone_index]) {
        return p;
    }
    let nth = c.zones[..zone_index]
        .iter()
        .filter(|z| z.kind == ZoneType::TraversalServer)
        .count();
    first.saturating_add(nth as u16)
}

pub(super) fn check_zones(c: &Config) -> Result<(), FieldError> {
    for (i, z) in c.zones.iter().enumerate() {
        let at = ZoneAt {
            i,
            kind: z.kind.as_str(),
        };
        check_zone_name(c, &at)?;
        check_zone_keys(c, z, &at)?;
        check_zone_h323(c, z, &at)?;
        match z.kind {
            ZoneType::Neighbor => check_neighbor_zone(z, &at)?,
            ZoneType::TraversalClient => check_traversal_client_zone(z, &at)?,
            ZoneType::TraversalServer => check_traversal_server_zone(c, &at)?,
            ZoneType::Dns => {}
        }
    }
    Ok(())
}

/// Zone `i` of type `kind`: where its faults point, and how their text names its type.
struct ZoneAt {
    i: usize,
    kind: &'static str,
}

impl ZoneAt {
    fn key(&self, k: &'static str) -> [PathPart; 3] {
        [Key("zone"), Index(self.i), Key(k)]
    }

    /// `key` is set (`misplaced`) on a zone type other than `types`.
    fn only(&self, misplaced: bool, key: &'static str, types: &str) -> Result<(), FieldError> {
        if misplaced {
            Err(FieldError::new(
                &self.key(key),
                format!(
                    "`{key}` applies to {types} zones, not to a {} zone",
                    self.kind
                ),
            ))
        } else {
            Ok(())
        }
    }

    /// This zone type cannot work without `key`.
    fn need(&self, set: bool, key: &'static str) -> Result<(), FieldError> {
        if set {
            Ok(())
        } else {
            Err(FieldError::new(
                &[Key("zone"), Index(self.i)],
                format!("a {} zone needs `{key}`", self.kind),
            ))
        }
    }
}

/// Not empty, not a name the search rules give a meaning of their own, not taken already.
fn check_zone_name(c: &Config, at: &ZoneAt) -> Result<(), FieldError> {
    let (i, z) = (at.i, &c.zones[at.i]);
    if z.name.trim().is_empty() {
        return Err(FieldError::new(&at.key("name"), "must not be empty"));
    }
    if z.name.eq_ignore_ascii_case(LOCAL_ZONE) || ["any", "registered"].contains(&z.name.as_str()) {
        return Err(FieldError::new(
            &at.key("name"),
            format!("`{}` is reserved", z.name),
        ));
    }
    if c.zones[..i].iter().any(|o| o.name == z.name) {
        return Err(FieldError::new(
            &at.key("name"),
            format!("zone `{}` is defined twice", z.name),
        ));
    }
    Ok(())
}

/// Keys that only some zone types take, refused on the others (in this order, the first one
/// found is reported); and what `mtls` needs where it is allowed.
fn check_zone_keys(c: &Config, z: &Zone, at: &ZoneAt) -> Result<(), FieldError> {
    let client = z.kind == ZoneType::TraversalClient;
    let server = z.kind == ZoneType::TraversalServer;
    let traversal = client || server;
    for (key, set) in [
        ("password", z.password.is_some()),
        ("tls_verify", z.tls_verify.is_some()),
        ("ca", z.ca.is_some()),
        ("peer_name", z.peer_name.is_some()),
        ("client_certificate", z.client_certificate),
        ("keepalive_interval", z.keepalive_interval.is_some()),
        ("registration_expires", z.registration_expires.is_some()),
        ("retry_first", z.retry_first.is_some()),
        ("retry_max", z.retry_max.is_some()),
    ] {
        at.only(!client && set, key, "traversal-client")?;
    }
    at.only(!traversal && z.sip_port.is_some(), "sip_port", "traversal")?;
    at.only(!traversal && z.username.is_some(), "username", "traversal")?;
    at.only(
        !server && z.listen_ip.is_some(),
        "listen_ip",
        "traversal-server",
    )?;
    at.only(
        z.kind != ZoneType::Dns && !z.nameservers.is_empty(),
        "nameservers",
        "dns",
    )?;
    at.only(!server && z.mtls, "mtls", "traversal-server")?;
    if z.mtls && (z.transport() != Transport::Tls || c.sip.trusted_ca.is_none()) {
        return Err(FieldError::new(
            &at.key("mtls"),
            "MTLS needs transport \"tls\" and `sip.trusted_ca` to verify client certificates",
        ));
    }
    at.only(
        !(client || z.kind == ZoneType::Neighbor || z.peers.is_empty()),
        "peers",
        "neighbor and traversal-client",
    )?;
    at.only(
        !(client || z.kind == ZoneType::Neighbor) && z.peer.is_some(),
        "peer",
        "neighbor and traversal-client",
    )
}

/// The H.323 side of a traversal zone: only on traversal zones, only with `[h323]` on, E's
/// port named on a client, a keep-alive interval in range, and no two server zones on one RAS
/// port (nor on the gatekeeper's own RAS port).
fn check_zone_h323(c: &Config, z: &Zone, at: &ZoneAt) -> Result<(), FieldError> {
    let client = z.kind == ZoneType::TraversalClient;
    let traversal = client || z.kind == ZoneType::TraversalServer;
    for (key, set) in [
        ("h323", z.h323.is_some()),
        ("h323_port", z.h323_port.is_some()),
        ("h323_mode", z.h323_mode.is_some()),
    ] {
        at.only(!traversal && set, key, "traversal")?;
    }
    at.only(
        !client && z.h323_keepalive_interval.is_some(),
        "h323_keepalive_interval",
        "traversal-client",
    )?;
    if z.h323 == Some(true) && !c.h323.enabled {
        return Err(FieldError::new(
            &at.key("h323"),
            "the zone cannot carry H.323 while `[h323] enabled` is false",
        ));
    }
    if !z.carries_h323(c.h323.enabled) {
        return Ok(());
    }
    if client {
        if z.h323_port.is_none() {
            return Err(FieldError::new(
                &[Key("zone"), Index(at.i)],
                "a traversal-client zone that carries H.323 needs `h323_port` (E's RAS port of \
                 the zone, 6001 for E's first traversal-server zone)",
            ));
        }
        if !d::H46018_KEEPALIVE_RANGE.contains(&z.h323_keepalive_interval()) {
            return Err(FieldError::new(
                &at.key("h323_keepalive_interval"),
                "must be 5 to 30 seconds",
            ));
        }
        return Ok(());
    }
    let port = traversal_server_h323_port(c, at.i);
    if port == c.h323.ras_listen.port() {
        return Err(FieldError::new(
            &at.key("h323_port"),
            format!("port {port} is the gatekeeper's RAS port (`h323.ras_listen`)"),
        ));
    }
    if let Some(j) = (0..at.i).find(|&j| {
        c.zones[j].kind == ZoneType::TraversalServer
            && c.zones[j].carries_h323(c.h323.enabled)
            && traversal_server_h323_port(c, j) == port
    }) {
        return Err(FieldError::new(
            &at.key("h323_port"),
            format!(
                "port {port} is already the H.323 port of zone `{}`",
                c.zones[j].name
            ),
        ));
    }
    Ok(())
}

/// A neighbor is reached at `peer`, or at each of `peers` (a remote cluster), each
/// `host[:port]`.
fn check_neighbor_zone(z: &Zone, at: &ZoneAt) -> Result<(), FieldError> {
    check_peer_or_peers(z, at)?;
    if let Some(p) = &z.peer {
        if split_host(p).is_none() {
            return Err(FieldError::new(
                &at.key("peer"),
                format!("`{p}` is not host[:port]"),
            ));
        }
    }
    for (i, p) in z.peers.iter().enumerate() {
        if split_host(p).is_none() {
            return Err(FieldError::new(
                &[Key("zone"), Index(at.i), Key("peers"), Index(i)],
                format!("`{p}` is not host[:port]"),
            ));
        }
    }
    Ok(())
}

/// A zone reached at `peer` or at each of `peers` (a remote cluster, at most
/// `MAX_ZONE_PEERS`), never both, and never twice the same peer.
fn check_peer_or_peers(z: &Zone, at: &ZoneAt) -> Result<(), FieldError> {
    if z.peer.is_some() && !z.peers.is_empty() {
        return Err(FieldError::new(
            &at.key("peers"),
            "give `peer` or `peers`, not both",
        ));
    }
    at.need(z.peer.is_some() || !z.peers.is_empty(), "peer")?;
    if z.peers.len() > crate::zones::MAX_ZONE_PEERS {
        return Err(FieldError::new(
            &at.key("peers"),
            format!("at most {} peers", crate::zones::MAX_ZONE_PEERS),
        ));
    }
    if let Some(i) = (1..z.peers.len()).find(|&i| z.peers[..i].contains(&z.peers[i])) {
        return Err(FieldError::new(
            &[Key("zone"), Index(at.i), Key("peers"), Index(i)],
            format!("`{}` is listed twice", z.peers[i]),
        ));
    }
    Ok(())
}

/// C's side of a traversal link: where E is, the credentials, a stream transport, timers that
/// can work, and the CA file if one is named.
fn check_traversal_client_zone(z: &Zone, at: &ZoneAt) -> Result<(), FieldError> {
    check_peer_or_peers(z, at)?;
    at.need(z.username.is_some(), "username")?;
    at.need(z.password.is_some(), "password")?;
    if let Some(p) = &z.peer {
        if !is_hostname(p) {
            return Err(FieldError::new(
                &at.key("peer"),
                format!("`{p}` is not a host name or IP address (the port is `sip_port`)"),
            ));
        }
    }
    for (i, p) in z.peers.iter().enumerate() {
        if split_host(p).is_none() {
            return Err(FieldError::new(
                &[Key("zone"), Index(at.i), Key("peers"), Index(i)],
                format!("`{p}` is not host[:port] (the port defaults to `sip_port`)"),
            ));
        }
    }
    if z.transport() == Transport::Udp {
        return Err(FieldError::new(
            &at.key("transport"),
            "a traversal link runs over tls or tcp",
        ));
    }
    if z.keepalive_interval() == 0 || z.retry_first() == 0 || z.retry_max() < z.retry_first() {
        return Err(FieldError::new(
            &[Key("zone"), Index(at.i)],
            "keepalive_interval and retry_first must be positive, and retry_max at least retry_first",
        ));
    }
    if z.registration_expires() < 10 {
        return Err(FieldError::new(
            &at.key("registration_expires"),
            "must be at least 10 seconds",
        ));
    }
    if let Some(ca) = &z.ca {
        if !ca.is_file() {
            return Err(FieldError::new(
                &at.key("ca"),
                format!("file `{}` does not exist", ca.display()),
            ));
        }
    }
    Ok(())
}

/// E's side of a traversal link: a credential to expect, a stream transport, and a SIP port no
/// earlier traversal-server zone has.
fn check_traversal_server_zone(c: &Config, at: &ZoneAt) -> Result<(), FieldError> {
    let (i, z) = (at.i, &c.zones[at.i]);
    at.need(z.username.is_some(), "username")?;
    if let Some(u) = &z.username {
        if !c.credentials.iter().any(|cr| &cr.username == u) {
            return Err(FieldError::new(
                &at.key("username"),
                format!("no [[credential]] has username `{u}`"),
            ));
        }
    }
    if z.transport() == Transport::Udp {
        return Err(FieldError::new(
            &at.key("transport"),
            "a traversal link runs over tls or tcp",
        ));
    }
    let port = traversal_server_port(c, i);
    if let Some(j) = (0..i).find(|&j| {
        c.zones[j].kind == ZoneType::TraversalServer && traversal_server_port(c, j) == port
    }) {
        return Err(FieldError::new(
            &at.key("sip_port"),
            format!(
                "port {port} is already the port of zone `{}`",
                c.zones[j].name
            ),
        ));
    }
    Ok(())
}
