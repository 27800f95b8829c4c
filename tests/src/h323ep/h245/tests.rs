//! Unit tests of `tests/src/h323ep/h245.rs`.

use super::*;

#[test]
fn msd_decisions_agree() {
    for (a, b) in [
        (1u32, 2u32),
        (5, 0xff_fff0),
        (0x12_3456, 0x92_3455),
        (7, 7),
        (0, 0x80_0000),
    ] {
        let x = local_is_master(50, a, 50, b);
        let y = local_is_master(50, b, 50, a);
        match (x, y) {
            (Some(x), Some(y)) => assert_ne!(x, y, "{a} {b}"),
            (None, None) => {}
            _ => panic!("asymmetric for {a} {b}"),
        }
    }
    assert_eq!(local_is_master(190, 1, 50, 2), Some(true));
}

fn pump(a: &mut Session, b: &mut Session, first: Vec<H245Msg>) -> Vec<Value> {
    let mut events = Vec::new();
    let mut to_b = first;
    let mut to_a = b.start();
    for _ in 0..10 {
        let mut next_a = Vec::new();
        for m in to_b.drain(..) {
            let bytes = msg::encode_h245(&m).unwrap();
            let o = b.on_message(msg::decode_h245(&bytes).unwrap());
            next_a.extend(o.send);
            events.extend(o.events);
        }
        let mut next_b = Vec::new();
        for m in to_a.drain(..) {
            let o = a.on_message(m);
            next_b.extend(o.send);
            events.extend(o.events);
        }
        to_a = next_a;
        to_b = next_b;
    }
    events
}

#[test]
fn two_sessions_open_the_audio_channel() {
    let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
    let mut a = Session::new(true, addr(40000), addr(40001));
    let mut b = Session::new(false, addr(40002), addr(40003));
    let first = a.start();
    let ev = pump(&mut a, &mut b, first);
    let what: Vec<_> = ev.iter().filter_map(|e| e["what"].as_str()).collect();
    assert!(what.contains(&"olc-ack"), "{ev:?}");
    assert_eq!(what.iter().filter(|w| **w == "msd").count(), 2);
    let ack = ev.iter().find(|e| e["what"] == "olc-ack").unwrap();
    assert_eq!(ack["remote_rtp"], "127.0.0.1:40002");
    assert!(a.olc_acked);
}
