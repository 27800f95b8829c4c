//! Cross-field rules that serde cannot express: ranges that must be ordered, keys that need
//! each other, files that must exist. Each failure names its field path so `load` can point at
//! the line.
//!
//! Only checks here; no defaults (schema) and no I/O beyond checking that named files exist.
//!
//! `check` runs one function per section or rule family in a fixed order (system, sip,
//! registrar, credentials, zones, transforms, search rules, routing, admin, media, h323,
//! protection, cluster). Only
//! the first failure is reported, so that order is behaviour: an error message a user sees
//! depends on it. Each zone is checked in three steps: its name, the keys its type may carry
//! (`check_zone_keys`), then what its type requires (one function per type).

use crate::load::PathPart;
use crate::load::{FieldError, PathPart::*};
use crate::schema::Config;
use crate::IoPath;
mod zones;

use crate::zones::{AdminUser, PatternBehavior, PatternType};
use zones::check_zones;
pub use zones::{traversal_server_h323_port, traversal_server_port};

/// Name of the implicit zone of local registrations.
pub const LOCAL_ZONE: &str = "LocalZone";

pub(crate) fn check(c: &Config) -> Result<(), FieldError> {
    check_system(c)?;
    check_sip_listeners(c)?;
    check_sip_limits(c)?;
    check_registrar(c)?;
    check_credentials(c)?;
    check_zones(c)?;
    check_transforms(c)?;
    check_search_rules(c)?;
    check_routing(c)?;
    check_admin(c)?;
    check_media(c)?;
    check_h323(c)?;
    check_protection(&c.protection)?;
    if let Some(cluster) = &c.cluster {
        crate::cluster::check(cluster)?;
    }
    Ok(())
}

fn check_system(c: &Config) -> Result<(), FieldError> {
    let sys = &c.system;
    if sys.name.trim().is_empty() {
        return Err(FieldError::new(
            &[Key("system"), Key("name")],
            "must not be empty",
        ));
    }
    if !is_hostname(&sys.domain) {
        return Err(FieldError::new(
            &[Key("system"), Key("domain")],
            format!("`{}` is not a domain name", sys.domain),
        ));
    }
    Ok(())
}

/// The listeners of the node's role, and the certificate files TLS and MTLS need.
fn check_sip_listeners(c: &Config) -> Result<(), FieldError> {
    let sip = &c.sip;
    let role = c.system.role;
    if !sip.listeners(role).iter().any(|l| l.enabled) {
        return Err(FieldError::new(
            &[Key("sip")],
            "no SIP listener is enabled (enable at least one of udp, tcp, tls, mtls)",
        ));
    }
    match (&sip.certificate, &sip.private_key) {
        (Some(_), None) => {
            return Err(FieldError::new(
                &[Key("sip"), Key("certificate")],
                "a certificate needs `private_key` too",
            ))
        }
        (None, Some(_)) => {
            return Err(FieldError::new(
                &[Key("sip"), Key("private_key")],
                "a private key needs `certificate` too",
            ))
        }
        _ => {}
    }
    for (key, path) in [
        ("certificate", &sip.certificate),
        ("private_key", &sip.private_key),
        ("trusted_ca", &sip.trusted_ca),
    ] {
        if let Some(p) = path {
            if !p.is_file() {
                return Err(FieldError::new(
                    &[Key("sip"), Key(key)],
                    format!("file `{}` does not exist", p.display()),
                ));
            }
        }
    }
    if sip.listeners(role).iter().any(|l| l.mtls && l.enabled) && sip.trusted_ca.is_none() {
        return Err(FieldError::new(
            &[Key("sip"), Key("mtls")],
            "MTLS verifies client certificates: set `sip.trusted_ca`",
        ));
    }
    Ok(())
}

