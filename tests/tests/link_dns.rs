//! A traversal-client zone whose `peer` is a name (issue 12's leftover: a name that did not
//! resolve stopped the node at start, and left the zone without H.323 for good). The link looks
//! the name up before every attempt, asking the operating system (getaddrinfo: the hosts file
//! as it is then): `localhost` brings the link up on loopback; a name that cannot resolve, in a
//! network namespace with nothing but loopback (`unshare -n`, so no query leaves the machine),
//! keeps that link down while the node runs and answers SIP; a name the hosts file learns only
//! after start brings up both the SIP link and the H.323 flow, without a restart.
//!
//! The first test needs nothing but loopback; the others need root and util-linux `unshare`.

use causeway_tests::{free_port, Node, NodeOptions};
use std::process::Command;
use std::time::Duration;

const EDGE_ZONE: &str = r#"[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = PORT
transport = "tcp"
username = "control-1"
listen_ip = "127.0.0.1"

[media]
anchor = "none"
"#;

fn control_zone(peer: &str, port: u16) -> String {
    format!(
        r#"[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "{peer}"
sip_port = {port}
transport = "tcp"
username = "control-1"
password = "secret"
retry_first = 1
retry_max = 1

[media]
anchor = "none"
"#
    )
}

/// A node's file for a private network namespace (fixed ports are free there): SIP UDP and TCP
/// on `sip`, admin on `admin`, then `rest` (zones, `[h323]`, ...).
fn ns_node_toml(name: &str, role: &str, (sip, admin): (u16, u16), rest: &str) -> String {
    format!(
        "[system]\nname = \"{name}\"\nrole = \"{role}\"\ndomain = \"example.com\"\n\
         [sip]\nudp = {{ enabled = true, listen = \"127.0.0.1:{sip}\" }}\n\
         tcp = {{ enabled = true, listen = \"127.0.0.1:{sip}\" }}\ntls = {{ enabled = false }}\n\
         [admin]\nlisten = \"127.0.0.1:{admin}\"\n{rest}"
    )
}

#[test]
fn a_peer_named_localhost_is_looked_up_and_the_link_comes_up() {
    let zone_port = free_port();
    let extra = EDGE_ZONE.replace("PORT", &zone_port.to_string());
    let e = Node::start(NodeOptions {
        extra: &extra,
        role: Some("edge"),
        ..Default::default()
    });
    let c = Node::start(NodeOptions {
        extra: &control_zone("localhost", zone_port),
        ..Default::default()
    });
    // localhost may come as ::1 as well, where E does not listen: the next attempt takes the
    // next address (retry_first = 1 s)
    c.wait_for("traversal link up", Duration::from_secs(15));
    e.wait_for("traversal link up", Duration::from_secs(5));
    // the status is published once a second: wait for it to show the link
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let link = loop {
        let status = c.status_json();
        let link = status["links"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["zone"] == "to-edge"))
            .cloned()
            .unwrap_or_else(|| panic!("no to-edge link in {status}"));
        if link["state"] == "up" || std::time::Instant::now() > deadline {
            break link;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(link["state"], "up", "{link}");
    assert_eq!(link["peer"], format!("127.0.0.1:{zone_port}"), "{link}");
}

#[test]
fn a_peer_name_that_does_not_resolve_keeps_only_its_link_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    let toml = ns_node_toml(
        "c",
        "control",
        (5060, 7080),
        &control_zone("edge.invalid", 7001),
    );
    std::fs::write(&cfg, toml).expect("config");
    let log = dir.path().join("c.log");
    let out = dir.path().join("options.out");
    // the node in a namespace of its own; an OPTIONS from inside once the link is down
    let script = r#"ip link set lo up || exit 97
"$BIN" run --config "$CFG" 2>"$LOG" &
pid=$!
i=0; while [ $i -lt 200 ] && ! grep -q "traversal link down" "$LOG"; do sleep 0.05; i=$((i+1)); done
python3 - >"$OUT" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.settimeout(5)
port = s.getsockname()[1]
s.sendto(("OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKdns1\r\n"
          "Max-Forwards: 70\r\nFrom: <sip:t@example.com>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
          "Call-ID: dns-options\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % port).encode(),
         ("127.0.0.1", 5060))
print(s.recv(65535).decode(errors="replace").split("\r\n", 1)[0])
PY
alive=0; kill -0 $pid && alive=1
kill $pid; wait $pid
echo "alive=$alive" >>"$OUT"
exit 0"#;
    let o = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", script])
        .env("BIN", causeway_tests::env_bin())
        .env("CFG", &cfg)
        .env("LOG", &log)
        .env("OUT", &out)
        .output()
        .expect("unshare (util-linux) is needed; the e2e tests run as root");
    let node_log = std::fs::read_to_string(&log).unwrap_or_default();
    let answer = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        o.status.success(),
        "{}\n{node_log}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        node_log.contains("running"),
        "the node did not start:\n{node_log}"
    );
    let down = node_log
        .lines()
        .find(|l| l.contains("traversal link down"))
        .unwrap_or_else(|| panic!("no link attempt:\n{node_log}"));
    assert!(
        down.contains("edge.invalid") && down.contains("does not resolve"),
        "the reason names the name: {down}"
    );
    assert!(
        answer.starts_with("SIP/2.0 200") && answer.contains("alive=1"),
        "the node answers SIP with its link down: {answer}\n{node_log}"
    );
}

