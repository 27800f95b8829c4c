//! causeway traversal: what makes a control node (C) and an edge node (E) one system across a
//! firewall: both ends of the C<->E link protocol. C's link clients (`client`: connect out to
//! E's zone port, register with digest, keep alive, reconnect with back-off) and E's admission
//! of those links (`edge`: challenge, admit, expire), each sans-IO, joined with the SIP proxy
//! core in `LinkedProxy` (`proxy`), the machine the SIP driver runs. The proxy core keeps only
//! what routing needs of a link (its flow); the link protocol itself lives here.
//!
//! Depends on `sip`, `zones` and `config`; only the binary depends on it.

pub mod client;
pub mod edge;
pub mod proxy;
pub mod reconfigure;
#[cfg(test)]
mod test_core;

pub use client::{LinkClient, LinkConfig, LinkStatus};
pub use edge::Admission;
pub use proxy::LinkedProxy;
pub use reconfigure::{Applied, Reconfig};
