//! The call history of issue 13, end to end: a SIP call that crosses E and C over a traversal
//! link (both nodes on loopback) is in the ladder of each node with every message in order —
//! checked against sipp's own message traces on the outer legs and against the other node on
//! the link — and `causeway trace` draws it; the history keeps its last N calls and the search
//! history its routing decisions (`causeway searches`); an H.323 call's ladder has its RAS,
//! Q.931 and H.245 messages.

use causeway_tests::{
    env_bin, free_port, register, scenario, sipp, sipp_background, Background, H323Endpoint, Node,
    NodeOptions,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

fn get(node: &Node, path: &str) -> (u16, String) {
    node.admin_get(path)
}

fn get_json(node: &Node, path: &str) -> Value {
    let (code, body) = get(node, path);
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Waits until `node` keeps `n` calls, all ended; returns `GET /calls`.
fn wait_ended(node: &Node, n: usize) -> Value {
    let end = Instant::now() + T;
    loop {
        let v = get_json(node, "/calls");
        let calls = v["calls"].as_array().cloned().unwrap_or_default();
        if calls.len() == n && calls.iter().all(|c| c["state"] == "ended") {
            return v;
        }
        assert!(Instant::now() < end, "never {n} ended calls: {v:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ladder(node: &Node, id: &str) -> Vec<Value> {
    let enc: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    get_json(node, &format!("/calls/{enc}"))["ladder"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The method of a request or the status of a response, from a start line or a summary.
fn head(line: &str) -> String {
    let first = line.split_whitespace().next().unwrap_or("");
    if first == "SIP/2.0" {
        line.split_whitespace().nth(1).unwrap_or("").to_string()
    } else {
        first.to_string()
    }
}

/// (sent, head) of each message in a sipp `-trace_msg` file, in order.
fn sipp_messages(path: &Path) -> Vec<(bool, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let sent = l.contains("message sent");
        if !(sent || l.contains("message received")) {
            continue;
        }
        if let Some(start) = lines.by_ref().find(|l| !l.trim().is_empty()) {
            out.push((sent, head(start)));
        }
    }
    out
}

/// (in, head) of the messages of a ladder exchanged with `peer` (or over `transport`).
fn with(ladder: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<(bool, String)> {
    ladder
        .iter()
        .filter(|m| keep(m))
        .map(|m| (m["dir"] == "in", head(m["summary"].as_str().unwrap_or(""))))
        .collect()
}

fn edge(zone_port: u16, sip: &str) -> Node {
    let extra = format!(
        r#"[routing]
local_domain_rule = false

[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = {zone_port}
transport = "tcp"
username = "control-1"
listen_ip = "127.0.0.1"

[[search_rule]]
name = "example.com to C"
pattern_type = "suffix"
pattern = "@example.com"
target = "from-control"

# signaling only: the two tests that start an edge run side by side, and each would bind the
# multiplexed pair 36000/36001
[media]
anchor = "none"
"#
    );
    Node::start(NodeOptions {
        extra: &extra,
        role: Some("edge"),
        sip,
        ..NodeOptions::default()
    })
}

fn control(zone_port: u16, sip: &str) -> Node {
    let extra = format!(
        "[[zone]]\nname = \"to-edge\"\ntype = \"traversal-client\"\npeer = \"127.0.0.1\"\n\
         sip_port = {zone_port}\ntransport = \"tcp\"\nusername = \"control-1\"\npassword = \"secret\"\n"
    );
    Node::start(NodeOptions {
        extra: &extra,
        sip,
        ..NodeOptions::default()
    })
}

/// A sipp UAS on a free port that writes its messages to `trace`.
fn uas_traced(trace: &Path) -> (Background, u16) {
    let port = free_port();
    let uas = sipp_background(&[
        "-sf",
        &scenario("uas_call.xml").display().to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-t",
        "u1",
        "-trace_msg",
        "-message_file",
        &trace.display().to_string(),
    ]);
    (uas, port)
}

fn trace_cli(node: &Node, args: &[&str]) -> (i32, String) {
    let o = Command::new(env_bin())
        .args(args)
        .args(["--admin", &format!("127.0.0.1:{}", node.admin_port)])
        .output()
        .expect("causeway");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn a_call_across_e_and_c_is_in_both_ladders_in_order_and_causeway_trace_draws_it() {
    across_e_and_c("");
}

/// `[sip] threads = 2`: the datagrams are shown to the history from the UDP ring's own thread,
/// the link's TCP messages from the core's, and the ladders are the same.
#[test]
fn the_ladders_are_whole_and_in_order_with_the_sip_udp_ring_on_its_own_thread() {
    let (e, c) = across_e_and_c("threads = 2");
    for node in [&e, &c] {
        let sip = &node.status_json()["sip"];
        let on_ring = sip["udp_io"] == "io_uring";
        let names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", node.pid()))
            .expect("the node's threads")
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|n| n.trim().to_string())
            .collect();
        if on_ring {
            assert_eq!(sip["threads"], 2, "{sip}");
            assert!(names.iter().any(|n| n == "causeway-sip-io"), "{names:?}");
            assert!(names.iter().any(|n| n == "causeway-sip"), "{names:?}");
        } else {
            assert_eq!(sip["threads"], 1, "{sip}");
        }
    }
}

/// A call from a sipp UAC through E and C to a sipp UAS, both nodes with `sip` in `[sip]`:
/// checks both ladders and `causeway trace`; gives the nodes back.
fn across_e_and_c(sip: &str) -> (Node, Node) {
    let zone_port = free_port();
    let e = edge(zone_port, sip);
    let c = control(zone_port, sip);
    c.wait_for("traversal link up", T);
    e.wait_for("traversal link up", T);
    let dir = tempfile::tempdir().expect("tempdir");
    let (uas, uas_port) = uas_traced(&dir.path().join("uas.log"));
    register(&c, "alice", uas_port);
    let uac_port = free_port();
    let uac_trace = dir.path().join("uac.log");
    let out = sipp(
        &[
            &format!("127.0.0.1:{}", e.port),
            "-sf",
            &scenario("uac_call.xml").display().to_string(),
            "-s",
            "alice",
            "-i",
            "127.0.0.1",
            "-p",
            &uac_port.to_string(),
            "-t",
            "u1",
            "-m",
            "1",
            "-trace_msg",
            "-message_file",
            &uac_trace.display().to_string(),
        ],
        T,
    );
    assert!(
        out.status.success(),
        "the call failed: {out:?}\nE:\n{}\nC:\n{}",
        e.log(),
        c.log()
    );
    drop(uas); // sipp writes its trace as it goes; stopped, the file is whole

    let ce = wait_ended(&e, 1);
    let cc = wait_ended(&c, 1);
    let id = ce["calls"][0]["id"].as_str().expect("an id").to_string();
    assert_eq!(cc["calls"][0]["id"], id, "one Call-ID on both nodes");
    for v in [&ce, &cc] {
        let call = &v["calls"][0];
        assert_eq!(call["protocol"], "sip");
        assert_eq!(call["outcome"], "completed", "{v:#}");
        assert!(
            call["to"].as_str().is_some_and(|t| t.contains("alice@")),
            "{v:#}"
        );
        assert!(call["answered"].as_f64() >= call["started"].as_f64());
    }
    let le = ladder(&e, &id);
    let lc = ladder(&c, &id);

    // E and the caller: exactly what sipp sent and received, in order (sent by sipp = in here)
    let uac = format!("127.0.0.1:{uac_port}");
    let from_sipp = sipp_messages(&uac_trace);
    assert!(from_sipp.len() >= 5, "sipp trace: {from_sipp:?}");
    assert_eq!(
        with(&le, |m| m["remote"] == uac.as_str()),
        from_sipp,
        "E's ladder with the UAC"
    );
    // C and the callee
    let uas_addr = format!("127.0.0.1:{uas_port}");
    let to_sipp = sipp_messages(&dir.path().join("uas.log"));
    assert!(to_sipp.len() >= 5, "sipp trace: {to_sipp:?}");
    assert_eq!(
        with(&lc, |m| m["remote"] == uas_addr.as_str()),
        to_sipp,
        "C's ladder with the UAS"
    );
    // the link: what E sent C received, and back, in order
    let link_e = with(&le, |m| m["transport"] == "TCP");
    let link_c: Vec<(bool, String)> = with(&lc, |m| m["transport"] == "TCP")
        .into_iter()
        .map(|(inb, h)| (!inb, h))
        .collect();
    assert_eq!(link_e, link_c, "the link seen from both ends");
    let methods: Vec<&str> = link_e.iter().map(|(_, h)| h.as_str()).collect();
    for w in ["INVITE", "180", "200", "ACK", "BYE"] {
        assert!(methods.contains(&w), "{w} on the link: {methods:?}");
    }
    // full texts, across TLS or not: the INVITE as sent
    assert!(le[0]["text"]
        .as_str()
        .is_some_and(|t| t.starts_with("INVITE sip:alice@")));
    let times: Vec<f64> = le.iter().filter_map(|m| m["t"].as_f64()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in time order: {times:?}"
    );

    // causeway trace: by Call-ID and by alias, one row per message in the same order
    let (code, by_id) = trace_cli(&e, &["trace", &id]);
    assert_eq!(code, 0, "{by_id}");
    let (code, by_alias) = trace_cli(&e, &["trace", "alice@example.com"]);
    assert_eq!(code, 0, "{by_alias}");
    assert_eq!(by_id, by_alias);
    println!("{by_id}");
    let rows: Vec<&str> = by_id
        .lines()
        .filter(|l| l.contains("->") || l.contains('>') || l.contains('<'))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), le.len(), "a row per message:\n{by_id}");
    for (row, m) in rows.iter().zip(&le) {
        assert!(
            row.contains(m["summary"].as_str().unwrap_or("?")),
            "{row} / {m}"
        );
    }
    assert!(by_id.contains("completed"), "{by_id}");
    let (code, text) = trace_cli(&e, &["trace", "--text", &id]);
    assert_eq!(code, 0);
    assert!(text.contains(&format!("| Call-ID: {id}")), "{text}");
    let (code, none) = trace_cli(&e, &["trace", "nobody-here"]);
    assert_eq!(code, 2, "{none}");
    assert!(none.contains("no kept call"), "{none}");
    (e, c)
}

#[test]
fn the_last_calls_are_kept_within_bounds_and_searches_are_listed() {
    let node = Node::start(NodeOptions {
        admin: "call_history = 5\nsearch_history = 4",
        ..NodeOptions::default()
    });
    let (_uas, uas_port) = causeway_tests::sipp_uas("uas_call.xml", "u1");
    register(&node, "alice", uas_port);
    let out = causeway_tests::sipp_uac(&node, "uac_call.xml", "alice", "u1", 12, 20);
    assert!(out.status.success(), "{out:?}");
    let v = wait_ended(&node, 5);
    assert!(v["evicted"].as_u64() >= Some(7), "{v:#}");
    assert!(v["bytes"].as_u64() <= v["budget"].as_u64(), "{v:#}");
    assert_eq!(v["limit"], 5);
    let started: Vec<f64> = v["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["started"].as_f64())
        .collect();
    assert!(
        started.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {started:?}"
    );

    let s = get_json(&node, "/searches");
    let list = s["searches"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 4, "{s:#}");
    assert_eq!(list[0]["alias"], "alice@example.com");
    assert_eq!(list[0]["protocol"], "sip");
    assert_eq!(list[0]["source_zone"], "LocalZone");
    assert!(
        list[0]["targets"][0]
            .as_str()
            .is_some_and(|t| t.starts_with("LocalZone alice@example.com")),
        "{s:#}"
    );
    let (code, text) = trace_cli(&node, &["searches"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("alice@example.com from LocalZone (sip): 1 target"),
        "{text}"
    );
    assert!(text.contains("1. LocalZone alice@example.com"), "{text}");

    // with no history: 404, and the CLI says why
    let off = Node::start(NodeOptions {
        admin: "call_history = 0\nsearch_history = 0",
        ..NodeOptions::default()
    });
    assert_eq!(get(&off, "/calls").0, 404);
    assert_eq!(get(&off, "/searches").0, 404);
    let (code, text) = trace_cli(&off, &["trace", "x"]);
    assert_eq!(code, 1);
    assert!(text.contains("keeps no call history"), "{text}");
}

#[test]
fn an_h323_call_has_its_ras_q931_and_h245_messages_in_its_ladder() {
    let (ras, q931) = (free_port(), free_port());
    let toml = format!(
        "[media]\nanchor = \"none\"\n\n[h323]\nenabled = true\nras_listen = \"127.0.0.1:{ras}\"\n\
         q931_listen = \"127.0.0.1:{q931}\"\n"
    );
    let node = Node::start(NodeOptions {
        extra: &toml,
        ..NodeOptions::default()
    });
    node.wait_for("H.323 gatekeeper", T);
    let gk = format!("127.0.0.1:{ras}");
    let bob = H323Endpoint::start(
        "bob",
        &[
            "--gk",
            &gk,
            "--alias",
            "h323:bob",
            "--h245",
            "separate",
            "--ignore-stdin",
        ],
    );
    bob.wait_event("registered", T);
    let mut alice = H323Endpoint::start(
        "alice",
        &[
            "--gk",
            &gk,
            "--alias",
            "h323:alice",
            "--call",
            "h323:bob",
            "--h245",
            "separate",
            "--hold-ms",
            "300",
        ],
    );
    alice.wait_event("connected", T);
    alice.wait_event("dcf", T);
    alice.finish(T);
    let v = wait_ended(&node, 1);
    let call = &v["calls"][0];
    assert_eq!(call["protocol"], "h323");
    assert_eq!(call["from"], "h323:alice");
    assert_eq!(call["outcome"], "completed", "{v:#}");
    let id = call["id"].as_str().expect("id");
    assert_eq!(id.len(), 32, "the callIdentifier: {id}");
    let l = ladder(&node, id);
    let seq: Vec<String> = l
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["dir"].as_str().unwrap_or(""),
                m["summary"].as_str().unwrap_or("")
            )
        })
        .collect();
    let pos = |what: &str| {
        seq.iter()
            .position(|s| s.starts_with(what))
            .unwrap_or_else(|| panic!("no `{what}` in {seq:#?}"))
    };
    let order = [
        pos("in ARQ"),
        pos("out ACF"),
        pos("in Setup"),
        pos("out Setup"),
        pos("in Connect"),
        pos("out Connect"),
        pos("in ReleaseComplete"),
        pos("out ReleaseComplete"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "{order:?} in {seq:#?}"
    );
    // each endpoint's DRQ comes after the call was up (over UDP it may overtake the
    // ReleaseComplete on TCP) and is answered by a DCF with its sequence number
    let drqs: Vec<usize> = (0..seq.len())
        .filter(|&i| seq[i].starts_with("in DRQ"))
        .collect();
    assert_eq!(drqs.len(), 2, "a DRQ from each endpoint: {seq:#?}");
    for i in drqs {
        let dcf = seq[i].replace("in DRQ", "out DCF");
        assert!(i > pos("out Connect"), "{seq:#?}");
        assert!(
            seq[i + 1..].contains(&dcf),
            "{dcf} after {}: {seq:#?}",
            seq[i]
        );
    }
    // the separate H.245 connections, both legs
    assert!(
        seq.iter()
            .any(|s| s.starts_with("in H.245 request terminalCapabilitySet")),
        "{seq:#?}"
    );
    assert!(
        seq.iter()
            .any(|s| s.starts_with("out H.245 request terminalCapabilitySet")),
        "{seq:#?}"
    );
    let setup = &l[pos("in Setup")];
    assert_eq!(setup["transport"], "TCP");
    assert!(
        setup["text"]
            .as_str()
            .is_some_and(|t| t.contains("sourceAddress: h323:alice")),
        "{setup}"
    );
}
