//! SDP parse and rewrite, checked against the RFC sections they follow and against generated
//! bodies full of lines the rewriter must not touch.

use super::*;
use proptest::prelude::*;

fn crlf(lines: &[&str]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| [l, "\r\n"])
        .collect::<String>()
        .into_bytes()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().expect("test address"))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().expect("test address"))
}

fn to(addr: IpAddr, port: u16, rtcp_port: Option<u16>) -> Option<MediaRewrite> {
    Some(MediaRewrite {
        addr,
        port,
        rtcp_port,
    })
}

const RELAY: &str = "203.0.113.5";

/// Shaped like baresip's offer with rtcp-mux and its ICE module (full candidates, trickle).
fn baresip_offer() -> Vec<u8> {
    crlf(&[
        "v=0",
        "o=- 1846377433 1441217208 IN IP4 192.168.1.20",
        "s=-",
        "c=IN IP4 192.168.1.20",
        "t=0 0",
        "a=tool:baresip 3.10.1",
        "a=ice-options:trickle",
        "m=audio 10688 RTP/AVP 0 8 101",
        "b=AS:64",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=rtcp-mux",
        "a=sendrecv",
        "a=label:1",
        "a=ice-ufrag:Bq4s",
        "a=ice-pwd:7ZVhsxhK9vQFk1eC0sKzqg",
        "a=candidate:1 1 UDP 2113932031 192.168.1.20 10688 typ host",
        "a=candidate:2 1 UDP 1677724415 198.51.100.7 10688 typ srflx raddr 192.168.1.20 rport 10688",
        "a=end-of-candidates",
        "a=ptime:20",
    ])
}

/// RFC 3264 10.1's offer (audio and video, session-level c= only), documentation addresses.
fn audio_video_offer() -> Vec<u8> {
    crlf(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 198.51.100.1",
        "s=",
        "c=IN IP4 198.51.100.1",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0 8 97",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:97 iLBC/8000",
        "m=video 51372 RTP/AVP 31 32",
        "a=rtpmap:31 H261/90000",
        "a=rtpmap:32 MPV/90000",
    ])
}

/// IPv6, a media-level c= and no session-level one, RFC 3605 a=rtcp with an address.
fn ipv6_offer() -> Vec<u8> {
    crlf(&[
        "v=0",
        "o=bob 1 1 IN IP6 2001:db8::2",
        "s=-",
        "t=0 0",
        "m=audio 20000 RTP/AVP 0",
        "c=IN IP6 2001:db8::2",
        "a=rtcp:20001 IN IP6 2001:db8::3",
        "a=recvonly",
    ])
}

// ---- parse ----

#[test]
fn parse_baresip_offer_with_rtcp_mux_and_ice() {
    let sdp = Sdp::parse(&baresip_offer()).expect("parses");
    assert_eq!(sdp.session_connection(), Some(v4("192.168.1.20")));
    assert_eq!(
        sdp.media(),
        &[MediaSection {
            kind: "audio".into(),
            port: 10688,
            port_count: None,
            proto: "RTP/AVP".into(),
            connection: Some(v4("192.168.1.20")),
            rtcp: None,
            rtcp_mux: true,
            has_ice: true,
            direction: Some("sendrecv".into()),
            multicast: false,
        }]
    );
}

#[test]
fn parse_audio_and_video_rely_on_the_session_c() {
    let sdp = Sdp::parse(&audio_video_offer()).expect("parses");
    let m = sdp.media();
    assert_eq!(m.len(), 2);
    assert_eq!((m[0].kind.as_str(), m[0].port), ("audio", 49170));
    assert_eq!((m[1].kind.as_str(), m[1].port), ("video", 51372));
    for s in m {
        assert_eq!(s.connection, Some(v4("198.51.100.1")));
        assert_eq!(s.rtcp, None);
        assert!(!s.rtcp_mux && !s.has_ice);
        assert_eq!(s.direction, None);
    }
}

