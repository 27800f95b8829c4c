//! Separate H.245 channels of calls with a traversal-link leg (H.460.18 section 8.3, the
//! reference table's "H.460.18 H.245 TCP 2777"): nothing is ever opened from E towards C, so
//! every H.245 connection between them is one C opens to E's shared H.245 port (2777, or the
//! assent port for an assent zone) and starts with the indication that names its call
//! (`h46018::indication`). What changes against the plain relay of `h245_channel` (side X
//! offered an h245Address, side Y is told causeway's address, Y connects, causeway connects
//! to X):
//!
//! - E, X is C: Y (the outside) is told a listener of the call as usual, but E does not
//!   connect to C's address; it sends C a Facility startH245 naming its shared port, and C's
//!   connection there becomes X's (`H245Relay::reverse`). What Y sends before it arrives is
//!   queued.
//! - E, Y is C: C is told E's shared port instead of a listener of the call
//!   (`H245Relay::shared`); C's connection there is Y's, and E connects to X as usual.
//! - C: its connection towards E is always one it opens: to the address E offered (X is E),
//!   or, when C offered (X is inside), to the address of E's Facility startH245, which C takes
//!   for itself (not relayed to the inside endpoint). Either way the indication goes first.
//!
//! Must not touch: Q.931 relaying (it asks `offer`), the media anchor.

use super::{malformed, CallSignaling, Role};
use crate::asn;
use crate::call::state::{H245Relay, ListenState, Pending};
use crate::call::uuie;
use crate::call::{CallEvent, CallId, ConnId, LinkEnd, Output, Side};
use crate::h46018::indication::{self, ChannelOpen};
use crate::q931::{MessageType, Q931};
use causeway_h323_asn1::h323_messages::{
    FacilityReason, FacilityUUIE, H323UUPDUH323MessageBody as Body, H323UserInformation,
};
use std::net::SocketAddr;

/// What `offer` makes of an h245Address on a call with a link leg.
pub(super) enum LinkOffer {
    /// Not a case of this module: the plain relay goes on.
    Plain,
    /// The relay was set up here; the message goes on (rewritten as the relay says).
    Done,
    /// C took E's startH245 for itself: the message goes no further.
    Consumed,
    /// C opened the channel to the address E gave in another message, which goes on with
    /// the address removed.
    Opened,
}

impl CallSignaling {
    /// E's shared H.245 address for a call's link leg: where C's connection reached E, with
    /// the assent port kept for an assent zone and the H.460.18 H.245 port otherwise.
    fn shared_h245(&self, id: CallId, link: Side) -> Option<SocketAddr> {
        let local = self.calls.get(&id)?.local(link)?;
        let port = match self.cfg.assent_port {
            Some(a) if local.port() == a => a,
            _ => self.cfg.traversal_h245_port,
        };
        Some(SocketAddr::new(local.ip(), port))
    }

    /// An h245Address from side `from` of call `id` (to `target`), when the call has a link
    /// leg. `start_h245`: the message is a Facility startH245 with nothing else in it (what
    /// E sends C in case E1), the only message C may take for itself.
    pub(super) fn link_offer(
        &mut self,
        id: CallId,
        from: Side,
        target: SocketAddr,
        start_h245: bool,
        out: &mut Vec<Output>,
    ) -> LinkOffer {
        let Some(call) = self.calls.get(&id) else {
            return LinkOffer::Plain;
        };
        let server = Some(LinkEnd::Server);
        let (x_end, y_end) = (call.link_end(from), call.link_end(from.other()));
        match &call.h245 {
            None if x_end == server || y_end == server => {
                self.next_listener += 1;
                let l = self.next_listener;
                let mut r = H245Relay::new(from, target, l);
                // E1: X is C, asked to connect; E2: Y is C, told the shared port. A call from
                // one C to another is both.
                r.reverse = x_end == server;
                r.shared = y_end == server;
                if !r.shared {
                    // the outside Y gets a listener of the call
                    self.listeners.insert(l, id);
                }
                let reverse = r.reverse;
                if let Some(c) = self.calls.get_mut(&id) {
                    c.h245 = Some(r);
                }
                if reverse {
                    self.start_h245(id, from, out);
                }
                LinkOffer::Done
            }
            // C: E's address for the channel the inside endpoint offered
            Some(r)
                if x_end == Some(LinkEnd::Client)
                    && r.offered_by != from
                    && r.conns[from.index()].is_none() =>
            {
                let conn = self.next_conn_id();
                self.conns.insert(
                    conn,
                    Role::H245 {
                        call: id,
                        side: from,
                    },
                );
                out.push(Output::Connect { conn, to: target });
                self.y_joined(id, conn, false, out);
                if start_h245 {
                    LinkOffer::Consumed
                } else {
                    // E offered too (both sides at once): the message goes on without it
                    LinkOffer::Opened
                }
            }
            _ => LinkOffer::Plain,
        }
    }

