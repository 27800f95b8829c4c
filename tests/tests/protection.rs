//! `[protection]` against the real binary: while one loopback address floods the node (garbage
//! datagrams at 50,000/s, a storm of wrong passwords, TCP and TLS connection floods, slowloris
//! messages), legitimate calls from another keep completing, the attacker is blocked and gets
//! no answer, and the block shows in `causeway status`. Rates and durations are bounded; every
//! address is on loopback (127.0.0.x other than 127.0.0.1 is another source to the node).

use causeway_sip::auth::respond;
use causeway_tests::{
    crlf, header_values, register_with, sipp_uac, sipp_uas, status, Node, NodeOptions,
    StreamClient, UdpClient,
};
use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One flood at a time: on two cores, concurrent floods would measure each other.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn attacker(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn report(out: &Output, node: &Node) -> String {
    format!(
        "stdout: {}\nstderr: {}\nnode log (tail):\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail(&node.log(), 60)
    )
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// The node's `protection` status, once the publisher (every second) has seen `until` hold.
fn protection(node: &Node, until: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let p = node.status_json()["protection"].clone();
        if until(&p) || Instant::now() > end {
            return p;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn blocked_for(p: &Value, ip: IpAddr) -> Option<String> {
    p["blocked"].as_array()?.iter().find_map(|b| {
        (b["source"].as_str() == Some(&ip.to_string()))
            .then(|| b["reason"].as_str().unwrap_or("").to_string())
    })
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Sends garbage datagrams from `from` to `to` at about `rate` per second until `stop`;
/// returns how many went out.
fn flood(from: IpAddr, to: SocketAddr, rate: u64, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let c = UdpClient::from_ip(from);
        let start = Instant::now();
        let mut sent = 0u64;
        let mut junk = [0u8; 180];
        while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(30) {
            // a burst, then wait until the schedule catches up
            for _ in 0..250 {
                junk[(sent % 180) as usize] = (sent % 251) as u8;
                junk[0] = 0x7f;
                c.send_lossy(to, &junk);
                sent += 1;
            }
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        sent
    })
}

#[test]
fn a_garbage_flood_at_50k_per_second_is_blocked_while_calls_complete() {
    garbage_flood("");
}

/// The same with the UDP ring on a thread of its own: the flood crosses to the core's thread
/// through its bounded inbox until the source is blocked at the ring.
#[test]
fn a_garbage_flood_is_blocked_while_calls_complete_with_the_sip_udp_ring_on_its_own_thread() {
    garbage_flood("threads = 2");
}

fn garbage_flood(sip: &str) {
    let _serial = serial();
    let node = Node::start(NodeOptions {
        sip,
        ..NodeOptions::default()
    });
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    register_with(&node, "bob", &format!("127.0.0.1:{uas_port}"));
    let rss_before = rss_kb(node.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = flood(attacker(2), node.udp(), 50_000, stop.clone());
    // 300 calls/s for 10 s from 127.0.0.1 while the flood runs
    let out = sipp_uac(&node, "uac_call.xml", "bob", "u1", 3000, 300);
    stop.store(true, Ordering::Relaxed);
    let sent = flooder.join().unwrap_or(0);
    assert_eq!(
        out.status.code(),
        Some(0),
        "calls failed\n{}",
        report(&out, &node)
    );
    let p = protection(&node, |p| p["dropped_messages"].as_u64() > Some(100_000));
    assert_eq!(
        blocked_for(&p, attacker(2)).as_deref(),
        Some("garbage"),
        "{p}"
    );
    assert!(
        p["dropped_messages"].as_u64() > Some(100_000),
        "sent {sent}: {p}"
    );
    assert_eq!(blocked_for(&p, attacker(1)), None, "{p}");
    assert!(sent > 300_000, "the flood sent only {sent}");
    // not one answer went to the flooder, and memory stayed bounded
    let probe = UdpClient::from_ip(attacker(2));
    probe.send(node.udp(), b"OPTIONS sip:x SIP/2.0\r\n\r\n");
    assert!(probe.recv_all(Duration::from_millis(300)).is_empty());
    let grown = rss_kb(node.pid()).saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} kB");
    let text = node.status_text();
    assert!(
        text.contains("Blocked sources") && text.contains("127.0.0.2"),
        "{text}"
    );
}

const AUTH: &str = "[registrar]\nauthenticate = true\n\n[[credential]]\nusername = \"alice\"\npassword = \"secret\"\n\n[[credential]]\nusername = \"bob\"\npassword = \"bobsecret\"\n";

fn register_msg(c: &UdpClient, user: &str, cseq: u32, contact: &str, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\n"))
        .unwrap_or_default();
    crlf(&format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {local};branch=z9hG4bKst{cseq}
Max-Forwards: 70
From: <sip:{user}@example.com>;tag=a{cseq}
To: <sip:{user}@example.com>
Call-ID: storm-{user}-{local}
CSeq: {cseq} REGISTER
Contact: <sip:{user}@{contact}>
Expires: 600
{ua}{auth}Content-Length: 0

",
        local = c.local(),
        ua = causeway_tests::UA_HEADERS,
    ))
}

/// Registers `user` with its password through a digest challenge; the final status.
fn register_digest(node: &Node, c: &UdpClient, user: &str, password: &str, contact: &str) -> u16 {
    let r = c.request(node.udp(), &register_msg(c, user, 1, contact, None));
    let Some(ch) = header_values(&r, "WWW-Authenticate").into_iter().next() else {
        return status(&r);
    };
    let a = respond(
        &ch,
        "REGISTER",
        "sip:example.com",
        user,
        password,
        "0b1c",
        1,
    )
    .unwrap_or_default();
    status(&c.request(node.udp(), &register_msg(c, user, 2, contact, Some(&a))))
}

#[test]
fn a_storm_of_wrong_passwords_is_blocked_while_calls_complete() {
    let _serial = serial();
    let node = Node::start(NodeOptions {
        extra: AUTH,
        ..Default::default()
    });
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    let legit = UdpClient::new();
    let contact = format!("127.0.0.1:{uas_port}");
    assert_eq!(
        register_digest(&node, &legit, "bob", "bobsecret", &contact),
        200
    );
    // the guesser: one challenge, then wrong answers as fast as it can for 3 s
    let guesser = UdpClient::from_ip(attacker(3));
    let r = guesser.request(
        node.udp(),
        &register_msg(&guesser, "alice", 1, "10.0.0.9", None),
    );
    let ch = header_values(&r, "WWW-Authenticate")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no challenge: {r}"));
    let storm = std::thread::spawn({
        let to = node.udp();
        move || {
            let start = Instant::now();
            let mut nc = 1u32;
            while start.elapsed() < Duration::from_secs(3) {
                let a = respond(
                    &ch,
                    "REGISTER",
                    "sip:example.com",
                    "alice",
                    "guess",
                    "9f",
                    nc,
                )
                .unwrap_or_default();
                let msg = register_msg(&guesser, "alice", nc + 1, "10.0.0.9", Some(&a));
                guesser.send_lossy(to, msg.as_bytes());
                nc += 1;
            }
            let answers = guesser.recv_all(Duration::from_millis(500));
            (nc, answers)
        }
    });
    let out = sipp_uac(&node, "uac_call.xml", "bob", "u1", 600, 150);
    let (tried, answers) = storm.join().unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(0),
        "calls failed\n{}",
        report(&out, &node)
    );
    let refused = answers.iter().filter(|a| status(a) == 403).count();
    assert!(tried > 1000, "the storm tried only {tried}");
    // at most a handful of 403s before the block, then silence (the socket buffer holds
    // hundreds); none at all when the guesses that went over the budget were handled in the
    // same batch as the first ones: answers not yet sent when the block came are withheld
    assert!(refused < 40, "{refused} answers of 403 to {tried} guesses");
    let p = protection(&node, |p| p["blocked_now"].as_u64() > Some(0));
    assert_eq!(
        blocked_for(&p, attacker(3)).as_deref(),
        Some("auth_failures"),
        "{p}"
    );
    // the right password from a source in good standing still registers
    assert_eq!(
        register_digest(&node, &legit, "alice", "secret", "127.0.0.1:5999"),
        200
    );
}

const SHORT_TIMEOUT: &str = "[protection]\nmessage_timeout = 2\n";

/// Whether the node closed `s` (end of stream or reset) within `wait`.
fn closed_by_node(s: &TcpStream, wait: Duration) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
    let mut s = s;
    let end = Instant::now() + wait;
    let mut buf = [0u8; 512];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

fn write_fails(mut s: &TcpStream) -> bool {
    s.write_all(b"X").is_err()
}

/// A call over TCP from 127.0.0.1 to a registered sipp UAS over TCP.
fn tcp_calls(node: &Node, calls: u32, rate: u32) -> Output {
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "t1");
    register_with(node, "bob", &format!("127.0.0.1:{uas_port};transport=tcp"));
    sipp_uac(node, "uac_call.xml", "bob", "t1", calls, rate)
}

#[test]
fn a_tcp_connection_flood_is_refused_and_idle_connections_closed() {
    let _serial = serial();
    let node = Node::start(NodeOptions {
        extra: SHORT_TIMEOUT,
        ..Default::default()
    });
    let tcp = SocketAddr::from(([127, 0, 0, 1], node.port));
    let flood = std::thread::spawn(move || {
        (0..400)
            .filter_map(|_| causeway_tests::connect_from(Some(attacker(4)), tcp).ok())
            .collect::<Vec<_>>()
    });
    let out = tcp_calls(&node, 40, 20);
    let conns = flood.join().unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(0),
        "calls failed\n{}",
        report(&out, &node)
    );
    assert!(conns.len() > 100, "only {} connects", conns.len());
    // every one of them ends: refused at once once blocked, the rest at the message timeout
    let open: usize = conns
        .iter()
        .filter(|s| !closed_by_node(s, Duration::from_millis(100)))
        .count();
    let still = conns
        .iter()
        .filter(|s| !closed_by_node(s, Duration::from_secs(4)))
        .count();
    assert_eq!(
        still, 0,
        "{open} open after the calls, {still} after 4 s more"
    );
    let p = protection(&node, |p| p["refused_connections"].as_u64() > Some(0));
    assert_eq!(
        blocked_for(&p, attacker(4)).as_deref(),
        Some("connections"),
        "{p}"
    );
    assert!(p["refused_connections"].as_u64() > Some(100), "{p}");
}

