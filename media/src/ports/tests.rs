//! Unit tests of `media/src/ports.rs`.

use super::*;
use causeway_config::defaults::MEDIA_PORTS;
use proptest::prelude::*;

fn range(start: u16, end: u16) -> PortRange {
    PortRange { start, end }
}

#[test]
fn default_range_has_12000_pairs_less_the_multiplexed_one() {
    let mux = PortPair::new(36000).unwrap();
    let a = PortAllocator::new(MEDIA_PORTS, &[mux]);
    assert_eq!(a.capacity(), 11_999);
    let b = PortAllocator::new(MEDIA_PORTS, &[]);
    assert_eq!(b.capacity(), 12_000);
}

#[test]
fn rtp_even_rtcp_next_odd() {
    let mut a = PortAllocator::new(range(36000, 36009), &[]);
    let p = a.allocate().unwrap();
    assert_eq!((p.rtp(), p.rtcp()), (36000, 36001));
    assert_eq!(p.to_string(), "36000/36001");
    assert_eq!(PortPair::new(36001), None);
    assert_eq!(PortPair::new(0), None);
    assert_eq!(PortPair::new(65534).map(|p| p.rtcp()), Some(65535));
}

#[test]
fn reserved_multiplexed_pair_is_never_handed_out() {
    let mux = PortPair::new(36000).unwrap();
    let mut a = PortAllocator::new(range(36000, 36005), &[mux]);
    let got: Vec<u16> = std::iter::from_fn(|| a.allocate().ok().map(|p| p.rtp())).collect();
    assert_eq!(got, vec![36002, 36004]);
    // and releasing it does not smuggle it into the free list
    assert!(!a.release(mux));
    assert!(a.allocate().is_err());
}

#[test]
fn odd_start_and_lone_last_port_are_skipped() {
    let mut a = PortAllocator::new(range(36001, 36006), &[]);
    assert_eq!(a.capacity(), 2); // 36002/3, 36004/5; 36006 has no RTCP port
    assert_eq!(a.allocate().unwrap().rtp(), 36002);
    assert_eq!(a.allocate().unwrap().rtp(), 36004);
    assert_eq!(a.allocate(), Err(PortsExhausted { capacity: 2 }));
    // the top of the port space
    let mut top = PortAllocator::new(range(65534, 65535), &[]);
    assert_eq!(top.allocate().unwrap().rtcp(), 65535);
    assert_eq!(PortAllocator::new(range(65535, 65535), &[]).capacity(), 0);
    assert_eq!(PortAllocator::new(range(5000, 5000), &[]).capacity(), 0);
}

#[test]
fn exhaustion_is_an_error_and_release_makes_room() {
    let mut a = PortAllocator::new(range(40000, 40003), &[]);
    let p1 = a.allocate().unwrap();
    let _p2 = a.allocate().unwrap();
    let err = a.allocate().unwrap_err();
    assert_eq!(err.to_string(), "all 2 media port pairs are in use");
    assert!(a.release(p1));
    assert_eq!(a.allocate(), Ok(p1));
}

#[test]
fn a_released_pair_goes_to_the_back_of_the_queue() {
    let mut a = PortAllocator::new(range(40000, 40007), &[]);
    let p1 = a.allocate().unwrap();
    a.release(p1);
    let next: Vec<u16> = (0..4).map(|_| a.allocate().unwrap().rtp()).collect();
    assert_eq!(next, vec![40002, 40004, 40006, 40000]);
}

#[test]
fn double_and_foreign_release_are_harmless() {
    let mut a = PortAllocator::new(range(40000, 40007), &[]);
    let p = a.allocate().unwrap();
    assert!(a.release(p));
    assert!(!a.release(p));
    assert!(!a.release(PortPair::new(50000).unwrap()));
    assert!(!a.release(PortPair::new(30000).unwrap()));
    assert_eq!(a.in_use(), 0);
    // the pair is in the free list exactly once: four allocations, then exhaustion
    for _ in 0..4 {
        a.allocate().unwrap();
    }
    assert!(a.allocate().is_err());
}

#[derive(Clone, Debug)]
enum Op {
    Allocate,
    /// Release the n-th pair in use (modulo their number).
    ReleaseHeld(usize),
    /// Release any even port: in use, free, reserved or outside the range.
    ReleaseAny(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Allocate),
        1 => any::<usize>().prop_map(Op::ReleaseHeld),
        1 => (14999..15030u16).prop_map(|p| Op::ReleaseAny(p * 2)),
    ]
}

proptest! {
    /// Allocate/release sequences (with double and foreign releases) against a model set:
    /// a pair is never handed out twice while in use, the counts agree, and every pair is
    /// even/odd inside the range and not the reserved one.
    #[test]
    fn pairs_stay_unique_and_counts_consistent(
        start in 30000..30010u16,
        len in 0..40u16,
        reserve in any::<bool>(),
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let r = range(start, start + len);
        let reserved: Vec<PortPair> =
            PortPair::new((start + 1) & !1).filter(|_| reserve).into_iter().collect();
        let mut a = PortAllocator::new(r, &reserved);
        let mut model: Vec<PortPair> = Vec::new();
        for op in ops {
            match op {
                Op::Allocate => match a.allocate() {
                    Ok(p) => {
                        prop_assert!(r.contains(p.rtp()) && r.contains(p.rtcp()));
                        prop_assert_eq!(p.rtp() % 2, 0);
                        prop_assert!(!reserved.contains(&p));
                        prop_assert!(!model.contains(&p), "{} handed out twice", p);
                        model.push(p);
                    }
                    Err(e) => prop_assert_eq!(model.len(), e.capacity),
                },
                Op::ReleaseHeld(n) => {
                    if !model.is_empty() {
                        let p = model.swap_remove(n % model.len());
                        prop_assert!(a.release(p));
                    }
                }
                Op::ReleaseAny(port) => {
                    let p = PortPair::new(port).unwrap();
                    let held = model.iter().position(|m| *m == p);
                    prop_assert_eq!(a.release(p), held.is_some());
                    if let Some(i) = held {
                        model.swap_remove(i);
                    }
                }
            }
            prop_assert_eq!(a.in_use(), model.len());
            prop_assert!(a.in_use() <= a.capacity());
        }
    }
}
