//! The service's traversal routing on E (`route_traversal`, `located`): a call to a
//! traversal-server zone first asks C with an LRQ down the flow; C's LRJ clears the call with
//! calledPartyNotRegistered and no SCI, C's LCF and C's silence both lead to the call-back
//! SCI. The flow is brought up by a real `ZoneClient` (C's side), the clock is fake.

use super::*;
use crate::endpoint::{self as ep, CallIds};
use crate::h46018::{ClientConfig, ServerZoneConfig, Socket, WallClock, ZoneClient, ZoneEvent};
use crate::q931::{CallReference, MessageType, Q931};
use crate::ras::GatekeeperConfig;
use causeway_h323_asn1::h323_messages::RasMessage;
use causeway_h323_asn1::rasn::aper;
use causeway_zones::Router;
use std::time::Duration;

mod e_cluster;
mod interworking;

const UNIX: u64 = 1_800_000_000;
const E_ZONE: &str = "192.0.2.1:6001";
/// C's RAS as the firewall shows it.
const C_FLOW: &str = "192.0.2.200:1719";
const CALLER: &str = "198.51.100.7:40000";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn router() -> Router {
    let toml = r#"
[system]
role = "edge"
domain = "edge.example.com"
[[credential]]
username = "control-1"
password = "secret"
[[zone]]
name = "from-control"
type = "traversal-server"
username = "control-1"
h323_port = 6001
[[search_rule]]
name = "2xxx to C"
pattern_type = "prefix"
pattern = "2"
target = "from-control"
"#;
    let cfg = causeway_config::Config::parse("test.toml", toml).unwrap();
    Router::from_config(&cfg)
}

/// A gatekeeper's configuration for these tests: `id`, endpoint ids from `prefix`, H.460.18
/// keep-alives of `h46018_ttl` seconds.
fn gk_config(id: &str, prefix: &str, h46018_ttl: Option<u32>) -> GatekeeperConfig {
    GatekeeperConfig {
        gatekeeper_id: id.into(),
        time_to_live: 300,
        probe_timeout: Duration::from_secs(5),
        max_registrations: 10,
        max_calls: 10,
        q931_port: 1720,
        q931_ip: None,
        allow: vec![],
        deny: vec![],
        endpoint_id_prefix: prefix.into(),
        locate_timeout: Duration::from_secs(2),
        h46018_ttl,
    }
}

/// E's side of traversal zone `from-control` (credential control-1/secret).
fn edge_server(now: Instant) -> ZoneServer {
    ZoneServer::new(
        "edge-gk".into(),
        1720,
        vec![ServerZoneConfig {
            zone: "from-control".into(),
            username: "control-1".into(),
            password: "secret".into(),
            keepalive: Duration::from_secs(19),
            signalling_port: None,
        }],
        WallClock::new(now, UNIX),
        300,
        7,
        now,
    )
}

struct E {
    s: Service,
    c: ZoneClient,
    now: Instant,
    next_conn: u64,
}

impl E {
    fn new() -> E {
        let now = Instant::now();
        let gk = Gatekeeper::new(gk_config("edge-gk", "e", Some(19)), router(), vec![])
            .with_traversal_zones(vec!["from-control".into()]);
        let server = edge_server(now);
        let calls = CallSignaling::new(call::CallConfig::default(), None);
        let s = Service::new(gk, calls, sa("192.0.2.1:1719")).with_traversal(vec![], Some(server));
        let c = ZoneClient::new(
            ClientConfig {
                zone: "to-edge".into(),
                peer: sa(E_ZONE),
                username: "control-1".into(),
                password: "secret".into(),
                keepalive: Duration::from_secs(19),
                ras: sa(C_FLOW),
                call_signal: sa("192.0.2.200:1720"),
                skew_window: 300,
            },
            WallClock::new(now, UNIX),
            1000,
            now,
        );
        let mut e = E {
            s,
            c,
            now,
            next_conn: 1,
        };
        let mut out = Vec::new();
        e.c.handle_timeout(now, &mut out);
        e.deliver_to_e(out);
        assert!(e.c.is_up(), "the flow is up");
        e
    }

    /// C's datagrams to E; E's answers to C, until quiet. Returns C's events (Locate).
    fn deliver_to_e(&mut self, from_c: Vec<h46018::Output>) -> Vec<Output> {
        let mut seen = Vec::new();
        let mut pending = from_c;
        while !pending.is_empty() {
            let mut e_out = Vec::new();
            for o in pending.drain(..) {
                if let h46018::Output::Send { bytes, .. } = o {
                    let input = Input::Zone {
                        zone: 0,
                        from: sa(C_FLOW),
                        local: sa(E_ZONE),
                        bytes: &bytes,
                    };
                    self.s.handle(input, self.now, &mut e_out);
                }
            }
            pending = self.deliver_to_c(&e_out);
            seen.extend(e_out);
        }
        seen
    }

