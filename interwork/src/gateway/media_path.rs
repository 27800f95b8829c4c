//! Where an interworked call's audio goes: through the call's tap ([`crate::tap`]), whose
//! SIP-facing addresses are what the SIP side is told and whose H.323-facing addresses are
//! what the H.323 side is told. This file rewrites the media descriptions each way, tells the
//! tap the far ends and the SIP side's telephone-event type, and carries digits across.
//!
//! Must not send signaling (the call flows do).

use super::{Call, Gateway, Output};
use crate::media::{Codec, Format, Kind, Media};
use crate::tap::Side;
use std::net::SocketAddr;

/// A call's tap sockets, each side's RTP and RTCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TapAddrs {
    pub sip: (SocketAddr, SocketAddr),
    pub h323: (SocketAddr, SocketAddr),
}

/// Binds a call's tap at once (the driver's sockets; a fake in tests), as the H.323 call
/// signaling has the relay bind its channels.
pub trait TapPorts: Send {
    fn open(&mut self, call: u64) -> Result<TapAddrs, String>;
}

/// What the gateway tells a call's tap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TapCmd {
    Peer {
        side: Side,
        rtp: SocketAddr,
        rtcp: SocketAddr,
    },
    SipTelephoneEvent(Option<u8>),
    /// Put this digit into the stream towards SIP (RFC 4733).
    Digit {
        digit: char,
        duration_ms: u16,
    },
    /// Stop (or start again) sending to side `towards` (it paused).
    Mute {
        towards: Side,
        on: bool,
    },
    Close,
}

/// The first live audio stream's addresses.
pub(super) fn audio_addrs(m: &Media) -> Option<(SocketAddr, SocketAddr)> {
    m.streams
        .iter()
        .find(|s| s.kind == Kind::Audio && !s.rejected())
        .map(|s| (s.rtp, s.rtcp))
}

/// `m` with its first live audio stream at `at` (video keeps its addresses).
pub(super) fn audio_at(m: &Media, at: (SocketAddr, SocketAddr)) -> Media {
    let mut m = m.clone();
    if let Some(s) = m
        .streams
        .iter_mut()
        .find(|s| s.kind == Kind::Audio && !s.rejected())
    {
        s.rtp = at.0;
        s.rtcp = at.1;
    }
    m
}

/// The telephone-event format of `m`'s audio.
pub(super) fn telephone_event(m: &Media) -> Option<Format> {
    m.streams
        .iter()
        .filter(|s| s.kind == Kind::Audio && !s.rejected())
        .flat_map(|s| s.formats.iter())
        .find(|f| f.codec == Codec::TelephoneEvent)
        .cloned()
}

/// `m` without telephone-event (what the H.323 side's channels carry: digits go as UII).
pub(super) fn without_telephone_event(m: &Media) -> Media {
    let mut m = m.clone();
    for s in &mut m.streams {
        s.formats.retain(|f| f.codec != Codec::TelephoneEvent);
    }
    m
}

/// The media the SIP side is told: the H.323 side's `m` at the tap's SIP-facing addresses,
/// with telephone-event `te` (the tap makes and takes the events).
pub(super) fn sip_view(m: &Media, tap: Option<TapAddrs>, te: Option<Format>) -> Media {
    let mut m = match tap {
        Some(t) => audio_at(m, t.sip),
        None => m.clone(),
    };
    if let (Some(te), Some(s)) = (
        te.filter(|_| tap.is_some()),
        m.streams
            .iter_mut()
            .find(|s| s.kind == Kind::Audio && !s.rejected()),
    ) {
        if !s.formats.iter().any(|f| f.codec == Codec::TelephoneEvent) {
            s.formats.push(te);
        }
    }
    m
}

/// The media the H.323 side is told: the SIP side's `m` at the tap's H.323-facing addresses.
pub(super) fn h323_view(m: &Media, tap: Option<TapAddrs>) -> Media {
    match tap {
        Some(t) => audio_at(m, t.h323),
        None => m.clone(),
    }
}

/// What the H.323 side is offered for a delayed-offer INVITE: every audio codec the gateway
/// maps, G.711 first, and telephone-event (addresses are the tap's, set by the caller).
pub(super) fn every_audio_codec() -> Media {
    // a placeholder the tap's addresses replace (port 0 would read as a rejected stream)
    let unset = SocketAddr::from(([0, 0, 0, 0], 9));
    let mut formats: Vec<Format> = [Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::G729]
        .into_iter()
        .map(Format::of)
        .collect();
    formats.push(default_te());
    Media {
        streams: vec![crate::media::Stream {
            kind: Kind::Audio,
            rtp: unset,
            rtcp: unset,
            formats,
            direction: crate::media::Direction::SendRecv,
        }],
    }
}

/// The telephone-event the gateway offers SIP on calls from H.323: RFC 4733's usual 101 with
/// the DTMF events.
pub(super) fn default_te() -> Format {
    Format {
        pt: 101,
        codec: Codec::TelephoneEvent,
        fmtp: Some("0-16".into()),
    }
}

impl Gateway {
    pub(super) fn tap_cmd(&self, id: u64, c: &Call, cmd: TapCmd, out: &mut Vec<Output>) {
        if c.tap.is_some() {
            out.push(Output::Tap { call: id, cmd });
        }
    }

    /// Tells the tap where side `side`'s far end is, from that side's media.
    pub(super) fn tap_peer(&self, id: u64, side: Side, m: &Media, out: &mut Vec<Output>) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if let Some((rtp, rtcp)) = audio_addrs(m) {
            self.tap_cmd(id, c, TapCmd::Peer { side, rtp, rtcp }, out);
        }
    }

    /// A digit the SIP side sent (RFC 4733, from the tap): UserInputIndication to H.323.
    pub(super) fn digit_from_sip(
        &mut self,
        id: u64,
        digit: char,
        duration_ms: u16,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.phase != super::Phase::Answered {
            return;
        }
        let signal = c
            .control
            .as_ref()
            .is_none_or(|ctl| ctl.remote_takes_signal());
        let m = if signal {
            crate::dtmf::uii_signal(digit, duration_ms)
        } else {
            crate::dtmf::uii_alpha(digit)
        };
        match causeway_h323::endpoint::encode_h245(&m) {
            Ok(b) => self.send_h245(id, vec![b], out),
            Err(e) => tracing::warn!("interworking: UserInputIndication not built: {e}"),
        }
    }

    /// A digit from H.323 (UserInputIndication): RFC 4733 towards SIP through the tap.
    pub(super) fn digit_from_h323(
        &self,
        id: u64,
        digit: char,
        duration_ms: Option<u16>,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.calls.get(&id) else {
            return;
        };
        if c.sip_te.is_none() {
            tracing::info!(call = %c.dialog.call_id, "interworking: digit `{digit}` from H.323 not passed on: the SIP side negotiated no telephone-event");
            return;
        }
        // an alphanumeric digit has no duration: RFC 4733's usual 100 ms
        let duration_ms = duration_ms.unwrap_or(100);
        self.tap_cmd(id, c, TapCmd::Digit { digit, duration_ms }, out);
    }
}
