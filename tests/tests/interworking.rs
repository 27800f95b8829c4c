//! SIP <-> H.323 interworking through the real binary: a node with `[h323]`, media anchored
//! on its relay and `[interworking] mode = "registered"` (the default) interworks calls
//! between sipp and the project's `h323-endpoint`, both ways, with G.711 RTP through the
//! relay (sipp `-rtp_echo` sends back what the H.323 endpoint sends, and the endpoint counts
//! it), and maps failures: an H.323 callee's busy ReleaseComplete reaches sipp as 486, a
//! SIP UAS's 486 reaches the H.323 caller as cause 17.

use causeway_tests::{
    free_port, register, sipp_background, sipp_uac_with, Background, H323Endpoint, Node,
    NodeOptions,
};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

struct Iw {
    node: Node,
    ras: SocketAddr,
}

fn node() -> Iw {
    let (ras, q931) = (free_port(), free_port());
    let base = (free_port() & !1).clamp(30_000, 64_000);
    // SIP users dial H.323 numbers as sip:2002@example.com
    let toml = format!(
        "[media]\nanchor = \"all\"\naddress = \"127.0.0.1\"\nports = \"{}-{}\"\n\n\
         [h323]\nenabled = true\nras_listen = \"127.0.0.1:{ras}\"\n\
         q931_listen = \"127.0.0.1:{q931}\"\n\n\
         [[search_rule]]\nname = \"numbers\"\npriority = 10\npattern_type = \"regex\"\n\
         pattern = '^(\\d+)@example\\.com$'\npattern_behavior = \"replace\"\nreplace = '\\1'\n\
         target = \"LocalZone\"\n",
        base,
        base + 39
    );
    let node = Node::start(NodeOptions {
        extra: &toml,
        ..NodeOptions::default()
    });
    node.wait_for("SIP/H.323 interworking", T);
    Iw {
        node,
        ras: SocketAddr::from(([127, 0, 0, 1], ras)),
    }
}

fn endpoint(iw: &Iw, name: &str, alias: &str, more: &[&str]) -> H323Endpoint {
    let ras = iw.ras.to_string();
    let mut args = vec!["--gk", ras.as_str(), "--alias", alias, "--rtp"];
    args.extend(more);
    let ep = H323Endpoint::start(name, &args);
    ep.wait_event("registered", T);
    ep
}

/// A sipp UAS running `scenario` for one call, registered on the node as `user@example.com`
/// (with `-rtp_echo` when `echo`).
fn registered_uas(iw: &Iw, user: &str, scenario: &str, echo: bool) -> Background {
    let port = free_port();
    register(&iw.node, user, port);
    let file = causeway_tests::scenario(scenario).display().to_string();
    let port = port.to_string();
    let mut args = vec![
        "-sf",
        &file,
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "u1",
        "-m",
        "1",
    ];
    if echo {
        args.push("-rtp_echo");
    }
    sipp_background(&args)
}

