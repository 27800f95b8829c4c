//! Sans-IO tests of the proxy core: messages in, messages out, a fake clock. Each test reads like
//! the RFC 3261 section it checks.

use super::core::{Core, ProxySettings};
use super::identity::NetEnv;
use super::io::{ConnId, Event, Machine, Output, Received, Transmit, WallClock};
use crate::registrar::RegistrarPolicy;
use crate::transaction::TimerConfig;
use bytes::Bytes;
use causeway_config::Transport;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

mod amplification;
mod client_index;
mod digest;
mod done;
mod interworking;
mod kept;
mod links;
mod outbound;
mod probe;
mod reconfigure;

struct FakeEnv;

impl NetEnv for FakeEnv {
    fn source_ip_for(&self, dest: IpAddr) -> Option<IpAddr> {
        Some(if dest.is_ipv4() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            "::1".parse().ok()?
        })
    }
    fn is_local_ip(&self, ip: IpAddr) -> bool {
        ip.is_loopback()
    }
}

const PROXY: &str = "127.0.0.1:5060";
const UAC: &str = "127.0.0.1:6001";
const UAS: &str = "127.0.0.1:6002";
const UAS2: &str = "127.0.0.1:6003";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn settings() -> ProxySettings {
    ProxySettings {
        system_name: "test".into(),
        domains: vec!["example.com".into()],
        timers: TimerConfig::default(),
        max_transactions: 1000,
        max_message_size: 65535,
        max_headers: 256,
        registrar: RegistrarPolicy {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_bindings_per_aor: 8,
            max_aors: 100,
            stream_flow_max_expires: 540,
            flow_timer_udp: 29,
            flow_timer_stream: 120,
        },
        auth: None,
        router: None,
        server_zones: Vec::new(),
        client_zones: Vec::new(),
    }
}

struct Harness {
    core: Core,
    now: Instant,
    /// Outputs other than transmits, in order (aliases, DNS queries, relay commands).
    other: Vec<Output>,
}

/// A core with a fixed clock epoch and a seeded generator: every run is the same.
fn core(settings: ProxySettings, listeners: Vec<(Transport, SocketAddr)>, now: Instant) -> Core {
    let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut core = Core::new(
        settings,
        listeners,
        Box::new(FakeEnv),
        WallClock::at(now, epoch),
        StdRng::seed_from_u64(3261),
    );
    // the requests here are minimal, shorter than most answers: the limit has its own tests
    // (tests/amplification.rs)
    core.set_amplification_limit(false);
    core
}

impl Harness {
    fn new() -> Harness {
        let now = Instant::now();
        Harness {
            core: core(
                settings(),
                vec![(Transport::Udp, addr(PROXY)), (Transport::Tcp, addr(PROXY))],
                now,
            ),
            now,
            other: Vec::new(),
        }
    }

    /// The transmits among `out`; the rest is kept in `other`.
    fn transmits(&mut self, out: Vec<Output>) -> Vec<Transmit> {
        let mut sent = Vec::new();
        for o in out {
            match o {
                Output::Transmit(t) => sent.push(t),
                o => self.other.push(o),
            }
        }
        sent
    }

    fn send_from(&mut self, from: &str, kind: Transport, text: &str) -> Vec<Transmit> {
        let mut out = Vec::new();
        let conn = kind.is_reliable().then_some(ConnId(7));
        let received = Received {
            data: Bytes::from(text.replace('\n', "\r\n")),
            kind,
            local: addr(PROXY),
            remote: addr(from),
            conn,
            mtls_peer: None,
        };
        self.core
            .handle(Event::Received(received), self.now, &mut out);
        self.transmits(out)
    }

    fn send(&mut self, from: &str, text: &str) -> Vec<Transmit> {
        self.send_from(from, Transport::Udp, text)
    }

    fn advance(&mut self, d: Duration) -> Vec<Transmit> {
        let mut out = Vec::new();
        let end = self.now + d;
        // step through every deadline, like the driver does
        while let Some(t) = self.core.poll_timeout() {
            if t > end {
                break;
            }
            self.now = t;
            self.core.handle_timeout(t, &mut out);
        }
        self.now = end;
        self.core.handle_timeout(end, &mut out);
        self.transmits(out)
    }

