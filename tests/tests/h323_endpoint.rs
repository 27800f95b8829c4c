//! The `h323-endpoint` test tool against itself and against a gatekeeper played by the test:
//! two endpoints calling each other directly (H.245 tunneled and on its own channel), the RAS
//! side decoded with causeway-h323-asn1 from a UDP socket of the test, and the call traffic
//! dissected by tshark. The DTMF (UserInputIndication) and pause/resume (empty
//! TerminalCapabilitySet) tests run two endpoints through the causeway binary as gatekeeper
//! (gatekeeper-routed, H.245 relayed by it): build it first with `cargo build -p causeway`.

use causeway_tests::h323ep::asn1::h323_messages as h225;
use causeway_tests::h323ep::asn1::rasn;
use causeway_tests::h323ep::{asn, msg};
use causeway_tests::tshark::{self, Capture};
use causeway_tests::{free_port, H323Endpoint, Node, NodeOptions};
use serde_json::{json, Value};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

fn addr(v: &Value) -> SocketAddr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an address: {v}"))
}

fn h245(ep: &H323Endpoint, what: &str) -> Value {
    ep.wait(what, T, |v| v["event"] == "h245" && v["what"] == what)
}

/// A callee on a free port and a caller sending it a Setup directly; both sides' events checked.
fn direct_call(callee_mode: &str, caller_mode: &str) -> (H323Endpoint, H323Endpoint, u16) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let bob = H323Endpoint::start(
        "bob",
        &[
            "--no-gk",
            "--alias",
            "h323:bob",
            "--alias",
            "e164:1002",
            "--q931-bind",
            &bind,
            "--h245",
            callee_mode,
        ],
    );
    bob.wait_event("ready", T);
    let mut alice = H323Endpoint::start(
        "alice",
        &[
            "--direct",
            &bind,
            "--alias",
            "h323:alice",
            "--alias",
            "e164:1001",
            "--call",
            "e164:1002",
            "--h245",
            caller_mode,
            "--hold-ms",
            "300",
        ],
    );
    for ep in [&alice, &bob] {
        ep.wait_event("connected", T);
        h245(ep, "tcs-ack");
        let msd = h245(ep, "msd");
        assert!(msd["role"] == "master" || msd["role"] == "slave", "{msd}");
    }
    let ack = h245(&alice, "olc-ack");
    let olc = h245(&bob, "olc");
    let rtp = addr(&ack["remote_rtp"]);
    assert_eq!(
        rtp,
        addr(&olc["local_rtp"]),
        "the OLC Ack carries the callee's RTP socket"
    );
    assert_ne!(rtp.port(), 0);
    // The callee really holds that socket: binding it again fails.
    assert!(
        UdpSocket::bind(rtp).is_err(),
        "{rtp} is not bound by the callee"
    );
    let roles: Vec<Value> = [&alice, &bob]
        .iter()
        .map(|e| h245(e, "msd")["role"].clone())
        .collect();
    assert_ne!(roles[0], roles[1], "one master, one slave");
    for ep in [&alice, &bob] {
        let rel = ep.wait_event("released", T);
        assert_eq!(rel["cause"], 16, "{}: {rel}", ep.name);
    }
    assert_eq!(alice.wait_event("released", T)["by"], "self");
    assert_eq!(bob.wait_event("released", T)["by"], "remote");
    h245(&bob, "end-session");
    h245(&alice, "end-session");
    let status = alice
        .exit_status(T)
        .expect("the caller exits after its call");
    assert!(status.success(), "caller exit {status:?}");
    (alice, bob, port)
}

#[test]
fn direct_call_h245_tunneled() {
    let (alice, bob, _) = direct_call("tunnel", "tunnel");
    assert_eq!(alice.wait_event("connected", T)["tunneling"], true);
    assert_eq!(bob.wait_event("setup", T)["tunneling"], true);
    let setup = bob.wait_event("setup", T);
    assert_eq!(setup["calling_number"], "1001");
    assert_eq!(setup["called_number"], "1002");
}

#[test]
fn direct_call_h245_separate() {
    let (alice, bob, _) = direct_call("separate", "separate");
    assert_eq!(alice.wait_event("connected", T)["tunneling"], false);
    let h245_addr = addr(&bob.wait_event("connected", T)["h245_address"]);
    assert_ne!(h245_addr.port(), 0);
    h245(&alice, "channel");
}