#[test]
fn rfc8866_5_7_media_level_c_overrides_the_session_level_one() {
    let body = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 198.51.100.1",
        "s=-",
        "c=IN IP4 198.51.100.1",
        "t=0 0",
        "a=sendonly",
        "m=audio 4000 RTP/AVP 0",
        "m=video 4002 RTP/AVP 96",
        "c=IN IP4 198.51.100.2",
        "a=inactive",
    ]);
    let sdp = Sdp::parse(&body).expect("parses");
    assert_eq!(sdp.media()[0].connection, Some(v4("198.51.100.1")));
    assert_eq!(sdp.media()[1].connection, Some(v4("198.51.100.2")));
    // Direction, like c=, falls back to the session level.
    assert_eq!(sdp.media()[0].direction.as_deref(), Some("sendonly"));
    assert_eq!(sdp.media()[1].direction.as_deref(), Some("inactive"));
}

#[test]
fn parse_ipv6_with_rfc3605_rtcp_address() {
    let sdp = Sdp::parse(&ipv6_offer()).expect("parses");
    assert_eq!(sdp.session_connection(), None);
    let m = &sdp.media()[0];
    assert_eq!(m.connection, Some(v6("2001:db8::2")));
    assert_eq!(m.rtcp, Some((20001, Some(v6("2001:db8::3")))));
    assert_eq!(m.direction.as_deref(), Some("recvonly"));
}

#[test]
fn parse_port_count_domain_name_and_rtcp_without_address() {
    let body = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 media.example.com",
        "s=-",
        "c=IN IP4 media.example.com",
        "t=0 0",
        "m=video 49170/2 RTP/AVP 31",
        "a=rtcp:53020",
    ]);
    let sdp = Sdp::parse(&body).expect("parses");
    let m = &sdp.media()[0];
    assert_eq!((m.port, m.port_count), (49170, Some(2)));
    assert_eq!(m.connection, None);
    assert_eq!(m.rtcp, Some((53020, None)));
}

#[test]
fn parse_accepts_lf_only_a_missing_last_line_end_and_trailing_blank_lines() {
    for body in [
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0",
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\r\n",
    ] {
        let sdp = Sdp::parse(body.as_bytes()).expect(body);
        assert_eq!(sdp.media()[0].port, 4000, "{body:?}");
    }
}

#[test]
fn parse_multicast_sections() {
    for c in [
        "c=IN IP4 233.252.0.1/127",
        "c=IN IP6 ff15::101/3",
        "c=IN IP4 198.51.100.9/3",
    ] {
        let body = crlf(&[
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.1",
            "s=-",
            c,
            "t=0 0",
            "m=audio 4000 RTP/AVP 0",
        ]);
        let sdp = Sdp::parse(&body).expect(c);
        assert!(sdp.media()[0].multicast, "{c}");
    }
}

