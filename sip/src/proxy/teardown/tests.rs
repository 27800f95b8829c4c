//! Unit tests of `sip/src/proxy/teardown.rs`.

use super::*;
use bytes::Bytes;

fn msg(text: &str) -> Message {
    Message::parse(Bytes::from(text.replace('\n', "\r\n"))).expect("parses")
}

#[test]
fn rfc3261_12_2_1_1_each_side_gets_the_route_set_between_us_and_it() {
    let invite = msg("INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
From: <sip:alice@example.net>;tag=a1
To: <sip:bob@example.com>
Call-ID: td-1
CSeq: 7 INVITE
Contact: <sip:alice@192.0.2.1:5070>
Content-Length: 0

");
    // top = nearest the callee: a proxy beyond us, our two entries (the one facing the
    // caller names the link it came in on), a proxy before us
    let ok = msg("SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
Record-Route: <sip:far.example.com;lr>
Record-Route: <sip:us.example.com:5060;transport=udp;lr;cw-flow=0abc>
Record-Route: <sip:us.example.com:7001;transport=tls;lr;cw-link=from-control>
Record-Route: <sip:near.example.net;lr>
From: <sip:alice@example.net>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: td-1
CSeq: 7 INVITE
Contact: <sip:bob@198.51.100.9:5080>
Content-Length: 0

");
    let ours = |u: &Uri| matches!(u, Uri::Sip(s) if s.host.to_string() == "us.example.com");
    let t = capture(&invite, &ok, ours).expect("we are on the route set");
    let [to_caller, to_callee] = &t.sides;
    assert_eq!(to_caller.ruri, "sip:alice@192.0.2.1:5070");
    assert_eq!(to_caller.routes, vec!["<sip:near.example.net;lr>"]);
    assert_eq!(to_caller.link.as_deref(), Some("from-control"));
    assert_eq!(to_caller.from, "<sip:bob@example.com>;tag=b1");
    assert_eq!(to_caller.to, "<sip:alice@example.net>;tag=a1");
    assert_eq!(to_callee.ruri, "sip:bob@198.51.100.9:5080");
    assert_eq!(to_callee.routes, vec!["<sip:far.example.com;lr>"]);
    assert_eq!(to_callee.link, None);
    assert_eq!(
        to_callee.flow.as_deref(),
        Some("0abc"),
        "the callee's flow token"
    );
    assert_eq!(to_caller.flow, None);
    assert_eq!(to_callee.cseq, 8, "the caller's next CSeq");
    let text = to_callee.render("td-1", "SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKx", "test");
    let bye = Message::parse(Bytes::from(text)).expect("our BYE parses");
    assert_eq!(bye.cseq().map(|(n, _)| n), Some(8));
    assert_eq!(bye.routes().len(), 1);
    match to_callee.next_hop_uri() {
        Some(Uri::Sip(u)) => assert_eq!(u.host.to_string(), "far.example.com"),
        other => panic!("next hop: {other:?}"),
    }
    // not on the route set: nothing to tear down
    assert!(capture(&invite, &ok, |_| false).is_none());
}
