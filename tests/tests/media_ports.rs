//! Port accounting of the media relay (issue 5): a node that anchors every call (`[media]
//! anchor = "all"`) relays 2000 sipp calls with SDP offers and answers; every call gets relay
//! ports (the SDP each side sees names the node), and once the calls are over every port pair
//! is free again and no session is left. On loopback, free ports only.

use causeway_tests::{
    free_port, register, scenario, sipp_background, sipp_uac, sipp_uac_with, sipp_uas, Node,
    NodeOptions,
};
use std::process::Command;
use std::time::{Duration, Instant};

fn status(node: &Node) -> String {
    let o = Command::new(causeway_tests::env_bin())
        .args(["status", "--json", "--admin"])
        .arg(format!("127.0.0.1:{}", node.admin_port))
        .output()
        .expect("causeway status");
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn json_u64(text: &str, key: &str) -> Option<u64> {
    let k = format!("\"{key}\": ");
    let i = text.find(&k)?;
    text[i + k.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

#[test]
fn every_relay_port_is_free_again_after_2000_anchored_calls() {
    // 200 pairs from an even port near a free one: plenty for ~40 calls at once
    let base = (free_port() & !1).clamp(30_000, 64_000);
    let extra = format!(
        "[media]\nanchor = \"all\"\naddress = \"127.0.0.1\"\nports = \"{base}-{}\"\n",
        base + 399
    );
    let node = Node::start(NodeOptions {
        extra: &extra,
        ..Default::default()
    });
    let (_uas, uas_port) = sipp_uas("uas_sdp.xml", "u1");
    register(&node, "service", uas_port);
    // at most 80 calls open at once (160 of the 200 pairs): on a loaded machine calls pile up
    // and the range would run out, which is not what this test is about
    let o = sipp_uac_with(
        &node,
        "uac_sdp.xml",
        "service",
        "u1",
        2000,
        400,
        &["-l", "80"],
    );
    assert!(
        o.status.success(),
        "sipp calls failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        node.log()
    );
    // every call was anchored: one relay session each
    let end = Instant::now() + Duration::from_secs(3);
    let mut st = status(&node);
    while json_u64(&st, "sessions_created") != Some(2000) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
        st = status(&node);
    }
    assert_eq!(json_u64(&st, "sessions_created"), Some(2000), "{st}");
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let st = status(&node);
        let (ports, sessions) = (json_u64(&st, "ports_in_use"), json_u64(&st, "sessions"));
        if ports == Some(0) && sessions == Some(0) {
            break;
        }
        assert!(
            Instant::now() < end,
            "relay ports or sessions still held after every call ended: {st}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_call_whose_media_stops_is_ended_with_a_bye_to_both_sides() {
    let base = (free_port() & !1).clamp(30_000, 64_000);
    let extra = format!(
        "[media]\nanchor = \"all\"\naddress = \"127.0.0.1\"\nports = \"{base}-{}\"\n\
         inactivity_timeout = 2\non_inactivity = \"hangup\"\n",
        base + 19
    );
    let node = Node::start(NodeOptions {
        extra: &extra,
        ..Default::default()
    });
    let uas_port = free_port();
    let mut uas = sipp_background(&[
        "-sf",
        &scenario("uas_sdp_hangup.xml").display().to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &uas_port.to_string(),
        "-t",
        "u1",
        "-m",
        "1",
    ]);
    register(&node, "service", uas_port);
    // neither sipp sends RTP: after 2 s the relay session ends and the node sends each side
    // a BYE; both scenarios finish only when they got it and answered
    let o = sipp_uac(&node, "uac_sdp_hangup.xml", "service", "u1", 1, 1);
    assert!(
        o.status.success(),
        "the caller got no BYE: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        node.log()
    );
    // the callee's scenario ends (exit 0) only once it got its BYE and answered it
    let end = Instant::now() + Duration::from_secs(10);
    let callee_done = loop {
        if let Ok(Some(st)) = uas.0.try_wait() {
            break st.success();
        }
        if Instant::now() > end {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(callee_done, "the callee got no BYE:\n{}", node.log());
    assert_eq!(
        node.log().matches("ending the call").count(),
        1,
        "{}",
        node.log()
    );
    // the status snapshot is refreshed once a second: the hang-up may be newer than it
    let end = Instant::now() + Duration::from_secs(5);
    let st = loop {
        let st = status(&node);
        if json_u64(&st, "ports_in_use") == Some(0) || Instant::now() > end {
            break st;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(json_u64(&st, "ports_in_use"), Some(0), "{st}");
}
