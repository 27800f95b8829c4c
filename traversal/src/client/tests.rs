//! Sans-IO tests of C's traversal client link (`client::LinkClient`): REGISTERs in, responses
//! and a fake clock out. E is played by hand here: its answers are raw SIP text built from the
//! REGISTER the client sent, and its digest check is the real `DigestServer`, so a challenge
//! answer that passes here passes on E. No sockets, no sleeps: time only moves when a test
//! moves it.

use crate::client::{Event, Input, LinkClient, LinkConfig};
use bytes::Bytes;
use causeway_config::Transport;
use causeway_sip::auth::{Algorithm, DigestServer};
use causeway_sip::message::Message;
use causeway_sip::proxy::{ConnId, LinkResponse, Transmit, WallClock};
use causeway_sip::transport::client_config;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// E's traversal server zone port, as C dials it.
const E_ZONE: &str = "127.0.0.1:7001";
/// C's end of the link connection.
const C_LOCAL: &str = "127.0.0.1:40001";
const LINK: ConnId = ConnId(5);
const REALM: &str = "edge.example.net";
const USER: &str = "control-1";
const PASSWORD: &str = "secret";

const KEEPALIVE: Duration = Duration::from_secs(25);
const EXPIRES: u32 = 120;
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// 64*T1: how long a REGISTER may go unanswered.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(32);

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn config() -> LinkConfig {
    LinkConfig {
        key: None,
        zone: "to-edge".into(),
        peer: addr(E_ZONE),
        resolve: None,
        peer_host: "127.0.0.1".into(),
        kind: Transport::Tls,
        username: USER.into(),
        password: PASSWORD.into(),
        expires: EXPIRES,
        keepalive: KEEPALIVE,
        retry_first: RETRY_FIRST,
        retry_max: RETRY_MAX,
        tls: Some(client_config(None, false, None).expect("permissive client config")),
        system_name: "control".into(),
    }
}

fn digest_server() -> DigestServer {
    DigestServer::new(
        REALM,
        &[Algorithm::Sha256, Algorithm::Md5],
        [7; 32],
        Duration::from_secs(300),
    )
}

/// One client and the fake clock it runs on (monotonic and wall time move together).
struct Fixture {
    client: LinkClient,
    tls: Option<Arc<rustls::ClientConfig>>,
    start: Instant,
    now: Instant,
    wall: SystemTime,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(config())
    }

    fn with(cfg: LinkConfig) -> Fixture {
        let now = Instant::now();
        let wall = SystemTime::now();
        let clock = WallClock::at(now, wall);
        Fixture {
            tls: cfg.tls.clone(),
            client: LinkClient::new(cfg, now, clock, StdRng::seed_from_u64(5626), 1 << 63),
            start: now,
            now,
            wall,
        }
    }

    /// Fake time since the client was made.
    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn set_now(&mut self, t: Instant) {
        assert!(t >= self.now, "the fake clock only moves forward");
        self.wall += t - self.now;
        self.now = t;
    }

    /// Moves the clock to the client's next deadline and runs it, as the driver does.
    fn fire(&mut self) -> (Vec<Transmit>, Option<Event>) {
        let t = self
            .client
            .poll_timeout()
            .expect("a link always has a deadline");
        self.set_now(t);
        let mut out = Vec::new();
        let ev = self.client.handle_timeout(self.now, &mut out);
        (out, ev)
    }

    /// Feeds one of E's answers, arriving on `conn`.
    fn answer(&mut self, text: String, conn: ConnId) -> (Vec<Transmit>, Option<Event>) {
        let r = LinkResponse {
            msg: Message::parse(Bytes::from(text)).expect("the fake response parses"),
            conn: Some(conn),
            local: addr(C_LOCAL),
            remote: addr(E_ZONE),
        };
        let mut out = Vec::new();
        let ev = self.client.handle(Input::Response(&r), self.now, &mut out);
        (out, ev)
    }

    /// First REGISTER, E's 401, the answer with credentials, E's 200: the link is up.
    fn bring_up(&mut self) -> Transmit {
        let (out, _) = self.fire();
        let first = only_register(&out);
        let (out, ev) = self.answer(challenge_401(&first, &digest_server(), self.wall), LINK);
        assert_eq!(ev, None);
        let second = only_register(&out);
        let (out, ev) = self.answer(ok_200(&second, EXPIRES), LINK);
        assert!(out.is_empty(), "nothing to send on a 200");
        assert!(matches!(ev, Some(Event::Up { .. })), "{ev:?}");
        second
    }
}

