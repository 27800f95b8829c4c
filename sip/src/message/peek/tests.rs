//! `peek` agrees with the full parse on what it reads, on generated messages and on the
//! torture corpus, and never panics.

use super::*;
use crate::message::Message;
use bytes::Bytes;
use proptest::prelude::*;

fn agrees(buf: &[u8]) -> Result<(), TestCaseError> {
    let Ok(m) = Message::parse(Bytes::copy_from_slice(buf)) else {
        return Ok(());
    };
    if m.defect().is_some() {
        return Ok(());
    }
    let p = peek(buf).ok_or_else(|| TestCaseError::fail("a parsed message peeks"))?;
    prop_assert_eq!(p.call_id, m.call_id());
    prop_assert_eq!(p.cseq_method, m.cseq().map(|(_, x)| x.as_str()));
    prop_assert_eq!(p.to_tag, m.to().is_some_and(|t| t.tag().is_some()));
    prop_assert_eq!(p.method(), m.method().map(Method::as_str));
    prop_assert_eq!(p.status().map(|(c, _)| c), m.status());
    for (written, parsed) in [(p.from, m.from()), (p.to, m.to())] {
        if let (Some(w), Some(n)) = (written, parsed) {
            let uri = Uri::parse(written_uri(w)).ok();
            prop_assert_eq!(uri.as_ref(), Some(&n.uri));
        }
    }
    Ok(())
}

use crate::message::{Method, Uri};

#[test]
fn reads_a_request_and_a_response() {
    let invite = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
        f: <sip:a@x>;tag=1\r\nt: \"Bob; tag=no\" <sip:bob@example.com;tag=uri-param>\r\n\
        i: abc@h\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let p = peek(invite).expect("peek");
    assert_eq!(p.start_line, "INVITE sip:bob@example.com SIP/2.0");
    assert_eq!((p.method(), p.status()), (Some("INVITE"), None));
    assert_eq!(p.call_id, Some("abc@h"));
    assert_eq!(p.cseq_method, Some("INVITE"));
    assert!(
        !p.to_tag,
        "a tag inside the display name or the URI is not the To tag"
    );
    agrees(invite).expect("agrees");
    let ok = b"SIP/2.0 486 Busy Here\r\nTo: sip:bob@example.com ;tag = 9\r\nCall-ID: x\r\n\
        CSeq: 2\r\n  INVITE\r\n\r\n";
    let p = peek(ok).expect("peek");
    assert_eq!(p.status(), Some((486, "Busy Here")));
    assert!(p.to_tag);
    assert_eq!(p.cseq_method, Some("INVITE"), "a folded CSeq");
    agrees(ok).expect("agrees");
    assert!(peek(b"\xff\xfe").is_none());
    assert!(peek(b"").is_none());
}

#[test]
fn the_first_of_each_field_counts_after_the_four_are_read() {
    // the first CSeq has no method: reading goes on to the second; the Call-ID, From and To
    // after that do not replace the first ones
    let m = b"BYE sip:b@h SIP/2.0\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: first\r\n\
        CSeq: 7\r\nCSeq: 8 BYE\r\nCall-ID: second\r\nTo: <sip:c@h>;tag=2\r\nFrom: <sip:d@x>\r\n\r\n";
    let p = peek(m).expect("peek");
    assert_eq!(p.call_id, Some("first"));
    assert_eq!(p.cseq_method, Some("BYE"));
    assert_eq!((p.to, p.to_tag), (Some("<sip:b@h>"), false));
    assert_eq!(p.from, Some("<sip:a@x>;tag=1"));
}

