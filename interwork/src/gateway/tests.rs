//! The gateway's call flows with a fake clock: SIP and H.225 messages in, what it sends out.
//! The far sides are played with the mapping functions of this crate (an accepted fastStart
//! is made with `fast_start::accept`, as an H.323 callee would).

use super::*;
use crate::fast_start;
use crate::media::{Codec, Direction, Format, Kind, Stream};
use crate::tap::Side;
use causeway_h323::endpoint::{self as ep, CallIds};
use causeway_h323::q931::{CallReference, CauseValue, MessageType, Q931};
use rand::rngs::StdRng;
use rand::SeedableRng;

const PROXY: &str = "127.0.0.1:5060";
const GK: &str = "127.0.0.1:1720";

fn gw() -> Gateway {
    let cfg = Config {
        sip_local: "127.0.0.1:40000".parse().unwrap(),
        proxy: PROXY.parse().unwrap(),
        gatekeeper: GK.parse().unwrap(),
        h225_local: "127.0.0.1:40001".parse().unwrap(),
        domain: "example.com".into(),
        max_calls: 10,
        answer_timeout: Duration::from_secs(60),
        timers: TimerConfig::default(),
    };
    Gateway::new(cfg, Box::new(StdRng::seed_from_u64(7)), Box::new(FakeTaps))
}

/// Taps at fixed addresses: the SIP side at 127.0.0.9:6000, the H.323 side at :7000.
struct FakeTaps;

const TAP_SIP: (u16, u16) = (6000, 6001);
const TAP_H323: (u16, u16) = (7000, 7001);

fn tap_addr(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 9], p))
}

impl TapPorts for FakeTaps {
    fn open(&mut self, _call: u64) -> Result<TapAddrs, String> {
        Ok(TapAddrs {
            sip: (tap_addr(TAP_SIP.0), tap_addr(TAP_SIP.1)),
            h323: (tap_addr(TAP_H323.0), tap_addr(TAP_H323.1)),
        })
    }
}

/// A Facility from the H.323 side of call reference `cr` tunneling `h245`.
fn facility_with_h245(cr: u16, h245: Vec<Vec<u8>>) -> Vec<u8> {
    let ids = CallIds {
        crv: cr,
        call_id: [1; 16],
        conf_id: [2; 16],
    };
    let fac = ep::encode_uu(ep::facility_uuie(&ids), true, h245).unwrap();
    let mut q = Q931::new(MessageType::Facility, CallReference::new(cr, true).unwrap());
    q.set_user_user(&fac).unwrap();
    q.encode()
}

/// The connection the gateway opened towards the gatekeeper.
fn connect_of(out: &[Output]) -> ConnId {
    out.iter()
        .find_map(|o| match o {
            Output::Connect { conn, .. } => Some(*conn),
            _ => None,
        })
        .expect("a connection to the gatekeeper")
}

fn tap_cmds(out: &[Output]) -> Vec<TapCmd> {
    out.iter()
        .filter_map(|o| match o {
            Output::Tap { cmd, .. } => Some(cmd.clone()),
            _ => None,
        })
        .collect()
}

const SDP: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