/// Message limits, RFC 3261 timers and table sizes.
fn check_sip_limits(c: &Config) -> Result<(), FieldError> {
    let sip = &c.sip;
    if sip.max_message_size < 1024 {
        return Err(FieldError::new(
            &[Key("sip"), Key("max_message_size")],
            "must be at least 1024 bytes",
        ));
    }
    if sip.max_headers < 8 {
        return Err(FieldError::new(
            &[Key("sip"), Key("max_headers")],
            "must be at least 8",
        ));
    }
    if sip.t1_ms == 0 {
        return Err(FieldError::new(
            &[Key("sip"), Key("t1_ms")],
            "must be positive",
        ));
    }
    if sip.t2_ms < sip.t1_ms {
        return Err(FieldError::new(
            &[Key("sip"), Key("t2_ms")],
            "T2 must not be shorter than T1 (RFC 3261 17.1.2.2)",
        ));
    }
    if sip.timer_c == 0 {
        return Err(FieldError::new(
            &[Key("sip"), Key("timer_c")],
            "must be positive",
        ));
    }
    if sip.udp_batch_us > 100_000 {
        return Err(FieldError::new(
            &[Key("sip"), Key("udp_batch_us")],
            "must be at most 100000 (0.1 s): a datagram may wait this long before it is handled",
        ));
    }
    if !(1..=2).contains(&sip.threads) {
        return Err(FieldError::new(
            &[Key("sip"), Key("threads")],
            "must be 1 (the core's thread owns the UDP ring) or 2 (the ring on a thread of its own)",
        ));
    }
    if sip.threads == 2 && sip.udp_io == IoPath::Epoll {
        return Err(FieldError::new(
            &[Key("sip"), Key("threads")],
            "2 needs udp_io = \"io_uring\" or \"auto\": on epoll SIP runs on the runtime's thread",
        ));
    }
    if sip.max_transactions == 0 || sip.max_connections == 0 {
        return Err(FieldError::new(
            &[Key("sip")],
            "max_transactions and max_connections must be positive",
        ));
    }
    Ok(())
}

/// Budgets of zero would block every source at its first message; a block of zero seconds or
/// a message timeout of zero would be no protection at all.
fn check_protection(p: &crate::protection::Protection) -> Result<(), FieldError> {
    let at = |k: &'static str| [Key("protection"), Key(k)];
    let positive = [
        ("messages_per_second", u64::from(p.messages_per_second)),
        ("garbage_per_second", u64::from(p.garbage_per_second)),
        (
            "auth_failures_per_second",
            u64::from(p.auth_failures_per_second),
        ),
        (
            "connections_per_second",
            u64::from(p.connections_per_second),
        ),
        ("block_seconds", p.block_seconds),
        ("message_timeout", p.message_timeout),
        ("max_sources", p.max_sources as u64),
    ];
    for (key, v) in positive {
        if v == 0 {
            return Err(FieldError::new(&at(key), "must be positive"));
        }
    }
    if p.block_seconds > 86_400 {
        return Err(FieldError::new(
            &at("block_seconds"),
            "at most 86400 (a day)",
        ));
    }
    Ok(())
}

/// Registrar domains, the expiry bounds and the digest offer.
fn check_registrar(c: &Config) -> Result<(), FieldError> {
    let r = &c.registrar;
    for (i, d) in r.domains.iter().enumerate() {
        if !is_hostname(d) {
            return Err(FieldError::new(
                &[Key("registrar"), Key("domains"), Index(i)],
                format!("`{d}` is not a domain name"),
            ));
        }
    }
    if r.min_expires > r.max_expires {
        return Err(FieldError::new(
            &[Key("registrar"), Key("min_expires")],
            format!(
                "min_expires ({}) is larger than max_expires ({})",
                r.min_expires, r.max_expires
            ),
        ));
    }
    if r.default_expires < r.min_expires || r.default_expires > r.max_expires {
        return Err(FieldError::new(
            &[Key("registrar"), Key("default_expires")],
            format!(
                "default_expires ({}) must lie between min_expires ({}) and max_expires ({})",
                r.default_expires, r.min_expires, r.max_expires
            ),
        ));
    }
    for (key, v) in [
        ("flow_timer_udp", r.flow_timer_udp),
        ("flow_timer_stream", r.flow_timer_stream),
    ] {
        if v < 5 || u64::from(v) >= c.sip.idle_timeout {
            return Err(FieldError::new(
                &[Key("registrar"), Key(key)],
                format!(
                    "{key} ({v} s) must be at least 5 s and below [sip] idle_timeout ({} s), \
                     or the connection closes between keep-alives",
                    c.sip.idle_timeout
                ),
            ));
        }
    }
    if r.algorithms.is_empty() {
        return Err(FieldError::new(
            &[Key("registrar"), Key("algorithms")],
            "offer at least one digest algorithm",
        ));
    }
    if r.authenticate && c.credentials.is_empty() {
        return Err(FieldError::new(
            &[Key("registrar"), Key("authenticate")],
            "authentication needs at least one [[credential]]",
        ));
    }
    Ok(())
}

