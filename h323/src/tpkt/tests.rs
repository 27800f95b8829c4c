//! Tests of TPKT framing (RFC 1006 section 6): the header, the payload limits, and any
//! chunking of a stream yielding the same frames.

use super::*;
use proptest::prelude::*;

#[test]
fn rfc1006_6_header_counts_itself() {
    let f = encode(b"abc").unwrap();
    assert_eq!(&f[..], &[3, 0, 0, 7, b'a', b'b', b'c']);
    assert_eq!(&encode(b"").unwrap()[..], &[3, 0, 0, 4]);
}

#[test]
fn rfc1006_6_max_payload() {
    let big = vec![0u8; TPKT_MAX_PAYLOAD];
    let f = encode(&big).unwrap();
    assert_eq!(&f[..4], &[3, 0, 0xff, 0xff]);
    assert_eq!(
        encode(&[0u8; TPKT_MAX_PAYLOAD + 1]),
        Err(TpktError::PayloadTooLarge(TPKT_MAX_PAYLOAD + 1))
    );
}

#[test]
fn frames_split_and_joined() {
    let mut fr = TpktFramer::new(1000);
    let mut stream = encode(b"hello").unwrap().to_vec();
    stream.extend_from_slice(&encode(b"").unwrap());
    stream.extend_from_slice(&encode(b"world!").unwrap());
    fr.push(&stream[..3]).unwrap();
    assert_eq!(fr.next_frame(), Ok(None));
    fr.push(&stream[3..]).unwrap();
    assert_eq!(fr.next_frame().unwrap().unwrap(), &b"hello"[..]);
    assert_eq!(fr.next_frame().unwrap().unwrap(), &b""[..]);
    assert_eq!(fr.next_frame().unwrap().unwrap(), &b"world!"[..]);
    assert_eq!(fr.next_frame(), Ok(None));
    assert_eq!(fr.pending(), 0);
}

#[test]
fn bad_version_is_fatal_and_sticky() {
    let mut fr = TpktFramer::new(1000);
    fr.push(&[4]).unwrap();
    assert_eq!(fr.next_frame(), Err(TpktError::BadVersion(4)));
    assert_eq!(fr.push(&[3, 0, 0, 4]), Err(TpktError::BadVersion(4)));
    assert_eq!(fr.next_frame(), Err(TpktError::BadVersion(4)));
}

#[test]
fn length_below_header_is_fatal() {
    for len in 0..4u8 {
        let mut fr = TpktFramer::new(1000);
        fr.push(&[3, 0, 0, len]).unwrap();
        assert_eq!(
            fr.next_frame(),
            Err(TpktError::LengthTooShort(u16::from(len)))
        );
    }
}

#[test]
fn oversized_frame_refused_before_buffering() {
    let mut fr = TpktFramer::new(100);
    fr.push(&[3, 0, 0, 105]).unwrap();
    assert_eq!(
        fr.next_frame(),
        Err(TpktError::FrameTooLarge { len: 101, max: 100 })
    );
}

#[test]
fn buffer_is_bounded() {
    let mut fr = TpktFramer::new(100);
    let cap = fr.capacity();
    assert!(fr.push(&vec![3u8; cap]).is_ok());
    assert!(matches!(fr.push(&[3]), Err(TpktError::BufferFull { .. })));
    assert_eq!(fr.pending(), 0);
}

proptest! {
    #[test]
    fn any_chunking_yields_the_frames(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..12),
        cuts in proptest::collection::vec(1usize..64, 1..200),
    ) {
        let mut stream = Vec::new();
        for p in &payloads {
            stream.extend_from_slice(&encode(p).unwrap());
        }
        let mut fr = TpktFramer::new(300);
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            i += 1;
            fr.push(&rest[..n]).unwrap();
            rest = &rest[n..];
            while let Some(f) = fr.next_frame().unwrap() {
                got.push(f.to_vec());
            }
        }
        prop_assert_eq!(got, payloads);
        prop_assert_eq!(fr.pending(), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20),
    ) {
        let mut fr = TpktFramer::new(200);
        for c in &chunks {
            if fr.push(c).is_err() {
                break;
            }
            while let Ok(Some(_)) = fr.next_frame() {}
            prop_assert!(fr.pending() <= fr.capacity());
        }
    }
}