fn invite(call_id: &str, ruri: &str) -> Bytes {
    Bytes::from(format!(
        "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKp1\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1\r\nMax-Forwards: 69\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: <sip:2002@example.com>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.10:5060>\r\n\
Record-Route: <sip:127.0.0.1:5060;lr>\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    ))
}

fn sip_out(out: &[Output]) -> Vec<Message> {
    out.iter()
        .filter_map(|o| match o {
            Output::Sip { data, .. } => Message::parse(data.clone()).ok(),
            _ => None,
        })
        .collect()
}

fn h225_out(out: &[Output]) -> Vec<(ConnId, h225::Incoming)> {
    out.iter()
        .filter_map(|o| match o {
            Output::H225 { conn, data } => h225::read(data).ok().map(|m| (*conn, m)),
            _ => None,
        })
        .collect()
}

/// A message of the H.323 far end on `cr` (the gateway's call reference, flag flipped).
fn from_h323(
    mt: MessageType,
    cr: u16,
    originated_by_gw: bool,
    body: h225::Body,
    cause: Option<u8>,
) -> Vec<u8> {
    let uu = ep::encode_uu(body, true, Vec::new()).unwrap();
    let mut q = Q931::new(mt, CallReference::new(cr, originated_by_gw).unwrap());
    q.set_user_user(&uu).unwrap();
    if let Some(c) = cause {
        q.set_cause(CauseValue(c)).unwrap();
    }
    q.encode()
}

fn answer_media(port: u16) -> Media {
    Media {
        streams: vec![Stream {
            kind: Kind::Audio,
            rtp: SocketAddr::from(([198, 51, 100, 7], port)),
            rtcp: SocketAddr::from(([198, 51, 100, 7], port + 1)),
            formats: vec![Format {
                pt: 8,
                codec: Codec::Pcma,
                fmtp: None,
            }],
            direction: Direction::SendRecv,
        }],
    }
}

/// A call from SIP up to the Setup on the gateway's connection.
fn sip_call(g: &mut Gateway, now: Instant) -> (ConnId, h225::Incoming) {
    let mut out = Vec::new();
    let from = PROXY.parse().unwrap();
    g.handle(
        Input::Sip {
            from,
            data: invite("c1@x", "sip:2002@127.0.0.1:40000"),
        },
        now,
        &mut out,
    );
    let sip = sip_out(&out);
    assert_eq!(sip[0].status(), Some(100));
    let conn = out
        .iter()
        .find_map(|o| match o {
            Output::Connect { conn, to } if *to == GK.parse().unwrap() => Some(*conn),
            _ => None,
        })
        .expect("a connection to the gatekeeper");
    out.clear();
    g.handle(Input::Connected { conn }, now, &mut out);
    let mut h = h225_out(&out);
    assert_eq!(h.len(), 1);
    h.remove(0)
}

#[test]
fn sip_invite_becomes_a_setup_with_fast_start_and_the_answer_a_200() {
    let mut g = gw();
    let now = Instant::now();
    let (conn, setup) = sip_call(&mut g, now);
    assert_eq!(setup.mt, MessageType::Setup);
    assert_eq!(h225::destination_text(&setup).as_deref(), Some("2002"));
    assert_eq!(setup.display.as_deref(), Some("Alice"));
    assert!(
        setup.fast_start.len() >= 4,
        "G.711 u/A each way: {}",
        setup.fast_start.len()
    );
    // the H.323 side is offered the tap's H.323-facing pair
    let proposed = fast_start::offer_from_proposals(&setup.fast_start).unwrap();
    assert_eq!(proposed.streams[0].rtp, tap_addr(TAP_H323.0));
    // the callee accepts A-law in Connect
    let accepted = fast_start::accept(&setup.fast_start, &answer_media(40100)).unwrap();
    let ids = CallIds {
        crv: setup.cr,
        call_id: [1; 16],
        conf_id: [2; 16],
    };
    let mut body = ep::connect_uuie(&ids, None).unwrap();
    if let h225::Body::connect(c) = &mut body {
        c.fast_start = Some(accepted.into_iter().map(Into::into).collect());
    }
    let mut out = Vec::new();
    g.handle(
        Input::H225 {
            conn,
            data: from_h323(MessageType::Connect, setup.cr, true, body, None),
        },
        now,
        &mut out,
    );
    let sip = sip_out(&out);
    assert_eq!(sip.len(), 1, "{out:?}");
    assert_eq!(sip[0].status(), Some(200));
    // RFC 3261 12.1.1: the proxy's Record-Route comes back, so ACK and BYE go through it
    assert_eq!(
        sip[0].header("Record-Route"),
        Some("<sip:127.0.0.1:5060;lr>")
    );
    // the SIP side is answered with the tap's SIP-facing pair, telephone-event kept (the
    // tap takes the events), and the tap is told where the H.323 side receives
    let answer = crate::sdp_map::from_sdp(sip[0].body()).unwrap();
    assert_eq!(answer.streams[0].rtp, tap_addr(TAP_SIP.0));
    assert_eq!(answer.streams[0].formats[0].codec, Codec::Pcma);
    assert!(answer.streams[0]
        .formats
        .iter()
        .any(|f| f.codec == Codec::TelephoneEvent && f.pt == 101));
    let h323_at = SocketAddr::from(([198, 51, 100, 7], 40100));
    assert!(
        tap_cmds(&out)
            .iter()
            .any(|c| matches!(c, TapCmd::Peer { side: Side::H323, rtp, .. } if *rtp == h323_at)),
        "{out:?}"
    );
    // the 2xx is sent again until the ACK
    out.clear();
    g.handle_timeout(now + Duration::from_millis(600), &mut out);
    assert_eq!(sip_out(&out).first().and_then(|m| m.status()), Some(200));
    // a digit the SIP side sent (seen by the tap) goes as a UserInputIndication signal
    out.clear();
    g.handle(
        Input::Digit {
            call: 1,
            digit: '7',
            duration_ms: 160,
        },
        now,
        &mut out,
    );
    let uii = h225_out(&out);
    assert_eq!(uii.len(), 1, "{out:?}");
    let m = ep::decode_h245(&uii[0].1.h245[0]).unwrap();
    let ep::H245Msg::indication(
        causeway_h323_asn1::multimedia_system_control::IndicationMessage::userInput(u),
    ) = m
    else {
        panic!("not a UII: {m:?}");
    };
    assert_eq!(crate::dtmf::digit_of_uii(&u), Some(('7', Some(160))));
    // a UII from H.323 goes into the SIP side's stream through the tap
    let uii = ep::encode_h245(&crate::dtmf::uii_alpha('#')).unwrap();
    let facility = facility_with_h245(setup.cr, vec![uii]);
    out.clear();
    g.handle(
        Input::H225 {
            conn,
            data: facility,
        },
        now,
        &mut out,
    );
    assert_eq!(
        tap_cmds(&out),
        vec![TapCmd::Digit {
            digit: '#',
            duration_ms: 100
        }]
    );
    // BYE from SIP: 200 and ReleaseComplete with cause 16
    let bye = Bytes::from(
        "BYE sip:gw@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKb\r\n\
From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:2002@example.com>;tag=x\r\nCall-ID: c1@x\r\n\
CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    );
    out.clear();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: bye,
        },
        now,
        &mut out,
    );
    assert_eq!(sip_out(&out)[0].status(), Some(200));
    // H.323 8.5: endSessionCommand (tunneled in a Facility), then ReleaseComplete
    let rc = h225_out(&out);
    assert_eq!(rc[0].1.mt, MessageType::Facility);
    assert!(control::is_end_session(&rc[0].1.h245[0]));
    assert_eq!(rc[1].1.mt, MessageType::ReleaseComplete);
    assert_eq!(rc[1].1.cause, Some(16));
    assert!(out.contains(&Output::Close { conn }));
    assert_eq!(g.active(), 0);
}

#[test]
fn release_complete_before_answer_maps_to_the_rfc_3398_status() {
    for (cause, status) in [(17u8, 486u16), (1, 404), (18, 408)] {
        let mut g = gw();
        let now = Instant::now();
        let (conn, setup) = sip_call(&mut g, now);
        let ids = CallIds {
            crv: setup.cr,
            call_id: [1; 16],
            conf_id: [2; 16],
        };
        let rc = from_h323(
            MessageType::ReleaseComplete,
            setup.cr,
            true,
            ep::release_complete_uuie(&ids, None),
            Some(cause),
        );
        let mut out = Vec::new();
        g.handle(Input::H225 { conn, data: rc }, now, &mut out);
        assert_eq!(sip_out(&out)[0].status(), Some(status), "cause {cause}");
        assert_eq!(g.active(), 0);
        assert_eq!(g.counters.failed, 1);
    }
}

#[test]
fn cancel_before_answer_is_487_and_release_complete() {
    let mut g = gw();
    let now = Instant::now();
    let (conn, _setup) = sip_call(&mut g, now);
    let cancel = Bytes::from(
        "CANCEL sip:2002@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKp1\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: <sip:2002@example.com>\r\nCall-ID: c1@x\r\n\
CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
    );
    let mut out = Vec::new();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: cancel,
        },
        now,
        &mut out,
    );
    let st: Vec<_> = sip_out(&out).iter().filter_map(|m| m.status()).collect();
    assert_eq!(st, vec![200, 487]);
    assert_eq!(h225_out(&out)[0].1.mt, MessageType::ReleaseComplete);
    assert!(out.contains(&Output::Close { conn }));
}

