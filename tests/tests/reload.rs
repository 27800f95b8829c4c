//! Live reconfiguration through the real binary: `causeway reload` and SIGHUP re-read the
//! node's file and apply a new dial plan while sipp calls run through it, without failing one
//! of them or dropping a registration; a bad file is refused with its `file:line:col` and the
//! running configuration stays; a changed setting that needs a restart is named.

use causeway_tests::{
    env_bin, register, sipp_uac, sipp_uac_with, sipp_uas, wait_for_log, Node, NodeOptions,
};
use std::process::{Command, Output};
use std::time::Duration;

fn report(out: &Output, node: &Node) -> String {
    format!(
        "stdout: {}\nstderr: {}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        node.log()
    )
}

fn reload(node: &Node) -> Output {
    Command::new(env_bin())
        .args(["reload", "--admin"])
        .arg(format!("127.0.0.1:{}", node.admin_port))
        .output()
        .expect("causeway reload")
}

fn config_path(node: &Node) -> std::path::PathBuf {
    node.dir.path().join("node.toml")
}

/// carol@example.com to the neighbor on `port` (a sipp UAS).
fn carol_rule(port: u16) -> String {
    format!(
        r#"
[[zone]]
name = "partner"
type = "neighbor"
peer = "127.0.0.1:{port}"

[[search_rule]]
name = "carol is the partner's"
priority = 10
pattern_type = "exact"
pattern = "carol@example.com"
target = "partner"
"#
    )
}

#[test]
fn reload_applies_a_new_dial_plan_under_calls_and_refuses_a_bad_file() {
    let node = Node::start(NodeOptions::default());
    let (_bob, bob_port) = sipp_uas("uas_call.xml", "u1");
    let (_partner, partner_port) = sipp_uas("uas_call.xml", "u1");
    register(&node, "bob", bob_port);
    let out = sipp_uac(&node, "uac_404.xml", "carol", "u1", 2, 10);
    assert_eq!(
        out.status.code(),
        Some(0),
        "carol is nobody's yet\n{}",
        report(&out, &node)
    );

    let original = std::fs::read_to_string(config_path(&node)).expect("config");
    std::thread::scope(|scope| {
        // 120 calls to bob at 20/s (10 open at most) run across every reload below
        let calls = scope
            .spawn(|| sipp_uac_with(&node, "uac_call.xml", "bob", "u1", 120, 20, &["-l", "10"]));
        reloads(&node, &original, partner_port);
        let out = calls.join().expect("calls thread");
        assert_eq!(
            out.status.code(),
            Some(0),
            "no call failed across the reloads\n{}",
            report(&out, &node)
        );
    });
    let regs = node.status_json()["registrations"].to_string();
    assert!(
        regs.contains("bob@example.com"),
        "bob's registration stayed: {regs}"
    );
    // a cluster document for a node that is no cluster's peer: refused, with what to do
    let doc = node.dir.path().join("shared.toml");
    std::fs::write(&doc, carol_rule(partner_port)).expect("write");
    let out = Command::new(env_bin())
        .args(["config", "apply", "--admin"])
        .arg(format!("127.0.0.1:{}", node.admin_port))
        .arg(&doc)
        .output()
        .expect("causeway config apply");
    assert_eq!(out.status.code(), Some(1));
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(
        why.contains("not a cluster peer") && why.contains("causeway reload"),
        "{why}"
    );
}

/// A new rule by `causeway reload`, a bad file refused, the old file back by SIGHUP.
fn reloads(node: &Node, original: &str, partner_port: u16) {
    std::thread::sleep(Duration::from_secs(1));
    std::fs::write(
        config_path(node),
        format!("{original}{}", carol_rule(partner_port)),
    )
    .expect("write");
    let out = reload(node);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, node));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("1 zones") && said.contains("1 search rules"),
        "{said}"
    );
    assert!(!said.contains("not applied"), "{said}");
    let out = sipp_uac(node, "uac_call.xml", "carol", "u1", 3, 10);
    assert_eq!(
        out.status.code(),
        Some(0),
        "carol goes to the partner now\n{}",
        report(&out, node)
    );

    // a bad file: refused with its position, the dial plan stays
    std::fs::write(
        config_path(node),
        format!(
            "{original}{}\n[registrar]\nmin_expires = \"soon\"\n",
            carol_rule(partner_port)
        ),
    )
    .expect("write");
    let out = reload(node);
    assert_eq!(out.status.code(), Some(1), "{}", report(&out, node));
    let why = String::from_utf8_lossy(&out.stderr);
    let lines = original.lines().count() + carol_rule(partner_port).lines().count() + 2;
    assert!(
        why.contains(&format!("node.toml:{}:", lines + 1)) && why.contains("min_expires"),
        "the file's position and field: {why}"
    );
    let out = sipp_uac(node, "uac_call.xml", "carol", "u1", 2, 10);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the running dial plan stayed\n{}",
        report(&out, node)
    );

    // SIGHUP with the original file: carol is nobody's again; a peer-local change is named
    std::fs::write(
        config_path(node),
        original.replace("[admin]", "[log]\nlevel = \"debug\"\n[admin]"),
    )
    .expect("write");
    Command::new("kill")
        .args(["-HUP", &node.pid().to_string()])
        .status()
        .expect("kill -HUP");
    wait_for_log(
        &node.dir.path().join("node.log"),
        "not applied until the next start: [log]",
        1,
        Duration::from_secs(5),
    );
    let out = sipp_uac(node, "uac_404.xml", "carol", "u1", 2, 10);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the rule is gone\n{}",
        report(&out, node)
    );
}