#[test]
fn parse_errors_name_the_fault() {
    let head = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0"];
    let with = |extra: &[&str]| {
        let mut l: Vec<&str> = head.to_vec();
        l.extend_from_slice(extra);
        Sdp::parse(&crlf(&l)).err()
    };
    assert_eq!(Sdp::parse(b"").err(), Some(SdpError::NotSdp));
    assert_eq!(
        Sdp::parse(b"INVITE sip:a@b SIP/2.0\r\n").err(),
        Some(SdpError::NotSdp)
    );
    assert_eq!(
        Sdp::parse(b"o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n").err(),
        Some(SdpError::NotSdp)
    );
    assert_eq!(with(&["garbage"]), Some(SdpError::BadLine(5)));
    assert_eq!(with(&["", "a=x"]), Some(SdpError::BadLine(5)));
    assert_eq!(with(&["a=x\ry"]), Some(SdpError::BadLine(5)));
    for (m, reason) in [
        ("m=audio", "no port"),
        ("m=audio x RTP/AVP 0", "bad port"),
        ("m=audio 65536 RTP/AVP 0", "bad port"),
        ("m=audio 4000/0 RTP/AVP 0", "bad port count"),
        ("m=audio 4000", "no transport"),
        ("m=au\"dio 4000 RTP/AVP 0", "bad media type"),
    ] {
        assert_eq!(
            with(&[m]),
            Some(SdpError::BadMedia { line: 5, reason }),
            "{m}"
        );
    }
    for (c, reason) in [
        ("c=IN IP4", "want IN IP4|IP6 address"),
        ("c=IN IP4 192.0.2.1 extra", "want IN IP4|IP6 address"),
        ("c=ATM NSAP 47.0091", "network type is not IN"),
        ("c=IN IPX 192.0.2.1", "address type is not IP4 or IP6"),
        ("c=IN IP4 2001:db8::1", "bad address"),
        ("c=IN IP4 300.1.1.1", "bad address"),
        ("c=IN IP4 233.252.0.1/x", "bad TTL or address count"),
    ] {
        assert_eq!(
            with(&[c]),
            Some(SdpError::BadConnection { line: 5, reason }),
            "{c}"
        );
    }
    assert_eq!(
        with(&["m=audio 4000 RTP/AVP 0", "a=rtcp:x"]),
        Some(SdpError::BadRtcp {
            line: 6,
            reason: "bad port"
        })
    );
    assert_eq!(
        with(&["m=audio 4000 RTP/AVP 0", "a=rtcp:4001 IN"]),
        Some(SdpError::BadRtcp {
            line: 6,
            reason: "want port [IN IP4|IP6 address]"
        })
    );
    let big = vec![b'a'; MAX_BODY + 1];
    assert_eq!(
        Sdp::parse(&big).err(),
        Some(SdpError::TooLarge(MAX_BODY + 1))
    );
    let many: Vec<&str> = std::iter::repeat_n("m=audio 4000 RTP/AVP 0", MAX_MEDIA + 1).collect();
    assert_eq!(with(&many), Some(SdpError::TooManyMedia(MAX_MEDIA)));
    assert!(with(&many[..MAX_MEDIA]).is_none());
}

#[test]
fn errors_are_usable_as_reason_phrases() {
    let e = SdpError::BadConnection {
        line: 12,
        reason: "bad address",
    }
    .to_string();
    assert_eq!(e, "SDP line 12: bad c= line (bad address)");
    assert!(!e.contains(['\r', '\n']));
}

// ---- rewrite ----

#[test]
fn an_empty_plan_returns_the_body_as_received() {
    for body in [baresip_offer(), audio_video_offer(), ipv6_offer()] {
        let sdp = Sdp::parse(&body).expect("parses");
        assert_eq!(sdp.rewrite(&Rewrite::default()), body);
        let none = Rewrite {
            media: vec![None; sdp.media().len()],
            strip_ice: false,
        };
        assert_eq!(sdp.rewrite(&none), body);
    }
}

#[test]
fn rewrite_of_the_only_section_moves_the_session_c_and_keeps_o() {
    let sdp = Sdp::parse(&baresip_offer()).expect("parses");
    let plan = Rewrite {
        media: vec![to(v4(RELAY), 36000, Some(36000))],
        strip_ice: false,
    };
    let expected = text(&baresip_offer())
        .replace("c=IN IP4 192.168.1.20\r\n", "c=IN IP4 203.0.113.5\r\n")
        .replace("m=audio 10688 ", "m=audio 36000 ");
    // rtcp-mux and no a=rtcp: none is added.
    assert_eq!(text(&sdp.rewrite(&plan)), expected);
    assert!(expected.contains("o=- 1846377433 1441217208 IN IP4 192.168.1.20\r\n"));
}

#[test]
fn strip_ice_removes_exactly_the_ice_lines() {
    let sdp = Sdp::parse(&baresip_offer()).expect("parses");
    let plan = Rewrite {
        media: vec![None],
        strip_ice: true,
    };
    let out = sdp.rewrite(&plan);
    let original = text(&baresip_offer());
    let kept: String = original
        .split_inclusive('\n')
        .filter(|l| {
            !l.starts_with("a=ice-")
                && !l.starts_with("a=candidate:")
                && *l != "a=end-of-candidates\r\n"
        })
        .collect();
    assert_eq!(text(&out), kept);
    assert_eq!(
        text(&baresip_offer()).lines().count() - text(&out).lines().count(),
        6
    );
    assert!(!Sdp::parse(&out).expect("parses").media()[0].has_ice);
}

