//! Cross-field rules that serde cannot express: ranges that must be ordered, keys that need
//! each other, files that must exist. Each failure names its field path so `load` can point at
//! the line.
//!
//! Only checks here; no defaults (schema) and no I/O beyond checking that named files exist.

use crate::load::{FieldError, PathPart::*};
use crate::schema::{Config, SipTransport};

pub(crate) fn check(c: &Config) -> Result<(), FieldError> {
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

    let sip = &c.sip;
    let transports = [
        (SipTransport::Udp, "udp"),
        (SipTransport::Tcp, "tcp"),
        (SipTransport::Tls, "tls"),
        (SipTransport::Mtls, "mtls"),
    ];
    if !transports
        .iter()
        .any(|(t, _)| sip.listener(*t, sys.role).enabled)
    {
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
    if sip.listener(SipTransport::Mtls, sys.role).enabled && sip.trusted_ca.is_none() {
        return Err(FieldError::new(
            &[Key("sip"), Key("mtls")],
            "MTLS verifies client certificates: set `sip.trusted_ca`",
        ));
    }
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
    if sip.max_transactions == 0 || sip.max_connections == 0 {
        return Err(FieldError::new(
            &[Key("sip")],
            "max_transactions and max_connections must be positive",
        ));
    }

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
