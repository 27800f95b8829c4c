//! Anchoring: the proxy core's `MediaAnchor` hook, turning the offers and answers of a call
//! into relay sessions and rewritten SDP. One relay session per active m= section; the caller
//! is leg A, the callee leg B.
//!
//! What each node writes (the traversal media plan, reference tables 001/004):
//! - a leg that is C's link as seen from E uses E's multiplexed pair (36000/36001): E
//!   advertises it to C and tells C's calls apart by the source port C advertised;
//! - every other leg gets a pair of its own from the media range; on C the link-facing pair is
//!   where C sends to E's multiplexed pair from (so C's firewall sees only outbound flows).
//!
//! Owns the call -> sessions map; the ports, latches and packets are `session`/`relay`'s. It
//! must not block: relay sessions are set up synchronously in the shared table and the driver
//! binds their sockets right after.

use crate::legs::{From, Leg, Legs, LinkEnd, MediaAnchor, MediaRefusal};
use crate::relay::{RelayError, RelayHandle};
use crate::sdp::{MediaRewrite, MediaSection, Rewrite, Sdp};
use crate::session::{LegSpec, Local, SessionId, SessionInfo, Side};
use bytes::Bytes;
use causeway_config::media::{Anchor as Policy, OnInactivity};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Calls anchored at once; past this an offer is refused (each holds sessions anyway, which
/// the relay bounds too).
const MAX_CALLS: usize = 100_000;

struct Call {
    /// The legs of the initial INVITE: leg A faces `caller`, leg B `callee`.
    legs: Legs,
    /// One entry per m= section of the first offer (`None`: not relayed).
    sessions: Vec<Option<SessionInfo>>,
}

pub struct Anchoring {
    relay: RelayHandle,
    policy: Policy,
    /// `[media] address`: advertised instead of the signaling address facing each leg.
    address: Option<IpAddr>,
    strip_ice: bool,
    on_inactivity: OnInactivity,
    calls: HashMap<String, Call>,
}

impl Anchoring {
    pub fn new(
        relay: RelayHandle,
        policy: Policy,
        address: Option<IpAddr>,
        strip_ice: bool,
        on_inactivity: OnInactivity,
    ) -> Anchoring {
        Anchoring {
            relay,
            policy,
            address,
            strip_ice,
            on_inactivity,
            calls: HashMap::new(),
        }
    }

    fn advertised(&self, leg: &Leg) -> IpAddr {
        self.address.unwrap_or_else(|| leg.local.ip())
    }

    /// The relay's view of a leg: E's link leg is multiplexed, every other one has its own pair.
    fn spec(leg: &Leg, expected: Option<(SocketAddr, Option<SocketAddr>)>) -> LegSpec {
        let mut s = if leg.link == Some(LinkEnd::Server) {
            LegSpec::multiplexed(expected.map(|e| e.0))
        } else {
            LegSpec::own(expected.map(|e| e.0))
        };
        if let Some((_, rtcp)) = expected {
            s.rtcp = rtcp;
        }
        s
    }

    fn refuse(status: u16, reason: impl Into<String>) -> MediaRefusal {
        MediaRefusal {
            status,
            reason: reason.into(),
        }
    }

    /// A first offer from the caller: a session per section, the offer rewritten towards the
    /// callee.
    fn first_offer(
        &mut self,
        call_id: &str,
        legs: &Legs,
        sdp: &Sdp,
    ) -> Result<Bytes, MediaRefusal> {
        if self.calls.len() >= MAX_CALLS {
            return Err(Self::refuse(503, "Service Unavailable (media relay full)"));
        }
        let mut sessions = Vec::new();
        for m in sdp.media() {
            let Some(expected) = relayable(m) else {
                sessions.push(None);
                continue;
            };
            let a = Self::spec(&legs.caller, Some(expected));
            let b = Self::spec(&legs.callee, None);
            match self.relay.add_now(a, b) {
                Ok(info) => sessions.push(Some(info)),
                Err(e) => {
                    for info in sessions.iter().flatten() {
                        self.relay.remove_now(info.id);
                    }
                    return Err(refusal(e));
                }
            }
        }
        let body = self.rewrite(sdp, &sessions, Side::B, &legs.callee);
        self.calls.insert(
            call_id.to_string(),
            Call {
                legs: legs.clone(),
                sessions,
            },
        );
        Ok(body)
    }

    /// `sdp` came from leg `from_side` of a known call: its addresses are what that leg
    /// expects; the body goes on rewritten for the other leg.
    fn update(
        &mut self,
        call_id: &str,
        from_side: Side,
        sdp: &Sdp,
    ) -> Result<Option<Bytes>, MediaRefusal> {
        let Some(call) = self.calls.get(call_id) else {
            return Ok(None);
        };
        let sessions = call.sessions.clone();
        let to_leg = match from_side {
            Side::A => call.legs.callee.clone(),
            Side::B => call.legs.caller.clone(),
        };
        for (m, info) in sdp.media().iter().zip(&sessions) {
            let (Some(info), Some((rtp, rtcp))) = (info, relayable(m)) else {
                continue;
            };
            if let Err(e) = self
                .relay
                .set_expected_now(info.id, from_side, Some(rtp), rtcp)
            {
                return Err(refusal(e));
            }
        }
        Ok(Some(self.rewrite(
            sdp,
            &sessions,
            from_side.other(),
            &to_leg,
        )))
    }

    /// The body for leg `towards` (facing `leg`): each relayed section points at that leg's
    /// local pair.
    fn rewrite(
        &self,
        sdp: &Sdp,
        sessions: &[Option<SessionInfo>],
        towards: Side,
        leg: &Leg,
    ) -> Bytes {
        let addr = self.advertised(leg);
        let plan = Rewrite {
            media: sdp
                .media()
                .iter()
                .zip(sessions.iter().chain(std::iter::repeat(&None)))
                .map(|(m, s)| {
                    let info = s.as_ref()?;
                    let local = match towards {
                        Side::A => info.a,
                        Side::B => info.b,
                    };
                    let pair = match local {
                        Local::Own(p) | Local::Multiplexed(p) => p,
                    };
                    Some(MediaRewrite {
                        addr,
                        port: pair.rtp(),
                        rtcp_port: (!m.rtcp_mux).then(|| pair.rtcp()),
                    })
                })
                .collect(),
            strip_ice: self.strip_ice,
        };
        sdp.rewrite(&plan)
    }

    fn drop_call(&mut self, call_id: &str) {
        if let Some(call) = self.calls.remove(call_id) {
            for info in call.sessions.into_iter().flatten() {
                self.relay.remove_now(info.id);
            }
        }
    }
}

/// The RTP (and RTCP) address a section's sender expects media on, when the relay can carry it.
fn relayable(m: &MediaSection) -> Option<(SocketAddr, Option<SocketAddr>)> {
    if m.port == 0 || m.multicast || m.port_count.is_some_and(|c| c > 1) {
        return None;
    }
    let ip = m.connection?;
    let rtp = SocketAddr::new(ip, m.port);
    let rtcp = if m.rtcp_mux {
        None
    } else {
        match m.rtcp {
            Some((port, addr)) => Some(SocketAddr::new(addr.unwrap_or(ip), port)),
            None => crate::session::rtcp_of(rtp),
        }
    };
    Some((rtp, rtcp))
}

fn refusal(e: RelayError) -> MediaRefusal {
    match e {
        RelayError::Add(_) => MediaRefusal {
            status: 503,
            reason: format!("Service Unavailable (media relay: {e})"),
        },
        _ => MediaRefusal {
            status: 488,
            reason: format!("Not Acceptable Here (media relay: {e})"),
        },
    }
}

impl MediaAnchor for Anchoring {
    fn wants(&self, legs: &Legs) -> bool {
        match self.policy {
            Policy::All => true,
            Policy::None => false,
            Policy::Traversal => legs.caller.link.is_some() || legs.callee.link.is_some(),
        }
    }

    fn sdp(
        &mut self,
        call_id: &str,
        from: From,
        legs: &Legs,
        body: &[u8],
        _now: Instant,
    ) -> Result<Option<Bytes>, MediaRefusal> {
        let sdp = Sdp::parse(body)
            .map_err(|e| Self::refuse(488, format!("Not Acceptable Here ({e})")))?;
        match self.calls.get(call_id) {
            None if from == From::Caller => self.first_offer(call_id, legs, &sdp).map(Some),
            // an answer for a call we did not see the offer of: leave it alone
            None => Ok(None),
            Some(call) => {
                // which leg sent it: compare with the legs of the initial INVITE (a re-INVITE
                // may come from the callee's side)
                let sender = match from {
                    From::Caller => &legs.caller,
                    From::Callee => &legs.callee,
                };
                let side = if sender.remote == call.legs.caller.remote {
                    Side::A
                } else {
                    Side::B
                };
                self.update(call_id, side, &sdp)
            }
        }
    }

    fn end(&mut self, call_id: &str) {
        self.drop_call(call_id);
    }

    fn take_hangups(&mut self) -> Vec<String> {
        // a call whose every session the relay ended (no BYE came: those remove the call)
        let dead: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                let mut s = c.sessions.iter().flatten().peekable();
                s.peek().is_some() && s.all(|i| !self.relay.is_alive(i.id))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &dead {
            self.calls.remove(id);
            if self.on_inactivity == OnInactivity::Report {
                tracing::warn!(call = %id, "media of the call stopped; the call is left up");
            }
        }
        match self.on_inactivity {
            OnInactivity::Hangup => dead,
            OnInactivity::Report => Vec::new(),
        }
    }
}

/// Exposed for status: the calls anchored now.
impl Anchoring {
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    pub fn relay(&self) -> &RelayHandle {
        &self.relay
    }

    /// Session ids of a call (tests).
    pub fn sessions_of(&self, call_id: &str) -> Vec<SessionId> {
        self.calls
            .get(call_id)
            .map(|c| c.sessions.iter().flatten().map(|i| i.id).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
