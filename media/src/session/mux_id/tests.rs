//! multiplexID framing with a fake clock: E demultiplexes a prefixed packet by its ID whatever
//! its source (a NAT between C and E), strips the ID, answers towards the source it came from;
//! an ID of an ended session or of a leg on its own pair names nothing; C's link leg prefixes
//! E's ID; IDs never look like RTP.

use super::super::{LegSpec, Table, TableConfig};
use super::*;
use crate::call::LinkEnd;
use crate::latch::LatchConfig;
use crate::ports::PortPair;
use causeway_config::PortRange;
use proptest::prelude::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

const MUX: u16 = 36000;
const C_RTP: &str = "10.1.1.2:40010";
const OUTSIDE: &str = "198.51.100.7:4000";
/// C's media as a NAT between C and E shows it.
const NATTED: &str = "192.0.2.77:61000";

fn table(multiplexed: Option<u16>) -> Table {
    Table::new(TableConfig {
        ports: PortRange {
            start: 40000,
            end: 40099,
        },
        multiplexed: multiplexed.and_then(PortPair::new),
        max_sessions: 10,
        latch: LatchConfig::default(),
    })
}

fn rtp(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x80;
    p
}

fn with_id(id: u32, packet: &[u8]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(packet);
    v
}

#[test]
fn e_demultiplexes_by_id_from_any_source_and_strips_it() {
    let t0 = Instant::now();
    let mut t = table(Some(MUX));
    let c = LegSpec::multiplexed(Some(sa(C_RTP))).on_link(Some(LinkEnd::Server));
    let s = t.add(LegSpec::own(Some(sa(OUTSIDE))), c, t0).unwrap();
    let id = t
        .multiplex_id(s.id, Side::Callee)
        .expect("a multiplexed leg has one");
    assert_eq!(t.multiplex_id(s.id, Side::Caller), None, "own pair: none");
    assert!(id.to_be_bytes()[0] < 0x80, "never looks like RTP");
    // C's media through a NAT: unknown source, but the ID names the leg
    let media = with_id(id, &rtp(172));
    let (f, framing) = t
        .handle_framed(MUX, sa(NATTED), &media, t0)
        .expect("relayed");
    assert_eq!(f.to, sa(OUTSIDE));
    assert_eq!(
        framing,
        Framing {
            strip: true,
            prefix: None
        }
    );
    assert_eq!(t.stats().demuxed_by_id, 1);
    assert_eq!(t.stats().forwarded.bytes, 172, "counted without the ID");
    // the outside's media goes back to where C's came from
    let (back, framing) = t
        .handle_framed(s.a.pair().rtp(), sa(OUTSIDE), &rtp(172), t0)
        .expect("relayed");
    assert_eq!((back.to, back.from_port), (sa(NATTED), MUX));
    assert_eq!(framing, Framing::default());
    // a prefixed keep-alive latches and goes no further
    assert_eq!(
        t.handle_framed(MUX, sa(NATTED), &with_id(id, &rtp(12)), t0),
        None
    );
    assert_eq!(t.stats().keepalives, 1);
    // a plain packet from the advertised source finds the leg by source, but the leg is
    // latched on where C's media really comes from
    assert_eq!(t.handle_framed(MUX, sa(C_RTP), &rtp(172), t0), None);
    assert_eq!(t.stats().dropped_stranger, 1);
}

