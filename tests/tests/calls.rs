//! Calls through the real binary with sipp on both ends (RFC 3261 16): a registered sipp UAS,
//! a sipp UAC calling it over UDP and over TCP, an unknown user, and CANCEL before the answer.

use causeway_tests::{register, register_with, sipp_uac, sipp_uas, Node, NodeOptions};
use std::process::Output;

fn report(out: &Output, node: &Node) -> String {
    format!(
        "stdout: {}\nstderr: {}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        node.log()
    )
}

fn call(transport: &str) {
    let node = Node::start(NodeOptions::default());
    let t = if transport == "tcp" { "t1" } else { "u1" };
    let (_uas, uas_port) = sipp_uas("uas_call.xml", t);
    register_with(
        &node,
        "bob",
        &format!("127.0.0.1:{uas_port};transport={transport}"),
    );
    let out = sipp_uac(&node, "uac_call.xml", "bob", t, 10, 20);
    assert_eq!(
        out.status.code(),
        Some(0),
        "sipp UAC over {transport} failed\n{}",
        report(&out, &node)
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
    let out = sipp_uac(&node, "uac_404.xml", "nobody", "u1", 3, 10);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &node));
}

#[test]
fn rfc3261_16_10_cancel_before_answer() {
    let node = Node::start(NodeOptions::default());
    let (_uas, uas_port) = sipp_uas("uas_cancel.xml", "u1");
    register(&node, "carol", uas_port);
    let out = sipp_uac(&node, "uac_cancel.xml", "carol", "u1", 3, 5);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out, &node));
}