#[test]
fn two_sections_to_one_address_move_the_session_c() {
    let sdp = Sdp::parse(&audio_video_offer()).expect("parses");
    let plan = Rewrite {
        media: vec![
            to(v4(RELAY), 36000, Some(36001)),
            to(v4(RELAY), 36002, Some(36003)),
        ],
        strip_ice: false,
    };
    let expected = crlf(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 198.51.100.1",
        "s=",
        "c=IN IP4 203.0.113.5",
        "t=0 0",
        "m=audio 36000 RTP/AVP 0 8 97",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:97 iLBC/8000",
        "a=rtcp:36001 IN IP4 203.0.113.5",
        "m=video 36002 RTP/AVP 31 32",
        "a=rtpmap:31 H261/90000",
        "a=rtpmap:32 MPV/90000",
        "a=rtcp:36003 IN IP4 203.0.113.5",
    ]);
    assert_eq!(text(&sdp.rewrite(&plan)), text(&expected));
}

#[test]
fn one_section_of_two_gets_its_own_c_and_the_session_c_stays() {
    let sdp = Sdp::parse(&audio_video_offer()).expect("parses");
    let plan = Rewrite {
        media: vec![None, to(v4(RELAY), 36002, None)],
        strip_ice: false,
    };
    let expected = text(&audio_video_offer()).replace(
        "m=video 51372 RTP/AVP 31 32\r\n",
        "m=video 36002 RTP/AVP 31 32\r\nc=IN IP4 203.0.113.5\r\n",
    );
    let out = sdp.rewrite(&plan);
    assert_eq!(text(&out), expected);
    let again = Sdp::parse(&out).expect("parses");
    assert_eq!(again.media()[0].connection, Some(v4("198.51.100.1")));
    assert_eq!(again.media()[1].connection, Some(v4(RELAY)));
}

#[test]
fn two_sections_to_two_addresses_each_get_a_c_after_m_and_i() {
    let body = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 198.51.100.1",
        "s=-",
        "c=IN IP4 198.51.100.1",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0",
        "i=the voice",
        "b=AS:64",
        "m=video 4002 RTP/AVP 96",
        "b=AS:512",
        "i=out of order, still not the title",
    ]);
    let sdp = Sdp::parse(&body).expect("parses");
    let plan = Rewrite {
        media: vec![
            to(v4(RELAY), 36000, None),
            to(v6("2001:db8::5"), 36002, None),
        ],
        strip_ice: false,
    };
    let expected = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 198.51.100.1",
        "s=-",
        "c=IN IP4 198.51.100.1",
        "t=0 0",
        "m=audio 36000 RTP/AVP 0",
        "i=the voice",
        "c=IN IP4 203.0.113.5",
        "b=AS:64",
        "m=video 36002 RTP/AVP 96",
        "c=IN IP6 2001:db8::5",
        "b=AS:512",
        "i=out of order, still not the title",
    ]);
    assert_eq!(text(&sdp.rewrite(&plan)), text(&expected));
}

#[test]
fn media_level_c_and_rfc3605_rtcp_address_are_rewritten_in_place() {
    let sdp = Sdp::parse(&ipv6_offer()).expect("parses");
    let plan = Rewrite {
        media: vec![to(v6("2001:db8::5"), 36000, Some(36001))],
        strip_ice: true,
    };
    let expected = crlf(&[
        "v=0",
        "o=bob 1 1 IN IP6 2001:db8::2",
        "s=-",
        "t=0 0",
        "m=audio 36000 RTP/AVP 0",
        "c=IN IP6 2001:db8::5",
        "a=rtcp:36001 IN IP6 2001:db8::5",
        "a=recvonly",
    ]);
    assert_eq!(text(&sdp.rewrite(&plan)), text(&expected));
}