/// Every `[[credential]]` has a username, and no username twice.
fn check_credentials(c: &Config) -> Result<(), FieldError> {
    for (i, cred) in c.credentials.iter().enumerate() {
        if cred.username.is_empty() {
            return Err(FieldError::new(
                &[Key("credential"), Index(i), Key("username")],
                "must not be empty",
            ));
        }
        if c.credentials[..i]
            .iter()
            .any(|o| o.username == cred.username)
        {
            return Err(FieldError::new(
                &[Key("credential"), Index(i), Key("username")],
                format!("username `{}` is defined twice", cred.username),
            ));
        }
    }
    Ok(())
}

fn check_h323(c: &Config) -> Result<(), FieldError> {
    let h = &c.h323;
    let at = |k: &'static str| [Key("h323"), Key(k)];
    if h.time_to_live == 0 {
        return Err(FieldError::new(&at("time_to_live"), "must be positive"));
    }
    for (k, v) in [
        ("probe_timeout", h.probe_timeout),
        ("locate_timeout", h.locate_timeout),
        ("setup_timeout", h.setup_timeout),
    ] {
        if v == 0 {
            return Err(FieldError::new(&at(k), "must be positive"));
        }
    }
    if h.max_calls == 0 || h.max_registrations == 0 {
        let k = if h.max_calls == 0 {
            "max_calls"
        } else {
            "max_registrations"
        };
        return Err(FieldError::new(&at(k), "must be positive"));
    }
    for (k, list) in [
        ("registration_allow", &h.registration_allow),
        ("registration_deny", &h.registration_deny),
    ] {
        for (i, pattern) in list.iter().enumerate() {
            if let Err(e) = regex::Regex::new(pattern) {
                return Err(FieldError::new(
                    &[Key("h323"), Key(k), Index(i)],
                    format!("not a valid regex: {e}"),
                ));
            }
        }
    }
    for (k, port) in [
        ("h46018_port", h.h46018_port),
        ("assent_port", h.assent_port),
    ] {
        if port == 0 {
            return Err(FieldError::new(&at(k), "must be a port number"));
        }
    }
    if h.token_skew == 0 {
        return Err(FieldError::new(&at("token_skew"), "must be positive"));
    }
    if h.gatekeeper_id
        .as_ref()
        .is_some_and(|g| g.is_empty() || g.chars().count() > 128)
    {
        return Err(FieldError::new(
            &at("gatekeeper_id"),
            "must be 1 to 128 characters",
        ));
    }
    Ok(())
}

