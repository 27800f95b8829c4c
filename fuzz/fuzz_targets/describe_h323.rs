//! Any bytes as the call history's view of an H.323 message (a RAS datagram, a Q.931 payload
//! with its H323-UserInformation and tunneled H.245, a separate H.245 payload): nothing may
//! panic, and every text stays within its bound.
#![no_main]
use causeway_h323::describe::{h245, q931, ras, MAX_TEXT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for d in [ras(data), q931(data), h245(data)] {
        assert!(!d.summary.is_empty());
        assert!(d.text.len() <= MAX_TEXT + 16);
    }
});
