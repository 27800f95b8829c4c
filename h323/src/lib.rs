//! causeway H.323 (issue 4, in progress): framing of call signaling (TPKT, RFC 1006; Q.931
//! messages and information elements), and later the RAS gatekeeper and gatekeeper-routed call
//! signaling on top of the ASN.1 types of `causeway-h323-asn1`.
//!
//! Sans-IO like the SIP side: parsers and state machines only; sockets live in drivers.
//!
//! - [`tpkt`]: RFC 1006 framing of the TCP call-signaling stream (port 1720) into payloads.
//! - [`q931`]: one Q.931 message per payload (H.225.0 section 7), elements kept raw with typed
//!   views; the User-user content is the PER `H323-UserInformation` that the ASN.1 crate
//!   decodes.

pub mod q931;
pub mod tpkt;
