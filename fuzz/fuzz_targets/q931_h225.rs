//! Any bytes as a Q.931 message (no TPKT) whose User-user element, if any, holds an H.225.0
//! H323-UserInformation: the Q.931 parser and rasn's aligned-PER decoder must not panic; what
//! decodes must encode, and that encoding must decode to the same value.
#![no_main]
use causeway_h323::q931::Q931;
use causeway_h323_asn1::h323_messages::H323UserInformation;
use causeway_h323_asn1::rasn::aper;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Q931::parse(data) else {
        return;
    };
    let Ok(Some(uu)) = m.user_user() else {
        return;
    };
    // The protocol discriminator (first content octet) is not checked: causeway decodes the
    // content as H.225.0 whatever an endpoint put there, so the decoder sees it all.
    if let Ok(ui) = aper::decode::<H323UserInformation>(&uu.data) {
        let bytes = aper::encode(&ui).expect("a decoded H323-UserInformation encodes");
        let back: H323UserInformation =
            aper::decode(&bytes).expect("rasn decodes its own encoding");
        assert_eq!(back, ui);
    }
});