#[test]
fn an_id_of_an_ended_session_or_an_own_leg_names_nothing() {
    let t0 = Instant::now();
    let mut t = table(Some(MUX));
    let c = LegSpec::multiplexed(Some(sa(C_RTP))).on_link(Some(LinkEnd::Server));
    let s = t.add(LegSpec::own(Some(sa(OUTSIDE))), c, t0).unwrap();
    let id = t.multiplex_id(s.id, Side::Callee).unwrap();
    // the caller leg's ID (its own pair) is not accepted on the multiplexed pair
    let own = id ^ 1;
    assert_eq!(
        t.handle_framed(MUX, sa(NATTED), &with_id(own, &rtp(172)), t0),
        None
    );
    t.remove(s.id);
    assert_eq!(
        t.handle_framed(MUX, sa(NATTED), &with_id(id, &rtp(172)), t0),
        None
    );
    // the slot again, another generation: the old ID is stale
    let c = LegSpec::multiplexed(Some(sa(C_RTP))).on_link(Some(LinkEnd::Server));
    let s2 = t.add(LegSpec::own(Some(sa(OUTSIDE))), c, t0).unwrap();
    assert_ne!(t.multiplex_id(s2.id, Side::Callee), Some(id));
    assert_eq!(
        t.handle_framed(MUX, sa(NATTED), &with_id(id, &rtp(172)), t0),
        None
    );
    assert_eq!(t.stats().dropped_unknown_source, 3);
    assert_eq!(t.stats().demuxed_by_id, 0);
}

#[test]
fn c_puts_es_id_in_front_of_what_it_sends_towards_e() {
    let t0 = Instant::now();
    let mut t = table(None);
    let inside = "10.1.1.20:5000";
    let e_mux = "192.0.2.1:36000";
    let s = t
        .add(
            LegSpec::own(Some(sa(inside))),
            LegSpec::own(Some(sa(e_mux))).on_link(Some(LinkEnd::Client)),
            t0,
        )
        .unwrap();
    t.set_send_mux_id(s.id, Side::Callee, Some(0x0001_0203))
        .unwrap();
    let (f, framing) = t
        .handle_framed(s.a.pair().rtp(), sa(inside), &rtp(172), t0)
        .expect("relayed");
    assert_eq!(f.to, sa(e_mux));
    assert_eq!(
        framing,
        Framing {
            strip: false,
            prefix: Some(0x0001_0203)
        }
    );
    // E's media towards the inside: no ID
    let (_, framing) = t
        .handle_framed(s.b.pair().rtp(), sa(e_mux), &rtp(172), t0)
        .expect("relayed");
    assert_eq!(framing, Framing::default());
}

#[test]
fn from_cs_advertised_source_only_its_own_id_is_taken_off() {
    let t0 = Instant::now();
    let mut t = table(Some(MUX));
    let c = LegSpec::multiplexed(Some(sa(C_RTP))).on_link(Some(LinkEnd::Server));
    let s = t.add(LegSpec::own(Some(sa(OUTSIDE))), c, t0).unwrap();
    let id = t.multiplex_id(s.id, Side::Callee).unwrap();
    let (_, framing) = t
        .handle_framed(MUX, sa(C_RTP), &with_id(id, &rtp(172)), t0)
        .expect("relayed");
    assert!(framing.strip);
    assert_eq!(t.stats().demuxed_by_id, 1);
    // a STUN binding request from the same source goes on as it is
    let stun = [
        0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let (_, framing) = t.handle_framed(MUX, sa(C_RTP), &stun, t0).expect("relayed");
    assert_eq!(framing, Framing::default());
    assert_eq!(t.stats().demuxed_by_id, 1);
}

proptest! {
    /// Every ID decodes to what it was made of, and none starts like RTP version 2.
    #[test]
    fn ids_round_trip_and_never_look_like_rtp(slot in 0u32..=0xffff, generation: u32, callee: bool) {
        let side = if callee { Side::Callee } else { Side::Caller };
        let id = encode(SessionId { slot, generation }, side).unwrap();
        prop_assert!(id.to_be_bytes()[0] < 0x80);
        prop_assert_eq!(decode(id), (slot, generation & 0x3fff, side));
    }

    /// Whatever arrives on the multiplexed pair, nothing panics and nothing unknown is relayed.
    #[test]
    fn any_bytes_on_the_multiplexed_pair(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut t = table(Some(MUX));
        prop_assert_eq!(t.handle_framed(MUX, sa(NATTED), &data, Instant::now()), None);
    }
}
