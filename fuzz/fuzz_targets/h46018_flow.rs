//! Any bytes into both ends of an H.460.18 traversal flow (`causeway_h323::h46018`): as a
//! datagram on E's zone port and as a datagram from E to C's client. Nothing may panic, the
//! SCIs waiting stay bounded, and garbage never gets an answer on the zone port.
#![no_main]
use causeway_h323::h46018::{
    ClientConfig, Output, ServerZoneConfig, WallClock, ZoneClient, ZoneServer,
};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let clock = WallClock::new(now, 1_750_000_000);
    let zone = ServerZoneConfig {
        zone: "z".into(),
        username: "u".into(),
        password: "p".into(),
        keepalive: Duration::from_secs(19),
        signalling_port: None,
    };
    let mut e = ZoneServer::new("gk".into(), 1720, vec![zone], clock, 300, 1, now);
    let from = "192.0.2.1:1719".parse().unwrap();
    let local = "192.0.2.2:6001".parse().unwrap();
    let mut out = Vec::new();
    e.handle(0, from, local, data, now, &mut out);
    if causeway_h323_asn1::rasn::aper::decode::<causeway_h323_asn1::h323_messages::RasMessage>(data)
        .is_err()
    {
        assert!(out.iter().all(|o| !matches!(o, Output::Send { .. })));
    }
    let cfg = ClientConfig {
        zone: "z".into(),
        peer: local,
        username: "u".into(),
        password: "p".into(),
        keepalive: Duration::from_secs(19),
        ras: from,
        call_signal: from,
        skew_window: 300,
    };
    let mut c = ZoneClient::new(cfg, clock, 1, now);
    c.handle_timeout(now, &mut out);
    c.handle(data, now, &mut out);
    c.handle_timeout(now + Duration::from_secs(60), &mut out);
});
