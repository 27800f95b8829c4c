//! SIP server location (RFC 3263): a SIP or SIPS URI's host, port and transport in, an ordered
//! list of hops (transport, address, TLS identity) out.
//!
//! The module is split so that the policy can be read and tested without a network:
//! - `plan`: which lookups RFC 3263 4.1/4.2 calls for, given what the URI already says (pure);
//! - `select`: NAPTR filtering and ordering, RFC 2782 SRV priority and weighted order (pure,
//!   RNG injected);
//! - `resolve`: the only part that does I/O: hickory-resolver queries and its TTL cache.
//!
//! `resolve` is the one part of this module that touches the network. It owns no sockets of its own
//! (hickory does), keeps no state beyond hickory's cache, and must not know about SIP messages
//! or transactions: the proxy core parses the URI into a [`SipTarget`] and does RFC 3263 4.3
//! failover itself, walking the returned hops in order.

mod plan;
mod resolve;
pub mod select;

use std::fmt;
use std::net::SocketAddr;

use causeway_config::Transport;

pub use resolve::SipResolver;

/// SRV service and protocol labels of a transport (RFC 3263 4.1: `_sips._tcp`, `_sip._tcp`,
/// `_sip._udp`).
pub fn srv_prefix(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "_sip._udp",
        Transport::Tcp => "_sip._tcp",
        Transport::Tls => "_sips._tcp",
    }
}

/// What a SIP or SIPS URI says about where to send: the input of RFC 3263 server location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipTarget {
    /// The URI host: an IP literal (IPv6 without brackets) or a domain name.
    pub host: String,
    /// An explicit port in the URI.
    pub port: Option<u16>,
    /// The URI's `transport=` parameter.
    pub transport: Option<Transport>,
    /// The URI scheme is `sips`: only TLS is acceptable.
    pub secure: bool,
}

/// One place to try: connect with `transport` to `addr`; when the transport is TLS, check the
/// server's certificate against `server_name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hop {
    pub transport: Transport,
    pub addr: SocketAddr,
    /// The host of the original URI, not the SRV target: RFC 5922 4.1 identifies the server by
    /// the domain the user asked for, so DNS cannot redirect a TLS client to another identity.
    pub server_name: String,
}

impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.transport, self.addr, self.server_name)
    }
}

/// Why no hop could be found. The text names the query and what went wrong, for logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// DNS answered, and the answer is that there is nowhere to send (NXDOMAIN, no records,
    /// an SRV target of "." or a host that cannot be a domain name).
    #[error("no SIP server found: {0}")]
    NotFound(String),
    /// DNS did not answer usefully (timeout, SERVFAIL, REFUSED, a bad configuration) or the
    /// target asks for something impossible (a `sips` URI with `transport=udp`).
    #[error("SIP server location failed: {0}")]
    Failed(String),
}
