//! Media through the firewall (issue 5): the topology of the traversal test
//! (`tests/scripts/fw_topology.sh`: C and a baresip UA in `inside`, E in `dmz`, a baresip UA in
//! `internet`, a firewall that lets nothing into `inside`), with real UAs sending G.711 audio
//! both ways. E and C anchor the call: SDP is rewritten to their relays, E receives C's media
//! on its multiplexed pair (36000/36001), C sends from a pair of its own — so every media flow
//! into `inside` is a reply to one C opened. Asserted: the call is established, RTP arrives in
//! both directions (within 5 % of what the other side sent, after the first second), the relays
//! counted it, no TCP connection was attempted and no datagram sent into `inside` (E's relay
//! sends towards C only once C's keep-alive or media came from there), and every relay port is free
//! again after the call.
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
/// A UA behind the NAT: its SDP names this private address, its packets arrive from the NAT.
const HOME_IP: &str = "10.77.4.2";

fn edge_toml() -> String {
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

[[zone]]
name = "internet"
type = "neighbor"
peer = "{NET_IP}:5070"

[[search_rule]]
name = "example.com to C"
pattern_type = "suffix"
pattern = "@example.com"
target = "from-control"

[[search_rule]]
name = "C to the internet"
priority = 110
source = "from-control"
pattern_type = "suffix"
pattern = "@internet.test"
target = "internet"
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

[media]
inactivity_timeout = 10

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
name = "internet via E"
pattern_type = "suffix"
pattern = "@internet.test"
target = "to-edge"
"#,
        outbound = outbound_block()
    )
}

fn json_u64(text: &str, key: &str) -> u64 {
    let k = format!("\"{key}\": ");
    text.find(&k)
        .map(|i| {
            text[i + k.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn baresip_calls_carry_audio_both_ways_through_e_and_c() {
    let topo = FwTopology::up("m");
    let (inside, dmz, net) = (topo.ns("in"), topo.ns("dmz"), topo.ns("net"));
    let e = NsNode::start(&dmz, &edge_toml());
    let c = NsNode::start(&inside, &control_toml());
    c.wait_for("traversal link up", 1, Duration::from_secs(15));

    // bob inside registers with C; alice on the internet calls through E (no registration)
    let bob = Baresip::start(
        &inside,
        C_IP,
        &format!("<sip:bob@example.com>;outbound=\"sip:{C_IP}:5060\";regint=600;answermode=auto;audio_codecs=PCMU"),
    );
    let alice = Baresip::start(
        &net,
        NET_IP,
        &format!("<sip:alice@internet.test>;outbound=\"sip:{E_IP}:5060\";regint=0;answermode=auto;audio_codecs=PCMU"),
    );
    let end = Instant::now() + Duration::from_secs(10);
    while !status(&inside).contains("sip:bob@example.com") {
        assert!(Instant::now() < end, "bob did not register: {}", c.log());
        std::thread::sleep(Duration::from_millis(200));
    }

    // internet -> E -> link -> C -> inside
    alice.command("dial sip:bob@example.com");
    wait_established(&alice, "inbound call");
    std::thread::sleep(Duration::from_secs(5));
    assert_audio_both_ways(&alice, &bob, "inbound call");
    // each UA talks to its own side's relay, not to the other UA (a stateful firewall would
    // let symmetric RTP through once bob sent first, so this is what proves the anchoring)
    let remote = |ua: &Baresip| ua.command("audio_debug").unwrap_or_default();
    assert!(
        remote(&alice).contains(&format!("remote: {E_IP}:")),
        "{}",
        remote(&alice)
    );
    assert!(
        remote(&bob).contains(&format!("remote: {C_IP}:")),
        "{}",
        remote(&bob)
    );
    // a stranger on the internet sends to the relay port alice's media goes to: after
    // latching, only alice's source is accepted; the stranger's packets are dropped
    let dbg = remote(&alice);
    let port: String = dbg
        .split(&format!("remote: {E_IP}:"))
        .nth(1)
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(!port.is_empty(), "alice's remote media port: {dbg}");
    let before = json_u64(&status(&dmz), "dropped_stranger");
    let st = Command::new("ip")
        .args(["netns", "exec", &net, "python3", "-c"])
        .arg(format!(
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('{NET_IP}', 0))\nfor _ in range(50): s.sendto(b'\\x80' + bytes(171), ('{E_IP}', {port}))"
        ))
        .status()
        .expect("stranger");
    assert!(st.success());
    // the status snapshot is refreshed once a second
    std::thread::sleep(Duration::from_millis(1500));
    let es = status(&dmz);
    let after = json_u64(&es, "dropped_stranger");
    assert!(
        after >= before + 50,
        "stranger packets not refused: {before} -> {after}: {es}"
    );
    assert_audio_both_ways(&alice, &bob, "inbound call, after the stranger");

    let (es, cs) = (status(&dmz), status(&inside));
    // `[media] relay_io = "auto"` takes io_uring wherever the kernel allows it
    if std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").is_ok_and(|v| v.trim() == "0")
    {
        assert!(es.contains("\"io\": \"io_uring\""), "E's relay I/O: {es}");
        assert!(cs.contains("\"io\": \"io_uring\""), "C's relay I/O: {cs}");
    }
    assert!(
        json_u64(&es, "packets_sent") > 200 && json_u64(&cs, "packets_sent") > 200,
        "the relays carried the media\nE: {es}\nC: {cs}\nE log:\n{}\nC log:\n{}",
        e.log(),
        c.log()
    );
    alice.command("hangup");
    std::thread::sleep(Duration::from_secs(1));

    // inside -> C -> link -> E -> internet
    bob.command("dial sip:alice@internet.test");
    wait_established(&bob, "outbound call");
    std::thread::sleep(Duration::from_secs(5));
    assert_audio_both_ways(&bob, &alice, "outbound call");
    assert!(
        remote(&alice).contains(&format!("remote: {E_IP}:")),
        "{}",
        remote(&alice)
    );
    assert!(
        remote(&bob).contains(&format!("remote: {C_IP}:")),
        "{}",
        remote(&bob)
    );
    bob.command("hangup");
    std::thread::sleep(Duration::from_secs(1));

    // a UA behind a NAT (private SDP address, randomised source ports): E latches to where
    // its media really comes from, and the call carries audio both ways
    let home = Baresip::start(
        &topo.ns("nat"),
        HOME_IP,
        &format!("<sip:dave@internet.test>;outbound=\"sip:{E_IP}:5060\";regint=0;answermode=auto;audio_codecs=PCMU"),
    );
    home.command("dial sip:bob@example.com");
    wait_established(&home, "call from behind the NAT");
    std::thread::sleep(Duration::from_secs(5));
    assert_audio_both_ways(&home, &bob, "call from behind the NAT");
    assert!(
        remote(&home).contains(&format!("remote: {E_IP}:")),
        "{}",
        remote(&home)
    );
    home.command("hangup");

    assert_eq!(
        topo.counters(),
        (0, 0),
        "a TCP connection was attempted or a datagram sent into inside (E's relay must wait \
         for C's keep-alive or media before sending towards C)"
    );
    // port accounting: every pair is free again once the calls ended
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let (es, cs) = (status(&dmz), status(&inside));
        if json_u64(&es, "ports_in_use") == 0 && json_u64(&cs, "ports_in_use") == 0 {
            break;
        }
        assert!(
            Instant::now() < end,
            "relay ports still held after the calls\nE: {es}\nC: {cs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
