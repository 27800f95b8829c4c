//! causeway traversal: what makes a control node (C) and an edge node (E) one system across a
//! firewall. Here: C's traversal client links (`client`, sans-IO), the driver extension that runs
//! them beside the SIP proxy core (`links`), and the node status served to `causeway status`
//! (`status`). E's side of a link (admitting C's REGISTER, sending requests down the link) is
//! part of the SIP proxy core (`causeway_sip::proxy`), because it is ordinary SIP routing there.
//!
//! Depends on `sip`, `zones` and `config`; nothing below depends on it.

pub mod client;
#[cfg(test)]
mod client_tests;
pub mod links;
pub mod status;

pub use client::{LinkClient, LinkConfig, LinkStatus};
pub use links::Links;
pub use status::{serve, Status, StatusHandle, ZoneStatus};
