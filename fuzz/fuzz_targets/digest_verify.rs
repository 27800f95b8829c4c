//! Any Authorization value into digest verification: nothing may panic.
#![no_main]
use causeway_sip::auth::{Algorithm, DigestServer};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let server = DigestServer::new("example.com", &[Algorithm::Sha256, Algorithm::Md5], [1; 32], Duration::from_secs(60));
        let _ = server.verify(s, "REGISTER", |_| Some("pw".to_string()), SystemTime::UNIX_EPOCH);
    }
});
