//! Any byte stream, in any chunking, into the TCP/TLS framer: nothing may panic or grow past
//! the limit.
#![no_main]
use causeway_sip::transport::Framer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut f = Framer::new(4096, 64);
    for chunk in data.chunks(7) {
        f.push(chunk);
        while let Ok(Some(_)) = f.next_frame() {}
        if f.next_frame().is_err() {
            return;
        }
    }
});
