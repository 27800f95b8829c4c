//! Hold and resume across the gateway. SIP's re-INVITE with `sendonly`/`inactive` audio
//! becomes H.323 8.4.6's third-party-initiated pause (our empty TCS: the H.323 side closes its
//! channels to us), and a `sendrecv` one our full TCS again (it reopens them). The H.323 side's
//! empty TCS becomes our re-INVITE `sendonly` towards SIP (and the tap stops sending to
//! H.323), its full TCS a re-INVITE `sendrecv`.
//!
//! Must not build SIP or H.245 messages itself (`sip_ua`, `control` do).

use super::media_path::{self, TapCmd};
use super::sip_ua::{self, Uac};
use super::to_h323::sdp_of;
use super::{Gateway, Output, Phase};
use crate::media::{Direction, Kind, Media};
use crate::sdp_map;
use crate::tap::Side;
use causeway_sip::message::Message;
use std::time::Instant;

/// The audio direction of a SIP offer.
fn audio_direction(m: &Media) -> Direction {
    m.streams
        .iter()
        .find(|s| s.kind == Kind::Audio && !s.rejected())
        .map_or(Direction::SendRecv, |s| s.direction)
}

/// `m` with its audio direction set to `d`.
fn with_direction(mut m: Media, d: Direction) -> Media {
    for s in m.streams.iter_mut().filter(|s| s.kind == Kind::Audio) {
        s.direction = d;
    }
    m
}

/// RFC 3264 6.1: the answer to a `sendonly` offer is `recvonly`, to `inactive` `inactive`.
fn answer_direction(offer: Direction) -> Direction {
    match offer {
        Direction::SendOnly => Direction::RecvOnly,
        Direction::RecvOnly => Direction::SendOnly,
        d => d,
    }
}

impl Gateway {
    /// A re-INVITE of an answered call: hold or resume mapped to H.245, answered at once with
    /// the session as it stands and the direction the offer asks.
    pub(super) fn sip_hold_or_resume(&mut self, id: u64, msg: &Message, out: &mut Vec<Output>) {
        let offer = match sdp_map::from_sdp(msg.body()) {
            Ok(m) if !msg.body().is_empty() => Some(m),
            Ok(_) => None,
            Err(e) => {
                self.counters.malformed += 1;
                return self.reply(msg, 488, &format!("Not Acceptable Here (SDP: {e})"), out);
            }
        };
        let dir = offer.as_ref().map_or(Direction::SendRecv, audio_direction);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let hold = matches!(dir, Direction::SendOnly | Direction::Inactive);
        let msgs = match (hold, c.sip_held, c.control.as_mut()) {
            (true, false, Some(ctl)) => ctl.pause(),
            (false, true, Some(ctl)) => ctl.resume(),
            _ => Vec::new(),
        };
        c.sip_held = hold;
        c.sdp_version += 1;
        let sdp = c.h323_media.as_ref().map(|m| {
            let v = media_path::sip_view(m, c.tap, c.sip_te.clone());
            sdp_of(&with_direction(v, answer_direction(dir)), c)
        });
        // a new address of the SIP side (not a RFC 2543 0.0.0.0 hold)
        let moved = offer
            .as_ref()
            .and_then(media_path::audio_addrs)
            .filter(|(rtp, _)| !rtp.ip().is_unspecified());
        let mut b = msg.response(200, "OK");
        b.header("Contact", &format!("<sip:gw@{}>", self.cfg.sip_local));
        for r in sip_ua::record_routes(msg) {
            b.header("Record-Route", &r);
        }
        if let Some(s) = &sdp {
            b.body("application/sdp", s);
        }
        out.push(Output::Sip {
            to: self.cfg.proxy,
            data: b.finish(),
        });
        self.send_h245(id, msgs, out);
        if let (Some(m), Some(_)) = (offer, moved) {
            self.tap_peer(id, Side::Sip, &m, out);
        }
    }

    /// The H.323 side paused (`on`) or resumed: the tap stops or starts sending to it, and
    /// the SIP side is re-invited `sendonly` or `sendrecv`.
    pub(super) fn h323_hold(&mut self, id: u64, on: bool, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.phase != Phase::Answered || c.h323_held == on {
            return;
        }
        c.h323_held = on;
        c.sdp_version += 1;
        let dir = if on {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        let Some(sdp) = c.h323_media.as_ref().map(|m| {
            let v = media_path::sip_view(m, c.tap, c.sip_te.clone());
            sdp_of(&with_direction(v, dir), c)
        }) else {
            return;
        };
        let branch = sip_ua::token(&mut *self.rng);
        let (me, t) = (self.cfg.sip_local, &self.cfg.timers);
        let invite = c
            .dialog
            .request("INVITE", me, &branch, Some(("application/sdp", &sdp)));
        out.push(Output::Sip {
            to: self.cfg.proxy,
            data: invite.clone(),
        });
        if let Some(mut u) = Uac::new("INVITE", branch, invite, now, t) {
            u.reinvite = true;
            c.uac.push(u);
        }
        if let Some(c) = self.calls.get(&id) {
            self.tap_cmd(
                id,
                c,
                TapCmd::Mute {
                    towards: Side::H323,
                    on,
                },
                out,
            );
        }
    }

    /// A final response to our re-INVITE: a 2xx is acknowledged (and a new address of the SIP
    /// side given to the tap); a failure leaves the session as it was (RFC 3261 14.1).
    pub(super) fn reinvite_answered(&mut self, id: u64, resp: &Message, out: &mut Vec<Output>) {
        let Some(status) = resp.status().filter(|s| *s >= 200) else {
            return;
        };
        if !(200..300).contains(&status) {
            tracing::info!("interworking: re-INVITE refused with {status}; the session stays");
            return;
        }
        let me = self.cfg.sip_local;
        let branch = sip_ua::token(&mut *self.rng);
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let ack = c.dialog.request("ACK", me, &branch, None);
        out.push(Output::Sip {
            to: self.cfg.proxy,
            data: ack,
        });
        if let Ok(m) = sdp_map::from_sdp(resp.body()) {
            let live = media_path::audio_addrs(&m).filter(|(a, _)| !a.ip().is_unspecified());
            if live.is_some() {
                self.tap_peer(id, Side::Sip, &m, out);
            }
        }
    }

    /// Our channel to H.323 is open again after a pause: the tap gets its (new) address.
    pub(super) fn channel_reopened(
        &mut self,
        id: u64,
        m: Media,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.h323_media = Some(m.clone());
        }
        self.tap_peer(id, Side::H323, &m, out);
        self.h323_hold(id, false, now, out);
    }
}