fn check_media(c: &Config) -> Result<(), FieldError> {
    let m = &c.media;
    if m.ports.start & 1 != 0 || m.ports.len() < 2 {
        return Err(FieldError::new(
            &[Key("media"), Key("ports")],
            "must start on an even port and hold at least one RTP/RTCP pair",
        ));
    }
    if m.multiplexed_ports.len() != 2 || m.multiplexed_ports.start & 1 != 0 {
        return Err(FieldError::new(
            &[Key("media"), Key("multiplexed_ports")],
            "must be one even/odd pair, e.g. \"36000-36001\" or \"2776-2777\"",
        ));
    }
    if m.inactivity_timeout == 0 {
        return Err(FieldError::new(
            &[Key("media"), Key("inactivity_timeout")],
            "must be positive",
        ));
    }
    if m.max_sessions == 0 {
        return Err(FieldError::new(
            &[Key("media"), Key("max_sessions")],
            "must be positive",
        ));
    }
    let pt = &crate::defaults::MEDIA_KEEPALIVE_PAYLOAD_TYPE_RANGE;
    if !pt.contains(&m.keepalive_payload_type) {
        return Err(FieldError::new(
            &[Key("media"), Key("keepalive_payload_type")],
            format!(
                "must be a dynamic RTP payload type, {} to {} (116 by default), and none the \
                 endpoints use",
                pt.start(),
                pt.end()
            ),
        ));
    }
    Ok(())
}

fn check_transforms(c: &Config) -> Result<(), FieldError> {
    for (i, t) in c.transforms.iter().enumerate() {
        let at = |k: &'static str| [Key("transform"), Index(i), Key(k)];
        check_priority(t.priority, &at("priority"))?;
        check_pattern(t.pattern_type, &t.pattern, &at("pattern"))?;
    }
    Ok(())
}

/// Each rule's name, priority and pattern, that its target and source name zones that exist,
/// and that a replacing rule has something to replace with.
fn check_search_rules(c: &Config) -> Result<(), FieldError> {
    let zone_exists = |n: &str| n == LOCAL_ZONE || c.zones.iter().any(|z| z.name == n);
    for (i, r) in c.search_rules.iter().enumerate() {
        let at = |k: &'static str| [Key("search_rule"), Index(i), Key(k)];
        if r.name.trim().is_empty() {
            return Err(FieldError::new(&at("name"), "must not be empty"));
        }
        check_priority(r.priority, &at("priority"))?;
        check_pattern(r.pattern_type, &r.pattern, &at("pattern"))?;
        if !zone_exists(&r.target) {
            return Err(FieldError::new(
                &at("target"),
                format!(
                    "no zone is named `{}` (zones: {LOCAL_ZONE}{})",
                    r.target,
                    c.zones
                        .iter()
                        .map(|z| format!(", {}", z.name))
                        .collect::<String>()
                ),
            ));
        }
        if !(r.source == "any" || r.source == "registered" || zone_exists(&r.source)) {
            return Err(FieldError::new(
                &at("source"),
                format!(
                    "`{}` is neither \"any\", \"registered\" nor a zone name",
                    r.source
                ),
            ));
        }
        if r.pattern_behavior == PatternBehavior::Replace
            && r.pattern_type != PatternType::Regex
            && r.replace.is_empty()
        {
            // replacing by nothing is what "strip" is for
            return Err(FieldError::new(
                &at("replace"),
                "pattern_behavior \"replace\" needs `replace` (or use \"strip\")",
            ));
        }
    }
    Ok(())
}

fn check_routing(c: &Config) -> Result<(), FieldError> {
    if c.routing.hop_limit == 0 || c.routing.hop_limit > 255 {
        return Err(FieldError::new(
            &[Key("routing"), Key("hop_limit")],
            "must be between 1 and 255",
        ));
    }
    Ok(())
}

/// Loopback by default; elsewhere only over TLS and with at least one user, so that the
/// node's state never crosses a network in clear or to anyone who can connect.
fn check_admin(c: &Config) -> Result<(), FieldError> {
    let a = &c.admin;
    for (i, u) in a.users.iter().enumerate() {
        check_admin_user(&a.users[..i], u, i)?;
    }
    check_history(a)?;
    if a.listen.ip().is_loopback() {
        return Ok(());
    }
    let missing = match (a.tls, a.users.is_empty()) {
        (false, true) => "`tls = true` and `users`",
        (false, false) => "`tls = true`",
        (true, true) => "`users` (at least one; see `causeway hash-password`)",
        (true, false) => return Ok(()),
    };
    Err(FieldError::new(
        &[Key("admin"), Key("listen")],
        format!(
            "{} is not a loopback address: the admin listener there needs {missing} in [admin]",
            a.listen
        ),
    ))
}

