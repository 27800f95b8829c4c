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

/// Delivers `to_a` and `to_b` (through encode/decode) and everything they cause, until
/// quiet; the events of each side.
fn settle(
    a: &mut Session,
    b: &mut Session,
    mut to_a: Vec<H245Msg>,
    mut to_b: Vec<H245Msg>,
) -> (Vec<Value>, Vec<Value>) {
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    let wire = |m: &H245Msg| msg::decode_h245(&msg::encode_h245(m).unwrap()).unwrap();
    for _ in 0..20 {
        if to_a.is_empty() && to_b.is_empty() {
            break;
        }
        let mut next_b = Vec::new();
        for m in to_a.drain(..) {
            let o = a.on_message(wire(&m));
            next_b.extend(o.send);
            ea.extend(o.events);
        }
        let mut next_a = Vec::new();
        for m in to_b.drain(..) {
            let o = b.on_message(wire(&m));
            next_a.extend(o.send);
            eb.extend(o.events);
        }
        to_a = next_a;
        to_b = next_b;
    }
    (ea, eb)
}

fn names(ev: &[Value]) -> Vec<String> {
    ev.iter()
        .map(|e| match e["what"].as_str() {
            Some(w) => format!("{}:{w}", e["event"].as_str().unwrap_or("")),
            None => e["event"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

fn up_call() -> (Session, Session) {
    let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
    let mut a = Session::new(true, addr(40000), addr(40001));
    let mut b = Session::new(false, addr(40002), addr(40003));
    let (sa, sb) = (a.start(), b.start());
    settle(&mut a, &mut b, sb, sa);
    assert_eq!(a.sending(), Some(addr(40002)));
    (a, b)
}

#[test]
fn an_empty_tcs_closes_the_channel_and_a_full_one_reopens_it_with_a_new_number() {
    let (mut a, mut b) = up_call();
    let p = b.pause();
    assert_eq!(names(&p.events), ["pause-sent"]);
    let (ea, eb) = settle(&mut a, &mut b, p.send, Vec::new());
    assert!(names(&ea).contains(&"paused".to_string()), "{ea:?}");
    let tcs = ea.iter().find(|e| e["what"] == "tcs").unwrap();
    assert_eq!(tcs["empty"], true);
    assert_eq!(a.sending(), None);
    let closed = eb.iter().find(|e| e["event"] == "channel-closed").unwrap();
    assert_eq!(closed["lcn"], 1);
    assert!(names(&ea).contains(&"h245:clc-ack".to_string()), "{ea:?}");
    // a second empty set changes nothing
    let p = b.pause();
    let (ea, _) = settle(&mut a, &mut b, p.send, Vec::new());
    assert!(!names(&ea).contains(&"paused".to_string()), "{ea:?}");

    let r = b.resume();
    assert_eq!(names(&r.events), ["resume-sent"]);
    let (ea, eb) = settle(&mut a, &mut b, r.send, Vec::new());
    let n = names(&ea);
    let (ack, resumed) = (
        n.iter().position(|x| x == "h245:olc-ack").unwrap(),
        n.iter().position(|x| x == "resumed").unwrap(),
    );
    assert!(ack < resumed, "{n:?}");
    assert_eq!(ea[ack]["lcn"], 2);
    let olc = eb.iter().find(|e| e["what"] == "olc").unwrap();
    assert_eq!(olc["lcn"], 2);
    assert!(a.sending().is_some());
}

#[test]
fn a_side_without_a_channel_resumes_at_once_and_fast_start_reopens_above_its_number() {
    let (mut a, mut b) = up_call();
    // b opened nothing: paused and resumed with no channel traffic
    let p = a.pause();
    let (_, eb) = settle(&mut a, &mut b, Vec::new(), p.send);
    assert_eq!(
        names(&eb),
        ["h245:tcs", "paused"],
        "no CloseLogicalChannel: {eb:?}"
    );
    let r = a.resume();
    let (_, eb) = settle(&mut a, &mut b, Vec::new(), r.send);
    assert_eq!(names(&eb), ["h245:tcs", "resumed"]);

    let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
    let mut f = Session::new(false, addr(1), addr(2));
    f.fast_started(Some(addr(3)), 101);
    let mut out = Out::default();
    f.on_tcs(&tcs_value(&caps::empty(5)), &mut out);
    assert!(
        out.send.contains(&caps::close(101)),
        "closes the fastStart channel"
    );
    let mut out = Out::default();
    f.on_tcs(&tcs_value(&caps::full(6)), &mut out);
    let reopened = out.send.iter().any(|m| {
        matches!(m, H245Msg::request(h245::RequestMessage::openLogicalChannel(o))
            if o.forward_logical_channel_number.0 == 102)
    });
    assert!(reopened, "a new channel numbered above 101");
}

fn tcs_value(m: &H245Msg) -> h245::TerminalCapabilitySet {
    match m {
        H245Msg::request(h245::RequestMessage::terminalCapabilitySet(t)) => t.clone(),
        _ => panic!("not a TCS"),
    }
}

#[test]
fn user_input_is_printed_per_digit() {
    let (mut a, _) = up_call();
    for mode in [uii::Mode::Signal, uii::Mode::Alpha] {
        let o = a.on_message(uii::build('#', mode, 100).unwrap());
        assert_eq!(o.events.len(), 1);
        let e = &o.events[0];
        assert_eq!(e["event"], "uii");
        assert_eq!(e["digit"], "#");
        assert_eq!(e["kind"], mode.kind());
        let d = if mode == uii::Mode::Signal {
            serde_json::json!(100)
        } else {
            Value::Null
        };
        assert_eq!(e["duration"], d);
    }
}
