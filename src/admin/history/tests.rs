//! The history from tap to JSON: a proxied SIP call fed as the driver sees it, the states and
//! outcomes a call's messages give it, what is not a call, and H.323 linking by callIdentifier,
//! service call number and RAS sequence number.

use super::sip::classify;
use super::store::{Dir, Effect};
use super::*;
use causeway_sip::message::Bytes;
use causeway_sip::proxy::{Received, Transmit};
use serde_json::Value;
use std::time::{Duration, Instant};

const UAC: &str = "127.0.0.1:5062";
const UAS: &str = "127.0.0.1:5070";
const NODE: &str = "127.0.0.1:5060";

fn sip(first: &str, call_id: &str, cseq: &str, to_tag: bool) -> Bytes {
    let tag = if to_tag { ";tag=callee" } else { "" };
    Bytes::from(format!(
        "{first}\r\nVia: SIP/2.0/UDP {UAC};branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=a\r\n\
         To: <sip:bob@example.com>{tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ))
}

fn received(tap: &Tap, from: &str, data: Bytes) {
    tap.sip_received(&Received {
        data,
        kind: Transport::Udp,
        local: NODE.parse().expect("addr"),
        remote: from.parse().expect("addr"),
        conn: None,
        mtls_peer: None,
    });
}

fn sent(tap: &Tap, to: &str, data: Bytes) {
    tap.sip_sent(&Transmit {
        kind: Transport::Udp,
        dest: to.parse().expect("addr"),
        data,
        conn: None,
        server_name: None,
        token: 0,
        reuse_only: false,
        client_tls: None,
        local: None,
    });
}

fn json(h: &History, path: &str) -> Option<Value> {
    let (_, body) = h.get(path)?;
    serde_json::from_str(&body).ok()
}

/// Polls until the worker has stored `n` messages of `id`.
fn wait_messages(h: &History, id: &str, n: u64) -> Value {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let path = format!(
            "/calls/{}",
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
        );
        if let Some(v) = json(h, &path) {
            if v["messages"].as_u64() == Some(n) || Instant::now() > end {
                return v;
            }
        }
        assert!(Instant::now() < end, "{id} never kept");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_proxied_call_is_kept_with_every_message_in_order() {
    let limits = Limits {
        calls: 10,
        bytes: 1 << 20,
        searches: 10,
    };
    let (h, tap) = start(limits, vec![(Transport::Udp, NODE.parse().expect("addr"))]);
    let id = "abc@127.0.0.1";
    // not a call: a REGISTER, an OPTIONS
    received(
        &tap,
        UAC,
        sip(
            "REGISTER sip:example.com SIP/2.0",
            "reg-1",
            "1 REGISTER",
            false,
        ),
    );
    received(
        &tap,
        UAC,
        sip(
            "OPTIONS sip:example.com SIP/2.0",
            "opt-1",
            "1 OPTIONS",
            false,
        ),
    );
    received(
        &tap,
        UAC,
        sip("INVITE sip:bob@example.com SIP/2.0", id, "1 INVITE", false),
    );
    sent(&tap, UAC, sip("SIP/2.0 100 Trying", id, "1 INVITE", false));
    sent(
        &tap,
        UAS,
        sip(
            "INVITE sip:bob@127.0.0.1:5070 SIP/2.0",
            id,
            "1 INVITE",
            false,
        ),
    );
    received(&tap, UAS, sip("SIP/2.0 180 Ringing", id, "1 INVITE", true));
    sent(&tap, UAC, sip("SIP/2.0 180 Ringing", id, "1 INVITE", true));
    received(&tap, UAS, sip("SIP/2.0 200 OK", id, "1 INVITE", true));
    sent(&tap, UAC, sip("SIP/2.0 200 OK", id, "1 INVITE", true));
    received(
        &tap,
        UAC,
        sip("ACK sip:bob@127.0.0.1:5070 SIP/2.0", id, "1 ACK", true),
    );
    sent(
        &tap,
        UAS,
        sip("ACK sip:bob@127.0.0.1:5070 SIP/2.0", id, "1 ACK", true),
    );
    let v = wait_messages(&h, id, 9);
    assert_eq!(v["state"], "active");
    assert_eq!(v["outcome"], "answered");
    received(
        &tap,
        UAC,
        sip("BYE sip:bob@127.0.0.1:5070 SIP/2.0", id, "2 BYE", true),
    );
    sent(
        &tap,
        UAS,
        sip("BYE sip:bob@127.0.0.1:5070 SIP/2.0", id, "2 BYE", true),
    );
    received(&tap, UAS, sip("SIP/2.0 200 OK", id, "2 BYE", true));
    sent(&tap, UAC, sip("SIP/2.0 200 OK", id, "2 BYE", true));
    let v = wait_messages(&h, id, 13);
    let ladder: Vec<(String, String, String)> = v["ladder"]
        .as_array()
        .expect("ladder")
        .iter()
        .map(|m| {
            (
                m["dir"].as_str().unwrap_or("").to_string(),
                m["remote"].as_str().unwrap_or("").to_string(),
                m["summary"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expect = [
        ("in", UAC, "INVITE sip:bob@example.com"),
        ("out", UAC, "100 Trying (INVITE)"),
        ("out", UAS, "INVITE sip:bob@127.0.0.1:5070"),
        ("in", UAS, "180 Ringing (INVITE)"),
        ("out", UAC, "180 Ringing (INVITE)"),
        ("in", UAS, "200 OK (INVITE)"),
        ("out", UAC, "200 OK (INVITE)"),
        ("in", UAC, "ACK sip:bob@127.0.0.1:5070"),
        ("out", UAS, "ACK sip:bob@127.0.0.1:5070"),
        ("in", UAC, "BYE sip:bob@127.0.0.1:5070"),
        ("out", UAS, "BYE sip:bob@127.0.0.1:5070"),
        ("in", UAS, "200 OK (BYE)"),
        ("out", UAC, "200 OK (BYE)"),
    ];
    let expect: Vec<(String, String, String)> = expect
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(ladder, expect);
    assert_eq!(
        v["ladder"][1]["local"], NODE,
        "the listener a datagram left from"
    );
    assert!(v["ladder"][0]["text"]
        .as_str()
        .is_some_and(|t| t.contains("Call-ID: abc@127.0.0.1")));
    assert_eq!(
        (v["state"].as_str(), v["outcome"].as_str()),
        (Some("ended"), Some("completed"))
    );
    let list = json(&h, "/calls").expect("calls");
    assert_eq!(list["calls"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["calls"][0]["from"], "sip:alice@example.com");
    assert_eq!(list["calls"][0]["to"], "sip:bob@example.com");
    assert!(
        list["calls"][0].get("ladder").is_none(),
        "the list has no ladders"
    );
    assert!(h.get("/calls/nobody").is_none());
}

#[test]
fn failures_and_cancels_end_a_call_with_their_outcome() {
    let effect = |first: &str, cseq: &str, dir| {
        classify(&sip(first, "x", cseq, true), dir).map(|s| s.effect)
    };
    let busy = "SIP/2.0 486 Busy Here";
    assert_eq!(
        effect(busy, "1 INVITE", Dir::Out),
        Some(Effect::Ended("486 Busy Here".into()))
    );
    // a failure from one target is not the caller's answer: the node may try another
    assert_eq!(effect(busy, "1 INVITE", Dir::In), Some(Effect::None));
    assert_eq!(
        effect("SIP/2.0 487 Request Terminated", "1 INVITE", Dir::Out),
        Some(Effect::Ended("cancelled".into()))
    );
    let reinvite = sip("INVITE sip:b@x SIP/2.0", "x", "3 INVITE", true);
    assert_eq!(
        classify(&reinvite, Dir::In).map(|s| s.start),
        Some(None),
        "a re-INVITE starts nothing"
    );
    assert!(classify(b"\x00\x01 not sip", Dir::In).is_none());
}

#[test]
fn routing_decisions_are_kept_as_searches() {
    let limits = Limits {
        calls: 0,
        bytes: 0,
        searches: 2,
    };
    let (h, tap) = start(limits, vec![]);
    let router = causeway_zones::Router::new(&["example.com".to_string()])
        .with_recorder(std::sync::Arc::new(tap.clone()));
    for alias in ["bob@example.com", "x@elsewhere.org", "carol@example.com"] {
        let a = causeway_zones::Alias::parse(alias);
        router.route(&causeway_zones::RouteRequest {
            alias: &a,
            protocol: causeway_zones::Protocol::Sip,
            source_zone: "LocalZone",
            source_registered: false,
        });
    }
    assert!(
        h.get("/calls").is_none(),
        "no call history when call_history = 0"
    );
    let end = Instant::now() + Duration::from_secs(5);
    let v = loop {
        let v = json(&h, "/searches").expect("searches");
        if v["searches"].as_array().map(Vec::len) == Some(2) || Instant::now() > end {
            break v;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(v["searches"][0]["alias"], "carol@example.com");
    assert_eq!(v["searches"][0]["outcome"], "1 target");
    assert!(v["searches"][0]["targets"][0]
        .as_str()
        .is_some_and(|t| t.starts_with("LocalZone carol@example.com")));
    assert_eq!(v["searches"][1]["outcome"], "no route");
    assert!(v["searches"][1]["trace"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));
}

#[test]
fn h323_messages_join_their_call_by_guid_call_number_and_ras_sequence() {
    use causeway_h323::driver::Channel;
    use causeway_h323::endpoint as ep;
    use causeway_h323::q931::{CallReference, MessageType, Q931};
    let mut links = h323::Links::default();
    let ids = ep::CallIds {
        crv: 1,
        call_id: [0x5a; 16],
        conf_id: [1; 16],
    };
    let guid = "5a".repeat(16);
    let peer: SocketAddr = "127.0.0.1:1720".parse().expect("addr");
    let me = ep::Me {
        ras: "127.0.0.1:1719".parse().expect("addr"),
        csa: peer,
        aliases: vec![],
    };
    let alias = causeway_h323::asn::typed_alias("h323:alice").expect("alias");
    let arq = ep::arq(
        9,
        &me,
        causeway_h323::asn::endpoint_id("e"),
        None,
        &ids,
        None,
        vec![alias.clone()],
        false,
    )
    .and_then(|m| ep::encode_ras(&m))
    .expect("arq");
    let seen = links
        .classify(Channel::Ras, None, peer, &arq)
        .expect("ARQ is a call's");
    assert_eq!(seen.key, guid);
    assert_eq!(seen.start.map(|(f, _)| f).as_deref(), Some("h323:alice"));
    // the ACF names no call: it joins its ARQ by sequence number and peer
    let acf = ep::encode_ras(&ep::ucf(9)).expect("ucf stands in for any answer");
    assert!(
        links.classify(Channel::Ras, None, peer, &acf).is_none(),
        "a UCF answers no ARQ"
    );
    let setup = ep::setup_uuie(&ids, vec![alias], None, None, None, peer).expect("setup");
    let mut q = Q931::new(
        MessageType::Setup,
        CallReference::new(1, false).expect("crv"),
    );
    q.set_user_user(&ep::encode_uu(setup, false, vec![]).expect("uu"))
        .expect("uu");
    let seen = links
        .classify(Channel::Q931, Some(7), peer, &q.encode())
        .expect("Setup");
    assert_eq!(seen.key, guid);
    // a separate H.245 connection of service call 7 joins by that number
    let tcs = ep::encode_h245(&ep::tcs(1)).expect("tcs");
    let seen = links
        .classify(Channel::H245, Some(7), peer, &tcs)
        .expect("H.245");
    assert_eq!(seen.key, guid);
    // described when its ladder is read
    assert_eq!(
        super::h323::describe(Channel::H245, &tcs).0,
        "H.245 request terminalCapabilitySet"
    );
    assert!(
        links.classify(Channel::H245, Some(8), peer, &tcs).is_none(),
        "call 8 is unknown"
    );
}
