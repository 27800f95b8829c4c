//! NAT detection as an operator's `nat_uac_test` would do it: a Via that is not the source, a
//! private Contact seen from elsewhere, RFC 5626's `ob`.

use super::*;
use crate::message::Bytes;
use causeway_config::Transport;

fn flow(kind: Transport, remote: &str) -> Flow {
    Flow {
        kind,
        local: "192.0.2.1:5060".parse().unwrap(),
        remote: remote.parse().unwrap(),
        conn: None,
    }
}

fn msg(via: &str, contact: &str) -> Message {
    let t = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK1;rport\r\n\
         From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c\r\n\
         CSeq: 1 REGISTER\r\nContact: {contact}\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(t)).unwrap()
}

#[test]
fn a_via_that_is_not_the_source_means_a_nat() {
    let udp = flow(Transport::Udp, "203.0.113.5:40000");
    assert!(via_differs(
        &msg("192.168.1.10:5060", "<sip:a@x.test>"),
        &udp
    ));
    assert!(
        via_differs(&msg("203.0.113.5:5060", "<sip:a@x.test>"), &udp),
        "port"
    );
    assert!(!via_differs(
        &msg("203.0.113.5:40000", "<sip:a@x.test>"),
        &udp
    ));
    assert!(
        !via_differs(&msg("ua.example.com", "<sip:a@x.test>"), &udp),
        "a name"
    );
    // a stream's Via names its listener, not the connection's port
    let tcp = flow(Transport::Tcp, "203.0.113.5:40000");
    assert!(!via_differs(
        &msg("203.0.113.5:5060", "<sip:a@x.test>"),
        &tcp
    ));
}

#[test]
fn a_private_contact_seen_from_elsewhere_is_unreachable() {
    let f = flow(Transport::Udp, "203.0.113.5:40000");
    let u = |s: &str| Uri::parse(s).unwrap();
    assert!(contact_unreachable(&u("sip:a@10.1.2.3"), &f));
    assert!(
        contact_unreachable(&u("sip:a@100.64.0.9:5060"), &f),
        "RFC 6598"
    );
    assert!(contact_unreachable(&u("sip:a@[fd00::1]"), &f), "ULA");
    assert!(contact_unreachable(&u("sip:a@198.51.100.7;ob"), &f), "ob");
    assert!(!contact_unreachable(&u("sip:a@198.51.100.7"), &f), "public");
    assert!(!contact_unreachable(&u("sip:a@pc.example.com"), &f));
    // on the same LAN a private address is the source itself
    let lan = flow(Transport::Udp, "10.1.2.3:5060");
    assert!(!contact_unreachable(&u("sip:a@10.1.2.3"), &lan));
    assert!(behind_nat(&msg("10.1.2.3:5060", "<sip:a@10.1.2.3>"), &f));
    assert!(!behind_nat(
        &msg("203.0.113.5:40000", "<sip:a@203.0.113.5:40000>"),
        &f
    ));
}

#[test]
fn internal_ranges() {
    for a in [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "100.127.255.1",
        "169.254.1.1",
        "127.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
    ] {
        assert!(is_internal(a.parse().unwrap()), "{a}");
    }
    for a in ["100.128.0.1", "8.8.8.8", "172.32.0.1", "2001:db8::1"] {
        assert!(!is_internal(a.parse().unwrap()), "{a}");
    }
}
