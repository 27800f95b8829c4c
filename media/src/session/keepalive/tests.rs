//! Traversal keep-alives with a fake clock: C's end of a link sends them at once when asked
//! and again only after `EVERY` of silence; E's end waits for C's first packet before sending
//! anything towards C; a bare RTP header latches and goes no further.

use super::super::{LegSpec, Table, TableConfig};
use super::*;
use crate::latch::LatchConfig;
use crate::ports::PortPair;
use causeway_config::PortRange;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

const INSIDE: &str = "10.1.1.20:50000";
const E_MUX: &str = "192.0.2.2:36000";
const C_LINK: &str = "10.1.1.2:40010";
const OUTSIDE: &str = "198.51.100.7:4000";

fn table(mux: Option<u16>) -> Table {
    Table::new(TableConfig {
        ports: PortRange {
            start: 40000,
            end: 40099,
        },
        multiplexed: mux.and_then(PortPair::new),
        max_sessions: 10,
        latch: LatchConfig::default(),
    })
}

#[test]
fn c_sends_keepalives_at_once_then_only_after_silence() {
    let t0 = Instant::now();
    let mut t = table(None);
    // C: caller inside, callee E's link (own pair, C's end)
    let s = t
        .add(
            LegSpec::own(Some(sa(INSIDE))),
            LegSpec::own(None).on_link(Some(LinkEnd::Client)),
            t0,
        )
        .unwrap();
    // nothing known of E yet: nothing to send
    assert!(t.keepalive_now(s.id, Side::Callee, t0).is_empty());
    t.set_expected(
        s.id,
        Side::Callee,
        Some(sa(E_MUX)),
        Some(sa("192.0.2.2:36001")),
    )
    .unwrap();
    let now = t.keepalive_now(s.id, Side::Callee, t0);
    let b = s.b.pair();
    assert_eq!(
        now,
        vec![
            KeepAlive {
                from_port: b.rtp(),
                to: sa(E_MUX),
                component: Component::Rtp,
                mux_id: None,
                payload_type: None,
            },
            KeepAlive {
                from_port: b.rtcp(),
                to: sa("192.0.2.2:36001"),
                component: Component::Rtcp,
                mux_id: None,
                payload_type: None,
            },
        ]
    );
    // the inside leg is no link end: never a keep-alive there
    assert!(t.keepalive_now(s.id, Side::Caller, t0).is_empty());
    // just sent: not due; until E answers, again every second
    assert!(t
        .keepalives(t0 + Duration::from_millis(500), EVERY)
        .is_empty());
    let t1 = t0 + UNTIL_ANSWERED;
    assert_eq!(t.keepalives(t1, EVERY).len(), 2);
    // E's media came back on both: from now on only after EVERY of silence
    let b = s.b.pair();
    assert!(t.handle(b.rtp(), sa(E_MUX), 172, t1).is_some());
    assert!(t.handle(b.rtcp(), sa("192.0.2.2:36001"), 80, t1).is_some());
    assert!(t.keepalives(t1 + Duration::from_secs(5), EVERY).is_empty());
    let t0 = t1;
    assert_eq!(t.keepalives(t0 + EVERY, EVERY).len(), 2);
    // media towards E keeps the pinhole open: no keep-alive while it flows
    let t1 = t0 + EVERY + Duration::from_secs(10);
    let a = s.a.pair();
    assert!(t.handle(a.rtp(), sa(INSIDE), 172, t1).is_some());
    let due = t.keepalives(t1 + Duration::from_secs(10), EVERY);
    assert_eq!(due.len(), 1, "only RTCP was silent: {due:?}");
    assert_eq!(due[0].component, Component::Rtcp);
}

