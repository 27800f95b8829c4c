//! SIP UAs behind a NAT (RFC 5626 outbound, RFC 3581), with real UAs in network namespaces: the
//! topology of `tests/scripts/fw_topology.sh`, where `nat` (10.77.4.2) is a home network behind
//! a masquerading NAT with fully random source ports that lets nothing unsolicited in (counted).
//!
//! A baresip UA behind the NAT registers to E over UDP, TCP and TLS, with and without outbound,
//! and is called by a baresip UA on the internet: the call is established, RTP flows both ways,
//! the caller's BYE reaches it (down its flow, by the flow token in E's Record-Route), and the
//! NAT saw no connection attempt and no SIP datagram from outside. A dead flow gives 430 (outbound)
//! or takes the binding with it; and the same UA is reached from inside through C and E.
//!
//! Needs root, iproute2, nftables, baresip (package baresip-core), python3.

use causeway_tests::baresip::{assert_audio_both_ways, wait_established, Baresip};
use causeway_tests::netns::{status, FwTopology, NsNode};
use causeway_tests::outbound_block;
use std::process::Command;
use std::time::{Duration, Instant};

const C_IP: &str = "10.77.1.2";
const E_IP: &str = "10.77.2.2";
const NET_IP: &str = "10.77.3.2";
/// The UA behind the NAT: its Contact and SDP name this private address.
const HOME_IP: &str = "10.77.4.2";
const DOMAIN: &str = "edge.example.net";

