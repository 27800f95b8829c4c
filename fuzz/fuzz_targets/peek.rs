//! Any bytes through `peek`, the call history's glance at a SIP message: nothing may panic, and
//! on a message the full parser accepts without defect, peek reads the same Call-ID, CSeq
//! method, To tag and start line.
#![no_main]
use causeway_sip::message::{peek, Bytes, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = peek(data);
    if let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) {
        if m.defect().is_none() {
            let p = p.expect("a parsed message peeks");
            assert_eq!(p.call_id, m.call_id());
            assert_eq!(p.cseq_method, m.cseq().map(|(_, x)| x.as_str()));
            assert_eq!(p.to_tag, m.to().is_some_and(|t| t.tag().is_some()));
            assert_eq!(p.status().map(|(c, _)| c), m.status());
        }
    }
});
