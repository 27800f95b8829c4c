//! Which lookups RFC 3263 calls for, decided from the URI alone (sections 4.1 and 4.2).
//!
//! Owns the rules "an IP literal needs no DNS", "an explicit port skips NAPTR and SRV", "an
//! explicit transport skips NAPTR", "sips means TLS", and our choice of SRV transports when a
//! domain publishes no NAPTR. Pure: no DNS, no sockets; `resolve` carries the plan out.

use std::net::{IpAddr, SocketAddr};

use super::{DnsError, Hop, SipTarget, Transport};

/// What to look up for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The host is an IP literal: the hop is known without DNS.
    Literal(Hop),
    /// A name with an explicit port: A/AAAA only (RFC 3263 4.2).
    Address {
        domain: String,
        transport: Transport,
        port: u16,
    },
    /// A name with an explicit transport and no port: SRV for that transport, else A/AAAA
    /// with the transport's default port (RFC 3263 4.2).
    Srv {
        domain: String,
        transport: Transport,
    },
    /// A name with neither: NAPTR first (RFC 3263 4.1), then the SRV fallback.
    Naptr { domain: String, secure: bool },
}

/// RFC 3263 4.1, no NAPTR: "the client constructs SRV queries for those transport protocols
/// it supports". Our order: for `sips` only TLS is acceptable (RFC 3261 26.2.2); for `sip` UDP
/// first, because that is what the RFC's own examples and most deployments publish and expect
/// as the primary, then TCP, then TLS. The caller walks every hop, so the later transports
/// are failover, not discarded.
pub(crate) fn srv_fallback_transports(secure: bool) -> &'static [Transport] {
    if secure {
        &[Transport::Tls]
    } else {
        &[Transport::Udp, Transport::Tcp, Transport::Tls]
    }
}

/// RFC 3263 4.1/4.2: the transport when the URI names none and DNS gives none: UDP for `sip`,
/// TLS for `sips`.
pub(crate) fn default_transport(secure: bool) -> Transport {
    if secure {
        Transport::Tls
    } else {
        Transport::Udp
    }
}

/// Decide what to look up for `t`.
pub(crate) fn plan(t: &SipTarget) -> Result<Plan, DnsError> {
    let host = t.host.trim();
    // Tolerate the URI form of an IPv6 literal even though the caller should strip brackets.
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let transport = effective_transport(t)?;

    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        let transport = transport.unwrap_or(default_transport(t.secure));
        let port = t.port.unwrap_or(transport.default_port());
        return Ok(Plan::Literal(Hop {
            transport,
            addr: SocketAddr::new(ip, port),
            server_name: ip.to_string(),
        }));
    }

    // Host comparison is case-insensitive (RFC 3261 19.1.4) and a trailing dot names the same
    // domain; normalise once so the TLS identity and the queries agree.
    let domain = host.trim_end_matches('.').to_ascii_lowercase();
    if domain.is_empty() {
        return Err(DnsError::NotFound(format!("`{}` is not a host", t.host)));
    }

    Ok(match (t.port, transport) {
        (Some(port), transport) => Plan::Address {
            domain,
            transport: transport.unwrap_or(default_transport(t.secure)),
            port,
        },
        (None, Some(transport)) => Plan::Srv { domain, transport },
        (None, None) => Plan::Naptr {
            domain,
            secure: t.secure,
        },
    })
}

/// The URI's transport parameter as a hop transport: for `sips`, `transport=tcp` (and `tls`)
/// mean TLS over TCP (RFC 3261 26.2.2), and `transport=udp` cannot be honoured.
fn effective_transport(t: &SipTarget) -> Result<Option<Transport>, DnsError> {
    match (t.secure, t.transport) {
        (true, Some(Transport::Udp)) => Err(DnsError::Failed(format!(
            "sips:{} with transport=udp: SIPS requires TLS",
            t.host
        ))),
        (true, Some(_)) => Ok(Some(Transport::Tls)),
        (_, transport) => Ok(transport),
    }
}

#[cfg(test)]
mod tests;
