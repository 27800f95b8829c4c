//! E's side of a traversal link through the whole SIP machine of a node (the proxy core with the
//! admission beside it): C's REGISTER on the zone port is challenged and admitted (RFC 5626
//! style: the registration pins the TLS connection it came on), and requests routed to the
//! zone go down that connection and nowhere else. Messages in, messages out, a fake clock.

use crate::edge::Admission;
use crate::proxy::LinkedProxy;
use bytes::Bytes;
use causeway_config::Transport;
use causeway_sip::auth;
use causeway_sip::proxy::{ConnId, Event, Link, Machine, Output, Received, ServerZone, Transmit};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn transmits(out: Vec<Output>) -> Vec<Transmit> {
    out.into_iter()
        .filter_map(|o| match o {
            Output::Transmit(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn text(o: &Transmit) -> String {
    String::from_utf8_lossy(&o.data).into_owned()
}

fn status_of(o: &Transmit) -> u16 {
    let t = text(o);
    assert!(t.starts_with("SIP/2.0 "), "not a response: {t}");
    t[8..11].parse().expect("a status code")
}

fn header<'a>(t: &'a str, name: &str) -> Vec<&'a str> {
    t.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

/// The response a UAS sends to the forwarded request `req` (all Vias copied).
fn answer(req: &Transmit, status: u16, reason: &str, to_tag: Option<&str>) -> String {
    let t = text(req);
    let mut s = format!("SIP/2.0 {status} {reason}\n");
    for v in header(&t, "Via") {
        s.push_str(&format!("Via: {v}\n"));
    }
    for rr in header(&t, "Record-Route") {
        s.push_str(&format!("Record-Route: {rr}\n"));
    }
    let to = header(&t, "To")[0];
    let to = match to_tag {
        Some(tag) => format!("{to};tag={tag}"),
        None => to.to_string(),
    };
    s.push_str(&format!(
        "From: {}\nTo: {to}\nCall-ID: {}\nCSeq: {}\nContent-Length: 0\n\n",
        header(&t, "From")[0],
        header(&t, "Call-ID")[0],
        header(&t, "CSeq")[0]
    ));
    s
}

const E_SIP: &str = "127.0.0.1:5060";
const E_ZONE: &str = "127.0.0.1:7001";
/// C's end of the link connection (the source port of the connection it opened).
const C_LINK: &str = "127.0.0.1:40001";
const CALLER: &str = "127.0.0.1:6001";
const LINK: ConnId = ConnId(9);
const ZONE: &str = "from-control";
const USER: &str = "control-1";
const PASSWORD: &str = "secret";
const REALM: &str = "edge.example.net";
const ZONE_RURI: &str = "sip:127.0.0.1:7001;transport=tls";

const CONFIG: &str = r#"
[system]
name = "edge"
role = "edge"
domain = "edge.example.net"

[[credential]]
username = "control-1"
password = "secret"

[[credential]]
username = "someone-else"
password = "other"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = 7001
transport = "tls"
username = "control-1"

[[search_rule]]
name = "example.org to C"
pattern_type = "suffix"
pattern = "@example.org"
target = "from-control"
"#;

struct Edge {
    node: LinkedProxy,
    now: Instant,
}

impl Edge {
    fn new() -> Edge {
        let cfg = causeway_config::Config::parse("t.toml", CONFIG).expect("test config");
        let zone = ServerZone {
            name: ZONE.into(),
            kind: Transport::Tls,
            port: 7001,
            username: USER.into(),
        };
        let now = Instant::now();
        let clock = crate::test_core::clock(now);
        let core = crate::test_core::core(
            &cfg,
            vec![
                (Transport::Udp, addr(E_SIP)),
                (Transport::Tls, addr(E_ZONE)),
            ],
            (vec![zone.clone()], Vec::new()),
            now,
        );
        let credentials = cfg
            .credentials
            .iter()
            .map(|c| (c.username.clone(), c.password.clone()))
            .collect::<HashMap<_, _>>();
        let admission = Admission::new(
            vec![zone],
            credentials,
            REALM,
            [9; 32],
            clock,
            StdRng::seed_from_u64(7616),
        );
        Edge {
            node: LinkedProxy::new(core, Vec::new(), admission, clock),
            now,
        }
    }

    fn links(&self) -> &HashMap<String, Link> {
        self.node.core().links()
    }

    fn feed(
        &mut self,
        kind: Transport,
        local: &str,
        remote: &str,
        conn: Option<ConnId>,
        text: &str,
    ) -> Vec<Transmit> {
        let received = Received {
            data: Bytes::from(text.replace('\n', "\r\n")),
            kind,
            local: addr(local),
            remote: addr(remote),
            conn,
            mtls_peer: None,
        };
        let mut out = Vec::new();
        self.node
            .handle(Event::Received(received), self.now, &mut out);
        transmits(out)
    }

    /// Something C sends on a TLS connection to the zone port.
    fn c_sends(&mut self, conn: ConnId, text: &str) -> Vec<Transmit> {
        self.feed(Transport::Tls, E_ZONE, C_LINK, Some(conn), text)
    }

    /// Something a caller sends to E's public UDP port.
    fn caller_sends(&mut self, text: &str) -> Vec<Transmit> {
        self.feed(Transport::Udp, E_SIP, CALLER, None, text)
    }

    fn closed(&mut self, conn: ConnId) {
        let ev = Event::Closed {
            conn,
            remote: addr(C_LINK),
        };
        self.node.handle(ev, self.now, &mut Vec::new());
    }

    /// The challenge, then the REGISTER with a digest for `password`; E's final answer.
    fn register(&mut self, conn: ConnId, user: &str, password: &str) -> Transmit {
        let out = self.c_sends(conn, &link_register(1, None));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(status_of(&out[0]), 401, "{}", text(&out[0]));
        let t = text(&out[0]);
        let challenge = header(&t, "WWW-Authenticate")[0];
        let auth = auth::respond(
            challenge, "REGISTER", ZONE_RURI, user, password, "0a4f113b", 1,
        )
        .expect("the challenge is answerable");
        let out = self.c_sends(conn, &link_register(2, Some(&auth)));
        assert_eq!(out.len(), 1, "{out:?}");
        out[0].clone()
    }

    fn link_up(&mut self) {
        let ok = self.register(LINK, USER, PASSWORD);
        assert_eq!(status_of(&ok), 200, "{}", text(&ok));
    }
}

/// C's link REGISTER as `traversal::client` writes it.
fn link_register(cseq: u32, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\n"))
        .unwrap_or_default();
    format!(
        "REGISTER {ZONE_RURI} SIP/2.0
Via: SIP/2.0/TLS control.invalid;branch=z9hG4bKcwlink{cseq}a;rport
Max-Forwards: 70
From: <sip:{USER}@127.0.0.1>;tag=c1
To: <sip:{USER}@127.0.0.1>
Call-ID: link-1@control
CSeq: {cseq} REGISTER
Contact: <sip:{USER}@control.invalid;transport=tls;ob>
Expires: 120
Supported: outbound, path
{auth}Content-Length: 0

"
    )
}

fn invite_bob(branch: &str) -> String {
    format!(
        "INVITE sip:bob@example.org SIP/2.0
Via: SIP/2.0/UDP {CALLER};branch={branch};rport
Max-Forwards: 70
From: <sip:alice@far.example>;tag=a1
To: <sip:bob@example.org>
Call-ID: call-{branch}
CSeq: 1 INVITE
Contact: <sip:alice@{CALLER}>
Content-Length: 0

"
    )
}

/// The final response among `out` that goes back to the caller.
fn final_to_caller(out: &[Transmit]) -> &Transmit {
    out.iter()
        .rev()
        .find(|o| o.dest == addr(CALLER) && status_of(o) >= 200)
        .expect("a final response to the caller")
}

#[test]
fn rfc3261_22_2_link_register_without_credentials_is_challenged() {
    let mut e = Edge::new();
    let out = e.c_sends(LINK, &link_register(1, None));
    assert_eq!(out.len(), 1, "{out:?}");
    let r = &out[0];
    assert_eq!(status_of(r), 401);
    assert_eq!(r.conn, Some(LINK), "answered on C's connection");
    assert_eq!(r.dest, addr(C_LINK));
    let t = text(r);
    let challenges = header(&t, "WWW-Authenticate");
    assert!(!challenges.is_empty(), "{t}");
    assert!(
        challenges[0].starts_with("Digest ")
            && challenges[0].contains(&format!("realm=\"{REALM}\"")),
        "{challenges:?}"
    );
    assert!(e.links().is_empty(), "no link before the digest");
}

#[test]
fn rfc5626_link_register_with_the_zone_credential_pins_the_connection() {
    let mut e = Edge::new();
    let ok = e.register(LINK, USER, PASSWORD);
    assert_eq!(status_of(&ok), 200, "{}", text(&ok));
    assert_eq!(ok.conn, Some(LINK));
    let t = text(&ok);
    assert_eq!(header(&t, "Expires"), vec!["120"]);
    assert!(header(&t, "Contact")[0].ends_with(";expires=120"), "{t}");
    let link = e.links().get(ZONE).expect("the zone's link is up");
    assert_eq!(link.conn, LINK);
    assert_eq!(link.kind, Transport::Tls);
    assert_eq!(link.remote, addr(C_LINK));
    assert_eq!(link.local, addr(E_ZONE));
    assert_eq!(e.links().len(), 1);
}

#[test]
fn link_register_with_a_wrong_password_is_403_and_no_link() {
    let mut e = Edge::new();
    let r = e.register(LINK, USER, "not-the-password");
    assert_eq!(status_of(&r), 403, "{}", text(&r));
    assert!(
        text(&r)
            .lines()
            .next()
            .unwrap_or("")
            .contains("authentication failed")
            && !text(&r).lines().next().unwrap_or("").contains(USER),
        "the reason names the fault: {}",
        text(&r)
    );
    assert!(e.links().is_empty());
}

#[test]
fn link_register_with_another_users_credential_is_403() {
    // a valid credential, but not the one this zone is bound to
    let mut e = Edge::new();
    let r = e.register(LINK, "someone-else", "other");
    assert_eq!(status_of(&r), 403, "{}", text(&r));
    assert!(text(&r).contains(ZONE), "{}", text(&r));
    assert!(e.links().is_empty());
}

#[test]
fn other_requests_on_the_zone_port_need_the_link_connection() {
    let mut e = Edge::new();
    let options = |branch: &str| {
        format!(
            "OPTIONS sip:bob@example.org SIP/2.0
Via: SIP/2.0/TLS 127.0.0.1:40002;branch={branch}
Max-Forwards: 70
From: <sip:intruder@example.net>;tag=x
To: <sip:bob@example.org>
Call-ID: {branch}
CSeq: 1 OPTIONS
Content-Length: 0

"
        )
    };
    // no link yet: refused
    let out = e.c_sends(ConnId(10), &options("z9hG4bKintr1"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(status_of(&out[0]), 403, "{}", text(&out[0]));
    // the link up on 9: another connection to the zone port is still refused
    e.link_up();
    let out = e.c_sends(ConnId(10), &options("z9hG4bKintr2"));
    assert_eq!(out.len(), 1, "{out:?}");
    let t = text(&out[0]);
    assert_eq!(status_of(&out[0]), 403, "{t}");
    assert!(t.lines().next().unwrap_or("").contains(ZONE), "{t}");
    assert_eq!(out[0].conn, Some(ConnId(10)));
    assert_eq!(e.links().get(ZONE).map(|l| l.conn), Some(LINK));
}

#[test]
fn request_for_the_zone_goes_down_the_link_with_a_flow_record_route() {
    let mut e = Edge::new();
    e.link_up();
    let out = e.caller_sends(&invite_bob("z9hG4bKdown1"));
    assert_eq!(status_of(&out[0]), 100, "{}", text(&out[0]));
    let fwd = out
        .iter()
        .find(|o| text(o).starts_with("INVITE "))
        .expect("the INVITE is forwarded");
    assert_eq!(fwd.conn, Some(LINK), "on the link connection");
    assert!(fwd.reuse_only, "E never dials C");
    assert_eq!(fwd.kind, Transport::Tls);
    assert_eq!(fwd.dest, addr(C_LINK));
    let t = text(fwd);
    assert!(
        t.starts_with("INVITE sip:bob@example.org SIP/2.0"),
        "Request-URI untouched: {t}"
    );
    let rr = header(&t, "Record-Route");
    assert_eq!(rr.len(), 2, "UDP in, the link out: {rr:?}");
    assert_eq!(
        rr[0],
        format!("<sip:{E_ZONE};transport=tls;lr;cw-link={ZONE}>"),
        "the entry facing the link carries the flow parameter"
    );
    assert!(!rr[1].contains("cw-link"), "{rr:?}");
    assert!(
        header(&t, "Via")[0].starts_with(&format!("SIP/2.0/TLS {E_ZONE};")),
        "Via names our end of the link: {t}"
    );

    // C answers on the link; the answer goes back to the caller
    let ok = answer(fwd, 200, "OK", Some("c1"));
    let out = e.c_sends(LINK, &ok);
    let up = final_to_caller(&out);
    assert_eq!(status_of(up), 200);

    // the caller's BYE follows the route set back down the link
    let bye = format!(
        "BYE sip:bob@127.0.0.1:6009 SIP/2.0
Via: SIP/2.0/UDP {CALLER};branch=z9hG4bKbye1
Route: {}
Route: {}
Max-Forwards: 70
From: <sip:alice@far.example>;tag=a1
To: <sip:bob@example.org>;tag=c1
Call-ID: call-z9hG4bKdown1
CSeq: 2 BYE
Content-Length: 0

",
        rr[1], rr[0]
    );
    let out = e.caller_sends(&bye);
    let down = out
        .iter()
        .find(|o| text(o).starts_with("BYE "))
        .expect("the BYE is forwarded");
    assert_eq!(down.conn, Some(LINK));
    assert!(down.reuse_only);
    assert!(
        header(&text(down), "Route").is_empty(),
        "our own entries are consumed: {}",
        text(down)
    );
}

#[test]
fn request_for_the_zone_without_a_link_is_503_naming_the_zone() {
    let mut e = Edge::new();
    let out = e.caller_sends(&invite_bob("z9hG4bKnolink"));
    let r = final_to_caller(&out);
    assert_eq!(status_of(r), 503);
    let line = text(r).lines().next().unwrap_or("").to_string();
    assert!(line.contains(&format!("`{ZONE}`")), "{line}");
    assert!(
        !out.iter().any(|o| text(o).starts_with("INVITE ")),
        "nothing forwarded"
    );
}

#[test]
fn closing_the_link_connection_takes_the_zone_down() {
    let mut e = Edge::new();
    e.link_up();
    e.closed(ConnId(10));
    assert!(e.links().contains_key(ZONE), "another connection closed");
    e.closed(LINK);
    assert!(e.links().is_empty());
    let out = e.caller_sends(&invite_bob("z9hG4bKclosed"));
    let r = final_to_caller(&out);
    assert_eq!(status_of(r), 503, "{}", text(r));
    assert!(text(r).contains(ZONE));
}

#[test]
fn rfc3261_10_2_link_registration_expires_without_a_refresh() {
    let mut e = Edge::new();
    e.link_up();
    // 120 s granted plus the 10 s grace
    e.now += Duration::from_secs(129);
    let out = e.caller_sends(&invite_bob("z9hG4bKbefore"));
    assert!(
        out.iter().any(|o| o.conn == Some(LINK)),
        "still up before the lifetime ends"
    );
    e.now += Duration::from_secs(2);
    let out = e.caller_sends(&invite_bob("z9hG4bKafter"));
    let r = final_to_caller(&out);
    assert_eq!(status_of(r), 503, "{}", text(r));
    assert!(e.links().is_empty());
}

#[test]
fn a_link_that_is_not_refreshed_goes_down_on_the_timer_alone() {
    let mut e = Edge::new();
    e.link_up();
    let due = e
        .node
        .poll_timeout()
        .expect("the link's expiry is a deadline");
    assert!(due <= e.now + Duration::from_secs(131), "{due:?}");
    e.now += Duration::from_secs(600);
    let mut out = Vec::new();
    e.node.handle_timeout(e.now, &mut out);
    assert!(e.links().is_empty(), "no request was needed to notice");
}

#[test]
fn link_unregister_with_expires_zero_removes_the_link() {
    let mut e = Edge::new();
    e.link_up();
    let out = e.c_sends(
        LINK,
        &link_register(3, None).replace("Expires: 120", "Expires: 0"),
    );
    let t = text(&out[0]);
    let challenge = header(&t, "WWW-Authenticate")[0];
    let auth = auth::respond(challenge, "REGISTER", ZONE_RURI, USER, PASSWORD, "77aa", 1)
        .expect("answerable");
    let out = e.c_sends(
        LINK,
        &link_register(4, Some(&auth)).replace("Expires: 120", "Expires: 0"),
    );
    assert_eq!(status_of(&out[0]), 200, "{}", text(&out[0]));
    assert!(e.links().is_empty());
}

/// Registers a C peer naming RFC 5626 instance `instance` on connection `conn` from `from`;
/// E's final answer.
fn register_instance(e: &mut Edge, conn: ConnId, from: &str, instance: &str) -> Transmit {
    let with = |m: String| {
        m.replace(
            ";ob>\n",
            &format!(";ob>;+sip.instance=\"<urn:uuid:{instance}>\";reg-id=1\n"),
        )
        .replace("Call-ID: link-1@control", &format!("Call-ID: {instance}"))
    };
    let out = e.feed(
        Transport::Tls,
        E_ZONE,
        from,
        Some(conn),
        &with(link_register(1, None)),
    );
    let t = text(&out[0]);
    let challenge = header(&t, "WWW-Authenticate")[0];
    let auth = auth::respond(
        challenge, "REGISTER", ZONE_RURI, USER, PASSWORD, "0a4f113b", 1,
    )
    .expect("the challenge is answerable");
    let out = e.feed(
        Transport::Tls,
        E_ZONE,
        from,
        Some(conn),
        &with(link_register(2, Some(&auth))),
    );
    out[0].clone()
}

#[test]
fn each_peer_of_a_c_cluster_has_its_own_link_and_dialogs_stay_on_theirs() {
    let mut e = Edge::new();
    let (c1, c2) = (ConnId(21), ConnId(22));
    let ok = register_instance(
        &mut e,
        c1,
        "127.0.0.1:40021",
        "00000000-0000-4000-8000-000000000001",
    );
    assert_eq!(status_of(&ok), 200, "{}", text(&ok));
    let ok = register_instance(
        &mut e,
        c2,
        "127.0.0.1:40022",
        "00000000-0000-4000-8000-000000000002",
    );
    assert_eq!(status_of(&ok), 200, "{}", text(&ok));
    let mut names: Vec<(String, ConnId)> =
        e.links().iter().map(|(n, l)| (n.clone(), l.conn)).collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(names.len(), 2, "both peers are linked: {names:?}");
    assert!(names
        .iter()
        .all(|(n, _)| n.starts_with(&format!("{ZONE}~"))));
    assert_ne!(names[0].0, names[1].0);

    // a call goes down the first link, and our entry facing it names that link
    let out = e.caller_sends(&invite_bob("z9hG4bKcl1"));
    let fwd = out
        .iter()
        .find(|o| text(o).starts_with("INVITE "))
        .expect("forwarded");
    assert_eq!(fwd.conn, Some(names[0].1));
    let rr = header(&text(fwd), "Record-Route")[0].to_string();
    assert!(rr.ends_with(&format!(";cw-link={}>", names[0].0)), "{rr}");

    // that peer's connection closes: the next call goes down the other's
    e.closed(names[0].1);
    let out = e.caller_sends(&invite_bob("z9hG4bKcl2"));
    let fwd = out
        .iter()
        .find(|o| text(o).starts_with("INVITE "))
        .expect("forwarded");
    assert_eq!(fwd.conn, Some(names[1].1));
}

#[test]
fn a_zone_holds_at_most_six_links_the_seventh_peer_waits() {
    let mut e = Edge::new();
    for i in 1..=6u16 {
        let from = format!("127.0.0.1:{}", 41000 + i);
        let instance = format!("00000000-0000-4000-8000-00000000000{i}");
        let ok = register_instance(&mut e, ConnId(100 + u64::from(i)), &from, &instance);
        assert_eq!(status_of(&ok), 200, "{}", text(&ok));
    }
    let out = register_instance(
        &mut e,
        ConnId(107),
        "127.0.0.1:41007",
        "00000000-0000-4000-8000-000000000007",
    );
    assert_eq!(status_of(&out), 503, "{}", text(&out));
    assert_eq!(e.links().len(), 6);
    // a link already held refreshes as before
    let again = register_instance(
        &mut e,
        ConnId(101),
        "127.0.0.1:41001",
        "00000000-0000-4000-8000-000000000001",
    );
    assert_eq!(status_of(&again), 200, "{}", text(&again));
}