#[test]
fn direct_call_falls_back_to_a_separate_channel() {
    let (alice, _bob, _) = direct_call("separate", "tunnel");
    assert_eq!(alice.wait_event("connected", T)["tunneling"], false);
}

#[test]
fn direct_call_rejected() {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let bob = H323Endpoint::start(
        "bob",
        &[
            "--no-gk",
            "--alias",
            "h323:bob",
            "--q931-bind",
            &bind,
            "--answer",
            "no",
        ],
    );
    bob.wait_event("ready", T);
    let mut alice = H323Endpoint::start(
        "alice",
        &[
            "--direct",
            &bind,
            "--alias",
            "h323:alice",
            "--call",
            "h323:bob",
        ],
    );
    let rel = alice.wait_event("released", T);
    assert_eq!(rel["cause"], 21, "{rel}");
    assert_eq!(rel["reason"], "destinationRejection");
    assert_eq!(bob.wait_event("released", T)["cause"], 21);
    let status = alice.exit_status(T).expect("caller exits");
    assert!(!status.success());
}

/// Garbage on the call-signaling socket is reported as `malformed` and the endpoint still
/// answers the next call.
#[test]
fn malformed_call_signaling_is_survived() {
    use std::io::Write;
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let bob = H323Endpoint::start(
        "bob",
        &["--no-gk", "--alias", "h323:bob", "--q931-bind", &bind],
    );
    bob.wait_event("ready", T);
    let mut tcp = std::net::TcpStream::connect(&bind).unwrap();
    // A TPKT whose payload is not Q.931 (discriminator 0x01), then a Setup whose User-user
    // is not PER H323-UserInformation.
    tcp.write_all(&[3, 0, 0, 8, 0x01, 0x02, 0x03, 0x04])
        .unwrap();
    tcp.write_all(&[
        3, 0, 0, 15, 0x08, 0x02, 0x00, 0x01, 0x05, 0x7e, 0x00, 0x03, 0x05, 0xff, 0xff,
    ])
    .unwrap();
    bob.wait("malformed q931", T, |v| {
        v["event"] == "malformed" && v["where"] == "q931"
    });
    bob.wait("malformed setup", T, |v| {
        v["event"] == "malformed" && v["where"] == "setup"
    });
    drop(tcp);
    let mut alice = H323Endpoint::start(
        "alice",
        &[
            "--direct",
            &bind,
            "--alias",
            "h323:alice",
            "--call",
            "h323:bob",
            "--hold-ms",
            "100",
        ],
    );
    h245(&alice, "olc-ack");
    assert!(alice.exit_status(T).expect("exits").success());
}

// ------------------------------------------------------------------ RAS against the test

struct Gk {
    sock: UdpSocket,
}

impl Gk {
    fn new() -> Gk {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Gk { sock }
    }
    fn addr(&self) -> String {
        self.sock.local_addr().unwrap().to_string()
    }
    fn recv(&self, timeout: Duration) -> (h225::RasMessage, SocketAddr) {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 4096];
        let (n, from) = self
            .sock
            .recv_from(&mut buf)
            .expect("a RAS message in time");
        let m: h225::RasMessage = rasn::aper::decode(&buf[..n]).expect("a RAS message");
        (m, from)
    }
    fn send(&self, m: h225::RasMessage, to: SocketAddr) {
        self.sock
            .send_to(&rasn::aper::encode(&m).unwrap(), to)
            .unwrap();
    }
}

