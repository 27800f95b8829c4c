//! The log against a plain queue of records (the model), and its memory coming back.

use super::*;
use proptest::prelude::*;

fn flow(i: u64) -> Flow {
    let v6 = SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, i as u16),
        5060,
        7,
        3,
    ));
    let v4 = SocketAddr::from(([192, 0, 2, (i % 250) as u8], 5000 + (i % 1000) as u16));
    Flow {
        kind: [Transport::Udp, Transport::Tcp, Transport::Tls][(i % 3) as usize],
        local: if i.is_multiple_of(2) { v4 } else { v6 },
        remote: if i.is_multiple_of(5) { v6 } else { v4 },
        conn: i.is_multiple_of(4).then_some(ConnId(i * 31)),
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// a record ending this many ms after the clock, with a response of this length
    Push(u16, u16),
    /// the clock moves on this many ms (backwards when negative), then due records go
    Advance(i16),
    /// look up the n-th record ever pushed
    Get(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u16..3000, prop_oneof![0u16..600, 60_000u16..65_535]).prop_map(|(e, l)| Op::Push(e, l)),
        2 => (-200i16..2000).prop_map(Op::Advance),
        2 => any::<usize>().prop_map(Op::Get),
    ]
}

struct Model {
    end: Instant,
    key: TxKey,
    reply: Flow,
    response: Vec<u8>,
    at: u64,
    alive: bool,
    branch: Option<(u64, u64)>,
}

proptest! {
    #[test]
    fn log_behaves_as_a_queue(ops in proptest::collection::vec(op(), 1..300)) {
        let base = Instant::now() + Duration::from_secs(10);
        let mut now = base;
        let mut log = DoneLog::default();
        let mut model: Vec<Model> = Vec::new();
        let mut front = 0;
        for op in ops {
            match op {
                Op::Push(ms, len) => {
                    let i = model.len() as u64;
                    let end = now + Duration::from_millis(ms.into());
                    let response: Vec<u8> = (0..len).map(|b| (b as u64 ^ i) as u8).collect();
                    let key = (i, !i);
                    // every third an accepted INVITE's: a branch, no response
                    let (at, branch, response) = if i % 3 == 2 {
                        (log.push_accepted(end, key, (i * 7, !i), &flow(i)).expect("kept"), Some((i * 7, !i)), Vec::new())
                    } else {
                        let at = log.push(end, key, &flow(i), &response).expect("a short response is kept");
                        (at, None, response)
                    };
                    model.push(Model { end, key, reply: flow(i), response, at, alive: true, branch });
                }
                Op::Advance(ms) => {
                    now = if ms >= 0 {
                        now + Duration::from_millis(ms as u64)
                    } else {
                        now.checked_sub(Duration::from_millis((-ms) as u64)).unwrap_or(now)
                    };
                    // the model: records go from the front while the front has ended
                    let epoch = model.first().map(|m| m.end);
                    let mut expect = Vec::new();
                    while let Some(m) = model.get_mut(front) {
                        // an end before the first record's is kept until that one
                        let end = epoch.map_or(m.end, |e| m.end.max(e));
                        if end > now { break; }
                        m.alive = false;
                        expect.push((m.key, m.at, m.branch));
                        front += 1;
                    }
                    let mut got = Vec::new();
                    while let Some(x) = log.pop_due(now) { got.push(x); }
                    prop_assert_eq!(got, expect);
                }
                Op::Get(n) => {
                    if model.is_empty() { continue; }
                    let m = &model[n % model.len()];
                    let got = log.get(m.at);
                    if m.alive {
                        let r = got.expect("a live record is found");
                        prop_assert_eq!(r.key, m.key);
                        prop_assert_eq!(r.reply, m.reply);
                        prop_assert_eq!(r.response, &m.response[..]);
                        prop_assert_eq!(r.branch, m.branch);
                    } else {
                        prop_assert!(got.is_none());
                    }
                }
            }
            prop_assert_eq!(log.len(), model.iter().filter(|m| m.alive).count());
            let epoch = model.first().map(|m| m.end);
            let front_end = model.get(front).map(|m| epoch.map_or(m.end, |e| m.end.max(e)));
            prop_assert_eq!(log.front_end(), front_end);
        }
    }
}

#[test]
fn chunks_go_once_their_records_have_ended() {
    let base = Instant::now();
    let mut log = DoneLog::default();
    let response = vec![b'x'; 300];
    for i in 0..10_000u64 {
        log.push(base + Duration::from_millis(i), (i, i), &flow(i), &response);
    }
    let full = log.chunks.len();
    assert!(full > 40, "{full} chunks");
    let mut n = 0;
    while log.pop_due(base + Duration::from_millis(4_999)).is_some() {
        n += 1;
    }
    assert_eq!(n, 5_000);
    assert_eq!(log.len(), 5_000);
    let half = log.chunks.len();
    assert!(
        half <= full / 2 + 1,
        "{half} of {full} chunks left with half the records"
    );
    while log.pop_due(base + Duration::from_secs(60)).is_some() {}
    assert_eq!(log.len(), 0);
    assert!(
        log.chunks.is_empty(),
        "{half} chunks at half, {} left",
        log.chunks.len()
    );
    // the next record takes the spare chunk: nothing new allocated
    let spare = log.spare.as_ref().map(|v| v.as_ptr());
    let at = log.push(
        base + Duration::from_secs(61),
        (1, 2),
        &flow(1),
        b"SIP/2.0 200 OK\r\n\r\n",
    );
    let at = at.expect("kept");
    assert_eq!(log.chunks.front().map(|c| c.data.as_ptr()), spare);
    assert_eq!(
        log.get(at).map(|r| r.response),
        Some(&b"SIP/2.0 200 OK\r\n\r\n"[..])
    );
}

#[test]
fn offsets_that_name_no_record_find_nothing() {
    let base = Instant::now();
    let mut log = DoneLog::default();
    assert_eq!(log.get(0), None);
    let a = log.push(base, (1, 1), &flow(1), b"one").expect("kept");
    let b = log.push(base, (2, 2), &flow(2), b"two").expect("kept");
    assert_eq!(log.get(b + 1_000_000), None);
    assert_eq!(log.get(a).map(|r| r.key), Some((1, 1)));
    assert_eq!(log.pop_due(base), Some(((1, 1), a, None)));
    assert_eq!(log.get(a), None);
    assert_eq!(log.get(b).map(|r| r.response), Some(&b"two"[..]));
}