/// C's H.323 flow to a peer whose name resolves only after C started: in a namespace of its own
/// (network and mounts: the hosts file is a private copy) E runs at 127.0.0.1 and C's zone names
/// it `edge.test`, which the hosts file learns a few seconds later. The flow comes up then,
/// without a restart (it used to be resolved once, at start, and left out for good).
#[test]
fn an_h323_flow_to_a_name_that_resolves_late_comes_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h323 = |ras: u16| {
        format!(
            "[media]\nanchor = \"none\"\n[h323]\nenabled = true\n\
             ras_listen = \"127.0.0.1:{ras}\"\nq931_listen = \"127.0.0.1:{}\"\n",
            ras + 1
        )
    };
    let edge_zone = "[[credential]]\nusername = \"control-1\"\npassword = \"secret\"\n\
        [[zone]]\nname = \"from-control\"\ntype = \"traversal-server\"\nsip_port = 7001\n\
        h323_port = 6001\ntransport = \"tcp\"\nusername = \"control-1\"\nlisten_ip = \"127.0.0.1\"\n";
    let control_zone = "[[zone]]\nname = \"to-edge\"\ntype = \"traversal-client\"\n\
        peer = \"edge.test\"\nsip_port = 7001\nh323_port = 6001\nh323_keepalive_interval = 5\n\
        transport = \"tcp\"\nusername = \"control-1\"\npassword = \"secret\"\n\
        retry_first = 1\nretry_max = 1\n";
    let edge = ns_node_toml("e", "edge", (5160, 7180), &(h323(1819) + edge_zone));
    let control = ns_node_toml("c", "control", (5060, 7080), &(h323(1719) + control_zone));
    std::fs::write(dir.path().join("e.toml"), edge).expect("config");
    std::fs::write(dir.path().join("c.toml"), control).expect("config");
    let script = r#"ip link set lo up || exit 97
cp /etc/hosts "$D/hosts" && mount --bind "$D/hosts" /etc/hosts || exit 98
"$BIN" run --config "$D/e.toml" 2>"$D/e.log" &
e=$!
"$BIN" run --config "$D/c.toml" 2>"$D/c.log" &
c=$!
i=0; while [ $i -lt 200 ] && ! grep -q "H.323 traversal flow: .edge.test. does not resolve" "$D/c.log"; do sleep 0.05; i=$((i+1)); done
sleep 2
"$BIN" status --json --admin 127.0.0.1:7080 >"$D/status.json"
echo "127.0.0.1 edge.test" >>/etc/hosts
i=0; while [ $i -lt 200 ] && ! { grep -q "H.323 traversal flow up" "$D/c.log" && grep -q "traversal link up" "$D/c.log"; }; do sleep 0.05; i=$((i+1)); done
kill $c $e; wait $c $e
exit 0"#;
    let o = Command::new("unshare")
        .args(["-n", "-m", "--", "sh", "-c", script])
        .env("BIN", causeway_tests::env_bin())
        .env("D", dir.path())
        .output()
        .expect("unshare (util-linux) is needed; the e2e tests run as root");
    let c_log = std::fs::read_to_string(dir.path().join("c.log")).unwrap_or_default();
    let e_log = std::fs::read_to_string(dir.path().join("e.log")).unwrap_or_default();
    assert!(
        o.status.success(),
        "{}\nC:\n{c_log}\nE:\n{e_log}",
        String::from_utf8_lossy(&o.stderr)
    );
    let at = |needle: &str| {
        c_log
            .find(needle)
            .unwrap_or_else(|| panic!("no `{needle}`:\nC:\n{c_log}\nE:\n{e_log}"))
    };
    // each side found the name missing first, and came up once the hosts file had it
    let h323_missing = at("H.323 traversal flow: `edge.test` does not resolve");
    let sip_missing = at("E's name `edge.test` does not resolve");
    assert!(h323_missing < at("H.323 traversal flow up"), "{c_log}");
    assert!(sip_missing < at("traversal link up"), "{c_log}");
    assert!(
        e_log.contains("H.323 traversal flow up"),
        "E saw no flow:\n{e_log}"
    );
    // while the name was missing, status showed the H.323 flow down, with the reason
    let status = std::fs::read_to_string(dir.path().join("status.json")).unwrap_or_default();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
    let zones = status["h323"]["zones"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let flow = zones
        .iter()
        .find(|z| z["zone"] == "to-edge" && z["role"] == "client")
        .unwrap_or_else(|| panic!("no to-edge H.323 flow in status: {status}"));
    assert_eq!(flow["state"], "down", "{flow}");
    assert_eq!(
        flow["peer"], "edge.test",
        "the row names the peer it waits for: {flow}"
    );
    let error = flow["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("edge.test"), "{flow}");
}
