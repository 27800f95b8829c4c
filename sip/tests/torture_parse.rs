//! RFC 4475 / RFC 5118 torture corpus against the message layer: every file of
//! `../shared/torture/expected.tsv` must meet its expectation (accepted, or rejected with the
//! listed status, or dropped). The end-to-end replay over real sockets is in the tests crate.

use causeway_sip::message::{check_request, check_response, Bytes, Message};
use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/torture"))
}

/// What the message layer says about one file: "ok", a status ("400", "505", ...), or "drop".
fn verdict(bytes: &[u8]) -> String {
    match Message::parse(Bytes::copy_from_slice(bytes)) {
        Err(_) => "drop".into(),
        Ok(m) if m.is_request() => match check_request(&m, &["sip", "sips", "tel"], &[]) {
            Ok(()) => "ok".into(),
            Err(r) => r.status.to_string(),
        },
        Ok(m) => match check_response(&m) {
            Ok(()) => "ok".into(),
            Err(_) => "drop".into(),
        },
    }
}

/// The verdicts RFC 4475/5118 allow for each file, as the message layer sees it (the proxy adds
/// 483 for zeromf and routing answers on top).
fn allowed(file: &str, class: &str) -> &'static [&'static str] {
    match file {
        "badvers.dat" => &["505"],
        "unkscm.dat" => &["416"],
        "novelsc.dat" => &["416"],
        "bext01.dat" => &["420"],
        "insuf.dat" | "multi01.dat" | "mcl01.dat" => &["400"],
        "scalarlg.dat" | "bigcode.dat" => &["drop"],
        "baddate.dat" => &["ok", "400"],
        "badbranch.dat" => &["ok", "400"],
        "escruri.dat" => &["400", "ok"],
        "rfc5118/ipv6-bug-abnf-3-colons.dat" => &["ok", "400"],
        "test.dat" => &["drop", "400"],
        _ => match class {
            "valid" | "valid-syntax" => &["ok"],
            "invalid" => &["400", "drop"],
            _ => &["ok"],
        },
    }
}

#[test]
fn rfc4475_and_rfc5118_corpus_meets_expected_tsv() {
    let dir = corpus();
    let tsv =
        std::fs::read_to_string(dir.join("expected.tsv")).expect("shared/torture/expected.tsv");
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, class) = (cols[0], cols[2]);
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = verdict(&bytes);
        let ok = allowed(file, class).contains(&got.as_str());
        println!(
            "{:45} {:15} {:6} {}",
            file,
            class,
            got,
            if ok { "" } else { "MISMATCH" }
        );
        if !ok {
            failures.push(format!(
                "{file}: class {class}, got {got}, allowed {:?}",
                allowed(file, class)
            ));
        }
        rows += 1;
    }
    assert!(rows >= 60, "only {rows} corpus rows");
    assert!(
        failures.is_empty(),
        "corpus mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn rfc4475_3_1_2_15_baddn_with_its_header_section_closed_is_400() {
    let bytes = std::fs::read(corpus().join("variants/baddn-terminated.dat")).unwrap();
    assert_eq!(verdict(&bytes), "400");
}

fn parse_file(name: &str) -> Message {
    Message::parse(Bytes::from(std::fs::read(corpus().join(name)).unwrap())).unwrap()
}

#[test]
fn rfc4475_3_1_1_1_wsinv_values() {
    let m = parse_file("wsinv.dat");
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.vias().len(), 3);
    assert_eq!(m.from().unwrap().tag(), Some("98asjd8"));
    assert_eq!(m.to().unwrap().tag(), Some("1918181833n"));
    assert_eq!(m.cseq().map(|(n, _)| n), Some(9));
    assert_eq!(
        m.header("NewFangledHeader"),
        Some("newfangled value\r\n continued newfangled value")
    );
    // rewriting only Max-Forwards keeps every other byte, folding included
    let out = m.rewrite().set_max_forwards(67).finish();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n"));
    assert!(text.contains("Max-Forwards: 67\r\n"));
    assert!(text.contains("UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"));
    assert_eq!(&out[out.len() - m.body().len()..], m.body());
}

#[test]
fn rfc4475_3_1_1_8_dblreq_ignores_the_trailing_invite() {
    let m = parse_file("dblreq.dat");
    assert_eq!(m.method().map(|m| m.as_str()), Some("REGISTER"));
    assert!(m.body().is_empty());
    assert!(m.defect().is_none());
}

#[test]
fn rfc4475_3_1_1_11_mpart01_body_is_kept_byte_for_byte() {
    let raw = std::fs::read(corpus().join("mpart01.dat")).unwrap();
    let m = Message::parse(Bytes::from(raw.clone())).unwrap();
    let out = m
        .rewrite()
        .push_via("SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx")
        .finish();
    assert!(out.ends_with(m.body()));
    assert_eq!(m.body().len(), m.content_length().unwrap());
}

#[test]
fn rfc4475_3_1_1_3_esc01_escaped_user_compares_unescaped() {
    let m = parse_file("esc01.dat");
    let u = m.request_uri().unwrap().as_sip().unwrap().clone();
    let plain = causeway_sip::message::Uri::parse("sip:sips:user@example.com@example.net").ok();
    let _ = plain;
    assert_eq!(
        u.user_unescaped().unwrap(),
        b"sips:user@example.com".to_vec()
    );
}

#[test]
fn rfc5118_ports_and_received() {
    let m = parse_file("rfc5118/port-ambiguous.dat");
    let u = m.request_uri().unwrap().as_sip().unwrap();
    assert_eq!(u.port, None);
    let m = parse_file("rfc5118/port-unambiguous.dat");
    assert_eq!(m.request_uri().unwrap().as_sip().unwrap().port, Some(5070));
    let m = parse_file("rfc5118/via-received-param-no-delim.dat");
    assert_eq!(m.vias()[0].received(), Some("2001:db8::9:255"));
}

#[test]
fn rfc4475_3_3_12_and_13_contact_parameter_placement() {
    use causeway_sip::message::Contacts;
    let m = parse_file("cparam01.dat");
    let Some(Contacts::List(c)) = m.contacts() else {
        panic!()
    };
    assert!(c[0].params.has("unknownparam"));
    let m = parse_file("cparam02.dat");
    let Some(Contacts::List(c)) = m.contacts() else {
        panic!()
    };
    assert!(c[0].uri.as_sip().unwrap().params.has("unknownparam"));
    assert!(!c[0].params.has("unknownparam"));
}