#[test]
fn rtcp_without_address_keeps_its_form_and_the_port_count_stays() {
    let body = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 198.51.100.1",
        "s=-",
        "t=0 0",
        "m=video 49170/2 RTP/AVP 31",
        "c=IN IP4 198.51.100.1",
        "a=rtcp:53020",
        "a=X-unknown:kept",
    ]);
    let sdp = Sdp::parse(&body).expect("parses");
    let plan = Rewrite {
        media: vec![to(v4(RELAY), 36000, Some(36001))],
        strip_ice: false,
    };
    let out = text(&sdp.rewrite(&plan));
    assert_eq!(
        out,
        text(&body)
            .replace("49170/2", "36000/2")
            .replace("c=IN IP4 198.51.100.1\r\na", "c=IN IP4 203.0.113.5\r\na")
            .replace("a=rtcp:53020", "a=rtcp:36001")
    );
}

#[test]
fn rfc3264_6_rejected_and_multicast_sections_are_left_alone() {
    let body = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 198.51.100.1",
        "s=-",
        "c=IN IP4 198.51.100.1",
        "t=0 0",
        "m=audio 0 RTP/AVP 0",
        "a=rtcp:4001",
        "m=video 4002 RTP/AVP 96",
        "c=IN IP4 233.252.0.1/127",
        "m=audio 4004 RTP/AVP 0",
    ]);
    let sdp = Sdp::parse(&body).expect("parses");
    let plan = Rewrite {
        media: vec![
            to(v4(RELAY), 36000, Some(36001)),
            to(v4(RELAY), 36002, Some(36003)),
            to(v4(RELAY), 36004, None),
        ],
        strip_ice: false,
    };
    // Only the third section moves; the rejected first one relies on the session c= too, but
    // it carries no media, so the session c= is rewritten rather than a c= inserted.
    let expected = text(&body)
        .replace("c=IN IP4 198.51.100.1\r\nt", "c=IN IP4 203.0.113.5\r\nt")
        .replace("m=audio 4004", "m=audio 36004");
    assert_eq!(text(&sdp.rewrite(&plan)), expected);
}

#[test]
fn a_section_without_any_c_gets_one() {
    let body = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 198.51.100.1",
        "s=-",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0",
    ]);
    let sdp = Sdp::parse(&body).expect("parses");
    assert_eq!(sdp.media()[0].connection, None);
    let plan = Rewrite {
        media: vec![to(v4(RELAY), 36000, Some(36001))],
        strip_ice: false,
    };
    let expected = text(&body).replace(
        "m=audio 4000 RTP/AVP 0\r\n",
        "m=audio 36000 RTP/AVP 0\r\nc=IN IP4 203.0.113.5\r\na=rtcp:36001 IN IP4 203.0.113.5\r\n",
    );
    assert_eq!(text(&sdp.rewrite(&plan)), expected);
}

#[test]
fn lf_only_bodies_keep_lf_and_an_unterminated_last_line_stays_so_unless_a_line_follows() {
    let lf = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=ptime:20\n";
    let plan = Rewrite {
        media: vec![to(v4(RELAY), 36000, Some(36001))],
        strip_ice: false,
    };
    let out = text(&Sdp::parse(lf.as_bytes()).expect("parses").rewrite(&plan));
    assert_eq!(
        out,
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 203.0.113.5\nt=0 0\n\
         m=audio 36000 RTP/AVP 0\na=ptime:20\na=rtcp:36001 IN IP4 203.0.113.5\n"
    );
    let open = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0";
    let sdp = Sdp::parse(open.as_bytes()).expect("parses");
    let no_rtcp = Rewrite {
        media: vec![to(v4(RELAY), 36000, None)],
        strip_ice: false,
    };
    assert!(text(&sdp.rewrite(&no_rtcp)).ends_with("\r\nm=audio 36000 RTP/AVP 0"));
    assert!(text(&sdp.rewrite(&plan))
        .ends_with("\r\nm=audio 36000 RTP/AVP 0\r\na=rtcp:36001 IN IP4 203.0.113.5\r\n"));
}

