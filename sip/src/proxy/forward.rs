//! RFC 3261 16.6 and what goes with it: trying a context's targets in turn, building the
//! forwarded request for one target (Request-URI, Route, Max-Forwards, Via with
//! `received`/`rport`, Record-Route, the anchored SDP offer) and starting its client
//! transaction; stateless forwarding of ACKs for 2xx (16.11); CANCEL (16.10, 9.1).
//!
//! Owns the outbound side of a branch; how its responses are handled is `response`'s.

use super::anchoring::Offer;
use super::core::{send_reply, server_key, server_key_for, Core, DEFAULT_MAX_FORWARDS};
use super::flows::{same_flow, FLOW_PARAM};
use super::hop::{hop_for_uri, NextHop};
use super::identity::{record_route_value, via_value};
use super::io::{Flow, Output, Transmit};
use super::links::{link_of_route, LINK_PARAM};
use super::nat::behind_nat;
use super::tables::{ClientTx, Target, Timer, TxId};
use crate::message::{build_cancel, Bytes, Message, NameAddr, Uri};
use crate::transaction::Client;
use causeway_config::Transport;
use causeway_media::{Leg, Legs, LinkEnd};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::debug;

/// Where a branch leaves from when it goes down a traversal link: the link's name, our end
/// of the link, and the server zone whose port it is (we are E) or none (we are C).
struct LinkSide {
    name: String,
    local: SocketAddr,
    server_zone: Option<String>,
}

/// A forwarded request: its branch, its bytes, and whether it is an INVITE.
struct Built {
    branch: String,
    data: Bytes,
    invite: bool,
}

