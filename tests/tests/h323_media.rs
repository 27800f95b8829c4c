//! H.323 media through the node's relay: a node with `[media] anchor = "all"` and `[h323]`
//! relays two `h323-endpoint` processes' calls (H.245 tunneled, then on a separate channel),
//! rewriting the OpenLogicalChannel / OpenLogicalChannelAck addresses to its relay ports, and
//! the caller's G.711 RTP (`--rtp`: 50 packets a second) reaches the callee only through the
//! relay. After each call the relay holds no session and no port again (the status JSON).

use causeway_tests::{free_port, H323Endpoint, Node, NodeOptions};
use serde_json::Value;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

struct Gk {
    node: Node,
    ras: SocketAddr,
    media: RangeInclusive<u16>,
}

fn gatekeeper() -> Gk {
    let (ras, q931) = (free_port(), free_port());
    // 20 pairs from an even port near a free one (free_port never picks 25000-29999)
    let base = (free_port() & !1).clamp(30_000, 64_000);
    let media = base..=base + 39;
    let toml = format!(
        "[media]\nanchor = \"all\"\naddress = \"127.0.0.1\"\nports = \"{}-{}\"\n\n\
         [h323]\nenabled = true\nras_listen = \"127.0.0.1:{ras}\"\n\
         q931_listen = \"127.0.0.1:{q931}\"\n",
        media.start(),
        media.end()
    );
    let node = Node::start(NodeOptions {
        extra: &toml,
        ..NodeOptions::default()
    });
    node.wait_for("H.323 gatekeeper", T);
    Gk {
        node,
        ras: SocketAddr::from(([127, 0, 0, 1], ras)),
        media,
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

/// Waits until the media status (refreshed about once a second) satisfies `pred`.
fn wait_media(gk: &Gk, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + T;
    loop {
        let s = status(gk);
        if pred(&s["media"]) {
            return s["media"].clone();
        }
        if Instant::now() > end {
            panic!(
                "status never showed {what}: {:#}\nlog:\n{}",
                s["media"],
                gk.node.log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn endpoint(gk: &Gk, name: &str, more: &[&str]) -> H323Endpoint {
    let ras = gk.ras.to_string();
    let alias = format!("h323:{name}");
    let mut args = vec!["--gk", ras.as_str(), "--alias", alias.as_str(), "--rtp"];
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

/// The `n`th (from 1) event of `ep` matching `pred`, waiting for it.
fn nth(ep: &H323Endpoint, n: usize, pred: impl Fn(&Value) -> bool) -> Value {
    let all = || {
        ep.events()
            .into_iter()
            .filter(|v| pred(v))
            .collect::<Vec<_>>()
    };
    ep.wait(&format!("event {n} of its kind"), T, |_| all().len() >= n);
    all().swap_remove(n - 1)
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key}: {v}"))
}

/// One call from a fresh caller (with `more` arguments) to bob with RTP; checks the addresses
/// and the packets.
fn call(gk: &Gk, bob: &H323Endpoint, mode: &str, n: usize, more: &[&str]) {
    let relay_port = |a: SocketAddr| a.ip().is_loopback() && gk.media.contains(&a.port());
    let mut args = vec!["--call", "h323:bob", "--h245", mode, "--hold-ms", "3000"];
    args.extend_from_slice(more);
    let mut alice = endpoint(gk, &format!("alice{n}"), &args);
    alice.wait_event("connected", T);
    if more.contains(&"--fast-start") {
        // bob does not do fastStart: no answer up to Connect, slow start follows
        alice.wait("no fastStart answer", T, |v| {
            v["event"] == "fast-start" && v["what"] == "none"
        });
    }
    // the caller is told the relay's ports for bob's RTP and RTCP, not bob's sockets
    let ack = h245(&alice, "olc-ack");
    let olc = nth(bob, n, |v| v["event"] == "h245" && v["what"] == "olc");
    let (to_rtp, to_rtcp) = (addr(&ack["remote_rtp"]), addr(&ack["remote_rtcp"]));
    assert!(relay_port(to_rtp), "OLCAck RTP is a relay port: {ack}");
    assert!(relay_port(to_rtcp), "OLCAck RTCP is a relay port: {ack}");
    assert_ne!(to_rtp, addr(&olc["local_rtp"]), "not bob's own socket");
    // and bob is told the relay's port for alice's RTCP
    let rtcp = addr(&olc["remote_rtcp"]);
    assert!(relay_port(rtcp), "OLC RTCP is a relay port: {olc}");
    assert_ne!(rtcp.port(), to_rtcp.port(), "a port per leg");
    // while the call is up: one relay session (audio, both legs)
    wait_media(gk, "the call's relay session", |m| m["sessions"] == 1);

    alice.wait_event("released", T);
    let sent_ev = alice.wait_event("rtp", T);
    assert_eq!(addr(&sent_ev["to"]), to_rtp);
    let sent = count(&sent_ev, "sent");
    alice.finish(T);
    let received = count(&nth(bob, n, |v| v["event"] == "rtp"), "received");
    // 3 s of hold at 50 packets a second; all of it relayed, bar what was in flight when
    // the call ended
    assert!(sent >= 120, "alice sent {sent}");
    assert!(
        received <= sent && received * 100 >= sent * 95,
        "bob received {received} of {sent} packets\nlog:\n{}",
        gk.node.log()
    );
    // nothing held once the call is over
    let m = wait_media(gk, "no session after the call", |m| {
        m["sessions"] == 0 && m["ports_in_use"] == 0
    });
    assert!(
        count(&m, "packets_sent") >= received,
        "the relay forwarded what bob received: {m:#}"
    );
}

#[test]
fn h323_media_is_relayed_through_the_node_and_freed_after_each_call() {
    let gk = gatekeeper();
    let bob = endpoint(&gk, "bob", &["--ignore-stdin"]);
    call(&gk, &bob, "tunnel", 1, &[]);
    call(&gk, &bob, "separate", 2, &[]);
    let m = wait_media(&gk, "two sessions created", |m| m["sessions_created"] == 2);
    assert_eq!(m["sessions"], 0, "{m:#}");
}

/// The `fast-start` `accepted` event of an endpoint's `n`th fastStart call (waiting for it).
fn fast_accepted(ep: &H323Endpoint, n: usize) -> Value {
    nth(ep, n, |v| {
        v["event"] == "fast-start" && v["what"] == "accepted"
    })
}

/// One fastStart call (H.323 8.1.7) from a fresh caller to `to` with RTP both ways: the
/// channels are opened by the Setup's proposals and the callee's answer alone (no H.245
/// OpenLogicalChannel), every address either side is told is the relay's, and each
/// direction's packets arrive through it.
fn fast_call(gk: &Gk, to: &str, callee: &H323Endpoint, mode: &str, n: usize) {
    let relay_port = |a: SocketAddr| a.ip().is_loopback() && gk.media.contains(&a.port());
    let target = format!("h323:{to}");
    let mut alice = endpoint(
        gk,
        &format!("fast{n}"),
        &[
            "--call",
            &target,
            "--h245",
            mode,
            "--hold-ms",
            "3000",
            "--fast-start",
            "--both-ways",
        ],
    );
    alice.wait_event("connected", T);
    // the caller is told the relay's ports for the callee's RTP and RTCP
    let got = alice.wait("the fastStart answer", T, |v| {
        v["event"] == "fast-start" && v["what"] == "accepted"
    });
    // each callee answers one call
    let sent_ans = fast_accepted(callee, 1);
    let (to_rtp, to_rtcp) = (addr(&got["remote_rtp"]), addr(&got["remote_rtcp"]));
    assert_eq!(got["codec"], "PCMU", "{got}");
    assert_eq!(got["reverse"], true, "{got}");
    assert!(relay_port(to_rtp), "answer's RTP is a relay port: {got}");
    assert!(relay_port(to_rtcp), "answer's RTCP is a relay port: {got}");
    assert_ne!(
        to_rtp,
        addr(&sent_ans["local_rtp"]),
        "not the callee's own socket"
    );
    // and the callee is told the relay's ports for the caller's RTP and RTCP (the reverse
    // proposal it accepted)
    let (back_rtp, back_rtcp) = (
        addr(&sent_ans["remote_rtp"]),
        addr(&sent_ans["remote_rtcp"]),
    );
    assert!(
        relay_port(back_rtp),
        "proposal's RTP is a relay port: {sent_ans}"
    );
    assert!(
        relay_port(back_rtcp),
        "proposal's RTCP is a relay port: {sent_ans}"
    );
    assert_ne!(back_rtp.port(), to_rtp.port(), "a port per leg");
    wait_media(gk, "the call's relay session", |m| m["sessions"] == 1);

    alice.wait_event("released", T);
    let a_rtp = alice.wait_event("rtp", T);
    assert_eq!(addr(&a_rtp["to"]), to_rtp);
    alice.finish(T);
    // fastStart opened the channels: H.245 opened none
    for (who, ep) in [("caller", &alice), ("callee", callee)] {
        assert!(
            !ep.events()
                .iter()
                .any(|v| v["event"] == "h245" && (v["what"] == "olc" || v["what"] == "olc-ack")),
            "the {who} opened a channel with H.245: {:?}",
            ep.events()
        );
    }
    let b_rtp = nth(callee, 1, |v| v["event"] == "rtp");
    assert_eq!(addr(&b_rtp["to"]), back_rtp);
    for (dir, from, to) in [
        ("caller -> callee", &a_rtp, &b_rtp),
        ("callee -> caller", &b_rtp, &a_rtp),
    ] {
        let (sent, received) = (count(from, "sent"), count(to, "received"));
        eprintln!("fastStart {mode}, {dir}: {received} of {sent} RTP packets arrived");
        assert!(sent >= 120, "{dir}: only {sent} sent");
        assert!(
            received <= sent && received * 100 >= sent * 95,
            "{dir}: {received} of {sent} packets arrived\nlog:\n{}",
            gk.node.log()
        );
    }
    let m = wait_media(gk, "no session after the call", |m| {
        m["sessions"] == 0 && m["ports_in_use"] == 0
    });
    assert!(
        count(&m, "packets_sent") >= count(&b_rtp, "received"),
        "the relay forwarded what the callee received: {m:#}"
    );
}

/// fastStart calls through the relay: answered in the callee's CallProceeding (which the node
/// passes on as a Facility) with H.245 tunneled, and in its Connect with a separate H.245
/// channel; proposed to a callee that does not do fastStart, the call falls back to slow
/// start (H.245 opens the channel) and is relayed as any other.
#[test]
fn h323_fast_start_media_is_relayed_both_ways() {
    let gk = gatekeeper();
    let early = endpoint(
        &gk,
        "early",
        &["--ignore-stdin", "--fast-start", "--both-ways"],
    );
    let late = endpoint(
        &gk,
        "late",
        &[
            "--ignore-stdin",
            "--fast-start",
            "--fast-start-in",
            "connect",
            "--both-ways",
        ],
    );
    fast_call(&gk, "early", &early, "tunnel", 1);
    fast_call(&gk, "late", &late, "separate", 2);
    let bob = endpoint(&gk, "bob", &["--ignore-stdin"]);
    call(&gk, &bob, "tunnel", 1, &["--fast-start"]);
    bob.wait("the proposals ignored", T, |v| {
        v["event"] == "fast-start" && v["what"] == "ignored" && v["proposals"] == 4
    });
    let m = wait_media(&gk, "three sessions created", |m| {
        m["sessions_created"] == 3
    });
    assert_eq!(m["sessions"], 0, "{m:#}");
}
