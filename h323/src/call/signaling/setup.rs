//! Setup and routing (H.225.0 7.3.1, H.323 8.1.3): the first message on an accepted
//! connection, the caller's Setup (answered with CallProceeding at once, or refused with
//! ReleaseComplete), the route question to the gatekeeper and its answer, and the Setup as the
//! callee gets it once the connection to the callee is up.
//!
//! Decisions:
//! - The caller gets a CallProceeding at once (H.323 8.1.3, gatekeeper-routed model); the
//!   callee's own CallProceeding is dealt with in `relay`.
//! - A Setup that does not parse is answered with ReleaseComplete cause 96 (no User-user) or
//!   100 (bad UUIE) and its connection closed; so is a Setup over `max_calls`
//!   (gatekeeperResources).
//! - A route failure clears the call with the H.225.0 table's reason and cause for it.
//! - The forwarded Setup keeps the caller's call reference and identifiers; its
//!   sourceCallSignalAddress is ours and transportID aliases of the caller are dropped (no
//!   address of the caller's network travels on: what E needs to hide the inside); its
//!   destCallSignalAddress is the callee, and an alias changed by transforms (or the SIP URI
//!   of a call to the interworking gateway) replaces destinationAddress (and the Called party
//!   number when it is E.164).
//! - A Setup whose sourceInfo names the interworking gateway's product is flagged in the
//!   route question, so the gatekeeper does not send it back to the gateway.
//! - A destination with alternates (the other E's of a traversal zone's cluster) keeps a copy
//!   of the Setup as forwarded until the callee's connection opens: when it cannot be opened,
//!   the leg starts over at the next address with the Setup aimed there (`try_next_callee`;
//!   the copy is outside `max_queued_bytes`, bounded by `max_calls`). A connection that opened
//!   and closed may have delivered the Setup: that call is cleared, not moved.
//!
//! Must not touch: the registration table or the router (it asks with [`Output::Route`]),
//! messages after the Setup (that is `relay`).

use super::clearing::{send_release, ToSide};
use super::{malformed, CallSignaling, Role};
use crate::asn;
use crate::call::release::{reason_name, route_failure_reason, Release};
use crate::call::state::{Call, CallState, HeldMsg, Pending};
use crate::call::uuie::{self, UuError};
use crate::call::{CallEvent, CallId, ConnId, Destination, LinkEnd, Output, RouteFailure, Side};
use crate::endpoint::INTERWORKING_PRODUCT;
use crate::h46018::indication;
use crate::q931::{CallReference, MessageType, PartyNumber, Q931};
use causeway_h323_asn1::h323_messages::{
    AliasAddress, CallIdentifier, H323UUPDUH323MessageBody as Body, H323UserInformation,
    ProtocolIdentifier, ReleaseCompleteReason,
};
use std::net::SocketAddr;
use std::time::Instant;

/// What causeway reads from a caller's Setup.
struct SetupInfo {
    protocol: ProtocolIdentifier,
    /// destinationAddress of the Setup-UUIE, in order.
    called_aliases: Vec<AliasAddress>,
    /// sourceAddress.
    caller_aliases: Vec<AliasAddress>,
    /// The digits of the Called party number element, if any.
    called_number: Option<String>,
    /// What was dialled, for events and status: the first routable alias, else the number.
    called: String,
    call_identifier: Option<CallIdentifier>,
    tunneling: Option<bool>,
    /// sourceInfo's vendor productId is the interworking gateway's.
    from_interworking: bool,
}