impl Core {
    /// Try the next target of `ctx_id`, or send the best response when none is left.
    pub(super) fn next_target(&mut self, ctx_id: TxId, now: Instant, out: &mut Vec<Output>) {
        loop {
            let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
                return;
            };
            if ctx.cancelled || ctx.finished {
                return self.finish(ctx_id, now, out);
            }
            let Some(target) = ctx.next_target() else {
                return self.finish(ctx_id, now, out);
            };
            if target.alternate && !ctx.retry_alternate {
                continue;
            }
            if target.resolve.is_some() {
                // the answer continues this context (`Event::Dns`)
                self.ask_dns(ctx_id, &target, out);
                if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
                    ctx.targets.push_front(target);
                }
                return;
            }
            match self.forward(ctx_id, target, now, out) {
                Ok(()) => return,
                Err((status, reason)) => {
                    if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
                        ctx.retry_alternate = true;
                    }
                    self.record_best_local(ctx_id, status, &reason)
                }
            }
        }
    }

    fn link_side(&self, hop: &NextHop) -> Option<LinkSide> {
        let name = hop.link.as_ref()?;
        let l = self.links.get(name)?;
        Some(LinkSide {
            name: name.clone(),
            local: l.local,
            server_zone: self
                .links
                .server_zone_at(l.kind, l.local.port())
                .map(|sz| sz.name.clone()),
        })
    }

    /// The two legs of an attempt, for the media relay.
    fn legs(
        &self,
        caller: &Flow,
        link: Option<&LinkSide>,
        local: SocketAddr,
        hop: &NextHop,
    ) -> Legs {
        let caller_link = if self
            .links
            .server_zone_at(caller.kind, caller.local.port())
            .is_some()
        {
            Some(LinkEnd::Server)
        } else if self
            .links
            .source_zone(caller.kind, caller.local.port(), caller.conn)
            .is_some()
        {
            Some(LinkEnd::Client)
        } else {
            None
        };
        Legs {
            caller: Leg {
                link: caller_link,
                local: caller.local,
                remote: caller.remote,
                cluster_peer: false,
            },
            callee: Leg {
                link: link.map(|l| match l.server_zone {
                    Some(_) => LinkEnd::Server,
                    None => LinkEnd::Client,
                }),
                local,
                remote: hop.addr,
                cluster_peer: self.cluster.as_ref().is_some_and(|c| c.is_peer(hop.addr)),
            },
        }
    }

    /// RFC 3261 16.6: copy, rewrite and send the request to one target.
    pub(super) fn forward(
        &mut self,
        ctx_id: TxId,
        target: Target,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Result<(), (u16, String)> {
        let internal = || (500, "Server Internal Error".to_string());
        let hop = target.hop.clone();
        if !self.identity.has_listener(hop.kind) && hop.kind == Transport::Udp {
            return Err((503, "Service Unavailable (UDP is disabled)".into()));
        }
        // down a link: Via names our end of it
        let link = self.link_side(&hop);
        let local = match &link {
            Some(l) => Some(l.local),
            // down a UA's flow: from where its requests arrive
            None if hop.flow => hop.local,
            None => self.identity.local_addr_towards(hop.kind, hop.addr.ip()),
        }
        .ok_or_else(|| {
            let t = hop.kind.via_token();
            (
                503,
                format!("Service Unavailable (no {t} listener to send from)"),
            )
        })?;
        let server = self.ctxs.get(&ctx_id).ok_or_else(internal)?.server;
        let caller = self.servers.get(&server).ok_or_else(internal)?.reply;
        let legs = self.legs(&caller, link.as_ref(), local, &hop);
        let body = match self.anchor_offer(ctx_id, &target, legs, now)? {
            Offer::Parked => return Ok(()),
            Offer::Body(b) => Some(b),
            Offer::Untouched => None,
        };
        let built = self
            .build_request(ctx_id, &target, link.as_ref(), local, body)
            .ok_or_else(internal)?;
        let invite = built.invite;
        debug!(to = %hop.addr, transport = hop.kind.via_token(), "request forwarded");
        let id = self.start_client(
            invite,
            built.data,
            hop,
            built.branch,
            Some(ctx_id),
            false,
            now,
            out,
        );
        self.stats.forwarded_requests += 1;
        if invite {
            let at = now + self.settings.timers.timer_c;
            self.arm(now, Some(at), Timer::TimerC(id));
        }
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            ctx.active = Some(id);
        }
        Ok(())
    }

    /// The forwarded request for `target`.
    fn build_request(
        &mut self,
        ctx_id: TxId,
        target: &Target,
        link: Option<&LinkSide>,
        local: SocketAddr,
        body: Option<Bytes>,
    ) -> Option<Built> {
        let hop = &target.hop;
        let ctx = self.ctxs.get(&ctx_id)?;
        let s = self.servers.get(&ctx.server)?;
        let flow = s.reply;
        // RFC 5626 5.3: a caller behind a NAT is reached down its flow in the dialog too
        let caller_nat = s.request.as_ref().is_some_and(|m| behind_nat(m, &flow));
        let record_routes = ctx
            .record_route
            .then(|| self.record_routes(&flow, caller_nat, hop, link, local));
        let ctx = self.ctxs.get(&ctx_id)?;
        let s = self.servers.get(&ctx.server)?;
        let msg = s.request.as_ref()?;
        let branch = self.identity.branch(msg);
        let mut rw = msg.rewrite();
        if let Some(u) = &target.ruri {
            rw.set_request_uri(u);
        }
        match &ctx.routes.replace {
            Some(list) => {
                rw.remove("Route");
                for r in list.iter().rev() {
                    rw.push_route(r);
                }
            }
            None => {
                for _ in 0..ctx.routes.pop {
                    rw.pop_route();
                }
            }
        }
        for p in target.path.iter().rev() {
            rw.push_route(p);
        }
        let max_forwards = msg
            .max_forwards()
            .map(|m| m.saturating_sub(1))
            .unwrap_or(DEFAULT_MAX_FORWARDS);
        rw.set_max_forwards(target.hop_cap.map_or(max_forwards, |c| max_forwards.min(c)));
        // RFC 3261 18.2.1 / RFC 3581 on the sender's Via
        rw.stamp_top_via(s.reply.remote);
        if let Some((inbound, outbound)) = record_routes {
            if inbound != outbound {
                rw.push_record_route(&inbound);
            }
            rw.push_record_route(&outbound);
        }
        let mut via = via_value(hop.kind, local, &branch);
        if self.cluster.as_ref().is_some_and(|c| c.is_peer(hop.addr)) {
            // the peer must not send it to a peer again (`cluster`), whatever address it
            // knows ours by
            via.push_str(super::cluster::PEER_VIA_PARAM);
        }
        rw.push_via(&via);
        if let Some(b) = body {
            rw.set_body(b, None);
        }
        Some(Built {
            branch,
            data: rw.finish(),
            invite: ctx.invite,
        })
    }

    /// Our Record-Route entries facing the caller and the callee (RFC 3261 16.6 item 4; two
    /// when they differ). Down a link E names the zone's port with the flow parameter, C names
    /// its listener (E never dials it). The entry facing a UA reached over its flow (a
    /// registered flow, or a caller behind a NAT) carries its flow token (RFC 5626 5.3).
    fn record_routes(
        &mut self,
        caller: &Flow,
        caller_nat: bool,
        hop: &NextHop,
        link: Option<&LinkSide>,
        local: SocketAddr,
    ) -> (String, String) {
        // came over a link of one of our server zones: our entry names that link
        let in_zone = self
            .links
            .server_zone_at(caller.kind, caller.local.port())
            .map(|z| {
                let name = self.links.name_on(&z.name, caller.conn);
                name.unwrap_or(&z.name).to_string()
            });
        let in_local = if self
            .identity
            .is_listener_port(caller.kind, caller.local.port())
        {
            caller.local
        } else {
            // a connection we opened (C's link): name our listener, not its source port
            self.identity
                .local_addr_towards(caller.kind, caller.remote.ip())
                .unwrap_or(caller.local)
        };
        let mut inbound = link_record_route(caller.kind, in_local, in_zone.as_deref());
        // a server zone's port or a client link's connection (`source_zone` covers both)
        let caller_link = self
            .links
            .source_zone(caller.kind, caller.local.port(), caller.conn)
            .is_some();
        if caller_nat && !caller_link {
            inbound = with_flow_token(&inbound, &self.flows.encode(caller));
        }
        let outbound = match link {
            Some(LinkSide {
                name,
                local: l,
                server_zone: Some(_),
            }) => link_record_route(hop.kind, *l, Some(name)),
            Some(LinkSide { local: l, .. }) => {
                let listener = self
                    .identity
                    .local_addr_towards(hop.kind, hop.addr.ip())
                    .unwrap_or(*l);
                record_route_value(hop.kind, listener)
            }
            None if hop.flow => {
                let f = Flow {
                    kind: hop.kind,
                    local,
                    remote: hop.addr,
                    conn: hop.conn,
                };
                with_flow_token(&record_route_value(hop.kind, local), &self.flows.encode(&f))
            }
            None => record_route_value(hop.kind, local),
        };
        (inbound, outbound)
    }

    /// RFC 3261 16.11: an ACK for a 2xx passes through statelessly along its Route.
    pub(super) fn forward_ack(&mut self, msg: Message, reply: &Flow, out: &mut Vec<Output>) {
        let mut pop = 0;
        let mut next: Option<&NameAddr> = None;
        let mut via_link: Option<String> = None;
        let mut via_flow: Option<Flow> = None;
        for r in msg.routes() {
            let ours = match &r.uri {
                Uri::Sip(u) => self.identity.is_our_address(&u.host, u.port, u.secure),
                _ => false,
            };
            if ours && next.is_none() {
                via_link = link_of_route(&r.uri);
                via_flow = self.flows.of_route(&r.uri).filter(|f| !same_flow(f, reply));
                pop += 1;
            } else {
                next = Some(r);
                break;
            }
        }
        let uri = match (next, msg.request_uri()) {
            (Some(r), _) => r.uri.clone(),
            (None, Some(u)) => u.clone(),
            (None, None) => return,
        };
        let Uri::Sip(u) = &uri else { return };
        let ours = next.is_none() && self.identity.is_our_address(&u.host, u.port, u.secure);
        if ours && via_flow.is_none() {
            return; // an ACK for a response we generated: nothing to forward
        }
        let (hop, local) = match (via_link.as_deref(), via_flow) {
            (Some(z), _) => match (self.links.hop(z), self.links.get(z)) {
                (Some(hop), Some(l)) => (hop, l.local),
                _ => return,
            },
            (None, Some(f)) => (NextHop::down_flow(&f), f.local),
            (None, None) => {
                let Ok(hop) = hop_for_uri(u) else {
                    return;
                };
                let Some(local) = self.identity.local_addr_towards(hop.kind, hop.addr.ip()) else {
                    return;
                };
                (hop, local)
            }
        };
        let branch = self.identity.stateless_branch(&msg);
        let mut rw = msg.rewrite();
        for _ in 0..pop {
            rw.pop_route();
        }
        rw.set_max_forwards(
            msg.max_forwards()
                .map(|m| m.saturating_sub(1))
                .unwrap_or(DEFAULT_MAX_FORWARDS),
        );
        rw.stamp_top_via(reply.remote);
        rw.push_via(&via_value(hop.kind, local, &branch));
        self.stats.forwarded_requests += 1;
        out.push(Output::Transmit(to_hop(&hop, rw.finish(), 0)));
    }

    /// RFC 3261 16.10 and 9.2: CANCEL of a pending INVITE.
    pub(super) fn on_cancel(
        &mut self,
        msg: Message,
        reply: Flow,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let invite_key = server_key_for(&self.tx_keys, &msg, "INVITE");
        let cancel_key = server_key(&self.tx_keys, &msg);
        let Some(&invite_id) = self.server_index.get(&invite_key) else {
            let mut b = msg.response(481, "Call/Transaction Does Not Exist");
            b.to_tag(&self.tag()).source(reply.remote);
            return send_reply(&reply, b.finish(), out);
        };
        let cid = self.new_server(msg, cancel_key, reply, now);
        self.respond(cid, 200, "OK", &[], now, out);
        let Some(ctx_id) = self.servers.get(&invite_id).and_then(|s| s.ctx) else {
            return;
        };
        let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
            return;
        };
        if ctx.finished {
            return;
        }
        ctx.cancelled = true;
        ctx.drop_targets();
        match ctx.active {
            Some(client) => self.cancel_branch(client, now, out),
            None => self.finish(ctx_id, now, out),
        }
    }

    /// Send CANCEL on a client INVITE branch, or remember to once it has a provisional (9.1).
    pub(super) fn cancel_branch(&mut self, client: TxId, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        c.cancel_wanted = true;
        if !c.provisional || c.cancel_sent {
            return;
        }
        c.cancel_sent = true;
        let Some(sent) = c.sent.as_ref().and_then(|b| Message::parse(b.clone()).ok()) else {
            return;
        };
        let bytes = build_cancel(&sent);
        let hop = c.hop.clone();
        let branch = c.branch.clone();
        self.start_client(false, bytes, hop, branch, None, true, now, out);
    }

    /// Sends `bytes` to `hop` and creates the client transaction that owns it: an INVITE or
    /// non-INVITE branch of context `ctx` (with a token so a transport failure finds it), or,
    /// without a context, a CANCEL sharing the branch of the INVITE it cancels.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_client(
        &mut self,
        invite: bool,
        bytes: Bytes,
        hop: NextHop,
        branch: String,
        ctx: Option<TxId>,
        is_cancel: bool,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> TxId {
        let id = self.id();
        let token = if is_cancel { 0 } else { self.id() };
        let machine = Client::new(
            invite,
            bytes.clone(),
            hop.kind.is_reliable(),
            now,
            &self.settings.timers,
        );
        let sent = invite.then(|| bytes.clone());
        out.push(Output::Transmit(to_hop(&hop, bytes, token)));
        if token != 0 {
            self.tokens.insert(token, id);
        }
        let at = machine.poll_timeout();
        self.client_index
            .insert(super::tables::client_key(&branch, is_cancel), id);
        self.clients.insert(
            id,
            Box::new(ClientTx {
                branch,
                token,
                is_cancel,
                machine,
                sent,
                hop,
                ctx,
                provisional: false,
                cancel_wanted: false,
                cancel_sent: false,
                timer_c_fired: false,
            }),
        );
        self.arm(now, at, Timer::Client(id));
        id
    }
}

/// A message for `hop`; down a link it may only use the link's connection.
pub(super) fn to_hop(hop: &NextHop, data: Bytes, token: u64) -> Transmit {
    Transmit {
        kind: hop.kind,
        dest: hop.addr,
        data,
        conn: hop.conn,
        server_name: hop.server_name.clone(),
        token,
        reuse_only: hop.link.is_some() || hop.flow,
        client_tls: None,
        local: hop.local,
    }
}

/// A Record-Route value with a flow token added to its URI.
fn with_flow_token(rr: &str, token: &str) -> String {
    format!("{};{FLOW_PARAM}={token}>", rr.trim_end_matches('>'))
}

/// Our Record-Route value, with the link parameter when it faces a link of one of our
/// traversal server zones (`link`: the link's name).
fn link_record_route(kind: Transport, local: SocketAddr, link: Option<&str>) -> String {
    let v = record_route_value(kind, local);
    match link {
        Some(z) => format!("{};{LINK_PARAM}={z}>", v.trim_end_matches('>')),
        None => v,
    }
}
