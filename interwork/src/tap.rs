//! The gateway's media tap: the relay hop every interworked call's audio takes, between the
//! SIP side and the H.323 side, which is where DTMF changes form. RFC 4733 telephone-events
//! from the SIP side are taken out of the stream and reported as digits (the gateway sends
//! them as H.245 UserInputIndication); digits from H.323 UserInputIndication are put into
//! the stream towards SIP as RFC 4733 events, in the same RTP stream (same SSRC, sequence
//! numbers continued: the packets after them are renumbered, RFC 4733 2.5.1.2).
//!
//! Addressing: each side has an RTP/RTCP pair of the tap's own; the far ends are the
//! addresses the signaling named, replaced by the source of the first packet from that side
//! (symmetric RTP: a NATed or relayed peer is reached where it sends from). A packet from any
//! other address than the peer, once latched, is dropped.
//!
//! Why the gateway has its own hop instead of a hook in the node's relay (`media::relay`):
//! the relay's fast path knows nothing of payloads, and a digit needs the gateway's H.245
//! anyway; this hop carries only interworked audio. Video is not tapped (its addresses pass).
//! Sans-IO: packets, `now` and digits in, packets and digits out; the driver owns sockets.

use crate::dtmf::{digit_of_event, event_of_digit, Event};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The two sides of the tap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Sip = 0,
    H323 = 1,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Sip => Side::H323,
            Side::H323 => Side::Sip,
        }
    }
}

/// What the tap does with a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `data` from the tap's socket of side `from_side` (RTP or RTCP) to `to`.
    Send {
        from_side: Side,
        rtcp: bool,
        to: SocketAddr,
        data: Vec<u8>,
    },
    /// A DTMF digit the SIP side sent (RFC 4733), with its duration.
    Digit {
        digit: char,
        duration_ms: u16,
    },
    Drop,
}

/// RTP fixed header (RFC 3550 5.1) fields the tap reads and writes.
const RTP_HEADER: usize = 12;

/// The RTP stream the tap sends towards SIP: what the last forwarded packet said.
#[derive(Debug, Default)]
struct Outgoing {
    ssrc: u32,
    /// The last sequence number sent (after the shift).
    seq: u16,
    /// The last timestamp seen, and when.
    ts: u32,
    at: Option<Instant>,
    /// Added to every later packet's sequence number: the events put in so far.
    shift: u16,
}

#[derive(Debug, Default)]
pub struct Tap {
    rtp: [Option<SocketAddr>; 2],
    rtcp: [Option<SocketAddr>; 2],
    latched: [bool; 2],
    /// The telephone-event payload type the SIP side negotiated.
    sip_te: Option<u8>,
    to_sip: Outgoing,
    /// The timestamp of the last event taken from the SIP side (RFC 4733 2.5.1.4: the end
    /// packet comes three times).
    last_event: Option<u32>,
    /// Sides not sent to (they paused).
    muted: [bool; 2],
    /// Digits from H.323 that came before any audio went to SIP: held until the audio's
    /// stream exists (one SSRC for the SIP side), at most [`DIGIT_WAIT`].
    pending: Vec<(char, u16, Instant)>,
    /// Packets dropped: from strangers, or unparsable where they must be read.
    pub dropped: u64,
    pub forwarded: u64,
}

/// How long a digit waits for the H.323 side's audio stream before the tap's own carries it.
pub const DIGIT_WAIT: Duration = Duration::from_millis(300);
/// Digits held at most (more are dropped: a peer cannot press keys that fast).
const PENDING_MAX: usize = 16;

/// RTP clock of the tapped audio (G.711, G.729; G.722's RTP clock is 8 kHz too).
const CLOCK_KHZ: u32 = 8;

impl Tap {
    pub fn new() -> Tap {
        Tap::default()
    }

