//! A real SIP UA and the H.323 endpoint through the interworking gateway, with RTP counted at
//! both ends: baresip (G.711 from a sine tone) registers on a node that runs the gatekeeper and
//! interworks (`[interworking]` default mode, media anchored), calls the H.323 endpoint at
//! `sip:2002@example.com` (fastStart, then slow start), and is called by an H.323 endpoint
//! dialling its AOR as an H.323-ID (`carol@example.com`). Each way, baresip's RTP counters and
//! the endpoint's `rtp` event show more than 50 packets sent and received, and what one side
//! received is close to what the other sent.
//!
//! Everything runs in a network namespace of its own (baresip's control port is fixed,
//! 127.0.0.1:4444, so it needs a loopback of its own) on the address of an interface of its own: baresip
//! finds no local network address on loopback alone and will not register. Nothing leaves the
//! namespace. Needs root, iproute2, baresip (package baresip-core), python3.

use causeway_tests::baresip::{wait_established, Baresip};
use causeway_tests::netns::{status, NsNode};
use causeway_tests::{outbound_block, H323Endpoint};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);
const AOR: &str = "sip:carol@example.com";
/// The namespace's interface address: the node, baresip and the H.323 endpoints all use it.
const IP: &str = "10.78.0.1";

/// A network namespace with loopback and an interface holding [`IP`], removed on drop.
struct Ns(String);

