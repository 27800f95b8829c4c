//! `[interworking]`: whether the node's SIP <-> H.323 gateway takes calls between the two
//! protocols, and which. Shape and default only; there is nothing to cross-check.

use serde::Deserialize;
use std::fmt;

/// When a call from one protocol may reach an endpoint or zone of the other through the
/// node's gateway (the native protocol is always searched first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InterworkingMode {
    /// Never: a call to an alias of the other protocol is refused.
    Off,
    /// When the callee is an endpoint registered on this node with the other protocol (the
    /// reference systems' default).
    #[default]
    Registered,
    /// As `Registered`, and also when the search finds only targets of the other protocol.
    On,
}

impl InterworkingMode {
    /// The configuration value: `off`, `registered`, `on`.
    pub fn as_str(self) -> &'static str {
        match self {
            InterworkingMode::Off => "off",
            InterworkingMode::Registered => "registered",
            InterworkingMode::On => "on",
        }
    }

    /// Whether any call is interworked.
    pub fn enabled(self) -> bool {
        self != InterworkingMode::Off
    }
}

impl fmt::Display for InterworkingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Interworking {
    pub mode: InterworkingMode,
}
