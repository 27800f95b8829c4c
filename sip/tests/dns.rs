//! RFC 3263 server location against a real DNS server: hickory-server, in this process, on
//! 127.0.0.1 (UDP and TCP on one free port), authoritative for `example.test.` with NAPTR, SRV,
//! A and AAAA records shaped like the reference appendices 4 and 5. No other network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use causeway_config::Transport;
use causeway_sip::dns::{DnsError, Hop, SipResolver, SipTarget};
use hickory_proto::rr::rdata::{A, AAAA, NAPTR, SOA, SRV};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::authority::{AuthorityObject, Catalog, ZoneType};
use hickory_server::store::in_memory::InMemoryAuthority;
use hickory_server::ServerFuture;
use tokio::net::{TcpListener, UdpSocket};

const ZONE: &str = "example.test.";
const SERIAL: u32 = 1;
/// Long enough that nothing expires during a test, except where a test says otherwise.
const TTL: u32 = 3600;

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

/// Records of the test zone, written like a zone file: (owner, TTL, data).
fn zone_records() -> Vec<Record> {
    let mut r = Vec::new();
    let mut add = |owner: &str, ttl: u32, data: RData| {
        r.push(Record::from_rdata(name(owner), ttl, data));
    };
    let naptr = |order, pref, flags: &str, service: &str, replacement: &str| {
        RData::NAPTR(NAPTR::new(
            order,
            pref,
            flags.as_bytes().into(),
            service.as_bytes().into(),
            Box::default(),
            name(replacement),
        ))
    };
    let srv =
        |prio, weight, port, target: &str| RData::SRV(SRV::new(prio, weight, port, name(target)));
    let a = |s: &str| RData::A(A(s.parse().expect("v4")));
    let aaaa = |s: &str| RData::AAAA(AAAA(s.parse().expect("v6")));

    // Negative answers are cached for the SOA minimum (RFC 2308): keep it short.
    add(
        ZONE,
        TTL,
        RData::SOA(SOA::new(
            name("ns.example.test."),
            name("hostmaster.example.test."),
            SERIAL,
            60,
            60,
            60,
            1,
        )),
    );

    // full: appendix 5's NAPTR set (TLS at order 10, TCP 12, UDP 14) plus records a SIP client
    // must skip, each replacement an SRV set (appendix 4 style) to its own server.
    add(
        "full.example.test.",
        TTL,
        naptr(14, 100, "s", "SIP+D2U", "_sip._udp.full.example.test."),
    );
    add(
        "full.example.test.",
        TTL,
        naptr(10, 100, "s", "http+I2R", "_http._tcp.full.example.test."),
    );
    add(
        "full.example.test.",
        TTL,
        naptr(12, 100, "s", "SIP+D2T", "_sip._tcp.full.example.test."),
    );
    add(
        "full.example.test.",
        TTL,
        naptr(10, 100, "s", "SIPS+D2T", "_sips._tcp.full.example.test."),
    );
    add(
        "full.example.test.",
        TTL,
        naptr(5, 100, "u", "E2U+sip", "."),
    );
    add(
        "_sips._tcp.full.example.test.",
        TTL,
        srv(1, 1, 5061, "tls1.example.test."),
    );
    add(
        "_sip._tcp.full.example.test.",
        TTL,
        srv(1, 1, 5060, "tcp1.example.test."),
    );
    add(
        "_sip._udp.full.example.test.",
        TTL,
        srv(1, 1, 5060, "udp1.example.test."),
    );
    add("tls1.example.test.", TTL, a("192.0.2.11"));
    add("tls1.example.test.", TTL, aaaa("2001:db8::11"));
    add("tcp1.example.test.", TTL, a("192.0.2.12"));
    add("udp1.example.test.", TTL, a("192.0.2.13"));

    // prio: three servers weighted 60/30/10 at priority 10 and a backup at 20, over TCP. Its
    // NAPTR points at UDP only, so a TCP hop proves that NAPTR was skipped.
    add(
        "prio.example.test.",
        TTL,
        naptr(10, 10, "s", "SIP+D2U", "_sip._udp.prio.example.test."),
    );
    add(
        "_sip._udp.prio.example.test.",
        TTL,
        srv(1, 1, 5060, "udp1.example.test."),
    );
    add(
        "_sip._tcp.prio.example.test.",
        TTL,
        srv(20, 0, 5060, "backup.example.test."),
    );
    add(
        "_sip._tcp.prio.example.test.",
        TTL,
        srv(10, 10, 5060, "w10.example.test."),
    );
    add(
        "_sip._tcp.prio.example.test.",
        TTL,
        srv(10, 60, 5060, "w60.example.test."),
    );
    add(
        "_sip._tcp.prio.example.test.",
        TTL,
        srv(10, 30, 5060, "w30.example.test."),
    );
    add("w60.example.test.", TTL, a("192.0.2.60"));
    add("w30.example.test.", TTL, a("192.0.2.30"));
    add("w10.example.test.", TTL, a("192.0.2.10"));
    add("backup.example.test.", TTL, a("192.0.2.99"));

    // port: everything published, so that only A/AAAA in the answer shows what was asked.
    add(
        "port.example.test.",
        TTL,
        naptr(10, 10, "s", "SIPS+D2T", "_sips._tcp.full.example.test."),
    );
    add(
        "_sip._udp.port.example.test.",
        TTL,
        srv(1, 1, 5060, "udp1.example.test."),
    );
    add("port.example.test.", TTL, a("192.0.2.40"));
    add("port.example.test.", TTL, aaaa("2001:db8::40"));

    // srvonly: no NAPTR; SRV for TCP and TLS only; and an A record that must not be used.
    add(
        "_sip._tcp.srvonly.example.test.",
        TTL,
        srv(1, 1, 5070, "tcp1.example.test."),
    );
    add(
        "_sips._tcp.srvonly.example.test.",
        TTL,
        srv(1, 1, 5071, "tls1.example.test."),
    );
    add("srvonly.example.test.", TTL, a("192.0.2.41"));

    // aonly: neither NAPTR nor SRV.
    add("aonly.example.test.", TTL, a("192.0.2.50"));
    add("aonly.example.test.", TTL, aaaa("2001:db8::50"));

    // down: RFC 2782 "." says UDP SIP is decidedly not offered; the A record is not a
    // fallback for it.
    add("_sip._udp.down.example.test.", TTL, srv(0, 0, 0, "."));
    add("down.example.test.", TTL, a("192.0.2.70"));

    // short: a one-second TTL, for the cache test.
    add("short.example.test.", 1, a("192.0.2.80"));

    r
}

