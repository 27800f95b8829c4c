//! RFC 3261 16.7: responses. A response is matched to its client transaction (or forwarded
//! statelessly along Via when none matches, 16.7 item 1); provisionals and 2xx go upstream at
//! once (RFC 6026 for 2xx retransmissions), failures are kept as the best response so far while
//! the next target is tried, and when no target is left the best one goes upstream (16.7 step
//! 6, with the 503 -> 500 and local-zone 480 rules).
//!
//! Owns the choice of what goes upstream; ranking is `select`'s, sending is the server
//! transaction's.

use super::core::{send_reply, Core, SERVER};
use super::forward::to_hop;
use super::hop::check_unicast;
use super::identity::BRANCH_PREFIX;
use super::io::{Output, Transmit};
use super::select::better;
use super::tables::{client_key, done_offset, Timer, TxId, DONE};
use crate::message::{build_ack, check_response, Bytes, Host, Message, Method};
use crate::transaction::{ClientState, ServerState};
use causeway_config::Transport;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::debug;

impl Core {
    pub(super) fn on_response(&mut self, msg: Message, now: Instant, out: &mut Vec<Output>) {
        if let Err(d) = check_response(&msg) {
            self.stats.dropped_responses += 1;
            debug!(reason = %d.reason, "response dropped");
            return;
        }
        let Some(branch) = msg.vias().first().and_then(|v| v.branch()) else {
            self.stats.dropped_responses += 1;
            return;
        };
        if !branch.starts_with(BRANCH_PREFIX) {
            // RFC 3261 16.7 item 3: the top Via is not ours
            self.stats.dropped_responses += 1;
            return;
        }
        let is_cancel = msg
            .cseq()
            .map(|(_, m)| *m == Method::Cancel)
            .unwrap_or(false);
        let status = msg.status().unwrap_or(500);
        // the index holds the branch's hash: the transaction's own branch must match it too
        // (an accepted INVITE's record checks its own keyed hash: `accepted_response`)
        let found = self
            .client_index
            .get(&client_key(branch, is_cancel))
            .copied()
            .filter(|id| {
                done_offset(*id).is_some()
                    || self.clients.get(id).is_some_and(|c| c.branch == branch)
            });
        let Some(id) = found else {
            return self.forward_stateless_response(msg, out);
        };
        if let Some(at) = done_offset(id) {
            return self.accepted_response(at, msg, status, out);
        }
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let from = c.hop.addr;
        self.unreachable.answered(from);
        self.note_load(from, &msg);
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let sent = c.sent.clone();
        let (deliver, transmit) = c.machine.on_response(status, now, &|| match sent
            .as_ref()
            .and_then(|b| Message::parse(b.clone()).ok())
        {
            Some(req) => build_ack(&req, &msg),
            None => Bytes::new(),
        });
        if let Some(b) = transmit {
            out.push(Output::Transmit(to_hop(&c.hop, b, 0)));
        }
        if status >= 200 {
            // the ACK for a non-2xx is kept by the machine; nothing else needs the request
            c.sent = None;
        }
        let ctx = c.ctx;
        if (101..200).contains(&status) {
            c.provisional = true;
        }
        let cancel_now = c.provisional && c.cancel_wanted && !c.cancel_sent;
        if cancel_now {
            self.cancel_branch(id, now, out);
        }
        if let (true, Some(ctx)) = (deliver, ctx) {
            self.branch_response(ctx, id, msg, status, now, out);
        }
        // armed after: a branch accepted by `branch_response` is gone, and leaves no deadline
        if let Some(c) = self.clients.get(&id) {
            let at = c.machine.poll_timeout();
            self.arm(now, at, Timer::Client(id));
        }
        self.reap_client(id);
    }

