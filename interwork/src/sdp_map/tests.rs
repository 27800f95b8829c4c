use super::*;
use crate::test_support;
use proptest::prelude::*;

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
a=sendrecv\r\n\
m=audio 49170 RTP/AVP 0 8 18 97 101\r\na=rtpmap:97 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\na=fmtp:18 annexb=no\r\na=rtcp:50000\r\n\
m=application 9 TCP/BFCP *\r\n\
m=video 51372 RTP/AVPF 96\r\nc=IN IP4 192.0.2.20\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\na=recvonly\r\n\
m=audio 0 RTP/SAVP 0\r\n";

#[test]
fn offer_keeps_rtp_audio_and_video_with_their_known_codecs() {
    let m = from_sdp(OFFER.as_bytes()).unwrap();
    assert_eq!(m.streams.len(), 2, "application and SAVP left out");
    let a = &m.streams[0];
    assert_eq!(a.kind, Kind::Audio);
    assert_eq!(a.rtp, "192.0.2.10:49170".parse().unwrap());
    assert_eq!(
        a.rtcp,
        "192.0.2.10:50000".parse().unwrap(),
        "RFC 3605 a=rtcp"
    );
    let codecs: Vec<Codec> = a.formats.iter().map(|f| f.codec).collect();
    assert_eq!(
        codecs,
        [Codec::Pcmu, Codec::Pcma, Codec::G729, Codec::TelephoneEvent],
        "opus is not expressible"
    );
    assert_eq!(a.formats[2].fmtp.as_deref(), Some("annexb=no"));
    assert_eq!(a.formats[3].pt, 101);
    assert_eq!(a.direction, Direction::SendRecv, "session-level direction");
    let v = &m.streams[1];
    assert_eq!(v.kind, Kind::Video);
    assert_eq!(v.rtp, "192.0.2.20:51372".parse().unwrap(), "media-level c=");
    assert_eq!(v.rtcp, "192.0.2.20:51373".parse().unwrap(), "RTP port + 1");
    assert_eq!(v.direction, Direction::RecvOnly);
    assert_eq!(v.formats[0].codec, Codec::H264);
    assert_eq!(
        v.formats[0].fmtp.as_deref(),
        Some("profile-level-id=42e01f;packetization-mode=1")
    );
}

#[test]
fn rejected_section_is_a_rejected_stream() {
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
    let m = from_sdp(sdp.as_bytes()).unwrap();
    assert!(m.streams[0].rejected());
}

/// An offer of only codecs H.323 cannot carry (the RFC 5118 IPv6 example: G726-32 and
/// H263-1998) maps to streams without formats; written back, they are rejected (port 0), not
/// a live port with a placeholder PCMU that nobody sends (what the seeded fuzzer found).
#[test]
fn a_stream_without_formats_is_written_rejected() {
    let sdp = "v=0\r\no=- 1 1 IN IP6 2001:db8::20\r\ns=-\r\nc=IN IP6 2001:db8::20\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 2\r\na=rtpmap:2 G726-32/8000\r\n\
m=video 6024 RTP/AVP 107\r\na=rtpmap:107 H263-1998/90000\r\n";
    let m = from_sdp(sdp.as_bytes()).unwrap();
    assert_eq!(m.streams.len(), 2);
    assert!(m
        .streams
        .iter()
        .all(|s| s.formats.is_empty() && !s.rejected()));
    let out = to_sdp(&m, "2001:db8::1".parse().unwrap(), 1, 1);
    assert!(out.contains("m=audio 0 RTP/AVP 0\r\n"), "{out}");
    assert!(out.contains("m=video 0 RTP/AVP "), "{out}");
    assert!(!out.contains("a=sendrecv"), "{out}");
    let again = from_sdp(out.as_bytes()).unwrap();
    assert!(again.streams.iter().all(Stream::rejected));
}

#[test]
fn live_section_without_connection_is_malformed() {
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert!(matches!(
        from_sdp(sdp.as_bytes()),
        Err(MapError::Malformed(_))
    ));
    assert!(matches!(from_sdp(b"hello"), Err(MapError::Malformed(_))));
}

#[test]
fn written_body_has_every_line_the_module_doc_names() {
    let m = from_sdp(OFFER.as_bytes()).unwrap();
    let out = to_sdp(&m, "198.51.100.1".parse().unwrap(), 7, 8);
    assert!(out.starts_with(
        "v=0\r\no=causeway 7 8 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    ));
    assert!(out.contains("m=audio 49170 RTP/AVP 0 8 18 101\r\n"));
    assert!(out.contains("a=rtpmap:0 PCMU/8000\r\n"));
    assert!(out.contains("a=fmtp:101 0-16\r\n"));
    assert!(out.contains("a=rtcp:50000\r\n"));
    assert!(out.contains("a=ptime:20\r\n"));
    assert!(out.contains("m=video 51372 RTP/AVP 96\r\nc=IN IP4 192.0.2.20\r\n"));
    assert!(out.contains("a=recvonly\r\n"));
    assert_eq!(
        out.matches("a=rtcp:").count(),
        1,
        "video RTCP is on port + 1"
    );
    assert!(out.ends_with("\r\n") && !out.contains("\n\n"));
}

proptest! {
    #[test]
    fn to_sdp_then_from_sdp_gives_the_media_back(m in test_support::media(), sid: u64, v: u64) {
        let body = to_sdp(&m, "203.0.113.5".parse().unwrap(), sid, v);
        prop_assert_eq!(from_sdp(body.as_bytes()).unwrap(), m);
    }

    #[test]
    fn arbitrary_bytes_do_not_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = from_sdp(&b);
    }

    #[test]
    fn arbitrary_lines_after_a_valid_head_do_not_panic(
        lines in proptest::collection::vec("[amc]=[ -~]{0,40}", 0..12)
    ) {
        let body = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n{}", lines.join("\r\n"));
        let _ = from_sdp(body.as_bytes());
    }
}
