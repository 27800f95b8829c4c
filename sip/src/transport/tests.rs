//! Transport tests on loopback sockets (port 0): UDP on IPv4 and IPv6, TCP with connection
//! reuse both ways, the outbound source-port range, TLS, RFC 5626 keep-alive, bad frames.

use super::*;
use std::io::{Read, Write};
use std::time::Duration;

fn config(listeners: Vec<ListenerSpec>, outbound: RangeInclusive<u16>) -> TransportConfig {
    let tls = listeners
        .iter()
        .any(|l| l.kind == Transport::Tls)
        .then(|| TlsMaterial::self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap());
    TransportConfig {
        listeners,
        outbound_ports: outbound,
        idle_timeout: Duration::from_secs(60),
        max_message_size: 65535,
        max_headers: 64,
        max_connections: 100,
        max_connections_per_ip: 50,
        tls,
        trusted_ca: None,
        verify_outbound: false,
        guard: std::sync::Arc::new(std::sync::Mutex::new(causeway_guard::Guard::new(
            &causeway_config::Protection::default(),
        ))),
        message_timeout: Duration::from_secs(10),
        udp_io: causeway_config::IoPath::Epoll,
        udp_batch: Duration::ZERO,
        udp_thread: false,
    }
}

fn listen(kind: Transport, addr: &str) -> ListenerSpec {
    ListenerSpec {
        kind,
        addr: addr.parse().unwrap(),
        mtls: false,
    }
}

fn msg(n: u32) -> Vec<u8> {
    format!("OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK{n}\r\nContent-Length: 0\r\n\r\n")
        .into_bytes()
}

async fn next_message(rx: &mut mpsc::Receiver<TransportEvent>) -> Received {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(TransportEvent::Message(m))) => return m,
            Ok(Some(_)) => continue,
            other => panic!("no message: {other:?}"),
        }
    }
}

