//! Keep-alives of traversal media (H.460.19 section 7, the "keepAlive" of a traversal
//! client): C's end of a traversal link sends a packet from each of its local ports to where
//! E receives that leg's media as soon as it knows the address, and again whenever nothing
//! left that port for [`EVERY`], so C's firewall holds a pinhole for E's media before any
//! arrives and for as long as the call lasts (every [`UNTIL_ANSWERED`] until E's first packet of
//! that component came back). E's end sends nothing until C's first packet
//! arrived (`Leg::destination`), so no datagram ever goes towards C unasked.
//!
//! The packets: RTP, a bare 12-byte header with payload type `[media] keepalive_payload_type`
//! ([`PAYLOAD_TYPE`] by default, GNU Gatekeeper's keep-alive type; configurable because it
//! must not collide with a payload type the endpoints negotiate; any relay, causeway's
//! included, takes an RTP packet with no payload for a keep-alive, whatever its type, and does
//! not forward it); RTCP, an empty receiver report (RFC 3550
//! 6.4.2, RC = 0), which is valid RTCP wherever it ends up.
//!
//! Owns which legs are due and the packet bytes; the relay driver sends them. Must not touch
//! sockets or clocks.

use super::{Component, SessionId, Table};
use crate::call::{LinkEnd, Side};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a link leg's port may stay silent before a keep-alive goes (H.460.19 implementations
/// use the signaling keep-alive's 19 s; NAT and firewall UDP timeouts are 30 s and up).
pub const EVERY: Duration = Duration::from_secs(19);
/// The interval until E's first packet of that component arrived: E may have learnt C's address
/// after C's first keep-alive reached it (then E had no use for it and still waits for one).
pub const UNTIL_ANSWERED: Duration = Duration::from_secs(1);
/// The RTP payload type of keep-alives by default (dynamic range; as GNU Gatekeeper sends
/// them).
pub const PAYLOAD_TYPE: u8 = causeway_config::defaults::MEDIA_KEEPALIVE_PAYLOAD_TYPE;
/// An RTP packet of this length is a header with no payload: a keep-alive.
pub const RTP_LEN: usize = 12;

/// One keep-alive to send: from local port `from_port` to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    pub from_port: u16,
    pub to: SocketAddr,
    pub component: Component,
    /// E's multiplexID for the leg, put in front (H.460.19 multiplexed media, `mux_id`).
    pub mux_id: Option<u32>,
    /// The payload type E asked for (H.460.19 keepAlivePayloadType); `None`: the configured.
    pub payload_type: Option<u8>,
}

impl KeepAlive {
    /// The datagram: an RTP header (payload type `payload_type`, sequence number `seq`) or an
    /// empty RTCP receiver report. The SSRC is the local port, which is unique on the node.
    pub fn packet(&self, payload_type: u8, seq: u16) -> Vec<u8> {
        let ssrc = u32::from(self.from_port).to_be_bytes();
        let packet = match self.component {
            Component::Rtp => {
                let s = seq.to_be_bytes();
                // the marker bit stays clear whatever the caller passes
                let mut p = vec![0x80, payload_type & 0x7f, s[0], s[1], 0, 0, 0, 0];
                p.extend_from_slice(&ssrc);
                p
            }
            // V=2, RC=0, PT=201 (RR), length 1 (32-bit words minus one)
            Component::Rtcp => {
                let mut p = vec![0x80, 201, 0, 1];
                p.extend_from_slice(&ssrc);
                p
            }
        };
        match self.mux_id {
            Some(id) => [&id.to_be_bytes()[..], &packet].concat(),
            None => packet,
        }
    }
}

impl Table {
    /// The keep-alives due now on every C end of a link: legs that know where E receives and
    /// sent nothing for `every`. Each is marked as sent.
    pub fn keepalives(&mut self, now: Instant, every: Duration) -> Vec<KeepAlive> {
        let mut due = Vec::new();
        for session in self.slots.iter_mut().filter_map(|s| s.session.as_mut()) {
            for leg in session.legs.iter_mut() {
                if leg.link == Some(LinkEnd::Client) {
                    push_leg(leg, now, Some(every), &mut due);
                }
            }
        }
        due
    }

    /// C: the keep-alive payload type E's traversal parameters asked for on leg `side` of
    /// session `id` (`None`: the configured one).
    pub fn set_keepalive_pt(
        &mut self,
        id: SessionId,
        side: Side,
        pt: Option<u8>,
    ) -> Result<(), super::UpdateError> {
        let session = self.get_mut(id).ok_or(super::UpdateError::UnknownSession)?;
        session.legs[side.index()].keepalive_pt = pt.map(|p| p & 0x7f);
        Ok(())
    }

    /// The keep-alives of leg `side` of session `id` now, whatever it sent before: E just told
    /// C where that leg's media goes. Nothing unless the leg is C's end of a link.
    pub fn keepalive_now(&mut self, id: SessionId, side: Side, now: Instant) -> Vec<KeepAlive> {
        let mut due = Vec::new();
        if let Some(session) = self.get_mut(id) {
            let leg = &mut session.legs[side.index()];
            if leg.link == Some(LinkEnd::Client) {
                push_leg(leg, now, None, &mut due);
            }
        }
        due
    }
}

/// The leg's keep-alives of each component that knows its destination and, with `every`, has
/// sent nothing for that long; marked as sent.
fn push_leg(leg: &mut super::Leg, now: Instant, every: Option<Duration>, due: &mut Vec<KeepAlive>) {
    for component in [Component::Rtp, Component::Rtcp] {
        let last = &mut leg.last_out[component.index()];
        let latch = &leg.latches[component.index()];
        let every = every.map(|e| match latch.latched() {
            Some(_) => e,
            None => e.min(UNTIL_ANSWERED),
        });
        let stale = match (every, *last) {
            (Some(every), Some(t)) => now.saturating_duration_since(t) >= every,
            _ => true,
        };
        let Some(to) = latch.destination().filter(|_| stale) else {
            continue;
        };
        *last = Some(now);
        due.push(KeepAlive {
            from_port: leg.local.port(component),
            to,
            component,
            mux_id: leg.send_mux_id,
            payload_type: leg.keepalive_pt,
        });
    }
}

#[cfg(test)]
mod tests;
