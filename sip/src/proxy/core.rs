//! `Core`: the stateful proxy's tables and its one input path. Every event goes through
//! [`Machine::handle`] and every due timer through [`Machine::handle_timeout`]; what to send
//! comes out as [`Output`]s, in order. This file owns the tables and the dispatch: a new
//! request is planned (`plan`) and its plan carried out; everything after that is the step
//! modules' (`forward`, `response`, `local`, `timers`, `anchoring`).
//!
//! Must not touch sockets, clocks or the global RNG: time comes with every input, randomness
//! from the generator the core was built with.

use super::cluster::ClusterPeers;
use super::deadlines::Deadlines;
use super::done::DoneLog;
use super::flows::FlowTokens;
use super::hop::check_unicast;
use super::identity::{Identity, NetEnv};
use super::interworking::Interworking;
use super::io::{
    ConnId, DnsQuery, Event, Flow, LinkEvent, LinkOutput, Machine, Output, Received, Transmit,
    WallClock,
};
use super::links::{Link, LinkResponse, Links, ServerZone, LINK_BRANCH_PREFIX};
use super::plan::{plan, RoutePlan, Tables};
use super::probe::{LoadHandle, Probes};
use super::tables::{done_offset, ClientTx, Ctx, ServerTx, Target, Timer, TxId, TxKey, TxKeys};
use super::teardown::Teardown;
use crate::auth::{Algorithm, AuthFailures, DigestServer};
use crate::dns::Hop as DnsHop;
use crate::message::{check_request, Bytes, Host, Limits, Message, Method};
use crate::registrar::{Registrar, RegistrarPolicy};
use crate::transaction::TimerConfig;
use causeway_config::Transport;
use causeway_guard::Report;
use causeway_media::MediaAnchor;
use causeway_zones::Unreachable;
use causeway_zones::{Router, SharedAliases};
use rand::rngs::StdRng;
use rand::RngCore;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tracing::debug;

/// Transaction tables: keyed by branches and ids from the network, hashed with a per-process
/// random seed; foldhash instead of SipHash because hashing was 4 % of the proxy's CPU.
pub(super) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// URI schemes the proxy routes (RFC 4475 3.3.2: anything else is 416).
const SCHEMES: &[&str] = &["sip", "sips", "tel"];
/// Option tags the proxy implements (none that a Proxy-Require may ask for yet).
const PROXY_EXTENSIONS: &[&str] = &[];
pub(super) const SERVER: &str = concat!("causeway/", env!("CARGO_PKG_VERSION"));
/// Sources whose failed authentications are counted at once (two generations of half each).
const AUTH_FAILURE_SOURCES: usize = 16_384;
/// RFC 3261 16.6 item 3: Max-Forwards for requests that arrive without one.
pub(super) const DEFAULT_MAX_FORWARDS: u32 = 70;

/// Digest authentication of REGISTER.
pub struct AuthSettings {
    pub realm: String,
    pub algorithms: Vec<Algorithm>,
    pub credentials: HashMap<String, String>,
    pub nonce_lifetime: Duration,
    pub secret: [u8; 32],
}