impl CallSignaling {
    /// The first message on a connection from `peer` to `local`; `link`: see `Role::Pending`.
    pub(super) fn first_message(
        &mut self,
        conn: ConnId,
        (peer, local, link): (SocketAddr, SocketAddr, Option<LinkEnd>),
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        // E's shared H.245 port: C's traversal H.245 channel names its call first (Q.931
        // messages start with protocol discriminator 8, an H.245 indication never does)
        if payload.first() != Some(&0x08) {
            if let Some(open) = indication::decode(payload) {
                return self.h245_joined(conn, (peer, local), open, out);
            }
        }
        let msg = match Q931::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                // Q.931 5.8.1: not a message we can answer; the connection times out if
                // nothing sensible follows.
                out.push(malformed(conn, format!("Q.931: {e}")));
                return;
            }
        };
        if msg.call_reference.is_empty() {
            out.push(malformed(conn, "dummy call reference".into()));
            return;
        }
        match msg.message_type {
            MessageType::Setup => self.setup(conn, (peer, local, link), msg, now, out),
            // H.460.18: C's call-back connection announces itself with a Facility
            MessageType::Facility => self.callback_arrived(conn, peer, local, &msg, out),
            // Q.931 5.8.3.2: ReleaseComplete for an unknown call is ignored, anything else
            // is answered with ReleaseComplete cause 81 "invalid call reference value".
            MessageType::ReleaseComplete => {}
            _ => {
                let rel = Release::with_cause(ReleaseCompleteReason::undefinedReason(()), 81);
                send_release(
                    conn,
                    msg.call_reference.reply(),
                    &asn::h225_protocol_identifier(),
                    &rel,
                    out,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reject(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        crv: CallReference,
        protocol: &ProtocolIdentifier,
        rel: Release,
        what: String,
        out: &mut Vec<Output>,
    ) {
        send_release(conn, crv.reply(), protocol, &rel, out);
        out.push(Output::Close { conn });
        out.push(Output::Event(CallEvent::Rejected {
            conn,
            peer,
            cause: rel.cause,
            what,
        }));
        self.conns.remove(&conn);
    }

    fn setup(
        &mut self,
        conn: ConnId,
        (peer, local, link): (SocketAddr, SocketAddr, Option<LinkEnd>),
        msg: Q931,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let crv = msg.call_reference;
        let Some((uu, info)) = self.read_setup(conn, peer, &msg, out) else {
            return;
        };
        if self.calls.len() >= self.cfg.max_calls {
            let rel = Release::reason(ReleaseCompleteReason::gatekeeperResources(()));
            self.reject(
                conn,
                peer,
                crv,
                &info.protocol,
                rel,
                "call limit".into(),
                out,
            );
            return;
        }
        let id = self.open_call(conn, peer, local, crv, &info, now);
        if let Some(call) = self.calls.get_mut(&id) {
            call.link[Side::Caller.index()] = link;
        }
        out.push(Output::Event(CallEvent::Setup {
            call: id,
            caller: peer,
            called: info.called,
        }));
        let call_id = info.call_identifier.as_ref();
        match uuie::call_proceeding(crv.reply(), &info.protocol, call_id, info.tunneling) {
            Ok(p) => out.push(Output::Send { conn, payload: p }),
            Err(e) => out.push(malformed(conn, format!("building CallProceeding: {e}"))),
        }
        // shown to the H.245 relay and the media anchor once routed (`forward_setup_to`): only
        // then is it known whether the callee leg is a traversal link
        if let Some(call) = self.calls.get_mut(&id) {
            call.setup = Some(Box::new(HeldMsg { msg, uu, len: 0 }));
        }
        out.push(Output::Route {
            call: id,
            called: info.called_aliases,
            called_number: info.called_number,
            caller: peer,
            caller_aliases: info.caller_aliases,
            from_interworking: info.from_interworking,
        });
    }

    /// The User-user content of a Setup and what causeway reads of it; a Setup without a
    /// usable Setup-UUIE is refused (ReleaseComplete, connection closed) and gives `None`.
    fn read_setup(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        msg: &Q931,
        out: &mut Vec<Output>,
    ) -> Option<(H323UserInformation, SetupInfo)> {
        let crv = msg.call_reference;
        let undefined = ReleaseCompleteReason::undefinedReason(());
        let protocol = asn::h225_protocol_identifier();
        let uu = match uuie::decode(msg) {
            Ok(u) => u,
            Err(e) => {
                // Q.850 96 "mandatory information element is missing", 100 "invalid
                // information element contents".
                let cause = if e == UuError::Missing { 96 } else { 100 };
                out.push(malformed(conn, format!("Setup: {e}")));
                let rel = Release::with_cause(undefined, cause);
                let what = format!("malformed Setup: {e}");
                self.reject(conn, peer, crv, &protocol, rel, what, out);
                return None;
            }
        };
        let Body::setup(s) = &uu.h323_uu_pdu.h323_message_body else {
            out.push(malformed(conn, "Setup without Setup-UUIE".into()));
            let rel = Release::with_cause(undefined, 100);
            let what = "Setup without Setup-UUIE".into();
            self.reject(conn, peer, crv, &protocol, rel, what, out);
            return None;
        };
        let called_aliases: Vec<AliasAddress> = s.destination_address.clone().unwrap_or_default();
        let called_number = msg.called_party_number().ok().flatten().map(|n| n.digits);
        let called = called_aliases
            .iter()
            .find_map(asn::alias_text)
            .map(|a| a.text)
            .or_else(|| called_number.clone())
            .unwrap_or_default();
        let info = SetupInfo {
            protocol: s.protocol_identifier.clone(),
            caller_aliases: s.source_address.clone().unwrap_or_default(),
            called_aliases,
            called_number,
            called,
            call_identifier: s.call_identifier.clone(),
            tunneling: uu.h323_uu_pdu.h245_tunnelling,
            from_interworking: s
                .source_info
                .vendor
                .as_ref()
                .and_then(|v| v.product_id.as_deref())
                == Some(INTERWORKING_PRODUCT),
        };
        Some((uu, info))
    }

    /// A new call in state Routing, with `conn` as its caller leg.
    fn open_call(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
        crv: CallReference,
        info: &SetupInfo,
        now: Instant,
    ) -> CallId {
        self.next_call += 1;
        let id = self.next_call;
        self.conns.insert(
            conn,
            Role::Signaling {
                call: id,
                side: Side::Caller,
            },
        );
        self.calls.insert(
            id,
            Call {
                retry: None,
                id,
                state: CallState::Routing,
                caller_conn: conn,
                caller_addr: peer,
                caller_local: local,
                callee_conn: None,
                callee_addr: None,
                callee_local: None,
                callee_connected: false,
                crv,
                protocol: info.protocol.clone(),
                call_identifier: info.call_identifier.clone(),
                setup: None,
                setup_held: false,
                called: info.called.clone(),
                zone: None,
                deadline: Some(now + self.cfg.setup_timeout),
                setup_tunneling: info.tunneling == Some(true),
                tunnel_reported: false,
                h245: None,
                queues: Default::default(),
                awaiting_callback: false,
                link: [None, None],
                early: Default::default(),
                anchored: false,
                channels: Default::default(),
            },
        );
        id
    }

    pub(super) fn routed(
        &mut self,
        id: CallId,
        result: Result<Destination, RouteFailure>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        if !self
            .calls
            .get(&id)
            .is_some_and(|c| c.state == CallState::Routing)
        {
            return;
        }
        let dest = match result {
            Ok(d) => d,
            Err(f) => {
                let reason = route_failure_reason(&f);
                let name = reason_name(&reason).to_string();
                let rel = Release::reason(reason);
                let cause = rel.cause;
                self.clear(
                    id,
                    None,
                    [ToSide::Build(rel), ToSide::Nothing],
                    cause,
                    Some(name),
                    out,
                );
                return;
            }
        };
        let conn = self.next_conn_id();
        self.conns.insert(
            conn,
            Role::Signaling {
                call: id,
                side: Side::Callee,
            },
        );
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.callee_conn = Some(conn);
        call.callee_addr = Some(dest.addr);
        call.zone = Some(dest.zone.clone());
        if let Some(e) = dest.link {
            call.link[Side::Callee.index()] = Some(e);
        }
        call.state = CallState::Connecting;
        connect_callee(id, conn, &dest, out);
        self.forward_setup_to(id, &dest, now, out);
    }

    /// Queues the held Setup, retargeted at `dest`, for the callee. The call's legs are known
    /// now: the `[media] anchor` policy is decided (once), and the Setup goes through the
    /// H.245 address relay and the media anchor.
    pub(super) fn forward_setup_to(
        &mut self,
        id: CallId,
        dest: &Destination,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let anchor = self.anchor.as_deref();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.anchored = anchor.is_some_and(|a| a.wants(&call.legs()));
        let conn = call.caller_conn;
        // before the first channel is shown to the anchor: a link leg to a C behind a NAT
        let natted: Vec<(Side, std::net::IpAddr)> = [Side::Caller, Side::Callee]
            .into_iter()
            .filter(|s| call.link_end(*s) == Some(LinkEnd::Server))
            .filter_map(|s| Some((s, call.peer(s)?.ip())))
            .filter(|(_, ip)| self.nat_links.contains(ip))
            .collect();
        if call.anchored {
            if let Some(a) = self.anchor.as_deref_mut() {
                for (side, ip) in natted {
                    a.link_peer(&id.to_string(), side, ip);
                }
            }
        }
        let Some(mut h) = call.setup.take() else {
            return;
        };
        let held = self
            .inspect(id, Side::Caller, conn, &mut h.uu, now, out)
            .held;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.setup_held = held;
        if !dest.alternates.is_empty() {
            call.retry = Some((h.clone(), dest.clone()));
        }
        let pending = match aimed_setup(h, dest, call.caller_local, call.setup_held) {
            Ok(p) => p,
            Err(e) => {
                out.push(malformed(conn, format!("encoding Setup: {e}")));
                let rel = Release::reason(ReleaseCompleteReason::undefinedReason(()));
                let cause = rel.cause;
                let to = [ToSide::Build(rel), ToSide::Nothing];
                self.clear(id, None, to, cause, Some("Setup encoding".into()), out);
                return;
            }
        };
        self.enqueue(id, Side::Callee, pending, out);
        // what the caller sent while the call was being routed goes after the Setup
        while let Some(p) = self.calls.get_mut(&id).and_then(|c| c.early.pop()) {
            if let Pending::Bytes(payload) = p {
                self.signaling_data(id, Side::Caller, conn, &payload, now, out);
            }
        }
    }

    /// No connection to the callee could be opened: when the destination had another address
    /// (another E of the zone's cluster), the callee leg starts over there with the Setup aimed
    /// at it (true); nothing has reached the callee yet, so nothing is lost. False: the call is
    /// the caller's to clear.
    pub(super) fn try_next_callee(&mut self, id: CallId, out: &mut Vec<Output>) -> bool {
        let conn = self.next_conn_id();
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if call.state != CallState::Connecting || call.callee_connected {
            return false;
        }
        let Some((setup, dest)) = call.retry.as_mut() else {
            return false;
        };
        if dest.alternates.is_empty() {
            call.retry = None;
            return false;
        }
        dest.addr = dest.alternates.remove(0);
        let dest = dest.clone();
        let Ok(pending) = aimed_setup(setup.clone(), &dest, call.caller_local, call.setup_held)
        else {
            return false;
        };
        call.queues[Side::Callee.index()].replace_front(pending);
        if let Some(old) = call.callee_conn.replace(conn) {
            self.conns.remove(&old);
        }
        call.callee_addr = Some(dest.addr);
        self.conns.insert(
            conn,
            Role::Signaling {
                call: id,
                side: Side::Callee,
            },
        );
        connect_callee(id, conn, &dest, out);
        true
    }

    pub(super) fn callee_connected(
        &mut self,
        id: CallId,
        local: SocketAddr,
        out: &mut Vec<Output>,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.callee_connected = true;
        call.callee_local = Some(local);
        call.retry = None;
        let reached = call.callee_addr;
        if call.state == CallState::Connecting {
            call.state = CallState::Proceeding;
        }
        self.maybe_listen(id, out);
        self.flush(id, Side::Callee, out);
        if let Some(to) = reached {
            out.push(Output::Event(CallEvent::CalleeReached { call: id, to }));
        }
    }
}

/// Opens the callee's connection `conn` to `dest`, and says where the call was routed.
fn connect_callee(id: CallId, conn: ConnId, dest: &Destination, out: &mut Vec<Output>) {
    out.push(Output::Connect {
        conn,
        to: dest.addr,
    });
    out.push(Output::Event(CallEvent::Routed {
        call: id,
        to: dest.addr,
        zone: dest.zone.clone(),
    }));
}

/// The Setup aimed at `dest` (`retarget_setup`), as the callee's queue holds it: held until the
/// H.245 listener is bound, else encoded.
fn aimed_setup(
    mut h: Box<HeldMsg>,
    dest: &Destination,
    us: SocketAddr,
    held: bool,
) -> Result<Pending, String> {
    retarget_setup(&mut h, dest, us);
    if held {
        h.len = h.msg.encoded_len();
        return Ok(Pending::Held(h));
    }
    let HeldMsg { mut msg, uu, .. } = *h;
    uuie::encode(&mut msg, &uu)
        .map(Pending::Bytes)
        .map_err(|e| e.to_string())
}

/// The Setup as the callee gets it: destCallSignalAddress is the callee (H.225.0 7.3.1 says it
/// is the address the Setup is sent to), sourceCallSignalAddress is ours (where the caller
/// reached us: the callee never learns an address behind us; transport-address aliases of the
/// caller are dropped for the same reason), and a transformed alias replaces destinationAddress
/// and, when E.164, the Called party number digits (keeping the element's type and plan).
fn retarget_setup(h: &mut HeldMsg, dest: &Destination, us: SocketAddr) {
    if let Body::setup(s) = &mut h.uu.h323_uu_pdu.h323_message_body {
        s.dest_call_signal_address = Some(asn::transport_address(dest.addr));
        // the call comes from us: nothing of the caller's network goes on (on E, the inside)
        s.source_call_signal_address = Some(asn::transport_address(us));
        if let Some(a) = &mut s.source_address {
            a.retain(|a| !matches!(a, AliasAddress::transportID(_)));
        }
        if let Some(alias) = &dest.alias {
            s.destination_address = Some(vec![alias.clone()]);
        }
    }
    if let Some(AliasAddress::dialledDigits(d)) = &dest.alias {
        let digits = asn::ia5_text(d);
        let number = match h.msg.called_party_number() {
            Ok(Some(mut n)) => {
                n.digits = digits;
                n
            }
            _ => PartyNumber::e164(&digits),
        };
        // Digits of an Ia5String alias are ASCII, and a number this short fits.
        let _ = h.msg.set_called_party_number(&number);
    }
}