#[test]
fn an_offer_without_an_h323_codec_is_488_and_nothing_is_held() {
    let mut g = gw();
    let sdp = "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n";
    let inv = String::from_utf8(invite("c9@x", "sip:2002@127.0.0.1:40000").to_vec()).unwrap();
    let head = inv.split("Content-Length").next().unwrap();
    let msg = format!("{head}Content-Length: {}\r\n\r\n{sdp}", sdp.len());
    let mut out = Vec::new();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: Bytes::from(msg),
        },
        Instant::now(),
        &mut out,
    );
    assert_eq!(sip_out(&out)[0].status(), Some(488));
    assert!(!out.iter().any(|o| matches!(o, Output::Connect { .. })));
    assert_eq!(g.active(), 0);
    assert_eq!(g.poll_timeout(), None);
}

/// An H.323 caller's Setup with fastStart proposals of `offer`.
fn h323_setup(g: &mut Gateway, now: Instant, dest: &str) -> (ConnId, Message, Vec<Output>) {
    let conn = ConnId(ConnId::ACCEPTED | 1);
    let mut out = Vec::new();
    g.handle(
        Input::Accepted {
            conn,
            peer: GK.parse().unwrap(),
        },
        now,
        &mut out,
    );
    let offer = answer_media(50000);
    let ids = CallIds {
        crv: 77,
        call_id: [3; 16],
        conf_id: [4; 16],
    };
    let src = vec![h225::alias_of("3001")];
    let mut body = ep::setup_uuie(
        &ids,
        src,
        Some(vec![h225::alias_of(dest)]),
        None,
        None,
        "127.0.0.1:1720".parse().unwrap(),
    )
    .unwrap();
    if let h225::Body::setup(s) = &mut body {
        s.fast_start = Some(
            fast_start::proposals(&offer, 1)
                .unwrap()
                .into_iter()
                .map(Into::into)
                .collect(),
        );
    }
    g.handle(
        Input::H225 {
            conn,
            data: from_h323(MessageType::Setup, 77, false, body, None),
        },
        now,
        &mut out,
    );
    let inv = sip_out(&out).into_iter().next().expect("an INVITE");
    (conn, inv, out)
}

