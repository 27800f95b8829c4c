//! causeway zones: the protocol-neutral router that turns a destination alias into an ordered
//! list of targets, by zones and search rules.
//!
//! The router sees aliases (a SIP URI's `user@host`, later H.323 IDs and E.164 numbers) and
//! answers with zones to try; it never parses SIP or H.323 and never does I/O. Today it knows
//! the implicit local zone (registrations in the registrar domains); neighbor, traversal and DNS
//! zones with search rules and transforms are the subject of the traversal work (issue 3).
//!
//! `dns` is the one exception to "no I/O": RFC 3263 server location for DNS zones and for the
//! proxy's next hop. Its ordering logic is pure (`dns::select`); only `dns::resolve` queries.

mod alias;
pub mod dns;
mod router;

pub use alias::Alias;
pub use router::{Route, Router, Target, LOCAL_ZONE};
