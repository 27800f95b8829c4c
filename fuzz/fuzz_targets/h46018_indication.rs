//! Any bytes as the first message on E's shared H.245 port (`causeway_h323::h46018::
//! indication`): decoding never panics, and what decodes encodes back to the same meaning.
#![no_main]
use causeway_h323::h46018::indication::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(open) = decode(data) {
        let again = encode(open).expect("an indication encodes");
        assert_eq!(decode(&again), Some(open));
    }
});
