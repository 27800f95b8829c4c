//! `Core`: request and response processing of the stateful proxy (RFC 3261 16.3-16.11), the
//! tables it keeps, and its timers.
//!
//! Requests for this node (REGISTER, OPTIONS) are answered here through `register`; everything
//! else is proxied serially over an ordered target list. Transaction state machines are driven
//! through `transaction`; this file decides what to send, never how to retransmit.

use super::hop::{check_unicast, hop_for_uri, HopError, NextHop};
use super::identity::{record_route_value, via_value, Identity, NetEnv, BRANCH_PREFIX};
use super::links::{
    link_of_route, Admission, Link, LinkResponse, Links, ServerZone, LINK_BRANCH_PREFIX, LINK_PARAM,
};
use super::register::{self, RegisterOutcome};
use super::select::better;
use super::teardown::{capture, Teardown};
use crate::auth::{Algorithm, DigestServer};
use crate::dns::{Hop as DnsHop, SipTarget};
use crate::message::{
    build_ack, build_cancel, check_request, check_response, Bytes, Host, Limits, Message, Method,
    NameAddr, Uri,
};
use crate::registrar::{Registrar, RegistrarPolicy};
use crate::transaction::TimerConfig;
use crate::transaction::{Client, ClientTimeout, Server};
use crate::transport::{ConnId, Inbound, Outbound};
use causeway_config::Transport;
use causeway_media::legs::{self as anchor, Leg, Legs, LinkEnd, MediaAnchor};
use causeway_zones::{Alias, Protocol, RouteRequest, Router, SharedAliases, ZoneKind, LOCAL_ZONE};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// Transaction tables: keyed by branches and ids from the network, hashed with a per-process
/// random seed; foldhash instead of SipHash because hashing was 4 % of the proxy's CPU.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};
use tracing::debug;

/// URI schemes the proxy routes (RFC 4475 3.3.2: anything else is 416).
const SCHEMES: &[&str] = &["sip", "sips", "tel"];
/// Option tags the proxy implements (none that a Proxy-Require may ask for yet).
const PROXY_EXTENSIONS: &[&str] = &[];
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE";
const SERVER: &str = concat!("causeway/", env!("CARGO_PKG_VERSION"));
/// Established anchored calls remembered for a teardown at once; past this a call is still
/// anchored but not ended by the node when its media dies.
const MAX_TEARDOWNS: usize = 100_000;
/// RFC 3261 16.6 item 3: Max-Forwards for requests that arrive without one.
const DEFAULT_MAX_FORWARDS: u32 = 70;

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
    /// `[[credential]]`: what traversal clients authenticate with on E.
    pub link_credentials: HashMap<String, String>,
    /// Realm of the link digest challenge.
    pub link_realm: String,
}

#[derive(Clone, Debug, Default)]
pub struct ProxyStats {
    pub requests: u64,
    pub responses: u64,
    pub dropped_unparsable: u64,
    pub rejected: u64,
    pub dropped_responses: u64,
    pub forwarded_requests: u64,
    pub forwarded_responses: u64,
}

type TxId = u64;

/// Where responses to a request go (RFC 3261 18.2.2, RFC 3581).
#[derive(Clone, Debug)]
struct Reply {
    kind: Transport,
    remote: SocketAddr,
    conn: Option<ConnId>,
    /// our address the request arrived on (for the inbound Record-Route)
    local: SocketAddr,
}

struct ServerTx {
    key: String,
    machine: Server,
    /// the request, until a final response is sent (then only the machine's copy of the
    /// response is needed; dropping it keeps 32 s of finished transactions small)
    request: Option<Message>,
    reply: Reply,
    ctx: Option<TxId>,
    to_tag: String,
}

struct ClientTx {
    branch: String,
    /// transport token of the first send (a failure report names it)
    token: u64,
    is_cancel: bool,
    machine: Client,
    /// the request as sent (INVITE only: CANCEL and ACK are built from it, parsed only then)
    sent: Option<Bytes>,
    hop: NextHop,
    ctx: Option<TxId>,
    provisional: bool,
    cancel_wanted: bool,
    cancel_sent: bool,
    timer_c_fired: bool,
}

/// One target of a proxied request: the Request-URI to use, the hop, and Route values to add.
#[derive(Clone, Debug)]
struct Target {
    ruri: Option<String>,
    hop: NextHop,
    path: Vec<String>,
    /// `[routing] hop_limit`: Max-Forwards of a request sent into a zone is capped at this,
    /// so a loop between zones ends after that many hops
    hop_cap: Option<u32>,
    /// RFC 3263: the hop is not known yet; resolve this first (the DNS zone of `resolve.1`, or
    /// the node's resolver) and try what it answers, in order
    resolve: Option<(SipTarget, Option<String>)>,
}

/// A DNS lookup the driver must run; the answer comes back through `Core::on_dns_answer`.
#[derive(Clone, Debug)]
pub struct DnsQuery {
    pub ctx: u64,
    pub target: SipTarget,
    /// The DNS zone whose nameservers to ask; `None`: the node's resolver.
    pub zone: Option<String>,
}

/// RFC 3261 16: the state of one proxied request across its branches (tried serially).
struct Ctx {
    server: TxId,
    invite: bool,
    targets: VecDeque<Target>,
    /// Route values to put back after removing ours and fixing strict routing
    routes: RouteEdit,
    record_route: bool,
    local_zone: bool,
    active: Option<TxId>,
    best: Option<(u16, Bytes)>,
    cancelled: bool,
    finished: bool,
    /// Call-ID and legs of a call whose media this node anchors, and whether this is the
    /// initial INVITE (only its failure ends the call's relay; a failed re-INVITE does not)
    anchored: Option<(String, Legs, bool)>,
}

#[derive(Clone, Debug, Default)]
struct RouteEdit {
    /// our own Route values to pop from the top
    pop: usize,
    /// when set, all Route fields are replaced by these values (strict-routing repair)
    replace: Option<Vec<String>>,
    /// the Request-URI to use instead of the received one (strict-routing repair)
    ruri: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Server(TxId),
    Client(TxId),
    TimerC(TxId),
    Purge,
}

pub struct Core {
    settings: ProxySettings,
    limits: Limits,
    identity: Identity,
    router: Router,
    registrar: Registrar,
    digest: Option<DigestServer>,
    links: Links,
    link_digest: DigestServer,
    dns_queries: Vec<DnsQuery>,
    media: Option<Box<dyn MediaAnchor>>,
    /// The alias table shared with the H.323 gatekeeper, when the node runs one.
    shared_aliases: Option<SharedAliases>,
    /// Established anchored calls, for ending them when their media dies
    teardowns: HashMap<String, Teardown>,
    // boxed: the maps grow to hundreds of thousands of entries at load, and a resize then
    // moves pointers instead of whole transactions
    servers: Map<TxId, Box<ServerTx>>,
    server_index: Map<String, TxId>,
    clients: Map<TxId, Box<ClientTx>>,
    client_index: Map<(String, bool), TxId>,
    ctxs: Map<TxId, Ctx>,
    tokens: Map<u64, TxId>,
    aliases: Vec<(ConnId, SocketAddr)>,
    timers: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    next_id: u64,
    purge_at: Option<Instant>,
    stats: ProxyStats,
}