pub struct ProxySettings {
    pub system_name: String,
    /// Registrar domains (the local zone).
    pub domains: Vec<String>,
    pub timers: TimerConfig,
    pub max_transactions: usize,
    pub max_message_size: usize,
    pub max_headers: usize,
    pub registrar: RegistrarPolicy,
    pub auth: Option<AuthSettings>,
    /// The dial plan; `None`: only the registrar domains, to the local zone.
    pub router: Option<Router>,
    /// Traversal server zones (E) and the names of traversal client zones (C).
    pub server_zones: Vec<ServerZone>,
    pub client_zones: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ProxyStats {
    pub requests: u64,
    pub responses: u64,
    pub dropped_unparsable: u64,
    pub rejected: u64,
    /// Answers of ours not sent because they were longer than an unauthenticated request.
    pub amplification_refused: u64,
    pub dropped_responses: u64,
    pub forwarded_requests: u64,
    pub forwarded_responses: u64,
    /// Requests, responses, calls and DNS look-ups by kind (metrics).
    pub counters: super::counters::Counters,
}

pub struct Core {
    pub(super) settings: ProxySettings,
    limits: Limits,
    pub(super) identity: Identity,
    pub(super) router: Router,
    pub(super) registrar: Registrar,
    pub(super) digest: Option<DigestServer>,
    /// RFC 5626 flow tokens of our Record-Route entries.
    pub(super) flows: FlowTokens,
    /// Failed REGISTER authentications per source (what protection rate-limits on).
    pub(super) auth_failures: AuthFailures,
    /// Over UDP, answers of ours are never longer than the request (`[protection]
    /// amplification_limit`; on unless turned off).
    pub(super) amplification_limit: bool,
    pub(super) links: Links,
    pub(super) media: Option<Box<dyn MediaAnchor + Send>>,
    /// The alias table shared with the H.323 gatekeeper, when the node runs one.
    pub(super) shared_aliases: Option<SharedAliases>,
    /// The node's SIP <-> H.323 gateway: where `LocalZone` aliases of H.323 endpoints go.
    pub(super) interworking: Option<Interworking>,
    pub(super) cluster: Option<ClusterPeers>,
    /// Next hops that just failed (a neighbor zone's peers are tried in order, these last).
    pub(super) unreachable: Unreachable,
    /// Probes of a remote cluster's peers, and the loads they answered with.
    pub(super) probes: Probes,
    /// This node's load, for its OPTIONS answers.
    pub(super) load: Option<LoadHandle>,
    /// Established anchored calls, for ending them when their media dies
    pub(super) teardowns: HashMap<String, Teardown>,
    /// Contexts holding a target until the relay has bound its ports, by Call-ID.
    pub(super) parked: HashMap<String, TxId>,
    // boxed: the maps grow to hundreds of thousands of entries at load, and a resize then
    // moves pointers instead of whole transactions
    pub(super) servers: Map<TxId, Box<ServerTx>>,
    /// RFC 3261 17.2.3 key (as `TxKey`) -> server transaction
    pub(super) server_index: Map<TxKey, TxId>,
    pub(super) tx_keys: TxKeys,
    /// Finished server transactions until their timer J or L (in `server_index` as
    /// `DONE | offset`; an accepted INVITE's in `client_index` too, under its branch)
    pub(super) done: DoneLog,
    pub(super) clients: Map<TxId, Box<ClientTx>>,
    /// `client_key` of a client transaction's branch -> the transaction
    pub(super) client_index: Map<(u64, bool), TxId>,
    /// Boxed: a context is several hundred bytes, and a table of them sized for the 32 s a
    /// finished call's branch stays was most of the node's heap under load (heaptrack).
    pub(super) ctxs: Map<TxId, Box<Ctx>>,
    pub(super) tokens: Map<u64, TxId>,
    pub(super) timers: Deadlines<Timer>,
    next_id: u64,
    pub(super) purge_at: Option<Instant>,
    pub(super) stats: ProxyStats,
    pub(super) clock: WallClock,
    pub(super) rng: StdRng,
}

impl Core {
    /// `rng` makes tags and branches (and the digest secret when `auth` has none); `clock`
    /// turns the `now` of inputs into wall time for digest nonces.
    pub fn new(
        settings: ProxySettings,
        listeners: Vec<(Transport, SocketAddr)>,
        env: Box<dyn NetEnv>,
        clock: WallClock,
        mut rng: StdRng,
    ) -> Core {
        let mut flow_key = [0u8; 32];
        rng.fill_bytes(&mut flow_key);
        let digest = settings
            .auth
            .as_ref()
            .map(|a| DigestServer::new(&a.realm, &a.algorithms, a.secret, a.nonce_lifetime));
        Core {
            limits: Limits {
                max_message_size: settings.max_message_size,
                max_headers: settings.max_headers,
            },
            identity: Identity::new(listeners, settings.domains.clone(), env),
            router: settings
                .router
                .clone()
                .unwrap_or_else(|| Router::new(&settings.domains)),
            links: Links::new(settings.server_zones.clone(), settings.client_zones.clone()),
            media: None,
            shared_aliases: None,
            interworking: None,
            cluster: None,
            unreachable: Unreachable::default(),
            probes: Probes::default(),
            load: None,
            teardowns: HashMap::new(),
            parked: HashMap::new(),
            registrar: Registrar::new(settings.registrar.clone()),
            digest,
            flows: FlowTokens::new(flow_key),
            auth_failures: AuthFailures::new(AUTH_FAILURE_SOURCES),
            amplification_limit: true,
            servers: Map::default(),
            server_index: Map::default(),
            tx_keys: TxKeys::default(),
            done: DoneLog::default(),
            clients: Map::default(),
            client_index: Map::default(),
            ctxs: Map::default(),
            tokens: Map::default(),
            timers: Deadlines::default(),
            next_id: 1,
            purge_at: None,
            stats: ProxyStats::default(),
            clock,
            rng,
            settings,
        }
    }

