//! The I/O half of SIP server location: runs a `plan` against DNS with hickory-resolver and
//! orders the answers with `select`.
//!
//! Owns the resolver (its name servers, options and TTL cache). Must not decide policy: which
//! lookups to make comes from `plan`, how to order answers from `select`.
//!
//! Caching: hickory-resolver keeps an LRU of answers keyed by (name, type), each entry living
//! for its record TTL (and negative answers for the SOA minimum, RFC 2308), so repeated
//! resolutions of a busy domain cost no queries until the TTL runs out. Its default of 32
//! entries is too small for a proxy (one domain takes up to seven entries: NAPTR, three SRV,
//! A and AAAA per target), so it is raised to [`CACHE_ENTRIES`].
//!
//! Names are always asked as absolute (a trailing dot is added): a SIP URI host is a fully
//! qualified domain (RFC 3261 19.1.1), so resolv.conf search domains and `ndots` never apply.
//!
//! Failure handling: a query answered with an error code (SERVFAIL, REFUSED, ...) is treated
//! like an empty answer so that the RFC 3263 fallbacks still run (some servers refuse NAPTR).
//! A query that got no answer at all (timeout, no connection) ends the walk: the next query
//! would go to the same servers, and a SIP transaction (Timer B, 32 s) cannot wait for a
//! timeout per step. Failures are reported only when no hop at all is found, so the caller can
//! tell "DNS says no" (NotFound) from "DNS did not say" (Failed).
//!
//! Address records: each SRV target is asked for A and AAAA concurrently; IPv4 hops come before
//! IPv6 hops of the same target (IPv4 is what the reference deployments publish and reach).
//! Additional-section addresses in SRV answers are not used: hickory 0.25 keeps them only for
//! one target of the set, and the explicit A/AAAA queries are answered from cache anyway.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{Name, ResolveError, TokioResolver};

use super::plan::{default_transport, plan, srv_fallback_transports, Plan};
use super::select::{order_srv, sip_naptr, Naptr, Srv};
use super::{DnsError, Hop, SipTarget, Transport};

/// Entries in hickory's answer cache (see the module doc).
const CACHE_ENTRIES: usize = 4096;

/// Per-try timeout when the name servers are given explicitly (the system configuration keeps
/// resolv.conf's own). hickory's default of 5 s, tried three times, makes one unanswered
/// query cost 15 s, half of a SIP transaction's 32 s Timer B; 2 s keeps it near 6 s.
const EXPLICIT_SERVER_TIMEOUT: Duration = Duration::from_secs(2);

/// RFC 3263 server location over DNS. Cheap to clone: clones share one resolver and cache.
#[derive(Clone)]
pub struct SipResolver {
    inner: Arc<TokioResolver>,
}

impl std::fmt::Debug for SipResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipResolver")
            .field("name_servers", &self.inner.config().name_servers())
            .finish()
    }
}

impl SipResolver {
    /// A resolver asking `nameservers` (each over UDP, then TCP when an answer is truncated or
    /// UDP fails), with no search domains, no hosts file and a 2 s per-try timeout. Empty: the
    /// system configuration (`/etc/resolv.conf` with its options, hosts file included).
    pub fn new(nameservers: &[SocketAddr]) -> io::Result<SipResolver> {
        let provider = TokioConnectionProvider::default();
        let mut builder = if nameservers.is_empty() {
            TokioResolver::builder(provider).map_err(io::Error::other)?
        } else {
            let servers: Vec<NameServerConfig> = nameservers
                .iter()
                .flat_map(|&addr| {
                    [
                        NameServerConfig::new(addr, Protocol::Udp),
                        NameServerConfig::new(addr, Protocol::Tcp),
                    ]
                })
                .collect();
            let config = ResolverConfig::from_parts(None, Vec::new(), servers);
            let mut builder = TokioResolver::builder_with_config(config, provider);
            builder.options_mut().use_hosts_file = ResolveHosts::Never;
            builder.options_mut().timeout = EXPLICIT_SERVER_TIMEOUT;
            builder
        };
        builder.options_mut().cache_size = CACHE_ENTRIES;
        Ok(SipResolver {
            inner: Arc::new(builder.build()),
        })
    }