fn response_to(inv: &Message, status: u16, sdp: Option<&str>) -> Bytes {
    let mut b = inv.response(status, "X");
    b.to_tag("u1");
    b.header("Contact", "<sip:bob@192.0.2.20>");
    if let Some(s) = sdp {
        b.body("application/sdp", s.as_bytes());
    }
    b.finish()
}

#[test]
fn h323_setup_becomes_an_invite_and_the_200_a_connect_with_fast_start() {
    let mut g = gw();
    let now = Instant::now();
    let (conn, inv, out) = h323_setup(&mut g, now, "sip:bob@example.com");
    assert_eq!(h225_out(&out)[0].1.mt, MessageType::CallProceeding);
    assert_eq!(inv.request_uri_str(), Some("sip:bob@example.com"));
    assert!(inv.header("From").unwrap().contains("sip:3001@"));
    let offer = crate::sdp_map::from_sdp(inv.body()).unwrap();
    assert_eq!(offer.streams[0].rtp, tap_addr(TAP_SIP.0));
    assert!(offer.streams[0]
        .formats
        .iter()
        .any(|f| f.codec == Codec::TelephoneEvent));
    let mut out = Vec::new();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 180, None),
        },
        now,
        &mut out,
    );
    assert_eq!(h225_out(&out)[0].1.mt, MessageType::Alerting);
    out.clear();
    let ans = "v=0\r\no=b 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\n";
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 200, Some(ans)),
        },
        now,
        &mut out,
    );
    let acks = sip_out(&out);
    assert_eq!(acks[0].method(), Some(&Method::Ack));
    let connect = h225_out(&out);
    assert_eq!(connect[0].0, conn);
    assert_eq!(connect[0].1.mt, MessageType::Connect);
    assert!(!connect[0].1.fast_start.is_empty());
    // ReleaseComplete from H.323 after the answer: BYE
    out.clear();
    let ids = CallIds {
        crv: 77,
        call_id: [3; 16],
        conf_id: [4; 16],
    };
    let rc = from_h323(
        MessageType::ReleaseComplete,
        77,
        false,
        ep::release_complete_uuie(&ids, None),
        Some(16),
    );
    g.handle(Input::H225 { conn, data: rc }, now, &mut out);
    assert_eq!(sip_out(&out)[0].method(), Some(&Method::Bye));
}

