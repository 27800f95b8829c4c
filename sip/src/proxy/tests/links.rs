//! A traversal zone with several links (C to each peer of an E cluster), sans-IO: a call
//! goes down the first link, another link is tried only when no answer came through the first
//! (a busy callee is not rung again through the next peer), the links are probed with
//! OPTIONS down their own connections, and the loads they answer order the next call.

use super::*;
use crate::proxy::probe::LOAD_HEADER;
use crate::proxy::{Link, LinkEvent, Policy};
use causeway_config::Config;
use causeway_zones::Router;

/// E's peers as the links reach them.
const E1: &str = "127.0.0.1:7101";
const E2: &str = "127.0.0.1:7102";

fn with_two_links(h: &mut Harness) {
    let toml = r#"
[system]
role = "control"
domain = "example.com"
[[zone]]
name = "edge"
type = "traversal-client"
peers = ["192.0.2.1", "192.0.2.2"]
username = "c"
password = "secret"
[[search_rule]]
name = "out"
priority = 60
pattern_type = "suffix"
pattern = "@far.example"
target = "edge"
"#;
    let cfg = Config::parse("t.toml", toml).expect("config");
    h.core.reconfigure(Policy {
        domains: cfg.registrar_domains(),
        registrar: settings().registrar,
        auth: None,
        router: Router::from_config(&cfg),
        amplification_limit: false,
    });
    h.core.set_client_zones(vec!["edge".into()]);
    for (name, remote, conn) in [("edge~1", E1, 11), ("edge~2", E2, 12)] {
        let link = Link {
            zone: "edge".into(),
            kind: Transport::Tcp,
            remote: addr(remote),
            local: addr("127.0.0.1:40000"),
            conn: ConnId(conn),
            since: SystemTime::UNIX_EPOCH,
            refreshed: SystemTime::UNIX_EPOCH,
        };
        let ev = Event::Link(LinkEvent::Set {
            name: name.into(),
            link: Some(link),
        });
        let mut out = Vec::new();
        h.core.handle(ev, h.now, &mut out);
    }
}

fn call(h: &mut Harness, branch: &str) -> Transmit {
    let out = h.send(
        UAC,
        &invite(branch, "carol").replace("@example.com", "@far.example"),
    );
    out.into_iter()
        .find(|t| text(t).starts_with("INVITE"))
        .expect("the INVITE forwarded")
}

fn invites(out: &[Transmit]) -> Vec<&Transmit> {
    out.iter()
        .filter(|t| text(t).starts_with("INVITE"))
        .collect()
}

#[test]
fn a_call_to_a_zone_of_two_links_fails_over_only_when_no_answer_came() {
    let mut h = Harness::new();
    with_two_links(&mut h);
    let first = call(&mut h, "z9hG4bKl1");
    assert_eq!((first.dest, first.conn), (addr(E1), Some(ConnId(11))));
    // the callee is busy behind E's first peer: that is the answer, not E2's turn
    let out = h.send(E1, &answer(&first, 486, "Busy Here", Some("b")));
    assert!(invites(&out).is_empty(), "busy is not retried: {out:?}");
    assert!(out
        .iter()
        .any(|t| text(t).starts_with("SIP/2.0 486") && t.dest == addr(UAC)));

    // the first link's send fails: the second carries the call
    let second = call(&mut h, "z9hG4bKl2");
    assert_eq!(second.dest, addr(E1));
    let failed = Event::SendFailed {
        token: second.token,
        error: "connection reset".into(),
    };
    let mut out = Vec::new();
    h.core.handle(failed, h.now, &mut out);
    let out = h.transmits(out);
    let retried = invites(&out);
    assert_eq!(retried.len(), 1, "{out:?}");
    assert_eq!(
        (retried[0].dest, retried[0].conn),
        (addr(E2), Some(ConnId(12)))
    );
    // E1 failed a moment ago: the next call starts at E2
    assert_eq!(call(&mut h, "z9hG4bKl3").dest, addr(E2));
}