/// The history bounds: a budget that holds at least a call, and no more than a node can spare.
fn check_history(a: &crate::zones::Admin) -> Result<(), FieldError> {
    const MIN_BYTES: usize = 64 * 1024;
    const MAX_BYTES: usize = 4 << 30;
    const MAX_ENTRIES: usize = 1_000_000;
    if a.call_history > MAX_ENTRIES {
        return Err(FieldError::new(
            &[Key("admin"), Key("call_history")],
            format!("{} calls: at most {MAX_ENTRIES}", a.call_history),
        ));
    }
    if a.search_history > MAX_ENTRIES {
        return Err(FieldError::new(
            &[Key("admin"), Key("search_history")],
            format!("{} searches: at most {MAX_ENTRIES}", a.search_history),
        ));
    }
    if a.call_history > 0 && !(MIN_BYTES..=MAX_BYTES).contains(&a.call_history_bytes) {
        return Err(FieldError::new(
            &[Key("admin"), Key("call_history_bytes")],
            format!(
                "{} bytes: between {MIN_BYTES} (a few calls) and {MAX_BYTES} (4 GiB)",
                a.call_history_bytes
            ),
        ));
    }
    Ok(())
}

/// A user's name is unique and its hash an argon2 PHC string (what `hash-password` prints).
fn check_admin_user(before: &[AdminUser], u: &AdminUser, i: usize) -> Result<(), FieldError> {
    let at = |k| [Key("admin"), Key("users"), Index(i), Key(k)];
    if u.name.is_empty() || u.name.contains(':') {
        return Err(FieldError::new(
            &at("name"),
            "must not be empty nor contain `:` (HTTP Basic)",
        ));
    }
    if before.iter().any(|b| b.name == u.name) {
        return Err(FieldError::new(
            &at("name"),
            format!("user `{}` is defined twice", u.name),
        ));
    }
    match argon2::PasswordHash::new(&u.password_hash) {
        Ok(h) if h.algorithm.as_str().starts_with("argon2") && h.hash.is_some() => Ok(()),
        Ok(h) => Err(FieldError::new(
            &at("password_hash"),
            format!(
                "`{}` is not argon2 (use `causeway hash-password`)",
                h.algorithm
            ),
        )),
        Err(e) => Err(FieldError::new(
            &at("password_hash"),
            format!("not a PHC hash string ({e}); make one with `causeway hash-password`"),
        )),
    }
}

fn check_priority(p: u16, at: &[PathPart]) -> Result<(), FieldError> {
    if (1..=65534).contains(&p) {
        Ok(())
    } else {
        Err(FieldError::new(at, "priority runs from 1 to 65534"))
    }
}

fn check_pattern(t: PatternType, pattern: &str, at: &[PathPart]) -> Result<(), FieldError> {
    if t == PatternType::Regex {
        if let Err(e) = regex::Regex::new(&format!("^(?:{pattern})$")) {
            return Err(FieldError::new(at, format!("bad regex: {e}")));
        }
    } else if pattern.is_empty() {
        return Err(FieldError::new(at, "must not be empty"));
    }
    Ok(())
}

/// `host[:port]` of a neighbor peer: the host, when the whole text is well formed.
fn split_host(p: &str) -> Option<&str> {
    if let Ok(sa) = p.parse::<std::net::SocketAddr>() {
        let _ = sa;
        return Some(p);
    }
    let (host, port) = match p.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') => (h, Some(port)),
        _ => (p, None),
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) || !is_hostname(host) {
        return None;
    }
    Some(host)
}

/// RFC 3261 `hostname` (domain labels of alphanumerics and '-', dots between), or an IP.
fn is_hostname(s: &str) -> bool {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !s.is_empty()
        && s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
