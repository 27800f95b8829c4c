//! Any bytes as fastStart elements (split at each 0xff): reading the offer, accepting it and
//! reading the acceptance back must not panic, and an offer read from them can be accepted.
#![no_main]
use causeway_interwork::fast_start::{accept, answer_from_accepted, offer_from_proposals};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let elements: Vec<Vec<u8>> = data
        .split(|&b| b == 0xff)
        .filter(|e| !e.is_empty())
        .map(<[u8]>::to_vec)
        .take(16)
        .collect();
    let Ok(offer) = offer_from_proposals(&elements) else { return };
    if let Ok(acc) = accept(&elements, &offer) {
        let _ = answer_from_accepted(&acc, &offer);
    }
});
