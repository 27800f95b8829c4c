//! The traversal client link of C (one per `traversal-client` zone), sans-IO: C opens the
//! connection outward to E's zone port, registers with SIP digest (RFC 7616 through E's
//! challenge), keeps the flow alive with RFC 5626 CRLF keep-alives and periodic refreshes,
//! and after a failure reconnects with back-off (first retry fast, doubling up to the
//! configured maximum).
//!
//! It owns only the link's state and timers; requests that travel over the link are the proxy
//! core's. Inputs: `handle` (a response to its REGISTER, a closed connection, a failed send)
//! and `handle_timeout`, each with `now`; outputs: messages to send and `Event`s for the core's
//! link table. Wall time (for status) comes from the node's `WallClock`, randomness (Call-ID,
//! tags, branches, cnonces) from the generator it was made with.

use bytes::Bytes;
use causeway_config::Transport;
use causeway_sip::auth;
use causeway_sip::proxy::{
    link_name, ConnId, LinkResponse, Transmit, WallClock, LINK_BRANCH_PREFIX,
};
use rand::rngs::StdRng;
use rand::RngCore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long a REGISTER may go unanswered before the attempt counts as failed (64*T1).
const REGISTER_TIMEOUT: Duration = Duration::from_secs(32);

#[derive(Clone)]
pub struct LinkConfig {
    pub zone: String,
    /// Which of the zone's peers (`None` for a zone's only one): the link's name is
    /// `zone~key` ([`link_name`]).
    pub key: Option<String>,
    /// E's address and the name it was configured by (TLS server name, URIs).
    pub peer: SocketAddr,
    pub peer_host: String,
    /// The peer was configured by this DNS name: it is looked up before every connection
    /// attempt (E may have moved, and a name that does not resolve yet only keeps this link
    /// down, never the node); `peer` then holds the port, and the address last found.
    pub resolve: Option<String>,
    pub kind: Transport,
    pub username: String,
    pub password: String,
    pub expires: u32,
    pub keepalive: Duration,
    pub retry_first: Duration,
    pub retry_max: Duration,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Our system name, for Via and Contact of the REGISTER.
    pub system_name: String,
}

impl LinkConfig {
    /// The link's name in the core's link table.
    pub fn name(&self) -> String {
        link_name(&self.zone, self.key.as_deref())
    }
}

