//! RAS client transactions over one UDP socket (H.225.0 section 7): requests matched to their
//! replies by requestSeqNum, retransmitted with the same number (3 tries, 3 s apart, the
//! defaults of H.225.0 Appendix II), and RequestInProgress honoured by extending the wait.

use super::msg;
use causeway_h323_asn1::h323_messages::RasMessage;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub const TRIES: u32 = 3;
pub const RETRY: Duration = Duration::from_secs(3);

pub struct Ras {
    pub sock: Arc<UdpSocket>,
    pub gk: Mutex<SocketAddr>,
    next_seq: AtomicU16,
    pending: Mutex<HashMap<u16, mpsc::UnboundedSender<RasMessage>>>,
}

impl Ras {
    pub fn new(sock: Arc<UdpSocket>, gk: SocketAddr) -> Self {
        Ras {
            sock,
            gk: Mutex::new(gk),
            next_seq: AtomicU16::new(rand::random::<u16>() | 1),
            pending: Mutex::new(HashMap::new()),
        }
    }

    pub fn gk(&self) -> SocketAddr {
        *self.gk.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh requestSeqNum (never 0: some gatekeepers treat it as unset).
    pub fn seq(&self) -> u16 {
        loop {
            let s = self.next_seq.fetch_add(1, Ordering::Relaxed);
            if s != 0 {
                return s;
            }
        }
    }

    /// Hands a reply to the transaction waiting for it; gives it back when none does.
    pub fn deliver(&self, m: RasMessage) -> Option<RasMessage> {
        let Some(seq) = msg::seq_of(&m) else {
            return Some(m);
        };
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get(&seq) {
            Some(tx) => tx.send(m).err().map(|e| e.0),
            None => Some(m),
        }
    }

    /// Sends `m` and waits for its reply. Err after the last try timed out.
    pub async fn transact(&self, m: RasMessage) -> Result<RasMessage, String> {
        let seq = msg::seq_of(&m).ok_or("RAS message without requestSeqNum")?;
        let bytes = msg::encode_ras(&m)?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(seq, tx);
        let result = async {
            for _ in 0..TRIES {
                self.sock
                    .send_to(&bytes, self.gk())
                    .await
                    .map_err(|e| format!("RAS send: {e}"))?;
                let mut deadline = Instant::now() + RETRY;
                loop {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(RasMessage::requestInProgress(rip))) => {
                            deadline = Instant::now() + Duration::from_millis(u64::from(rip.delay));
                        }
                        Ok(Some(reply)) => return Ok(reply),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            Err(format!(
                "no reply to RAS request {seq} after {TRIES} tries {} s apart",
                RETRY.as_secs()
            ))
        }
        .await;
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&seq);
        result
    }
}