fn addr_of(h: &TransportHandle, kind: Transport, v6: bool) -> SocketAddr {
    h.local_addrs()
        .into_iter()
        .find(|(k, a, _)| *k == kind && a.is_ipv6() == v6)
        .map(|(_, a, _)| a)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_round_trip_on_ipv4_and_ipv6() {
    let (h, mut rx) = start(config(
        vec![
            listen(Transport::Udp, "127.0.0.1:0"),
            listen(Transport::Udp, "[::1]:0"),
        ],
        41000..=41049,
    ))
    .await
    .unwrap();
    for v6 in [false, true] {
        let client = std::net::UdpSocket::bind(if v6 { "[::1]:0" } else { "127.0.0.1:0" }).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        client
            .send_to(&msg(1), addr_of(&h, Transport::Udp, v6))
            .unwrap();
        let m = next_message(&mut rx).await;
        assert_eq!(m.kind, Transport::Udp);
        assert_eq!(m.remote, client.local_addr().unwrap());
        h.send(Transmit {
            kind: Transport::Udp,
            dest: m.remote,
            data: Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"),
            conn: None,
            server_name: None,
            token: 0,
            reuse_only: false,
            client_tls: None,
            local: None,
        });
        let mut buf = [0u8; 100];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"SIP/2.0 200 OK\r\n\r\n");
        assert_eq!(
            from,
            addr_of(&h, Transport::Udp, v6),
            "sent from the SIP port"
        );
    }
    h.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3261_18_tcp_connection_is_reused_both_ways() {
    let (h, mut rx) = start(config(
        vec![listen(Transport::Tcp, "127.0.0.1:0")],
        41050..=41099,
    ))
    .await
    .unwrap();
    let server = addr_of(&h, Transport::Tcp, false);
    let mut c = std::net::TcpStream::connect(server).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    c.write_all(&msg(2)).unwrap();
    let m = next_message(&mut rx).await;
    assert!(m.conn.is_some());
    // a response on the request's connection, then a new request to the same peer: one connection
    for data in [
        &b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"[..],
        &msg(3)[..],
    ] {
        h.send(Transmit {
            kind: Transport::Tcp,
            dest: m.remote,
            data: Bytes::copy_from_slice(data),
            conn: if data.starts_with(b"SIP/") {
                m.conn
            } else {
                None
            },
            server_name: None,
            token: 0,
            reuse_only: false,
            client_tls: None,
            local: None,
        });
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < 37 + msg(3).len() {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.ends_with(&msg(3)));
    assert_eq!(h.connection_count(), 1);
    // RFC 5626 keep-alive: a double CRLF is answered with one CRLF
    c.write_all(b"\r\n\r\n").unwrap();
    let n = c.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"\r\n");
    h.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_connections_use_the_configured_source_ports() {
    let (server, mut srx) = start(config(
        vec![listen(Transport::Tcp, "127.0.0.1:0")],
        41100..=41149,
    ))
    .await
    .unwrap();
    let (client, _crx) = start(config(
        vec![listen(Transport::Udp, "127.0.0.1:0")],
        41150..=41199,
    ))
    .await
    .unwrap();
    for n in 0..2 {
        client.send(Transmit {
            kind: Transport::Tcp,
            dest: addr_of(&server, Transport::Tcp, false),
            data: Bytes::from(msg(10 + n)),
            conn: None,
            server_name: None,
            token: 7,
            reuse_only: false,
            client_tls: None,
            local: None,
        });
    }
    let a = next_message(&mut srx).await;
    let b = next_message(&mut srx).await;
    assert!(
        (41150..=41199).contains(&a.remote.port()),
        "source port {}",
        a.remote.port()
    );
    assert_eq!(
        a.remote, b.remote,
        "the second request reuses the connection"
    );
    assert_eq!(client.connection_count(), 1);
    server.shutdown();
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip_and_send_failure_is_reported() {
    let (server, mut srx) = start(config(
        vec![listen(Transport::Tls, "127.0.0.1:0")],
        41200..=41249,
    ))
    .await
    .unwrap();
    let (client, mut crx) = start(config(
        vec![listen(Transport::Udp, "127.0.0.1:0")],
        41250..=41299,
    ))
    .await
    .unwrap();
    client.send(Transmit {
        kind: Transport::Tls,
        dest: addr_of(&server, Transport::Tls, false),
        data: Bytes::from(msg(20)),
        conn: None,
        server_name: Some("localhost".into()),
        token: 1,
        reuse_only: false,
        client_tls: None,
        local: None,
    });
    let m = next_message(&mut srx).await;
    assert_eq!(m.kind, Transport::Tls);
    assert_eq!(&m.data[..], &msg(20)[..]);
    // nobody listens here: the failure comes back with the token. The port stays bound (not
    // listening: the kernel refuses connections to it) for the whole test, so no other test
    // running beside this one can start listening there (that made the send succeed)
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let dead = closed.local_addr().unwrap();
    client.send(Transmit {
        kind: Transport::Tcp,
        dest: dead,
        data: Bytes::from(msg(21)),
        conn: None,
        server_name: None,
        token: 99,
        reuse_only: false,
        client_tls: None,
        local: None,
    });
    let ev = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(TransportEvent::SendFailed { token, .. }) = crx.recv().await {
                return token;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(ev, 99);
    server.shutdown();
    client.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_frame_closes_only_its_connection() {
    let (h, mut rx) = start(config(
        vec![listen(Transport::Tcp, "127.0.0.1:0")],
        41300..=41349,
    ))
    .await
    .unwrap();
    let server = addr_of(&h, Transport::Tcp, false);
    let mut good = std::net::TcpStream::connect(server).unwrap();
    let mut bad = std::net::TcpStream::connect(server).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    bad.write_all(b"OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(bad.read(&mut buf).unwrap_or(0), 0, "closed");
    good.write_all(&msg(30)).unwrap();
    let m = next_message(&mut rx).await;
    assert_eq!(&m.data[..], &msg(30)[..]);
    assert_eq!(h.stats().bad_frames.load(Ordering::Relaxed), 1);
    h.shutdown();
}

/// RFC 5626 4.4.2: a STUN Binding request on the SIP UDP port is answered with the client's
/// address from that port, and the core never sees it; the next SIP datagram still does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stun_keep_alive_is_answered_on_the_sip_port() {
    let (h, mut rx) = start(config(
        vec![listen(Transport::Udp, "127.0.0.1:0")],
        41100..=41149,
    ))
    .await
    .unwrap();
    let server = addr_of(&h, Transport::Udp, false);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut req = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    req.extend_from_slice(b"keepalive-01");
    client.send_to(&req, server).unwrap();
    let mut buf = [0u8; 512];
    let (n, from) = client.recv_from(&mut buf).expect("a STUN answer");
    assert_eq!(from, server, "from the SIP port itself");
    let a = &buf[..n];
    assert_eq!(&a[..2], &[0x01, 0x01], "Binding success");
    assert_eq!(&a[8..20], b"keepalive-01");
    // XOR-MAPPED-ADDRESS, IPv4: port and address XORed with the magic cookie
    assert_eq!(&a[20..24], &[0x00, 0x20, 0x00, 0x08]);
    let me = client.local_addr().unwrap();
    let port = u16::from_be_bytes([a[26], a[27]]) ^ 0x2112;
    let ip = std::net::Ipv4Addr::new(a[28] ^ 0x21, a[29] ^ 0x12, a[30] ^ 0xa4, a[31] ^ 0x42);
    assert_eq!(SocketAddr::from((ip, port)), me);
    // the counter moves just after the send the client already saw
    let end = std::time::Instant::now() + Duration::from_secs(2);
    while h.stats().stun_answered.load(Ordering::Relaxed) != 1 {
        assert!(std::time::Instant::now() < end, "STUN answers not counted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // the core saw nothing of it, and SIP still gets through
    client.send_to(&msg(9), server).unwrap();
    let m = next_message(&mut rx).await;
    assert!(m.data.starts_with(b"OPTIONS "), "{:?}", m.data);
}

/// `[protection]`: a blocked source gets nothing at all, not even what a transaction from
/// before its block would send it (the flood benchmark found retransmitted 404s going out to
/// a blocked flooder); a request towards it fails at once; others are served as ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_to_a_blocked_source() {
    let cfg = config(vec![listen(Transport::Udp, "127.0.0.1:0")], 41300..=41349);
    let guard = cfg.guard.clone();
    let (h, mut rx) = start(cfg).await.unwrap();
    let blocked = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&blocked, &other] {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    // garbage over the budget blocks 127.0.0.2
    let now = std::time::Instant::now();
    for _ in 0..1000 {
        let mut g = guard.lock().unwrap();
        g.handle(
            "127.0.0.2".parse().unwrap(),
            Input::Report(Report::Garbage),
            now,
        );
    }
    assert!(h.is_blocked("127.0.0.2".parse().unwrap(), std::time::Instant::now()));
    let to = |s: &std::net::UdpSocket, token: u64| Transmit {
        kind: Transport::Udp,
        dest: s.local_addr().unwrap(),
        data: Bytes::from_static(b"SIP/2.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        conn: None,
        server_name: None,
        token,
        reuse_only: false,
        client_tls: None,
        local: None,
    };
    h.send(to(&blocked, 0));
    h.send(to(&blocked, 42));
    h.send(to(&other, 0));
    let mut buf = [0u8; 512];
    assert!(other.recv_from(&mut buf).is_ok(), "others are served");
    assert!(
        blocked.recv_from(&mut buf).is_err(),
        "the blocked source got a datagram"
    );
    assert_eq!(h.stats().withheld.load(Ordering::Relaxed), 2);
    match tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
        Ok(Some(TransportEvent::SendFailed { token: 42, error })) => {
            assert!(error.contains("blocked"), "{error}")
        }
        other => panic!("no SendFailed for the request: {other:?}"),
    }
}
