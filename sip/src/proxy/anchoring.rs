//! The proxy core's side of media anchoring: which INVITEs and answers the relay sees (through
//! the `MediaAnchor` it was given), holding a branch while the relay binds the ports its offer
//! names and resuming it when the relay answers, and ending calls whose media died with a BYE
//! to each side (RFC 3261 15.1.1, from what `teardown` remembered of the call).
//!
//! Owns the `parked` and `teardowns` tables; the sessions, ports and SDP are the relay's
//! (crate `media`).

use super::core::Core;
use super::hop::{hop_for_uri, NextHop};
use super::identity::{via_value, BRANCH_PREFIX};
use super::io::Output;
use super::tables::{Anchored as AnchoredCall, Target, TxId};
use super::teardown::capture;
use crate::message::{Bytes, Message, Method, Uri};
use causeway_media::{Anchored, Legs, LinkEnd, RelayEvent, Side};
use rand::RngCore;
use std::time::Instant;
use tracing::{debug, warn};

/// Established anchored calls remembered for a teardown at once; past this a call is still
/// anchored but not ended by the node when its media dies.
const MAX_TEARDOWNS: usize = 100_000;

/// What becomes of a request's body on its way to one target.
pub(super) enum Offer {
    /// Forward it as it is.
    Untouched,
    /// Forward this body instead.
    Body(Bytes),
    /// The branch waits for the relay (`Event::Media`); nothing is sent yet.
    Parked,
}

pub(super) fn is_sdp(msg: &Message) -> bool {
    !msg.body().is_empty()
        && msg
            .header("Content-Type")
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"))
}