#[test]
fn a_486_from_sip_is_release_complete_with_cause_17() {
    let mut g = gw();
    let now = Instant::now();
    let (conn, inv, _) = h323_setup(&mut g, now, "sip:bob@example.com");
    let mut out = Vec::new();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 486, None),
        },
        now,
        &mut out,
    );
    assert_eq!(sip_out(&out)[0].method(), Some(&Method::Ack));
    let rc = h225_out(&out);
    assert_eq!(
        (rc[0].0, rc[0].1.mt, rc[0].1.cause),
        (conn, MessageType::ReleaseComplete, Some(17))
    );
}

#[test]
fn a_connection_without_setup_is_closed_at_its_deadline() {
    let mut g = gw();
    let now = Instant::now();
    let conn = ConnId(ConnId::ACCEPTED | 5);
    let mut out = Vec::new();
    g.handle(
        Input::Accepted {
            conn,
            peer: GK.parse().unwrap(),
        },
        now,
        &mut out,
    );
    let t = g.poll_timeout().unwrap();
    g.handle_timeout(t, &mut out);
    assert_eq!(out, vec![Output::Close { conn }]);
    assert_eq!(g.poll_timeout(), None);
}

#[test]
fn a_delayed_offer_gets_the_h323_side_s_media_as_the_offer_in_the_200() {
    let mut g = gw();
    let now = Instant::now();
    let inv = String::from_utf8(invite("c7@x", "sip:2002@127.0.0.1:40000").to_vec()).unwrap();
    let head = inv.split("Content-Type").next().unwrap();
    let msg = format!("{head}Content-Length: 0\r\n\r\n");
    let mut out = Vec::new();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: Bytes::from(msg),
        },
        now,
        &mut out,
    );
    assert_eq!(sip_out(&out)[0].status(), Some(100), "{out:?}");
    let conn = connect_of(&out);
    out.clear();
    g.handle(Input::Connected { conn }, now, &mut out);
    let setup = h225_out(&out).remove(0).1;
    let proposed = fast_start::offer_from_proposals(&setup.fast_start).unwrap();
    let codecs: Vec<Codec> = proposed.streams[0]
        .formats
        .iter()
        .map(|f| f.codec)
        .collect();
    assert!(
        codecs.starts_with(&[Codec::Pcmu, Codec::Pcma]),
        "{codecs:?}"
    );
    assert_eq!(proposed.streams[0].rtp, tap_addr(TAP_H323.0));
}

#[test]
fn a_delayed_offer_is_answered_in_the_ack() {
    let mut g = gw();
    let now = Instant::now();
    let inv = String::from_utf8(invite("c8@x", "sip:2002@127.0.0.1:40000").to_vec()).unwrap();
    let head = inv.split("Content-Type").next().unwrap();
    let mut out = Vec::new();
    let data = Bytes::from(format!("{head}Content-Length: 0\r\n\r\n"));
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data,
        },
        now,
        &mut out,
    );
    let conn = connect_of(&out);
    out.clear();
    g.handle(Input::Connected { conn }, now, &mut out);
    let setup = h225_out(&out).remove(0).1;
    // the callee takes mu-law
    let mut pcmu = answer_media(40200);
    pcmu.streams[0].formats = vec![Format {
        pt: 0,
        codec: Codec::Pcmu,
        fmtp: None,
    }];
    let accepted = fast_start::accept(&setup.fast_start, &pcmu).unwrap();
    let ids = CallIds {
        crv: setup.cr,
        call_id: [1; 16],
        conf_id: [2; 16],
    };
    let mut body = ep::connect_uuie(&ids, None).unwrap();
    if let h225::Body::connect(c) = &mut body {
        c.fast_start = Some(accepted.into_iter().map(Into::into).collect());
    }
    out.clear();
    let data = from_h323(MessageType::Connect, setup.cr, true, body, None);
    g.handle(Input::H225 { conn, data }, now, &mut out);
    let ok = sip_out(&out).remove(0);
    assert_eq!(ok.status(), Some(200));
    let offer = crate::sdp_map::from_sdp(ok.body()).unwrap();
    assert_eq!(offer.streams[0].rtp, tap_addr(TAP_SIP.0));
    assert_eq!(offer.streams[0].formats[0].codec, Codec::Pcmu);
    // the ACK's answer tells the tap where the SIP side receives
    let sdp = "v=0\r\no=a 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 31000 RTP/AVP 0\r\n";
    let ack = format!(
        "ACK sip:gw@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKack\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: <sip:2002@example.com>;tag=x\r\nCall-ID: c8@x\r\n\
CSeq: 1 ACK\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    out.clear();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: Bytes::from(ack),
        },
        now,
        &mut out,
    );
    let sip_at = SocketAddr::from(([192, 0, 2, 10], 31000));
    assert!(
        tap_cmds(&out)
            .iter()
            .any(|c| matches!(c, TapCmd::Peer { side: Side::Sip, rtp, .. } if *rtp == sip_at)),
        "{out:?}"
    );
    // no more 2xx retransmissions
    out.clear();
    g.handle_timeout(now + Duration::from_secs(1), &mut out);
    assert!(sip_out(&out).is_empty(), "{out:?}");
}

