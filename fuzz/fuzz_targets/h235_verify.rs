//! Any bytes as a RAS datagram through H.235.1 verification (`causeway_h323::h235`): nothing
//! may panic, and the verifier's replay memory (kept across inputs here, with small bounds)
//! must stay within them. What decodes to a message that can carry tokens is also signed, and
//! what was signed must verify.
#![no_main]
use causeway_h323::h235::{sign, Credentials, Verifier};
use causeway_h323_asn1::h323_messages::RasMessage;
use causeway_h323_asn1::rasn::aper;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

const NOW: u32 = 1_750_000_000;
const MAX_SENDERS: usize = 8;
const PER_SENDER: usize = 4;

thread_local! {
    static VERIFIER: RefCell<Verifier> =
        RefCell::new(Verifier::new("gk").with_memory(MAX_SENDERS, PER_SENDER));
}

fuzz_target!(|data: &[u8]| {
    VERIFIER.with(|v| {
        let mut v = v.borrow_mut();
        let _ = v.verify_datagram(data, |_| Some("password"), NOW);
        assert!(v.senders_remembered() <= MAX_SENDERS);
        assert!(v.tokens_remembered() <= MAX_SENDERS * PER_SENDER);
    });
    let Ok(msg) = aper::decode::<RasMessage>(data) else {
        return;
    };
    let creds = Credentials {
        senders_id: "fuzz".into(),
        general_id: Some("gk".into()),
        password: "password".into(),
    };
    if let Ok(bytes) = sign(msg, &creds, NOW, 1) {
        let got = Verifier::new("gk").verify_datagram(&bytes, |_| Some("password"), NOW);
        assert!(got.is_ok(), "signed message does not verify: {got:?}");
    }
});
