//! Malformed input on every transport: garbage is dropped, a request with a broken header gets
//! 400 with a reason naming the fault, a bad stream frame closes only its own connection, and
//! afterwards the node still answers and still completes a call.

use causeway_tests::{
    crlf, register, sipp_uac, sipp_uas, status, Node, NodeOptions, StreamClient, UdpClient,
};
use std::time::Duration;

fn broken_to(transport: &str, local: std::net::SocketAddr, n: u32) -> String {
    crlf(&format!(
        "OPTIONS sip:bob@example.com SIP/2.0
Via: SIP/2.0/{transport} {local};branch=z9hG4bKbad{n}
Max-Forwards: 70
From: <sip:alice@example.com>;tag=x
To: \"Mr. J. User <sip:bob@example.com>
Call-ID: broken-{n}@test
CSeq: 1 OPTIONS
Content-Length: 0

"
    ))
}

fn options(
    transport: &str,
    local: std::net::SocketAddr,
    target: std::net::SocketAddr,
    n: u32,
) -> String {
    crlf(&format!(
        "OPTIONS sip:{target} SIP/2.0
Via: SIP/2.0/{transport} {local};branch=z9hG4bKok{n}
Max-Forwards: 70
From: <sip:probe@example.com>;tag=p
To: <sip:{target}>
Call-ID: ok-{n}@test
CSeq: 1 OPTIONS
Content-Length: 0

"
    ))
}

fn assert_400_names_to(r: &str) {
    assert_eq!(status(r), 400, "{r}");
    let line = r.lines().next().unwrap_or("");
    assert!(
        line.contains("To") && line.contains("quoted"),
        "reason names the fault: {line}"
    );
}

#[test]
fn malformed_input_on_udp_tcp_and_tls() {
    let node = Node::start(NodeOptions::default());

    // UDP: garbage is dropped silently, a broken To is answered 400
    let u = UdpClient::new();
    u.send(node.udp(), b"\x00\x01garbage\r\n\r\n");
    u.send(node.udp(), b"NOT SIP AT ALL");
    assert!(u.recv_all(Duration::from_millis(300)).is_empty());
    assert_400_names_to(&u.request(node.udp(), &broken_to("UDP", u.local(), 1)));

    // TCP: 400 on the same connection, which stays usable
    let mut t = StreamClient::tcp(node.udp());
    let local = t.local;
    assert_400_names_to(&t.request(&broken_to("TCP", local, 2)).expect("answer"));
    let r = t
        .request(&options("TCP", local, node.udp(), 3))
        .expect("answer");
    assert_eq!(status(&r), 200);
    // a frame without Content-Length closes only that connection
    let mut t2 = StreamClient::tcp(node.udp());
    t2.send(b"OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKncl\r\n\r\n")
        .unwrap();
    assert!(
        t2.closed(Duration::from_secs(3)),
        "bad frame closes the connection"
    );
    let r = t
        .request(&options("TCP", local, node.udp(), 4))
        .expect("other connection still up");
    assert_eq!(status(&r), 200);
    // an oversized frame too
    let mut t3 = StreamClient::tcp(node.udp());
    let _ = t3.send(&vec![b'A'; 70_000]);
    assert!(
        t3.closed(Duration::from_secs(3)),
        "oversized frame closes the connection"
    );

    // TLS: the same over a TLS connection
    let mut s = StreamClient::tls(node.tls(), None).expect("TLS handshake");
    let local = s.local;
    assert_400_names_to(&s.request(&broken_to("TLS", local, 5)).expect("answer"));
    let mut s2 = StreamClient::tls(node.tls(), None).expect("TLS handshake");
    s2.send(b"\r\nGARBAGE\r\n\r\n").unwrap();
    assert!(s2.closed(Duration::from_secs(3)));
    let r = s
        .request(&options("TLS", local, node.tls(), 6))
        .expect("answer");
    assert_eq!(status(&r), 200);

    // and a call still completes
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    register(&node, "bob", uas_port);
    let out = sipp_uac(&node, "uac_call.xml", "bob", "u1", 2, 10);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
