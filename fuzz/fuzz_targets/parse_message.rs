//! Any bytes into the SIP parser, validation and the proxy's rewrite: nothing may panic.
#![no_main]
use causeway_sip::message::{check_request, check_response, Bytes, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) {
        if m.is_request() {
            let _ = check_request(&m, &["sip", "sips", "tel"], &[]);
        } else {
            let _ = check_response(&m);
        }
        let out = m
            .rewrite()
            .pop_via()
            .pop_route()
            .set_max_forwards(69)
            .stamp_top_via("192.0.2.1:5060".parse().expect("a literal"))
            .push_via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfuzz")
            .finish();
        let _ = Message::parse(out);
        let _ = m.response(400, "Bad Request").to_tag("t").source("192.0.2.1:5060".parse().expect("a literal")).finish();
    }
});
