//! The H.460.18 call-back (ITU-T H.460.18 section 8): a call that crosses a traversal zone
//! from E to C travels on a connection C opens, never on one E opens.
//!
//! - The same on any node for a registered H.460.18 endpoint (behind a NAT): the SCI goes to
//!   its RAS address, it calls back with the Facility.
//! - On E, a call routed to a traversal-server zone waits in state Connecting with no callee
//!   connection ([`CallSignaling::routed_callback`]); [`Output::CallBack`] asks for the SCI down
//!   the zone's RAS flow. When C's connection arrives on the Q.931 listener, its first message is
//!   a Facility carrying the call's callIdentifier: that connection becomes the callee leg and
//!   the held Setup goes out on it.
//! - On C, an SCI makes [`CallSignaling::call_back`] open a connection to E's call-signaling
//!   address from the signaling port range and send that Facility; from then on the connection
//!   is like one accepted on the listener: E's Setup is its first message and C routes it.
//!
//! Decisions:
//! - A call-back Facility whose callIdentifier matches no waiting call is answered with
//!   ReleaseComplete cause 81 (invalid call reference, Q.931 5.8.3.2) and the connection
//!   closed; counted as a rejected call.
//! - A call without a callIdentifier (H.225.0 v1 Setup) cannot be matched and is refused as
//!   unreachable on E.
//! - The Facility has reason undefinedReason, the callIdentifier and call reference 0 with the
//!   flag of the called side, as GNU Gatekeeper sends it.
//!
//! Must not touch: RAS (the SCI is the service's), the relay of messages after the Setup.

use super::clearing::send_release;
use super::{malformed, CallSignaling, Role};
use crate::asn;
use crate::call::release::Release;
use crate::call::state::CallState;
use crate::call::uuie;
use crate::call::{CallBackTarget, CallEvent, CallId, ConnId, LinkEnd, Output, Side};
use crate::q931::Q931;
use causeway_h323_asn1::h323_messages::{H323UUPDUH323MessageBody as Body, ReleaseCompleteReason};
use std::net::SocketAddr;
use std::time::Instant;

impl CallSignaling {
    /// Call `id` goes to `target` by call-back (a traversal-server zone's client, or an
    /// H.460.18 endpoint).
    pub(super) fn routed_callback(
        &mut self,
        id: CallId,
        target: CallBackTarget,
        (zone_name, flow): (String, SocketAddr),
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self
            .calls
            .get_mut(&id)
            .filter(|c| c.state == CallState::Routing)
        else {
            return;
        };
        let Some(call_id) = call
            .call_identifier
            .as_ref()
            .map(|c| asn::guid_bytes(&c.guid))
        else {
            return self.callee_unreachable(id, "no callIdentifier for a call-back".into(), out);
        };
        call.state = CallState::Connecting;
        call.callee_addr = Some(flow);
        call.zone = Some(zone_name.clone());
        call.awaiting_callback = true;
        if let CallBackTarget::Zone(_) = target {
            // E: the callee is C, reached down the zone
            call.link[Side::Callee.index()] = Some(LinkEnd::Server);
        }
        out.push(Output::Event(CallEvent::Routed {
            call: id,
            to: flow,
            zone: zone_name,
        }));
        out.push(Output::CallBack {
            call: id,
            target,
            call_id,
        });
        let dest = crate::call::Destination {
            addr: flow,
            alias: None,
            zone: String::new(),
            link: None,
            alternates: Vec::new(),
        };
        // queued until C's connection is the callee leg
        self.forward_setup_to(id, &dest, now, out);
    }

    /// E: the SCI could not be sent (the flow went down, too many waiting).
    pub(super) fn callback_failed(&mut self, id: CallId, out: &mut Vec<Output>) {
        if self.calls.get(&id).is_some_and(|c| c.awaiting_callback) {
            self.callee_unreachable(id, "the traversal zone cannot reach C".into(), out);
        }
    }

    /// E: the first message on an accepted connection is a Facility; a call-back if its
    /// callIdentifier is a waiting call's.
    pub(super) fn callback_arrived(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
        msg: &Q931,
        out: &mut Vec<Output>,
    ) {
        let wanted = uuie::decode(msg)
            .ok()
            .and_then(|uu| match uu.h323_uu_pdu.h323_message_body {
                Body::facility(f) => f.call_identifier.map(|c| asn::guid_bytes(&c.guid)),
                _ => None,
            });
        let call = wanted.and_then(|w| {
            self.calls.values().find(|c| {
                c.awaiting_callback
                    && c.call_identifier.as_ref().map(|i| asn::guid_bytes(&i.guid)) == Some(w)
            })
        });
        let Some(id) = call.map(|c| c.id) else {
            let rel = Release::with_cause(ReleaseCompleteReason::undefinedReason(()), 81);
            let protocol = asn::h225_protocol_identifier();
            send_release(conn, msg.call_reference.reply(), &protocol, &rel, out);
            out.push(Output::Close { conn });
            out.push(Output::Event(CallEvent::Rejected {
                conn,
                peer,
                cause: 81,
                what: "call-back Facility for no waiting call".into(),
            }));
            self.conns.remove(&conn);
            return;
        };
        self.conns.insert(
            conn,
            Role::Signaling {
                call: id,
                side: Side::Callee,
            },
        );
        if let Some(c) = self.calls.get_mut(&id) {
            c.awaiting_callback = false;
            c.callee_conn = Some(conn);
            c.callee_addr = Some(peer);
        }
        self.callee_connected(id, local, out);
    }

    /// C: E announced a call; open the call-back connection.
    pub(super) fn call_back(
        &mut self,
        signalling: SocketAddr,
        call_id: [u8; 16],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let conn = self.next_conn_id();
        let deadline = now + self.cfg.first_message_timeout;
        self.conns.insert(
            conn,
            Role::CallBack {
                peer: signalling,
                call_id,
                deadline,
            },
        );
        out.push(Output::Connect {
            conn,
            to: signalling,
        });
    }

    /// C: the call-back connection is up: the Facility, then wait for E's Setup.
    pub(super) fn call_back_connected(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        call_id: [u8; 16],
        local: SocketAddr,
        deadline: Instant,
        out: &mut Vec<Output>,
    ) {
        match crate::endpoint::call_back_facility(call_id, true) {
            Ok(payload) => out.push(Output::Send { conn, payload }),
            Err(e) => {
                out.push(malformed(
                    conn,
                    format!("building the call-back Facility: {e}"),
                ));
                self.conns.remove(&conn);
                out.push(Output::Close { conn });
                return;
            }
        }
        self.conns.insert(
            conn,
            Role::Pending {
                peer,
                local,
                deadline,
                link: Some(LinkEnd::Client),
            },
        );
    }
}
