//! The alias table the SIP registrar and the H.323 gatekeeper share: who holds an alias (a SIP
//! AOR `user@domain`, an H.323 E.164 number, H.323-ID or URL), so that one protocol cannot
//! register what the other holds and a call for an alias registered with the other protocol
//! is told so instead of "not found".
//!
//! Keys are the alias text folded to lower case (`sip:Alice@Example.com` -> `alice@example.com`).
//! SIP claims carry the time their last binding runs out and lapse by themselves (the
//! registrar's purge needs no hook); H.323 claims are released by the gatekeeper when the
//! registration ends. Must not hold protocol state beyond the owner of each alias.

use crate::route::Protocol;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Who holds an alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub protocol: Protocol,
    /// The AOR (SIP) or endpoint identifier (H.323).
    pub id: String,
    /// When the claim lapses by itself (SIP bindings); `None`: until released.
    pub until: Option<Instant>,
    /// H.323: the endpoint's RAS address (a cluster peer recognises the same endpoint moving
    /// to it by this); SIP: none.
    pub address: Option<SocketAddr>,
}

/// Shared by the SIP core and the gatekeeper (each on its own task): a short mutex, held for
/// one map operation.
#[derive(Clone, Debug, Default)]
pub struct SharedAliases {
    map: Arc<Mutex<HashMap<String, Owner>>>,
    /// Counts the claims that added an alias or changed its owner, and the releases: what a
    /// cluster peer publishes changes only then (or when a claim lapses).
    changes: Arc<AtomicU64>,
}

/// The table key of an alias text: a SIP/H.323/tel URI scheme dropped, lower case.
pub fn key(alias: &str) -> String {
    let a = alias.trim();
    let bare = ["sips:", "sip:", "h323:", "tel:"]
        .iter()
        .find_map(|s| {
            a.get(..s.len())
                .filter(|p| p.eq_ignore_ascii_case(s))
                .map(|_| &a[s.len()..])
        })
        .unwrap_or(a);
    bare.to_lowercase()
}

impl SharedAliases {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Owner>) -> R) -> R {
        // a poisoned lock only means another task panicked mid-update of a plain map
        let mut g = self.map.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Claims `alias` for `owner`. Fails with the current owner when another protocol, or
    /// another endpoint of the same protocol, holds it and its claim has not lapsed.
    pub fn claim(&self, alias: &str, owner: Owner, now: Instant) -> Result<(), Owner> {
        let k = key(alias);
        self.with(|m| {
            let mut same = false;
            if let Some(cur) = m.get(&k) {
                let live = cur.until.is_none_or(|t| t > now);
                let other = cur.protocol != owner.protocol || cur.id != owner.id;
                if live && other {
                    return Err(cur.clone());
                }
                same = live && !other;
            }
            if !same {
                self.changes.fetch_add(1, Ordering::Relaxed);
            }
            m.insert(k, owner);
            // lapsed SIP claims are dropped now and then, so the map stays as large as the
            // live registrations (amortised: only when it has grown)
            if m.len() % 1024 == 0 {
                m.retain(|_, o| o.until.is_none_or(|t| t > now));
            }
            Ok(())
        })
    }

    /// Releases `alias` if `id` holds it.
    pub fn release(&self, alias: &str, id: &str) {
        let k = key(alias);
        self.with(|m| {
            if m.get(&k).is_some_and(|o| o.id == id) {
                m.remove(&k);
                self.changes.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// How many times an alias was added, changed owner or was released since the start (a
    /// refresh of a claim is not a change).
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// Every live alias (its key) with the protocol that holds it and the H.323 endpoint's
    /// address: what this node publishes to the other peers of its cluster.
    pub fn live(&self, now: Instant) -> Vec<(String, Protocol, Option<SocketAddr>)> {
        self.with(|m| {
            m.iter()
                .filter(|(_, o)| o.until.is_none_or(|t| t > now))
                .map(|(k, o)| (k.clone(), o.protocol, o.address))
                .collect()
        })
    }

    /// The live owner of `alias`.
    pub fn owner(&self, alias: &str, now: Instant) -> Option<Owner> {
        let k = key(alias);
        self.with(|m| {
            m.get(&k)
                .filter(|o| o.until.is_none_or(|t| t > now))
                .cloned()
        })
    }
}

#[cfg(test)]
mod tests;