#[test]
fn the_links_are_probed_down_their_connections_and_the_emptier_peer_goes_first() {
    let mut h = Harness::new();
    with_two_links(&mut h);
    h.send(UAC, "\r\n\r\n"); // any input arms the probes
    let probes: Vec<Transmit> = h
        .advance(Duration::ZERO)
        .into_iter()
        .filter(|t| text(t).starts_with("OPTIONS"))
        .collect();
    let mut down: Vec<(SocketAddr, Option<ConnId>)> =
        probes.iter().map(|t| (t.dest, t.conn)).collect();
    down.sort_by_key(|d| d.0);
    assert_eq!(
        down,
        [(addr(E1), Some(ConnId(11))), (addr(E2), Some(ConnId(12)))]
    );
    for p in &probes {
        assert_eq!(header(&text(p), "Max-Forwards"), ["0"], "{}", text(p));
        assert!(p.reuse_only, "a link probe opens no connection");
        let free = if p.dest == addr(E2) { 900 } else { 10 };
        let ok = answer(p, 200, "OK", Some("t")).replace(
            "Content-Length: 0",
            &format!("{LOAD_HEADER}: calls=1;media-free={free}\nContent-Length: 0"),
        );
        h.send(&p.dest.to_string(), &ok);
    }
    assert_eq!(call(&mut h, "z9hG4bKl4").dest, addr(E2), "E2 is emptier");
}

#[test]
fn rfc3261_16_3_an_options_that_can_go_no_further_is_answered_here_only_from_a_link_peer() {
    let mut h = Harness::new();
    with_two_links(&mut h);
    let probe = "OPTIONS sip:198.51.100.7:5060 SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:7101;branch=z9hG4bKmf0
Max-Forwards: 0
From: <sip:ping@127.0.0.1>;tag=p
To: <sip:198.51.100.7:5060>
Call-ID: mf0
CSeq: 1 OPTIONS
Content-Length: 0

";
    // up E1's link (the harness's stream connection is its own; the link's is 11)
    let mut out = Vec::new();
    let received = Received {
        data: Bytes::from(probe.replace('\n', "\r\n")),
        kind: Transport::Tcp,
        local: addr("127.0.0.1:40000"),
        remote: addr(E1),
        conn: Some(ConnId(11)),
        mtls_peer: None,
    };
    h.core.handle(Event::Received(received), h.now, &mut out);
    let out = h.transmits(out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(status_of(&out[0]), 200, "{}", text(&out[0]));
    // from anyone else: RFC 4475 3.3.11, 483
    let out = h.send(UAC, &probe.replace("mf0", "mf1"));
    assert_eq!(status_of(&out[0]), 483, "{}", text(&out[0]));
}

#[test]
fn a_link_closing_under_a_call_hands_the_call_to_the_next_link() {
    let mut h = Harness::new();
    with_two_links(&mut h);
    let first = call(&mut h, "z9hG4bKl5");
    assert_eq!(first.conn, Some(ConnId(11)));
    // E1 dies with the INVITE on its way: nothing will come back up that link
    let closed = Event::Closed {
        conn: ConnId(11),
        remote: addr(E1),
    };
    let mut out = Vec::new();
    h.core.handle(closed, h.now, &mut out);
    let out = h.transmits(out);
    let retried = invites(&out);
    assert_eq!(retried.len(), 1, "{out:?}");
    assert_eq!(retried[0].conn, Some(ConnId(12)));
    // a connection that carries no link leaves the calls on it alone
    let second = call(&mut h, "z9hG4bKl6");
    assert_eq!(second.conn, Some(ConnId(12)), "E1 failed a moment ago");
    let mut out = Vec::new();
    let other = Event::Closed {
        conn: ConnId(99),
        remote: addr(E2),
    };
    h.core.handle(other, h.now, &mut out);
    assert!(invites(&h.transmits(out)).is_empty());
}
