//! H.323 end to end (issue 4): the causeway binary as gatekeeper and gatekeeper-routed call
//! signaling, driven by `h323-endpoint` processes (a real endpoint built from the crates: RAS,
//! Q.931/H.225.0, H.245 TCS/MSD/OLC), on loopback with free ports. tshark dissects a capture of
//! the node's own RAS and call-signaling traffic.

use causeway_tests::tshark::{self, Capture};
use causeway_tests::{free_port, H323Endpoint, Node, NodeOptions};
use serde_json::Value;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

/// A node with the gatekeeper on free ports.
struct Gk {
    node: Node,
    ras: SocketAddr,
    q931: SocketAddr,
}

fn gatekeeper(extra_h323: &str, extra: &str) -> Gk {
    let (ras, q931) = (free_port(), free_port());
    let toml = format!(
        "[media]\nanchor = \"none\"\n\n[h323]\nenabled = true\nras_listen = \"127.0.0.1:{ras}\"\n\
         q931_listen = \"127.0.0.1:{q931}\"\n{extra_h323}\n{extra}"
    );
    let node = Node::start(NodeOptions {
        extra: &toml,
        ..NodeOptions::default()
    });
    node.wait_for("H.323 gatekeeper", T);
    Gk {
        node,
        ras: SocketAddr::from(([127, 0, 0, 1], ras)),
        q931: SocketAddr::from(([127, 0, 0, 1], q931)),
    }
}

