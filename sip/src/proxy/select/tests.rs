//! Unit tests of `sip/src/proxy/select.rs`.

use super::better;

#[test]
fn rfc3261_16_7_step6_prefers_6xx() {
    assert!(better(603, Some(302)));
    assert!(!better(302, Some(603)));
}

#[test]
fn rfc3261_16_7_step6_lowest_class_wins() {
    assert!(better(302, Some(486)));
    assert!(better(404, Some(500)));
    assert!(!better(500, Some(404)));
    assert!(!better(486, Some(404)));
}

#[test]
fn local_timeouts_give_way_to_real_answers() {
    assert!(better(486, Some(408)));
    assert!(better(500, Some(503)));
    assert!(!better(408, Some(486)));
    assert!(better(408, None));
}