    /// E1: the Facility startH245 that asks C to open the call's H.245 channel to E's shared
    /// port.
    fn start_h245(&mut self, id: CallId, link: Side, out: &mut Vec<Output>) {
        let Some(addr) = self.shared_h245(id, link) else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let f = FacilityUUIE::new(
            call.protocol.clone(),
            None,
            None,
            None,
            FacilityReason::startH245(()),
            call.call_identifier.clone(),
            None,
            None,
            None,
            None,
            None,
            Some(asn::transport_address(addr)),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        );
        let uu = H323UserInformation::new(uuie::pdu(Body::facility(f)), None);
        let mut msg = Q931::new(MessageType::Facility, call.crv_to(link));
        match uuie::encode(&mut msg, &uu) {
            Ok(b) => self.enqueue(id, link, Pending::Bytes(b), out),
            Err(e) => out.push(malformed(call.caller_conn, format!("startH245: {e}"))),
        }
    }

    /// E2: the address C is told is ready once C's signaling connection is up.
    pub(super) fn shared_listen(&mut self, id: CallId) -> bool {
        let Some(y) = self
            .calls
            .get(&id)
            .and_then(|c| c.h245.as_ref())
            .filter(|r| r.shared && r.listen == ListenState::Waiting)
            .map(|r| r.offered_by.other())
        else {
            return false;
        };
        let addr = self.shared_h245(id, y);
        let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
            return false;
        };
        if let Some(a) = addr {
            r.listen = ListenState::Bound(a);
        }
        true
    }

    /// E: the first message on a connection to the shared port is the indication; the
    /// connection is the H.245 channel of the call it names, towards the C on the side the
    /// indication's `answer` flag says (C answers when E called it: E's callee leg).
    pub(super) fn h245_joined(
        &mut self,
        conn: ConnId,
        (peer, local): (SocketAddr, SocketAddr),
        open: ChannelOpen,
        out: &mut Vec<Output>,
    ) {
        let side = if open.answer {
            Side::Callee
        } else {
            Side::Caller
        };
        // several calls may carry one callIdentifier (H.225.0 does not make it unique to a
        // gatekeeper): the one waiting for this channel is taken
        let fit = self
            .calls
            .values()
            .filter(|c| {
                c.call_identifier.as_ref().map(|i| asn::guid_bytes(&i.guid)) == Some(open.call_id)
            })
            .find_map(|c| {
                let r = c.h245.as_ref()?;
                let reverse = r.reverse && r.offered_by == side;
                let shared = r.shared && r.offered_by != side;
                let ok = c.link_end(side) == Some(LinkEnd::Server)
                    && (reverse || shared)
                    && r.conns[side.index()].is_none()
                    && c.ready_conn(side).is_some()
                    && c.peer(side).map(|a| a.ip()) == Some(peer.ip())
                    && self.shared_h245(c.id, side) == Some(local);
                ok.then_some((c.id, reverse))
            });
        let Some((id, reverse)) = fit else {
            out.push(Output::Close { conn });
            self.conns.remove(&conn);
            out.push(Output::Event(CallEvent::Rejected {
                conn,
                peer,
                cause: 81,
                what: "H.245 channel for no call waiting for one".into(),
            }));
            return;
        };
        self.conns.insert(conn, Role::H245 { call: id, side });
        if reverse {
            // X's connection: Y's may be up already, or come later
            let Some(r) = self.calls.get_mut(&id).and_then(|c| c.h245.as_mut()) else {
                return;
            };
            r.conns[side.index()] = Some(conn);
            self.h245_connected(id, side, out);
        } else {
            self.y_joined(id, conn, true, out);
        }
    }

    /// C: a connection towards E opens with the indication.
    pub(super) fn indicate(&self, id: CallId, side: Side, out: &mut Vec<Output>) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.link_end(side) != Some(LinkEnd::Client) {
            return;
        }
        let Some(r) = call.h245.as_ref() else {
            return;
        };
        let Some(conn) = r.conns[side.index()] else {
            return;
        };
        let Some(call_id) = call
            .call_identifier
            .as_ref()
            .map(|c| asn::guid_bytes(&c.guid))
        else {
            return;
        };
        // the called side of the call is the one E's Setup went to: C answers when E called
        let open = ChannelOpen {
            call_id,
            answer: side == Side::Caller,
        };
        match indication::encode(open) {
            Ok(payload) => out.push(Output::Send { conn, payload }),
            Err(e) => out.push(malformed(conn, format!("H.460.18 indication: {e}"))),
        }
    }
}