impl Core {
    /// The media side of forwarding the request of `ctx_id` to `target` with these `legs`: only
    /// INVITEs (offers) and BYEs (the end of a call) concern it; other requests skip this.
    pub(super) fn anchor_offer(
        &mut self,
        ctx_id: TxId,
        target: &Target,
        legs: Legs,
        now: Instant,
    ) -> Result<Offer, (u16, String)> {
        let Some(ctx) = self.ctxs.get(&ctx_id) else {
            return Ok(Offer::Untouched);
        };
        let Some(msg) = self
            .servers
            .get(&ctx.server)
            .and_then(|s| s.request.as_ref())
        else {
            return Ok(Offer::Untouched);
        };
        let is_bye = msg.method() == Some(&Method::Bye);
        let invite = ctx.invite;
        let Some(media) = self.media.as_mut().filter(|_| invite || is_bye) else {
            return Ok(Offer::Untouched);
        };
        let call_id = msg.call_id().unwrap_or("").to_string();
        if is_bye {
            media.end(&call_id);
            self.teardowns.remove(&call_id);
            return Ok(Offer::Untouched);
        }
        if !media.wants(&legs) {
            return Ok(Offer::Untouched);
        }
        // E: C's request over the link. The relay compares the media address C advertises
        // with where C's connection comes from: a NAT between them gets C's leg a pair of its
        // own instead of the multiplexed pair keyed by advertised addresses
        if legs.caller.link == Some(LinkEnd::Server) {
            media.link_peer(&call_id, Side::Caller, legs.caller.remote.ip());
        }
        // initial INVITEs and re-INVITEs: the relay tells a re-offer's direction from the
        // legs it stored for the call
        let mut offer = Offer::Untouched;
        if is_sdp(msg) {
            match media.sdp(&call_id, Side::Caller, &legs, msg.body(), now) {
                Ok(Anchored::Rewritten(body)) => offer = Offer::Body(body),
                Ok(Anchored::Unchanged) => {}
                Ok(Anchored::Pending) => offer = Offer::Parked,
                Err(r) => {
                    media.end(&call_id);
                    return Err((r.status, r.reason));
                }
            }
        }
        let initial = msg.to().and_then(|t| t.tag()).is_none();
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            if matches!(offer, Offer::Parked) {
                ctx.parked = Some(Box::new(target.clone()));
                self.parked.insert(call_id.clone(), ctx_id);
            }
            ctx.anchored = Some(Box::new(AnchoredCall {
                call_id,
                legs,
                initial,
            }));
        }
        Ok(offer)
    }

    /// The relay answered: a call whose ports are bound (or could not be) continues its branch.
    pub(super) fn on_media_event(&mut self, ev: RelayEvent, now: Instant, out: &mut Vec<Output>) {
        let Some(media) = self.media.as_mut() else {
            return;
        };
        let Some(call_id) = media.handle(ev, now) else {
            return;
        };
        let Some(ctx_id) = self.parked.remove(&call_id) else {
            return;
        };
        let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
            return;
        };
        if let Some(target) = ctx.parked.take() {
            // tried again from the start: this time the relay has the ports (or the refusal)
            ctx.targets.push_front(*target);
        }
        self.next_target(ctx_id, now, out);
    }

    /// The rewritten SDP answer (or offer in a reliable provisional / 2xx) of an anchored call.
    pub(super) fn anchor_answer(
        &mut self,
        ctx_id: TxId,
        msg: &Message,
        now: Instant,
    ) -> Option<Bytes> {
        let a = self.ctxs.get(&ctx_id)?.anchored.as_ref()?;
        if !is_sdp(msg) {
            return None;
        }
        let media = self.media.as_mut()?;
        match media.sdp(&a.call_id, Side::Callee, &a.legs, msg.body(), now) {
            Ok(Anchored::Rewritten(b)) => Some(b),
            Ok(Anchored::Unchanged) => None,
            Ok(Anchored::Pending) => {
                // an answer opens nothing; never seen, but never worth holding a response for
                debug!(call = %a.call_id, "answer of a call still binding: not anchored");
                None
            }
            Err(r) => {
                // an answer cannot be refused on its way back; it goes through unanchored
                warn!(call = %a.call_id, reason = %r.reason, "answer not anchored");
                None
            }
        }
    }

    /// The initial INVITE of an anchored call was answered 2xx: remember what a BYE needs.
    pub(super) fn remember_call(&mut self, call_id: &str, invite: &Message, ok: &Message) {
        if self.teardowns.len() >= MAX_TEARDOWNS || self.teardowns.contains_key(call_id) {
            return;
        }
        let identity = &mut self.identity;
        let t = capture(invite, ok, |u| match u {
            Uri::Sip(u) => identity.is_our_address(&u.host, u.port, u.secure),
            _ => false,
        });
        if let Some(t) = t {
            self.teardowns.insert(call_id.to_string(), t);
        }
    }

    /// The relay's inactivity sweep, when due: calls whose media died are hung up.
    pub(super) fn media_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Some(media) = self.media.as_mut() else {
            return;
        };
        if media.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        for call_id in media.handle_timeout(now) {
            self.hang_up(&call_id, "media inactivity", now, out);
        }
    }

    /// The relay's commands, for the driver.
    pub(super) fn drain_media(&mut self, out: &mut Vec<Output>) {
        if let Some(media) = self.media.as_mut() {
            while let Some(c) = media.poll_command() {
                out.push(Output::Media(c));
            }
        }
    }

    /// Ends an anchored call from the middle: a BYE to each side (RFC 3261 15.1.1).
    pub fn hang_up(&mut self, call_id: &str, reason: &str, now: Instant, out: &mut Vec<Output>) {
        let Some(t) = self.teardowns.remove(call_id) else {
            return;
        };
        warn!(call = %call_id, %reason, "ending the call: BYE to both sides");
        for bye in &t.sides {
            let flow = bye.flow.as_deref().and_then(|t| self.flows.decode(t));
            let hop = match (&bye.link, flow) {
                (Some(zone), _) => self.links.hop(zone),
                (None, Some(f)) => Some(NextHop::down_flow(&f)),
                (None, None) => match bye.next_hop_uri() {
                    Some(Uri::Sip(u)) => hop_for_uri(&u).ok(),
                    _ => None,
                },
            };
            let Some(hop) = hop else {
                debug!(call = %call_id, target = %bye.ruri, "no hop for the BYE");
                continue;
            };
            let local = match hop.link.as_deref().and_then(|z| self.links.get(z)) {
                Some(l) => Some(l.local),
                None if hop.flow => hop.local,
                None => self.identity.local_addr_towards(hop.kind, hop.addr.ip()),
            };
            let Some(local) = local else {
                continue;
            };
            let branch = format!("{BRANCH_PREFIX}bye{:016x}", self.rng.next_u64());
            let text = bye.render(call_id, &via_value(hop.kind, local, &branch), reason);
            self.start_client(false, Bytes::from(text), hop, branch, None, false, now, out);
        }
        if let Some(media) = self.media.as_mut() {
            media.end(call_id);
        }
    }
}
