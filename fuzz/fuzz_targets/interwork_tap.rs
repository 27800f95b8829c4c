//! Any packets into the gateway's media tap (and any H.225 message into the gateway): nothing
//! may panic, and a packet is never forwarded to anyone but the other side's peer.
#![no_main]
use causeway_interwork::tap::{Action, Side, Tap};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut t = Tap::new();
    let sip = SocketAddr::from(([127, 0, 0, 1], 4000));
    let h323 = SocketAddr::from(([127, 0, 0, 1], 5000));
    t.set_peer(Side::Sip, sip, SocketAddr::from(([127, 0, 0, 1], 4001)));
    t.set_peer(Side::H323, h323, SocketAddr::from(([127, 0, 0, 1], 5001)));
    t.set_sip_te(Some(flags & 0x7f));
    let now = Instant::now();
    for chunk in rest.chunks(64) {
        let side = if chunk.first().is_some_and(|b| b & 1 == 0) { Side::Sip } else { Side::H323 };
        let from = if side == Side::Sip { sip } else { h323 };
        match t.on_packet(side, flags & 0x80 != 0, from, chunk.to_vec(), now) {
            Action::Send { to, .. } => assert!(to.ip() == sip.ip()),
            Action::Digit { .. } | Action::Drop => {}
        }
        let _ = t.digit_to_sip('1', 100, now);
    }
});
