//! The driver's part of the traversal flows (H.460.18): E's zone ports (one UDP socket each,
//! read by a task of its own into the driver's event queue) and the datagrams and events the
//! flows ask for. C's flows leave from the RAS socket and need nothing here but the send.
//!
//! Owns the zone sockets; decisions are the service's (`crate::h46018`).

use super::{Driver, Event, EVENT_QUEUE};
use crate::h46018::{self, Socket, ZoneEvent};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Binds E's zone ports (before the node reports it is running: a port in use is an error at
/// start).
pub(super) async fn bind(addrs: &[SocketAddr]) -> std::io::Result<Vec<UdpSocket>> {
    let mut socks = Vec::with_capacity(addrs.len());
    for a in addrs {
        socks.push(UdpSocket::bind(a).await?);
    }
    Ok(socks)
}

/// One zone port: its socket, shared with its reader, and the address it is bound to (read
/// once here, not per datagram).
pub(super) struct ZoneSock {
    pub sock: Arc<UdpSocket>,
    pub bound: SocketAddr,
}

/// A reader task per zone socket; the sockets, shared for sending.
pub(super) fn start(socks: Vec<UdpSocket>, events: &mpsc::Sender<Event>) -> Vec<ZoneSock> {
    let mut out = Vec::with_capacity(socks.len());
    for (zone, s) in socks.into_iter().enumerate() {
        // indices must stay the service's zone indices: no socket is skipped
        let bound = s
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let sock = Arc::new(s);
        tokio::spawn(read(zone, sock.clone(), events.clone()));
        out.push(ZoneSock { sock, bound });
    }
    out
}

async fn read(zone: usize, sock: Arc<UdpSocket>, events: mpsc::Sender<Event>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let payload = Bytes::copy_from_slice(&buf[..n]);
                // a full queue drops the datagram (a flood must not hold the driver): RAS
                // senders retry
                if let Err(mpsc::error::TrySendError::Closed(_)) = events.try_send(Event::Zone {
                    zone,
                    from,
                    payload,
                }) {
                    return;
                }
            }
            Err(e) => debug!("zone port {zone} receive: {e}"),
        }
    }
}

/// Keeps the queue bound visible to the reader's reasoning above.
const _: () = assert!(EVENT_QUEUE > 0);

impl Driver {
    /// Carries out one output of the traversal flows.
    pub(super) async fn zone_output(&mut self, o: h46018::Output, ras: &UdpSocket) {
        match o {
            h46018::Output::Send { from, to, bytes } => {
                let sock = match from {
                    Socket::Ras => None,
                    Socket::Zone(i) => match self.zone_socks.get(i) {
                        Some(z) => Some((z.sock.clone(), z.bound)),
                        None => return,
                    },
                };
                if self.tap.is_some() {
                    let local = match &sock {
                        None => self.local_for(to),
                        Some((_, bound)) => *bound,
                    };
                    self.tap_ras(false, local, to, &bytes);
                }
                let sent = match &sock {
                    None => ras.send_to(&bytes, to).await,
                    Some((s, _)) => s.send_to(&bytes, to).await,
                };
                if let Err(e) = sent {
                    debug!("traversal RAS send to {to}: {e}");
                }
            }
            h46018::Output::Event(e) => log_zone(&e),
        }
    }
}

fn log_zone(e: &ZoneEvent) {
    match e {
        ZoneEvent::Up { zone, peer } => info!(zone = %zone, "H.323 traversal flow up with {peer}"),
        ZoneEvent::Down { zone, reason } => {
            warn!(zone = %zone, "H.323 traversal flow down: {reason}")
        }
        // counted in the zone's status; a flood must not flood the log too
        ZoneEvent::Refused { zone, from, reason } => {
            debug!(zone = %zone, "refused from {from}: {reason}")
        }
        ZoneEvent::IncomingCall {
            zone, signalling, ..
        } => info!(zone = %zone, "E announces a call: call-back to {signalling}"),
        ZoneEvent::Locate { zone, aliases, .. } => {
            info!(zone = %zone, "E asks for {} alias(es)", aliases.len())
        }
        ZoneEvent::Located { tag, found } => info!(call = tag, "C's answer: {found:?}"),
    }
}