fn parse(o: &Transmit) -> Message {
    Message::parse(o.data.clone()).expect("the client's message parses")
}

/// The one REGISTER in `out`.
fn only_register(out: &[Transmit]) -> Transmit {
    assert_eq!(out.len(), 1, "exactly one message: {out:?}");
    let m = parse(&out[0]);
    assert_eq!(
        m.method().map(|m| m.to_string()).as_deref(),
        Some("REGISTER")
    );
    out[0].clone()
}

fn cseq_of(o: &Transmit) -> u32 {
    parse(o).cseq().map(|(n, _)| n).expect("CSeq")
}

/// E's response to `req`: Via, From, Call-ID and CSeq copied, a To tag added, `extra` header
/// lines (each ending in CRLF) before Content-Length.
fn response(req: &Transmit, status: u16, reason: &str, extra: &str) -> String {
    let m = parse(req);
    let h = |n: &str| m.header(n).expect(n).to_string();
    format!(
        "SIP/2.0 {status} {reason}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=edge1\r\nCall-ID: {}\r\n\
         CSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        h("Via"),
        h("From"),
        h("To"),
        h("Call-ID"),
        h("CSeq"),
    )
}

/// E's 401 with one WWW-Authenticate per algorithm, SHA-256 first (as E sends it).
fn challenge_401(req: &Transmit, server: &DigestServer, wall: SystemTime) -> String {
    let extra: String = server
        .challenge(wall, false, 1)
        .into_iter()
        .map(|c| format!("WWW-Authenticate: {c}\r\n"))
        .collect();
    response(req, 401, "Unauthorized", &extra)
}

fn ok_200(req: &Transmit, expires: u32) -> String {
    response(req, 200, "OK", &format!("Expires: {expires}\r\n"))
}

fn is_keepalive(o: &Transmit) -> bool {
    &o.data[..] == b"\r\n\r\n"
}

#[test]
fn first_attempt_is_at_once_on_a_new_connection_with_the_zone_tls() {
    let mut f = Fixture::new();
    assert_eq!(
        f.client.poll_timeout(),
        Some(f.now),
        "no wait before the first attempt"
    );
    assert_eq!(f.client.status().state, "down");
    let (out, ev) = f.fire();
    assert_eq!(ev, None);
    assert_eq!(f.elapsed(), Duration::ZERO);
    let reg = only_register(&out);
    assert_eq!(reg.kind, Transport::Tls);
    assert_eq!(reg.dest, addr(E_ZONE));
    assert_eq!(reg.conn, None);
    assert!(!reg.reuse_only, "a fresh attempt opens the connection");
    assert_eq!(reg.server_name.as_deref(), Some("127.0.0.1"));
    let (Some(sent), Some(zone)) = (&reg.client_tls, &f.tls) else {
        panic!("the zone's TLS client configuration is not on the REGISTER");
    };
    assert!(Arc::ptr_eq(sent, zone), "the zone's own TLS configuration");
    assert!(
        f.client.owns_token(reg.token),
        "send failures come back to the link"
    );

    let m = parse(&reg);
    assert_eq!(
        m.request_uri_str(),
        Some("sip:127.0.0.1:7001;transport=tls")
    );
    assert_eq!(
        m.header("Authorization"),
        None,
        "no credentials before a challenge"
    );
    assert_eq!(m.expires(), Some(EXPIRES));
    assert!(
        m.header("Contact").expect("Contact").contains(";ob"),
        "RFC 5626 ob"
    );
    assert!(m.tokens("Supported").contains(&"outbound"));
    assert!(m.vias()[0]
        .branch()
        .is_some_and(|b| b.starts_with(causeway_sip::proxy::LINK_BRANCH_PREFIX)));

    let st = f.client.status();
    assert_eq!(st.state, "connecting");
    assert_eq!(st.attempts, 1);
    assert_eq!(
        f.client.poll_timeout(),
        Some(f.now + REGISTER_TIMEOUT),
        "the attempt times out at 64*T1"
    );
}

