//! Firewall traversal, end to end (issue 3): C in `inside`, E in `dmz`, sipp UAs in `inside`
//! and `internet`, all in network namespaces this test creates and routed through a firewall
//! namespace whose nftables rules refuse every new connection into `inside`
//! (`tests/scripts/fw_topology.sh`). Calls go both ways through the link C opened; the
//! firewall's counter shows nothing came in; E restarted means C reconnects; wrong link
//! credentials keep the zone down and callers get a clear 503.
//!
//! Needs root (network namespaces), iproute2, nftables, sipp, python3: `.ci/run` installs them.

use causeway_tests::netns::{sipp_call, sipp_uas, FwTopology, NsNode};
use causeway_tests::{env_bin, outbound_block, shared};
use std::process::Command;
use std::time::{Duration, Instant};

const C_IP: &str = "10.77.1.2";
const E_IP: &str = "10.77.2.2";
const NET_IP: &str = "10.77.3.2";

/// Sends one request from namespace `ns` over UDP and returns the first final response's
/// status line.
fn udp_final_status(ns: &str, from_ip: &str, to: &str, msg: &str) -> String {
    let py = r#"
import socket, sys
frm, to, msg = sys.argv[1], sys.argv[2], sys.argv[3]
host, port = to.rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((frm, 0)); s.settimeout(10)
msg = msg.replace("LOCAL", "%s:%d" % s.getsockname())
s.sendto(msg.encode(), (host, int(port)))
while True:
    r = s.recv(65535).decode(errors="replace")
    line = r.split("\r\n", 1)[0]
    code = int(line.split(" ")[1])
    if code >= 200:
        print(line); break
"#;
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", py, from_ip, to, msg])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn register(ns: &str, ip: &str, proxy: &str, user: &str, contact: &str) {
    register_in(ns, ip, proxy, user, "example.com", contact)
}

