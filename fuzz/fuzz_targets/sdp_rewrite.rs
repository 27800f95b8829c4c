//! Any bytes into the SDP parser and the anchor's rewrite: nothing may panic, an empty plan
//! gives back the input, and moving every section to the relay gives SDP that parses again
//! with every live section at the relay.
#![no_main]
use causeway_media::sdp::{MediaRewrite, Rewrite, Sdp, SdpError};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

const RELAY: MediaRewrite = MediaRewrite {
    addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    port: 40000,
    rtcp_port: Some(40001),
};

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = Sdp::parse(data) else { return };
    assert_eq!(sdp.rewrite(&Rewrite::default()), data);
    let plan = Rewrite {
        media: vec![Some(RELAY); sdp.media().len()],
        strip_ice: true,
    };
    let out = sdp.rewrite(&plan);
    match Sdp::parse(&out) {
        Ok(again) => {
            assert_eq!(again.media().len(), sdp.media().len());
            for (before, after) in sdp.media().iter().zip(again.media()) {
                if before.port != 0 && !before.multicast {
                    assert_eq!(after.port, RELAY.port);
                    assert_eq!(after.connection, Some(RELAY.addr));
                }
                assert!(!after.has_ice);
            }
        }
        // Added c= and a=rtcp lines can push a body at the size limit over it.
        Err(SdpError::TooLarge(_)) => {}
        Err(e) => panic!("rewritten SDP does not parse: {e}"),
    }
});