#[test]
fn a_tls_handshake_flood_is_cut_off_while_tls_clients_register() {
    let _serial = serial();
    let node = Node::start(NodeOptions {
        extra: SHORT_TIMEOUT,
        ..Default::default()
    });
    let tls = node.tls();
    let done = Arc::new(AtomicU64::new(0));
    // four threads of complete handshakes, each kept open and silent
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for _ in 0..60 {
                    if let Ok(c) = StreamClient::tls_from(Some(attacker(5)), tls, None) {
                        done.fetch_add(1, Ordering::Relaxed);
                        kept.push(c);
                    }
                }
                kept
            })
        })
        .collect();
    // and half handshakes from another source: a TLS record header, then nothing
    let halves: Vec<TcpStream> = (0..30)
        .filter_map(|_| {
            let mut s = causeway_tests::connect_from(Some(attacker(6)), tls).ok()?;
            s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).ok()?;
            std::thread::sleep(Duration::from_millis(50));
            Some(s)
        })
        .collect();
    // a TLS client in good standing registers in the middle of it
    let mut c = StreamClient::tls(tls, None).expect("legitimate TLS client");
    let reg = crlf(&format!(
        "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/TLS {l};branch=z9hG4bKtls1\nMax-Forwards: 70\nFrom: <sip:carol@example.com>;tag=1\nTo: <sip:carol@example.com>\nCall-ID: tls-flood@test\nCSeq: 1 REGISTER\nContact: <sip:carol@{l};transport=tls>\nExpires: 600\nContent-Length: 0\n\n",
        l = c.local
    ));
    let answer = c.request(&reg).unwrap_or_default();
    assert_eq!(status(&answer), 200, "{answer}");
    let kept: usize = threads
        .into_iter()
        .map(|t| t.join().map(|v| v.len()).unwrap_or(0))
        .sum();
    assert!(kept < 240, "every handshake succeeded: {kept}");
    assert!(halves
        .iter()
        .all(|s| closed_by_node(s, Duration::from_secs(4))));
    let p = protection(&node, |p| p["slow_messages"].as_u64() >= Some(30));
    assert_eq!(
        blocked_for(&p, attacker(5)).as_deref(),
        Some("connections"),
        "{p}"
    );
    assert!(p["slow_messages"].as_u64() >= Some(30), "{p}");
}

