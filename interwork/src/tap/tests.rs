use super::*;
use proptest::prelude::*;

fn a(p: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], p))
}

fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn tap() -> Tap {
    let mut t = Tap::new();
    t.set_peer(Side::Sip, a(4000), a(4001));
    t.set_peer(Side::H323, a(5000), a(5001));
    t.set_sip_te(Some(101));
    t
}

#[test]
fn audio_crosses_both_ways_and_strangers_are_dropped() {
    let mut t = tap();
    let now = Instant::now();
    let p = rtp(0, 1, 160, &[0xff; 160]);
    let out = t.on_packet(Side::Sip, false, a(4000), p.clone(), now);
    assert_eq!(
        out,
        Action::Send {
            from_side: Side::H323,
            rtcp: false,
            to: a(5000),
            data: p.clone()
        }
    );
    let out = t.on_packet(Side::H323, false, a(5000), p.clone(), now);
    assert_eq!(
        out,
        Action::Send {
            from_side: Side::Sip,
            rtcp: false,
            to: a(4000),
            data: p.clone()
        }
    );
    // latched: another source on the SIP side is a stranger
    assert_eq!(t.on_packet(Side::Sip, false, a(4100), p, now), Action::Drop);
    assert_eq!(t.dropped, 1);
}

#[test]
fn the_first_packet_latches_the_peer() {
    let mut t = tap();
    let now = Instant::now();
    // the SIP side's relay sends from another port than its SDP named
    let p = rtp(0, 1, 160, &[0; 160]);
    assert!(matches!(
        t.on_packet(Side::Sip, false, a(4444), p.clone(), now),
        Action::Send { .. }
    ));
    let back = t.on_packet(Side::H323, false, a(5000), p, now);
    assert!(matches!(back, Action::Send { to, .. } if to == a(4444)));
}

#[test]
fn an_rfc_4733_event_from_sip_is_one_digit_and_never_forwarded() {
    let mut t = tap();
    let now = Instant::now();
    let start = rtp(
        101,
        5,
        800,
        &Event {
            event: 11,
            end: false,
            volume: 10,
            duration: 160,
        }
        .encode(),
    );
    assert_eq!(
        t.on_packet(Side::Sip, false, a(4000), start, now),
        Action::Drop
    );
    let end = rtp(
        101,
        6,
        800,
        &Event {
            event: 11,
            end: true,
            volume: 10,
            duration: 960,
        }
        .encode(),
    );
    assert_eq!(
        t.on_packet(Side::Sip, false, a(4000), end.clone(), now),
        Action::Digit {
            digit: '#',
            duration_ms: 120
        }
    );
    // the end packet's retransmissions report nothing more
    assert_eq!(
        t.on_packet(Side::Sip, false, a(4000), end.clone(), now),
        Action::Drop
    );
    assert_eq!(
        t.on_packet(Side::Sip, false, a(4000), end, now),
        Action::Drop
    );
    // without a negotiated telephone-event, the same packet is just audio
    t.set_sip_te(None);
    let other = rtp(
        101,
        9,
        1600,
        &Event {
            event: 1,
            end: true,
            volume: 10,
            duration: 960,
        }
        .encode(),
    );
    assert!(matches!(
        t.on_packet(Side::Sip, false, a(4000), other, now),
        Action::Send { .. }
    ));
}

#[test]
fn a_digit_to_sip_joins_the_stream_and_renumbers_what_follows() {
    let mut t = tap();
    let now = Instant::now();
    let _ = t.on_packet(
        Side::H323,
        false,
        a(5000),
        rtp(8, 100, 16_000, &[0; 160]),
        now,
    );
    let later = now + Duration::from_millis(10);
    let ev = t.digit_to_sip('5', 100, later);
    assert_eq!(ev.len(), 4);
    for (n, (to, p)) in ev.iter().enumerate() {
        assert_eq!(*to, a(4000));
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 101 + n as u16);
        assert_eq!(u32::from_be_bytes([p[4], p[5], p[6], p[7]]), 16_080);
        assert_eq!(&p[8..12], &0x1234_5678u32.to_be_bytes());
        let e = Event::decode(&p[12..]).unwrap();
        assert_eq!((e.event, e.end), (5, n > 0));
        assert_eq!(p[1] & 0x80 != 0, n == 0, "marker on the first packet only");
    }
    assert_eq!(Event::decode(&ev[3].1[12..]).unwrap().duration, 800);
    let next = t.on_packet(
        Side::H323,
        false,
        a(5000),
        rtp(8, 101, 16_160, &[0; 160]),
        later,
    );
    let Action::Send { data, .. } = next else {
        panic!("{next:?}")
    };
    assert_eq!(u16::from_be_bytes([data[2], data[3]]), 105);
}

#[test]
fn a_digit_before_any_audio_waits_then_starts_the_tap_s_own_stream() {
    let mut t = tap();
    let now = Instant::now();
    assert!(
        t.digit_to_sip('1', 100, now).is_empty(),
        "held for the audio's stream"
    );
    assert_eq!(t.poll_timeout(), Some(now + DIGIT_WAIT));
    assert!(t
        .handle_timeout(now + Duration::from_millis(100))
        .is_empty());
    let ev = t.handle_timeout(now + DIGIT_WAIT);
    assert_eq!(ev.len(), 4);
    assert_eq!(t.poll_timeout(), None);
    let seqs: Vec<u16> = ev
        .iter()
        .map(|(_, p)| u16::from_be_bytes([p[2], p[3]]))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{seqs:?}"
    );
    let mut off = Tap::new();
    off.set_peer(Side::Sip, a(4000), a(4001));
    assert!(
        off.digit_to_sip('1', 100, now).is_empty(),
        "no telephone-event negotiated"
    );
    assert_eq!(off.poll_timeout(), None, "nothing held either");
}

#[test]
fn held_digits_join_the_audio_stream_when_it_comes_each_with_its_own_timestamp() {
    let mut t = tap();
    let now = Instant::now();
    assert!(t.digit_to_sip('1', 100, now).is_empty());
    assert!(t.digit_to_sip('2', 100, now).is_empty());
    let _ = t.on_packet(Side::H323, false, a(5000), rtp(0, 10, 8000, &[0; 160]), now);
    assert!(t.digits_ready());
    let ev = t.handle_timeout(now);
    assert_eq!(ev.len(), 8);
    assert!(
        ev.iter()
            .all(|(_, p)| p[8..12] == 0x1234_5678u32.to_be_bytes()),
        "the audio's SSRC"
    );
    let ts = |p: &[u8]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    assert_eq!(ts(&ev[0].1), 8000);
    assert_eq!(
        ts(&ev[4].1),
        8800,
        "the second event after the first's 100 ms"
    );
}

#[test]
fn rtcp_follows_the_peer_ip() {
    let mut t = tap();
    let now = Instant::now();
    let out = t.on_packet(Side::H323, true, a(5001), vec![0x80, 200, 0, 1], now);
    assert!(matches!(out, Action::Send { rtcp: true, to, .. } if to == a(4001)));
}

proptest! {
    #[test]
    fn arbitrary_packets_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64), sip in any::<bool>(), rtcp in any::<bool>()) {
        let mut t = tap();
        let side = if sip { Side::Sip } else { Side::H323 };
        let from = if sip { a(4000) } else { a(5000) };
        let _ = t.on_packet(side, rtcp, from, data, Instant::now());
        let _ = t.digit_to_sip('1', 100, Instant::now());
    }
}
