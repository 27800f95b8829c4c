//! The operator's view of a running node: the status snapshot (`snapshot`), the admin HTTP
//! listener that serves it (`server`), its Prometheus rendering (`metrics`), and the
//! `causeway status` command that fetches and prints it (`print`).

pub mod metrics;
pub mod print;
pub mod server;
pub mod snapshot;

pub use server::{serve, StatusHandle};
pub use snapshot::{Status, ZoneStatus};
