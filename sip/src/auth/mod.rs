//! HTTP digest authentication for SIP (RFC 3261 22, RFC 7616, RFC 8760: MD5 and SHA-256),
//! sans-IO: challenges with unique nonces, verification of Authorization values with replay
//! checks, failed attempts counted per source, and the client-side response computation (for
//! tests and for links that authenticate to a peer).
//!
//! Works on header values (`&str`) only, never on whole messages; time is passed in.

mod digest;
mod failures;
mod params;

pub use digest::{respond, Algorithm, AuthError, AuthOk, DigestServer, MAX_USED_NONCES};
pub use failures::AuthFailures;
pub use params::{parse_auth_value, AuthValue};