/// A DNS server for `example.test.` on 127.0.0.1, UDP and TCP on the same port. Dropping it
/// leaves the server task running until the test runtime ends.
struct TestDns {
    addr: SocketAddr,
    authority: Arc<InMemoryAuthority>,
    _server: ServerFuture<Catalog>,
}

async fn start_dns() -> TestDns {
    let mut authority = InMemoryAuthority::empty(name(ZONE), ZoneType::Primary, false);
    for record in zone_records() {
        assert!(
            authority.upsert_mut(record, SERIAL),
            "record refused by the test zone"
        );
    }
    let authority = Arc::new(authority);
    let mut catalog = Catalog::new();
    let object: Arc<dyn AuthorityObject> = authority.clone();
    catalog.upsert(LowerName::new(&name(ZONE)), vec![object]);

    // One port for both: take a free UDP port, then the same number for TCP (retry if taken).
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind udp");
        let port = udp.local_addr().expect("udp addr").port();
        if let Ok(tcp) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().expect("udp addr");
    let mut server = ServerFuture::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5));
    TestDns {
        addr,
        authority,
        _server: server,
    }
}

async fn setup() -> (TestDns, SipResolver) {
    let dns = start_dns().await;
    let resolver = SipResolver::new(&[dns.addr]).expect("resolver");
    (dns, resolver)
}

fn sip(host: &str) -> SipTarget {
    SipTarget {
        host: host.into(),
        port: None,
        transport: None,
        secure: false,
    }
}