    fn register(&mut self, user: &str, contact: &str, q: &str) {
        let out = self.send(
            UAS,
            &format!(
                "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {UAS};branch=z9hG4bKreg{user}{q}
Max-Forwards: 70
From: <sip:{user}@example.com>;tag=r1
To: <sip:{user}@example.com>
Call-ID: reg-{user}-{q}
CSeq: 1 REGISTER
Contact: <sip:{user}@{contact}>;q={q}
Expires: 600
Content-Length: 0

"
            ),
        );
        assert_eq!(status_of(&out[0]), 200, "{}", text(&out[0]));
    }
}

fn text(o: &Transmit) -> String {
    String::from_utf8_lossy(&o.data).into_owned()
}

fn status_of(o: &Transmit) -> u16 {
    let t = text(o);
    assert!(t.starts_with("SIP/2.0 "), "not a response: {t}");
    t[8..11].parse().unwrap()
}

fn header<'a>(t: &'a str, name: &str) -> Vec<&'a str> {
    t.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

fn invite(branch: &str, to_user: &str) -> String {
    format!(
        "INVITE sip:{to_user}@example.com SIP/2.0
Via: SIP/2.0/UDP {UAC};branch={branch};rport
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:{to_user}@example.com>
Call-ID: call-{branch}
CSeq: 1 INVITE
Contact: <sip:alice@{UAC}>
Content-Length: 0

"
    )
}

/// The response a UAS sends to the forwarded request `req` (all Vias copied).
fn answer(req: &Transmit, status: u16, reason: &str, to_tag: Option<&str>) -> String {
    let t = text(req);
    let mut s = format!("SIP/2.0 {status} {reason}\n");
    for v in header(&t, "Via") {
        s.push_str(&format!("Via: {v}\n"));
    }
    for rr in header(&t, "Record-Route") {
        s.push_str(&format!("Record-Route: {rr}\n"));
    }
    let to = header(&t, "To")[0];
    let to = match to_tag {
        Some(tag) => format!("{to};tag={tag}"),
        None => to.to_string(),
    };
    s.push_str(&format!(
        "From: {}\nTo: {to}\nCall-ID: {}\nCSeq: {}\nContent-Length: 0\n\n",
        header(&t, "From")[0],
        header(&t, "Call-ID")[0],
        header(&t, "CSeq")[0]
    ));
    s
}

