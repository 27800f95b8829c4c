//! Media through the firewall (issue 5): the topology of the traversal test
//! (`tests/scripts/fw_topology.sh`: C and a baresip UA in `inside`, E in `dmz`, a baresip UA in
//! `internet`, a firewall that lets nothing into `inside`), with real UAs sending G.711 audio
//! both ways. E and C anchor the call: SDP is rewritten to their relays, E receives C's media
//! on its multiplexed pair (36000/36001), C sends from a pair of its own — so every media flow
//! into `inside` is a reply to one C opened. Asserted: the call is established, RTP arrives in
//! both directions (within 5 % of what the other side sent, after the first second), the relays
//! counted it, no TCP connection was attempted into `inside`, and every relay port is free
//! again after the call.
//!
//! Needs root, iproute2, nftables, baresip (package baresip-core), python3.

use causeway_tests::netns::{FwTopology, NsNode};
use causeway_tests::{env_bin, outbound_block};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const C_IP: &str = "10.77.1.2";
const E_IP: &str = "10.77.2.2";
const NET_IP: &str = "10.77.3.2";
/// A UA behind the NAT: its SDP names this private address, its packets arrive from the NAT.
const HOME_IP: &str = "10.77.4.2";

/// A headless baresip in a namespace: a sine tone as the microphone, /dev/null as the speaker,
/// driven over ctrl_tcp on the namespace's loopback.
struct Baresip {
    ns: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Baresip {
    fn start(ns: &str, ip: &str, account: &str) -> Baresip {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t{ip}:5070\n\
             audio_player\t\taufile,/dev/null\n\
             audio_source\t\tausine,440\n\
             audio_alert\t\taufile,/dev/null\n\
             ausrc_srate\t\t48000\n\
             auplay_srate\t\t48000\n\
             ausrc_channels\t\t2\n\
             auplay_channels\t\t2\n\
             rtp_stats\t\tyes\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\tausine.so\n\
             module\t\t\taufile.so\n\
             module\t\t\tmenu.so\n\
             module\t\t\tctrl_tcp.so\n\
             module\t\t\taccount.so\n\
             ctrl_tcp_listen\t\t127.0.0.1:4444\n\
             sip_verify_server\tno\n"
        );
        std::fs::write(dir.path().join("config"), config).expect("config");
        std::fs::write(dir.path().join("accounts"), format!("{account}\n")).expect("accounts");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "baresip", "-f"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("baresip is missing: apt-get install -y baresip-core");
        let b = Baresip {
            ns: ns.to_string(),
            child,
            _dir: dir,
        };
        let end = Instant::now() + Duration::from_secs(10);
        while b.command("listcalls").is_none() {
            assert!(Instant::now() < end, "baresip in {ns} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        b
    }

    /// One ctrl_tcp command; the `data` of its response.
    fn command(&self, cmd: &str) -> Option<String> {
        let (name, params) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let py = r#"
import json, socket, sys, time
name, params = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", 4444), timeout=3)
body = json.dumps({"command": name, "params": params, "token": "t"}).encode()
s.sendall(b"%d:%s," % (len(body), body))
buf = b""
end = time.time() + 3
while time.time() < end:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
    # netstrings: events and the response; print the response's data
    while b":" in buf:
        n, rest = buf.split(b":", 1)
        if not n.isdigit() or len(rest) < int(n) + 1:
            break
        msg, buf = rest[: int(n)], rest[int(n) + 1 :]
        m = json.loads(msg)
        if m.get("response"):
            print(m.get("data", ""))
            sys.exit(0)
sys.exit(1)
"#;
        let o = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", py, name, params])
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).to_string())
    }

    /// (RTP packets sent, RTP packets received) of the current call, from `audio_debug`.
    fn rtp_counts(&self) -> (u64, u64) {
        let d = self.command("audio_debug").unwrap_or_default();
        let num_after = |key: &str| -> u64 {
            d.find(key)
                .map(|i| {
                    d[i + key.len()..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (num_after("TX: packets="), num_after("rcvd="))
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

fn status(ns: &str) -> String {
    let o = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env_bin())
        .args(["status", "--json"])
        .output()
        .expect("causeway status");
    String::from_utf8_lossy(&o.stdout).to_string()
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

fn wait_established(ua: &Baresip, what: &str) {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let calls = ua.command("listcalls").unwrap_or_default();
        if calls.contains("ESTABLISHED") {
            return;
        }
        assert!(
            Instant::now() < end,
            "{what}: call not established: {calls}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Both directions carried audio: what one side received is within 5 % of what the other
/// sent, allowing the first second (50 packets) for the relays to latch. The two UAs are read
/// one after the other (a few packets apart), hence the slack above as well.
fn assert_audio_both_ways(a: &Baresip, b: &Baresip, what: &str) {
    let (a_tx, a_rx) = a.rtp_counts();
    let (b_tx, b_rx) = b.rtp_counts();
    let ok = |sent: u64, got: u64| sent > 150 && got + 50 + sent / 20 >= sent && got <= sent + 25;
    assert!(
        ok(a_tx, b_rx) && ok(b_tx, a_rx),
        "{what}: RTP A sent {a_tx}, B got {b_rx}; B sent {b_tx}, A got {a_rx}"
    );
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
        topo.counters().0,
        0,
        "a TCP connection was attempted into inside"
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
