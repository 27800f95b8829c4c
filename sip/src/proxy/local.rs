//! Answers the node gives itself: requests for this node (REGISTER to the registrar, OPTIONS as
//! a health probe, anything else refused) and every response the core generates on a server
//! transaction (its To tag, `Server` header, and the transaction machine that retransmits it).
//!
//! Owns the server-transaction side of answering; which request gets which answer is decided
//! by `plan` and the registrar.

use super::core::{send_reply, Core, SERVER};
use super::io::{Flow, Output, Report};
use super::register::{self, RegisterOutcome};
use super::tables::{ServerTx, Timer, TxId, TxKey};
use crate::message::{Bytes, Message, Method};
use crate::transaction::Server;
use causeway_config::Transport;
use rand::RngCore;
use std::time::Instant;
use tracing::debug;

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE";

impl Core {
    pub(super) fn new_server(
        &mut self,
        msg: Message,
        key: TxKey,
        reply: Flow,
        now: Instant,
    ) -> TxId {
        let invite = msg.method() == Some(&Method::Invite);
        let id = self.id();
        let machine = Server::new(invite, reply.kind.is_reliable(), now, &self.settings.timers);
        let to_tag = self.tag().into_boxed_str();
        self.server_index.insert(key, id);
        self.servers.insert(
            id,
            Box::new(ServerTx {
                key,
                machine,
                request: Some(Box::new(msg)),
                reply,
                ctx: None,
                to_tag,
            }),
        );
        id
    }

    /// Answer the request of server transaction `id` ourselves.
    pub(super) fn respond(
        &mut self,
        id: TxId,
        status: u16,
        reason: &str,
        headers: &[(&str, String)],
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(s) = self.servers.get(&id) else {
            return;
        };
        let Some(request) = &s.request else {
            return;
        };
        // compact 0: everything; 1: without what the answer may lack; 2: without the load
        // either (a causeway peer's probe is long enough for 1, a short OPTIONS only for 2)
        let build = |compact: u8| {
            let mut b = request.response(status, reason);
            b.source(s.reply.remote);
            if status > 100 {
                b.to_tag(&s.to_tag);
            }
            if compact == 0 {
                b.header("Server", SERVER);
            }
            for (i, (n, v)) in headers.iter().enumerate() {
                let load = n.eq_ignore_ascii_case(super::probe::LOAD_HEADER);
                let keep = match compact {
                    0 => true,
                    1 => keep_when_compact(headers, i),
                    _ => keep_when_compact(headers, i) && !load,
                };
                if keep {
                    b.header(n, v);
                }
            }
            b.finish()
        };
        let mut bytes = build(0);
        // no amplification (issue 15): over UDP, an answer of ours (a challenge, an error, an
        // OPTIONS answer) is never longer than the request; first without what it may lack,
        // then not at all (an empty response is kept by the machine and never sent)
        let limit = request.as_bytes().len();
        if self.amplification_limit
            && s.reply.kind == Transport::Udp
            && bytes.len() > limit
            && !registered(status, request)
        {
            bytes = build(1);
            if bytes.len() > limit {
                bytes = build(2);
            }
            if bytes.len() > limit {
                self.stats.amplification_refused += 1;
                debug!(
                    status,
                    bytes = bytes.len(),
                    request = limit,
                    "answer longer than the request: not sent"
                );
                bytes = Bytes::new();
            }
        }
        // ... and no more copies than requests: a final answer of ours to an INVITE over UDP
        // goes out again for each retransmitted INVITE, not on timer G alone (unless a
        // provisional answer went first: the machine keeps timer G then)
        if self.amplification_limit && s.reply.kind == Transport::Udp && status >= 300 {
            if let Some(s) = self.servers.get_mut(&id) {
                s.machine.answer_retransmissions_only();
            }
        }
        self.server_send(id, status, bytes, now, out);
    }