#[test]
fn rfc3261_11_options_to_the_proxy_itself_is_answered_200() {
    let mut h = Harness::new();
    let out = h.send(
        UAC,
        &format!(
            "OPTIONS sip:{PROXY} SIP/2.0
Via: SIP/2.0/UDP {UAC};branch=z9hG4bKopt1
Max-Forwards: 70
From: <sip:probe@example.com>;tag=p
To: <sip:{PROXY}>
Call-ID: opt1
CSeq: 1 OPTIONS
Content-Length: 0

"
        ),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(status_of(&out[0]), 200);
    assert_eq!(out[0].dest, addr(UAC));
    assert!(header(&text(&out[0]), "Allow")[0].contains("INVITE"));
}

#[test]
fn rfc3261_16_5_unknown_user_in_local_domain_is_404() {
    let mut h = Harness::new();
    let out = h.send(UAC, &invite("z9hG4bKi404", "nobody"));
    let last = out.last().unwrap();
    assert_eq!(status_of(last), 404);
    assert!(text(last).contains("nobody@example.com is not registered"));
}

#[test]
fn foreign_domain_without_route_is_404() {
    let mut h = Harness::new();
    let out = h.send(
        UAC,
        &invite("z9hG4bKfor", "bob").replace("bob@example.com", "bob@example.org"),
    );
    assert_eq!(status_of(out.last().unwrap()), 404);
}

#[test]
fn rfc3261_16_full_call_through_the_proxy() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let out = h.send(UAC, &invite("z9hG4bKcall1", "bob"));
    assert_eq!(out.len(), 2, "100 Trying and the forwarded INVITE");
    assert_eq!(status_of(&out[0]), 100);
    let fwd = &out[1];
    assert_eq!(fwd.dest, addr(UAS));
    let t = text(fwd);
    assert!(
        t.starts_with(&format!("INVITE sip:bob@{UAS} SIP/2.0")),
        "{t}"
    );
    let vias = header(&t, "Via");
    assert_eq!(vias.len(), 2);
    assert!(vias[0].starts_with(&format!("SIP/2.0/UDP {PROXY};branch=z9hG4bKcw")));
    assert!(
        vias[1].contains("rport=6001"),
        "RFC 3581 rport filled in: {}",
        vias[1]
    );
    assert_eq!(header(&t, "Max-Forwards"), vec!["69"]);
    assert_eq!(
        header(&t, "Record-Route"),
        vec![format!("<sip:{PROXY};transport=udp;lr>").as_str()]
    );

    // 180 and 200 go back to the caller with our Via removed
    let out = h.send(UAS, &answer(fwd, 180, "Ringing", Some("b1")));
    assert_eq!(out.len(), 1);
    assert_eq!(status_of(&out[0]), 180);
    assert_eq!(out[0].dest, addr(UAC));
    assert_eq!(header(&text(&out[0]), "Via").len(), 1);
    let out = h.send(UAS, &answer(fwd, 200, "OK", Some("b1")));
    assert_eq!(status_of(&out[0]), 200);

    // ACK and BYE follow the Route
    let ack = format!(
        "ACK sip:bob@{UAS} SIP/2.0
Via: SIP/2.0/UDP {UAC};branch=z9hG4bKack1
Route: <sip:{PROXY};transport=udp;lr>
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: call-z9hG4bKcall1
CSeq: 1 ACK
Content-Length: 0

"
    );
    let out = h.send(UAC, &ack);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dest, addr(UAS));
    assert!(
        header(&text(&out[0]), "Route").is_empty(),
        "our Route is consumed"
    );
    let bye = ack
        .replace("ACK sip", "BYE sip")
        .replace("CSeq: 1 ACK", "CSeq: 2 BYE")
        .replace("z9hG4bKack1", "z9hG4bKbye1");
    let out = h.send(UAC, &bye);
    assert_eq!(out.len(), 1);
    let fwd_bye = out[0].clone();
    assert!(text(&fwd_bye).starts_with("BYE "), "{}", text(&fwd_bye));
    let out = h.send(UAS, &answer(&fwd_bye, 200, "OK", None));
    assert_eq!(status_of(&out[0]), 200);
    assert_eq!(out[0].dest, addr(UAC));
}

#[test]
fn rfc3261_16_3_max_forwards_zero_is_483() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let out = h.send(
        UAC,
        &invite("z9hG4bKmf0", "bob").replace("Max-Forwards: 70", "Max-Forwards: 0"),
    );
    assert_eq!(status_of(out.last().unwrap()), 483);
}

#[test]
fn rfc3261_17_2_1_retransmitted_invite_is_absorbed() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let first = h.send(UAC, &invite("z9hG4bKrtx", "bob"));
    assert_eq!(first.len(), 2);
    let again = h.send(UAC, &invite("z9hG4bKrtx", "bob"));
    assert!(
        again.iter().all(|o| o.dest == addr(UAC)),
        "not forwarded twice"
    );
    assert_eq!(again.len(), 1);
    assert_eq!(status_of(&again[0]), 100);
}

#[test]
fn rfc3261_16_7_serial_failover_to_the_next_contact() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    h.register("bob", UAS2, "0.5");
    let out = h.send(UAC, &invite("z9hG4bKfail", "bob"));
    assert_eq!(out[1].dest, addr(UAS), "highest q first");
    let out = h.send(UAS, &answer(&out[1], 503, "Service Unavailable", Some("x")));
    // ACK for the 503 to the first contact, then the INVITE to the second
    let ack = out
        .iter()
        .find(|o| text(o).starts_with("ACK "))
        .expect("ACK");
    assert_eq!(ack.dest, addr(UAS));
    let second = out
        .iter()
        .find(|o| text(o).starts_with("INVITE "))
        .expect("next INVITE");
    assert_eq!(second.dest, addr(UAS2));
    let out = h.send(UAS2, &answer(second, 486, "Busy Here", Some("y")));
    let resp = out
        .iter()
        .find(|o| o.dest == addr(UAC))
        .expect("final upstream");
    assert_eq!(status_of(resp), 486, "the real answer wins over a 503");
}

