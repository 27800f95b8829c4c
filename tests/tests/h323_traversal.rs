//! The H.323 side of a traversal zone between a real C and a real E on loopback (issue 16,
//! first part): C's H.460.18 RAS flow to E's zone port with an H.235.1 token, both sides
//! showing the zone up in `causeway status`, C coming back after E restarts, wrong
//! credentials leaving the zone down with the reason, and garbage on the zone port refused
//! without an answer while the flow stays up. Free ports only, loopback only.

use causeway_h323::q931::{MessageType, Q931};
use causeway_tests::h323ep::{asn1, msg};
use causeway_tests::tshark::{self, Capture};
use causeway_tests::{free_port, H323Endpoint, Node, NodeOptions};
use serde_json::Value;
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// The ports E's zone takes, fixed so a restarted E has the same ones.
#[derive(Clone, Copy)]
struct EdgePorts {
    zone_sip: u16,
    zone_ras: u16,
    ras: u16,
    q931: u16,
    assent: u16,
    h245: u16,
}

impl EdgePorts {
    fn new() -> EdgePorts {
        EdgePorts {
            zone_sip: free_port(),
            zone_ras: free_port(),
            ras: free_port(),
            q931: free_port(),
            assent: free_port(),
            h245: free_port(),
        }
    }
}

fn edge(p: EdgePorts) -> Node {
    edge_with(p, "")
}

