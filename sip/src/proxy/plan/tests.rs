//! Route planning on its own (RFC 3261 16.3-16.5): a request and the node's tables in, the
//! plan out; no transaction, no output, no clock beyond the `now` handed in.

use super::{plan, Forwarding, RoutePlan, Tables};
use crate::message::{Message, Method};
use crate::proxy::cluster::ClusterPeers;
use crate::proxy::flows::FlowTokens;
use crate::proxy::identity::{Identity, NetEnv};
use crate::proxy::io::{ConnId, Flow};
use crate::proxy::links::{Link, Links, ServerZone};
use crate::registrar::{
    BindingSource, ContactInput, ContactsInput, Reach, RegisterInput, Registrar, RegistrarPolicy,
};
use bytes::Bytes;
use causeway_config::Transport;
use causeway_zones::Router;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Instant, SystemTime};

const PROXY: &str = "127.0.0.1:5060";
const ZONE_PORT: &str = "127.0.0.1:7001";
const UAC: &str = "127.0.0.1:6001";

struct Loopback;

impl NetEnv for Loopback {
    fn source_ip_for(&self, _dest: IpAddr) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
    fn is_local_ip(&self, ip: IpAddr) -> bool {
        ip.is_loopback()
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// The node's tables: example.com's registrar on 127.0.0.1:5060, E's zone `from-control` on
/// 7001 (TLS), C's zone `to-edge`.
struct Node {
    identity: Identity,
    links: Links,
    router: Router,
    registrar: Registrar,
    flows: FlowTokens,
    cluster: Option<ClusterPeers>,
    unreachable: causeway_zones::Unreachable,
    probes: crate::proxy::probe::Probes,
    now: Instant,
}

impl Node {
    fn new() -> Node {
        let domains = vec!["example.com".to_string()];
        let zone = ServerZone {
            name: "from-control".into(),
            kind: Transport::Tls,
            port: 7001,
            username: "control-1".into(),
        };
        Node {
            identity: Identity::new(
                vec![
                    (Transport::Udp, addr(PROXY)),
                    (Transport::Tls, addr(ZONE_PORT)),
                ],
                domains.clone(),
                Box::new(Loopback),
            ),
            links: Links::new(vec![zone], vec!["to-edge".into()]),
            router: Router::new(&domains),
            registrar: Registrar::new(RegistrarPolicy {
                min_expires: 60,
                max_expires: 3600,
                default_expires: 3600,
                max_bindings_per_aor: 8,
                max_aors: 100,
                stream_flow_max_expires: u32::MAX,
                flow_timer_udp: 29,
                flow_timer_stream: 120,
            }),
            flows: FlowTokens::new([7; 32]),
            cluster: None,
            unreachable: Default::default(),
            probes: Default::default(),
            now: Instant::now(),
        }
    }

    fn plan(&mut self, text: &str, flow: Flow) -> RoutePlan {
        let msg = Message::parse(Bytes::from(text.replace('\n', "\r\n"))).expect("parses");
        let mut t = Tables {
            identity: &mut self.identity,
            links: &self.links,
            router: &self.router,
            registrar: &self.registrar,
            shared_aliases: None,
            flows: &self.flows,
            interworking: None,
            cluster: self.cluster.as_ref(),
            unreachable: &self.unreachable,
            probes: &self.probes,
        };
        plan(&msg, &flow, &mut t, self.now)
    }

    fn plan_uac(&mut self, text: &str) -> RoutePlan {
        self.plan(text, udp(UAC))
    }

    fn register(&mut self, user: &str, contact: &str) {
        let input = RegisterInput {
            aor: format!("sip:{user}@example.com"),
            call_id: format!("reg-{user}"),
            cseq: 1,
            contacts: Some(ContactsInput::List(vec![ContactInput {
                uri: contact.into(),
                expires_param: None,
                q: None,
                reach: Reach::Contact,
                outbound: None,
            }])),
            expires_header: Some(600),
            path: Vec::new(),
            source: BindingSource {
                kind: Transport::Udp,
                remote: addr("127.0.0.1:6002"),
                local: "127.0.0.1:5060".parse().unwrap(),
                conn: None,
            },
        };
        self.registrar
            .register(input, self.now)
            .expect("registered");
    }
}

fn udp(remote: &str) -> Flow {
    Flow {
        kind: Transport::Udp,
        local: addr(PROXY),
        remote: addr(remote),
        conn: None,
    }
}

fn request(start: &str, extra: &str) -> String {
    format!(
        "{start} SIP/2.0
Via: SIP/2.0/UDP {UAC};branch=z9hG4bKplan1
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>
Call-ID: plan-1
CSeq: 1 {}
{extra}Content-Length: 0

",
        start.split(' ').next().unwrap_or("")
    )
}

fn forwarding(p: RoutePlan) -> Forwarding {
    match p {
        RoutePlan::Forward(f) => f,
        other => panic!("not forwarded: {other:?}"),
    }
}

#[test]
fn rfc3261_16_5_a_registered_aor_goes_to_its_contact() {
    let mut n = Node::new();
    n.register("bob", "sip:bob@127.0.0.1:6002");
    let f = forwarding(n.plan_uac(&request("INVITE sip:bob@example.com", "")));
    assert!(f.local_zone);
    assert!(f.record_route, "a dialog-creating request out of dialog");
    assert_eq!(f.targets.len(), 1);
    let t = &f.targets[0];
    assert_eq!(t.ruri.as_deref(), Some("sip:bob@127.0.0.1:6002"));
    assert_eq!(t.hop.addr, addr("127.0.0.1:6002"));
}

#[test]
fn rfc3261_16_5_an_unregistered_user_of_our_domain_is_404_saying_so() {
    let mut n = Node::new();
    match n.plan_uac(&request("INVITE sip:carol@example.com", "")) {
        RoutePlan::Reject(404, reason) => assert!(reason.contains("is not registered"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// Peer 2 of the cluster (SIP on 127.0.0.1:5070 UDP and 5071 TLS) holds `user@example.com`.
fn cluster_holding(user: &str) -> ClusterPeers {
    let aliases = causeway_zones::PeerAliases::default();
    let info = causeway_zones::PeerInfo {
        sip: vec![
            (Transport::Udp, addr("127.0.0.1:5070")),
            (Transport::Tls, addr("127.0.0.1:5071")),
        ],
        ..Default::default()
    };
    let key = format!("{user}@example.com");
    aliases.update(2, info, &[(key, Some(causeway_zones::Protocol::Sip))]);
    ClusterPeers {
        aliases,
        prefer: vec![Transport::Tls, Transport::Udp],
    }
}

#[test]
fn an_alias_registered_on_another_peer_goes_to_that_peer_after_local_contacts() {
    let mut n = Node::new();
    n.cluster = Some(cluster_holding("bob"));
    let f = forwarding(n.plan_uac(&request("INVITE sip:bob@example.com", "")));
    assert!(f.local_zone);
    assert_eq!(f.targets.len(), 1);
    assert_eq!(f.targets[0].hop.addr, addr("127.0.0.1:5071"));
    assert_eq!(f.targets[0].hop.kind, Transport::Tls);
    assert_eq!(f.targets[0].ruri.as_deref(), Some("sip:bob@example.com"));

    // registered here as well: the local contact only (a peer is asked only for aliases
    // registered nowhere here)
    n.register("bob", "sip:bob@127.0.0.1:6002");
    let f = forwarding(n.plan_uac(&request("INVITE sip:bob@example.com", "")));
    let hops: Vec<SocketAddr> = f.targets.iter().map(|t| t.hop.addr).collect();
    assert_eq!(hops, [addr("127.0.0.1:6002")]);
}

#[test]
fn a_request_a_peer_forwarded_is_not_sent_to_a_peer_again() {
    let mut n = Node::new();
    n.cluster = Some(cluster_holding("bob"));
    let from_peer = request("INVITE sip:bob@example.com", "").replace(
        &format!("Via: SIP/2.0/UDP {UAC}"),
        "Via: SIP/2.0/UDP 127.0.0.1:5070",
    );
    match n.plan(&from_peer, udp("127.0.0.1:5070")) {
        RoutePlan::Reject(404, reason) => assert!(reason.contains("is not registered"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc3261_16_3_max_forwards_zero_is_refused() {
    let mut n = Node::new();
    let zero =
        request("INVITE sip:bob@example.com", "").replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert!(matches!(n.plan_uac(&zero), RoutePlan::Reject(483, _)));
}

#[test]
fn requests_for_the_node_itself_are_local() {
    let mut n = Node::new();
    let options = request(&format!("OPTIONS sip:{PROXY}"), "");
    assert!(matches!(
        n.plan_uac(&options),
        RoutePlan::Local(Method::Options)
    ));
    let register = request("REGISTER sip:example.com", "");
    assert!(matches!(
        n.plan_uac(&register),
        RoutePlan::Local(Method::Register)
    ));
}

#[test]
fn rfc3261_16_4_strict_routing_previous_hop_is_repaired() {
    let mut n = Node::new();
    // the previous hop put our URI in the Request-URI and the real target last in Route
    let req = request(
        &format!("INVITE sip:{PROXY}"),
        "Route: <sip:bob@192.0.2.9:5070>\n",
    );
    let f = forwarding(n.plan_uac(&req));
    assert_eq!(f.routes.ruri.as_deref(), Some("sip:bob@192.0.2.9:5070"));
    assert_eq!(
        f.routes.replace,
        Some(Vec::new()),
        "the Route set is rebuilt without it"
    );
    assert_eq!(f.targets[0].hop.addr, addr("192.0.2.9:5070"));
}

#[test]
fn rfc3261_16_4_our_route_entry_facing_a_link_sends_the_request_down_it() {
    let mut n = Node::new();
    let req = request(
        "BYE sip:bob@10.0.0.5:5060",
        &format!("Route: <sip:{PROXY};lr;cw-link=to-edge>\n"),
    );
    // the link is down: 503 naming the zone
    match n.plan_uac(&req) {
        RoutePlan::Reject(503, reason) => assert!(reason.contains("`to-edge`"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let since = SystemTime::UNIX_EPOCH;
    let link = Link {
        zone: "to-edge".into(),
        kind: Transport::Tls,
        remote: addr("192.0.2.20:7001"),
        local: addr("127.0.0.1:40001"),
        conn: ConnId(4),
        since,
        refreshed: since,
    };
    n.links.set("to-edge", Some(link));
    let f = forwarding(n.plan_uac(&req));
    assert_eq!(f.routes.pop, 1, "our own entry is popped");
    let hop = &f.targets[0].hop;
    assert_eq!(hop.link.as_deref(), Some("to-edge"));
    assert_eq!(hop.conn, Some(ConnId(4)));
    assert_eq!(hop.addr, addr("192.0.2.20:7001"));
}

#[test]
fn on_a_server_zone_port_register_is_for_the_link_and_the_rest_needs_the_link() {
    let mut n = Node::new();
    let on_zone = Flow {
        kind: Transport::Tls,
        local: addr(ZONE_PORT),
        remote: addr("127.0.0.1:40009"),
        conn: Some(ConnId(9)),
    };
    let register = request("REGISTER sip:127.0.0.1:7001", "");
    match n.plan(&register, on_zone) {
        RoutePlan::LinkRegister(zone) => assert_eq!(zone, "from-control"),
        other => panic!("{other:?}"),
    }
    let invite = request("INVITE sip:bob@example.com", "");
    match n.plan(&invite, on_zone) {
        RoutePlan::Reject(403, reason) => assert!(reason.contains("from-control"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_neighbor_cluster_is_tried_peer_by_peer_a_failed_peer_last() {
    let toml = r#"
[system]
role = "control"
domain = "example.com"
[[zone]]
name = "B"
type = "neighbor"
peers = ["192.0.2.1", "192.0.2.2:5070", "192.0.2.3"]
[[search_rule]]
name = "to-b"
priority = 60
pattern_type = "suffix"
pattern = "@b.example"
target = "B"
"#;
    let cfg = causeway_config::Config::parse("t.toml", toml).unwrap();
    let mut n = Node::new();
    n.router = Router::from_config(&cfg);
    let hops = |n: &mut Node| -> Vec<SocketAddr> {
        forwarding(n.plan_uac(&request("INVITE sip:carol@b.example", "")))
            .targets
            .iter()
            .map(|t| t.hop.addr)
            .collect()
    };
    let (p1, p2, p3) = (
        addr("192.0.2.1:5060"),
        addr("192.0.2.2:5070"),
        addr("192.0.2.3:5060"),
    );
    assert_eq!(hops(&mut n), [p1, p2, p3]);
    // peer 1 did not answer: tried last while the failure is fresh, first again once it answers
    n.unreachable.failed(p1, n.now);
    assert_eq!(hops(&mut n), [p2, p3, p1]);
    n.unreachable.answered(p1);
    assert_eq!(hops(&mut n), [p1, p2, p3]);
}
