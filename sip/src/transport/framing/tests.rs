//! Unit tests of `sip/src/transport/framing.rs`.

use super::*;
use proptest::prelude::*;

fn msg(body: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn drain(f: &mut Framer) -> Result<Vec<Frame>, FrameError> {
    let mut out = Vec::new();
    while let Some(x) = f.next_frame()? {
        out.push(x);
    }
    Ok(out)
}

#[test]
fn rfc3261_18_3_frames_by_content_length() {
    let mut f = Framer::new(65535, 256);
    let mut stream = msg("hello");
    stream.extend(msg(""));
    f.push(&stream);
    let frames = drain(&mut f).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0], Frame::Message(Bytes::from(msg("hello"))));
}

#[test]
fn rfc5626_ping_is_reported_and_pong_ignored() {
    let mut f = Framer::new(65535, 256);
    f.push(b"\r\n\r\n");
    assert_eq!(f.next_frame(), Ok(Some(Frame::Ping)));
    f.push(b"\r\n");
    assert_eq!(f.next_frame(), Ok(None));
    f.push(&msg("x"));
    assert_eq!(
        f.next_frame(),
        Ok(Some(Frame::Message(Bytes::from(msg("x")))))
    );
}

/// A quiet traversal link: the far end's pongs a read apart, with our pings between. What is
/// held back is keep-alive traffic, never a message under way (the slowloris deadline of the
/// stream reader runs only while `message_pending`).
#[test]
fn keep_alives_alone_are_never_a_message_under_way() {
    let mut f = Framer::new(65535, 256);
    for bytes in [
        &b"\r\n"[..],
        b"\r\n",
        b"\r\n\r\n",
        b"\r",
        b"\n",
        b"\r\n\r\n",
    ] {
        f.push(bytes);
        drain(&mut f).unwrap();
        assert!(
            !f.message_pending(),
            "after {bytes:?}: {} held",
            f.pending()
        );
    }
    f.push(b"\r\nOPT");
    drain(&mut f).unwrap();
    assert!(f.message_pending(), "the start of a message");
    f.push(&msg("x")[3..]);
    assert_eq!(
        f.next_frame(),
        Ok(Some(Frame::Message(Bytes::from(msg("x")))))
    );
    assert!(!f.message_pending());
}

#[test]
fn missing_or_bad_content_length_and_limits() {
    let mut f = Framer::new(65535, 256);
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
    assert_eq!(f.next_frame(), Err(FrameError::MissingContentLength));
    let mut f = Framer::new(65535, 256);
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\n");
    assert!(matches!(
        f.next_frame(),
        Err(FrameError::BadContentLength(_))
    ));
    let mut f = Framer::new(100, 256);
    f.push(&[b'a'; 200]);
    assert_eq!(f.next_frame(), Err(FrameError::TooLarge(100)));
    let mut f = Framer::new(65535, 3);
    f.push(b"A sip:a SIP/2.0\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\nl: 0\r\n\r\n");
    assert_eq!(f.next_frame(), Err(FrameError::TooManyHeaders(3)));
}

proptest! {
    #[test]
    fn split_points_do_not_change_the_frames(cuts in proptest::collection::vec(1usize..40, 0..12), bodies in proptest::collection::vec("[a-z]{0,30}", 1..4)) {
        let mut stream = Vec::new();
        for b in &bodies { stream.extend(msg(b)); stream.extend(b"\r\n\r\n"); }
        let mut whole = Framer::new(65535, 256);
        whole.push(&stream);
        let expected = drain(&mut whole).unwrap();
        let mut f = Framer::new(65535, 256);
        let mut got = Vec::new();
        let mut rest = &stream[..];
        for c in cuts {
            let c = c.min(rest.len());
            f.push(&rest[..c]);
            rest = &rest[c..];
            got.extend(drain(&mut f).unwrap());
        }
        f.push(rest);
        got.extend(drain(&mut f).unwrap());
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut f = Framer::new(512, 16);
        f.push(&data);
        for _ in 0..20 { if !matches!(f.next_frame(), Ok(Some(_))) { break; } }
    }
}
