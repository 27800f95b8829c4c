use super::*;
use crate::media::Codec;
use crate::test_support;
use proptest::prelude::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn olc(b: &[u8]) -> h245::OpenLogicalChannel {
    aper::decode(b).unwrap()
}

fn audio(formats: &[Codec], direction: Direction) -> Stream {
    Stream {
        kind: Kind::Audio,
        rtp: sa("192.0.2.10:4000"),
        rtcp: sa("192.0.2.10:4001"),
        formats: formats.iter().map(|&c| Format::of(c)).collect(),
        direction,
    }
}

fn fwd_params(o: &h245::OpenLogicalChannel) -> &h245::H2250LogicalChannelParameters {
    match &o.forward_logical_channel_parameters.multiplex_parameters {
        FwdMux::h2250LogicalChannelParameters(p) => p,
        other => panic!("forward multiplex {other:?}"),
    }
}

fn rev_params(o: &h245::OpenLogicalChannel) -> &h245::H2250LogicalChannelParameters {
    match &o
        .reverse_logical_channel_parameters
        .as_ref()
        .unwrap()
        .multiplex_parameters
    {
        Some(RevMux::h2250LogicalChannelParameters(p)) => p,
        other => panic!("reverse multiplex {other:?}"),
    }
}

#[test]
fn h323_8_1_7_1_transmit_and_receive_proposal_shapes() {
    let m = Media {
        streams: vec![audio(
            &[Codec::Pcmu, Codec::TelephoneEvent],
            Direction::SendRecv,
        )],
    };
    let p = proposals(&m, 1).unwrap();
    assert_eq!(p.len(), 2, "telephone-event is no channel");
    let tx = olc(&p[0]);
    assert_eq!(tx.forward_logical_channel_number.0, 1);
    assert_eq!(
        tx.forward_logical_channel_parameters.data_type,
        h245::DataType::audioData(h245::AudioCapability::g711Ulaw64k(20))
    );
    assert!(tx.reverse_logical_channel_parameters.is_none());
    let params = fwd_params(&tx);
    assert_eq!(params.session_id, 1);
    assert_eq!(params.media_channel, None, "the callee fills it in");
    assert_eq!(
        params
            .media_control_channel
            .as_ref()
            .and_then(h245_socket_addr),
        Some(sa("192.0.2.10:4001"))
    );
    let rx = olc(&p[1]);
    assert_eq!(rx.forward_logical_channel_number.0, 2);
    assert_eq!(
        rx.forward_logical_channel_parameters.data_type,
        h245::DataType::nullData(())
    );
    assert_eq!(
        rx.forward_logical_channel_parameters.multiplex_parameters,
        FwdMux::none(())
    );
    let rp = rev_params(&rx);
    assert_eq!(
        rp.media_channel.as_ref().and_then(h245_socket_addr),
        Some(sa("192.0.2.10:4000"))
    );
    assert_eq!(
        rp.media_control_channel.as_ref().and_then(h245_socket_addr),
        Some(sa("192.0.2.10:4001"))
    );
}

#[test]
fn sendonly_offers_only_transmit_proposals() {
    let m = Media {
        streams: vec![audio(&[Codec::Pcma, Codec::G729], Direction::SendOnly)],
    };
    let p = proposals(&m, 1).unwrap();
    assert_eq!(p.len(), 3, "PCMA, G.729 Annex A, G.729");
    assert!(p
        .iter()
        .all(|b| olc(b).reverse_logical_channel_parameters.is_none()));
    let offer = offer_from_proposals(&p).unwrap();
    assert_eq!(offer.streams[0].direction, Direction::SendOnly);
    assert_eq!(offer.streams[0].rtp, sa("192.0.2.10:4000"), "RTCP port - 1");
}

#[test]
fn nothing_expressible_is_no_common_codec() {
    let m = Media {
        streams: vec![audio(&[Codec::TelephoneEvent], Direction::SendRecv)],
    };
    assert_eq!(proposals(&m, 1), Err(MapError::NoCommonCodec));
    let mut rejected = audio(&[Codec::Pcmu], Direction::SendRecv);
    rejected.rtp = sa("192.0.2.10:0");
    assert_eq!(
        proposals(
            &Media {
                streams: vec![rejected]
            },
            1
        ),
        Err(MapError::NoCommonCodec)
    );
    assert_eq!(
        offer_from_proposals(&[vec![1, 2, 3]]),
        Err(MapError::NoCommonCodec)
    );
}