fn register_in(ns: &str, ip: &str, proxy: &str, user: &str, domain: &str, contact: &str) {
    let msg = format!(
        "REGISTER sip:{domain} SIP/2.0\r\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKreg{user}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag=r1\r\nTo: <sip:{user}@{domain}>\r\n\
         Call-ID: reg-{user}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@{contact}>\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    let line = udp_final_status(ns, ip, proxy, &msg);
    assert!(
        line.starts_with("SIP/2.0 200"),
        "REGISTER in {ns}: `{line}`"
    );
}

fn edge_toml(password: &str) -> String {
    format!(
        r#"[system]
name = "edge"
role = "edge"
domain = "edge.example.net"

[sip]
udp = {{ enabled = true, listen = "{E_IP}:5060" }}
tls = {{ enabled = true, listen = "{E_IP}:5061" }}
outbound_ports = "{outbound}"

[[credential]]
username = "control-1"
password = "{password}"

[[credential]]
username = "control-2"
password = "secret-2"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = 7001
transport = "tls"
username = "control-1"
listen_ip = "{E_IP}"

[[zone]]
name = "from-control-2"
type = "traversal-server"
sip_port = 7002
transport = "tls"
username = "control-2"
listen_ip = "{E_IP}"

[[zone]]
name = "internet-ua"
type = "neighbor"
peer = "{NET_IP}:5090"
transport = "udp"

[[search_rule]]
name = "example.com to C"
pattern_type = "suffix"
pattern = "@example.com"
target = "from-control"

[[search_rule]]
name = "two.example.com to the second C"
priority = 90
pattern_type = "suffix"
pattern = "@two.example.com"
target = "from-control-2"

[[search_rule]]
name = "C to the internet"
priority = 110
source = "from-control"
pattern_type = "suffix"
pattern = "@internet.test"
target = "internet-ua"
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
tcp = {{ enabled = true, listen = "{C_IP}:5060" }}
tls = {{ enabled = true, listen = "{C_IP}:5061" }}
outbound_ports = "{outbound}"

[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "{E_IP}"
sip_port = 7001
transport = "tls"
username = "control-1"
password = "secret"
tls_verify = "permissive"
keepalive_interval = 5
retry_first = 1
retry_max = 2

[[search_rule]]
name = "internet via E"
pattern_type = "suffix"
pattern = "@internet.test"
target = "to-edge"
"#,
        outbound = outbound_block()
    )
}

/// A second control node beside C, on its own ports, linked to E's second zone (7002).
fn control2_toml() -> String {
    format!(
        r#"[system]
name = "control-2"
role = "control"
domain = "two.example.com"

[sip]
udp = {{ enabled = true, listen = "{C_IP}:5070" }}
tcp = {{ enabled = false }}
tls = {{ enabled = true, listen = "{C_IP}:5071" }}
outbound_ports = "{outbound}"

[admin]
listen = "127.0.0.1:7081"

[[zone]]
name = "to-edge-2"
type = "traversal-client"
peer = "{E_IP}"
sip_port = 7002
username = "control-2"
password = "secret-2"
retry_first = 1
retry_max = 2
"#,
        outbound = outbound_block()
    )
}

/// The status JSON once it contains every one of `needles` (or the last one after 5 s).
fn status_with(ns: &str, needles: &[&str]) -> String {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let st = status_json(ns);
        if needles.iter().all(|n| st.contains(n)) || Instant::now() > end {
            return st;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_json(ns: &str) -> String {
    status_json_at(ns, "127.0.0.1:7080")
}

fn status_json_at(ns: &str, admin: &str) -> String {
    let o = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env_bin())
        .args(["status", "--json", "--admin", admin])
        .output()
        .expect("causeway status");
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn calls_cross_the_firewall_both_ways_over_the_link_c_opened() {
    let _ = shared();
    let topo = FwTopology::up("t");
    let (inside, dmz, net) = (topo.ns("in"), topo.ns("dmz"), topo.ns("net"));

    let e = NsNode::start(&dmz, &edge_toml("secret"));
    let c = NsNode::start(&inside, &control_toml());
    c.wait_for("traversal link up", 1, Duration::from_secs(15));
    e.wait_for("traversal link up", 1, Duration::from_secs(5));
    let st = status_with(&inside, &["\"to-edge\"", "\"up\""]);
    assert!(
        st.contains("\"to-edge\"") && st.contains("\"up\""),
        "C status: {st}"
    );

    // the UAs: bob inside (registered on C), the internet UA answers anything for internet.test
    let _bob = sipp_uas(&inside, C_IP, 5090);
    register(
        &inside,
        C_IP,
        &format!("{C_IP}:5060"),
        "bob",
        &format!("{C_IP}:5090"),
    );
    let _far = sipp_uas(&net, NET_IP, 5090);

    // internet -> E -> (link) -> C -> inside UA
    let o = sipp_call(&net, NET_IP, &format!("{E_IP}:5060"), "bob", "example.com");
    assert!(
        o.status.success(),
        "inbound call failed\nsipp: {}\nE log:\n{}\nC log:\n{}",
        String::from_utf8_lossy(&o.stderr),
        e.log(),
        c.log()
    );
    // inside UA -> C -> (link) -> E -> internet UA
    let o = sipp_call(
        &inside,
        C_IP,
        &format!("{C_IP}:5060"),
        "alice",
        "internet.test",
    );
    assert!(
        o.status.success(),
        "outbound call failed\nsipp: {}\nE log:\n{}\nC log:\n{}",
        String::from_utf8_lossy(&o.stderr),
        e.log(),
        c.log()
    );
    // a second traversal zone side by side (7002): its own C, its own credential
    let c2 = NsNode::start(&inside, &control2_toml());
    c2.wait_for("traversal link up", 1, Duration::from_secs(15));
    let _carol = sipp_uas(&inside, C_IP, 5091);
    register_in(
        &inside,
        C_IP,
        &format!("{C_IP}:5070"),
        "carol",
        "two.example.com",
        &format!("{C_IP}:5091"),
    );
    let o = sipp_call(
        &net,
        NET_IP,
        &format!("{E_IP}:5060"),
        "carol",
        "two.example.com",
    );
    assert!(
        o.status.success(),
        "call through the second zone failed\nE log:\n{}\nC2 log:\n{}",
        e.log(),
        c2.log()
    );
    // the snapshot is refreshed about once a second: wait for it to show the second link
    let end = Instant::now() + Duration::from_secs(5);
    let mut st = status_json(&dmz);
    while st.matches("\"up\"").count() != 2 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        st = status_json(&dmz);
    }
    assert_eq!(
        st.matches("\"up\"").count(),
        2,
        "E status, both links up: {st}"
    );
    // the second C goes away: its zone is down, the first one is not affected
    let _ = c2.stop();
    let end = Instant::now() + Duration::from_secs(5);
    let mut st = status_json(&dmz);
    while st.matches("\"up\"").count() != 1 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        st = status_json(&dmz);
    }
    assert_eq!(
        st.matches("\"up\"").count(),
        1,
        "E status after C2 left: {st}"
    );
    let o = sipp_call(&net, NET_IP, &format!("{E_IP}:5060"), "bob", "example.com");
    assert!(
        o.status.success(),
        "zone 7001 was disturbed by zone 7002 going down"
    );

    let (syn_in, udp_in) = topo.counters();
    assert_eq!(
        (syn_in, udp_in),
        (0, 0),
        "something tried to reach into inside during the calls; E log:\n{}",
        e.log()
    );
    // ... and the firewall does refuse one: E's namespace cannot reach C's TLS port
    let probe = Command::new("ip")
        .args(["netns", "exec", &dmz, "python3", "-c"])
        .arg(format!(
            "import socket\ntry:\n socket.create_connection(('{C_IP}', 5061), timeout=2); print('connected')\nexcept Exception as e: print('refused')"
        ))
        .output()
        .expect("probe");
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "refused");
    let (syn_in, _) = topo.counters();
    assert!(syn_in >= 1, "the firewall counted no refused connection");

    // E restarts: C reconnects within its retry time and calls work again
    let _ = e.stop();
    c.wait_for("traversal link down", 1, Duration::from_secs(15));
    let e = NsNode::start(&dmz, &edge_toml("secret"));
    let t0 = Instant::now();
    c.wait_for("traversal link up", 2, Duration::from_secs(15));
    let reconnect = t0.elapsed();
    let o = sipp_call(&net, NET_IP, &format!("{E_IP}:5060"), "bob", "example.com");
    assert!(
        o.status.success(),
        "call after E restarted failed (reconnected in {reconnect:?})\nE log:\n{}\nC log:\n{}",
        e.log(),
        c.log()
    );

    // wrong link credentials: the zone stays down, callers get a clear 503 at once
    let _ = e.stop();
    let e = NsNode::start(&dmz, &edge_toml("not-the-password"));
    e.wait_for("traversal link refused", 1, Duration::from_secs(20));
    let invite = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKdown1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:x@{NET_IP}>;tag=d1\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: down-1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@{NET_IP}:5099>\r\n{ua}Content-Length: 0\r\n\r\n",
        ua = causeway_tests::UA_HEADERS.replace('\n', "\r\n")
    );
    let t = Instant::now();
    let line = udp_final_status(&net, NET_IP, &format!("{E_IP}:5060"), &invite);
    assert!(
        line.starts_with("SIP/2.0 503") && line.contains("from-control"),
        "a call into a zone whose link is down: `{line}`"
    );
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "the 503 was not immediate"
    );
    let st = status_with(&inside, &["E refused the link"]);
    assert!(
        st.contains("E refused the link"),
        "C status names the refusal: {st}"
    );
    drop(c);
    drop(e);
}
