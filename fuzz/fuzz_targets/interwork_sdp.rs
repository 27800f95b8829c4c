//! Any bytes into the gateway's SDP reader: nothing may panic, and what it reads, written back
//! as SDP, reads again to the same streams.
#![no_main]
use causeway_interwork::sdp_map::{from_sdp, to_sdp};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = from_sdp(data) else { return };
    let out = to_sdp(&m, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1, 1);
    let again = from_sdp(out.as_bytes()).expect("written SDP reads again");
    assert_eq!(again.streams.len(), m.streams.len());
    for (a, b) in m.streams.iter().zip(&again.streams) {
        assert_eq!(a.kind, b.kind);
        if a.rejected() || a.formats.is_empty() {
            // no format H.323 carries: written rejected (port 0), not with a placeholder
            assert!(b.rejected());
        } else {
            assert_eq!(a.rtp, b.rtp);
            assert_eq!(a.formats, b.formats);
        }
    }
});