#[test]
fn rfc3261_22_2_challenge_is_answered_with_a_digest_e_verifies() {
    let mut f = Fixture::new();
    let mut server = digest_server();
    let (out, _) = f.fire();
    let first = only_register(&out);
    let (out, ev) = f.answer(challenge_401(&first, &server, f.wall), LINK);
    assert_eq!(ev, None, "a challenge is not a failure");
    let second = only_register(&out);
    assert_eq!(
        second.conn,
        Some(LINK),
        "the answer goes on the challenged connection"
    );
    assert!(second.reuse_only);
    assert_eq!(
        cseq_of(&second),
        cseq_of(&first) + 1,
        "RFC 3261 10.2.4 CSeq + 1"
    );

    let m = parse(&second);
    let first_m = parse(&first);
    assert_eq!(
        m.call_id(),
        first_m.call_id(),
        "one registration, one Call-ID"
    );
    let auth = m
        .header("Authorization")
        .expect("Authorization on the second REGISTER");
    assert!(
        auth.contains("algorithm=SHA-256"),
        "the preferred challenge: {auth}"
    );
    let ruri = m.request_uri_str().expect("Request-URI");
    assert!(
        auth.contains(&format!("uri=\"{ruri}\"")),
        "digest-uri is the Request-URI: {auth}"
    );
    let lookup = |u: &str| (u == USER).then(|| PASSWORD.to_string());
    let ok = server
        .verify(auth, "REGISTER", lookup, f.wall)
        .expect("E accepts the client's digest");
    assert_eq!(ok.username, USER);
    // and the check is not vacuous: another password does not verify
    let wrong = |u: &str| (u == USER).then(|| "not-the-password".to_string());
    assert!(server.verify(auth, "REGISTER", wrong, f.wall).is_err());
}

#[test]
fn second_challenge_after_answering_is_a_refusal() {
    let mut f = Fixture::new();
    let server = digest_server();
    let (out, _) = f.fire();
    let (out, _) = f.answer(challenge_401(&out[0], &server, f.wall), LINK);
    let second = only_register(&out);
    let (out, ev) = f.answer(challenge_401(&second, &server, f.wall), LINK);
    assert!(out.is_empty(), "the same credentials are not sent again");
    assert_eq!(ev, None, "the link was never up");
    let st = f.client.status();
    assert_eq!(st.state, "down");
    assert!(
        st.last_error.as_deref().unwrap_or("").contains("401"),
        "{st:?}"
    );
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
}

#[test]
fn ok_brings_the_link_up_on_the_connection_of_the_response() {
    let mut f = Fixture::new();
    let (out, _) = f.fire();
    let first = only_register(&out);
    f.set_now(f.now + Duration::from_millis(30));
    let (out, ev) = f.answer(challenge_401(&first, &digest_server(), f.wall), LINK);
    let second = only_register(&out);
    let (out, ev2) = f.answer(ok_200(&second, EXPIRES), LINK);
    assert_eq!(ev, None);
    assert!(out.is_empty());
    assert_eq!(
        ev2,
        Some(Event::Up {
            conn: LINK,
            local: addr(C_LOCAL),
            remote: addr(E_ZONE),
        })
    );
    assert!(f.client.is_up());
    let st = f.client.status();
    assert_eq!(st.state, "up");
    assert_eq!(st.attempts, 0, "attempts count since the link was last up");
    assert_eq!(st.last_error, None);
    assert_eq!(st.transport, "TLS");
    assert_eq!(st.peer, E_ZONE);
    let since = f
        .wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("wall clock after 1970")
        .as_secs();
    assert_eq!(st.since, since);
}