fn status_json(iw: &Iw) -> Value {
    let o = Command::new(causeway_tests::env_bin())
        .args(["status", "--json", "--admin"])
        .arg(format!("127.0.0.1:{}", iw.node.admin_port))
        .output()
        .expect("causeway status");
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

fn status_text(iw: &Iw) -> String {
    let o = Command::new(causeway_tests::env_bin())
        .args(["status", "--admin"])
        .arg(format!("127.0.0.1:{}", iw.node.admin_port))
        .output()
        .expect("causeway status");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The status JSON once `pred` holds (it is refreshed about once a second).
fn wait_status(iw: &Iw, pred: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + T;
    loop {
        let s = status_json(iw);
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < end, "status never matched: {s:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rtp(ep: &H323Endpoint) -> Value {
    ep.wait("rtp counts", T, |v| v["event"] == "rtp")
}

fn sip_to_h323(fast_start: bool, scenario: &str) {
    let iw = node();
    // slow start: bob opens its own channel too (--both-ways), so that RTP flows both ways
    let more: &[&str] = if fast_start {
        &["--fast-start"]
    } else {
        &["--both-ways"]
    };
    let bob = endpoint(&iw, "bob", "e164:2002", more);
    let o = sipp_uac_with(&iw.node, scenario, "2002", "u1", 1, 1, &["-rtp_echo"]);
    assert!(
        o.status.success(),
        "sipp call to H.323 failed: {}\n{}\nnode log:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        iw.node.log()
    );
    let setup = bob.wait_event("setup", T);
    assert_eq!(
        setup["to"].as_array().map(|a| !a.is_empty()),
        Some(true),
        "{setup}"
    );
    let released = bob.wait_event("released", T);
    assert_eq!(released["cause"], 16, "{released}");
    let counts = rtp(&bob);
    let (sent, received) = (
        counts["sent"].as_u64().unwrap_or(0),
        counts["received"].as_u64().unwrap_or(0),
    );
    // 3 s of a 50 packet/s stream, echoed by sipp through the relay both ways
    assert!(
        sent > 50 && received > 50,
        "RTP through the interworked call: {counts}\n{}",
        iw.node.log()
    );
}

#[test]
fn sip_calls_an_h323_endpoint_with_fast_start_and_audio() {
    sip_to_h323(true, "uac_iw_bye.xml");
}

#[test]
fn sip_calls_an_h323_endpoint_that_refuses_fast_start() {
    sip_to_h323(false, "uac_iw_bye.xml");
}

#[test]
fn a_delayed_offer_invite_reaches_an_h323_endpoint_with_audio() {
    sip_to_h323(true, "uac_iw_delayed.xml");
}

#[test]
fn a_delayed_offer_invite_reaches_a_slow_start_h323_endpoint() {
    sip_to_h323(false, "uac_iw_delayed.xml");
}

#[test]
fn h323_calls_a_sip_ua_with_audio() {
    let iw = node();
    let uas = registered_uas(&iw, "carol", "uas_sdp.xml", true);
    let alice = endpoint(
        &iw,
        "alice",
        "e164:3001",
        &[
            "--call",
            "h323:carol@example.com",
            "--fast-start",
            "--hold-ms",
            "3000",
        ],
    );
    alice.wait_event("connected", T);
    // `causeway status` lists the call with both legs while it lasts
    let listed = wait_status(&iw, |s| {
        s["interworking"]["calls"][0]["state"] == "answered"
    });
    let call = &listed["interworking"]["calls"][0];
    assert_eq!(call["origin"], "h323", "{call}");
    assert_eq!(call["callee"], "carol@example.com", "{call}");
    assert!(
        call["sip_call_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{call}"
    );
    assert_eq!(
        call["h323_call_id"].as_str().map(str::len),
        Some(32),
        "{call}"
    );
    let text = status_text(&iw);
    assert!(
        text.contains("Interworked calls") && text.contains("carol@example.com"),
        "{text}"
    );
    let fs = alice.wait("fastStart answer", T, |v| {
        v["event"] == "fast-start" && v["what"] == "accepted"
    });
    assert!(fs["remote_rtp"].is_string(), "{fs}");
    let released = alice.wait_event("released", T);
    assert_eq!(released["by"], "self", "{released}\n{}", iw.node.log());
    let counts = rtp(&alice);
    let received = counts["received"].as_u64().unwrap_or(0);
    assert!(
        received > 50,
        "RTP back from the SIP UA: {counts}\n{}",
        iw.node.log()
    );
    // counted once, and nothing left afterwards
    let after = wait_status(&iw, |s| {
        s["interworking"]["calls"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    assert_eq!(after["interworking"]["calls_from_h323"], 1, "{after:#}");
    assert_eq!(after["interworking"]["answered"], 1, "{after:#}");
    drop(uas);
}

#[test]
fn failures_map_both_ways() {
    let iw = node();
    // H.323 callee rejecting (cause 21, call rejected) -> 403 at the SIP caller
    let _bob = endpoint(&iw, "bob", "e164:2002", &["--answer", "no"]);
    let o = sipp_uac_with(&iw.node, "uac_403.xml", "2002", "u1", 1, 1, &[]);
    assert!(
        o.status.success(),
        "the SIP caller did not get 403: {}\nnode log:\n{}",
        String::from_utf8_lossy(&o.stdout),
        iw.node.log()
    );
    // SIP callee busy (486) -> cause 17 at the H.323 caller
    let uas = registered_uas(&iw, "dave", "uas_486.xml", false);
    let alice = endpoint(
        &iw,
        "alice",
        "e164:3001",
        &["--call", "h323:dave@example.com", "--fast-start"],
    );
    let released = alice.wait_event("released", T);
    assert_eq!(released["cause"], 17, "{released}\n{}", iw.node.log());
    drop(uas);
    // SIP callee unknown (404) -> cause 1 (unallocated number) at the H.323 caller
    let uas = registered_uas(&iw, "fred", "uas_404.xml", false);
    let gina = endpoint(
        &iw,
        "gina",
        "e164:3002",
        &["--call", "h323:fred@example.com", "--fast-start"],
    );
    let released = gina.wait_event("released", T);
    assert_eq!(released["cause"], 1, "{released}\n{}", iw.node.log());
    drop(uas);
    let st = wait_status(&iw, |s| s["interworking"]["failed"] == 3);
    assert_eq!(st["interworking"]["answered"], 0, "{st:#}");
}

/// The `uii` digits an endpoint printed, in order.
fn uii_digits(ep: &H323Endpoint) -> Vec<(String, Value)> {
    ep.events()
        .into_iter()
        .filter(|v| v["event"] == "uii")
        .map(|v| {
            (
                v["digit"].as_str().unwrap_or("").to_string(),
                v["duration"].clone(),
            )
        })
        .collect()
}

#[test]
fn dtmf_crosses_both_ways() {
    dtmf_loop("signal");
}

#[test]
fn alphanumeric_dtmf_crosses_both_ways() {
    dtmf_loop("alpha");
}

fn dtmf_loop(mode: &str) {
    // bob's UserInputIndications become RFC 4733 events towards sipp, sipp (-rtp_echo) sends
    // them back, and they come back to bob as UserInputIndications: H.323 -> SIP -> H.323
    let iw = node();
    let more = ["--fast-start", "--dtmf", "12#", "--dtmf-mode", mode];
    let bob = endpoint(&iw, "bob", "e164:2002", &more);
    let o = sipp_uac_with(
        &iw.node,
        "uac_iw_bye.xml",
        "2002",
        "u1",
        1,
        1,
        &["-rtp_echo"],
    );
    assert!(
        o.status.success(),
        "sipp: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        iw.node.log()
    );
    bob.wait_event("released", T);
    let sent: Vec<Value> = bob
        .events()
        .into_iter()
        .filter(|v| v["event"] == "dtmf-sent")
        .collect();
    assert_eq!(sent.len(), 3, "{sent:?}");
    let back = uii_digits(&bob);
    let digits: Vec<&str> = back.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        digits,
        ["1", "2", "#"],
        "digits back at bob: {back:?}\n{}",
        iw.node.log()
    );
    // durations kept: bob's 100 ms signals (an alphanumeric digit: RFC 4733's usual 100 ms)
    // return as 100 ms signals, bob's TCS taking DTMF signals
    assert!(back.iter().all(|(_, d)| d == 100), "{back:?}");
}

#[test]
fn a_sip_hold_pauses_the_h323_endpoint_and_resume_brings_its_audio_back() {
    let iw = node();
    let bob = endpoint(&iw, "bob", "e164:2002", &["--fast-start"]);
    let o = sipp_uac_with(
        &iw.node,
        "uac_iw_hold.xml",
        "2002",
        "u1",
        1,
        1,
        &["-rtp_echo"],
    );
    assert!(
        o.status.success(),
        "sipp: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        iw.node.log()
    );
    let paused = bob.wait_event("paused", T);
    let resumed = bob.wait_event("resumed", T);
    let released = bob.wait_event("released", T);
    assert_eq!(released["cause"], 16, "{released}");
    let sent = |v: &Value| v["sent_so_far"].as_u64().unwrap_or(0);
    let counts = rtp(&bob);
    // bob stopped sending while held and sent again once resumed
    assert!(sent(&resumed) >= sent(&paused), "{paused} {resumed}");
    assert!(
        counts["sent"].as_u64().unwrap_or(0) > sent(&resumed) + 25,
        "{counts} after {resumed}"
    );
    assert!(counts["received"].as_u64().unwrap_or(0) > 50, "{counts}");
}

#[test]
fn an_h323_pause_reinvites_the_sip_ua_sendonly_then_sendrecv() {
    let iw = node();
    let uas = registered_uas(&iw, "erin", "uas_iw_hold.xml", true);
    let alice = endpoint(
        &iw,
        "alice",
        "e164:3001",
        &[
            "--call",
            "h323:erin@example.com",
            "--fast-start",
            "--hold-ms",
            "4000",
            "--pause-at-ms",
            "1000",
            "--resume-at-ms",
            "2000",
        ],
    );
    alice.wait_event("pause-sent", T);
    alice.wait_event("resume-sent", T);
    let released = alice.wait_event("released", T);
    assert_eq!(released["by"], "self", "{released}\n{}", iw.node.log());
    // sipp's scenario fails the call unless both re-INVITEs came with the right direction
    let mut uas = uas;
    let status = wait_exit(&mut uas.0, T);
    assert_eq!(
        status,
        Some(0),
        "the SIP UA did not see sendonly then sendrecv\n{}",
        iw.node.log()
    );
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn cancel_before_the_answer_both_ways() {
    let iw = node();
    // SIP caller cancels while the H.323 callee rings: 487 for sipp, ReleaseComplete for bob
    let bob = endpoint(&iw, "bob", "e164:2002", &["--answer", "ring"]);
    let o = sipp_uac_with(&iw.node, "uac_cancel.xml", "2002", "u1", 1, 1, &[]);
    assert!(
        o.status.success(),
        "sipp: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        iw.node.log()
    );
    bob.wait_event("ringing", T);
    let released = bob.wait_event("released", T);
    assert_eq!(
        (released["by"].as_str(), released["cause"].as_u64()),
        (Some("remote"), Some(16)),
        "{released}"
    );
    // H.323 caller gives up while the SIP callee rings: the gateway CANCELs the INVITE
    let mut uas = registered_uas(&iw, "hana", "uas_cancel.xml", false);
    let alice = endpoint(
        &iw,
        "alice",
        "e164:3001",
        &[
            "--call",
            "h323:hana@example.com",
            "--fast-start",
            "--cancel-after-ms",
            "1000",
        ],
    );
    alice.wait_event("alerting", T);
    let released = alice.wait_event("released", T);
    assert_eq!(released["by"], "self", "{released}");
    // sipp's scenario ends only with the CANCEL, its 487 and the ACK
    assert_eq!(
        wait_exit(&mut uas.0, T),
        Some(0),
        "the SIP UA saw no CANCEL\n{}",
        iw.node.log()
    );
    let st = wait_status(&iw, |s| {
        s["interworking"]["calls"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    assert_eq!(st["interworking"]["answered"], 0, "{st:#}");
}
