//! The endpoint's media. With `--rtp`: G.711 µ-law RTP (payload type 0, 20 ms of 160
//! samples, 50 packets a second, sequence numbers and timestamps counting up) sent to the RTP
//! address the peer's OpenLogicalChannelAck (or fastStart answer) gave while this side's
//! channel is open (the call driver sets and clears the target: a pause stops the sending),
//! and every audio datagram arriving on the endpoint's own RTP socket counted. When the call's
//! media is dropped (the call is over, after `released`) it prints `rtp` {sent, received, to}.
//!
//! Always, also without `--rtp`: RFC 4733 telephone-event packets arriving (payload type
//! `--te-pt`, a 4-byte payload) are recognised, not counted as audio, and printed once per
//! event as `rtp-event` {digit, code, duration_ms, pt} when the first packet with the end bit
//! arrives (RFC 4733 2.5.1.4 sends the end packet three times; they share the RTP timestamp,
//! which tells them apart from the next event).
//!
//! Owns the media sockets and their tasks; no signaling.

use super::emit;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// One G.711 frame: 20 ms at 8 kHz.
const SAMPLES: u32 = 160;
const PACKET_EVERY: Duration = Duration::from_millis(20);
/// How many ended events are remembered to drop the retransmitted end packets.
const SEEN_ENDS: usize = 8;

/// One RFC 4733 telephone-event packet (section 2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// In timestamp units (8 kHz for audio).
    pub duration: u16,
    pub timestamp: u32,
    pub pt: u8,
}

impl TelephoneEvent {
    /// The DTMF digit of events 0-15 (RFC 4733 3.2).
    pub fn digit(&self) -> Option<char> {
        "0123456789*#ABCD".chars().nth(usize::from(self.event))
    }
}

/// The payload of an RTP packet (after CSRCs and a header extension, padding removed), with
/// its payload type and timestamp; None when it is not RTP version 2 or is cut short.
pub fn rtp_payload(p: &[u8]) -> Option<(u8, u32, &[u8])> {
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    let cc = usize::from(p[0] & 0x0f);
    let mut start = 12 + 4 * cc;
    if p[0] & 0x10 != 0 {
        let ext = p.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = p.len();
    if p[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*p.last()?))?;
    }
    let payload = p.get(start..end)?;
    let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    Some((p[1] & 0x7f, ts, payload))
}

/// A telephone-event packet of payload type `te_pt`, or None for anything else.
pub fn telephone_event(p: &[u8], te_pt: u8) -> Option<TelephoneEvent> {
    let (pt, timestamp, payload) = rtp_payload(p)?;
    if pt != te_pt || payload.len() != 4 {
        return None;
    }
    Some(TelephoneEvent {
        event: payload[0],
        end: payload[1] & 0x80 != 0,
        volume: payload[1] & 0x3f,
        duration: u16::from_be_bytes([payload[2], payload[3]]),
        timestamp,
        pt,
    })
}

/// Reports each event once, at its first end packet; bounded (the last `SEEN_ENDS`).
#[derive(Default)]
pub struct EventDedupe {
    ended: Vec<(u32, u8)>,
}

impl EventDedupe {
    /// True for the first end packet of an event (by timestamp and event code).
    pub fn first_end(&mut self, e: &TelephoneEvent) -> bool {
        if !e.end || self.ended.contains(&(e.timestamp, e.event)) {
            return false;
        }
        if self.ended.len() == SEEN_ENDS {
            self.ended.remove(0);
        }
        self.ended.push((e.timestamp, e.event));
        true
    }
}

/// The `rtp-event` line of an event.
pub fn event_json(e: &TelephoneEvent) -> serde_json::Value {
    json!({
        "event": "rtp-event",
        "digit": e.digit().map(String::from),
        "code": e.event,
        "duration_ms": u32::from(e.duration) / 8,
        "pt": e.pt,
    })
}

pub struct Media {
    rtp: Arc<UdpSocket>,
    _rtcp: UdpSocket,
    /// `--rtp`: send and count.
    enabled: bool,
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    /// Where the sending task sends now; None while there is no open channel (or paused).
    target: Arc<Mutex<Option<SocketAddr>>>,
    /// The last target, for the final `rtp` line.
    to: Option<SocketAddr>,
    sending: bool,
    tasks: Vec<JoinHandle<()>>,
}