#[test]
fn an_added_rtcp_follows_the_section_even_when_its_last_line_is_stripped() {
    let body = crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 192.0.2.1",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0",
        "a=candidate:1 1 UDP 1 192.0.2.1 4000 typ host",
        "m=video 4002 RTP/AVP 96",
    ]);
    let plan = Rewrite {
        media: vec![to(v4(RELAY), 36000, Some(36001)), None],
        strip_ice: true,
    };
    let out = Sdp::parse(&body).expect("parses").rewrite(&plan);
    assert_eq!(
        text(&out),
        text(&crlf(&[
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.1",
            "s=-",
            "c=IN IP4 192.0.2.1",
            "t=0 0",
            "m=audio 36000 RTP/AVP 0",
            "c=IN IP4 203.0.113.5",
            "a=rtcp:36001 IN IP4 203.0.113.5",
            "m=video 4002 RTP/AVP 96",
        ]))
    );
}

// ---- generated bodies ----

/// What a generated body says, to compare the parse with.
#[derive(Clone, Debug)]
struct GenSection {
    kind: &'static str,
    port: u16,
    count: Option<u16>,
    own_c: Option<IpAddr>,
    rtcp: Option<(u16, Option<IpAddr>)>,
    mux: bool,
    ice: bool,
    /// The section's lines after m= (and c=), shuffled.
    attrs: Vec<String>,
}

#[derive(Clone, Debug)]
struct GenSdp {
    eol: &'static str,
    session_c: Option<IpAddr>,
    sections: Vec<GenSection>,
    body: Vec<u8>,
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>()
            .prop_map(IpAddr::from)
            .prop_filter("unicast", |a| !a.is_multicast()),
        any::<[u16; 8]>()
            .prop_map(IpAddr::from)
            .prop_filter("unicast", |a| !a.is_multicast()),
    ]
}

/// Lines nobody here interprets: unknown attributes and the other line types of RFC 8866.
fn unknown_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "a=X-[A-Za-z0-9-]{1,10}",
        "a=X-[A-Za-z0-9-]{1,10}:[ -~é]{0,30}",
        "a=(rtpmap|fmtp|ptime|ssrc|mid|label|rtcp-fb|extmap):[ -~]{0,30}",
        "[bkz]=[ -~]{0,30}",
    ]
}

fn c_text(a: IpAddr) -> String {
    String::from_utf8(c_line(a)).unwrap_or_default()
}

fn section() -> impl Strategy<Value = GenSection> {
    (
        prop_oneof![
            Just("audio"),
            Just("video"),
            Just("application"),
            Just("text")
        ],
        prop_oneof![1 => Just(0u16), 6 => 1u16..],
        proptest::option::weighted(0.2, 1u16..4),
        proptest::option::of(addr()),
        proptest::option::of((1u16.., proptest::option::of(addr()))),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(unknown_line(), 0..6),
    )
        .prop_flat_map(|(kind, port, count, own_c, rtcp, mux, ice, unknown)| {
            let mut attrs = unknown;
            if let Some((p, a)) = rtcp {
                attrs.push(String::from_utf8(rtcp_line(p, a)).unwrap_or_default());
            }
            if mux {
                attrs.push("a=rtcp-mux".into());
            }
            if ice {
                attrs.push("a=ice-ufrag:F7gI".into());
                attrs.push("a=ice-pwd:x9cml/YzichV2+XlhiMu8g".into());
                attrs.push("a=candidate:1 1 UDP 2130706431 192.0.2.7 4000 typ host".into());
                attrs.push("a=end-of-candidates".into());
            }
            Just(attrs)
                .prop_shuffle()
                .prop_map(move |attrs| GenSection {
                    kind,
                    port,
                    count,
                    own_c,
                    rtcp,
                    mux,
                    ice,
                    attrs,
                })
        })
}

