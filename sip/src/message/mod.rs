//! The SIP message layer (RFC 3261 sections 7 and 25, RFC 5118 IPv6): a zero-copy parser over
//! the received `Bytes` with a typed view of the headers a proxy uses, a rewriter that touches
//! only what a proxy must and copies every other header field byte-for-byte, and the request
//! validation that decides 400/416/420/505.
//!
//! Why our own parser: `rsip` 0.4, measured on the RFC 4475/5118 corpus here, accepts 18 of 32
//! valid messages (every IPv6 Request-URI fails; wsinv, intmeth, esc01/02, longreq, semiuri fail)
//! and 11 of 21 invalid ones, at about 4.2 µs per 665-byte INVITE. The grammar a proxy needs is
//! small; it is written as a hand-rolled cursor (`grammar`) because RFC 3261 allows LWS around
//! every separator and the rules stay shortest that way, with memchr for the scans over whole
//! messages. Measured here (criterion, `cargo bench -p causeway-sip --bench parse`, 2 vCPU AMD
//! EPYC VM, 2026-12-07): 0.89-0.93 µs to parse a 650-byte INVITE with every proxy header typed,
//! against 0.98-1.04 µs for the code of the morning (target < 1 µs; BENCHMARKS.md, "SIP parse
//! under 1 us", says where the time went), about 180 ns to rewrite and serialise it as a proxy
//! does (Max-Forwards, Record-Route, Via). The whole RFC 4475/5118
//! corpus meets `shared/torture/expected.tsv` (`sip/tests/torture_parse.rs`).
//!
//! This module holds no transport or transaction state.

pub(crate) mod addr_text;
mod grammar;
mod parse;
mod peek;
mod rewrite;
mod typed;
mod types;
mod validate;

pub use bytes::Bytes;
pub use parse::Message;
pub use peek::{peek, written_uri, Peek};
pub use rewrite::{build_ack, build_cancel, ResponseBuilder, Rewrite};
pub use types::{
    unescape, Contacts, Defect, Host, Limits, Method, NameAddr, Params, ParseError, SipUri, Uri,
    Via,
};
pub use validate::{check_request, check_response, Rejection};

#[cfg(test)]
mod tests;
