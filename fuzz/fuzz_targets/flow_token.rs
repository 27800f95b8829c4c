//! Any Route parameter value into the flow-token check: nothing may panic, and only a token
//! made with the key decodes.
#![no_main]
use causeway_sip::proxy::FlowTokens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let tokens = FlowTokens::new([9; 32]);
        if let Some(flow) = tokens.decode(s) {
            assert_eq!(tokens.decode(&tokens.encode(&flow)), Some(flow));
        }
    }
});
