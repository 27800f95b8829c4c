//! A reload of the traversal side of a running node: the core's new policy, E's credentials
//! for admitting traversal clients, and C's link clients diffed against the configured zones.
//! A client whose zone's settings did not change keeps running (its link stays up, its
//! registration refreshes on schedule); a changed zone's client is replaced by a new one, which
//! connects and registers afresh; a removed zone's link goes down. No other link is touched.
//!
//! Owns only the diff. Must not reach into the clients' state machines: a replaced client is
//! dropped whole, and its connection is left to the transport's idle timeout (E replaces the
//! link when the new client registers).

use crate::client::{LinkClient, LinkConfig};
use crate::proxy::{LinkedProxy, CLIENT_TOKENS, CLIENT_TOKEN_SPAN};
use causeway_sip::proxy::{Event, LinkEvent, Machine, Output, Policy};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::time::Instant;

/// The client token ranges cycle through this many (2^63 / 2^40 spans).
const TOKEN_SPANS: u64 = 1 << 23;

/// What a reload asks of the traversal side.
pub struct Reconfig {
    pub policy: Policy,
    /// `[[credential]]`: what E's admission checks traversal clients against.
    pub credentials: HashMap<String, String>,
    /// C's traversal client zones as configured now.
    pub links: Vec<LinkConfig>,
    /// The zones among `links` whose settings are as before.
    pub unchanged: Vec<String>,
    /// Seeds the new clients' generators.
    pub rng: StdRng,
}

/// What a reload did to C's links, by zone (a zone of several peers once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub kept: Vec<String>,
    pub added: Vec<String>,
    pub restarted: Vec<String>,
    pub removed: Vec<String>,
}

impl LinkedProxy {
    /// Applies `r` between two inputs; a link that goes down tells the core at once (calls
    /// routed to it get what a down link gets).
    pub fn reconfigure(&mut self, r: Reconfig, now: Instant, out: &mut Vec<Output>) -> Applied {
        let Reconfig {
            policy,
            credentials,
            links,
            unchanged,
            mut rng,
        } = r;
        self.core.reconfigure(policy);
        self.admission.set_credentials(credentials);
        let mut old = std::mem::take(&mut self.clients);
        let mut applied = Applied::default();
        for cfg in links {
            let zone = cfg.zone.clone();
            let name = cfg.name();
            let pos = old.iter().position(|c| c.name() == name);
            if let Some(i) = pos.filter(|_| unchanged.contains(&zone)) {
                self.clients.push(old.swap_remove(i));
                applied.kept.push(zone);
                continue;
            }
            if let Some(i) = pos {
                old.swap_remove(i);
                self.link_down(&name, now, out);
                applied.restarted.push(zone);
            } else {
                applied.added.push(zone);
            }
            let span = self.next_client % TOKEN_SPANS;
            self.next_client = self.next_client.wrapping_add(1);
            let client_rng =
                StdRng::from_rng(&mut rng).unwrap_or_else(|_| StdRng::seed_from_u64(span));
            let tokens = CLIENT_TOKENS + span * CLIENT_TOKEN_SPAN;
            self.clients
                .push(LinkClient::new(cfg, now, self.clock, client_rng, tokens));
        }
        for c in old {
            self.link_down(&c.name(), now, out);
            applied.removed.push(c.zone().to_string());
        }
        let mut zones: Vec<String> = self.clients.iter().map(|c| c.zone().to_string()).collect();
        zones.dedup();
        self.core.set_client_zones(zones);
        // a zone of several peers is named once
        for list in [
            &mut applied.kept,
            &mut applied.added,
            &mut applied.restarted,
            &mut applied.removed,
        ] {
            list.dedup();
        }
        applied
    }

    fn link_down(&mut self, name: &str, now: Instant, out: &mut Vec<Output>) {
        let ev = Event::Link(LinkEvent::Set {
            name: name.to_string(),
            link: None,
        });
        self.core.handle(ev, now, out);
    }
}

#[cfg(test)]
mod tests;
