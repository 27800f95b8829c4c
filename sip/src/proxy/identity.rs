//! Who "we" are on the wire: the addresses we listen on, the domains we serve, the IP we use
//! towards a destination, and the Via / Record-Route values and branch ids we stamp on requests
//! (with the RFC 3261 16.6 item 8 loop-detection hash inside the branch).
//!
//! The operating-system questions ("which source IP reaches X", "is X one of my addresses") are
//! asked through `NetEnv`, so this stays sans-IO and testable; answers are cached, bounded.

use crate::message::addr_text::push_socket_addr;
use crate::message::{Host, Message};
use causeway_config::Transport;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// Questions about the host's network that only the driver can answer.
pub trait NetEnv: Send {
    /// The source address the OS would use to reach `dest`.
    fn source_ip_for(&self, dest: IpAddr) -> Option<IpAddr>;
    /// Whether `ip` is assigned to this host.
    fn is_local_ip(&self, ip: IpAddr) -> bool;
}

/// The prefix of every branch we generate; what follows is the 16-hex-digit loop hash and a
/// counter. The magic cookie comes first as RFC 3261 8.1.1.7 requires.
pub const BRANCH_PREFIX: &str = "z9hG4bKcw";
const CACHE_LIMIT: usize = 4096;

pub struct Identity {
    listeners: Vec<(Transport, SocketAddr)>,
    domains: Vec<String>,
    env: Box<dyn NetEnv>,
    source_cache: HashMap<IpAddr, IpAddr>,
    local_cache: HashMap<IpAddr, bool>,
    counter: u64,
}

impl Identity {
    pub fn new(
        listeners: Vec<(Transport, SocketAddr)>,
        domains: Vec<String>,
        env: Box<dyn NetEnv>,
    ) -> Identity {
        Identity {
            listeners,
            domains,
            env,
            source_cache: HashMap::new(),
            local_cache: HashMap::new(),
            counter: 0,
        }
    }

    /// A reload's registrar domains.
    pub fn set_domains(&mut self, domains: Vec<String>) {
        self.domains = domains;
    }

    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    pub fn is_our_domain(&self, host: &Host) -> bool {
        match host {
            Host::Domain(d) => self.domains.iter().any(|x| x.eq_ignore_ascii_case(d)),
            _ => false,
        }
    }

    fn is_local_ip(&mut self, ip: IpAddr) -> bool {
        if ip.is_loopback() {
            return true;
        }
        if let Some(v) = self.local_cache.get(&ip) {
            return *v;
        }
        let v = self
            .listeners
            .iter()
            .any(|(_, a)| a.ip() == ip || self.env.is_local_ip(ip));
        if self.local_cache.len() >= CACHE_LIMIT {
            self.local_cache.clear();
        }
        self.local_cache.insert(ip, v);
        v
    }

    /// Whether `host:port` addresses this node (a Route or Request-URI pointing at us).
    pub fn is_our_address(&mut self, host: &Host, port: Option<u16>, secure: bool) -> bool {
        let ip = match host {
            Host::V4(a) => IpAddr::V4(*a),
            Host::V6(a) => IpAddr::V6(*a),
            Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
                IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
            }
            Host::Domain(_) => return false,
        };
        let port = port.unwrap_or(if secure {
            causeway_config::defaults::SIP_TLS_PORT
        } else {
            causeway_config::defaults::SIP_UDP_PORT
        });
        let port_ours = self.listeners.iter().any(|(_, a)| a.port() == port);
        port_ours && self.listener_ip_matches(ip)
    }

    fn listener_ip_matches(&mut self, ip: IpAddr) -> bool {
        let any_unspecified = self.listeners.iter().any(|(_, a)| a.ip().is_unspecified());
        if self.listeners.iter().any(|(_, a)| a.ip() == ip) {
            return true;
        }
        any_unspecified && self.is_local_ip(ip)
    }

    /// Our address on transport `kind` facing `dest`: the listener's IP, or when it is bound to
    /// all interfaces the IP the OS routes from, and the listener's port.
    pub fn local_addr_towards(&mut self, kind: Transport, dest: IpAddr) -> Option<SocketAddr> {
        let listener = self
            .listeners
            .iter()
            .find(|(k, a)| *k == kind && a.is_ipv4() == dest.is_ipv4())
            .or_else(|| self.listeners.iter().find(|(k, _)| *k == kind))
            .map(|(_, a)| *a)?;
        if !listener.ip().is_unspecified() {
            return Some(listener);
        }
        let ip = match self.source_cache.get(&dest) {
            Some(ip) => *ip,
            None => {
                let ip = self.env.source_ip_for(dest)?;
                if self.source_cache.len() >= CACHE_LIMIT {
                    self.source_cache.clear();
                }
                self.source_cache.insert(dest, ip);
                ip
            }
        };
        Some(SocketAddr::new(ip, listener.port()))
    }

    /// Whether `port` is one of our listening ports for `kind`.
    pub fn is_listener_port(&self, kind: Transport, port: u16) -> bool {
        self.listeners
            .iter()
            .any(|(k, a)| *k == kind && a.port() == port)
    }

    pub fn has_listener(&self, kind: Transport) -> bool {
        self.listeners.iter().any(|(k, _)| *k == kind)
    }

    /// A new branch for a request forwarded from `incoming` (RFC 3261 16.6 item 8).
    pub fn branch(&mut self, incoming: &Message) -> String {
        self.counter = self.counter.wrapping_add(1);
        // written into one buffer of the right size: a branch is made for every forwarded
        // request, and format! was a visible part of that
        let mut b = String::with_capacity(BRANCH_PREFIX.len() + 32);
        b.push_str(BRANCH_PREFIX);
        let _ = write!(b, "{:016x}{:x}", loop_hash(incoming), self.counter);
        b
    }

    /// A branch for a request forwarded statelessly (an ACK for a 2xx): the same every time for
    /// the same request, so retransmissions get the same branch (RFC 3261 16.11).
    pub fn stateless_branch(&self, incoming: &Message) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        incoming
            .vias()
            .first()
            .and_then(|v| v.branch())
            .hash(&mut h);
        loop_hash(incoming).hash(&mut h);
        format!("{BRANCH_PREFIX}{:016x}0s", h.finish())
    }

    /// RFC 3261 16.3 item 4: the request carries one of our Vias whose branch holds the hash of
    /// this very request: it came back to us unchanged, a loop (a spiral changes the hash).
    pub fn is_loop(&mut self, incoming: &Message) -> bool {
        let ours: Vec<u64> = incoming
            .vias()
            .iter()
            .filter_map(|v| v.branch())
            .filter_map(|b| b.strip_prefix(BRANCH_PREFIX))
            .filter_map(|rest| rest.get(..16))
            .filter_map(|h| u64::from_str_radix(h, 16).ok())
            .collect();
        if ours.is_empty() {
            return false;
        }
        let me = loop_hash(incoming);
        let hit = ours.contains(&me);
        hit && incoming.vias().iter().any(|v| {
            v.branch().is_some_and(|b| b.starts_with(BRANCH_PREFIX))
                && self.is_our_address(&v.host, v.port, v.transport.eq_ignore_ascii_case("TLS"))
        })
    }
}

