//! Calls through the real binary with sipp on both ends (RFC 3261 16): a registered sipp UAS,
//! a sipp UAC calling it over UDP and over TCP, an unknown user, and CANCEL before the answer.

use causeway_tests::{
    free_port, register, register_with, scenario, sipp, sipp_background, Node, NodeOptions,
};
use std::time::Duration;

fn call(transport: &str) {
    let node = Node::start(NodeOptions::default());
    let uas_port = free_port();
    let uac_port = free_port();
    let t = if transport == "tcp" { "t1" } else { "u1" };
    let _uas = sipp_background(&[
        "-sf",
        scenario("uas_call.xml").to_str().unwrap(),
        "-i",
        "127.0.0.1",
        "-p",
        &uas_port.to_string(),
        "-t",
        t,
    ]);
    register_with(
        &node,
        "bob",
        &format!("127.0.0.1:{uas_port};transport={transport}"),
    );
    let target = format!("127.0.0.1:{}", node.port);
    let out = sipp(
        &[
            &target,
            "-sf",
            scenario("uac_call.xml").to_str().unwrap(),
            "-s",
            "bob",
            "-i",
            "127.0.0.1",
            "-p",
            &uac_port.to_string(),
            "-t",
            t,
            "-m",
            "10",
            "-r",
            "20",
            "-timeout",
            "30s",
        ],
        Duration::from_secs(40),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "sipp UAC over {transport} failed\nstdout: {}\nstderr: {}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        node.log()
    );
}

#[test]
fn rfc3261_16_call_completes_over_udp() {
    call("udp");
}

#[test]
fn rfc3261_16_call_completes_over_tcp() {
    call("tcp");
}

#[test]
fn unknown_user_in_a_local_domain_gets_404() {
    let node = Node::start(NodeOptions::default());
    let target = format!("127.0.0.1:{}", node.port);
    let out = sipp(
        &[
            &target,
            "-sf",
            scenario("uac_404.xml").to_str().unwrap(),
            "-s",
            "nobody",
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
            "-m",
            "3",
            "-timeout",
            "15s",
        ],
        Duration::from_secs(20),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn rfc3261_16_10_cancel_before_answer() {
    let node = Node::start(NodeOptions::default());
    let uas_port = free_port();
    let _uas = sipp_background(&[
        "-sf",
        scenario("uas_cancel.xml").to_str().unwrap(),
        "-i",
        "127.0.0.1",
        "-p",
        &uas_port.to_string(),
    ]);
    register(&node, "carol", uas_port);
    let target = format!("127.0.0.1:{}", node.port);
    let out = sipp(
        &[
            &target,
            "-sf",
            scenario("uac_cancel.xml").to_str().unwrap(),
            "-s",
            "carol",
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
            "-m",
            "3",
            "-r",
            "5",
            "-timeout",
            "20s",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        node.log()
    );
}