#[test]
fn slowloris_messages_are_cut_at_the_message_timeout() {
    let _serial = serial();
    let node = Node::start(NodeOptions {
        extra: SHORT_TIMEOUT,
        ..Default::default()
    });
    let tcp = SocketAddr::from(([127, 0, 0, 1], node.port));
    let head = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.7:5060;branch=z9hG4bKslow\r\nMax-Forwards: 70\r\n";
    // 20 connections, under the connection budget, each trickling a header a byte at a time
    let slow = std::thread::spawn(move || {
        let conns: Vec<TcpStream> = (0..20)
            .filter_map(|_| {
                let mut s = causeway_tests::connect_from(Some(attacker(7)), tcp).ok()?;
                s.write_all(head.as_bytes()).ok()?;
                std::thread::sleep(Duration::from_millis(60));
                Some(s)
            })
            .collect();
        let start = Instant::now();
        let mut cut = 0;
        while start.elapsed() < Duration::from_secs(8) && cut < conns.len() {
            std::thread::sleep(Duration::from_millis(300));
            cut = conns.iter().filter(|s| write_fails(s)).count();
        }
        (conns.len(), cut, start.elapsed())
    });
    let out = tcp_calls(&node, 40, 20);
    let (opened, cut, took) = slow.join().unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(0),
        "calls failed\n{}",
        report(&out, &node)
    );
    assert_eq!(opened, 20);
    assert_eq!(cut, 20, "{cut} of 20 slow connections cut in {took:?}");
    let p = protection(&node, |p| p["slow_messages"].as_u64() >= Some(20));
    assert!(p["slow_messages"].as_u64() >= Some(20), "{p}");
    // under every budget: the slow source is cut, not blocked
    assert_eq!(blocked_for(&p, attacker(7)), None, "{p}");
}