/// A call from SIP answered by the H.323 side with fastStart (A-law at 198.51.100.7:40100).
fn answered_call(g: &mut Gateway, now: Instant) -> (ConnId, u16) {
    let (conn, setup) = sip_call(g, now);
    let accepted = fast_start::accept(&setup.fast_start, &answer_media(40100)).unwrap();
    let ids = CallIds {
        crv: setup.cr,
        call_id: [1; 16],
        conf_id: [2; 16],
    };
    let mut body = ep::connect_uuie(&ids, None).unwrap();
    if let h225::Body::connect(c) = &mut body {
        c.fast_start = Some(accepted.into_iter().map(Into::into).collect());
    }
    let mut out = Vec::new();
    let data = from_h323(MessageType::Connect, setup.cr, true, body, None);
    g.handle(Input::H225 { conn, data }, now, &mut out);
    assert_eq!(sip_out(&out)[0].status(), Some(200));
    (conn, setup.cr)
}

fn reinvite(direction: &str, cseq: u32) -> Bytes {
    let sdp = format!(
        "v=0\r\no=alice 1 {cseq} IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    );
    Bytes::from(format!(
        "INVITE sip:gw@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKre{cseq}\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: <sip:2002@example.com>;tag=x\r\nCall-ID: c1@x\r\n\
CSeq: {cseq} INVITE\r\nContact: <sip:alice@192.0.2.10>\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    ))
}

/// The H.245 messages tunneled in `out`'s H.225 messages.
fn h245_out(out: &[Output]) -> Vec<ep::H245Msg> {
    h225_out(out)
        .into_iter()
        .flat_map(|(_, m)| m.h245)
        .filter_map(|b| ep::decode_h245(&b).ok())
        .collect()
}

fn tcs_entries(m: &ep::H245Msg) -> Option<usize> {
    use causeway_h323_asn1::multimedia_system_control as h245;
    match m {
        ep::H245Msg::request(h245::RequestMessage::terminalCapabilitySet(t)) => {
            Some(t.capability_table.as_ref().map_or(0, |c| c.len()))
        }
        _ => None,
    }
}

#[test]
fn a_sip_hold_pauses_the_h323_side_and_a_resume_brings_it_back() {
    let mut g = gw();
    let now = Instant::now();
    let (_conn, _cr) = answered_call(&mut g, now);
    let mut out = Vec::new();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: reinvite("sendonly", 2),
        },
        now,
        &mut out,
    );
    let ok = sip_out(&out).remove(0);
    assert_eq!(ok.status(), Some(200));
    let answer = crate::sdp_map::from_sdp(ok.body()).unwrap();
    assert_eq!(answer.streams[0].direction, Direction::RecvOnly);
    let tcs: Vec<usize> = h245_out(&out).iter().filter_map(tcs_entries).collect();
    assert_eq!(tcs, vec![0], "an empty TCS pauses the H.323 side: {out:?}");
    out.clear();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: reinvite("sendrecv", 3),
        },
        now,
        &mut out,
    );
    let answer = crate::sdp_map::from_sdp(sip_out(&out)[0].body()).unwrap();
    assert_eq!(answer.streams[0].direction, Direction::SendRecv);
    let tcs: Vec<usize> = h245_out(&out).iter().filter_map(tcs_entries).collect();
    assert!(
        tcs.len() == 1 && tcs[0] > 0,
        "the full TCS resumes it: {tcs:?}"
    );
}

