//! Unit tests of `sip/src/message/grammar.rs`.

use super::*;

#[test]
fn rfc5118_4_3_ambiguous_port_is_part_of_the_address() {
    let Uri::Sip(u) = parse_uri("sip:[2001:db8::10:5070]").unwrap() else {
        panic!()
    };
    assert_eq!(u.host, Host::V6("2001:db8::10:5070".parse().unwrap()));
    assert_eq!(u.port, None);
    let Uri::Sip(u) = parse_uri("sip:[2001:db8::10]:5070").unwrap() else {
        panic!()
    };
    assert_eq!(u.port, Some(5070));
}

#[test]
fn rfc5118_4_2_unbracketed_ipv6_is_rejected() {
    assert!(parse_uri("sip:2001:db8::10").is_err());
}

#[test]
fn rfc4475_semiuri_user_part_holds_the_semicolon() {
    let Uri::Sip(u) = parse_uri("sip:user;par=u%40example.net@example.com").unwrap() else {
        panic!()
    };
    assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
    assert!(u.params.is_empty());
}

#[test]
fn name_addr_forms() {
    let n = parse_single_name_addr(
        "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
    )
    .unwrap();
    assert_eq!(n.tag(), Some("98asjd8"));
    assert_eq!(n.display.as_deref(), Some("\"J Rosenberg \\\\\\\"\""));
    let n = parse_single_name_addr("caller<sip:caller@example.com>;tag=323").unwrap();
    assert_eq!(n.display.as_deref(), Some("caller"));
    assert!(parse_single_name_addr("Bell, Alexander <sip:a@b>").is_err());
    assert!(parse_single_name_addr("\"Mr. J. User <sip:j.user@example.com>").is_err());
    assert!(parse_single_name_addr("\"W\" < sip:t.watson@example.org >").is_err());
    let n = parse_single_name_addr("sip:+1972@gw1.example.net;unknownparam").unwrap();
    assert!(n.params.has("unknownparam"));
    let n = parse_single_name_addr("<sip:+1972@gw1.example.net;unknownparam>").unwrap();
    assert!(n.params.is_empty());
    assert!(n.uri.as_sip().unwrap().params.has("unknownparam"));
    assert!(parse_single_name_addr("isbn:2983792873").is_ok());
}

#[test]
fn via_with_lws_everywhere() {
    let mut v = Vec::new();
    parse_vias(&unfold("SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239"), &mut v).unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(v[1].transport, "UDP");
    assert_eq!(v[1].branch(), Some("z9hG4bK30239"));
    assert!(parse_vias("SIP/2.0/UDP 192.0.2.15;;,;,,", &mut Vec::new()).is_err());
    let mut v = Vec::new();
    parse_vias(
        "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3",
        &mut v,
    )
    .unwrap();
    assert_eq!(v[0].received(), Some("[2001:db8::9:255]"));
}

#[test]
fn numbers() {
    assert_eq!(parse_u32("0068", 255), Ok(68));
    assert!(parse_u32("300", 255).is_err());
    assert!(parse_u32("36893488147419103232", u64::from(u32::MAX)).is_err());
    assert!(parse_u32("-999", 10).is_err());
    assert!(parse_cseq("36893488147419103232 INVITE").is_err());
    assert_eq!(
        parse_cseq(&unfold("0009\r\n  INVITE")),
        Ok((9, Method::Invite))
    );
}

#[test]
fn ipv4_reads_as_the_std_parser_does() {
    for s in [
        "192.0.2.1",
        "0.0.0.0",
        "255.255.255.255",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.",
        ".1.2.3",
        "1..2.3",
        "1.2.3.4a",
        "1234.1.1.1",
        "a.b.c.d",
        "",
        "1.2.3.0",
        "10.0.0.00",
        "example.com",
        "1.2.3.-4",
        "+1.2.3.4",
        "١.2.3.4",
    ] {
        assert_eq!(ipv4(s.as_bytes()), s.parse::<Ipv4Addr>().ok(), "{s}");
    }
}

proptest::proptest! {
    /// The hand-rolled number reader gives what `str::parse` of the same digits gives, for
    /// leading zeros, blanks around, eleven-digit values and anything that is no number.
    #[test]
    fn parse_u32_agrees_with_str_parse(s in "[ \t]{0,2}(0{0,3}[0-9]{0,11}|[0-9a-z +-]{0,6})[ \t]{0,2}", max in proptest::prop_oneof![proptest::strategy::Just(u64::from(u32::MAX)), 0u64..300]) {
        let t = s.trim();
        let want = if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            t.parse::<u64>().ok().filter(|n| *n <= max).map(|n| n as u32)
        };
        proptest::prop_assert_eq!(parse_u32(&s, max).ok(), want);
    }

    /// The byte-wise trims give what `str::trim` gives, also for non-ASCII blanks.
    #[test]
    fn trims_agree_with_str(s in "[ \t\r\n\u{a0}\u{3000}a-z]{0,8}") {
        proptest::prop_assert_eq!(trim(&s), s.trim());
        proptest::prop_assert_eq!(trim_start(&s), s.trim_start());
        proptest::prop_assert_eq!(trim_end(&s), s.trim_end());
    }
}