fn sips(host: &str) -> SipTarget {
    SipTarget {
        secure: true,
        ..sip(host)
    }
}

fn hop(transport: Transport, addr: &str, server_name: &str) -> Hop {
    Hop {
        transport,
        addr: addr.parse().expect("test addr"),
        server_name: server_name.into(),
    }
}

#[tokio::test]
async fn rfc3263_4_1_naptr_order_gives_tls_then_tcp_then_udp() {
    let (_dns, r) = setup().await;
    let hops = r.resolve(&sip("full.example.test")).await;
    let d = "full.example.test";
    assert_eq!(
        hops,
        Ok(vec![
            hop(Transport::Tls, "192.0.2.11:5061", d),
            hop(Transport::Tls, "[2001:db8::11]:5061", d),
            hop(Transport::Tcp, "192.0.2.12:5060", d),
            hop(Transport::Udp, "192.0.2.13:5060", d),
        ])
    );
}

#[tokio::test]
async fn rfc3263_4_1_sips_keeps_only_sips_d2t() {
    let (_dns, r) = setup().await;
    // Upper case and a trailing dot name the same domain; the TLS identity is normalised.
    let hops = r.resolve(&sips("Full.Example.Test.")).await;
    let d = "full.example.test";
    assert_eq!(
        hops,
        Ok(vec![
            hop(Transport::Tls, "192.0.2.11:5061", d),
            hop(Transport::Tls, "[2001:db8::11]:5061", d),
        ])
    );
}

#[tokio::test]
async fn rfc2782_priority_order_and_backup_last() {
    let (_dns, r) = setup().await;
    let target = SipTarget {
        transport: Some(Transport::Tcp),
        ..sip("prio.example.test")
    };
    for _ in 0..20 {
        let hops = r.resolve(&target).await.expect("hops");
        let addrs: Vec<IpAddr> = hops.iter().map(|h| h.addr.ip()).collect();
        assert_eq!(addrs.len(), 4, "{hops:?}");
        assert_eq!(
            addrs[3],
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99)),
            "{hops:?}"
        );
        assert!(hops
            .iter()
            .all(|h| h.transport == Transport::Tcp && h.addr.port() == 5060));
        assert!(hops.iter().all(|h| h.server_name == "prio.example.test"));
    }
}

#[tokio::test]
async fn rfc2782_weights_60_30_10_over_real_dns() {
    let (_dns, r) = setup().await;
    let target = SipTarget {
        transport: Some(Transport::Tcp),
        ..sip("prio.example.test")
    };
    // The answers come from the cache after the first round; the order is drawn afresh each
    // time (thread RNG), so the first-pick shares follow the weights.
    let rounds = 2_000;
    let mut first = [0u32; 3];
    for _ in 0..rounds {
        let hops = r.resolve(&target).await.expect("hops");
        match hops.first().map(|h| h.addr.ip().to_string()).as_deref() {
            Some("192.0.2.60") => first[0] += 1,
            Some("192.0.2.30") => first[1] += 1,
            Some("192.0.2.10") => first[2] += 1,
            other => panic!("unexpected first hop {other:?}"),
        }
    }
    let share = |n: u32| f64::from(n) / f64::from(rounds);
    // About 5 standard deviations of slack at 2000 draws.
    assert!((share(first[0]) - 0.60).abs() < 0.06, "{first:?}");
    assert!((share(first[1]) - 0.30).abs() < 0.06, "{first:?}");
    assert!((share(first[2]) - 0.10).abs() < 0.05, "{first:?}");
}

#[tokio::test]
async fn rfc3263_4_2_explicit_port_skips_naptr_and_srv() {
    let (_dns, r) = setup().await;
    let d = "port.example.test";
    let target = SipTarget {
        port: Some(5080),
        ..sip(d)
    };
    assert_eq!(
        r.resolve(&target).await,
        Ok(vec![
            hop(Transport::Udp, "192.0.2.40:5080", d),
            hop(Transport::Udp, "[2001:db8::40]:5080", d),
        ])
    );
    let target = SipTarget {
        port: Some(5081),
        ..sips(d)
    };
    assert_eq!(
        r.resolve(&target).await,
        Ok(vec![
            hop(Transport::Tls, "192.0.2.40:5081", d),
            hop(Transport::Tls, "[2001:db8::40]:5081", d),
        ])
    );
}

