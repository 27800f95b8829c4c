//! A remote cluster as a neighbor zone (`peers = [...]`), sans-IO: its peers are probed with
//! OPTIONS; the loads they answer with order the next call's targets (most free media sessions
//! first), a peer that does not answer goes last, and this node's own OPTIONS answer tells its
//! load.

use super::*;
use crate::proxy::probe::{Load, LOAD_HEADER};
use crate::proxy::Policy;
use causeway_config::Config;
use causeway_zones::Router;

const P1: &str = "127.0.0.1:6011";
const P2: &str = "127.0.0.1:6012";

fn with_cluster_neighbor(h: &mut Harness) {
    let toml = format!(
        r#"
[system]
role = "control"
domain = "example.com"
[[zone]]
name = "B"
type = "neighbor"
peers = ["{P1}", "{P2}"]
[[search_rule]]
name = "to-b"
priority = 60
pattern_type = "suffix"
pattern = "@b.example"
target = "B"
"#
    );
    let cfg = Config::parse("t.toml", &toml).expect("config");
    h.core.reconfigure(Policy {
        domains: cfg.registrar_domains(),
        registrar: settings().registrar,
        auth: None,
        router: Router::from_config(&cfg),
        amplification_limit: false,
    });
}

fn options(branch: &str) -> String {
    format!(
        "OPTIONS sip:{PROXY} SIP/2.0
Via: SIP/2.0/UDP {UAC};branch={branch}
Max-Forwards: 70
From: <sip:probe@example.com>;tag=p
To: <sip:{PROXY}>
Call-ID: {branch}
CSeq: 1 OPTIONS
Content-Length: 0

"
    )
}

/// The peer a call to carol@b.example goes to first (which answers it 486, so that the call
/// says nothing of the peers' liveness).
fn call_b(h: &mut Harness, branch: &str) -> SocketAddr {
    let out = h.send(
        UAC,
        &invite(branch, "carol").replace("@example.com", "@b.example"),
    );
    let sent = out
        .iter()
        .find(|t| text(t).starts_with("INVITE"))
        .expect("the INVITE forwarded");
    h.send(
        &sent.dest.to_string(),
        &answer(sent, 486, "Busy Here", Some("b")),
    );
    sent.dest
}

#[test]
fn a_remote_clusters_peers_are_tried_by_the_load_they_answer_probes_with() {
    let mut h = Harness::new();
    with_cluster_neighbor(&mut h);
    let health = causeway_zones::PeerHealth::default();
    h.core.set_peer_health(health.clone());
    // the first input arms the probes; both peers get an OPTIONS
    h.send(UAC, &options("z9hG4bKo1"));
    let probes: Vec<Transmit> = h
        .advance(Duration::ZERO)
        .into_iter()
        .filter(|t| text(t).starts_with("OPTIONS"))
        .collect();
    let mut dests: Vec<SocketAddr> = probes.iter().map(|t| t.dest).collect();
    dests.sort();
    assert_eq!(dests, [addr(P1), addr(P2)]);
    // before any answer: the configured order
    assert_eq!(call_b(&mut h, "z9hG4bKc1"), addr(P1));
    for p in &probes {
        let free = if p.dest == addr(P2) { 900 } else { 100 };
        let ok = answer(p, 200, "OK", Some("t")).replace(
            "Content-Length: 0",
            &format!("{LOAD_HEADER}: calls=5;media-free={free}\nContent-Length: 0"),
        );
        h.send(&p.dest.to_string(), &ok);
    }
    assert_eq!(
        call_b(&mut h, "z9hG4bKc2"),
        addr(P2),
        "the emptier peer first"
    );
    // each round hands what the probes found so far to the gatekeeper (by IP: both test
    // peers share 127.0.0.1, so the view holds one of them): the first, nothing yet
    let first = health.get(addr(P1).ip());
    assert_eq!(first.and_then(|x| x.free_media), None, "{first:?}");
    h.advance(Duration::from_secs(10));
    assert!(health
        .get(addr(P1).ip())
        .is_some_and(|x| !x.down && x.free_media.is_some()));

    // from now on peer 2 does not answer: once its probe times out it goes last, emptier or not
    for _ in 0..5 {
        let round: Vec<Transmit> = h
            .advance(Duration::from_secs(10))
            .into_iter()
            .filter(|t| text(t).starts_with("OPTIONS"))
            .collect();
        for p in round.iter().filter(|p| p.dest == addr(P1)) {
            h.send(P1, &answer(p, 200, "OK", Some("t")));
        }
    }
    assert_eq!(
        call_b(&mut h, "z9hG4bKc3"),
        addr(P1),
        "the silent peer last"
    );
}

#[test]
fn this_nodes_options_answer_tells_its_load() {
    let mut h = Harness::new();
    let load = std::sync::Arc::new(std::sync::Mutex::new(Some(Load {
        calls: 2,
        free_media: Some(498),
        kbps: 0,
    })));
    h.core.set_load(load);
    let out = h.send(UAC, &options("z9hG4bKo2"));
    let t = text(&out[0]);
    assert_eq!(
        header(&t, LOAD_HEADER),
        ["calls=2;media-free=498;kbps=0"],
        "{t}"
    );
}

#[test]
fn a_probe_is_answered_with_the_load_by_a_peer_that_never_amplifies() {
    let mut a = Harness::new();
    with_cluster_neighbor(&mut a);
    a.send(UAC, &options("z9hG4bKo3"));
    let probe = a
        .advance(Duration::ZERO)
        .into_iter()
        .find(|t| text(t).starts_with("OPTIONS"))
        .expect("a probe");
    // the peer: another core, with the amplification limit on (the default) and a big load
    let mut b = Harness::new();
    b.core.set_amplification_limit(true);
    let load = Load {
        calls: 123_456,
        free_media: Some(987_654),
        kbps: 99_999,
    };
    b.core
        .set_load(std::sync::Arc::new(std::sync::Mutex::new(Some(load))));
    // the probe as the peer gets it: from a node that is not the peer itself (the two test
    // cores share an address), for the peer's own address (all the same length)
    let request = text(&probe)
        .replace(PROXY, UAC)
        .replace(&probe.dest.to_string(), PROXY);
    let out = b.send(UAC, &request.replace("\r\n", "\n"));
    let answer = out.first().map(text).unwrap_or_default();
    assert!(answer.len() <= request.len(), "never amplified");
    assert_eq!(
        header(&answer, LOAD_HEADER),
        ["calls=123456;media-free=987654;kbps=99999"],
        "answered with the load: {answer}"
    );
}

#[test]
fn a_short_options_is_still_answered_under_the_amplification_limit_without_the_load() {
    let mut h = Harness::new();
    h.core.set_amplification_limit(true);
    let load = Load {
        calls: 1,
        free_media: Some(10),
        kbps: 0,
    };
    h.core
        .set_load(std::sync::Arc::new(std::sync::Mutex::new(Some(load))));
    let request = options("z9hG4bKshort");
    let out = h.send(UAC, &request);
    let answer = out.first().map(text).unwrap_or_default();
    assert_eq!(status_of(&out[0]), 200, "{answer}");
    assert!(answer.len() <= request.len() + request.matches('\n').count());
    assert!(header(&answer, LOAD_HEADER).is_empty(), "{answer}");
}
