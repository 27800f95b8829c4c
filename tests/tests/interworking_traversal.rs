//! SIP <-> H.323 interworking behind the traversal pair (issue 11): the topology of
//! `tests/scripts/fw_topology.sh` (C in `inside`, E in `dmz`, a SIP UA in `internet`, a firewall
//! that lets nothing into `inside`). C runs the gatekeeper with an `h323-endpoint` registered
//! inside and interworks; E is SIP only and its traversal zone with C carries SIP alone.
//!
//! - internet -> inside: sipp calls `sip:2002@example.com` at E, E sends it down the link C
//!   opened, C's search rule strips the domain and C interworks it to the H.323 endpoint that
//!   registered E.164 2002. G.711 flows both ways (sipp echoes it) through E's and C's relays.
//! - inside -> internet: the H.323 endpoint calls `carol@edge.example.net`, a sipp UAS
//!   registered on E from the internet; C's search rule sends E's domain to the (SIP-only)
//!   traversal zone, which `[interworking] mode = "on"` interworks.
//!
//! Both: the call connects, RTP is counted at the H.323 endpoint both ways, C's status shows the
//! interworked call, and the firewall counted nothing into `inside`.
//!
//! Needs root (network namespaces), iproute2, nftables, sipp, python3.

use causeway_tests::netns::{sipp_uas_with, status, FwTopology, NsNode};
use causeway_tests::{free_port, outbound_block, scenario, shared, H323Endpoint};
use serde_json::Value;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const C_IP: &str = "10.77.1.2";
const E_IP: &str = "10.77.2.2";
const NET_IP: &str = "10.77.3.2";
const T: Duration = Duration::from_secs(20);

