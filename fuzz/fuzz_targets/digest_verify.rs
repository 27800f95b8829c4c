//! Any Authorization value into digest verification: nothing may panic, and a value that
//! verified once never verifies again (a replay).
#![no_main]
use causeway_sip::auth::{Algorithm, DigestServer};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let mut server = DigestServer::new("example.com", &[Algorithm::Sha256, Algorithm::Md5], [1; 32], Duration::from_secs(60));
        let lookup = |_: &str| Some("pw".to_string());
        if server.verify(s, "REGISTER", lookup, SystemTime::UNIX_EPOCH).is_ok() {
            assert!(server.verify(s, "REGISTER", lookup, SystemTime::UNIX_EPOCH).is_err());
        }
    }
});