#[test]
fn rfc3261_17_1_1_2_timer_b_gives_480_for_a_silent_registered_contact() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let out = h.send(UAC, &invite("z9hG4bKsilent", "bob"));
    assert_eq!(out.len(), 2);
    let out = h.advance(Duration::from_secs(33));
    let retrans = out.iter().filter(|o| o.dest == addr(UAS)).count();
    assert!(retrans >= 5, "timer A retransmissions: {retrans}");
    let resp = out.iter().find(|o| o.dest == addr(UAC)).expect("final");
    assert_eq!(status_of(resp), 480);
    // and everything is cleaned up once the server transaction's timers have run
    h.advance(Duration::from_secs(60));
    assert_eq!(h.core.transaction_count(), 0);
}

#[test]
fn transport_failure_is_503_or_480() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let out = h.send(UAC, &invite("z9hG4bKtf", "bob"));
    let token = out[1].token;
    let mut out = Vec::new();
    let failed = Event::SendFailed {
        token,
        error: "connection refused".into(),
    };
    h.core.handle(failed, h.now, &mut out);
    let out = h.transmits(out);
    assert_eq!(status_of(&out[0]), 480);
}

#[test]
fn rfc3261_16_10_cancel_before_answer() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let inv = invite("z9hG4bKcan", "bob");
    let out = h.send(UAC, &inv);
    let fwd = out[1].clone();
    h.send(UAS, &answer(&fwd, 180, "Ringing", Some("b2")));
    let cancel = inv
        .replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
        .replace("Contact: <sip:alice@127.0.0.1:6001>\n", "");
    let out = h.send(UAC, &cancel);
    let ok = out
        .iter()
        .find(|o| o.dest == addr(UAC))
        .expect("200 to CANCEL");
    assert_eq!(status_of(ok), 200);
    assert!(header(&text(ok), "CSeq")[0].ends_with("CANCEL"));
    let down = out
        .iter()
        .find(|o| o.dest == addr(UAS))
        .expect("CANCEL downstream");
    let dt = text(down);
    assert!(dt.starts_with(&format!("CANCEL sip:bob@{UAS}")), "{dt}");
    assert_eq!(
        header(&dt, "Via")[0],
        header(&text(&fwd), "Via")[0],
        "same branch as the INVITE"
    );
    // the UAS answers the CANCEL and then the INVITE with 487
    h.send(UAS, &answer(down, 200, "OK", Some("b2")));
    let out = h.send(UAS, &answer(&fwd, 487, "Request Terminated", Some("b2")));
    assert!(out
        .iter()
        .any(|o| o.dest == addr(UAS) && text(o).starts_with("ACK ")));
    let up = out
        .iter()
        .find(|o| o.dest == addr(UAC))
        .expect("487 upstream");
    assert_eq!(status_of(up), 487);
}

#[test]
fn rfc3261_9_2_cancel_without_invite_is_481() {
    let mut h = Harness::new();
    let cancel = invite("z9hG4bKnone", "bob")
        .replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let out = h.send(UAC, &cancel);
    assert_eq!(status_of(&out[0]), 481);
}

#[test]
fn rfc3261_16_3_loop_is_detected() {
    let mut h = Harness::new();
    // bob's contact is the proxy itself: the request spirals once (the Request-URI changes),
    // then comes back unchanged, which is a loop
    h.register("bob", PROXY, "1.0");
    let mut msg = invite("z9hG4bKloop", "bob");
    let mut from = UAC.to_string();
    for _ in 0..4 {
        let out = h.send(&from, &msg);
        if let Some(r) = out.iter().find(|o| text(o).starts_with("SIP/2.0 482")) {
            assert_eq!(status_of(r), 482);
            return;
        }
        let fwd = out
            .iter()
            .find(|o| text(o).starts_with("INVITE "))
            .expect("forwarded");
        msg = text(fwd).replace("\r\n", "\n");
        from = PROXY.to_string();
    }
    panic!("loop not detected");
}

