//! The operator's view of a running node: the status snapshot (`snapshot`) and its alarms
//! (`alarms`), the admin listener that serves it (`server`: sockets and limits; `routes`: the
//! status page and JSON; `auth`: users and the wrong-password limit), its Prometheus rendering
//! (`metrics`), and the `causeway status` command that fetches and prints it (`print`).

pub mod alarms;
pub mod auth;
pub mod metrics;
pub mod print;
mod routes;
pub mod server;
pub mod snapshot;

pub use server::{serve, Access, StatusHandle};
pub use snapshot::{Status, ZoneStatus};