fn edge_toml() -> String {
    format!(
        r#"[system]
name = "edge"
role = "edge"
domain = "{DOMAIN}"

[sip]
udp = {{ enabled = true, listen = "{E_IP}:5060" }}
tcp = {{ enabled = true, listen = "{E_IP}:5060" }}
tls = {{ enabled = true, listen = "{E_IP}:5061" }}
outbound_ports = "{outbound}"

[media]
anchor = "all"
inactivity_timeout = 10

[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = 7001
username = "control-1"
listen_ip = "{E_IP}"
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

[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "{E_IP}"
sip_port = 7001
username = "control-1"
password = "secret"
retry_first = 1
retry_max = 2

[[search_rule]]
name = "E's users via E"
pattern_type = "suffix"
pattern = "@{DOMAIN}"
target = "to-edge"
"#,
        outbound = outbound_block()
    )
}

/// The registration of `aor` in the node's status JSON, once it is there.
fn wait_registered(ns: &str, aor: &str, node: &NsNode) -> String {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let s = status(ns);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
        let found = v["registrations"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["aor"] == aor).cloned());
        if let Some(r) = found {
            return r.to_string();
        }
        assert!(
            Instant::now() < end,
            "{aor} did not register: {s}\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits (a few seconds at most) until `aor` has no binding left.
fn wait_gone(ns: &str, aor: &str) {
    let end = Instant::now() + Duration::from_secs(3);
    while status(ns).contains(&format!("\"{aor}\"")) {
        assert!(Instant::now() < end, "binding still there: {}", status(ns));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A UA account for `user` behind the NAT, registering to E over `transport`.
fn home_account(user: &str, transport: &str, outbound: bool) -> String {
    let (uri_param, port) = match transport {
        "udp" => ("", 5060),
        "tcp" => (";transport=tcp", 5060),
        _ => (";transport=tls", 5061),
    };
    let ob = if outbound { ";sipnat=outbound" } else { "" };
    format!(
        "<sip:{user}@{DOMAIN}{uri_param}>;outbound=\"sip:{E_IP}:{port}{uri_param}\";regint=300{ob};answermode=auto;audio_codecs=PCMU"
    )
}

/// One call from `caller` to `user`, audio checked both ways, hung up by `hangs_up`; the other
/// side's call must be gone within a few seconds (the BYE reached it).
fn call(caller: &Baresip, callee: &Baresip, user: &str, caller_hangs_up: bool, what: &str) {
    caller.command(&format!("dial sip:{user}@{DOMAIN}"));
    wait_established(caller, what);
    wait_established(callee, what);
    std::thread::sleep(Duration::from_secs(4));
    assert_audio_both_ways(caller, callee, what);
    let (ends, other) = if caller_hangs_up {
        (caller, callee)
    } else {
        (callee, caller)
    };
    ends.command("hangup");
    let end = Instant::now() + Duration::from_secs(5);
    while other.in_call() {
        assert!(
            Instant::now() < end,
            "{what}: the BYE never reached the other side"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The NAT let nothing in from outside: no connection attempt, no SIP datagram.
fn assert_nothing_into_home(topo: &FwTopology, what: &str) {
    let (syn, sip, udp, _) = topo.home_counters();
    assert_eq!(
        (syn, sip),
        (0, 0),
        "{what}: connections / SIP datagrams attempted into the home network (other UDP: {udp})"
    );
}

#[test]
fn ua_behind_nat_receives_calls_over_its_flow() {
    let topo = FwTopology::up("n");
    let (dmz, net, home) = (topo.ns("dmz"), topo.ns("net"), topo.ns("nat"));
    let e = NsNode::start(&dmz, &edge_toml());
    let alice = Baresip::start(
        &net,
        NET_IP,
        &format!("<sip:alice@internet.test>;outbound=\"sip:{E_IP}:5060\";regint=0;answermode=auto;audio_codecs=PCMU"),
    );
    let cases = [
        ("udp", false, "nat udp"),
        ("udp", true, "outbound udp"),
        ("tcp", false, "nat tcp"),
        ("tcp", true, "outbound tcp"),
        ("tls", false, "nat tls"),
        ("tls", true, "outbound tls"),
    ];
    for (i, (transport, outbound, flow)) in cases.into_iter().enumerate() {
        let user = format!("dave{i}");
        let what = format!("{transport}, outbound {outbound}");
        let dave = Baresip::start(&home, HOME_IP, &home_account(&user, transport, outbound));
        let reg = wait_registered(&dmz, &format!("sip:{user}@{DOMAIN}"), &e);
        assert!(reg.contains(flow), "{what}: reached over its flow: {reg}");
        call(&alice, &dave, &user, i % 2 == 0, &what);
        assert_nothing_into_home(&topo, &what);
    }
    let log = e.stop();
    assert!(!log.contains("panicked"), "{log}");
}

/// The final status of one INVITE (no SDP) from the internet to `user` through E, and how long
/// it took.
fn invite_status(net: &str, user: &str) -> (u16, Duration) {
    let py = format!(
        r#"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("{NET_IP}", 0))
s.settimeout(0.5)
port = s.getsockname()[1]
inv = ("INVITE sip:{user}@{DOMAIN} SIP/2.0\r\n"
       "Via: SIP/2.0/UDP {NET_IP}:%d;branch=z9hG4bKnat430;rport\r\n"
       "Max-Forwards: 70\r\nFrom: <sip:probe@internet.test>;tag=p1\r\n"
       "To: <sip:{user}@{DOMAIN}>\r\nCall-ID: nat430-{user}@internet.test\r\n"
       "CSeq: 1 INVITE\r\nContact: <sip:probe@{NET_IP}:%d>\r\n{ua}Content-Length: 0\r\n\r\n") % (port, port)
end = time.time() + 40
sent = 0
while time.time() < end:
    if time.time() >= sent + 2:
        s.sendto(inv.encode(), ("{E_IP}", 5060))
        sent = time.time()
    try:
        data = s.recv(65536).decode(errors="replace")
    except socket.timeout:
        continue
    code = int(data[8:11])
    if code >= 200:
        print(code)
        sys.exit(0)
print(0)
"#,
        ua = causeway_tests::UA_HEADERS.replace('\n', "\\r\\n")
    );
    let t = Instant::now();
    let o = Command::new("ip")
        .args(["netns", "exec", net, "python3", "-c", &py])
        .output()
        .expect("python3");
    let code = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (code, t.elapsed())
}

#[test]
fn flow_failure_gives_430_or_removes_the_binding() {
    let topo = FwTopology::up("f");
    let (dmz, net, home) = (topo.ns("dmz"), topo.ns("net"), topo.ns("nat"));
    let e = NsNode::start(&dmz, &edge_toml());

    // outbound over TCP: the UA dies, its connection closes, the next call is 430 at once
    let mut dave = Baresip::start(&home, HOME_IP, &home_account("obdave", "tcp", true));
    wait_registered(&dmz, &format!("sip:obdave@{DOMAIN}"), &e);
    dave.kill();
    std::thread::sleep(Duration::from_millis(500));
    let (code, took) = invite_status(&net, "obdave");
    assert_eq!(code, 430, "Flow Failed\n{}", e.log());
    assert!(
        took < Duration::from_secs(5),
        "at once, not after a timeout: {took:?}"
    );
    // (the status is refreshed once a second)
    wait_gone(&dmz, &format!("sip:obdave@{DOMAIN}"));

    // no outbound, over TCP behind the NAT: the binding goes when the connection closes
    let mut dave = Baresip::start(&home, HOME_IP, &home_account("natdave", "tcp", false));
    let aor = format!("sip:natdave@{DOMAIN}");
    wait_registered(&dmz, &aor, &e);
    dave.kill();
    wait_gone(&dmz, &aor);
    let (code, took) = invite_status(&net, "natdave");
    assert_eq!(code, 404, "not registered, not a timeout\n{}", e.log());
    assert!(took < Duration::from_secs(5), "{took:?}");

    // registering again restores it: a call reaches the UA
    let dave = Baresip::start(&home, HOME_IP, &home_account("natdave", "tcp", false));
    wait_registered(&dmz, &aor, &e);
    let alice = Baresip::start(
        &net,
        NET_IP,
        &format!("<sip:alice@internet.test>;outbound=\"sip:{E_IP}:5060\";regint=0;answermode=auto;audio_codecs=PCMU"),
    );
    call(&alice, &dave, "natdave", true, "after re-registering");
    assert_nothing_into_home(&topo, "flow failures");
}

#[test]
fn ua_behind_nat_reached_from_inside_through_the_traversal_pair() {
    let topo = FwTopology::up("p");
    let (inside, dmz, home) = (topo.ns("in"), topo.ns("dmz"), topo.ns("nat"));
    let e = NsNode::start(&dmz, &edge_toml());
    let c = NsNode::start(&inside, &control_toml());
    c.wait_for("traversal link up", 1, Duration::from_secs(15));
    let bob = Baresip::start(
        &inside,
        C_IP,
        &format!("<sip:bob@example.com>;outbound=\"sip:{C_IP}:5060\";regint=0;answermode=auto;audio_codecs=PCMU"),
    );
    for (user, transport, outbound) in [("carol", "udp", true), ("erin", "tcp", false)] {
        let what = format!("inside -> C -> E -> {transport} flow");
        let ua = Baresip::start(&home, HOME_IP, &home_account(user, transport, outbound));
        wait_registered(&dmz, &format!("sip:{user}@{DOMAIN}"), &e);
        call(&bob, &ua, user, true, &what);
        call(
            &bob,
            &ua,
            user,
            false,
            &format!("{what}, hung up behind the NAT"),
        );
        assert_nothing_into_home(&topo, &what);
    }
    assert_eq!(
        topo.counters().0,
        0,
        "a TCP connection was attempted into inside"
    );
    drop(c);
}
