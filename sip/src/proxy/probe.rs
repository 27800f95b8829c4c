//! The peers of a neighbor zone that lists several (a remote cluster, `peers = [...]`), and
//! the links of a traversal zone that has several up (one per peer of a remote cluster), are
//! probed with OPTIONS every `PROBE_EVERY`; a link's probe goes down its connection with
//! Max-Forwards 0, so that the far end answers it whatever address we know it by. An answer clears a failed peer and may carry its
//! load: a causeway node answers OPTIONS with `X-Causeway-Load: calls=N;media-free=M` (this
//! module also builds that header). No answer marks the peer failed (`unreachable`), by the
//! transaction layer as for any request. Routing (`targets`) orders the zone's peers by it:
//! live before failed, then the most free media sessions first, then the configured order.
//!
//! Owns the probe schedule and the loads heard; sends through the core's client transactions.
//! A peer given as a host name is not probed (its address needs DNS at call time).

use super::core::Core;
use super::hop::hop_for_uri;
use super::identity::{via_value, BRANCH_PREFIX};
use super::io::Output;
use super::tables::Timer;
use crate::message::{Bytes, Message, Uri};
use causeway_config::zones::ZoneType;
use causeway_zones::Unreachable;
use causeway_zones::{Health, PeerHealth};
use rand::RngCore;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The header a causeway node's answer to OPTIONS carries.
pub const LOAD_HEADER: &str = "X-Causeway-Load";

/// Between two rounds of probes.
const PROBE_EVERY: Duration = Duration::from_secs(10);

/// This node's load, as the status publisher last saw it: calls in progress and free media
/// sessions (none without a relay).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Load {
    pub calls: u64,
    pub free_media: Option<u64>,
    /// Bandwidth of the calls in progress that asked for some (H.323 admissions), kbit/s.
    pub kbps: u64,
}

/// Written by the node about once a second, read when the core answers OPTIONS.
pub type LoadHandle = Arc<Mutex<Option<Load>>>;

/// `calls=N;media-free=M;kbps=K` (`media-free` only with a relay).
pub fn load_value(load: &Load) -> String {
    match load.free_media {
        Some(free) => format!("calls={};media-free={free};kbps={}", load.calls, load.kbps),
        None => format!("calls={};kbps={}", load.calls, load.kbps),
    }
}

/// The free media sessions a load header gives, if it gives them.
pub fn free_media_of(value: &str) -> Option<u64> {
    value.split(';').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("media-free"))
            .then(|| v.trim().parse().ok())
            .flatten()
    })
}

/// The schedule and what the probed peers said of their load.
#[derive(Debug, Default)]
pub(super) struct Probes {
    /// When the next round is due; `None` until the first input arms it.
    next: Option<Instant>,
    /// Free media sessions by peer address (only addresses this node probes).
    free: HashMap<SocketAddr, u64>,
    /// Where each round's view goes for the gatekeeper (its LRQs to the same peers).
    pub shared: Option<PeerHealth>,
}

impl Probes {
    pub fn free_media(&self, addr: SocketAddr) -> Option<u64> {
        self.free.get(&addr).copied()
    }
}

/// How `addr` stands: failed lately or not, and the free media sessions it told (the one
/// view routing and the gatekeeper's share are built from).
pub(super) fn health(
    unreachable: &Unreachable,
    probes: &Probes,
    addr: SocketAddr,
    now: Instant,
) -> Health {
    Health {
        down: unreachable.is_down(addr, now),
        free_media: probes.free_media(addr),
    }
}

impl Core {
    /// The addresses to probe: every peer given as an address, of every neighbor zone that
    /// lists several.
    fn probe_targets(&self) -> Vec<(SocketAddr, super::hop::NextHop)> {
        let mut v = Vec::new();
        for z in self.router.zones() {
            if z.kind != ZoneType::Neighbor || z.peers.len() < 2 {
                continue;
            }
            for peer in &z.peers {
                let uri = format!("sip:{peer};transport={}", z.transport().param());
                if let Ok(Uri::Sip(u)) = Uri::parse(&uri) {
                    if let Ok(hop) = hop_for_uri(&u) {
                        v.push((hop.addr, hop));
                    }
                }
            }
        }
        v.extend(self.link_probe_targets());
        v
    }

