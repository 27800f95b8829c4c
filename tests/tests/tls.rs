//! TLS and MTLS (rustls on both sides): a call whose caller is on TLS and whose callee is a sipp
//! UAS on UDP, so the proxy record-routes twice (RFC 3261 16.6 item 4 with a transport change);
//! MTLS accepts a client certificate signed by `trusted_ca` and refuses a client without one.

use causeway_tests::{
    crlf, header_values, make_ca_and_client, record_routes, register, sipp_uas, status, Node,
    NodeOptions, StreamClient,
};
use std::time::Duration;

#[test]
fn tls_caller_to_udp_callee_with_double_record_route() {
    let node = Node::start(NodeOptions::default());
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    register(&node, "bob", uas_port);
    let mut c = StreamClient::tls(node.tls(), None).expect("TLS handshake");
    let local = c.local;
    let invite = crlf(&format!(
        "INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/TLS {local};branch=z9hG4bKtls1
Max-Forwards: 70
From: <sip:alice@example.com>;tag=tl1
To: <sip:bob@example.com>
Call-ID: tls-call-1
CSeq: 1 INVITE
Contact: <sip:alice@{local};transport=tls>
Content-Length: 0

"
    ));
    let ok = c.request(&invite).expect("final response over TLS");
    assert_eq!(status(&ok), 200, "{ok}\n{}", node.log());
    let rr = record_routes(&ok);
    assert_eq!(rr.len(), 2, "double Record-Route: {ok}");
    assert!(
        rr[0].contains("transport=udp") && rr[1].contains("transport=tls"),
        "{rr:?}"
    );
    let to = header_values(&ok, "To")[0].clone();
    let remote = header_values(&ok, "Contact")[0]
        .trim_matches(|ch| ch == '<' || ch == '>')
        .to_string();
    // the caller's route set is the Record-Route list reversed
    let route = format!("Route: {}\r\nRoute: {}\r\n", rr[1], rr[0]);
    let ack = crlf(&format!(
        "ACK {remote} SIP/2.0
Via: SIP/2.0/TLS {local};branch=z9hG4bKtls2
Max-Forwards: 70
From: <sip:alice@example.com>;tag=tl1
To: {to}
Call-ID: tls-call-1
CSeq: 1 ACK
{route}Content-Length: 0

"
    ));
    c.send(ack.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let bye = ack
        .replace("ACK ", "BYE ")
        .replace("CSeq: 1 ACK", "CSeq: 2 BYE")
        .replace("z9hG4bKtls2", "z9hG4bKtls3");
    let r = c.request(&bye).expect("BYE answered");
    assert_eq!(status(&r), 200, "{r}\n{}", node.log());
}

#[test]
fn mtls_requires_a_client_certificate_from_the_trusted_ca() {
    let dir = tempfile::tempdir().unwrap();
    let client = make_ca_and_client(dir.path());
    let ca = dir.path().join("ca.pem");
    let sip = format!("trusted_ca = \"{}\"", ca.display());
    let node = Node::start(NodeOptions {
        sip: &sip,
        mtls: true,
        ..Default::default()
    });
    let options = |local: std::net::SocketAddr| {
        crlf(&format!(
            "OPTIONS sip:127.0.0.1:{} SIP/2.0
Via: SIP/2.0/TLS {local};branch=z9hG4bKm{}
Max-Forwards: 70
From: <sip:probe@example.com>;tag=m
To: <sip:127.0.0.1:{}>
Call-ID: mtls-{}
CSeq: 1 OPTIONS
Content-Length: 0

",
            node.mtls_port,
            local.port(),
            node.mtls_port,
            local.port()
        ))
    };
    let mut good =
        StreamClient::tls(node.mtls(), Some(client)).expect("handshake with a certificate");
    let r = good.request(&options(good.local)).expect("answer");
    assert_eq!(status(&r), 200, "{r}");

    // without a certificate the server refuses: the handshake fails or the connection closes
    // before any SIP answer
    match StreamClient::tls(node.mtls(), None) {
        Err(_) => {}
        Ok(mut bad) => {
            let local = bad.local;
            let _ = bad.send(options(local).as_bytes());
            assert!(
                bad.recv(Duration::from_secs(2)).is_none(),
                "no SIP answer without a client certificate"
            );
        }
    }
    // plain TLS on the other port does not ask for one
    let mut plain = StreamClient::tls(node.tls(), None).expect("TLS handshake");
    let r = plain.request(&options(plain.local)).expect("answer");
    assert_eq!(status(&r), 200);
}
