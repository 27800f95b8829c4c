//! Any bytes as an H.245 message or as the octetString of an H.460.19 genericInformation
//! entry (`causeway_h323::h46019`): reading never panics, and parameters that were read, put
//! back on the message, read the same.
#![no_main]
use causeway_h323::h46019::{
    ack_params, decode_params, encode_params, olc_params, set_ack_params, set_olc_params,
};
use causeway_h323_asn1::multimedia_system_control::{
    MultimediaSystemControlMessage, RequestMessage, ResponseMessage,
};
use causeway_h323_asn1::rasn::aper;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(p) = decode_params(data) {
        let again = encode_params(&p).expect("parameters encode");
        assert_eq!(decode_params(&again), Some(p));
    }
    match aper::decode::<MultimediaSystemControlMessage>(data) {
        Ok(MultimediaSystemControlMessage::request(RequestMessage::openLogicalChannel(mut o))) => {
            if let Some(p) = olc_params(&o) {
                set_olc_params(&mut o, Some(&p));
                assert_eq!(olc_params(&o), Some(p));
            }
            set_olc_params(&mut o, None);
            assert_eq!(olc_params(&o), None);
        }
        Ok(MultimediaSystemControlMessage::response(ResponseMessage::openLogicalChannelAck(
            mut a,
        ))) => {
            if let Some(p) = ack_params(&a) {
                set_ack_params(&mut a, Some(&p));
                assert_eq!(ack_params(&a), Some(p));
            }
            set_ack_params(&mut a, None);
            assert_eq!(ack_params(&a), None);
        }
        _ => {}
    }
});