impl Ns {
    fn new(tag: &str) -> Ns {
        let name = format!("cwib{tag}{}", std::process::id() % 100_000);
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        ip(&["netns", "del", &name]);
        let addr = format!("{IP}/24");
        let ok = ip(&["netns", "add", &name]);
        let ns = Ns(name);
        let name = &ns.0;
        // a veth pair with both ends inside (no dummy module needed)
        let ok = ok
            && ip(&["-n", name, "link", "set", "lo", "up"])
            && ip(&[
                "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
            ])
            && ip(&["-n", name, "addr", "add", &addr, "dev", "v0"])
            && ip(&["-n", name, "link", "set", "v1", "up"])
            && ip(&["-n", name, "link", "set", "v0", "up"]);
        assert!(ok, "network namespace {name}: run as root with iproute2");
        ns
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn node_toml() -> String {
    format!(
        r#"[system]
name = "iw"
role = "control"
domain = "example.com"

[sip]
udp = {{ enabled = true, listen = "{IP}:5060" }}
outbound_ports = "{outbound}"

[media]
anchor = "all"
address = "{IP}"

[h323]
enabled = true
ras_listen = "{IP}:1719"
q931_listen = "{IP}:1720"

[[search_rule]]
name = "numbers"
priority = 10
pattern_type = "regex"
pattern = '^(\d+)@example\.com$'
pattern_behavior = "replace"
replace = '\1'
target = "LocalZone"
"#,
        outbound = outbound_block()
    )
}

struct Setup {
    node: NsNode,
    carol: Baresip,
    ns: Ns,
}

/// The node and baresip (`carol@example.com`, auto-answer, PCMU and PCMA) registered on it.
fn setup(tag: &str) -> Setup {
    let ns = Ns::new(tag);
    let node = NsNode::start(&ns.0, &node_toml());
    node.wait_for("SIP/H.323 interworking", 1, T);
    let carol = Baresip::start(
        &ns.0,
        IP,
        &format!(
            "<{AOR}>;outbound=\"sip:{IP}:5060\";regint=600;answermode=auto;\
             audio_codecs=PCMU,PCMA"
        ),
    );
    let end = Instant::now() + T;
    while !status(&ns.0).contains(AOR) {
        assert!(
            Instant::now() < end,
            "baresip did not register: {}\n{}",
            carol.log(),
            node.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Setup { node, carol, ns }
}

impl Setup {
    fn endpoint(&self, name: &str, args: &[&str]) -> H323Endpoint {
        let gk = format!("{IP}:1719");
        let bind = format!("{IP}:0");
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
        H323Endpoint::start_in(&self.ns.0, name, &all)
    }
    fn logs(&self) -> String {
        format!("baresip:\n{}\nnode:\n{}", self.carol.log(), self.node.log())
    }
    fn status(&self) -> Value {
        serde_json::from_str(&status(&self.ns.0)).unwrap_or_default()
    }
    /// Waits for the endpoint's event named `event`, with both logs when it never comes.
    fn event(&self, ep: &H323Endpoint, event: &str) -> Value {
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
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The endpoint's (sent, received) of its call.
fn ep_rtp(s: &Setup, ep: &H323Endpoint) -> (u64, u64) {
    let v = s.event(ep, "rtp");
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    (n("sent"), n("received"))
}

/// More than 50 packets each way at both ends, and each side received what the other sent
/// (within the first second's latching and the few packets between the two readings).
fn assert_rtp(what: &str, baresip: (u64, u64), ep: (u64, u64), logs: &dyn Fn() -> String) {
    eprintln!(
        "{what}: baresip sent {} received {}; H.323 endpoint sent {} received {}",
        baresip.0, baresip.1, ep.0, ep.1
    );
    let close = |sent: u64, got: u64| got > 50 && got + 100 + sent / 10 >= sent;
    assert!(
        baresip.0 > 50 && ep.0 > 50 && close(baresip.0, ep.1) && close(ep.0, baresip.1),
        "{what}: baresip (sent, received) {baresip:?}, H.323 endpoint {ep:?}\n{}",
        logs()
    );
}

/// baresip dials the H.323 endpoint; `more`: the endpoint's call options.
fn baresip_calls_h323(tag: &str, more: &str) {
    let s = setup(tag);
    let bob = s.endpoint("bob", &["--alias", "e164:2002", "--ignore-stdin", more]);
    s.event(&bob, "registered");
    s.carol.command("dial sip:2002@example.com");
    wait_established(&s.carol, "baresip -> H.323");
    s.event(&bob, "connected");
    std::thread::sleep(Duration::from_secs(4));
    // baresip's counters are the current call's: read before it ends
    let baresip = s.carol.rtp_counts();
    s.carol.command("hangup");
    let released = s.event(&bob, "released");
    assert_eq!(released["by"], "remote", "{released}");
    let ep = ep_rtp(&s, &bob);
    // the endpoint counts until its release, baresip until it was read: compare the endpoint's
    // received with baresip's sent at the time of reading, plus the few packets after it
    assert_rtp("baresip -> H.323", baresip, ep, &|| s.logs());
    let st = s.status();
    assert_eq!(st["interworking"]["calls_from_sip"], 1, "{st:#}");
}

#[test]
fn baresip_calls_an_h323_endpoint_with_fast_start_and_audio_both_ways() {
    baresip_calls_h323("f", "--fast-start");
}

#[test]
fn baresip_calls_an_h323_endpoint_with_slow_start_and_audio_both_ways() {
    baresip_calls_h323("s", "--both-ways");
}

/// The H.323 endpoint dials baresip's AOR as an H.323-ID: the gatekeeper finds the SIP
/// registration and the gateway calls it; baresip answers.
#[test]
fn an_h323_endpoint_calls_baresip_with_audio_both_ways() {
    let s = setup("h");
    let alice = s.endpoint(
        "alice",
        &[
            "--alias",
            "e164:3001",
            "--call",
            "h323:carol@example.com",
            "--fast-start",
            "--hold-ms",
            "5000",
        ],
    );
    s.event(&alice, "connected");
    wait_established(&s.carol, "H.323 -> baresip");
    std::thread::sleep(Duration::from_secs(4));
    let baresip = s.carol.rtp_counts();
    let released = s.event(&alice, "released");
    assert_eq!(released["by"], "self", "{released}");
    let ep = ep_rtp(&s, &alice);
    assert_rtp("H.323 -> baresip", baresip, ep, &|| s.logs());
    // baresip got the BYE
    let end = Instant::now() + Duration::from_secs(5);
    while s.carol.in_call() {
        assert!(
            Instant::now() < end,
            "baresip's call never ended\n{}",
            s.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let st = s.status();
    assert_eq!(st["interworking"]["calls_from_h323"], 1, "{st:#}");
    assert_eq!(st["interworking"]["answered"], 1, "{st:#}");
}

/// DTMF both ways between real ends: the H.323 endpoint's UserInputIndications reach baresip
/// as RFC 4733 events (its log: "received event"), and the digit baresip sends (ctrl_tcp
/// `sndcode`, RFC 4733) reaches the endpoint as a UserInputIndication.
#[test]
fn dtmf_between_baresip_and_an_h323_endpoint_both_ways() {
    let s = setup("d");
    let bob = s.endpoint(
        "bob",
        &[
            "--alias",
            "e164:2002",
            "--ignore-stdin",
            "--fast-start",
            "--dtmf",
            "47",
        ],
    );
    s.event(&bob, "registered");
    s.carol.command("dial sip:2002@example.com");
    wait_established(&s.carol, "baresip -> H.323");
    s.event(&bob, "connected");
    std::thread::sleep(Duration::from_millis(500));
    s.carol.command("sndcode 9");
    let uii = s.event(&bob, "uii");
    assert_eq!(uii["digit"], "9", "{uii}\n{}", s.logs());
    for digit in ['4', '7'] {
        // baresip's RFC 4733 receiver ("received DTMF" is its SIP INFO one)
        let needle = format!("received event: '{digit}' (end=0)");
        let end = Instant::now() + T;
        while !s.carol.log().contains(&needle) {
            assert!(
                Instant::now() < end,
                "baresip never printed `{needle}`\n{}",
                s.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    s.carol.command("hangup");
    s.event(&bob, "released");
}
