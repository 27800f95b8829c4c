//! Robustness of the call-signaling relay: arbitrary bytes on every kind of connection and
//! random input sequences never panic, and queues, connections and calls stay bounded.

use super::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic_or_grow(
        inputs in proptest::collection::vec(
            (0usize..5, proptest::collection::vec(any::<u8>(), 0..200)),
            0..40,
        ),
        prefix in proptest::sample::select(vec![
            vec![],
            vec![0x08, 0x02, 0x12, 0x34],
            vec![0x08, 0x02, 0x92, 0x34],
        ]),
    ) {
        let cfg = CallConfig { max_queued_bytes: 2000, ..CallConfig::default() };
        let mut h = H::new(cfg, true);
        let conns = all_kinds(&mut h);
        for (k, bytes) in inputs {
            let mut payload = prefix.clone();
            payload.extend_from_slice(&bytes);
            let out = h.data(conns[k], &payload);
            // A payload yields at most a message, its events and a release's outputs.
            prop_assert!(out.len() <= 16, "{} outputs", out.len());
            prop_assert!(h.cs.queued_bytes() <= 2 * 2000);
            prop_assert!(h.cs.conn_count() <= 5);
        }
    }
}

/// One random input, by kind, against random (mostly plausible) ids.
#[derive(Debug, Clone)]
enum Rand {
    Data(u64, Vec<u8>),
    Accepted(u64),
    Connected(u64),
    ConnectFailed(u64),
    Closed(u64),
    Listening(u64),
    ListenFailed(u64),
    H245Accepted(u64, u64),
    Routed(u64, bool),
    Timeout(u64),
}

fn rand_input() -> impl Strategy<Value = Rand> {
    let id = 0u64..12;
    prop_oneof![
        (id.clone(), proptest::collection::vec(any::<u8>(), 0..120))
            .prop_map(|(c, b)| Rand::Data(c, b)),
        (id.clone(), any::<bool>()).prop_map(|(c, _)| Rand::Data(
            c,
            setup(SetupOpts {
                h245: Some(sa("198.51.100.7:5000")),
                ..Default::default()
            })
        )),
        id.clone().prop_map(Rand::Accepted),
        id.clone().prop_map(Rand::Connected),
        id.clone().prop_map(Rand::ConnectFailed),
        id.clone().prop_map(Rand::Closed),
        id.clone().prop_map(Rand::Listening),
        id.clone().prop_map(Rand::ListenFailed),
        (id.clone(), id.clone()).prop_map(|(l, c)| Rand::H245Accepted(l, c)),
        (id.clone(), any::<bool>()).prop_map(|(c, ok)| Rand::Routed(c, ok)),
        (0u64..400).prop_map(Rand::Timeout),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_input_sequences_never_panic(seq in proptest::collection::vec(rand_input(), 0..60)) {
        let cfg = CallConfig { max_queued_bytes: 2000, max_calls: 4, ..CallConfig::default() };
        let mut h = H::new(cfg, true);
        let start = h.now;
        for r in seq {
            let out = match r {
                Rand::Data(conn, b) => h.data(conn, &b),
                Rand::Accepted(conn) => h.input(Input::Accepted {
                    conn,
                    peer: sa(CALLER),
                    local: sa(GK_OUTSIDE),
                    link: None,
                }),
                Rand::Connected(conn) => h.input(Input::Connected { conn, local: sa(GK_INSIDE) }),
                Rand::ConnectFailed(conn) => {
                    h.input(Input::ConnectFailed { conn, reason: String::new() })
                }
                Rand::Closed(conn) => h.input(Input::Closed { conn }),
                Rand::Listening(listener) => h.input(Input::Listening {
                    listener,
                    addr: sa("10.1.1.1:15500"),
                }),
                Rand::ListenFailed(listener) => {
                    h.input(Input::ListenFailed { listener, reason: String::new() })
                }
                Rand::H245Accepted(listener, conn) => h.input(Input::H245Accepted {
                    listener,
                    conn,
                    peer: sa("10.1.1.5:33000"),
                }),
                Rand::Routed(call, ok) => h.input(Input::Routed {
                    call,
                    result: if ok {
                        // every other call has a second E to move on to (`try_next_callee`)
                        Ok(Destination {
                            addr: sa(CALLEE),
                            alias: None,
                            zone: "z".into(),
                            link: Some(crate::call::LinkEnd::Client),
                            alternates: if call.is_multiple_of(2) {
                                vec![sa("192.0.2.22:1720"), sa("192.0.2.23:1720")]
                            } else {
                                Vec::new()
                            },
                        })
                    } else {
                        Err(RouteFailure::Unreachable)
                    },
                }),
                Rand::Timeout(s) => {
                    let mut out = Vec::new();
                    h.cs.handle_timeout(start + Duration::from_secs(s), &mut out);
                    out
                }
            };
            prop_assert!(out.len() <= 64, "{} outputs", out.len());
            prop_assert!(h.cs.call_count() <= 4);
            prop_assert!(h.cs.queued_bytes() <= 4 * 2 * 2 * 2000);
        }
    }
}