    /// A tap whose own stream towards SIP (events before any audio came from H.323) uses
    /// `ssrc` and starts at sequence number and timestamp derived from it (RFC 3550 5.1: the
    /// initial values should be random; the driver passes a random `ssrc`).
    pub fn with_ssrc(ssrc: u32) -> Tap {
        let mut t = Tap::default();
        t.to_sip.ssrc = ssrc;
        t.to_sip.seq = (ssrc >> 16) as u16;
        t.to_sip.ts = ssrc.rotate_left(13);
        t
    }

    /// Where side `side`'s far end receives, as its signaling said (until a packet from it
    /// names the address it really sends from).
    pub fn set_peer(&mut self, side: Side, rtp: SocketAddr, rtcp: SocketAddr) {
        let i = side as usize;
        if !self.latched[i] {
            self.rtp[i] = Some(rtp);
            self.rtcp[i] = Some(rtcp);
        }
    }

    /// Stops (or starts again) sending to side `side`.
    pub fn set_mute(&mut self, side: Side, on: bool) {
        self.muted[side as usize] = on;
    }

    /// The SIP side's telephone-event payload type (None: it negotiated none).
    pub fn set_sip_te(&mut self, pt: Option<u8>) {
        self.sip_te = pt;
    }

    /// A packet that arrived on side `side`'s RTP (or RTCP) socket from `from`.
    pub fn on_packet(
        &mut self,
        side: Side,
        rtcp: bool,
        from: SocketAddr,
        mut data: Vec<u8>,
        now: Instant,
    ) -> Action {
        let i = side as usize;
        if !rtcp && !self.latched[i] {
            // symmetric RTP: the far end is where it sends from
            self.latched[i] = true;
            self.rtp[i] = Some(from);
            if self.rtcp[i].is_none_or(|r| r.ip() != from.ip()) {
                self.rtcp[i] = Some(SocketAddr::new(from.ip(), from.port().wrapping_add(1)));
            }
        }
        let known = if rtcp {
            self.rtcp[i].is_some_and(|r| r.ip() == from.ip())
        } else {
            self.rtp[i] == Some(from)
        };
        if !known {
            self.dropped += 1;
            return Action::Drop;
        }
        let o = side.other();
        if self.muted[o as usize] {
            return Action::Drop;
        }
        let to = if rtcp {
            self.rtcp[o as usize]
        } else {
            self.rtp[o as usize]
        };
        let Some(to) = to else {
            self.dropped += 1;
            return Action::Drop;
        };
        if !rtcp && data.len() >= RTP_HEADER {
            match side {
                Side::Sip => {
                    if let Some(d) = self.event_from_sip(&data) {
                        return d;
                    }
                }
                Side::H323 => self.towards_sip(&mut data, now),
            }
        }
        self.forwarded += 1;
        Action::Send {
            from_side: o,
            rtcp,
            to,
            data,
        }
    }

    /// A telephone-event packet of the SIP side: taken out of the stream (Drop), and its digit
    /// reported once, on its first end packet.
    fn event_from_sip(&mut self, p: &[u8]) -> Option<Action> {
        let pt = p[1] & 0x7f;
        if Some(pt) != self.sip_te {
            return None;
        }
        let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        let Some(ev) = payload(p).and_then(Event::decode) else {
            self.dropped += 1;
            return Some(Action::Drop);
        };
        if !ev.end || self.last_event == Some(ts) {
            return Some(Action::Drop);
        }
        self.last_event = Some(ts);
        match digit_of_event(ev.event) {
            Some(digit) => Some(Action::Digit {
                digit,
                duration_ms: u16::try_from(u32::from(ev.duration) / CLOCK_KHZ).unwrap_or(u16::MAX),
            }),
            None => Some(Action::Drop),
        }
    }

    /// A packet from H.323 on its way to SIP: renumbered after inserted events, remembered.
    fn towards_sip(&mut self, p: &mut [u8], now: Instant) {
        let o = &mut self.to_sip;
        let seq = u16::from_be_bytes([p[2], p[3]]).wrapping_add(o.shift);
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        o.seq = seq;
        o.ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        o.ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
        o.at = Some(now);
    }