async fn receive(sock: Arc<UdpSocket>, count: Arc<AtomicU64>, te_pt: u8) {
    let mut buf = [0u8; 2048];
    let mut dedupe = EventDedupe::default();
    while let Ok((n, _)) = sock.recv_from(&mut buf).await {
        let p = &buf[..n];
        match telephone_event(p, te_pt) {
            Some(e) => {
                if dedupe.first_end(&e) {
                    emit(event_json(&e));
                }
            }
            None => {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn send(sock: Arc<UdpSocket>, count: Arc<AtomicU64>, target: Arc<Mutex<Option<SocketAddr>>>) {
    let mut tick = tokio::time::interval(PACKET_EVERY);
    let mut packet = [0xffu8; 12 + SAMPLES as usize]; // µ-law silence
    packet[..2].copy_from_slice(&[0x80, 0x00]); // V=2, PT=0 (PCMU)
    packet[8..12].copy_from_slice(&rand::random::<u32>().to_be_bytes());
    let mut seq = 0u16;
    // The timestamp runs with the clock, also while nothing is sent (RFC 3550 5.1).
    for tick_no in 0u32.. {
        tick.tick().await;
        let to = *target.lock().unwrap_or_else(|p| p.into_inner());
        let Some(to) = to else { continue };
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[4..8].copy_from_slice(&tick_no.wrapping_mul(SAMPLES).to_be_bytes());
        seq = seq.wrapping_add(1);
        if sock.send_to(&packet, to).await.is_ok() {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Media {
    /// Holds the pair and listens on the RTP socket (audio counted, telephone-events of
    /// payload type `te_pt` reported); `enabled` is `--rtp`.
    pub fn new(pair: (UdpSocket, UdpSocket), enabled: bool, te_pt: u8) -> Media {
        let rtp = Arc::new(pair.0);
        let received = Arc::new(AtomicU64::new(0));
        let tasks = vec![tokio::spawn(receive(rtp.clone(), received.clone(), te_pt))];
        Media {
            rtp,
            _rtcp: pair.1,
            enabled,
            sent: Arc::new(AtomicU64::new(0)),
            received,
            target: Arc::new(Mutex::new(None)),
            to: None,
            sending: false,
            tasks,
        }
    }

    /// Sends to `to` from now on, or stops sending (None); with `--rtp` only.
    pub fn set_target(&mut self, to: Option<SocketAddr>) {
        if !self.enabled {
            return;
        }
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = to;
        if to.is_some() {
            self.to = to;
        }
        if to.is_some() && !self.sending {
            self.sending = true;
            let (sock, count) = (self.rtp.clone(), self.sent.clone());
            self.tasks
                .push(tokio::spawn(send(sock, count, self.target.clone())));
        }
    }

    /// (sent, received) so far, in packets.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Media {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if self.enabled {
            let (sent, received) = self.counts();
            emit(json!({
                "event": "rtp",
                "sent": sent,
                "received": received,
                "to": self.to.map(|a| a.to_string()),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pt: u8, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, pt, 0, 1];
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&[1, 2, 3, 4]);
        p.extend_from_slice(payload);
        p
    }

    fn te(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let d = duration.to_be_bytes();
        [event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
    }

    #[test]
    fn telephone_events_are_recognised_by_type_and_size() {
        let e = telephone_event(&packet(101, 800, &te(11, true, 800)), 101).unwrap();
        assert_eq!(e.digit(), Some('#'));
        assert!(e.end);
        assert_eq!(
            (e.volume, e.duration, e.timestamp, e.pt),
            (10, 800, 800, 101)
        );
        assert_eq!(event_json(&e)["duration_ms"], 100);
        // marker bit set (first packet of an event): same payload type
        assert!(telephone_event(&packet(0x80 | 101, 0, &te(1, false, 160)), 101).is_some());
        // another payload type, audio-sized payloads, cut packets
        assert!(telephone_event(&packet(96, 0, &te(1, true, 1)), 101).is_none());
        assert!(telephone_event(&packet(101, 0, &[0xff; 160]), 101).is_none());
        assert!(telephone_event(&packet(101, 0, &[1, 2, 3]), 101).is_none());
        assert!(telephone_event(&[0x80, 101, 0], 101).is_none());
        assert_eq!(
            telephone_event(&packet(101, 0, &te(16, true, 8)), 101)
                .unwrap()
                .digit(),
            None
        );
    }

    #[test]
    fn csrcs_extension_and_padding_are_skipped() {
        let mut p = vec![0x80 | 0x20 | 0x10 | 1, 101, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4];
        p.extend_from_slice(&[5, 6, 7, 8]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0, 0, 0, 0]); // extension of one word
        p.extend_from_slice(&te(5, true, 400));
        p.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let e = telephone_event(&p, 101).unwrap();
        assert_eq!((e.event, e.timestamp), (5, 9));
        // padding longer than the packet, extension past the end
        let mut bad = p.clone();
        *bad.last_mut().unwrap() = 255;
        assert!(telephone_event(&bad, 101).is_none());
        assert!(rtp_payload(&p[..18]).is_none());
    }

    #[test]
    fn the_three_end_packets_make_one_event_and_the_next_digit_another() {
        let mut d = EventDedupe::default();
        let ev = |ts, event, end| telephone_event(&packet(101, ts, &te(event, end, 800)), 101);
        let mut reported = Vec::new();
        for (ts, event, end) in [
            (1000, 1, false),
            (1000, 1, false),
            (1000, 1, true),
            (1000, 1, true),
            (1000, 1, true),
            (2600, 2, false),
            (2600, 2, true),
            (2600, 2, true),
            (2600, 2, true),
            (4200, 2, true), // the same digit again: a new event
        ] {
            let e = ev(ts, event, end).unwrap();
            if d.first_end(&e) {
                reported.push(e.digit().unwrap());
            }
        }
        assert_eq!(reported, vec!['1', '2', '2']);
    }

    #[test]
    fn dedupe_memory_is_bounded() {
        let mut d = EventDedupe::default();
        for ts in 0..1000u32 {
            let e = telephone_event(&packet(101, ts, &te(1, true, 8)), 101).unwrap();
            assert!(d.first_end(&e));
        }
        assert!(d.ended.len() <= SEEN_ENDS);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        for n in 0..4000usize {
            let len = n % 64;
            let p: Vec<u8> = (0..len).map(|_| rand::random()).collect();
            let _ = telephone_event(&p, 101);
            let mut q = p.clone();
            if let Some(b) = q.first_mut() {
                *b = 0x80 | (*b & 0x3f);
            }
            let _ = telephone_event(&q, 101);
        }
    }
}