fn gen_sdp() -> impl Strategy<Value = GenSdp> {
    (
        prop_oneof![Just("\r\n"), Just("\n")],
        proptest::option::of(addr()),
        proptest::collection::vec(unknown_line(), 0..4),
        proptest::collection::vec(section(), 0..5),
    )
        .prop_map(|(eol, session_c, session_unknown, sections)| {
            let mut lines = vec![
                "v=0".to_string(),
                "o=- 3 4 IN IP4 192.0.2.1".into(),
                "s=-".into(),
            ];
            lines.extend(session_c.map(c_text));
            lines.push("t=0 0".into());
            lines.extend(session_unknown);
            for s in &sections {
                let count = s.count.map(|c| format!("/{c}")).unwrap_or_default();
                lines.push(format!("m={} {}{count} RTP/AVP 0 96", s.kind, s.port));
                lines.extend(s.own_c.map(c_text));
                lines.extend(s.attrs.iter().cloned());
            }
            let body = lines
                .iter()
                .flat_map(|l| [l.as_str(), eol])
                .collect::<String>()
                .into_bytes();
            GenSdp {
                eol,
                session_c,
                sections,
                body,
            }
        })
}

fn plan_for(n: usize) -> impl Strategy<Value = Rewrite> {
    // Few addresses, so that "every section to one address" happens often.
    let relay = prop_oneof![
        Just(v4(RELAY)),
        Just(v4("198.51.100.200")),
        Just(v6("2001:db8::5"))
    ];
    (
        proptest::collection::vec(
            proptest::option::of((relay, 1u16.., proptest::option::of(1u16..))),
            n,
        ),
        any::<bool>(),
    )
        .prop_map(|(media, strip_ice)| Rewrite {
            media: media
                .into_iter()
                .map(|m| {
                    m.map(|(addr, port, rtcp_port)| MediaRewrite {
                        addr,
                        port,
                        rtcp_port,
                    })
                })
                .collect(),
            strip_ice,
        })
}

/// The lines a rewrite must copy unchanged, with their line ends, in order.
fn untouched(body: &[u8], strip_ice: bool) -> Vec<String> {
    text(body)
        .split_inclusive('\n')
        .filter(|l| {
            let name = l
                .trim_end()
                .strip_prefix("a=")
                .map(|a| a.split(':').next().unwrap_or(""));
            let rewritten = l.starts_with("m=") || l.starts_with("c=") || name == Some("rtcp");
            let stripped = strip_ice && name.is_some_and(|n| is_ice(n.as_bytes()));
            !rewritten && !stripped
        })
        .map(str::to_owned)
        .collect()
}