#[test]
fn responses_with_another_call_id_or_an_old_cseq_are_ignored() {
    let mut f = Fixture::new();
    let (out, _) = f.fire();
    let first = only_register(&out);
    let (out, _) = f.answer(challenge_401(&first, &digest_server(), f.wall), LINK);
    let second = only_register(&out);

    // a late 200 to the first REGISTER (CSeq 1) does not count for the second
    let (out, ev) = f.answer(ok_200(&first, EXPIRES), LINK);
    assert!(out.is_empty());
    assert_eq!(ev, None);
    assert_eq!(f.client.status().state, "connecting");
    // a retransmitted 401 to the first REGISTER does not make it answer again
    let (out, ev) = f.answer(challenge_401(&first, &digest_server(), f.wall), LINK);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(ev, None);
    // a 200 of another registration
    let other = ok_200(&second, EXPIRES).replace(
        parse(&second).call_id().expect("Call-ID"),
        "someone-else@elsewhere",
    );
    let (out, ev) = f.answer(other, LINK);
    assert!(out.is_empty());
    assert_eq!(ev, None);
    // a 403 of another registration does not take anything down either
    let other = response(&second, 403, "Forbidden", "").replace(
        parse(&second).call_id().expect("Call-ID"),
        "someone-else@elsewhere",
    );
    let (_, ev) = f.answer(other, LINK);
    assert_eq!(ev, None);
    let st = f.client.status();
    assert_eq!(st.state, "connecting");
    assert_eq!(st.last_error, None);
    // a provisional answer changes nothing
    let (out, ev) = f.answer(response(&second, 100, "Trying", ""), LINK);
    assert!(out.is_empty());
    assert_eq!(ev, None);
    assert_eq!(f.client.status().state, "connecting");
    // the real answer still works
    let (_, ev) = f.answer(ok_200(&second, EXPIRES), LINK);
    assert!(matches!(ev, Some(Event::Up { .. })), "{ev:?}");
}

#[test]
fn rfc5626_4_4_1_crlf_keepalive_on_the_link_every_interval() {
    let mut f = Fixture::new();
    f.bring_up();
    let up_at = f.elapsed();
    assert_eq!(f.client.poll_timeout(), Some(f.now + KEEPALIVE));
    for n in 1..=2u32 {
        let (out, ev) = f.fire();
        assert_eq!(ev, None);
        assert_eq!(f.elapsed() - up_at, KEEPALIVE * n, "keep-alive {n}");
        assert_eq!(out.len(), 1, "{out:?}");
        let ka = &out[0];
        assert!(is_keepalive(ka), "a double CRLF: {:?}", ka.data);
        assert_eq!(ka.conn, Some(LINK), "on the link connection");
        assert!(ka.reuse_only, "a keep-alive never opens a connection");
        assert_eq!(ka.dest, addr(E_ZONE));
        let last = f
            .client
            .status()
            .last_keepalive
            .expect("last keep-alive in the status");
        let wall = f
            .wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("wall clock after 1970")
            .as_secs();
        assert_eq!(last, wall);
    }
    assert!(f.client.is_up());
}

