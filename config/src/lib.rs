//! causeway configuration: the TOML schema, the defaults (named after the rows of the reference
//! port tables), and validation whose errors name the file, line, column and field.
//!
//! This crate is the bottom of the dependency graph: it knows nothing of SIP, H.323 or sockets,
//! it only describes what the operator asked for.

pub mod cluster;
pub mod defaults;
pub mod document;
pub mod h323;
pub mod interworking;
mod load;
pub mod media;
pub mod protection;
mod schema;
pub mod scope;
pub mod types;
mod validate;
pub mod zones;

pub use interworking::InterworkingMode;
pub use load::{ConfigError, FieldError, PathPart};
pub use media::IoPath;
pub use protection::Protection;
pub use schema::*;
pub use types::{ListenAddrs, PortRange, Role, Transport};
pub use validate::{traversal_server_h323_port, traversal_server_port, LOCAL_ZONE};

/// The configuration `causeway run` uses when no `--config` is given.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

impl Config {
    /// The embedded default configuration.
    pub fn embedded_default() -> Config {
        // The embedded text is tested below to parse; a failure here is a build defect.
        Config::parse("<embedded default>", DEFAULT_TOML)
            .unwrap_or_else(|e| panic!("embedded default configuration is invalid: {e}"))
    }

    /// The registrar domains, `[system.domain]` when none are listed.
    pub fn registrar_domains(&self) -> Vec<String> {
        if self.registrar.domains.is_empty() {
            vec![self.system.domain.clone()]
        } else {
            self.registrar.domains.clone()
        }
    }
}

#[cfg(test)]
mod tests;