/// E with two traversal-server zones (TCP) on `ports`, for C's two links.
fn edge(ports: [u16; 2]) -> Node {
    let extra = format!(
        r#"[[credential]]
username = "control-1"
password = "secret-1"

[[credential]]
username = "control-2"
password = "secret-2"

[[zone]]
name = "from-control-1"
type = "traversal-server"
sip_port = {}
transport = "tcp"
username = "control-1"
listen_ip = "127.0.0.1"

[[zone]]
name = "from-control-2"
type = "traversal-server"
sip_port = {}
transport = "tcp"
username = "control-2"
listen_ip = "127.0.0.1"

# signaling only: tests run side by side and would all want the multiplexed pair 36000/36001
[media]
anchor = "none"
"#,
        ports[0], ports[1]
    );
    Node::start(NodeOptions {
        extra: &extra,
        role: Some("edge"),
        ..Default::default()
    })
}

/// C's traversal-client zone `n` to E's port, with `keepalive` seconds between keep-alives.
fn client_zone(n: u8, port: u16, keepalive: u32) -> String {
    format!(
        r#"
[[zone]]
name = "to-edge-{n}"
type = "traversal-client"
peer = "127.0.0.1"
sip_port = {port}
transport = "tcp"
username = "control-{n}"
password = "secret-{n}"
keepalive_interval = {keepalive}
retry_first = 1
retry_max = 2
"#
    )
}

/// How many times C's log says zone `zone`'s link came up.
fn ups(node: &Node, zone: &str) -> usize {
    node.log()
        .lines()
        .filter(|l| l.contains("traversal link up") && l.contains(zone))
        .count()
}

fn link_since(node: &Node, zone: &str) -> serde_json::Value {
    node.status_json()["links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["zone"] == zone).cloned())
        .map(|l| l["since"].clone())
        .unwrap_or(serde_json::Value::Null)
}

#[test]
fn a_changed_traversal_zone_reconnects_that_link_only() {
    let ports = [causeway_tests::free_port(), causeway_tests::free_port()];
    let e = edge(ports);
    let zones = format!(
        "{}{}",
        client_zone(1, ports[0], 25),
        client_zone(2, ports[1], 25)
    );
    let c = Node::start(NodeOptions {
        extra: &zones,
        ..Default::default()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while (ups(&c, "to-edge-1") < 1 || ups(&c, "to-edge-2") < 1)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        ups(&c, "to-edge-1") == 1 && ups(&c, "to-edge-2") == 1,
        "{}",
        c.log()
    );
    let since_1 = link_since(&c, "to-edge-1");
    assert!(since_1.is_u64(), "{since_1}");

    // zone 2's keep-alive changes; zone 1 is as it was
    let original = std::fs::read_to_string(config_path(&c)).expect("config");
    let changed = original.replace(&client_zone(2, ports[1], 25), &client_zone(2, ports[1], 20));
    assert_ne!(changed, original);
    std::fs::write(config_path(&c), changed).expect("write");
    std::thread::sleep(Duration::from_millis(1100)); // a new `since` would differ
    let out = reload(&c);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &c));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("traversal links kept: to-edge-1")
            && said.contains("traversal links restarted: to-edge-2"),
        "{said}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while ups(&c, "to-edge-2") < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ups(&c, "to-edge-2"), 2, "zone 2 came up again\n{}", c.log());
    assert_eq!(
        ups(&c, "to-edge-1"),
        1,
        "zone 1 was left alone\n{}",
        c.log()
    );
    assert_eq!(
        link_since(&c, "to-edge-1"),
        since_1,
        "zone 1's link is the same one"
    );
    // both links serve E: its status shows each up
    let links = e.status_json()["links"].to_string();
    assert_eq!(links.matches("\"up\"").count(), 2, "{links}");
}