    /// E's datagrams on the zone port, handed to C; C's outputs.
    fn deliver_to_c(&mut self, e_out: &[Output]) -> Vec<h46018::Output> {
        let mut c_out = Vec::new();
        for o in e_out {
            if let Output::Zone(h46018::Output::Send {
                from: Socket::Zone(0),
                bytes,
                ..
            }) = o
            {
                self.c.handle(bytes, self.now, &mut c_out);
            }
        }
        c_out
    }

    /// An outside caller's Setup for `called` (E.164).
    fn call(&mut self, called: &str) -> (u64, Vec<Output>) {
        let conn = self.next_conn;
        self.next_conn += 1;
        let mut out = Vec::new();
        let accepted = call::Input::Accepted {
            conn,
            peer: sa(CALLER),
            local: sa("192.0.2.1:1720"),
            link: None,
        };
        self.s.handle(Input::Call(accepted), self.now, &mut out);
        let ids = CallIds {
            crv: 7,
            call_id: [0x42; 16],
            conf_id: [1; 16],
        };
        let dest = crate::asn::typed_alias(&format!("e164:{called}")).unwrap();
        let setup = ep::setup_uuie(&ids, vec![], Some(vec![dest]), None, None, sa(CALLER)).unwrap();
        let mut q = Q931::new(MessageType::Setup, CallReference::new(7, false).unwrap());
        q.set_user_user(&ep::encode_uu(setup, true, vec![]).unwrap())
            .unwrap();
        let data = call::Input::Data {
            conn,
            payload: &q.encode(),
        };
        self.s.handle(Input::Call(data), self.now, &mut out);
        (conn, out)
    }
}

fn zone_sends(out: &[Output]) -> Vec<RasMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Zone(h46018::Output::Send {
                from: Socket::Zone(0),
                bytes,
                ..
            }) => aper::decode::<RasMessage>(bytes).ok(),
            _ => None,
        })
        .collect()
}

fn is_lrq(m: &RasMessage) -> bool {
    matches!(m, RasMessage::locationRequest(_))
}

fn is_sci(m: &RasMessage) -> bool {
    matches!(m, RasMessage::serviceControlIndication(_))
}

/// The cause of a ReleaseComplete sent to `conn`, if one was.
fn release_cause(out: &[Output], conn: u64) -> Option<u8> {
    out.iter().find_map(|o| match o {
        Output::Call(call::Output::Send { conn: c, payload }) if *c == conn => {
            let q = Q931::parse(payload).ok()?;
            (q.message_type == MessageType::ReleaseComplete)
                .then(|| q.cause().ok().flatten().map(|c| c.value.0))
                .flatten()
        }
        _ => None,
    })
}

#[test]
fn c_s_lrj_clears_the_call_as_not_registered_without_an_sci() {
    let mut e = E::new();
    let (conn, out) = e.call("2001");
    let sent = zone_sends(&out);
    assert!(
        sent.iter().any(is_lrq) && !sent.iter().any(is_sci),
        "{sent:?}"
    );
    // C does not reach 2001
    let mut c_out = e.deliver_to_c(&out);
    let seq = c_out.iter().find_map(|o| match o {
        h46018::Output::Event(ZoneEvent::Locate { seq, .. }) => Some(*seq),
        _ => None,
    });
    e.c.answer_locate(seq.expect("C was asked"), false, e.now, &mut c_out);
    let out = e.deliver_to_e(c_out);
    assert_eq!(
        release_cause(&out, conn),
        Some(20),
        "calledPartyNotRegistered"
    );
    assert!(!zone_sends(&out).iter().any(is_sci));
}

#[test]
fn c_s_lcf_or_its_silence_lead_to_the_call_back() {
    // LCF
    let mut e = E::new();
    let (conn, out) = e.call("2001");
    let mut c_out = e.deliver_to_c(&out);
    let seq = c_out.iter().find_map(|o| match o {
        h46018::Output::Event(ZoneEvent::Locate { seq, .. }) => Some(*seq),
        _ => None,
    });
    e.c.answer_locate(seq.expect("C was asked"), true, e.now, &mut c_out);
    let out = e.deliver_to_e(c_out);
    assert!(zone_sends(&out).iter().any(is_sci), "SCI after the LCF");
    assert_eq!(release_cause(&out, conn), None);

    // no answer at all: the LRQ is sent three times, 2 s apart, then the call-back goes on
    let mut e = E::new();
    let (conn, out) = e.call("2001");
    assert_eq!(zone_sends(&out).iter().filter(|m| is_lrq(m)).count(), 1);
    let mut lrqs = 1;
    let mut first_sci = None;
    for step in 1..=4 {
        e.now += Duration::from_secs(2);
        let mut out = Vec::new();
        e.s.handle_timeout(e.now, &mut out);
        let sent = zone_sends(&out);
        lrqs += sent.iter().filter(|m| is_lrq(m)).count();
        if first_sci.is_none() && sent.iter().any(is_sci) {
            first_sci = Some(step);
        }
        assert_eq!(release_cause(&out, conn), None, "step {step}");
    }
    // 0 s, 2 s, 4 s; at 6 s the last one has gone unanswered: the SCI (resent itself after)
    assert_eq!((lrqs, first_sci), (3, Some(3)), "three LRQs, then the SCI");
}
