//! Any bytes as an H.225.0 RAS message (a UDP datagram on 1719) through rasn's aligned-PER
//! decoder: nothing may panic; what decodes must encode, and that encoding must decode to the
//! same value.
#![no_main]
use causeway_h323_asn1::h323_messages::RasMessage;
use causeway_h323_asn1::rasn::aper;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = aper::decode::<RasMessage>(data) {
        let bytes = aper::encode(&msg).expect("a decoded RasMessage encodes");
        let back: RasMessage = aper::decode(&bytes).expect("rasn decodes its own encoding");
        assert_eq!(back, msg);
    }
});