#[test]
fn rfc3261_10_2_1_refresh_at_half_the_granted_expires() {
    let mut f = Fixture::new();
    let up = f.bring_up();
    let up_at = f.elapsed();
    // keep-alives at 25 and 50 s, the refresh at 60 s
    let mut refresh = None;
    while refresh.is_none() {
        let (out, ev) = f.fire();
        assert_eq!(ev, None);
        for o in out {
            if is_keepalive(&o) {
                continue;
            }
            refresh = Some((f.elapsed() - up_at, o));
        }
        assert!(
            f.elapsed() - up_at <= Duration::from_secs(60),
            "no refresh by 60 s"
        );
    }
    let (when, reg) = refresh.expect("refresh");
    assert_eq!(when, Duration::from_secs(u64::from(EXPIRES) / 2));
    assert_eq!(reg.conn, Some(LINK), "refreshed on the link");
    assert!(reg.reuse_only);
    assert_eq!(cseq_of(&reg), cseq_of(&up) + 1);
    let m = parse(&reg);
    assert!(
        m.header("Authorization").is_some(),
        "the refresh carries credentials (E asks for them every time)"
    );
    // the same RFC 5626 instance as the first REGISTER: E keeps this peer's link by it
    let instance = |m: &Message| {
        let c = m.header("Contact").expect("Contact").to_string();
        let at = c.find("+sip.instance=\"<urn:uuid:").expect("an instance");
        c[at..].to_string()
    };
    assert_eq!(instance(&m), instance(&parse(&up)));
    assert!(instance(&m).ends_with(">\";reg-id=1"), "{}", instance(&m));
    // answered: still up, no event; the next refresh is half a lifetime later
    f.set_now(f.now + Duration::from_secs(1));
    let (out, ev) = f.answer(ok_200(&reg, EXPIRES), LINK);
    assert!(out.is_empty());
    assert_eq!(ev, None, "a refresh is not a new link");
    assert!(f.client.is_up());

    // a shorter lifetime granted by E is honoured
    let mut f = Fixture::new();
    let (out, _) = f.fire();
    let (_, ev) = f.answer(ok_200(&out[0], 30), LINK);
    assert!(matches!(ev, Some(Event::Up { .. })));
    let up_at = f.elapsed();
    let (out, _) = f.fire();
    assert_eq!(f.elapsed() - up_at, Duration::from_secs(15));
    assert!(
        out.iter().any(|o| !is_keepalive(o)),
        "refresh at 15 s: {out:?}"
    );
}

#[test]
fn unanswered_refresh_takes_the_link_down_after_64_t1_and_retries() {
    let mut f = Fixture::new();
    f.bring_up();
    let up_at = f.elapsed();
    let mut refreshed_at = None;
    let down = loop {
        let (out, ev) = f.fire();
        if refreshed_at.is_none() && out.iter().any(|o| !is_keepalive(o)) {
            refreshed_at = Some(f.elapsed());
        }
        if let Some(ev) = ev {
            break ev;
        }
        // keep-alives go on while the refresh is out
        assert!(
            f.elapsed() - up_at < Duration::from_secs(200),
            "never went down"
        );
    };
    let refreshed_at = refreshed_at.expect("a refresh was sent");
    assert_eq!(f.elapsed() - refreshed_at, REGISTER_TIMEOUT);
    let Event::Down { reason } = down else {
        panic!("expected Down, got {down:?}");
    };
    assert!(reason.contains("refresh"), "{reason}");
    let st = f.client.status();
    assert_eq!(st.state, "down");
    assert_eq!(st.last_error.as_deref(), Some(reason.as_str()));

    // the retry: a new connection after retry_first
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
    let (out, ev) = f.fire();
    assert_eq!(ev, None);
    let retry = only_register(&out);
    assert_eq!(retry.conn, None);
    assert!(!retry.reuse_only);
    assert_eq!(
        parse(&retry).header("Authorization"),
        None,
        "a new connection starts without the old challenge"
    );
    assert_eq!(f.client.status().attempts, 1);
}

#[test]
fn a_new_connection_closing_before_any_answer_ends_the_attempt_at_once() {
    let mut f = Fixture::new();
    f.fire();
    // the client does not know the connection id yet: it goes by E's address
    assert_eq!(
        f.client.handle(
            Input::Closed {
                conn: ConnId(77),
                remote: addr("192.0.2.99:5061")
            },
            f.now,
            &mut Vec::new()
        ),
        None
    );
    assert_eq!(f.client.status().state, "connecting");
    assert_eq!(
        f.client.handle(
            Input::Closed {
                conn: ConnId(77),
                remote: addr(E_ZONE)
            },
            f.now,
            &mut Vec::new()
        ),
        None
    );
    assert_eq!(f.client.status().state, "down");
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
}

