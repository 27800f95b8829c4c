//! The endpoint's media with `--rtp`: G.711 µ-law RTP (payload type 0, 20 ms of 160 samples,
//! 50 packets a second, sequence numbers and timestamps counting up) sent to the RTP address
//! the peer's OpenLogicalChannelAck gave, and every datagram arriving on the endpoint's own
//! RTP socket counted. When the call's media is dropped (the call is over, after `released`)
//! it prints `rtp` {sent, received, to}.
//!
//! Without `--rtp` the sockets are only held (bound, so the addresses the endpoint announces
//! are real) and nothing is printed. Owns the media sockets and their tasks; no signaling.

use super::emit;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// One G.711 frame: 20 ms at 8 kHz.
const SAMPLES: u32 = 160;
const PACKET_EVERY: Duration = Duration::from_millis(20);

pub struct Media {
    rtp: Arc<UdpSocket>,
    _rtcp: UdpSocket,
    /// `--rtp`: send and count.
    enabled: bool,
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    to: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Media {
    /// Holds the pair; with `enabled`, starts counting what arrives on the RTP socket.
    pub fn new(pair: (UdpSocket, UdpSocket), enabled: bool) -> Media {
        let rtp = Arc::new(pair.0);
        let received = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        if enabled {
            let (sock, count) = (rtp.clone(), received.clone());
            tasks.push(tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                while sock.recv_from(&mut buf).await.is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Media {
            rtp,
            _rtcp: pair.1,
            enabled,
            sent: Arc::new(AtomicU64::new(0)),
            received,
            to: None,
            tasks,
        }
    }

    /// Starts sending to `to` (once; later calls are ignored).
    pub fn send_to(&mut self, to: SocketAddr) {
        if !self.enabled || self.to.is_some() {
            return;
        }
        self.to = Some(to);
        let (sock, count) = (self.rtp.clone(), self.sent.clone());
        let ssrc: u32 = rand::random();
        self.tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(PACKET_EVERY);
            let mut packet = [0xffu8; 12 + SAMPLES as usize]; // µ-law silence
            packet[..2].copy_from_slice(&[0x80, 0x00]); // V=2, PT=0 (PCMU)
            packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
            for seq in 0u16.. {
                tick.tick().await;
                packet[2..4].copy_from_slice(&seq.to_be_bytes());
                let ts = u32::from(seq).wrapping_mul(SAMPLES);
                packet[4..8].copy_from_slice(&ts.to_be_bytes());
                if sock.send_to(&packet, to).await.is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
}

impl Drop for Media {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if self.enabled {
            emit(json!({
                "event": "rtp",
                "sent": self.sent.load(Ordering::Relaxed),
                "received": self.received.load(Ordering::Relaxed),
                "to": self.to.map(|a| a.to_string()),
            }));
        }
    }
}