#[test]
fn an_h323_pause_reinvites_the_sip_side_sendonly_and_mutes_the_tap() {
    use causeway_h323_asn1::multimedia_system_control as h245;
    let mut g = gw();
    let now = Instant::now();
    let (conn, cr) = answered_call(&mut g, now);
    let empty = ep::H245Msg::request(h245::RequestMessage::terminalCapabilitySet(
        h245::TerminalCapabilitySet::new(
            h245::SequenceNumber(5),
            causeway_h323::asn::h245_protocol_identifier(),
            None,
            None,
            None,
            None,
        ),
    ));
    let facility = facility_with_h245(cr, vec![ep::encode_h245(&empty).unwrap()]);
    let mut out = Vec::new();
    g.handle(
        Input::H225 {
            conn,
            data: facility,
        },
        now,
        &mut out,
    );
    let re = sip_out(&out)
        .into_iter()
        .find(|m| m.method() == Some(&Method::Invite))
        .expect("a re-INVITE");
    let offer = crate::sdp_map::from_sdp(re.body()).unwrap();
    assert_eq!(offer.streams[0].direction, Direction::SendOnly);
    assert!(tap_cmds(&out).contains(&TapCmd::Mute {
        towards: Side::H323,
        on: true
    }));
    // the 2xx is acknowledged
    out.clear();
    let mut ok = re.response(200, "OK");
    ok.header("Contact", "<sip:alice@192.0.2.10>");
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: ok.finish(),
        },
        now,
        &mut out,
    );
    assert_eq!(sip_out(&out)[0].method(), Some(&Method::Ack), "{out:?}");
}

#[test]
fn release_complete_from_the_h323_caller_before_answer_cancels_the_invite() {
    let mut g = gw();
    let now = Instant::now();
    let (conn, inv, _) = h323_setup(&mut g, now, "sip:bob@example.com");
    let mut out = Vec::new();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 180, None),
        },
        now,
        &mut out,
    );
    out.clear();
    let ids = CallIds {
        crv: 77,
        call_id: [3; 16],
        conf_id: [4; 16],
    };
    let rc = from_h323(
        MessageType::ReleaseComplete,
        77,
        false,
        ep::release_complete_uuie(&ids, None),
        Some(16),
    );
    g.handle(Input::H225 { conn, data: rc }, now, &mut out);
    let cancel = sip_out(&out)
        .into_iter()
        .find(|m| m.method() == Some(&Method::Cancel))
        .expect("a CANCEL");
    assert_eq!(cancel.call_id(), inv.call_id());
    assert_eq!(cancel.vias()[0].branch(), inv.vias()[0].branch());
    assert!(tap_cmds(&out).contains(&TapCmd::Close));
    // the 487 that follows is acknowledged, nothing else happens
    out.clear();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 487, None),
        },
        now,
        &mut out,
    );
    let sent = sip_out(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&Method::Ack));
    assert!(h225_out(&out).is_empty());
}

#[test]
fn an_undecodable_h245_message_clears_that_call_only() {
    let mut g = gw();
    let now = Instant::now();
    let (conn, cr) = answered_call(&mut g, now);
    let facility = facility_with_h245(cr, vec![vec![0xff, 0x00, 0x13]]);
    let mut out = Vec::new();
    g.handle(
        Input::H225 {
            conn,
            data: facility,
        },
        now,
        &mut out,
    );
    assert_eq!(g.counters.malformed, 1);
    assert!(
        sip_out(&out)
            .iter()
            .any(|m| m.method() == Some(&Method::Bye)),
        "{out:?}"
    );
    assert!(h225_out(&out)
        .iter()
        .any(|(_, m)| m.mt == MessageType::ReleaseComplete));
    assert_eq!(g.active(), 0);
}

