use super::*;
use causeway_h323::endpoint::{decode_h245, encode_h245};
use proptest::prelude::*;

fn uii(m: H245Msg) -> h245::UserInputIndication {
    // through the wire, as the far end sees it
    let m = decode_h245(&encode_h245(&m).unwrap()).unwrap();
    match m {
        H245Msg::indication(h245::IndicationMessage::userInput(u)) => u,
        other => panic!("not a UII: {other:?}"),
    }
}

#[test]
fn rfc4733_table_7_events() {
    let keys = "0123456789*#ABCD";
    for (i, c) in keys.chars().enumerate() {
        assert_eq!(event_of_digit(c), Some(i as u8));
        assert_eq!(digit_of_event(i as u8), Some(c));
    }
    assert_eq!(event_of_digit('a'), Some(12));
    assert_eq!(digit_of_event(16), None, "flash has no digit");
    assert_eq!(event_of_digit('!'), None);
}

#[test]
fn h245_signal_and_alphanumeric_carry_the_digit() {
    for c in "0123456789*#ABCD".chars() {
        assert_eq!(digit_of_uii(&uii(uii_signal(c, 160))), Some((c, Some(160))));
        assert_eq!(digit_of_uii(&uii(uii_alpha(c))), Some((c, None)));
    }
    assert_eq!(digit_of_uii(&uii(uii_signal('d', 0))), Some(('D', Some(1))));
    // hookflash is sent but reads as no digit
    assert_eq!(digit_of_uii(&uii(uii_signal('x', 100))), None);
}

#[test]
fn rfc4733_2_3_payload_layout() {
    let e = Event {
        event: 11,
        end: true,
        volume: 10,
        duration: 800,
    };
    assert_eq!(e.encode(), [11, 0x8a, 0x03, 0x20]);
    assert_eq!(
        Event::decode(&[11, 0xca, 0x03, 0x20, 0xff]),
        Some(e),
        "R bit ignored"
    );
    assert_eq!(Event::decode(&[1, 2, 3]), None);
}

proptest! {
    #[test]
    fn event_encode_decode(event: u8, end: bool, volume in 0u8..64, duration: u16) {
        let e = Event { event, end, volume, duration };
        prop_assert_eq!(Event::decode(&e.encode()), Some(e));
    }

    #[test]
    fn event_decode_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..8)) {
        if let Some(e) = Event::decode(&b) {
            prop_assert_eq!(&e.encode()[..], &b[..4].iter().enumerate()
                .map(|(i, &x)| if i == 1 { x & 0xbf } else { x }).collect::<Vec<_>>()[..]);
        }
    }
}