    /// Sends a response on server transaction `id` (its machine keeps it for retransmissions).
    pub(super) fn server_send(
        &mut self,
        id: TxId,
        status: u16,
        bytes: Bytes,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        let invite = s.request.as_ref().and_then(|r| r.method()) == Some(&Method::Invite);
        if status >= 200 && invite {
            self.stats.counters.call_ended(status);
        }
        if let Some(b) = s.machine.respond(status, bytes, now) {
            send_reply(&s.reply, b, out);
        }
        let mut ctx = None;
        if status >= 200 {
            s.request = None;
            s.to_tag = Box::default();
            ctx = s.ctx;
        }
        let at = s.machine.poll_timeout();
        self.reap_server(id);
        // a context done with now goes first (and retires this transaction if it can), so a
        // retired or accepted one leaves no timer entry behind
        if let Some(ctx) = ctx {
            self.reap_ctx(ctx);
        }
        if self.servers.contains_key(&id) && !self.retire_server(id) && !self.accept(id) {
            self.arm(now, at, Timer::Server(id));
        }
    }

    /// Requests addressed to this node: REGISTER (registrar), OPTIONS (health probe).
    pub(super) fn local_request(
        &mut self,
        id: TxId,
        method: Method,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        match method {
            Method::Register => self.register(id, now, out),
            Method::Options => {
                let mut h = vec![
                    ("Allow", ALLOW.to_string()),
                    ("Accept", "application/sdp".to_string()),
                    ("Supported", "path, outbound".to_string()),
                ];
                let load = self
                    .load
                    .as_ref()
                    .and_then(|l| *l.lock().unwrap_or_else(|p| p.into_inner()));
                if let Some(load) = load {
                    h.push((super::probe::LOAD_HEADER, super::probe::load_value(&load)));
                }
                self.respond(id, 200, "OK", &h, now, out);
            }
            Method::Invite | Method::Message | Method::Subscribe => {
                self.respond(id, 404, "Not Found (no user part)", &[], now, out)
            }
            _ => self.respond(
                id,
                405,
                "Method Not Allowed",
                &[("Allow", "OPTIONS, REGISTER".to_string())],
                now,
                out,
            ),
        }
    }

    fn register(&mut self, id: TxId, now: Instant, out: &mut Vec<Output>) {
        let Some(s) = self.servers.get(&id) else {
            return;
        };
        let Some(request) = &s.request else {
            return;
        };
        let source_ip = s.reply.remote.ip();
        let source = register::Source {
            kind: s.reply.kind,
            remote: s.reply.remote,
            local: s.reply.local,
            conn: s.reply.conn,
        };
        let failures_before = self.auth_failures.total();
        let RegisterOutcome {
            status,
            reason,
            headers,
        } = register::handle(
            request,
            source,
            self.identity.domains(),
            &mut self.registrar,
            match (self.digest.as_mut(), self.settings.auth.as_ref()) {
                (Some(digest), Some(settings)) => Some(register::Auth {
                    digest,
                    settings,
                    failures: &mut self.auth_failures,
                    random: self.rng.next_u64(),
                }),
                _ => None,
            },
            now,
            self.clock.wall(now),
            (self.shared_aliases.as_ref(), self.cluster.as_ref()),
        );
        if status == 200 {
            self.arm_purge(now);
        }
        if self.auth_failures.total() > failures_before {
            // the guard counts it against the source's budget of failed authentications
            out.push(Output::Report {
                source: source_ip,
                report: Report::AuthFailure,
            });
        }
        self.respond(id, status, &reason, &headers, now, out);
    }
}

/// Optional headers an answer keeps when it must be short: of several challenges only the last
/// (the digest algorithm every client supports is offered last); capability lists go.
fn keep_when_compact(headers: &[(&str, String)], i: usize) -> bool {
    let name = headers[i].0;
    if [
        "Allow",
        "Accept",
        "Supported",
        "Accept-Encoding",
        "Accept-Language",
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(name))
    {
        return false;
    }
    !headers[i + 1..]
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(name))
        || !["WWW-Authenticate", "Proxy-Authenticate"]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
}

/// A registrar's success: with `authenticate` on it required credentials that verified; with
/// it off the operator runs an open registrar (inside a network), whose answers list the
/// bindings asked for. Either way not a reflection an outsider can aim.
fn registered(status: u16, request: &Message) -> bool {
    (200..300).contains(&status) && request.method() == Some(&Method::Register)
}