#[test]
fn accepted_channels_follow_h323plus() {
    let offer = Media {
        streams: vec![audio(&[Codec::Pcmu, Codec::G722], Direction::SendRecv)],
    };
    let p = proposals(&offer, 1).unwrap();
    let answer = Media {
        streams: vec![Stream {
            kind: Kind::Audio,
            rtp: sa("198.51.100.7:6000"),
            rtcp: sa("198.51.100.7:6001"),
            formats: vec![Format::of(Codec::G722), Format::of(Codec::Pcmu)],
            direction: Direction::SendRecv,
        }],
    };
    let acc = accept(&p, &answer).unwrap();
    assert_eq!(acc.len(), 2);
    let fwd = olc(&acc[0]);
    // G.722 transmit proposal was the third (lcn 3)
    assert_eq!(fwd.forward_logical_channel_number.0, 3);
    let fp = fwd_params(&fwd);
    assert_eq!(
        fp.media_channel.as_ref().and_then(h245_socket_addr),
        Some(sa("198.51.100.7:6000"))
    );
    let rev = olc(&acc[1]);
    assert_eq!(
        rev.forward_logical_channel_number.0, 5,
        "the callee's own number"
    );
    let rp = rev_params(&rev);
    assert_eq!(rp.media_channel, None);
    assert_eq!(
        rp.media_control_channel.as_ref().and_then(h245_socket_addr),
        Some(sa("198.51.100.7:6001"))
    );
    let back = answer_from_accepted(&acc, &offer).unwrap();
    assert_eq!(back.streams[0].formats, vec![Format::of(Codec::G722)]);
    assert_eq!(back.streams[0].rtp, sa("198.51.100.7:6000"));
    assert_eq!(back.streams[0].direction, Direction::SendRecv);
}

#[test]
fn unproposed_streams_are_rejected_in_the_answer() {
    let second = audio(&[Codec::Pcmu], Direction::SendRecv);
    let offer = Media {
        streams: vec![audio(&[Codec::Pcmu], Direction::SendRecv), second],
    };
    let p = proposals(&offer, 1).unwrap();
    assert_eq!(p.len(), 2, "only the first audio stream is proposed");
    let answer = offer_from_proposals(&p).unwrap();
    let acc = accept(&p, &answer).unwrap();
    let back = answer_from_accepted(&acc, &offer).unwrap();
    assert_eq!(back.streams.len(), 2);
    assert!(!back.streams[0].rejected());
    assert!(back.streams[1].rejected());
}

fn expressible(st: &Stream) -> Vec<(Codec, u8)> {
    let mut out: Vec<(Codec, u8)> = Vec::new();
    for f in &st.formats {
        if f.codec != Codec::TelephoneEvent && !out.iter().any(|(c, _)| *c == f.codec) {
            out.push((f.codec, f.pt));
        }
    }
    out
}

