//! causeway SIP: the message model and parser/serializer, transports, RFC 3261 transactions,
//! the stateful proxy core and the registrar.
//!
//! Layers climb one way (pjsip style): `transport` moves bytes, `message` parses and rewrites
//! them, `transaction` holds the RFC 3261 section 17 state machines, `registrar` and `auth` are
//! sans-IO policy, and `proxy` ties them into the section 16 proxy core. Only `transport` and the
//! driver do I/O; everything else takes `now` and returns what to do.

pub mod auth;
pub mod dns;
pub mod driver;
pub mod message;
pub mod proxy;
pub mod registrar;
pub mod transaction;
pub mod transport;
