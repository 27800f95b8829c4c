//! Flow tokens: every flow round-trips, anything else (another key, a flipped bit, junk) is
//! refused without panicking.

use super::*;
use proptest::prelude::*;

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(o, p)| SocketAddr::from((o, p))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(o, p)| SocketAddr::from((o, p))),
    ]
}

fn flow() -> impl Strategy<Value = Flow> {
    (
        prop_oneof![
            Just(Transport::Udp),
            Just(Transport::Tcp),
            Just(Transport::Tls)
        ],
        addr(),
        addr(),
        proptest::option::of(1u64..),
    )
        .prop_map(|(kind, local, remote, conn)| Flow {
            kind,
            local,
            remote,
            conn: conn.map(ConnId),
        })
}

proptest! {
    #[test]
    fn every_flow_round_trips(f in flow(), key in any::<[u8; 32]>()) {
        let t = FlowTokens::new(key);
        let token = t.encode(&f);
        prop_assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "URI-safe: {token}");
        prop_assert_eq!(t.decode(&token), Some(f));
    }

    #[test]
    fn a_changed_token_or_another_key_is_refused(f in flow(), i in any::<usize>(), bit in 0u8..4) {
        let t = FlowTokens::new([1; 32]);
        let token = t.encode(&f);
        prop_assert_eq!(FlowTokens::new([2; 32]).decode(&token), None);
        let mut b = token.into_bytes();
        let i = i % b.len();
        let c = b[i];
        b[i] = match c { b'0'..=b'9' => b"abcd"[bit as usize], _ => b"0123"[bit as usize] };
        let changed = String::from_utf8(b).unwrap();
        prop_assert_eq!(t.decode(&changed), None);
    }

    #[test]
    fn junk_never_panics(s in ".{0,200}") {
        let _ = FlowTokens::new([3; 32]).decode(&s);
    }
}

#[test]
fn a_token_names_the_flow_it_came_on_or_not() {
    let a = Flow {
        kind: Transport::Udp,
        local: "192.0.2.1:5060".parse().unwrap(),
        remote: "203.0.113.5:40000".parse().unwrap(),
        conn: None,
    };
    assert!(same_flow(&a, &a));
    let other_port = Flow {
        remote: "203.0.113.5:40001".parse().unwrap(),
        ..a
    };
    assert!(!same_flow(&a, &other_port));
    let tcp = Flow {
        kind: Transport::Tcp,
        conn: Some(ConnId(4)),
        ..a
    };
    assert!(!same_flow(
        &tcp,
        &Flow {
            conn: Some(ConnId(5)),
            ..tcp
        }
    ));
}