/// The oracle of the fuzz target too: when a body parses, moving every section to the relay
/// gives a body that parses, with every live section at the relay.
fn rewrite_all_reparses(sdp: &Sdp) {
    let relay = MediaRewrite {
        addr: v4("192.0.2.1"),
        port: 40000,
        rtcp_port: Some(40001),
    };
    let plan = Rewrite {
        media: vec![Some(relay); sdp.media().len()],
        strip_ice: true,
    };
    let out = sdp.rewrite(&plan);
    match Sdp::parse(&out) {
        Ok(again) => {
            assert_eq!(again.media().len(), sdp.media().len());
            for (before, after) in sdp.media().iter().zip(again.media()) {
                if before.port != 0 && !before.multicast {
                    assert_eq!((after.port, after.connection), (40000, Some(relay.addr)));
                }
                assert!(!after.has_ice);
            }
        }
        // Inserted c= and a=rtcp lines can push a body at the limit over it.
        Err(SdpError::TooLarge(_)) => {}
        Err(e) => panic!("rewrite produced unparsable SDP ({e}): {:?}", text(&out)),
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..1500)) {
        if let Ok(sdp) = Sdp::parse(&data) {
            rewrite_all_reparses(&sdp);
        }
    }

    #[test]
    fn parse_never_panics_on_sdp_shaped_lines(
        lines in proptest::collection::vec(
            prop_oneof![
                4 => "c=IN IP4 (192\\.0\\.2\\.[0-9]{1,2}|233\\.252\\.0\\.1/127|host\\.example)",
                2 => "c=IN IP6 (2001:db8::[0-9a-f]{1,4}|ff15::1/3)",
                6 => "m=(audio|video) (0|[1-9][0-9]{0,3})(/[1-3])? RTP/AVP 0",
                3 => "a=rtcp:[1-9][0-9]{0,3}( IN IP4 192\\.0\\.2\\.9)?",
                2 => Just("a=rtcp-mux".to_string()),
                3 => "a=(candidate|ice-ufrag|ice-lite|sendonly|X-y)(:[ -~]{0,10})?",
                2 => "[ibk]=[ -~]{0,10}",
                1 => "[vocmaitb]=[ -~]{0,40}",
                1 => "a=rtcp:[0-9]{0,6}( IN IP[46] [0-9a-f.:]{0,20})?",
                1 => Just(String::new()),
            ],
            0..30,
        ),
        eol in prop_oneof![4 => Just("\r\n"), 4 => Just("\n"), 1 => Just("\r")],
    ) {
        let body = format!("v=0{eol}{}", lines.join(eol));
        if let Ok(sdp) = Sdp::parse(body.as_bytes()) {
            rewrite_all_reparses(&sdp);
        }
    }

    #[test]
    fn generated_sdp_parses_to_what_was_written(g in gen_sdp()) {
        let sdp = Sdp::parse(&g.body).expect("generated SDP parses");
        prop_assert_eq!(sdp.session_connection(), g.session_c);
        prop_assert_eq!(sdp.media().len(), g.sections.len());
        for (m, s) in sdp.media().iter().zip(&g.sections) {
            prop_assert_eq!(m.kind.as_str(), s.kind);
            prop_assert_eq!((m.port, m.port_count), (s.port, s.count));
            prop_assert_eq!(m.connection, s.own_c.or(g.session_c));
            prop_assert_eq!(m.rtcp, s.rtcp);
            prop_assert_eq!((m.rtcp_mux, m.has_ice), (s.mux, s.ice));
        }
    }

    #[test]
    fn an_empty_plan_gives_back_the_same_bytes(g in gen_sdp()) {
        let sdp = Sdp::parse(&g.body).expect("generated SDP parses");
        let plan = Rewrite { media: vec![None; g.sections.len()], strip_ice: false };
        prop_assert_eq!(sdp.rewrite(&plan), &g.body[..]);
    }

    #[test]
    fn rewrite_then_parse_gives_the_plan_and_touches_nothing_else(
        (g, plan) in gen_sdp().prop_flat_map(|g| {
            let n = g.sections.len();
            (Just(g), plan_for(n))
        })
    ) {
        let sdp = Sdp::parse(&g.body).expect("generated SDP parses");
        let out = sdp.rewrite(&plan);
        let again = Sdp::parse(&out).expect("rewritten SDP parses");
        prop_assert_eq!(again.media().len(), sdp.media().len());
        for ((before, after), r) in sdp.media().iter().zip(again.media()).zip(&plan.media) {
            prop_assert_eq!(&after.kind, &before.kind);
            prop_assert_eq!(after.port_count, before.port_count);
            prop_assert_eq!(after.rtcp_mux, before.rtcp_mux);
            prop_assert_eq!(after.has_ice, before.has_ice && !plan.strip_ice);
            match r {
                Some(r) if before.port != 0 => {
                    prop_assert_eq!(after.port, r.port);
                    prop_assert_eq!(after.connection, Some(r.addr));
                    let rtcp = match (r.rtcp_port, before.rtcp) {
                        (None, kept) => kept,
                        (Some(p), Some((_, a))) => Some((p, a.map(|_| r.addr))),
                        (Some(_), None) if before.rtcp_mux => None,
                        (Some(p), None) => Some((p, Some(r.addr))),
                    };
                    prop_assert_eq!(after.rtcp, rtcp);
                }
                // A rejected stream or one the plan leaves alone still says what it said,
                // whichever c= now carries it.
                _ if before.port == 0 => prop_assert_eq!(after.port, 0),
                _ => prop_assert_eq!(
                    after,
                    &MediaSection { has_ice: before.has_ice && !plan.strip_ice, ..before.clone() }
                ),
            }
        }
        prop_assert_eq!(untouched(&out, plan.strip_ice), untouched(&g.body, plan.strip_ice));
        prop_assert!(text(&out).split_inclusive('\n').all(|l| l.ends_with(g.eol)));
        prop_assert!(g.eol == "\r\n" || !out.contains(&b'\r'));
    }
}