#[test]
fn rfc3261_16_6_record_route_twice_when_the_transport_changes() {
    let mut h = Harness::new();
    h.register("bob", &format!("{UAS};transport=tcp"), "1.0");
    let out = h.send_from(UAC, Transport::Udp, &invite("z9hG4bKrr2", "bob"));
    let fwd = out.iter().find(|o| text(o).starts_with("INVITE ")).unwrap();
    assert_eq!(fwd.kind, Transport::Tcp);
    let t = text(fwd);
    assert_eq!(
        header(&t, "Record-Route"),
        vec![
            format!("<sip:{PROXY};transport=tcp;lr>").as_str(),
            format!("<sip:{PROXY};transport=udp;lr>").as_str()
        ]
    );
    assert!(header(&t, "Via")[0].starts_with("SIP/2.0/TCP "));
}

#[test]
fn rfc4475_malformed_request_gets_400_naming_the_fault() {
    let mut h = Harness::new();
    let out = h.send(
        UAC,
        "INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKbad
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: \"Bob <sip:bob@example.com>
Call-ID: bad1
CSeq: 1 INVITE
Content-Length: 0

",
    );
    assert_eq!(out.len(), 1);
    assert_eq!(status_of(&out[0]), 400);
    assert!(text(&out[0]).lines().next().unwrap().len() > "SIP/2.0 400 Bad Request".len());
}

#[test]
fn rfc3261_10_3_register_rules() {
    let mut h = Harness::new();
    let reg = |expires: &str, contact: &str, cseq: u32| {
        format!(
            "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {UAS};branch=z9hG4bKr{cseq}
Max-Forwards: 70
From: <sip:carol@example.com>;tag=r1
To: <sip:carol@example.com>
Call-ID: reg-carol
CSeq: {cseq} REGISTER
Contact: {contact}
Expires: {expires}
Content-Length: 0

"
        )
    };
    let out = h.send(UAS, &reg("30", "<sip:carol@127.0.0.1:6002>", 1));
    assert_eq!(status_of(&out[0]), 423);
    assert_eq!(header(&text(&out[0]), "Min-Expires"), vec!["60"]);
    let out = h.send(UAS, &reg("7200", "<sip:carol@127.0.0.1:6002>", 2));
    assert_eq!(status_of(&out[0]), 200);
    assert!(header(&text(&out[0]), "Contact")[0].ends_with(";expires=3600"));
    assert_eq!(
        h.core
            .registrar()
            .lookup("sip:carol@example.com", h.now)
            .len(),
        1
    );
    let out = h.send(UAS, &reg("0", "*", 3));
    assert_eq!(status_of(&out[0]), 200);
    assert!(h
        .core
        .registrar()
        .lookup("sip:carol@example.com", h.now)
        .is_empty());
}

#[test]
fn rfc3261_17_2_2_retransmitted_register_gets_the_kept_response_until_timer_j() {
    // the finished transaction is kept as a record of the done log: same answer, then gone at 64*T1
    let mut h = Harness::new();
    let reg = format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {UAS};branch=z9hG4bKrj1
Max-Forwards: 70
From: <sip:dave@example.com>;tag=r1
To: <sip:dave@example.com>
Call-ID: reg-dave
CSeq: 1 REGISTER
Contact: <sip:dave@127.0.0.1:6004>
Expires: 600
Content-Length: 0

"
    );
    let first = h.send(UAS, &reg);
    assert_eq!(status_of(&first[0]), 200);
    assert_eq!(h.core.transaction_count(), 1);
    h.advance(Duration::from_secs(31));
    let again = h.send(UAS, &reg);
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].data, first[0].data,
        "the kept response, byte for byte"
    );
    assert_eq!(again[0].dest, first[0].dest);
    assert_eq!(h.core.transaction_count(), 1);
    h.advance(Duration::from_millis(1500)); // past timer J, 32 s after the 200
    assert_eq!(h.core.transaction_count(), 0);
    // after timer J the same request is a new one: its CSeq is not newer (10.3 step 7)
    let late = h.send(UAS, &reg);
    assert_eq!(status_of(&late[0]), 500);
}

