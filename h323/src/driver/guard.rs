//! The node's guard (`[protection]`) on the H.323 side: RAS datagrams and framed call-signaling
//! messages count against their source's message budget, accepted connections against its
//! connection budget, and what does not decode against its garbage budget. A blocked source's
//! datagrams are dropped unanswered and its connections closed. The decisions are the guard's
//! (crate `causeway-guard`, shared with the SIP transports); this file only asks and tells.

use super::{Driver, Event};
use crate::call::ConnId;
use crate::ras::RasEvent;
use causeway_guard::{Input, Report, Verdict};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tracing::{debug, info, warn};

impl Driver {
    /// Whether what `from` sends is handled (counted either way).
    pub(super) fn admit(&self, from: SocketAddr, what: Input) -> bool {
        let mut g = self.cfg.guard.lock().unwrap_or_else(|e| e.into_inner());
        g.handle(from.ip(), what, Instant::now()) == Verdict::Pass
    }

    pub(super) fn report(&self, from: IpAddr, report: Report) {
        let mut g = self.cfg.guard.lock().unwrap_or_else(|e| e.into_inner());
        g.handle(from, Input::Report(report), Instant::now());
    }

    /// A message framed on `conn`: `false` (and the connection closed) when its source is
    /// blocked.
    pub(super) fn admit_data(&mut self, conn: ConnId) -> bool {
        let Some(peer) = self.conns.get(&conn).map(|c| c.peer) else {
            return true;
        };
        if self.admit(peer, Input::Message) {
            return true;
        }
        debug!(conn, %peer, "source blocked: H.323 connection closed");
        self.close(conn);
        let _ = self.closed_tx.send(Event::Closed { conn });
        false
    }

    /// Logs a RAS event; an undecodable datagram counts against its source.
    pub(super) fn ras_event(&self, e: &RasEvent) {
        match e {
            RasEvent::Malformed { from, error } => {
                warn!("RAS from {from}: malformed: {error}");
                self.report(from.ip(), Report::Garbage);
            }
            RasEvent::Rejected {
                message,
                reason,
                from,
            } => info!("RAS {message} from {from} rejected: {reason}"),
            other => info!("RAS: {other:?}"),
        }
    }

    /// A call-signaling message on `conn` that did not decode counts against its source.
    pub(super) fn malformed_on(&self, conn: ConnId) {
        if let Some(c) = self.conns.get(&conn) {
            self.report(c.peer.ip(), Report::Garbage);
        }
    }
}