/// What reaches a link client.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A response to one of its REGISTERs.
    Response(&'a LinkResponse),
    /// A connection closed.
    Closed { conn: ConnId, remote: SocketAddr },
    /// The transport could not send its REGISTER.
    SendFailed { error: &'a str },
    /// The answer to `Event::Lookup` with this token: E's addresses, best first.
    Resolved {
        token: u64,
        answer: Result<&'a [SocketAddr], &'a str>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Up {
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
    },
    Down {
        reason: String,
    },
    /// Look up the peer's name (`LinkConfig::resolve`) and answer with `Input::Resolved`.
    Lookup {
        token: u64,
        host: String,
        port: u16,
    },
}

#[derive(Clone, Debug)]
enum State {
    /// Waiting to (re)connect at `at`.
    Idle { at: Instant },
    /// E's name is being looked up, answered by `deadline` or the attempt fails.
    Resolving { deadline: Instant },
    /// A REGISTER is out (first one, or with credentials after a challenge).
    Registering { deadline: Instant },
    Up {
        conn: ConnId,
        refresh_at: Instant,
        ping_at: Instant,
        /// a refresh REGISTER is out, due by then
        pending: Option<Instant>,
    },
}

/// What the status page shows of a link.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LinkStatus {
    pub zone: String,
    pub peer: String,
    pub transport: String,
    pub state: String,
    /// Unix seconds since when the link has been in this state.
    pub since: u64,
    /// Unix seconds of the last keep-alive sent, if any.
    pub last_keepalive: Option<u64>,
    pub last_error: Option<String>,
    /// Reconnect attempts since the link was last up.
    pub attempts: u32,
    /// Times the link came up since start (the first included).
    pub ups: u64,
}

pub struct LinkClient {
    cfg: LinkConfig,
    state: State,
    backoff: Duration,
    call_id: String,
    tag: String,
    /// RFC 5626 `+sip.instance` of the Contact: E names this client's link by it, apart from
    /// the links of the other peers of a C cluster.
    instance: String,
    cseq: u32,
    branch_n: u64,
    /// the challenge to answer on the next REGISTER, and whether it was already answered once
    challenge: Option<String>,
    answered: bool,
    /// RFC 7616 nonce count: requests sent with the current challenge's nonce (E refuses a
    /// count it has seen, so refreshes count up instead of repeating 1)
    nc: u32,
    conn: Option<ConnId>,
    /// the send token of the last REGISTER, and the next one to use
    token: u64,
    next_token: u64,
    since: SystemTime,
    last_keepalive: Option<SystemTime>,
    last_error: Option<String>,
    attempts: u32,
    ups: u64,
    clock: WallClock,
    rng: StdRng,
}

impl LinkClient {
    /// A link that will connect at once (`now`). Its send tokens are `tokens + 1`, `tokens +
    /// 2`, …: give each client of a node its own range, clear of the proxy core's (high bit).
    pub fn new(
        cfg: LinkConfig,
        now: Instant,
        clock: WallClock,
        mut rng: StdRng,
        tokens: u64,
    ) -> LinkClient {
        let r: u64 = rng.next_u64();
        LinkClient {
            call_id: format!("{r:016x}-link@{}", cfg.system_name),
            tag: format!("{:x}", r >> 16),
            instance: uuid(rng.next_u64(), rng.next_u64()),
            backoff: cfg.retry_first,
            cfg,
            state: State::Idle { at: now },
            cseq: 0,
            branch_n: 0,
            challenge: None,
            nc: 0,
            answered: false,
            conn: None,
            token: 0,
            next_token: tokens,
            since: clock.wall(now),
            last_keepalive: None,
            last_error: None,
            attempts: 0,
            ups: 0,
            clock,
            rng,
        }
    }

    pub fn zone(&self) -> &str {
        &self.cfg.zone
    }

    /// The link's name in the core's link table.
    pub fn name(&self) -> String {
        self.cfg.name()
    }

    pub fn kind(&self) -> Transport {
        self.cfg.kind
    }

    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Up { .. })
    }

    pub fn owns_token(&self, token: u64) -> bool {
        token != 0 && token == self.token
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Idle { at } => Some(*at),
            State::Resolving { deadline } | State::Registering { deadline } => Some(*deadline),
            State::Up {
                refresh_at,
                ping_at,
                pending,
                ..
            } => Some(match pending {
                Some(p) => (*p).min(*ping_at),
                None => (*refresh_at).min(*ping_at),
            }),
        }
    }

    /// "down", "connecting" or "up".
    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Idle { .. } => "down",
            State::Resolving { .. } | State::Registering { .. } => "connecting",
            State::Up { .. } => "up",
        }
    }

    pub fn status(&self) -> LinkStatus {
        let unix = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        };
        LinkStatus {
            zone: self.cfg.zone.clone(),
            peer: self.peer_text(),
            transport: self.cfg.kind.via_token().to_string(),
            state: self.state_name().to_string(),
            since: unix(self.since),
            last_keepalive: self.last_keepalive.map(unix),
            last_error: self.last_error.clone(),
            attempts: self.attempts,
            ups: self.ups,
        }
    }

    pub fn handle(
        &mut self,
        input: Input<'_>,
        now: Instant,
        out: &mut Vec<Transmit>,
    ) -> Option<Event> {
        match input {
            Input::Response(r) => self.on_response(r, now, out),
            Input::Closed { conn, remote } => self.on_closed(conn, remote, now),
            Input::SendFailed { error } => self.fail(format!("cannot reach E: {error}"), now),
            Input::Resolved { token, answer } => self.on_resolved(token, answer, now, out),
        }
    }

    /// E's address, or its name and port while the name has not been found.
    fn peer_text(&self) -> String {
        match &self.cfg.resolve {
            Some(host) if self.cfg.peer.ip().is_unspecified() => {
                format!("{}:{}", uri_host(host), self.cfg.peer.port())
            }
            _ => self.cfg.peer.to_string(),
        }
    }

    /// A new attempt: the name looked up first when the peer has one, else the REGISTER.
    fn attempt(&mut self, now: Instant, out: &mut Vec<Transmit>) -> Option<Event> {
        self.attempts += 1;
        self.challenge = None;
        self.answered = false;
        self.conn = None;
        let Some(host) = self.cfg.resolve.clone() else {
            self.register(now, out);
            return None;
        };
        self.next_token = self.next_token.wrapping_add(1);
        self.token = self.next_token;
        self.state = State::Resolving {
            deadline: now + REGISTER_TIMEOUT,
        };
        Some(Event::Lookup {
            token: self.token,
            host,
            port: self.cfg.peer.port(),
        })
    }

    fn register(&mut self, now: Instant, out: &mut Vec<Transmit>) {
        self.send_register(out);
        self.state = State::Registering {
            deadline: now + REGISTER_TIMEOUT,
        };
    }

    fn on_resolved(
        &mut self,
        token: u64,
        answer: Result<&[SocketAddr], &str>,
        now: Instant,
        out: &mut Vec<Transmit>,
    ) -> Option<Event> {
        if token != self.token || !matches!(self.state, State::Resolving { .. }) {
            return None; // a late answer to an attempt that already failed
        }
        let host = self.cfg.resolve.clone().unwrap_or_default();
        // RFC 3263 4.3 tries the addresses in turn: each attempt takes the next one, so a
        // name with an address E does not listen on (localhost's ::1, say) still gets there
        // (an unspecified address, a sinkholed name's, would connect to this host)
        let pick = |a: &[SocketAddr]| {
            let a: Vec<SocketAddr> = a
                .iter()
                .filter(|a| !a.ip().is_unspecified())
                .copied()
                .collect();
            let n = a.len().max(1);
            a.get((self.attempts as usize).saturating_sub(1) % n)
                .copied()
        };
        match answer.map(pick) {
            Ok(Some(addr)) => {
                self.cfg.peer = SocketAddr::new(addr.ip(), self.cfg.peer.port());
                self.register(now, out);
                None
            }
            Ok(None) => self.fail(format!("E's name `{host}` has no address"), now),
            Err(e) => self.fail(format!("E's name `{host}` does not resolve: {e}"), now),
        }
    }

    /// Runs what is due: connecting, keep-alives, refreshes, the deadline of an unanswered
    /// REGISTER.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Transmit>) -> Option<Event> {
        let wall = self.clock.wall(now);
        match self.state.clone() {
            State::Idle { at } if at <= now => self.attempt(now, out),
            State::Resolving { deadline } if deadline <= now => {
                let host = self.cfg.resolve.clone().unwrap_or_default();
                self.fail(format!("no answer looking up E's name `{host}`"), now)
            }
            State::Registering { deadline } if deadline <= now => {
                self.fail("E did not answer the REGISTER".into(), now)
            }
            State::Up {
                conn,
                refresh_at,
                ping_at,
                pending,
            } => {
                if pending.is_some_and(|p| p <= now) {
                    return self.fail("E did not answer the refresh".into(), now);
                }
                let mut next_ping = ping_at;
                if ping_at <= now {
                    // RFC 5626 4.4.1: a double CRLF; E answers with one
                    out.push(self.outbound(Bytes::from_static(b"\r\n\r\n"), Some(conn), 0));
                    self.last_keepalive = Some(wall);
                    next_ping = now + self.cfg.keepalive;
                }
                let mut pending = pending;
                let mut refresh = refresh_at;
                if pending.is_none() && refresh_at <= now {
                    self.answered = false;
                    self.send_register(out);
                    pending = Some(now + REGISTER_TIMEOUT);
                    refresh = now + Duration::from_secs(u64::from(self.cfg.expires) / 2);
                }
                self.state = State::Up {
                    conn,
                    refresh_at: refresh,
                    ping_at: next_ping,
                    pending,
                };
                None
            }
            _ => None,
        }
    }

    /// A response to one of our REGISTERs.
    fn on_response(
        &mut self,
        r: &LinkResponse,
        now: Instant,
        out: &mut Vec<Transmit>,
    ) -> Option<Event> {
        if !matches!(self.state, State::Registering { .. } | State::Up { .. }) {
            return None; // a late answer to an attempt that already failed
        }
        let wall = self.clock.wall(now);
        let (msg, conn, local, remote) = (&r.msg, r.conn, r.local, r.remote);
        if msg.call_id() != Some(self.call_id.as_str()) {
            return None;
        }
        if msg.cseq().map(|(n, _)| n) != Some(self.cseq) {
            return None; // a late answer to an earlier REGISTER
        }
        let status = msg.status().unwrap_or(500);
        if status < 200 {
            return None;
        }
        if conn.is_some() {
            self.conn = conn;
        }
        match status {
            200..=299 => {
                let expires = msg
                    .expires()
                    .unwrap_or(self.cfg.expires)
                    .clamp(10, self.cfg.expires.max(10));
                let refresh_at = now + Duration::from_secs(u64::from(expires) / 2);
                let was_up = self.is_up();
                let Some(conn) = self.conn else {
                    return self.fail("E answered on no connection".into(), now);
                };
                self.state = State::Up {
                    conn,
                    refresh_at,
                    ping_at: now + self.cfg.keepalive,
                    pending: None,
                };
                self.backoff = self.cfg.retry_first;
                self.last_error = None;
                if was_up {
                    return None;
                }
                self.since = wall;
                self.attempts = 0;
                self.ups += 1;
                Some(Event::Up {
                    conn,
                    local,
                    remote,
                })
            }
            401 | 407 if !self.answered => {
                let name = if status == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                let Some(c) = msg.header(name) else {
                    return self.fail(format!("{status} without a challenge"), now);
                };
                self.challenge = Some(c.to_string());
                self.nc = 0;
                self.answered = true;
                self.send_register(out);
                None
            }
            _ => {
                let reason = msg.reason().unwrap_or("").to_string();
                self.fail(format!("E refused the link: {status} {reason}"), now)
            }
        }
    }

    /// A connection closed. Before E's first answer the client does not know its connection
    /// yet: a close of a connection to E's address then ends the attempt too.
    fn on_closed(&mut self, conn: ConnId, remote: SocketAddr, now: Instant) -> Option<Event> {
        let attempt_died = self.conn.is_none()
            && remote == self.cfg.peer
            && matches!(self.state, State::Registering { .. });
        if self.conn != Some(conn) && !attempt_died {
            return None;
        }
        self.fail("the connection to E closed".into(), now)
    }

    fn fail(&mut self, reason: String, now: Instant) -> Option<Event> {
        let wall = self.clock.wall(now);
        let was_up = self.is_up();
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(self.cfg.retry_max);
        self.state = State::Idle { at: now + delay };
        self.conn = None;
        if was_up {
            self.since = wall;
        }
        let peer = self.peer_text();
        tracing::warn!(zone = %self.cfg.zone, %peer, %reason, retry_in = ?delay, "traversal link down");
        self.last_error = Some(reason.clone());
        was_up.then_some(Event::Down { reason })
    }

    fn send_register(&mut self, out: &mut Vec<Transmit>) {
        self.cseq += 1;
        self.branch_n += 1;
        self.next_token = self.next_token.wrapping_add(1);
        self.token = self.next_token;
        let token = self.token;
        let branch_salt = self.rng.next_u32();
        let cnonce = format!("{:016x}", self.rng.next_u64());
        let c = &self.cfg;
        let t = c.kind.param();
        let host = uri_host(&c.peer_host);
        let ruri = format!("sip:{host}:{};transport={t}", c.peer.port());
        let mut m = format!(
            "REGISTER {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/{} {}.invalid;branch={LINK_BRANCH_PREFIX}{:x}{};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{}@{host}>;tag={}\r\n\
             To: <sip:{}@{host}>\r\n\
             Call-ID: {}\r\n\
             CSeq: {} REGISTER\r\n\
             Contact: <sip:{}@{}.invalid;transport={t};ob>;+sip.instance=\"<urn:uuid:{}>\";reg-id=1\r\n\
             Expires: {}\r\n\
             Supported: outbound, path\r\n\
             User-Agent: causeway/{}\r\n",
            c.kind.via_token(),
            c.system_name,
            self.branch_n,
            branch_salt,
            c.username,
            self.tag,
            c.username,
            self.call_id,
            self.cseq,
            c.username,
            c.system_name,
            self.instance,
            c.expires,
            env!("CARGO_PKG_VERSION"),
        );
        if self.challenge.is_some() {
            self.nc = self.nc.wrapping_add(1).max(1);
        }
        let c = &self.cfg;
        if let Some(ch) = &self.challenge {
            match auth::respond(
                ch,
                "REGISTER",
                &ruri,
                &c.username,
                &c.password,
                &cnonce,
                self.nc,
            ) {
                Ok(a) => m.push_str(&format!("Authorization: {a}\r\n")),
                Err(e) => tracing::warn!(zone = %c.zone, error = %e, "cannot answer E's challenge"),
            }
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        let conn = self.conn;
        out.push(self.outbound(Bytes::from(m), conn, token));
    }

    fn outbound(&self, data: Bytes, conn: Option<ConnId>, token: u64) -> Transmit {
        Transmit {
            kind: self.cfg.kind,
            dest: self.cfg.peer,
            data,
            conn,
            server_name: Some(self.cfg.peer_host.clone()),
            token,
            // a new connection only for a fresh attempt; keep-alives and refreshes use the link
            reuse_only: conn.is_some(),
            client_tls: self.cfg.tls.clone(),
            local: None,
        }
    }
}

/// A random (version 4) UUID from two random words (RFC 4122 4.4).
fn uuid(a: u64, b: u64) -> String {
    let a = (a & !0xf000) | 0x4000;
    let b = (b & !(0xc << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// A host for a SIP URI: IPv6 literals in brackets.
fn uri_host(h: &str) -> String {
    if h.contains(':') && !h.starts_with('[') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

#[cfg(test)]
mod tests;