/// RFC 3261 16.6 item 8: hash of the fields that a loop leaves unchanged and a spiral changes.
fn loop_hash(m: &Message) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.request_uri_str().hash(&mut h);
    m.from().and_then(|f| f.tag()).hash(&mut h);
    m.to().and_then(|t| t.tag()).hash(&mut h);
    m.call_id().hash(&mut h);
    m.cseq().map(|(n, _)| n).hash(&mut h);
    for v in m.header_values("Proxy-Require") {
        v.hash(&mut h);
    }
    for v in m.header_values("Proxy-Authorization") {
        v.hash(&mut h);
    }
    for r in m.routes() {
        // hashed as its text, as `String::hash` would (the bytes, then 0xff), without
        // making the string
        let _ = write!(HashWriter(&mut h), "{}", r.uri);
        h.write_u8(0xff);
    }
    h.finish()
}

/// Feeds formatted text to a hasher as `str::hash` feeds its bytes (without the end marker).
struct HashWriter<'a, H: Hasher>(&'a mut H);

impl<H: Hasher> std::fmt::Write for HashWriter<'_, H> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}

/// `SIP/2.0/UDP 192.0.2.1:5060;branch=…`
pub fn via_value(kind: Transport, local: SocketAddr, branch: &str) -> String {
    let mut v = String::with_capacity(branch.len() + 72);
    v.push_str("SIP/2.0/");
    v.push_str(kind.via_token());
    v.push(' ');
    push_socket_addr(&mut v, local);
    v.push_str(";branch=");
    v.push_str(branch);
    v
}

/// `<sip:192.0.2.1:5060;transport=udp;lr>`: the address and transport we want in-dialog
/// requests on; `r2=on`-style pairs are two such entries.
pub fn record_route_value(kind: Transport, local: SocketAddr) -> String {
    let t = match kind {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
    };
    let mut v = String::with_capacity(64);
    v.push_str("<sip:");
    push_socket_addr(&mut v, local);
    v.push_str(";transport=");
    v.push_str(t);
    v.push_str(";lr>");
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Bytes;

    /// The hash as it was computed before Routes were hashed without making their text: the
    /// branches of nodes of either version must keep detecting each other's loops.
    fn loop_hash_of_strings(m: &Message) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        m.request_uri_str().hash(&mut h);
        m.from().and_then(|f| f.tag()).hash(&mut h);
        m.to().and_then(|t| t.tag()).hash(&mut h);
        m.call_id().hash(&mut h);
        m.cseq().map(|(n, _)| n).hash(&mut h);
        for v in m.header_values("Proxy-Require") {
            v.hash(&mut h);
        }
        for v in m.header_values("Proxy-Authorization") {
            v.hash(&mut h);
        }
        for r in m.routes() {
            r.uri.to_string().hash(&mut h);
        }
        h.finish()
    }

    #[test]
    fn loop_hash_hashes_routes_as_their_text() {
        let text =
            "BYE sip:b@192.0.2.2:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
            Route: <sip:192.0.2.9:5060;transport=udp;lr>, <sip:[2001:db8::1]:5061;lr>\r\n\
            Route: <sips:edge.example.com;lr;ftag=x>\r\nFrom: <sip:a@x>;tag=1\r\n\
            To: <sip:b@y>;tag=2\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(Bytes::copy_from_slice(text.as_bytes())).expect("parses");
        assert_eq!(m.routes().len(), 3);
        assert_eq!(loop_hash(&m), loop_hash_of_strings(&m));
    }
}