#[test]
fn a_tag_parameter_without_a_value_is_no_tag() {
    // found by the fuzz target `peek`: the parser keeps `;tag` as a parameter without a value,
    // and `NameAddr::tag` gives no tag for it
    for to in [
        "<sip:user@example.ed>;tag",
        "<sip:u@h>;tag ;x=1",
        "sip:u@h;tag",
    ] {
        let m = format!("SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP h\r\nTo: {to}\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n");
        agrees(m.as_bytes()).unwrap_or_else(|e| panic!("{to}: {e}"));
        assert!(!peek(m.as_bytes()).expect("peek").to_tag, "{to}");
    }
    let crash = b"SIP/2.0 100 \r\nVia: SIP/2.0/UDP 193\r\nTo: <sip:user@example.ed>;tag\r\n\r\n\
        e.net;tag=93335\r\nMax-Forwaten[t-Length:\x1a152\r\n\r\nv=0\r\no=mh9 IN  0\r\n%\n\r\xfa";
    agrees(crash).unwrap();
    // found by review: only the first `tag` counts, and quoted or bracketed values hide a `;`
    for (to, tag) in [
        ("<sip:u@h>;tag;tag=1", false),
        ("<sip:u@h>;x=\"a;tag=1\"", false),
        ("sip:u@h;x=\";tag=1\"", false),
        ("<sip:u@h>;x=[;tag=1]", false),
        ("<sip:u@h>;x=a[b;tag=1", true),
        ("<sip:u@h>;tag=1;x=\">\"", true),
        ("\"A <b>; tag=2\" <sip:u@h>", false),
        ("\"A\" <sip:u@h;tag=3>;tag=4", true),
        ("sip:u@h;tag=5", true),
    ] {
        let m = format!("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h\r\nTo: {to}\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n");
        agrees(m.as_bytes()).unwrap_or_else(|e| panic!("{to}: {e}"));
        assert_eq!(peek(m.as_bytes()).expect("peek").to_tag, tag, "{to}");
    }
    let with =
        b"SIP/2.0 180 Ringing\r\nTo: <sip:u@h>;tag=9\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
    assert!(peek(with).expect("peek").to_tag);
}

#[test]
fn line_ends_before_the_start_line_are_skipped() {
    // found by the fuzz target `peek`: the parser skips them (RFC 3261 7.5), peek took the
    // empty line for the start line (or, after a CRLF CRLF, the end of the header section)
    for lead in ["\n\n\n", "\r\n", "\r\n\r\n", "\r\r\n\n"] {
        for start in ["SIP/2.0 200 OK", "BYE sip:b@h SIP/2.0"] {
            let m = format!("{lead}{start}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n\r\n");
            agrees(m.as_bytes()).unwrap_or_else(|e| panic!("{lead:?} {start}: {e}"));
            let p = peek(m.as_bytes()).expect("peek");
            assert_eq!(
                (p.start_line, p.call_id, p.to_tag),
                (start, Some("c"), true)
            );
        }
    }
    assert!(peek(b"\r\n\r\n").is_none());
}

#[test]
fn only_what_is_read_must_be_text() {
    // the walk stops once the four fields are read: a line after them is not looked at
    let m =
        b"BYE sip:b@h SIP/2.0\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\n\
        CSeq: 1 BYE\r\nX-Late: \xff\r\n\r\n";
    assert_eq!(peek(m).expect("peek").call_id, Some("c"));
    // a field it reads, the name of a line it passes, or the start line, not text: no glance
    for m in [
        &b"BYE sip:b@h SIP/2.0\r\nCall-ID: \xff\r\nCSeq: 1 BYE\r\n\r\n"[..],
        b"BYE sip:b@h SIP/2.0\r\nX-\xff: 1\r\nCall-ID: c\r\n\r\n",
        b"BYE sip:\xff SIP/2.0\r\nCall-ID: c\r\n\r\n",
    ] {
        assert!(peek(m).is_none(), "{m:?}");
    }
    // the header section ends at the first empty line: a Call-ID in the body is not read
    let body = b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\nCall-ID: in-the-body\r\n";
    assert_eq!(peek(body).expect("peek").call_id, None);
}

#[test]
fn a_folded_to_value_is_read_unfolded() {
    // found by the fuzz target `peek` (a torture message cut and pasted): a To whose value
    // starts on a continuation line, with the tag two folds further down
    let m =
        b"INVITE sip:a@h SIP/2.0\r\nTO :\r\n sip:vivekg@chair-dnrc.e\r\n  ;\r\n  tag = 98asjd8\r\n\
        Call-ID: c\r\ncseq: 0009\r\n  INVITE\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n";
    agrees(m).expect("agrees");
    assert!(peek(m).expect("peek").to_tag);
}

#[test]
fn agrees_with_the_parser_on_the_torture_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/torture");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "dat" || e == "sip") {
            let bytes = std::fs::read(&path).unwrap_or_default();
            agrees(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n > 30, "torture messages found: {n} in {}", dir.display());
}

proptest! {
    #[test]
    fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = peek(&b);
    }

    #[test]
    fn agrees_on_mutated_messages(mut b in proptest::collection::vec(any::<u8>(), 0..16), pos in 0usize..400) {
        let base = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            From: <sip:a@x>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: abc@h\r\n\
            CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n".to_vec();
        let at = pos.min(base.len());
        let mut m = base[..at].to_vec();
        m.append(&mut b);
        m.extend_from_slice(&base[at..]);
        agrees(&m)?;
    }
}
