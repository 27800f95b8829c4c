//! The operator's view of a running node: the status snapshot (`snapshot`) and its alarms
//! (`alarms`), the admin listener that serves it (`server`: sockets and limits; `routes`: the
//! status page and JSON; `auth`: users and the wrong-password limit), its Prometheus rendering
//! (`metrics`), the call and search histories (`history`), and the commands that fetch and
//! print them: `causeway status` (`print`), `causeway trace` and `causeway searches`
//! (`trace`).

pub mod alarms;
pub mod auth;
pub mod history;
pub mod metrics;
pub mod print;
mod routes;
pub mod server;
pub mod snapshot;
pub mod trace;

pub use server::{serve, Access, StatusHandle};
pub use snapshot::{Status, ZoneStatus};