#[test]
fn rfc3261_16_4_strict_routing_previous_hop_is_repaired() {
    // a strict router put our address in the Request-URI and the real one last in Route
    let mut h = Harness::new();
    let out = h.send(
        UAC,
        &format!(
            "BYE sip:{PROXY} SIP/2.0
Via: SIP/2.0/UDP {UAC};branch=z9hG4bKstrict
Route: <sip:bob@{UAS}>
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: strict-1
CSeq: 2 BYE
Content-Length: 0

"
        ),
    );
    let fwd = out
        .iter()
        .find(|o| text(o).starts_with("BYE "))
        .expect("forwarded");
    assert_eq!(fwd.dest, addr(UAS));
    let t = text(fwd);
    assert!(t.starts_with(&format!("BYE sip:bob@{UAS} SIP/2.0")), "{t}");
    assert!(header(&t, "Route").is_empty(), "{t}");
}

#[test]
fn rfc5923_alias_on_a_stream_is_reported() {
    let mut h = Harness::new();
    h.send_from(
        UAC,
        Transport::Tcp,
        &format!(
            "OPTIONS sip:{PROXY} SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:6010;branch=z9hG4bKal;alias
Max-Forwards: 70
From: <sip:a@example.com>;tag=1
To: <sip:{PROXY}>
Call-ID: alias-1
CSeq: 1 OPTIONS
Content-Length: 0

"
        ),
    );
    let aliases: Vec<_> = h
        .other
        .iter()
        .filter_map(|o| match o {
            Output::Alias { conn, addr } => Some((*conn, *addr)),
            _ => None,
        })
        .collect();
    assert_eq!(aliases, vec![(ConnId(7), addr("127.0.0.1:6010"))]);
}

// ---------------------------------------------------------------- media anchoring hook

mod media_hook {
    use super::*;
    use causeway_media::{Anchored, Legs, MediaAnchor, MediaRefusal, Side};
    use std::sync::{Arc, Mutex};

