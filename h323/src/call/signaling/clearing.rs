//! Clearing a call (H.225.0 7.4.2, H.323 8.5): ReleaseComplete relayed or built for each side,
//! every connection and listener of the call closed, its media relay sessions ended, and the
//! Released event; the causes of
//! calls cleared by causeway itself (a leg lost, a connection that could not be opened, a
//! queue over its limit).
//!
//! Decisions:
//! - A leg that goes away without ReleaseComplete clears the call with cause 41 (temporary
//!   failure) towards the other side; a callee connection that cannot be opened moves the
//!   Setup on to the destination's next address (another E of the zone's cluster,
//!   `try_next_callee`), and without one clears the call with cause 27 (destination out of
//!   order) towards the caller.
//! - A queue over `max_queued_bytes` clears the call with gatekeeperResources both ways.
//! - ReleaseComplete that causeway sends carries both the reason and the Q.931 Cause element
//!   (see `call::release`).
//!
//! Must not touch: calls other than the one cleared.

use super::{malformed, CallSignaling};
use crate::call::release::Release;
use crate::call::uuie;
use crate::call::{CallEvent, CallId, ConnId, Output, Side};
use crate::q931::CallReference;
use causeway_h323_asn1::h323_messages::{ProtocolIdentifier, ReleaseCompleteReason};

/// What a side is sent when a call is cleared.
pub(super) enum ToSide {
    Nothing,
    Build(Release),
    Forward(Vec<u8>),
}

impl CallSignaling {
    /// The connection to the callee could not be opened.
    pub(super) fn callee_unreachable(&mut self, id: CallId, reason: String, out: &mut Vec<Output>) {
        if self.try_next_callee(id, out) {
            // why the first address was left is in the CalleeUnreachable event before this
            tracing::info!(call = %id, "H.323 Setup moves on to the next E");
            return;
        }
        // Q.850 27 "destination out of order": the Setup could not be delivered.
        let rel = Release::with_cause(ReleaseCompleteReason::unreachableDestination(()), 27);
        self.clear(
            id,
            None,
            [ToSide::Build(rel), ToSide::Nothing],
            27,
            Some(format!("connect failed: {reason}")),
            out,
        );
    }

    /// A signaling leg closed (or failed) without ReleaseComplete.
    pub(super) fn leg_closed(&mut self, id: CallId, side: Side, out: &mut Vec<Output>) {
        // Q.850 41 "temporary failure": the leg went away without ReleaseComplete.
        let rel = Release::with_cause(ReleaseCompleteReason::undefinedReason(()), 41);
        let mut to = [ToSide::Nothing, ToSide::Nothing];
        to[side.other().index()] = ToSide::Build(rel);
        self.clear(
            id,
            Some(side),
            to,
            41,
            Some("connection closed".into()),
            out,
        );
    }

    pub(super) fn overflow(&mut self, id: CallId, out: &mut Vec<Output>) {
        let rel = Release::reason(ReleaseCompleteReason::gatekeeperResources(()));
        let cause = rel.cause;
        let to = [ToSide::Build(rel.clone()), ToSide::Build(rel)];
        self.clear(id, None, to, cause, Some("queue limit".into()), out);
    }

    pub(super) fn clear(
        &mut self,
        id: CallId,
        by: Option<Side>,
        to: [ToSide; 2],
        cause: u8,
        reason: Option<String>,
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        if call.anchored {
            if let Some(a) = self.anchor.as_deref_mut() {
                a.end(&id.to_string());
            }
        }
        for side in [Side::Caller, Side::Callee] {
            let Some(conn) = call.conn(side) else {
                continue;
            };
            if call.ready_conn(side).is_some() {
                match &to[side.index()] {
                    ToSide::Nothing => {}
                    ToSide::Forward(b) => out.push(Output::Send {
                        conn,
                        payload: b.clone(),
                    }),
                    ToSide::Build(rel) => {
                        let crv = call.crv_to(side);
                        match uuie::release_complete(
                            crv,
                            &call.protocol,
                            call.call_identifier.as_ref(),
                            rel,
                        ) {
                            Ok(payload) => out.push(Output::Send { conn, payload }),
                            Err(e) => out.push(malformed(conn, format!("ReleaseComplete: {e}"))),
                        }
                    }
                }
            }
            out.push(Output::Close { conn });
            self.conns.remove(&conn);
        }
        if let Some(r) = call.h245 {
            for &conn in r.conns.iter().flatten() {
                out.push(Output::Close { conn });
                self.conns.remove(&conn);
            }
            if r.listener_open {
                out.push(Output::CloseListener {
                    listener: r.listener,
                });
            }
            self.listeners.remove(&r.listener);
        }
        out.push(Output::Event(CallEvent::Released {
            call: id,
            cause,
            reason,
            by,
        }));
    }
}

pub(super) fn send_release(
    conn: ConnId,
    crv: CallReference,
    protocol: &ProtocolIdentifier,
    rel: &Release,
    out: &mut Vec<Output>,
) {
    match uuie::release_complete(crv, protocol, None, rel) {
        Ok(payload) => out.push(Output::Send { conn, payload }),
        Err(e) => out.push(malformed(conn, format!("ReleaseComplete: {e}"))),
    }
}