fn edge_with(p: EdgePorts, more: &str) -> Node {
    let extra = format!(
        r#"[media]
anchor = "none"

[h323]
enabled = true
ras_listen = "127.0.0.1:{ras}"
q931_listen = "127.0.0.1:{q931}"
assent_port = {assent}
h46018_port = {h245}

[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = {zone_sip}
h323_port = {zone_ras}
transport = "tcp"
username = "control-1"
listen_ip = "127.0.0.1"
{more}
"#,
        ras = p.ras,
        q931 = p.q931,
        assent = p.assent,
        h245 = p.h245,
        zone_sip = p.zone_sip,
        zone_ras = p.zone_ras,
    );
    Node::start(NodeOptions {
        extra: &extra,
        role: Some("edge"),
        ..NodeOptions::default()
    })
}

fn control(p: EdgePorts, password: &str) -> Node {
    control_with(p, password, free_port(), "")
}

fn control_with(p: EdgePorts, password: &str, ras: u16, more: &str) -> Node {
    let q931 = free_port();
    let extra = format!(
        r#"[h323]
enabled = true
ras_listen = "127.0.0.1:{ras}"
q931_listen = "127.0.0.1:{q931}"

[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "127.0.0.1"
sip_port = {zone_sip}
h323_port = {zone_ras}
h323_keepalive_interval = 5
transport = "tcp"
username = "control-1"
password = "{password}"
{more}
"#,
        zone_sip = p.zone_sip,
        zone_ras = p.zone_ras,
    );
    Node::start(NodeOptions {
        extra: &extra,
        ..NodeOptions::default()
    })
}

fn status(node: &Node, json: bool) -> String {
    let mut cmd = Command::new(causeway_tests::env_bin());
    cmd.arg("status");
    if json {
        cmd.arg("--json");
    }
    let o = cmd
        .arg("--admin")
        .arg(format!("127.0.0.1:{}", node.admin_port))
        .output()
        .expect("causeway status");
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The node's H.323 traversal zone (it has one).
fn zone(node: &Node) -> Value {
    let v: Value = serde_json::from_str(&status(node, true)).unwrap_or(Value::Null);
    v["h323"]["zones"][0].clone()
}

/// Waits until the zone satisfies `ok`; the last view when it never does.
fn wait_zone(node: &Node, timeout: Duration, ok: impl Fn(&Value) -> bool) -> Result<Value, Value> {
    let end = Instant::now() + timeout;
    loop {
        let z = zone(node);
        if ok(&z) {
            return Ok(z);
        }
        if Instant::now() > end {
            return Err(z);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn up(z: &Value) -> bool {
    z["state"] == "up"
}

#[test]
fn the_h323_flow_comes_up_keeps_alive_and_returns_after_e_restarts() {
    let ports = EdgePorts::new();
    let e = edge(ports);
    let c_ras = free_port();
    let c = control_with(ports, "secret", c_ras, "");
    let cz = wait_zone(&c, T, up).unwrap_or_else(|z| panic!("C's zone not up: {z}\n{}", c.log()));
    assert_eq!(cz["role"], "client");
    assert_eq!(cz["peer"], format!("127.0.0.1:{}", ports.zone_ras));
    let ez = wait_zone(&e, T, up).unwrap_or_else(|z| panic!("E's zone not up: {z}\n{}", e.log()));
    assert_eq!(ez["role"], "server");
    assert_eq!(ez["refused"], 0, "{ez}");
    // keep-alives every 5 s: after 7 s E heard one less than 5 s ago
    std::thread::sleep(Duration::from_secs(7));
    let ez = zone(&e);
    assert!(
        up(&ez) && ez["last_keepalive"].as_u64().is_some_and(|s| s <= 5),
        "{ez}"
    );
    let text = status(&c, false);
    assert!(
        text.contains("H.323 traversal zones") && text.contains("to-edge"),
        "{text}"
    );

    // E goes away: C's keep-alive goes unanswered, the zone goes down with the reason and an
    // alarm
    drop(e);
    let cz =
        wait_zone(&c, T, |z| !up(z)).unwrap_or_else(|z| panic!("C's zone still up without E: {z}"));
    assert!(
        cz["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("no answer")),
        "{cz}"
    );
    let text = status(&c, false);
    assert!(text.contains("H.323 traversal zone to-edge down"), "{text}");
    // E is back on the same ports: C registers again on its own, and a call crosses
    let e = edge_with(ports, TO_C);
    wait_zone(&c, T, up).unwrap_or_else(|z| panic!("C did not come back: {z}\n{}", c.log()));
    wait_zone(&e, T, up).unwrap_or_else(|z| panic!("E did not see C again: {z}"));
    let _bob = callee(c_ras, "bob", "2001");
    let mut eve = caller(ports.ras, "eve", "2001");
    assert!(
        eve.exit_status(T).is_some_and(|s| s.success()),
        "the call after E's restart failed: {:?}\nE:\n{}\nC:\n{}",
        eve.events(),
        e.log(),
        c.log()
    );
}

#[test]
fn wrong_credentials_leave_the_zone_down_with_the_reason_on_both_sides() {
    let ports = EdgePorts::new();
    let e = edge_with(ports, TO_C);
    let c = control(ports, "not-the-secret");
    let cz = wait_zone(&c, T, |z| {
        z["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("securityDenial"))
    })
    .unwrap_or_else(|z| panic!("no securityDenial on C: {z}\n{}", c.log()));
    assert_eq!(cz["state"], "down");
    let ez = wait_zone(&e, T, |z| z["refused"].as_u64().is_some_and(|n| n >= 1))
        .unwrap_or_else(|z| panic!("E refused nothing: {z}"));
    assert_eq!(ez["state"], "down");
    assert!(
        ez["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("hash")),
        "{ez}"
    );
    // a call towards C meanwhile: a clean ReleaseComplete, not a hang
    let mut eve = caller(ports.ras, "eve", "2001");
    let released = eve.wait_event("released", T);
    assert_eq!(released["by"], "remote", "{released}");
    assert_eq!(released["reason"], "unreachableDestination", "{released}");
    assert_eq!(eve.exit_status(T).and_then(|s| s.code()), Some(1));
}

#[test]
fn garbage_on_the_zone_port_is_refused_unanswered_and_the_flow_stays_up() {
    let ports = EdgePorts::new();
    let e = edge(ports);
    let c = control(ports, "secret");
    wait_zone(&e, T, up).unwrap_or_else(|z| panic!("E's zone not up: {z}\n{}", e.log()));
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let to = ("127.0.0.1", ports.zone_ras);
    // a token-less RRQ (the test endpoint's own, as any H.323 endpoint sends it): RRJ
    // securityDenial, smaller than the RRQ
    let me = msg::Me {
        ras: s.local_addr().unwrap(),
        csa: s.local_addr().unwrap(),
        aliases: vec![],
    };
    let rrq = msg::rrq(1, &me, 60, None, None, false).unwrap();
    let bytes = asn1::rasn::aper::encode(&rrq).unwrap();
    s.send_to(&bytes, to).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = s
        .recv_from(&mut buf)
        .unwrap_or_else(|err| panic!("no RRJ to the token-less RRQ: {err}\n{}", e.log()));
    let answer: asn1::h323_messages::RasMessage = asn1::rasn::aper::decode(&buf[..n]).unwrap();
    assert!(
        matches!(&answer, asn1::h323_messages::RasMessage::registrationReject(r)
            if format!("{:?}", r.reject_reason).starts_with("securityDenial")),
        "{answer:?}"
    );
    assert!(n < bytes.len(), "{n} bytes out for {} in", bytes.len());
    for i in 0..300u32 {
        let junk: Vec<u8> = (0..(1 + i % 120)).map(|b| (b * 31 + i) as u8).collect();
        s.send_to(&junk, to).unwrap();
        // paced: a burst larger than the socket's receive buffer is dropped by the kernel
        // before causeway sees it, and this test counts what causeway refused
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(
        s.recv_from(&mut buf).is_err(),
        "nothing came back to garbage"
    );
    let ez = wait_zone(&e, T, |z| z["refused"].as_u64().is_some_and(|n| n >= 301))
        .unwrap_or_else(|z| panic!("not all counted: {z}"));
    assert!(up(&ez), "{ez}");
    assert!(up(&zone(&c)));
}

const TO_C: &str = r#"
[[search_rule]]
name = "2xxx to C"
pattern_type = "prefix"
pattern = "2"
target = "from-control"
"#;

const TO_E: &str = r#"
[[search_rule]]
name = "3xxx to E"
pattern_type = "prefix"
pattern = "3"
target = "to-edge"
"#;

/// An endpoint that registers `alias` and answers calls until stopped.
fn callee(gk: u16, name: &str, alias: &str) -> H323Endpoint {
    let gk = format!("127.0.0.1:{gk}");
    let h = format!("h323:{name}");
    let e = format!("e164:{alias}");
    let ep = H323Endpoint::start(
        name,
        &["--gk", &gk, "--alias", &h, "--alias", &e, "--ignore-stdin"],
    );
    ep.wait_event("registered", T);
    ep
}

/// An endpoint that registers, calls `to` (H.245 tunneled), holds the call briefly and exits.
fn caller(gk: u16, name: &str, to: &str) -> H323Endpoint {
    let gk = format!("127.0.0.1:{gk}");
    let h = format!("h323:{name}");
    let to = format!("e164:{to}");
    H323Endpoint::start(
        name,
        &[
            "--gk",
            &gk,
            "--alias",
            &h,
            "--call",
            &to,
            "--h245",
            "tunnel",
            "--hold-ms",
            "300",
        ],
    )
}

/// A call from the internet side (an endpoint registered on E) to an endpoint registered on C
/// crosses by the H.460.18 call-back: E announces it down C's RAS flow, C opens the
/// connection to E and E's Setup comes down it; and a call from C to E goes to the call
/// signaling address E's RCF named. Both connect, get their audio channel and clear.
#[test]
fn h323_calls_cross_the_traversal_zone_both_ways() {
    calls_both_ways("");
}

/// The same in assent mode: E's call signaling for the zone is on the assent port, where C's
/// call-back and C's Setups go (tshark finds them there).
#[test]
fn h323_calls_cross_an_assent_zone_both_ways() {
    calls_both_ways("h323_mode = \"assent\"\n");
}

fn calls_both_ways(mode: &str) {
    let ports = EdgePorts::new();
    let c_ras = free_port();
    let signalling = if mode.is_empty() {
        ports.q931
    } else {
        ports.assent
    };
    let cap = Capture::start(&format!(
        "udp port {} or udp port {} or tcp port {}",
        ports.zone_ras, c_ras, signalling
    ));
    let e = edge_with(ports, &format!("{mode}{TO_C}"));
    let c = control_with(ports, "secret", c_ras, &format!("{mode}{TO_E}"));
    wait_zone(&c, T, up).unwrap_or_else(|z| panic!("C's zone not up: {z}\n{}", c.log()));
    let _bob = callee(c_ras, "bob", "2001");
    let _alice = callee(ports.ras, "alice", "3001");

    // E -> C: eve on the internet side calls bob inside
    let mut eve = caller(ports.ras, "eve", "2001");
    let connected = eve.wait_event("connected", T);
    assert_eq!(connected["tunneling"], true, "{connected}");
    let status = eve.exit_status(T);
    assert!(
        status.is_some_and(|s| s.success()),
        "eve's call failed: {:?}\nE:\n{}\nC:\n{}",
        eve.events(),
        e.log(),
        c.log()
    );
    assert!(
        e.log().contains("H.323 traversal flow up"),
        "the flow is what carried it"
    );
    assert!(c.log().contains("E announces a call"), "{}", c.log());

    // E asks C first (LRQ down the flow): an alias C does not have is refused at once as not
    // registered, and C is never asked to call back for it
    let announced = c.log().matches("E announces a call").count();
    let mut mallory = caller(ports.ras, "mallory", "2999");
    let rel = mallory.wait_event("released", T);
    assert_eq!(rel["cause"], 20, "calledPartyNotRegistered: {rel}");
    assert_eq!(rel["reason"], "calledPartyNotRegistered", "{rel}");
    mallory.exit_status(T);
    assert_eq!(c.log().matches("E announces a call").count(), announced);

    // C -> E: carol inside calls alice on the internet side
    let mut carol = caller(c_ras, "carol", "3001");
    carol.wait_event("connected", T);
    let status = carol.exit_status(T);
    assert!(
        status.is_some_and(|s| s.success()),
        "carol's call failed: {:?}\nE:\n{}\nC:\n{}",
        carol.events(),
        e.log(),
        c.log()
    );
    dissected_by_tshark(cap.stop().path(), ports.zone_ras, c_ras, signalling);
}

/// tshark, an independent H.225.0 dissector, reads the zone's RAS flow (RRQ/RCF with
/// feature 18 and H.235 tokens, SCI with the IncomingCallIndication, SCR, E's LRQs and C's
/// signed LCF/LRJ) and the call
/// signaling on E's port (the call-back Facility, Setups) without a malformed frame.
fn dissected_by_tshark(pcap: &std::path::Path, zone_ras: u16, c_ras: u16, signalling: u16) {
    let decode_as = vec![
        format!("udp.port=={zone_ras},h225"),
        format!("udp.port=={c_ras},h225"),
    ];
    let ours = format!("udp.port=={zone_ras} || udp.port=={c_ras} || tcp.port=={signalling}");
    let bad = format!("({ours}) && (_ws.malformed || _ws.expert.severity >= error)");
    assert_eq!(
        tshark::read(pcap, &decode_as, &bad, &[]),
        "",
        "tshark flags frames:\n{}",
        tshark::read(pcap, &decode_as, &bad, &["-V"])
    );
    let summary = tshark::read(pcap, &decode_as, &ours, &[]);
    for msg in [
        "h225.registrationRequest_element && h225.featureSet_element && h225.cryptoTokens",
        "h225.registrationConfirm_element && h225.featureSet_element",
        "h225.serviceControlIndication_element && h225.genericData",
        "h225.serviceControlResponse_element",
        "h225.locationRequest_element && h225.cryptoTokens",
        "h225.locationConfirm_element && h225.cryptoTokens",
        "h225.locationReject_element && h225.cryptoTokens",
        "h225.facility_element && h225.callIdentifier_element",
        "h225.setup_element",
        "h225.connect_element",
        "h225.releaseComplete_element",
    ] {
        let hits = tshark::read(pcap, &decode_as, &format!("({ours}) && {msg}"), &[]);
        assert_ne!(hits, "", "tshark finds no {msg}:\n{summary}");
    }
}

/// A call-back Facility that names no waiting call is refused (ReleaseComplete, closed) and
/// the zone goes on working.
#[test]
fn a_call_back_for_no_waiting_call_is_refused() {
    use std::io::{Read, Write};
    let ports = EdgePorts::new();
    let e = edge(ports);
    let _c = control(ports, "secret");
    wait_zone(&e, T, up).unwrap_or_else(|z| panic!("E's zone not up: {z}"));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", ports.q931)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // a Facility (undefinedReason) with a callIdentifier E never announced
    let payload = msg::call_back_facility([0x42; 16], false).unwrap();
    let mut frame = vec![3, 0];
    frame.extend_from_slice(&((payload.len() + 4) as u16).to_be_bytes());
    frame.extend_from_slice(&payload);
    s.write_all(&frame).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.len() > 4, "an answer, then the connection closed");
    let answer = Q931::parse(&got[4..]).unwrap();
    assert_eq!(answer.message_type, MessageType::ReleaseComplete);
    assert_eq!(answer.cause().unwrap().map(|c| c.value.0), Some(81));
    assert!(up(&zone(&e)));
}

mod through_the_firewall {
    //! The same calls with C in `inside` and E in `dmz`, routed through the nftables firewall
    //! of `tests/scripts/fw_topology.sh` that drops and counts every new connection and
    //! datagram into `inside`: the H.323 side of the zone comes up from C's RAS flow alone,
    //! calls cross both ways, and nothing ever entered `inside` unasked. Needs root.

    use super::*;
    use causeway_tests::netns::{FwTopology, NsNode};
    use causeway_tests::{outbound_block, shared};

    const C_IP: &str = "10.77.1.2";
    const E_IP: &str = "10.77.2.2";
    const NET_IP: &str = "10.77.3.2";

    /// E, anchoring traversal media (the default policy) on its multiplexed pair or, with
    /// `multiplexed = false`, on a pair per stream.
    fn edge_toml(multiplexed: bool) -> String {
        format!(
            r#"[system]
name = "edge"
role = "edge"
domain = "edge.example.net"

[sip]
udp = {{ enabled = true, listen = "{E_IP}:5060" }}
tls = {{ enabled = true, listen = "{E_IP}:5061" }}
outbound_ports = "{outbound}"

[media]
multiplexed = {multiplexed}

[h323]
enabled = true
ras_listen = "{E_IP}:1719"
q931_listen = "{E_IP}:1720"

[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
transport = "tls"
username = "control-1"
listen_ip = "{E_IP}"
{TO_C}
[[search_rule]]
name = "bob by H.323-ID to C"
pattern_type = "exact"
pattern = "bob"
target = "from-control"
"#,
            outbound = outbound_block()
        )
    }

    fn control_toml() -> String {
        format!(
            r#"[system]
name = "control"
role = "control"
domain = "example.com"

[sip]
udp = {{ enabled = true, listen = "{C_IP}:5060" }}
outbound_ports = "{outbound}"

[h323]
enabled = true
ras_listen = "{C_IP}:1719"
q931_listen = "{C_IP}:1720"

[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "{E_IP}"
h323_port = 6001
transport = "tls"
username = "control-1"
password = "secret"
{TO_E}
[[search_rule]]
name = "alice by H.323-ID to E"
pattern_type = "exact"
pattern = "alice"
target = "to-edge"
"#,
            outbound = outbound_block()
        )
    }

    fn endpoint(ns: &str, ip: &str, gk: &str, args: &[&str]) -> H323Endpoint {
        let bind = format!("{ip}:0");
        let gk = format!("{gk}:1719");
        let mut all = vec!["--gk", &gk, "--ras-bind", &bind, "--q931-bind", &bind];
        all.extend_from_slice(args);
        H323Endpoint::start_in(ns, args.first().copied().unwrap_or("ep"), &all)
    }

    /// The RTP an endpoint sent and received in its `n`th call (its `rtp` event).
    fn rtp_of(ep: &H323Endpoint, n: usize) -> (u64, u64) {
        let all = || {
            ep.events()
                .into_iter()
                .filter(|v| v["event"] == "rtp")
                .collect::<Vec<_>>()
        };
        ep.wait(&format!("rtp event {n}"), T, |_| all().len() >= n);
        let v = all().swap_remove(n - 1);
        let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k}: {v}"));
        (n("sent"), n("received"))
    }

    /// Each direction got what the other side sent, within 5 % after the first second (50
    /// packets: the channels are being opened and the pinholes punched then).
    fn assert_media(what: &str, a: (u64, u64), b: (u64, u64), logs: &dyn Fn() -> String) {
        for (dir, sent, received) in [("a -> b", a.0, b.1), ("b -> a", b.0, a.1)] {
            eprintln!("{what}, {dir}: {received} of {sent} RTP packets arrived");
            assert!(sent >= 120, "{what}, {dir}: only {sent} packets sent");
            let expected = sent.saturating_sub(50);
            assert!(
                received <= sent && received * 100 >= expected * 95,
                "{what}, {dir}: {received} of {sent} packets arrived\n{}",
                logs()
            );
        }
    }

    /// Calls both ways through E and C with G.711 both ways on each, the media anchored on
    /// both relays: it arrives, and the firewall counts nothing into `inside`. `by_id`: dialled
    /// by H.323-ID (`bob`, `alice`) rather than by E.164. `fast`: every endpoint proposes and
    /// accepts fastStart (H.323 8.1.7), so the channels are opened by the Setup and the
    /// callee's answer, H.245 opening none.
    fn calls_with_media(tag: &str, multiplexed: bool, h245: &str, by_id: bool, fast: bool) {
        let _ = shared();
        let topo = FwTopology::up(tag);
        let (inside, dmz, net) = (topo.ns("in"), topo.ns("dmz"), topo.ns("net"));
        let e = NsNode::start(&dmz, &edge_toml(multiplexed));
        let c = NsNode::start(&inside, &control_toml());
        c.wait_for("H.323 traversal flow up", 1, T);
        e.wait_for("H.323 traversal flow up", 1, T);
        let mut media = vec!["--rtp", "--both-ways", "--h245", h245];
        if fast {
            media.push("--fast-start");
        }
        let answerer = |ns: &str, ip: &str, gk: &str, name: &str, num: &str| {
            let (h, n) = (format!("h323:{name}"), format!("e164:{num}"));
            let mut args = vec!["--alias", &h, "--alias", &n, "--ignore-stdin"];
            args.extend_from_slice(&media);
            let ep = endpoint(ns, ip, gk, &args);
            ep.wait_event("registered", T);
            ep
        };
        let bob = answerer(&inside, C_IP, C_IP, "bob", "2001");
        let alice = answerer(&net, NET_IP, E_IP, "alice", "3001");
        let before = topo.counters();
        let logs = || format!("E:\n{}\nC:\n{}", e.log(), c.log());

        // internet -> E -> (call-back from C) -> C -> inside, then inside -> C -> E -> internet
        let (to_bob, to_alice) = if by_id {
            ("h323:bob", "h323:alice")
        } else {
            ("e164:2001", "e164:3001")
        };
        let calls = [
            ("inbound", &net, NET_IP, E_IP, "h323:eve", to_bob, &bob),
            (
                "outbound",
                &inside,
                C_IP,
                C_IP,
                "h323:carol",
                to_alice,
                &alice,
            ),
        ];
        for (what, ns, ip, gk, alias, to, callee) in calls {
            let mut args = vec!["--alias", alias, "--call", to, "--hold-ms", "3000"];
            args.extend_from_slice(&media);
            let mut caller = endpoint(ns, ip, gk, &args);
            let status = caller.exit_status(T);
            assert!(
                status.is_some_and(|s| s.success()),
                "{what} H.323 call failed: {:?}\n{}",
                caller.events(),
                logs()
            );
            if fast {
                assert_fast_started(what, &caller, callee, &logs);
            }
            assert_media(what, rtp_of(&caller, 1), rtp_of(callee, 1), &logs);
        }
        if h245 == "separate" {
            // both calls' H.245 ran on separate channels relayed by both nodes
            for (node, log) in [("E", e.log()), ("C", c.log())] {
                let n = log.matches("H245 { call: ").count();
                let separate = log.matches("tunneled: false").count();
                assert!(
                    n == 2 && separate == 2,
                    "{node}: {separate} of {n}\n{}",
                    logs()
                );
            }
        }
        let after = topo.counters();
        assert_eq!(
            after, before,
            "the firewall dropped connections or datagrams into inside during the calls"
        );
        assert_eq!(after, (0, 0), "nothing ever tried to get into inside");
        // both relays carried it
        let (es, cs) = (status_json(&dmz), status_json(&inside));
        for (node, st) in [("E", &es), ("C", &cs)] {
            let sent = st["media"]["packets_sent"].as_u64().unwrap_or(0);
            assert!(sent > 500, "{node}'s relay carried the media: {st}");
        }
        eprintln!("E media: {}\nC media: {}", es["media"], cs["media"]);
        // C's keep-alives reached E: counted as such once E keyed the leg, or dropped as from
        // an unknown source when they beat C's OpenLogicalChannel(Ack) to E (which is timing)
        let m = &es["media"];
        let n = |k: &str| m[k].as_u64().unwrap_or(0);
        assert!(
            n("keepalives") + n("dropped_unknown") > 0,
            "E received C's keep-alives: {}",
            m
        );
        // on the multiplexed pair C's media carries the multiplexID E gave (H.460.19)
        if multiplexed {
            assert!(
                n("demuxed_by_id") > 100,
                "C's media came by multiplexID: {m}"
            );
        }
        drop(bob);
        drop(alice);
    }

    /// The caller got the callee's fastStart answer (the relay's address to send to) and
    /// neither opened a channel with H.245.
    fn assert_fast_started(
        what: &str,
        caller: &H323Endpoint,
        callee: &H323Endpoint,
        logs: &dyn Fn() -> String,
    ) {
        let ev = caller.events();
        let got = ev
            .iter()
            .find(|v| v["event"] == "fast-start" && v["what"] == "accepted")
            .unwrap_or_else(|| panic!("{what}: no fastStart answer: {ev:?}\n{}", logs()));
        assert!(
            got["remote_rtp"].is_string() && got["reverse"] == true,
            "{what}: {got}"
        );
        eprintln!("{what}: fastStart answer {got}");
        for ep in [caller, callee] {
            assert!(
                !ep.events()
                    .iter()
                    .any(|v| v["event"] == "h245" && v["what"] == "olc"),
                "{what}: a channel opened with H.245: {:?}",
                ep.events()
            );
        }
    }

    fn status_json(ns: &str) -> Value {
        let st = causeway_tests::netns::status(ns);
        serde_json::from_str(&st).unwrap_or_else(|e| panic!("status: {e}: {st}"))
    }

    #[test]
    fn h323_calls_cross_the_firewall_with_media_and_nothing_enters_inside() {
        calls_with_media("h", true, "tunnel", false, false);
    }

    /// Media on a pair per stream on E, and the calls dialled by H.323-ID.
    #[test]
    fn non_multiplexed_traversal_media_crosses_the_firewall_too() {
        calls_with_media("hn", false, "tunnel", true, false);
    }

    /// Separate H.245 channels: C opens each to E's 2777 (naming its call first), whichever
    /// side offered the channel; E never connects towards C.
    #[test]
    fn separate_h245_channels_are_opened_from_c_to_e() {
        calls_with_media("hs", true, "separate", false, false);
    }

    /// fastStart: the channels are proposed in the Setup and accepted in the callee's
    /// CallProceeding (relayed as a Facility), both relays anchoring them; G.711 crosses both
    /// ways and nothing enters inside.
    #[test]
    fn fast_start_calls_cross_the_firewall_with_media() {
        calls_with_media("hf", true, "tunnel", false, true);
    }

    /// fastStart with E's media on a pair per stream (latched on C's first packet, which may
    /// come before the answer reaches E) and the separate H.245 channels C opens to E.
    #[test]
    fn fast_start_with_non_multiplexed_media_and_separate_h245() {
        calls_with_media("hfs", false, "separate", true, true);
    }

    const NAT_IP: &str = "10.77.4.2";

    /// Internet endpoints behind a masquerading NAT register on E's 1719: RCF reaches them
    /// through the NAT (it goes where the RRQ came from, not to the private rasAddress); one
    /// that announces H.460.18 gets it with a 19 s time to live, and a call to it is announced
    /// by SCI through the NAT mapping its RAS flow keeps open: it calls E back and the call
    /// connects, with nothing unsolicited let into the home network.
    #[test]
    fn an_h46018_endpoint_behind_a_nat_is_called_through_its_call_back() {
        let _ = shared();
        let topo = FwTopology::up("n");
        let (dmz, net, nat) = (topo.ns("dmz"), topo.ns("net"), topo.ns("nat"));
        let e = NsNode::start(&dmz, &edge_toml(true));
        let plain = endpoint(
            &nat,
            NAT_IP,
            E_IP,
            &["--alias", "h323:plain", "--ignore-stdin"],
        );
        let reg = plain.wait_event("registered", T);
        assert_eq!(reg["h46018"], false, "{reg}");
        let dora = endpoint(
            &nat,
            NAT_IP,
            E_IP,
            &[
                "--alias",
                "h323:dora",
                "--alias",
                "e164:4001",
                "--h46018",
                "--ignore-stdin",
            ],
        );
        let reg = dora.wait_event("registered", T);
        assert_eq!(reg["h46018"], true, "{reg}");
        assert_eq!(reg["ttl"], 19, "{reg}");
        let mut eve = endpoint(
            &net,
            NET_IP,
            E_IP,
            &[
                "--alias",
                "h323:eve",
                "--call",
                "e164:4001",
                "--hold-ms",
                "300",
            ],
        );
        let status = eve.exit_status(T);
        assert!(
            status.is_some_and(|s| s.success()),
            "call to the endpoint behind the NAT failed: {:?}\ndora: {:?}\nE:\n{}",
            eve.events(),
            dora.events(),
            e.log()
        );
        dora.wait_event("called-back", T);
        dora.wait_event("connected", T);
        let (tcp, _, _, _) = topo.home_counters();
        assert_eq!(tcp, 0, "no connection was opened into the home network");
    }
}