#[test]
fn unanswered_first_register_fails_after_64_t1() {
    let mut f = Fixture::new();
    f.fire();
    let (out, ev) = f.fire();
    assert!(out.is_empty());
    assert_eq!(ev, None, "the link was never up: no Down event");
    assert_eq!(f.elapsed(), REGISTER_TIMEOUT);
    let st = f.client.status();
    assert_eq!(st.state, "down");
    assert!(
        st.last_error
            .as_deref()
            .unwrap_or("")
            .contains("did not answer"),
        "{st:?}"
    );
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
}

#[test]
fn reconnect_back_off_doubles_from_retry_first_up_to_retry_max() {
    let mut f = Fixture::new();
    let mut delays = Vec::new();
    for n in 1..=8u32 {
        let (out, _) = f.fire();
        let reg = only_register(&out);
        assert_eq!(f.client.status().attempts, n);
        // the transport reports it could not connect (E down, handshake refused)
        let ev = f.client.handle(
            Input::SendFailed {
                error: "TLS handshake with 127.0.0.1:7001: invalid peer certificate",
            },
            f.now,
            &mut Vec::new(),
        );
        assert_eq!(ev, None);
        assert!(f.client.owns_token(reg.token));
        let st = f.client.status();
        assert_eq!(st.state, "down");
        assert!(
            st.last_error
                .as_deref()
                .unwrap_or("")
                .starts_with("cannot reach E: TLS handshake"),
            "{st:?}"
        );
        let next = f.client.poll_timeout().expect("a retry is scheduled");
        delays.push((next - f.now).as_secs());
    }
    assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30, 30]);

    // once the link has been up, the next failure retries after retry_first again
    let (out, _) = f.fire();
    let (_, ev) = f.answer(ok_200(&out[0], EXPIRES), LINK);
    assert!(matches!(ev, Some(Event::Up { .. })));
    assert_eq!(f.client.status().attempts, 0);
    let ev = f.client.handle(
        Input::Closed {
            conn: LINK,
            remote: addr(E_ZONE),
        },
        f.now,
        &mut Vec::new(),
    );
    assert!(matches!(ev, Some(Event::Down { .. })));
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
    let (out, _) = f.fire();
    only_register(&out);
    f.client.handle(
        Input::SendFailed {
            error: "connection refused",
        },
        f.now,
        &mut Vec::new(),
    );
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST * 2));
}

#[test]
fn forbidden_while_connecting_stays_down_with_the_reason() {
    let mut f = Fixture::new();
    let (out, _) = f.fire();
    let (out, _) = f.answer(challenge_401(&out[0], &digest_server(), f.wall), LINK);
    let second = only_register(&out);
    let (out, ev) = f.answer(
        response(
            &second,
            403,
            "Forbidden (wrong password for `control-1`)",
            "",
        ),
        LINK,
    );
    assert!(out.is_empty());
    assert_eq!(ev, None, "it was not up, so nothing goes down");
    let st = f.client.status();
    assert_eq!(st.state, "down");
    assert_eq!(st.attempts, 1);
    let err = st.last_error.expect("last_error");
    assert!(
        err.contains("403") && err.contains("wrong password"),
        "{err}"
    );
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
    // and it keeps trying
    let (out, _) = f.fire();
    only_register(&out);
    assert_eq!(f.client.status().attempts, 2);
}

#[test]
fn forbidden_refresh_takes_the_link_down() {
    let mut f = Fixture::new();
    f.bring_up();
    let reg = loop {
        let (out, ev) = f.fire();
        assert_eq!(ev, None);
        if let Some(r) = out.into_iter().find(|o| !is_keepalive(o)) {
            break r;
        }
    };
    let (out, ev) = f.answer(response(&reg, 403, "Forbidden", ""), LINK);
    assert!(out.is_empty());
    let Some(Event::Down { reason }) = ev else {
        panic!("expected Down, got {ev:?}");
    };
    assert!(reason.contains("403"), "{reason}");
    assert!(!f.client.is_up());
    let st = f.client.status();
    assert_eq!(st.state, "down");
    assert!(st.last_error.as_deref().unwrap_or("").contains("403"));
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
}

