//! Calls through the real binary with sipp on both ends (RFC 3261 16): a registered sipp UAS,
//! a sipp UAC calling it over UDP (on both UDP paths, `[sip] udp_io`) and over TCP, an unknown
//! user, and CANCEL before the answer.

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
    call_on(transport, NodeOptions::default());
}

fn call_on(transport: &str, options: NodeOptions<'_>) -> Node {
    let node = Node::start(options);
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
    node
}

/// The path `GET /status` says the UDP listeners use.
fn udp_io(node: &Node) -> String {
    node.status_json()["sip"]["udp_io"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Where the kernel allows io_uring, the default puts the UDP listeners on it.
#[test]
fn rfc3261_16_call_over_udp_on_the_default_path() {
    let node = call_on("udp", NodeOptions::default());
    let allowed = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .is_ok_and(|s| s.trim() == "0");
    let expected = if allowed { "io_uring" } else { "epoll" };
    assert_eq!(udp_io(&node), expected);
}

#[test]
fn rfc3261_16_call_over_udp_on_epoll() {
    let node = call_on(
        "udp",
        NodeOptions {
            sip: "udp_io = \"epoll\"",
            ..NodeOptions::default()
        },
    );
    assert_eq!(udp_io(&node), "epoll");
}

/// `[sip] threads = 2`: the UDP ring on a thread of its own, the core on another; a call, then
/// a clean stop.
#[test]
fn rfc3261_16_call_over_udp_with_the_ring_on_its_own_thread() {
    let node = call_on(
        "udp",
        NodeOptions {
            sip: "threads = 2",
            ..NodeOptions::default()
        },
    );
    let on_ring = udp_io(&node) == "io_uring";
    assert_eq!(
        node.status_json()["sip"]["threads"],
        if on_ring { 2 } else { 1 }
    );
    // SIGTERM: both threads stop and the node exits on its own (not killed after 3 s)
    let mut node = node;
    node.stop();
    let log = node.log();
    assert!(log.contains("stopped"), "{log}");
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
