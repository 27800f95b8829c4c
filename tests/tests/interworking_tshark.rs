//! tshark, an independent H.225.0/H.245 dissector, reads every interworked call of a one-node
//! setup (the node of `tests/tests/interworking.rs`: `[h323]`, media anchored, the default
//! `[interworking] mode`): SIP -> H.323 with fastStart and with slow start, H.323 -> SIP with
//! fastStart and with slow start. Captured on loopback, restricted to the gatekeeper's
//! call-signaling port and the gateway's H.225.0 port (both taken from the node's log), decoded
//! as Q.931 over TPKT: Setup, Connect and ReleaseComplete of every call, H.245 tunneled in
//! H.225.0 (terminalCapabilitySet, endSessionCommand), fastStart elements, and not one
//! malformed frame.
//!
//! Needs tshark (and root, or dumpcap's capabilities, to capture), sipp.

use causeway_tests::tshark::{self, Capture};
use causeway_tests::{
    free_port, register, sipp_background, sipp_uac_with, H323Endpoint, Node, NodeOptions,
};
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// The one-node interworking setup; (node, RAS address, Q.931 port, the gateway's H.225 port).
fn node() -> (Node, SocketAddr, u16, u16) {
    let (ras, q931) = (free_port(), free_port());
    let base = (free_port() & !1).clamp(30_000, 64_000);
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
    let gw = gateway_h225_port(&node.log())
        .unwrap_or_else(|| panic!("no gateway H.323 port in the log:\n{}", node.log()));
    (node, SocketAddr::from(([127, 0, 0, 1], ras)), q931, gw)
}

/// The `C` of "SIP/H.323 interworking (...): SIP udp A <-> proxy B, H.323 tcp C <-> gatekeeper D".
fn gateway_h225_port(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.contains("SIP/H.323 interworking"))?;
    let rest = &line[line.find("H.323 tcp ")? + "H.323 tcp ".len()..];
    let addr = rest.split_whitespace().next()?;
    addr.parse::<SocketAddr>().ok().map(|a| a.port())
}

fn endpoint(ras: SocketAddr, name: &str, args: &[&str]) -> H323Endpoint {
    let ras = ras.to_string();
    let mut all = vec!["--gk", ras.as_str(), "--rtp"];
    all.extend_from_slice(args);
    H323Endpoint::start(name, &all)
}

#[test]
fn every_interworked_call_is_well_formed_h225_and_h245_to_tshark() {
    let (node, ras, q931, gw) = node();
    let fast = endpoint(ras, "fast", &["--alias", "e164:2002", "--fast-start"]);
    let slow = endpoint(ras, "slow", &["--alias", "e164:2003", "--both-ways"]);
    fast.wait_event("registered", T);
    slow.wait_event("registered", T);
    // every call-signaling connection: the gatekeeper's port (callers, the gateway's Setups),
    // the gateway's (the gatekeeper's Setups to it), the H.323 callees' (the gatekeeper's)
    let mut ports = vec![q931, gw, q931_port(&fast), q931_port(&slow)];
    ports.sort_unstable();
    ports.dedup();
    let filter: Vec<String> = ports.iter().map(|p| format!("tcp port {p}")).collect();
    let cap = Capture::start(&filter.join(" or "));

    // SIP -> H.323, fastStart then slow start
    for (number, callee) in [("2002", &fast), ("2003", &slow)] {
        let o = sipp_uac_with(&node, "uac_iw_bye.xml", number, "u1", 1, 1, &["-rtp_echo"]);
        assert!(
            o.status.success(),
            "sipp -> {number} failed: {}\nnode log:\n{}",
            String::from_utf8_lossy(&o.stdout),
            node.log()
        );
        callee.wait_event("released", T);
    }

    // H.323 -> SIP, fastStart then slow start, to a sipp UAS registered as carol
    let port = free_port();
    register(&node, "carol", port);
    let _uas = sipp_background(&[
        "-sf",
        &causeway_tests::scenario("uas_sdp.xml")
            .display()
            .to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-t",
        "u1",
        "-rtp_echo",
        "-m",
        "2",
    ]);
    for (name, more) in [("alice", "--fast-start"), ("erin", "--both-ways")] {
        let mut caller = endpoint(
            ras,
            name,
            &[
                "--alias",
                "e164:3001",
                "--call",
                "h323:carol@example.com",
                "--hold-ms",
                "1000",
                more,
            ],
        );
        let status = caller.exit_status(T);
        assert!(
            status.is_some_and(|s| s.success()),
            "{name}'s call to carol failed: {:?}\n{}",
            caller.events(),
            node.log()
        );
    }
    drop((fast, slow));
    let pcap = cap.stop();
    dissected(pcap.path(), &ports, gw);
}

