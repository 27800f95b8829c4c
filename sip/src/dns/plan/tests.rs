//! Unit tests of `sip/src/dns/plan.rs`.

use super::*;

fn target(host: &str, port: Option<u16>, transport: Option<Transport>, secure: bool) -> SipTarget {
    SipTarget {
        host: host.to_string(),
        port,
        transport,
        secure,
    }
}

#[test]
fn rfc3263_4_1_ip_literal_needs_no_dns_and_takes_default_port() {
    let p = plan(&target("192.0.2.1", None, None, false));
    assert_eq!(
        p,
        Ok(Plan::Literal(Hop {
            transport: Transport::Udp,
            addr: "192.0.2.1:5060".parse().unwrap(),
            server_name: "192.0.2.1".into(),
        }))
    );
    let p = plan(&target("2001:db8::1", None, None, true));
    assert_eq!(
        p,
        Ok(Plan::Literal(Hop {
            transport: Transport::Tls,
            addr: "[2001:db8::1]:5061".parse().unwrap(),
            server_name: "2001:db8::1".into(),
        }))
    );
    let p = plan(&target(
        "[2001:db8::1]",
        Some(5070),
        Some(Transport::Tcp),
        false,
    ));
    assert_eq!(
        p,
        Ok(Plan::Literal(Hop {
            transport: Transport::Tcp,
            addr: "[2001:db8::1]:5070".parse().unwrap(),
            server_name: "2001:db8::1".into(),
        }))
    );
}

#[test]
fn rfc3263_4_1_tls_transport_on_a_literal_defaults_to_5061() {
    let p = plan(&target("192.0.2.1", None, Some(Transport::Tls), false));
    assert!(matches!(p, Ok(Plan::Literal(h)) if h.addr.port() == 5061));
}

#[test]
fn rfc3263_4_2_explicit_port_skips_naptr_and_srv() {
    assert_eq!(
        plan(&target("Example.TEST.", Some(5080), None, false)),
        Ok(Plan::Address {
            domain: "example.test".into(),
            transport: Transport::Udp,
            port: 5080
        })
    );
    assert_eq!(
        plan(&target("example.test", Some(5081), None, true)),
        Ok(Plan::Address {
            domain: "example.test".into(),
            transport: Transport::Tls,
            port: 5081
        })
    );
}

#[test]
fn rfc3263_4_1_explicit_transport_skips_naptr() {
    assert_eq!(
        plan(&target("example.test", None, Some(Transport::Tcp), false)),
        Ok(Plan::Srv {
            domain: "example.test".into(),
            transport: Transport::Tcp
        })
    );
}

#[test]
fn rfc3261_26_2_2_sips_with_tcp_means_tls_and_udp_is_refused() {
    assert_eq!(
        plan(&target("example.test", None, Some(Transport::Tcp), true)),
        Ok(Plan::Srv {
            domain: "example.test".into(),
            transport: Transport::Tls
        })
    );
    assert!(matches!(
        plan(&target("example.test", None, Some(Transport::Udp), true)),
        Err(DnsError::Failed(_))
    ));
}

#[test]
fn rfc3263_4_1_neither_port_nor_transport_starts_at_naptr() {
    let p = plan(&target("example.test", None, None, true));
    assert_eq!(
        p,
        Ok(Plan::Naptr {
            domain: "example.test".into(),
            secure: true
        })
    );
}

#[test]
fn empty_host_is_not_found() {
    assert!(matches!(
        plan(&target(" . ", None, None, false)),
        Err(DnsError::NotFound(_))
    ));
}

#[test]
fn srv_fallback_order_is_documented_choice() {
    assert_eq!(srv_fallback_transports(true), &[Transport::Tls]);
    assert_eq!(
        srv_fallback_transports(false),
        &[Transport::Udp, Transport::Tcp, Transport::Tls]
    );
}
