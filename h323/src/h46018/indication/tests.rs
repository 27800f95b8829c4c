//! The traversal H.245 channel's first message: asn1tools' encoding of the same value (golden
//! vectors from asn1tools 0.169.0 on the ITU H.245 module in ../shared/asn1, see below),
//! round trips, and what is not this indication.

use super::*;
use proptest::prelude::*;

// $CAUSEWAY_PYTHON with asn1tools.compile_files([h245-2011/MULTIMEDIA-SYSTEM-CONTROL.asn],
// 'per').encode('MultimediaSystemControlMessage', ('indication', ('genericIndication',
// {'messageIdentifier': ('standard', '0.0.8.460.18.0.1'), 'subMessageIdentifier': 1,
// 'messageContent': [{'parameterIdentifier': ('standard', 1), 'parameterValue':
// ('octetString', bytes(range(16)))}, {'parameterIdentifier': ('standard', 2),
// 'parameterValue': ('logical', None)}]})))
const ANSWER_VECTOR: &str =
    "71202060070008834c1200010202001610000102030405060708090a0b0c0d0e0f0020";
// the same with GUID 77..77 and no answer parameter
const CALLER_VECTOR: &str = "71201e60070008834c120001020100161077777777777777777777777777777777";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn encodes_as_asn1tools_does() {
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = i as u8;
    }
    let answer = ChannelOpen {
        call_id: id,
        answer: true,
    };
    assert_eq!(encode(answer).unwrap(), hex(ANSWER_VECTOR));
    assert_eq!(decode(&hex(ANSWER_VECTOR)), Some(answer));
    let caller = ChannelOpen {
        call_id: [0x77; 16],
        answer: false,
    };
    assert_eq!(encode(caller).unwrap(), hex(CALLER_VECTOR));
    assert_eq!(decode(&hex(CALLER_VECTOR)), Some(caller));
}

#[test]
fn other_messages_are_not_the_indication() {
    // an H.245 TerminalCapabilitySetAck-like byte string, garbage, empty, Q.931
    for b in [
        &[0x20u8, 0x80, 0x01][..],
        &[0xff; 40],
        &[],
        &[0x08, 0x02, 0x00, 0x01, 0x05],
    ] {
        assert_eq!(decode(b), None, "{b:02x?}");
    }
    // the right message with a call identifier of the wrong length
    let mut v = hex(CALLER_VECTOR);
    v.truncate(v.len() - 1);
    assert_eq!(decode(&v), None);
}

proptest! {
    #[test]
    fn round_trips(call_id in any::<[u8; 16]>(), answer in any::<bool>()) {
        let open = ChannelOpen { call_id, answer };
        prop_assert_eq!(decode(&encode(open).unwrap()), Some(open));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(&bytes);
    }
}
