//! Any datagram into the SIP UDP port's STUN check: nothing may panic, and an answer is a
//! well-formed STUN message of the request's transaction.
#![no_main]
use causeway_sip::transport::stun::{classify, Stun};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = "192.0.2.1:5060".parse().expect("a literal");
    if let Stun::Answer(a) = classify(data, src) {
        assert!(a.len() >= 20 && (a.len() - 20) % 4 == 0);
        assert_eq!(&a[8..20], &data[8..20]);
    }
});
