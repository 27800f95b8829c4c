//! Small value types of the configuration that carry their own syntax: port ranges written as
//! `"25000-29999"`, listen addresses written as one string or a list, the node role.
//!
//! Parsing of these strings lives here; cross-field rules live in `validate`.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// An inclusive range of ports, written `"start-end"` (or a single `"port"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }
    pub fn len(&self) -> usize {
        usize::from(self.end - self.start) + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn as_range(&self) -> std::ops::RangeInclusive<u16> {
        self.start..=self.end
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("`{}` is not a port number (1-65535)", p.trim()))
                .and_then(|n| {
                    if n == 0 {
                        Err("port 0 is not allowed in a range".to_string())
                    } else {
                        Ok(n)
                    }
                })
        };
        let (start, end) = match s.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(s)?;
                (p, p)
            }
        };
        if start > end {
            return Err(format!("range `{s}` starts after it ends"));
        }
        Ok(PortRange { start, end })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One or more socket addresses a listener binds (`"0.0.0.0:5060"` or
/// `["0.0.0.0:5060", "[::]:5060"]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAddrs(pub Vec<SocketAddr>);

impl<'de> Deserialize<'de> for ListenAddrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let list = match OneOrMany::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected an address like \"0.0.0.0:5060\" or a list of them")
        })? {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
        if list.is_empty() {
            return Err(serde::de::Error::custom(
                "the list of listen addresses is empty",
            ));
        }
        list.iter()
            .map(|s| {
                s.parse::<SocketAddr>().map_err(|_| {
                    serde::de::Error::custom(format!(
                        "`{s}` is not an address:port (IPv6 goes in brackets: \"[::]:5060\")"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(ListenAddrs)
    }
}

/// Which side of the firewall this node is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Expressway-C style: inside the firewall, registrar and router, opens traversal links.
    Control,
    /// Expressway-E style: in the DMZ, faces the internet, accepts traversal links.
    Edge,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Control => "control",
            Role::Edge => "edge",
        })
    }
}

/// A SIP transport: the one transport vocabulary of the workspace (listeners, zones, RFC 3263
/// lookups, the proxy's hops). TLS is always TLS over TCP; MTLS is a TLS listener that asks
/// for a client certificate, not a transport of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The token of a Via header (RFC 3261 20.42): `UDP`, `TCP`, `TLS`.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// The `transport=` URI parameter and configuration value: `udp`, `tcp`, `tls`.
    pub fn param(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// Parses a Via token or `transport=` value, in any case.
    pub fn from_token(token: &str) -> Option<Transport> {
        [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .find(|t| t.via_token().eq_ignore_ascii_case(token))
    }

    /// TCP and TLS: no retransmissions of requests (RFC 3261 17.1.1.2).
    pub fn is_reliable(self) -> bool {
        self != Transport::Udp
    }

    /// Port used when neither a URI nor an SRV record gives one (RFC 3261 19.1.2).
    pub fn default_port(self) -> u16 {
        use crate::defaults::{SIP_TCP_PORT, SIP_TLS_PORT, SIP_UDP_PORT};
        match self {
            Transport::Udp => SIP_UDP_PORT,
            Transport::Tcp => SIP_TCP_PORT,
            Transport::Tls => SIP_TLS_PORT,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

#[cfg(test)]
mod tests;
