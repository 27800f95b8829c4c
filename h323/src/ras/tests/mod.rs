//! Gatekeeper tests: RAS messages in, datagrams out, with a fake clock (plain `Instant`s moved
//! by hand). Messages are built from the generated types and go through the PER codec both
//! ways, as they do on the wire.
//!
//! One file per RAS procedure, as in `ras`; this one holds the shared builders and harness and
//! the tests of the dispatch itself (malformed datagrams, XRS).

mod admission;
mod cluster;
mod discovery;
mod interworking;
mod location;
mod registration;

use super::*;
use crate::asn::AliasKind;
use crate::endpoint;
use causeway_h323_asn1::h323_messages::*;
use causeway_h323_asn1::rasn::types::OctetString;
use causeway_zones::Protocol;

const GK_RAS: &str = "192.0.2.1:1719";

fn config() -> GatekeeperConfig {
    GatekeeperConfig {
        gatekeeper_id: "cw-gk".into(),
        time_to_live: 300,
        probe_timeout: Duration::from_secs(5),
        max_registrations: 3,
        max_calls: 10,
        q931_port: 1720,
        q931_ip: None,
        allow: vec![],
        deny: vec![Regex::new("^blocked.*$").unwrap()],
        endpoint_id_prefix: "t".into(),
        locate_timeout: Duration::from_secs(2),
        h46018_ttl: Some(19),
    }
}

fn gatekeeper() -> Gatekeeper {
    gatekeeper_with(Router::new(&["example.com".to_string()]), vec![])
}

fn gatekeeper_with(router: Router, neighbors: Vec<(String, SocketAddr)>) -> Gatekeeper {
    Gatekeeper::new(config(), router, neighbors)
}

fn terminal() -> EndpointType {
    EndpointType::new(
        None,
        None,
        None,
        None,
        None,
        Some(TerminalInfo::new(None)),
        false,
        false,
        None,
        None,
    )
}

fn e164(d: &str) -> AliasAddress {
    asn::alias_address(AliasKind::E164, d).unwrap()
}

fn h323id(t: &str) -> AliasAddress {
    asn::alias_address(AliasKind::H323Id, t).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Requests come from the crate's endpoint-side builders (`crate::endpoint`), as the test
/// endpoint sends them.
fn me(ras: SocketAddr, signal: SocketAddr, aliases: Vec<AliasAddress>) -> endpoint::Me {
    endpoint::Me {
        ras,
        csa: signal,
        aliases,
    }
}

fn ids() -> endpoint::CallIds {
    endpoint::CallIds {
        crv: 1,
        call_id: [9; 16],
        conf_id: [7; 16],
    }
}

/// A full RRQ, or a lightweight one (`keep_alive`, with the endpoint identifier).
fn rrq_full(
    n: u16,
    ras: SocketAddr,
    signal: SocketAddr,
    aliases: Vec<AliasAddress>,
    ttl: Option<u32>,
    keep_alive: bool,
    endpoint: Option<EndpointIdentifier>,
) -> RasMessage {
    assert_eq!(
        keep_alive,
        endpoint.is_some(),
        "lightweight iff an identifier"
    );
    let me = me(ras, signal, aliases);
    endpoint::rrq(n, &me, ttl.unwrap_or(600), None, endpoint, false).unwrap()
}

fn rrq(n: u16, ras: &str, aliases: Vec<AliasAddress>) -> RasMessage {
    let ras = sa(ras);
    let signal = SocketAddr::new(ras.ip(), ras.port() + 1);
    rrq_full(n, ras, signal, aliases, Some(600), false, None)
}

/// The caller side of endpoint `ep` (its addresses do not matter to admission).
fn caller() -> endpoint::Me {
    me(sa("192.0.2.99:1719"), sa("192.0.2.99:1720"), vec![])
}

fn arq(n: u16, ep: &str, dest: Vec<AliasAddress>, answer: bool) -> RasMessage {
    let id = asn::endpoint_id(ep);
    endpoint::arq(n, &caller(), id, None, &ids(), Some(dest), vec![], answer).unwrap()
}

fn urq(n: u16, ep: &str) -> RasMessage {
    endpoint::urq(n, &caller(), None, Some(asn::endpoint_id(ep))).unwrap()
}

fn drq(n: u16, ep: &str) -> RasMessage {
    endpoint::drq(n, asn::endpoint_id(ep), None, &ids(), false)
}

fn irr(n: u16, ep: &str, ras: SocketAddr) -> RasMessage {
    let me = me(ras, SocketAddr::new(ras.ip(), ras.port() + 1), vec![]);
    endpoint::irr(n, &me, asn::endpoint_id(ep)).unwrap()
}

/// Sends `msg` from `from` and returns the decoded replies with their destinations, and the
/// other outputs.
fn exchange(
    gk: &mut Gatekeeper,
    from: &str,
    msg: &RasMessage,
    now: Instant,
) -> (Vec<(SocketAddr, RasMessage)>, Vec<Output>) {
    let bytes = aper::encode(msg).unwrap();
    let mut out = Vec::new();
    gk.handle(
        Datagram {
            from: sa(from),
            local: sa(GK_RAS),
            bytes: &bytes,
            multicast: false,
        },
        now,
        &mut out,
    );
    split(out)
}

fn split(out: Vec<Output>) -> (Vec<(SocketAddr, RasMessage)>, Vec<Output>) {
    let mut sent = Vec::new();
    let mut rest = Vec::new();
    for o in out {
        match o {
            Output::Send { to, bytes } => sent.push((to, aper::decode(&bytes).unwrap())),
            other => rest.push(other),
        }
    }
    (sent, rest)
}

fn one(sent: Vec<(SocketAddr, RasMessage)>) -> (SocketAddr, RasMessage) {
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent.into_iter().next().unwrap()
}

/// An LRQ for `dest`, answered to `reply`.
fn lrq(n: u16, dest: Vec<AliasAddress>, reply: SocketAddr) -> RasMessage {
    RasMessage::locationRequest(LocationRequest::new(
        RequestSeqNum(n),
        None,
        dest,
        None,
        asn::transport_address(reply),
        None,
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(false),
        None,
    ))
}

/// Registers and returns the endpoint identifier.
fn register(gk: &mut Gatekeeper, ras: &str, aliases: Vec<AliasAddress>, now: Instant) -> String {
    let (sent, _) = exchange(gk, ras, &rrq(1, ras, aliases), now);
    match one(sent).1 {
        RasMessage::registrationConfirm(c) => asn::bmp_text(&c.endpoint_identifier.0).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_datagrams_are_counted_and_unserved_requests_get_xrs() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let mut out = Vec::new();
    gk.handle(
        Datagram {
            from: sa("192.0.2.10:1719"),
            local: sa(GK_RAS),
            bytes: &[0xff, 0x00, 0x13],
            multicast: false,
        },
        now,
        &mut out,
    );
    assert!(matches!(&out[0], Output::Event(RasEvent::Malformed { .. })));
    assert_eq!(gk.counters().malformed, 1);
    let irq = build::irq(77, None);
    let (sent, _) = exchange(&mut gk, "192.0.2.10:1719", &irq, now);
    let RasMessage::unknownMessageResponse(x) = one(sent).1 else {
        panic!()
    };
    assert_eq!(x.request_seq_num.0, 77);
    assert!(x.message_not_understood.is_some());
}

#[test]
fn xrs_builder_carries_the_bytes() {
    let RasMessage::unknownMessageResponse(x) = build::xrs(1, &[1, 2]) else {
        panic!()
    };
    assert_eq!(
        x.message_not_understood,
        Some(OctetString::from(vec![1, 2]))
    );
}