    /// RFC 4733 packets for `digit` towards the SIP side: the start packet (marker set) and
    /// the three end packets with the whole duration, in the stream the SIP side receives
    /// (the last SSRC seen, the timestamp it has reached by now; the tap's own stream when no
    /// audio came from H.323 yet). Nothing when the SIP side negotiated no telephone-event.
    pub fn digit_to_sip(
        &mut self,
        digit: char,
        duration_ms: u16,
        now: Instant,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        if self.to_sip.at.is_none() || !self.pending.is_empty() {
            if self.sip_te.is_some() && self.pending.len() < PENDING_MAX {
                self.pending.push((digit, duration_ms, now + DIGIT_WAIT));
            }
            return self.handle_timeout(now);
        }
        self.event_to_sip(digit, duration_ms, now)
    }

    /// When held digits are due: at their deadline, or at once when audio has gone to SIP.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.first().map(|(_, _, at)| *at)
    }

    /// The held digits' packets, once the audio's stream exists or their wait is over.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
        let due = self.pending.first().is_some_and(|(_, _, at)| *at <= now);
        if self.pending.is_empty() || (self.to_sip.at.is_none() && !due) {
            return Vec::new();
        }
        let held = std::mem::take(&mut self.pending);
        let mut out = Vec::new();
        for (digit, duration_ms, _) in held {
            out.extend(self.event_to_sip(digit, duration_ms, now));
        }
        out
    }

    /// Whether held digits can go now (the driver asks after each packet).
    pub fn digits_ready(&self) -> bool {
        !self.pending.is_empty() && self.to_sip.at.is_some()
    }

    fn event_to_sip(
        &mut self,
        digit: char,
        duration_ms: u16,
        now: Instant,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        let (Some(pt), Some(to), Some(event)) = (
            self.sip_te,
            self.rtp[Side::Sip as usize],
            event_of_digit(digit),
        ) else {
            return Vec::new();
        };
        let o = &mut self.to_sip;
        let at = *o.at.get_or_insert(now);
        let elapsed = now
            .saturating_duration_since(at)
            .min(Duration::from_secs(60));
        let ts =
            o.ts.wrapping_add(u32::try_from(elapsed.as_millis()).unwrap_or(0) * CLOCK_KHZ);
        let duration =
            u16::try_from(u32::from(duration_ms.max(40)) * CLOCK_KHZ).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(4);
        for (n, end) in [false, true, true, true].into_iter().enumerate() {
            let ev = Event {
                event,
                end,
                volume: 10,
                duration: if end { duration } else { 0 },
            };
            o.seq = o.seq.wrapping_add(1);
            o.shift = o.shift.wrapping_add(1);
            let mut p = Vec::with_capacity(RTP_HEADER + 4);
            p.push(0x80);
            p.push(if n == 0 { 0x80 | pt } else { pt });
            p.extend_from_slice(&o.seq.to_be_bytes());
            p.extend_from_slice(&ts.to_be_bytes());
            p.extend_from_slice(&o.ssrc.to_be_bytes());
            p.extend_from_slice(&ev.encode());
            out.push((to, p));
        }
        o.ts = ts.wrapping_add(u32::from(duration));
        o.at = Some(now);
        out
    }
}

/// The payload of an RTP packet: after the CSRCs and any header extension (RFC 3550 5.3.1).
fn payload(p: &[u8]) -> Option<&[u8]> {
    let cc = usize::from(p.first()? & 0x0f);
    let mut at = RTP_HEADER + 4 * cc;
    if p.first()? & 0x10 != 0 {
        let len = u16::from_be_bytes([*p.get(at + 2)?, *p.get(at + 3)?]);
        at += 4 + 4 * usize::from(len);
    }
    p.get(at..)
}

#[cfg(test)]
mod tests;
