//! Any bytes as cluster peer frames, one after the other: each decoded as a `Request`, and
//! each `Publish` handed to one directory inbox. Nothing may panic; the inbox keeps its
//! bounds.
#![no_main]
use std::time::Instant;

use causeway_cluster::directory::Inbox;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut inbox = Inbox::new();
    causeway_cluster::fuzzing::peer_frames(&mut inbox, data, Instant::now());
});