proptest! {
    /// The requirement: an offer mapped to fastStart and back keeps every codec it can
    /// express, with the addresses.
    #[test]
    fn proposals_then_offer_keeps_codecs_and_addresses(m in test_support::media()) {
        let p = proposals(&m, 1).unwrap();
        let back = offer_from_proposals(&p).unwrap();
        prop_assert_eq!(back.streams.len(), m.streams.len());
        for (a, b) in m.streams.iter().zip(&back.streams) {
            prop_assert_eq!(a.kind, b.kind);
            let got: Vec<(Codec, u8)> = b.formats.iter().map(|f| (f.codec, f.pt)).collect();
            prop_assert_eq!(got, expressible(a));
            prop_assert_eq!(a.rtcp, b.rtcp);
            if a.direction.receives() {
                prop_assert_eq!(a.rtp, b.rtp);
            }
            prop_assert_eq!(a.direction, b.direction);
        }
    }

    #[test]
    fn proposals_accept_answer_gives_back_the_answer(
        m in test_support::media(),
        picks in proptest::collection::vec((any::<prop::sample::Index>(), test_support::addr(), test_support::direction()), 2),
    ) {
        let p = proposals(&m, 1).unwrap();
        let offer = offer_from_proposals(&p).unwrap();
        // the callee's answer: one of the offered codecs, its own address, a direction the
        // offer allows
        let answer = Media { streams: offer.streams.iter().zip(&picks).map(|(st, (i, rtp, dir))| {
            let f = st.formats[i.index(st.formats.len())].clone();
            let direction = match st.direction {
                Direction::SendOnly => Direction::RecvOnly,
                Direction::RecvOnly => Direction::SendOnly,
                _ => *dir,
            };
            Stream { kind: st.kind, rtp: *rtp, rtcp: SocketAddr::new(rtp.ip(), rtp.port() + 1), formats: vec![f], direction }
        }).collect() };
        let acc = accept(&p, &answer).unwrap();
        let back = answer_from_accepted(&acc, &m).unwrap();
        prop_assert_eq!(back.streams.len(), answer.streams.len());
        for ((b, a), o) in back.streams.iter().zip(&answer.streams).zip(&m.streams) {
            prop_assert_eq!(b.formats.len(), 1);
            prop_assert_eq!(b.formats[0].codec, a.formats[0].codec);
            let offered_pt = o.formats.iter().find(|f| f.codec == a.formats[0].codec).map(|f| f.pt);
            prop_assert_eq!(Some(b.formats[0].pt), offered_pt);
            prop_assert_eq!(b.rtp, a.rtp);
            prop_assert_eq!(b.rtcp, a.rtcp);
            prop_assert_eq!(b.direction, a.direction);
        }
    }

    #[test]
    fn arbitrary_elements_do_not_panic(p in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..6)) {
        let _ = offer_from_proposals(&p);
        let _ = accept(&p, &Media::default());
        let _ = answer_from_accepted(&p, &Media::default());
    }

    #[test]
    fn mutated_proposals_do_not_panic(m in test_support::media(), at: prop::sample::Index, byte: u8) {
        let mut p = proposals(&m, 1).unwrap();
        let n = p.len();
        let el = &mut p[at.index(n)];
        let i = at.index(el.len());
        el[i] = byte;
        if let Ok(offer) = offer_from_proposals(&p) {
            let _ = accept(&p, &offer);
        }
    }
}

/// interwork/tests/golden/fast_start.py: asn1tools 0.169.0's aligned-PER encoding of the
/// G.711 mu-law transmit (channel 1) and receive (channel 2) proposals of session 1, RTP
/// 192.0.2.10:4000 and RTCP :4001. The receive proposal differs in one place, the known
/// disagreement of h323-asn1's crate doc: the extension-addition NULL `none` of
/// multiplexParameters is one zero octet in rasn and H.323 stacks (`01 00`, X.691 10.1.3/10.2)
/// and an empty open type (`00`) in asn1tools; the script checks that asn1tools reads our
/// bytes (`GOLDEN_RECEIVE_RASN`) as the same value.
const GOLDEN_TRANSMIT: &str = "0000000c6013800a0c000100c000020a0fa1";
const GOLDEN_RECEIVE: &str = "4000010604004c601380111c000100c000020a0fa000c000020a0fa1";
const GOLDEN_RECEIVE_RASN: &str = "400001060401004c601380111c000100c000020a0fa000c000020a0fa1";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn g711_proposals_match_asn1tools() {
    let m = Media {
        streams: vec![audio(&[Codec::Pcmu], Direction::SendRecv)],
    };
    let p = proposals(&m, 1).unwrap();
    assert_eq!(hex(&p[0]), GOLDEN_TRANSMIT);
    assert_eq!(hex(&p[1]), GOLDEN_RECEIVE_RASN);
    assert_eq!(
        GOLDEN_RECEIVE_RASN.replacen("06040100", "060400", 1),
        GOLDEN_RECEIVE,
        "only the NULL extension addition differs"
    );
}