    /// The links of every traversal zone that has several up (C to an E cluster, or E with
    /// links from a C cluster's peers), each down its own connection.
    fn link_probe_targets(&self) -> Vec<(SocketAddr, super::hop::NextHop)> {
        let mut zones: Vec<&str> = self.links.all().values().map(|l| l.zone.as_str()).collect();
        zones.sort_unstable();
        zones.dedup();
        zones
            .into_iter()
            .map(|z| self.links.of_zone(z))
            .filter(|links| links.len() > 1)
            .flatten()
            .filter_map(|(name, _)| self.links.hop(name))
            .map(|hop| (hop.addr, hop))
            .collect()
    }

    /// Arms the first round at the first input (the core has no clock of its own before).
    pub(super) fn arm_probes(&mut self, now: Instant) {
        if self.probes.next.is_none() {
            self.probes.next = Some(now);
            self.arm(now, Some(now), Timer::Probe);
        }
    }

    /// One round: OPTIONS to each peer to probe, and the next round armed.
    pub(super) fn probe(&mut self, now: Instant, out: &mut Vec<Output>) {
        let next = now + PROBE_EVERY;
        self.probes.next = Some(next);
        self.arm(now, Some(next), Timer::Probe);
        let targets = self.probe_targets();
        // what a reload dropped is forgotten
        self.probes
            .free
            .retain(|a, _| targets.iter().any(|(t, _)| t == a));
        if let Some(shared) = &self.probes.shared {
            // what the rounds so far found, for the gatekeeper
            let view = targets
                .iter()
                .map(|(a, _)| (a.ip(), health(&self.unreachable, &self.probes, *a, now)))
                .collect();
            shared.replace(view);
        }
        for (addr, hop) in targets {
            let local = match hop.local.filter(|_| hop.link.is_some()) {
                Some(l) => Some(l),
                None => self.identity.local_addr_towards(hop.kind, addr.ip()),
            };
            let Some(local) = local else {
                continue;
            };
            // down a link, the far end knows not its address as we see it (a NAT between):
            // Max-Forwards 0 makes it answer the OPTIONS itself (RFC 3261 16.3 item 3)
            let max_forwards = if hop.link.is_some() { 0 } else { 70 };
            let branch = format!("{BRANCH_PREFIX}probe{:016x}", self.rng.next_u64());
            let tag = self.rng.next_u64();
            // the User-Agent and Accept lines are what a UA's OPTIONS carries, and they make
            // the probe longer than a causeway peer's compact answer with its load: a peer
            // that never answers more bytes than it got over UDP (`[protection]
            // amplification_limit`) still answers
            let text = format!(
                "OPTIONS sip:{addr} SIP/2.0\r\nVia: {}\r\nMax-Forwards: {max_forwards}\r\n\
                 From: <sip:ping@{local}>;tag={tag:x}\r\nTo: <sip:{addr}>\r\n\
                 Call-ID: probe-{tag:x}@{local}\r\nCSeq: 1 OPTIONS\r\n\
                 User-Agent: causeway neighbor probe (OPTIONS, asking for X-Causeway-Load)\r\n\
                 Accept: application/sdp\r\nContent-Length: 0\r\n\r\n",
                via_value(hop.kind, local, &branch)
            );
            self.start_client(false, Bytes::from(text), hop, branch, None, false, now, out);
        }
    }

    /// A response from `addr`: the load it carries, when `addr` is a probed peer.
    pub(super) fn note_load(&mut self, addr: SocketAddr, msg: &Message) {
        let Some(free) = msg.header(LOAD_HEADER).and_then(free_media_of) else {
            return;
        };
        let probed = self.probe_targets().iter().any(|(a, _)| *a == addr);
        if probed {
            self.probes.free.insert(addr, free);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_header_round_trips_and_odd_values_give_nothing() {
        let v = load_value(&Load {
            calls: 3,
            free_media: Some(997),
            kbps: 768,
        });
        assert_eq!(v, "calls=3;media-free=997;kbps=768");
        assert_eq!(free_media_of(&v), Some(997));
        assert_eq!(free_media_of(" Media-Free = 12 ; calls=1"), Some(12));
        assert_eq!(free_media_of("calls=3"), None);
        assert_eq!(free_media_of("media-free=lots"), None);
        assert_eq!(free_media_of(""), None);
        let none = load_value(&Load {
            calls: 0,
            free_media: None,
            kbps: 0,
        });
        assert_eq!(free_media_of(&none), None);
    }
}
