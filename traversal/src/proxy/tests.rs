//! `LinkedProxy` between a link client and the driver: a client's lookup of E's name goes out
//! as the core's DNS output (asked of the operating system) and its answer comes back to that
//! client only; a link that comes up makes E's address a peer for `[protection]`.

use super::*;
use crate::test_core::{link, node};
use bytes::Bytes;
use causeway_sip::dns::Hop;
use causeway_sip::message::Message;
use causeway_sip::proxy::{ConnId, LinkResponse};

fn named(zone: &str) -> crate::LinkConfig {
    crate::LinkConfig {
        peer: "0.0.0.0:7001".parse().expect("addr"),
        resolve: Some(format!("{zone}.example.net")),
        peer_host: format!("{zone}.example.net"),
        ..link(zone, "127.0.0.1:7001")
    }
}

fn dns(out: &[Output]) -> Vec<DnsQuery> {
    out.iter()
        .filter_map(|o| match o {
            Output::Dns(q) => Some(q.clone()),
            _ => None,
        })
        .collect()
}

fn registers(out: &[Output]) -> Vec<Transmit> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(t) if t.data.starts_with(b"REGISTER") => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_lookup_goes_to_the_system_and_its_answer_to_its_client_only() {
    let now = Instant::now();
    let mut n = node(vec![named("a"), named("b")], now);
    let mut out = Vec::new();
    n.handle_timeout(now, &mut out);
    let qs = dns(&out);
    assert_eq!(qs.len(), 2, "{out:?}");
    assert!(registers(&out).is_empty(), "no REGISTER before an address");
    for q in &qs {
        assert!(
            q.system,
            "a configured peer's name is the system's to look up"
        );
        assert!(q.ctx >= CLIENT_TOKENS, "clear of the core's own lookups");
        assert_eq!(q.target.port, Some(7001));
        assert_eq!(q.zone, None);
    }
    assert_eq!(qs[0].target.host, "a.example.net");
    // b's answer: only b registers, at the address found
    let hop = |ip: &str| Hop {
        transport: Transport::Tcp,
        addr: format!("{ip}:7001").parse().expect("addr"),
        server_name: "b.example.net".into(),
    };
    let mut out = Vec::new();
    let answer = Ok(vec![hop("192.0.2.7")]);
    n.handle(
        Event::Dns {
            ctx: qs[1].ctx,
            answer,
        },
        now,
        &mut out,
    );
    let regs = registers(&out);
    assert_eq!(regs.len(), 1, "{out:?}");
    assert_eq!(regs[0].dest, "192.0.2.7:7001".parse().expect("addr"));
    assert_eq!(regs[0].server_name.as_deref(), Some("b.example.net"));
    // a's failure: no REGISTER, a down with the reason
    let mut out = Vec::new();
    let answer = Err("no record".to_string());
    n.handle(
        Event::Dns {
            ctx: qs[0].ctx,
            answer,
        },
        now,
        &mut out,
    );
    assert!(registers(&out).is_empty(), "{out:?}");
    let a = n
        .link_status(&[])
        .into_iter()
        .find(|l| l.zone == "a")
        .expect("a");
    assert!(a
        .last_error
        .unwrap_or_default()
        .contains("does not resolve"));
}

#[test]
fn a_link_up_makes_e_a_peer_of_the_guard() {
    let now = Instant::now();
    let mut n = node(vec![link("z", "192.0.2.9:7001")], now);
    let mut out = Vec::new();
    n.handle_timeout(now, &mut out);
    let reg = registers(&out).pop().expect("a REGISTER");
    let m = Message::parse(reg.data.clone()).expect("parses");
    let h = |name: &str| m.header(name).expect(name).to_string();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=e\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Expires: 120\r\nContent-Length: 0\r\n\r\n",
        h("Via"),
        h("From"),
        h("To"),
        h("Call-ID"),
        h("CSeq")
    );
    let r = LinkResponse {
        msg: Message::parse(Bytes::from(ok)).expect("parses"),
        conn: Some(ConnId(3)),
        local: "127.0.0.1:40000".parse().expect("addr"),
        remote: "192.0.2.9:7001".parse().expect("addr"),
    };
    let mut out = Vec::new();
    n.tell_clients(crate::client::Input::Response(&r), now, &mut out);
    let peer = out.iter().any(|o| {
        matches!(o, Output::Report { source, report: Report::Peer }
            if *source == "192.0.2.9".parse::<std::net::IpAddr>().expect("ip"))
    });
    assert!(peer, "{out:?}");
}