fn edge_toml() -> String {
    format!(
        r#"[system]
name = "edge"
role = "edge"
domain = "edge.example.net"

[sip]
udp = {{ enabled = true, listen = "{E_IP}:5060" }}
outbound_ports = "{outbound}"

[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = 7001
transport = "tcp"
username = "control-1"
listen_ip = "{E_IP}"

[[search_rule]]
name = "example.com to C"
pattern_type = "suffix"
pattern = "@example.com"
target = "from-control"
"#,
        outbound = outbound_block()
    )
}

/// C: gatekeeper and interworking gateway, media anchored, E's domain sent to E over the
/// SIP-only traversal zone; `interworking` is the `[interworking]` table (empty: the default).
fn control_toml(interworking: &str) -> String {
    format!(
        r#"[system]
name = "control"
role = "control"
domain = "example.com"

[sip]
udp = {{ enabled = true, listen = "{C_IP}:5060" }}
outbound_ports = "{outbound}"

[media]
anchor = "all"

[h323]
enabled = true
ras_listen = "{C_IP}:1719"
q931_listen = "{C_IP}:1720"

{interworking}

[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "{E_IP}"
sip_port = 7001
transport = "tcp"
username = "control-1"
password = "secret"
h323 = false
retry_first = 1
retry_max = 2

[[search_rule]]
name = "numbers"
priority = 10
pattern_type = "regex"
pattern = '^(\d+)@example\.com$'
pattern_behavior = "replace"
replace = '\1'
target = "LocalZone"

[[search_rule]]
name = "E's users via E"
priority = 20
pattern_type = "suffix"
pattern = "@edge.example.net"
target = "to-edge"
"#,
        outbound = outbound_block()
    )
}

/// The pair up: E and C started, the link up, C's gateway running.
struct Pair {
    topo: FwTopology,
    e: NsNode,
    c: NsNode,
}

impl Pair {
    fn up(tag: &str, interworking: &str) -> Pair {
        let _ = shared();
        let topo = FwTopology::up(tag);
        let e = NsNode::start(&topo.ns("dmz"), &edge_toml());
        let c = NsNode::start(&topo.ns("in"), &control_toml(interworking));
        c.wait_for("traversal link up", 1, T);
        e.wait_for("traversal link up", 1, T);
        c.wait_for("SIP/H.323 interworking", 1, T);
        Pair { topo, e, c }
    }
    fn logs(&self) -> String {
        format!("E:\n{}\nC:\n{}", self.e.log(), self.c.log())
    }
    /// C's status JSON once `pred` holds (refreshed about once a second).
    fn wait_c_status(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + T;
        loop {
            let s: Value = serde_json::from_str(&status(&self.topo.ns("in"))).unwrap_or_default();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < end,
                "C's status never showed {what}: {s:#}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    /// The firewall dropped nothing on the way into `inside`, ever.
    fn assert_nothing_entered_inside(&self) {
        assert_eq!(
            self.topo.counters(),
            (0, 0),
            "something tried to get into inside\n{}",
            self.logs()
        );
    }
}

/// The H.323 endpoint inside, registered on C with `alias`, G.711 RTP counted.
fn inside_endpoint(pair: &Pair, name: &str, args: &[&str]) -> H323Endpoint {
    let bind = format!("{C_IP}:0");
    let gk = format!("{C_IP}:1719");
    let mut all = vec![
        "--gk",
        &gk,
        "--ras-bind",
        &bind,
        "--q931-bind",
        &bind,
        "--rtp",
    ];
    all.extend_from_slice(args);
    H323Endpoint::start_in(&pair.topo.ns("in"), name, &all)
}

/// The first event of `ep` named `event`; both nodes' logs in the panic when none comes.
fn event(ep: &H323Endpoint, event: &str, pair: &Pair) -> Value {
    let end = Instant::now() + T;
    loop {
        if let Some(v) = ep.events().into_iter().find(|v| v["event"] == event) {
            return v;
        }
        assert!(
            Instant::now() < end,
            "{}: no `{event}` event: {:?}\n{}",
            ep.name,
            ep.events(),
            pair.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The endpoint's (sent, received) of its first call's `rtp` event.
fn rtp(ep: &H323Endpoint) -> (u64, u64) {
    let v = ep.wait("rtp counts", T, |v| v["event"] == "rtp");
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    (n("sent"), n("received"))
}

/// sipp in the internet namespace calling `service@example.com` at E with an SDP offer,
/// echoing the RTP it gets (`uac_iw.xml`, 3 s of call).
fn sipp_iw_call(net: &str, service: &str) -> Output {
    let mut child = Command::new("ip")
        .args(["netns", "exec", net, "sipp", &format!("{E_IP}:5060"), "-sf"])
        .arg(scenario("uac_iw_bye.xml"))
        .args(["-s", service, "-i", NET_IP, "-p", &free_port().to_string()])
        .args([
            "-t",
            "u1",
            "-m",
            "1",
            "-rtp_echo",
            "-timeout",
            "20s",
            "-nostdin",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp uac");
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().expect("sipp output")
}

/// Registers `user@edge.example.net` at E from the internet with Contact `contact`.
fn register_at_e(net: &str, user: &str, contact: &str) {
    let py = r#"
import socket, sys
frm, to, user, contact = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
host, port = to.rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((frm, 0)); s.settimeout(10)
local = "%s:%d" % s.getsockname()
msg = ("REGISTER sip:edge.example.net SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKreg%s\r\n"
       "Max-Forwards: 70\r\nFrom: <sip:%s@edge.example.net>;tag=r1\r\n"
       "To: <sip:%s@edge.example.net>\r\nCall-ID: reg-%s\r\nCSeq: 1 REGISTER\r\n"
       "Contact: <sip:%s@%s>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
       % (local, user, user, user, user, user, contact))
s.sendto(msg.encode(), (host, int(port)))
while True:
    line = s.recv(65535).decode(errors="replace").split("\r\n", 1)[0]
    if int(line.split(" ")[1]) >= 200:
        print(line); break
"#;
    let o = Command::new("ip")
        .args(["netns", "exec", net, "python3", "-c", py, NET_IP])
        .args([&format!("{E_IP}:5060"), user, contact])
        .output()
        .expect("python3");
    let line = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(line.starts_with("SIP/2.0 200"), "REGISTER at E: `{line}`");
}

fn assert_rtp_both_ways(what: &str, ep: &H323Endpoint, pair: &Pair) {
    let (sent, received) = rtp(ep);
    eprintln!("{what}: the H.323 endpoint sent {sent} and received {received} RTP packets");
    // 3 s of a 50 packet/s stream, echoed by sipp across both relays and the firewall
    assert!(
        sent > 50 && received > 50,
        "{what}: RTP sent {sent}, received {received}\n{}",
        pair.logs()
    );
}

/// internet -> E -> (link) -> C -> gateway -> H.323 endpoint inside, with audio both ways.
fn internet_calls_h323(fast_start: bool) {
    let pair = Pair::up(if fast_start { "w" } else { "x" }, "");
    let (inside, net) = (pair.topo.ns("in"), pair.topo.ns("net"));
    let more: &[&str] = if fast_start {
        &["--fast-start"]
    } else {
        &["--both-ways"]
    };
    let mut args = vec!["--alias", "e164:2002", "--ignore-stdin"];
    args.extend_from_slice(more);
    let bob = inside_endpoint(&pair, "bob", &args);
    bob.wait_event("registered", T);

    let o = sipp_iw_call(&net, "2002");
    assert!(
        o.status.success(),
        "sipp on the internet calling the H.323 endpoint inside failed\n{}\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        pair.logs()
    );
    let setup = event(&bob, "setup", &pair);
    eprintln!("bob's Setup: {setup}");
    let released = event(&bob, "released", &pair);
    assert_eq!(released["cause"], 16, "{released}\n{}", pair.logs());
    assert_rtp_both_ways("internet -> H.323 inside", &bob, &pair);
    let st = pair.wait_c_status("the interworked call answered", |s| {
        s["interworking"]["answered"] == 1
    });
    assert_eq!(st["interworking"]["calls_from_sip"], 1, "{st:#}");
    pair.assert_nothing_entered_inside();
    drop(inside);
}

#[test]
fn a_sip_ua_on_the_internet_calls_an_h323_endpoint_inside_with_fast_start() {
    internet_calls_h323(true);
}

#[test]
fn a_sip_ua_on_the_internet_calls_an_h323_endpoint_inside_with_slow_start() {
    internet_calls_h323(false);
}

/// H.323 endpoint inside -> C's gatekeeper -> gateway -> C's proxy -> (link) -> E -> a SIP UA
/// registered on E from the internet, with audio both ways.
#[test]
fn an_h323_endpoint_inside_calls_a_sip_ua_registered_on_e() {
    let pair = Pair::up("y", "[interworking]\nmode = \"on\"\n");
    let net = pair.topo.ns("net");
    let uas_port = free_port();
    let _carol = sipp_uas_with(
        &net,
        NET_IP,
        uas_port,
        "uas_sdp.xml",
        &["-rtp_echo", "-m", "1"],
    );
    register_at_e(&net, "carol", &format!("{NET_IP}:{uas_port}"));

    let alice = inside_endpoint(
        &pair,
        "alice",
        &[
            "--alias",
            "e164:3001",
            "--call",
            "h323:carol@edge.example.net",
            "--fast-start",
            "--hold-ms",
            "3000",
        ],
    );
    event(&alice, "connected", &pair);
    let listed = pair.wait_c_status("the interworked call", |s| {
        s["interworking"]["calls"][0]["state"] == "answered"
    });
    let call = &listed["interworking"]["calls"][0];
    assert_eq!(call["origin"], "h323", "{call}");
    assert!(
        call["callee"]
            .as_str()
            .is_some_and(|c| c.contains("carol@edge.example.net")),
        "{call}"
    );
    let released = event(&alice, "released", &pair);
    assert_eq!(released["by"], "self", "{released}\n{}", pair.logs());
    assert_rtp_both_ways("H.323 inside -> internet", &alice, &pair);
    let st = pair.wait_c_status("the call over", |s| {
        s["interworking"]["calls"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    assert_eq!(st["interworking"]["calls_from_h323"], 1, "{st:#}");
    assert_eq!(st["interworking"]["answered"], 1, "{st:#}");
    pair.assert_nothing_entered_inside();
}
