//! Where E's end of a traversal link goes, and what it latches on, given what signaling saw of
//! C (the source IP of C's signaling connection: `MediaAnchor::link_peer`).
//!
//! E's multiplexed pair tells calls apart by the exact source C advertised for each stream.
//! A NAT between C and E rewrites that source (to its own IP and a port of its choosing), so
//! none of C's packets would match any key: no media either way. So when the signaling layer
//! reports C's observed IP, E's leg goes on the multiplexed pair only if C's advertised media
//! IP is known when the relay session is set up and is that same IP; otherwise (they differ,
//! or the other side spoke first and C's address is not known yet: the pair C is told cannot
//! change later) the leg gets a pair of its own, latched on C's first packet as with
//! `[media] multiplexed = false`. Such a pair (either way) latches only on a source whose IP
//! is C's advertised one or the observed one, so a stranger cannot take the stream; when no
//! observed IP was reported, the leg's signaling peer (`Leg::remote`) stands in for it.
//!
//! With no observed IP reported the layout is as before: the multiplexed pair.
//!
//! Owns the observed IPs per call (bounded by `MAX_CALLS`, freed by `MediaAnchor::end`).

use super::MAX_CALLS;
use crate::call::{Leg, LinkEnd, Side};
use crate::session::LegSpec;
use std::collections::HashMap;
use std::net::IpAddr;

/// The observed IP of each side's link peer, per call.
#[derive(Debug, Default)]
pub(super) struct Peers(HashMap<String, [Option<IpAddr>; 2]>);

impl Peers {
    /// Records the observed IP of `side`'s link peer; ignored (with a warning) past
    /// `MAX_CALLS` calls.
    pub fn set(&mut self, call_id: &str, side: Side, ip: IpAddr) {
        if let Some(p) = self.0.get_mut(call_id) {
            p[side.index()] = Some(ip);
            return;
        }
        if self.0.len() >= MAX_CALLS {
            tracing::warn!(call = %call_id, "media relay: too many calls; link peer not recorded");
            return;
        }
        let mut p = [None; 2];
        p[side.index()] = Some(ip);
        self.0.insert(call_id.to_string(), p);
    }

    pub fn get(&self, call_id: &str, side: Side) -> Option<IpAddr> {
        self.0.get(call_id).and_then(|p| p[side.index()])
    }

    pub fn remove(&mut self, call_id: &str) {
        self.0.remove(call_id);
    }
}

/// A leg as the relay table takes it (no addresses yet): E's end of a link on the multiplexed
/// pair when `multiplexed` and no NAT shows (see the module docs), every other leg on a pair
/// of its own; a link end is marked as one. `observed`: what signaling saw of the leg's
/// peer; `media`: the IP the leg's peer advertised for this stream, if known yet.
pub(super) fn leg_spec(
    leg: &Leg,
    multiplexed: bool,
    observed: Option<IpAddr>,
    media: Option<IpAddr>,
) -> LegSpec {
    let server = leg.link == Some(LinkEnd::Server);
    let behind_nat = observed.is_some_and(|o| media != Some(o));
    let spec = if server && multiplexed && !behind_nat {
        LegSpec::multiplexed(None)
    } else {
        if server && multiplexed {
            tracing::debug!(
                ?observed,
                ?media,
                "E's link leg on a pair of its own: C's media may come through a NAT"
            );
        }
        LegSpec::own(None)
    };
    let peer = observed.or_else(|| Some(leg.remote.ip()).filter(|ip| !ip.is_unspecified()));
    spec.on_link(leg.link).observed_at(peer.filter(|_| server))
}