    /// RFC 3263 4.1/4.2: the hops to try for `t`, in order. The caller tries them in turn
    /// (RFC 3263 4.3).
    pub async fn resolve(&self, t: &SipTarget) -> Result<Vec<Hop>, DnsError> {
        match plan(t)? {
            Plan::Literal(hop) => Ok(vec![hop]),
            Plan::Address {
                domain,
                transport,
                port,
            } => {
                let mut walk = Walk::new(&domain);
                let name = absolute(&domain)?;
                self.address_hops(&mut walk, &name, transport, port).await;
                walk.finish()
            }
            Plan::Srv { domain, transport } => {
                let mut walk = Walk::new(&domain);
                self.srv_then_address(&mut walk, &[transport], transport)
                    .await?;
                walk.finish()
            }
            Plan::Naptr { domain, secure } => {
                let mut walk = Walk::new(&domain);
                self.naptr_walk(&mut walk, secure).await?;
                walk.finish()
            }
        }
    }

    /// RFC 3263 4.1 from the top: NAPTR, then SRV for our transports, then A/AAAA.
    async fn naptr_walk(&self, walk: &mut Walk, secure: bool) -> Result<(), DnsError> {
        let name = absolute(&walk.domain)?;
        let records = self.naptr(walk, &name).await;
        for (transport, replacement) in sip_naptr(records, secure) {
            // A replacement that is not a valid name is the zone's error: skip that record.
            let Ok(srv_name) = Name::from_ascii(&replacement) else {
                walk.fail(format!("NAPTR {name}: bad replacement `{replacement}`"));
                continue;
            };
            let srvs = self.srv(walk, &srv_name).await;
            self.srv_hops(walk, srvs, transport).await;
        }
        if walk.hops.is_empty() && !walk.unavailable {
            // No usable NAPTR (or it led nowhere): "the client constructs SRV queries for
            // those transport protocols it supports".
            let fallback = default_transport(secure);
            self.srv_then_address(walk, srv_fallback_transports(secure), fallback)
                .await?;
        }
        Ok(())
    }

    /// SRV for each transport in order; only when none has any SRV record, A/AAAA of the
    /// domain with `fallback` on its default port (RFC 3263 4.2).
    async fn srv_then_address(
        &self,
        walk: &mut Walk,
        transports: &[Transport],
        fallback: Transport,
    ) -> Result<(), DnsError> {
        let mut any_srv = false;
        for &transport in transports {
            let srv_name = absolute(&format!("{}.{}", super::srv_prefix(transport), walk.domain))?;
            let srvs = self.srv(walk, &srv_name).await;
            any_srv |= !srvs.is_empty();
            self.srv_hops(walk, srvs, transport).await;
        }
        if !any_srv {
            let name = absolute(&walk.domain)?;
            self.address_hops(walk, &name, fallback, fallback.default_port())
                .await;
        }
        Ok(())
    }

    /// Hops for one SRV answer: RFC 2782 order, then each target's addresses.
    async fn srv_hops(&self, walk: &mut Walk, srvs: Vec<Srv>, transport: Transport) {
        if !srvs.is_empty() && srvs.iter().all(Srv::is_unavailable) {
            walk.unavailable = true;
            return;
        }
        // The RNG lives only inside this statement: `ThreadRng` is not `Send`, and the future
        // of `resolve` must be.
        let ordered = order_srv(srvs, &mut rand::thread_rng());
        for srv in ordered.iter().filter(|s| !s.is_unavailable()) {
            match Name::from_ascii(&srv.target) {
                Ok(target) => self.address_hops(walk, &target, transport, srv.port).await,
                Err(_) => walk.fail(format!("SRV target `{}` is not a name", srv.target)),
            }
        }
    }

    /// One hop per A then AAAA address of `name`.
    async fn address_hops(&self, walk: &mut Walk, name: &Name, transport: Transport, port: u16) {
        if walk.unreachable {
            return;
        }
        let (v4, v6) = tokio::join!(
            self.inner.lookup(name.clone(), RecordType::A),
            self.inner.lookup(name.clone(), RecordType::AAAA),
        );
        for (answer, kind) in [(v4, "A"), (v6, "AAAA")] {
            let records = match answer {
                Ok(lookup) => lookup,
                Err(e) => {
                    walk.error(kind, name, &e);
                    continue;
                }
            };
            for rdata in records.iter() {
                let ip = match rdata {
                    RData::A(a) => IpAddr::V4(a.0),
                    RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                    // CNAMEs followed by hickory come along in the answer; skip them.
                    _ => continue,
                };
                walk.push(Hop {
                    transport,
                    addr: SocketAddr::new(ip, port),
                    server_name: walk.domain.clone(),
                });
            }
        }
    }