#[test]
fn a_ras_garbage_flood_is_blocked_while_h323_endpoints_register_and_call() {
    let _serial = serial();
    use causeway_tests::{free_port, H323Endpoint};
    let (ras_port, q931_port) = (free_port(), free_port());
    let extra = format!(
        "[media]\nanchor = \"none\"\n\n[h323]\nenabled = true\nras_listen = \"127.0.0.1:{ras_port}\"\nq931_listen = \"127.0.0.1:{q931_port}\"\n"
    );
    let node = Node::start(NodeOptions {
        extra: &extra,
        ..Default::default()
    });
    let ras = SocketAddr::from(([127, 0, 0, 1], ras_port)).to_string();
    let t = Duration::from_secs(15);
    let bob = H323Endpoint::start("bob-h323", &["--gk", &ras, "--alias", "e164:2001"]);
    bob.wait_event("registered", t);
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = flood(
        attacker(8),
        ras.parse().unwrap_or(node.udp()),
        20_000,
        stop.clone(),
    );
    std::thread::sleep(Duration::from_millis(500));
    // registration, admission and a routed call through the gatekeeper during the flood
    let mut alice = H323Endpoint::start(
        "alice-h323",
        &[
            "--gk",
            &ras,
            "--alias",
            "e164:1001",
            "--call",
            "e164:2001",
            "--hold-ms",
            "300",
        ],
    );
    alice.wait_event("connected", t);
    let rel = alice.wait_event("released", t);
    assert_eq!(rel["cause"], 16, "{rel}");
    alice.finish(t);
    stop.store(true, Ordering::Relaxed);
    let sent = flooder.join().unwrap_or(0);
    let p = protection(&node, |p| p["dropped_messages"].as_u64() > Some(10_000));
    assert_eq!(
        blocked_for(&p, attacker(8)).as_deref(),
        Some("garbage"),
        "{p}"
    );
    assert!(
        p["dropped_messages"].as_u64() > Some(10_000),
        "sent {sent}: {p}"
    );
    let h323 = node.status_json()["h323"].clone();
    // the gatekeeper decoded only the datagrams before the block
    assert!(h323["ras_malformed"].as_u64() < Some(100), "{h323}");
}
