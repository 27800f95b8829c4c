//! causeway SIP: the message model and parser/serializer, RFC 3261 transactions, the registrar
//! and digest authentication, RFC 3263 server location, the stateful proxy core, and the
//! transports and driver that run it.
//!
//! Layers climb one way (pjsip style): `message` parses and rewrites, `transaction` holds the
//! RFC 3261 section 17 state machines, `registrar`, `auth` and `dns::{plan, select}` are
//! sans-IO policy, and `proxy` ties them into the section 16 core, a sans-IO `Machine` (events
//! in, outputs out, time passed in). Only `transport` (sockets), `dns::resolve` (hickory) and
//! `driver` (the tokio loop that runs a `Machine`) do I/O; the shapes they exchange with the
//! core are `proxy::io`'s, so the core imports nothing that does.

pub mod auth;
pub mod dns;
pub mod driver;
pub mod message;
pub mod proxy;
pub mod registrar;
pub mod transaction;
pub mod transport;