    /// RFC 3261 16.7: a response of the active branch.
    fn branch_response(
        &mut self,
        ctx_id: TxId,
        client: TxId,
        msg: Message,
        status: u16,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let answer = if (101..300).contains(&status) {
            self.anchor_answer(ctx_id, &msg, now)
        } else {
            None
        };
        let forwarded = |msg: &Message| {
            let mut rw = msg.rewrite();
            rw.pop_via();
            if let Some(b) = &answer {
                rw.set_body(b.clone(), None);
            }
            rw.finish()
        };
        let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
            return;
        };
        let server = ctx.server;
        if status < 200 {
            // 16.7 step 5: 100 is hop-by-hop
            if status == 100 || ctx.finished {
                return;
            }
            let bytes = forwarded(&msg);
            self.stats.forwarded_responses += 1;
            return self.server_send(server, status, bytes, now, out);
        }
        if status < 300 {
            if let Some(a) = ctx.anchored.as_ref().filter(|a| a.initial) {
                let call_id = a.call_id.clone();
                let invite = self.servers.get(&server).and_then(|s| s.request.clone());
                if let Some(invite) = invite {
                    self.remember_call(&call_id, &invite, &msg);
                }
            }
            let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
                return;
            };
            // forward every 2xx at once (RFC 6026: also retransmissions from the Accepted state)
            ctx.finished = true;
            ctx.drop_targets();
            let bytes = forwarded(&msg);
            self.stats.forwarded_responses += 1;
            self.server_send(server, status, bytes, now, out);
            return self.reap_ctx(ctx_id);
        }
        let timer_c = self
            .clients
            .get(&client)
            .map(|c| c.timer_c_fired)
            .unwrap_or(false);
        if ctx.active == Some(client) {
            ctx.active = None;
        }
        ctx.retry_alternate = status == 503 && !timer_c;
        if timer_c {
            self.record_best_local(ctx_id, 408, "Request Timeout (no final answer in time)");
        } else {
            self.record_best(ctx_id, status, msg.rewrite().pop_via().finish());
        }
        if status >= 600 {
            if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
                ctx.drop_targets();
            }
        }
        self.next_target(ctx_id, now, out);
    }

    /// An INVITE branch answered 2xx (RFC 6026 Accepted, 64*T1): all it still does is pass
    /// 2xx retransmissions up, and all its server transaction (in Accepted as long) still does
    /// is absorb retransmitted INVITEs and send those 2xx on. Unless its answers are anchored
    /// (an SDP rewrite needs the context), the branch, the context and the server transaction
    /// go now, and one record of `done` does both (until timer L): the server's key and flow
    /// and the branch's hash, named by both indexes. A call then keeps that record for 32 s
    /// instead of three boxed records, and its end touches none of them. The branch's text is
    /// gone: a response is matched by the index's hash of it and checked against a second,
    /// keyed, hash kept in the record.
    ///
    /// Whether server transaction `server` became such a record (the caller then arms no
    /// timer for it).
    pub(super) fn accept(&mut self, server: TxId) -> bool {
        let Some(s) = self.servers.get(&server) else {
            return false;
        };
        let (Some(ctx_id), Some(end)) = (s.ctx, s.machine.poll_timeout()) else {
            return false;
        };
        if s.machine.state() != ServerState::Accepted {
            return false;
        }
        let Some(ctx) = self
            .ctxs
            .get(&ctx_id)
            .filter(|c| c.finished && c.anchored.is_none())
        else {
            return false;
        };
        let Some((client, c)) = ctx.active.and_then(|id| Some((id, self.clients.get(&id)?))) else {
            return false;
        };
        if c.is_cancel || c.machine.state() != ClientState::Accepted {
            return false;
        }
        let key = client_key(&c.branch, false);
        if self.client_index.get(&key) != Some(&client) {
            return false; // a collision (see `client_key`): left as it is
        }
        let check = self.tx_keys.check(&c.branch);
        let Some(at) = self
            .done
            .push_accepted(end, s.key, (key.0, check), &s.reply)
        else {
            return false;
        };
        self.server_index.insert(s.key, DONE | at);
        self.client_index.insert(key, DONE | at);
        self.servers.remove(&server);
        self.ctxs.remove(&ctx_id);
        if let Some(c) = self.clients.remove(&client) {
            self.tokens.remove(&c.token);
        }
        true
    }

    /// A response to an accepted INVITE's branch (see `accept`; `at` its record): a 2xx
    /// retransmission goes up along the server transaction's flow; anything else is dropped
    /// (RFC 6026 7.2).
    fn accepted_response(&mut self, at: u64, msg: Message, status: u16, out: &mut Vec<Output>) {
        let Some(branch) = msg.vias().first().and_then(|v| v.branch()) else {
            return;
        };
        // the index matched the branch's fixed-seed hash; the record's second, keyed hash of
        // it must match too, so two branches sharing the first are not confused
        let check = self.tx_keys.check(branch);
        let Some(d) = self
            .done
            .get(at)
            .filter(|d| d.branch.map(|b| b.1) == Some(check))
        else {
            return self.forward_stateless_response(msg, out);
        };
        let reply = d.reply;
        if !(200..300).contains(&status) {
            return;
        }
        self.stats.forwarded_responses += 1;
        send_reply(&reply, msg.rewrite().pop_via().finish(), out);
    }

    fn record_best(&mut self, ctx_id: TxId, status: u16, bytes: Bytes) {
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            if better(status, ctx.best.as_ref().map(|(s, _)| *s)) {
                ctx.best = Some((status, bytes));
            }
        }
    }

    pub(super) fn record_best_local(&mut self, ctx_id: TxId, status: u16, reason: &str) {
        let Some(ctx) = self.ctxs.get(&ctx_id) else {
            return;
        };
        if !better(status, ctx.best.as_ref().map(|(s, _)| *s)) {
            return;
        }
        let Some(s) = self.servers.get(&ctx.server) else {
            return;
        };
        let Some(request) = &s.request else {
            return;
        };
        let mut b = request.response(status, reason);
        b.source(s.reply.remote);
        b.to_tag(&s.to_tag);
        b.header("Server", SERVER);
        let bytes = b.finish();
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            ctx.best = Some((status, bytes));
        }
    }

    /// A branch died without a final response (timeout, transport failure).
    pub(super) fn branch_failed(
        &mut self,
        ctx_id: TxId,
        status: u16,
        reason: &str,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            ctx.active = None;
            ctx.retry_alternate = true;
        }
        self.record_best_local(ctx_id, status, reason);
        self.next_target(ctx_id, now, out);
    }

    /// No target left (or cancelled): send the best response upstream (16.7 step 6).
    pub(super) fn finish(&mut self, ctx_id: TxId, now: Instant, out: &mut Vec<Output>) {
        let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
            return;
        };
        if ctx.finished {
            return self.reap_ctx(ctx_id);
        }
        if ctx.active.is_some() {
            return; // a cancelled branch still owes its final response
        }
        ctx.finished = true;
        let server = ctx.server;
        let best = ctx.best.take();
        let parked = ctx.parked.take().is_some();
        if let Some(a) = ctx.anchored.take() {
            if parked {
                self.parked.remove(&a.call_id);
            }
            if let (true, Some(media)) = (a.initial, self.media.as_mut()) {
                // no 2xx to the initial INVITE: the call never started, its relay ports go back
                media.end(&a.call_id);
            }
        }
        let Some(ctx) = self.ctxs.get(&ctx_id) else {
            return;
        };
        let (cancelled, local_zone) = (ctx.cancelled, ctx.local_zone);
        match best {
            Some((487, bytes)) => self.server_send(server, 487, bytes, now, out),
            _ if cancelled => self.respond(server, 487, "Request Terminated", &[], now, out),
            Some((503, _)) | Some((408, _)) if local_zone => self.respond(
                server,
                480,
                "Temporarily Unavailable (no registered contact answered)",
                &[],
                now,
                out,
            ),
            Some((503, bytes)) if !is_local_response(&bytes) => {
                // 16.7 step 6: a 503 from downstream must not make upstream think we are down
                let reason = "Server Internal Error (next hop unavailable)";
                self.respond(server, 500, reason, &[], now, out)
            }
            Some((status, bytes)) => {
                self.stats.forwarded_responses += 1;
                self.server_send(server, status, bytes, now, out)
            }
            None => self.respond(server, 408, "Request Timeout", &[], now, out),
        }
        self.reap_ctx(ctx_id);
    }

    /// RFC 3261 16.7 item 1 ("no matching client transaction"): forward statelessly along Via.
    fn forward_stateless_response(&mut self, msg: Message, out: &mut Vec<Output>) {
        let Some(next) = msg.vias().get(1) else {
            self.stats.dropped_responses += 1;
            return;
        };
        let Some(kind) = Transport::from_token(&next.transport) else {
            self.stats.dropped_responses += 1;
            return;
        };
        let ip = next
            .received()
            .and_then(|r| r.trim_matches(|c| c == '[' || c == ']').parse().ok())
            .or(match &next.host {
                Host::V4(a) => Some(std::net::IpAddr::V4(*a)),
                Host::V6(a) => Some(std::net::IpAddr::V6(*a)),
                Host::Domain(_) => None,
            });
        let Some(ip) = ip.filter(|ip| check_unicast(*ip).is_ok()) else {
            self.stats.dropped_responses += 1;
            return;
        };
        let port = next
            .rport()
            .flatten()
            .or(next.port)
            .unwrap_or(kind.default_port());
        self.stats.forwarded_responses += 1;
        out.push(Output::Transmit(Transmit {
            kind,
            dest: SocketAddr::new(ip, port),
            data: msg.rewrite().pop_via().finish(),
            conn: None,
            server_name: None,
            token: 0,
            reuse_only: false,
            client_tls: None,
            local: None,
        }));
    }
}

/// Whether `bytes` is a response we generated ourselves (it carries our Server header).
fn is_local_response(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"\r\nServer: causeway/").is_some()
}
