//! STUN keep-alive answers checked against RFC 5769's test vectors and an independent little
//! decoder; proptests for any transaction and address, junk and SIP text.

use super::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 5769 2.1, the sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
/// MESSAGE-INTEGRITY, FINGERPRINT).
const RFC5769_REQUEST: &str = "0001 0058 2112a442 b7e7a701 bc34d686 fa87dfae
    80220010 5354554e 20746573 7420636c 69656e74 00240004 6e0001ff 80290008 932ff9b1
    51263b36 00060009 6576746a 3a683676 59202020 00080014 9aeaa70c bfd8cb56 781ef2b5
    b2d3f249 c1b571a2 80280004 e57a3bcf";

/// The test's own decoder: (type, txid, XOR-MAPPED-ADDRESS decoded, fingerprint present).
fn decode(m: &[u8]) -> (u16, [u8; 12], Option<SocketAddr>, bool) {
    assert!(m.len() >= 20 && (m.len() - 20).is_multiple_of(4), "{m:?}");
    assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len() - 20);
    assert_eq!(&m[4..8], &[0x21, 0x12, 0xa4, 0x42]);
    let txid: [u8; 12] = m[8..20].try_into().unwrap();
    let (mut i, mut addr, mut fp) = (20, None, false);
    while i + 4 <= m.len() {
        let t = u16::from_be_bytes([m[i], m[i + 1]]);
        let len = usize::from(u16::from_be_bytes([m[i + 2], m[i + 3]]));
        let v = &m[i + 4..i + 4 + len];
        if t == 0x0020 {
            let port = u16::from_be_bytes([v[2], v[3]]) ^ 0x2112;
            let mut key = vec![0x21, 0x12, 0xa4, 0x42];
            key.extend_from_slice(&txid);
            let ip: Vec<u8> = v[4..].iter().zip(&key).map(|(a, k)| a ^ k).collect();
            let ip = match v[1] {
                1 => IpAddr::from(<[u8; 4]>::try_from(ip.as_slice()).unwrap()),
                _ => IpAddr::from(<[u8; 16]>::try_from(ip.as_slice()).unwrap()),
            };
            addr = Some(SocketAddr::new(ip, port));
        }
        if t == 0x8028 {
            let crc = crc32fast::hash(&m[..i]) ^ 0x5354_554e;
            assert_eq!(v, crc.to_be_bytes(), "FINGERPRINT");
            fp = true;
        }
        i += 4 + ((len + 3) & !3);
    }
    (u16::from_be_bytes([m[0], m[1]]), txid, addr, fp)
}

#[test]
fn rfc5769_sample_request_is_answered_with_the_source_address() {
    let req = hex(RFC5769_REQUEST);
    let src: SocketAddr = "192.0.2.1:32853".parse().unwrap();
    let Stun::Answer(a) = classify(&req, src) else {
        panic!("a Binding request");
    };
    let (kind, txid, addr, fp) = decode(&a);
    assert_eq!(kind, 0x0101);
    assert_eq!(txid.as_slice(), &req[8..20]);
    assert_eq!(addr, Some(src));
    assert!(fp, "the request had a FINGERPRINT: mirrored");
}

#[test]
fn rfc5769_xor_mapped_address_bytes() {
    let txid: [u8; 12] = hex("b7e7a701 bc34d686 fa87dfae").try_into().unwrap();
    // 2.2: 192.0.2.1 port 32853
    assert_eq!(
        xor_mapped(&txid, "192.0.2.1:32853".parse().unwrap()),
        hex("0001 a147 e112a643")
    );
    // 2.3: 2001:db8:1234:5678:11:2233:4455:6677 port 32853
    assert_eq!(
        xor_mapped(
            &txid,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap()
        ),
        hex("0002 a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9")
    );
}

#[test]
fn unknown_comprehension_required_attributes_get_420() {
    let mut req = hex("0001 0008 2112a442 000102030405060708090a0b 7fff0004 00000000");
    let Stun::Answer(a) = classify(&req, "192.0.2.1:1".parse().unwrap()) else {
        panic!("answered");
    };
    assert_eq!(u16::from_be_bytes([a[0], a[1]]), 0x0111);
    assert!(a.windows(2).any(|w| w == [0x7f, 0xff]), "listed: {a:?}");
    // comprehension-optional ones are ignored
    req[20] = 0x80;
    assert!(matches!(
        classify(&req, "192.0.2.1:1".parse().unwrap()),
        Stun::Answer(a) if a[1] == 0x01
    ));
}

#[test]
fn responses_and_indications_are_dropped_and_sip_is_not_stun() {
    let mut resp = hex("0101 0000 2112a442 000102030405060708090a0b");
    assert_eq!(classify(&resp, "192.0.2.1:1".parse().unwrap()), Stun::Drop);
    resp[1] = 0x11; // indication
    assert_eq!(classify(&resp, "192.0.2.1:1".parse().unwrap()), Stun::Drop);
    let sip = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\r\n";
    assert_eq!(classify(sip, "192.0.2.1:1".parse().unwrap()), Stun::No);
    // a wrong length is not STUN
    let mut short = hex("0001 0004 2112a442 000102030405060708090a0b");
    assert_eq!(classify(&short, "192.0.2.1:1".parse().unwrap()), Stun::No);
    short.truncate(10);
    assert_eq!(classify(&short, "192.0.2.1:1".parse().unwrap()), Stun::No);
}

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(o, p)| SocketAddr::from((o, p))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(o, p)| SocketAddr::from((o, p))),
    ]
}

proptest! {
    #[test]
    fn any_binding_request_round_trips(txid in any::<[u8; 12]>(), src in addr(), fp in any::<bool>()) {
        let mut req = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        req.extend_from_slice(&txid);
        if fp {
            add_fingerprint(&mut req);
        }
        let Stun::Answer(a) = classify(&req, src) else {
            return Err(TestCaseError::fail("not answered"));
        };
        let (kind, t, got, has_fp) = decode(&a);
        prop_assert_eq!(kind, 0x0101);
        prop_assert_eq!(t, txid);
        prop_assert_eq!(got, Some(src));
        prop_assert_eq!(has_fp, fp);
    }

    #[test]
    fn junk_never_panics(d in proptest::collection::vec(any::<u8>(), 0..200), src in addr()) {
        let _ = classify(&d, src);
    }

    #[test]
    fn text_is_never_stun(s in "[A-Za-z][ -~\r\n]{19,300}") {
        prop_assert_eq!(classify(s.as_bytes(), "192.0.2.1:5060".parse().unwrap()), Stun::No);
    }
}
