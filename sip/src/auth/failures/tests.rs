//! The failure counts: per address, bounded however many addresses fail.

use super::*;

#[test]
fn counts_per_source_and_stays_bounded() {
    let mut f = AuthFailures::new(100);
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(f.record(a), 1);
    assert_eq!(f.record(a), 2);
    assert_eq!(f.count("192.0.2.2".parse().unwrap()), 0);
    // a flood from many addresses: memory stays under the cap
    for i in 0..10_000u32 {
        f.record(IpAddr::from(i.to_be_bytes()));
        assert!(f.len() <= 100, "{}", f.len());
    }
    assert_eq!(f.total(), 10_002);
    // a persistent guesser keeps its count while it keeps failing
    for _ in 0..3 {
        f.record(a);
    }
    assert!(f.count(a) >= 3);
}
