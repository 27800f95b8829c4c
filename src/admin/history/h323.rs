//! Which call an H.323 message belongs to and what it does to it, for the call history. A
//! call is named by its callIdentifier GUID (32 hex digits: the same on both legs of a routed
//! call and on every node it crosses). Q.931 messages carry it; a separate H.245 connection
//! is tied to its call by the H.323 service (the tap's call number, learned from the call's
//! Q.931 messages); a RAS confirm or reject joins the request with its sequence number from
//! the same peer. A Setup or an ARQ starts a call; Connect answers it; ReleaseComplete ends it.
//!
//! The decoding and naming are `causeway_h323::describe`'s; this module only links, from the
//! identifiers alone (`q931_ids`, `ras_ids_of`): the full description is made when a ladder
//! is read (the pretty-printed text of every message, made as it passed, was most of the
//! CPU of an H.323 call through a node). Its maps are bounded (cleared when full: a lost link
//! costs a message of a ladder, nothing else).

use super::store::Effect;
use causeway_h323::describe::{self, Described};
use causeway_h323::driver::Channel;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Entries kept in each map before it is cleared.
const MAX_LINKS: usize = 8192;

/// One H.323 message as the history sees it.
#[derive(Debug)]
pub struct Seen {
    pub key: String,
    /// (from, to) when it starts a call (Setup, ARQ).
    pub start: Option<(String, String)>,
    pub effect: Effect,
}

/// The summary and text of a kept message, described when its ladder is read.
pub fn describe(channel: Channel, bytes: &[u8]) -> (String, String) {
    let d = match channel {
        Channel::Ras => describe::ras(bytes),
        Channel::Q931 => describe::q931(bytes),
        Channel::H245 => describe::h245(bytes),
    };
    (d.summary, d.text)
}

#[derive(Default, Debug)]
pub struct Links {
    /// The service's call number to the call's name.
    by_call: HashMap<u64, String>,
    /// (peer, requestSeqNum) of a RAS request to its call's name.
    by_ras: HashMap<(SocketAddr, u16), String>,
}

impl Links {
    /// `None` when the message belongs to no call (registrations, keep-alives).
    pub fn classify(
        &mut self,
        channel: Channel,
        call: Option<u64>,
        remote: SocketAddr,
        bytes: &[u8],
    ) -> Option<Seen> {
        match channel {
            Channel::Ras => self.ras(remote, bytes),
            Channel::Q931 => self.q931(call, bytes),
            Channel::H245 => {
                let key = self.by_call.get(&call?)?.clone();
                Some(seen(key, None, Effect::None))
            }
        }
    }

    fn ras(&mut self, remote: SocketAddr, bytes: &[u8]) -> Option<Seen> {
        let d = describe::ras_ids_of(bytes);
        let seq = d.seq?;
        if d.answer {
            let key = self.by_ras.remove(&(remote, seq))?;
            return Some(seen(key, None, Effect::None));
        }
        let key = d.call.clone()?;
        bounded(&mut self.by_ras).insert((remote, seq), key.clone());
        let start = d.summary.starts_with("ARQ").then(|| parties(&d));
        Some(seen(key, start, Effect::None))
    }

    fn q931(&mut self, call: Option<u64>, bytes: &[u8]) -> Option<Seen> {
        let d = describe::q931_ids(bytes);
        let known = call.and_then(|c| self.by_call.get(&c).cloned());
        let key = match (d.call.clone(), known, call) {
            (Some(k), _, _) | (None, Some(k), _) => k,
            // an endpoint before H.225.0 v2 names no call: the service's number does
            (None, None, Some(c)) => format!("h323-{c}"),
            (None, None, None) => return None,
        };
        if let Some(c) = call {
            bounded(&mut self.by_call).insert(c, key.clone());
        }
        let start = d.summary.starts_with("Setup").then(|| parties(&d));
        let effect = match d.release {
            Some(Some(cause)) => Effect::Ended(format!("released, cause {cause}")),
            Some(None) => Effect::Ended("released".into()),
            None if d.connect => Effect::Answered,
            None => Effect::None,
        };
        Some(seen(key, start, effect))
    }
}

fn parties(d: &Described) -> (String, String) {
    (
        d.from.clone().unwrap_or_default(),
        d.to.clone().unwrap_or_default(),
    )
}

fn seen(key: String, start: Option<(String, String)>, effect: Effect) -> Seen {
    Seen { key, start, effect }
}

fn bounded<K, V>(m: &mut HashMap<K, V>) -> &mut HashMap<K, V> {
    if m.len() >= MAX_LINKS {
        m.clear();
    }
    m
}
