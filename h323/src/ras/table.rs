//! The registration table: endpoints registered with the gatekeeper, their aliases, and when
//! each registration runs out.
//!
//! Aliases are keyed by their text folded to lower case (an H.323-ID `Alice` and the URL
//! `alice` name the same thing to an operator, as on the reference systems); E.164 digits
//! fold to themselves. Must not hold RAS message handling (that is the procedure modules of
//! `ras`: `registration`, `admission`, `location`).

use crate::asn::AliasText;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Instant;

/// One registered endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: String,
    pub aliases: Vec<AliasText>,
    pub ras: SocketAddr,
    pub call_signal: Vec<SocketAddr>,
    /// The time to live granted, seconds.
    pub ttl: u32,
    pub expires: Instant,
    pub registered_at: Instant,
    /// An IRQ sent because the TTL ran out: its sequence number and when we give up.
    pub probe: Option<(u16, Instant)>,
    /// Registered from another IP than its rasAddress (a NAT between us).
    pub nat: bool,
    /// Announced H.460.18: calls to it are announced by SCI and it calls back.
    pub h46018: bool,
    /// Announced H.460.19 in that RRQ and was answered as by a media traversal server: its
    /// OLCs may carry traversal parameters (keep-alives towards our relay).
    pub h46019: bool,
    /// Our RAS address as its RRQ reached it (the IP it calls back to).
    pub local: SocketAddr,
}

#[derive(Default, Debug)]
pub struct Table {
    by_id: HashMap<String, Endpoint>,
    by_alias: HashMap<String, String>,
    /// (RAS address, first call-signaling address): one endpoint.
    by_ras: HashMap<(SocketAddr, Option<SocketAddr>), String>,
    /// (deadline, id): the registration's expiry, or its probe's deadline while probing.
    deadlines: BTreeSet<(Instant, String)>,
}

pub fn alias_key(text: &str) -> String {
    text.to_lowercase()
}

impl Table {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Endpoint> {
        self.by_id.get(id)
    }

    /// The endpoint registered from this RAS address with this call-signaling address.
    pub fn by_ras(&self, ras: SocketAddr, signal: Option<SocketAddr>) -> Option<&Endpoint> {
        self.by_ras
            .get(&(ras, signal))
            .and_then(|id| self.by_id.get(id))
    }

    /// The endpoint that registered an alias (its text, any kind).
    pub fn by_alias(&self, text: &str) -> Option<&Endpoint> {
        self.by_alias
            .get(&alias_key(text))
            .and_then(|id| self.by_id.get(id))
    }

    /// The endpoint whose call-signaling address has this IP (a caller's Setup source).
    pub fn by_signal_ip(&self, ip: std::net::IpAddr) -> Option<&Endpoint> {
        self.by_id
            .values()
            .find(|e| e.call_signal.iter().any(|a| a.ip() == ip))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Endpoint> {
        self.by_id.values()
    }

    /// Aliases of `aliases` held by an endpoint other than `except`.
    pub fn conflicts(&self, aliases: &[AliasText], except: Option<&str>) -> Vec<AliasText> {
        aliases
            .iter()
            .filter(|a| {
                self.by_alias
                    .get(&alias_key(&a.text))
                    .is_some_and(|owner| Some(owner.as_str()) != except)
            })
            .cloned()
            .collect()
    }

    /// Adds or replaces (same id) an endpoint.
    pub fn insert(&mut self, ep: Endpoint) {
        self.remove(&ep.id);
        for a in &ep.aliases {
            self.by_alias.insert(alias_key(&a.text), ep.id.clone());
        }
        self.by_ras
            .insert((ep.ras, ep.call_signal.first().copied()), ep.id.clone());
        self.deadlines.insert((ep.expires, ep.id.clone()));
        self.by_id.insert(ep.id.clone(), ep);
    }

    pub fn remove(&mut self, id: &str) -> Option<Endpoint> {
        let ep = self.by_id.remove(id)?;
        for a in &ep.aliases {
            let key = alias_key(&a.text);
            if self.by_alias.get(&key).is_some_and(|o| o == id) {
                self.by_alias.remove(&key);
            }
        }
        let key = (ep.ras, ep.call_signal.first().copied());
        if self.by_ras.get(&key).is_some_and(|o| o == id) {
            self.by_ras.remove(&key);
        }
        self.deadlines.remove(&(deadline(&ep), ep.id.clone()));
        Some(ep)
    }

    /// Extends a registration to `expires` and ends any probe.
    pub fn refresh(&mut self, id: &str, expires: Instant, ttl: u32) -> bool {
        let Some(ep) = self.by_id.get_mut(id) else {
            return false;
        };
        self.deadlines.remove(&(deadline(ep), ep.id.clone()));
        ep.expires = expires;
        ep.ttl = ttl;
        ep.probe = None;
        self.deadlines.insert((expires, ep.id.clone()));
        true
    }

    /// The endpoint's RAS address is now `ras` (its NAT rebound it).
    pub fn move_ras(&mut self, id: &str, ras: SocketAddr) {
        let Some(ep) = self.by_id.get_mut(id) else {
            return;
        };
        let signal = ep.call_signal.first().copied();
        if self.by_ras.get(&(ep.ras, signal)).is_some_and(|o| o == id) {
            self.by_ras.remove(&(ep.ras, signal));
        }
        ep.ras = ras;
        self.by_ras.insert((ras, signal), ep.id.clone());
    }

    /// Marks an endpoint as probed (IRQ `seq` sent) until `until`.
    pub fn set_probe(&mut self, id: &str, seq: u16, until: Instant) {
        if let Some(ep) = self.by_id.get_mut(id) {
            self.deadlines.remove(&(deadline(ep), ep.id.clone()));
            ep.probe = Some((seq, until));
            self.deadlines.insert((until, ep.id.clone()));
        }
    }

    /// The earliest deadline (expiry or probe deadline).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Endpoints whose deadline is at or before `now`, earliest first.
    pub fn due(&self, now: Instant) -> Vec<String> {
        self.deadlines
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

fn deadline(ep: &Endpoint) -> Instant {
    ep.probe.map(|(_, until)| until).unwrap_or(ep.expires)
}
