use super::*;
use crate::test_support;
use causeway_h323::endpoint::{decode_h245, encode_h245, olc_ack};
use proptest::prelude::*;

fn wire(m: &H245Msg) -> H245Msg {
    decode_h245(&encode_h245(m).unwrap()).unwrap()
}

fn tcs_of(m: H245Msg) -> h245::TerminalCapabilitySet {
    match wire(&m) {
        H245Msg::request(h245::RequestMessage::terminalCapabilitySet(t)) => t,
        other => panic!("not a TCS: {other:?}"),
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn tcs_announces_codecs_telephony_events_and_user_input() {
    let m = crate::sdp_map::from_sdp(
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 8 0 100\r\na=rtpmap:100 telephone-event/8000\r\n",
    )
    .unwrap();
    let t = tcs_of(tcs(&m, 3));
    assert_eq!(t.sequence_number.0, 3);
    let caps: Vec<_> = t
        .capability_table
        .iter()
        .flat_map(|s| s.iter())
        .filter_map(|e| e.capability.clone())
        .collect();
    assert!(caps.contains(&h245::Capability::receiveAudioCapability(
        h245::AudioCapability::g711Alaw64k(20)
    )));
    assert!(caps.iter().any(|c| matches!(c,
        h245::Capability::receiveRTPAudioTelephonyEventCapability(e)
            if e.dynamic_rtppayload_type == 100 && e.audio_telephone_event.as_bytes() == b"0-16")));
    assert!(
        caps.contains(&h245::Capability::receiveAndTransmitUserInputCapability(
            h245::UserInputCapability::dtmf(())
        ))
    );
    let f = formats_from_tcs(&t);
    let codecs: Vec<Codec> = f.iter().map(|f| f.codec).collect();
    assert_eq!(codecs, [Codec::Pcma, Codec::Pcmu, Codec::TelephoneEvent]);
    assert_eq!(f[2].pt, 100);
    assert_eq!(f[2].fmtp.as_deref(), Some("0-16"));
}

#[test]
fn olc_and_its_format_agree() {
    let h264 = Format {
        pt: 109,
        codec: Codec::H264,
        fmtp: Some("profile-level-id=42801f".into()),
    };
    let m = wire(&olc(4, &h264, 2, sa("192.0.2.1:5001")).unwrap());
    let H245Msg::request(h245::RequestMessage::openLogicalChannel(o)) = m else {
        panic!("not an OLC")
    };
    assert_eq!(o.forward_logical_channel_number.0, 4);
    assert_eq!(olc_format(&o), Some((h264, 2, Some(sa("192.0.2.1:5001")))));
    assert_eq!(
        olc(
            1,
            &Format::of(Codec::TelephoneEvent),
            1,
            sa("192.0.2.1:5001")
        ),
        Err(MapError::NoCommonCodec)
    );
}

#[test]
fn ack_addresses_read_the_endpoints_ack() {
    let m = wire(&olc_ack(1, sa("192.0.2.9:7000"), sa("192.0.2.9:7001")).unwrap());
    let H245Msg::response(h245::ResponseMessage::openLogicalChannelAck(a)) = m else {
        panic!("not an OLC Ack")
    };
    assert_eq!(
        ack_addresses(&a),
        Some((sa("192.0.2.9:7000"), Some(sa("192.0.2.9:7001"))))
    );
}

proptest! {
    #[test]
    fn tcs_then_formats_keeps_codecs(m in test_support::media(), seq: u8) {
        let got = formats_from_tcs(&tcs_of(tcs(&m, seq)));
        for st in &m.streams {
            for f in &st.formats {
                let g = got.iter().find(|g| g.codec == f.codec);
                prop_assert!(g.is_some(), "{:?} lost", f.codec);
                if f.codec == Codec::TelephoneEvent {
                    prop_assert_eq!(g.map(|g| g.pt), Some(f.pt));
                }
            }
        }
    }
}