#[tokio::test]
async fn rfc3263_4_1_explicit_transport_skips_naptr() {
    let (_dns, r) = setup().await;
    // prio's NAPTR says UDP only; transport=tcp must go straight to _sip._tcp.
    let target = SipTarget {
        transport: Some(Transport::Tcp),
        ..sip("prio.example.test")
    };
    let hops = r.resolve(&target).await.expect("hops");
    assert!(
        hops.iter().all(|h| h.transport == Transport::Tcp),
        "{hops:?}"
    );
    // Without a transport the same domain follows its NAPTR to UDP.
    assert_eq!(
        r.resolve(&sip("prio.example.test")).await,
        Ok(vec![hop(
            Transport::Udp,
            "192.0.2.13:5060",
            "prio.example.test"
        )])
    );
}

#[tokio::test]
async fn rfc3263_4_2_explicit_transport_without_srv_uses_address_and_default_port() {
    let (_dns, r) = setup().await;
    let target = SipTarget {
        transport: Some(Transport::Tls),
        ..sip("aonly.example.test")
    };
    let d = "aonly.example.test";
    assert_eq!(
        r.resolve(&target).await,
        Ok(vec![
            hop(Transport::Tls, "192.0.2.50:5061", d),
            hop(Transport::Tls, "[2001:db8::50]:5061", d),
        ])
    );
}

#[tokio::test]
async fn rfc3263_4_1_no_naptr_falls_back_to_srv_per_transport() {
    let (_dns, r) = setup().await;
    let d = "srvonly.example.test";
    // sip: UDP (none published), then TCP, then TLS; the domain's own A record is not used
    // because SRV records exist.
    assert_eq!(
        r.resolve(&sip(d)).await,
        Ok(vec![
            hop(Transport::Tcp, "192.0.2.12:5070", d),
            hop(Transport::Tls, "192.0.2.11:5071", d),
            hop(Transport::Tls, "[2001:db8::11]:5071", d),
        ])
    );
    assert_eq!(
        r.resolve(&sips(d)).await,
        Ok(vec![
            hop(Transport::Tls, "192.0.2.11:5071", d),
            hop(Transport::Tls, "[2001:db8::11]:5071", d),
        ])
    );
}

#[tokio::test]
async fn rfc3263_4_1_no_naptr_no_srv_falls_back_to_address_records() {
    let (_dns, r) = setup().await;
    let d = "aonly.example.test";
    assert_eq!(
        r.resolve(&sip(d)).await,
        Ok(vec![
            hop(Transport::Udp, "192.0.2.50:5060", d),
            hop(Transport::Udp, "[2001:db8::50]:5060", d),
        ])
    );
    assert_eq!(
        r.resolve(&sips(d)).await,
        Ok(vec![
            hop(Transport::Tls, "192.0.2.50:5061", d),
            hop(Transport::Tls, "[2001:db8::50]:5061", d),
        ])
    );
}

#[tokio::test]
async fn rfc2782_dot_target_means_not_available_and_no_address_fallback() {
    let (_dns, r) = setup().await;
    let target = SipTarget {
        transport: Some(Transport::Udp),
        ..sip("down.example.test")
    };
    assert!(
        matches!(r.resolve(&target).await, Err(DnsError::NotFound(_))),
        "the A record of down.example.test must not be used"
    );
}

#[tokio::test]
async fn nxdomain_is_not_found() {
    let (_dns, r) = setup().await;
    let got = r.resolve(&sip("nosuch.example.test")).await;
    assert!(matches!(got, Err(DnsError::NotFound(_))), "{got:?}");
    let got = r
        .resolve(&SipTarget {
            port: Some(5060),
            ..sip("nosuch.example.test")
        })
        .await;
    assert!(matches!(got, Err(DnsError::NotFound(_))), "{got:?}");
}