#[test]
fn closing_the_link_connection_takes_it_down() {
    let mut f = Fixture::new();
    f.bring_up();
    f.set_now(f.now + Duration::from_secs(3));
    assert_eq!(
        f.client.handle(
            Input::Closed {
                conn: ConnId(99),
                remote: addr("192.0.2.99:5061")
            },
            f.now,
            &mut Vec::new()
        ),
        None,
        "another connection closing is none of the link's business"
    );
    assert!(f.client.is_up());
    let ev = f.client.handle(
        Input::Closed {
            conn: LINK,
            remote: addr(E_ZONE),
        },
        f.now,
        &mut Vec::new(),
    );
    let Some(Event::Down { reason }) = ev else {
        panic!("expected Down, got {ev:?}");
    };
    assert!(reason.contains("closed"), "{reason}");
    let st = f.client.status();
    assert_eq!(st.state, "down");
    assert_eq!(st.last_error.as_deref(), Some(reason.as_str()));
    let wall = f
        .wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("wall clock after 1970")
        .as_secs();
    assert_eq!(st.since, wall, "down since now");
    assert_eq!(f.client.poll_timeout(), Some(f.now + RETRY_FIRST));
    // closed again (a late event): nothing more happens
    assert_eq!(
        f.client.handle(
            Input::Closed {
                conn: LINK,
                remote: addr(E_ZONE)
            },
            f.now,
            &mut Vec::new()
        ),
        None
    );
}

/// E as `Links::admit` answers a link REGISTER: no credentials -> 401, a nonce past its
/// lifetime -> 401 stale=true, a digest that verifies -> 200, anything else -> 403.
fn e_answers(
    req: &Transmit,
    server: &mut DigestServer,
    wall: SystemTime,
) -> (String, &'static str) {
    let m = parse(req);
    let Some(auth) = m.header("Authorization") else {
        return (challenge_401(req, server, wall), "challenge");
    };
    let lookup = |u: &str| (u == USER).then(|| PASSWORD.to_string());
    match server.verify(auth, "REGISTER", lookup, wall) {
        Ok(_) => (ok_200(req, EXPIRES), "ok"),
        Err(causeway_sip::auth::AuthError::StaleNonce) => {
            let extra: String = server
                .challenge(wall, true, 2)
                .into_iter()
                .map(|c| format!("WWW-Authenticate: {c}\r\n"))
                .collect();
            (response(req, 401, "Unauthorized", &extra), "stale")
        }
        Err(e) => (
            response(req, 403, &format!("Forbidden ({e})"), ""),
            "refused",
        ),
    }
}

#[test]
fn rfc7616_3_3_stale_nonce_on_a_refresh_is_answered_again_without_going_down() {
    // the refreshes reuse the nonce of the first challenge; E's nonces live 300 s and the
    // link refreshes every 60 s, so some refresh meets a stale nonce and must recover
    let mut f = Fixture::new();
    let mut server = digest_server();
    let mut seen = Vec::new();
    let mut ups = 0;
    while f.elapsed() < Duration::from_secs(20 * 60) {
        let (mut out, ev) = f.fire();
        assert!(
            !matches!(ev, Some(Event::Down { .. })),
            "{ev:?} at {:?}",
            f.elapsed()
        );
        // E answers every REGISTER at once, and the client's answers to E's answers
        while let Some(o) = out.pop() {
            if is_keepalive(&o) {
                continue;
            }
            let (text, what) = e_answers(&o, &mut server, f.wall);
            seen.push(what);
            let (more, ev) = f.answer(text, LINK);
            match ev {
                Some(Event::Up { .. }) => ups += 1,
                Some(Event::Down { reason }) => {
                    panic!("down at {:?}: {reason}; E said {seen:?}", f.elapsed())
                }
                Some(Event::Lookup { .. }) => panic!("a peer given as an address is looked up"),
                None => {}
            }
            out.extend(more);
        }
    }
    assert_eq!(ups, 1, "one Up, then refreshes only");
    assert!(f.client.is_up());
    assert!(
        seen.contains(&"stale"),
        "no refresh met a stale nonce: {seen:?}"
    );
    assert!(!seen.contains(&"refused"), "{seen:?}");
}

mod resolve;