/// The port of an endpoint's call-signaling listener (its `ready` event).
fn q931_port(ep: &H323Endpoint) -> u16 {
    let ready = ep.wait_event("ready", T);
    ready["q931"]
        .as_str()
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .map(|a| a.port())
        .unwrap_or_else(|| panic!("no q931 address: {ready}"))
}

/// Four calls, each crossing two call-signaling connections (the H.323 endpoint's with the
/// gatekeeper and the gatekeeper's with the gateway): every message counted over the frames
/// tshark dissects as Q.931/H.225.0 (`-T fields`, one value per message, so that messages
/// sharing a TCP segment count), and no malformed frame.
///
/// The ports are not 1720, so tshark's Q.931-over-TPKT heuristic has to find them; it is asked
/// to try heuristics before port numbers (this tshark has no `q931` decode-as entry for
/// `tcp.port`, and decoding the port as `tpkt` hands the payload to COTP).
fn dissected(pcap: &std::path::Path, ports: &[u16], gw: u16) {
    const HEUR: &str = "tcp.try_heuristic_first:TRUE";
    let ours: Vec<String> = ports.iter().map(|p| format!("tcp.port=={p}")).collect();
    let ours = ours.join(" || ");
    let bad = format!("({ours}) && (_ws.malformed || _ws.expert.severity >= error)");
    let read = |filter: &str, extra: &[&str]| {
        let mut all = vec!["-o", HEUR];
        all.extend_from_slice(extra);
        tshark::read(pcap, &[], filter, &all)
    };
    assert_eq!(
        read(&bad, &[]),
        "",
        "tshark flags frames:\n{}",
        read(&bad, &["-V"])
    );
    let summary = read(&ours, &[]);
    // how many times `field` has `value` in the frames matching `filter`
    let count = |filter: &str, field: &str, value: &str| -> usize {
        read(
            &format!("({ours}) && {filter}"),
            &["-T", "fields", "-e", field],
        )
        .lines()
        .flat_map(|l| l.split(','))
        .filter(|v| v.trim() == value)
        .count()
    };
    let q931 = |value: &str| count("q931", "q931.message_type", value);
    let checks = [
        ("Setup", q931("0x05"), 8),
        ("Connect", q931("0x07"), 8),
        ("ReleaseComplete", q931("0x5a"), 8),
        // H.245 tunneled in H.225.0 (h245Control): the capability exchange of every leg (the
        // fastStart calls too) and every leg's endSessionCommand
        (
            "tunneled terminalCapabilitySet",
            count("h225.h245Control", "h245.request", "2"),
            8,
        ),
        (
            "tunneled endSessionCommand",
            count("h225.h245Control", "h245.command", "5"),
            8,
        ),
        // the fastStart calls' proposals (in both legs' Setups) and answers
        (
            "Setup with fastStart",
            count("h225.fastStart", "q931.message_type", "0x05"),
            4,
        ),
        (
            "fastStart answer",
            count(
                "h225.fastStart && !h225.setup_element",
                "q931.message_type",
                "0x07",
            ) + count(
                "h225.fastStart && !h225.setup_element",
                "q931.message_type",
                "0x62",
            ) + count(
                "h225.fastStart && !h225.setup_element",
                "q931.message_type",
                "0x02",
            ) + count(
                "h225.fastStart && !h225.setup_element",
                "q931.message_type",
                "0x01",
            ),
            4,
        ),
        // the gatekeeper's Setups to the gateway (the two H.323 -> SIP calls)
        (
            "Setup on the gateway's port",
            count(&format!("tcp.dstport=={gw}"), "q931.message_type", "0x05"),
            2,
        ),
    ];
    for (what, n, at_least) in checks {
        eprintln!("tshark: {n} {what}");
        assert!(
            n >= at_least,
            "tshark finds {n} {what}, not {at_least} or more:\n{summary}"
        );
    }
}
