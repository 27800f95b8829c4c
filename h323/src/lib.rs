//! causeway H.323 (issue 4, in progress): framing of call signaling (TPKT, RFC 1006; Q.931
//! messages and information elements), and later the RAS gatekeeper and gatekeeper-routed call
//! signaling on top of the ASN.1 types of `causeway-h323-asn1`.
//!
//! Sans-IO like the SIP side: parsers and state machines only; sockets live in drivers.

pub mod q931;
pub mod tpkt;