#[test]
fn a_2xx_after_the_h323_caller_gave_up_is_acked_and_byed() {
    let mut g = gw();
    let now = Instant::now();
    let (conn, inv, _) = h323_setup(&mut g, now, "sip:bob@example.com");
    // no provisional yet: nothing to CANCEL (RFC 3261 9.1), the call ends on our side
    let ids = CallIds {
        crv: 77,
        call_id: [3; 16],
        conf_id: [4; 16],
    };
    let rc = from_h323(
        MessageType::ReleaseComplete,
        77,
        false,
        ep::release_complete_uuie(&ids, None),
        Some(16),
    );
    let mut out = Vec::new();
    g.handle(Input::H225 { conn, data: rc }, now, &mut out);
    assert!(sip_out(&out).is_empty(), "{out:?}");
    // its first provisional gets the CANCEL
    out.clear();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 180, None),
        },
        now,
        &mut out,
    );
    let methods: Vec<_> = sip_out(&out)
        .iter()
        .filter_map(|m| m.method().cloned())
        .collect();
    assert_eq!(methods, vec![Method::Cancel]);
    out.clear();
    let ans = "v=0\r\no=b 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\n";
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 200, Some(ans)),
        },
        now,
        &mut out,
    );
    let methods: Vec<_> = sip_out(&out)
        .iter()
        .filter_map(|m| m.method().cloned())
        .collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert!(h225_out(&out).is_empty());
}

#[test]
fn early_media_in_a_183_answers_fast_start_in_progress() {
    let mut g = gw();
    let now = Instant::now();
    let (_conn, inv, _) = h323_setup(&mut g, now, "sip:bob@example.com");
    let ans = "v=0\r\no=b 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8\r\n";
    let mut out = Vec::new();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 183, Some(ans)),
        },
        now,
        &mut out,
    );
    let progress = h225_out(&out).remove(0).1;
    assert_eq!(progress.mt, MessageType::Progress);
    assert!(
        !progress.fast_start.is_empty(),
        "the fastStart answer goes with the early media"
    );
    let sip_at = SocketAddr::from(([192, 0, 2, 20], 6000));
    assert!(tap_cmds(&out)
        .iter()
        .any(|c| matches!(c, TapCmd::Peer { side: Side::Sip, rtp, .. } if *rtp == sip_at)));
    out.clear();
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: response_to(&inv, 200, Some(ans)),
        },
        now,
        &mut out,
    );
    let connect = h225_out(&out).remove(0).1;
    assert_eq!(connect.mt, MessageType::Connect);
    assert!(connect.fast_start.is_empty(), "answered once only");
}

#[test]
fn ended_calls_are_dropped_after_their_linger_through_the_timer_heap() {
    let mut g = gw();
    let now = Instant::now();
    let (_conn, _cr) = answered_call(&mut g, now);
    let mut out = Vec::new();
    // the 200 is ACKed, then BYE: the call ends and lingers 64*T1
    let ack = Bytes::from(
        "ACK sip:gw@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa\r\n\
From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:2002@example.com>;tag=x\r\nCall-ID: c1@x\r\n\
CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
    );
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: ack,
        },
        now,
        &mut out,
    );
    let bye = Bytes::from(
        "BYE sip:gw@127.0.0.1:40000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKb\r\n\
From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:2002@example.com>;tag=x\r\nCall-ID: c1@x\r\n\
CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    );
    g.handle(
        Input::Sip {
            from: PROXY.parse().unwrap(),
            data: bye,
        },
        now,
        &mut out,
    );
    assert_eq!((g.active(), g.calls.len()), (0, 1));
    // the heap wakes the gateway until the linger is over, then nothing is left
    let mut t = now;
    for _ in 0..100 {
        let Some(next) = g.poll_timeout() else { break };
        assert!(next >= t, "time only moves on");
        t = next;
        g.handle_timeout(t, &mut out);
    }
    assert_eq!(g.calls.len(), 0);
    assert!(
        t >= now + Duration::from_secs(32),
        "kept for the linger: {:?}",
        t - now
    );
    assert_eq!(g.poll_timeout(), None);
}