    async fn naptr(&self, walk: &mut Walk, name: &Name) -> Vec<Naptr> {
        if walk.unreachable {
            return Vec::new();
        }
        match self.inner.lookup(name.clone(), RecordType::NAPTR).await {
            Ok(lookup) => lookup
                .iter()
                .filter_map(|rdata| match rdata {
                    RData::NAPTR(n) => Some(Naptr {
                        order: n.order(),
                        preference: n.preference(),
                        flags: String::from_utf8_lossy(n.flags()).into_owned(),
                        service: String::from_utf8_lossy(n.services()).into_owned(),
                        regexp: String::from_utf8_lossy(n.regexp()).into_owned(),
                        replacement: n.replacement().to_ascii(),
                    }),
                    _ => None,
                })
                .collect(),
            Err(e) => {
                walk.error("NAPTR", name, &e);
                Vec::new()
            }
        }
    }

    async fn srv(&self, walk: &mut Walk, name: &Name) -> Vec<Srv> {
        if walk.unreachable {
            return Vec::new();
        }
        match self.inner.srv_lookup(name.clone()).await {
            Ok(lookup) => lookup
                .iter()
                .map(|s| Srv {
                    priority: s.priority(),
                    weight: s.weight(),
                    port: s.port(),
                    target: s.target().to_ascii(),
                })
                .collect(),
            Err(e) => {
                walk.error("SRV", name, &e);
                Vec::new()
            }
        }
    }
}

/// What one resolution has found so far.
struct Walk {
    /// The URI host, normalised: every hop's TLS identity.
    domain: String,
    hops: Vec<Hop>,
    seen: HashSet<(Transport, SocketAddr)>,
    /// An SRV answer said "." (RFC 2782: decidedly not available); no address fallback then.
    unavailable: bool,
    /// The first query that failed for a reason other than "no such record".
    failure: Option<String>,
    /// A query got no DNS answer at all: make no more queries (see the module doc).
    unreachable: bool,
}

impl Walk {
    fn new(domain: &str) -> Walk {
        Walk {
            domain: domain.to_string(),
            hops: Vec::new(),
            seen: HashSet::new(),
            unavailable: false,
            failure: None,
            unreachable: false,
        }
    }

    /// Keep the first of duplicate hops: NAPTR and the SRV fallback may reach the same server.
    fn push(&mut self, hop: Hop) {
        if self.seen.insert((hop.transport, hop.addr)) {
            self.hops.push(hop);
        }
    }

    fn fail(&mut self, why: String) {
        self.failure.get_or_insert(why);
    }

    /// Record a query error unless it only says the records do not exist.
    fn error(&mut self, kind: &str, name: &Name, e: &ResolveError) {
        if !is_no_records(e) {
            self.fail(format!("{kind} {name}: {e}"));
        }
        if !is_dns_answer(e) {
            self.unreachable = true;
        }
    }

    fn finish(self) -> Result<Vec<Hop>, DnsError> {
        if !self.hops.is_empty() {
            return Ok(self.hops);
        }
        Err(match self.failure {
            Some(why) => DnsError::Failed(why),
            None if self.unavailable => {
                DnsError::NotFound(format!("{}: SRV says not available", self.domain))
            }
            None => DnsError::NotFound(format!("{}: no NAPTR, SRV, A or AAAA", self.domain)),
        })
    }
}

/// NXDOMAIN and NOERROR-with-no-answer are answers ("it does not exist"); hickory reports
/// SERVFAIL, REFUSED and the like with the same error kind, and those are failures.
fn is_no_records(e: &ResolveError) -> bool {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => {
            matches!(
                *response_code,
                ResponseCode::NoError | ResponseCode::NXDomain
            )
        }
        _ => false,
    }
}

/// The error carries a DNS response code, i.e. a server did answer.
fn is_dns_answer(e: &ResolveError) -> bool {
    matches!(
        e.proto().map(|p| p.kind()),
        Some(ProtoErrorKind::NoRecordsFound { .. })
    )
}

/// `domain` as an absolute DNS name, so no search list or `ndots` rule rewrites it.
fn absolute(domain: &str) -> Result<Name, DnsError> {
    let mut name = Name::from_ascii(domain)
        .map_err(|e| DnsError::NotFound(format!("`{domain}` is not a domain name: {e}")))?;
    name.set_fqdn(true);
    Ok(name)
}
