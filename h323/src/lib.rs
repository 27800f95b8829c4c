//! causeway H.323: framing of call signaling (TPKT, RFC 1006; Q.931 messages and information
//! elements), the RAS gatekeeper and gatekeeper-routed call signaling on top of the ASN.1
//! types of `causeway-h323-asn1`.
//!
//! Sans-IO like the SIP side: parsers and state machines only; sockets live in drivers.
//!
//! - [`tpkt`]: RFC 1006 framing of the TCP call-signaling stream (port 1720) into payloads.
//! - [`q931`]: one Q.931 message per payload (H.225.0 section 7), elements kept raw with typed
//!   views; the User-user content is the PER `H323-UserInformation` that the ASN.1 crate
//!   decodes.
//! - [`asn`]: every conversion between ASN.1 values and causeway's (transport addresses,
//!   aliases, BMP text, GUIDs, identifiers).
//! - [`endpoint`]: what an endpoint sends (RAS requests, UUIEs, basic H.245); today for the
//!   test endpoint and tests, next for the H.460.18 client and the interworking gateway.
//! - [`ras`]: the gatekeeper (RAS, UDP 1719).
//! - [`h235`]: H.235.1 baseline security (procedure I): signing RAS messages with an
//!   HMAC-SHA1-96 CryptoToken and verifying them (time window, replay memory).
//! - [`h46019`]: H.460.19 media traversal on the wire (TraversalParameters in OLC/OLCAck,
//!   feature 19 in RAS).
//! - [`call`]: gatekeeper-routed call signaling and H.245 relaying.
//! - [`describe`]: any of their messages as text, for the call history's message ladder.
//! - [`service`]: both as one sans-IO value; [`driver`]: its tokio sockets and timers.

pub mod asn;
pub mod call;
pub mod describe;
pub mod driver;
pub mod endpoint;
pub mod h235;
pub mod h46018;
pub mod h46019;
pub mod q931;
pub mod ras;
pub mod service;
pub mod tpkt;
