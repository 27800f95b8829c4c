//! Parse and serialise figures of the message layer for a typical INVITE (about 650 bytes with
//! SDP), as quoted in `sip/src/message/mod.rs` and BENCHMARKS.md.
//! Run: `cargo bench -p causeway-sip --bench parse`.

use causeway_sip::message::{Bytes, Message};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

// the node's allocator (as in `calls.rs`), so the figures are the node's. A parse makes about
// 5 allocations; the parse figure was the same with glibc's malloc (BENCHMARKS.md, 2026-12-07)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.org\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.10:5060>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n\
Supported: replaces, timer\r\n\
User-Agent: bench/1.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 229\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 97 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:97 iLBC/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

fn bench(c: &mut Criterion) {
    let bytes = Bytes::from_static(INVITE.as_bytes());
    assert!(Message::parse(bytes.clone()).is_ok_and(|m| m.defect().is_none()));
    c.bench_function("parse typical INVITE", |b| {
        b.iter(|| Message::parse(black_box(bytes.clone())))
    });
    let msg = Message::parse(bytes.clone()).expect("valid");
    c.bench_function("proxy rewrite + serialise INVITE", |b| {
        b.iter(|| {
            black_box(&msg)
                .rewrite()
                .set_max_forwards(69)
                .push_record_route("<sip:192.0.2.1:5060;transport=udp;lr>")
                .push_via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcw0123456789abcdef1")
                .finish()
        })
    });
    // the call history's glance at every message the node moves (`message::peek`)
    c.bench_function("peek typical INVITE", |b| {
        b.iter(|| causeway_sip::message::peek(black_box(INVITE.as_bytes())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