#[test]
fn e_sends_nothing_towards_c_before_cs_first_packet() {
    let t0 = Instant::now();
    let mut t = table(Some(36000));
    // E: caller outside (own pair), callee C's link on the multiplexed pair
    let s = t
        .add(
            LegSpec::own(Some(sa(OUTSIDE))),
            LegSpec::multiplexed(Some(sa(C_LINK))).on_link(Some(LinkEnd::Server)),
            t0,
        )
        .unwrap();
    let a = s.a.pair();
    // the outside endpoint talks first: C has not opened its pinhole, nothing goes to C
    assert_eq!(t.handle(a.rtp(), sa(OUTSIDE), 172, t0), None);
    assert_eq!(t.stats().dropped_no_destination, 1);
    // C's keep-alive arrives on the multiplexed pair: latched, not forwarded
    assert_eq!(t.handle(36000, sa(C_LINK), RTP_LEN, t0), None);
    assert_eq!(t.stats().keepalives, 1);
    assert_eq!(t.stats().forwarded.packets, 0);
    // now the outside's media goes to C, from the multiplexed port
    let f = t.handle(a.rtp(), sa(OUTSIDE), 172, t0).expect("forwarded");
    assert_eq!((f.from_port, f.to), (36000, sa(C_LINK)));
    // and C's media goes out
    let f = t.handle(36000, sa(C_LINK), 172, t0).expect("forwarded");
    assert_eq!(f.to, sa(OUTSIDE));
    // E never sends keep-alives itself
    assert!(t.keepalives(t0 + EVERY * 2, EVERY).is_empty());
}

#[test]
fn a_non_multiplexed_server_leg_latches_on_cs_keepalive() {
    let t0 = Instant::now();
    let mut t = table(None);
    // C's signaling came from its firewall's address
    let s = t
        .add(
            LegSpec::own(Some(sa(OUTSIDE))),
            LegSpec::own(Some(sa(C_LINK)))
                .on_link(Some(LinkEnd::Server))
                .observed_at(Some("192.0.2.1".parse().unwrap())),
            t0,
        )
        .unwrap();
    let (a, b) = (s.a.pair(), s.b.pair());
    assert_eq!(t.handle(a.rtp(), sa(OUTSIDE), 172, t0), None);
    // a stranger who learnt the port cannot take C's stream
    assert_eq!(
        t.handle(b.rtp(), sa("203.0.113.66:4444"), RTP_LEN, t0),
        None
    );
    assert_eq!(t.stats().dropped_not_expected_ip, 1);
    assert_eq!(t.handle(a.rtp(), sa(OUTSIDE), 172, t0), None);
    // C's firewall rewrote the source: the keep-alive's source is where media goes
    let seen = sa("192.0.2.1:61000");
    assert_eq!(t.handle(b.rtp(), seen, RTP_LEN, t0), None);
    let f = t.handle(a.rtp(), sa(OUTSIDE), 172, t0).expect("forwarded");
    assert_eq!(f.to, seen);
}

#[test]
fn packets_are_an_rtp_header_and_an_empty_receiver_report() {
    let k = KeepAlive {
        from_port: 40010,
        to: sa(E_MUX),
        component: Component::Rtp,
        mux_id: None,
        payload_type: None,
    };
    let p = k.packet(PAYLOAD_TYPE, 7);
    assert_eq!(p.len(), RTP_LEN);
    assert_eq!(p[0] >> 6, 2, "RTP version 2");
    assert_eq!(p[1], PAYLOAD_TYPE);
    assert_eq!(k.packet(96, 7)[1], 96);
    // the marker bit is never set, whatever the type passed
    assert_eq!(k.packet(0xff, 7)[1], 0x7f);
    assert_eq!(u16::from_be_bytes([p[2], p[3]]), 7);
    assert_eq!(u32::from_be_bytes([p[8], p[9], p[10], p[11]]), 40010);
    let r = KeepAlive {
        component: Component::Rtcp,
        mux_id: None,
        payload_type: None,
        ..k
    }
    .packet(PAYLOAD_TYPE, 0);
    assert_eq!(r, vec![0x80, 201, 0, 1, 0, 0, 0x9c, 0x4a]);
}