    pub fn stats(&self) -> &ProxyStats {
        &self.stats
    }

    /// Failed REGISTER authentications, per source and in all.
    pub fn auth_failures(&self) -> &AuthFailures {
        &self.auth_failures
    }

    /// Established calls the node anchors media for (and would hang up on media loss): the
    /// only calls whose dialogs it follows.
    pub fn anchored_calls(&self) -> usize {
        self.teardowns.len()
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// Live transactions (server, client, and the done log's records), for tests and status.
    pub fn transaction_count(&self) -> usize {
        self.servers.len() + self.done.len() + self.clients.len()
    }

    /// The registrar's bindings, for status: (AOR, contact, seconds left).
    pub fn registrations(&self, now: Instant) -> Vec<crate::registrar::Registered> {
        self.registrar.snapshot(now, 1000)
    }

    /// The live links, by zone name.
    pub fn links(&self) -> &HashMap<String, Link> {
        self.links.all()
    }

    /// The live links of traversal zone `zone`, in name order.
    pub fn zone_links(&self, zone: &str) -> Vec<(&str, &Link)> {
        self.links.of_zone(zone)
    }

    /// The media relay's anchoring, for calls this node anchors; none: signaling only.
    pub fn set_media(&mut self, media: Box<dyn MediaAnchor + Send>) {
        self.media = Some(media);
    }

    /// Shares the alias table with the H.323 gatekeeper (see `causeway_zones::shared`).
    pub fn set_shared_aliases(&mut self, shared: SharedAliases) {
        self.shared_aliases = Some(shared);
    }

    /// Where the probes of a remote cluster's peers leave what they found, for the gatekeeper.
    pub fn set_peer_health(&mut self, health: causeway_zones::PeerHealth) {
        self.probes.shared = Some(health);
    }

    /// This node's load (written by the node), told in its answers to OPTIONS.
    pub fn set_load(&mut self, load: LoadHandle) {
        self.load = Some(load);
    }

    /// The other peers of the node's cluster: local-zone aliases registered on them are
    /// routed to them, and H.323 aliases they hold cannot be registered here.
    pub fn set_cluster(&mut self, cluster: Option<ClusterPeers>) {
        self.cluster = cluster;
    }

    /// The node's SIP <-> H.323 interworking gateway (its SIP UDP address and the configured
    /// mode), or none: requests for aliases only H.323 endpoints registered are then refused.
    /// Needs the shared alias table (`set_shared_aliases`) to find those aliases.
    pub fn set_interworking(&mut self, interworking: Option<Interworking>) {
        self.interworking = interworking;
    }

    /// Whether answers of ours over UDP may be longer than the request they answer (off: a lab
    /// with minimal clients whose requests are shorter than a challenge).
    pub fn set_amplification_limit(&mut self, on: bool) {
        self.amplification_limit = on;
    }

    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A To tag of ours.
    pub(super) fn tag(&mut self) -> String {
        format!("cw{:x}", self.rng.next_u64())
    }

    /// `timer` wakes its owner at `at` (armed at `now`).
    pub(super) fn arm(&mut self, now: Instant, at: Option<Instant>, timer: Timer) {
        if let Some(at) = at {
            self.timers.arm(now, at, timer);
        }
    }

    // ---------------------------------------------------------------- input

    fn on_received(&mut self, inbound: Received, now: Instant, out: &mut Vec<Output>) {
        // moved, not cloned: the first clone of a datagram's buffer allocates (`Bytes` from a
        // `Vec` shares only once asked to)
        let msg = match Message::parse_with(inbound.data, &self.limits) {
            Ok(m) => m,
            Err(e) => {
                self.stats.dropped_unparsable += 1;
                debug!(remote = %inbound.remote, error = %e, "dropped unparsable message");
                // never answered (no amplification), and counted against the source
                out.push(Output::Report {
                    source: inbound.remote.ip(),
                    report: Report::Garbage,
                });
                return;
            }
        };
        // every log line about this message names its call (`[log] format = "json"` puts the
        // span's fields on each line)
        let span = tracing::info_span!("sip", call_id = msg.call_id().unwrap_or(""));
        let _in_call = span.enter();
        let mut flow = Flow {
            kind: inbound.kind,
            remote: inbound.remote,
            conn: inbound.conn,
            local: inbound.local,
        };
        if flow.local.ip().is_unspecified() {
            if let Some(l) = self
                .identity
                .local_addr_towards(inbound.kind, inbound.remote.ip())
            {
                flow.local = SocketAddr::new(l.ip(), inbound.local.port());
            }
        }
        if msg.is_request() {
            self.stats.requests += 1;
            self.stats.counters.request(msg.method());
            note_alias(&msg, &flow, out);
            self.on_request(msg, flow, now, out);
            return;
        }
        self.stats.responses += 1;
        if let Some(status) = msg.status() {
            self.stats.counters.response(status);
        }
        let link_response = msg
            .vias()
            .first()
            .and_then(|v| v.branch())
            .is_some_and(|b| b.starts_with(LINK_BRANCH_PREFIX));
        if link_response {
            out.push(Output::Link(Box::new(LinkOutput::Response(LinkResponse {
                msg,
                conn: inbound.conn,
                local: flow.local,
                remote: inbound.remote,
            }))));
            return;
        }
        self.on_response(msg, now, out);
    }

    fn on_request(&mut self, msg: Message, flow: Flow, now: Instant, out: &mut Vec<Output>) {
        let is_ack = msg.method() == Some(&Method::Ack);
        if let Err(rej) = check_request(&msg, SCHEMES, PROXY_EXTENSIONS) {
            self.stats.rejected += 1;
            debug!(status = rej.status, reason = %rej.reason, "request rejected");
            out.push(Output::Report {
                source: flow.remote.ip(),
                report: Report::Garbage,
            });
            if !is_ack && msg.header_count("Via") > 0 {
                let mut b = msg.response(rej.status, &rej.reason);
                b.source(flow.remote);
                if !rej.unsupported.is_empty() {
                    b.header("Unsupported", &rej.unsupported.join(", "));
                }
                b.to_tag(&self.tag());
                send_reply(&flow, b.finish(), out);
            }
            return;
        }
        let key = server_key(&self.tx_keys, &msg);
        if let Some(&id) = self.server_index.get(&key) {
            // a retransmission, or the ACK of a non-2xx final response (RFC 3261 17.2.1)
            if let Some(s) = self.servers.get_mut(&id) {
                if let Some(bytes) = s.machine.on_request(is_ack, now) {
                    send_reply(&s.reply, bytes, out);
                }
                let at = s.machine.poll_timeout();
                self.arm(now, at, Timer::Server(id));
            } else if let Some(d) = done_offset(id).and_then(|at| self.done.get(at)) {
                // RFC 3261 17.2.2: Completed answers a retransmission with its final response
                // (and absorbs the ACK a non-INVITE never has); an accepted INVITE's record
                // has none, and absorbs its retransmissions (RFC 6026 8.7)
                if !is_ack && d.branch.is_none() {
                    send_reply(&d.reply, Bytes::copy_from_slice(d.response), out);
                }
            }
            return;
        }
        match msg.method() {
            Some(Method::Ack) => return self.forward_ack(msg, &flow, out),
            Some(Method::Cancel) => return self.on_cancel(msg, flow, now, out),
            _ => {}
        }
        if self.transaction_count() >= self.settings.max_transactions {
            let mut b = msg.response(503, "Service Unavailable (transaction table full)");
            b.source(flow.remote);
            b.header("Retry-After", "5");
            return send_reply(&flow, b.finish(), out);
        }
        let id = self.new_server(msg, key, flow, now);
        self.route_request(id, now, out);
    }

    /// RFC 3261 16.3-16.5: plan the request of server transaction `id`, then carry it out.
    fn route_request(&mut self, id: TxId, now: Instant, out: &mut Vec<Output>) {
        let Some(s) = self.servers.get(&id) else {
            return;
        };
        let Some(msg) = &s.request else {
            return;
        };
        let flow = s.reply;
        let mut tables = Tables {
            identity: &mut self.identity,
            links: &self.links,
            router: &self.router,
            registrar: &self.registrar,
            shared_aliases: self.shared_aliases.as_ref(),
            flows: &self.flows,
            interworking: self.interworking.as_ref(),
            cluster: self.cluster.as_ref(),
            unreachable: &self.unreachable,
            probes: &self.probes,
        };
        match plan(msg, &flow, &mut tables, now) {
            RoutePlan::Local(method) => self.local_request(id, method, now, out),
            RoutePlan::LinkRegister(zone) => {
                let request = (**msg).clone();
                out.push(Output::Link(Box::new(LinkOutput::Register {
                    tx: id,
                    zone,
                    request,
                    flow,
                })));
            }
            RoutePlan::Reject(status, reason) => self.respond(id, status, &reason, &[], now, out),
            RoutePlan::Forward(f) => {
                let invite = msg.method() == Some(&Method::Invite);
                if invite {
                    self.respond(id, 100, "Trying", &[], now, out);
                }
                let ctx_id = self.id();
                self.ctxs.insert(
                    ctx_id,
                    Box::new(Ctx {
                        server: id,
                        invite,
                        targets: f.targets,
                        routes: f.routes,
                        record_route: f.record_route,
                        local_zone: f.local_zone,
                        active: None,
                        best: None,
                        cancelled: false,
                        finished: false,
                        anchored: None,
                        parked: None,
                        retry_alternate: false,
                    }),
                );
                if let Some(s) = self.servers.get_mut(&id) {
                    s.ctx = Some(ctx_id);
                }
                self.next_target(ctx_id, now, out);
            }
        }
    }

    // ---------------------------------------------------------------- DNS (RFC 3263)

    /// The answer to a `DnsQuery`: its hops are tried in order (RFC 3263 4.3), then the
    /// context's remaining targets.
    fn on_dns_answer(
        &mut self,
        ctx_id: u64,
        answer: Result<Vec<DnsHop>, String>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
            return;
        };
        let Some(waiting) = ctx.next_target() else {
            return;
        };
        let hops: Vec<Target> = match &answer {
            Ok(hops) => hops
                .iter()
                .filter(|h| check_unicast(h.addr.ip()).is_ok())
                .map(|h| Target {
                    ruri: waiting.ruri.clone(),
                    hop: super::hop::NextHop {
                        kind: h.transport,
                        addr: h.addr,
                        conn: None,
                        server_name: Some(h.server_name.clone()),
                        link: None,
                        flow: false,
                        local: None,
                    },
                    path: waiting.path.clone(),
                    hop_cap: waiting.hop_cap,
                    resolve: None,
                    alternate: false,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if hops.is_empty() {
            self.stats.counters.dns_failures += 1;
            let host = waiting
                .resolve
                .as_ref()
                .map(|(t, _)| t.host.clone())
                .unwrap_or_default();
            let why = match answer {
                Err(e) => e,
                Ok(_) => "no usable address".into(),
            };
            debug!(%host, %why, "DNS gave no target");
            let reason = format!("Service Unavailable (DNS for {host}: {why})");
            self.record_best_local(ctx_id, 503, &reason);
        } else if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            for t in hops.into_iter().rev() {
                ctx.targets.push_front(t);
            }
        }
        self.next_target(ctx_id, now, out);
    }

    /// A lookup to run for context `ctx_id`; the answer continues it.
    pub(super) fn ask_dns(&mut self, ctx_id: TxId, target: &Target, out: &mut Vec<Output>) {
        if let Some((query, zone)) = target.resolve.clone() {
            self.stats.counters.dns_lookups += 1;
            out.push(Output::Dns(DnsQuery {
                ctx: ctx_id,
                target: query,
                zone,
                system: false,
            }));
        }
    }

    // ---------------------------------------------------------------- transport events

    /// The transport could not deliver the message sent with `token`.
    fn on_send_failed(&mut self, token: u64, error: &str, now: Instant, out: &mut Vec<Output>) {
        let Some(id) = self.tokens.remove(&token) else {
            return;
        };
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        debug!(dest = %c.hop.addr, error, "transport failure");
        self.unreachable.failed(c.hop.addr, now);
        // a branch that already had its final response is not its context's to fail (a
        // later branch of a serial fork may be active)
        let owed = c.machine.passes_up_more();
        c.machine.on_transport_error(now);
        let ctx = c.ctx.filter(|_| owed);
        let is_cancel = c.is_cancel;
        let dest = c.hop.addr;
        let flow = c.hop.flow.then_some(c.hop.conn).flatten();
        self.remove_client(id);
        if let Some(conn) = flow {
            // RFC 5626 5.3: the UA's flow is gone; so are the bindings that needed it
            let aors = self.registrar.flow_failed(conn.0);
            self.bindings_gone(&aors, now);
        }
        if let (Some(ctx), false) = (ctx, is_cancel) {
            if flow.is_some() {
                self.branch_failed(ctx, 430, "Flow Failed", now, out);
            } else {
                let reason = format!("Service Unavailable (cannot reach {dest}: {error})");
                self.branch_failed(ctx, 503, &reason, now, out);
            }
        }
    }

    fn on_closed(&mut self, conn: ConnId, now: Instant, out: &mut Vec<Output>) {
        // A binding reachable only over this connection goes with it (its Contact cannot be
        // dialled); an outbound one stays until a request finds the flow failed (430). Others
        // keep their Contact: a later request opens a new connection to it. A traversal link
        // on the connection is down until the client registers again.
        let aors = self.registrar.flow_closed(conn.0);
        self.bindings_gone(&aors, now);
        for link in self.links.on_closed(conn) {
            tracing::warn!(link = %link, "traversal link down: connection closed");
        }
        // a branch sent down a link waits for an answer that can only come back up that link
        // (the far end cannot open a connection through the firewall): it failed now, and
        // the next peer of the zone may take the request
        let waiting: Vec<u64> = self
            .clients
            .iter()
            .filter(|(id, c)| {
                c.hop.link.is_some()
                    && c.hop.conn == Some(conn)
                    && c.ctx
                        .and_then(|x| self.ctxs.get(&x))
                        .is_some_and(|ctx| ctx.active == Some(**id))
            })
            .map(|(_, c)| c.token)
            .collect();
        for token in waiting {
            self.on_send_failed(token, "the link's connection closed", now, out);
        }
    }

    /// Bindings of `aors` went away: their claims in the shared alias table follow.
    fn bindings_gone(&mut self, aors: &[String], now: Instant) {
        for aor in aors {
            tracing::info!(aor = %aor, "registration removed: its flow closed");
            if let Some(sh) = &self.shared_aliases {
                super::register::claim(sh, &self.registrar, aor, now);
            }
        }
    }

    fn on_link_event(&mut self, ev: LinkEvent, now: Instant, out: &mut Vec<Output>) {
        match ev {
            LinkEvent::Set { name, link } => self.links.set(&name, link),
            LinkEvent::Answer {
                tx,
                status,
                reason,
                headers,
            } => self.respond(tx, status, &reason, &headers, now, out),
        }
    }
}

impl Machine for Core {
    fn handle(&mut self, event: Event, now: Instant, out: &mut Vec<Output>) {
        self.arm_probes(now);
        match event {
            Event::Received(r) => self.on_received(r, now, out),
            Event::SendFailed { token, error } => self.on_send_failed(token, &error, now, out),
            Event::Closed { conn, .. } => self.on_closed(conn, now, out),
            Event::Dns { ctx, answer } => self.on_dns_answer(ctx, answer, now, out),
            Event::Link(ev) => self.on_link_event(ev, now, out),
            Event::Media(ev) => self.on_media_event(ev, now, out),
        }
        self.drain_media(out);
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.run_timers(now, out);
        self.drain_media(out);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let heap = self.timers.peek().map(|(t, _)| t);
        let done = self.done.front_end();
        let timer = heap.into_iter().chain(done).min();
        let media = self.media.as_ref().and_then(|m| m.poll_timeout());
        match (timer, media) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// RFC 5923: a request over a stream whose top Via carries `alias` lets requests for its
/// sent-by reuse that connection; reported for the transport.
fn note_alias(msg: &Message, flow: &Flow, out: &mut Vec<Output>) {
    let (Some(conn), Some(via)) = (flow.conn, msg.vias().first()) else {
        return;
    };
    if !via.params.has("alias") {
        return;
    }
    let ip = match &via.host {
        Host::V4(a) => std::net::IpAddr::V4(*a),
        Host::V6(a) => std::net::IpAddr::V6(*a),
        Host::Domain(_) => return,
    };
    let port = via.port.unwrap_or(flow.kind.default_port());
    out.push(Output::Alias {
        conn,
        addr: SocketAddr::new(ip, port),
    });
}

/// A response (or a stateless answer) to the flow a request came on.
/// An empty reply is one the amplification limit withheld (`Core::respond`): its transaction
/// keeps it, and neither it nor a retransmission of it is sent.
pub(super) fn send_reply(flow: &Flow, data: Bytes, out: &mut Vec<Output>) {
    if data.is_empty() {
        return;
    }
    out.push(Output::Transmit(Transmit {
        kind: flow.kind,
        dest: flow.remote,
        data,
        conn: flow.conn,
        server_name: None,
        token: 0,
        reuse_only: false,
        client_tls: None,
        local: Some(flow.local),
    }));
}

/// RFC 3261 17.2.3 server transaction key (branch, sent-by, method; ACK matches INVITE), or the
/// RFC 2543 fallback when the branch lacks the magic cookie.
pub(super) fn server_key(keys: &TxKeys, msg: &Message) -> TxKey {
    let method = match msg.method() {
        Some(Method::Ack) => "INVITE",
        Some(m) => m.as_str(),
        None => "",
    };
    server_key_for(keys, msg, method)
}

/// A Via's sent-by as the RFC 2543 key's text holds it: `host` or `host:port`.
struct SentBy<'a>(&'a Host, Option<u16>);

impl std::fmt::Display for SentBy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(p) => write!(f, "{}:{p}", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// `server_key` as if the request's method were `method`. An RFC 3261 key hashes its parts
/// as they are: this runs for every request, and writing them out as text first (the host
/// formatted, a string allocated) was 1 % of the node's CPU.
pub(super) fn server_key_for(keys: &TxKeys, msg: &Message, method: &str) -> TxKey {
    let Some(via) = msg.vias().first() else {
        return keys.of("");
    };
    match via.branch() {
        Some(b) if b.starts_with("z9hG4bK") && b.len() > 7 => {
            keys.of_parts(&(b, &via.host, via.port, method))
        }
        _ => keys.of(&format!(
            "2543\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{method}",
            msg.request_uri_str().unwrap_or(""),
            msg.from().and_then(|f| f.tag()).unwrap_or(""),
            if method == "INVITE" {
                ""
            } else {
                msg.to().and_then(|t| t.tag()).unwrap_or("")
            },
            msg.call_id().unwrap_or(""),
            msg.cseq().map(|(n, _)| n).unwrap_or(0),
            SentBy(&via.host, via.port),
        )),
    }
}
