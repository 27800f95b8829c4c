//! The codec test binary: everything that checks the generated H.225.0/H.245 types against the
//! wire lives in this one binary, because every test binary links the (large) generated crate
//! again and that dominates `cargo test` time.
//!
//! - `golden`: vectors encoded by asn1tools (tests/golden/vectors.json) decode with rasn and
//!   re-encode byte-identically, with field checks per family;
//! - `crosscheck`: the reverse direction, values encoded by rasn are decoded and re-encoded by
//!   asn1tools (tests/golden/crosscheck.py);
//! - `props`: proptest round trips per family and no-panic decoding of arbitrary bytes.

mod common;
mod crosscheck;
mod golden;
mod props;