fn status(gk: &Gk) -> Value {
    let o = Command::new(causeway_tests::env_bin())
        .args(["status", "--json", "--admin"])
        .arg(format!("127.0.0.1:{}", gk.node.admin_port))
        .output()
        .expect("causeway status");
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("status JSON: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// Waits until the status (refreshed about once a second) satisfies `pred`.
fn wait_status(gk: &Gk, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + T;
    loop {
        let s = status(gk);
        if pred(&s["h323"]) {
            return s["h323"].clone();
        }
        if Instant::now() > end {
            panic!(
                "status never showed {what}: {:#}\nlog:\n{}",
                s["h323"],
                gk.node.log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn has_alias(h323: &Value, alias: &str) -> bool {
    h323["registrations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| {
            r["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a == alias)
        })
}

/// Waits until the status shows `alias` registered (`true`) or not (`false`).
fn wait_registered(gk: &Gk, alias: &str, yes: bool) {
    let what = format!("{alias} registered: {yes}");
    wait_status(gk, &what, |h| has_alias(h, alias) == yes);
}

fn endpoint(gk: &Gk, name: &str, aliases: &[&str], more: &[&str]) -> H323Endpoint {
    let ras = gk.ras.to_string();
    let mut args = vec!["--gk", ras.as_str()];
    for a in aliases {
        args.extend(["--alias", a]);
    }
    args.extend(more);
    let ep = H323Endpoint::start(name, &args);
    ep.wait_event("registered", T);
    ep
}

fn h245(ep: &H323Endpoint, what: &str) -> Value {
    ep.wait(what, T, |v| v["event"] == "h245" && v["what"] == what)
}

fn addr(v: &Value) -> SocketAddr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an address: {v}"))
}

/// One call from a fresh caller to `dest`, answered by `callee`; checks both sides end to end
/// and returns the caller (finished) for further checks.
fn call(gk: &Gk, callee: &H323Endpoint, dest: &str, mode: &str, n: usize) -> H323Endpoint {
    let mut alice = endpoint(
        gk,
        &format!("alice{n}"),
        &[&format!("h323:alice{n}"), &format!("e164:100{n}")],
        &["--call", dest, "--h245", mode, "--hold-ms", "500"],
    );
    let acf = alice.wait_event("acf", T);
    assert_eq!(
        addr(&acf["dest"]),
        gk.q931,
        "gatekeeper-routed: ACF names causeway"
    );
    assert_eq!(acf["call_model"], "gatekeeperRouted");
    alice.wait_event("connected", T);
    // the callee saw this caller's Setup, relayed by causeway with the call's aliases
    let setup = callee.wait(&format!("setup from alice{n}"), T, |v| {
        v["event"] == "setup"
            && v["from"]
                .as_array()
                .is_some_and(|f| f.iter().any(|a| *a == format!("h323:alice{n}")))
    });
    assert_eq!(setup["to"][0], dest);
    assert!(
        gk.q931.ip() == addr(&setup["peer"]).ip(),
        "the Setup came from causeway: {setup}"
    );
    // H.245: capabilities, master/slave, one logical channel whose media address is the
    // callee's real RTP socket
    h245(&alice, "tcs-ack");
    h245(&alice, "msd");
    let ack = h245(&alice, "olc-ack");
    let olc = callee.wait("olc", T, |v| {
        v["event"] == "h245" && v["what"] == "olc" && v["local_rtp"] == ack["remote_rtp"]
    });
    assert!(addr(&olc["local_rtp"]).port() > 0);
    let rel = alice.wait_event("released", T);
    assert_eq!(rel["cause"], 16, "normal call clearing: {rel}");
    alice.wait_event("dcf", T);
    alice.finish(T);
    alice.wait_event("unregistered", T);
    alice
}

#[test]
fn two_endpoints_call_by_e164_and_by_h323_id_with_tunneled_and_separate_h245() {
    let gk = gatekeeper("signaling_ports = \"41000-41999\"", "");
    let bob = endpoint(
        &gk,
        "bob",
        &["h323:bob", "e164:2002"],
        &["--h245", "separate", "--ignore-stdin"],
    );
    let h = wait_status(&gk, "bob registered", |h| {
        h["registrations"].as_array().is_some_and(|r| r.len() == 1)
    });
    assert_eq!(
        h["registrations"][0]["aliases"],
        serde_json::json!(["h323-id:bob", "e164:2002"])
    );

    call(&gk, &bob, "e164:2002", "tunnel", 1);
    let alice = call(&gk, &bob, "h323:bob", "separate", 2);
    // the separate H.245 channel is causeway's: both endpoints reached a port of the
    // signaling range, not each other
    let ch = h245(&alice, "channel");
    let port = addr(&ch["remote"]).port();
    assert!((41000..=41999).contains(&port), "H.245 via causeway: {ch}");

    let h = wait_status(&gk, "both calls over", |h| {
        h["calls_total"] == 2 && h["calls"].as_array().is_some_and(Vec::is_empty)
    });
    assert_eq!(
        h["admitted_calls"], 0,
        "every ARQ was followed by a DRQ: {h:#}"
    );
    assert_eq!(h["ras_malformed"], 0);
    assert_eq!(h["signaling_malformed"], 0);
}

#[test]
fn unknown_alias_gets_arj_and_urq_ends_a_registration() {
    let gk = gatekeeper("", "");
    let mut bob = endpoint(&gk, "bob", &["h323:bob"], &[]);
    let mut alice = endpoint(
        &gk,
        "alice",
        &["h323:alice"],
        &["--call", "e164:5550000", "--stay"],
    );
    let arj = alice.wait_event("arj", T);
    assert_eq!(arj["reason"], "calledPartyNotRegistered", "{arj}");
    // bob leaves (URQ/UCF), then a call to him is refused the same way
    wait_registered(&gk, "h323-id:bob", true);
    bob.finish(T);
    bob.wait("unregistered by self", T, |v| {
        v["event"] == "unregistered" && v["by"] == "self"
    });
    wait_registered(&gk, "h323-id:bob", false);
    let carol = endpoint(&gk, "carol", &["h323:carol"], &["--call", "h323:bob"]);
    let arj = carol.wait_event("arj", T);
    assert_eq!(arj["reason"], "calledPartyNotRegistered");
    alice.finish(T);
    let h = wait_status(&gk, "two URQs", |h| {
        h["ras_received"]["URQ"].as_u64() >= Some(2)
    });
    assert!(h["ras_rejected"].as_u64() >= Some(2), "{h:#}");
}

#[test]
fn a_silent_endpoint_is_probed_and_removed_when_its_ttl_runs_out_and_a_live_one_stays() {
    let gk = gatekeeper("time_to_live = 3\nprobe_timeout = 1", "");
    let mut live = endpoint(&gk, "live", &["h323:live"], &["--ttl", "60"]);
    let reg = live.wait_event("registered", T);
    assert_eq!(reg["ttl"], 3, "60 asked, 3 granted: {reg}");
    let mut gone = endpoint(&gk, "gone", &["h323:gone"], &[]);
    wait_registered(&gk, "h323-id:gone", true);
    // SIGKILL: no URQ, the registration just goes silent
    let started = Instant::now();
    gone.kill();
    wait_registered(&gk, "h323-id:gone", false);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "removed before its TTL: {took:?}"
    );
    assert!(
        gk.node.log().contains("Expired"),
        "removed by the IRQ probe running out"
    );
    // the live endpoint re-registered (lightweight) and is still there after several TTLs
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        has_alias(&status(&gk)["h323"], "h323-id:live"),
        "{:#}",
        status(&gk)["h323"]
    );
    let n = live
        .events()
        .iter()
        .filter(|v| v["event"] == "refreshed")
        .count();
    assert!(n >= 2, "lightweight re-registrations: {n}");
    let caller = endpoint(&gk, "caller", &["h323:caller"], &["--call", "h323:gone"]);
    assert_eq!(
        caller.wait_event("arj", T)["reason"],
        "calledPartyNotRegistered"
    );
    live.finish(T);
}

#[test]
fn malformed_ras_and_q931_are_counted_and_the_next_call_works() {
    use std::io::Write;
    let gk = gatekeeper("", "");
    let bob = endpoint(&gk, "bob", &["e164:3003"], &["--ignore-stdin"]);
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    for junk in [&b"\xff\xff\xff\xff"[..], b"", b"\x0e\x00\x00\x01garbage"] {
        u.send_to(junk, gk.ras).unwrap();
    }
    // a TPKT frame holding no Q.931, then a broken TPKT header
    let mut s = TcpStream::connect(gk.q931).unwrap();
    s.write_all(b"\x03\x00\x00\x08\x01\x02\x03\x04").unwrap();
    let mut s2 = TcpStream::connect(gk.q931).unwrap();
    s2.write_all(b"\x07\x07\x07\x07\x07").unwrap();
    let h = wait_status(&gk, "malformed input counted", |h| {
        h["ras_malformed"].as_u64() >= Some(2) && h["signaling_malformed"].as_u64() >= Some(2)
    });
    eprintln!("{h:#}");
    call(&gk, &bob, "e164:3003", "tunnel", 3);
}

#[test]
fn calls_reach_an_endpoint_of_a_neighbor_zone_through_lrq() {
    // B is a gatekeeper of its own; A's search rule sends 4xxx to B; B answers A's LRQ from
    // its registrations and takes the Setup that A then relays
    // B answers LRQs only from its neighbors: A (on the same loopback address)
    let b = gatekeeper(
        "",
        "[[zone]]\nname = \"A\"\ntype = \"neighbor\"\npeer = \"127.0.0.1\"\n",
    );
    let a_extra = format!(
        "[[zone]]\nname = \"B\"\ntype = \"neighbor\"\npeer = \"127.0.0.1:{}\"\nras_port = {}\n\n\
         [[search_rule]]\nname = \"to-b\"\npriority = 60\npattern_type = \"prefix\"\n\
         pattern = \"4\"\ntarget = \"B\"\n",
        b.node.port,
        b.ras.port()
    );
    let a = gatekeeper("", &a_extra);
    let _bob = endpoint(&b, "bob", &["e164:4001"], &["--ignore-stdin"]);
    let mut alice = endpoint(
        &a,
        "alice",
        &["e164:1001"],
        &["--call", "e164:4001", "--hold-ms", "300"],
    );
    let outcome = alice.wait("acf or arj", T, |v| {
        v["event"] == "connected" || v["event"] == "released" || v["event"] == "arj"
    });
    assert_eq!(
        outcome["event"],
        "connected",
        "{outcome}\nA:\n{}\nB:\n{}",
        a.node.log(),
        b.node.log()
    );
    alice.wait_event("released", T);
    alice.finish(T);
}

#[test]
fn tshark_dissects_the_gatekeepers_ras_and_call_signaling_cleanly() {
    let gk = gatekeeper("signaling_ports = \"42000-42999\"", "");
    let cap = Capture::start("udp or tcp");
    let bob = endpoint(
        &gk,
        "bob",
        &["h323:bob", "e164:2002"],
        &["--h245", "separate", "--ignore-stdin", "--discover"],
    );
    let separate = call(&gk, &bob, "e164:2002", "separate", 4);
    call(&gk, &bob, "h323:bob", "tunnel", 5);
    let file = cap.stop();
    // Only this test's conversations (other tests run beside it on loopback): RAS on our port
    // as H.225.0 RAS; Q.931 to our 1720 and from causeway to bob's call-signaling port (tshark
    // finds it by its TPKT heuristic); H.245 on causeway's listener and on bob's, by decode-as.
    let mut decode_as = vec![format!("udp.port=={},h225", gk.ras.port())];
    let mut tcp_ports = vec![
        gk.q931.port(),
        addr(&bob.wait_event("ready", T)["q931"]).port(),
    ];
    let listener = addr(&h245(&separate, "channel")["remote"]).port();
    assert!(
        (42000..=42999).contains(&listener),
        "causeway's H.245 listener: {listener}"
    );
    let mut h245_ports = vec![listener];
    for v in bob.events() {
        if let Some(a) = v["h245_address"].as_str() {
            h245_ports.push(addr(&Value::from(a)).port());
        }
    }
    for p in &h245_ports {
        decode_as.push(format!("tcp.port=={p},h245"));
    }
    tcp_ports.extend(&h245_ports);
    let ours = format!(
        "udp.port=={} || {}",
        gk.ras.port(),
        tcp_ports
            .iter()
            .map(|p| format!("tcp.port=={p}"))
            .collect::<Vec<_>>()
            .join(" || ")
    );
    let summary = tshark::read(file.path(), &decode_as, &ours, &[]);
    eprintln!("{summary}");
    let bad = tshark::read(
        file.path(),
        &decode_as,
        &format!("({ours}) && (_ws.malformed || _ws.expert.severity >= error)"),
        &[],
    );
    assert_eq!(
        bad,
        "",
        "tshark flags frames:\n{}",
        tshark::read(
            file.path(),
            &decode_as,
            &format!("({ours}) && (_ws.malformed || _ws.expert.severity >= error)"),
            &["-V"]
        )
    );
    for msg in [
        "h225.gatekeeperRequest_element",
        "h225.gatekeeperConfirm_element",
        "h225.registrationRequest_element",
        "h225.registrationConfirm_element",
        "h225.admissionRequest_element",
        "h225.admissionConfirm_element",
        "h225.disengageRequest_element",
        "h225.disengageConfirm_element",
        "h225.unregistrationRequest_element",
        "h225.unregistrationConfirm_element",
        "h225.setup_element",
        "h225.callProceeding_element",
        "h225.alerting_element",
        "h225.connect_element",
        "h225.releaseComplete_element",
        "h245.terminalCapabilitySet_element",
        "h245.openLogicalChannel_element",
        "h245.openLogicalChannelAck_element",
    ] {
        let hits = tshark::read(file.path(), &decode_as, &format!("({ours}) && {msg}"), &[]);
        assert_ne!(hits, "", "tshark finds no {msg}:\n{summary}");
    }
}

#[test]
fn sip_and_h323_registrations_share_one_alias_table() {
    let gk = gatekeeper("", "");
    // a SIP UA holds carol@example.com: an H.323 endpoint asking for the same alias is refused
    causeway_tests::register(&gk.node, "carol", free_port());
    let mut ep = H323Endpoint::start(
        "carol-h323",
        &[
            "--gk",
            &gk.ras.to_string(),
            "--alias",
            "url:carol@example.com",
        ],
    );
    let rrj = ep.wait_event("rrj", T);
    assert!(
        rrj["reason"]
            .as_str()
            .is_some_and(|r| r.contains("duplicateAlias")),
        "{rrj}"
    );
    ep.kill();
    // an H.323 endpoint holds dave@example.com: a SIP REGISTER for it is refused
    let _dave = endpoint(
        &gk,
        "dave-h323",
        &["url:dave@example.com"],
        &["--ignore-stdin"],
    );
    let c = causeway_tests::UdpClient::new();
    let msg = causeway_tests::crlf(&format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {local};branch=z9hG4bKdave1
Max-Forwards: 70
From: <sip:dave@example.com>;tag=r1
To: <sip:dave@example.com>
Call-ID: reg-dave
CSeq: 1 REGISTER
Contact: <sip:dave@{local}>
Expires: 600
{ua}Content-Length: 0

",
        local = c.local(),
        ua = causeway_tests::UA_HEADERS,
    ));
    let r = c.request(gk.node.udp(), &msg);
    assert_eq!(causeway_tests::status(&r), 403, "{r}");
    assert!(r.contains("H.323"), "{r}");
}

#[test]
fn an_endpoint_discovers_the_gatekeeper_by_multicast_grq() {
    // multicast needs a route for 224.0.0.0/4: node and endpoint run in a private network
    // namespace (`unshare -n`) whose loopback carries it, so nothing leaves the machine and
    // the standard ports (1718 discovery, 1719 RAS) are free
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gk.toml");
    std::fs::write(
        &cfg,
        "[system]\nrole = \"control\"\ndomain = \"example.com\"\n\
         [sip]\nudp = { enabled = true, listen = \"127.0.0.1:5060\" }\ntcp = { enabled = false }\n\
         tls = { enabled = false }\n[media]\nanchor = \"none\"\n\
         [h323]\nenabled = true\nras_listen = \"127.0.0.1:1719\"\nq931_listen = \"127.0.0.1:1720\"\n\
         multicast_discovery = true\n",
    )
    .unwrap();
    let script = r#"ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 97
"$BIN" run --config "$CFG" 2>"$LOG" &
pid=$!
i=0; while [ $i -lt 200 ] && ! grep -q "H.323 gatekeeper" "$LOG"; do sleep 0.05; i=$((i+1)); done
"$EP" --gk 224.0.1.41:1718 --discover --alias h323:mc --ignore-stdin </dev/null >"$OUT" &
ep=$!
i=0; while [ $i -lt 200 ] && ! grep -q '"registered"' "$OUT"; do sleep 0.05; i=$((i+1)); done
kill $ep; wait $ep
kill $pid; wait $pid
exit 0"#;
    let log = dir.path().join("node.log");
    let out = dir.path().join("ep.out");
    let o = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", script])
        .env("BIN", causeway_tests::env_bin())
        .env("EP", causeway_tests::h323_endpoint_bin())
        .env("CFG", &cfg)
        .env("LOG", &log)
        .env("OUT", &out)
        .output()
        .expect("unshare (util-linux) is needed; the e2e tests run as root");
    let events = std::fs::read_to_string(&out).unwrap_or_default();
    let node_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        o.status.success(),
        "{}\n{events}\n{node_log}",
        String::from_utf8_lossy(&o.stderr)
    );
    let gcf = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "gcf")
        .unwrap_or_else(|| panic!("no GCF to the multicast GRQ:\n{events}\n{node_log}"));
    assert_eq!(gcf["ras"], "127.0.0.1:1719", "{gcf}");
    assert!(events.contains("\"registered\""), "{events}");
}
