//! E's SCIs to H.460.18 endpoints registered on its own gatekeeper (internet endpoints behind
//! NAT): the same IncomingCallIndication as down a zone's flow, sent from the RAS socket to the
//! endpoint's RAS address as its NAT mapped it, without a token (an endpoint has no
//! credential of the zone's), and sent again until its SCR.
//!
//! Must not touch: sockets, the registration table (the caller says where the endpoint is).

use super::{incoming_call_sci, Output, Socket, MAX_PENDING_SCI, RETRY_AFTER, TRIES};
use causeway_h323_asn1::rasn::aper;
use std::net::SocketAddr;
use std::time::Instant;

struct Pending {
    seq: u16,
    to: SocketAddr,
    bytes: Vec<u8>,
    tries: u32,
    resend_at: Instant,
}

/// SCIs to endpoints waiting for their SCR.
#[derive(Default)]
pub struct Announcer {
    seq: u16,
    pending: Vec<Pending>,
}

impl Announcer {
    /// `seed`: where sequence numbers start (injected randomness).
    pub fn new(seed: u16) -> Announcer {
        Announcer {
            seq: seed,
            pending: Vec::new(),
        }
    }

    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// Announces call `call_id` to the endpoint at `to`: call back to `signalling`. False when
    /// too many SCIs wait.
    pub fn announce(
        &mut self,
        to: SocketAddr,
        signalling: SocketAddr,
        call_id: [u8; 16],
        now: Instant,
        out: &mut Vec<Output>,
    ) -> bool {
        if self.pending.len() >= MAX_PENDING_SCI {
            return false;
        }
        self.seq = self.seq.wrapping_add(1).max(1);
        let Some(msg) = incoming_call_sci(self.seq, signalling, call_id) else {
            return false;
        };
        let Ok(bytes) = aper::encode(&msg) else {
            return false;
        };
        out.push(Output::Send {
            from: Socket::Ras,
            to,
            bytes: bytes.clone(),
        });
        self.pending.push(Pending {
            seq: self.seq,
            to,
            bytes,
            tries: 1,
            resend_at: now + RETRY_AFTER,
        });
        true
    }

    /// An SCR arrived from `from`: its SCI is answered.
    pub fn answered(&mut self, seq: u16, from: SocketAddr) {
        self.pending
            .retain(|p| !(p.seq == seq && p.to.ip() == from.ip()));
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.resend_at).min()
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.pending.retain_mut(|p| {
            if p.resend_at > now {
                return true;
            }
            if p.tries >= TRIES {
                return false;
            }
            p.tries += 1;
            p.resend_at = now + RETRY_AFTER;
            out.push(Output::Send {
                from: Socket::Ras,
                to: p.to,
                bytes: p.bytes.clone(),
            });
            true
        });
    }
}