    /// Records what the core asks and answers with a marked body.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl MediaAnchor for Recorder {
        fn wants(&self, _: &Legs) -> bool {
            true
        }
        fn sdp(
            &mut self,
            call_id: &str,
            from: Side,
            legs: &Legs,
            body: &[u8],
            _: Instant,
        ) -> Result<Anchored, MediaRefusal> {
            let body = String::from_utf8_lossy(body);
            self.0.lock().unwrap().push(format!(
                "sdp {call_id} {from:?} {} -> {}",
                legs.caller.remote, legs.callee.remote
            ));
            if body.contains("refuse") {
                return Err(MediaRefusal {
                    status: 488,
                    reason: "Not Acceptable Here (test)".into(),
                });
            }
            Ok(Anchored::Rewritten(Bytes::from(format!(
                "v=0\r\nanchored {from:?}\r\n"
            ))))
        }
        fn end(&mut self, call_id: &str) {
            self.0.lock().unwrap().push(format!("end {call_id}"));
        }
    }

    fn with_sdp(msg: &str, sdp: &str) -> String {
        let sdp = sdp.replace('\n', "\r\n");
        msg.replace(
            "Content-Length: 0\n",
            &format!(
                "Content-Type: application/sdp\nContent-Length: {}\n",
                sdp.len()
            ),
        ) + &sdp
    }

    fn setup() -> (Harness, Recorder) {
        let mut h = Harness::new();
        let rec = Recorder::default();
        h.core.set_media(Box::new(rec.clone()));
        h.register("bob", UAS, "1.0");
        (h, rec)
    }

    #[test]
    fn offer_and_answer_of_an_anchored_call_are_rewritten_and_bye_ends_it() {
        let (mut h, rec) = setup();
        let inv = with_sdp(
            &invite("z9hG4bKm1", "bob"),
            "v=0\no=- 1 1 IN IP4 192.0.2.1\n",
        );
        let out = h.send(UAC, &inv);
        let fwd = out
            .iter()
            .find(|o| o.dest == addr(UAS))
            .expect("INVITE forwarded");
        let t = text(fwd);
        assert!(t.ends_with("v=0\r\nanchored Caller\r\n"), "{t}");
        assert_eq!(header(&t, "Content-Length"), vec!["22"]);
        // the 200 with an SDP answer comes back rewritten
        let ok = with_sdp(&answer(fwd, 200, "OK", Some("b1")), "v=0\nanswer\n");
        let out = h.send(UAS, &ok);
        let up = out
            .iter()
            .find(|o| o.dest == addr(UAC))
            .expect("200 forwarded");
        assert!(text(up).ends_with("anchored Callee\r\n"), "{}", text(up));
        // its retransmission too: an anchored INVITE keeps its branch and context
        let out = h.send(UAS, &ok);
        let again = out.iter().find(|o| o.dest == addr(UAC)).expect("200 again");
        assert!(text(again).ends_with("anchored Callee\r\n"), "{out:?}");
        let second = rec.0.lock().unwrap().pop();
        let callee = format!("sdp call-z9hG4bKm1 Callee {UAC} -> {UAS}");
        assert_eq!(second.as_deref(), Some(callee.as_str()));
        let log = rec.0.lock().unwrap().clone();
        assert_eq!(
            log,
            vec![
                format!("sdp call-z9hG4bKm1 Caller {UAC} -> {UAS}"),
                format!("sdp call-z9hG4bKm1 Callee {UAC} -> {UAS}"),
            ]
        );
        // BYE ends the relay of the call
        let bye = invite("z9hG4bKm1bye", "bob")
            .replace("INVITE sip:bob@example.com", &format!("BYE sip:bob@{UAS}"))
            .replace("CSeq: 1 INVITE", "CSeq: 2 BYE")
            .replace(
                "To: <sip:bob@example.com>",
                "To: <sip:bob@example.com>;tag=b1",
            )
            .replace("Call-ID: call-z9hG4bKm1bye", "Call-ID: call-z9hG4bKm1");
        h.send(UAC, &bye);
        assert_eq!(
            rec.0.lock().unwrap().last().map(String::as_str),
            Some("end call-z9hG4bKm1")
        );
    }

    #[test]
    fn a_refused_offer_is_answered_488_and_a_failed_call_frees_its_relay() {
        let (mut h, rec) = setup();
        let inv = with_sdp(&invite("z9hG4bKm2", "bob"), "v=0\nrefuse\n");
        let out = h.send(UAC, &inv);
        assert!(out.iter().all(|o| o.dest != addr(UAS)), "nothing forwarded");
        let last = out.last().expect("an answer");
        assert_eq!(status_of(last), 488, "{}", text(last));
        assert!(rec
            .0
            .lock()
            .unwrap()
            .contains(&"end call-z9hG4bKm2".to_string()));
        // a call the callee refuses: its relay is freed with the final answer
        let inv = with_sdp(&invite("z9hG4bKm3", "bob"), "v=0\n");
        let out = h.send(UAC, &inv);
        let fwd = out.iter().find(|o| o.dest == addr(UAS)).expect("forwarded");
        h.send(UAS, &answer(fwd, 486, "Busy Here", Some("b3")));
        assert_eq!(
            rec.0.lock().unwrap().last().map(String::as_str),
            Some("end call-z9hG4bKm3")
        );
    }

    /// The real anchoring state machine on a relay table with no sockets: the driver's side
    /// (binding) is played by the test.
    mod with_the_relay_table {
        use super::super::*;
        use causeway_config::media::{Anchor as Policy, OnInactivity};
        use causeway_config::PortRange;
        use causeway_media::latch::LatchConfig;
        use causeway_media::session::{SharedTable, TableConfig};
        use causeway_media::{Anchor, AnchorConfig, RelayCommand, RelayEvent};

        const OFFER: &str = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 30000 RTP/AVP 0\n";

        /// `msg` with the SDP body `sdp` (LF line ends here; the harness sends CRLF).
        fn with_sdp(msg: &str, sdp: &str) -> String {
            msg.replace(
                "Content-Length: 0\n",
                &format!(
                    "Content-Type: application/sdp\nContent-Length: {}\n",
                    sdp.replace('\n', "\r\n").len()
                ),
            ) + sdp
        }

        fn anchored() -> (Harness, SharedTable) {
            let mut h = Harness::new();
            let table = SharedTable::new(TableConfig {
                ports: PortRange {
                    start: 48400,
                    end: 48499,
                },
                multiplexed: None,
                max_sessions: 10,
                latch: LatchConfig::default(),
            });
            let config = AnchorConfig {
                policy: Policy::All,
                address: None,
                strip_ice: false,
                on_inactivity: OnInactivity::Hangup,
                multiplexed: true,
            };
            h.core
                .set_media(Box::new(Anchor::new(table.clone(), config)));
            h.register("bob", UAS, "1.0");
            (h, table)
        }

        /// The relay commands among the outputs `h` kept.
        fn commands(h: &mut Harness) -> Vec<RelayCommand> {
            let mut c = Vec::new();
            h.other.retain(|o| match o {
                Output::Media(m) => {
                    c.push(*m);
                    false
                }
                _ => true,
            });
            c
        }

        fn relay_answers(h: &mut Harness, ev: RelayEvent) -> Vec<Transmit> {
            let mut out = Vec::new();
            h.core.handle(Event::Media(ev), h.now, &mut out);
            h.transmits(out)
        }

        #[test]
        fn a_first_offer_waits_for_the_relay_to_bind_then_goes_on_rewritten() {
            let (mut h, table) = anchored();
            let inv = with_sdp(&invite("z9hG4bKp1", "bob"), OFFER);
            let out = h.send(UAC, &inv);
            assert!(
                out.iter().all(|o| o.dest != addr(UAS)),
                "held until the ports are bound"
            );
            assert_eq!(status_of(&out[0]), 100);
            let [RelayCommand::Open(info)] = commands(&mut h)[..] else {
                panic!("one session to bind");
            };
            let out = relay_answers(&mut h, RelayEvent::Opened(info.id));
            let fwd = out
                .iter()
                .find(|o| o.dest == addr(UAS))
                .expect("the INVITE goes on once bound");
            let t = text(fwd);
            let callee_port = info.b.pair().rtp();
            assert!(
                t.contains(&format!("m=audio {callee_port} RTP/AVP 0")),
                "{t}"
            );
            assert_eq!(table.lock().stats().sessions, 1);
            // the caller gives up: the relay session ends with the call
            let cancel = inv
                .replace("INVITE sip:bob@example.com", "CANCEL sip:bob@example.com")
                .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
            h.send(UAC, &cancel);
            let ok = answer(fwd, 487, "Request Terminated", Some("b1"));
            h.send(UAS, &ok);
            assert_eq!(table.lock().stats().sessions, 0);
            assert!(matches!(commands(&mut h)[..], [RelayCommand::Close(_)]));
        }

        #[test]
        fn a_port_the_relay_cannot_bind_is_replaced_before_the_offer_goes_on() {
            let (mut h, _) = anchored();
            let inv = with_sdp(&invite("z9hG4bKp2", "bob"), OFFER);
            h.send(UAC, &inv);
            let [RelayCommand::Open(first)] = commands(&mut h)[..] else {
                panic!("one session to bind");
            };
            let failed = RelayEvent::OpenFailed {
                session: first.id,
                port: first.a.pair().rtp(),
                error: "Address in use".into(),
            };
            let out = relay_answers(&mut h, failed);
            assert!(out.iter().all(|o| o.dest != addr(UAS)), "still held");
            let [RelayCommand::Open(second)] = commands(&mut h)[..] else {
                panic!("the session again, on other ports");
            };
            assert_ne!(second.a, first.a);
            let out = relay_answers(&mut h, RelayEvent::Opened(second.id));
            let fwd = out.iter().find(|o| o.dest == addr(UAS)).expect("forwarded");
            let port = second.b.pair().rtp();
            assert!(
                text(fwd).contains(&format!("m=audio {port} ")),
                "{}",
                text(fwd)
            );
        }
    }
}
