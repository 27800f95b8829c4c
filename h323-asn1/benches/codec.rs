//! Encode and decode cost of the messages causeway handles most: RRQ and ARQ (RAS), a Setup
//! (H323-UserInformation with a fast-start OLC) and an H.245 OpenLogicalChannel, taken from the
//! golden vectors. Run: `cargo bench -p causeway-h323-asn1 --bench codec`.
//!
//! First figures (Intel Xeon, 2 cores shared with a fuzzer and other builds, load average 5,
//! `-- --warm-up-time 1 --measurement-time 3`), per message: decode / encode RRQ (135 B)
//! 6.4 / 4.5 us, ARQ (104 B) 5.2 / 3.9 us, Setup UUIE (170 B) 9.4 / 6.3 us, OLC (27 B)
//! 2.8 / 2.0 us.

use causeway_h323_asn1::h323_messages::{H323UserInformation, RasMessage};
use causeway_h323_asn1::multimedia_system_control::MultimediaSystemControlMessage;
use causeway_h323_asn1::rasn::{aper, Decode, Encode};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn vector(name: &str) -> Vec<u8> {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../tests/golden/vectors.json")).unwrap();
    let v = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap();
    hex::decode(v["hex"].as_str().unwrap()).unwrap()
}

fn bench_one<T: Encode + Decode>(c: &mut Criterion, label: &str, name: &str) {
    let bytes = vector(name);
    let value: T = aper::decode(&bytes).unwrap();
    c.bench_function(&format!("decode {label} ({} B)", bytes.len()), |b| {
        b.iter(|| aper::decode::<T>(black_box(&bytes)).unwrap())
    });
    c.bench_function(&format!("encode {label}"), |b| {
        b.iter(|| aper::encode(black_box(&value)).unwrap())
    });
}

fn codec(c: &mut Criterion) {
    bench_one::<RasMessage>(c, "RRQ", "rrq");
    bench_one::<RasMessage>(c, "ARQ", "arq");
    bench_one::<H323UserInformation>(c, "Setup UUIE", "setup");
    bench_one::<MultimediaSystemControlMessage>(c, "OLC", "olc");
}

criterion_group!(benches, codec);
criterion_main!(benches);
