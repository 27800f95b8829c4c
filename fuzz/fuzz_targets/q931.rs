//! Any byte stream, in any chunking, through the TPKT framer into the Q.931 parser: nothing may
//! panic or grow past the framer's limit, and every accepted message re-encodes to the bytes it
//! came from (TPKT and Q.931 both).
#![no_main]
use causeway_h323::q931::Q931;
use causeway_h323::tpkt::{self, TpktFramer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so the framer sees many splittings.
    let Some((&step, data)) = data.split_first() else {
        return;
    };
    let mut f = TpktFramer::new(4096);
    for chunk in data.chunks(usize::from(step % 32) + 1) {
        if f.push(chunk).is_err() {
            return;
        }
        loop {
            match f.next_frame() {
                Ok(Some(payload)) => {
                    let framed = tpkt::encode(&payload).expect("framed payloads fit a TPKT");
                    assert_eq!(&framed[4..], &payload[..]);
                    if let Ok(m) = Q931::parse(&payload) {
                        assert_eq!(m.encode(), &payload[..]);
                        let _ = (m.bearer_capability(), m.display(), m.called_party_number());
                        let _ = (m.calling_party_number(), m.cause(), m.user_user());
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(f.pending() <= f.capacity());
    }
    // The payload as a whole message, too (no TPKT).
    if let Ok(m) = Q931::parse(data) {
        assert_eq!(m.encode(), data);
    }
});