fn rcf(seq: u16, csa: &h225::TransportAddress, ttl: u32) -> h225::RasMessage {
    h225::RasMessage::registrationConfirm(h225::RegistrationConfirm::new(
        h225::RequestSeqNum(seq),
        asn::h225_protocol_identifier(),
        None,
        vec![csa.clone()],
        None,
        Some(h225::GatekeeperIdentifier(asn::bmp("TESTGK"))),
        h225::EndpointIdentifier(asn::bmp("EP1")),
        None,
        Some(h225::TimeToLive(ttl)),
        None,
        None,
        None,
        Some(false),
        None,
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

/// Receives the endpoint's full RRQ, checks it, answers RCF; the endpoint says `registered`.
fn register(gk: &Gk, ep: &H323Endpoint, ttl: u32) -> SocketAddr {
    register_as(gk, ep, ttl, &["h323:alice", "e164:1001"])
}

fn register_as(gk: &Gk, ep: &H323Endpoint, ttl: u32, expect_aliases: &[&str]) -> SocketAddr {
    let ready = ep.wait_event("ready", T);
    let (m, from) = gk.recv(T);
    let h225::RasMessage::registrationRequest(rrq) = m else {
        panic!("expected RRQ, got {m:?}")
    };
    assert_eq!(
        from,
        addr(&ready["ras"]),
        "RRQ comes from the rasAddress it announces"
    );
    assert_eq!(asn::socket_addr(&rrq.ras_address[0]), Some(from));
    assert_eq!(
        asn::socket_addr(&rrq.call_signal_address[0]),
        Some(addr(&ready["q931"]))
    );
    assert_eq!(rrq.keep_alive, Some(false));
    assert_eq!(rrq.time_to_live.as_ref().map(|t| t.0), Some(60));
    assert!(rrq.terminal_type.terminal.is_some());
    let aliases: Vec<String> = rrq
        .terminal_alias
        .iter()
        .flatten()
        .map(asn::typed_alias_text)
        .collect();
    assert_eq!(aliases, expect_aliases);
    let proto = rrq.protocol_identifier.0.to_vec();
    assert!(
        proto.starts_with(&[0, 0, 8, 2250, 0]) && proto[5] >= 4,
        "{proto:?}"
    );
    gk.send(
        rcf(rrq.request_seq_num.0, &rrq.call_signal_address[0], ttl),
        from,
    );
    let reg = ep.wait_event("registered", T);
    assert_eq!(reg["endpoint_id"], "EP1");
    assert_eq!(reg["ttl"], ttl);
    from
}

#[test]
fn ras_registration_refresh_irq_and_gatekeeper_urq() {
    let gk = Gk::new();
    let ep = H323Endpoint::start(
        "alice",
        &[
            "--gk",
            &gk.addr(),
            "--alias",
            "h323:alice",
            "--alias",
            "e164:1001",
        ],
    );
    let from = register(&gk, &ep, 2);
    // A lightweight refresh before the 2 s run out.
    let t0 = Instant::now();
    let (m, _) = gk.recv(Duration::from_secs(3));
    let h225::RasMessage::registrationRequest(rrq) = m else {
        panic!("expected a refresh RRQ, got {m:?}")
    };
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(rrq.keep_alive, Some(true));
    assert_eq!(
        rrq.endpoint_identifier
            .as_ref()
            .map(|e| asn::bmp_text_lossy(&e.0)),
        Some("EP1".into())
    );
    assert_eq!(
        rrq.gatekeeper_identifier
            .as_ref()
            .map(|e| asn::bmp_text_lossy(&e.0)),
        Some("TESTGK".into())
    );
    assert!(rrq.terminal_alias.is_none());
    gk.send(
        rcf(rrq.request_seq_num.0, &rrq.call_signal_address[0], 60),
        from,
    );
    ep.wait_event("refreshed", T);

    // Garbage on the RAS socket is reported and survived.
    gk.sock.send_to(b"\xff\x00garbage", from).unwrap();
    ep.wait_event("malformed", T);

    // IRQ -> IRR.
    let irq = h225::RasMessage::infoRequest(h225::InfoRequest::new(
        h225::RequestSeqNum(4711),
        h225::CallReferenceValue(0),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ));
    gk.send(irq, from);
    let (m, _) = gk.recv(T);
    let h225::RasMessage::infoRequestResponse(irr) = m else {
        panic!("expected IRR, got {m:?}")
    };
    assert_eq!(irr.request_seq_num.0, 4711);
    assert_eq!(asn::bmp_text_lossy(&irr.endpoint_identifier.0), "EP1");

    // The gatekeeper unregisters the endpoint: UCF.
    let me = msg::Me {
        ras: from,
        csa: from,
        aliases: Vec::new(),
    };
    let urq = msg::urq(
        99,
        &me,
        None,
        Some(h225::EndpointIdentifier(asn::bmp("EP1"))),
    )
    .unwrap();
    gk.send(urq, from);
    let (m, _) = gk.recv(T);
    assert!(
        matches!(m, h225::RasMessage::unregistrationConfirm(ref u) if u.request_seq_num.0 == 99),
        "{m:?}"
    );
    assert_eq!(ep.wait_event("unregistered", T)["by"], "gatekeeper");
}

#[test]
fn ras_unregisters_on_exit() {
    let gk = Gk::new();
    let mut ep = H323Endpoint::start(
        "alice",
        &[
            "--gk",
            &gk.addr(),
            "--alias",
            "h323:alice",
            "--alias",
            "e164:1001",
        ],
    );
    let from = register(&gk, &ep, 60);
    ep.finish(Duration::from_millis(1)); // closes stdin
    let (m, _) = gk.recv(T);
    let h225::RasMessage::unregistrationRequest(urq) = m else {
        panic!("expected URQ, got {m:?}")
    };
    assert_eq!(
        urq.endpoint_identifier
            .as_ref()
            .map(|e| asn::bmp_text_lossy(&e.0)),
        Some("EP1".into())
    );
    gk.send(msg::ucf(urq.request_seq_num.0), from);
    assert_eq!(ep.wait_event("unregistered", T)["by"], "self");
    assert!(ep.exit_status(T).expect("exits").success());
}

#[test]
fn ras_admission_call_and_disengage() {
    // bob answers without a gatekeeper; the test's gatekeeper admits alice's call to bob.
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let bob = H323Endpoint::start(
        "bob",
        &["--no-gk", "--alias", "e164:1002", "--q931-bind", &bind],
    );
    bob.wait_event("ready", T);
    let gk = Gk::new();
    let mut alice = H323Endpoint::start(
        "alice",
        &[
            "--gk",
            &gk.addr(),
            "--alias",
            "h323:alice",
            "--alias",
            "e164:1001",
            "--call",
            "e164:1002",
            "--hold-ms",
            "200",
        ],
    );
    let from = register(&gk, &alice, 60);
    let (m, _) = gk.recv(T);
    let h225::RasMessage::admissionRequest(arq) = m else {
        panic!("expected ARQ, got {m:?}")
    };
    assert!(!arq.answer_call);
    assert_eq!(arq.band_width.0, 1280);
    assert_eq!(arq.call_model, Some(h225::CallModel::gatekeeperRouted(())));
    let dest: Vec<String> = arq
        .destination_info
        .iter()
        .flatten()
        .map(asn::typed_alias_text)
        .collect();
    assert_eq!(dest, ["e164:1002"]);
    let call_id = arq.call_identifier.clone().expect("callIdentifier");
    let acf = h225::RasMessage::admissionConfirm(h225::AdmissionConfirm::new(
        arq.request_seq_num,
        h225::BandWidth(1280),
        h225::CallModel::gatekeeperRouted(()),
        asn::transport_address(bind.parse().unwrap()),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ));
    gk.send(acf, from);
    assert_eq!(
        addr(&alice.wait_event("acf", T)["dest"]),
        bind.parse::<SocketAddr>().unwrap()
    );
    h245(&alice, "olc-ack");
    assert_eq!(alice.wait_event("released", T)["cause"], 16);
    let (m, _) = gk.recv(T);
    let h225::RasMessage::disengageRequest(drq) = m else {
        panic!("expected DRQ, got {m:?}")
    };
    assert_eq!(drq.disengage_reason, h225::DisengageReason::normalDrop(()));
    assert_eq!(drq.call_identifier, Some(call_id));
    assert_eq!(drq.call_reference_value, arq.call_reference_value);
    let dcf = h225::RasMessage::disengageConfirm(h225::DisengageConfirm::new(
        drq.request_seq_num,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ));
    gk.send(dcf, from);
    alice.wait_event("dcf", T);
    // Then it unregisters and exits.
    let (m, _) = gk.recv(T);
    let h225::RasMessage::unregistrationRequest(urq) = m else {
        panic!("expected URQ, got {m:?}")
    };
    gk.send(msg::ucf(urq.request_seq_num.0), from);
    assert!(alice.exit_status(T).expect("exits").success());
}

#[test]
fn ras_timeout_is_an_error_and_a_nonzero_exit() {
    let gk = Gk::new(); // never answers
    let mut ep = H323Endpoint::start("alice", &["--gk", &gk.addr(), "--alias", "h323:alice"]);
    let t0 = Instant::now();
    let err = ep.wait_event("error", Duration::from_secs(20));
    assert_eq!(err["what"], "rrq");
    assert!(t0.elapsed() >= Duration::from_secs(8), "3 tries 3 s apart");
    let status = ep.exit_status(T).expect("exits");
    assert!(!status.success());
    // The three tries carry the same requestSeqNum.
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let (m, _) = gk.recv(Duration::from_secs(1));
        seqs.push(msg::seq_of(&m).unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] == w[1]), "{seqs:?}");
}

fn gcf(seq: u16, ras: SocketAddr) -> h225::RasMessage {
    h225::RasMessage::gatekeeperConfirm(h225::GatekeeperConfirm::new(
        h225::RequestSeqNum(seq),
        asn::h225_protocol_identifier(),
        None,
        Some(h225::GatekeeperIdentifier(asn::bmp("TESTGK"))),
        asn::transport_address(ras),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

#[test]
fn ras_discovery_then_registration() {
    let gk = Gk::new();
    let ep = H323Endpoint::start(
        "alice",
        &[
            "--gk",
            &gk.addr(),
            "--discover",
            "--alias",
            "h323:alice",
            "--alias",
            "e164:1001",
        ],
    );
    let (m, from) = gk.recv(T);
    let h225::RasMessage::gatekeeperRequest(grq) = m else {
        panic!("expected GRQ, got {m:?}")
    };
    assert_eq!(asn::socket_addr(&grq.ras_address), Some(from));
    assert!(grq.endpoint_type.terminal.is_some());
    assert_eq!(grq.supports_assigned_gk, Some(false));
    gk.send(
        gcf(grq.request_seq_num.0, gk.sock.local_addr().unwrap()),
        from,
    );
    let g = ep.wait_event("gcf", T);
    assert_eq!(g["gatekeeper_id"], "TESTGK");
    let (m, _) = gk.recv(T);
    let h225::RasMessage::registrationRequest(rrq) = m else {
        panic!("expected RRQ, got {m:?}")
    };
    assert!(rrq.discovery_complete);
    assert_eq!(
        rrq.gatekeeper_identifier
            .as_ref()
            .map(|g| asn::bmp_text_lossy(&g.0)),
        Some("TESTGK".into())
    );
    gk.send(
        rcf(rrq.request_seq_num.0, &rrq.call_signal_address[0], 60),
        from,
    );
    ep.wait_event("registered", T);
}

/// The answering side: a registered callee asks the gatekeeper (ARQ answerCall TRUE) before
/// it answers; ARJ makes it release the call, ACF lets it connect, and DRQ follows the call.
#[test]
fn ras_callee_admission_reject_then_confirm() {
    let gk = Gk::new();
    let bob = H323Endpoint::start("bob", &["--gk", &gk.addr(), "--alias", "e164:1002"]);
    let from = register_as(&gk, &bob, 60, &["e164:1002"]);
    let bob_q931 = bob.wait_event("ready", T)["q931"]
        .as_str()
        .unwrap()
        .to_owned();

    // First call: ARJ.
    let mut alice = H323Endpoint::start(
        "alice",
        &[
            "--direct",
            &bob_q931,
            "--alias",
            "h323:alice",
            "--call",
            "e164:1002",
        ],
    );
    let (m, _) = gk.recv(T);
    let h225::RasMessage::admissionRequest(arq) = m else {
        panic!("expected ARQ, got {m:?}")
    };
    assert!(arq.answer_call);
    let src: Vec<String> = arq.src_info.iter().map(asn::typed_alias_text).collect();
    assert_eq!(src, ["h323:alice"]);
    let arj = h225::RasMessage::admissionReject(h225::AdmissionReject::new(
        arq.request_seq_num,
        h225::AdmissionRejectReason::requestDenied(()),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ));
    gk.send(arj, from);
    assert_eq!(bob.wait_event("arj", T)["reason"], "requestDenied");
    let rel = alice.wait_event("released", T);
    assert_eq!(rel["cause"], 21, "{rel}");
    assert!(!alice.exit_status(T).expect("exits").success());

    // Second call: ACF, the call connects, then DRQ with answeredCall TRUE.
    let alice = H323Endpoint::start(
        "alice2",
        &[
            "--direct",
            &bob_q931,
            "--alias",
            "h323:alice",
            "--call",
            "e164:1002",
            "--hold-ms",
            "200",
        ],
    );
    let (m, _) = gk.recv(T);
    let h225::RasMessage::admissionRequest(arq) = m else {
        panic!("expected ARQ, got {m:?}")
    };
    let acf = h225::RasMessage::admissionConfirm(h225::AdmissionConfirm::new(
        arq.request_seq_num,
        h225::BandWidth(1280),
        h225::CallModel::gatekeeperRouted(()),
        asn::transport_address(bob_q931.parse().unwrap()),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ));
    gk.send(acf, from);
    h245(&alice, "olc-ack");
    bob.wait("released 16", T, |v| {
        v["event"] == "released" && v["cause"] == 16
    });
    let (m, _) = gk.recv(T);
    let h225::RasMessage::disengageRequest(drq) = m else {
        panic!("expected DRQ, got {m:?}")
    };
    assert_eq!(drq.answered_call, Some(true));
    assert_eq!(drq.call_identifier, arq.call_identifier);
    gk.send(
        h225::RasMessage::disengageConfirm(h225::DisengageConfirm::new(
            drq.request_seq_num,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )),
        from,
    );
    bob.wait_event("dcf", T);
}

#[test]
fn bench_rrq_counts_confirms() {
    let gk = Gk::new();
    let gk_addr = gk.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let responder = std::thread::spawn(move || {
        let (mut full, mut light) = (0u32, 0u32);
        gk.sock
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 4096];
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            let Ok((n, from)) = gk.sock.recv_from(&mut buf) else {
                continue;
            };
            let Ok(h225::RasMessage::registrationRequest(rrq)) = rasn::aper::decode(&buf[..n])
            else {
                continue;
            };
            if rrq.keep_alive == Some(true) {
                light += 1;
            } else {
                full += 1;
            }
            gk.send(
                rcf(rrq.request_seq_num.0, &rrq.call_signal_address[0], 300),
                from,
            );
        }
        (full, light)
    });
    let out = Command::new(causeway_tests::h323_endpoint_bin())
        .args([
            "bench",
            "--gk",
            &gk_addr,
            "--kind",
            "rrq",
            "--rate",
            "200",
            "--duration",
            "1",
            "--aliases",
            "10",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (full, light) = responder.join().unwrap();
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(summary["sent"], 200, "{summary}");
    assert_eq!(summary["confirmed"], 200, "{summary}");
    assert_eq!(summary["timeouts"], 0, "{summary}");
    assert!(summary["p99_us"].as_u64().unwrap() >= summary["p50_us"].as_u64().unwrap());
    assert!(
        full >= 10 && light > 0 && full + light == 200,
        "full {full} light {light}"
    );
}

// ------------------------------------------------------------------ tshark

/// A direct call captured on loopback: H.225.0 is found by tshark's Q.931-over-TPKT heuristic
/// on any port, H.245 on its own channel by decode-as; nothing is malformed or an expert error.
fn tshark_checks_call(mode: &str) {
    let cap = Capture::start("tcp");
    let (_alice, bob, port) = direct_call(mode, mode);
    let file = cap.stop();
    let mut ports = vec![port];
    let mut decode_as = Vec::new();
    if let Some(h) = bob.wait_event("connected", T)["h245_address"].as_str() {
        let h: SocketAddr = h.parse().unwrap();
        ports.push(h.port());
        decode_as.push(format!("tcp.port=={},h245", h.port()));
    }
    let ours = ports
        .iter()
        .map(|p| format!("tcp.port=={p}"))
        .collect::<Vec<_>>()
        .join(" || ");
    let summary = tshark::read(file.path(), &decode_as, &ours, &[]);
    eprintln!("{summary}");
    let bad = tshark::read(
        file.path(),
        &decode_as,
        &format!("({ours}) && (_ws.malformed || _ws.expert.severity >= error)"),
        &[],
    );
    assert_eq!(
        bad,
        "",
        "tshark flags our frames:\n{}",
        tshark::read(file.path(), &decode_as, &ours, &["-V"])
    );
    let warn = tshark::read(
        file.path(),
        &decode_as,
        &format!("({ours}) && _ws.expert.severity == warning"),
        &[],
    );
    eprintln!("tshark warnings: {warn:?}");
    for msg in [
        "h225.setup_element",
        "h225.callProceeding_element",
        "h225.alerting_element",
        "h225.connect_element",
        "h225.releaseComplete_element",
        "h245.terminalCapabilitySet_element",
        "h245.terminalCapabilitySetAck_element",
        "h245.masterSlaveDetermination_element",
        "h245.masterSlaveDeterminationAck_element",
        "h245.openLogicalChannel_element",
        "h245.openLogicalChannelAck_element",
        "h245.endSessionCommand",
    ] {
        let hits = tshark::read(file.path(), &decode_as, &format!("({ours}) && {msg}"), &[]);
        assert_ne!(
            hits, "",
            "tshark finds no {msg} in the {mode} call:\n{summary}"
        );
    }
    let cause = tshark::read(
        file.path(),
        &decode_as,
        &format!("({ours}) && q931.cause_value == 16"),
        &[],
    );
    assert_ne!(cause, "", "ReleaseComplete with cause 16");
}

#[test]
fn tshark_dissects_a_tunneled_call() {
    tshark_checks_call("tunnel");
}

#[test]
fn tshark_dissects_a_call_with_a_separate_h245_channel() {
    tshark_checks_call("separate");
}

// ---------------------------------------------- through causeway: DTMF and pause/resume

/// The causeway node as gatekeeper on free ports (gatekeeper-routed calls).
struct Causeway {
    _node: Node,
    ras: String,
}

/// `anchored`: the node relays the media too (`[media] anchor = "all"`, 20 port pairs).
fn causeway(anchored: bool) -> Causeway {
    let (ras, q931) = (free_port(), free_port());
    let media = if anchored {
        // an even port near a free one (free_port never picks 25000-29999)
        let base = (free_port() & !1).clamp(30_000, 64_000);
        format!(
            "anchor = \"all\"\naddress = \"127.0.0.1\"\nports = \"{base}-{}\"",
            base + 39
        )
    } else {
        "anchor = \"none\"".to_string()
    };
    let toml = format!(
        "[media]\n{media}\n\n[h323]\nenabled = true\nras_listen = \"127.0.0.1:{ras}\"\n\
         q931_listen = \"127.0.0.1:{q931}\"\n"
    );
    let node = Node::start(NodeOptions {
        extra: &toml,
        ..NodeOptions::default()
    });
    node.wait_for("H.323 gatekeeper", T);
    Causeway {
        _node: node,
        ras: format!("127.0.0.1:{ras}"),
    }
}

fn registered(gk: &Causeway, name: &str, aliases: &[&str], more: &[&str]) -> H323Endpoint {
    let mut args = vec!["--gk", gk.ras.as_str()];
    for a in aliases {
        args.extend(["--alias", a]);
    }
    args.extend(more);
    let ep = H323Endpoint::start(name, &args);
    ep.wait_event("registered", T);
    ep
}

/// The first `n` events matching `pred`, waiting for them.
fn wait_n(ep: &H323Endpoint, what: &str, n: usize, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let end = Instant::now() + T;
    loop {
        let found: Vec<Value> = ep.events().into_iter().filter(&pred).collect();
        if found.len() >= n {
            return found.into_iter().take(n).collect();
        }
        assert!(
            Instant::now() < end,
            "{}: {n} `{what}` events expected, {} came: {:#?}",
            ep.name,
            found.len(),
            ep.events()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn dtmf_reaches_the_callee_as_user_input_through_the_gatekeeper() {
    let gk = causeway(false);
    let bob = registered(&gk, "bob", &["h323:bob", "e164:2002"], &[]);
    for (n, mode, h245_mode) in [(1, "signal", "tunnel"), (2, "alpha", "separate")] {
        let mut alice = registered(
            &gk,
            &format!("alice{n}"),
            &[&format!("h323:alice{n}")],
            &[
                "--call",
                "e164:2002",
                "--dtmf",
                "12#",
                "--dtmf-mode",
                mode,
                "--h245",
                h245_mode,
                "--hold-ms",
                "1500",
            ],
        );
        // the callee's capabilities said it takes user input
        let tcs = h245(&alice, "tcs");
        assert_eq!(tcs["user_input"], true, "{tcs}");
        assert_eq!(tcs["empty"], false, "{tcs}");
        let sent = wait_n(&alice, "dtmf-sent", 3, |v| v["event"] == "dtmf-sent");
        assert!(sent.iter().all(|v| v["kind"] == mode), "{sent:?}");
        let got = wait_n(&bob, &format!("uii {mode}"), 3, |v| {
            v["event"] == "uii" && v["kind"] == mode
        });
        let digits: Vec<&str> = got.iter().filter_map(|v| v["digit"].as_str()).collect();
        assert_eq!(digits, ["1", "2", "#"], "{got:?}");
        let duration = if mode == "signal" {
            json!(100)
        } else {
            Value::Null
        };
        assert!(got.iter().all(|v| v["duration"] == duration), "{got:?}");
        if n == 1 {
            telephone_event_to(&bob);
        }
        assert_eq!(alice.wait_event("released", T)["cause"], 16);
        alice.finish(T);
    }
}

/// RFC 4733 packets for `5` (two updates, the end packet three times) and one of audio, sent
/// to the callee's RTP socket: one `rtp-event`.
fn telephone_event_to(bob: &H323Endpoint) {
    let rtp = addr(&h245(bob, "olc")["local_rtp"]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let packet = |pt: u8, seq: u8, end: bool, duration: u16| {
        let mut p = vec![0x80, pt, 0, seq, 0, 0, 0x10, 0, 0, 0, 0, 7];
        let d = duration.to_be_bytes();
        p.extend_from_slice(&[5, if end { 0x8a } else { 0x0a }, d[0], d[1]]);
        p
    };
    let mut packets = vec![
        packet(0x80 | 101, 1, false, 160),
        packet(101, 2, false, 320),
    ];
    packets.extend((3..6).map(|seq| packet(101, seq, true, 800)));
    packets.push(packet(0, 6, false, 0)); // PCMU: not an event
    for p in packets {
        sock.send_to(&p, rtp).unwrap();
    }
    let ev = bob.wait_event("rtp-event", T);
    assert_eq!(ev["digit"], "5", "{ev}");
    assert_eq!(ev["duration_ms"], 100, "{ev}");
    assert_eq!(ev["pt"], 101, "{ev}");
    std::thread::sleep(Duration::from_millis(200));
    let n = bob
        .events()
        .iter()
        .filter(|v| v["event"] == "rtp-event")
        .count();
    assert_eq!(n, 1, "the end packet repeated is one event");
}

/// The callee pauses the caller 1 s after the media is up and resumes it 1.5 s later; `more`
/// goes to both, `anchored` relays the media through the node. `first_lcn`: the channel the caller transmits on first.
fn pause_and_resume(anchored: bool, more: &[&str], first_lcn: u64) {
    let gk = causeway(anchored);
    let mut bob_args = vec!["--rtp", "--pause-at-ms", "1000", "--resume-at-ms", "2500"];
    bob_args.extend(more);
    let bob = registered(&gk, "bob", &["e164:2002"], &bob_args);
    let mut alice_args = vec!["--call", "e164:2002", "--rtp", "--hold-ms", "4500"];
    alice_args.extend(more);
    let mut alice = registered(&gk, "alice", &["e164:2001"], &alice_args);
    let paused = alice.wait_event("paused", T);
    let resumed = alice.wait_event("resumed", T);
    let order: Vec<Value> = alice
        .events()
        .into_iter()
        .filter(|v| v["event"] == "paused" || v["event"] == "resumed")
        .collect();
    assert_eq!(order.len(), 2, "one pause, one resume: {order:?}");
    assert_eq!(order[0]["event"], "paused");
    let (s1, s2) = (
        count(&paused, "sent_so_far"),
        count(&resumed, "sent_so_far"),
    );
    assert!(
        s1 >= 30,
        "about 50 packets a second before the pause: {paused}"
    );
    assert!(
        s2 - s1 <= 2,
        "the caller sent while paused: {paused} {resumed}"
    );
    // the callee: its empty set closed the caller's channel, its full set got a new one
    let ps = bob.wait_event("pause-sent", T);
    let rs = bob.wait_event("resume-sent", T);
    let (r1, r2) = (count(&ps, "received_so_far"), count(&rs, "received_so_far"));
    assert!(r1 >= 30, "{ps}");
    assert!(
        r2 - r1 <= 10,
        "1.5 s of pause would be 75 packets: {ps} {rs}"
    );
    assert_eq!(bob.wait_event("channel-closed", T)["lcn"], first_lcn);
    // the new channel: a new number (the first one came by H.245 or by fastStart)
    let olc = bob.wait("olc after the pause", T, |v| {
        v["event"] == "h245" && v["what"] == "olc" && v["lcn"] != first_lcn
    });
    assert_eq!(olc["lcn"], first_lcn + 1);
    // and the media came back
    assert_eq!(alice.wait_event("released", T)["cause"], 16);
    let rtp = alice.wait_event("rtp", T);
    assert!(
        count(&rtp, "sent") >= s2 + 50,
        "sending resumed: {resumed} {rtp}"
    );
    alice.finish(T);
    let rtp = bob.wait_event("rtp", T);
    assert!(
        count(&rtp, "received") >= r2 + 50,
        "receiving resumed: {rs} {rtp}"
    );
}

#[test]
fn the_callee_pauses_and_resumes_the_callers_media_through_the_gatekeeper() {
    pause_and_resume(false, &[], 1);
}

#[test]
fn pause_and_resume_with_the_media_anchored_by_the_node() {
    pause_and_resume(true, &[], 1);
}

#[test]
fn a_fast_start_call_is_paused_and_resumed_with_h245_channels() {
    pause_and_resume(false, &["--fast-start", "--h245", "separate"], 1);
}