#[tokio::test]
async fn refused_is_failed_not_not_found() {
    // The server is authoritative for example.test only and refuses other zones: "DNS did not
    // say", which the caller must not treat as "does not exist".
    let (_dns, r) = setup().await;
    let got = r.resolve(&sip("elsewhere.test")).await;
    assert!(matches!(got, Err(DnsError::Failed(_))), "{got:?}");
}

#[tokio::test]
async fn ip_literal_makes_no_query() {
    // A "name server" that is a socket nobody answers: any query would land in it.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let r = SipResolver::new(&[silent.local_addr().expect("addr")]).expect("resolver");
    assert_eq!(
        r.resolve(&sip("192.0.2.1")).await,
        Ok(vec![hop(Transport::Udp, "192.0.2.1:5060", "192.0.2.1")])
    );
    assert_eq!(
        r.resolve(&sips("2001:db8::1")).await,
        Ok(vec![hop(
            Transport::Tls,
            "[2001:db8::1]:5061",
            "2001:db8::1"
        )])
    );
    let mut buf = [0u8; 512];
    assert!(
        silent.try_recv(&mut buf).is_err(),
        "an IP literal must not cause a DNS query"
    );
}

#[tokio::test]
async fn ttl_is_honoured_by_the_cache() {
    let (dns, r) = setup().await;
    let target = SipTarget {
        port: Some(5060),
        ..sip("short.example.test")
    };
    let one = vec![hop(Transport::Udp, "192.0.2.80:5060", "short.example.test")];
    assert_eq!(r.resolve(&target).await, Ok(one.clone()));

    // The zone changes; within the 1 s TTL the cached answer still stands...
    let added = Record::from_rdata(
        name("short.example.test."),
        1,
        RData::A(A(Ipv4Addr::new(192, 0, 2, 81))),
    );
    assert!(dns.authority.upsert(added, SERIAL + 1).await);
    assert_eq!(r.resolve(&target).await, Ok(one));

    // ...and after it expires the resolver asks again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let hops = r.resolve(&target).await.expect("hops");
    let mut ips: Vec<IpAddr> = hops.iter().map(|h| h.addr.ip()).collect();
    ips.sort();
    assert_eq!(
        ips,
        vec![
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80)),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 81))
        ]
    );
}

#[test]
fn resolve_future_is_send_and_resolver_is_cheap_to_share() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    assert_clone_send_sync::<SipResolver>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let r = SipResolver::new(&[SocketAddr::from((Ipv6Addr::LOCALHOST, 9))]).expect("resolver");
        let target = sip("192.0.2.1");
        let fut = r.resolve(&target);
        assert_send(&fut);
        assert!(fut.await.is_ok());
    });
}

#[tokio::test]
async fn unanswered_query_ends_the_walk_with_failed() {
    use hickory_proto::op::Message;
    use hickory_proto::rr::RecordType;

    // A name server that reads queries, notes their types and never answers.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let r = SipResolver::new(&[silent.local_addr().expect("addr")]).expect("resolver");
    let seen = Arc::new(std::sync::Mutex::new(Vec::<RecordType>::new()));
    let noted = seen.clone();
    let listener = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok(n) = silent.recv(&mut buf).await {
            let Some(bytes) = buf.get(..n) else { break };
            if let (Ok(msg), Ok(mut noted)) = (Message::from_vec(bytes), noted.lock()) {
                noted.extend(msg.queries().iter().map(|q| q.query_type()));
            }
        }
    });

    let started = std::time::Instant::now();
    let got = r.resolve(&sip("silent.example.test")).await;
    let took = started.elapsed();
    listener.abort();
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(matches!(got, Err(DnsError::Failed(_))), "{got:?}");
    // The NAPTR query went unanswered, so no SRV, A or AAAA query followed it: the cost is one
    // query's tries (about 6 s), not six queries' (about 36 s).
    assert!(
        !seen.is_empty() && seen.iter().all(|t| *t == RecordType::NAPTR),
        "{seen:?}"
    );
    assert!(took < Duration::from_secs(12), "took {took:?}");
}