impl Core {
    pub fn new(
        settings: ProxySettings,
        listeners: Vec<(Transport, SocketAddr)>,
        env: Box<dyn NetEnv>,
    ) -> Core {
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
            dns_queries: Vec::new(),
            media: None,
            shared_aliases: None,
            teardowns: HashMap::new(),
            link_digest: DigestServer::new(
                &settings.link_realm,
                &[Algorithm::Sha256, Algorithm::Md5],
                rand::random(),
                Duration::from_secs(300),
            ),
            registrar: Registrar::new(settings.registrar.clone()),
            digest,
            servers: Map::default(),
            server_index: Map::default(),
            clients: Map::default(),
            client_index: Map::default(),
            ctxs: Map::default(),
            tokens: Map::default(),
            aliases: Vec::new(),
            timers: BinaryHeap::new(),
            next_id: 1,
            purge_at: None,
            stats: ProxyStats::default(),
            settings,
        }
    }

    pub fn stats(&self) -> &ProxyStats {
        &self.stats
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// Live transactions (server + client), for tests and status.
    pub fn transaction_count(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse((t, _, _))| *t);
        // E's links expire on their own clock (a C that stops refreshing is down)
        match (timer, self.links.next_expiry()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn arm(&mut self, at: Option<Instant>, timer: Timer) {
        if let Some(at) = at {
            let seq = self.id();
            self.timers.push(Reverse((at, seq, timer)));
        }
    }

    // ---------------------------------------------------------------- input

    pub fn on_message(
        &mut self,
        inbound: Inbound,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Outbound>,
    ) {
        let msg = match Message::parse_with(inbound.data.clone(), &self.limits) {
            Ok(m) => m,
            Err(e) => {
                self.stats.dropped_unparsable += 1;
                debug!(remote = %inbound.remote, error = %e, "dropped unparsable message");
                return;
            }
        };
        let mut reply = Reply {
            kind: inbound.kind,
            remote: inbound.remote,
            conn: inbound.conn,
            local: inbound.local,
        };
        if reply.local.ip().is_unspecified() {
            if let Some(l) = self
                .identity
                .local_addr_towards(inbound.kind, inbound.remote.ip())
            {
                reply.local = SocketAddr::new(l.ip(), inbound.local.port());
            }
        }
        if msg.is_request() {
            self.stats.requests += 1;
            self.note_alias(&msg, &reply);
            self.on_request(msg, reply, now, wall, out);
        } else {
            self.stats.responses += 1;
            let link_response = msg
                .vias()
                .first()
                .and_then(|v| v.branch())
                .is_some_and(|b| b.starts_with(LINK_BRANCH_PREFIX));
            if link_response {
                self.links
                    .push_response(msg, inbound.conn, reply.local, inbound.remote);
                return;
            }
            self.on_response(msg, now, out);
        }
    }

    /// The rewritten SDP answer (or offer in a reliable provisional / 2xx) of an anchored call.
    fn anchor_answer(&mut self, ctx_id: TxId, msg: &Message, now: Instant) -> Option<Bytes> {
        let (call_id, legs, _) = self.ctxs.get(&ctx_id)?.anchored.clone()?;
        if !is_sdp(msg) {
            return None;
        }
        let media = self.media.as_mut()?;
        match media.sdp(&call_id, anchor::From::Callee, &legs, msg.body(), now) {
            Ok(b) => b,
            Err(r) => {
                // an answer cannot be refused on its way back; it goes through unanchored
                tracing::warn!(call = %call_id, reason = %r.reason, "answer not anchored");
                None
            }
        }
    }

    fn remember_call(&mut self, call_id: &str, invite: &Message, ok: &Message) {
        if self.teardowns.len() >= MAX_TEARDOWNS || self.teardowns.contains_key(call_id) {
            return;
        }
        let identity = &mut self.identity;
        let t = capture(invite, ok, |u| match u {
            Uri::Sip(u) => identity.is_our_address(&u.host, u.port, u.secure),
            _ => false,
        });
        if let Some(t) = t {
            self.teardowns.insert(call_id.to_string(), t);
        }
    }

    /// Calls whose media the relay found dead: hang them up (or not, by the relay's policy).
    pub fn media_sweep(&mut self, now: Instant, out: &mut Vec<Outbound>) {
        let Some(media) = self.media.as_mut() else {
            return;
        };
        for call_id in media.take_hangups() {
            self.hang_up(&call_id, "media inactivity", now, out);
        }
    }

    /// Ends an anchored call from the middle: a BYE to each side (RFC 3261 15.1.1).
    pub fn hang_up(&mut self, call_id: &str, reason: &str, now: Instant, out: &mut Vec<Outbound>) {
        let Some(t) = self.teardowns.remove(call_id) else {
            return;
        };
        tracing::warn!(call = %call_id, %reason, "ending the call: BYE to both sides");
        for bye in &t.sides {
            let hop = match &bye.link {
                Some(zone) => self.link_hop(zone),
                None => match bye.next_hop_uri() {
                    Some(Uri::Sip(u)) => hop_for_uri(&u).ok(),
                    _ => None,
                },
            };
            let Some(hop) = hop else {
                debug!(call = %call_id, target = %bye.ruri, "no hop for the BYE");
                continue;
            };
            let local = match hop.link.as_deref().and_then(|z| self.links.get(z)) {
                Some(l) => Some(l.local),
                None => self.identity.local_addr_towards(hop.kind, hop.addr.ip()),
            };
            let Some(local) = local else {
                continue;
            };
            let branch = format!("{BRANCH_PREFIX}bye{:016x}", rand::random::<u64>());
            let text = bye.render(call_id, &via_value(hop.kind, local, &branch), reason);
            self.start_client(false, Bytes::from(text), hop, branch, None, false, now, out);
        }
        if let Some(media) = self.media.as_mut() {
            media.end(call_id);
        }
    }

    /// The media relay that anchors calls (SDP rewriting); none: signaling only.
    pub fn set_media(&mut self, media: Box<dyn MediaAnchor>) {
        self.media = Some(media);
    }

    /// Shares the alias table with the H.323 gatekeeper (see `causeway_zones::shared`).
    pub fn set_shared_aliases(&mut self, shared: SharedAliases) {
        self.shared_aliases = Some(shared);
    }

    // ---------------------------------------------------------------- DNS (RFC 3263)

    /// Lookups to run; each answer goes to `on_dns_answer`.
    pub fn take_dns_queries(&mut self) -> Vec<DnsQuery> {
        std::mem::take(&mut self.dns_queries)
    }

    /// The answer to a `DnsQuery`: its hops are tried in order (RFC 3263 4.3), then the
    /// context's remaining targets.
    pub fn on_dns_answer(
        &mut self,
        ctx_id: u64,
        answer: Result<Vec<DnsHop>, String>,
        now: Instant,
        out: &mut Vec<Outbound>,
    ) {
        let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
            return;
        };
        let Some(waiting) = ctx.targets.pop_front() else {
            return;
        };
        let hops: Vec<Target> = match &answer {
            Ok(hops) => hops
                .iter()
                .filter(|h| check_unicast(h.addr.ip()).is_ok())
                .map(|h| Target {
                    ruri: waiting.ruri.clone(),
                    hop: NextHop {
                        kind: h.transport,
                        addr: h.addr,
                        conn: None,
                        server_name: Some(h.server_name.clone()),
                        link: None,
                    },
                    path: waiting.path.clone(),
                    hop_cap: waiting.hop_cap,
                    resolve: None,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if hops.is_empty() {
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
            self.record_best_local(
                ctx_id,
                503,
                &format!("Service Unavailable (DNS for {host}: {why})"),
            );
        } else if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            for t in hops.into_iter().rev() {
                ctx.targets.push_front(t);
            }
        }
        self.next_target(ctx_id, now, out);
    }

    // ---------------------------------------------------------------- traversal links

    /// C: the traversal client reports its link up (`Some`) or down.
    pub fn set_link(&mut self, zone: &str, link: Option<Link>) {
        self.links.set(zone, link);
    }

    /// The live links, by zone name.
    pub fn links(&self) -> &HashMap<String, Link> {
        self.links.all()
    }

    /// Responses to traversal-client REGISTERs, for the client above the core.
    pub fn take_link_responses(&mut self) -> Vec<LinkResponse> {
        self.links.take_responses()
    }

    /// The registrar's bindings, for status: (AOR, contact, seconds left).
    pub fn registrations(&self, now: Instant) -> Vec<(String, String, u64)> {
        self.registrar.snapshot(now, 1000)
    }

    /// The hop down the live link of traversal zone `zone`.
    fn link_hop(&self, zone: &str) -> Option<NextHop> {
        let l = self.links.get(zone)?;
        Some(NextHop {
            kind: l.kind,
            addr: l.remote,
            conn: Some(l.conn),
            server_name: None,
            link: Some(zone.to_string()),
        })
    }

    fn expire_links(&mut self, now: Instant) {
        if self.links.next_expiry().is_some_and(|e| e <= now) {
            for zone in self.links.expire(now) {
                tracing::warn!(zone = %zone, "traversal link down: registration expired");
            }
        }
    }

    fn link_register(
        &mut self,
        id: TxId,
        zone: ServerZone,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Outbound>,
    ) {
        let Some(s) = self.servers.get(&id) else {
            return;
        };
        let Some(request) = &s.request else {
            return;
        };
        let link = (s.reply.kind, s.reply.remote, s.reply.local, s.reply.conn);
        let remote = s.reply.remote;
        let admission = self.links.admit(
            &zone,
            request,
            &self.link_digest,
            &self.settings.link_credentials,
            link,
            now,
            wall,
        );
        match admission {
            Admission::Up { zone, expires } => {
                tracing::info!(zone = %zone, peer = %remote, "traversal link up");
                let contact = request
                    .header("Contact")
                    .map(str::to_string)
                    .unwrap_or_default();
                let mut h = vec![("Expires", expires.to_string())];
                if !contact.is_empty() {
                    h.push(("Contact", format!("{contact};expires={expires}")));
                }
                self.respond(id, 200, "OK", &h, now, out);
            }
            Admission::Removed { zone } => {
                tracing::info!(zone = %zone, peer = %remote, "traversal link unregistered");
                self.respond(id, 200, "OK", &[], now, out);
            }
            Admission::Challenge { stale } => {
                let h: Vec<(&str, String)> = self
                    .link_digest
                    .challenge(wall, stale)
                    .into_iter()
                    .map(|c| ("WWW-Authenticate", c))
                    .collect();
                self.respond(id, 401, "Unauthorized", &h, now, out);
            }
            Admission::Refused { reason } => {
                tracing::warn!(zone = %zone.name, peer = %remote, %reason, "traversal link refused");
                self.respond(id, 403, &format!("Forbidden ({reason})"), &[], now, out);
            }
        }
    }

    /// The transport could not deliver the message sent with `token`.
    pub fn on_send_failed(
        &mut self,
        token: u64,
        error: &str,
        now: Instant,
        out: &mut Vec<Outbound>,
    ) {
        let Some(id) = self.tokens.remove(&token) else {
            return;
        };
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        debug!(dest = %c.hop.addr, error, "transport failure");
        c.machine.on_transport_error(now);
        let ctx = c.ctx;
        let is_cancel = c.is_cancel;
        let dest = c.hop.addr;
        self.remove_client(id);
        if let (Some(ctx), false) = (ctx, is_cancel) {
            let reason = format!("Service Unavailable (cannot reach {dest}: {error})");
            self.branch_failed(ctx, 503, &reason, now, out);
        }
    }

    /// RFC 5923: a request over a stream whose top Via carries `alias` lets requests for its
    /// sent-by reuse that connection; collected here for the driver to pass to the transport.
    fn note_alias(&mut self, msg: &Message, reply: &Reply) {
        let (Some(conn), Some(via)) = (reply.conn, msg.vias().first()) else {
            return;
        };
        if !via.params.has("alias") || self.aliases.len() >= 1024 {
            return;
        }
        let ip = match &via.host {
            Host::V4(a) => std::net::IpAddr::V4(*a),
            Host::V6(a) => std::net::IpAddr::V6(*a),
            Host::Domain(_) => return,
        };
        let port = via.port.unwrap_or(reply.kind.default_port());
        self.aliases.push((conn, SocketAddr::new(ip, port)));
    }

    /// Connection aliases learned since the last call (RFC 5923).
    pub fn take_aliases(&mut self) -> Vec<(ConnId, SocketAddr)> {
        std::mem::take(&mut self.aliases)
    }

    pub fn on_connection_closed(&mut self, conn: ConnId) {
        // Bindings keep their Contact; a later request opens a new connection to it. A
        // traversal link on the connection is down until the client registers again.
        for zone in self.links.on_closed(conn) {
            tracing::warn!(zone = %zone, "traversal link down: connection closed");
        }
    }

    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<Outbound>) {
        self.expire_links(now);
        while let Some(Reverse((at, _, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Server(id) => self.server_timer(id, now, out),
                Timer::Client(id) => self.client_timer(id, now, out),
                Timer::TimerC(id) => self.timer_c(id, now, out),
                Timer::Purge => {
                    self.purge_at = None;
                    let n = self.registrar.purge_expired(now);
                    if n > 0 {
                        debug!(removed = n, "expired registrations purged");
                    }
                    self.arm_purge();
                }
            }
        }
    }

    fn arm_purge(&mut self) {
        if self.purge_at.is_none() {
            if let Some(at) = self.registrar.next_expiry() {
                self.purge_at = Some(at);
                self.arm(Some(at), Timer::Purge);
            }
        }
    }

    // ---------------------------------------------------------------- requests

    fn on_request(
        &mut self,
        msg: Message,
        reply: Reply,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Outbound>,
    ) {
        let is_ack = msg.method() == Some(&Method::Ack);
        if let Err(rej) = check_request(&msg, SCHEMES, PROXY_EXTENSIONS) {
            self.stats.rejected += 1;
            debug!(status = rej.status, reason = %rej.reason, "request rejected");
            if !is_ack && msg.header_count("Via") > 0 {
                let mut b = msg.response(rej.status, &rej.reason);
                if !rej.unsupported.is_empty() {
                    b.header("Unsupported", &rej.unsupported.join(", "));
                }
                b.to_tag(&self.tag());
                let bytes = b.finish();
                send_reply(&reply, bytes, out);
            }
            return;
        }
        let key = server_key(&msg);
        if let Some(&id) = self.server_index.get(&key) {
            // a retransmission, or the ACK of a non-2xx final response (RFC 3261 17.2.1)
            if let Some(s) = self.servers.get_mut(&id) {
                if let Some(bytes) = s.machine.on_request(is_ack, now) {
                    let r = s.reply.clone();
                    send_reply(&r, bytes, out);
                }
                let at = s.machine.poll_timeout();
                self.arm(at, Timer::Server(id));
            }
            return;
        }
        match msg.method() {
            Some(Method::Ack) => return self.forward_ack(msg, &reply, out),
            Some(Method::Cancel) => return self.on_cancel(msg, reply, now, out),
            _ => {}
        }
        if self.servers.len() + self.clients.len() >= self.settings.max_transactions {
            let mut b = msg.response(503, "Service Unavailable (transaction table full)");
            b.header("Retry-After", "5");
            let bytes = b.finish();
            return send_reply(&reply, bytes, out);
        }
        let id = self.new_server(msg, key, reply, now);
        self.route_request(id, now, wall, out);
    }

    fn tag(&mut self) -> String {
        format!("cw{:x}", rand::random::<u64>())
    }

    fn new_server(&mut self, msg: Message, key: String, reply: Reply, now: Instant) -> TxId {
        let invite = msg.method() == Some(&Method::Invite);
        let id = self.id();
        let machine = Server::new(invite, reply.kind.is_reliable(), now, &self.settings.timers);
        let to_tag = self.tag();
        self.server_index.insert(key.clone(), id);
        self.servers.insert(
            id,
            Box::new(ServerTx {
                key,
                machine,
                request: Some(msg),
                reply,
                ctx: None,
                to_tag,
            }),
        );
        id
    }

    /// Answer the request of server transaction `id` ourselves.
    fn respond(
        &mut self,
        id: TxId,
        status: u16,
        reason: &str,
        headers: &[(&str, String)],
        now: Instant,
        out: &mut Vec<Outbound>,
    ) {
        let Some(s) = self.servers.get(&id) else {
            return;
        };
        let Some(request) = &s.request else {
            return;
        };
        let mut b = request.response(status, reason);
        if status > 100 {
            b.to_tag(&s.to_tag);
        }
        b.header("Server", SERVER);
        for (n, v) in headers {
            b.header(n, v);
        }
        let bytes = b.finish();
        self.server_send(id, status, bytes, now, out);
    }

    fn server_send(
        &mut self,
        id: TxId,
        status: u16,
        bytes: Bytes,
        now: Instant,
        out: &mut Vec<Outbound>,
    ) {
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        if let Some(b) = s.machine.respond(status, bytes, now) {
            let r = s.reply.clone();
            send_reply(&r, b, out);
        }
        if status >= 200 {
            s.request = None;
        }
        let at = s.machine.poll_timeout();
        self.arm(at, Timer::Server(id));
        self.reap_server(id);
    }

    /// RFC 3261 16.3 (checks), 16.4 (route information), 16.5 (targets).
    fn route_request(&mut self, id: TxId, now: Instant, wall: SystemTime, out: &mut Vec<Outbound>) {
        let Some(msg) = self.servers.get(&id).and_then(|s| s.request.as_ref()) else {
            return;
        };
        let method = msg
            .method()
            .cloned()
            .unwrap_or(Method::Other(Default::default()));
        let max_forwards = msg.max_forwards();

        // 16.4: a strict-routing previous hop put our URI in the Request-URI
        let mut edit = RouteEdit::default();
        let routes: Vec<NameAddr> = msg.routes().to_vec();
        let ruri = msg.request_uri().cloned();
        let mut effective_ruri = ruri.clone();
        let mut remaining: Vec<&NameAddr> = routes.iter().collect();
        if let (Some(Uri::Sip(u)), Some(last)) = (&ruri, routes.last()) {
            if self.identity.is_our_address(&u.host, u.port, u.secure) && u.user.is_none() {
                edit.ruri = Some(last.uri.to_string());
                effective_ruri = Some(last.uri.clone());
                remaining.pop();
                edit.replace = Some(remaining.iter().map(|r| name_addr_string(r)).collect());
            }
        }
        // pop our own Route entries (one, or two after double record-routing); one that faces
        // a traversal link sends the request down that link
        let mut via_link: Option<String> = None;
        while let Some(first) = remaining.first() {
            let ours = match &first.uri {
                Uri::Sip(u) => self.identity.is_our_address(&u.host, u.port, u.secure),
                _ => false,
            };
            if !ours {
                break;
            }
            // only the last of our entries faces the next hop (the first faces the previous
            // one after double record-routing)
            via_link = link_of_route(&first.uri);
            remaining.remove(0);
            match &mut edit.replace {
                Some(list) => {
                    if !list.is_empty() {
                        list.remove(0);
                    }
                }
                None => edit.pop += 1,
            }
        }

        let in_dialog = msg.to().and_then(|t| t.tag()).is_some();
        let dialog_creating = matches!(method, Method::Invite | Method::Subscribe | Method::Refer);
        let from_aor = msg.from().and_then(|f| f.uri.as_sip()).map(|u| {
            format!(
                "sip:{}@{}",
                u.user.as_deref().unwrap_or(""),
                host_string(&u.host)
            )
        });
        let (src_kind, src_local, src_conn, src_remote) = match self.servers.get(&id) {
            Some(s) => (s.reply.kind, s.reply.local, s.reply.conn, s.reply.remote),
            None => return,
        };
        self.expire_links(now);
        if let Some(z) = self.links.server_zone_at(src_kind, src_local.port()) {
            if method == Method::Register {
                let z = z.clone();
                return self.link_register(id, z, now, wall, out);
            }
            if !self.links.is_link_conn(&z.name, src_conn) {
                let reason = format!(
                    "Forbidden (no traversal link of zone `{}` on this connection)",
                    z.name
                );
                return self.respond(id, 403, &reason, &[], now, out);
            }
        }
        let source_zone: String = match self.links.source_zone(src_kind, src_local.port(), src_conn)
        {
            Some(z) => z.to_string(),
            None => LOCAL_ZONE.to_string(),
        };

        // a request addressed to this node itself
        let for_us = remaining.is_empty()
            && match &effective_ruri {
                Some(Uri::Sip(u)) => {
                    (self.identity.is_our_address(&u.host, u.port, u.secure)
                        || self.identity.is_our_domain(&u.host))
                        && (u.user.is_none() || method == Method::Register)
                }
                _ => false,
            };
        if for_us
            || (method == Method::Register
                && remaining.is_empty()
                && self.is_local_ruri(&effective_ruri))
        {
            return self.local_request(id, method, now, wall, out);
        }
        if max_forwards == Some(0) {
            return self.respond(id, 483, "Too Many Hops", &[], now, out);
        }
        let looped = match self.servers.get(&id).and_then(|s| s.request.as_ref()) {
            Some(m) => self.identity.is_loop(m),
            None => false,
        };
        if looped {
            return self.respond(id, 482, "Loop Detected", &[], now, out);
        }

        let mut targets = VecDeque::new();
        let mut local_zone = false;
        if let Some(zone) = via_link {
            // our Route entry facing a link: down that link, Request-URI and the rest of the
            // Route set untouched (C pops its own entries)
            match self.link_hop(&zone) {
                Some(hop) => targets.push_back(Target {
                    ruri: edit.ruri.clone(),
                    hop,
                    path: Vec::new(),
                    hop_cap: None,
                    resolve: None,
                }),
                None => {
                    let reason = format!("Service Unavailable (traversal zone `{zone}` is down)");
                    return self.respond(id, 503, &reason, &[], now, out);
                }
            }
        } else if let Some(next) = remaining.first() {
            // loose routing: next hop from the Route, Request-URI unchanged (16.6 item 6 for a
            // strict next hop: the Request-URI becomes the Route and the old one goes last)
            let Uri::Sip(u) = &next.uri else {
                return self.respond(id, 416, "Unsupported URI Scheme (in Route)", &[], now, out);
            };
            let target = match hop_for_uri(u) {
                Ok(hop) => Ok(Target {
                    ruri: edit.ruri.clone(),
                    hop,
                    path: Vec::new(),
                    hop_cap: None,
                    resolve: None,
                }),
                Err(HopError::NeedsDns(_)) => Ok(dns_target(u, None, edit.ruri.clone())),
                Err(e) => Err(e),
            };
            match target {
                Ok(mut t) => {
                    if !u.lr() {
                        let mut rest: Vec<String> = remaining
                            .iter()
                            .skip(1)
                            .map(|r| name_addr_string(r))
                            .collect();
                        if let Some(r) = &effective_ruri {
                            rest.push(format!("<{r}>"));
                        }
                        edit.replace = Some(rest);
                        t.ruri = Some(u.to_string());
                    }
                    targets.push_back(t);
                }
                Err(e) => {
                    return self.respond(
                        id,
                        503,
                        &format!("Service Unavailable ({e})"),
                        &[],
                        now,
                        out,
                    )
                }
            }
        } else if let Some(direct) = self.direct_uri(&effective_ruri, in_dialog) {
            // 16.5: a Request-URI outside our responsibility (an address, or an in-dialog
            // remote target) is forwarded to as it stands
            match hop_for_uri(&direct) {
                Ok(hop) => targets.push_back(Target {
                    ruri: edit.ruri.clone(),
                    hop,
                    path: Vec::new(),
                    hop_cap: None,
                    resolve: None,
                }),
                Err(HopError::NeedsDns(_)) => {
                    targets.push_back(dns_target(&direct, None, edit.ruri.clone()))
                }
                Err(e) => {
                    return self.respond(
                        id,
                        503,
                        &format!("Service Unavailable ({e})"),
                        &[],
                        now,
                        out,
                    )
                }
            }
        } else {
            let Some(ruri) = &effective_ruri else {
                return self.respond(id, 400, "Bad Request (no Request-URI)", &[], now, out);
            };
            let alias = match ruri {
                Uri::Sip(u) => {
                    let domain = if self.identity.is_our_address(&u.host, u.port, u.secure) {
                        self.identity.domains().first().cloned()
                    } else {
                        Some(host_string(&u.host))
                    };
                    Alias::new(u.user.as_deref(), domain.as_deref())
                }
                Uri::Absolute { rest, .. } => {
                    Alias::new(Some(rest.split(';').next().unwrap_or("")), None)
                }
            };
            let source_registered = from_aor.is_some_and(|aor| {
                self.registrar
                    .lookup(&aor, now)
                    .iter()
                    .any(|b| b.source.remote == src_remote)
            });
            let route = self.router.route(&RouteRequest {
                alias: &alias,
                protocol: Protocol::Sip,
                source_zone: &source_zone,
                source_registered,
            });
            let mut down: Vec<String> = Vec::new();
            for t in &route.targets {
                match t.kind {
                    ZoneKind::Local => {
                        local_zone = true;
                        let aor = format!(
                            "sip:{}@{}",
                            t.alias.user.as_deref().unwrap_or(""),
                            t.alias.domain.as_deref().unwrap_or("")
                        );
                        for b in self.registrar.lookup(&aor, now) {
                            let Ok(Uri::Sip(cu)) = Uri::parse(&b.contact) else {
                                continue;
                            };
                            match hop_for_uri(&cu) {
                                Ok(mut hop) => {
                                    if b.source.kind == hop.kind && b.source.remote == hop.addr {
                                        hop.conn = b.source.conn.map(ConnId);
                                    }
                                    targets.push_back(Target {
                                        ruri: Some(b.contact.clone()),
                                        hop,
                                        path: b.path.clone(),
                                        hop_cap: None,
                                        resolve: None,
                                    });
                                }
                                Err(HopError::NeedsDns(_)) => {
                                    let mut d = dns_target(&cu, None, Some(b.contact.clone()));
                                    d.path = b.path.clone();
                                    targets.push_back(d);
                                }
                                Err(e) => {
                                    debug!(contact = %b.contact, error = %e, "unusable contact")
                                }
                            }
                        }
                    }
                    ZoneKind::TraversalServer | ZoneKind::TraversalClient => {
                        match self.link_hop(&t.zone) {
                            Some(hop) => targets.push_back(Target {
                                ruri: (t.alias != alias).then(|| alias_uri(&t.alias)),
                                hop,
                                path: Vec::new(),
                                hop_cap: Some(self.router.hop_limit()),
                                resolve: None,
                            }),
                            None => down.push(format!("traversal zone `{}` is down", t.zone)),
                        }
                    }
                    ZoneKind::Neighbor => {
                        let peer = self
                            .router
                            .zone(&t.zone)
                            .map(|z| (z.peer.clone().unwrap_or_default(), z.transport()));
                        let Some((peer, transport)) = peer else {
                            continue;
                        };
                        let t_param = transport.param();
                        let hop = Uri::parse(&format!("sip:{peer};transport={t_param}"))
                            .map_err(|e| e.to_string())
                            .and_then(|u| match u {
                                Uri::Sip(su) => hop_for_uri(&su).map_err(|e| e.to_string()),
                                _ => Err("not a SIP peer".to_string()),
                            });
                        let ruri = (t.alias != alias).then(|| alias_uri(&t.alias));
                        match hop {
                            Ok(hop) => targets.push_back(Target {
                                ruri,
                                hop,
                                path: Vec::new(),
                                hop_cap: Some(self.router.hop_limit()),
                                resolve: None,
                            }),
                            Err(_) if !peer.is_empty() => {
                                // a host name: RFC 3263 with the node's resolver
                                if let Ok(Uri::Sip(su)) =
                                    Uri::parse(&format!("sip:{peer};transport={t_param}"))
                                {
                                    let mut d = dns_target(&su, None, ruri);
                                    d.hop_cap = Some(self.router.hop_limit());
                                    targets.push_back(d);
                                }
                            }
                            Err(e) => down.push(format!("neighbor zone `{}`: {e}", t.zone)),
                        }
                    }
                    ZoneKind::Dns => {
                        // RFC 3263 on the (possibly rewritten) Request-URI
                        let uri = if t.alias != alias {
                            Uri::parse(&alias_uri(&t.alias)).ok()
                        } else {
                            effective_ruri.clone()
                        };
                        match uri {
                            Some(Uri::Sip(su)) => {
                                let ruri = (t.alias != alias).then(|| alias_uri(&t.alias));
                                let mut d = dns_target(&su, Some(t.zone.clone()), ruri);
                                d.hop_cap = Some(self.router.hop_limit());
                                targets.push_back(d);
                            }
                            _ => down.push(format!("DNS zone `{}`: not a SIP URI", t.zone)),
                        }
                    }
                }
            }
            if targets.is_empty() && !down.is_empty() {
                let reason = format!("Service Unavailable ({})", down.join("; "));
                debug!(trace = ?route.trace, "{reason}");
                return self.respond(id, 503, &reason, &[], now, out);
            }
            if targets.is_empty() {
                let h323 = self
                    .shared_aliases
                    .as_ref()
                    .and_then(|sh| sh.owner(&alias.to_string(), now))
                    .filter(|o| o.protocol == Protocol::H323);
                let reason = if let (true, Some(o)) = (local_zone, h323) {
                    format!(
                        "Not Found ({alias} is registered by H.323 endpoint {}; SIP/H.323 interworking is not available)",
                        o.id
                    )
                } else if local_zone {
                    format!("Not Found ({alias} is not registered)")
                } else {
                    format!("Not Found (no route to {alias})")
                };
                debug!(trace = ?route.trace, "{reason}");
                return self.respond(id, 404, &reason, &[], now, out);
            }
        }

        let invite = method == Method::Invite;
        if invite {
            self.respond(id, 100, "Trying", &[], now, out);
        }
        let ctx_id = self.id();
        self.ctxs.insert(
            ctx_id,
            Ctx {
                server: id,
                invite,
                targets,
                routes: edit,
                record_route: dialog_creating && !in_dialog,
                local_zone,
                active: None,
                best: None,
                cancelled: false,
                finished: false,
                anchored: None,
            },
        );
        if let Some(s) = self.servers.get_mut(&id) {
            s.ctx = Some(ctx_id);
        }
        self.next_target(ctx_id, now, out);
    }

    /// The SIP Request-URI to forward to directly: not ours, and either an in-dialog request
    /// or an IP address (a domain name goes through the router).
    fn direct_uri(
        &mut self,
        ruri: &Option<Uri>,
        in_dialog: bool,
    ) -> Option<crate::message::SipUri> {
        let Some(Uri::Sip(u)) = ruri else {
            return None;
        };
        if self.identity.is_our_domain(&u.host)
            || self.identity.is_our_address(&u.host, u.port, u.secure)
        {
            return None;
        }
        let literal = matches!(u.host, Host::V4(_) | Host::V6(_));
        (in_dialog || literal).then(|| u.clone())
    }

    fn is_local_ruri(&mut self, ruri: &Option<Uri>) -> bool {
        match ruri {
            Some(Uri::Sip(u)) => {
                self.identity.is_our_domain(&u.host)
                    || self.identity.is_our_address(&u.host, u.port, u.secure)
            }
            _ => false,
        }
    }

    /// Requests addressed to this node: REGISTER (registrar), OPTIONS (health probe).
    fn local_request(
        &mut self,
        id: TxId,
        method: Method,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Outbound>,
    ) {
        let link_zone = self.servers.get(&id).and_then(|s| {
            self.links
                .server_zone_at(s.reply.kind, s.reply.local.port())
                .cloned()
        });
        if let (Some(zone), Method::Register) = (link_zone, &method) {
            return self.link_register(id, zone, now, wall, out);
        }
        match method {
            Method::Register => {
                let Some(s) = self.servers.get(&id) else {
                    return;
                };
                let source = register::Source {
                    kind: s.reply.kind,
                    remote: s.reply.remote,
                    conn: s.reply.conn,
                };
                let Some(request) = &s.request else {
                    return;
                };
                let outcome = register::handle(
                    request,
                    source,
                    self.identity.domains(),
                    &mut self.registrar,
                    self.digest.as_ref(),
                    self.settings.auth.as_ref(),
                    now,
                    wall,
                    self.shared_aliases.as_ref(),
                );
                let RegisterOutcome {
                    status,
                    reason,
                    headers,
                } = outcome;
                if status == 200 {
                    self.arm_purge();
                }
                let h: Vec<(&str, String)> = headers.iter().map(|(n, v)| (*n, v.clone())).collect();
                self.respond(id, status, &reason, &h, now, out);
            }
            Method::Options => {
                let h = [
                    ("Allow", ALLOW.to_string()),
                    ("Accept", "application/sdp".to_string()),
                    ("Supported", "path".to_string()),
                ];
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

    /// Try the next target of `ctx_id`, or send the best response when none is left.
    fn next_target(&mut self, ctx_id: TxId, now: Instant, out: &mut Vec<Outbound>) {
        loop {
            let Some(ctx) = self.ctxs.get_mut(&ctx_id) else {
                return;
            };
            if ctx.cancelled || ctx.finished {
                return self.finish(ctx_id, now, out);
            }
            let Some(target) = ctx.targets.pop_front() else {
                return self.finish(ctx_id, now, out);
            };
            if let Some((query, zone)) = target.resolve.clone() {
                // the answer continues this context (`on_dns_answer`)
                ctx.targets.push_front(target);
                self.dns_queries.push(DnsQuery {
                    ctx: ctx_id,
                    target: query,
                    zone,
                });
                return;
            }
            match self.forward(ctx_id, target, now, out) {
                Ok(()) => return,
                Err((status, reason)) => self.record_best_local(ctx_id, status, &reason),
            }
        }
    }

    /// RFC 3261 16.6: copy, rewrite and send the request to one target.
    fn forward(
        &mut self,
        ctx_id: TxId,
        target: Target,
        now: Instant,
        out: &mut Vec<Outbound>,
    ) -> Result<(), (u16, String)> {
        let hop = target.hop.clone();
        if !self.identity.has_listener(hop.kind) && hop.kind == Transport::Udp {
            return Err((503, "Service Unavailable (UDP is disabled)".into()));
        }
        // down a link: Via names our end of it; E's Record-Route names the zone's port with
        // the flow parameter, C's names its listener (E never dials it)
        let link = hop.link.as_ref().and_then(|z| {
            let l = self.links.get(z)?;
            let server = self
                .links
                .server_zone_at(l.kind, l.local.port())
                .map(|sz| sz.name.clone());
            Some((z.clone(), l.local, server))
        });
        let local = match &link {
            Some((_, l, _)) => Some(*l),
            None => self.identity.local_addr_towards(hop.kind, hop.addr.ip()),
        }
        .ok_or_else(|| {
            (
                503,
                format!(
                    "Service Unavailable (no {} listener to send from)",
                    hop.kind.via_token()
                ),
            )
        })?;
        let ctx = self
            .ctxs
            .get(&ctx_id)
            .ok_or((500, "Server Internal Error".to_string()))?;
        let s = self
            .servers
            .get(&ctx.server)
            .ok_or((500, "Server Internal Error".to_string()))?;
        let msg = s
            .request
            .as_ref()
            .ok_or((500, "Server Internal Error".to_string()))?;
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
        if let Some(v) = msg.vias().first() {
            let src_ip = s.reply.remote.ip();
            let received = match &v.host {
                Host::V4(a) if std::net::IpAddr::V4(*a) == src_ip => None,
                Host::V6(a) if std::net::IpAddr::V6(*a) == src_ip => None,
                _ => Some(src_ip.to_string()),
            };
            let rport = v.rport().map(|_| s.reply.remote.port());
            if received.is_some() || rport.is_some() {
                rw.set_top_via_params(received.as_deref(), rport);
            }
        }
        if ctx.record_route {
            let in_zone = self
                .links
                .server_zone_at(s.reply.kind, s.reply.local.port())
                .map(|z| z.name.clone());
            let in_local = if self
                .identity
                .is_listener_port(s.reply.kind, s.reply.local.port())
            {
                s.reply.local
            } else {
                // a connection we opened (C's link): name our listener, not its source port
                self.identity
                    .local_addr_towards(s.reply.kind, s.reply.remote.ip())
                    .unwrap_or(s.reply.local)
            };
            let inbound = link_record_route(s.reply.kind, in_local, in_zone.as_deref());
            let outbound = match &link {
                Some((zone, l, Some(_))) => link_record_route(hop.kind, *l, Some(zone)),
                Some((_, l, None)) => {
                    let listener = self
                        .identity
                        .local_addr_towards(hop.kind, hop.addr.ip())
                        .unwrap_or(*l);
                    record_route_value(hop.kind, listener)
                }
                None => record_route_value(hop.kind, local),
            };
            if inbound != outbound {
                rw.push_record_route(&inbound);
            }
            rw.push_record_route(&outbound);
        }
        rw.push_via(&via_value(hop.kind, local, &branch));
        // media: the legs of this attempt; an SDP offer is rewritten to the relay. Only
        // INVITEs (offers) and BYEs (the end of a call) concern it: other requests skip this.
        let mut anchored = None;
        let is_bye = msg.method() == Some(&Method::Bye);
        if let Some(media) = self.media.as_mut().filter(|_| ctx.invite || is_bye) {
            let call_id = msg.call_id().unwrap_or("").to_string();
            let caller_link = if self
                .links
                .server_zone_at(s.reply.kind, s.reply.local.port())
                .is_some()
            {
                Some(LinkEnd::Server)
            } else if self
                .links
                .source_zone(s.reply.kind, s.reply.local.port(), s.reply.conn)
                .is_some()
            {
                Some(LinkEnd::Client)
            } else {
                None
            };
            let legs = Legs {
                caller: Leg {
                    link: caller_link,
                    local: s.reply.local,
                    remote: s.reply.remote,
                },
                callee: Leg {
                    link: match &link {
                        Some((_, _, Some(_))) => Some(LinkEnd::Server),
                        Some((_, _, None)) => Some(LinkEnd::Client),
                        None => None,
                    },
                    local,
                    remote: hop.addr,
                },
            };
            if is_bye {
                media.end(&call_id);
                self.teardowns.remove(&call_id);
            } else if ctx.invite && media.wants(&legs) {
                // initial INVITEs and re-INVITEs: the relay tells a re-offer's direction from
                // the legs it stored for the call
                if is_sdp(msg) {
                    match media.sdp(&call_id, anchor::From::Caller, &legs, msg.body(), now) {
                        Ok(Some(body)) => {
                            rw.set_body(body, None);
                        }
                        Ok(None) => {}
                        Err(r) => {
                            media.end(&call_id);
                            return Err((r.status, r.reason));
                        }
                    }
                }
                let initial = msg.to().and_then(|t| t.tag()).is_none();
                anchored = Some((call_id, legs, initial));
            }
        }
        let bytes = rw.finish();
        let invite = ctx.invite;
        debug!(to = %hop.addr, transport = hop.kind.via_token(), "request forwarded");
        let id = self.start_client(invite, bytes, hop, branch, Some(ctx_id), false, now, out);
        self.stats.forwarded_requests += 1;
        if invite {
            self.arm(Some(now + self.settings.timers.timer_c), Timer::TimerC(id));
        }
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            ctx.active = Some(id);
            if anchored.is_some() {
                ctx.anchored = anchored;
            }
        }
        Ok(())
    }

    /// RFC 3261 16.11: an ACK for a 2xx passes through statelessly along its Route.
    fn forward_ack(&mut self, msg: Message, reply: &Reply, out: &mut Vec<Outbound>) {
        let mut pop = 0;
        let mut next: Option<&NameAddr> = None;
        let mut via_link: Option<String> = None;
        for r in msg.routes() {
            let ours = match &r.uri {
                Uri::Sip(u) => self.identity.is_our_address(&u.host, u.port, u.secure),
                _ => false,
            };
            if ours && next.is_none() {
                via_link = link_of_route(&r.uri);
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
        if next.is_none() && self.identity.is_our_address(&u.host, u.port, u.secure) {
            return; // an ACK for a response we generated: nothing to forward
        }
        let (hop, local) = match via_link
            .as_deref()
            .and_then(|z| Some((self.link_hop(z)?, z)))
        {
            Some((hop, z)) => match self.links.get(z) {
                Some(l) => (hop, l.local),
                None => return,
            },
            None => {
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
        if let Some(v) = msg.vias().first() {
            if v.rport().is_some() {
                rw.set_top_via_params(
                    Some(&reply.remote.ip().to_string()),
                    Some(reply.remote.port()),
                );
            }
        }
        rw.push_via(&via_value(hop.kind, local, &branch));
        self.stats.forwarded_requests += 1;
        out.push(Outbound {
            kind: hop.kind,
            dest: hop.addr,
            data: rw.finish(),
            conn: hop.conn,
            server_name: hop.server_name,
            token: 0,
            reuse_only: hop.link.is_some(),
            client_tls: None,
        });
    }

    /// RFC 3261 16.10 and 9.2: CANCEL of a pending INVITE.
    fn on_cancel(&mut self, msg: Message, reply: Reply, now: Instant, out: &mut Vec<Outbound>) {
        let invite_key = server_key_for(&msg, "INVITE");
        let cancel_key = server_key(&msg);
        let Some(&invite_id) = self.server_index.get(&invite_key) else {
            let mut b = msg.response(481, "Call/Transaction Does Not Exist");
            b.to_tag(&self.tag());
            let bytes = b.finish();
            return send_reply(&reply, bytes, out);
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
        ctx.targets.clear();
        match ctx.active {
            Some(client) => self.cancel_branch(client, now, out),
            None => self.finish(ctx_id, now, out),
        }
    }

    /// Send CANCEL on a client INVITE branch, or remember to once it has a provisional (9.1).
    fn cancel_branch(&mut self, client: TxId, now: Instant, out: &mut Vec<Outbound>) {
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
    fn start_client(
        &mut self,
        invite: bool,
        bytes: Bytes,
        hop: NextHop,
        branch: String,
        ctx: Option<TxId>,
        is_cancel: bool,
        now: Instant,
        out: &mut Vec<Outbound>,
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
        out.push(Outbound {
            kind: hop.kind,
            dest: hop.addr,
            data: bytes,
            conn: hop.conn,
            server_name: hop.server_name.clone(),
            token,
            reuse_only: hop.link.is_some(),
            client_tls: None,
        });
        if token != 0 {
            self.tokens.insert(token, id);
        }
        let at = machine.poll_timeout();
        self.client_index.insert((branch.clone(), is_cancel), id);
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
        self.arm(at, Timer::Client(id));
        id
    }

    // ---------------------------------------------------------------- responses

    fn on_response(&mut self, msg: Message, now: Instant, out: &mut Vec<Outbound>) {
        if let Err(d) = check_response(&msg) {
            self.stats.dropped_responses += 1;
            debug!(reason = %d.reason, "response dropped");
            return;
        }
        let Some(branch) = msg
            .vias()
            .first()
            .and_then(|v| v.branch())
            .map(str::to_string)
        else {
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
        let Some(&id) = self.client_index.get(&(branch, is_cancel)) else {
            return self.forward_stateless_response(msg, out);
        };
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
            let hop = c.hop.clone();
            out.push(Outbound {
                kind: hop.kind,
                dest: hop.addr,
                data: b,
                conn: hop.conn,
                server_name: hop.server_name,
                token: 0,
                reuse_only: hop.link.is_some(),
                client_tls: None,
            });
        }
        if status >= 200 {
            // the ACK for a non-2xx is kept by the machine; nothing else needs the request
            c.sent = None;
        }
        let at = c.machine.poll_timeout();
        let ctx = c.ctx;
        if (101..200).contains(&status) {
            c.provisional = true;
        }
        let cancel_now = c.provisional && c.cancel_wanted && !c.cancel_sent;
        self.arm(at, Timer::Client(id));
        if cancel_now {
            self.cancel_branch(id, now, out);
        }
        if deliver {
            if let Some(ctx) = ctx {
                self.branch_response(ctx, id, msg, status, now, out);
            }
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
        out: &mut Vec<Outbound>,
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
            if status == 100 {
                return; // 16.7 step 5: 100 is hop-by-hop
            }
            if ctx.finished {
                return;
            }
            let bytes = forwarded(&msg);
            self.stats.forwarded_responses += 1;
            return self.server_send(server, status, bytes, now, out);
        }
        if status < 300 {
            if let Some((call_id, _, true)) = &ctx.anchored {
                let call_id = call_id.clone();
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
            ctx.targets.clear();
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
        if timer_c {
            self.record_best_local(ctx_id, 408, "Request Timeout (no final answer in time)");
        } else {
            self.record_best(ctx_id, status, msg.rewrite().pop_via().finish());
        }
        if status >= 600 {
            if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
                ctx.targets.clear();
            }
        }
        self.next_target(ctx_id, now, out);
    }

    fn record_best(&mut self, ctx_id: TxId, status: u16, bytes: Bytes) {
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            if better(status, ctx.best.as_ref().map(|(s, _)| *s)) {
                ctx.best = Some((status, bytes));
            }
        }
    }

    fn record_best_local(&mut self, ctx_id: TxId, status: u16, reason: &str) {
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
        b.to_tag(&s.to_tag);
        b.header("Server", SERVER);
        let bytes = b.finish();
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            ctx.best = Some((status, bytes));
        }
    }

    /// A branch died without a final response (timeout, transport failure).
    fn branch_failed(
        &mut self,
        ctx_id: TxId,
        status: u16,
        reason: &str,
        now: Instant,
        out: &mut Vec<Outbound>,
    ) {
        if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
            ctx.active = None;
        }
        self.record_best_local(ctx_id, status, reason);
        self.next_target(ctx_id, now, out);
    }

    /// No target left (or cancelled): send the best response upstream (16.7 step 6).
    fn finish(&mut self, ctx_id: TxId, now: Instant, out: &mut Vec<Outbound>) {
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
        if let (Some((call_id, _, true)), Some(media)) = (ctx.anchored.take(), self.media.as_mut())
        {
            // no 2xx to the initial INVITE: the call never started, its relay ports go back
            media.end(&call_id);
        }
        let cancelled = ctx.cancelled;
        let local_zone = ctx.local_zone;
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
                self.respond(
                    server,
                    500,
                    "Server Internal Error (next hop unavailable)",
                    &[],
                    now,
                    out,
                )
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
    fn forward_stateless_response(&mut self, msg: Message, out: &mut Vec<Outbound>) {
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
        let Some(ip) = ip else {
            self.stats.dropped_responses += 1;
            return;
        };
        if check_unicast(ip).is_err() {
            self.stats.dropped_responses += 1;
            return;
        }
        let port = next
            .rport()
            .flatten()
            .or(next.port)
            .unwrap_or(kind.default_port());
        self.stats.forwarded_responses += 1;
        out.push(Outbound {
            kind,
            dest: SocketAddr::new(ip, port),
            data: msg.rewrite().pop_via().finish(),
            conn: None,
            server_name: None,
            token: 0,
            reuse_only: false,
            client_tls: None,
        });
    }

    // ---------------------------------------------------------------- timers

    fn server_timer(&mut self, id: TxId, now: Instant, out: &mut Vec<Outbound>) {
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        if s.machine.poll_timeout().is_some_and(|t| t > now) {
            return; // a stale entry: the machine re-armed later
        }
        if let Some(bytes) = s.machine.on_timeout(now) {
            let r = s.reply.clone();
            send_reply(&r, bytes, out);
        }
        let at = s.machine.poll_timeout();
        self.arm(at, Timer::Server(id));
        self.reap_server(id);
    }

    fn client_timer(&mut self, id: TxId, now: Instant, out: &mut Vec<Outbound>) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.machine.poll_timeout().is_some_and(|t| t > now) {
            return;
        }
        match c.machine.on_timeout(now) {
            ClientTimeout::Retransmit(bytes) => {
                let hop = c.hop.clone();
                out.push(Outbound {
                    kind: hop.kind,
                    dest: hop.addr,
                    data: bytes,
                    conn: hop.conn,
                    server_name: hop.server_name,
                    token: 0,
                    reuse_only: hop.link.is_some(),
                    client_tls: None,
                });
            }
            ClientTimeout::TimedOut => {
                let ctx = c.ctx;
                let dest = c.hop.addr;
                let is_cancel = c.is_cancel;
                self.remove_client(id);
                if let (Some(ctx), false) = (ctx, is_cancel) {
                    let reason = format!("Request Timeout (no answer from {dest})");
                    self.branch_failed(ctx, 408, &reason, now, out);
                }
                return;
            }
            ClientTimeout::Nothing => {}
        }
        let at = self.clients.get(&id).and_then(|c| c.machine.poll_timeout());
        self.arm(at, Timer::Client(id));
        self.reap_client(id);
    }

    /// RFC 3261 16.8: timer C fired on an INVITE branch.
    fn timer_c(&mut self, id: TxId, now: Instant, out: &mut Vec<Outbound>) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.machine.is_terminated() || c.timer_c_fired {
            return;
        }
        c.timer_c_fired = true;
        if c.provisional {
            self.cancel_branch(id, now, out);
        } else {
            let ctx = c.ctx;
            self.remove_client(id);
            if let Some(ctx) = ctx {
                self.branch_failed(ctx, 408, "Request Timeout (timer C)", now, out);
            }
        }
    }

    // ---------------------------------------------------------------- cleanup

    fn remove_client(&mut self, id: TxId) {
        if let Some(c) = self.clients.remove(&id) {
            self.tokens.remove(&c.token);
            self.client_index.remove(&(c.branch, c.is_cancel));
            if let Some(ctx_id) = c.ctx {
                if let Some(ctx) = self.ctxs.get_mut(&ctx_id) {
                    if ctx.active == Some(id) {
                        ctx.active = None;
                    }
                }
                self.reap_ctx(ctx_id);
            }
        }
    }

    fn reap_client(&mut self, id: TxId) {
        if self
            .clients
            .get(&id)
            .is_some_and(|c| c.machine.is_terminated())
        {
            self.remove_client(id);
        }
    }

    fn reap_server(&mut self, id: TxId) {
        if self
            .servers
            .get(&id)
            .is_some_and(|s| s.machine.is_terminated())
        {
            if let Some(s) = self.servers.remove(&id) {
                self.server_index.remove(&s.key);
                if let Some(ctx) = s.ctx {
                    self.reap_ctx(ctx);
                }
            }
        }
    }

    /// A context goes once it has answered upstream and its branch is gone, or its server
    /// transaction is gone.
    fn reap_ctx(&mut self, ctx_id: TxId) {
        let Some(ctx) = self.ctxs.get(&ctx_id) else {
            return;
        };
        let server_gone = !self.servers.contains_key(&ctx.server);
        let branch_gone = ctx.active.is_none_or(|c| !self.clients.contains_key(&c));
        if (ctx.finished && branch_gone) || server_gone {
            if let Some(ctx) = self.ctxs.remove(&ctx_id) {
                if let Some(c) = ctx.active.and_then(|c| self.clients.get_mut(&c)) {
                    c.ctx = None;
                }
            }
        }
    }
}

fn send_reply(reply: &Reply, data: Bytes, out: &mut Vec<Outbound>) {
    out.push(Outbound {
        kind: reply.kind,
        dest: reply.remote,
        data,
        conn: reply.conn,
        server_name: None,
        token: 0,
        reuse_only: false,
        client_tls: None,
    });
}

/// Whether `bytes` is a response we generated ourselves (it carries our Server header).
fn is_local_response(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"\r\nServer: causeway/").is_some()
}

/// RFC 3261 17.2.3 server transaction key (branch, sent-by, method; ACK matches INVITE), or the
/// RFC 2543 fallback when the branch lacks the magic cookie.
fn server_key(msg: &Message) -> String {
    let method = match msg.method() {
        Some(Method::Ack) => "INVITE",
        Some(m) => m.as_str(),
        None => "",
    };
    server_key_for(msg, method)
}

fn server_key_for(msg: &Message, method: &str) -> String {
    let Some(via) = msg.vias().first() else {
        return String::new();
    };
    let sent_by = match via.port {
        Some(p) => format!("{}:{p}", via.host),
        None => via.host.to_string(),
    };
    match via.branch() {
        Some(b) if b.starts_with("z9hG4bK") && b.len() > 7 => {
            format!("{b}\u{0}{sent_by}\u{0}{method}")
        }
        _ => format!(
            "2543\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{sent_by}\u{0}{method}",
            msg.request_uri_str().unwrap_or(""),
            msg.from().and_then(|f| f.tag()).unwrap_or(""),
            if method == "INVITE" {
                ""
            } else {
                msg.to().and_then(|t| t.tag()).unwrap_or("")
            },
            msg.call_id().unwrap_or(""),
            msg.cseq().map(|(n, _)| n).unwrap_or(0),
        ),
    }
}

/// Our Record-Route value, with the flow parameter when it faces traversal server zone `zone`.
fn link_record_route(kind: Transport, local: SocketAddr, zone: Option<&str>) -> String {
    let v = record_route_value(kind, local);
    match zone {
        Some(z) => format!("{};{LINK_PARAM}={z}>", v.trim_end_matches('>')),
        None => v,
    }
}

fn is_sdp(msg: &Message) -> bool {
    !msg.body().is_empty()
        && msg
            .header("Content-Type")
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp"))
}

/// A target whose hop RFC 3263 must find first.
fn dns_target(u: &crate::message::SipUri, zone: Option<String>, ruri: Option<String>) -> Target {
    let host = match &u.host {
        Host::Domain(d) => d.to_string(),
        Host::V4(a) => a.to_string(),
        Host::V6(a) => a.to_string(),
    };
    let transport = u.transport().and_then(Transport::from_token);
    Target {
        ruri,
        hop: NextHop {
            kind: Transport::Udp,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            conn: None,
            server_name: None,
            link: None,
        },
        path: Vec::new(),
        hop_cap: None,
        resolve: Some((
            SipTarget {
                host,
                port: u.port,
                transport,
                secure: u.secure,
            },
            zone,
        )),
    }
}

/// The Request-URI for an alias a search rule rewrote.
fn alias_uri(a: &Alias) -> String {
    format!("sip:{a}")
}

fn host_string(h: &Host) -> String {
    match h {
        Host::Domain(d) => d.to_ascii_lowercase().into(),
        other => other.to_string(),
    }
}

/// A Route/Path value re-serialised from its parts.
fn name_addr_string(n: &NameAddr) -> String {
    let mut s = format!("<{}>", n.uri);
    for (k, v) in n.params.iter() {
        s.push(';');
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}
